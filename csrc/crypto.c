/* crypto.c: digests, HMAC and strict Base64 for the signer and the Lua layer.
 *   core.hmac(digest, key, msg)  -> raw MAC bytes       (digest: "sha1" | "sha256")
 *   core.sha256(s), core.md5(s)  -> raw digest bytes
 *   core.base64_encode(s)        -> standard alphabet, padded, no line breaks
 *   core.base64_decode(s)        -> bytes, or nil, err (strict RFC 4648: no whitespace, exact padding,
 *                                   zero pad bits; bad input is data, not a programming error)
 *   core.openssl_version()       -> the version of the OpenSSL library in use ("OpenSSL 3.0.15 3 Sep 2024")
 * Only OpenSSL 3.0 APIs that are not deprecated are used (EVP_Digest, the one-shot HMAC,
 * EVP_EncodeBlock). Scratch output goes into Lua userdata, so a memory error while pushing the
 * result cannot leak. A failed call's errors stay in the thread's OpenSSL error queue, where the next
 * OpenSSL user of the thread (nginx's TLS in a worker) would take them for its own: every failure is
 * followed by ERR_clear_error. sign.c reaches OpenSSL's fallible calls only through these helpers. */
#ifndef CLINCH_CRYPTO_C
#define CLINCH_CRYPTO_C

#include "compat.h"

#include <limits.h>
#include <stdint.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

/* Largest raw MAC/digest we produce (SHA-256); EVP_MAX_MD_SIZE is the safe bound for buffers. */
#define CRYPTO_MAX_MD EVP_MAX_MD_SIZE
/* Base64 of CRYPTO_MAX_MD bytes plus NUL. */
#define CRYPTO_MAX_MD_B64 (4 * ((CRYPTO_MAX_MD + 2) / 3) + 1)

/* Maps a digest name (a Lua string of len bytes, compared whole) to its EVP_MD, or NULL for an
 * unsupported name. */
static const EVP_MD *crypto_md(const char *name, size_t len) {
    if (len == 4 && memcmp(name, "sha1", 4) == 0) return EVP_sha1();
    if (len == 6 && memcmp(name, "sha256", 6) == 0) return EVP_sha256();
    return NULL;
}

/* One-shot digest; returns the digest length, or 0 on failure. */
static unsigned crypto_digest(const EVP_MD *md, const void *data, size_t len, unsigned char *out) {
    unsigned outlen = 0;
    if (EVP_Digest(data, len, out, &outlen, md, NULL) != 1) {
        ERR_clear_error();
        return 0;
    }
    return outlen;
}

/* One-shot HMAC; returns the MAC length, or 0 on failure (key longer than INT_MAX included). */
static unsigned crypto_hmac(const EVP_MD *md, const void *key, size_t keylen, const void *msg,
                            size_t msglen, unsigned char *out) {
    unsigned outlen = 0;
    static const unsigned char empty = 0;
    if (keylen > INT_MAX) return 0;
    /* OpenSSL treats a NULL key as "reuse the previous one"; always hand it a real pointer. */
    if (keylen == 0) key = &empty;
    if (HMAC(md, key, (int)keylen, msg, msglen, out, &outlen) == NULL) {
        ERR_clear_error();
        return 0;
    }
    return outlen;
}

/* Reusable HMAC contexts, one per digest (SHA-1, SHA-256), for a caller that signs over and over (the
 * signer keeps one in its upvalue, per Lua state): OpenSSL 3's one-shot HMAC() fetches the algorithm
 * and makes a context on every call, which is half the cost of a signature. */
/* Each context also remembers the key it was last keyed with (a key up to CRYPTO_HMAC_KEY_MAX bytes):
 * signing again with the same key re-initialises the context without hashing the key into its pads
 * again (a third of the cost of a signature). The copy is wiped when replaced and when freed. */
/* It also remembers the last message MACed with that key (up to CRYPTO_HMAC_MSG_MAX bytes) and its MAC:
 * a signer asked for the same canonical string again (the same request within one second, the date
 * being part of it) gives the same bytes without computing them, which is most of a signature's cost.
 * The MAC is no secret (it goes out in the Authorization header); it is forgotten with the key. */
#define CRYPTO_HMAC_KEY_MAX 128
#define CRYPTO_HMAC_MSG_MAX 512
typedef struct {
    EVP_MAC *mac;
    EVP_MAC_CTX *ctx[2];
    size_t keylen[2]; /* 0: no key remembered */
    unsigned char key[2][CRYPTO_HMAC_KEY_MAX];
    size_t msglen[2];
    unsigned maclen[2]; /* 0: no message remembered */
    unsigned char msg[2][CRYPTO_HMAC_MSG_MAX];
    unsigned char macout[2][CRYPTO_MAX_MD];
} crypto_hmac_cache;

static void crypto_hmac_cache_free(crypto_hmac_cache *c) {
    int i;
    for (i = 0; i < 2; i++) {
        EVP_MAC_CTX_free(c->ctx[i]);
        c->ctx[i] = NULL;
        c->keylen[i] = 0;
        c->maclen[i] = 0;
    }
    OPENSSL_cleanse(c->key, sizeof c->key);
    EVP_MAC_free(c->mac);
    c->mac = NULL;
}

/* The context for SHA-256 (sha256 != 0) or SHA-1, made on first use; NULL when OpenSSL cannot. */
static EVP_MAC_CTX *crypto_hmac_ctx(crypto_hmac_cache *c, int sha256) {
    EVP_MAC_CTX *ctx = c->ctx[sha256 != 0];
    if (ctx) return ctx;
    if (!c->mac && !(c->mac = EVP_MAC_fetch(NULL, "HMAC", NULL))) return NULL;
    ctx = EVP_MAC_CTX_new(c->mac);
    if (ctx) {
        OSSL_PARAM params[2];
        params[0] = OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, sha256 ? "SHA256" : "SHA1", 0);
        params[1] = OSSL_PARAM_construct_end();
        if (EVP_MAC_CTX_set_params(ctx, params) != 1) {
            EVP_MAC_CTX_free(ctx);
            return NULL;
        }
    }
    c->ctx[sha256 != 0] = ctx;
    return ctx;
}

/* HMAC through the cache; returns the MAC length, or 0 on failure (the error queue cleared). */
static unsigned crypto_hmac_cached(crypto_hmac_cache *c, int sha256, const void *key, size_t keylen,
                                   const void *msg, size_t msglen, unsigned char *out) {
    static const unsigned char empty = 0;
    EVP_MAC_CTX *ctx = crypto_hmac_ctx(c, sha256);
    int k = sha256 != 0;
    size_t outlen = 0;
    if (!ctx) {
        ERR_clear_error();
        return 0;
    }
    /* the same key as last time: a NULL key re-initialises with the one the context holds */
    int same = keylen > 0 && c->keylen[k] == keylen && memcmp(c->key[k], key, keylen) == 0;
    if (same && c->maclen[k] > 0 && c->msglen[k] == msglen && memcmp(c->msg[k], msg, msglen) == 0) {
        memcpy(out, c->macout[k], c->maclen[k]); /* the same message too: the same MAC */
        return c->maclen[k];
    }
    c->maclen[k] = 0;
    if (same && EVP_MAC_init(ctx, NULL, 0, NULL) != 1) {
        ERR_clear_error(); /* refused (an OpenSSL that re-keys no more): key it afresh */
        same = 0;
    }
    if (!same) {
        OPENSSL_cleanse(c->key[k], sizeof c->key[k]);
        c->keylen[k] = 0;
        if (keylen == 0) key = &empty; /* a NULL key would mean "keep the previous one" */
        if (EVP_MAC_init(ctx, (const unsigned char *)key, keylen, NULL) != 1) {
            ERR_clear_error();
            return 0;
        }
        if (keylen > 0 && keylen <= CRYPTO_HMAC_KEY_MAX) {
            memcpy(c->key[k], key, keylen);
            c->keylen[k] = keylen;
        }
    }
    if (EVP_MAC_update(ctx, (const unsigned char *)msg, msglen) != 1
        || EVP_MAC_final(ctx, out, &outlen, CRYPTO_MAX_MD) != 1) {
        ERR_clear_error();
        return 0;
    }
    /* remembered only under a remembered key (the memo is checked against it) */
    if (c->keylen[k] > 0 && msglen <= CRYPTO_HMAC_MSG_MAX && outlen > 0 && outlen <= CRYPTO_MAX_MD) {
        memcpy(c->msg[k], msg, msglen);
        memcpy(c->macout[k], out, outlen);
        c->msglen[k] = msglen;
        c->maclen[k] = (unsigned)outlen;
    }
    return (unsigned)outlen;
}

/* Length of the padded Base64 encoding of n bytes, or 0 when it would overflow size_t. */
static size_t crypto_b64_len(size_t n) {
    size_t groups = n / 3 + (n % 3 != 0);
    if (groups > (SIZE_MAX - 1) / 4) return 0;
    return groups * 4;
}

/* Encodes n bytes into out (which holds crypto_b64_len(n) + 1 bytes). EVP_EncodeBlock takes an
 * int length, so large inputs go through in chunks that are a multiple of 3 bytes. */
static size_t crypto_b64_encode(const unsigned char *in, size_t n, unsigned char *out) {
    const size_t chunk = (size_t)3 << 20;
    size_t written = 0;
    while (n > 0) {
        size_t take = n < chunk ? n : chunk;
        written += (size_t)EVP_EncodeBlock(out + written, in, (int)take);
        in += take;
        n -= take;
    }
    out[written] = '\0';
    return written;
}

/* Value of one Base64 character, or -1. */
static int crypto_b64_value(unsigned char c) {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+') return 62;
    if (c == '/') return 63;
    return -1;
}

/* Strict RFC 4648 decode of n characters into out (room for 3 * n / 4 bytes). Returns the number of
 * bytes written, or -1 with *why set. Written by hand because EVP_DecodeBlock accepts whitespace and
 * does not report the padding length. */
static long long crypto_b64_decode(const unsigned char *in, size_t n, unsigned char *out,
                                   const char **why) {
    size_t i, o = 0;
    if (n % 4 != 0) {
        *why = "invalid base64: length is not a multiple of 4";
        return -1;
    }
    for (i = 0; i < n; i += 4) {
        int v[4] = {0, 0, 0, 0}, k, pad = 0;
        for (k = 0; k < 4; k++) {
            unsigned char c = in[i + (size_t)k];
            if (c == '=' && i + 4 == n && k >= 2) {
                /* '=' only in the last group's last one or two places, and only trailing. */
                if (k == 2 && in[i + 3] != '=') {
                    *why = "invalid base64: bad padding";
                    return -1;
                }
                pad = 4 - k;
                break;
            }
            v[k] = crypto_b64_value(c);
            if (v[k] < 0) {
                *why = c == '=' ? "invalid base64: bad padding" : "invalid base64: bad character";
                return -1;
            }
        }
        out[o++] = (unsigned char)((v[0] << 2) | (v[1] >> 4));
        if (pad == 2) {
            if ((v[1] & 0x0f) != 0) goto nonzero;
            break;
        }
        out[o++] = (unsigned char)(((v[1] & 0x0f) << 4) | (v[2] >> 2));
        if (pad == 1) {
            if ((v[2] & 0x03) != 0) goto nonzero;
            break;
        }
        out[o++] = (unsigned char)(((v[2] & 0x03) << 6) | v[3]);
    }
    return (long long)o;
nonzero:
    /* Non-zero pad bits would let two strings decode to the same bytes. */
    *why = "invalid base64: non-zero padding bits";
    return -1;
}

static int crypto_l_hmac(lua_State *L) {
    size_t namelen, keylen, msglen;
    const char *name = luaL_checklstring(L, 1, &namelen);
    const char *key = luaL_checklstring(L, 2, &keylen);
    const char *msg = luaL_checklstring(L, 3, &msglen);
    const EVP_MD *md = crypto_md(name, namelen);
    unsigned char mac[CRYPTO_MAX_MD];
    unsigned maclen;
    if (md == NULL) return luaL_argerror(L, 1, "digest must be \"sha1\" or \"sha256\"");
    maclen = crypto_hmac(md, key, keylen, msg, msglen, mac);
    if (maclen == 0) return luaL_error(L, "clinch.core.hmac: HMAC computation failed");
    lua_pushlstring(L, (const char *)mac, maclen);
    return 1;
}

static int crypto_push_digest(lua_State *L, const EVP_MD *md, const char *fname) {
    size_t len;
    const char *data = luaL_checklstring(L, 1, &len);
    unsigned char out[CRYPTO_MAX_MD];
    unsigned outlen = crypto_digest(md, data, len, out);
    if (outlen == 0) return luaL_error(L, "clinch.core.%s: digest computation failed", fname);
    lua_pushlstring(L, (const char *)out, outlen);
    return 1;
}

static int crypto_l_sha256(lua_State *L) {
    return crypto_push_digest(L, EVP_sha256(), "sha256");
}

static int crypto_l_md5(lua_State *L) {
    return crypto_push_digest(L, EVP_md5(), "md5");
}

static int crypto_l_base64_encode(lua_State *L) {
    size_t len, outlen;
    const unsigned char *in = (const unsigned char *)luaL_checklstring(L, 1, &len);
    unsigned char *out;
    if (len == 0) {
        lua_pushliteral(L, "");
        return 1;
    }
    outlen = crypto_b64_len(len);
    if (outlen == 0) return luaL_error(L, "clinch.core.base64_encode: input too large");
    out = (unsigned char *)lua_newuserdata(L, outlen + 1);
    outlen = crypto_b64_encode(in, len, out);
    lua_pushlstring(L, (const char *)out, outlen);
    return 1;
}

static int crypto_l_base64_decode(lua_State *L) {
    size_t len;
    const unsigned char *in = (const unsigned char *)luaL_checklstring(L, 1, &len);
    const char *why = NULL;
    unsigned char *out;
    long long n;
    if (len == 0) {
        lua_pushliteral(L, "");
        return 1;
    }
    out = (unsigned char *)lua_newuserdata(L, len / 4 * 3 + 3);
    n = crypto_b64_decode(in, len, out, &why);
    if (n < 0) {
        lua_pushnil(L);
        lua_pushstring(L, why);
        return 2;
    }
    lua_pushlstring(L, (const char *)out, (size_t)n);
    return 1;
}

static int crypto_l_openssl_version(lua_State *L) {
    lua_pushstring(L, OpenSSL_version(OPENSSL_VERSION));
    return 1;
}

static void crypto_open(lua_State *L) {
    static const luaL_Reg funcs[] = {
        {"hmac", crypto_l_hmac},
        {"sha256", crypto_l_sha256},
        {"md5", crypto_l_md5},
        {"base64_encode", crypto_l_base64_encode},
        {"base64_decode", crypto_l_base64_decode},
        {"openssl_version", crypto_l_openssl_version},
        {NULL, NULL},
    };
    luaL_setfuncs(L, funcs, 0);
}

#endif
