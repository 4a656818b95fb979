/*
 * Protocol I/O (capsule_isolation.h): answering a request, waiting for the next one, and
 * the descriptor as the LOADED payload. Everything the worker writes into shared memory
 * for the host goes through here.
 */
#define _GNU_SOURCE
#include <poll.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "worker.h"

/* ---- responses ---- */

uint32_t current_seq;

void respond(uint32_t status) {
    shared->status = status;
    capsule_iso_store(&shared->response_seq, current_seq);
    if (capsule_iso_load(&shared->host_waiting)) {
        char wake = CAPSULE_ISO_WAKE;
        ssize_t ignored = send(CAPSULE_ISO_SOCKET_FD, &wake, 1, MSG_NOSIGNAL | MSG_DONTWAIT);
        (void)ignored;
    }
}

/* Writes `text` as the response payload. */
void payload_text(const char *text) {
    uint64_t at = shared->response_offset;
    size_t n = strlen(text);
    if (n > CAPSULE_ISO_MESSAGE_MAX) n = CAPSULE_ISO_MESSAGE_MAX;
    if (at > data_size || n > data_size - at) n = 0;
    if (n) memcpy(data + at, text, n);
    shared->payload_length = (uint32_t)n;
}

void respond_text(uint32_t status, const char *format, ...) {
    char text[CAPSULE_ISO_MESSAGE_MAX];
    va_list args;
    va_start(args, format);
    vsnprintf(text, sizeof text, format, args);
    va_end(args);
    payload_text(text);
    respond(status);
}

/* ---- waiting for requests ---- */

static uint64_t now_ns(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec;
}

/* How long the worker spins for the next request before it sleeps, and how many of the
 * first spins are a bare pause instruction (~2 µs). */
#define SPIN_NS 100000u
#define PURE_SPINS 512u

static void exit_if_host_gone(void) {
    struct pollfd p = { .fd = CAPSULE_ISO_SOCKET_FD, .events = POLLIN };
    if (getppid() != config.host_pid) _exit(0);
    if (poll(&p, 1, 0) > 0 && (p.revents & (POLLHUP | POLLERR | POLLNVAL))) _exit(0);
}

uint32_t wait_request(uint32_t last) {
    uint64_t start = now_ns();
    for (unsigned i = 1;; i++) {
        uint32_t seq = capsule_iso_load_acquire(&shared->request_seq);
        if (seq != last) return seq;
        /* Pure spinning first (the host answers within microseconds when it has a core);
         * then yielding, so a host waiting for this core gets it. */
        if (i < PURE_SPINS) {
            capsule_iso_pause();
        } else {
            sched_yield();
            if ((i & 15) == 0 && now_ns() - start > SPIN_NS) break;
        }
    }
    for (;;) {
        capsule_iso_store(&shared->worker_idle, 1);
        uint32_t seq = capsule_iso_load(&shared->request_seq);
        if (seq == last) capsule_iso_futex_wait(&shared->request_seq, last, 1000000000L);
        capsule_iso_store(&shared->worker_idle, 0);
        seq = capsule_iso_load_acquire(&shared->request_seq);
        if (seq != last) return seq;
        exit_if_host_gone();
    }
}

/* ---- the descriptor ---- */

typedef struct writer {
    uint8_t *base;
    uint64_t at, limit;
    int overflow;
} writer;

static void put(writer *w, const void *bytes, uint64_t n) {
    if (w->overflow || n > w->limit - w->at) { w->overflow = 1; return; }
    memcpy(w->base + w->at, bytes, n);
    w->at += n;
}
static void put32(writer *w, uint32_t v) { put(w, &v, 4); }
static void put64(writer *w, uint64_t v) { put(w, &v, 8); }
/* A string: u32 length then the bytes; 0xFFFFFFFF for NULL. */
static void put_string(writer *w, const char *s) {
    if (!s) { put32(w, 0xFFFFFFFFu); return; }
    size_t n = strnlen(s, 1 << 16);
    put32(w, (uint32_t)n);
    put(w, s, n);
}

/* True for the sizes of the capsule_plugin layouts of this ABI version (it grows at the end;
 * the worker reads nothing past restore_state). */
int known_size(uint32_t size) {
    return size == sizeof(capsule_plugin) || size == CAPSULE_PLUGIN_SIZE_1_0;
}

/* The descriptor as the host's PluginManifest check reads it: abi, size, and only if both
 * match, the rest. Layout documented in IsolatedDescriptor.swift. */
int write_descriptor(const capsule_plugin *d) {
    writer w = { data + shared->response_offset, 0, data_size - shared->response_offset, 0 };
    put32(&w, d->abi_version);
    put32(&w, d->struct_size);
    if (d->abi_version == CAPSULE_ABI_VERSION && known_size(d->struct_size)) {
        put_string(&w, d->name);
        put_string(&w, d->version);
        put_string(&w, d->description);
        uint32_t capabilities = 0;
        if (d->capabilities) while (d->capabilities[capabilities] && capabilities < 4096) capabilities++;
        put32(&w, capabilities);
        for (uint32_t i = 0; i < capabilities; i++) put_string(&w, d->capabilities[i]);
        put64(&w, d->handle_type_count);
        put32(&w, d->handle_types != NULL);
        if (d->handle_types && d->handle_type_count <= 65535) {
            for (size_t i = 0; i < d->handle_type_count; i++) {
                put_string(&w, d->handle_types[i].name);
                put32(&w, d->handle_types[i].destroy != NULL);
            }
        }
        put64(&w, d->export_count);
        put32(&w, d->exports != NULL);
        if (d->exports && d->export_count <= 65535) {
            for (size_t i = 0; i < d->export_count; i++) {
                const capsule_export *e = &d->exports[i];
                put_string(&w, e->name);
                put_string(&w, e->signature);
                put32(&w, e->fn != NULL);
                put32(&w, e->flags);
                put_string(&w, e->doc);
            }
        }
        put32(&w, d->init != NULL);
        /* Struct types: only the current layout has them (the host refuses them for calls,
         * but `capsule plugin inspect` reports them). */
        int current = d->struct_size == sizeof(capsule_plugin);
        size_t struct_count = current ? d->struct_type_count : 0;
        const capsule_struct_type *struct_types = current ? d->struct_types : NULL;
        put64(&w, struct_count);
        put32(&w, struct_types != NULL);
        if (struct_types && struct_count <= 65535) {
            for (size_t i = 0; i < struct_count; i++) {
                put_string(&w, struct_types[i].name);
                put_string(&w, struct_types[i].fields);
            }
        }
    }
    if (w.overflow) return -1;
    shared->payload_length = (uint32_t)w.at;
    return 0;
}

/* The worker's copy of the host's TerminalText.safe: `text` (NUL-terminated) into `out`
 * (`size` bytes, NUL-terminated, truncated at a character boundary), with C0 controls, DEL,
 * C1 controls (U+0080-U+009F), the bidirectional formatting characters (U+061C, U+200E,
 * U+200F, U+202A-U+202E, U+2066-U+2069) and every byte of an invalid UTF-8 sequence written
 * as '?'. A plugin's log line cannot drive the terminal through host->log. */
void terminal_safe(const char *text, char *out, size_t size) {
    const unsigned char *s = (const unsigned char *)text;
    size_t o = 0;
    while (*s && o + 1 < size) {
        unsigned char b = s[0];
        size_t len = 0;
        unsigned int cp = 0;
        if (b < 0x80) { len = 1; cp = b; }
        else if (b >= 0xC2 && b <= 0xDF && (s[1] & 0xC0) == 0x80) { len = 2; cp = ((b & 0x1Fu) << 6) | (s[1] & 0x3Fu); }
        else if (b >= 0xE0 && b <= 0xEF && (s[1] & 0xC0) == 0x80 && (s[2] & 0xC0) == 0x80) {
            cp = ((b & 0x0Fu) << 12) | ((s[1] & 0x3Fu) << 6) | (s[2] & 0x3Fu);
            if (cp >= 0x800 && (cp < 0xD800 || cp > 0xDFFF)) len = 3;
        } else if (b >= 0xF0 && b <= 0xF4 && (s[1] & 0xC0) == 0x80 && (s[2] & 0xC0) == 0x80 && (s[3] & 0xC0) == 0x80) {
            cp = ((b & 0x07u) << 18) | ((s[1] & 0x3Fu) << 12) | ((s[2] & 0x3Fu) << 6) | (s[3] & 0x3Fu);
            if (cp >= 0x10000 && cp <= 0x10FFFF) len = 4;
        }
        int unsafe = len == 0 || cp < 0x20 || (cp >= 0x7F && cp <= 0x9F) || cp == 0x61C || cp == 0x200E
            || cp == 0x200F || (cp >= 0x202A && cp <= 0x202E) || (cp >= 0x2066 && cp <= 0x2069);
        if (unsafe) { out[o++] = '?'; s += len ? len : 1; continue; }
        if (o + len >= size) break;
        memcpy(out + o, s, len);
        o += len;
        s += len;
    }
    out[o] = 0;
}
