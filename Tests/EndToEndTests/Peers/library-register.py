#!/usr/bin/python3
"""Calls BlueChi's Register(s) for each NAME, in order, on one peer-to-peer connection (no Hello), with a real
D-Bus library: GDBus (python3-gi) or libdbus (python3-dbus). Both authenticate step by step (EXTERNAL, then
NEGOTIATE_UNIX_FD after OK, then BEGIN).

    library-register.py [--wait-between] gdbus|libdbus ADDRESS NAME...

Prints "connected", for GDBus also "unix-fd=True|False" (whether the server agreed to pass fds), then
"registered NAME" per returned call. A failed call prints "failed NAME: ERROR" and exits 1. With
--wait-between it prints "waiting" after each call but the last and reads one line from stdin before the next,
so that a test can act (reload a proxy) while the connection stays open.
"""
import sys

wait_between = sys.argv[1:2] == ["--wait-between"]
if wait_between:
    del sys.argv[1]

PATH = "/org/eclipse/bluechi/internal"
INTERFACE = "org.eclipse.bluechi.internal.Controller"
library, address, names = sys.argv[1], sys.argv[2], sys.argv[3:]

if library == "gdbus":
    from gi.repository import Gio, GLib

    connection = Gio.DBusConnection.new_for_address_sync(
        address, Gio.DBusConnectionFlags.AUTHENTICATION_CLIENT, None, None)
    print("connected", flush=True)
    unix_fd = bool(connection.get_capabilities() & Gio.DBusCapabilityFlags.UNIX_FD_PASSING)
    print("unix-fd=%s" % unix_fd, flush=True)

    def register(name):
        connection.call_sync(None, PATH, INTERFACE, "Register", GLib.Variant("(s)", (name,)), None,
                             Gio.DBusCallFlags.NONE, 10000, None)
elif library == "libdbus":
    import dbus.connection

    connection = dbus.connection.Connection(address)
    print("connected", flush=True)

    def register(name):
        connection.call_blocking(None, PATH, INTERFACE, "Register", "s", [name], timeout=10)
else:
    sys.exit("unknown library " + library)

for index, name in enumerate(names):
    if wait_between and index > 0:
        print("waiting", flush=True)
        sys.stdin.readline()
    try:
        register(name)
    except Exception as error:
        print("failed %s: %s" % (name, error), flush=True)
        sys.exit(1)
    print("registered " + name, flush=True)
