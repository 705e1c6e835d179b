/* sign.c: placeholder until this concern lands. */
#include "compat.h"

static void open_sign(lua_State *L) {
    (void)L;
}
