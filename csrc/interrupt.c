/* interrupt.c: whether the user asked to interrupt (Ctrl-C), seen from C code that blocks.
 *
 * lua.c and luajit.c answer SIGINT by setting a hook with a count of 1 on the main thread (lstop),
 * which raises "interrupted!" at the next Lua step. A C function blocked in poll() or nanosleep()
 * takes no Lua step, so Ctrl-C would wait until the request or the sleep ended. Our waits return
 * early when that hook is present instead; the interrupt then fires as soon as they return. The
 * request lives in the Lua state (no global of ours), and nothing else sets a count-1 hook with
 * call and return events in practice. */
#ifndef CLINCH_INTERRUPT_C
#define CLINCH_INTERRUPT_C

#include "compat.h"

/* The thread whose hook lua.c sets. Hooks are per thread on 5.2+ (a coroutine would not see it) and
 * per VM on LuaJIT. */
static lua_State *interrupt_main_thread(lua_State *L) {
#if LUA_VERSION_NUM >= 502
    lua_State *main_L;
    lua_rawgeti(L, LUA_REGISTRYINDEX, LUA_RIDX_MAINTHREAD);
    main_L = lua_tothread(L, -1);
    lua_pop(L, 1);
    return main_L ? main_L : L;
#else
    return L;
#endif
}

/* True when the interpreter's Ctrl-C hook is set on `main_L` (the thread from interrupt_main_thread). No
 * allocation, no error: safe inside the transport's no-Lua-call sections. */
static int interrupt_requested(lua_State *main_L) {
    const int want = LUA_MASKCALL | LUA_MASKRET | LUA_MASKCOUNT;
    return lua_gethook(main_L) != NULL && (lua_gethookmask(main_L) & want) == want && lua_gethookcount(main_L) == 1;
}

#endif
