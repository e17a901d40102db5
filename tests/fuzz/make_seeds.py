#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Write the seed corpora of tests/fuzz/corpus/<target>/.

The seeds are inputs in each harness's own encoding (see the comment atop
each fuzz_<target>.c): programs for receive and allowedips, a mode byte and
a request for uapi, a mode byte and packets for offload. Run it again after
changing an encoding; the files it writes are committed. Files named crash_*
are not written here: inputs that once crashed a harness, kept as found.
"""
import os
import struct
import sys

HERE = os.path.dirname(os.path.abspath(__file__))


def write(target, name, data):
    d = os.path.join(HERE, "corpus", target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(bytes(data))


# ---- fuzz_receive: a setup byte, then operations ----

RAW, INITIATION, RESPONSE, COOKIE, DATA, SEND, FORWARD, TIME, CONTROL = range(9)
A, B = 0, 1


def inner_ipv4(who=0, plen=64, proto=17):
    # build_inner(): kind 1 (IPv4), source selector, payload length, protocol
    return [1 | who << 2] + list(struct.pack("<H", plen)) + [proto] + [0x42] * plen


def inner_ipv6(who=0, plen=48, nh=6):
    return [2 | who << 2] + list(struct.pack("<H", plen)) + [nh, 0] + [0x17] * plen


def receive_seeds():
    data_a_to_b = [DATA, A, 0x00] + inner_ipv4()
    data_b_to_a = [DATA, B, 0x08] + inner_ipv6()          # split API
    keepalive = [DATA, A, 0x00, 3]
    replay = [DATA, A, 0x01] + inner_ipv4() + [5]          # counter 5 back
    jump = [DATA, B, 0x02] + inner_ipv4() + [0xff, 0x7f]   # far ahead
    bad_source = [DATA, A, 0x00] + inner_ipv4(who=2)       # C's address
    write("receive", "handshake_only", [0])
    write("receive", "data", [0] + data_a_to_b + data_b_to_a + keepalive + replay +
          jump + bad_source)
    # A rehandshakes; the messages are forwarded, one corrupted and re-MAC'd.
    write("receive", "rehandshake", [1] + [TIME, 2, 2] + [CONTROL, A, 1] + [FORWARD, A, 0, 0] +
          [FORWARD, B, 1, 0, 0x0c, 3, 0, 0x55] + [TIME, 3] * 4)
    # B under load: an initiation gets a cookie reply, the next carries mac2.
    write("receive", "cookie_mac2", [0] + [TIME, 2, 1] + [CONTROL, B, 0] +
          [INITIATION, B, 0x01, 0] + [INITIATION, B, 0x05, 0] +
          [FORWARD, B, 3, 0, 0, 0, 0])
    # A pending handshake, a forged response aimed at it, a cookie reply for it.
    write("receive", "response_cookie", [4] + [CONTROL, A, 1] +
          [RESPONSE, A, 0x02] + [0x11] * 56 + [COOKIE, A, 0x03] + [0x22] * 40)
    # Raw datagrams of each type and of odd lengths.
    raw = []
    for t, n in ((1, 148), (2, 92), (3, 64), (4, 32), (4, 15), (5, 4)):
        raw += [RAW, B, 0x20 | (t - 1) << 2] + list(struct.pack("<H", n)) + [t] + [0] * (n - 1)
    write("receive", "raw", [0] + raw + [RAW, A, 0xc0, 0, 0])
    # Timers: keepalives, rekey, zeroing after REJECT_AFTER_TIME * 3.
    write("receive", "timers", [2] + [CONTROL, A, 2, 5] + [TIME, 3, FORWARD, A, 1, 0, 0] * 6 +
          [TIME, 2, 40] + [SEND, A] + inner_ipv4() + [FORWARD, A, 0, 0] +
          [TIME, 2, 140] + [TIME, 3] * 4)
    write("receive", "send_and_roam", [0] + [SEND, B] + inner_ipv4() +
          [FORWARD, B, 0, 0x10 | 1 << 5] + [CONTROL, B, 5] + [CONTROL, A, 12] +
          [SEND, A] + inner_ipv6() + [FORWARD, A, 2, 0, 0, 0])


# ---- fuzz_uapi: a mode byte, then the request ----

K1 = "e84b5a6d2717c1003a13b431570353dbaca9146cf150c5f8575680feba52027a"
P1 = "b85996fecc9c7f1fc6d2572a76eda11d59bcd20be8e543b15ce4bd85a8e75a33"
P2 = "58402e695ba1772b1cc9309755f043251ea77fdcf10fbe63989ceb7e19321376"
PSK = "188515093e952f5f22e865cef3012e72f8b5f0b598ac0309d5dacce3b70fcf52"
ZERO = "0" * 64


def uapi_seeds():
    def w(name, mode, text):
        write("uapi", name, bytes([mode]) + text.encode())

    w("get", 2, "get=1\n\n")
    w("set_private_key", 0, f"set=1\nprivate_key={K1}\nlisten_port=51820\n\nget=1\n\n")
    w("set_peers", 0,
      f"set=1\nprivate_key={K1}\nfwmark=51820\nreplace_peers=true\n"
      f"public_key={P1}\npreshared_key={PSK}\nendpoint=198.51.100.2:51820\n"
      f"persistent_keepalive_interval=25\nreplace_allowed_ips=true\n"
      f"allowed_ip=192.0.2.2/32\nallowed_ip=10.0.0.0/8\nallowed_ip=2001:db8:2::/48\n"
      f"protocol_version=1\npublic_key={P2}\nendpoint=[2001:db8::2%1]:4242\n"
      f"allowed_ip=0.0.0.0/0\nallowed_ip=::/0\n\n")
    w("set_update_remove", 0,
      f"set=1\npublic_key={P1}\nallowed_ip=192.0.2.0/24\nallowed_ip=-192.0.2.0/24\n"
      f"endpoint=[::ffff:198.51.100.9]:1\n\nset=1\npublic_key={P2}\nupdate_only=true\n"
      f"persistent_keepalive_interval=0\n\nset=1\npublic_key={P1}\nremove=true\n\n")
    w("set_fails", 1, f"set=1\nlisten_port=0\nprivate_key={K1}\n\nset=1\nbogus=1\n\nget=1\n\n")
    w("truncated", 2,
      f"set=1\nprivate_key={ZERO}\n\nset=1\npublic_key={P1}\n"
      f"endpoint=[fe80::1%lo]:51820\n\nget=1\nextra=1\n\nset")


# ---- fuzz_allowedips: operations ----

def allowedips_seeds():
    def ins(sel, cidr, peer, raw=None):
        return [0, sel, cidr, peer] + (raw or [])

    prog = []
    # 192.0.2.0/24 to peer 0, 192.0.2.128/25 to peer 1, 10/8 to peer 2, IPv6 too.
    prog += ins(0, 24, 0) + ins(2, 25, 1) + ins(4, 8, 2) + ins(1, 32, 3) + ins(3, 64, 0)
    prog += ins(0x40, 0, 1, [0] * 16) + ins(0x41, 0, 2, [0] * 16)
    prog += [4, 0] + [4, 2] + [4, 0x41] + [4, 0x40]
    prog += [5, 0, 0] + [5, 1, 1] + [2, 2, 25, 1] + [3, 2] + [5, 2, 0]
    write("allowedips", "mixed", prog)
    deep = []
    for cidr in range(0, 33, 3):
        deep += ins(0x80, cidr, cidr % 4, [3, cidr & 0xff])
    deep += [4, 0x80, 3, 0x10] + [5, 1, 2] + [6, 0xff] + [4, 0]
    write("allowedips", "deep_then_free", deep)
    bad = ins(0x1f, 8, 0) + ins(0, 33, 0) + ins(1, 129, 1) + ins(0, 8, 4) + [2, 0x3f, 8, 0]
    write("allowedips", "invalid", bad)


# ---- fuzz_offload: a mode byte, then a split or a batch ----

def csum(data):
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while s >> 16:
        s = (s & 0xffff) + (s >> 16)
    return s


def ipv4(payload_len, proto, ident=1):
    h = bytearray(struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + payload_len, ident, 0x4000, 64,
                              proto, 0, bytes([192, 0, 2, 1]), bytes([192, 0, 2, 2])))
    struct.pack_into("!H", h, 10, ~csum(bytes(h)) & 0xffff)
    return bytes(h)


def ipv6(payload_len, nh):
    src = bytes([0x20, 0x01, 0x0d, 0xb8] + [0] * 11 + [1])
    dst = bytes([0x20, 0x01, 0x0d, 0xb8] + [0] * 11 + [2])
    return struct.pack("!IHBB", 0x60000000, payload_len, nh, 64) + src + dst


def pseudo_sum(ip, l4_len, proto):
    if ip[0] >> 4 == 4:
        return csum(ip[12:20] + struct.pack("!BBH", 0, proto, l4_len))
    return csum(ip[8:40] + struct.pack("!IxxxB", l4_len, proto))


def super_packet(v6, tcp, payload):
    proto = 6 if tcp else 17
    l4_len = (20 if tcp else 8) + len(payload)
    ip = ipv6(l4_len, proto) if v6 else ipv4(l4_len, proto)
    if tcp:
        l4 = struct.pack("!HHIIBBHHH", 40000, 443, 1000, 2000, 5 << 4, 0x18, 65535, 0, 0)
    else:
        l4 = struct.pack("!HHHH", 40000, 443, l4_len, 0)
    # CHECKSUM_PARTIAL as TUN hands it over: the folded pseudo-header sum in the field.
    off = 16 if tcp else 6
    l4 = l4[:off] + struct.pack("!H", pseudo_sum(ip, l4_len, proto)) + l4[off + 2:]
    return ip + l4 + payload, len(ip)


def vnet(gso_type, hdr_len, gso_size, csum_start, csum_offset, flags=1):
    return struct.pack("=BBHHHH", flags, gso_type, hdr_len, gso_size, csum_start, csum_offset)


def offload_seeds():
    payload = bytes((i * 7) & 0xff for i in range(4000))
    for name, v6, tcp, gso_type in (("split_tcp4", False, True, 1),
                                    ("split_tcp6", True, True, 4),
                                    ("split_udp4", False, False, 5),
                                    ("split_udp6", True, False, 5)):
        pkt, iph = super_packet(v6, tcp, payload)
        hdr = vnet(gso_type, iph + (20 if tcp else 8), 1448 if tcp else 1200, iph,
                   16 if tcp else 6)
        # mode 0 (split), ctl 0 (raw, 1500-byte segments), max_segs 64
        write("offload", name, bytes([0, 0, 63]) + hdr + pkt)
    pkt, iph = super_packet(False, True, payload[:100])
    write("offload", "csum_only", bytes([0, 0, 0]) + vnet(0, 0, 0, iph, 16) + pkt)
    # Built super-packets: ctl 1 (built), 65535-byte segments; plen, vflip, flow
    # (ctl, addresses, id, seq, last payload), payload fill byte, gso_size.
    flow = [0x00, 0x05, 0, 1, 0, 0, 0, 1, 0x05, 0xa8]
    for name, fctl in (("split_built_tcp4", 0x00), ("split_built_udp6", 0x03)):
        write("offload", name, bytes([0, 0x05, 10]) + struct.pack("!H", 3000) + bytes([0]) +
              bytes([fctl] + flow[1:]) + bytes([0x33]) + struct.pack("!H", 1399))
    # Coalesce (mode 1, UDP too): segments of the four default flows,
    # interleaved, then a PSH; record = flow, size selector, perturbation, fill.
    seg = lambda f, perturb=0: [2 | f << 2, 0, perturb, f * 16]
    batch = [1, 1] + seg(0) * 4 + seg(1) * 3 + seg(2) * 3 + seg(0) + seg(3) * 2 + seg(0, 1)
    write("offload", "coalesce_flows", batch + [0] + list(struct.pack("!H", 40)) + [0x45] * 40)
    write("offload", "coalesce_perturbed", [1, 0] + seg(0) * 2 + seg(0, 4) + seg(0) +
          seg(0, 8) + seg(1) + seg(1, 2) + [0x10] + seg(1))


def main():
    receive_seeds()
    uapi_seeds()
    allowedips_seeds()
    offload_seeds()
    return 0


if __name__ == "__main__":
    sys.exit(main())
