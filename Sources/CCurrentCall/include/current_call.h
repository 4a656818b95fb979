// The plugin host's "current call" slot: which plugin's call is running on this thread, so
// the host API's functions (plain C function pointers with no user data) find the call they
// belong to. A C thread-local, because the host sets it twice around every call: reading or
// writing it is one instruction, where pthread_getspecific/setspecific are two library calls
// (about 80 instructions per call, measured with callgrind).
#ifndef CAPSULE_CURRENT_CALL_H
#define CAPSULE_CURRENT_CALL_H

extern _Thread_local void *capsule_current_call_slot;

/* The current call's context (an unretained CallContext), or NULL outside calls. */
static inline void *capsule_current_call(void) { return capsule_current_call_slot; }

/* Makes `context` current; returns the previous one, for restoring after the call. */
static inline void *capsule_swap_current_call(void *context) {
    void *previous = capsule_current_call_slot;
    capsule_current_call_slot = context;
    return previous;
}

#endif
