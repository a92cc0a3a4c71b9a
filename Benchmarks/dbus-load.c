/*
 * Benchmarks/dbus-load.c: a D-Bus-shaped load for Benchmarks/dbus.sh. A yardstick, never a product.
 *
 *   cc -O2 -o dbus-load Benchmarks/dbus-load.c
 *   dbus-load server UNIX_PATH
 *   dbus-load client UNIX_PATH CONNECTIONS ROUND_TRIPS SECONDS
 *
 * server: a peer-to-peer D-Bus server on UNIX_PATH, one thread, epoll. Per connection it answers the SASL
 * exchange (NUL, AUTH -> OK <guid>, NEGOTIATE_UNIX_FD -> AGREE_UNIX_FD, BEGIN), then answers every method call
 * with a method return of about 200 bytes (REPLY_SERIAL set, one string argument). Runs until killed.
 *
 * client: opens CONNECTIONS connections; each authenticates the way sd-bus does (one write:
 * "\0AUTH EXTERNAL <hex uid>\r\nNEGOTIATE_UNIX_FD\r\nBEGIN\r\n", then reads OK and the answer to the
 * negotiation, AGREE_UNIX_FD or, through option dbus, ERROR), calls BlueChi's Register("node1") once, then
 * makes method calls of about 200 bytes in a closed loop (one outstanding per connection) until ROUND_TRIPS
 * replies arrived in all or SECONDS passed. Prints "round_trips=N seconds=S negotiation=AGREE|ERROR" and exits
 * 0 only if every connection got every reply it waited for (a refused Register or a closed connection is exit 1).
 *
 * Messages are little-endian and built once; only the serials change.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#define BUFFER_SIZE 65536
#define MAX_CONNECTIONS 1024

/* A message under construction: little-endian D-Bus marshalling into a fixed buffer. */
struct builder {
    unsigned char data[512];
    size_t length;
};

static void pad(struct builder *b, size_t alignment) {
    while (b->length % alignment) b->data[b->length++] = 0;
}

static void put_u32(struct builder *b, uint32_t value) {
    pad(b, 4);
    memcpy(b->data + b->length, &value, 4); /* x86-64 and aarch64: little-endian */
    b->length += 4;
}

static void put_string(struct builder *b, const char *text) {
    uint32_t length = (uint32_t)strlen(text);
    put_u32(b, length);
    memcpy(b->data + b->length, text, length + 1);
    b->length += length + 1;
}

static void put_signature(struct builder *b, const char *text) {
    size_t length = strlen(text);
    b->data[b->length++] = (unsigned char)length;
    memcpy(b->data + b->length, text, length + 1);
    b->length += length + 1;
}

/* Header field `code` of type `kind` ("o", "s", "g" or "u"), 8-aligned within the array. */
static void put_field(struct builder *b, unsigned char code, const char *kind, const char *text, uint32_t number) {
    pad(b, 8);
    b->data[b->length++] = code;
    put_signature(b, kind);
    if (kind[0] == 'u')
        put_u32(b, number);
    else if (kind[0] == 'g')
        put_signature(b, text);
    else
        put_string(b, text);
}

/* Builds a message of `type` (1 call, 2 return); fields filled by `fields`, body one string. Serial and
 * reply serial are patched per message: serial at offset 8, the REPLY_SERIAL value at *reply_offset. */
static size_t build(unsigned char *out, unsigned char type, const char *path, const char *interface,
                    const char *member, const char *body_text, size_t *reply_offset) {
    struct builder b = {.length = 0};
    b.data[0] = 'l';
    b.data[1] = type;
    b.data[2] = 0;
    b.data[3] = 1;
    b.length = 16; /* body length, serial and field-array length filled below */
    if (path) put_field(&b, 1, "o", path, 0);
    if (interface) put_field(&b, 2, "s", interface, 0);
    if (member) put_field(&b, 3, "s", member, 0);
    if (reply_offset) {
        put_field(&b, 5, "u", NULL, 0);
        *reply_offset = b.length - 4;
    }
    put_field(&b, 8, "g", "s", 0);
    uint32_t array_length = (uint32_t)(b.length - 16);
    pad(&b, 8);
    size_t body_start = b.length;
    put_string(&b, body_text);
    uint32_t body_length = (uint32_t)(b.length - body_start), serial = 1;
    memcpy(b.data + 4, &body_length, 4);
    memcpy(b.data + 8, &serial, 4);
    memcpy(b.data + 12, &array_length, 4);
    memcpy(out, b.data, b.length);
    return b.length;
}

/* The length of the message at the start of `data`, or 0 if its fixed header is not complete yet. */
static size_t message_length(const unsigned char *data, size_t available) {
    if (available < 16) return 0;
    uint32_t body, array;
    memcpy(&body, data + 4, 4);
    memcpy(&array, data + 12, 4);
    return 16 + ((array + 7) & ~7u) + body;
}

struct connection {
    int fd;
    enum { SASL, MESSAGES, DONE } state;
    unsigned char in[BUFFER_SIZE];
    size_t in_length;
    uint32_t serial;
    int nul_seen; /* server: the client's leading NUL byte was consumed */
};

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec / 1e9;
}

static int write_all(int fd, const void *data, size_t length) {
    const unsigned char *p = data;
    while (length > 0) {
        ssize_t n = write(fd, p, length);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0 && errno == EAGAIN) {
            struct timespec pause = {0, 50000};
            nanosleep(&pause, NULL);
            continue;
        }
        if (n <= 0) return -1;
        p += n;
        length -= (size_t)n;
    }
    return 0;
}

static int unix_socket(const char *path, int listening) {
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_un address = {.sun_family = AF_UNIX};
    if (fd < 0 || strlen(path) >= sizeof address.sun_path) return -1;
    strcpy(address.sun_path, path);
    if (listening) {
        unlink(path);
        if (bind(fd, (struct sockaddr *)&address, sizeof address) < 0 || listen(fd, 128) < 0) return -1;
    } else if (connect(fd, (struct sockaddr *)&address, sizeof address) < 0) {
        return -1;
    } else {
        fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
    }
    return fd;
}

/* Waits (at most a second) until c->fd is readable. */
static void await_input(struct connection *c) {
    struct pollfd p = {.fd = c->fd, .events = POLLIN};
    poll(&p, 1, 1000);
}

/* Reads what is there into c->in; -1 on EOF or error. */
static int fill(struct connection *c) {
    for (;;) {
        ssize_t n = read(c->fd, c->in + c->in_length, BUFFER_SIZE - c->in_length);
        if (n > 0) {
            c->in_length += (size_t)n;
            if (c->in_length == BUFFER_SIZE) return 0;
            continue;
        }
        if (n == 0) return -1;
        if (errno == EINTR) continue;
        return errno == EAGAIN ? 0 : -1;
    }
}

static void consume(struct connection *c, size_t count) {
    memmove(c->in, c->in + count, c->in_length - count);
    c->in_length -= count;
}

/* The next CRLF-terminated line in c->in (NUL-terminated in place, CRLF dropped on consume), or NULL. */
static char *line(struct connection *c, size_t *consumed) {
    for (size_t i = 0; i + 1 < c->in_length; i++) {
        if (c->in[i] == '\r' && c->in[i + 1] == '\n') {
            c->in[i] = 0;
            *consumed = i + 2;
            return (char *)c->in;
        }
    }
    return NULL;
}

/* Bodies that make a call and a return of 200 bytes each, about BlueChi's size for a unit's state. */
static const char *call_text = "node1: unit bench.service is active (running), memory 12.3M";
static const char *reply_text =
    "bench.service: loaded, active (running) since boot; substate running, result success, "
    "main pid 4242, memory 12.3M, tasks 7, cpu 1.234s, restarts 0, unit file enabled.";

/* ---------------------------------------------------------------- server */

static int serve(const char *path) {
    unsigned char reply[512];
    size_t reply_offset = 0, reply_length = build(reply, 2, NULL, NULL, NULL, reply_text, &reply_offset);
    int listener = unix_socket(path, 1), epoll = epoll_create1(EPOLL_CLOEXEC);
    if (listener < 0 || epoll < 0) {
        perror("dbus-load server");
        return 2;
    }
    struct epoll_event event = {.events = EPOLLIN, .data.ptr = NULL};
    epoll_ctl(epoll, EPOLL_CTL_ADD, listener, &event);
    printf("listening on %s (reply %zu bytes)\n", path, reply_length);
    fflush(stdout);
    for (;;) {
        struct epoll_event events[64];
        int ready = epoll_wait(epoll, events, 64, -1);
        for (int i = 0; i < ready; i++) {
            struct connection *c = events[i].data.ptr;
            if (!c) {
                int fd = accept4(listener, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
                if (fd < 0) continue;
                c = calloc(1, sizeof *c);
                c->fd = fd;
                struct epoll_event added = {.events = EPOLLIN, .data.ptr = c};
                epoll_ctl(epoll, EPOLL_CTL_ADD, fd, &added);
                continue;
            }
            int closed = fill(c) < 0;
            for (;;) {
                if (c->state == SASL) {
                    if (c->in_length > 0 && c->in[0] == 0 && !c->nul_seen) {
                        consume(c, 1); /* the leading NUL, once */
                        c->nul_seen = 1;
                    }
                    size_t used;
                    char *text = line(c, &used);
                    if (!text) break;
                    const char *answer = NULL;
                    if (!strncmp(text, "AUTH", 4))
                        answer = "OK 0123456789abcdef0123456789abcdef\r\n";
                    else if (!strcmp(text, "NEGOTIATE_UNIX_FD"))
                        answer = "AGREE_UNIX_FD\r\n";
                    else if (!strcmp(text, "BEGIN"))
                        c->state = MESSAGES;
                    else
                        answer = "ERROR\r\n";
                    consume(c, used);
                    if (answer && write_all(c->fd, answer, strlen(answer)) < 0) closed = 1;
                } else {
                    size_t length = message_length(c->in, c->in_length);
                    if (length == 0 || length > c->in_length) break;
                    if (c->in[1] == 1) { /* a method call: answer it */
                        uint32_t serial;
                        memcpy(&serial, c->in + 8, 4);
                        c->serial++;
                        memcpy(reply + 8, &c->serial, 4);
                        memcpy(reply + reply_offset, &serial, 4);
                        if (write_all(c->fd, reply, reply_length) < 0) closed = 1;
                    }
                    consume(c, length);
                }
            }
            if (closed) {
                close(c->fd);
                free(c);
            }
        }
    }
}

/* ---------------------------------------------------------------- client */

static int run_client(const char *path, int count, long round_trips, double seconds) {
    unsigned char call[512], registration[512];
    size_t call_length =
        build(call, 1, "/org/eclipse/bluechi/internal/node", "org.eclipse.bluechi.internal.Node", "Report",
              call_text, NULL);
    size_t registration_length = build(registration, 1, "/org/eclipse/bluechi/internal",
                                       "org.eclipse.bluechi.internal.Controller", "Register", "node1", NULL);
    char auth[128];
    int length = snprintf(auth, sizeof auth, "%cAUTH EXTERNAL ", 0);
    char uid[16];
    snprintf(uid, sizeof uid, "%u", (unsigned)getuid());
    for (char *p = uid; *p; p++) length += snprintf(auth + length, sizeof auth - (size_t)length, "%02x", *p);
    length += snprintf(auth + length, sizeof auth - (size_t)length, "\r\nNEGOTIATE_UNIX_FD\r\nBEGIN\r\n");

    static struct connection connections[MAX_CONNECTIONS];
    const char *negotiation = "?";
    int epoll = epoll_create1(EPOLL_CLOEXEC);
    double deadline = now() + seconds;
    /* Authenticate and register every connection, one after another, blocking. */
    for (int i = 0; i < count; i++) {
        struct connection *c = &connections[i];
        c->fd = unix_socket(path, 0);
        if (c->fd < 0 || write_all(c->fd, auth, (size_t)length) < 0) {
            fprintf(stderr, "dbus-load client: cannot connect to %s: %s\n", path, strerror(errno));
            return 1;
        }
        int lines = 0;
        while (lines < 2) {
            await_input(c);
            if (fill(c) < 0 || now() > deadline) {
                fprintf(stderr, "dbus-load client: connection %d closed during authentication\n", i);
                return 1;
            }
            size_t used;
            char *text;
            while (lines < 2 && (text = line(c, &used))) {
                if (lines == 0 && strncmp(text, "OK ", 3)) {
                    fprintf(stderr, "dbus-load client: authentication refused: %s\n", text);
                    return 1;
                }
                if (lines == 1) negotiation = strncmp(text, "AGREE_UNIX_FD", 13) ? "ERROR" : "AGREE";
                consume(c, used);
                lines++;
            }
        }
        c->serial = 1;
        memcpy(registration + 8, &c->serial, 4);
        if (write_all(c->fd, registration, registration_length) < 0) return 1;
        for (;;) {
            size_t message = message_length(c->in, c->in_length);
            if (message && message <= c->in_length) {
                if (c->in[1] != 2) {
                    fprintf(stderr, "dbus-load client: Register was not answered with a method return\n");
                    return 1;
                }
                consume(c, message);
                break;
            }
            await_input(c);
            if (fill(c) < 0 || now() > deadline) {
                fprintf(stderr, "dbus-load client: connection %d closed at Register\n", i);
                return 1;
            }
        }
        struct epoll_event event = {.events = EPOLLIN, .data.ptr = c};
        epoll_ctl(epoll, EPOLL_CTL_ADD, c->fd, &event);
    }
    /* The closed loop: one call outstanding per connection. */
    long done = 0, sent = 0;
    double start = now();
    for (int i = 0; i < count && sent < round_trips; i++) {
        struct connection *c = &connections[i];
        c->serial++;
        memcpy(call + 8, &c->serial, 4);
        if (write_all(c->fd, call, call_length) < 0) return 1;
        sent++;
    }
    while (done < sent) {
        if (now() > deadline) {
            fprintf(stderr, "dbus-load client: out of time after %ld round trips\n", done);
            break;
        }
        struct epoll_event events[MAX_CONNECTIONS];
        int ready = epoll_wait(epoll, events, MAX_CONNECTIONS, 1000);
        for (int i = 0; i < ready; i++) {
            struct connection *c = events[i].data.ptr;
            if (fill(c) < 0) {
                fprintf(stderr, "dbus-load client: a connection closed after %ld round trips\n", done);
                return 1;
            }
            size_t message;
            while ((message = message_length(c->in, c->in_length)) && message <= c->in_length) {
                consume(c, message);
                done++;
                if (sent < round_trips) {
                    c->serial++;
                    memcpy(call + 8, &c->serial, 4);
                    if (write_all(c->fd, call, call_length) < 0) return 1;
                    sent++;
                }
            }
        }
    }
    double elapsed = now() - start;
    printf("round_trips=%ld seconds=%.3f negotiation=%s call_bytes=%zu\n", done, elapsed, negotiation, call_length);
    for (int i = 0; i < count; i++) close(connections[i].fd);
    return done == round_trips ? 0 : 1;
}

int main(int argc, char **argv) {
    signal(SIGPIPE, SIG_IGN);
    if (argc == 3 && !strcmp(argv[1], "server")) return serve(argv[2]);
    if (argc == 6 && !strcmp(argv[1], "client")) {
        int count = atoi(argv[3]);
        if (count < 1 || count > MAX_CONNECTIONS) {
            fprintf(stderr, "dbus-load: CONNECTIONS must be 1 to %d\n", MAX_CONNECTIONS);
            return 2;
        }
        return run_client(argv[2], count, atol(argv[4]), atof(argv[5]));
    }
    fprintf(stderr, "usage: dbus-load server UNIX_PATH | dbus-load client UNIX_PATH CONNECTIONS ROUND_TRIPS SECONDS\n");
    return 2;
}
