/* core.c: the `clinch.core` module. It is built as one translation unit: each concern lives in its
 * own file, included here, so that every function stays static and only luaopen_clinch_core is
 * exported. Each file that adds functions to the module provides `static void <prefix>open(lua_State *L)`,
 * which adds them to the module table on top of the stack.
 *
 * Conventions, which `make check` keeps true (scripts/func-lengths.awk, and a -fsyntax-only compile of
 * every csrc .c file on its own for Lua 5.4 and LuaJIT):
 *   - Every .c file stands alone: it has an include guard (CLINCH_<NAME>_C) and includes the system,
 *     Lua (through compat.h), curl and OpenSSL headers it uses and the other csrc .c files whose
 *     statics it calls (verify.c includes sign.c, transport_driver.c includes interrupt.c, ...). So the
 *     order of the list below does not matter and each file is compiled once. Types shared by several
 *     files without their code live in a header (transport.h).
 *   - Every static function, type and file-scope object starts with its file's prefix: the file's name
 *     (classes_, clock_, crypto_, decode_, fs_, httpdate_, interrupt_, prompt_, sign_, verify_; compat_ in compat.h), except the
 *     transport's files, which abbreviate: tr_ (transport.c, and transport.h's shared types), treq_
 *     (transport_request.c), tdrv_ (transport_driver.c), tcb_ (transport_callbacks.c), tres_
 *     (transport_result.c). A function Lua calls (a lua_CFunction) is <prefix>l_<its Lua name>, e.g.
 *     sign_l_sign, tr_l_pending_wait. Macros and enum constants carry the prefix in upper case
 *     (SIGN_FAIL, TR_X_DONE).
 *   - Lua 5.1/LuaJIT vs 5.4 API shims live in compat.h only.
 *   - No function is longer than about 80 lines (`make check` fails over 90). A helper split out of a
 *     function on a hot path (per request, per resource) is `static inline`, so that the split adds no
 *     call: the compiler keeps it in its one caller, as the code was before.
 * A new file: give it a guard and a prefix, include what it uses, add it to the list below and its
 * <prefix>open call (if any) to luaopen_clinch_core. */
#include "compat.h"

#include "interrupt.c"
#include "clock.c"
#include "fs.c"
#include "crypto.c"
#include "httpdate.c"
#include "sign.c"
#include "verify.c"
#include "transport_callbacks.c"
#include "transport_driver.c"
#include "transport_request.c"
#include "transport_result.c"
#include "transport.c"
#include "decode.c"
#include "classes.c"
#include "prompt.c"

int luaopen_clinch_core(lua_State *L);

int luaopen_clinch_core(lua_State *L) {
    lua_newtable(L);
    /* Defaults and the version live in one place, the Lua module clinch.defaults: loaded here, kept as
     * core.defaults for the functions that need them, and the version reported from it. */
    lua_getglobal(L, "require");
    lua_pushliteral(L, "clinch.defaults");
    lua_call(L, 1, 1);
    if (!lua_istable(L, -1)) luaL_error(L, "clinch.core: clinch.defaults must be a table");
    lua_getfield(L, -1, "VERSION");
    lua_setfield(L, -3, "_VERSION");
    lua_setfield(L, -2, "defaults");
    clock_open(L);
    fs_open(L);
    crypto_open(L);
    httpdate_open(L);
    sign_open(L);
    verify_open(L);
    tr_open(L);
    decode_open(L);
    classes_open(L);
    prompt_open(L);
    return 1;
}
