/* Exercises the host API's script values (the `value` signature type): inspecting every
 * kind, deep copies built under values_mark/values_release, and each misuse the host must
 * refuse with an error rather than a crash. Also a handle type whose destructor aborts when
 * given NULL (a closed handle's destructor must not run again at collection). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "capsule.h"

static const capsule_host_api *host;

static int init(const capsule_host_api *api) {
    host = api;
    return CAPSULE_HOST_HAS(api, call_value) ? 0 : 1;
}

/* (value) -> value: the argument's own reference. */
static capsule_value echo(capsule_value v) { return v; }

/* (value) -> value: a deep copy of nil, bool, int, float, string, bytes, list and map;
 * each item's references are released once it is in its container. */
static capsule_value copy(capsule_value v) {
    switch (host->value_kind(v)) {
    case CAPSULE_KIND_NIL: return host->new_nil();
    case CAPSULE_KIND_BOOL: { bool b; host->value_bool(v, &b); return host->new_bool(b); }
    case CAPSULE_KIND_INT: { int64_t i; host->value_int(v, &i); return host->new_int(i); }
    case CAPSULE_KIND_FLOAT: { double d; host->value_float(v, &d); return host->new_float(d); }
    case CAPSULE_KIND_STRING: { size_t n; const char *s = host->value_string(v, &n); return host->new_string(s, n); }
    case CAPSULE_KIND_BYTES: { size_t n; const uint8_t *b = host->value_bytes(v, &n); return host->new_bytes(b, n); }
    case CAPSULE_KIND_LIST: {
        int64_t n = host->value_length(v);
        capsule_value list = host->new_list((size_t)n);
        for (int64_t i = 0; i < n; i++) {
            size_t mark = host->values_mark();
            capsule_value item = copy(host->list_get(v, (size_t)i));
            int status = item ? host->list_push(list, item) : -1;
            host->values_release(mark);
            if (status != 0) return CAPSULE_NO_VALUE;
        }
        return list;
    }
    case CAPSULE_KIND_MAP: {
        capsule_value map = host->new_map();
        size_t cursor = 0;
        capsule_value key, value;
        for (;;) {
            size_t mark = host->values_mark();
            int more = host->map_next(v, &cursor, &key, &value);
            if (more <= 0) { host->values_release(mark); break; }
            capsule_value k = copy(key), c = copy(value);
            int status = k && c ? host->map_set(map, k, c) : -1;
            host->values_release(mark);
            if (status != 0) return CAPSULE_NO_VALUE;
        }
        return map;
    }
    case -1: return CAPSULE_NO_VALUE;
    default: {
        char message[128];
        snprintf(message, sizeof message, "cannot copy a %s", host->value_type_name(v));
        host->raise(message);
        return CAPSULE_NO_VALUE;
    }
    }
}

/* (value) -> str: what the accessors see: kind number, type name, length, and the scalar. */
static char described[256];
static const char *describe(capsule_value v) {
    int kind = host->value_kind(v);
    const char *name = host->value_type_name(v);
    long long length = (long long)host->value_length(v);
    bool b = false;
    int64_t i = 0;
    double d = 0;
    size_t n = 0;
    if (host->value_bool(v, &b) == 0) snprintf(described, sizeof described, "%d %s %lld bool %d", kind, name, length, b);
    else if (host->value_int(v, &i) == 0) snprintf(described, sizeof described, "%d %s %lld int %lld", kind, name, length, (long long)i);
    else if (host->value_float(v, &d) == 0) snprintf(described, sizeof described, "%d %s %lld float %g", kind, name, length, d);
    else if (host->value_string(v, &n)) snprintf(described, sizeof described, "%d %s %lld string %zu", kind, name, length, n);
    else if (host->value_bytes(v, &n)) snprintf(described, sizeof described, "%d %s %lld bytes %zu", kind, name, length, n);
    else snprintf(described, sizeof described, "%d %s %lld", kind, name, length);
    return described;
}

/* (value, value) -> value: map[key], or nil when absent. */
static capsule_value lookup(capsule_value map, capsule_value key) { return host->map_get(map, key); }

/* Misuses, each of which must fail the call with the host's message. */
static capsule_value kept;
static void keep(capsule_value v) { kept = v; }                        /* (value) -> void */
static capsule_value use_kept(void) { return kept; }                    /* () -> value */
static int64_t kind_of_kept(capsule_value ignored) { (void)ignored; return host->value_kind(kept); }  /* (value) -> i64 */
static int64_t without_value(void) { return (int64_t)host->new_int(1); }  /* () -> i64 */
static capsule_value bad_utf8(void) { return host->new_string("\xff\xfe", 2); }
static capsule_value nil_key(void) { return host->map_set(host->new_map(), host->new_nil(), host->new_int(1)) ? CAPSULE_NO_VALUE : host->new_int(0); }
static capsule_value released(void) {
    size_t mark = host->values_mark();
    capsule_value v = host->new_int(5);
    host->values_release(mark);
    return v;
}
static capsule_value out_of_range(capsule_value list) { return host->list_get(list, 99); }
static capsule_value push_to_map(void) { return host->list_push(host->new_map(), host->new_nil()) ? CAPSULE_NO_VALUE : host->new_nil(); }

/* A handle whose destructor must never see NULL. */
static void probe_destroy(void *p) {
    if (!p) abort();
    free(p);
}
static void *probe_new(void) { return malloc(1); }
static void probe_close(void *p) { (void)p; }

/* Handlers kept between calls (SDK 0.3): a Hub pins the functions `on` gives it, and
 * `emit` calls each one with its argument, collecting the results. */
#define HUB_MAX 8
typedef struct { uint64_t ids[HUB_MAX]; int count; } hub;
static void hub_destroy(void *p) { free(p); }   /* no call here: pins die with the VM */
static void *hub_new(void) { return calloc(1, sizeof(hub)); }
static int64_t hub_on(void *p, capsule_value f) {
    hub *h = p;
    if (h->count == HUB_MAX) { host->raise("hub is full"); return -1; }
    uint64_t id = host->value_pin(f);
    if (!id) return -1;
    h->ids[h->count++] = id;
    return h->count;
}
static capsule_value hub_emit(void *p, capsule_value x) {
    hub *h = p;
    capsule_value results = host->new_list((size_t)h->count);
    for (int i = 0; i < h->count; i++) {
        capsule_value f = host->pinned_value(h->ids[i]);
        if (f == CAPSULE_NO_VALUE) return CAPSULE_NO_VALUE;
        capsule_value r = host->call_value(f, &x, 1);
        if (r == CAPSULE_NO_VALUE) return CAPSULE_NO_VALUE;   /* it raised: the call fails with it */
        host->list_push(results, r);
    }
    return results;
}
static capsule_value hub_clear(void *p) {
    hub *h = p;
    for (int i = 0; i < h->count; i++) host->value_unpin(h->ids[i]);
    h->count = 0;
    return host->new_nil();
}
/* (value, value) -> value: f(x), and misuse of call_value and pinned_value. */
static capsule_value call_with(capsule_value f, capsule_value x) { return host->call_value(f, &x, 1); }
static capsule_value pinned_unknown(void) { return host->pinned_value(12345); }
/* One id in process-wide state, as a plugin serving several VMs would keep it. */
static uint64_t global_id;
static int64_t pin_global(capsule_value v) { global_id = host->value_pin(v); return global_id != 0; }
static capsule_value global_pinned(void) { return host->pinned_value(global_id); }

#define FN(f) ((void (*)(void))(f))

static const capsule_export exports[] = {
    {"echo", "(value) -> value", FN(echo), 0, NULL},
    {"copy", "(value) -> value", FN(copy), 0, NULL},
    {"describe", "(value) -> str", FN(describe), 0, NULL},
    {"lookup", "(value, value) -> value", FN(lookup), 0, NULL},
    {"keep", "(value) -> void", FN(keep), 0, NULL},
    {"use_kept", "() -> value", FN(use_kept), 0, NULL},
    {"kind_of_kept", "(value) -> i64", FN(kind_of_kept), 0, NULL},
    {"without_value", "() -> i64", FN(without_value), 0, NULL},
    {"bad_utf8", "() -> value", FN(bad_utf8), 0, NULL},
    {"nil_key", "() -> value", FN(nil_key), 0, NULL},
    {"released", "() -> value", FN(released), 0, NULL},
    {"out_of_range", "(value) -> value", FN(out_of_range), 0, NULL},
    {"push_to_map", "() -> value", FN(push_to_map), 0, NULL},
    {"probe_new", "() -> handle<Probe>", FN(probe_new), 0, NULL},
    {"probe_close", "(handle<Probe>) -> void", FN(probe_close), CAPSULE_EXPORT_CLOSES_HANDLE, NULL},
    {"hub_new", "() -> handle<Hub>", FN(hub_new), 0, NULL},
    {"hub_on", "(handle<Hub>, value) -> i64", FN(hub_on), 0, NULL},
    {"hub_emit", "(handle<Hub>, value) -> value", FN(hub_emit), 0, NULL},
    {"hub_clear", "(handle<Hub>) -> value", FN(hub_clear), 0, NULL},
    {"call_with", "(value, value) -> value", FN(call_with), 0, NULL},
    {"pinned_unknown", "() -> value", FN(pinned_unknown), 0, NULL},
    {"pin_global", "(value) -> i64", FN(pin_global), 0, NULL},
    {"global_pinned", "() -> value", FN(global_pinned), 0, NULL},
};

static const capsule_handle_type handle_types[] = {
    {"Probe", probe_destroy},
    {"Hub", hub_destroy},
};

static const capsule_plugin plugin = {
    .abi_version = CAPSULE_ABI_VERSION,
    .struct_size = sizeof(capsule_plugin),
    .name = "values",
    .version = "1.0.0",
    .description = "host API value functions, for tests",
    .exports = exports,
    .export_count = sizeof exports / sizeof exports[0],
    .handle_types = handle_types,
    .handle_type_count = sizeof handle_types / sizeof handle_types[0],
    .init = init,
};

CAPSULE_PLUGIN(plugin)
