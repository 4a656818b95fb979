/* Not a plugin: a stand-in for capsule-worker (IsolationSettings.workerPath) that breaks
 * the hand-over of its seccomp listener. It maps the shared memory and answers the start
 * with LOADED (an empty descriptor) at once, never having sent a listener; with
 * -DWRONG_BYTE it first writes a byte that is not CAPSULE_ISO_LISTENER to its socket. The
 * host must refuse both before it reads the descriptor. Built with -I for
 * capsule_isolation.h. */
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include "capsule_isolation.h"

int main(void) {
    struct stat info;
    if (fstat(CAPSULE_ISO_SHARED_FD, &info) != 0) return 64;
    capsule_iso_shared *s = mmap(NULL, (size_t)info.st_size, PROT_READ | PROT_WRITE, MAP_SHARED, CAPSULE_ISO_SHARED_FD, 0);
    if (s == MAP_FAILED) return 71;
#ifdef WRONG_BYTE
    char byte = 'X';
    if (write(CAPSULE_ISO_SOCKET_FD, &byte, 1) != 1) return 74;
#endif
    s->status = CAPSULE_ISO_LOADED;
    s->payload_length = 0;
    capsule_iso_store(&s->response_seq, 1);
    for (;;) pause();
}
