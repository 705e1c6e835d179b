/* transport_callbacks.c: the libcurl callbacks of a transfer and the buffers they fill. They run inside
 * curl_multi_perform, so they only touch C memory (tr_buf, the fields of their tr_xfer): no Lua call,
 * no error raised. Ending a transfer is returning 0 (or CURL_PREREQFUNC_ABORT) with the reason kept in
 * the transfer (too_large, oom, fault) for transport_result.c. */
#ifndef CLINCH_TRANSPORT_CALLBACKS_C
#define CLINCH_TRANSPORT_CALLBACKS_C

#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include "transport.h"

#define TCB_PREALLOC_MAX (1024 * 1024)      /* trust a Content-Length only this far when pre-sizing a body */

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
    if (i + 3 > len || (i + 3 < len && p[i + 3] != ' ' && p[i + 3] != '\t')) return -1;
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

/* Whether a header line reads "name: value": a name without white space before the colon (libcurl
 * takes "Name : value" too; the cosocket transport and RFC 9112 do not) and no NUL anywhere. */
static int tcb_header_line_ok(const char *p, size_t len) {
    size_t i = 0;
    while (i < len && p[i] != ':') {
        if (p[i] == ' ' || p[i] == '\t' || p[i] == '\0') return 0;
        i++;
    }
    if (i == 0 || i == len) return 0;
    return memchr(p + i, '\0', len - i) == NULL;
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
    if (len + 1 > x->max_header - x->head.len) {
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
        if (memchr(ptr, '\0', len)) { /* (libcurl 7.88 refuses it too; not every version need) */
            x->fault = TR_F_HEADER;
            return 0;
        }
        x->head.p[x->head.len - 1] = ' ';
    } else if (!tcb_header_line_ok(ptr, len)) {
        x->fault = TR_F_HEADER;
        return 0;
    }
    if (tcb_buf_add(&x->head, ptr, len) || tcb_buf_add(&x->head, "\n", 1)) {
        x->oom = 1;
        return 0;
    }
    return n;
}

#endif
