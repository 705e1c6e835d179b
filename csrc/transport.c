/* transport.c: placeholder until this concern lands. */
#include "compat.h"

static void open_transport(lua_State *L) {
    (void)L;
}
