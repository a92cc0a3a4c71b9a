/* Calls BlueChi's Register(s) for each NAME, in order, on one peer-to-peer sd-bus connection, as
 * bluechi-agent does: sd_bus_new + sd_bus_set_address, no Hello (not a bus client), fd passing requested
 * (sd-bus's default), so sd-bus pipelines "\0AUTH EXTERNAL <uid>\r\nNEGOTIATE_UNIX_FD\r\nBEGIN\r\n" and the
 * first call in one go.
 *
 *     sdbus-register ADDRESS NAME...
 *
 * Prints "connected can-send-fd=0|1" (whether the server agreed to fd passing), then "registered NAME" per
 * returned call; a failed call prints "failed NAME: ERROR" and exits 1.
 * Build: cc -o sdbus-register sdbus-register.c $(pkg-config --cflags --libs libsystemd)
 */
#include <stdio.h>
#include <string.h>
#include <systemd/sd-bus.h>

int main(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: %s ADDRESS NAME...\n", argv[0]);
        return 2;
    }
    sd_bus *bus = NULL;
    int r = sd_bus_new(&bus);
    if (r >= 0) r = sd_bus_set_address(bus, argv[1]);
    if (r >= 0) r = sd_bus_negotiate_fds(bus, 1);
    if (r >= 0) r = sd_bus_start(bus);
    if (r < 0) {
        printf("failed to connect: %s\n", strerror(-r));
        return 1;
    }
    for (int i = 2; i < argc; i++) {
        sd_bus_error error = SD_BUS_ERROR_NULL;
        sd_bus_message *reply = NULL;
        r = sd_bus_call_method(bus, "org.eclipse.bluechi", "/org/eclipse/bluechi/internal",
                               "org.eclipse.bluechi.internal.Controller", "Register", &error, &reply, "s", argv[i]);
        if (i == 2) {
            /* Known only once the authentication finished, which the first call waited for. */
            printf("connected can-send-fd=%d\n", sd_bus_can_send(bus, SD_BUS_TYPE_UNIX_FD) > 0);
        }
        if (r < 0) {
            printf("failed %s: %s\n", argv[i], error.message ? error.message : strerror(-r));
            fflush(stdout);
            return 1;
        }
        printf("registered %s\n", argv[i]);
        fflush(stdout);
        sd_bus_message_unref(reply);
        sd_bus_error_free(&error);
    }
    sd_bus_flush_close_unref(bus);
    return 0;
}
