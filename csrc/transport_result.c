/* transport_result.c: turning a finished transfer into the Lua result table t:start's wait and
 * t:perform return: { status, headers, body, http_version, time, connect_reused } on success, or
 * { kind, message, curl_code, sent, time, ... } when it failed, the failure
 * classified from libcurl's code and what the callbacks recorded. Building the table allocates, so it
 * may raise: the transfer's buffers are then freed by its owner's finalizer. */
#ifndef CLINCH_TRANSPORT_RESULT_C
#define CLINCH_TRANSPORT_RESULT_C

#include "compat.h"

#include <stdio.h>
#include <string.h>

#include <curl/curl.h>

#include "transport.h"
#include "transport_callbacks.c"
#include "transport_driver.c"

static const char *tres_size(char *out, size_t n) {
    snprintf(out, 32, "%zu", n);
    return out;
}

/* TLS failures: the handshake (or the local TLS setup) failed, so no request bytes went out. */
static int tres_is_tls_error(CURLcode code) {
    switch (code) {
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_CIPHER:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_ENGINE_NOTFOUND:
    case CURLE_SSL_ENGINE_SETFAILED:
    case CURLE_SSL_ENGINE_INITFAILED:
    case CURLE_SSL_CRL_BADFILE:
    case CURLE_SSL_ISSUER_ERROR:
    case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
    case CURLE_SSL_INVALIDCERTSTATUS:
    case CURLE_SSL_CLIENTCERT:
    case CURLE_USE_SSL_FAILED:
        return 1;
    default:
        return 0;
    }
}

/* 0 only when the request certainly never reached the server (the client may then retry any method):
 * libcurl had not begun to send it (tcb_on_prereq was never called: no connection, DNS or TLS failure,
 * a timeout or an interrupt before the connection was ready). */
static int tres_sent(const tr_xfer *x) {
    return x->sends > 0;
}

/* libcurl's own answer to a header line over its 100 KB limit is CURLE_OUT_OF_MEMORY: while a header
 * block is being read (and our buffers did not fail), that is what it means. */
static int tres_headers_too_big(const tr_xfer *x) {
    return x->fault == TR_F_HEADERS_BIG
           || (x->code == CURLE_OUT_OF_MEMORY && !x->oom && x->head_status > 0 && !x->head_done);
}

/* libcurl 7.88 answers a header block that opens with a continuation line with
 * CURLE_BAD_FUNCTION_ARGUMENT, before our header callback sees the line. */
static int tres_bad_header(const tr_xfer *x) {
    return x->fault == TR_F_HEADER
           || (x->code == CURLE_BAD_FUNCTION_ARGUMENT && x->head_status > 0 && !x->head_done);
}

static const char *tres_kind(const tr_xfer *x) {
    if (x->interrupted) return "interrupted";
    if (x->too_large || x->code == CURLE_FILESIZE_EXCEEDED || tres_headers_too_big(x)) return "too_large";
    /* the reply was not HTTP as this client reads it: retrying would not make it so. libcurl says
     * CURLE_UNSUPPORTED_PROTOCOL for a status line it cannot read ("HTTP/1.1 2OO", a code under 100,
     * HTTP/0.9); before anything was sent it is about the URL instead. */
    if (x->fault == TR_F_STATUS || x->fault == TR_F_LENGTH || tres_bad_header(x)
        || x->code == CURLE_WEIRD_SERVER_REPLY || x->code == CURLE_BAD_CONTENT_ENCODING
        || (x->code == CURLE_UNSUPPORTED_PROTOCOL && x->sends > 0))
        return "protocol";
    if (x->code == CURLE_OPERATION_TIMEDOUT) return "timeout";
    if (tres_is_tls_error(x->code) || x->code == CURLE_SSL_SHUTDOWN_FAILED) return "tls";
    return "network";
}

/* Pushes the message of a failed transfer. */
static void tres_push_message(lua_State *L, const tr_xfer *x) {
    char num[32];
    if (x->interrupted)
        lua_pushliteral(L, "interrupted (Ctrl-C) before the response came");
    else if (tres_headers_too_big(x))
        lua_pushfstring(L, "response headers larger than %d bytes", (int)x->max_header);
    else if (x->too_large || x->code == CURLE_FILESIZE_EXCEEDED)
        lua_pushfstring(L, "response larger than max_response_bytes (%s bytes)", tres_size(num, x->limit));
    else if (x->fault == TR_F_REPLAY)
        lua_pushliteral(L, "the kept-alive connection closed before any response came; the request may "
                           "have reached the server");
    else if (x->fault == TR_F_STATUS && x->head_status == 101)
        lua_pushliteral(L, "the server answered 101 Switching Protocols, which this client never asks for");
    else if (x->fault == TR_F_STATUS)
        lua_pushfstring(L, "the server answered with HTTP status %d, outside 200-599", (int)x->head_status);
    else if (x->fault == TR_F_LENGTH)
        lua_pushliteral(L, "the response has conflicting or invalid Content-Length headers");
    else if (tres_bad_header(x))
        lua_pushliteral(L, "malformed header line in the response");
    else
        lua_pushstring(L, x->errbuf[0] ? x->errbuf : curl_easy_strerror(x->code));
}

static const char *tres_httpver(long v) {
    switch (v) {
    case CURL_HTTP_VERSION_1_0: return "1.0";
    case CURL_HTTP_VERSION_2_0: return "2";
#ifdef CURL_HTTP_VERSION_3
    case CURL_HTTP_VERSION_3: return "3";
#endif
    default: return "1.1";
    }
}

/* Pushes name -> value into the map at `map`, joining a repeated name's values with ", ". */
static void tres_header_join(lua_State *L, int map, const char *name, size_t nlen, const char *val, size_t vlen) {
    lua_pushlstring(L, name, nlen);
    lua_pushvalue(L, -1);
    lua_rawget(L, map);
    if (lua_isnil(L, -1)) {
        lua_pop(L, 1);
        lua_pushlstring(L, val, vlen);
    } else {
        lua_pushliteral(L, ", ");
        lua_pushlstring(L, val, vlen);
        lua_concat(L, 3);
    }
    lua_rawset(L, map);
}

/* Pushes the header map (lower-case names; a repeated name's values joined with ", "). */
static inline void tres_push_headers(lua_State *L, tr_xfer *x) {
    char *p = x->head.p, *end = p + x->head.len;
    int map;
    lua_createtable(L, 0, 8);
    map = lua_gettop(L);
    while (p && p < end) {
        char *eol = (char *)memchr(p, '\n', (size_t)(end - p)), *colon, *ne, *v, *ve, *c;
        if (!eol) eol = end;
        colon = (char *)memchr(p, ':', (size_t)(eol - p));
        if (colon && colon > p) {
            ne = colon;
            while (ne > p && (ne[-1] == ' ' || ne[-1] == '\t')) ne--;
            for (c = p; c < ne; c++) *c = (char)tr_lower((unsigned char)*c);
            v = colon + 1;
            ve = eol;
            while (v < ve && (*v == ' ' || *v == '\t')) v++;
            while (ve > v && (ve[-1] == ' ' || ve[-1] == '\t' || ve[-1] == '\r')) ve--;
            tres_header_join(L, map, p, (size_t)(ne - p), v, (size_t)(ve - v));
        }
        p = eol + 1;
    }
}


/* Pushes the result table of a finished transfer and frees its buffers. */
static void tres_push_result(lua_State *L, tr_xfer *x) {
    if (x->oom) {
        tdrv_free(x);
        luaL_error(L, "not enough memory for the response");
    }
    if (x->code == CURLE_OK) {
        /* room for the client's document, request and attempts too: no rehash when it adds them */
        lua_createtable(L, 0, 12);
        compat_pushint(L, x->status);
        lua_setfield(L, -2, "status");
        tres_push_headers(L, x);
        lua_setfield(L, -2, "headers");
        lua_pushlstring(L, x->resp.p ? x->resp.p : "", x->resp.len);
        lua_setfield(L, -2, "body");
        lua_pushstring(L, tres_httpver(x->http_version));
        lua_setfield(L, -2, "http_version");
        lua_pushnumber(L, (lua_Number)x->total_us / 1e6);
        lua_setfield(L, -2, "time");
        lua_pushboolean(L, x->num_connects == 0);
        lua_setfield(L, -2, "connect_reused");
    } else {
        lua_createtable(L, 0, 7);
        lua_pushstring(L, tres_kind(x));
        lua_setfield(L, -2, "kind");
        tres_push_message(L, x);
        lua_setfield(L, -2, "message");
        if (x->fault == TR_F_REPLAY) {
            lua_pushboolean(L, 1);
            lua_setfield(L, -2, "reused");
        }
        if (x->fault == TR_F_STATUS && x->head_status > 0) {
            compat_pushint(L, x->head_status);
            lua_setfield(L, -2, "status");
        }
        compat_pushint(L, x->code);
        lua_setfield(L, -2, "curl_code");
        lua_pushboolean(L, tres_sent(x));
        lua_setfield(L, -2, "sent");
        lua_pushnumber(L, (lua_Number)x->total_us / 1e6);
        lua_setfield(L, -2, "time");
    }
    tcb_buf_free(&x->resp);
    tcb_buf_free(&x->head);
}

#endif
