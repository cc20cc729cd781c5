/* pack: not yet written. */
#include "pack.h"
