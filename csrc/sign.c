/* sign.c: api-auth request signing (client side) and verification (server side, for the mock).
 *   core.sign(req)                  -> headers, canonical_string
 *   core.verify(req, secret, opts)  -> true, access_id | nil, reason
 * Canonical string: METHOD,content-type,content-hash,request-uri,timestamp (the legacy form drops
 * METHOD); the method is upper-cased as api-auth does. Authorization: "APIAuth <id>:<b64 HMAC-SHA1>"
 * or "APIAuth-HMAC-SHA256 <id>:<b64 HMAC-SHA256>" ("APIAuth-HMAC-SHA1" is read as SHA-1 too).
 * sign: req = { method, request_uri, access_id, secret, content_type?, body?, date? (HTTP-date or
 *   epoch; now when absent), digest? ("sha1"), content_hash? ("none"|"md5"|"sha256"),
 *   with_method? (true), date_header? ("Date"|"X-HMAC-Date"|"both") }. Bad input raises: these are
 *   programming errors. An empty content_type or body counts as absent.
 * verify: req = { method, request_uri, headers (names in any case), body? }; secret is a string or
 *   a function(access_id) -> secret|nil; opts = { clock_skew? (900), with_method? (true), now?
 *   (epoch to check the date against), digest? (accept only this digest; both by default) }.
 *   X-HMAC-Date wins over Date. A Content-MD5 or X-Authorization-Content-SHA256 header must match
 *   the body and its value is the canonical content hash; with both present, both must match and
 *   the SHA-256 one is signed. A header name given twice (in different cases) is rejected.
 * Every argument is read onto the Lua stack and checked before anything is computed; nothing here
 * mallocs (buffers are on the C stack or luaL_Buffer), so raising is always safe. Error messages and
 * reasons are fixed texts that never quote the secret, the signature or request values. */
#include "compat.h"

#include <string.h>

#include <openssl/crypto.h>

#define SIGN_DEFAULT_SKEW 900.0

/* Stack slots used by l_sign, in the order the fields are pushed. */
enum {
    SG_REQ = 1,
    SG_METHOD,
    SG_URI,
    SG_ID,
    SG_SECRET,
    SG_CTYPE,
    SG_BODY,
    SG_DATE,
    SG_DIGEST,
    SG_HASH,
    SG_WITH_METHOD,
    SG_DATE_HEADER,
    SG_DATE_STR, /* the timestamp actually signed */
    SG_HASH_STR, /* the content-hash part ("" when none) */
    SG_CANON,
    SG_TOP = SG_CANON
};

static const char *const sign_fields[] = {"method", "request_uri", "access_id",    "secret",
                                          "content_type", "body", "date", "digest",
                                          "content_hash", "with_method", "date_header"};

/* RFC 7230 tchar. */
static int sign_is_tchar(unsigned char c) {
    if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')) return 1;
    return c != '\0' && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

static int sign_is_token(const char *s, size_t len) {
    size_t i;
    if (len == 0) return 0;
    for (i = 0; i < len; i++)
        if (!sign_is_tchar((unsigned char)s[i])) return 0;
    return 1;
}

/* A header value: no control characters (CR, LF and NUL above all) except HTAB, no DEL. */
static int sign_is_field_value(const char *s, size_t len) {
    size_t i;
    for (i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if ((c < 0x20 && c != '\t') || c == 0x7f) return 0;
    }
    return 1;
}

/* An access id: visible ASCII without ':' (the Authorization header splits on it). */
static int sign_is_access_id(const char *s, size_t len) {
    size_t i;
    if (len == 0) return 0;
    for (i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c <= 0x20 || c >= 0x7f || c == ':') return 0;
    }
    return 1;
}

/* A request-target in origin form: starts with '/', visible ASCII only. */
static int sign_is_request_uri(const char *s, size_t len) {
    size_t i;
    if (len == 0 || s[0] != '/') return 0;
    for (i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c <= 0x20 || c >= 0x7f) return 0;
    }
    return 1;
}

/* Index of the string at idx in the NULL-terminated list, def when nil, -1 when neither. The whole
 * Lua string is compared: "sha1\0x" is not "sha1". */
static int sign_choice(lua_State *L, int idx, const char *const *list, int def) {
    int i;
    size_t len;
    const char *s;
    if (lua_isnil(L, idx)) return def;
    if (lua_type(L, idx) != LUA_TSTRING) return -1;
    s = lua_tolstring(L, idx, &len);
    for (i = 0; list[i] != NULL; i++)
        if (strlen(list[i]) == len && memcmp(s, list[i], len) == 0) return i;
    return -1;
}

static const char *const sign_digests[] = {"sha1", "sha256", NULL};
static const char *const sign_hashes[] = {"none", "md5", "sha256", NULL};
static const char *const sign_date_headers[] = {"Date", "X-HMAC-Date", "both", NULL};

/* Pushes the canonical string. */
static void sign_push_canonical(lua_State *L, int with_method, const char *method, size_t mlen,
                                const char *ctype, size_t clen, const char *hash, size_t hlen,
                                const char *uri, size_t ulen, const char *date, size_t dlen) {
    luaL_Buffer b;
    size_t i;
    luaL_buffinit(L, &b);
    if (with_method) {
        for (i = 0; i < mlen; i++) {
            char c = method[i];
            luaL_addchar(&b, (c >= 'a' && c <= 'z') ? (char)(c - 'a' + 'A') : c);
        }
        luaL_addchar(&b, ',');
    }
    luaL_addlstring(&b, ctype, clen);
    luaL_addchar(&b, ',');
    luaL_addlstring(&b, hash, hlen);
    luaL_addchar(&b, ',');
    luaL_addlstring(&b, uri, ulen);
    luaL_addchar(&b, ',');
    luaL_addlstring(&b, date, dlen);
    luaL_pushresult(&b);
}

/* Base64 of a digest of data into out (CRYPTO_MAX_MD_B64 bytes); returns the length or 0. */
static size_t sign_b64_digest(const EVP_MD *md, const char *data, size_t len, char *out) {
    unsigned char raw[CRYPTO_MAX_MD];
    unsigned n = crypto_digest(md, data, len, raw);
    if (n == 0) return 0;
    return crypto_b64_encode(raw, n, (unsigned char *)out);
}

/* Base64 HMAC of the string at canon_idx into out (CRYPTO_MAX_MD_B64 bytes); returns the length or 0. */
static size_t sign_b64_mac(lua_State *L, const EVP_MD *md, const char *key, size_t keylen, int canon_idx,
                           char *out) {
    unsigned char raw[CRYPTO_MAX_MD];
    size_t clen;
    const char *canon = lua_tolstring(L, canon_idx, &clen);
    unsigned n = crypto_hmac(md, key, keylen, canon, clen, raw);
    if (n == 0) return 0;
    return crypto_b64_encode(raw, n, (unsigned char *)out);
}

#define SIGN_FAIL(what) luaL_error(L, "clinch.core.sign: %s", (what))

static int l_sign(lua_State *L) {
    size_t mlen, ulen, idlen, keylen, clen = 0, blen = 0, dlen, hlen;
    const char *method, *uri, *id, *key, *ctype = "", *body = "", *date;
    int digest, hash, with_method, date_header;
    size_t i;
    char datebuf[HTTPDATE_LEN + 1], hashbuf[CRYPTO_MAX_MD_B64], sigbuf[CRYPTO_MAX_MD_B64];
    size_t siglen;
    luaL_Buffer b;

    luaL_checktype(L, 1, LUA_TTABLE);
    lua_settop(L, 1);
    luaL_checkstack(L, SG_TOP + 8, "clinch.core.sign");
    for (i = 0; i < sizeof sign_fields / sizeof sign_fields[0]; i++) lua_getfield(L, SG_REQ, sign_fields[i]);

    /* Validate everything first. */
    if (lua_type(L, SG_METHOD) != LUA_TSTRING) return SIGN_FAIL("req.method must be a string");
    method = lua_tolstring(L, SG_METHOD, &mlen);
    if (!sign_is_token(method, mlen)) return SIGN_FAIL("req.method must be an HTTP token such as \"GET\"");

    if (lua_type(L, SG_URI) != LUA_TSTRING) return SIGN_FAIL("req.request_uri must be a string");
    uri = lua_tolstring(L, SG_URI, &ulen);
    if (!sign_is_request_uri(uri, ulen))
        return SIGN_FAIL("req.request_uri must start with '/' and hold only visible ASCII (no spaces, CR, LF or NUL)");

    if (lua_type(L, SG_ID) != LUA_TSTRING) return SIGN_FAIL("req.access_id is missing (a string is required)");
    id = lua_tolstring(L, SG_ID, &idlen);
    if (!sign_is_access_id(id, idlen))
        return SIGN_FAIL("req.access_id must be non-empty visible ASCII without ':' (no spaces, CR, LF or NUL)");

    if (lua_type(L, SG_SECRET) != LUA_TSTRING) return SIGN_FAIL("req.secret is missing (a string is required)");
    key = lua_tolstring(L, SG_SECRET, &keylen);
    if (keylen == 0 || keylen > INT_MAX) return SIGN_FAIL("req.secret must be a non-empty string");

    if (!lua_isnil(L, SG_CTYPE)) {
        if (lua_type(L, SG_CTYPE) != LUA_TSTRING) return SIGN_FAIL("req.content_type must be a string");
        ctype = lua_tolstring(L, SG_CTYPE, &clen);
        if (!sign_is_field_value(ctype, clen))
            return SIGN_FAIL("req.content_type must not contain CR, LF, NUL or other control characters");
    }
    if (!lua_isnil(L, SG_BODY)) {
        if (lua_type(L, SG_BODY) != LUA_TSTRING) return SIGN_FAIL("req.body must be a string");
        body = lua_tolstring(L, SG_BODY, &blen);
    }

    if (lua_isnil(L, SG_DATE)) {
        if (!httpdate_format(httpdate_now(), datebuf)) return SIGN_FAIL("the system clock is out of range");
        lua_pushlstring(L, datebuf, HTTPDATE_LEN);
    } else if (lua_type(L, SG_DATE) == LUA_TNUMBER) {
        int64_t epoch;
        if (!httpdate_toepoch(L, SG_DATE, &epoch) || !httpdate_format(epoch, datebuf))
            return SIGN_FAIL("req.date must be an epoch between years 0001 and 9999");
        lua_pushlstring(L, datebuf, HTTPDATE_LEN);
    } else if (lua_type(L, SG_DATE) == LUA_TSTRING) {
        int64_t epoch;
        const char *why;
        date = lua_tolstring(L, SG_DATE, &dlen);
        if (!sign_is_field_value(date, dlen) || !httpdate_parse(date, dlen, httpdate_now(), &epoch, &why))
            return SIGN_FAIL("req.date is not a valid HTTP-date (e.g. \"Thu, 01 Jan 1970 00:00:00 GMT\")");
        lua_pushvalue(L, SG_DATE);
    } else {
        return SIGN_FAIL("req.date must be an HTTP-date string or an epoch number");
    }
    /* SG_DATE_STR is now on the stack. */

    if ((digest = sign_choice(L, SG_DIGEST, sign_digests, 0)) < 0)
        return SIGN_FAIL("req.digest must be \"sha1\" or \"sha256\"");
    if ((hash = sign_choice(L, SG_HASH, sign_hashes, 0)) < 0)
        return SIGN_FAIL("req.content_hash must be \"none\", \"md5\" or \"sha256\"");
    if (lua_isnil(L, SG_WITH_METHOD)) {
        with_method = 1;
    } else if (lua_type(L, SG_WITH_METHOD) == LUA_TBOOLEAN) {
        with_method = lua_toboolean(L, SG_WITH_METHOD);
    } else {
        return SIGN_FAIL("req.with_method must be a boolean");
    }
    if ((date_header = sign_choice(L, SG_DATE_HEADER, sign_date_headers, 0)) < 0)
        return SIGN_FAIL("req.date_header must be \"Date\", \"X-HMAC-Date\" or \"both\"");

    /* Compute. */
    hlen = 0;
    hashbuf[0] = '\0';
    if (hash == 1 || (hash == 2 && blen > 0)) {
        hlen = sign_b64_digest(hash == 1 ? EVP_md5() : EVP_sha256(), body, blen, hashbuf);
        if (hlen == 0) return SIGN_FAIL("digest computation failed");
    }
    lua_pushlstring(L, hashbuf, hlen); /* SG_HASH_STR */
    date = lua_tolstring(L, SG_DATE_STR, &dlen);
    sign_push_canonical(L, with_method, method, mlen, ctype, clen, hashbuf, hlen, uri, ulen, date, dlen);
    siglen = sign_b64_mac(L, digest == 1 ? EVP_sha256() : EVP_sha1(), key, keylen, SG_CANON, sigbuf);
    if (siglen == 0) return SIGN_FAIL("HMAC computation failed");

    lua_createtable(L, 0, 5);
    luaL_buffinit(L, &b);
    luaL_addstring(&b, digest == 1 ? "APIAuth-HMAC-SHA256 " : "APIAuth ");
    luaL_addlstring(&b, id, idlen);
    luaL_addchar(&b, ':');
    luaL_addlstring(&b, sigbuf, siglen);
    luaL_pushresult(&b);
    lua_setfield(L, -2, "Authorization");
    if (date_header != 1) {
        lua_pushvalue(L, SG_DATE_STR);
        lua_setfield(L, -2, "Date");
    }
    if (date_header != 0) {
        lua_pushvalue(L, SG_DATE_STR);
        lua_setfield(L, -2, "X-HMAC-Date");
    }
    if (hlen > 0) {
        lua_pushvalue(L, SG_HASH_STR);
        lua_setfield(L, -2, hash == 1 ? "Content-MD5" : "X-Authorization-Content-SHA256");
    }
    if (clen > 0) {
        lua_pushvalue(L, SG_CTYPE);
        lua_setfield(L, -2, "Content-Type");
    }
    lua_pushvalue(L, SG_CANON);
    return 2;
}

/* ---- verification ---- */

/* Stack slots used by l_verify. */
enum {
    VF_REQ = 1,
    VF_SECRET,
    VF_OPTS,
    VF_METHOD,
    VF_URI,
    VF_HEADERS,
    VF_BODY,
    VF_SKEW,
    VF_WITH_METHOD,
    VF_NOW,
    VF_DIGEST,
    VF_H_AUTH, /* header values, in the order of verify_headers */
    VF_H_DATE,
    VF_H_HMAC_DATE,
    VF_H_CTYPE,
    VF_H_MD5,
    VF_H_SHA256,
    VF_ID,
    VF_KEY,
    VF_CANON,
    VF_TOP = VF_CANON
};

static const char *const verify_headers[] = {"authorization", "date", "x-hmac-date", "content-type",
                                             "content-md5", "x-authorization-content-sha256"};
#define VERIFY_NHEADERS ((int)(sizeof verify_headers / sizeof verify_headers[0]))

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

static int l_verify(lua_State *L) {
    size_t mlen, ulen, blen = 0, alen, idlen, keylen, clen = 0, dlen, hlen = 0;
    const char *method, *uri, *body = "", *auth, *p, *colon, *sigtext, *ctype = "", *date, *hash = "";
    const EVP_MD *md;
    lua_Number skew = SIGN_DEFAULT_SKEW;
    int with_method = 1, want_digest = -1, digest, k, match;
    int64_t now, when, diff;
    const char *why;
    unsigned char given[CRYPTO_MAX_MD + 3], expected[CRYPTO_MAX_MD];
    unsigned explen;
    long long glen;

    luaL_checktype(L, VF_REQ, LUA_TTABLE);
    if (lua_type(L, VF_SECRET) != LUA_TSTRING && lua_type(L, VF_SECRET) != LUA_TFUNCTION)
        return luaL_argerror(L, VF_SECRET, "secret must be a string or a function(access_id)");
    if (!lua_isnoneornil(L, VF_OPTS) && lua_type(L, VF_OPTS) != LUA_TTABLE)
        return luaL_argerror(L, VF_OPTS, "opts must be a table or nil");
    lua_settop(L, VF_OPTS);
    luaL_checkstack(L, VF_TOP + 8, "clinch.core.verify");
    lua_getfield(L, VF_REQ, "method");
    lua_getfield(L, VF_REQ, "request_uri");
    lua_getfield(L, VF_REQ, "headers");
    lua_getfield(L, VF_REQ, "body");
    if (lua_istable(L, VF_OPTS)) {
        lua_getfield(L, VF_OPTS, "clock_skew");
        lua_getfield(L, VF_OPTS, "with_method");
        lua_getfield(L, VF_OPTS, "now");
        lua_getfield(L, VF_OPTS, "digest");
    } else {
        lua_settop(L, VF_DIGEST);
    }
    lua_settop(L, VF_H_SHA256); /* header slots start as nil */

    /* Programming errors: wrong argument shapes. */
    if (lua_type(L, VF_METHOD) != LUA_TSTRING) return VERIFY_ARGFAIL("req.method must be a string");
    method = lua_tolstring(L, VF_METHOD, &mlen);
    if (lua_type(L, VF_URI) != LUA_TSTRING) return VERIFY_ARGFAIL("req.request_uri must be a string");
    uri = lua_tolstring(L, VF_URI, &ulen);
    if (!lua_istable(L, VF_HEADERS)) return VERIFY_ARGFAIL("req.headers must be a table");
    if (!lua_isnil(L, VF_BODY)) {
        if (lua_type(L, VF_BODY) != LUA_TSTRING) return VERIFY_ARGFAIL("req.body must be a string or nil");
        body = lua_tolstring(L, VF_BODY, &blen);
    }
    if (!lua_isnil(L, VF_SKEW)) {
        if (lua_type(L, VF_SKEW) != LUA_TNUMBER || !(lua_tonumber(L, VF_SKEW) >= 0))
            return VERIFY_ARGFAIL("opts.clock_skew must be a number of seconds >= 0");
        skew = lua_tonumber(L, VF_SKEW);
    }
    if (!lua_isnil(L, VF_WITH_METHOD)) {
        if (lua_type(L, VF_WITH_METHOD) != LUA_TBOOLEAN) return VERIFY_ARGFAIL("opts.with_method must be a boolean");
        with_method = lua_toboolean(L, VF_WITH_METHOD);
    }
    if (lua_isnil(L, VF_NOW)) {
        now = httpdate_now();
    } else if (!httpdate_toepoch(L, VF_NOW, &now)) {
        return VERIFY_ARGFAIL("opts.now must be an epoch number");
    }
    if (!lua_isnil(L, VF_DIGEST) && (want_digest = sign_choice(L, VF_DIGEST, sign_digests, 0)) < 0)
        return VERIFY_ARGFAIL("opts.digest must be \"sha1\" or \"sha256\"");
    if (lua_type(L, VF_SECRET) == LUA_TSTRING) {
        lua_tolstring(L, VF_SECRET, &keylen);
        if (keylen == 0 || keylen > INT_MAX) return luaL_argerror(L, VF_SECRET, "secret must not be empty");
    }

    /* Collect the headers we need, case-insensitively; a name given twice is ambiguous. */
    lua_pushnil(L);
    while (lua_next(L, VF_HEADERS) != 0) {
        if (lua_type(L, -2) == LUA_TSTRING) {
            size_t nlen;
            const char *name = lua_tolstring(L, -2, &nlen);
            for (k = 0; k < VERIFY_NHEADERS; k++) {
                if (!verify_name_is(name, nlen, verify_headers[k])) continue;
                if (lua_type(L, -1) != LUA_TSTRING) return verify_reject(L, "malformed header value");
                if (!lua_isnil(L, VF_H_AUTH + k)) return verify_reject(L, "header given more than once");
                lua_pushvalue(L, -1);
                lua_replace(L, VF_H_AUTH + k);
                break;
            }
        }
        lua_pop(L, 1);
    }

    /* Authorization: APIAuth[-HMAC-<DIGEST>] <id>:<signature> */
    if (lua_isnil(L, VF_H_AUTH)) return verify_reject(L, "missing Authorization header");
    auth = lua_tolstring(L, VF_H_AUTH, &alen);
    if (alen < 8 || memcmp(auth, "APIAuth", 7) != 0) return verify_reject(L, "malformed Authorization header");
    p = auth + 7;
    if (*p == ' ') {
        digest = 0;
        p++;
    } else if (strncmp(p, "-HMAC-SHA1 ", 11) == 0) {
        digest = 0;
        p += 11;
    } else if (strncmp(p, "-HMAC-SHA256 ", 13) == 0) {
        digest = 1;
        p += 13;
    } else if (strncmp(p, "-HMAC-", 6) == 0) {
        return verify_reject(L, "unsupported digest in Authorization header");
    } else {
        return verify_reject(L, "malformed Authorization header");
    }
    if (want_digest >= 0 && digest != want_digest) return verify_reject(L, "digest not accepted");
    colon = memchr(p, ':', alen - (size_t)(p - auth));
    if (colon == NULL || colon == p) return verify_reject(L, "malformed Authorization header");
    idlen = (size_t)(colon - p);
    if (!sign_is_access_id(p, idlen)) return verify_reject(L, "malformed Authorization header");
    sigtext = colon + 1;
    md = digest == 1 ? EVP_sha256() : EVP_sha1();
    /* The signature is the padded Base64 of exactly one MAC. */
    if (alen - (size_t)(sigtext - auth) != crypto_b64_len((size_t)EVP_MD_get_size(md)))
        return verify_reject(L, "malformed signature in Authorization header");
    glen = crypto_b64_decode((const unsigned char *)sigtext, alen - (size_t)(sigtext - auth), given, &why);
    if (glen != EVP_MD_get_size(md)) return verify_reject(L, "malformed signature in Authorization header");
    lua_pushlstring(L, p, idlen); /* VF_ID */

    /* Timestamp: X-HMAC-Date wins over Date. */
    k = lua_isnil(L, VF_H_HMAC_DATE) ? VF_H_DATE : VF_H_HMAC_DATE;
    if (lua_isnil(L, k)) return verify_reject(L, "missing Date header");
    date = lua_tolstring(L, k, &dlen);
    if (!httpdate_parse(date, dlen, now, &when, &why)) return verify_reject(L, "invalid Date header");
    diff = when > now ? when - now : now - when;
    if ((lua_Number)diff > skew) return verify_reject(L, "request date is outside the allowed clock skew");

    /* Body hashes: checked when their header is present; the SHA-256 one is the canonical part. */
    if (!lua_isnil(L, VF_H_MD5)) {
        char buf[CRYPTO_MAX_MD_B64];
        size_t n = sign_b64_digest(EVP_md5(), body, blen, buf);
        hash = lua_tolstring(L, VF_H_MD5, &hlen);
        if (n == 0) return verify_reject(L, "cannot check Content-MD5: OpenSSL could not compute MD5");
        if (!verify_equal(hash, hlen, buf, n)) return verify_reject(L, "Content-MD5 does not match the body");
    }
    if (!lua_isnil(L, VF_H_SHA256)) {
        char buf[CRYPTO_MAX_MD_B64];
        size_t n = sign_b64_digest(EVP_sha256(), body, blen, buf);
        hash = lua_tolstring(L, VF_H_SHA256, &hlen);
        if (n == 0)
            return verify_reject(L, "cannot check X-Authorization-Content-SHA256: OpenSSL could not compute SHA-256");
        if (!verify_equal(hash, hlen, buf, n))
            return verify_reject(L, "X-Authorization-Content-SHA256 does not match the body");
    }
    if (!lua_isnil(L, VF_H_CTYPE)) ctype = lua_tolstring(L, VF_H_CTYPE, &clen);

    /* The secret, last: a lookup function only runs for otherwise well-formed requests. */
    if (lua_type(L, VF_SECRET) == LUA_TFUNCTION) {
        lua_pushvalue(L, VF_SECRET);
        lua_pushvalue(L, VF_ID);
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
        lua_pushvalue(L, VF_SECRET);
    } /* VF_KEY */

    auth = lua_tolstring(L, VF_H_AUTH, &alen);
    date = lua_tolstring(L, k, &dlen);
    if (!lua_isnil(L, VF_H_SHA256)) {
        hash = lua_tolstring(L, VF_H_SHA256, &hlen);
    } else if (!lua_isnil(L, VF_H_MD5)) {
        hash = lua_tolstring(L, VF_H_MD5, &hlen);
    } else {
        hash = "";
        hlen = 0;
    }
    if (!lua_isnil(L, VF_H_CTYPE)) ctype = lua_tolstring(L, VF_H_CTYPE, &clen);
    method = lua_tolstring(L, VF_METHOD, &mlen);
    uri = lua_tolstring(L, VF_URI, &ulen);
    sign_push_canonical(L, with_method, method, mlen, ctype, clen, hash, hlen, uri, ulen, date, dlen);
    {
        const char *key = lua_tolstring(L, VF_KEY, &keylen);
        size_t canonlen;
        const char *canon = lua_tolstring(L, VF_CANON, &canonlen);
        explen = crypto_hmac(md, key, keylen, canon, canonlen, expected);
    }
    if (explen == 0) return verify_reject(L, "cannot check the signature: OpenSSL could not compute the HMAC");
    if ((long long)explen != glen) return verify_reject(L, "signature does not match");
    match = CRYPTO_memcmp(given, expected, explen) == 0;
    OPENSSL_cleanse(expected, sizeof expected);
    if (!match) return verify_reject(L, "signature does not match");
    lua_pushboolean(L, 1);
    lua_pushvalue(L, VF_ID);
    return 2;
}

static void open_sign(lua_State *L) {
    static const luaL_Reg funcs[] = {
        {"sign", l_sign},
        {"verify", l_verify},
        {NULL, NULL},
    };
    luaL_setfuncs(L, funcs, 0);
}
