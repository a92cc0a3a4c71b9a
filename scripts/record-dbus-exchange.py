#!/usr/bin/env python3
# Usage: record-dbus-exchange.py OUT.txt, with dbus-daemon listening on /tmp/dbc/rec/bus.sock (see the
# comment in Tests/SidecarProxyTests/DBusRecordedExchanges.swift); then point one client at /tmp/dbc/rec/rec.sock.
# Records one D-Bus client connection to dbus-daemon, chunk by chunk as each side wrote it ("C hex" from the
# client, "S hex" from the server). Like sidecar with option dbus, it keeps NEGOTIATE_UNIX_FD from the
# server and answers ERROR itself, so the server stream recorded is the one a real server sends then.
import os, socket, select, sys
out = open(sys.argv[1], 'w')
path = '/tmp/dbc/rec/rec.sock'
if os.path.exists(path): os.unlink(path)
l = socket.socket(socket.AF_UNIX); l.bind(path); l.listen(1)
c, _ = l.accept()
s = socket.socket(socket.AF_UNIX); s.connect('/tmp/dbc/rec/bus.sock')
open_ = {c: True, s: True}
ok_seen = False; owe_error = False
NEG = b'NEGOTIATE_UNIX_FD\r\n'; ERR = b'ERROR\r\n'
while open_[c] or open_[s]:
    r, _, _ = select.select([x for x in (c, s) if open_[x]], [], [], 5)
    if not r: break
    for x in r:
        d = x.recv(65536)
        tag = 'C' if x is c else 'S'
        if not d:
            open_[x] = False
            (s if x is c else c).shutdown(socket.SHUT_WR)
            continue
        out.write(tag + ' ' + d.hex() + '\n'); out.flush()
        if x is c:
            if NEG in d:
                d = d.replace(NEG, b'')
                if ok_seen: c.sendall(ERR)
                else: owe_error = True
            if d: s.sendall(d)
        else:
            i = d.find(b'OK ')
            if not ok_seen and i >= 0:
                ok_seen = True
                e = d.index(b'\r\n', i) + 2
                if owe_error: d = d[:e] + ERR + d[e:]; owe_error = False
            c.sendall(d)
