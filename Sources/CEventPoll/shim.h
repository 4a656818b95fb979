// epoll(7) and eventfd(2) for the fiber scheduler (Sources/CapsuleCore/Concurrency).
// struct epoll_event is packed on x86-64, which Swift cannot lay out; these wrappers take and
// give plain ints, with the descriptor as the event's data.
#ifndef CAPSULE_CEVENTPOLL_SHIM_H
#define CAPSULE_CEVENTPOLL_SHIM_H

#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <stdint.h>
#include <errno.h>

static const uint32_t CEVENTPOLL_IN = EPOLLIN;
static const uint32_t CEVENTPOLL_OUT = EPOLLOUT;
static const uint32_t CEVENTPOLL_RDHUP = EPOLLRDHUP;
static const uint32_t CEVENTPOLL_ERR = EPOLLERR;
static const uint32_t CEVENTPOLL_HUP = EPOLLHUP;
static const uint32_t CEVENTPOLL_ONESHOT = EPOLLONESHOT;

static inline int ceventpoll_create(void) { return epoll_create1(EPOLL_CLOEXEC); }

static inline int ceventpoll_eventfd(void) { return eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK); }

/* op: 0 add, 1 modify, 2 delete. Returns 0, or -1 with errno set. */
static inline int ceventpoll_control(int epfd, int op, int fd, uint32_t events) {
    struct epoll_event ev;
    ev.events = events;
    ev.data.u64 = 0;
    ev.data.fd = fd;
    int how = op == 0 ? EPOLL_CTL_ADD : op == 1 ? EPOLL_CTL_MOD : EPOLL_CTL_DEL;
    return epoll_ctl(epfd, how, fd, &ev);
}

/* Waits up to timeout_ms (-1: forever) for at most max (<= 64) events; fills fds and
 * events. Returns the count, 0 on timeout or EINTR, -1 on another error. */
static inline int ceventpoll_wait(int epfd, int *fds, uint32_t *events, int max, int timeout_ms) {
    struct epoll_event buffer[64];
    if (max > 64) max = 64;
    int n = epoll_wait(epfd, buffer, max, timeout_ms);
    if (n < 0) return errno == EINTR ? 0 : -1;
    for (int i = 0; i < n; i++) {
        fds[i] = buffer[i].data.fd;
        events[i] = buffer[i].events;
    }
    return n;
}

#endif
