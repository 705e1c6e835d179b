/* transport.h: the types shared by the transport's files (see transport.c for the design and the
 * ownership rules): a transfer (tr_xfer), a transport (tr_transport) and a growable buffer (tr_buf),
 * with the one helper more than one of them needs. No Lua in here. */
#ifndef CLINCH_TRANSPORT_H
#define CLINCH_TRANSPORT_H

#include <stddef.h>

#include <curl/curl.h>

/* CURLOPT_PREREQFUNCTION (7.80.0) is how a write is kept from being sent twice: see tcb_on_prereq. */
#if LIBCURL_VERSION_NUM < 0x075000
#error "lua-clinch needs libcurl 7.80.0 or later (CURLOPT_PREREQFUNCTION)"
#endif

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
    TR_F_HEADERS_BIG,  /* the header block is over the transport's max_header */
    TR_F_HEADER        /* a header line that is not "name: value" */
} tr_xfer_fault;

/* Room for the usual request's header lines in the transfer itself: a GET has four lines (about 120
 * bytes to copy), a POST five or six. Kept small enough that a transfer's userdata stays below 1 KiB:
 * glibc serves larger blocks from its large-block bins, first merging its free small blocks, which
 * costs more than the lines would. */
#define TR_HDR_NODES 6
#define TR_HDR_BYTES 256

typedef struct tr_xfer {
    struct tr_transport *t;       /* set while this transfer holds one of t's easy handles */
    struct tr_xfer *prev, *next;  /* t->active list */
    CURL *easy;
    int in_multi;
    tr_xfer_state state;
    /* the request's header list as libcurl reads it (treq_line): its first lines are nodes and text
     * of this struct's own (no allocation per line), any past that room nodes of libcurl's from
     * hdrs_heap on, which tdrv_release frees */
    struct curl_slist *hdrs, *hdrs_tail, *hdrs_heap;
    unsigned hdr_nodes, hdr_bytes;
    struct curl_slist hdr_node[TR_HDR_NODES];
    char hdr_text[TR_HDR_BYTES];
    const char *url, *method, *body; /* Lua strings anchored by the owner */
    size_t body_len;
    int use_postfields, is_head, is_get, is_write;
    long timeout_ms, connect_timeout_ms;
    size_t limit, max_header;     /* the transport's max_response and max_header, copied at launch */
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

#define TR_AGENT_PREFIX "User-Agent: "

typedef struct tr_transport {
    CURLM *multi;                 /* NULL once closed */
    tr_xfer *active;
    long timeout_ms, connect_timeout_ms;
    size_t max_response, max_header;
    int max_concurrency;
    int verify_tls;
    long write_reuse;             /* seconds a connection may have been idle for a write to reuse it */
    const char *proxy, *ca_file, *ca_path, *user_agent; /* copies in this userdata's tail, or NULL */
    const char *agent_line;       /* "User-Agent: <user_agent>", in the tail too (see treq_fill) */
    int env_proxy;                /* a proxy variable was set when t was made: libcurl reads them */
    struct curl_slist *proxy_headers; /* that line alone, for a proxy's CONNECT; freed by tdrv_close */
    int npool, pool_cap;
    CURL *pool[];                 /* idle easy handles; strings follow */
} tr_transport;

/* ASCII lower case, whatever the locale. */
static inline int tr_lower(int c) {
    return (c >= 'A' && c <= 'Z') ? c + ('a' - 'A') : c;
}

#endif
