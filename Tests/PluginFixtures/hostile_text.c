/* Text meant to drive a terminal: ANSI escapes, a C1 CSI and bidi overrides in the
 * descriptor (version, description, export docs), in what it raises and logs, and invalid
 * UTF-8 in a str result. Every route must reach the terminal escaped (OutputSafetyCLITests).
 * -DREFUSED adds a required capability whose resource holds an escape and is never granted:
 * the load refusal quotes it. */
#include "capsule.h"

static const capsule_host_api *host;

static int init(const capsule_host_api *api) {
    host = api;
    return 0;
}

/* raise(message) and log(message) pass the script's text through. */
static int64_t shout(const char *message) { host->raise(message); return 0; }
static void whisper(const char *message) { host->log(CAPSULE_LOG_WARN, message); }
/* Escapes without the script's help. */
static int64_t shout_own(void) { host->raise("boom \x1b[31mred\xc2\x9b" "2J \xe2\x80\xae" "dlrow"); return 0; }
static void whisper_own(void) { host->log(CAPSULE_LOG_INFO, "note \x1b]0;title\x07 \xe2\x81\xa6" "x"); }
/* A str result that is not UTF-8: \xff, a lone continuation byte, a truncated sequence. */
static const char *mangled(void) { return "a\xff" "b\x80" "c\xe2\x82"; }

static const capsule_export exports[] = {
    {"shout", "(str) -> i64", (void (*)(void))shout, 0, "raises \x1b[2Jits argument"},
    {"whisper", "(str) -> void", (void (*)(void))whisper, 0, "logs \xe2\x80\x8fits argument"},
    {"shout_own", "() -> i64", (void (*)(void))shout_own, 0, "raises escapes"},
    {"whisper_own", "() -> void", (void (*)(void))whisper_own, 0, "logs escapes"},
    {"mangled", "() -> str", (void (*)(void))mangled, 0, "invalid UTF-8"},
};

#ifdef REFUSED
static const char *const capabilities[] = {"fs.read:/nonexistent/\x1b[31mred\xe2\x80\xae", 0};
#endif

static const capsule_plugin plugin = {
    .abi_version = CAPSULE_ABI_VERSION,
    .struct_size = sizeof(capsule_plugin),
    .name = "hostile_text",
    .version = "1.0\x1b[8m-hidden",
    .description = "escapes \x1b[31mred\x1b[0m and \xe2\x80\xae" "reversed\xe2\x80\xac",
    .exports = exports,
    .export_count = 5,
    .init = init,
#ifdef REFUSED
    .capabilities = capabilities,
#endif
};

CAPSULE_PLUGIN(plugin)
