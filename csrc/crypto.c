/* crypto.c: placeholder until this concern lands. */
#include "compat.h"

static void open_crypto(lua_State *L) {
    (void)L;
}
