/* core.c: the `clinch.core` module. It is built as one translation unit: each concern lives in its
 * own file, included here, so that every function stays static and only luaopen_clinch_core is
 * exported. Each file provides `static void open_<concern>(lua_State *L)`, which adds its functions
 * to the module table on top of the stack. */
#include "compat.h"

#include "interrupt.c"
#include "clock.c"
#include "fs.c"
#include "crypto.c"
#include "httpdate.c"
#include "sign.c"
#include "transport.c"
#include "decode.c"

#ifndef CLINCH_VERSION
#define CLINCH_VERSION "0.1.0"
#endif

int luaopen_clinch_core(lua_State *L);

int luaopen_clinch_core(lua_State *L) {
    lua_newtable(L);
    lua_pushliteral(L, CLINCH_VERSION);
    lua_setfield(L, -2, "_VERSION");
    open_clock(L);
    open_fs(L);
    open_crypto(L);
    open_httpdate(L);
    open_sign(L);
    open_transport(L);
    open_decode(L);
    return 1;
}
