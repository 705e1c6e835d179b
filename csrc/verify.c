/* verify.c: api-auth signature verification (server side, for the mock), over sign.c's canonical
 * string and checks.
 *   core.verify(req, secret, opts)  -> true, access_id | nil, reason
 * verify: req = { method, request_uri, headers (names in any case), body? }; secret is a string or
 *   a function(access_id) -> secret|nil; opts = { clock_skew? (900), with_method? (true), now?
 *   (epoch to check the date against), digest? (accept only this digest; both by default) }.
 *   X-HMAC-Date wins over Date. A Content-MD5 or X-Authorization-Content-SHA256 header must match
 *   the body and its value is the canonical content hash; with both present, both must match and
 *   the SHA-256 one is signed. A header name given twice (in different cases) is rejected.
 * Every argument is read onto the Lua stack and checked before anything is computed; nothing here
 * mallocs (buffers are on the C stack or luaL_Buffer), so raising is always safe. Error messages and
 * reasons are fixed texts that never quote the secret, the signature or request values. */
#ifndef CLINCH_VERIFY_C
#define CLINCH_VERIFY_C

#include "compat.h"

#include <limits.h>
#include <stdint.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "crypto.c"
#include "httpdate.c"
#include "sign.c"

#define VERIFY_DEFAULT_SKEW 900.0

/* The fields verify_l_verify reads, X(slot, name), each list into consecutive stack slots VERIFY_<slot>
 * in this order: the request's, then the options' (all nil when opts is), then the header values
 * (found case-insensitively in req.headers; the names here are lower case). */
#define VERIFY_REQ_LIST(X) \
    X(METHOD, "method")    \
    X(URI, "request_uri")  \
    X(HEADERS, "headers")  \
    X(BODY, "body")
#define VERIFY_OPT_LIST(X)        \
    X(SKEW, "clock_skew")         \
    X(WITH_METHOD, "with_method") \
    X(NOW, "now")                 \
    X(DIGEST, "digest")
#define VERIFY_HEADER_LIST(X)     \
    X(H_AUTH, "authorization")    \
    X(H_DATE, "date")             \
    X(H_HMAC_DATE, "x-hmac-date") \
    X(H_CTYPE, "content-type")    \
    X(H_MD5, "content-md5")       \
    X(H_SHA256, "x-authorization-content-sha256")

#define VERIFY_SLOT(slot, name) VERIFY_##slot,
#define VERIFY_NAME(slot, name) name,
#define VERIFY_ONE(slot, name) +1

/* Stack slots used by verify_l_verify. */
enum {
    VERIFY_REQ = 1,
    VERIFY_SECRET,
    VERIFY_OPTS,
    VERIFY_REQ_LIST(VERIFY_SLOT)
    VERIFY_OPT_LIST(VERIFY_SLOT)
    VERIFY_HEADER_LIST(VERIFY_SLOT) /* header values, in the order of verify_headers */
    VERIFY_ID,
    VERIFY_KEY,
    VERIFY_CANON,
    VERIFY_TOP = VERIFY_CANON
};

/* The first slot of each list. */
enum {
    VERIFY_FIRST_REQ = VERIFY_OPTS + 1,
    VERIFY_FIRST_OPT = VERIFY_FIRST_REQ VERIFY_REQ_LIST(VERIFY_ONE),
    VERIFY_FIRST_HEADER = VERIFY_FIRST_OPT VERIFY_OPT_LIST(VERIFY_ONE)
};

static const char *const verify_req_fields[] = {VERIFY_REQ_LIST(VERIFY_NAME)};
static const char *const verify_opt_fields[] = {VERIFY_OPT_LIST(VERIFY_NAME)};
static const char *const verify_headers[] = {VERIFY_HEADER_LIST(VERIFY_NAME)};
#define VERIFY_COUNT(list) ((int)(sizeof(list) / sizeof(list)[0]))
#define VERIFY_NHEADERS VERIFY_COUNT(verify_headers)

/* What verify_l_verify learned so far (the strings are anchored in their stack slots). */
typedef struct {
    const char *body;
    size_t blen;
    lua_Number skew;
    int with_method, want_digest; /* want_digest: -1 for any, else an index into sign_digests */
    int64_t now;
    int digest;                   /* the Authorization header's, an index into sign_digests */
    const EVP_MD *md;
    unsigned char given[CRYPTO_MAX_MD + 3]; /* the decoded signature */
    long long glen;
    int date_slot;                /* VERIFY_H_HMAC_DATE or VERIFY_H_DATE, whichever is signed */
} verify_state;

/* ASCII case-insensitive equality of a Lua string with a lower-case name. */
static int verify_name_is(const char *s, size_t len, const char *lower) {
    size_t i;
    if (strlen(lower) != len) return 0;
    for (i = 0; i < len; i++) {
        char c = s[i];
        if (c >= 'A' && c <= 'Z') c = (char)(c - 'A' + 'a');
        if (c != lower[i]) return 0;
    }
    return 1;
}

/* Returns nil, reason. */
static int verify_reject(lua_State *L, const char *reason) {
    lua_pushnil(L);
    lua_pushstring(L, reason);
    return 2;
}

#define VERIFY_ARGFAIL(what) luaL_error(L, "clinch.core.verify: %s", (what))

/* Constant-time equality of two byte strings (the lengths are public). */
static int verify_equal(const char *a, size_t alen, const char *b, size_t blen) {
    return alen == blen && CRYPTO_memcmp(a, b, alen) == 0;
}

/* The helpers below return 0 to go on, or the number of results verify_l_verify returns (nil, reason:
 * the request is rejected). Programming errors raise. */

/* Reads the arguments into their slots (header slots start as nil) and checks their shapes. */
static int verify_read_args(lua_State *L, verify_state *v) {
    size_t keylen;
    int i;
    luaL_checktype(L, VERIFY_REQ, LUA_TTABLE);
    if (lua_type(L, VERIFY_SECRET) != LUA_TSTRING && lua_type(L, VERIFY_SECRET) != LUA_TFUNCTION)
        return luaL_argerror(L, VERIFY_SECRET, "secret must be a string or a function(access_id)");
    if (!lua_isnoneornil(L, VERIFY_OPTS) && lua_type(L, VERIFY_OPTS) != LUA_TTABLE)
        return luaL_argerror(L, VERIFY_OPTS, "opts must be a table or nil");
    lua_settop(L, VERIFY_OPTS);
    luaL_checkstack(L, VERIFY_TOP + 8, "clinch.core.verify");
    for (i = 0; i < VERIFY_COUNT(verify_req_fields); i++) lua_getfield(L, VERIFY_REQ, verify_req_fields[i]);
    if (lua_istable(L, VERIFY_OPTS)) {
        for (i = 0; i < VERIFY_COUNT(verify_opt_fields); i++) lua_getfield(L, VERIFY_OPTS, verify_opt_fields[i]);
    } else {
        lua_settop(L, VERIFY_FIRST_HEADER - 1);
    }
    lua_settop(L, VERIFY_FIRST_HEADER + VERIFY_NHEADERS - 1); /* header slots start as nil */

    /* Programming errors: wrong argument shapes. */
    if (lua_type(L, VERIFY_METHOD) != LUA_TSTRING) return VERIFY_ARGFAIL("req.method must be a string");
    if (lua_type(L, VERIFY_URI) != LUA_TSTRING) return VERIFY_ARGFAIL("req.request_uri must be a string");
    if (!lua_istable(L, VERIFY_HEADERS)) return VERIFY_ARGFAIL("req.headers must be a table");
    v->body = "";
    v->blen = 0;
    if (!lua_isnil(L, VERIFY_BODY)) {
        if (lua_type(L, VERIFY_BODY) != LUA_TSTRING) return VERIFY_ARGFAIL("req.body must be a string or nil");
        v->body = lua_tolstring(L, VERIFY_BODY, &v->blen);
    }
    v->skew = VERIFY_DEFAULT_SKEW;
    if (!lua_isnil(L, VERIFY_SKEW)) {
        if (lua_type(L, VERIFY_SKEW) != LUA_TNUMBER || !(lua_tonumber(L, VERIFY_SKEW) >= 0))
            return VERIFY_ARGFAIL("opts.clock_skew must be a number of seconds >= 0");
        v->skew = lua_tonumber(L, VERIFY_SKEW);
    }
    v->with_method = 1;
    if (!lua_isnil(L, VERIFY_WITH_METHOD)) {
        if (lua_type(L, VERIFY_WITH_METHOD) != LUA_TBOOLEAN)
            return VERIFY_ARGFAIL("opts.with_method must be a boolean");
        v->with_method = lua_toboolean(L, VERIFY_WITH_METHOD);
    }
    if (lua_isnil(L, VERIFY_NOW)) {
        v->now = httpdate_now();
    } else if (!httpdate_toepoch(L, VERIFY_NOW, &v->now)) {
        return VERIFY_ARGFAIL("opts.now must be an epoch number");
    }
    v->want_digest = -1;
    if (!lua_isnil(L, VERIFY_DIGEST) && (v->want_digest = sign_choice(L, VERIFY_DIGEST, sign_digests, 0)) < 0)
        return VERIFY_ARGFAIL("opts.digest must be \"sha1\" or \"sha256\"");
    if (lua_type(L, VERIFY_SECRET) == LUA_TSTRING) {
        lua_tolstring(L, VERIFY_SECRET, &keylen);
        if (keylen == 0 || keylen > INT_MAX) return luaL_argerror(L, VERIFY_SECRET, "secret must not be empty");
    }
    return 0;
}

/* Collect the headers we need, case-insensitively; a name given twice is ambiguous. */
static int verify_collect_headers(lua_State *L) {
    int k;
    lua_pushnil(L);
    while (lua_next(L, VERIFY_HEADERS) != 0) {
        if (lua_type(L, -2) == LUA_TSTRING) {
            size_t nlen;
            const char *name = lua_tolstring(L, -2, &nlen);
            for (k = 0; k < VERIFY_NHEADERS; k++) {
                if (!verify_name_is(name, nlen, verify_headers[k])) continue;
                if (lua_type(L, -1) != LUA_TSTRING) return verify_reject(L, "malformed header value");
                if (!lua_isnil(L, VERIFY_FIRST_HEADER + k)) return verify_reject(L, "header given more than once");
                lua_pushvalue(L, -1);
                lua_replace(L, VERIFY_FIRST_HEADER + k);
                break;
            }
        }
        lua_pop(L, 1);
    }
    return 0;
}

/* Authorization: APIAuth[-HMAC-<DIGEST>] <id>:<signature>. Decodes the signature into v and pushes the
 * access id (VERIFY_ID). */
static int verify_parse_auth(lua_State *L, verify_state *v) {
    size_t alen, idlen;
    const char *auth, *p, *colon, *sigtext, *why;
    if (lua_isnil(L, VERIFY_H_AUTH)) return verify_reject(L, "missing Authorization header");
    auth = lua_tolstring(L, VERIFY_H_AUTH, &alen);
    if (alen < 8 || memcmp(auth, "APIAuth", 7) != 0) return verify_reject(L, "malformed Authorization header");
    p = auth + 7;
    if (*p == ' ') {
        v->digest = 0;
        p++;
    } else if (strncmp(p, "-HMAC-SHA1 ", 11) == 0) {
        v->digest = 0;
        p += 11;
    } else if (strncmp(p, "-HMAC-SHA256 ", 13) == 0) {
        v->digest = 1;
        p += 13;
    } else if (strncmp(p, "-HMAC-", 6) == 0) {
        return verify_reject(L, "unsupported digest in Authorization header");
    } else {
        return verify_reject(L, "malformed Authorization header");
    }
    if (v->want_digest >= 0 && v->digest != v->want_digest) return verify_reject(L, "digest not accepted");
    colon = memchr(p, ':', alen - (size_t)(p - auth));
    if (colon == NULL || colon == p) return verify_reject(L, "malformed Authorization header");
    idlen = (size_t)(colon - p);
    if (!sign_is_access_id(p, idlen)) return verify_reject(L, "malformed Authorization header");
    sigtext = colon + 1;
    v->md = v->digest == 1 ? EVP_sha256() : EVP_sha1();
    /* The signature is the padded Base64 of exactly one MAC. */
    if (alen - (size_t)(sigtext - auth) != crypto_b64_len((size_t)EVP_MD_get_size(v->md)))
        return verify_reject(L, "malformed signature in Authorization header");
    v->glen = crypto_b64_decode((const unsigned char *)sigtext, alen - (size_t)(sigtext - auth), v->given, &why);
    if (v->glen != EVP_MD_get_size(v->md)) return verify_reject(L, "malformed signature in Authorization header");
    lua_pushlstring(L, p, idlen); /* VERIFY_ID */
    return 0;
}

/* Timestamp: X-HMAC-Date wins over Date. */
static int verify_check_date(lua_State *L, verify_state *v) {
    size_t dlen;
    const char *date, *why;
    int64_t when, diff;
    v->date_slot = lua_isnil(L, VERIFY_H_HMAC_DATE) ? VERIFY_H_DATE : VERIFY_H_HMAC_DATE;
    if (lua_isnil(L, v->date_slot)) return verify_reject(L, "missing Date header");
    date = lua_tolstring(L, v->date_slot, &dlen);
    if (!httpdate_parse(date, dlen, v->now, &when, &why)) return verify_reject(L, "invalid Date header");
    diff = when > v->now ? when - v->now : v->now - when;
    if ((lua_Number)diff > v->skew) return verify_reject(L, "request date is outside the allowed clock skew");
    return 0;
}

/* Body hashes: checked when their header is present; the SHA-256 one is the canonical part. */
static int verify_check_body(lua_State *L, const verify_state *v) {
    size_t hlen;
    const char *hash;
    if (!lua_isnil(L, VERIFY_H_MD5)) {
        char buf[CRYPTO_MAX_MD_B64];
        size_t n = sign_b64_digest(EVP_md5(), v->body, v->blen, buf);
        hash = lua_tolstring(L, VERIFY_H_MD5, &hlen);
        if (n == 0) return verify_reject(L, "cannot check Content-MD5: OpenSSL could not compute MD5");
        if (!verify_equal(hash, hlen, buf, n)) return verify_reject(L, "Content-MD5 does not match the body");
    }
    if (!lua_isnil(L, VERIFY_H_SHA256)) {
        char buf[CRYPTO_MAX_MD_B64];
        size_t n = sign_b64_digest(EVP_sha256(), v->body, v->blen, buf);
        hash = lua_tolstring(L, VERIFY_H_SHA256, &hlen);
        if (n == 0)
            return verify_reject(L, "cannot check X-Authorization-Content-SHA256: OpenSSL could not compute SHA-256");
        if (!verify_equal(hash, hlen, buf, n))
            return verify_reject(L, "X-Authorization-Content-SHA256 does not match the body");
    }
    return 0;
}

/* The secret, last: a lookup function only runs for otherwise well-formed requests. Pushes the key
 * (VERIFY_KEY). */
static int verify_push_key(lua_State *L) {
    size_t keylen;
    if (lua_type(L, VERIFY_SECRET) == LUA_TFUNCTION) {
        lua_pushvalue(L, VERIFY_SECRET);
        lua_pushvalue(L, VERIFY_ID);
        lua_call(L, 1, 1);
        if (lua_isnil(L, -1) || (lua_type(L, -1) == LUA_TBOOLEAN && !lua_toboolean(L, -1)))
            return verify_reject(L, "unknown access id");
        if (lua_type(L, -1) != LUA_TSTRING)
            return VERIFY_ARGFAIL("the secret function must return a string or nil");
        lua_tolstring(L, -1, &keylen);
        if (keylen == 0 || keylen > INT_MAX) return verify_reject(L, "unknown access id");
        /* The header strings are anchored in our own slots, so whatever the callback did to
         * req.headers cannot invalidate them; re-read the pointers anyway. */
    } else {
        lua_pushvalue(L, VERIFY_SECRET);
    } /* VERIFY_KEY */
    return 0;
}

/* Pushes the canonical string (VERIFY_CANON) from the slots and compares its HMAC with the signature. */
static int verify_check_signature(lua_State *L, const verify_state *v) {
    size_t mlen, ulen, clen = 0, dlen, hlen, keylen, canonlen;
    const char *method, *uri, *ctype = "", *date, *hash, *key, *canon;
    unsigned char expected[CRYPTO_MAX_MD];
    unsigned explen;
    int match;
    date = lua_tolstring(L, v->date_slot, &dlen);
    if (!lua_isnil(L, VERIFY_H_SHA256)) {
        hash = lua_tolstring(L, VERIFY_H_SHA256, &hlen);
    } else if (!lua_isnil(L, VERIFY_H_MD5)) {
        hash = lua_tolstring(L, VERIFY_H_MD5, &hlen);
    } else {
        hash = "";
        hlen = 0;
    }
    if (!lua_isnil(L, VERIFY_H_CTYPE)) ctype = lua_tolstring(L, VERIFY_H_CTYPE, &clen);
    method = lua_tolstring(L, VERIFY_METHOD, &mlen);
    uri = lua_tolstring(L, VERIFY_URI, &ulen);
    sign_push_canonical(L, v->with_method, method, mlen, ctype, clen, hash, hlen, uri, ulen, date, dlen);
    key = lua_tolstring(L, VERIFY_KEY, &keylen);
    canon = lua_tolstring(L, VERIFY_CANON, &canonlen);
    explen = crypto_hmac(v->md, key, keylen, canon, canonlen, expected);
    if (explen == 0) return verify_reject(L, "cannot check the signature: OpenSSL could not compute the HMAC");
    if ((long long)explen != v->glen) return verify_reject(L, "signature does not match");
    match = CRYPTO_memcmp(v->given, expected, explen) == 0;
    OPENSSL_cleanse(expected, sizeof expected);
    if (!match) return verify_reject(L, "signature does not match");
    return 0;
}

static int verify_l_verify(lua_State *L) {
    verify_state v;
    int n;
    if ((n = verify_read_args(L, &v)) != 0 || (n = verify_collect_headers(L)) != 0 ||
        (n = verify_parse_auth(L, &v)) != 0 || (n = verify_check_date(L, &v)) != 0 ||
        (n = verify_check_body(L, &v)) != 0 || (n = verify_push_key(L)) != 0 ||
        (n = verify_check_signature(L, &v)) != 0)
        return n;
    lua_pushboolean(L, 1);
    lua_pushvalue(L, VERIFY_ID);
    return 2;
}

static void verify_open(lua_State *L) {
    static const luaL_Reg funcs[] = {
        {"verify", verify_l_verify},
        {NULL, NULL},
    };
    luaL_setfuncs(L, funcs, 0);
}

#endif
