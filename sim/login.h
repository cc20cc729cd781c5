#ifndef A0SIM_LOGIN_H
#define A0SIM_LOGIN_H

#include "api.h"

#include <jansson.h>

/* login: the resource-owner password grants of /oauth/token, so that a
 * test can prove an imported password hash still lets its user in. */

/* Answers a password (or password-realm) grant whose form or JSON body is
 * body. The client has been authenticated by the caller. */
void login_password_grant(api_call_t *c, json_t *body);

#endif
