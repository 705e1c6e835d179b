/* sign.c: api-auth request signing (client side); verify.c checks signatures (server side, for the
 * mock) with the helpers here.
 *   core.sign(req)                  -> headers, canonical_string
 *   core.sign_fields(method, ...)   -> the same, req's fields as arguments (sign_l_sign_fields)
 * Canonical string: METHOD,content-type,content-hash,request-uri,timestamp (the legacy form drops
 * METHOD); the method is upper-cased as api-auth does. Authorization: "APIAuth <id>:<b64 HMAC-SHA1>"
 * or "APIAuth-HMAC-SHA256 <id>:<b64 HMAC-SHA256>" ("APIAuth-HMAC-SHA1" is read as SHA-1 too).
 * sign: req = { method, request_uri, access_id, secret, content_type?, body?, date? (HTTP-date or
 *   epoch; now when absent), digest? ("sha1"), content_hash? ("none"|"md5"|"sha256"),
 *   with_method? (true), date_header? ("Date"|"X-HMAC-Date"|"both") }. Bad input raises: these are
 *   programming errors. An empty content_type or body counts as absent.
 * Every argument is read onto the Lua stack and checked before anything is computed; nothing here
 * mallocs (buffers are on the C stack, in a scratch userdata or a luaL_Buffer), so raising is always
 * safe. Error messages and reasons are fixed texts that never quote the secret, the signature or
 * request values. */
#ifndef CLINCH_SIGN_C
#define CLINCH_SIGN_C

#include "compat.h"

#include <limits.h>
#include <stdint.h>
#include <string.h>

#include <openssl/evp.h>

#include "crypto.c"
#include "httpdate.c"

/* The fields of a sign request, X(slot, name): l_sign reads req[name] into stack slot SIGN_<slot>, in
 * this order, right after the request itself. */
#define SIGN_FIELD_LIST(X)         \
    X(METHOD, "method")            \
    X(URI, "request_uri")          \
    X(ID, "access_id")             \
    X(SECRET, "secret")            \
    X(CTYPE, "content_type")       \
    X(BODY, "body")                \
    X(DATE, "date")                \
    X(DIGEST, "digest")            \
    X(HASH, "content_hash")        \
    X(WITH_METHOD, "with_method")  \
    X(DATE_HEADER, "date_header")

#define SIGN_SLOT(slot, name) SIGN_##slot,
#define SIGN_NAME(slot, name) name,

/* Stack slots used by sign_l_sign, in the order the fields are pushed. */
enum {
    SIGN_REQ = 1,
    SIGN_FIELD_LIST(SIGN_SLOT)
    SIGN_DATE_STR, /* the timestamp actually signed */
    SIGN_HASH_STR, /* the content-hash part ("" when none) */
    SIGN_CANON,
    SIGN_TOP = SIGN_CANON
};

static const char *const sign_fields[] = {SIGN_FIELD_LIST(SIGN_NAME)};
#define SIGN_NFIELDS (sizeof sign_fields / sizeof sign_fields[0])

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

/* The canonical string's pieces: the method (when with_method), content-type, content-hash, request-uri
 * and timestamp. */
typedef struct {
    int with_method;
    const char *method, *ctype, *hash, *uri, *date;
    size_t mlen, clen, hlen, ulen, dlen;
} sign_canon;

/* The canonical string's length. */
static size_t sign_canon_len(const sign_canon *c) {
    return (c->with_method ? c->mlen + 1 : 0) + c->clen + 1 + c->hlen + 1 + c->ulen + 1 + c->dlen;
}

static size_t sign_put(char *out, size_t n, const char *s, size_t len, int comma) {
    memcpy(out + n, s, len);
    n += len;
    if (comma) out[n++] = ',';
    return n;
}

/* Writes the canonical string into out (sign_canon_len bytes), the method upper-cased as api-auth does. */
static void sign_write_canon(const sign_canon *c, char *out) {
    size_t n = 0, i;
    if (c->with_method) {
        for (i = 0; i < c->mlen; i++) {
            char ch = c->method[i];
            out[n++] = (ch >= 'a' && ch <= 'z') ? (char)(ch - 'a' + 'A') : ch;
        }
        out[n++] = ',';
    }
    n = sign_put(out, n, c->ctype, c->clen, 1);
    n = sign_put(out, n, c->hash, c->hlen, 1);
    n = sign_put(out, n, c->uri, c->ulen, 1);
    sign_put(out, n, c->date, c->dlen, 0);
}

/* Canonical strings up to this size are written on the C stack; longer ones into a scratch userdata. */
#define SIGN_CANON_MAX CRYPTO_HMAC_MSG_MAX

/* Pushes the canonical string of c. */
static void sign_push_canon(lua_State *L, const sign_canon *c) {
    size_t n = sign_canon_len(c);
    char buf[SIGN_CANON_MAX];
    char *out = n <= sizeof buf ? buf : (char *)lua_newuserdata(L, n); /* collected: raising stays safe */
    sign_write_canon(c, out);
    lua_pushlstring(L, out, n);
    if (out != buf) lua_remove(L, -2);
}

/* Pushes the canonical string (verify.c's entry). */
static void sign_push_canonical(lua_State *L, int with_method, const char *method, size_t mlen,
                                const char *ctype, size_t clen, const char *hash, size_t hlen,
                                const char *uri, size_t ulen, const char *date, size_t dlen) {
    const sign_canon c = {with_method, method, ctype, hash, uri, date, mlen, clen, hlen, ulen, dlen};
    sign_push_canon(L, &c);
}

/* Base64 of a digest of data into out (CRYPTO_MAX_MD_B64 bytes); returns the length or 0. */
static size_t sign_b64_digest(const EVP_MD *md, const char *data, size_t len, char *out) {
    unsigned char raw[CRYPTO_MAX_MD];
    unsigned n = crypto_digest(md, data, len, raw);
    if (n == 0) return 0;
    return crypto_b64_encode(raw, n, (unsigned char *)out);
}

/* What core.sign keeps between calls (its upvalue, one per Lua state): the HMAC contexts (with the last
 * canonical string signed and its MAC: within one second a client repeating a request signs the same
 * string), and the HTTP-date of the last second it signed in (formatting it again each call costs as
 * much as the rest of the date handling). */
/* It also remembers the Lua strings of the last signature (in the memo table, upvalue 2: the date of
 * date_epoch, the canonical string and the Authorization value, with the header names), so that the
 * same request again within that second interns no new string: the canonical string is built in a C
 * buffer and compared with the last one's bytes, and the Authorization value is the last one when its
 * parts (digest, access id, MAC) are the same. The memo holds nothing secret: all of it is sent. */
#define SIGN_CACHE_MT "clinch.sign_cache"
#define SIGN_MEMO_ID_MAX 128               /* longer access ids: the Authorization value is not kept */
typedef struct {
    crypto_hmac_cache hmac;
    int64_t date_epoch;
    char date[HTTPDATE_LEN + 1];
    int auth_digest;          /* of the Authorization value in the memo; -1: none there */
    unsigned auth_maclen;
    unsigned char auth_mac[CRYPTO_MAX_MD];
    size_t auth_idlen;
    char auth_id[SIGN_MEMO_ID_MAX];
} sign_cache;

/* The memo table's slots (see sign_cache). */
enum {
    SIGN_MEMO_DATE = 1, /* the HTTP-date of date_epoch */
    SIGN_MEMO_CANON,    /* the last canonical string built in a C buffer */
    SIGN_MEMO_AUTH,     /* the Authorization value of auth_digest, auth_id and auth_mac */
    SIGN_MEMO_NAMES     /* the header names, in sign_header_names' order */
};
#define SIGN_MEMO_INDEX lua_upvalueindex(2)
enum { SIGN_H_AUTH, SIGN_H_DATE, SIGN_H_XDATE, SIGN_H_MD5, SIGN_H_SHA256, SIGN_H_CTYPE, SIGN_NHEADERS };
static const char *const sign_header_names[] = {"Authorization", "Date", "X-HMAC-Date", "Content-MD5",
                                                "X-Authorization-Content-SHA256", "Content-Type"};

static int sign_l_cache_gc(lua_State *L) {
    crypto_hmac_cache_free(&((sign_cache *)luaL_checkudata(L, 1, SIGN_CACHE_MT))->hmac);
    return 0;
}

static sign_cache *sign_get_cache(lua_State *L) {
    return (sign_cache *)lua_touserdata(L, lua_upvalueindex(1));
}

/* What sign_l_sign read from the request (the strings are anchored in their stack slots). */
typedef struct {
    const char *method, *uri, *id, *key, *ctype, *body;
    size_t mlen, ulen, idlen, keylen, clen, blen;
    int digest, hash, with_method, date_header; /* indexes into sign_digests, sign_hashes, ... */
} sign_req;

/* Pushes the canonical string (SIGN_CANON) and returns its bytes in *canon, *clen (anchored by it). Written
 * in buf when it fits: the same bytes as the memo's give the memo's string (no new string interned). */
static void sign_push_canonical_memo(lua_State *L, const sign_req *r, const char *hash, size_t hlen, const char *date,
                                     size_t dlen, char *buf, const char **canon, size_t *clen) {
    const sign_canon c = {r->with_method, r->method, r->ctype, hash, r->uri, date, r->mlen, r->clen, hlen, r->ulen,
                          dlen};
    size_t n = sign_canon_len(&c), mlen;
    const char *memo;
    if (n > SIGN_CANON_MAX) {
        sign_push_canon(L, &c);
    } else {
        sign_write_canon(&c, buf);
        lua_rawgeti(L, SIGN_MEMO_INDEX, SIGN_MEMO_CANON);
        memo = lua_type(L, -1) == LUA_TSTRING ? lua_tolstring(L, -1, &mlen) : NULL;
        if (!memo || mlen != n || memcmp(memo, buf, n) != 0) {
            lua_pop(L, 1);
            lua_pushlstring(L, buf, n);
            lua_pushvalue(L, -1);
            lua_rawseti(L, SIGN_MEMO_INDEX, SIGN_MEMO_CANON);
        }
    }
    *canon = lua_tolstring(L, -1, clen);
}

#define SIGN_FAIL(what) luaL_error(L, "clinch.core.sign: %s", (what))

/* Checks the string fields, method to body, and fills r. Raises on bad input. */
static inline void sign_check_strings(lua_State *L, sign_req *r) {
    if (lua_type(L, SIGN_METHOD) != LUA_TSTRING) SIGN_FAIL("req.method must be a string");
    r->method = lua_tolstring(L, SIGN_METHOD, &r->mlen);
    if (!sign_is_token(r->method, r->mlen)) SIGN_FAIL("req.method must be an HTTP token such as \"GET\"");

    if (lua_type(L, SIGN_URI) != LUA_TSTRING) SIGN_FAIL("req.request_uri must be a string");
    r->uri = lua_tolstring(L, SIGN_URI, &r->ulen);
    if (!sign_is_request_uri(r->uri, r->ulen))
        SIGN_FAIL("req.request_uri must start with '/' and hold only visible ASCII (no spaces, CR, LF or NUL)");

    if (lua_type(L, SIGN_ID) != LUA_TSTRING) SIGN_FAIL("req.access_id is missing (a string is required)");
    r->id = lua_tolstring(L, SIGN_ID, &r->idlen);
    if (!sign_is_access_id(r->id, r->idlen))
        SIGN_FAIL("req.access_id must be non-empty visible ASCII without ':' (no spaces, CR, LF or NUL)");

    if (lua_type(L, SIGN_SECRET) != LUA_TSTRING) SIGN_FAIL("req.secret is missing (a string is required)");
    r->key = lua_tolstring(L, SIGN_SECRET, &r->keylen);
    if (r->keylen == 0 || r->keylen > INT_MAX) SIGN_FAIL("req.secret must be a non-empty string");

    r->ctype = "";
    r->clen = 0;
    if (!lua_isnil(L, SIGN_CTYPE)) {
        if (lua_type(L, SIGN_CTYPE) != LUA_TSTRING) SIGN_FAIL("req.content_type must be a string");
        r->ctype = lua_tolstring(L, SIGN_CTYPE, &r->clen);
        if (!sign_is_field_value(r->ctype, r->clen))
            SIGN_FAIL("req.content_type must not contain CR, LF, NUL or other control characters");
    }
    r->body = "";
    r->blen = 0;
    if (!lua_isnil(L, SIGN_BODY)) {
        if (lua_type(L, SIGN_BODY) != LUA_TSTRING) SIGN_FAIL("req.body must be a string");
        r->body = lua_tolstring(L, SIGN_BODY, &r->blen);
    }
}

/* Pushes the timestamp to sign (SIGN_DATE_STR): req.date as given, or formatted from an epoch or from
 * the clock. Raises on bad input. */
static inline void sign_push_date(lua_State *L) {
    char datebuf[HTTPDATE_LEN + 1];
    if (lua_isnil(L, SIGN_DATE)) {
        sign_cache *c = sign_get_cache(L);
        int64_t now = httpdate_now();
        if (now != c->date_epoch || !c->date[0]) {
            if (!httpdate_format(now, c->date)) SIGN_FAIL("the system clock is out of range");
            c->date_epoch = now;
            lua_pushlstring(L, c->date, HTTPDATE_LEN);
            lua_pushvalue(L, -1);
            lua_rawseti(L, SIGN_MEMO_INDEX, SIGN_MEMO_DATE);
        } else {
            lua_rawgeti(L, SIGN_MEMO_INDEX, SIGN_MEMO_DATE); /* the string of that second */
        }
    } else if (lua_type(L, SIGN_DATE) == LUA_TNUMBER) {
        int64_t epoch;
        if (!httpdate_toepoch(L, SIGN_DATE, &epoch) || !httpdate_format(epoch, datebuf))
            SIGN_FAIL("req.date must be an epoch between years 0001 and 9999");
        lua_pushlstring(L, datebuf, HTTPDATE_LEN);
    } else if (lua_type(L, SIGN_DATE) == LUA_TSTRING) {
        int64_t epoch;
        const char *why, *date;
        size_t dlen;
        date = lua_tolstring(L, SIGN_DATE, &dlen);
        if (!sign_is_field_value(date, dlen) || !httpdate_parse(date, dlen, httpdate_now(), &epoch, &why))
            SIGN_FAIL("req.date is not a valid HTTP-date (e.g. \"Thu, 01 Jan 1970 00:00:00 GMT\")");
        lua_pushvalue(L, SIGN_DATE);
    } else {
        SIGN_FAIL("req.date must be an HTTP-date string or an epoch number");
    }
}

/* Checks the choices, digest to date_header, and fills r. Raises on bad input. */
static inline void sign_check_options(lua_State *L, sign_req *r) {
    if ((r->digest = sign_choice(L, SIGN_DIGEST, sign_digests, 0)) < 0)
        SIGN_FAIL("req.digest must be \"sha1\" or \"sha256\"");
    if ((r->hash = sign_choice(L, SIGN_HASH, sign_hashes, 0)) < 0)
        SIGN_FAIL("req.content_hash must be \"none\", \"md5\" or \"sha256\"");
    if (lua_isnil(L, SIGN_WITH_METHOD)) {
        r->with_method = 1;
    } else if (lua_type(L, SIGN_WITH_METHOD) == LUA_TBOOLEAN) {
        r->with_method = lua_toboolean(L, SIGN_WITH_METHOD);
    } else {
        SIGN_FAIL("req.with_method must be a boolean");
    }
    if ((r->date_header = sign_choice(L, SIGN_DATE_HEADER, sign_date_headers, 0)) < 0)
        SIGN_FAIL("req.date_header must be \"Date\", \"X-HMAC-Date\" or \"both\"");
}

/* Sets header h of the table on top to the value at idx (a name from the memo: no literal interned). */
static void sign_set_header(lua_State *L, int h, int idx) {
    lua_rawgeti(L, SIGN_MEMO_INDEX, SIGN_MEMO_NAMES + h);
    lua_pushvalue(L, idx);
    lua_rawset(L, -3);
}

/* Pushes the Authorization value for the MAC: the memo's when digest, access id and MAC are its own. */
static void sign_push_authorization(lua_State *L, const sign_req *r, const unsigned char *mac, unsigned maclen) {
    sign_cache *c = sign_get_cache(L);
    const char *prefix = r->digest == 1 ? "APIAuth-HMAC-SHA256 " : "APIAuth ";
    char sig[CRYPTO_MAX_MD_B64];
    size_t siglen, plen;
    if (c->auth_digest == r->digest && c->auth_maclen == maclen && memcmp(c->auth_mac, mac, maclen) == 0
        && c->auth_idlen == r->idlen && memcmp(c->auth_id, r->id, r->idlen) == 0) {
        lua_rawgeti(L, SIGN_MEMO_INDEX, SIGN_MEMO_AUTH);
        return;
    }
    siglen = crypto_b64_encode(mac, maclen, (unsigned char *)sig);
    plen = strlen(prefix);
    if (r->idlen <= SIGN_MEMO_ID_MAX) {
        char buf[sizeof "APIAuth-HMAC-SHA256 " + SIGN_MEMO_ID_MAX + 1 + CRYPTO_MAX_MD_B64];
        memcpy(buf, prefix, plen);
        memcpy(buf + plen, r->id, r->idlen);
        buf[plen + r->idlen] = ':';
        memcpy(buf + plen + r->idlen + 1, sig, siglen);
        lua_pushlstring(L, buf, plen + r->idlen + 1 + siglen);
        lua_pushvalue(L, -1);
        lua_rawseti(L, SIGN_MEMO_INDEX, SIGN_MEMO_AUTH);
        c->auth_digest = r->digest;
        c->auth_maclen = maclen;
        memcpy(c->auth_mac, mac, maclen);
        c->auth_idlen = r->idlen;
        memcpy(c->auth_id, r->id, r->idlen);
    } else {
        luaL_Buffer b;
        luaL_buffinit(L, &b);
        luaL_addlstring(&b, prefix, plen);
        luaL_addlstring(&b, r->id, r->idlen);
        luaL_addchar(&b, ':');
        luaL_addlstring(&b, sig, siglen);
        luaL_pushresult(&b);
    }
}

/* Pushes the headers table: Authorization from the MAC, the date header(s), the content hash
 * (hlen > 0) and Content-Type. */
static inline void sign_push_headers(lua_State *L, const sign_req *r, const unsigned char *mac, unsigned maclen,
                                     size_t hlen) {
    lua_createtable(L, 0, 5);
    sign_push_authorization(L, r, mac, maclen);
    lua_rawgeti(L, SIGN_MEMO_INDEX, SIGN_MEMO_NAMES + SIGN_H_AUTH);
    lua_insert(L, -2);
    lua_rawset(L, -3);
    if (r->date_header != 1) sign_set_header(L, SIGN_H_DATE, SIGN_DATE_STR);
    if (r->date_header != 0) sign_set_header(L, SIGN_H_XDATE, SIGN_DATE_STR);
    if (hlen > 0) sign_set_header(L, r->hash == 1 ? SIGN_H_MD5 : SIGN_H_SHA256, SIGN_HASH_STR);
    if (r->clen > 0) sign_set_header(L, SIGN_H_CTYPE, SIGN_CTYPE);
}

/* Signs the request whose fields are in their stack slots (SIGN_METHOD to SIGN_DATE_HEADER) and returns
 * headers, canonical string. */
static int sign_fields_signed(lua_State *L) {
    sign_req r;
    size_t hlen, dlen, clen;
    const char *date, *canon;
    char hashbuf[CRYPTO_MAX_MD_B64], canonbuf[SIGN_CANON_MAX];
    unsigned char mac[CRYPTO_MAX_MD];
    unsigned maclen;

    /* Validate everything first. */
    sign_check_strings(L, &r);
    sign_push_date(L); /* SIGN_DATE_STR is now on the stack. */
    sign_check_options(L, &r);

    /* Compute. */
    hlen = 0;
    hashbuf[0] = '\0';
    if (r.hash == 1 || (r.hash == 2 && r.blen > 0)) {
        hlen = sign_b64_digest(r.hash == 1 ? EVP_md5() : EVP_sha256(), r.body, r.blen, hashbuf);
        if (hlen == 0) return SIGN_FAIL("digest computation failed");
    }
    lua_pushlstring(L, hashbuf, hlen); /* SIGN_HASH_STR */
    date = lua_tolstring(L, SIGN_DATE_STR, &dlen);
    sign_push_canonical_memo(L, &r, hashbuf, hlen, date, dlen, canonbuf, &canon, &clen); /* SIGN_CANON */
    maclen = crypto_hmac_cached(&sign_get_cache(L)->hmac, r.digest == 1, r.key, r.keylen, canon, clen, mac);
    if (maclen == 0) return SIGN_FAIL("HMAC computation failed");

    sign_push_headers(L, &r, mac, maclen, hlen);
    lua_pushvalue(L, SIGN_CANON);
    return 2;
}

static int sign_l_sign(lua_State *L) {
    size_t i;
    luaL_checktype(L, 1, LUA_TTABLE);
    lua_settop(L, 1);
    luaL_checkstack(L, SIGN_TOP + 8, "clinch.core.sign");
    /* the field names are upvalues: pushing a kept string is cheaper than interning a literal (LuaJIT
     * hashes it on every lua_getfield); lua_gettable sees __index as lua_getfield would */
    for (i = 0; i < SIGN_NFIELDS; i++) {
        lua_pushvalue(L, lua_upvalueindex(3 + (int)i));
        lua_gettable(L, SIGN_REQ);
    }
    return sign_fields_signed(L);
}

/* core.sign_fields(method, request_uri, access_id, secret, content_type, body, date, digest, content_hash,
 * with_method, date_header): core.sign with the request's fields as arguments, in that order (the
 * client signs every attempt: no table to fill and read back). */
static int sign_l_sign_fields(lua_State *L) {
    lua_settop(L, (int)SIGN_NFIELDS);
    luaL_checkstack(L, SIGN_TOP + 8, "clinch.core.sign_fields");
    lua_pushnil(L); /* the slot of core.sign's table */
    lua_insert(L, SIGN_REQ);
    return sign_fields_signed(L);
}

static void sign_open(lua_State *L) {
    sign_cache *c;
    size_t i;
    luaL_newmetatable(L, SIGN_CACHE_MT);
    lua_pushcfunction(L, sign_l_cache_gc);
    lua_setfield(L, -2, "__gc");
    lua_pop(L, 1);
    /* the metatable first, so that __gc frees whatever the cache holds by then */
    c = (sign_cache *)compat_newudata(L, sizeof *c);
    memset(c, 0, sizeof *c);
    c->auth_digest = -1;
    luaL_setmetatable(L, SIGN_CACHE_MT);
    lua_createtable(L, SIGN_MEMO_NAMES - 1 + SIGN_NHEADERS, 0); /* the memo */
    for (i = 0; i < SIGN_NHEADERS; i++) {
        lua_pushstring(L, sign_header_names[i]);
        lua_rawseti(L, -2, SIGN_MEMO_NAMES + (int)i);
    }
    lua_pushvalue(L, -2); /* both share the cache and the memo */
    lua_pushvalue(L, -2);
    lua_pushcclosure(L, sign_l_sign_fields, 2);
    lua_setfield(L, -4, "sign_fields");
    for (i = 0; i < SIGN_NFIELDS; i++) lua_pushstring(L, sign_fields[i]);
    lua_pushcclosure(L, sign_l_sign, 2 + (int)SIGN_NFIELDS);
    lua_setfield(L, -2, "sign");
}

#endif
