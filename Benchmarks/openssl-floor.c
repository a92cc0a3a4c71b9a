/*
 * Benchmarks/openssl-floor.c: what OpenSSL 3 alone costs per TLS 1.3 mutual-auth connection, with sidecar's
 * settings and no sockets, no event loop and no proxy: the floor under the "CPU per new connection" and "RSS per
 * idle connection" figures of any proxy built on it (sidecar and HAProxy alike).
 *
 * For full and for resumed handshakes, N client/server pairs handshake over in-memory BIO pairs, exchange one
 * byte each way and are then either freed (CPU: process CPU time per pair) or held (memory). Memory is counted
 * twice: the bytes OpenSSL asks for and keeps (exact, through CRYPTO_set_mem_functions, before any allocator
 * overhead) and the growth of the process's RSS.
 *
 * Settings as sidecar's: SSL_MODE_RELEASE_BUFFERS | SSL_MODE_NO_AUTO_CHAIN, peer verification on both sides,
 * stateful TLS 1.3 tickets from the server's session cache (one per handshake), one ticket used per connection
 * by the client (sidecar's per-server ticket pool).
 *
 *   cc -O2 -o openssl-floor Benchmarks/openssl-floor.c -lssl -lcrypto
 *   ./openssl-floor CERTDIR [N]      # CERTDIR from ../shared/bench/certs.sh (ca.crt, server.*, client.*)
 *
 * Prints key=value lines; run by Benchmarks/floors.sh.
 */
#include <malloc.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Counting allocator: each block carries its requested size in a 16-byte header. */
static long live_bytes;
static void *count_malloc(size_t size, const char *file, int line) {
    size_t *block = malloc(size + 16);
    if (!block) return NULL;
    block[0] = size;
    live_bytes += (long)size;
    return block + 2;
}
static void *count_realloc(void *pointer, size_t size, const char *file, int line) {
    if (!pointer) return count_malloc(size, file, line);
    size_t *block = (size_t *)pointer - 2;
    live_bytes -= (long)block[0];
    block = realloc(block, size + 16);
    if (!block) return NULL;
    block[0] = size;
    live_bytes += (long)size;
    return block + 2;
}
static void count_free(void *pointer, const char *file, int line) {
    if (!pointer) return;
    size_t *block = (size_t *)pointer - 2;
    live_bytes -= (long)block[0];
    free(block);
}

static long rss_kib(void) {
    FILE *file = fopen("/proc/self/status", "r");
    char line[256];
    long value = 0;
    while (file && fgets(line, sizeof line, file))
        if (!strncmp(line, "VmRSS:", 6)) value = atol(line + 6);
    if (file) fclose(file);
    return value;
}

static double cpu_seconds(void) {
    struct timespec now;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &now);
    return (double)now.tv_sec + (double)now.tv_nsec / 1e9;
}

/* The client's ticket pool: one stateful ticket per connection, as sidecar's forward side keeps them. */
static SSL_SESSION *tickets[64];
static int ticket_count;
static int keep_ticket(SSL *ssl, SSL_SESSION *session) {
    if (ticket_count == 64) return 0;
    tickets[ticket_count++] = session;
    return 1; /* we own the reference now */
}

static SSL_CTX *context(int server, const char *directory) {
    SSL_CTX *ctx = SSL_CTX_new(server ? TLS_server_method() : TLS_client_method());
    char path[1024];
    snprintf(path, sizeof path, "%s/%s.crt", directory, server ? "server" : "client");
    if (SSL_CTX_use_certificate_file(ctx, path, SSL_FILETYPE_PEM) != 1) return NULL;
    snprintf(path, sizeof path, "%s/%s.key", directory, server ? "server" : "client");
    if (SSL_CTX_use_PrivateKey_file(ctx, path, SSL_FILETYPE_PEM) != 1) return NULL;
    snprintf(path, sizeof path, "%s/ca.crt", directory);
    if (SSL_CTX_load_verify_locations(ctx, path, NULL) != 1) return NULL;
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, NULL);
    SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS | SSL_MODE_NO_AUTO_CHAIN);
    if (server) {
        SSL_CTX_set_options(ctx, SSL_OP_NO_TICKET); /* TLS 1.3: stateful tickets naming a cached session */
        SSL_CTX_set_session_id_context(ctx, (const unsigned char *)"sidecar", 7);
        SSL_CTX_set_num_tickets(ctx, 1);
    } else {
        SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_CLIENT | SSL_SESS_CACHE_NO_INTERNAL_STORE);
        SSL_CTX_sess_set_new_cb(ctx, keep_ticket);
    }
    return ctx;
}

struct result {
    double cpu_us, bytes, rss_kib;
    int resumed;
};

/* One pass of `count` connections (after 10 warm-up ones); held connections stay allocated until exit. */
static struct result run(SSL_CTX *server_ctx, SSL_CTX *client_ctx, int count, int resume, int hold) {
    const int warmup = 10;
    struct result result = {0};
    long bytes_before = 0, rss_before = 0;
    double cpu = 0;
    for (int i = 0; i < count + warmup; i++) {
        if (i == warmup) {
            malloc_trim(0);
            bytes_before = live_bytes;
            rss_before = rss_kib();
        }
        double start = cpu_seconds();
        SSL *client = SSL_new(client_ctx), *server = SSL_new(server_ctx);
        if (resume && ticket_count > 0) {
            SSL_SESSION *ticket = tickets[--ticket_count];
            SSL_set_session(client, ticket);
            SSL_SESSION_free(ticket);
        }
        BIO *one, *two;
        BIO_new_bio_pair(&one, 0, &two, 0);
        SSL_set_bio(client, one, one);
        SSL_set_bio(server, two, two);
        SSL_set_connect_state(client);
        SSL_set_accept_state(server);
        for (int step = 0; step < 20; step++) {
            SSL_do_handshake(client);
            SSL_do_handshake(server);
        }
        char byte[8];
        SSL_write(server, "x", 1); /* carries the ticket to the client */
        SSL_read(client, byte, sizeof byte);
        SSL_write(client, "y", 1);
        SSL_read(server, byte, sizeof byte);
        if (!SSL_is_init_finished(client) || !SSL_is_init_finished(server)) {
            ERR_print_errors_fp(stderr);
            exit(1);
        }
        if (i >= warmup) result.resumed += SSL_session_reused(client);
        /* Empty memory BIOs in place of the pair, so that the pair's buffers do not count. */
        BIO *empty = BIO_new(BIO_s_mem());
        SSL_set_bio(client, empty, empty);
        empty = BIO_new(BIO_s_mem());
        SSL_set_bio(server, empty, empty);
        if (!hold) {
            /* As after close_notify both ways: a connection freed without it loses its session from the cache. */
            SSL_set_shutdown(client, SSL_SENT_SHUTDOWN | SSL_RECEIVED_SHUTDOWN);
            SSL_set_shutdown(server, SSL_SENT_SHUTDOWN | SSL_RECEIVED_SHUTDOWN);
            SSL_free(client);
            SSL_free(server);
        }
        if (i >= warmup) cpu += cpu_seconds() - start;
    }
    malloc_trim(0);
    result.cpu_us = 1e6 * cpu / count;
    result.bytes = (double)(live_bytes - bytes_before) / count;
    result.rss_kib = (double)(rss_kib() - rss_before) / count;
    return result;
}

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: %s CERTDIR [N]\n", argv[0]);
        return 2;
    }
    if (!CRYPTO_set_mem_functions(count_malloc, count_realloc, count_free)) {
        fprintf(stderr, "openssl-floor: CRYPTO_set_mem_functions refused (OpenSSL allocated before main)\n");
        return 1;
    }
    int count = argc > 2 ? atoi(argv[2]) : 1000;
    SSL_CTX *server_ctx = context(1, argv[1]), *client_ctx = context(0, argv[1]);
    if (!server_ctx || !client_ctx) {
        ERR_print_errors_fp(stderr);
        return 1;
    }
    printf("openssl_version=\"%s\" connections=%d\n", OpenSSL_version(OPENSSL_VERSION), count);
    const char *names[2] = {"full", "resumed"};
    for (int resume = 0; resume <= 1; resume++) {
        struct result cpu = run(server_ctx, client_ctx, count, resume, 0);
        printf("%s_cpu_us_per_pair=%.0f %s_resumed=%d/%d\n", names[resume], cpu.cpu_us, names[resume], cpu.resumed, count);
        struct result held = run(server_ctx, client_ctx, count, resume, 1);
        printf("%s_bytes_per_pair=%.0f %s_rss_kib_per_pair=%.1f\n", names[resume], held.bytes, names[resume],
               held.rss_kib);
    }
    return 0;
}
