/* openssl_queue.c: a test-only module (spec/openssl_errors_spec.lua builds it; never installed) that
 * reads the calling thread's OpenSSL error queue, which the core shares through the one libcrypto of
 * the process, so a spec can see what a failed core call left there. */
#include "compat.h"

#include <openssl/err.h>
#include <openssl/evp.h>

/* The first queued error as text, or nil when the queue is empty. */
static int l_peek(lua_State *L) {
    char buf[256];
    unsigned long e = ERR_peek_error();
    if (e == 0) {
        lua_pushnil(L);
        return 1;
    }
    ERR_error_string_n(e, buf, sizeof buf);
    lua_pushstring(L, buf);
    return 1;
}

static int l_clear(lua_State *L) {
    (void)L;
    ERR_clear_error();
    return 0;
}

/* The control: fetches a digest itself and leaves whatever errors that gives in the queue. True when
 * the fetch failed. */
static int l_fetch_fails(lua_State *L) {
    EVP_MD *md = EVP_MD_fetch(NULL, luaL_checkstring(L, 1), NULL);
    lua_pushboolean(L, md == NULL);
    EVP_MD_free(md);
    return 1;
}

int luaopen_openssl_queue(lua_State *L);
int luaopen_openssl_queue(lua_State *L) {
    static const luaL_Reg funcs[] = {
        {"peek", l_peek}, {"clear", l_clear}, {"fetch_fails", l_fetch_fails}, {NULL, NULL}};
    lua_createtable(L, 0, 3);
    luaL_setfuncs(L, funcs, 0);
    return 1;
}
