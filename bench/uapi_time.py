#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""uapi_time.py SOCKET get|FILE: one UAPI operation timed from the client's side, with no wg(8)
in the way (wg's own parsing of a large configuration or reply takes about as long as the
daemon's work): `get` sends get=1, FILE sends a file holding a whole operation (bench/
scale_conf.py --uapi). Prints "MS BYTES ERRNO": milliseconds from connecting to the end of the
reply, the reply's size, and its errno.
"""
import socket
import sys
import time


def main():
    path, what = sys.argv[1], sys.argv[2]
    request = b"get=1\n\n" if what == "get" else open(what, "rb").read()
    start = time.monotonic()
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(path)
    s.sendall(request)
    size, tail = 0, b""
    while True:
        chunk = s.recv(1 << 20)
        if not chunk:
            break
        size += len(chunk)
        tail = (tail + chunk)[-64:]
        # A reply ends "errno=N" and an empty line; a get's lines before it hold no empty line.
        if tail.endswith(b"\n\n") and b"errno=" in tail.rsplit(b"\n", 3)[-3]:
            break
    took = (time.monotonic() - start) * 1000
    err = tail.rsplit(b"errno=", 1)[-1].strip().decode() if b"errno=" in tail else "none"
    print("%.0f %d %s" % (took, size, err))


if __name__ == "__main__":
    main()
