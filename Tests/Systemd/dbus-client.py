"""A D-Bus client (python3-dbus, that is libdbus) that keeps one connection open while the test reloads and
stops sidecar around it.

    dbus-client.py ADDRESS

Connects (SASL, Hello), calls org.freedesktop.DBus.GetId and prints `connected UNIQUE-NAME BUS-ID`. Then, for
every line read on stdin, calls GetId again on the same connection and prints `ok UNIQUE-NAME BUS-ID`, or
`error MESSAGE` when the call fails. Exits at end of input, closing the connection.
"""

import sys

import dbus


def main() -> None:
    bus = dbus.bus.BusConnection(sys.argv[1])
    daemon = bus.get_object("org.freedesktop.DBus", "/org/freedesktop/DBus")

    def bus_id() -> str:
        return str(daemon.GetId(dbus_interface="org.freedesktop.DBus", timeout=10))

    print("connected", bus.get_unique_name(), bus_id(), flush=True)
    for _ in sys.stdin:
        try:
            print("ok", bus.get_unique_name(), bus_id(), flush=True)
        except dbus.DBusException as error:
            print("error", str(error).replace("\n", " "), flush=True)
    bus.close()


if __name__ == "__main__":
    main()
