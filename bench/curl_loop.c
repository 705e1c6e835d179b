/* curl_loop.c: the floor of an HTTP GET from C, for `make bench`: curl_easy_perform on one easy handle
 * (so one kept-alive connection), the body collected into a buffer, as long as asked.
 *   curl_loop URL SECONDS [--decode] [HEADER...]  ->  "requests N seconds T"
 * HEADERs ("Name: value") are sent with every request: the same header lines as the client's, to
 * show what libcurl alone costs for the request the client sends (signing not included).
 * --decode also hands every body to lua-cjson's decode in an embedded Lua 5.4: with the client's header
 * lines, the least any Lua client of this API does per request (its signature and Date change once a
 * second, and the client's signer remembers the MAC within that second, so the fixed lines stand for
 * them). Not part of lua-clinch; never installed. */
#include <curl/curl.h>
#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef struct {
    char *p;
    size_t len, cap;
} buf;

static size_t on_body(char *ptr, size_t size, size_t nmemb, void *ud) {
    buf *b = (buf *)ud;
    size_t n = size * nmemb;
    if (b->len + n > b->cap) {
        size_t cap = b->cap ? b->cap * 2 : 4096;
        char *p;
        while (cap < b->len + n) cap *= 2;
        p = (char *)realloc(b->p, cap);
        if (!p) return 0;
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->len, ptr, n);
    b->len += n;
    return n;
}

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv) {
    CURL *e;
    buf body = {NULL, 0, 0};
    double seconds, t0, t;
    long n = 0, status = 0;
    struct curl_slist *headers = NULL;
    lua_State *L = NULL;
    int i, first_header = 3;
    if (argc < 3) {
        fprintf(stderr, "usage: curl_loop URL SECONDS [--decode] [HEADER...]\n");
        return 2;
    }
    seconds = atof(argv[2]);
    if (argc > 3 && strcmp(argv[3], "--decode") == 0) {
        /* cjson's decode, left on the stack (index 1) for every request */
        first_header = 4;
        L = luaL_newstate();
        if (!L) return 1;
        luaL_openlibs(L);
        if (luaL_dostring(L, "return require('cjson').new().decode") != LUA_OK) {
            fprintf(stderr, "curl_loop: %s\n", lua_tostring(L, -1));
            return 1;
        }
    }
    curl_global_init(CURL_GLOBAL_DEFAULT);
    e = curl_easy_init();
    curl_easy_setopt(e, CURLOPT_URL, argv[1]);
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_TCP_NODELAY, 1L);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, (void *)&body);
    for (i = first_header; i < argc; i++) {
        struct curl_slist *l = curl_slist_append(headers, argv[i]);
        if (!l) {
            fprintf(stderr, "curl_loop: out of memory\n");
            return 1;
        }
        headers = l;
    }
    if (headers) curl_easy_setopt(e, CURLOPT_HTTPHEADER, headers);
    t0 = now();
    do {
        body.len = 0;
        if (curl_easy_perform(e) != CURLE_OK) {
            fprintf(stderr, "curl_loop: request failed\n");
            return 1;
        }
        curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &status);
        if (status != 200 || body.len == 0) {
            fprintf(stderr, "curl_loop: status %ld\n", status);
            return 1;
        }
        if (L) {
            lua_pushvalue(L, 1);
            lua_pushlstring(L, body.p, body.len);
            if (lua_pcall(L, 1, 1, 0) != LUA_OK || lua_type(L, -1) != LUA_TTABLE) {
                fprintf(stderr, "curl_loop: the body did not decode to a table\n");
                return 1;
            }
            lua_pop(L, 1);
        }
        n++;
        t = now() - t0;
    } while (t < seconds);
    printf("requests %ld seconds %.6f\n", n, t);
    curl_easy_cleanup(e);
    curl_slist_free_all(headers);
    free(body.p);
    if (L) lua_close(L);
    curl_global_cleanup();
    return 0;
}
