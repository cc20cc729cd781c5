#ifndef A0_EXPORT_H
#define A0_EXPORT_H

/* Runs a users export job on the source tenant (A0_SOURCE_*), waits for
 * it and downloads the gzip NDJSON file to out_path. connection may be
 * NULL (all connections). Returns an exit status of the a0migrate
 * command. */
int export_main(const char *out_path, const char *connection);

#endif
