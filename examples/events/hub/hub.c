/* An event hub: scripts register handlers by event name and `emit` calls them in order.
 * The handlers are script functions the plugin keeps between calls: it pins each one
 * (host->value_pin) and calls it later (host->pinned_value, host->call_value), SDK 0.3.
 * Build: capsule plugin build examples/events/hub */
#include "capsule.h"
#include <stdlib.h>
#include <string.h>

static const capsule_host_api *host;

typedef struct handler {
    char *event;
    uint64_t pin;          /* the pinned function's id: a number, valid for this VM */
    struct handler *next;
} handler;

typedef struct {
    handler *first;
} hub;

static int init(const capsule_host_api *api) {
    host = api;
    return CAPSULE_HOST_HAS(api, call_value) ? 0 : 1;   /* needs a host with SDK 0.3 */
}

static void *hub_new(void) { return calloc(1, sizeof(hub)); }

/* The destructor runs outside any call, where pins cannot be released: they die with the VM. */
static void hub_destroy(void *p) {
    hub *h = p;
    for (handler *x = h->first, *next; x; x = next) {
        next = x->next;
        free(x->event);
        free(x);
    }
    free(h);
}

/* "(handle<Hub>, str, value) -> i64": adds fn as a handler of `event`; how many it has now. */
static int64_t on(void *p, const char *event, capsule_value fn) {
    hub *h = p;
    if (host->value_kind(fn) != CAPSULE_KIND_FUNCTION) {
        host->raise("hub.on: the handler must be a function");
        return -1;
    }
    handler *x = calloc(1, sizeof *x);
    char *name = strdup(event);
    uint64_t pin = host->value_pin(fn);
    if (!x || !name || !pin) {
        free(x);
        free(name);
        if (pin) host->value_unpin(pin);
        else host->raise("hub.on: out of memory");
        return -1;
    }
    x->event = name;
    x->pin = pin;
    handler **end = &h->first;
    int64_t count = 1;
    for (; *end; end = &(*end)->next) count += strcmp((*end)->event, event) == 0;
    *end = x;
    return count;
}

/* "(handle<Hub>, str, value) -> value": calls each handler of `event` with arg, in the order
 * they were added; the list of their results. A handler that raises stops the emit, and
 * the script gets its error. */
static capsule_value emit(void *p, const char *event, capsule_value arg) {
    hub *h = p;
    capsule_value results = host->new_list(4);
    for (handler *x = h->first; x; x = x->next) {
        if (strcmp(x->event, event) != 0) continue;
        size_t mark = host->values_mark();
        capsule_value fn = host->pinned_value(x->pin);
        if (fn == CAPSULE_NO_VALUE) return CAPSULE_NO_VALUE;
        capsule_value r = host->call_value(fn, &arg, 1);
        if (r == CAPSULE_NO_VALUE) return CAPSULE_NO_VALUE;
        host->list_push(results, r);
        host->values_release(mark);
    }
    return results;
}

/* "(handle<Hub>, str) -> value": removes the handlers of `event` and unpins them; how many. */
static capsule_value off(void *p, const char *event) {
    hub *h = p;
    int64_t removed = 0;
    for (handler **at = &h->first; *at;) {
        handler *x = *at;
        if (strcmp(x->event, event) != 0) { at = &x->next; continue; }
        *at = x->next;
        host->value_unpin(x->pin);
        free(x->event);
        free(x);
        removed++;
    }
    return host->new_int(removed);
}

static const capsule_export exports[] = {
    {"new", "() -> handle<Hub>", (void (*)(void))hub_new, 0, "an empty hub"},
    {"on", "(handle<Hub>, str, value) -> i64", (void (*)(void))on, 0, "adds a handler of an event"},
    {"emit", "(handle<Hub>, str, value) -> value", (void (*)(void))emit, 0, "calls the event's handlers"},
    {"off", "(handle<Hub>, str) -> value", (void (*)(void))off, 0, "removes the event's handlers"},
};

static const capsule_handle_type handle_types[] = {
    {"Hub", hub_destroy},
};

static const capsule_plugin plugin = {
    .abi_version = CAPSULE_ABI_VERSION,
    .struct_size = sizeof(capsule_plugin),
    .name = "hub",
    .version = "1.0.0",
    .description = "The events example's hub: script handlers kept between calls",
    .exports = exports,
    .export_count = sizeof exports / sizeof exports[0],
    .handle_types = handle_types,
    .handle_type_count = sizeof handle_types / sizeof handle_types[0],
    .init = init,
};

CAPSULE_PLUGIN(plugin)
