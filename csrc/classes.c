/* classes.c: `core.set_classes(doc, mts)`, the C twin of clinch.registry's wrapping of a decoded
 * document's resources in their classes (registry.lua holds the Lua one and says what it does; the
 * two give the same document, spec/registry_wrap_spec.lua). mts maps a JSON:API type to the metatable
 * of its objects. Every table a resource of the document could be gets looked at: primary data (one
 * resource, or a list), included resources, and the linkage stubs ({ id =, type = } and nothing
 * else) their members hold, alone or in a list. A table that has a metatable keeps it. On PUC Lua this
 * walk costs a fraction of the Lua loop's, whose every step is a call of next, type or getmetatable;
 * LuaJIT compiles the Lua loop and keeps it.
 *
 * Reads go through the Lua API as the Lua twin's do: members with lua_getfield and list entries with
 * lua_geti, which see __index (a wrapped resource's class) as `r.type` and `v[1]` do there; the walk
 * over members is lua_next, the twin's `next`. */
#ifndef CLINCH_CLASSES_C
#define CLINCH_CLASSES_C

#include "compat.h"

#include <string.h>

#define CLASSES_MTS 2 /* stack slot of mts */

/* Gives table r (an absolute index) the metatable of its type, when its type is a string that mts
 * knows and r has no metatable yet. */
static void classes_wrap_one(lua_State *L, int r) {
    if (lua_getmetatable(L, r)) {
        lua_pop(L, 1);
        return;
    }
    lua_getfield(L, r, "type");
    if (lua_type(L, -1) != LUA_TSTRING) {
        lua_pop(L, 1);
        return;
    }
    lua_rawget(L, CLASSES_MTS);
    if (lua_istable(L, -1)) lua_setmetatable(L, r);
    else lua_pop(L, 1);
}

/* Whether table t (an absolute index) is a linkage stub: a string id, a string type, no other key. */
static int classes_is_stub(lua_State *L, int t) {
    int ok;
    lua_getfield(L, t, "id");
    lua_getfield(L, t, "type");
    ok = lua_type(L, -2) == LUA_TSTRING && lua_type(L, -1) == LUA_TSTRING;
    lua_pop(L, 2);
    if (!ok) return 0;
    lua_pushnil(L);
    while (lua_next(L, t)) {
        size_t len;
        const char *k = lua_type(L, -2) == LUA_TSTRING ? lua_tolstring(L, -2, &len) : NULL;
        lua_pop(L, 1);
        if (!k || !((len == 2 && k[0] == 'i' && k[1] == 'd') || (len == 4 && memcmp(k, "type", 4) == 0))) {
            lua_pop(L, 1);
            return 0;
        }
    }
    return 1;
}

/* A table without a metatable (the value at v, absolute). */
static int classes_is_plain_table(lua_State *L, int v) {
    if (!lua_istable(L, v)) return 0;
    if (lua_getmetatable(L, v)) {
        lua_pop(L, 1);
        return 0;
    }
    return 1;
}

/* The entries of list v (absolute) that are stubs, as ipairs walks it (up to the first nil). */
static void classes_wrap_list(lua_State *L, int v) {
    lua_Integer i;
    for (i = 1;; i++) {
        int x;
        compat_geti(L, v, i);
        if (lua_isnil(L, -1)) break;
        x = lua_gettop(L);
        if (classes_is_plain_table(L, x) && classes_is_stub(L, x)) classes_wrap_one(L, x);
        lua_pop(L, 1);
    }
    lua_pop(L, 1);
}

/* Resource r (absolute) and the stubs its members hold. */
static void classes_wrap_resource(lua_State *L, int r) {
    if (!lua_istable(L, r)) return;
    luaL_checkstack(L, 8, "core.set_classes");
    classes_wrap_one(L, r);
    lua_pushnil(L);
    while (lua_next(L, r)) {
        int v = lua_gettop(L);
        if (classes_is_plain_table(L, v)) {
            if (classes_is_stub(L, v)) {
                classes_wrap_one(L, v);
            } else {
                compat_geti(L, v, 1);
                if (lua_istable(L, -1)) {
                    lua_pop(L, 1);
                    classes_wrap_list(L, v);
                } else {
                    lua_pop(L, 1);
                }
            }
        }
        lua_pop(L, 1);
    }
}

/* The resources of list t (absolute), as ipairs walks it. */
static void classes_wrap_resources(lua_State *L, int t) {
    lua_Integer i;
    for (i = 1;; i++) {
        compat_geti(L, t, i);
        if (lua_isnil(L, -1)) break;
        classes_wrap_resource(L, lua_gettop(L));
        lua_pop(L, 1);
    }
    lua_pop(L, 1);
}

/* core.set_classes(doc, mts) -> doc */
static int classes_l_set_classes(lua_State *L) {
    int doc = 1;
    luaL_checktype(L, CLASSES_MTS, LUA_TTABLE);
    lua_settop(L, 2);
    if (!lua_istable(L, doc)) {
        lua_settop(L, 1);
        return 1;
    }
    lua_getfield(L, doc, "data"); /* 3 */
    if (lua_istable(L, 3)) {
        int single;
        lua_getfield(L, 3, "id");
        lua_getfield(L, 3, "type");
        single = !lua_isnil(L, -2) || !lua_isnil(L, -1);
        lua_pop(L, 2);
        if (single) classes_wrap_resource(L, 3);
        else classes_wrap_resources(L, 3);
    }
    lua_getfield(L, doc, "included"); /* 4 */
    if (lua_istable(L, 4)) classes_wrap_resources(L, 4);
    lua_settop(L, 1);
    return 1;
}

static void classes_open(lua_State *L) {
    lua_pushcfunction(L, classes_l_set_classes);
    lua_setfield(L, -2, "set_classes");
}

#endif
