/*
 * The supervisor of an isolated worker's executable mappings (capsule_supervisor.h).
 * seccomp_unotify(2): RECV a notification, check, ID_VALID, SEND the answer.
 */
#define _GNU_SOURCE
#include "capsule_supervisor.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>
#include <linux/audit.h>
#include <linux/seccomp.h>

#include "capsule_isolation.h"

struct capsule_supervisor {
    int listener;
    int wake;                     /* eventfd: stop */
    int proc;                     /* /proc/PID, opened while the worker cannot have been reaped */
    int32_t pid;
    pthread_t thread;
    pthread_mutex_t lock;         /* held from a decision to its answer; guards `loading` */
    int loading;
    _Atomic uint64_t approved, refused;
    uint32_t count;
    capsule_supervisor_file files[];
};

/* ---- receiving the listener ---- */

static int64_t now_ms(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (int64_t)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

/* True when `fd` is a seccomp listener (an anonymous inode named so). */
static int is_listener(int fd) {
    char link[64], target[64];
    snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
    ssize_t n = readlink(link, target, sizeof target - 1);
    if (n < 0) return 0;
    target[n] = 0;
    return strcmp(target, "anon_inode:seccomp notify") == 0;
}

int capsule_supervisor_receive_listener(int socket, int timeout_ms) {
    int64_t end = now_ms() + (timeout_ms > 0 ? timeout_ms : 0);
    for (;;) {
        int64_t left = end - now_ms();
        if (left <= 0) { errno = ETIMEDOUT; return -1; }
        struct pollfd p = { .fd = socket, .events = POLLIN };
        int n = poll(&p, 1, left > INT_MAX ? INT_MAX : (int)left);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) return -1;
        if (n == 0) continue;
        if (!(p.revents & POLLIN)) return -1;  /* hung up without a message */
        char byte = 0;
        struct iovec part = { .iov_base = &byte, .iov_len = 1 };
        union { struct cmsghdr header; char space[CMSG_SPACE(sizeof(int) * 4)]; } control;
        memset(&control, 0, sizeof control);
        struct msghdr message = { .msg_iov = &part, .msg_iovlen = 1, .msg_control = control.space,
                                  .msg_controllen = sizeof control.space };
        ssize_t got = recvmsg(socket, &message, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
        if (got < 0 && (errno == EINTR || errno == EAGAIN)) continue;
        if (got <= 0) return -1;
        int listener = -1, extra = 0;
        for (struct cmsghdr *h = CMSG_FIRSTHDR(&message); h; h = CMSG_NXTHDR(&message, h)) {
            if (h->cmsg_level != SOL_SOCKET || h->cmsg_type != SCM_RIGHTS) continue;
            size_t fds = (h->cmsg_len - CMSG_LEN(0)) / sizeof(int);
            for (size_t i = 0; i < fds; i++) {
                int fd;
                memcpy(&fd, CMSG_DATA(h) + i * sizeof(int), sizeof fd);
                if (listener < 0) listener = fd; else { close(fd); extra = 1; }
            }
        }
        if (byte != CAPSULE_ISO_LISTENER || listener < 0 || extra || (message.msg_flags & MSG_CTRUNC) || !is_listener(listener)) {
            if (listener >= 0) close(listener);
            return -2;
        }
        return listener;
    }
}

/* ---- deciding ---- */

/* The worker's thread count from /proc/PID/status, or -1. */
static int thread_count(const capsule_supervisor *s) {
    int fd = openat(s->proc, "status", O_RDONLY | O_CLOEXEC);
    if (fd < 0) return -1;
    char text[4096];
    ssize_t n = read(fd, text, sizeof text - 1);
    close(fd);
    if (n <= 0) return -1;
    text[n] = 0;
    const char *line = strstr(text, "\nThreads:");
    int threads = -1;
    if (!line || sscanf(line + 9, "%d", &threads) != 1) return -1;
    return threads;
}

/* Everything a mapping must satisfy but the notification's validity (see the header). */
static int allowed(const capsule_supervisor *s, const struct seccomp_notif *n) {
    if (!s->loading) return 0;
    if (n->data.arch != AUDIT_ARCH_X86_64 || n->data.nr != __NR_mmap) return 0;
    if ((int32_t)n->pid != s->pid) return 0;
    uint64_t length = n->data.args[1], offset = n->data.args[5];
    int prot = (int)n->data.args[2], flags = (int)n->data.args[3], fd = (int)n->data.args[4];
    if (!(prot & PROT_EXEC) || (prot & PROT_WRITE)) return 0;
    if ((flags & MAP_TYPE) != MAP_PRIVATE || (flags & MAP_ANONYMOUS)) return 0;
    long page = sysconf(_SC_PAGESIZE);
    if (length == 0 || length > (1ull << 36) || page <= 0 || offset % (uint64_t)page != 0) return 0;
    if (fd < 0) return 0;
    if (thread_count(s) != 1) return 0;
    char path[32];
    snprintf(path, sizeof path, "fd/%d", fd);
    struct stat info;
    if (fstatat(s->proc, path, &info, 0) != 0 || !S_ISREG(info.st_mode)) return 0;
    if (offset >= (uint64_t)info.st_size) return 0;
    for (uint32_t i = 0; i < s->count; i++)
        if (s->files[i].device == (uint64_t)info.st_dev && s->files[i].inode == (uint64_t)info.st_ino) return 1;
    return 0;
}

static void answer(capsule_supervisor *s, struct seccomp_notif *n, struct seccomp_notif_resp *r) {
    pthread_mutex_lock(&s->lock);
    int yes = allowed(s, n);
    /* The checks read the worker's /proc files; valid still means the same thread waits in
     * the same call, so they were about this worker and this mapping. */
    if (yes && ioctl(s->listener, SECCOMP_IOCTL_NOTIF_ID_VALID, &n->id) != 0) {
        pthread_mutex_unlock(&s->lock);
        return;  /* the caller is gone: nothing to answer */
    }
    r->id = n->id;
    r->val = 0;
    r->error = yes ? 0 : -EPERM;
    r->flags = yes ? SECCOMP_USER_NOTIF_FLAG_CONTINUE : 0;
    /* ENOENT: the caller was interrupted or killed meanwhile; nothing to do. */
    (void)ioctl(s->listener, SECCOMP_IOCTL_NOTIF_SEND, r);
    pthread_mutex_unlock(&s->lock);
    atomic_fetch_add(yes ? &s->approved : &s->refused, 1);
}

static void *supervise(void *argument) {
    capsule_supervisor *s = argument;
    /* The kernel's structures may be larger than this header's: ask (seccomp(2)). */
    struct seccomp_notif_sizes sizes = {0};
    if (syscall(SYS_seccomp, SECCOMP_GET_NOTIF_SIZES, 0, &sizes) != 0) return NULL;
    size_t notif_size = sizes.seccomp_notif > sizeof(struct seccomp_notif) ? sizes.seccomp_notif : sizeof(struct seccomp_notif);
    size_t resp_size = sizes.seccomp_notif_resp > sizeof(struct seccomp_notif_resp) ? sizes.seccomp_notif_resp : sizeof(struct seccomp_notif_resp);
    struct seccomp_notif *notif = calloc(1, notif_size);
    struct seccomp_notif_resp *resp = calloc(1, resp_size);
    if (!notif || !resp) { free(notif); free(resp); return NULL; }
    for (;;) {
        struct pollfd p[2] = { { .fd = s->listener, .events = POLLIN }, { .fd = s->wake, .events = POLLIN } };
        int ready = poll(p, 2, -1);
        if (ready < 0 && errno == EINTR) continue;
        if (ready < 0 || p[1].revents) break;
        if (!(p[0].revents & POLLIN)) {
            if (p[0].revents & (POLLHUP | POLLERR | POLLNVAL)) break;  /* the worker is gone */
            continue;
        }
        memset(notif, 0, notif_size);  /* RECV wants it zeroed */
        if (ioctl(s->listener, SECCOMP_IOCTL_NOTIF_RECV, notif) != 0) {
            if (errno == EINTR || errno == ENOENT) continue;
            break;
        }
        memset(resp, 0, resp_size);
        answer(s, notif, resp);
    }
    free(notif);
    free(resp);
    return NULL;
}

capsule_supervisor *capsule_supervisor_start(int listener, int32_t pid, const capsule_supervisor_file *files,
                                             uint32_t count) {
    capsule_supervisor *s = calloc(1, sizeof *s + (size_t)count * sizeof files[0]);
    if (!s) { close(listener); return NULL; }
    s->listener = listener;
    s->pid = pid;
    s->loading = 1;
    s->count = count;
    if (count) memcpy(s->files, files, (size_t)count * sizeof files[0]);
    char path[32];
    snprintf(path, sizeof path, "/proc/%d", (int)pid);
    s->proc = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    s->wake = eventfd(0, EFD_CLOEXEC);
    if (s->proc < 0 || s->wake < 0 || pthread_mutex_init(&s->lock, NULL) != 0) goto failed;
    if (pthread_create(&s->thread, NULL, supervise, s) != 0) {
        pthread_mutex_destroy(&s->lock);
        goto failed;
    }
    return s;
failed:
    if (s->proc >= 0) close(s->proc);
    if (s->wake >= 0) close(s->wake);
    close(listener);
    free(s);
    return NULL;
}

void capsule_supervisor_end_loading(capsule_supervisor *s) {
    pthread_mutex_lock(&s->lock);
    s->loading = 0;
    pthread_mutex_unlock(&s->lock);
}

void capsule_supervisor_stop(capsule_supervisor *s) {
    uint64_t one = 1;
    ssize_t ignored = write(s->wake, &one, sizeof one);
    (void)ignored;
    pthread_join(s->thread, NULL);
    pthread_mutex_destroy(&s->lock);
    close(s->listener);
    close(s->wake);
    close(s->proc);
    free(s);
}

uint64_t capsule_supervisor_approved(const capsule_supervisor *s) { return atomic_load(&s->approved); }
uint64_t capsule_supervisor_refused(const capsule_supervisor *s) { return atomic_load(&s->refused); }
