/*
 * Benchmarks/c-relay.c: the least a double proxy on OpenSSL 3 can be. A yardstick for the benchmarks, never a
 * product: one thread, edge-triggered epoll (one epoll_ctl per descriptor), non-blocking sockets, and no
 * configuration, logging, limits, health checks or statistics. OpenSSL reads the TCP socket itself, ahead into
 * a 256 KiB buffer (one system call for many records), and writes its records into a memory BIO that leaves
 * in one write().
 *
 * It makes the same TLS choices as sidecar so that the harness measures the same work: TLS 1.3 with mutual
 * authentication and the server name checked, SSL_MODE_RELEASE_BUFFERS | SSL_MODE_NO_AUTO_CHAIN, stateful
 * tickets (one per handshake) from the listener's session cache, and on the forward side a pool of up to 128
 * single-use tickets. Reads are up to 256 KiB; a direction whose peer cannot take more stops reading until it
 * drains. EOF on one side closes the other side's output (close_notify, or shutdown(SHUT_WR)); a tunnel whose
 * two directions have ended is closed.
 *
 * `forward-plain` and `reverse-plain` relay the same way without TLS: what the kernel and the least user-space
 * work cost, the floor under any proxy's own figures (Benchmarks/floors.sh).
 *
 *   cc -O2 -o c-relay Benchmarks/c-relay.c -lssl -lcrypto
 *   c-relay forward UNIX_PATH HOST PORT CERT KEY CA SERVER_NAME
 *   c-relay reverse HOST PORT UNIX_PATH CERT KEY CA
 *   c-relay forward-plain UNIX_PATH HOST PORT
 *   c-relay reverse-plain HOST PORT UNIX_PATH
 *   NO_RESUME=1 c-relay forward ...      # keeps no ticket: every handshake a full one
 *
 * Run by Benchmarks/reference.sh and Benchmarks/floors.sh through the harness's `custom` system.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <malloc.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#define READ_SIZE (256 * 1024)
#define POOL_SIZE 128

enum { FORWARD, REVERSE };
enum { CONNECTING, HANDSHAKING, RELAYING, CLOSED };

/* Bytes for one descriptor that it would not take yet. */
struct pending {
    unsigned char *data;
    size_t length, offset;
};

struct tunnel;

/* What an epoll event points at: a listener, or one of a tunnel's two descriptors. */
struct endpoint {
    int fd;
    int is_tls;
    struct tunnel *tunnel;
};

struct tunnel {
    int state;
    SSL *ssl;
    BIO *wbio;                          /* OpenSSL's records, owned by the SSL */
    struct endpoint plain, tls;         /* the Unix side and the TCP side */
    struct pending to_tls, to_plain;    /* ciphertext for TCP, plaintext for Unix */
    int plain_ended, tls_ended;         /* EOF seen from that side */
    int plain_shut;                     /* the Unix side's output is closed */
    struct tunnel *next_closed;
};

static int mode, plain_mode, epoll_fd, listen_fd;
static SSL_CTX *ctx;
static const char *server_name, *unix_path;
static struct sockaddr_in tcp_address;
static SSL_SESSION *pool[POOL_SIZE];
static int pool_count;
static unsigned char buffer[READ_SIZE];
static struct tunnel *closed; /* freed after the current batch of events, which may still name them */

static void die(const char *what) {
    perror(what);
    ERR_print_errors_fp(stderr);
    exit(1);
}

static int no_resume; /* NO_RESUME=1 in the environment: the forward side keeps no ticket (full handshakes) */

static int keep_ticket(SSL *ssl, SSL_SESSION *session) {
    if (no_resume || pool_count == POOL_SIZE) return 0;
    pool[pool_count++] = session;
    return 1; /* the reference is ours */
}

static void watch(struct endpoint *endpoint, int op, unsigned events) {
    struct epoll_event event = {.events = events, .data.ptr = endpoint};
    if (epoll_ctl(epoll_fd, op, endpoint->fd, &event) < 0) die("epoll_ctl");
}

static void close_tunnel(struct tunnel *t) {
    if (t->ssl) {
        if (t->state == RELAYING && !t->tls_ended) SSL_shutdown(t->ssl);
        SSL_free(t->ssl);
    }
    if (t->plain.fd >= 0) close(t->plain.fd);
    if (t->tls.fd >= 0) close(t->tls.fd);
    free(t->to_tls.data);
    free(t->to_plain.data);
    t->state = CLOSED;
    t->next_closed = closed;
    closed = t;
}

static void queue(struct pending *p, const unsigned char *data, size_t length) {
    size_t left = p->length - p->offset;
    unsigned char *joined = malloc(left + length);
    if (left) memcpy(joined, p->data + p->offset, left);
    memcpy(joined + left, data, length);
    free(p->data);
    p->data = joined;
    p->length = left + length;
    p->offset = 0;
}

/* Writes `data` to `fd` after what is already queued for it; queues what the socket would not take. */
static int send_to(int fd, struct pending *p, const unsigned char *data, size_t length) {
    if (p->length == p->offset && length > 0) {
        ssize_t n = write(fd, data, length);
        if (n < 0 && errno != EAGAIN) return -1;
        if (n < 0) n = 0;
        data += n;
        length -= (size_t)n;
    }
    if (length > 0) queue(p, data, length);
    return 0;
}

static int flush(int fd, struct pending *p) {
    while (p->offset < p->length) {
        ssize_t n = write(fd, p->data + p->offset, p->length - p->offset);
        if (n < 0) return errno == EAGAIN ? 0 : -1;
        p->offset += (size_t)n;
    }
    free(p->data);
    *p = (struct pending){0};
    return 0;
}

/* Sends the records OpenSSL wrote into the memory BIO in one write(). The BIO keeps its buffer for the next
 * records (a tunnel that streamed keeps up to a read's worth of records allocated). */
static int send_records(struct tunnel *t) {
    BUF_MEM *memory;
    BIO_get_mem_ptr(t->wbio, &memory);
    if (memory->length == 0) return 0;
    int result = send_to(t->tls.fd, &t->to_tls, (unsigned char *)memory->data, memory->length);
    (void)BIO_reset(t->wbio);
    return result;
}

/* Unix -> TLS: one read, encrypted into records, sent in one write. 1: something moved, 0: nothing to read. */
static int pump_plain(struct tunnel *t) {
    ssize_t n = read(t->plain.fd, buffer, READ_SIZE);
    if (n < 0) return errno == EAGAIN ? 0 : -1;
    if (!t->ssl) { /* plain mode */
        if (n == 0) {
            t->plain_ended = 1;
            shutdown(t->tls.fd, SHUT_WR);
            return 1;
        }
        return send_to(t->tls.fd, &t->to_tls, buffer, (size_t)n) < 0 ? -1 : 1;
    }
    if (n == 0) {
        t->plain_ended = 1;
        SSL_shutdown(t->ssl); /* close_notify: the peer's input ends */
    } else if (SSL_write(t->ssl, buffer, (int)n) != n) {
        return -1; /* a memory BIO takes everything */
    }
    return send_records(t) < 0 ? -1 : 1;
}

/* TLS -> Unix: decrypt what the socket has (OpenSSL reads ahead) and write it out. 1: something moved. */
static int pump_tls(struct tunnel *t) {
    if (!t->ssl) { /* plain mode */
        ssize_t n = read(t->tls.fd, buffer, READ_SIZE);
        if (n < 0) return errno == EAGAIN ? 0 : -1;
        if (n == 0) {
            t->tls_ended = 1;
            return 1;
        }
        return send_to(t->plain.fd, &t->to_plain, buffer, (size_t)n) < 0 ? -1 : 1;
    }
    size_t have = 0;
    int moved = 0;
    while (have < READ_SIZE) {
        int n = SSL_read(t->ssl, buffer + have, (int)(READ_SIZE - have));
        if (n > 0) {
            have += (size_t)n;
            continue;
        }
        int error = SSL_get_error(t->ssl, n);
        if (error == SSL_ERROR_ZERO_RETURN || (error == SSL_ERROR_SYSCALL && ERR_peek_error() == 0)) {
            t->tls_ended = 1; /* close_notify, or TCP EOF */
            moved = 1;
        } else if (error != SSL_ERROR_WANT_READ) {
            return -1;
        }
        break;
    }
    ERR_clear_error();
    if (send_records(t) < 0) return -1; /* anything OpenSSL had to answer */
    if (have > 0 && send_to(t->plain.fd, &t->to_plain, buffer, have) < 0) return -1;
    return moved || have > 0;
}

/* Moves bytes both ways until every source would block or every destination is full. With edge-triggered
 * epoll a source must be read until it would block, or it is not announced again. */
static int progress(struct tunnel *t) {
    for (;;) {
        if (t->to_tls.length && flush(t->tls.fd, &t->to_tls) < 0) return -1;
        if (t->to_plain.length && flush(t->plain.fd, &t->to_plain) < 0) return -1;
        if (t->tls_ended && !t->to_plain.length && !t->plain_shut) {
            shutdown(t->plain.fd, SHUT_WR);
            t->plain_shut = 1;
        }
        int moved = 0, r;
        if (!t->plain_ended && !t->to_tls.length) {
            if ((r = pump_plain(t)) < 0) return -1;
            moved |= r;
        }
        if (!t->tls_ended && !t->to_plain.length) {
            if ((r = pump_tls(t)) < 0) return -1;
            moved |= r;
        }
        if (!moved) return 0;
    }
}

static int connect_unix(void) {
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0);
    struct sockaddr_un address = {.sun_family = AF_UNIX};
    strncpy(address.sun_path, unix_path, sizeof address.sun_path - 1);
    if (fd >= 0 && connect(fd, (struct sockaddr *)&address, sizeof address) == 0) return fd;
    if (fd >= 0) close(fd);
    return -1;
}

static void start_relaying(struct tunnel *t) {
    t->state = RELAYING;
    if (mode == REVERSE && (t->plain.fd = connect_unix()) < 0) {
        close_tunnel(t);
        return;
    }
    watch(&t->plain, EPOLL_CTL_ADD, EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET);
    /* The handshake's last read may have brought data too, which epoll will not announce again. */
    if (progress(t) < 0) close_tunnel(t);
}

static void handshake(struct tunnel *t) {
    int n = SSL_do_handshake(t->ssl);
    int error = n == 1 ? SSL_ERROR_NONE : SSL_get_error(t->ssl, n);
    if ((error != SSL_ERROR_NONE && error != SSL_ERROR_WANT_READ) || send_records(t) < 0) {
        close_tunnel(t);
        return;
    }
    if (error == SSL_ERROR_NONE) start_relaying(t);
}

static struct tunnel *new_tunnel(int plain, int tls) {
    struct tunnel *t = calloc(1, sizeof *t);
    t->plain = (struct endpoint){.fd = plain, .is_tls = 0, .tunnel = t};
    t->tls = (struct endpoint){.fd = tls, .is_tls = 1, .tunnel = t};
    int one = 1;
    setsockopt(tls, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (plain_mode) return t;
    t->ssl = SSL_new(ctx);
    t->wbio = BIO_new(BIO_s_mem());
    SSL_set_bio(t->ssl, BIO_new_socket(tls, BIO_NOCLOSE), t->wbio);
    if (mode == FORWARD) {
        SSL_set_connect_state(t->ssl);
        SSL_set_tlsext_host_name(t->ssl, server_name);
        SSL_set1_host(t->ssl, server_name);
        if (pool_count > 0) {
            SSL_SESSION *session = pool[--pool_count];
            SSL_set_session(t->ssl, session);
            SSL_SESSION_free(session);
        }
    } else {
        SSL_set_accept_state(t->ssl);
    }
    return t;
}

static void accept_one(void) {
    int fd = accept4(listen_fd, NULL, NULL, SOCK_NONBLOCK);
    if (fd < 0) return;
    if (mode == FORWARD) {
        int tls = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
        if (tls < 0 || (connect(tls, (struct sockaddr *)&tcp_address, sizeof tcp_address) < 0 && errno != EINPROGRESS)) {
            if (tls >= 0) close(tls);
            close(fd);
            return;
        }
        struct tunnel *t = new_tunnel(fd, tls);
        t->state = CONNECTING;
        watch(&t->tls, EPOLL_CTL_ADD, EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET);
    } else {
        struct tunnel *t = new_tunnel(-1, fd);
        t->state = HANDSHAKING;
        watch(&t->tls, EPOLL_CTL_ADD, EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET);
    }
}

static void on_event(struct endpoint *endpoint, unsigned events) {
    struct tunnel *t = endpoint->tunnel;
    if (t->state == CLOSED) return;
    if (t->state == CONNECTING) {
        int error = 0;
        socklen_t length = sizeof error;
        getsockopt(t->tls.fd, SOL_SOCKET, SO_ERROR, &error, &length);
        if (error) {
            close_tunnel(t);
            return;
        }
        t->state = HANDSHAKING;
    }
    if (t->state == HANDSHAKING) {
        if (flush(t->tls.fd, &t->to_tls) < 0) {
            close_tunnel(t);
            return;
        }
        if (!t->ssl)
            start_relaying(t);
        else if (t->to_tls.length == 0)
            handshake(t);
        return;
    }
    if (progress(t) < 0 || (t->plain_ended && t->tls_ended && !t->to_tls.length && !t->to_plain.length))
        close_tunnel(t);
}

static SSL_CTX *make_context(const char *cert, const char *key, const char *ca) {
    SSL_CTX *c = SSL_CTX_new(mode == REVERSE ? TLS_server_method() : TLS_client_method());
    if (!c || SSL_CTX_use_certificate_chain_file(c, cert) != 1 ||
        SSL_CTX_use_PrivateKey_file(c, key, SSL_FILETYPE_PEM) != 1 || SSL_CTX_load_verify_locations(c, ca, NULL) != 1)
        die("certificates");
    SSL_CTX_set_min_proto_version(c, TLS1_2_VERSION);
    SSL_CTX_set_mode(c, SSL_MODE_RELEASE_BUFFERS | SSL_MODE_NO_AUTO_CHAIN);
    SSL_CTX_set_read_ahead(c, 1);
    SSL_CTX_set_default_read_buffer_len(c, READ_SIZE);
    SSL_CTX_set_verify(c, SSL_VERIFY_PEER | (mode == REVERSE ? SSL_VERIFY_FAIL_IF_NO_PEER_CERT : 0), NULL);
    if (mode == REVERSE) {
        SSL_CTX_set_options(c, SSL_OP_NO_TICKET);
        SSL_CTX_set_session_id_context(c, (const unsigned char *)"c-relay", 7);
        SSL_CTX_set_num_tickets(c, 1);
        SSL_CTX_set_session_cache_mode(c, SSL_SESS_CACHE_SERVER | SSL_SESS_CACHE_NO_AUTO_CLEAR);
    } else {
        SSL_CTX_set_session_cache_mode(c, SSL_SESS_CACHE_CLIENT | SSL_SESS_CACHE_NO_INTERNAL_STORE);
        SSL_CTX_sess_set_new_cb(c, keep_ticket);
    }
    return c;
}

int main(int argc, char **argv) {
    signal(SIGPIPE, SIG_IGN);
    /* As sidecar's MallocTuning: OpenSSL's 256 KiB read buffer, freed when empty, stays in the heap instead of
     * being mapped and page-faulted in again on every burst. */
    mallopt(M_MMAP_THRESHOLD, 4 << 20);
    mallopt(M_TRIM_THRESHOLD, 16 << 20);
    plain_mode = argc == 5 && strstr(argv[1], "-plain") != NULL;
    no_resume = getenv("NO_RESUME") != NULL && !strcmp(getenv("NO_RESUME"), "1");
    if ((argc == 9 && !strcmp(argv[1], "forward")) || (plain_mode && !strcmp(argv[1], "forward-plain"))) {
        mode = FORWARD;
        unix_path = argv[2];
        tcp_address = (struct sockaddr_in){.sin_family = AF_INET, .sin_port = htons((uint16_t)atoi(argv[4]))};
        inet_pton(AF_INET, argv[3], &tcp_address.sin_addr);
        if (!plain_mode) {
            server_name = argv[8];
            ctx = make_context(argv[5], argv[6], argv[7]);
        }
        listen_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0);
        struct sockaddr_un address = {.sun_family = AF_UNIX};
        strncpy(address.sun_path, unix_path, sizeof address.sun_path - 1);
        unlink(unix_path);
        if (bind(listen_fd, (struct sockaddr *)&address, sizeof address) < 0) die("bind");
    } else if ((argc == 8 && !strcmp(argv[1], "reverse")) || (plain_mode && !strcmp(argv[1], "reverse-plain"))) {
        mode = REVERSE;
        unix_path = argv[4];
        tcp_address = (struct sockaddr_in){.sin_family = AF_INET, .sin_port = htons((uint16_t)atoi(argv[3]))};
        inet_pton(AF_INET, argv[2], &tcp_address.sin_addr);
        if (!plain_mode) ctx = make_context(argv[5], argv[6], argv[7]);
        listen_fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
        int one = 1;
        setsockopt(listen_fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
        if (bind(listen_fd, (struct sockaddr *)&tcp_address, sizeof tcp_address) < 0) die("bind");
    } else {
        fprintf(stderr,
                "usage: %s forward UNIX_PATH HOST PORT CERT KEY CA SERVER_NAME\n"
                "       %s reverse HOST PORT UNIX_PATH CERT KEY CA\n"
                "       %s forward-plain UNIX_PATH HOST PORT\n"
                "       %s reverse-plain HOST PORT UNIX_PATH\n",
                argv[0], argv[0], argv[0], argv[0]);
        return 2;
    }
    if (listen(listen_fd, 4096) < 0) die("listen");
    epoll_fd = epoll_create1(0);
    static struct endpoint listener;
    listener.fd = listen_fd;
    watch(&listener, EPOLL_CTL_ADD, EPOLLIN);
    struct epoll_event events[64];
    for (;;) {
        int n = epoll_wait(epoll_fd, events, 64, -1);
        if (n < 0 && errno != EINTR) die("epoll_wait");
        for (int i = 0; i < n; i++) {
            struct endpoint *endpoint = events[i].data.ptr;
            if (endpoint == &listener)
                accept_one();
            else
                on_event(endpoint, events[i].events);
        }
        while (closed) {
            struct tunnel *t = closed;
            closed = t->next_closed;
            free(t);
        }
    }
}
