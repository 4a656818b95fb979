/*
 * Script values in the worker (the `value` type; SCRIPT VALUES in capsule.h).
 *
 * The VM's heap is in the host, so a `value` argument arrives as a deep copy, serialized by
 * the host (capsule_isolation.h, CAPSULE_ISO value encoding), and a `value` result goes back
 * the same way. Functions, handles, classes, instances, modules and errors cannot be copied:
 * they travel as opaque tokens (an index into the host's list for this call) that the plugin
 * can inspect only by kind and type name and can hand back unchanged.
 *
 * References work as in the host: `serial << 32 | (index + 1)`, lent for one call, released
 * by values_release; every value built during a call is freed when it returns. A value the
 * plugin changes (list_push on an argument) is its copy: the script's value is unchanged.
 */
#define _GNU_SOURCE
#include "values.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct wv {
    uint8_t kind;            /* CAPSULE_KIND_* */
    bool b;
    int64_t i;
    double d;
    uint8_t *data;           /* string (NUL-terminated) or bytes; type name of an opaque */
    size_t length;
    struct wv **items;       /* list items; map: key, value, key, value, … */
    size_t count, capacity;  /* in items (a map's entries are count / 2) */
    uint32_t opaque;         /* opaque values: the host's index */
} wv;

static void (*raise_message)(const char *);
static int active;
static uint32_t serial;
static wv **refs;
static size_t ref_count, ref_capacity;
/* Everything made during a call, freed when it returns: nodes (with their item arrays)
 * and text buffers. */
static void **arena;
static size_t arena_count, arena_capacity;
static wv **nodes;
static size_t node_count, node_capacity;

void worker_values_init(void (*raise_fn)(const char *)) { raise_message = raise_fn; }

static void *remember(void *p) {
    if (!p) return NULL;
    if (arena_count == arena_capacity) {
        size_t capacity = arena_capacity ? arena_capacity * 2 : 256;
        void **grown = realloc(arena, capacity * sizeof *grown);
        if (!grown) { free(p); return NULL; }
        arena = grown;
        arena_capacity = capacity;
    }
    arena[arena_count++] = p;
    return p;
}

static wv *node(uint8_t kind) {
    if (node_count == node_capacity) {
        size_t capacity = node_capacity ? node_capacity * 2 : 256;
        wv **grown = realloc(nodes, capacity * sizeof *grown);
        if (!grown) return NULL;
        nodes = grown;
        node_capacity = capacity;
    }
    wv *v = calloc(1, sizeof *v);
    if (!v) return NULL;
    nodes[node_count++] = v;
    v->kind = kind;
    return v;
}

static capsule_value lend(wv *v) {
    if (!v) return CAPSULE_NO_VALUE;
    if (ref_count == ref_capacity) {
        size_t capacity = ref_capacity ? ref_capacity * 2 : 256;
        wv **grown = realloc(refs, capacity * sizeof *grown);
        if (!grown) return CAPSULE_NO_VALUE;
        refs = grown;
        ref_capacity = capacity;
    }
    refs[ref_count++] = v;
    return ((uint64_t)serial << 32) | ref_count;
}

void worker_values_begin(void) {
    active = 1;
    serial++;
    ref_count = 0;
}

void worker_values_end(void) {
    active = 0;
    for (size_t i = 0; i < arena_count; i++) free(arena[i]);
    arena_count = 0;
    for (size_t i = 0; i < node_count; i++) {
        free(nodes[i]->items);
        free(nodes[i]);
    }
    node_count = 0;
    ref_count = 0;
}

static void fail(const char *format, const char *function, const char *detail) {
    char message[512];
    snprintf(message, sizeof message, format, function, detail ? detail : "");
    raise_message(message);
}

static int usable(const char *function) {
    if (!active) {
        fail("host->%s can only be used in a call of an export whose signature uses value%s", function, "");
        return 0;
    }
    return 1;
}

static wv *resolve(capsule_value ref, const char *function) {
    if (!usable(function)) return NULL;
    uint64_t index = ref & 0xFFFFFFFFu;
    if ((ref >> 32) != serial || index == 0 || index > ref_count) {
        fail("host->%s: invalid capsule_value (made in another call, released, or never made)%s", function, "");
        return NULL;
    }
    return refs[index - 1];
}

static const char *kind_name(const wv *v) {
    static const char *names[] = {"nil", "bool", "int", "float", "string", "bytes", "list", "map"};
    if (v->kind <= CAPSULE_KIND_MAP) return names[v->kind];
    return v->data ? (const char *)v->data : "value";
}

static int append(wv *list, wv *item) {
    if (list->count == list->capacity) {
        size_t capacity = list->capacity ? list->capacity * 2 : 8;
        wv **grown = realloc(list->items, capacity * sizeof *grown);
        if (!grown) return -1;
        list->items = grown;
        list->capacity = capacity;
    }
    list->items[list->count++] = item;
    return 0;
}

static int same_key(const wv *a, const wv *b) {
    if (a == b) return 1;
    if (a->kind != b->kind) {
        if (a->kind == CAPSULE_KIND_INT && b->kind == CAPSULE_KIND_FLOAT) return (double)a->i == b->d;
        if (a->kind == CAPSULE_KIND_FLOAT && b->kind == CAPSULE_KIND_INT) return a->d == (double)b->i;
        return 0;
    }
    switch (a->kind) {
    case CAPSULE_KIND_NIL: return 1;
    case CAPSULE_KIND_BOOL: return a->b == b->b;
    case CAPSULE_KIND_INT: return a->i == b->i;
    case CAPSULE_KIND_FLOAT: return a->d == b->d;
    case CAPSULE_KIND_STRING: case CAPSULE_KIND_BYTES:
        return a->length == b->length && memcmp(a->data, b->data, a->length) == 0;
    case CAPSULE_KIND_LIST: case CAPSULE_KIND_MAP: return 0;
    default: return a->opaque == b->opaque;
    }
}

static wv *map_find(const wv *map, const wv *key) {
    for (size_t k = 0; k + 1 < map->count; k += 2) if (same_key(map->items[k], key)) return map->items[k + 1];
    return NULL;
}

static int valid_utf8(const uint8_t *s, size_t n) {
    size_t i = 0;
    while (i < n) {
        uint8_t c = s[i];
        size_t extra;
        uint32_t cp;
        if (c < 0x80) { i++; continue; }
        else if ((c & 0xE0) == 0xC0) { extra = 1; cp = c & 0x1F; }
        else if ((c & 0xF0) == 0xE0) { extra = 2; cp = c & 0x0F; }
        else if ((c & 0xF8) == 0xF0) { extra = 3; cp = c & 0x07; }
        else return 0;
        if (n - i <= extra) return 0;
        for (size_t k = 1; k <= extra; k++) {
            if ((s[i + k] & 0xC0) != 0x80) return 0;
            cp = cp << 6 | (s[i + k] & 0x3F);
        }
        if ((extra == 1 && cp < 0x80) || (extra == 2 && cp < 0x800) || (extra == 3 && cp < 0x10000)
            || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return 0;
        i += extra + 1;
    }
    return 1;
}

/* ---- the host API's value functions ---- */

int worker_value_kind(capsule_value ref) {
    wv *v = resolve(ref, "value_kind");
    return v ? v->kind : -1;
}

const char *worker_value_type_name(capsule_value ref) {
    wv *v = resolve(ref, "value_type_name");
    return v ? kind_name(v) : NULL;
}

int worker_value_bool(capsule_value ref, bool *out) {
    wv *v = resolve(ref, "value_bool");
    if (!v || v->kind != CAPSULE_KIND_BOOL) return -1;
    if (out) *out = v->b;
    return 0;
}

int worker_value_int(capsule_value ref, int64_t *out) {
    wv *v = resolve(ref, "value_int");
    if (!v || v->kind != CAPSULE_KIND_INT) return -1;
    if (out) *out = v->i;
    return 0;
}

int worker_value_float(capsule_value ref, double *out) {
    wv *v = resolve(ref, "value_float");
    if (!v || (v->kind != CAPSULE_KIND_FLOAT && v->kind != CAPSULE_KIND_INT)) return -1;
    if (out) *out = v->kind == CAPSULE_KIND_INT ? (double)v->i : v->d;
    return 0;
}

const char *worker_value_string(capsule_value ref, size_t *length) {
    wv *v = resolve(ref, "value_string");
    if (!v || v->kind != CAPSULE_KIND_STRING) return NULL;
    if (length) *length = v->length;
    return (const char *)v->data;
}

const uint8_t *worker_value_bytes(capsule_value ref, size_t *length) {
    static const uint8_t empty[1];
    wv *v = resolve(ref, "value_bytes");
    if (!v || v->kind != CAPSULE_KIND_BYTES) return NULL;
    if (length) *length = v->length;
    return v->data ? v->data : empty;
}

int64_t worker_value_length(capsule_value ref) {
    wv *v = resolve(ref, "value_length");
    if (!v) return -1;
    switch (v->kind) {
    case CAPSULE_KIND_LIST: return (int64_t)v->count;
    case CAPSULE_KIND_MAP: return (int64_t)(v->count / 2);
    case CAPSULE_KIND_STRING: case CAPSULE_KIND_BYTES: return (int64_t)v->length;
    default: return -1;
    }
}

capsule_value worker_list_get(capsule_value ref, size_t index) {
    wv *list = resolve(ref, "list_get");
    if (!list) return CAPSULE_NO_VALUE;
    if (list->kind != CAPSULE_KIND_LIST) { fail("host->%s: expected a list, got %s", "list_get", kind_name(list)); return CAPSULE_NO_VALUE; }
    if (index >= list->count) {
        char detail[64];
        snprintf(detail, sizeof detail, "%zu is out of range for a list of length %zu", index, list->count);
        fail("host->%s: index %s", "list_get", detail);
        return CAPSULE_NO_VALUE;
    }
    return lend(list->items[index]);
}

int worker_map_next(capsule_value ref, size_t *cursor, capsule_value *key, capsule_value *value) {
    wv *map = resolve(ref, "map_next");
    if (!map) return -1;
    if (map->kind != CAPSULE_KIND_MAP) { fail("host->%s: expected a map, got %s", "map_next", kind_name(map)); return -1; }
    if (!cursor) { fail("host->%s: cursor is NULL%s", "map_next", ""); return -1; }
    size_t at = *cursor * 2;
    if (at + 1 >= map->count) return 0;
    *cursor += 1;
    if (key) *key = lend(map->items[at]);
    if (value) *value = lend(map->items[at + 1]);
    return 1;
}

capsule_value worker_map_get(capsule_value ref, capsule_value key_ref) {
    wv *map = resolve(ref, "map_get");
    wv *key = map ? resolve(key_ref, "map_get") : NULL;
    if (!map || !key) return CAPSULE_NO_VALUE;
    if (map->kind != CAPSULE_KIND_MAP) { fail("host->%s: expected a map, got %s", "map_get", kind_name(map)); return CAPSULE_NO_VALUE; }
    wv *v = map_find(map, key);
    return v ? lend(v) : CAPSULE_NO_VALUE;
}

capsule_value worker_new_nil(void) { return usable("new_nil") ? lend(node(CAPSULE_KIND_NIL)) : CAPSULE_NO_VALUE; }

capsule_value worker_new_bool(bool b) {
    if (!usable("new_bool")) return CAPSULE_NO_VALUE;
    wv *v = node(CAPSULE_KIND_BOOL);
    if (v) v->b = b;
    return lend(v);
}

capsule_value worker_new_int(int64_t i) {
    if (!usable("new_int")) return CAPSULE_NO_VALUE;
    wv *v = node(CAPSULE_KIND_INT);
    if (v) v->i = i;
    return lend(v);
}

capsule_value worker_new_float(double d) {
    if (!usable("new_float")) return CAPSULE_NO_VALUE;
    wv *v = node(CAPSULE_KIND_FLOAT);
    if (v) v->d = d;
    return lend(v);
}

static wv *text_node(uint8_t kind, const uint8_t *data, size_t length) {
    wv *v = node(kind);
    if (!v) return NULL;
    v->data = remember(malloc(length + 1));
    if (!v->data) return NULL;
    if (length) memcpy(v->data, data, length);
    v->data[length] = 0;
    v->length = length;
    return v;
}

capsule_value worker_new_string(const char *data, size_t length) {
    if (!usable("new_string")) return CAPSULE_NO_VALUE;
    if (!data && length) { fail("host->%s: NULL data with length %s", "new_string", "> 0"); return CAPSULE_NO_VALUE; }
    if (!valid_utf8((const uint8_t *)data, length)) { fail("host->%s: the text is not valid UTF-8%s", "new_string", ""); return CAPSULE_NO_VALUE; }
    return lend(text_node(CAPSULE_KIND_STRING, (const uint8_t *)data, length));
}

capsule_value worker_new_bytes(const uint8_t *data, size_t length) {
    if (!usable("new_bytes")) return CAPSULE_NO_VALUE;
    if (!data && length) { fail("host->%s: NULL data with length %s", "new_bytes", "> 0"); return CAPSULE_NO_VALUE; }
    return lend(text_node(CAPSULE_KIND_BYTES, data, length));
}

capsule_value worker_new_list(size_t capacity) {
    (void)capacity;
    return usable("new_list") ? lend(node(CAPSULE_KIND_LIST)) : CAPSULE_NO_VALUE;
}

int worker_list_push(capsule_value list_ref, capsule_value item_ref) {
    wv *list = resolve(list_ref, "list_push");
    wv *item = list ? resolve(item_ref, "list_push") : NULL;
    if (!list || !item) return -1;
    if (list->kind != CAPSULE_KIND_LIST) { fail("host->%s: expected a list, got %s", "list_push", kind_name(list)); return -1; }
    return append(list, item);
}

capsule_value worker_new_map(void) { return usable("new_map") ? lend(node(CAPSULE_KIND_MAP)) : CAPSULE_NO_VALUE; }

int worker_map_set(capsule_value map_ref, capsule_value key_ref, capsule_value value_ref) {
    wv *map = resolve(map_ref, "map_set");
    wv *key = map ? resolve(key_ref, "map_set") : NULL;
    wv *value = key ? resolve(value_ref, "map_set") : NULL;
    if (!map || !key || !value) return -1;
    if (map->kind != CAPSULE_KIND_MAP) { fail("host->%s: expected a map, got %s", "map_set", kind_name(map)); return -1; }
    if (key->kind == CAPSULE_KIND_NIL) { fail("host->%s: map key cannot be nil%s", "map_set", ""); return -1; }
    for (size_t k = 0; k + 1 < map->count; k += 2) {
        if (same_key(map->items[k], key)) { map->items[k + 1] = value; return 0; }
    }
    return append(map, key) == 0 && append(map, value) == 0 ? 0 : -1;
}

size_t worker_values_mark(void) { return usable("values_mark") ? ref_count : 0; }

void worker_values_release(size_t mark) {
    if (usable("values_release") && mark < ref_count) ref_count = mark;
}

/* ---- the wire encoding ---- */

typedef struct reader {
    const uint8_t *p;
    uint64_t at, end;
} reader;

static int take(reader *r, void *out, uint64_t n) {
    if (n > r->end - r->at) return -1;
    if (out) memcpy(out, r->p + r->at, n);
    r->at += n;
    return 0;
}

static wv *decode(reader *r, int depth) {
    uint8_t kind;
    if (depth > CAPSULE_ISO_VALUE_DEPTH || take(r, &kind, 1) != 0) return NULL;
    uint32_t n;
    switch (kind) {
    case CAPSULE_KIND_NIL: return node(kind);
    case CAPSULE_KIND_BOOL: {
        wv *v = node(kind);
        uint8_t b;
        if (!v || take(r, &b, 1) != 0) return NULL;
        v->b = b != 0;
        return v;
    }
    case CAPSULE_KIND_INT: case CAPSULE_KIND_FLOAT: {
        wv *v = node(kind);
        if (!v || take(r, kind == CAPSULE_KIND_INT ? (void *)&v->i : (void *)&v->d, 8) != 0) return NULL;
        return v;
    }
    case CAPSULE_KIND_STRING: case CAPSULE_KIND_BYTES:
        if (take(r, &n, 4) != 0 || n > r->end - r->at) return NULL;
        r->at += n;
        return text_node(kind, r->p + r->at - n, n);
    case CAPSULE_KIND_LIST: case CAPSULE_KIND_MAP: {
        wv *v = node(kind);
        if (!v || take(r, &n, 4) != 0) return NULL;
        uint64_t items = kind == CAPSULE_KIND_MAP ? 2ull * n : n;
        for (uint64_t i = 0; i < items; i++) {
            wv *item = decode(r, depth + 1);
            if (!item || append(v, item) != 0) return NULL;
        }
        return v;
    }
    default: {
        uint32_t index;
        if (take(r, &index, 4) != 0 || take(r, &n, 4) != 0 || n > r->end - r->at) return NULL;
        r->at += n;
        wv *v = text_node(kind, r->p + r->at - n, n);
        if (v) v->opaque = index;
        return v;
    }
    }
}

capsule_value worker_values_decode(const uint8_t *p, uint64_t length) {
    reader r = { p, 0, length };
    wv *v = decode(&r, 0);
    return v && r.at == length ? lend(v) : CAPSULE_NO_VALUE;
}

typedef struct writer {
    uint8_t *p;
    uint64_t at, end;
    int overflow, too_deep;
} writer;

static void put(writer *w, const void *data, uint64_t n) {
    if (w->overflow || n > w->end - w->at) { w->overflow = 1; return; }
    memcpy(w->p + w->at, data, n);
    w->at += n;
}

static void encode(writer *w, const wv *v, int depth) {
    if (depth > CAPSULE_ISO_VALUE_DEPTH) { w->too_deep = 1; return; }
    put(w, &v->kind, 1);
    uint32_t n;
    switch (v->kind) {
    case CAPSULE_KIND_NIL: break;
    case CAPSULE_KIND_BOOL: { uint8_t b = v->b; put(w, &b, 1); break; }
    case CAPSULE_KIND_INT: put(w, &v->i, 8); break;
    case CAPSULE_KIND_FLOAT: put(w, &v->d, 8); break;
    case CAPSULE_KIND_STRING: case CAPSULE_KIND_BYTES:
        n = (uint32_t)v->length;
        put(w, &n, 4);
        put(w, v->data, v->length);
        break;
    case CAPSULE_KIND_LIST: case CAPSULE_KIND_MAP:
        n = (uint32_t)(v->kind == CAPSULE_KIND_MAP ? v->count / 2 : v->count);
        put(w, &n, 4);
        for (size_t i = 0; i < (v->kind == CAPSULE_KIND_MAP ? 2 * (size_t)n : v->count) && !w->overflow && !w->too_deep; i++)
            encode(w, v->items[i], depth + 1);
        break;
    default:
        put(w, &v->opaque, 4);
        n = (uint32_t)v->length;
        put(w, &n, 4);
        put(w, v->data, v->length);
        break;
    }
}

int64_t worker_values_encode(capsule_value ref, uint8_t *out, uint64_t capacity, const char **why) {
    uint64_t index = ref & 0xFFFFFFFFu;
    if ((ref >> 32) != serial || index == 0 || index > ref_count) {
        *why = "the result is not a valid capsule_value (made in another call, released, or never made)";
        return -1;
    }
    writer w = { out, 0, capacity, 0, 0 };
    encode(&w, refs[index - 1], 0);
    if (w.too_deep) { *why = "the value result is nested too deeply (or contains itself) to leave an isolated plugin"; return -1; }
    if (w.overflow) { *why = "the value result does not fit in the isolation buffer (raise IsolationSettings.bufferSize)"; return -1; }
    return (int64_t)w.at;
}
