/*
 * The Lua 5.4 C module of the call benchmark (callbench.so): each function is the usual
 * C API wrapper — check the arguments, call libcallee.so's function, push the result.
 * `now()` is libcallee's bench_cpu_time, so Lua times its loops like the others do.
 */
#include <math.h>
#include <lua.h>
#include <lauxlib.h>
#include "callee.h"

static int l_add(lua_State *L) {
    lua_Integer a = luaL_checkinteger(L, 1);
    lua_Integer b = luaL_checkinteger(L, 2);
    lua_pushinteger(L, bench_add(a, b));
    return 1;
}

static int l_hypot(lua_State *L) {
    lua_pushnumber(L, hypot(luaL_checknumber(L, 1), luaL_checknumber(L, 2)));
    return 1;
}

static int l_count_bytes(lua_State *L) {
    lua_pushinteger(L, (lua_Integer)bench_count_bytes(luaL_checkstring(L, 1)));
    return 1;
}

static int l_now(lua_State *L) {
    lua_pushnumber(L, bench_cpu_time());
    return 1;
}

static const luaL_Reg functions[] = {
    {"add", l_add}, {"hypot", l_hypot}, {"count_bytes", l_count_bytes}, {"now", l_now}, {NULL, NULL},
};

int luaopen_callbench(lua_State *L) {
    luaL_newlib(L, functions);
    return 1;
}
