#!/usr/bin/python3
"""A stand-in for BlueChi's controller on a peer-to-peer D-Bus socket, built on GDBus (python3-gi), not on
anything in this repository: it exports Register(s) at BlueChi's path and interface and answers it with an
empty method return, as bluechi-controller 1.2.2 does. Like BlueChi's peer server (peer_bus_open_server), it
also answers org.freedesktop.DBus.Hello with ":1.0", so that bus clients such as busctl and `gdbus call`, which
always say Hello first, work on the peer connection.

    bluechi-controller.py SOCKET RECORD

RECORD gets one line per event, written as it happens (line-buffered):
    connection unix-fd=True|False   a client authenticated; whether fd passing was agreed (NEGOTIATE_UNIX_FD)
    call PATH INTERFACE MEMBER SIGNATURE BODY   every incoming message, whatever it is, before any dispatch
    closed                          the connection ended
It prints "listening" on stdout once SOCKET accepts connections.
"""
import sys

from gi.repository import Gio, GLib

PATH = "/org/eclipse/bluechi/internal"
INTERFACE = "org.eclipse.bluechi.internal.Controller"
XML = f"""<node><interface name="{INTERFACE}">
  <method name="Register"><arg name="name" type="s" direction="in"/></method>
</interface></node>"""
HELLO_XML = """<node><interface name="org.freedesktop.DBus">
  <method name="Hello"><arg name="name" type="s" direction="out"/></method>
</interface></node>"""

socket_path, record_path = sys.argv[1], sys.argv[2]
record = open(record_path, "a", buffering=1)
interface = Gio.DBusNodeInfo.new_for_xml(XML).interfaces[0]
hello_interface = Gio.DBusNodeInfo.new_for_xml(HELLO_XML).interfaces[0]
connections = []


def on_call(connection, sender, path, interface_name, method, parameters, invocation):
    invocation.return_value(None)


def on_hello(connection, sender, path, interface_name, method, parameters, invocation):
    invocation.return_value(GLib.Variant("(s)", (":1.0",)))


def on_message(connection, message, incoming, user_data):
    # A filter sees every message before GDBus dispatches it (and before it checks the signature), so a call
    # that reaches this process is recorded even if GDBus would refuse it.
    if incoming:
        record.write(
            "call %s %s %s %s %s\n"
            % (message.get_path(), message.get_interface(), message.get_member(), message.get_signature(),
               message.get_body())
        )
    return message


def on_new_connection(server, connection):
    capabilities = connection.get_capabilities()
    record.write("connection unix-fd=%s\n" % bool(capabilities & Gio.DBusCapabilityFlags.UNIX_FD_PASSING))
    connection.add_filter(on_message, None)
    connection.register_object(PATH, interface, on_call, None, None)
    connection.register_object("/org/freedesktop/DBus", hello_interface, on_hello, None, None)
    connection.connect("closed", on_closed)
    connections.append(connection)
    return True


def on_closed(connection, remote_peer_vanished, error):
    # GDBus reports the peer's EOF but keeps its socket open while the connection object lives: close it, as
    # bluechi-controller does when a node disconnects, so that the proxy sees the connection end.
    record.write("closed\n")
    connections.remove(connection)
    connection.get_stream().close(None)


server = Gio.DBusServer.new_sync(
    "unix:path=" + socket_path,
    Gio.DBusServerFlags.AUTHENTICATION_ALLOW_ANONYMOUS,
    Gio.dbus_generate_guid(),
    None,
    None,
)
server.connect("new-connection", on_new_connection)
server.start()
print("listening", flush=True)
GLib.MainLoop().run()
