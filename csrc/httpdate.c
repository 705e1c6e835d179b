/* httpdate.c: placeholder until this concern lands. */
#include "compat.h"

static void open_httpdate(lua_State *L) {
    (void)L;
}
