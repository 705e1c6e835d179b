/* hmac_loop.c: the floor of request signing, for `make bench`: OpenSSL's one-shot HMAC-SHA1 over
 * ApiAuth canonical strings shaped like the ones core.sign builds ("GET,,,/v1/candidates?page=N,<date>"),
 * Base64-encoded, as long as asked.
 *   hmac_loop SECONDS  ->  "signatures N seconds T"
 * Not part of lua-clinch; never installed. */
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define STRINGS 1000

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv) {
    static char canon[STRINGS][128];
    static const char secret[] = "bench-secret-0123456789abcdef";
    unsigned char mac[EVP_MAX_MD_SIZE], b64[64];
    unsigned int maclen;
    double seconds, t0, t;
    long n = 0, sink = 0;
    int i;
    if (argc != 2) {
        fprintf(stderr, "usage: hmac_loop SECONDS\n");
        return 2;
    }
    seconds = atof(argv[1]);
    for (i = 0; i < STRINGS; i++)
        snprintf(canon[i], sizeof canon[i], "GET,,,/v1/candidates?page=%d,Tue, 01 Dec 2026 07:00:00 GMT", i);
    t0 = now();
    do {
        for (i = 0; i < STRINGS; i++) {
            if (!HMAC(EVP_sha1(), secret, (int)(sizeof secret - 1), (const unsigned char *)canon[i],
                      strlen(canon[i]), mac, &maclen))
                return 1;
            sink += EVP_EncodeBlock(b64, mac, (int)maclen);
        }
        n += STRINGS;
        t = now() - t0;
    } while (t < seconds);
    printf("signatures %ld seconds %.6f\n", n, t + (double)(sink == 0));
    return 0;
}
