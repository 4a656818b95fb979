/*
 * Load client for the echo servers: many concurrent connections, each sending a message,
 * waiting for the whole echo, and sending the next, for a fixed time. One thread and epoll,
 * so the client stays cheap next to the server it measures (both share this machine).
 *
 *   echo_client PORT [CONNECTIONS=1000] [SECONDS=5] [MESSAGE_BYTES=64]
 *
 * Phases:
 *   1. Wait (up to 20 s) until 127.0.0.1:PORT accepts a connection: the server is up.
 *   2. Open CONNECTIONS non-blocking connections and wait until all are established.
 *   3. Warm-up, not measured: every connection does one round trip, so the server has
 *      accepted them all (a listen backlog smaller than CONNECTIONS makes the first replies
 *      slow) before the clock starts.
 *   4. For SECONDS, every connection repeats send-wait-receive. Each round trip's latency
 *      is recorded, from just before the send to the moment the last echoed byte is read.
 *
 * Prints one line of key=value pairs on stdout (run.sh reads it):
 *   connections=1000 messages=N seconds=5.000 rate=N/s p50_us=.. p99_us=.. max_us=.. errors=0
 * `errors` counts connections that failed or closed, and echoes that differed from what was
 * sent. Exits 1 when the server never answered or no round trip completed.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

enum { MAX_MESSAGE = 4096 };

typedef struct {
    int fd;
    int alive;
    int in_flight;         /* a message was sent and its echo is not complete yet */
    size_t sent, received; /* bytes of the current message */
    uint64_t started_ns;   /* when the current message was sent */
    uint64_t sequence;     /* stamped into each message so a stale echo is caught */
    unsigned char out[MAX_MESSAGE];
    unsigned char in[MAX_MESSAGE];
} Conn;

static size_t message_bytes = 64;
static long errors = 0;

static uint64_t now_ns(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec;
}

static struct sockaddr_in server_address(int port) {
    struct sockaddr_in a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_port = htons((uint16_t)port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    return a;
}

/* Phase 1: a blocking connect, retried, until the server listens. */
static int wait_for_server(int port, double seconds) {
    struct sockaddr_in a = server_address(port);
    uint64_t deadline = now_ns() + (uint64_t)(seconds * 1e9);
    while (now_ns() < deadline) {
        int fd = socket(AF_INET, SOCK_STREAM, 0);
        if (fd < 0) return 0;
        int ok = connect(fd, (struct sockaddr *)&a, sizeof a) == 0;
        close(fd);
        if (ok) return 1;
        usleep(20000);
    }
    return 0;
}

static void drop(Conn *c, int epfd) {
    if (!c->alive) return;
    epoll_ctl(epfd, EPOLL_CTL_DEL, c->fd, NULL);
    close(c->fd);
    c->alive = 0;
    c->in_flight = 0;
    errors++;
}

/* Writes what is left of the current message; on a short write, waits for EPOLLOUT. */
static void write_some(Conn *c, int epfd) {
    while (c->sent < message_bytes) {
        ssize_t n = write(c->fd, c->out + c->sent, message_bytes - c->sent);
        if (n > 0) {
            c->sent += (size_t)n;
        } else if (n < 0 && errno == EAGAIN) {
            struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT, .data.ptr = c};
            epoll_ctl(epfd, EPOLL_CTL_MOD, c->fd, &ev);
            return;
        } else if (n < 0 && errno == EINTR) {
            continue;
        } else {
            drop(c, epfd);
            return;
        }
    }
}

static void start_message(Conn *c, int epfd) {
    c->sequence++;
    memset(c->out, 'a' + (int)(c->sequence % 26), message_bytes);
    memcpy(c->out, &c->sequence, sizeof c->sequence < message_bytes ? sizeof c->sequence : message_bytes);
    c->sent = 0;
    c->received = 0;
    c->in_flight = 1;
    c->started_ns = now_ns();
    write_some(c, epfd);
}

/* Reads what has arrived; returns 1 when the whole echo of the current message is in. */
static int read_some(Conn *c, int epfd) {
    for (;;) {
        ssize_t n = read(c->fd, c->in + c->received, message_bytes - c->received);
        if (n > 0) {
            c->received += (size_t)n;
            if (c->received == message_bytes) break;
        } else if (n < 0 && errno == EAGAIN) {
            return 0;
        } else if (n < 0 && errno == EINTR) {
            continue;
        } else {
            drop(c, epfd); /* 0: the server closed; <0: an error */
            return 0;
        }
    }
    c->in_flight = 0;
    if (memcmp(c->in, c->out, message_bytes) != 0) errors++;
    return 1;
}

static int compare_u32(const void *a, const void *b) {
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: echo_client PORT [CONNECTIONS=1000] [SECONDS=5] [MESSAGE_BYTES=64]\n");
        return 64;
    }
    signal(SIGPIPE, SIG_IGN); /* a server that closes must not kill the client */
    int port = atoi(argv[1]);
    int count = argc > 2 ? atoi(argv[2]) : 1000;
    double seconds = argc > 3 ? atof(argv[3]) : 5.0;
    if (argc > 4) message_bytes = (size_t)atol(argv[4]);
    if (port <= 0 || count <= 0 || seconds <= 0 || message_bytes < 1 || message_bytes > MAX_MESSAGE) {
        fprintf(stderr, "echo_client: bad arguments\n");
        return 64;
    }

    if (!wait_for_server(port, 20.0)) {
        fprintf(stderr, "echo_client: nothing listens on 127.0.0.1:%d\n", port);
        return 1;
    }

    /* Phase 2: connect. */
    int epfd = epoll_create1(0);
    Conn *conns = calloc((size_t)count, sizeof *conns);
    struct epoll_event *events = calloc((size_t)count, sizeof *events);
    if (epfd < 0 || !conns || !events) {
        perror("echo_client");
        return 1;
    }
    struct sockaddr_in a = server_address(port);
    int pending = 0;
    for (int i = 0; i < count; i++) {
        Conn *c = &conns[i];
        c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
        if (c->fd < 0) {
            perror("echo_client: socket (raise ulimit -n?)");
            return 1;
        }
        int one = 1;
        setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        if (connect(c->fd, (struct sockaddr *)&a, sizeof a) < 0 && errno != EINPROGRESS) {
            perror("echo_client: connect");
            return 1;
        }
        c->alive = 1;
        struct epoll_event ev = {.events = EPOLLOUT, .data.ptr = c};
        epoll_ctl(epfd, EPOLL_CTL_ADD, c->fd, &ev);
        pending++;
    }
    uint64_t deadline = now_ns() + 30000000000u;
    while (pending > 0 && now_ns() < deadline) {
        int n = epoll_wait(epfd, events, count, 1000);
        for (int k = 0; k < n; k++) {
            Conn *c = events[k].data.ptr;
            if (c->in_flight || !c->alive) continue;
            int err = 0;
            socklen_t len = sizeof err;
            getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len);
            pending--;
            if (err != 0) {
                drop(c, epfd);
                continue;
            }
            /* Phase 3 starts per connection as soon as it is connected. */
            struct epoll_event ev = {.events = EPOLLIN, .data.ptr = c};
            epoll_ctl(epfd, EPOLL_CTL_MOD, c->fd, &ev);
            start_message(c, epfd);
        }
    }

    /* Phase 3: wait for every warm-up echo. */
    int warming = 0;
    for (int i = 0; i < count; i++) warming += conns[i].in_flight;
    deadline = now_ns() + 30000000000u;
    while (warming > 0 && now_ns() < deadline) {
        int n = epoll_wait(epfd, events, count, 1000);
        for (int k = 0; k < n; k++) {
            Conn *c = events[k].data.ptr;
            if (!c->alive || !c->in_flight) continue;
            if ((events[k].events & EPOLLOUT) && c->sent < message_bytes) {
                write_some(c, epfd);
                if (c->alive && c->sent == message_bytes) {
                    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = c};
                    epoll_ctl(epfd, EPOLL_CTL_MOD, c->fd, &ev);
                }
            }
            if (c->alive && (events[k].events & (EPOLLIN | EPOLLHUP | EPOLLERR)) && read_some(c, epfd)) warming--;
            if (!c->alive) warming--;
        }
    }
    int connected = 0;
    for (int i = 0; i < count; i++) {
        Conn *c = &conns[i];
        if (c->alive && c->in_flight) drop(c, epfd); /* never answered the warm-up */
        connected += c->alive;
    }

    /* Phase 4: the measured run. */
    size_t cap = 1 << 20, samples = 0;
    uint32_t *latency_us = malloc(cap * sizeof *latency_us);
    uint64_t start = now_ns(), end = start + (uint64_t)(seconds * 1e9);
    for (int i = 0; i < count; i++)
        if (conns[i].alive) start_message(&conns[i], epfd);
    uint64_t t = start;
    while (t < end) {
        int timeout_ms = (int)((end - t) / 1000000u) + 1;
        int n = epoll_wait(epfd, events, count, timeout_ms);
        for (int k = 0; k < n; k++) {
            Conn *c = events[k].data.ptr;
            if (!c->alive) continue;
            if ((events[k].events & EPOLLOUT) && c->sent < message_bytes) {
                write_some(c, epfd);
                if (c->alive && c->sent == message_bytes) {
                    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = c};
                    epoll_ctl(epfd, EPOLL_CTL_MOD, c->fd, &ev);
                }
            }
            if (!c->alive || !(events[k].events & (EPOLLIN | EPOLLHUP | EPOLLERR))) continue;
            if (!read_some(c, epfd)) continue;
            uint64_t done = now_ns();
            if (done > end) continue; /* finished after the clock stopped: not counted */
            if (samples == cap) {
                cap *= 2;
                latency_us = realloc(latency_us, cap * sizeof *latency_us);
                if (!latency_us) {
                    perror("echo_client");
                    return 1;
                }
            }
            uint64_t us = (done - c->started_ns) / 1000u;
            latency_us[samples++] = us > UINT32_MAX ? UINT32_MAX : (uint32_t)us;
            start_message(c, epfd);
        }
        t = now_ns();
    }
    double elapsed = (double)(end - start) / 1e9;

    if (samples == 0) {
        printf("connections=%d messages=0 seconds=%.3f rate=0 p50_us=- p99_us=- max_us=- errors=%ld\n",
               connected, elapsed, errors);
        return 1;
    }
    qsort(latency_us, samples, sizeof *latency_us, compare_u32);
    /* Nearest-rank percentiles. */
    size_t p50 = (samples * 50 + 99) / 100, p99 = (samples * 99 + 99) / 100;
    printf("connections=%d messages=%zu seconds=%.3f rate=%.0f p50_us=%u p99_us=%u max_us=%u errors=%ld\n",
           connected, samples, elapsed, (double)samples / elapsed, latency_us[p50 - 1], latency_us[p99 - 1],
           latency_us[samples - 1], errors);
    for (int i = 0; i < count; i++)
        if (conns[i].alive) close(conns[i].fd);
    return 0;
}
