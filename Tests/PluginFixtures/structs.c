/* Not a refusal: declares struct types and passes them by value both ways, nested, and
 * through `out` (PluginStructTests). */
#include "capsule.h"

typedef struct { double x, y; } point;
typedef struct { point min, max; } rect;
typedef struct { uint8_t r, g, b; bool opaque; int32_t id; } color;

static const capsule_host_api *host;
static int init(const capsule_host_api *api) { host = api; return 0; }

static point add(point a, point b) { return (point){a.x + b.x, a.y + b.y}; }
static double length2(point p) { return p.x * p.x + p.y * p.y; }
static double lo(double a, double b) { return a < b ? a : b; }
static double hi(double a, double b) { return a < b ? b : a; }
static point centre(rect r) { return (point){(r.min.x + r.max.x) / 2, (r.min.y + r.max.y) / 2}; }
static rect bounds(point a, point b) {
    return (rect){{lo(a.x, b.x), lo(a.y, b.y)}, {hi(a.x, b.x), hi(a.y, b.y)}};
}
static color brighter(color c, int64_t by) {
    if (by < 0) { host->raise("brighter by a negative amount"); return c; }
    c.r = c.r + by > 255 ? 255 : (uint8_t)(c.r + by);
    c.g = c.g + by > 255 ? 255 : (uint8_t)(c.g + by);
    c.b = c.b + by > 255 ? 255 : (uint8_t)(c.b + by);
    return c;
}
static void split(point p, point *onto_x, point *onto_y) {
    *onto_x = (point){p.x, 0};
    *onto_y = (point){0, p.y};
}

static const capsule_struct_type struct_types[] = {
    {"point", "{f64 x, f64 y}"},
    {"rect", "{point min, point max}"},
    {"color", "{u8 r, u8 g, u8 b, bool opaque, i32 id}"},
};

static const capsule_export exports[] = {
    {"add", "(point, point) -> point", (void (*)(void))add, 0, "a + b"},
    {"length2", "(point) -> f64", (void (*)(void))length2, 0, "|p| squared"},
    {"centre", "(rect) -> point", (void (*)(void))centre, 0, "the middle of r"},
    {"bounds", "(point, point) -> rect", (void (*)(void))bounds, 0, "the rect spanning a and b"},
    {"brighter", "(color, i64) -> color", (void (*)(void))brighter, 0, "each channel + by, at most 255"},
    {"split", "(point, out point, out point) -> void", (void (*)(void))split, 0, "[p on x, p on y]"},
};

static const capsule_plugin plugin = {
    .abi_version = CAPSULE_ABI_VERSION,
    .struct_size = sizeof(capsule_plugin),
    .name = "structs",
    .version = "1.0.0",
    .description = "struct types by value",
    .exports = exports,
    .export_count = sizeof exports / sizeof exports[0],
    .init = init,
    .struct_types = struct_types,
    .struct_type_count = sizeof struct_types / sizeof struct_types[0],
};

CAPSULE_PLUGIN(plugin)
