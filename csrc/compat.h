/* compat.h: the few Lua C API differences between Lua 5.4 and LuaJIT (5.1 ABI), so that one
 * source builds for both. Everything here is static inline or a macro. */
#ifndef CLINCH_COMPAT_H
#define CLINCH_COMPAT_H

#include <lua.h>
#include <lauxlib.h>

#if LUA_VERSION_NUM < 502 && !defined(LUA_LJDIR)
/* (LuaJIT's luaconf.h defines LUA_LJDIR; plain Lua 5.1's does not) */
#error "lua-clinch builds for Lua 5.4 and LuaJIT 2.1, not for plain Lua 5.1 (luarocks --lua-version 5.4)"
#endif

#if LUA_VERSION_NUM < 502
/* LuaJIT 2.1 already has luaL_setfuncs, luaL_newlib, luaL_testudata and luaL_setmetatable. */
#define lua_rawlen(L, i) lua_objlen((L), (i))

static inline int compat_absindex(lua_State *L, int i) {
    return (i > 0 || i <= LUA_REGISTRYINDEX) ? i : lua_gettop(L) + i + 1;
}
#define lua_absindex(L, i) compat_absindex((L), (i))

static inline void compat_rawgetp(lua_State *L, int t, const void *p) {
    t = compat_absindex(L, t);
    lua_pushlightuserdata(L, (void *)p);
    lua_rawget(L, t);
}
#define lua_rawgetp(L, t, p) compat_rawgetp((L), (t), (p))

static inline void compat_rawsetp(lua_State *L, int t, const void *p) {
    t = compat_absindex(L, t);
    lua_pushlightuserdata(L, (void *)p);
    lua_insert(L, -2);
    lua_rawset(L, t);
}
#define lua_rawsetp(L, t, p) compat_rawsetp((L), (t), (p))
#endif

#if LUA_VERSION_NUM < 503
/* No integer subtype before 5.3: every number is a double. */
#define lua_isinteger(L, i) 0
#endif

/* A full userdata with one user value (5.4), a uservalue (5.2/5.3) or an environment table (5.1):
 * compat_newudata(L, size) pushes it; compat_setenv(L, i) pops a table and makes it the user value of
 * the userdata at i; compat_getenv(L, i) pushes that table. */
#if LUA_VERSION_NUM >= 504
#define compat_newudata(L, sz) lua_newuserdatauv((L), (sz), 1)
#define compat_setenv(L, i) ((void)lua_setiuservalue((L), (i), 1))
#define compat_getenv(L, i) ((void)lua_getiuservalue((L), (i), 1))
#elif LUA_VERSION_NUM >= 502
#define compat_newudata(L, sz) lua_newuserdata((L), (sz))
#define compat_setenv(L, i) lua_setuservalue((L), (i))
#define compat_getenv(L, i) ((void)lua_getuservalue((L), (i)))
#else
#define compat_newudata(L, sz) lua_newuserdata((L), (sz))
#define compat_setenv(L, i) ((void)lua_setfenv((L), (i)))
#define compat_getenv(L, i) lua_getfenv((L), (i))
#endif

/* Pushes t[i] (t at index idx) as ipairs reads it: through __index on 5.3+, raw on 5.1. */
#if LUA_VERSION_NUM >= 503
#define compat_geti(L, idx, i) ((void)lua_geti((L), (idx), (lua_Integer)(i)))
#else
#define compat_geti(L, idx, i) lua_rawgeti((L), (idx), (int)(i))
#endif

/* Pushes an integral value as an integer where the VM has them. */
#if LUA_VERSION_NUM >= 503
#define compat_pushint(L, n) lua_pushinteger((L), (lua_Integer)(n))
#else
#define compat_pushint(L, n) lua_pushnumber((L), (lua_Number)(n))
#endif

/* The FILE of a Lua file handle (io.open) at index i, or NULL when the value is not one; raises for a
 * closed handle (a programming mistake). The handle's layout differs: luaL_Stream on 5.2+, LuaJIT's
 * IOFileUD, which starts with its FILE * (NULL once closed). */
#include <stdio.h>
#ifndef LUA_FILEHANDLE
#include <lualib.h> /* LuaJIT names io's handles there */
#endif
static inline FILE *compat_tofile(lua_State *L, int i) {
    void *ud = luaL_testudata(L, i, LUA_FILEHANDLE);
    FILE *f;
    if (!ud) return NULL;
#if LUA_VERSION_NUM >= 502
    if (((luaL_Stream *)ud)->closef == NULL) luaL_argerror(L, i, "attempt to use a closed file");
    f = ((luaL_Stream *)ud)->f;
#else
    f = *(FILE **)ud;
#endif
    if (!f) luaL_argerror(L, i, "attempt to use a closed file");
    return f;
}

#endif
