/* transport_request.c: reading a request table for the transport (t:start, t:perform): every field
 * checked (raw access, so no Lua code runs on a request table) as the transfer is filled and its curl
 * header list built, in one pass. Raising is safe here: the header list belongs to the transfer, whose
 * userdata frees it, and no transfer starts before every request of a call was read. */
#ifndef CLINCH_TRANSPORT_REQUEST_C
#define CLINCH_TRANSPORT_REQUEST_C

#include "compat.h"

#include <string.h>

#include <curl/curl.h>

#include "transport.h"

static int treq_ieq(const char *a, const char *b) {
    while (*a && tr_lower((unsigned char)*a) == tr_lower((unsigned char)*b)) { a++; b++; }
    return *a == 0 && *b == 0;
}

static int treq_istoken(const char *s, size_t n) {
    size_t i;
    if (n == 0) return 0;
    for (i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) continue;
        if (!strchr("!#$%&'*+-.^_`|~", c) || c == 0) return 0;
    }
    return 1;
}

/* A header value may hold anything but CR, LF and NUL (they would split or cut the request). */
static int treq_isvalue(const char *s, size_t n) {
    size_t i;
    for (i = 0; i < n; i++)
        if (s[i] == '\r' || s[i] == '\n' || s[i] == 0) return 0;
    return 1;
}

static int treq_isurl(const char *s, size_t n) {
    size_t i;
    if (!(n > 7 && tr_lower((unsigned char)s[0]) == 'h' && tr_lower((unsigned char)s[1]) == 't'
          && tr_lower((unsigned char)s[2]) == 't' && tr_lower((unsigned char)s[3]) == 'p'))
        return 0;
    i = 4;
    if (tr_lower((unsigned char)s[i]) == 's') i++;
    if (n < i + 4 || memcmp(s + i, "://", 3) != 0) return 0;
    for (i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c <= 0x20 || c == 0x7f) return 0;
    }
    return 1;
}

static long treq_ms(lua_Number secs) {
    lua_Number ms = secs * 1000.0;
    if (ms < 1) return 1;
    if (ms > 2147483647.0) return 2147483647L;
    return (long)ms;
}

/* Pushes req[key] (raw, so no Lua code runs on a request table). */
static int treq_field(lua_State *L, int req, const char *key) {
    lua_pushstring(L, key);
    lua_rawget(L, req);
    return lua_type(L, -1);
}

static void treq_anchor(lua_State *L, int anchors, int key) {
    lua_pushvalue(L, -1);
    lua_rawseti(L, anchors, key);
}

/* Where a line of len bytes (and its NUL) can go in x's own room for header text, or NULL when it is
 * full (then the line goes to a node of libcurl's, which copies it). */
static char *treq_room(tr_xfer *x, size_t len) {
    if (x->hdrs_heap || x->hdr_nodes == TR_HDR_NODES || len + 1 > TR_HDR_BYTES - x->hdr_bytes) return NULL;
    return x->hdr_text + x->hdr_bytes;
}

/* Appends a header line to x's list. `line` is x's room as treq_room gave it (taken), a string that
 * outlives the transfer (a literal, the transport's User-Agent line: pointed at), or any other (copied
 * by libcurl). Once a line has gone to libcurl's nodes, every later one does too, so that the list
 * from hdrs_heap on is libcurl's to free. */
static void treq_line(lua_State *L, tr_xfer *x, const char *line, size_t len, int lasting) {
    struct curl_slist *n;
    int in_room = line == x->hdr_text + x->hdr_bytes;
    if (in_room || (lasting && !x->hdrs_heap && x->hdr_nodes < TR_HDR_NODES)) {
        n = &x->hdr_node[x->hdr_nodes++];
        if (in_room) x->hdr_bytes += (unsigned)len + 1;
        n->data = (char *)line;
        n->next = NULL;
    } else {
        n = curl_slist_append(NULL, line);
        if (!n) luaL_error(L, "not enough memory"); /* x owns the list so far: its userdata frees it */
        if (!x->hdrs_heap) x->hdrs_heap = n;
    }
    if (x->hdrs_tail) x->hdrs_tail->next = n;
    else x->hdrs = n;
    x->hdrs_tail = n;
}

#define treq_literal(L, x, s) treq_line(L, x, s, sizeof s - 1, 1)

/* What treq_read learns about a request on the way; x, when given, gets it at the end (treq_fill). */
typedef struct {
    int is_get, is_head, is_write, post;
    int has_body, has_accept, has_ctype, has_expect, has_agent;
    lua_Number to, cto; /* 0 when not given */
} treq_info;

/* The helpers below take treq_read's arguments: they raise on a bad field and, with x, fill it and
 * anchor the strings curl reads in place. */

static inline void treq_read_method(lua_State *L, int req, int i, tr_xfer *x, int anchors, int base, treq_info *r) {
    const char *method = "GET";
    size_t mlen = 3;
    int t = treq_field(L, req, "method");
    if (t == LUA_TSTRING) {
        method = lua_tolstring(L, -1, &mlen);
        if (!treq_istoken(method, mlen)) luaL_error(L, "request %d: invalid method", i);
    } else if (t != LUA_TNIL) {
        luaL_error(L, "request %d: method must be a string", i);
    } else {
        lua_pop(L, 1);
        lua_pushliteral(L, "GET");
    }
    /* read the method now: once popped, only req and the anchor below hold the string,
     * and a finalizer run by a later allocation could replace req.method and let it be collected */
    r->is_get = strcmp(method, "GET") == 0;
    r->is_head = strcmp(method, "HEAD") == 0;
    /* POST, PUT and PATCH always send a body (empty if none), so that Content-Length: 0 goes out */
    r->post = strcmp(method, "POST") == 0 || strcmp(method, "PUT") == 0 || strcmp(method, "PATCH") == 0;
    /* not idempotent (RFC 9110 9.2.2): POST, PATCH and methods of extensions */
    r->is_write = !(r->is_get || r->is_head || strcmp(method, "PUT") == 0 || strcmp(method, "DELETE") == 0
                    || strcmp(method, "OPTIONS") == 0 || strcmp(method, "TRACE") == 0);
    if (x) { treq_anchor(L, anchors, base + 1); x->method = method; }
    lua_pop(L, 1);
}

static inline void treq_read_url(lua_State *L, int req, int i, tr_xfer *x, int anchors, int base) {
    const char *url;
    size_t ulen = 0;
    if (treq_field(L, req, "url") != LUA_TSTRING) luaL_error(L, "request %d: url must be a string", i);
    url = lua_tolstring(L, -1, &ulen);
    if (!treq_isurl(url, ulen)) luaL_error(L, "request %d: url must be an http:// or https:// URL without "
                                              "spaces or control characters", i);
    if (x) { treq_anchor(L, anchors, base); x->url = url; }
    lua_pop(L, 1);
}

/* Returns whether the request has a body. */
static inline int treq_read_body(lua_State *L, int req, int i, tr_xfer *x, int anchors, int base) {
    const char *body = NULL;
    size_t blen = 0;
    int t = treq_field(L, req, "body");
    if (t == LUA_TSTRING) body = lua_tolstring(L, -1, &blen);
    else if (t != LUA_TNIL) luaL_error(L, "request %d: body must be a string or nil", i);
    if (x) { treq_anchor(L, anchors, base + 2); x->body = body; x->body_len = blen; }
    lua_pop(L, 1);
    return body != NULL;
}

/* req[key], a timeout in seconds: a positive number, or 0 when absent. */
static inline lua_Number treq_read_timeout(lua_State *L, int req, int i, const char *key) {
    lua_Number to = 0;
    int t = treq_field(L, req, key);
    if (t == LUA_TNUMBER) to = lua_tonumber(L, -1);
    if ((t != LUA_TNIL && t != LUA_TNUMBER) || (t == LUA_TNUMBER && !(to > 0)))
        luaL_error(L, "request %d: %s must be a positive number", i, key);
    lua_pop(L, 1);
    return to;
}

/* Checks req.headers and notes which of the headers curl would add on its own are given; with x,
 * appends each one to x's header list. */
static inline void treq_read_headers(lua_State *L, int req, int i, tr_xfer *x, treq_info *r) {
    int t = treq_field(L, req, "headers");
    r->has_accept = r->has_ctype = r->has_expect = r->has_agent = 0;
    if (t == LUA_TTABLE) {
        int h = lua_gettop(L);
        lua_pushnil(L);
        while (lua_next(L, h)) {
            size_t nlen, vlen;
            const char *name, *value;
            if (lua_type(L, -2) != LUA_TSTRING || lua_type(L, -1) != LUA_TSTRING)
                luaL_error(L, "request %d: header names and values must be strings", i);
            name = lua_tolstring(L, -2, &nlen);
            value = lua_tolstring(L, -1, &vlen);
            if (!treq_istoken(name, nlen)) luaL_error(L, "request %d: invalid header name", i);
            if (!treq_isvalue(value, vlen))
                luaL_error(L, "request %d: header %s: value holds CR, LF or NUL", i, name);
            r->has_accept |= treq_ieq(name, "accept");
            r->has_ctype |= treq_ieq(name, "content-type");
            r->has_expect |= treq_ieq(name, "expect");
            r->has_agent |= treq_ieq(name, "user-agent");
            if (x) {
                /* "Name;" is curl's way to send a header with an empty value. A usual line is built in
                 * x's room; past that, in a Lua string that libcurl copies. */
                size_t len = vlen ? nlen + 2 + vlen : nlen + 1;
                char *line = treq_room(x, len);
                if (line) {
                    memcpy(line, name, nlen);
                    if (vlen) {
                        line[nlen] = ':';
                        line[nlen + 1] = ' ';
                        memcpy(line + nlen + 2, value, vlen);
                    } else {
                        line[nlen] = ';';
                    }
                    line[len] = 0;
                    treq_line(L, x, line, len, 0);
                } else {
                    lua_pushfstring(L, vlen ? "%s: %s" : "%s;", name, value);
                    treq_line(L, x, lua_tostring(L, -1), len, 0);
                    lua_pop(L, 1);
                }
            }
            lua_pop(L, 1);
        }
    } else if (t != LUA_TNIL) {
        luaL_error(L, "request %d: headers must be a table", i);
    }
    lua_pop(L, 1);
}

/* Completes x from what treq_read learnt. */
static inline void treq_fill(lua_State *L, tr_xfer *x, const treq_info *r, const char *agent_line) {
    /* an empty "Name:" removes what curl would add on its own (Expect only ever goes with a body) */
    if (!r->has_expect && r->post) treq_literal(L, x, "Expect:");
    if (!r->has_accept) treq_literal(L, x, "Accept:");
    /* The transport's User-Agent as a header line of the request: libcurl then skips its own, which it
     * would format afresh for every request (a proxy's CONNECT has it from CURLOPT_PROXYHEADER). The
     * line lives in the transport, which outlives the transfer. */
    if (!r->has_agent && agent_line) treq_line(L, x, agent_line, strlen(agent_line), 1);
    if (!r->has_ctype && r->post) treq_literal(L, x, "Content-Type:");
    x->is_get = r->is_get;
    x->is_head = r->is_head;
    x->is_write = r->is_write;
    x->use_postfields = r->post;
    x->timeout_ms = r->to > 0 ? treq_ms(r->to) : 0;
    x->connect_timeout_ms = r->cto > 0 ? treq_ms(r->cto) : 0;
    x->state = TR_X_NEW;
}

/* Validates request `req` (absolute index; `i` names it in messages). With x == NULL it only checks and
 * allocates nothing; otherwise it also fills x (header list owned by x) and anchors the strings curl
 * reads in place in table `anchors` at keys base, base+1, base+2. */
static void treq_read(lua_State *L, int req, int i, tr_xfer *x, int anchors, int base, const char *agent_line) {
    treq_info r;
    if (!lua_istable(L, req)) luaL_error(L, "request %d: table expected, got %s", i, luaL_typename(L, req));
    treq_read_method(L, req, i, x, anchors, base, &r);
    treq_read_url(L, req, i, x, anchors, base);
    r.has_body = treq_read_body(L, req, i, x, anchors, base);
    r.to = treq_read_timeout(L, req, i, "timeout");
    r.cto = treq_read_timeout(L, req, i, "connect_timeout");
    if (r.is_head && r.has_body) luaL_error(L, "request %d: a HEAD request cannot have a body", i);
    r.post = r.post || r.has_body;
    treq_read_headers(L, req, i, x, &r);
    if (x) treq_fill(L, x, &r, agent_line);
}

#endif
