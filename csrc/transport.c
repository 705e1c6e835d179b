/* transport.c: the HTTP transport, over libcurl's multi interface.
 *
 * One multi handle per transport object: its connection cache gives keep-alive and HTTP/2 reuse across
 * requests. Easy handles come from a small per-transport pool and are reset between uses. Retries,
 * signing and backoff live in Lua; this file only moves bytes and classifies failures.
 *
 * Ownership: every transfer's C state (struct tr_xfer: easy handle, header list, response buffers) lives
 * inside a userdata with __gc (a "clinch.pending" for t:start, a "clinch.batch" for t:perform), so a Lua
 * error at any point frees it. A transport keeps a list of the transfers holding one of its easy handles,
 * so that closing it detaches them all. Lua is never called while curl is running: the callbacks only
 * append to C buffers, and the drive loops make no Lua API call.
 *
 * The transport is five files, one per object: this one holds what Lua sees (the transport, pending and
 * batch userdata, their methods, tr_open); transport_request.c reads request tables into transfers;
 * transport_driver.c runs transfers (the easy-handle pool, the multi pump and wait, Ctrl-C, closing);
 * transport_callbacks.c holds the libcurl callbacks and the buffers they fill; transport_result.c
 * turns a finished transfer into its result table. transport.h has the types they share. */
#ifndef CLINCH_TRANSPORT_C
#define CLINCH_TRANSPORT_C

#include "compat.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include "interrupt.c"
#include "transport.h"
#include "transport_driver.c"
#include "transport_request.c"
#include "transport_result.c"

#define TR_TRANSPORT_MT "clinch.transport"
#define TR_PENDING_MT "clinch.pending"
#define TR_BATCH_MT "clinch.batch"

#define TR_MAX_POOL 64
/* core.transport's upvalue: the clinch.defaults table, where every default option comes from. */
#define TR_UV_DEFAULTS lua_upvalueindex(1)

/* The uservalue of a pending: a table holding the transport (keeps it alive), the strings curl reads
 * without copying, and the result once built. */
#define TR_ENV_TRANSPORT 1
#define TR_ENV_STRINGS 2                   /* url, method, body at 2, 3, 4 */
#define TR_ENV_RESULT 5

/* The uservalue of a transport: a table holding, at TR_TENV_ONE, the batch of one that t:perform(req)
 * used last (see tr_one_batch). */
#define TR_TENV_ONE 1

/* ---- transport object ---- */

static tr_transport *tr_check(lua_State *L, int i) {
    tr_transport *t = (tr_transport *)luaL_checkudata(L, i, TR_TRANSPORT_MT);
    if (!t->multi) luaL_error(L, "transport is closed");
    return t;
}

static int tr_l_transport_close(lua_State *L) {
    tdrv_close((tr_transport *)luaL_checkudata(L, 1, TR_TRANSPORT_MT));
    return 0;
}

/* A number of clinch.defaults (its Lua name in upper case, e.g. "TIMEOUT"). */
static lua_Number tr_default(lua_State *L, const char *name) {
    lua_Number v;
    lua_getfield(L, TR_UV_DEFAULTS, name);
    if (lua_type(L, -1) != LUA_TNUMBER) luaL_error(L, "clinch.defaults.%s is missing", name);
    v = lua_tonumber(L, -1);
    lua_pop(L, 1);
    return v;
}

/* Reads an optional positive number option; without it, clinch.defaults[def]. */
static lua_Number tr_opt_number(lua_State *L, int opts, const char *key, const char *def) {
    lua_Number v = 0;
    lua_getfield(L, opts, key);
    if (lua_isnil(L, -1)) v = tr_default(L, def);
    else if (lua_type(L, -1) != LUA_TNUMBER || !((v = lua_tonumber(L, -1)) > 0))
        luaL_error(L, "transport option %s must be a positive number", key);
    lua_pop(L, 1);
    return v;
}

/* Leaves opts[key] (a string or nil) on the stack; returns its length + 1, or 0 when nil. A value curl
 * sends as a header (is_header) must not hold CR or LF either: they would start headers of their own. */
static size_t tr_opt_string(lua_State *L, int opts, const char *key, int is_header) {
    size_t len;
    const char *s;
    lua_getfield(L, opts, key);
    if (lua_isnil(L, -1)) return 0;
    if (lua_type(L, -1) != LUA_TSTRING) luaL_error(L, "transport option %s must be a string", key);
    s = lua_tolstring(L, -1, &len);
    if (strlen(s) != len) luaL_error(L, "transport option %s holds a NUL byte", key);
    if (is_header && !treq_isvalue(s, len)) luaL_error(L, "transport option %s holds CR or LF", key);
    return len + 1;
}

static const char *tr_copy(lua_State *L, int i, char **tail) {
    size_t len;
    const char *s;
    char *d = *tail;
    if (lua_isnil(L, i)) return NULL;
    s = lua_tolstring(L, i, &len);
    memcpy(d, s, len + 1);
    *tail += len + 1;
    return d;
}

/* The options of core.transport that are not strings, checked. */
typedef struct {
    lua_Number timeout, ctimeout, maxresp, maxheader, conc;
    long write_reuse;
    int verify;
} tr_options;

/* Reads the number and boolean options from the table at opts into o. Raises on a bad one. */
static void tr_read_options(lua_State *L, int opts, tr_options *o) {
    o->verify = 1;
    o->write_reuse = (long)tr_default(L, "WRITE_REUSE_IDLE");
    o->timeout = tr_opt_number(L, opts, "timeout", "TIMEOUT");
    o->ctimeout = tr_opt_number(L, opts, "connect_timeout", "CONNECT_TIMEOUT");
    o->maxresp = tr_opt_number(L, opts, "max_response_bytes", "MAX_RESPONSE_BYTES");
    o->maxheader = tr_opt_number(L, opts, "max_header_bytes", "MAX_HEADER_BYTES");
    o->conc = tr_opt_number(L, opts, "max_concurrency", "CONCURRENCY");
    lua_getfield(L, opts, "write_reuse_idle");
    if (!lua_isnil(L, -1)) {
        lua_Number w = lua_tonumber(L, -1);
        if (lua_type(L, -1) != LUA_TNUMBER || !(w >= 0 && w <= 86400) || w != floor(w))
            luaL_error(L, "transport option write_reuse_idle must be a whole number of seconds (0-86400)");
        o->write_reuse = (long)w;
    }
    lua_pop(L, 1);
    if (o->maxresp < 1 || o->maxresp > 1e15) luaL_error(L, "transport option max_response_bytes is out of range");
    if (o->maxheader < 256 || o->maxheader > 1e9) luaL_error(L, "transport option max_header_bytes is out of range");
    if (o->conc < 1 || o->conc > 1e6) luaL_error(L, "transport option max_concurrency is out of range");
    lua_getfield(L, opts, "verify_tls");
    if (lua_type(L, -1) == LUA_TBOOLEAN) o->verify = lua_toboolean(L, -1);
    else if (!lua_isnil(L, -1)) luaL_error(L, "transport option verify_tls must be a boolean");
    lua_pop(L, 1);
}

/* Pushes the string options proxy, ca_file, ca_path and user_agent (nil when absent; user_agent then
 * the default one) and returns the bytes their copies take. */
static size_t tr_push_string_options(lua_State *L, int opts) {
    size_t strbytes = 0, size;
    strbytes += tr_opt_string(L, opts, "proxy", 0);
    strbytes += tr_opt_string(L, opts, "ca_file", 0);
    strbytes += tr_opt_string(L, opts, "ca_path", 0);
    size = tr_opt_string(L, opts, "user_agent", 1);
    if (size == 0) {
        lua_pop(L, 1);
        lua_getfield(L, TR_UV_DEFAULTS, "user_agent"); /* the one rule for it, in clinch.defaults */
        lua_pushfstring(L, "libcurl/%s", curl_version_info(CURLVERSION_NOW)->version);
        lua_call(L, 1, 1);
        if (lua_type(L, -1) != LUA_TSTRING) luaL_error(L, "clinch.defaults.user_agent must return a string");
        size = lua_rawlen(L, -1) + 1;
    }
    /* and the header line "User-Agent: <ua>" (TR_AGENT_PREFIX) */
    return strbytes + 2 * size + sizeof TR_AGENT_PREFIX - 1;
}

/* Whether one of the variables libcurl takes a proxy (or proxy exceptions) from for http and https
 * is set: then libcurl keeps reading them, per transfer, as it does by default. It ignores an
 * upper-case HTTP_PROXY (a CGI script's environment has one from any client's Proxy header). */
static int tr_env_proxy(void) {
    static const char *const names[] = {"http_proxy", "https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY",
                                        "no_proxy", "NO_PROXY"};
    size_t i;
    for (i = 0; i < sizeof names / sizeof names[0]; i++) {
        const char *v = getenv(names[i]);
        if (v && *v) return 1;
    }
    return 0;
}

/* core.transport([opts]) -> transport */
static int tr_l_transport_new(lua_State *L) {
    tr_options o;
    size_t strbytes, size;
    int opts, base, cap;
    tr_transport *t;
    char *tail;

    if (lua_isnoneornil(L, 1)) {
        lua_settop(L, 0);
        lua_newtable(L);
    }
    luaL_checktype(L, 1, LUA_TTABLE);
    lua_settop(L, 1);
    opts = 1;
    tr_read_options(L, opts, &o);
    base = lua_gettop(L) + 1; /* proxy, ca_file, ca_path, user_agent */
    strbytes = tr_push_string_options(L, opts);

    cap = o.conc < TR_MAX_POOL ? (int)o.conc : TR_MAX_POOL;
    size = sizeof(tr_transport) + (size_t)cap * sizeof(CURL *) + strbytes;
    t = (tr_transport *)compat_newudata(L, size);
    memset(t, 0, size);
    luaL_setmetatable(L, TR_TRANSPORT_MT);
    t->timeout_ms = treq_ms(o.timeout);
    t->connect_timeout_ms = treq_ms(o.ctimeout);
    t->max_response = (size_t)o.maxresp;
    t->max_header = (size_t)o.maxheader;
    t->max_concurrency = (int)o.conc;
    t->verify_tls = o.verify;
    t->write_reuse = o.write_reuse;
    t->env_proxy = tr_env_proxy();
    t->pool_cap = cap;
    tail = (char *)(t->pool + cap);
    t->proxy = tr_copy(L, base, &tail);
    t->ca_file = tr_copy(L, base + 1, &tail);
    t->ca_path = tr_copy(L, base + 2, &tail);
    t->user_agent = tr_copy(L, base + 3, &tail);
    t->agent_line = tail;
    memcpy(tail, TR_AGENT_PREFIX, sizeof TR_AGENT_PREFIX - 1);
    memcpy(tail + sizeof TR_AGENT_PREFIX - 1, t->user_agent, strlen(t->user_agent) + 1);
    t->multi = curl_multi_init();
    if (!t->multi) luaL_error(L, "curl_multi_init failed");
    /* after the multi handle: from here on the finalizer's tdrv_close frees this list */
    t->proxy_headers = curl_slist_append(NULL, t->agent_line);
    if (!t->proxy_headers) luaL_error(L, "not enough memory for a transport");
    lua_createtable(L, 1, 0);
    compat_setenv(L, -2);
    return 1;
}

/* ---- t:perform(reqs [, concurrency]) -> results; t:perform(req) -> result ---- */

typedef struct tr_batch {
    size_t n;
    int busy;   /* a batch of one that t:perform(req) may use again: set while it does */
    tr_xfer x[];
} tr_batch;

static void tr_batch_release(tr_batch *b) {
    size_t i;
    for (i = 0; i < b->n; i++) tdrv_free(&b->x[i]);
}

static int tr_l_batch_gc(lua_State *L) {
    tr_batch_release((tr_batch *)luaL_checkudata(L, 1, TR_BATCH_MT));
    return 0;
}

/* Pushes a new batch of n transfers and, under it, the table anchoring the strings curl reads in place
 * (3 per request: tr_l_perform's treq_read calls), which is also the batch's uservalue. */
static tr_batch *tr_new_batch(lua_State *L, size_t n) {
    tr_batch *b;
    lua_createtable(L, (int)(n * 3), 0);
    b = (tr_batch *)compat_newudata(L, sizeof(tr_batch) + n * sizeof(tr_xfer));
    memset(b, 0, sizeof(tr_batch) + n * sizeof(tr_xfer));
    luaL_setmetatable(L, TR_BATCH_MT);
    lua_pushvalue(L, -2);
    compat_setenv(L, -2);
    b->n = n;
    return b;
}

/* Pushes the anchors and the batch of one for t:perform(req) on the transport at index 1, marked busy:
 * the one it used last when that one is done (a blocking request after another allocates nothing
 * here), else a new one, which the transport keeps for next time. A batch left busy (its request
 * raised; or a finalizer's request on the same transport while this one runs) is never used again:
 * its own finalizer frees what it holds. */
static tr_batch *tr_one_batch(lua_State *L) {
    tr_batch *b;
    compat_getenv(L, 1);
    lua_rawgeti(L, -1, TR_TENV_ONE);
    b = (tr_batch *)lua_touserdata(L, -1); /* only ever a batch of one, put there below */
    if (b && !b->busy) {
        compat_getenv(L, -1);  /* env batch anchors */
        lua_insert(L, -2);     /* env anchors batch */
        lua_remove(L, -3);
        memset(b->x, 0, sizeof(tr_xfer));
    } else {
        lua_pop(L, 1);
        b = tr_new_batch(L, 1); /* env anchors batch */
        lua_pushvalue(L, -1);
        lua_rawseti(L, -4, TR_TENV_ONE);
        lua_remove(L, -3);
    }
    b->busy = 1;
    return b;
}

static int tr_l_perform(lua_State *L) {
    tr_transport *t = tr_check(L, 1);
    lua_State *main_L = interrupt_main_thread(L);
    size_t n, i, next = 0, lo = 0, running = 0;
    lua_Integer conc;
    int anchors, single;
    tr_batch *b;

    luaL_checktype(L, 2, LUA_TTABLE);
    conc = luaL_optinteger(L, 3, (lua_Integer)t->max_concurrency);
    if (conc < 1) luaL_argerror(L, 3, "concurrency must be at least 1");
    lua_settop(L, 2);
    /* a request itself (it has a url; a list has none) is a batch of one whose result comes back as
     * it is: the libcurl transport's send, without a list around the request and one around its result */
    single = treq_field(L, 2, "url") != LUA_TNIL; /* (raw, as treq_read reads requests) */
    lua_pop(L, 1);
    n = single ? 1 : lua_rawlen(L, 2);

    /* One pass reads and checks every request: one that fails raises before any transfer starts, and
     * the header lists of those read before it belong to the batch, whose finalizer frees them. */
    b = single ? tr_one_batch(L) : tr_new_batch(L, n);
    anchors = lua_gettop(L) - 1;
    for (i = 0; i < n; i++) {
        if (single) lua_pushvalue(L, 2);
        else lua_rawgeti(L, 2, (int)i + 1);
        treq_read(L, lua_gettop(L), (int)i + 1, &b->x[i], anchors, (int)(3 * i + 1), t->agent_line);
        lua_pop(L, 1);
    }
    /* Lua code (a finalizer) may have run while reading: look again */
    if (!t->multi) luaL_error(L, "transport is closed");

    /* no Lua call from here until every transfer is done */
    while (lo < n) {
        while (next < n && running < (size_t)conc) {
            if (tdrv_launch(t, &b->x[next])) {
                tr_batch_release(b);
                return luaL_error(L, "not enough memory to start a transfer");
            }
            next++;
            running++;
        }
        tdrv_pump(t);
        running = 0;
        while (lo < next && b->x[lo].state != TR_X_RUNNING) lo++;
        for (i = lo; i < next; i++) running += b->x[i].state == TR_X_RUNNING;
        if (lo == n) break;
        if ((running == (size_t)conc || next == n) && tdrv_pump_wait(t, main_L)) {
            for (i = lo; i < n; i++) tdrv_interrupt(&b->x[i]);
            break;
        }
    }

    if (single) {
        tres_push_result(L, &b->x[0]);
        for (i = 1; i <= 3; i++) { /* the request's strings go with it */
            lua_pushnil(L);
            lua_rawseti(L, anchors, (int)i);
        }
        b->busy = 0;
        return 1;
    }
    lua_createtable(L, (int)n, 0);
    for (i = 0; i < n; i++) {
        tres_push_result(L, &b->x[i]);
        lua_rawseti(L, -2, (int)i + 1);
    }
    return 1;
}

/* ---- t:start(req) and pendings ---- */

typedef struct tr_pending {
    tr_xfer x;
} tr_pending;

static int tr_l_start(lua_State *L) {
    tr_transport *t = tr_check(L, 1);
    tr_pending *p;
    int env;
    lua_settop(L, 2);
    /* read and checked in one pass: on a bad request, the pending's finalizer frees its header list */
    p = (tr_pending *)compat_newudata(L, sizeof(tr_pending));
    memset(p, 0, sizeof(tr_pending));
    luaL_setmetatable(L, TR_PENDING_MT);
    lua_createtable(L, TR_ENV_RESULT, 0);
    env = lua_gettop(L);
    lua_pushvalue(L, 1);
    lua_rawseti(L, env, TR_ENV_TRANSPORT);
    treq_read(L, 2, 1, &p->x, env, TR_ENV_STRINGS, t->agent_line);
    lua_pushvalue(L, env);
    compat_setenv(L, 3);
    if (!t->multi) luaL_error(L, "transport is closed");

    if (tdrv_launch(t, &p->x)) {
        tdrv_free(&p->x);
        return luaL_error(L, "not enough memory to start a transfer");
    }
    /* put the request on the wire: on loopback a connect completes at once, so a couple of
     * non-blocking rounds usually send it */
    tdrv_pump(t);
    if (p->x.state == TR_X_RUNNING && t->multi) {
        int k;
        for (k = 0; k < 2 && p->x.state == TR_X_RUNNING; k++) {
            (void)curl_multi_wait(t->multi, NULL, 0, 0, NULL);
            tdrv_pump(t);
        }
    }
    lua_settop(L, 3);
    return 1;
}

/* tr_l_pending_build(x, env): builds the result of a finished pending and keeps it in env. */
static int tr_l_pending_build(lua_State *L) {
    tres_push_result(L, (tr_xfer *)lua_touserdata(L, 1));
    lua_pushvalue(L, -1);
    lua_rawseti(L, 2, TR_ENV_RESULT);
    /* the strings curl read are no longer needed */
    lua_pushnil(L);
    lua_rawseti(L, 2, TR_ENV_STRINGS + 2);
    return 1;
}

/* The result table on top as the transport interface gives it: response, or nil, err (a failure's
 * table has a kind). */
static int tr_outcome(lua_State *L) {
    int failed;
    lua_pushliteral(L, "kind");
    lua_rawget(L, -2);
    failed = !lua_isnil(L, -1);
    lua_pop(L, 1);
    if (!failed) return 1;
    lua_pushnil(L);
    lua_insert(L, -2);
    return 2;
}

/* pending:wait() -> response | nil, err (the same on every call) */
static int tr_l_pending_wait(lua_State *L) {
    tr_pending *p = (tr_pending *)luaL_checkudata(L, 1, TR_PENDING_MT);
    tr_xfer *x = &p->x;
    int status;
    lua_settop(L, 1);
    compat_getenv(L, 1);
    lua_rawgeti(L, 2, TR_ENV_RESULT);
    if (!lua_isnil(L, -1)) return tr_outcome(L);
    lua_pop(L, 1);
    /* Building the result allocates, so a finalizer may run and call wait again: it must not read
     * (or free) the buffers the outer call is reading. */
    if (x->busy) return luaL_error(L, "pending:wait called again while its result is being built");
    if (x->state == TR_X_RUNNING) {
        tr_transport *t = x->t;
        lua_State *main_L = interrupt_main_thread(L);
        tdrv_pump(t);
        while (x->state == TR_X_RUNNING)
            if (tdrv_pump_wait(t, main_L) && x->state == TR_X_RUNNING) tdrv_interrupt(x);
    }
    if (x->state != TR_X_DONE) return luaL_error(L, "transport is closed");
    /* under pcall, so that busy is cleared even when building fails (out of memory) */
    x->busy = 1;
    lua_pushcfunction(L, tr_l_pending_build);
    lua_pushlightuserdata(L, x);
    lua_pushvalue(L, 2);
    status = lua_pcall(L, 2, 1, 0);
    x->busy = 0;
    if (status != LUA_OK) return lua_error(L);
    return tr_outcome(L);
}

/* t:poll([seconds]) -> interrupted: waits until a transfer of t makes progress (at most `seconds`,
 * default and cap 1 s; 0 only steps them) and steps them all, for a scheduler that runs many requests
 * (client:parallel). True when the user asked to interrupt (Ctrl-C): the interrupt fires once Lua runs. */
static int tr_l_poll(lua_State *L) {
    tr_transport *t = tr_check(L, 1);
    lua_Number secs = luaL_optnumber(L, 2, 1);
    int ms = secs > 0 ? (secs >= 1 ? TDRV_POLL_MS : (int)(secs * 1000) + 1) : 0;
    lua_pushboolean(L, tdrv_pump_wait_ms(t, interrupt_main_thread(L), ms));
    return 1;
}

static int tr_l_pending_done(lua_State *L) {
    tr_pending *p = (tr_pending *)luaL_checkudata(L, 1, TR_PENDING_MT);
    if (p->x.state == TR_X_RUNNING) tdrv_pump(p->x.t);
    lua_pushboolean(L, p->x.state != TR_X_RUNNING);
    return 1;
}

static int tr_l_pending_gc(lua_State *L) {
    tr_pending *p = (tr_pending *)luaL_checkudata(L, 1, TR_PENDING_MT);
    /* busy: __gc called by hand (the collector cannot take a pending that wait holds on its stack);
     * the real finalizer frees everything later */
    if (p->x.busy) return 0;
    tdrv_free(&p->x);
    return 0;
}

/* core.curl_version() -> libcurl's version ("7.88.1") and its TLS library's ("OpenSSL/3.0.15", or nil). */
static int tr_l_curl_version(lua_State *L) {
    const curl_version_info_data *info = curl_version_info(CURLVERSION_NOW);
    lua_pushstring(L, info->version);
    if (info->ssl_version)
        lua_pushstring(L, info->ssl_version);
    else
        lua_pushnil(L);
    return 2;
}

static void tr_metatable(lua_State *L, const char *name, const luaL_Reg *meta, const luaL_Reg *methods) {
    luaL_newmetatable(L, name);
    luaL_setfuncs(L, meta, 0);
    if (methods) {
        lua_newtable(L);
        luaL_setfuncs(L, methods, 0);
        lua_setfield(L, -2, "__index");
    }
    lua_pushstring(L, name);
    lua_setfield(L, -2, "__name");
    lua_pop(L, 1);
}

static void tr_open(lua_State *L) {
    /* curl_global_init must run once per process; this flag is the only static state */
    static int curl_ready = 0;
    static const luaL_Reg transport_meta[] = {
        {"__gc", tr_l_transport_close},
#if LUA_VERSION_NUM >= 504
        {"__close", tr_l_transport_close},
#endif
        {NULL, NULL}};
    static const luaL_Reg transport_methods[] = {
        {"perform", tr_l_perform}, {"start", tr_l_start}, {"poll", tr_l_poll}, {"close", tr_l_transport_close},
        {NULL, NULL}};
    static const luaL_Reg pending_meta[] = {{"__gc", tr_l_pending_gc}, {NULL, NULL}};
    static const luaL_Reg pending_methods[] = {{"wait", tr_l_pending_wait}, {"done", tr_l_pending_done}, {NULL, NULL}};
    static const luaL_Reg batch_meta[] = {{"__gc", tr_l_batch_gc}, {NULL, NULL}};
    int mod = lua_gettop(L);

    if (!curl_ready) {
        if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) luaL_error(L, "curl_global_init failed");
        curl_ready = 1;
    }
    tr_metatable(L, TR_TRANSPORT_MT, transport_meta, transport_methods);
    tr_metatable(L, TR_PENDING_MT, pending_meta, pending_methods);
    tr_metatable(L, TR_BATCH_MT, batch_meta, NULL);

    lua_getfield(L, mod, "defaults");
    lua_pushcclosure(L, tr_l_transport_new, 1);
    lua_setfield(L, mod, "transport");
    lua_pushcfunction(L, tr_l_curl_version);
    lua_setfield(L, mod, "curl_version");
}

#endif
