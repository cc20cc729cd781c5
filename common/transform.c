/* transform: not yet written. */
#include "transform.h"
