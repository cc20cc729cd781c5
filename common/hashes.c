/* hashes: not yet written. */
#include "hashes.h"
