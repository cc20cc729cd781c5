/* reader: not yet written. */
#include "reader.h"
