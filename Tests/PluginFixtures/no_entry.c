/* No CAPSULE_PLUGIN(...): the library has no capsule_plugin_entry symbol. */
#include "capsule.h"

__attribute__((visibility("default"))) int not_the_entry(void) { return 1; }
