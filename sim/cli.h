#ifndef A0SIM_CLI_H
#define A0SIM_CLI_H

#include "sim.h"

/* cli: the a0sim command line. */

/* Fills cfg from argv and the environment (A0SIM_CLIENT_SECRET or
 * A0SIM_CLIENT_SECRET_FILE). Returns 0, 1 when --help or --version was
 * answered, or -1 after printing a usage error to stderr. */
int cli_parse(int argc, char **argv, sim_cfg_t *cfg);

/* Frees what cli_parse allocated. */
void cli_free(sim_cfg_t *cfg);

#endif
