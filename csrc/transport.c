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
 * append to C buffers, and the drive loops make no Lua API call. */
#include "compat.h"

#include <curl/curl.h>
#include <math.h>
#include <stdio.h>

/* CURLOPT_PREREQFUNCTION (7.80.0) is how a write is kept from being sent twice: see tcb_on_prereq. */
#if LIBCURL_VERSION_NUM < 0x075000
#error "lua-clinch needs libcurl 7.80.0 or later (CURLOPT_PREREQFUNCTION)"
#endif
#include <stdlib.h>
#include <string.h>

#define TR_TRANSPORT_MT "clinch.transport"
#define TR_PENDING_MT "clinch.pending"
#define TR_BATCH_MT "clinch.batch"

#define TR_DEFAULT_TIMEOUT 60.0
#define TR_DEFAULT_CONNECT_TIMEOUT 10.0
#define TR_DEFAULT_MAX_RESPONSE (64.0 * 1024 * 1024)
#define TR_DEFAULT_CONCURRENCY 8
#define TR_MAX_POOL 64
#define TDRV_POLL_MS 1000                    /* upper bound; curl_multi_poll shortens it to curl's own timers */
#define TCB_PREALLOC_MAX (1024 * 1024)      /* trust a Content-Length only this far when pre-sizing a body */
#define TR_MAX_HEADER_BYTES (64 * 1024)    /* the final response's header block, as the cosocket tr_transport */
#define TR_DEFAULT_WRITE_REUSE 1           /* seconds; see tdrv_launch */

/* The uservalue of a pending: a table holding the transport (keeps it alive), the strings curl reads
 * without copying, and the result once built. */
#define TR_ENV_TRANSPORT 1
#define TR_ENV_STRINGS 2                   /* url, method, body at 2, 3, 4 */
#define TR_ENV_RESULT 5

typedef struct tr_buf {
    char *p;
    size_t len, cap;
} tr_buf;

struct tr_transport;

typedef enum { TR_X_NEW = 0, TR_X_RUNNING, TR_X_DONE, TR_X_ABORTED } tr_xfer_state;

/* Why a transfer was ended by one of our callbacks rather than by libcurl (CURLE_WRITE_ERROR or
 * CURLE_ABORTED_BY_CALLBACK): each gives its own error. */
typedef enum {
    TR_F_NONE = 0,
    TR_F_REPLAY,       /* libcurl wanted to send the request again on a new connection */
    TR_F_STATUS,       /* a final status outside 200-599, or 101 */
    TR_F_LENGTH,       /* conflicting or invalid Content-Length */
    TR_F_HEADERS_BIG   /* the header block is over TR_MAX_HEADER_BYTES */
} tr_xfer_fault;

typedef struct tr_xfer {
    struct tr_transport *t;          /* set while this transfer holds one of t's easy handles */
    struct tr_xfer *prev, *next;     /* t->active list */
    CURL *easy;
    int in_multi;
    tr_xfer_state state;
    struct curl_slist *hdrs;
    const char *url, *method, *body; /* Lua strings anchored by the owner */
    size_t body_len;
    int use_postfields, is_head, is_get, is_write;
    long timeout_ms, connect_timeout_ms;
    size_t limit;
    tr_buf resp, head;
    int too_large, oom;
    int sends;                    /* times libcurl began sending the request (tcb_on_prereq) */
    int head_done;                /* the final response's header block has ended: later lines are trailers */
    long head_status;             /* the status line being read (tcb_on_header) */
    curl_off_t content_length;    /* the final response's Content-Length, -1 when none was given */
    tr_xfer_fault fault;
    int interrupted;              /* ended at the user's request (Ctrl-C, see interrupt.c) */
    int busy;                     /* a pending's result is being built from resp and head */
    CURLcode code;
    long status, http_version, num_connects, request_size;
    curl_off_t total_us, pretransfer_us;
    char errbuf[CURL_ERROR_SIZE];
} tr_xfer;

typedef struct tr_transport {
    CURLM *multi;                 /* NULL once closed */
    tr_xfer *active;
    long timeout_ms, connect_timeout_ms;
    size_t max_response;
    int max_concurrency;
    int verify_tls;
    long write_reuse;             /* seconds a connection may have been idle for a write to reuse it */
    const char *proxy, *ca_file, *ca_path, *user_agent; /* copies in this userdata's tail, or NULL */
    int npool, pool_cap;
    CURL *pool[];                 /* idle easy handles; strings follow */
} tr_transport;

typedef struct tr_batch {
    size_t n;
    tr_xfer x[];
} tr_batch;

/* ---- small helpers ---- */

static int tr_lower(int c) {
    return (c >= 'A' && c <= 'Z') ? c + ('a' - 'A') : c;
}

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

static int tcb_buf_reserve(tr_buf *b, size_t need) {
    size_t cap;
    char *p;
    if (need <= b->cap) return 0;
    cap = b->cap ? b->cap : 256;
    while (cap < need) cap = cap > ((size_t)-1) / 2 ? need : cap * 2;
    p = (char *)realloc(b->p, cap);
    if (!p) return -1;
    b->p = p;
    b->cap = cap;
    return 0;
}

static int tcb_buf_add(tr_buf *b, const char *s, size_t n) {
    if (tcb_buf_reserve(b, b->len + n)) return -1;
    if (n) memcpy(b->p + b->len, s, n);
    b->len += n;
    return 0;
}

static void tcb_buf_free(tr_buf *b) {
    free(b->p);
    b->p = NULL;
    b->len = b->cap = 0;
}

/* ---- curl callbacks: they only touch C buffers ---- */

static size_t tcb_on_body(char *ptr, size_t size, size_t nmemb, void *ud) {
    tr_xfer *x = (tr_xfer *)ud;
    size_t n = size * nmemb;
    if (n > x->limit - x->resp.len) {
        x->too_large = 1;
        return 0; /* aborts the transfer with CURLE_WRITE_ERROR */
    }
    if (x->resp.cap == 0) {
        curl_off_t cl = -1;
        if (curl_easy_getinfo(x->easy, CURLINFO_CONTENT_LENGTH_DOWNLOAD_T, &cl) == CURLE_OK && cl > 0) {
            size_t hint = (size_t)cl < x->limit ? (size_t)cl : x->limit;
            (void)tcb_buf_reserve(&x->resp, hint < TCB_PREALLOC_MAX ? hint : TCB_PREALLOC_MAX);
        }
    }
    if (tcb_buf_add(&x->resp, ptr, n)) {
        x->oom = 1;
        return 0;
    }
    return n;
}

/* Called by libcurl right before it sends the request on a connection, new or reused. A second call
 * for one transfer is libcurl replaying the request by itself, because a reused connection died
 * before any response came: the first copy may have reached the server. The replay is refused, for
 * every method: only the Lua layer sends a request again, and it counts every attempt (retry.lua
 * decides what may be repeated). */
static int tcb_on_prereq(void *ud, char *ip, char *local_ip, int port, int local_port) {
    tr_xfer *x = (tr_xfer *)ud;
    (void)ip;
    (void)local_ip;
    (void)port;
    (void)local_port;
    if (x->sends++ > 0) {
        x->fault = TR_F_REPLAY;
        return CURL_PREREQFUNC_ABORT;
    }
    return CURL_PREREQFUNC_OK;
}

/* The status code of a status line ("HTTP/1.1 200 OK", "HTTP/2 404"), or -1. */
static long tcb_status_code(const char *p, size_t len) {
    size_t i = 5;
    while (i < len && p[i] != ' ') i++;
    while (i < len && p[i] == ' ') i++;
    if (i + 3 > len || (i + 3 < len && p[i + 3] != ' ')) return -1;
    if (p[i] < '0' || p[i] > '9' || p[i + 1] < '0' || p[i + 1] > '9' || p[i + 2] < '0' || p[i + 2] > '9')
        return -1;
    return (p[i] - '0') * 100 + (p[i + 1] - '0') * 10 + (p[i + 2] - '0');
}

/* The value of a Content-Length header: one number, or a list of equal ones ("5, 5"); -1 for
 * anything else (a list of different numbers is two conflicting lengths). */
static curl_off_t tcb_content_length(const char *v, size_t n) {
    curl_off_t len = -1, cur;
    size_t i = 0, digits;
    for (;;) {
        while (i < n && (v[i] == ' ' || v[i] == '\t')) i++;
        cur = 0;
        for (digits = 0; i < n && v[i] >= '0' && v[i] <= '9'; digits++) cur = cur * 10 + (v[i++] - '0');
        if (digits == 0 || digits > 15) return -1;
        while (i < n && (v[i] == ' ' || v[i] == '\t')) i++;
        if (len >= 0 && cur != len) return -1;
        len = cur;
        if (i == n) return len;
        if (v[i++] != ',') return -1;
    }
}

/* Keeps the header lines of the final response, one per line ("name: value\n"). A status line starts
 * a new response (after an interim 1xx), so it drops what came before; a final status outside
 * 200-599, or a 101 (this client never asks to switch protocols), ends the transfer. Lines after the
 * final response's header block are chunked trailers: dropped, so that a trailer can never pass for a
 * header (Content-Type, X-Request-Id, Location). Conflicting Content-Length headers end the transfer:
 * which one frames the body would be a guess. */
static size_t tcb_on_header(char *ptr, size_t size, size_t nmemb, void *ud) {
    tr_xfer *x = (tr_xfer *)ud;
    size_t n = size * nmemb, len = n;
    if (x->head_done) return n;
    while (len && (ptr[len - 1] == '\r' || ptr[len - 1] == '\n')) len--;
    if (len >= 5 && memcmp(ptr, "HTTP/", 5) == 0) {
        long status = tcb_status_code(ptr, len);
        x->head.len = 0;
        x->content_length = -1;
        x->head_status = status;
        if (status < 100 || status == 101 || status > 599) {
            x->fault = TR_F_STATUS;
            return 0;
        }
        return n;
    }
    if (len == 0) { /* the end of a header block; an interim response's is followed by another */
        if (x->head_status >= 200) x->head_done = 1;
        return n;
    }
    if (len + 1 > TR_MAX_HEADER_BYTES - x->head.len) {
        x->fault = TR_F_HEADERS_BIG;
        return 0;
    }
    if (len >= 15 && tr_lower((unsigned char)ptr[0]) == 'c' && ptr[14] == ':') {
        static const char name[] = "content-length";
        size_t i;
        for (i = 0; i < 14 && tr_lower((unsigned char)ptr[i]) == name[i]; i++) {}
        if (i == 14) {
            curl_off_t cl = tcb_content_length(ptr + 15, len - 15);
            if (cl < 0 || (x->content_length >= 0 && cl != x->content_length)) {
                x->fault = TR_F_LENGTH;
                return 0;
            }
            x->content_length = cl;
        }
    }
    if ((ptr[0] == ' ' || ptr[0] == '\t') && x->head.len > 0) {
        /* obsolete line folding: continue the previous value */
        while (len && (ptr[0] == ' ' || ptr[0] == '\t')) { ptr++; len--; }
        x->head.p[x->head.len - 1] = ' ';
    }
    if (tcb_buf_add(&x->head, ptr, len) || tcb_buf_add(&x->head, "\n", 1)) {
        x->oom = 1;
        return 0;
    }
    return n;
}

/* ---- easy handle pool and transfer lifecycle ---- */

static CURL *tdrv_pool_get(tr_transport *t) {
    return t->npool > 0 ? t->pool[--t->npool] : curl_easy_init();
}

static void tdrv_pool_put(tr_transport *t, CURL *e) {
    if (t->npool < t->pool_cap) {
        curl_easy_reset(e);
        t->pool[t->npool++] = e;
    } else {
        curl_easy_cleanup(e);
    }
}

static void tdrv_unlink(tr_xfer *x) {
    tr_transport *t = x->t;
    if (x->prev) x->prev->next = x->next;
    else t->active = x->next;
    if (x->next) x->next->prev = x->prev;
    x->prev = x->next = NULL;
    x->t = NULL;
}

/* Gives the easy handle back (to the pool, or frees it) and drops the header list. */
static void tdrv_release(tr_xfer *x) {
    if (x->t) {
        tr_transport *t = x->t;
        if (x->in_multi) curl_multi_remove_handle(t->multi, x->easy);
        x->in_multi = 0;
        tdrv_unlink(x);
        tdrv_pool_put(t, x->easy);
        x->easy = NULL;
    }
    curl_slist_free_all(x->hdrs);
    x->hdrs = NULL;
}

static void tdrv_free(tr_xfer *x) {
    tdrv_release(x);
    if (x->state == TR_X_RUNNING) x->state = TR_X_ABORTED;
    tcb_buf_free(&x->resp);
    tcb_buf_free(&x->head);
}

/* Records what the result needs from the easy handle, then releases it. */
static void tdrv_finish(tr_xfer *x, CURLcode code) {
    CURL *e = x->easy;
    x->code = code;
    (void)curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &x->status);
    (void)curl_easy_getinfo(e, CURLINFO_HTTP_VERSION, &x->http_version);
    (void)curl_easy_getinfo(e, CURLINFO_NUM_CONNECTS, &x->num_connects);
    (void)curl_easy_getinfo(e, CURLINFO_REQUEST_SIZE, &x->request_size);
    (void)curl_easy_getinfo(e, CURLINFO_TOTAL_TIME_T, &x->total_us);
    (void)curl_easy_getinfo(e, CURLINFO_PRETRANSFER_TIME_T, &x->pretransfer_us);
    x->state = TR_X_DONE;
    tdrv_release(x);
}

/* Takes an easy handle from t, configures it for x and adds it to the multi handle. Returns 0, or -1 on
 * failure (out of memory, mostly) with x released. No Lua call. */
static int tdrv_launch(tr_transport *t, tr_xfer *x) {
    CURL *e = tdrv_pool_get(t);
    int ok = 1;
    if (!e) return -1;
    x->easy = e;
    x->t = t;
    x->next = t->active;
    x->prev = NULL;
    if (t->active) t->active->prev = x;
    t->active = x;
    x->errbuf[0] = 0;
    x->limit = t->max_response;
    x->too_large = x->oom = x->interrupted = 0;
    x->resp.len = x->head.len = 0;
    x->sends = x->head_done = 0;
    x->head_status = 0;
    x->content_length = -1;
    x->fault = TR_F_NONE;

#define TDRV_SET(opt, val) ok &= (curl_easy_setopt(e, opt, val) == CURLE_OK)
    TDRV_SET(CURLOPT_PRIVATE, (void *)x);
    TDRV_SET(CURLOPT_URL, x->url);
    TDRV_SET(CURLOPT_ERRORBUFFER, x->errbuf);
    TDRV_SET(CURLOPT_NOSIGNAL, 1L);
    TDRV_SET(CURLOPT_TCP_NODELAY, 1L);
    TDRV_SET(CURLOPT_TCP_KEEPALIVE, 1L);
    TDRV_SET(CURLOPT_FOLLOWLOCATION, 0L);
#if LIBCURL_VERSION_NUM >= 0x075500
    TDRV_SET(CURLOPT_PROTOCOLS_STR, "http,https");
#else
    TDRV_SET(CURLOPT_PROTOCOLS, (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS));
#endif
    TDRV_SET(CURLOPT_SSL_VERIFYPEER, t->verify_tls ? 1L : 0L);
    TDRV_SET(CURLOPT_SSL_VERIFYHOST, t->verify_tls ? 2L : 0L);
    if (t->ca_file) TDRV_SET(CURLOPT_CAINFO, t->ca_file);
    if (t->ca_path) TDRV_SET(CURLOPT_CAPATH, t->ca_path);
    if (t->proxy) TDRV_SET(CURLOPT_PROXY, t->proxy);
    TDRV_SET(CURLOPT_SUPPRESS_CONNECT_HEADERS, 1L);
    TDRV_SET(CURLOPT_USERAGENT, t->user_agent);
    TDRV_SET(CURLOPT_TIMEOUT_MS, x->timeout_ms > 0 ? x->timeout_ms : t->timeout_ms);
    TDRV_SET(CURLOPT_CONNECTTIMEOUT_MS, x->connect_timeout_ms > 0 ? x->connect_timeout_ms : t->connect_timeout_ms);
    TDRV_SET(CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)x->limit);
    TDRV_SET(CURLOPT_WRITEFUNCTION, tcb_on_body);
    TDRV_SET(CURLOPT_WRITEDATA, (void *)x);
    TDRV_SET(CURLOPT_HEADERFUNCTION, tcb_on_header);
    TDRV_SET(CURLOPT_HEADERDATA, (void *)x);
    TDRV_SET(CURLOPT_HTTPHEADER, x->hdrs);
    TDRV_SET(CURLOPT_PREREQFUNCTION, tcb_on_prereq);
    TDRV_SET(CURLOPT_PREREQDATA, (void *)x);
    /* A write goes out on a kept-alive connection only if it was in use moments ago: servers close idle
     * connections (after 5 s for Apache and Node.js, 2 s for gunicorn), and one closing just as the
     * write leaves would leave it unknown whether the write arrived. libcurl counts idle time in whole
     * seconds and reuses while idle <= MAXAGE_CONN, so a window of w seconds is a max age of w - 1. */
    if (x->is_write) {
        if (t->write_reuse > 0) TDRV_SET(CURLOPT_MAXAGE_CONN, t->write_reuse - 1);
        else TDRV_SET(CURLOPT_FRESH_CONNECT, 1L);
    }
    if (x->is_head) {
        TDRV_SET(CURLOPT_NOBODY, 1L);
    } else if (x->is_get && !x->use_postfields) {
        TDRV_SET(CURLOPT_HTTPGET, 1L);
    } else {
        if (x->use_postfields) {
            TDRV_SET(CURLOPT_POSTFIELDS, x->body ? x->body : "");
            TDRV_SET(CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)x->body_len);
        }
        TDRV_SET(CURLOPT_CUSTOMREQUEST, x->method);
    }
#undef TDRV_SET
    /* h2 when the server offers it over TLS; an older libcurl without HTTP/2 keeps 1.1 */
    (void)curl_easy_setopt(e, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_2TLS);

    if (!ok || curl_multi_add_handle(t->multi, e) != CURLM_OK) {
        tdrv_release(x);
        return -1;
    }
    x->in_multi = 1;
    x->state = TR_X_RUNNING;
    return 0;
}

/* One non-blocking step of every transfer on t; finishes those that are done. No Lua call. */
static void tdrv_pump(tr_transport *t) {
    int running = 0, left = 0;
    CURLMsg *m;
    (void)curl_multi_perform(t->multi, &running);
    while ((m = curl_multi_info_read(t->multi, &left)) != NULL) {
        if (m->msg == CURLMSG_DONE) {
            CURL *e = m->easy_handle;
            CURLcode rc = m->data.result;
            char *p = NULL;
            if (curl_easy_getinfo(e, CURLINFO_PRIVATE, &p) == CURLE_OK && p)
                tdrv_finish((tr_xfer *)(void *)p, rc);
        }
    }
}

/* Waits for activity (at most TDRV_POLL_MS; a signal ends the wait at once) and steps the transfers.
 * Returns 1 when the user asked to interrupt (interrupt.c): the caller then ends what it waits for. */
static int tdrv_pump_wait(tr_transport *t, lua_State *main_L) {
    int numfds = 0;
    (void)curl_multi_poll(t->multi, NULL, 0, TDRV_POLL_MS, &numfds);
    tdrv_pump(t);
    return interrupt_requested(main_L);
}

/* Ends a transfer at the user's request: a running one drops its connection, one not yet started
 * never starts. Its result is an error of kind "interrupted", which is never retried. */
static void tdrv_interrupt(tr_xfer *x) {
    x->interrupted = 1;
    if (x->state == TR_X_RUNNING) {
        tdrv_finish(x, CURLE_ABORTED_BY_CALLBACK);
    } else if (x->state == TR_X_NEW) {
        x->code = CURLE_ABORTED_BY_CALLBACK;
        x->state = TR_X_DONE;
    }
}

/* ---- reading a request table ---- */

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

static struct curl_slist *treq_append(lua_State *L, tr_xfer *x, const char *line) {
    struct curl_slist *l = curl_slist_append(x->hdrs, line);
    if (!l) luaL_error(L, "not enough memory"); /* x owns the list so far: its userdata frees it */
    x->hdrs = l;
    return l;
}

/* Validates request `req` (absolute index; `i` names it in messages). With x == NULL it only checks and
 * allocates nothing; otherwise it also fills x (header list owned by x) and anchors the strings curl
 * reads in place in table `anchors` at keys base, base+1, base+2. */
static void treq_read(lua_State *L, int req, int i, tr_xfer *x, int anchors, int base) {
    const char *method = "GET", *url, *body = NULL;
    size_t mlen = 3, ulen = 0, blen = 0;
    int t, has_accept = 0, has_ctype = 0, has_expect = 0, is_get, is_head, is_write, post;
    lua_Number to = 0, cto = 0;

    if (!lua_istable(L, req)) luaL_error(L, "request %d: table expected, got %s", i, luaL_typename(L, req));

    t = treq_field(L, req, "method");
    if (t == LUA_TSTRING) {
        method = lua_tolstring(L, -1, &mlen);
        if (!treq_istoken(method, mlen)) luaL_error(L, "request %d: invalid method", i);
    } else if (t != LUA_TNIL) {
        luaL_error(L, "request %d: method must be a string", i);
    } else {
        lua_pop(L, 1);
        lua_pushliteral(L, "GET");
    }
    /* read the method now: once popped, only req holds the string (anchors are for the second pass),
     * and a finalizer run by a later allocation could replace req.method and let it be collected */
    is_get = strcmp(method, "GET") == 0;
    is_head = strcmp(method, "HEAD") == 0;
    /* POST, PUT and PATCH always send a body (empty if none), so that Content-Length: 0 goes out */
    post = strcmp(method, "POST") == 0 || strcmp(method, "PUT") == 0 || strcmp(method, "PATCH") == 0;
    /* not idempotent (RFC 9110 9.2.2): POST, PATCH and methods of extensions */
    is_write = !(is_get || is_head || strcmp(method, "PUT") == 0 || strcmp(method, "DELETE") == 0
                 || strcmp(method, "OPTIONS") == 0 || strcmp(method, "TRACE") == 0);
    if (x) { treq_anchor(L, anchors, base + 1); x->method = method; }
    lua_pop(L, 1);

    if (treq_field(L, req, "url") != LUA_TSTRING) luaL_error(L, "request %d: url must be a string", i);
    url = lua_tolstring(L, -1, &ulen);
    if (!treq_isurl(url, ulen)) luaL_error(L, "request %d: url must be an http:// or https:// URL without "
                                            "spaces or control characters", i);
    if (x) { treq_anchor(L, anchors, base); x->url = url; }
    lua_pop(L, 1);

    t = treq_field(L, req, "body");
    if (t == LUA_TSTRING) body = lua_tolstring(L, -1, &blen);
    else if (t != LUA_TNIL) luaL_error(L, "request %d: body must be a string or nil", i);
    if (x) { treq_anchor(L, anchors, base + 2); x->body = body; x->body_len = blen; }
    lua_pop(L, 1);

    t = treq_field(L, req, "timeout");
    if (t == LUA_TNUMBER) to = lua_tonumber(L, -1);
    if ((t != LUA_TNIL && t != LUA_TNUMBER) || (t == LUA_TNUMBER && !(to > 0)))
        luaL_error(L, "request %d: timeout must be a positive number", i);
    lua_pop(L, 1);
    t = treq_field(L, req, "connect_timeout");
    if (t == LUA_TNUMBER) cto = lua_tonumber(L, -1);
    if ((t != LUA_TNIL && t != LUA_TNUMBER) || (t == LUA_TNUMBER && !(cto > 0)))
        luaL_error(L, "request %d: connect_timeout must be a positive number", i);
    lua_pop(L, 1);

    if (is_head && body) luaL_error(L, "request %d: a HEAD request cannot have a body", i);
    post = post || body != NULL;

    t = treq_field(L, req, "headers");
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
            has_accept |= treq_ieq(name, "accept");
            has_ctype |= treq_ieq(name, "content-type");
            has_expect |= treq_ieq(name, "expect");
            if (x) {
                /* "Name;" is curl's way to send a header with an empty value */
                lua_pushfstring(L, vlen ? "%s: %s" : "%s;", name, value);
                treq_append(L, x, lua_tostring(L, -1));
                lua_pop(L, 1);
            }
            lua_pop(L, 1);
        }
    } else if (t != LUA_TNIL) {
        luaL_error(L, "request %d: headers must be a table", i);
    }
    lua_pop(L, 1);

    if (x) {
        /* an empty "Name:" removes what curl would add on its own */
        if (!has_expect) treq_append(L, x, "Expect:");
        if (!has_accept) treq_append(L, x, "Accept:");
        if (!has_ctype && post) treq_append(L, x, "Content-Type:");
        x->is_get = is_get;
        x->is_head = is_head;
        x->is_write = is_write;
        x->use_postfields = post;
        x->timeout_ms = to > 0 ? treq_ms(to) : 0;
        x->connect_timeout_ms = cto > 0 ? treq_ms(cto) : 0;
        x->state = TR_X_NEW;
    }
}

/* ---- results ---- */

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

static const char *tres_kind(const tr_xfer *x) {
    if (x->interrupted) return "interrupted";
    if (x->too_large || x->code == CURLE_FILESIZE_EXCEEDED || tres_headers_too_big(x)) return "too_large";
    /* the reply was not HTTP as this client reads it: retrying would not make it so */
    if (x->fault == TR_F_STATUS || x->fault == TR_F_LENGTH || x->code == CURLE_WEIRD_SERVER_REPLY) return "protocol";
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
        lua_pushfstring(L, "response headers larger than %d bytes", TR_MAX_HEADER_BYTES);
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

static void tres_push_headers(lua_State *L, tr_xfer *x) {
    char *p = x->head.p, *end = p + x->head.len;
    int map, list, n = 0;
    lua_newtable(L);
    map = lua_gettop(L);
    lua_newtable(L);
    list = lua_gettop(L);
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
            lua_createtable(L, 2, 0);
            lua_pushlstring(L, p, (size_t)(ne - p));
            lua_rawseti(L, -2, 1);
            lua_pushlstring(L, v, (size_t)(ve - v));
            lua_rawseti(L, -2, 2);
            lua_rawseti(L, list, ++n);
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
        lua_createtable(L, 0, 8);
        compat_pushint(L, x->status);
        lua_setfield(L, -2, "status");
        tres_push_headers(L, x);
        lua_setfield(L, -3, "header_list");
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
        lua_setfield(L, -2, "error");
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

/* ---- transport object ---- */

static tr_transport *tr_check(lua_State *L, int i) {
    tr_transport *t = (tr_transport *)luaL_checkudata(L, i, TR_TRANSPORT_MT);
    if (!t->multi) luaL_error(L, "transport is closed");
    return t;
}

static void tdrv_close(tr_transport *t) {
    if (!t->multi) return;
    /* detach every transfer still holding one of our easy handles; a pending on one of them now
     * reports "transport is closed" */
    while (t->active) {
        tr_xfer *x = t->active;
        CURL *e = x->easy;
        if (x->in_multi) curl_multi_remove_handle(t->multi, e);
        x->in_multi = 0;
        tdrv_unlink(x);
        curl_easy_cleanup(e);
        x->easy = NULL;
        if (x->state == TR_X_RUNNING) x->state = TR_X_ABORTED;
    }
    while (t->npool > 0) curl_easy_cleanup(t->pool[--t->npool]);
    curl_multi_cleanup(t->multi);
    t->multi = NULL;
}

static int tr_l_transport_close(lua_State *L) {
    tdrv_close((tr_transport *)luaL_checkudata(L, 1, TR_TRANSPORT_MT));
    return 0;
}

/* Reads an optional positive number option. */
static lua_Number tr_opt_number(lua_State *L, int opts, const char *key, lua_Number def) {
    lua_Number v = def;
    lua_getfield(L, opts, key);
    if (!lua_isnil(L, -1)) {
        if (lua_type(L, -1) != LUA_TNUMBER || !((v = lua_tonumber(L, -1)) > 0))
            luaL_error(L, "transport option %s must be a positive number", key);
    }
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

/* core.transport([opts]) -> tr_transport */
static int tr_l_transport_new(lua_State *L) {
    lua_Number timeout, ctimeout, maxresp, conc;
    size_t strbytes = 0, size;
    int opts, verify = 1, base, cap;
    long write_reuse = TR_DEFAULT_WRITE_REUSE;
    tr_transport *t;
    char *tail;

    if (lua_isnoneornil(L, 1)) {
        lua_settop(L, 0);
        lua_newtable(L);
    }
    luaL_checktype(L, 1, LUA_TTABLE);
    lua_settop(L, 1);
    opts = 1;
    timeout = tr_opt_number(L, opts, "timeout", TR_DEFAULT_TIMEOUT);
    ctimeout = tr_opt_number(L, opts, "connect_timeout", TR_DEFAULT_CONNECT_TIMEOUT);
    maxresp = tr_opt_number(L, opts, "max_response_bytes", TR_DEFAULT_MAX_RESPONSE);
    conc = tr_opt_number(L, opts, "max_concurrency", TR_DEFAULT_CONCURRENCY);
    lua_getfield(L, opts, "write_reuse_idle");
    if (!lua_isnil(L, -1)) {
        lua_Number w = lua_tonumber(L, -1);
        if (lua_type(L, -1) != LUA_TNUMBER || !(w >= 0 && w <= 86400) || w != floor(w))
            luaL_error(L, "transport option write_reuse_idle must be a whole number of seconds (0-86400)");
        write_reuse = (long)w;
    }
    lua_pop(L, 1);
    if (maxresp < 1 || maxresp > 1e15) luaL_error(L, "transport option max_response_bytes is out of range");
    if (conc < 1 || conc > 1e6) luaL_error(L, "transport option max_concurrency is out of range");
    lua_getfield(L, opts, "verify_tls");
    if (lua_type(L, -1) == LUA_TBOOLEAN) verify = lua_toboolean(L, -1);
    else if (!lua_isnil(L, -1)) luaL_error(L, "transport option verify_tls must be a boolean");
    lua_pop(L, 1);

    base = lua_gettop(L) + 1; /* proxy, ca_file, ca_path, user_agent */
    strbytes += tr_opt_string(L, opts, "proxy", 0);
    strbytes += tr_opt_string(L, opts, "ca_file", 0);
    strbytes += tr_opt_string(L, opts, "ca_path", 0);
    size = tr_opt_string(L, opts, "user_agent", 1);
    if (size == 0) {
        lua_pop(L, 1);
        lua_pushfstring(L, "lua-clinch/%s libcurl/%s", lua_tostring(L, lua_upvalueindex(1)),
                        curl_version_info(CURLVERSION_NOW)->version);
        size = lua_rawlen(L, -1) + 1;
    }
    strbytes += size;

    cap = conc < TR_MAX_POOL ? (int)conc : TR_MAX_POOL;
    size = sizeof(tr_transport) + (size_t)cap * sizeof(CURL *) + strbytes;
    t = (tr_transport *)compat_newudata(L, size);
    memset(t, 0, size);
    luaL_setmetatable(L, TR_TRANSPORT_MT);
    t->timeout_ms = treq_ms(timeout);
    t->connect_timeout_ms = treq_ms(ctimeout);
    t->max_response = (size_t)maxresp;
    t->max_concurrency = (int)conc;
    t->verify_tls = verify;
    t->write_reuse = write_reuse;
    t->pool_cap = cap;
    tail = (char *)(t->pool + cap);
    t->proxy = tr_copy(L, base, &tail);
    t->ca_file = tr_copy(L, base + 1, &tail);
    t->ca_path = tr_copy(L, base + 2, &tail);
    t->user_agent = tr_copy(L, base + 3, &tail);
    t->multi = curl_multi_init();
    if (!t->multi) luaL_error(L, "curl_multi_init failed");
    return 1;
}

/* ---- t:perform(reqs [, concurrency]) ---- */

static void tr_batch_release(tr_batch *b) {
    size_t i;
    for (i = 0; i < b->n; i++) tdrv_free(&b->x[i]);
}

static int tr_l_batch_gc(lua_State *L) {
    tr_batch_release((tr_batch *)luaL_checkudata(L, 1, TR_BATCH_MT));
    return 0;
}

static int tr_l_perform(lua_State *L) {
    tr_transport *t = tr_check(L, 1);
    lua_State *main_L = interrupt_main_thread(L);
    size_t n, i, next = 0, lo = 0, running = 0;
    lua_Integer conc;
    int anchors;
    tr_batch *b;

    luaL_checktype(L, 2, LUA_TTABLE);
    conc = luaL_optinteger(L, 3, (lua_Integer)t->max_concurrency);
    if (conc < 1) luaL_argerror(L, 3, "concurrency must be at least 1");
    lua_settop(L, 2);
    n = lua_rawlen(L, 2);

    /* first pass: check everything before anything is allocated */
    for (i = 0; i < n; i++) {
        lua_rawgeti(L, 2, (int)i + 1);
        treq_read(L, lua_gettop(L), (int)i + 1, NULL, 0, 0);
        lua_pop(L, 1);
    }

    lua_createtable(L, (int)(n * 3), 0);
    anchors = lua_gettop(L);
    b = (tr_batch *)compat_newudata(L, sizeof(tr_batch) + n * sizeof(tr_xfer));
    memset(b, 0, sizeof(tr_batch) + n * sizeof(tr_xfer));
    luaL_setmetatable(L, TR_BATCH_MT);
    b->n = n;
    for (i = 0; i < n; i++) {
        lua_rawgeti(L, 2, (int)i + 1);
        treq_read(L, lua_gettop(L), (int)i + 1, &b->x[i], anchors, (int)(3 * i + 1));
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
    treq_read(L, 2, 1, NULL, 0, 0);

    p = (tr_pending *)compat_newudata(L, sizeof(tr_pending));
    memset(p, 0, sizeof(tr_pending));
    luaL_setmetatable(L, TR_PENDING_MT);
    lua_createtable(L, TR_ENV_RESULT, 0);
    env = lua_gettop(L);
    lua_pushvalue(L, 1);
    lua_rawseti(L, env, TR_ENV_TRANSPORT);
    treq_read(L, 2, 1, &p->x, env, TR_ENV_STRINGS);
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

static int tr_l_pending_wait(lua_State *L) {
    tr_pending *p = (tr_pending *)luaL_checkudata(L, 1, TR_PENDING_MT);
    tr_xfer *x = &p->x;
    int status;
    lua_settop(L, 1);
    compat_getenv(L, 1);
    lua_rawgeti(L, 2, TR_ENV_RESULT);
    if (!lua_isnil(L, -1)) return 1;
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

static int tr_l_curl_version(lua_State *L) {
    lua_pushstring(L, curl_version_info(CURLVERSION_NOW)->version);
    return 1;
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
        {"perform", tr_l_perform}, {"start", tr_l_start}, {"close", tr_l_transport_close}, {NULL, NULL}};
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

    lua_getfield(L, mod, "_VERSION");
    if (!lua_isstring(L, -1)) {
        lua_pop(L, 1);
        lua_pushliteral(L, "0");
    }
    lua_pushcclosure(L, tr_l_transport_new, 1);
    lua_setfield(L, mod, "transport");
    lua_pushcfunction(L, tr_l_curl_version);
    lua_setfield(L, mod, "curl_version");
}
