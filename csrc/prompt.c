/* prompt.c: what an interactive prompt (the CLI's REPL) needs from the system and Lua cannot do.
 *
 * lua.c answers the first SIGINT with a hook that raises "interrupted!" (see interrupt.c) and restores
 * the default action, so the second Ctrl-C of a session kills the process, even at an idle prompt
 * minutes later. prompt_catch_interrupts installs a handler that sets the same hook on every SIGINT and
 * stays installed. A signal handler has no argument to find the Lua state by, so the main thread is
 * kept in a file-scope variable, as lua.c does; only the REPL calls it, never a library user.
 * prompt_wait_input lets the prompt wait for a key without blocking in readline, so that Ctrl-C can
 * clear the line being typed instead of being held until Enter. */
#ifndef CLINCH_PROMPT_C
#define CLINCH_PROMPT_C

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <string.h>

#include "compat.h"
#include "interrupt.c"

static lua_State *volatile prompt_main_L;

/* The hook lua.c's lstop is: remove itself, raise. No position: the text is the whole message. */
static void prompt_stop(lua_State *L, lua_Debug *ar) {
    (void)ar;
    lua_sethook(L, NULL, 0, 0);
    lua_pushliteral(L, "interrupted!");
    lua_error(L);
}

static void prompt_on_sigint(int sig) {
    (void)sig;
    /* The mask and count lua.c uses, which interrupt_requested recognises. */
    if (prompt_main_L) lua_sethook(prompt_main_L, prompt_stop, LUA_MASKCALL | LUA_MASKRET | LUA_MASKCOUNT, 1);
}

/* core.catch_interrupts(): from now on every SIGINT raises "interrupted!" in the main thread at its
 * next step, and none ends the process. -> true, or nil and a message. */
static int prompt_l_catch_interrupts(lua_State *L) {
    struct sigaction sa;
    prompt_main_L = interrupt_main_thread(L);
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = prompt_on_sigint;
    sa.sa_flags = SA_RESTART; /* as signal(2) on glibc, which lua.c uses */
    sigemptyset(&sa.sa_mask);
    if (sigaction(SIGINT, &sa, NULL) != 0) {
        lua_pushnil(L);
        lua_pushstring(L, strerror(errno));
        return 2;
    }
    lua_pushboolean(L, 1);
    return 1;
}

/* core.wait_input(fd [, seconds]) -> true when fd has input (or is at its end or failed: the read
 * tells which), false after `seconds` (default: no limit) or when a signal came (Ctrl-C then raises at
 * the next step). */
static int prompt_l_wait_input(lua_State *L) {
    struct pollfd p;
    lua_Number s = luaL_optnumber(L, 2, -1);
    int ms = s < 0 ? -1 : (s > 86400.0 ? 86400000 : (int)(s * 1000));
    p.fd = (int)luaL_checkinteger(L, 1);
    p.events = POLLIN;
    p.revents = 0;
    lua_pushboolean(L, poll(&p, 1, ms) > 0);
    return 1;
}

static void prompt_open(lua_State *L) {
    static const luaL_Reg fns[] = {
        {"catch_interrupts", prompt_l_catch_interrupts}, {"wait_input", prompt_l_wait_input}, {NULL, NULL}};
    luaL_setfuncs(L, fns, 0);
}

#endif
