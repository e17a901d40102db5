#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Small traffic and UAPI clients for braid's namespace tests (python3 standard library only).

  tcp-recv ADDR PORT OUTFILE READYFILE   accept one connection, write the stream to OUTFILE
  tcp-send ADDR PORT INFILE              connect (retrying while refused), send INFILE, close
  tcp-recv-timed ADDR PORT READYFILE [SLOT]
                                         accept one connection, time every arrival; print
                                         "bytes= sha256= seconds= max_gap_ms= gap_at=
                                         empty_slots=": the longest gap between two arrivals
                                         (and when, s into the stream) and the SLOT-second
                                         (0.25) slots with no byte at all
  tcp-send-paced ADDR PORT SECONDS MBIT  connect, send random bytes at MBIT Mbit/s for SECONDS
                                         (no catch-up burst over 0.5 s after a stall), close;
                                         print "bytes= sha256="
  udp-recv ADDR PORT COUNT READYFILE     count datagrams until COUNT or 2 s of silence; print
                                         "INTACT CORRUPTED" (each datagram carries its digest)
  udp-send ADDR PORT COUNT MAXSIZE       send COUNT datagrams of sizes 40..MAXSIZE, paced
  stream-send ADDR PORT PPS SECONDS [SIZE]
                                         send PPS numbered datagrams a second (SIZE bytes,
                                         default 200), each with its send time, for SECONDS
  stream-recv ADDR PORT SECONDS READYFILE [PPS]
                                         receive a stream-send for up to SECONDS (ending after
                                         3 s of silence once it began); print "sent= received=
                                         lost= dup= reordered= gap_ms= gap_at= p50_ms= p99_ms=":
                                         gap_ms is the longest run of lost datagrams in ms
                                         (PPS, default 1000, converts), gap_at when it began (s
                                         into the stream), p50/p99 the one-way delay (both ends
                                         on one machine share CLOCK_MONOTONIC)
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


def tcp_stream_in(addr, port, ready, conn_timeout, bufsize):
    """Accept one connection (30 s at most) after creating READY; yield what arrives until EOF."""
    srv = socket.socket(family(addr), socket.SOCK_STREAM)
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind((addr, int(port)))
    srv.listen(1)
    srv.settimeout(30)
    open(ready, "w").close()
    conn, _ = srv.accept()
    conn.settimeout(conn_timeout)
    try:
        while True:
            data = conn.recv(bufsize)
            if not data:
                break
            yield data
    finally:
        conn.close()


def tcp_recv(addr, port, outfile, ready):
    total = 0
    with open(outfile, "wb") as f:
        for data in tcp_stream_in(addr, port, ready, 30, 1 << 20):
            f.write(data)
            total += len(data)
    print(total)


def tcp_recv_timed(addr, port, ready, slot="0.25"):
    slot = float(slot)
    h, total, first, last, gap, gap_at, slots = hashlib.sha256(), 0, None, None, 0.0, 0.0, {}
    for data in tcp_stream_in(addr, port, ready, 20, 1 << 18):
        t = time.monotonic()
        if first is None:
            first = t
        elif t - last > gap:
            gap, gap_at = t - last, last - first
        last = t
        h.update(data)
        total += len(data)
        n = int((t - first) / slot)
        slots[n] = slots.get(n, 0) + len(data)
    n = int((last - first) / slot) + 1 if first is not None else 0
    empty = sum(1 for i in range(n) if i not in slots)
    print("bytes=%d sha256=%s seconds=%.2f max_gap_ms=%.0f gap_at=%.2f empty_slots=%d" % (
        total, h.hexdigest(), (last - first) if first else 0, gap * 1000, gap_at, empty))


def tcp_connect(addr, port, who, timeout):
    """Connect, retrying for 15 s while refused or unreachable; the socket gets TIMEOUT."""
    deadline = time.monotonic() + 15
    while True:
        s = socket.socket(family(addr), socket.SOCK_STREAM)
        s.settimeout(10)
        try:
            s.connect((addr, int(port)))
            break
        except OSError as e:
            s.close()
            if time.monotonic() > deadline:
                sys.exit("%s: connect to %s port %s: %s" % (who, addr, port, e))
            time.sleep(0.2)
    s.settimeout(timeout)
    return s


def tcp_close(s):
    """Half-close, wait for the receiver to close, close."""
    s.shutdown(socket.SHUT_WR)
    while s.recv(4096):
        pass
    s.close()


def tcp_send(addr, port, infile):
    s = tcp_connect(addr, port, "tcp-send", 30)
    with open(infile, "rb") as f:
        s.sendfile(f)
    tcp_close(s)


def tcp_send_paced(addr, port, seconds, mbit):
    s = tcp_connect(addr, port, "tcp-send-paced", 20)
    rate, chunk, h, total = float(mbit) * 1e6 / 8, 16384, hashlib.sha256(), 0
    t0 = time.monotonic()
    end = t0 + float(seconds)
    while True:
        now = time.monotonic()
        if now >= end:
            break
        due = t0 + total / rate
        if due > now:
            time.sleep(min(due - now, end - now))
            continue
        if now - due > 0.5:  # after a stall, no catch-up burst of more than 0.5 s
            t0 += now - due - 0.5
        data = os.urandom(chunk)
        s.sendall(data)
        h.update(data)
        total += len(data)
    tcp_close(s)
    print("bytes=%d sha256=%s" % (total, h.hexdigest()))


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


STREAM = struct.Struct("!Id")


def stream_send(addr, port, pps, seconds, size="200"):
    pps, seconds, size = int(pps), float(seconds), max(int(size), STREAM.size)
    s = socket.socket(family(addr), socket.SOCK_DGRAM)
    s.connect((addr, int(port)))
    pad = bytes(size - STREAM.size)
    start = time.monotonic()
    for seq in range(int(pps * seconds)):
        due = start + seq / pps
        delay = due - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        try:
            s.send(STREAM.pack(seq, time.monotonic()) + pad)
        except OSError:  # no route for a moment: that datagram is lost, the stream goes on
            pass
    s.close()
    print("sent=%d" % int(pps * seconds))


def stream_recv(addr, port, seconds, ready, pps="1000"):
    seconds, pps = float(seconds), int(pps)
    s = socket.socket(family(addr), socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
    s.bind((addr, int(port)))
    open(ready, "w").close()
    arrived, delays = {}, []
    dup = reordered = highest = 0
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        s.settimeout(max(0.05, min(3 if arrived else 10, end - time.monotonic())))
        try:
            data = s.recv(65536)
        except socket.timeout:
            if arrived:
                break
            continue
        now = time.monotonic()
        if len(data) < STREAM.size:
            continue
        seq, sent = STREAM.unpack_from(data)
        if seq in arrived:
            dup += 1
            continue
        arrived[seq] = now
        delays.append(now - sent)
        if seq < highest:
            reordered += 1
        highest = max(highest, seq + 1)
    sent = highest
    gap = run = 0
    gap_at = run_start = 0
    for seq in range(sent):
        if seq in arrived:
            run = 0
            continue
        if run == 0:
            run_start = seq
        run += 1
        if run > gap:
            gap, gap_at = run, run_start
    delays.sort()
    pct = lambda q: delays[min(len(delays) - 1, int(q * len(delays)))] * 1000 if delays else -1
    print("sent=%d received=%d lost=%d dup=%d reordered=%d gap_ms=%.0f gap_at=%.2f "
          "p50_ms=%.2f p99_ms=%.2f" % (sent, len(arrived), sent - len(arrived), dup, reordered,
                                      gap * 1000.0 / pps, gap_at / pps, pct(0.5), pct(0.99)))


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
        "tcp-recv-timed": tcp_recv_timed,
        "tcp-send-paced": tcp_send_paced,
        "udp-recv": udp_recv,
        "udp-send": udp_send,
        "stream-send": stream_send,
        "stream-recv": stream_recv,
        "uapi": uapi,
        "uapi-idle": uapi_idle,
        "unix-stale": unix_stale,
    }
    if len(sys.argv) < 2 or sys.argv[1] not in commands:
        sys.exit(__doc__)
    commands[sys.argv[1]](*sys.argv[2:])


if __name__ == "__main__":
    main()
