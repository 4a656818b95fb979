// The one definition of the slot declared in current_call.h.
#include "current_call.h"

_Thread_local void *capsule_current_call_slot;
