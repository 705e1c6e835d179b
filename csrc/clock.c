/* clock.c: wall-clock and monotonic time with sub-second precision, and a plain sleep, for retry
 * back-off and request timing (Lua's os.time has whole seconds only). */
#ifndef CLINCH_CLOCK_C
#define CLINCH_CLOCK_C

#include <errno.h>
#include <math.h>
#include <time.h>

#include "compat.h"
#include "interrupt.c"

/* core.now() -> seconds since the epoch, with fractions. */
static int clock_l_now(lua_State *L) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    lua_pushnumber(L, (lua_Number)ts.tv_sec + (lua_Number)ts.tv_nsec / 1e9);
    return 1;
}

/* core.monotime() -> seconds on a clock that never jumps, for durations. */
static int clock_l_monotime(lua_State *L) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    lua_pushnumber(L, (lua_Number)ts.tv_sec + (lua_Number)ts.tv_nsec / 1e9);
    return 1;
}

/* core.sleep(seconds): blocks the thread; nginx callers pass ngx.sleep to the client instead. A signal
 * that asks for an interrupt (Ctrl-C, see interrupt.c) ends the sleep early; other signals do not. */
static int clock_l_sleep(lua_State *L) {
    lua_Number s = luaL_checknumber(L, 1);
    lua_State *main_L = interrupt_main_thread(L);
    struct timespec ts;
    if (!(s > 0)) return 0;                      /* also rejects NaN */
    if (s > 86400.0) return luaL_error(L, "sleep: %f seconds is too long", (double)s);
    ts.tv_sec = (time_t)s;
    ts.tv_nsec = (long)((s - floor(s)) * 1e9);
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
        if (interrupt_requested(main_L)) break;
    }
    return 0;
}

static void clock_open(lua_State *L) {
    static const luaL_Reg fns[] = {
        {"now", clock_l_now}, {"monotime", clock_l_monotime}, {"sleep", clock_l_sleep}, {NULL, NULL}};
    luaL_setfuncs(L, fns, 0);
}

#endif
