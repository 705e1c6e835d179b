/* decode.c: placeholder until this concern lands. */
#include "compat.h"

static void open_decode(lua_State *L) {
    (void)L;
}
