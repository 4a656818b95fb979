/*
 * zlib — the bundled compression plugin, over the system zlib (-lz).
 *
 *   import "zlib"
 *   print(zlib.crc32("hello"))                  // 907060870
 *   let z = zlib.compress(data, 6)              // zlib format (RFC 1950), level -1 to 9
 *   let d = zlib.decompress(z, 1 << 20)         // fails if the output exceeds the limit
 *
 *   let s = zlib.deflate_new(9)                 // streaming: each write returns the
 *   let out = zlib.deflate_write(s, part)       // output produced so far,
 *   out = out + zlib.deflate_finish(s)          // finish flushes and closes the handle
 *   let i = zlib.inflate_new(1 << 20)           // the limit covers the whole stream
 *   let back = zlib.inflate_write(i, out)
 *   zlib.inflate_finish(i)                      // fails if the stream is incomplete
 *
 * Byte results use the bridge's `bytes` result type: the function returns a pointer and
 * writes the length through the hidden trailing `size_t *`; the host copies the bytes on
 * return. The plugin keeps every result in a per-thread scratch buffer, reused by the
 * next call.
 */
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>
#include "capsule.h"

static const capsule_host_api *host;
static pthread_key_t scratch_key; /* frees a thread's scratch buffer when it exits */

static int zlib_init(const capsule_host_api *api) {
    host = api;
    return pthread_key_create(&scratch_key, free);
}

/* ---- the scratch buffer results are returned from ---- */

typedef struct {
    uint8_t *data;
    size_t length, capacity;
} buffer;

/*
 * Per thread: the host calls a plugin from one thread at a time per VM, but VMs on other
 * threads share the loaded plugin. The host copies a result on the calling thread before
 * that thread calls again. A thread's buffer is freed when the thread exits.
 */
static _Thread_local buffer scratch;
static uint8_t empty_result[1];

/* Makes room for `extra` more bytes after `length`; false (having raised) when out of memory. */
static bool reserve(buffer *b, size_t extra) {
    if (b->capacity - b->length >= extra) return true;
    size_t want = b->capacity ? b->capacity : 256;
    while (want - b->length < extra) {
        if (want > SIZE_MAX / 2) { host->raise("out of memory"); return false; }
        want *= 2;
    }
    uint8_t *p = realloc(b->data, want);
    if (!p) { host->raise("out of memory"); return false; }
    b->data = p;
    b->capacity = want;
    if (b == &scratch) pthread_setspecific(scratch_key, p);
    return true;
}

static const uint8_t *result(size_t *size) {
    *size = scratch.length;
    return scratch.length ? scratch.data : empty_result;
}

static void raise_zlib(const char *what, int status, const z_stream *z) {
    char message[256];
    const char *detail = z && z->msg ? z->msg : zError(status);
    snprintf(message, sizeof message, "%s (%s)", what, detail);
    host->raise(message);
}

static bool valid_level(int64_t level) {
    if (level >= -1 && level <= 9) return true;
    char message[96];
    snprintf(message, sizeof message, "level must be -1 to 9, got %lld", (long long)level);
    host->raise(message);
    return false;
}

/* ---- checksums ---- */

static uint64_t z_crc32(const uint8_t *data, size_t size) {
    uLong c = crc32(0L, Z_NULL, 0);
    while (size > 0) {
        uInt n = size > UINT_MAX ? UINT_MAX : (uInt)size;
        c = crc32(c, data, n);
        data += n;
        size -= n;
    }
    return c;
}

static uint64_t z_adler32(const uint8_t *data, size_t size) {
    uLong a = adler32(0L, Z_NULL, 0);
    while (size > 0) {
        uInt n = size > UINT_MAX ? UINT_MAX : (uInt)size;
        a = adler32(a, data, n);
        data += n;
        size -= n;
    }
    return a;
}

/* ---- deflate ---- */

/* Runs deflate over the input with `flush`, appending all output to scratch. */
static bool run_deflate(z_stream *z, const uint8_t *data, size_t size, int flush) {
    z->next_in = (Bytef *)data;
    z->avail_in = (uInt)size;
    for (;;) {
        if (!reserve(&scratch, 64 * 1024)) return false;
        z->next_out = scratch.data + scratch.length;
        z->avail_out = (uInt)(scratch.capacity - scratch.length > UINT_MAX ? UINT_MAX : scratch.capacity - scratch.length);
        uInt before = z->avail_out;
        int status = deflate(z, flush);
        scratch.length += before - z->avail_out;
        if (status == Z_STREAM_END) return true;
        if (status != Z_OK && status != Z_BUF_ERROR) { raise_zlib("deflate failed", status, z); return false; }
        if (z->avail_in == 0 && z->avail_out != 0 && flush != Z_FINISH) return true;
    }
}

static const uint8_t *z_compress(const uint8_t *data, size_t size, int64_t level, size_t *out_size) {
    scratch.length = 0;
    if (!valid_level(level)) return NULL;
    if (size > UINT_MAX) { host->raise("input too large (at most 4 GiB - 1)"); return NULL; }
    z_stream z = {0};
    int status = deflateInit(&z, (int)level);
    if (status != Z_OK) { raise_zlib("deflateInit failed", status, &z); return NULL; }
    bool ok = run_deflate(&z, data, size, Z_FINISH);
    deflateEnd(&z);
    return ok ? result(out_size) : NULL;
}

typedef struct {
    z_stream z;
    bool finished;
} deflater;

static void deflater_destroy(void *p) {
    deflater *d = p;
    deflateEnd(&d->z);
    free(d);
}

static deflater *z_deflate_new(int64_t level) {
    if (!valid_level(level)) return NULL;
    deflater *d = calloc(1, sizeof *d);
    if (!d) { host->raise("out of memory"); return NULL; }
    int status = deflateInit(&d->z, (int)level);
    if (status != Z_OK) { raise_zlib("deflateInit failed", status, &d->z); free(d); return NULL; }
    return d;
}

static const uint8_t *z_deflate_write(deflater *d, const uint8_t *data, size_t size, size_t *out_size) {
    scratch.length = 0;
    if (d->finished) { host->raise("the stream is already finished"); return NULL; }
    if (size > UINT_MAX) { host->raise("input too large (at most 4 GiB - 1)"); return NULL; }
    return run_deflate(&d->z, data, size, Z_NO_FLUSH) ? result(out_size) : NULL;
}

/* Flags CLOSES_HANDLE: the result lives in scratch, not in the handle. */
static const uint8_t *z_deflate_finish(deflater *d, size_t *out_size) {
    scratch.length = 0;
    if (d->finished) { host->raise("the stream is already finished"); return NULL; }
    d->finished = true;
    return run_deflate(&d->z, NULL, 0, Z_FINISH) ? result(out_size) : NULL;
}

/* ---- inflate ---- */

typedef struct {
    z_stream z;
    uint64_t max_size;   /* the most output the whole stream may produce */
    uint64_t produced;
    bool ended;          /* Z_STREAM_END seen */
} inflater;

/*
 * Inflates the input, appending to scratch; fails when the total output would exceed
 * max_size, on corrupt input, or on data after the end of the stream.
 */
static bool run_inflate(inflater *s, const uint8_t *data, size_t size) {
    z_stream *z = &s->z;
    z->next_in = (Bytef *)data;
    z->avail_in = (uInt)size;
    while (z->avail_in > 0 && !s->ended) {
        /* Allow one byte beyond the limit, so that exceeding it is detected. */
        uint64_t allowed = s->max_size - s->produced + 1;
        size_t chunk = allowed < 64 * 1024 ? (size_t)allowed : 64 * 1024;
        if (!reserve(&scratch, chunk)) return false;
        z->next_out = scratch.data + scratch.length;
        z->avail_out = (uInt)chunk;
        int status = inflate(z, Z_NO_FLUSH);
        size_t got = chunk - z->avail_out;
        scratch.length += got;
        s->produced += got;
        if (s->produced > s->max_size) {
            char message[128];
            snprintf(message, sizeof message, "output larger than the limit of %llu bytes",
                     (unsigned long long)s->max_size);
            host->raise(message);
            return false;
        }
        if (status == Z_STREAM_END) { s->ended = true; break; }
        if (status == Z_NEED_DICT) { host->raise("corrupt input (a preset dictionary is needed)"); return false; }
        if (status == Z_DATA_ERROR) { raise_zlib("corrupt input", status, z); return false; }
        if (status == Z_MEM_ERROR) { host->raise("out of memory"); return false; }
        if (status == Z_BUF_ERROR && got == 0) { raise_zlib("inflate made no progress", status, z); return false; }
    }
    if (z->avail_in > 0) { host->raise("corrupt input (data after the end of the stream)"); return false; }
    return true;
}

static const uint8_t *z_decompress(const uint8_t *data, size_t size, uint64_t max_size, size_t *out_size) {
    scratch.length = 0;
    if (size > UINT_MAX) { host->raise("input too large (at most 4 GiB - 1)"); return NULL; }
    inflater s = {.max_size = max_size};
    int status = inflateInit(&s.z);
    if (status != Z_OK) { raise_zlib("inflateInit failed", status, &s.z); return NULL; }
    bool ok = run_inflate(&s, data, size);
    inflateEnd(&s.z);
    if (ok && !s.ended) { host->raise("corrupt input (truncated stream)"); return NULL; }
    return ok ? result(out_size) : NULL;
}

static void inflater_destroy(void *p) {
    inflater *s = p;
    inflateEnd(&s->z);
    free(s);
}

static inflater *z_inflate_new(uint64_t max_size) {
    inflater *s = calloc(1, sizeof *s);
    if (!s) { host->raise("out of memory"); return NULL; }
    s->max_size = max_size;
    int status = inflateInit(&s->z);
    if (status != Z_OK) { raise_zlib("inflateInit failed", status, &s->z); free(s); return NULL; }
    return s;
}

static const uint8_t *z_inflate_write(inflater *s, const uint8_t *data, size_t size, size_t *out_size) {
    scratch.length = 0;
    if (size > UINT_MAX) { host->raise("input too large (at most 4 GiB - 1)"); return NULL; }
    return run_inflate(s, data, size) ? result(out_size) : NULL;
}

/* Flags CLOSES_HANDLE. Fails when the stream did not reach its end. */
static void z_inflate_finish(inflater *s) {
    if (!s->ended) host->raise("corrupt input (truncated stream)");
}

static bool z_inflate_done(inflater *s) { return s->ended; }

static const capsule_export exports[] = {
    {"crc32", "(bytes) -> u64", (void (*)(void))z_crc32, 0, "the CRC-32 of the data"},
    {"adler32", "(bytes) -> u64", (void (*)(void))z_adler32, 0, "the Adler-32 of the data"},
    {"compress", "(bytes, i64) -> bytes", (void (*)(void))z_compress, 0,
     "zlib-format compression at level -1 (default) to 9"},
    {"decompress", "(bytes, u64) -> bytes", (void (*)(void))z_decompress, 0,
     "decompresses a whole zlib stream of at most max_size output bytes"},
    {"deflate_new", "(i64) -> handle<Deflater>", (void (*)(void))z_deflate_new, 0,
     "a streaming compressor at level -1 to 9"},
    {"deflate_write", "(handle<Deflater>, bytes) -> bytes", (void (*)(void))z_deflate_write, 0,
     "compresses more input; returns the output produced so far"},
    {"deflate_finish", "(handle<Deflater>) -> bytes", (void (*)(void))z_deflate_finish,
     CAPSULE_EXPORT_CLOSES_HANDLE, "returns the rest of the output and closes the stream"},
    {"inflate_new", "(u64) -> handle<Inflater>", (void (*)(void))z_inflate_new, 0,
     "a streaming decompressor producing at most max_size bytes in all"},
    {"inflate_write", "(handle<Inflater>, bytes) -> bytes", (void (*)(void))z_inflate_write, 0,
     "decompresses more input; returns the output produced"},
    {"inflate_done", "(handle<Inflater>) -> bool", (void (*)(void))z_inflate_done, 0,
     "true once the end of the stream has been reached"},
    {"inflate_finish", "(handle<Inflater>) -> void", (void (*)(void))z_inflate_finish,
     CAPSULE_EXPORT_CLOSES_HANDLE, "closes the stream; fails if it was incomplete"},
};

static const capsule_handle_type handle_types[] = {
    {"Deflater", deflater_destroy},
    {"Inflater", inflater_destroy},
};

static const capsule_plugin plugin = {
    .abi_version = CAPSULE_ABI_VERSION,
    .struct_size = sizeof(capsule_plugin),
    .name = "zlib",
    .version = "1.0.0",
    .description = "zlib compression and checksums (system zlib)",
    .exports = exports,
    .export_count = sizeof exports / sizeof exports[0],
    .handle_types = handle_types,
    .handle_type_count = sizeof handle_types / sizeof handle_types[0],
    .init = zlib_init,
};

CAPSULE_PLUGIN(plugin)
