/* auth0: not yet written. */
#include "auth0.h"
