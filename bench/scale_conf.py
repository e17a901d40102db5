#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""scale_conf.py N OUT [--no-endpoints] [--peers-only] [--uapi]: a wg(8) configuration of N
peers for bench/scale.sh (--peers-only: no [Interface] section, for wg addconf; --uapi: the
set operation wg setconf sends for it over the UAPI socket, for timing the daemon alone).

Random keys (any 32 bytes are a valid WireGuard public key), and per peer i (hi = i >> 16,
lo = i & 0xffff): AllowedIPs 2001:db8:(1000+hi):lo::/64 and 2001:db8:ff00::hi:lo/128, Endpoint
[2001:db8:ee00::hi:lo]:51820. Documentation addresses only; nothing is sent to them unless a
packet is routed there, and the benchmark routes none.
"""
import base64
import os
import sys


def uapi(n, keys, endpoints, out):
    out.write("set=1\nprivate_key=%s\nlisten_port=51820\nreplace_peers=true\n"
              % os.urandom(32).hex())
    for i in range(n):
        hi, lo = i >> 16, i & 0xffff
        out.write("public_key=%s\n" % keys[32 * i:32 * i + 32].hex())
        if endpoints:
            out.write("endpoint=[2001:db8:ee00::%x:%x]:51820\n" % (hi, lo))
        out.write("replace_allowed_ips=true\nallowed_ip=2001:db8:%x:%x::/64\n"
                  "allowed_ip=2001:db8:ff00::%x:%x/128\n" % (0x1000 + hi, lo, hi, lo))
    out.write("\n")


def main():
    n = int(sys.argv[1])
    endpoints = "--no-endpoints" not in sys.argv[3:]
    keys = os.urandom(32 * n)
    if "--uapi" in sys.argv[3:]:
        with open(sys.argv[2], "w") as out:
            uapi(n, keys, endpoints, out)
        return
    with open(sys.argv[2], "w") as out:
        if "--peers-only" not in sys.argv[3:]:
            out.write("[Interface]\nPrivateKey = %s\nListenPort = 51820\n"
                      % base64.b64encode(os.urandom(32)).decode())
        for i in range(n):
            hi, lo = i >> 16, i & 0xffff
            out.write("\n[Peer]\nPublicKey = %s\n"
                      "AllowedIPs = 2001:db8:%x:%x::/64, 2001:db8:ff00::%x:%x/128\n"
                      % (base64.b64encode(keys[32 * i:32 * i + 32]).decode(),
                         0x1000 + hi, lo, hi, lo))
            if endpoints:
                out.write("Endpoint = [2001:db8:ee00::%x:%x]:51820\n" % (hi, lo))


if __name__ == "__main__":
    main()
