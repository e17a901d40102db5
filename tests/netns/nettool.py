#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Small traffic and UAPI clients for braid's namespace tests (python3 standard library only).

  tcp-recv ADDR PORT OUTFILE READYFILE   accept one connection, write the stream to OUTFILE
  tcp-send ADDR PORT INFILE              connect (retrying while refused), send INFILE, close
  udp-recv ADDR PORT COUNT READYFILE     count datagrams until COUNT or 2 s of silence; print
                                         "INTACT CORRUPTED" (each datagram carries its digest)
  udp-send ADDR PORT COUNT MAXSIZE       send COUNT datagrams of sizes 40..MAXSIZE, paced
  uapi SOCKET [TIMEOUT [eof]]            send stdin to a UAPI unix socket (then shut down our
                                         sending side if "eof" is given), print the reply until
                                         the daemon closes, an "errno=N" line followed by an
                                         empty line, or TIMEOUT (default 3 s) passes
  uapi-idle SOCKET SECONDS [TEXT]        connect, send TEXT (default nothing: an idle client;
                                         a partial request: a slow one), hold the connection
  unix-stale PATH                        leave a unix socket file nobody listens on

Every blocking call has a time-out; errors go to stderr with a non-zero exit.
"""
import hashlib
import os
import socket
import struct
import sys
import time


def family(addr):
    return socket.AF_INET6 if ":" in addr else socket.AF_INET


def tcp_recv(addr, port, outfile, ready):
    srv = socket.socket(family(addr), socket.SOCK_STREAM)
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind((addr, int(port)))
    srv.listen(1)
    srv.settimeout(30)
    open(ready, "w").close()
    conn, _ = srv.accept()
    conn.settimeout(30)
    total = 0
    with open(outfile, "wb") as f:
        while True:
            data = conn.recv(1 << 20)
            if not data:
                break
            f.write(data)
            total += len(data)
    conn.close()
    print(total)


def tcp_send(addr, port, infile):
    deadline = time.monotonic() + 15
    while True:
        s = socket.socket(family(addr), socket.SOCK_STREAM)
        s.settimeout(10)
        try:
            s.connect((addr, int(port)))
            break
        except (ConnectionRefusedError, socket.timeout, OSError) as e:
            s.close()
            if time.monotonic() > deadline:
                sys.exit("tcp-send: connect to %s port %s: %s" % (addr, port, e))
            time.sleep(0.2)
    s.settimeout(30)
    with open(infile, "rb") as f:
        s.sendfile(f)
    s.shutdown(socket.SHUT_WR)
    while s.recv(4096):
        pass
    s.close()


HDR = struct.Struct("!I32s")


def udp_recv(addr, port, count, ready):
    count = int(count)
    s = socket.socket(family(addr), socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
    s.bind((addr, int(port)))
    open(ready, "w").close()
    seen = set()
    bad = 0
    s.settimeout(10)  # the first datagram may wait for a handshake
    while len(seen) < count:
        try:
            data = s.recv(65536)
        except socket.timeout:
            break
        s.settimeout(2)
        if len(data) < HDR.size:
            bad += 1
            continue
        seq, digest = HDR.unpack_from(data)
        if hashlib.sha256(data[HDR.size:]).digest() != digest:
            bad += 1
            continue
        seen.add(seq)
    print(len(seen), bad)


def udp_send(addr, port, count, maxsize):
    count, maxsize = int(count), int(maxsize)
    s = socket.socket(family(addr), socket.SOCK_DGRAM)
    s.connect((addr, int(port)))
    span = maxsize - HDR.size - 1
    for seq in range(count):
        # Sizes sweep the whole range and hit the maximum exactly every 50 datagrams.
        size = maxsize - HDR.size if seq % 50 == 0 else 1 + (seq * 7919) % span
        payload = os.urandom(size)
        s.send(HDR.pack(seq, hashlib.sha256(payload).digest()) + payload)
        if seq % 10 == 9:
            time.sleep(0.002)
    s.close()


def uapi(path, timeout="3", eof=""):
    request = sys.stdin.buffer.read()
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(float(timeout))
    s.connect(path)
    try:
        s.sendall(request)
        if eof == "eof":
            s.shutdown(socket.SHUT_WR)
    except OSError as e:  # the daemon may close before reading everything
        sys.stderr.write("uapi: send: %s\n" % e)
    reply = b""
    try:
        while True:
            data = s.recv(65536)
            if not data:
                break
            reply += data
            text = reply.decode("utf-8", "replace")
            if "\nerrno=" in "\n" + text and text.endswith("\n\n"):
                break
    except socket.timeout:
        sys.stderr.write("uapi: no more reply after %s s\n" % timeout)
    except OSError as e:
        sys.stderr.write("uapi: recv: %s\n" % e)
    s.close()
    sys.stdout.write(reply.decode("utf-8", "replace"))


def uapi_idle(path, seconds, text=""):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(5)
    s.connect(path)
    if text:
        s.sendall(text.encode().decode("unicode_escape").encode())
    time.sleep(float(seconds))
    s.close()


def unix_stale(path):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.bind(path)
    s.close()  # the file stays, with no listener behind it


def main():
    commands = {
        "tcp-recv": tcp_recv,
        "tcp-send": tcp_send,
        "udp-recv": udp_recv,
        "udp-send": udp_send,
        "uapi": uapi,
        "uapi-idle": uapi_idle,
        "unix-stale": unix_stale,
    }
    if len(sys.argv) < 2 or sys.argv[1] not in commands:
        sys.exit(__doc__)
    commands[sys.argv[1]](*sys.argv[2:])


if __name__ == "__main__":
    main()
