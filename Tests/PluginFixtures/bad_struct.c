/* Struct type declarations the loader refuses, one case per build (exactly one flag):
 *   -DFIELD_TYPE       bad_struct_field_type: `point` has a field of the unknown type f65
 *   -DDUPLICATE_FIELD  bad_struct_duplicate_field: `point` declares field x twice
 *   -DUNKNOWN_NAME     bad_struct_unknown_name: export `use` names struct type pointt,
 *                      which is not declared (point is)
 *   -DDUPLICATE_NAME   bad_struct_duplicate_name: struct type `point` is declared twice
 * The plugin is named after its case, as the tests build it (libcapsule_<name>.so). */
#include "capsule.h"

#if defined(FIELD_TYPE)
#define NAME "bad_struct_field_type"
#define POINT_FIELDS "{f64 x, f65 y}"
#elif defined(DUPLICATE_FIELD)
#define NAME "bad_struct_duplicate_field"
#define POINT_FIELDS "{f64 x, f64 x}"
#elif defined(UNKNOWN_NAME)
#define NAME "bad_struct_unknown_name"
#elif defined(DUPLICATE_NAME)
#define NAME "bad_struct_duplicate_name"
#else
#error "build with one of -DFIELD_TYPE, -DDUPLICATE_FIELD, -DUNKNOWN_NAME, -DDUPLICATE_NAME"
#endif

#ifndef POINT_FIELDS
#define POINT_FIELDS "{f64 x, f64 y}"
#endif

static void noop(void) {}

static const capsule_struct_type struct_types[] = {
    {"point", POINT_FIELDS},
#ifdef DUPLICATE_NAME
    {"point", "{i32 x, i32 y}"},
#endif
};

static const capsule_export exports[] = {
#ifdef UNKNOWN_NAME
    {"use", "(point, pointt) -> void", (void (*)(void))noop, 0, NULL},
#else
    {"use", "(point) -> void", (void (*)(void))noop, 0, NULL},
#endif
};

static const capsule_plugin plugin = {
    .abi_version = CAPSULE_ABI_VERSION,
    .struct_size = sizeof(capsule_plugin),
    .name = NAME,
    .version = "1.0.0",
    .exports = exports,
    .export_count = 1,
    .struct_types = struct_types,
    .struct_type_count = sizeof struct_types / sizeof struct_types[0],
};

CAPSULE_PLUGIN(plugin)
