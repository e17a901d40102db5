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
                                         default 200), each with its send time, for SECONDS or
                                         until SIGTERM; then an end mark (5 copies, 5 ms apart)
                                         telling how many were sent
  stream-recv ADDR PORT SECONDS READYFILE [PPS [RUNSFILE [QUIET]]]
                                         receive a stream-send for up to SECONDS (ending 0.2 s
                                         after its end mark, or after QUIET s, default 3, of
                                         silence once it began); print "sent= received= lost= dup= reordered=
                                         gap_ms= gap_at= p50_ms= p99_ms=": gap_ms is the longest
                                         run of lost datagrams in ms (PPS, default 1000,
                                         converts), gap_at when it began (s into the stream),
                                         p50/p99 the one-way delay (both ends on one machine
                                         share CLOCK_MONOTONIC). RUNSFILE gets "t0 EPOCH" (the
                                         wall-clock time the stream began) and a line "MS COUNT"
                                         for every run of lost datagrams, MS after t0
  tick-listen ADDR PORT send|recv SECONDS READYFILE [tcp|mptcp [STALLFILE]]
  tick-connect ADDR PORT send|recv SECONDS [tcp|mptcp [STALLFILE]]
                                         one TCP (or MPTCP) connection carrying a 16-byte record
                                         every ms, numbered and stamped, for SECONDS or until
                                         the sender's SIGTERM. The receiver prints "records=
                                         max_gap_ms= gap_at= p50_ms= p99_ms=": the longest time
                                         without arrivals, when it began (s into the stream),
                                         the records' one-way delay; STALLFILE gets "t0 EPOCH"
                                         and "MS GAP_MS" for every gap over 5 ms, MS after t0
  uapi SOCKET [TIMEOUT [eof]]            send stdin to a UAPI unix socket (then shut down our
                                         sending side if "eof" is given), print the reply until
                                         the daemon closes, an "errno=N" line followed by an
                                         empty line, or TIMEOUT (default 3 s) passes
  path-wait SOCKET NAME STATE SECONDS    poll get=1 every 20 ms until the path NAME (braid_path=
                                         NAME,...) is in STATE; print "at=EPOCH" (the wall-clock
                                         time it was first seen so); exit 1 after SECONDS
  uapi-idle SOCKET SECONDS [TEXT]        connect, send TEXT (default nothing: an idle client;
                                         a partial request: a slow one), hold the connection
  unix-stale PATH                        leave a unix socket file nobody listens on

Every blocking call has a time-out; errors go to stderr with a non-zero exit.
"""
import hashlib
import os
import signal
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
STREAM_END = 0xFFFFFFFF  # the end mark's sequence number; its time field is the count sent


class Stop:
    """Set by SIGTERM: a sender ends its stream cleanly when told to."""

    asked = False

    @classmethod
    def arm(cls):
        signal.signal(signal.SIGTERM, lambda *_: setattr(cls, "asked", True))


def epoch_of(mono):
    """The wall-clock time of a CLOCK_MONOTONIC instant (for scripts that use date)."""
    return mono + time.time() - time.monotonic()


def stream_send(addr, port, pps, seconds, size="200"):
    pps, seconds, size = int(pps), float(seconds), max(int(size), STREAM.size)
    Stop.arm()
    s = socket.socket(family(addr), socket.SOCK_DGRAM)
    s.connect((addr, int(port)))
    pad = bytes(size - STREAM.size)
    start = time.monotonic()
    seq = 0
    while seq < int(pps * seconds) and not Stop.asked:
        due = start + seq / pps
        delay = due - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        try:
            s.send(STREAM.pack(seq, time.monotonic()) + pad)
        except OSError:  # no route for a moment: that datagram is lost, the stream goes on
            pass
        seq += 1
    for _ in range(5):
        try:
            s.send(STREAM.pack(STREAM_END, float(seq)) + pad)
        except OSError:
            pass
        time.sleep(0.005)
    s.close()
    print("sent=%d" % seq)


def loss_runs(sent, arrived):
    """The runs of lost sequence numbers below sent: (first, length) each."""
    runs, start = [], None
    for seq in range(sent + 1):
        if seq < sent and seq not in arrived:
            if start is None:
                start = seq
        elif start is not None:
            runs.append((start, seq - start))
            start = None
    return runs


def stream_recv(addr, port, seconds, ready, pps="1000", runsfile="", quiet="3"):
    seconds, pps, quiet = float(seconds), int(pps), float(quiet)
    s = socket.socket(family(addr), socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
    s.bind((addr, int(port)))
    open(ready, "w").close()
    arrived, delays = {}, []
    dup = reordered = highest = total = 0
    start = None  # the sender's CLOCK_MONOTONIC at sequence 0 (it never sends early)
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        s.settimeout(max(0.05, min(quiet if arrived else 10, end - time.monotonic())))
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
        if seq == STREAM_END:
            if not total:  # stragglers on a slower path: a little longer
                total, end = int(sent), min(end, now + 0.2)
            continue
        if seq in arrived:
            dup += 1
            continue
        arrived[seq] = now
        delays.append(now - sent)
        start = sent - seq / pps if start is None else min(start, sent - seq / pps)
        if seq < highest:
            reordered += 1
        highest = max(highest, seq + 1)
    sent = max(highest, total)
    runs = loss_runs(sent, arrived)
    gap_at, gap = max(runs, key=lambda r: r[1], default=(0, 0))
    delays.sort()
    pct = lambda q: delays[min(len(delays) - 1, int(q * len(delays)))] * 1000 if delays else -1
    print("sent=%d received=%d lost=%d dup=%d reordered=%d gap_ms=%.0f gap_at=%.2f "
          "p50_ms=%.2f p99_ms=%.2f" % (sent, len(arrived), sent - len(arrived), dup, reordered,
                                      gap * 1000.0 / pps, gap_at / pps, pct(0.5), pct(0.99)))
    if runsfile:
        with open(runsfile, "w") as f:
            f.write("t0 %.6f\n" % epoch_of(start if start is not None else time.monotonic()))
            for first, n in runs:
                f.write("%.1f %d\n" % (first * 1000.0 / pps, n))


TICK = struct.Struct("!Id4x")  # sequence number, send time (CLOCK_MONOTONIC), padding: 16 bytes


def tick_socket(addr, proto):
    """A stream socket, MPTCP if asked (IPPROTO_MPTCP is 262 where Python lacks the name)."""
    if proto not in ("tcp", "mptcp"):
        sys.exit("tick: protocol %r (tcp or mptcp)" % proto)
    number = getattr(socket, "IPPROTO_MPTCP", 262) if proto == "mptcp" else 0
    return socket.socket(family(addr), socket.SOCK_STREAM, number)


def tick_send(conn, seconds):
    """One record a millisecond for SECONDS, or until SIGTERM; no catch-up after a stall."""
    conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    conn.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 1 << 20)  # an outage's records wait
    start, seq = time.monotonic(), 0
    while seq < int(1000 * seconds) and not Stop.asked:
        delay = start + seq / 1000 - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        conn.sendall(TICK.pack(seq, time.monotonic()))
        seq += 1
    tcp_close(conn)
    print("records=%d" % seq)


def tick_recv(conn, stallfile):
    """Read records until EOF; the gaps between arrivals and the records' one-way delay."""
    buf, delays, stalls = b"", [], []
    start = first = last = None
    while True:
        data = conn.recv(65536)
        now = time.monotonic()
        if not data:
            break
        if last is not None and now - last > 0.005:
            stalls.append((last, now - last))
        last = now
        buf += data
        while len(buf) >= TICK.size:
            seq, sent = TICK.unpack_from(buf)
            buf = buf[TICK.size:]
            delays.append(now - sent)
            start = sent - seq / 1000 if start is None else min(start, sent - seq / 1000)
            first = now if first is None else first
    conn.close()
    gap_at, gap = max(stalls, key=lambda st: st[1], default=(first or 0, 0))
    delays.sort()
    pct = lambda q: delays[min(len(delays) - 1, int(q * len(delays)))] * 1000 if delays else -1
    print("records=%d max_gap_ms=%.0f gap_at=%.2f p50_ms=%.2f p99_ms=%.2f" % (
        len(delays), gap * 1000, gap_at - start if start is not None else 0, pct(0.5),
        pct(0.99)))
    if stallfile and start is not None:
        with open(stallfile, "w") as f:
            f.write("t0 %.6f\n" % epoch_of(start))
            for at, g in stalls:
                f.write("%.1f %.1f\n" % ((at - start) * 1000, g * 1000))


def tick_run(conn, role, seconds, stallfile):
    conn.settimeout(float(seconds) + 20)
    if role == "send":
        tick_send(conn, float(seconds))
    elif role == "recv":
        tick_recv(conn, stallfile)
    else:
        sys.exit("tick: role %r (send or recv)" % role)


def tick_listen(addr, port, role, seconds, ready, proto="tcp", stallfile=""):
    Stop.arm()
    srv = tick_socket(addr, proto)
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind((addr, int(port)))
    srv.listen(1)
    srv.settimeout(30)
    open(ready, "w").close()
    conn, _ = srv.accept()
    tick_run(conn, role, seconds, stallfile)
    srv.close()  # not before: an MPTCP subflow joins through the listener


def tick_connect(addr, port, role, seconds, proto="tcp", stallfile=""):
    Stop.arm()
    deadline = time.monotonic() + 15
    while True:
        s = tick_socket(addr, proto)
        s.settimeout(10)
        try:
            s.connect((addr, int(port)))
            break
        except OSError as e:
            s.close()
            if time.monotonic() > deadline:
                sys.exit("tick-connect: %s port %s: %s" % (addr, port, e))
            time.sleep(0.2)
    tick_run(s, role, seconds, stallfile)


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


def path_state(sock, name):
    """The state of a path in the daemon's get=1, or a word saying why there is none."""
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(2)
    reply = b""
    try:
        s.connect(sock)
        s.sendall(b"get=1\n\n")
        while not reply.endswith(b"\n\n"):
            data = s.recv(65536)
            if not data:
                break
            reply += data
    except OSError as e:
        return "error:%s" % e.strerror
    finally:
        s.close()
    for line in reply.decode("utf-8", "replace").splitlines():
        if line.startswith("braid_path=%s," % name):
            for field in line.split(","):
                if field.startswith("state="):
                    return field[6:]
    return "none"


def path_wait(sock, name, state, seconds):
    end = time.monotonic() + float(seconds)
    while True:
        now = time.time()
        seen = path_state(sock, name)
        if seen == state:
            print("at=%.6f" % now)
            return
        if time.monotonic() > end:
            sys.exit("path-wait: path %s is %s, not %s, after %s s" % (name, seen, state, seconds))
        time.sleep(0.02)


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
        "tick-listen": tick_listen,
        "tick-connect": tick_connect,
        "uapi": uapi,
        "path-wait": path_wait,
        "uapi-idle": uapi_idle,
        "unix-stale": unix_stale,
    }
    if len(sys.argv) < 2 or sys.argv[1] not in commands:
        sys.exit(__doc__)
    commands[sys.argv[1]](*sys.argv[2:])


if __name__ == "__main__":
    main()
