/*
 * Benchmarks/openssl-memory.c: what OpenSSL itself keeps per established TLS 1.3 connection, the floor under
 * any proxy's "RSS per idle connection" that uses it (sidecar and HAProxy alike).
 *
 * N client/server pairs complete a mutual-auth handshake over in-memory BIO pairs, with sidecar's settings
 * (SSL_MODE_RELEASE_BUFFERS, SSL_MODE_NO_AUTO_CHAIN, stateful server tickets, one ticket), exchange one byte
 * each way, swap the BIO pairs for empty memory BIOs (so their buffers do not count), and are held. The RSS
 * growth per connection is printed for the client role, the server role, and both.
 *
 *   cc -O2 -o openssl-memory Benchmarks/openssl-memory.c -lssl -lcrypto
 *   ./openssl-memory CERTDIR [N]      # CERTDIR from ../shared/bench/certs.sh (ca.crt, server.*, client.*)
 *
 * Run by Benchmarks/openssl-memory.sh.
 */
#include <malloc.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static long rss_kib(void) {
    FILE *file = fopen("/proc/self/status", "r");
    char line[256];
    long value = 0;
    while (file && fgets(line, sizeof line, file))
        if (!strncmp(line, "VmRSS:", 6)) value = atol(line + 6);
    if (file) fclose(file);
    return value;
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
        SSL_CTX_set_options(ctx, SSL_OP_NO_TICKET);
        SSL_CTX_set_session_id_context(ctx, (const unsigned char *)"sidecar", 7);
        SSL_CTX_set_num_tickets(ctx, 1);
    }
    return ctx;
}

/* Holds `count` connections of the chosen role(s) (0 both, 1 client, 2 server); returns KiB per connection. */
static double measure(SSL_CTX *server_ctx, SSL_CTX *client_ctx, int count, int role) {
    const int warmup = 10;
    long before = 0;
    for (int i = 0; i < count + warmup; i++) {
        if (i == warmup) {
            malloc_trim(0);
            before = rss_kib();
        }
        SSL *client = SSL_new(client_ctx), *server = SSL_new(server_ctx);
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
        SSL_write(server, "x", 1);
        SSL_read(client, byte, sizeof byte);
        SSL_write(client, "y", 1);
        SSL_read(server, byte, sizeof byte);
        if (!SSL_is_init_finished(client) || !SSL_is_init_finished(server)) {
            ERR_print_errors_fp(stderr);
            exit(1);
        }
        BIO *empty = BIO_new(BIO_s_mem());
        SSL_set_bio(client, empty, empty);
        empty = BIO_new(BIO_s_mem());
        SSL_set_bio(server, empty, empty);
        if (role == 1) SSL_free(server); /* deliberately leaked otherwise: held until exit */
        if (role == 2) SSL_free(client);
    }
    malloc_trim(0);
    return (rss_kib() - before) / (double)count;
}

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: %s CERTDIR [N]\n", argv[0]);
        return 2;
    }
    int count = argc > 2 ? atoi(argv[2]) : 1000;
    SSL_CTX *server_ctx = context(1, argv[1]), *client_ctx = context(0, argv[1]);
    if (!server_ctx || !client_ctx) {
        ERR_print_errors_fp(stderr);
        return 1;
    }
    printf("%s, %d connections held\n", OpenSSL_version(OPENSSL_VERSION), count);
    printf("client role: %.1f KiB per connection\n", measure(server_ctx, client_ctx, count, 1));
    printf("server role: %.1f KiB per connection\n", measure(server_ctx, client_ctx, count, 2));
    printf("both roles:  %.1f KiB per connection\n", measure(server_ctx, client_ctx, count, 0));
    return 0;
}
