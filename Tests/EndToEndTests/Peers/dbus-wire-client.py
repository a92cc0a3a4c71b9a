#!/usr/bin/python3
"""A D-Bus client written from the specification, byte by byte, to drive what library clients will not:
sd-bus's pipelined authentication with the first call in the same write (as bluechi-agent's connection
looks on the wire), big-endian messages, a wrong signature, and a Unix fd sent anyway.

    dbus-wire-client.py SOCKET [options] NAME...

Calls BlueChi's Register(s) once per NAME, in order, on one connection, waiting for each reply.
  --stepwise       authenticate as libdbus does, one line per round trip; default: sd-bus's pipelining,
                   "\\0AUTH EXTERNAL\\r\\nDATA\\r\\nNEGOTIATE_UNIX_FD\\r\\nBEGIN\\r\\n" and the first call in one write
  --big-endian     marshal the calls big-endian ('B'); default little-endian ('l')
  --signature SIG  declare SIG instead of "s" (the body is still one string)
  --send-fd        declare UNIX_FDS=1 in each call and pass a descriptor (of /dev/null) with SCM_RIGHTS
  --send-fd-undeclared  pass the descriptor with each call without declaring it in the header
  --burst          after authenticating, send every call in one write, then read the replies

Prints, one per line: "sasl LINE" for each line the server sent during authentication, "negotiate AGREE" or
"negotiate ERROR" (the answer to NEGOTIATE_UNIX_FD), then per call "registered NAME" (a method return),
"error NAME ERROR_NAME" (an error reply) or "closed NAME" (the connection ended before a reply), and exits
0 when every call returned, 1 otherwise.
"""
import os
import socket
import struct
import sys

PATH = "/org/eclipse/bluechi/internal"
INTERFACE = "org.eclipse.bluechi.internal.Controller"
DESTINATION = "org.eclipse.bluechi"


def pad(data, alignment):
    return data + b"\0" * (-len(data) % alignment)


class Marshaller:
    def __init__(self, endian):
        self.endian = endian
        self.prefix = "<" if endian == b"l" else ">"

    def u32(self, value):
        return struct.pack(self.prefix + "I", value)

    def string(self, text):
        data = text.encode()
        return self.u32(len(data)) + data + b"\0"

    def signature(self, text):
        data = text.encode()
        return bytes([len(data)]) + data + b"\0"

    def call(self, serial, name, signature, unix_fds):
        fields = [(1, "o", self.string(PATH)), (2, "s", self.string(INTERFACE)), (3, "s", self.string("Register")),
                  (6, "s", self.string(DESTINATION)), (8, "g", self.signature(signature))]
        if unix_fds:
            fields.append((9, "u", self.u32(unix_fds)))
        array = b""
        for code, kind, value in fields:
            array = pad(array, 8) + bytes([code]) + self.signature(kind) + value
        body = self.string(name)
        header = self.endian + bytes([1, 0, 1]) + self.u32(len(body)) + self.u32(serial) + self.u32(len(array))
        return pad(header + array, 8) + body


class Connection:
    def __init__(self, path):
        self.socket = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.socket.settimeout(10)
        self.socket.connect(path)
        self.buffer = b""

    def fill(self):
        data = self.socket.recv(65536)
        if not data:
            raise EOFError
        self.buffer += data

    def line(self):
        while b"\r\n" not in self.buffer:
            self.fill()
        line, self.buffer = self.buffer.split(b"\r\n", 1)
        print("sasl " + line.decode(errors="replace"), flush=True)
        return line

    def exactly(self, count):
        while len(self.buffer) < count:
            self.fill()
        data, self.buffer = self.buffer[:count], self.buffer[count:]
        return data

    def message(self):
        """Returns (type, error name or None, reply serial) of the next message."""
        fixed = self.exactly(16)
        prefix = "<" if fixed[0:1] == b"l" else ">"
        body_length, _, array_length = struct.unpack(prefix + "III", fixed[4:16])
        array = self.exactly(array_length + (-(16 + array_length) % 8))
        self.exactly(body_length)
        error_name, reply_serial, offset = None, None, 0
        while offset < array_length:
            offset += -offset % 8
            code, signature_length = array[offset], array[offset + 1]
            kind = array[offset + 2:offset + 2 + signature_length].decode()
            offset += 3 + signature_length
            if kind in ("s", "o"):
                offset += -(16 + offset) % 4
                (length,) = struct.unpack(prefix + "I", array[offset:offset + 4])
                value = array[offset + 4:offset + 4 + length].decode()
                offset += 5 + length
            elif kind == "g":
                length = array[offset]
                value = array[offset + 1:offset + 1 + length].decode()
                offset += 2 + length
            else:  # u
                offset += -(16 + offset) % 4
                (value,) = struct.unpack(prefix + "I", array[offset:offset + 4])
                offset += 4
            if code == 4:
                error_name = value
            elif code == 5:
                reply_serial = value
        return fixed[1], error_name, reply_serial

    def send(self, data, fd=None):
        if fd is None:
            self.socket.sendall(data)
        else:
            sent = self.socket.sendmsg([data], [(socket.SOL_SOCKET, socket.SCM_RIGHTS, struct.pack("i", fd))])
            self.socket.sendall(data[sent:])


def main(arguments):
    options = {"--stepwise": False, "--big-endian": False, "--send-fd": False, "--send-fd-undeclared": False,
               "--burst": False}
    signature, names, path = "s", [], arguments[0]
    rest = iter(arguments[1:])
    for argument in rest:
        if argument in options:
            options[argument] = True
        elif argument == "--signature":
            signature = next(rest)
        else:
            names.append(argument)
    marshaller = Marshaller(b"B" if options["--big-endian"] else b"l")
    sends_fd = options["--send-fd"] or options["--send-fd-undeclared"]
    fd = os.open("/dev/null", os.O_RDONLY) if sends_fd else None
    calls = [marshaller.call(serial + 1, name, signature, 1 if options["--send-fd"] else 0)
             for serial, name in enumerate(names)]
    connection = Connection(path)
    try:
        if options["--stepwise"]:
            connection.send(b"\0AUTH EXTERNAL " + str(os.getuid()).encode().hex().encode() + b"\r\n")
            if not connection.line().startswith(b"OK "):
                return 1
            connection.send(b"NEGOTIATE_UNIX_FD\r\n")
            answer = connection.line()
            connection.send(b"BEGIN\r\n")
        else:
            connection.send(b"\0AUTH EXTERNAL\r\nDATA\r\nNEGOTIATE_UNIX_FD\r\nBEGIN\r\n" + (calls[0] if calls else b""),
                            fd if calls else None)
            if connection.line() != b"DATA" or not connection.line().startswith(b"OK "):
                return 1
            answer = connection.line()
        print("negotiate " + ("AGREE" if answer == b"AGREE_UNIX_FD" else "ERROR" if answer.startswith(b"ERROR")
                              else "?"), flush=True)
    except (EOFError, ConnectionError, socket.timeout):
        print("closed during authentication", flush=True)
        return 1
    burst = options["--burst"]
    if burst:
        first = 0 if options["--stepwise"] else 1
        connection.send(b"".join(calls[first:]))
    for index, name in enumerate(names):
        try:
            if (index > 0 or options["--stepwise"]) and not burst:
                connection.send(calls[index], fd)
            while True:
                kind, error_name, reply_serial = connection.message()
                if reply_serial == index + 1:
                    break
        except (EOFError, ConnectionError, socket.timeout):
            print("closed " + name, flush=True)
            return 1
        if kind == 2:
            print("registered " + name, flush=True)
        else:
            print("error %s %s" % (name, error_name), flush=True)
            return 1
    return 0


sys.exit(main(sys.argv[1:]))
