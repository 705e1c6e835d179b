/* transport_driver.c: running transfers on a transport's multi handle. The easy-handle pool, a
 * transfer's life (launch: configure a pooled handle and add it; finish: keep what the result needs and
 * give the handle back; free), the pump that steps every transfer and the wait between steps, ending
 * transfers on Ctrl-C (interrupt.c), and closing a transport. Nothing here calls Lua or raises: the
 * Lua-facing code in transport.c drives these between its own Lua calls. */
#ifndef CLINCH_TRANSPORT_DRIVER_C
#define CLINCH_TRANSPORT_DRIVER_C

#include "compat.h"

#include <curl/curl.h>

#include "interrupt.c"
#include "transport.h"
#include "transport_callbacks.c"

#define TDRV_POLL_MS 1000                    /* upper bound; curl_multi_poll shortens it to curl's own timers */

/* The options every transfer of t has, set once on each new easy handle: handles stay configured in
 * the pool (no curl_easy_reset), and each transfer sets only what is its own (tdrv_configure). */
static int tdrv_configure_handle(tr_transport *t, CURL *e) {
    int ok = 1;
#define TDRV_SET(opt, val) ok &= (curl_easy_setopt(e, opt, val) == CURLE_OK)
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
    /* Without proxy variables in the environment (tr_env_proxy), "" says "no proxy": libcurl would
     * otherwise look five of them up again for every transfer. */
    if (t->proxy) TDRV_SET(CURLOPT_PROXY, t->proxy);
    else if (!t->env_proxy) TDRV_SET(CURLOPT_PROXY, "");
    if (!t->env_proxy) TDRV_SET(CURLOPT_NOPROXY, "");
    TDRV_SET(CURLOPT_SUPPRESS_CONNECT_HEADERS, 1L);
    /* The User-Agent goes with each request's header list (treq_fill): set as CURLOPT_USERAGENT,
     * libcurl would format its line afresh for every transfer even when a header overrides it. A
     * proxy's CONNECT gets it from the proxy header list. */
    TDRV_SET(CURLOPT_HEADEROPT, CURLHEADER_SEPARATE);
    TDRV_SET(CURLOPT_PROXYHEADER, t->proxy_headers);
    TDRV_SET(CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)t->max_response);
    TDRV_SET(CURLOPT_WRITEFUNCTION, tcb_on_body);
    TDRV_SET(CURLOPT_HEADERFUNCTION, tcb_on_header);
    TDRV_SET(CURLOPT_PREREQFUNCTION, tcb_on_prereq);
#undef TDRV_SET
    /* h2 when the server offers it over TLS; an older libcurl without HTTP/2 keeps 1.1 */
    (void)curl_easy_setopt(e, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_2TLS);
    return ok;
}

static CURL *tdrv_pool_get(tr_transport *t) {
    CURL *e;
    if (t->npool > 0) return t->pool[--t->npool];
    e = curl_easy_init();
    if (e && !tdrv_configure_handle(t, e)) {
        curl_easy_cleanup(e);
        return NULL;
    }
    return e;
}

/* A handle goes back configured; what pointed into the finished transfer (its header list, body,
 * error buffer and data pointers) is cleared, so that nothing stale is left to point at. Only the
 * handle of a transfer that completed goes back: one that failed or was cut short may hold state
 * libcurl did not clean up (7.88 keeps a pointer to a freed header of a transfer stopped while its
 * headers came, and follows it when the next response on the handle opens with a folded line). The
 * connections stay in the multi handle's cache either way. */
static void tdrv_pool_put(tr_transport *t, CURL *e, int completed) {
    if (completed && t->npool < t->pool_cap) {
        (void)curl_easy_setopt(e, CURLOPT_HTTPHEADER, (struct curl_slist *)NULL);
        (void)curl_easy_setopt(e, CURLOPT_POSTFIELDS, (char *)NULL);
        (void)curl_easy_setopt(e, CURLOPT_ERRORBUFFER, (char *)NULL);
        (void)curl_easy_setopt(e, CURLOPT_PRIVATE, (void *)NULL);
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
        tdrv_pool_put(t, x->easy, x->state == TR_X_DONE && x->code == CURLE_OK);
        x->easy = NULL;
    }
    curl_slist_free_all(x->hdrs_heap);
    x->hdrs = x->hdrs_tail = x->hdrs_heap = NULL;
    x->hdr_nodes = x->hdr_bytes = 0;
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

/* Sets the options of easy handle e (configured for t) that are transfer x's own. Every one of them is
 * set for every transfer, so that nothing of the handle's previous transfer carries over (HTTPGET
 * resets the method, the body and NOBODY; a write clears NOBODY itself). Returns 0 when one of them
 * failed. */
static inline int tdrv_configure(tr_transport *t, tr_xfer *x, CURL *e) {
    int ok = 1;
    long maxage = 118; /* libcurl's default */
#define TDRV_SET(opt, val) ok &= (curl_easy_setopt(e, opt, val) == CURLE_OK)
    TDRV_SET(CURLOPT_PRIVATE, (void *)x);
    TDRV_SET(CURLOPT_URL, x->url);
    TDRV_SET(CURLOPT_ERRORBUFFER, x->errbuf);
    TDRV_SET(CURLOPT_TIMEOUT_MS, x->timeout_ms > 0 ? x->timeout_ms : t->timeout_ms);
    TDRV_SET(CURLOPT_CONNECTTIMEOUT_MS, x->connect_timeout_ms > 0 ? x->connect_timeout_ms : t->connect_timeout_ms);
    TDRV_SET(CURLOPT_WRITEDATA, (void *)x);
    TDRV_SET(CURLOPT_HEADERDATA, (void *)x);
    TDRV_SET(CURLOPT_PREREQDATA, (void *)x);
    TDRV_SET(CURLOPT_HTTPHEADER, x->hdrs);
    /* A write goes out on a kept-alive connection only if it was in use moments ago: servers close idle
     * connections (after 5 s for Apache and Node.js, 2 s for gunicorn), and one closing just as the
     * write leaves would leave it unknown whether the write arrived. libcurl counts idle time in whole
     * seconds and reuses while idle <= MAXAGE_CONN, so a window of w seconds is a max age of w - 1. */
    if (x->is_write && t->write_reuse > 0) maxage = t->write_reuse - 1;
    TDRV_SET(CURLOPT_MAXAGE_CONN, maxage);
    TDRV_SET(CURLOPT_FRESH_CONNECT, (x->is_write && t->write_reuse == 0) ? 1L : 0L);
    if (x->use_postfields) {
        TDRV_SET(CURLOPT_NOBODY, 0L); /* a HEAD's, left on the handle, would drop the body both ways */
        TDRV_SET(CURLOPT_POSTFIELDS, x->body ? x->body : "");
        TDRV_SET(CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)x->body_len);
        TDRV_SET(CURLOPT_CUSTOMREQUEST, x->method);
    } else {
        TDRV_SET(CURLOPT_HTTPGET, 1L);
        if (x->is_head) TDRV_SET(CURLOPT_NOBODY, 1L);
        TDRV_SET(CURLOPT_CUSTOMREQUEST, (x->is_get || x->is_head) ? (char *)NULL : x->method);
    }
#undef TDRV_SET
    return ok;
}

/* Takes an easy handle from t, configures it for x and adds it to the multi handle. Returns 0, or -1 on
 * failure (out of memory, mostly) with x released. No Lua call. */
static int tdrv_launch(tr_transport *t, tr_xfer *x) {
    CURL *e = tdrv_pool_get(t);
    if (!e) return -1;
    x->easy = e;
    x->t = t;
    x->next = t->active;
    x->prev = NULL;
    if (t->active) t->active->prev = x;
    t->active = x;
    x->errbuf[0] = 0;
    x->limit = t->max_response;
    x->max_header = t->max_header;
    x->too_large = x->oom = x->interrupted = 0;
    x->resp.len = x->head.len = 0;
    x->sends = x->head_done = 0;
    x->head_status = 0;
    x->content_length = -1;
    x->fault = TR_F_NONE;

    if (!tdrv_configure(t, x, e) || curl_multi_add_handle(t->multi, e) != CURLM_OK) {
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

/* Waits for activity (at most ms, or TDRV_POLL_MS; a signal ends the wait at once) and steps the
 * transfers.
 * Returns 1 when the user asked to interrupt (interrupt.c): the caller then ends what it waits for. */
static int tdrv_pump_wait_ms(tr_transport *t, lua_State *main_L, int ms) {
    int numfds = 0;
    (void)curl_multi_poll(t->multi, NULL, 0, ms, &numfds);
    tdrv_pump(t);
    return interrupt_requested(main_L);
}

static int tdrv_pump_wait(tr_transport *t, lua_State *main_L) {
    return tdrv_pump_wait_ms(t, main_L, TDRV_POLL_MS);
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

/* Closes t: detaches every transfer still holding one of its easy handles (a running one is aborted),
 * frees the idle handles and the multi handle. Does nothing when t is closed already. No Lua call. */
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
    curl_slist_free_all(t->proxy_headers); /* no easy handle points at it any more */
    t->proxy_headers = NULL;
}

#endif
