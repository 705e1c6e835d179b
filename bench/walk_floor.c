/* walk_floor.c: a benchmark-only module (never installed) that measures the floor of any linker that
 * runs after lua-cjson: walk(t) visits every value of a decoded document through the Lua C API the
 * way csrc/decode.c must (lua_next for objects, lua_rawgeti for arrays) and does nothing with them.
 * bench/decode.lua times cjson.decode + walk against bare cjson.decode. */
#include "compat.h"

static void walk(lua_State *L, int t) {
    int n = (int)lua_rawlen(L, t), i;
    if (n > 0) {
        for (i = 1; i <= n; i++) {
            lua_rawgeti(L, t, i);
            if (lua_type(L, -1) == LUA_TTABLE) walk(L, lua_gettop(L));
            lua_pop(L, 1);
        }
        return;
    }
    lua_pushnil(L);
    while (lua_next(L, t)) {
        if (lua_type(L, -1) == LUA_TTABLE) walk(L, lua_gettop(L));
        lua_pop(L, 1);
    }
}

static int l_walk(lua_State *L) {
    luaL_checktype(L, 1, LUA_TTABLE);
    luaL_checkstack(L, 2 * 1000 + 8, "walk"); /* cjson's own depth limit bounds the recursion */
    walk(L, 1);
    return 0;
}

int luaopen_walk_floor(lua_State *L);
int luaopen_walk_floor(lua_State *L) {
    lua_createtable(L, 0, 1);
    lua_pushcfunction(L, l_walk);
    lua_setfield(L, -2, "walk");
    return 1;
}
