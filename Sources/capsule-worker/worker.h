/*
 * What the worker's files share (main.c is the map): the shared memory and the
 * configuration main.c reads at start, the plugin it loads, and the functions each stage
 * offers the others. One process, one plugin, one call at a time: no locking.
 */
#ifndef CAPSULE_WORKER_H
#define CAPSULE_WORKER_H

#include <stdint.h>
#include "capsule.h"
#include "capsule_isolation.h"

/* ---- start-up (main.c) ---- */

extern capsule_iso_shared *shared;
extern uint8_t *data;                 /* the data area of `shared` */
extern uint64_t data_size;
extern capsule_iso_config config;     /* copied out of `shared` before any plugin code ran */
extern const capsule_plugin *plugin;  /* the descriptor its entry function returned */
extern char plugin_name[128];         /* for log lines */

/* ---- protocol I/O (protocol.c) ---- */

/* The sequence number of the request being answered. */
extern uint32_t current_seq;
/* Sets `status` and response_seq, and wakes a sleeping host. */
void respond(uint32_t status);
/* Writes `text` (at most CAPSULE_ISO_MESSAGE_MAX bytes) as the response payload. */
void payload_text(const char *text);
/* A formatted payload, then respond(status). */
void respond_text(uint32_t status, const char *format, ...) __attribute__((format(printf, 2, 3)));
/* Waits for a request numbered other than `last` and returns its number; exits when the
 * host is gone. */
uint32_t wait_request(uint32_t last);
/* True for the sizes of the capsule_plugin layouts of this ABI version. */
int known_size(uint32_t size);
/* Encodes the descriptor as the LOADED payload; -1 when it does not fit. */
int write_descriptor(const capsule_plugin *d);
/* `text` made safe for a terminal into `out` (`size` bytes, NUL-terminated): controls, bidi
 * formatting characters and invalid UTF-8 become '?' (the host's TerminalText.safe). */
void terminal_safe(const char *text, char *out, size_t size);

/* ---- the call loop (call_loop.c) ---- */

/* Serves requests (INIT first) until the host goes away. `strings` holds the
 * configuration's strings, which stage 2 of the lockdown reads. */
_Noreturn void serve(const uint8_t *strings, uint64_t strings_size);

#endif
