// SPDX-License-Identifier: MIT
/*
 * TUN offloads: super-packets built by hand, split and compared byte for
 * byte with segments built independently (checksums from a deliberately
 * naive byte-at-a-time reference), then coalesced back and compared with the
 * original; a simulated kernel completes the partial checksum and we check
 * it. Then what must not merge, hostile virtio_net_hdr values, and random
 * flows through split and coalesce.
 */
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <cmocka.h>

#include "offload.h"

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

enum { FIN = 0x01, SYN = 0x02, RST = 0x04, PSH = 0x08, ACK = 0x10, URG = 0x20, ECE = 0x40,
       CWR = 0x80 };
enum { TCP = 6, UDP = 17, ICMP = 1 };
enum { SEG_CAP = 2048, MAX_SEGS = 1024, BIG = 70000 };

/* ---- the naive reference: bytes, big-endian words, no cleverness ---- */

static uint64_t ref_add(uint64_t sum, const uint8_t *p, size_t len)
{
	for (size_t i = 0; i < len; ++i)
		sum += (i % 2 == 0) ? (uint64_t)p[i] << 8 : p[i];
	return sum;
}

static uint16_t ref_fold(uint64_t sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)sum;
}

static uint16_t rd16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static uint32_t rd32(const uint8_t *p)
{
	return (uint32_t)rd16(p) << 16 | rd16(p + 2);
}

static void wr16(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static void wr32(uint8_t *p, uint32_t v)
{
	wr16(p, v >> 16);
	wr16(p + 2, v & 0xffff);
}

/* Pseudo-header sum of an IP packet whose transport header starts at l4. */
static uint64_t ref_pseudo(const uint8_t *pkt, size_t l4, size_t len, uint8_t proto)
{
	uint8_t ph[40] = { 0 };
	size_t l4_len = len - l4;

	if (pkt[0] >> 4 == 4) {
		memcpy(ph, pkt + 12, 8);
		ph[9] = proto;
		wr16(ph + 10, (uint32_t)l4_len);
		return ref_add(0, ph, 12);
	}
	memcpy(ph, pkt + 8, 32);
	wr32(ph + 32, (uint32_t)l4_len);
	ph[39] = proto;
	return ref_add(0, ph, 40);
}

/* True when the transport checksum of a whole packet verifies. */
static bool ref_l4_ok(const uint8_t *pkt, size_t l4, size_t len, uint8_t proto)
{
	return ref_fold(ref_add(ref_pseudo(pkt, l4, len, proto), pkt + l4, len - l4)) == 0xffff;
}

static bool ref_ipv4_ok(const uint8_t *pkt)
{
	return ref_fold(ref_add(0, pkt, (size_t)(pkt[0] & 15) * 4)) == 0xffff;
}

/* ---- a packet builder independent of offload.c ---- */

struct spec {
	int ver;		/* 4 or 6 */
	uint8_t proto;		/* TCP, UDP or anything for "other" */
	uint8_t src[16], dst[16];
	uint16_t sport, dport;
	uint8_t tos, ttl;	/* IPv6: traffic class, hop limit */
	uint32_t flow;		/* IPv6 flow label */
	uint16_t id;
	bool df;
	size_t ipopt_len;	/* IPv4 options, multiple of 4 up to 40 */
	uint8_t ipopt_tail;	/* if not 0, the last option byte instead of a NOP */
	uint32_t seq, ack;
	uint8_t flags;
	uint16_t win;
	size_t tcpopt_len;	/* multiple of 4 up to 40 */
	uint32_t tsval;
};

enum csum_mode { FULL, PARTIAL, AS_IS };

static size_t iph_len(const struct spec *s)
{
	return s->ver == 4 ? 20 + s->ipopt_len : 40;
}

static size_t l4h_len(const struct spec *s)
{
	if (s->proto == TCP)
		return 20 + s->tcpopt_len;
	return s->proto == UDP ? 8 : 4;
}

static size_t hdrs_len(const struct spec *s)
{
	return iph_len(s) + l4h_len(s);
}

/*
 * Write the packet to out; FULL fills in every checksum, PARTIAL leaves the
 * pseudo-header sum in the transport field as the kernel does for
 * CHECKSUM_PARTIAL, AS_IS leaves the transport field zero.
 */
static size_t build(uint8_t *out, const struct spec *s, const uint8_t *payload, size_t plen,
		    enum csum_mode mode)
{
	size_t ih = iph_len(s), th = l4h_len(s), len = ih + th + plen;
	uint8_t *l4 = out + ih;

	memset(out, 0, ih + th);
	if (s->ver == 4) {
		out[0] = (uint8_t)(0x40 | ih / 4);
		out[1] = s->tos;
		wr16(out + 2, (uint32_t)len);
		wr16(out + 4, s->id);
		out[6] = s->df ? 0x40 : 0;
		out[8] = s->ttl;
		out[9] = s->proto;
		memcpy(out + 12, s->src, 4);
		memcpy(out + 16, s->dst, 4);
		for (size_t i = 20; i < ih; ++i)
			out[i] = 1;	/* NOP */
		if (ih >= 24) {		/* router alert, copied on fragmentation */
			out[20] = 0x94;
			out[21] = 4;
		}
		if (ih > 20 && s->ipopt_tail)
			out[ih - 1] = s->ipopt_tail;
		wr16(out + 10, (uint16_t)~ref_fold(ref_add(0, out, ih)));
	} else {
		out[0] = (uint8_t)(0x60 | s->tos >> 4);
		out[1] = (uint8_t)(s->tos << 4 | (s->flow >> 16 & 0xf));
		wr16(out + 2, s->flow & 0xffff);
		wr16(out + 4, (uint32_t)(len - 40));
		out[6] = s->proto;
		out[7] = s->ttl;
		memcpy(out + 8, s->src, 16);
		memcpy(out + 24, s->dst, 16);
	}
	wr16(l4, s->sport);
	wr16(l4 + 2, s->dport);
	if (s->proto == TCP) {
		wr32(l4 + 4, s->seq);
		wr32(l4 + 8, s->ack);
		l4[12] = (uint8_t)(th / 4 << 4);
		l4[13] = s->flags;
		wr16(l4 + 14, s->win);
		for (size_t i = 20; i < th; ++i)
			l4[i] = 1;	/* NOP */
		if (th >= 32) {		/* NOP NOP timestamps */
			l4[22] = 8;
			l4[23] = 10;
			wr32(l4 + 24, s->tsval);
			wr32(l4 + 28, 0x01020304);
		}
	} else if (s->proto == UDP) {
		wr16(l4 + 4, (uint32_t)(th + plen));
	}
	memcpy(out + ih + th, payload, plen);
	if (s->proto == TCP || s->proto == UDP) {
		uint8_t *field = l4 + (s->proto == TCP ? 16 : 6);
		uint64_t pseudo = ref_pseudo(out, ih, len, s->proto);

		if (mode == FULL) {
			uint16_t c = (uint16_t)~ref_fold(ref_add(pseudo, l4, len - ih));

			wr16(field, s->proto == UDP && c == 0 ? 0xffff : c);
		} else if (mode == PARTIAL) {
			wr16(field, ref_fold(pseudo));
		}
	}
	return len;
}

static struct spec base_spec(int ver, uint8_t proto)
{
	struct spec s = {
		.ver = ver, .proto = proto, .sport = 40000, .dport = 5201, .tos = 0x10,
		.ttl = 64, .flow = 0x12345, .id = 0x1234, .df = true, .seq = 0xfffff000,
		.ack = 0x55aa55aa, .flags = ACK, .win = 501, .tsval = 0xa1b2c3d4,
	};
	static const uint8_t src4[4] = { 192, 0, 2, 1 }, dst4[4] = { 192, 0, 2, 2 };
	static const uint8_t src6[16] = { 0x20, 0x01, 0x0d, 0xb8, [15] = 1 };
	static const uint8_t dst6[16] = { 0x20, 0x01, 0x0d, 0xb8, [15] = 2 };

	memcpy(s.src, ver == 4 ? src4 : src6, ver == 4 ? 4 : 16);
	memcpy(s.dst, ver == 4 ? dst4 : dst6, ver == 4 ? 4 : 16);
	return s;
}

/* The header the kernel puts before a super-packet it built from s. */
static struct virtio_net_hdr gso_hdr(const struct spec *s, size_t gso_size)
{
	struct virtio_net_hdr vh = {
		.flags = VIRTIO_NET_HDR_F_NEEDS_CSUM,
		.hdr_len = (uint16_t)hdrs_len(s),
		.gso_size = (uint16_t)gso_size,
		.csum_start = (uint16_t)iph_len(s),
		.csum_offset = s->proto == TCP ? 16 : 6,
	};

	if (s->proto == UDP)
		vh.gso_type = VIRTIO_NET_HDR_GSO_UDP_L4;
	else
		vh.gso_type = s->ver == 4 ? VIRTIO_NET_HDR_GSO_TCPV4 : VIRTIO_NET_HDR_GSO_TCPV6;
	return vh;
}

/* Segment i of n as the kernel's own GSO would make it. */
static size_t build_segment(uint8_t *out, const struct spec *super, const uint8_t *payload,
			    size_t total, size_t gso_size, size_t i)
{
	struct spec s = *super;
	size_t n = (total + gso_size - 1) / gso_size, off = i * gso_size;
	size_t plen = total - off < gso_size ? total - off : gso_size;

	s.id = (uint16_t)(super->id + i);
	s.seq = super->seq + (uint32_t)off;
	if (i + 1 < n)
		s.flags &= (uint8_t)~(FIN | PSH);
	if (i > 0)
		s.flags &= (uint8_t)~CWR;
	return build(out, &s, payload + off, plen, FULL);
}

static uint32_t rng_state = 0x2545f491;

static uint32_t rnd(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 17;
	rng_state ^= rng_state << 5;
	return rng_state;
}

static void fill(uint8_t *p, size_t len)
{
	for (size_t i = 0; i < len; ++i)
		p[i] = (uint8_t)rnd();
}

/* Segment buffers, each allocated to its exact capacity so ASan sees overruns. */
static uint8_t *segs[MAX_SEGS];
static size_t seg_lens[MAX_SEGS];

static int setup_segs(void **state)
{
	(void)state;
	for (size_t i = 0; i < MAX_SEGS; ++i)
		segs[i] = malloc(SEG_CAP);
	return 0;
}

static int teardown_segs(void **state)
{
	(void)state;
	for (size_t i = 0; i < MAX_SEGS; ++i)
		free(segs[i]);
	return 0;
}

/* A packet for coalescing: its own exact-size buffer with vnet_hdr headroom. */
static struct offload_pkt inbound(const uint8_t *pkt, size_t len)
{
	uint8_t *buf = malloc(OFFLOAD_VNET_HDR_LEN + len);

	assert_non_null(buf);
	memset(buf, 0xee, OFFLOAD_VNET_HDR_LEN);
	memcpy(buf + OFFLOAD_VNET_HDR_LEN, pkt, len);
	return (struct offload_pkt){ buf + OFFLOAD_VNET_HDR_LEN, len };
}

static void free_inbound(struct offload_pkt *pkts, size_t n)
{
	for (size_t i = 0; i < n; ++i)
		free(pkts[i].data - OFFLOAD_VNET_HDR_LEN);
}

/* Gather a write into one buffer, as the kernel's writev would. */
static size_t flatten(const struct offload_write *w, uint8_t *out)
{
	size_t len = 0;

	for (int i = 0; i < w->iovcnt; ++i) {
		memcpy(out + len, w->iov[i].iov_base, w->iov[i].iov_len);
		len += w->iov[i].iov_len;
	}
	assert_int_equal(len, w->len);
	return len;
}

/*
 * The kernel's side of NEEDS_CSUM, written naively: the field holds the
 * pseudo-header sum; sum from csum_start to the end and store the complement.
 * Then every checksum in the super-packet must verify.
 */
static void simulated_kernel_check(uint8_t *frame, size_t len)
{
	struct virtio_net_hdr vh;
	uint8_t *pkt = frame + OFFLOAD_VNET_HDR_LEN;
	size_t plen = len - OFFLOAD_VNET_HDR_LEN;
	uint8_t proto;

	memcpy(&vh, frame, sizeof(vh));
	assert_int_equal(vh.flags, VIRTIO_NET_HDR_F_NEEDS_CSUM);
	assert_true(vh.csum_start + vh.csum_offset + 2u <= plen);
	wr16(pkt + vh.csum_start + vh.csum_offset,
	     (uint16_t)~ref_fold(ref_add(0, pkt + vh.csum_start, plen - vh.csum_start)));
	if (pkt[0] >> 4 == 4) {
		assert_true(ref_ipv4_ok(pkt));
		assert_int_equal(rd16(pkt + 2), plen);
		proto = pkt[9];
	} else {
		assert_int_equal(rd16(pkt + 4) + 40u, plen);
		proto = pkt[6];
	}
	assert_true(ref_l4_ok(pkt, vh.csum_start, plen, proto));
	if (proto == UDP)
		assert_int_equal(rd16(pkt + vh.csum_start + 4), plen - vh.csum_start);
}

/* ---- split, then coalesce back: one table row per shape ---- */

struct shape {
	int ver;
	uint8_t proto;
	size_t ipopt, tcpopt;
	size_t payload, gso_size;
	uint8_t flags;
};

static const struct shape shapes[] = {
	/* 0 */ { 4, TCP, 0, 0, 3000, 1000, ACK | PSH },		/* k * gso_size */
	/* 1 */ { 4, TCP, 8, 12, 4001, 1448, ACK },			/* options, odd, short last */
	/* 2 */ { 6, TCP, 0, 12, 10000, 1428, ACK | PSH },
	/* 3 */ { 6, UDP, 0, 0, 4999, 1200, 0 },
	/* 4 */ { 4, UDP, 4, 0, 3001, 1000, 0 },
	/* 5 */ { 4, TCP, 0, 0, 200, 1, ACK },			/* gso_size 1 */
	/* 6 */ { 6, UDP, 0, 0, 64, 1, 0 },			/* 64 one-byte datagrams */
	/* 7 */ { 4, TCP, 0, 12, 65535 - 52, 1448, ACK | PSH },	/* IPv4 maximum */
	/* 8 */ { 6, TCP, 0, 0, 65535 - 40 - 20, 1440, ACK },	/* IPv6 maximum */
	/* 9 */ { 4, TCP, 40, 40, 5555, 999, ACK },		/* all the options there are */
	/* 10 */ { 4, UDP, 0, 0, 65535 - 28, 1472, 0 },		/* UDP maximum, 45 segments */
	/* 11 */ { 6, TCP, 0, 20, 2 * 1231 + 1, 1231, ACK | PSH },	/* odd gso_size */
	/* 12 */ { 4, TCP, 0, 0, 1001, 1000, ACK },		/* one byte in the last */
};

static void split_and_check(const struct spec *s, const uint8_t *payload, size_t total,
			    size_t gso_size, uint8_t *super, size_t *super_len, size_t *nsegs)
{
	struct virtio_net_hdr vh = gso_hdr(s, gso_size);
	uint8_t *expect = malloc(SEG_CAP);
	size_t n = (total + gso_size - 1) / gso_size;
	size_t len = build(super, s, payload, total, PARTIAL);
	uint8_t *copy = malloc(len);
	int ret;

	memcpy(copy, super, len);
	ret = offload_split(&vh, copy, len, segs, SEG_CAP, seg_lens, MAX_SEGS);
	assert_int_equal(ret, n);
	assert_memory_equal(copy, super, len);	/* the input is left alone */
	for (size_t i = 0; i < n; ++i) {
		size_t elen = build_segment(expect, s, payload, total, gso_size, i);

		assert_int_equal(seg_lens[i], elen);
		assert_memory_equal(segs[i], expect, elen);
		/* and the reference agrees with itself */
		if (s->ver == 4)
			assert_true(ref_ipv4_ok(segs[i]));
		assert_true(ref_l4_ok(segs[i], iph_len(s), elen, s->proto));
	}
	free(copy);
	free(expect);
	*super_len = len;
	*nsegs = n;
}

static void test_split_coalesce_shapes(void **state)
{
	static struct offload_coalescer co;
	uint8_t *super = malloc(BIG), *payload = malloc(BIG), *frame = malloc(BIG);

	(void)state;
	for (size_t t = 0; t < ARRAY_SIZE(shapes); ++t) {
		const struct shape *sh = &shapes[t];
		struct spec s = base_spec(sh->ver, sh->proto);
		struct offload_pkt pkts[OFFLOAD_BATCH_MAX];
		struct iovec iov[OFFLOAD_BATCH_MAX];
		struct offload_write w[OFFLOAD_BATCH_MAX];
		struct virtio_net_hdr vh, got;
		size_t len, n, flen;
		int ret;

		print_message("shape %zu\n", t);
		s.ipopt_len = sh->ipopt;
		s.tcpopt_len = sh->tcpopt;
		s.flags = sh->flags;
		vh = gso_hdr(&s, sh->gso_size);
		fill(payload, sh->payload);
		split_and_check(&s, payload, sh->payload, sh->gso_size, super, &len, &n);
		assert_true(n <= OFFLOAD_BATCH_MAX);

		for (size_t i = 0; i < n; ++i)
			pkts[i] = inbound(segs[i], seg_lens[i]);
		ret = offload_coalesce(&co, pkts, n, OFFLOAD_COALESCE_UDP, iov, w);
		assert_int_equal(ret, 1);
		assert_int_equal(w[0].iovcnt, n);
		flen = flatten(&w[0], frame);
		assert_int_equal(flen, OFFLOAD_VNET_HDR_LEN + len);
		memcpy(&got, frame, sizeof(got));
		assert_memory_equal(&got, &vh, sizeof(vh));
		assert_memory_equal(frame + OFFLOAD_VNET_HDR_LEN, super, len);
		simulated_kernel_check(frame, flen);
		free_inbound(pkts, n);
	}
	free(super);
	free(payload);
	free(frame);
}

/* Payload of exactly gso_size, or less: one packet, finished in place. */
static void test_split_one_segment(void **state)
{
	static const struct shape one[] = {
		{ 4, TCP, 0, 12, 1448, 1448, ACK | PSH | FIN | CWR },
		{ 6, TCP, 0, 0, 77, 1440, ACK | PSH },
		{ 4, UDP, 8, 0, 1, 1472, 0 },
		{ 6, UDP, 0, 0, 1000, 1000, 0 },
	};
	uint8_t *pkt = malloc(BIG), *expect = malloc(BIG), *payload = malloc(BIG);

	(void)state;
	for (size_t t = 0; t < ARRAY_SIZE(one); ++t) {
		struct spec s = base_spec(one[t].ver, one[t].proto);
		struct virtio_net_hdr vh;
		size_t len;

		s.ipopt_len = one[t].ipopt;
		s.tcpopt_len = one[t].tcpopt;
		s.flags = one[t].flags;
		vh = gso_hdr(&s, one[t].gso_size);
		fill(payload, one[t].payload);
		len = build(pkt, &s, payload, one[t].payload, PARTIAL);
		build(expect, &s, payload, one[t].payload, FULL);
		assert_int_equal(offload_split(&vh, pkt, len, segs, SEG_CAP, seg_lens, 0), 0);
		assert_memory_equal(pkt, expect, len);
	}
	free(pkt);
	free(expect);
	free(payload);
}

/* Flags: FIN and PSH only on the last segment, CWR only on the first. */
static void test_split_tcp_flags(void **state)
{
	struct spec s = base_spec(4, TCP);
	struct virtio_net_hdr vh;
	uint8_t payload[3000], pkt[4000];
	size_t len;

	(void)state;
	s.flags = ACK | PSH | FIN | CWR;
	vh = gso_hdr(&s, 1000);
	vh.gso_type |= VIRTIO_NET_HDR_GSO_ECN;
	fill(payload, sizeof(payload));
	len = build(pkt, &s, payload, sizeof(payload), PARTIAL);
	assert_int_equal(offload_split(&vh, pkt, len, segs, SEG_CAP, seg_lens, 3), 3);
	assert_int_equal(segs[0][33], ACK | CWR);
	assert_int_equal(segs[1][33], ACK);
	assert_int_equal(segs[2][33], ACK | PSH | FIN);
	/* sequence numbers wrap, IDs count up */
	assert_int_equal(rd16(segs[2] + 4), 0x1236);
	assert_int_equal(rd32(segs[2] + 24), 0xfffff000u + 2000);
	/* too few buffers, too small buffers */
	assert_int_equal(offload_split(&vh, pkt, len, segs, SEG_CAP, seg_lens, 2), -ENOBUFS);
	assert_int_equal(offload_split(&vh, pkt, len, segs, 1039, seg_lens, 3), -ENOBUFS);
	assert_int_equal(offload_split(&vh, pkt, len, segs, 1040, seg_lens, 3), 3);
}

/* UDP: a segment whose checksum comes out 0 is sent with 0xffff. */
static void test_split_udp_zero_checksum(void **state)
{
	struct spec s = base_spec(4, UDP);
	uint8_t payload[20] = { 0 }, pkt[100];
	struct virtio_net_hdr vh = gso_hdr(&s, 10);
	uint64_t sum;
	size_t len;

	(void)state;
	/*
	 * Make the second segment's sum all ones by choosing its last two
	 * payload bytes: its checksum then computes as 0.
	 */
	len = build(segs[0], &s, payload + 10, 10, AS_IS);
	sum = ref_add(ref_pseudo(segs[0], 20, len, UDP), segs[0] + 20, len - 20);
	wr16(payload + 18, (uint16_t)~ref_fold(sum));
	len = build(pkt, &s, payload, sizeof(payload), PARTIAL);
	assert_int_equal(offload_split(&vh, pkt, len, segs, SEG_CAP, seg_lens, 2), 2);
	assert_int_equal(rd16(segs[1] + 26), 0xffff);
	assert_true(ref_l4_ok(segs[1], 20, seg_lens[1], UDP));
}

/* Not GSO: NEEDS_CSUM completes in place; without it nothing changes. */
static void test_split_not_gso(void **state)
{
	struct spec s = base_spec(6, TCP);
	uint8_t payload[333], pkt[500], expect[500];
	struct virtio_net_hdr vh = { .flags = VIRTIO_NET_HDR_F_NEEDS_CSUM, .csum_start = 40,
				     .csum_offset = 16 };
	size_t len;

	(void)state;
	fill(payload, sizeof(payload));
	len = build(pkt, &s, payload, sizeof(payload), PARTIAL);
	build(expect, &s, payload, sizeof(payload), FULL);
	assert_int_equal(offload_split(&vh, pkt, len, segs, SEG_CAP, seg_lens, 1), 0);
	assert_memory_equal(pkt, expect, len);

	vh.flags = 0;
	memcpy(expect, pkt, len);
	assert_int_equal(offload_split(&vh, pkt, len, segs, SEG_CAP, seg_lens, 1), 0);
	assert_memory_equal(pkt, expect, len);
}

/* ---- hostile headers: rejected, never read or written out of bounds ---- */

struct hostile {
	const char *what;
	int expect;
	void (*mutate)(struct virtio_net_hdr *vh, uint8_t *pkt, size_t *len);
};

static void h_hdr_len(struct virtio_net_hdr *vh, uint8_t *pkt, size_t *len)
{
	(void)pkt;
	vh->hdr_len = (uint16_t)(*len + 1);
}

static void h_csum_start_end(struct virtio_net_hdr *vh, uint8_t *pkt, size_t *len)
{
	(void)pkt;
	vh->csum_start = (uint16_t)(*len + 100);
}

static void h_csum_start_off(struct virtio_net_hdr *vh, uint8_t *pkt, size_t *len)
{
	(void)pkt;
	(void)len;
	vh->csum_start = 24;
}

static void h_csum_offset(struct virtio_net_hdr *vh, uint8_t *pkt, size_t *len)
{
	(void)pkt;
	(void)len;
	vh->csum_offset = 6;
}

static void h_csum_offset_huge(struct virtio_net_hdr *vh, uint8_t *pkt, size_t *len)
{
	(void)pkt;
	(void)len;
	vh->csum_offset = 0xffff;
}

static void h_gso_zero(struct virtio_net_hdr *vh, uint8_t *pkt, size_t *len)
{
	(void)pkt;
	(void)len;
	vh->gso_size = 0;
}

static void h_truncated_ip(struct virtio_net_hdr *vh, uint8_t *pkt, size_t *len)
{
	(void)vh;
	(void)pkt;
	*len = 12;
}

static void h_truncated_tcp(struct virtio_net_hdr *vh, uint8_t *pkt, size_t *len)
{
	vh->hdr_len = 0;
	*len = 30;
	wr16(pkt + 2, 30);
}

static void h_tcp_doff_small(struct virtio_net_hdr *vh, uint8_t *pkt, size_t *len)
{
	(void)vh;
	(void)len;
	pkt[32] = 4 << 4;
}

static void h_tcp_doff_past_end(struct virtio_net_hdr *vh, uint8_t *pkt, size_t *len)
{
	vh->hdr_len = 0;
	*len = 50;
	wr16(pkt + 2, 50);
	pkt[32] = 15 << 4;
}

static void h_ihl_small(struct virtio_net_hdr *vh, uint8_t *pkt, size_t *len)
{
	(void)vh;
	(void)len;
	pkt[0] = 0x44;
}

static void h_ihl_past_end(struct virtio_net_hdr *vh, uint8_t *pkt, size_t *len)
{
	vh->hdr_len = 0;
	*len = 40;
	wr16(pkt + 2, 40);
	pkt[0] = 0x4f;
}

static void h_tot_len_big(struct virtio_net_hdr *vh, uint8_t *pkt, size_t *len)
{
	(void)vh;
	wr16(pkt + 2, (uint32_t)*len + 1);
}

static void h_tot_len_small(struct virtio_net_hdr *vh, uint8_t *pkt, size_t *len)
{
	(void)vh;
	wr16(pkt + 2, (uint32_t)*len - 1);
}

static void h_version(struct virtio_net_hdr *vh, uint8_t *pkt, size_t *len)
{
	(void)vh;
	(void)len;
	pkt[0] = 0x55;
}

static void h_type_v6(struct virtio_net_hdr *vh, uint8_t *pkt, size_t *len)
{
	(void)pkt;
	(void)len;
	vh->gso_type = VIRTIO_NET_HDR_GSO_TCPV6;
}

static void h_type_udp(struct virtio_net_hdr *vh, uint8_t *pkt, size_t *len)
{
	(void)pkt;
	(void)len;
	vh->gso_type = VIRTIO_NET_HDR_GSO_UDP_L4;
	vh->csum_offset = 6;
}

static void h_type_ufo(struct virtio_net_hdr *vh, uint8_t *pkt, size_t *len)
{
	(void)pkt;
	(void)len;
	vh->gso_type = VIRTIO_NET_HDR_GSO_UDP;
}

static void h_type_unknown(struct virtio_net_hdr *vh, uint8_t *pkt, size_t *len)
{
	(void)pkt;
	(void)len;
	vh->gso_type = 2;
}

static void h_type_ecn_only(struct virtio_net_hdr *vh, uint8_t *pkt, size_t *len)
{
	(void)pkt;
	(void)len;
	vh->gso_type = VIRTIO_NET_HDR_GSO_ECN;
}

static void h_fragment(struct virtio_net_hdr *vh, uint8_t *pkt, size_t *len)
{
	(void)vh;
	(void)len;
	pkt[6] |= 0x20;		/* MF */
}

static void h_no_payload(struct virtio_net_hdr *vh, uint8_t *pkt, size_t *len)
{
	vh->hdr_len = 0;
	*len = 40;
	wr16(pkt + 2, 40);
}

static void h_not_gso_csum_past_end(struct virtio_net_hdr *vh, uint8_t *pkt, size_t *len)
{
	(void)pkt;
	vh->gso_type = VIRTIO_NET_HDR_GSO_NONE;
	vh->csum_start = 20;
	vh->csum_offset = (uint16_t)(*len - 21);	/* one byte of field left */
}

static void h_not_gso_start_past_end(struct virtio_net_hdr *vh, uint8_t *pkt, size_t *len)
{
	(void)pkt;
	vh->gso_type = VIRTIO_NET_HDR_GSO_NONE;
	vh->csum_start = (uint16_t)(*len + 1);
	vh->csum_offset = 0;
}

static void h_protocol(struct virtio_net_hdr *vh, uint8_t *pkt, size_t *len)
{
	(void)vh;
	(void)len;
	pkt[9] = UDP;
}

static const struct hostile hostile4[] = {
	{ "hdr_len beyond the packet", -EINVAL, h_hdr_len },
	{ "csum_start past the end", -EINVAL, h_csum_start_end },
	{ "csum_start not the IP header length", -EINVAL, h_csum_start_off },
	{ "csum_offset not TCP's", -EINVAL, h_csum_offset },
	{ "csum_offset out of range", -EINVAL, h_csum_offset_huge },
	{ "gso_size 0", -EINVAL, h_gso_zero },
	{ "truncated IP header", -EINVAL, h_truncated_ip },
	{ "truncated TCP header", -EINVAL, h_truncated_tcp },
	{ "TCP data offset < 5", -EINVAL, h_tcp_doff_small },
	{ "TCP data offset past the end", -EINVAL, h_tcp_doff_past_end },
	{ "IPv4 ihl < 5", -EINVAL, h_ihl_small },
	{ "IPv4 ihl past the end", -EINVAL, h_ihl_past_end },
	{ "total length too big", -EINVAL, h_tot_len_big },
	{ "total length too small", -EINVAL, h_tot_len_small },
	{ "IP version 5", -EINVAL, h_version },
	{ "TCPV6 on IPv4", -EINVAL, h_type_v6 },
	{ "UDP_L4 on TCP", -EINVAL, h_type_udp },
	{ "TCPV4 on UDP", -EINVAL, h_protocol },
	{ "UFO", -EOPNOTSUPP, h_type_ufo },
	{ "unknown GSO type", -EINVAL, h_type_unknown },
	{ "ECN bit alone", -EINVAL, h_type_ecn_only },
	{ "a fragment", -EINVAL, h_fragment },
	{ "headers only", -EINVAL, h_no_payload },
	{ "not GSO, csum field past the end", -EINVAL, h_not_gso_csum_past_end },
	{ "not GSO, csum_start past the end", -EINVAL, h_not_gso_start_past_end },
};

static void h6_payload_len(struct virtio_net_hdr *vh, uint8_t *pkt, size_t *len)
{
	(void)vh;
	wr16(pkt + 4, (uint32_t)*len - 39);
}

static void h6_ext_header(struct virtio_net_hdr *vh, uint8_t *pkt, size_t *len)
{
	(void)vh;
	(void)len;
	pkt[6] = 0;	/* hop-by-hop options */
}

static void h6_type_v4(struct virtio_net_hdr *vh, uint8_t *pkt, size_t *len)
{
	(void)pkt;
	(void)len;
	vh->gso_type = VIRTIO_NET_HDR_GSO_TCPV4;
}

static void h6_truncated(struct virtio_net_hdr *vh, uint8_t *pkt, size_t *len)
{
	(void)vh;
	(void)pkt;
	*len = 39;
}

static void h6_udp_ecn(struct virtio_net_hdr *vh, uint8_t *pkt, size_t *len)
{
	(void)len;
	pkt[6] = UDP;
	vh->gso_type = VIRTIO_NET_HDR_GSO_UDP_L4 | VIRTIO_NET_HDR_GSO_ECN;
	vh->csum_offset = 6;
}

static const struct hostile hostile6[] = {
	{ "IPv6 payload length mismatch", -EINVAL, h6_payload_len },
	{ "IPv6 extension header", -EOPNOTSUPP, h6_ext_header },
	{ "TCPV4 on IPv6", -EINVAL, h6_type_v4 },
	{ "truncated IPv6 header", -EINVAL, h6_truncated },
	{ "UDP_L4 with the ECN bit", -EINVAL, h6_udp_ecn },
};

static void run_hostile(const struct hostile *cases, size_t ncases, int ver)
{
	struct spec s = base_spec(ver, TCP);
	uint8_t payload[3000];
	uint8_t built[3100];

	fill(payload, sizeof(payload));
	for (size_t t = 0; t < ncases; ++t) {
		struct virtio_net_hdr vh = gso_hdr(&s, 1000);
		size_t len = build(built, &s, payload, sizeof(payload), PARTIAL);
		uint8_t *pkt;

		print_message("%s\n", cases[t].what);
		cases[t].mutate(&vh, built, &len);
		pkt = malloc(len);	/* exact size: ASan catches any overrun */
		memcpy(pkt, built, len);
		assert_int_equal(offload_split(&vh, pkt, len, segs, SEG_CAP, seg_lens, MAX_SEGS),
				 cases[t].expect);
		free(pkt);
	}
}

static void test_split_hostile(void **state)
{
	(void)state;
	run_hostile(hostile4, ARRAY_SIZE(hostile4), 4);
	run_hostile(hostile6, ARRAY_SIZE(hostile6), 6);
}

/*
 * gso_size larger than the payload is what the kernel calls "not really
 * GSO": one packet, sent as is with its checksum finished.
 */
static void test_split_gso_size_above_payload(void **state)
{
	struct spec s = base_spec(4, TCP);
	uint8_t payload[500], pkt[600], expect[600];
	struct virtio_net_hdr vh = gso_hdr(&s, 0xffff);
	size_t len;

	(void)state;
	fill(payload, sizeof(payload));
	len = build(pkt, &s, payload, sizeof(payload), PARTIAL);
	build(expect, &s, payload, sizeof(payload), FULL);
	assert_int_equal(offload_split(&vh, pkt, len, segs, SEG_CAP, seg_lens, MAX_SEGS), 0);
	assert_memory_equal(pkt, expect, len);
}

/* Random headers over random and mutated packets: whatever comes back is sane. */
static void test_split_fuzz(void **state)
{
	uint8_t payload[4000], built[4200];

	(void)state;
	for (int iter = 0; iter < 20000; ++iter) {
		struct spec s = base_spec(rnd() & 1 ? 4 : 6, rnd() & 1 ? TCP : UDP);
		struct virtio_net_hdr vh;
		size_t total = rnd() % 4000, len, gso = 1 + rnd() % 1500;
		uint8_t *pkt;
		int ret;

		s.ipopt_len = s.ver == 4 ? 4 * (rnd() % 11) : 0;
		s.tcpopt_len = 4 * (rnd() % 11);
		fill(payload, total);
		len = build(built, &s, payload, total, PARTIAL);
		vh = gso_hdr(&s, gso);
		switch (rnd() % 4) {
		case 0:	/* flip bytes in the headers */
			for (int k = rnd() % 4; k >= 0; --k)
				built[rnd() % (hdrs_len(&s) + 1)] ^= (uint8_t)(1 + rnd() % 255);
			break;
		case 1:	/* random header fields */
			vh.flags = (uint8_t)rnd();
			vh.gso_type = (uint8_t)(rnd() % 6 | (rnd() & 0x80));
			vh.hdr_len = (uint16_t)rnd();
			vh.gso_size = (uint16_t)(rnd() % 3 ? rnd() % 2000 : rnd());
			vh.csum_start = (uint16_t)(rnd() % 3 ? rnd() % 100 : rnd());
			vh.csum_offset = (uint16_t)(rnd() % 3 ? rnd() % 40 : rnd());
			break;
		case 2:	/* cut short */
			len = rnd() % (len + 1);
			break;
		default:
			fill(built, len);
			break;
		}
		pkt = malloc(len ? len : 1);
		memcpy(pkt, built, len);
		ret = offload_split(&vh, pkt, len, segs, SEG_CAP, seg_lens, MAX_SEGS);
		assert_true(ret >= 0 || ret == -EINVAL || ret == -EOPNOTSUPP || ret == -ENOBUFS);
		if (ret == 0 && (vh.gso_type & 0x7f)) {	/* one segment, in place */
			size_t l4 = pkt[0] >> 4 == 4 ? (size_t)(pkt[0] & 15) * 4 : 40;

			if (pkt[0] >> 4 == 4)
				assert_true(ref_ipv4_ok(pkt));
			assert_true(ref_l4_ok(pkt, l4, len, pkt[0] >> 4 == 4 ? pkt[9] : pkt[6]));
		}
		for (int i = 0; i < ret; ++i) {
			assert_true(seg_lens[i] <= SEG_CAP);
			/* every segment carries valid checksums */
			if (pkt[0] >> 4 == 4) {
				assert_true(ref_ipv4_ok(segs[i]));
				assert_true(ref_l4_ok(segs[i], (size_t)(pkt[0] & 15) * 4,
						      seg_lens[i], pkt[9]));
			} else {
				assert_true(ref_l4_ok(segs[i], 40, seg_lens[i], pkt[6]));
			}
		}
		free(pkt);
	}
}

/* ---- coalescing: what merges with what ---- */

struct flow {
	struct spec s;
	size_t gso_size, total, nsegs;
	uint8_t payload[1 << 17];	/* room for more than one super-packet */
};

/* Segment i of a flow, built directly (checksums complete). */
static struct offload_pkt flow_seg(const struct flow *f, size_t i)
{
	static uint8_t buf[SEG_CAP];
	size_t len = build_segment(buf, &f->s, f->payload, f->total, f->gso_size, i);

	return inbound(buf, len);
}

static void flow_init(struct flow *f, int ver, uint8_t proto, uint16_t sport, size_t nsegs,
		      size_t gso_size)
{
	f->s = base_spec(ver, proto);
	f->s.sport = sport;
	f->gso_size = gso_size;
	f->nsegs = nsegs;
	f->total = nsegs * gso_size;
	fill(f->payload, f->total);
}

/* The super-packet write expected for segments [first, first + n) of f. */
static size_t flow_expect(const struct flow *f, size_t first, size_t n, uint8_t *frame)
{
	struct spec s = f->s;
	size_t off = first * f->gso_size, plen = n * f->gso_size;
	struct virtio_net_hdr vh = { 0 };

	if (n == 1) {	/* written as received */
		memcpy(frame, &vh, sizeof(vh));
		return sizeof(vh) + build_segment(frame + sizeof(vh), &f->s, f->payload,
						  f->total, f->gso_size, first);
	}
	if (off + plen > f->total)
		plen = f->total - off;
	s.id = (uint16_t)(s.id + first);
	s.seq += (uint32_t)off;
	if (first > 0)
		s.flags &= (uint8_t)~CWR;
	if (first + n < f->nsegs)
		s.flags &= (uint8_t)~(FIN | PSH);
	vh = gso_hdr(&s, f->gso_size);
	memcpy(frame, &vh, sizeof(vh));
	return sizeof(vh) + build(frame + sizeof(vh), &s, f->payload + off, plen, PARTIAL);
}

static void assert_write(const struct offload_write *w, const uint8_t *expect, size_t len)
{
	static uint8_t frame[BIG];

	assert_int_equal(w->len, len);
	flatten(w, frame);
	assert_memory_equal(frame, expect, len);
	if (expect[1] != VIRTIO_NET_HDR_GSO_NONE)
		simulated_kernel_check(frame, len);
}

static void assert_flow_write(const struct offload_write *w, const struct flow *f,
			      size_t first, size_t n)
{
	static uint8_t expect[BIG];

	assert_write(w, expect, flow_expect(f, first, n, expect));
}

/* Two TCP flows interleaved, a UDP flow, an ICMP packet: per flow, in order. */
static void test_coalesce_mixed(void **state)
{
	static struct offload_coalescer co;
	static struct flow a, b, u;
	struct offload_pkt pkts[16];
	struct iovec iov[16];
	struct offload_write w[16];
	struct spec icmp = base_spec(4, ICMP);
	uint8_t icmp_pkt[100], expect[200] = { 0 };
	size_t icmp_len;
	int ret;

	(void)state;
	flow_init(&a, 4, TCP, 1000, 3, 1400);
	flow_init(&b, 6, TCP, 1001, 3, 1300);
	flow_init(&u, 4, UDP, 1002, 2, 1200);
	icmp_len = build(icmp_pkt, &icmp, (const uint8_t *)"ping", 4, AS_IS);

	for (int udp = 0; udp < 2; ++udp) {
		size_t n = 0;

		pkts[n++] = flow_seg(&a, 0);
		pkts[n++] = flow_seg(&b, 0);
		pkts[n++] = flow_seg(&a, 1);
		pkts[n++] = flow_seg(&u, 0);
		pkts[n++] = flow_seg(&b, 1);
		pkts[n++] = inbound(icmp_pkt, icmp_len);
		pkts[n++] = flow_seg(&a, 2);
		pkts[n++] = flow_seg(&u, 1);
		pkts[n++] = flow_seg(&b, 2);
		ret = offload_coalesce(&co, pkts, n, udp ? OFFLOAD_COALESCE_UDP : 0, iov, w);
		memcpy(expect + OFFLOAD_VNET_HDR_LEN, icmp_pkt, icmp_len);
		assert_flow_write(&w[0], &a, 0, 3);
		assert_flow_write(&w[1], &b, 0, 3);
		if (udp) {
			assert_int_equal(ret, 4);
			assert_flow_write(&w[2], &u, 0, 2);
			assert_write(&w[3], expect, OFFLOAD_VNET_HDR_LEN + icmp_len);
		} else {
			assert_int_equal(ret, 5);
			assert_flow_write(&w[2], &u, 0, 1);
			assert_write(&w[3], expect, OFFLOAD_VNET_HDR_LEN + icmp_len);
			assert_flow_write(&w[4], &u, 1, 1);
		}
		free_inbound(pkts, n);
	}
}

/* What happens to the middle segment of three before coalescing. */
struct spoiler {
	const char *what;
	size_t writes[3];	/* segments in each write, in order */
	void (*mutate)(uint8_t *pkt, size_t *len);
};

static void fix_checksums(uint8_t *p, size_t len)
{
	size_t ih = (size_t)(p[0] & 15) * 4;

	wr16(p + 10, 0);
	wr16(p + 10, (uint16_t)~ref_fold(ref_add(0, p, ih)));
	wr16(p + ih + 16, 0);
	wr16(p + ih + 16, (uint16_t)~ref_fold(ref_add(ref_pseudo(p, ih, len, TCP), p + ih,
							    len - ih)));
}

static void s_seq_gap(uint8_t *p, size_t *len)
{
	p[27]++;
	fix_checksums(p, *len);
}

static void s_ack(uint8_t *p, size_t *len)
{
	p[31]++;
	fix_checksums(p, *len);
}

static void s_syn(uint8_t *p, size_t *len)
{
	p[33] |= SYN;
	fix_checksums(p, *len);
}

static void s_fin(uint8_t *p, size_t *len)
{
	p[33] |= FIN;
	fix_checksums(p, *len);
}

static void s_rst(uint8_t *p, size_t *len)
{
	p[33] |= RST;
	fix_checksums(p, *len);
}

static void s_urg(uint8_t *p, size_t *len)
{
	p[33] |= URG;
	fix_checksums(p, *len);
}

static void s_ece(uint8_t *p, size_t *len)
{
	p[33] |= ECE;
	fix_checksums(p, *len);
}

static void s_cwr(uint8_t *p, size_t *len)
{
	p[33] |= CWR;
	fix_checksums(p, *len);
}

static void s_psh(uint8_t *p, size_t *len)
{
	p[33] |= PSH;
	fix_checksums(p, *len);
}

static void s_ttl(uint8_t *p, size_t *len)
{
	p[8]--;
	fix_checksums(p, *len);
}

static void s_tos(uint8_t *p, size_t *len)
{
	p[1] |= 3;	/* CE */
	fix_checksums(p, *len);
}

static void s_df(uint8_t *p, size_t *len)
{
	p[6] &= (uint8_t)~0x40;
	fix_checksums(p, *len);
}

static void s_id(uint8_t *p, size_t *len)
{
	p[5] += 2;
	fix_checksums(p, *len);
}

static void s_window(uint8_t *p, size_t *len)
{
	p[35]++;
	fix_checksums(p, *len);
}

static void s_timestamp(uint8_t *p, size_t *len)
{
	p[47]++;
	fix_checksums(p, *len);
}

static void s_short(uint8_t *p, size_t *len)
{
	*len -= 1;
	wr16(p + 2, (uint32_t)*len);
	fix_checksums(p, *len);
}

static void s_pure_ack(uint8_t *p, size_t *len)
{
	*len = 52;
	wr16(p + 2, 52);
	fix_checksums(p, *len);
}

static void s_bad_csum(uint8_t *p, size_t *len)
{
	(void)len;
	p[100] ^= 1;
}

static void s_bad_ip_csum(uint8_t *p, size_t *len)
{
	(void)len;
	p[11] ^= 1;
}

static void s_options_len(uint8_t *p, size_t *len)
{
	/* Same bytes, one more option word: the header length differs. */
	p[32] = 9 << 4;
	fix_checksums(p, *len);
}

static const struct spoiler spoilers[] = {
	{ "sequence gap", { 1, 1, 1 }, s_seq_gap },
	{ "different ACK", { 1, 1, 1 }, s_ack },
	{ "SYN", { 1, 1, 1 }, s_syn },
	{ "FIN", { 1, 1, 1 }, s_fin },
	{ "RST", { 1, 1, 1 }, s_rst },
	{ "URG", { 1, 1, 1 }, s_urg },
	{ "ECE", { 1, 1, 1 }, s_ece },
	{ "CWR", { 1, 1, 1 }, s_cwr },
	{ "PSH in the middle", { 2, 1 }, s_psh },
	{ "different TTL", { 1, 1, 1 }, s_ttl },
	{ "different TOS", { 1, 1, 1 }, s_tos },
	{ "different DF", { 1, 1, 1 }, s_df },
	{ "IPv4 ID not the next", { 1, 1, 1 }, s_id },
	{ "different window", { 1, 1, 1 }, s_window },
	{ "different timestamp", { 1, 1, 1 }, s_timestamp },
	{ "different TCP header length", { 1, 1, 1 }, s_options_len },
	{ "short segment in the middle", { 2, 1 }, s_short },
	{ "pure ACK in the middle", { 1, 1, 1 }, s_pure_ack },
	{ "bad checksum in the middle", { 1, 1, 1 }, s_bad_csum },
	{ "bad IPv4 header checksum in the middle", { 1, 1, 1 }, s_bad_ip_csum },
};

static void test_coalesce_spoilers(void **state)
{
	static struct offload_coalescer co;
	static struct flow f;
	static uint8_t frame[BIG];

	(void)state;
	flow_init(&f, 4, TCP, 2000, 3, 1000);
	f.s.tcpopt_len = 12;
	for (size_t t = 0; t < ARRAY_SIZE(spoilers); ++t) {
		const struct spoiler *sp = &spoilers[t];
		struct offload_pkt pkts[3];
		struct iovec iov[3];
		struct offload_write w[3];
		uint8_t mid[SEG_CAP];
		size_t mid_len, nw = 0, seg = 0;
		int ret;

		print_message("%s\n", sp->what);
		pkts[0] = flow_seg(&f, 0);
		mid_len = build_segment(mid, &f.s, f.payload, f.total, f.gso_size, 1);
		sp->mutate(mid, &mid_len);
		pkts[1] = inbound(mid, mid_len);
		pkts[2] = flow_seg(&f, 2);
		ret = offload_coalesce(&co, pkts, 3, OFFLOAD_COALESCE_UDP, iov, w);
		while (nw < 3 && sp->writes[nw])
			nw++;
		assert_int_equal(ret, nw);
		for (size_t k = 0; k < nw; seg += sp->writes[k], ++k) {
			assert_int_equal(w[k].iovcnt, sp->writes[k]);
			/* each write starts with the packet it stands for */
			assert_ptr_equal(w[k].iov[0].iov_base,
					 pkts[seg].data - OFFLOAD_VNET_HDR_LEN);
			if (sp->writes[k] == 1) {	/* written as received */
				flatten(&w[k], frame);
				assert_int_equal(frame[1], VIRTIO_NET_HDR_GSO_NONE);
				assert_memory_equal(frame, "\0\0\0\0\0\0\0\0\0\0", 10);
			} else {
				flatten(&w[k], frame);
				simulated_kernel_check(frame, w[k].len);
			}
		}
		free_inbound(pkts, 3);
	}
}

/*
 * Cases where every field but one continues the previous packet exactly, so
 * only the rule under test can keep them apart.
 */
struct def {
	struct spec s;
	size_t plen;
	bool no_udp_csum;
};

struct rule_case {
	const char *what;
	struct def pkt[3];
	size_t writes[3];
};

static struct def seg_def(int ver, uint8_t proto, size_t k, size_t plen)
{
	struct def d = { base_spec(ver, proto), plen, false };

	d.s.seq += (uint32_t)(k * 1000);	/* earlier segments were 1000 bytes */
	d.s.id = (uint16_t)(d.s.id + k);
	return d;
}

static void run_rule_case(struct rule_case *rc)
{
	static struct offload_coalescer co;
	static uint8_t payload[2000];
	struct offload_pkt pkts[3];
	struct iovec iov[3];
	struct offload_write w[3];
	uint8_t buf[SEG_CAP];
	size_t n = 0, nw = 0;
	int ret;

	print_message("%s\n", rc->what);
	fill(payload, sizeof(payload));
	while (n < 3 && rc->pkt[n].s.ver) {
		const struct def *d = &rc->pkt[n];

		pkts[n++] = inbound(buf, build(buf, &d->s, payload, d->plen,
					       d->no_udp_csum ? AS_IS : FULL));
	}
	while (nw < 3 && rc->writes[nw])
		nw++;
	ret = offload_coalesce(&co, pkts, n, OFFLOAD_COALESCE_UDP, iov, w);
	assert_int_equal(ret, nw);
	for (size_t k = 0; k < nw; ++k)
		assert_int_equal(w[k].iovcnt, rc->writes[k]);
	free_inbound(pkts, n);
}

static void test_coalesce_rules(void **state)
{
	struct rule_case rc;

	(void)state;
	rc = (struct rule_case){ "TCP: nothing follows a short segment",
		{ seg_def(4, TCP, 0, 1000), seg_def(4, TCP, 1, 500), seg_def(4, TCP, 1, 1000) },
		{ 2, 1 } };
	rc.pkt[2].s.seq += 500;
	rc.pkt[2].s.id++;
	run_rule_case(&rc);

	rc = (struct rule_case){ "UDP: nothing follows a short datagram",
		{ seg_def(6, UDP, 0, 1000), seg_def(6, UDP, 1, 500), seg_def(6, UDP, 2, 1000) },
		{ 2, 1 } };
	run_rule_case(&rc);

	rc = (struct rule_case){ "TCP: the first segment sets gso_size, a bigger one cannot follow",
		{ seg_def(4, TCP, 0, 500), seg_def(4, TCP, 1, 1000) }, { 1, 1 } };
	rc.pkt[1].s.seq -= 500;
	run_rule_case(&rc);

	rc = (struct rule_case){ "TCP: a pure ACK keeps later data from jumping over it",
		{ seg_def(4, TCP, 0, 1000), seg_def(4, TCP, 1, 0), seg_def(4, TCP, 1, 1000) },
		{ 1, 1, 1 } };
	rc.pkt[1].s.id = 7;
	run_rule_case(&rc);

	rc = (struct rule_case){ "TCP: so does a FIN",
		{ seg_def(6, TCP, 0, 1000), seg_def(6, TCP, 1, 0), seg_def(6, TCP, 1, 1000) },
		{ 1, 1, 1 } };
	rc.pkt[1].s.flags = ACK | FIN;
	run_rule_case(&rc);

	rc = (struct rule_case){ "UDP: an unmergeable datagram is a barrier too",
		{ seg_def(4, UDP, 0, 1000), seg_def(4, UDP, 1, 1000), seg_def(4, UDP, 1, 1000) },
		{ 1, 1, 1 } };
	rc.pkt[1].no_udp_csum = true;
	rc.pkt[1].s.id = 7;
	run_rule_case(&rc);

	rc = (struct rule_case){ "IPv4 options lengths differ",
		{ seg_def(4, TCP, 0, 1000), seg_def(4, TCP, 1, 1000) }, { 1, 1 } };
	rc.pkt[0].s.ipopt_len = 4;
	rc.pkt[1].s.ipopt_len = 8;
	run_rule_case(&rc);

	rc = (struct rule_case){ "IPv4 options bytes differ",
		{ seg_def(4, TCP, 0, 1000), seg_def(4, TCP, 1, 1000) }, { 1, 1 } };
	rc.pkt[0].s.ipopt_len = rc.pkt[1].s.ipopt_len = 8;
	rc.pkt[1].s.ipopt_tail = 0x44;
	run_rule_case(&rc);

	rc = (struct rule_case){ "IPv4 options equal",
		{ seg_def(4, TCP, 0, 1000), seg_def(4, TCP, 1, 1000) }, { 2 } };
	rc.pkt[0].s.ipopt_len = rc.pkt[1].s.ipopt_len = 12;
	run_rule_case(&rc);

	rc = (struct rule_case){ "source ports differ",
		{ seg_def(4, TCP, 0, 1000), seg_def(4, TCP, 1, 1000) }, { 1, 1 } };
	rc.pkt[1].s.sport++;
	run_rule_case(&rc);

	rc = (struct rule_case){ "destination addresses differ",
		{ seg_def(6, UDP, 0, 1000), seg_def(6, UDP, 1, 1000) }, { 1, 1 } };
	rc.pkt[1].s.dst[15]++;
	run_rule_case(&rc);

	rc = (struct rule_case){ "TCP and UDP on the same ports",
		{ seg_def(4, TCP, 0, 1000), seg_def(4, UDP, 1, 1000) }, { 1, 1 } };
	run_rule_case(&rc);

	rc = (struct rule_case){ "IPv6 flow labels differ",
		{ seg_def(6, TCP, 0, 1000), seg_def(6, TCP, 1, 1000) }, { 1, 1 } };
	rc.pkt[1].s.flow++;
	run_rule_case(&rc);

	rc = (struct rule_case){ "IPv6 traffic classes differ",
		{ seg_def(6, TCP, 0, 1000), seg_def(6, TCP, 1, 1000) }, { 1, 1 } };
	rc.pkt[1].s.tos = 0x11;
	run_rule_case(&rc);

	rc = (struct rule_case){ "IPv6 hop limits differ",
		{ seg_def(6, UDP, 0, 1000), seg_def(6, UDP, 1, 1000) }, { 1, 1 } };
	rc.pkt[1].s.ttl--;
	run_rule_case(&rc);

	rc = (struct rule_case){ "UDP datagrams of one flow",
		{ seg_def(4, UDP, 0, 1000), seg_def(4, UDP, 1, 1000) }, { 2 } };
	run_rule_case(&rc);
}

/* Without OFFLOAD_COALESCE_UDP, UDP is written as received. */
static void test_coalesce_udp_off(void **state)
{
	static struct offload_coalescer co;
	static struct flow u;
	struct offload_pkt pkts[3];
	struct iovec iov[3];
	struct offload_write w[3];

	(void)state;
	flow_init(&u, 6, UDP, 7000, 3, 900);
	for (size_t i = 0; i < 3; ++i)
		pkts[i] = flow_seg(&u, i);
	assert_int_equal(offload_coalesce(&co, pkts, 3, 0, iov, w), 3);
	for (size_t i = 0; i < 3; ++i)
		assert_flow_write(&w[i], &u, i, 1);
	free_inbound(pkts, 3);
}

/* A full batch of distinct flows, two segments each, second segments last. */
static void test_coalesce_many_flows(void **state)
{
	static struct offload_coalescer co;
	static uint8_t payload[2000];
	enum { FLOWS = OFFLOAD_BATCH_MAX / 2 };
	struct offload_pkt pkts[OFFLOAD_BATCH_MAX];
	struct iovec iov[OFFLOAD_BATCH_MAX];
	struct offload_write w[OFFLOAD_BATCH_MAX];
	uint8_t buf[SEG_CAP];

	(void)state;
	fill(payload, sizeof(payload));
	for (size_t i = 0; i < OFFLOAD_BATCH_MAX; ++i) {
		struct def d = seg_def(i % 4 < 2 ? 4 : 6, i % 2 ? UDP : TCP, i / FLOWS, 700);

		d.s.seq -= (uint32_t)(300 * (i / FLOWS));	/* 700, not 1000, bytes before */
		d.s.sport = (uint16_t)(10000 + i % FLOWS / 4);
		d.s.src[d.s.ver == 4 ? 3 : 15] = (uint8_t)(i % FLOWS / 4);
		pkts[i] = inbound(buf, build(buf, &d.s, payload + 700 * (i / FLOWS), 700, FULL));
	}
	assert_int_equal(offload_coalesce(&co, pkts, OFFLOAD_BATCH_MAX, OFFLOAD_COALESCE_UDP, iov,
					  w), FLOWS);
	for (size_t k = 0; k < FLOWS; ++k) {
		assert_int_equal(w[k].iovcnt, 2);
		assert_ptr_equal(w[k].iov[0].iov_base, pkts[k].data - OFFLOAD_VNET_HDR_LEN);
		assert_ptr_equal(w[k].iov[1].iov_base, pkts[k + FLOWS].data + pkts[k].len - 700);
	}
	free_inbound(pkts, OFFLOAD_BATCH_MAX);
}

/* A bad checksum on the first segment: it stays alone, the rest still merge. */
static void test_coalesce_bad_head(void **state)
{
	static struct offload_coalescer co;
	static struct flow f;
	struct offload_pkt pkts[4];
	struct iovec iov[4];
	struct offload_write w[4];
	int ret;

	(void)state;
	flow_init(&f, 6, TCP, 2001, 4, 1000);
	for (size_t i = 0; i < 4; ++i)
		pkts[i] = flow_seg(&f, i);
	pkts[0].data[500] ^= 0x80;
	ret = offload_coalesce(&co, pkts, 4, 0, iov, w);
	assert_int_equal(ret, 2);
	assert_int_equal(w[0].iovcnt, 1);
	assert_flow_write(&w[1], &f, 1, 3);
	free_inbound(pkts, 4);
}

/* UDP stops at the kernel's 64 segments; TCP at 65535 bytes of IP packet. */
static void test_coalesce_limits(void **state)
{
	static struct offload_coalescer co;
	static struct flow u, t;
	struct offload_pkt pkts[OFFLOAD_BATCH_MAX];
	struct iovec iov[OFFLOAD_BATCH_MAX];
	struct offload_write w[OFFLOAD_BATCH_MAX];
	int ret;

	(void)state;
	flow_init(&u, 6, UDP, 3000, 150, 10);
	for (size_t i = 0; i < 150; ++i)
		pkts[i] = flow_seg(&u, i);
	ret = offload_coalesce(&co, pkts, 150, OFFLOAD_COALESCE_UDP, iov, w);
	assert_int_equal(ret, 3);
	assert_flow_write(&w[0], &u, 0, 64);
	assert_flow_write(&w[1], &u, 64, 64);
	assert_flow_write(&w[2], &u, 128, 22);
	free_inbound(pkts, 150);

	/* 40 + 1000 * 65 > 65535: 65 segments fit, then a new super-packet */
	flow_init(&t, 4, TCP, 3001, 100, 1000);
	assert_true(t.total <= sizeof(t.payload));
	for (size_t i = 0; i < 100; ++i)
		pkts[i] = flow_seg(&t, i);
	ret = offload_coalesce(&co, pkts, 100, 0, iov, w);
	assert_int_equal(ret, 2);
	assert_flow_write(&w[0], &t, 0, 65);
	assert_flow_write(&w[1], &t, 65, 35);
	assert_true(w[0].len - OFFLOAD_VNET_HDR_LEN <= 65535);
	free_inbound(pkts, 100);

	ret = offload_coalesce(&co, pkts, OFFLOAD_BATCH_MAX + 1, 0, iov, w);
	assert_int_equal(ret, -E2BIG);
	assert_int_equal(offload_coalesce(&co, pkts, 0, 0, iov, w), 0);
}

/*
 * Many batches through one coalescer: the flow table must forget the last
 * batch (generation counter), including across its wrap to zero.
 */
static void test_coalesce_generations(void **state)
{
	static struct offload_coalescer co;
	static struct flow f;
	struct offload_pkt pkts[2];
	struct iovec iov[2];
	struct offload_write w[2];

	(void)state;
	flow_init(&f, 4, TCP, 4000, 2, 100);
	co.gen = 0xfffffffe;
	for (int round = 0; round < 4; ++round) {
		pkts[0] = flow_seg(&f, round & 1);
		assert_int_equal(offload_coalesce(&co, pkts, 1, 0, iov, w), 1);
		assert_int_equal(w[0].iovcnt, 1);
		free_inbound(pkts, 1);
	}
	pkts[0] = flow_seg(&f, 0);
	pkts[1] = flow_seg(&f, 1);
	assert_int_equal(offload_coalesce(&co, pkts, 2, 0, iov, w), 1);
	assert_flow_write(&w[0], &f, 0, 2);
	free_inbound(pkts, 2);
}

/* Garbage and truncated packets: every input shows up in exactly one place. */
static void test_coalesce_fuzz(void **state)
{
	static struct offload_coalescer co;
	static struct flow f;
	struct offload_pkt pkts[64];
	struct iovec iov[64];
	struct offload_write w[64];
	uint8_t buf[SEG_CAP];

	(void)state;
	flow_init(&f, 4, TCP, 5000, 64, 500);
	for (int iter = 0; iter < 3000; ++iter) {
		size_t n = 1 + rnd() % 64, covered = 0;
		int ret;

		if (iter % 2)
			flow_init(&f, rnd() & 1 ? 4 : 6, rnd() & 1 ? TCP : UDP, 5000, 64, 500);
		for (size_t i = 0; i < n; ++i) {
			size_t len = build_segment(buf, &f.s, f.payload, f.total, f.gso_size,
						   rnd() % 64);

			switch (rnd() % 4) {
			case 0:
				len = rnd() % (len + 1);
				break;
			case 1:
				buf[rnd() % 60] ^= (uint8_t)rnd();
				break;
			case 2:
				fill(buf, len);
				buf[0] = (uint8_t)(rnd() & 1 ? 0x45 : 0x60);
				break;
			default:
				break;
			}
			pkts[i] = inbound(buf, len);
		}
		ret = offload_coalesce(&co, pkts, n, OFFLOAD_COALESCE_UDP, iov, w);
		assert_true(ret >= 1 && (size_t)ret <= n);
		for (int k = 0; k < ret; ++k) {
			const uint8_t *head = (const uint8_t *)w[k].iov[0].iov_base +
					      OFFLOAD_VNET_HDR_LEN;
			bool found = false;

			for (size_t i = 0; i < n; ++i)
				found |= pkts[i].data == head;
			assert_true(found);
			covered += (size_t)w[k].iovcnt;
			for (int j = 1; j < w[k].iovcnt; ++j) {
				const uint8_t *piece = w[k].iov[j].iov_base;
				bool inside = false;

				for (size_t i = 0; i < n; ++i)
					inside |= piece > pkts[i].data &&
						  piece + w[k].iov[j].iov_len ==
						  pkts[i].data + pkts[i].len;
				assert_true(inside);
			}
		}
		assert_int_equal(covered, n);
		free_inbound(pkts, n);
	}
}

/*
 * Random flows: super-packets split, their segments interleaved at random
 * (each flow's in order), coalesced; every flow must come back whole, in
 * the position of its first segment.
 */
static void test_random_round_trip(void **state)
{
	static struct offload_coalescer co;
	static struct flow flows[4];
	static uint8_t super[BIG], expect[BIG];
	struct offload_pkt pkts[OFFLOAD_BATCH_MAX];
	struct iovec iov[OFFLOAD_BATCH_MAX];
	struct offload_write w[OFFLOAD_BATCH_MAX];

	(void)state;
	for (int iter = 0; iter < 300; ++iter) {
		size_t nflows = 1 + rnd() % 4, budget = OFFLOAD_BATCH_MAX, n = 0;
		size_t next[4] = { 0 }, owner[OFFLOAD_BATCH_MAX], index[OFFLOAD_BATCH_MAX];
		size_t len, nsegs, expect_writes = 0;
		int ret;

		for (size_t k = 0; k < nflows; ++k) {
			struct flow *f = &flows[k];
			size_t hdrs, max_total;

			f->s = base_spec(rnd() & 1 ? 4 : 6, rnd() & 1 ? TCP : UDP);
			f->s.sport = (uint16_t)(6000 + k);
			f->s.ipopt_len = f->s.ver == 4 && rnd() % 3 == 0 ? 4 * (1 + rnd() % 10) : 0;
			f->s.tcpopt_len = rnd() % 2 ? 12 : 4 * (rnd() % 11);
			f->s.id = (uint16_t)rnd();
			f->s.seq = rnd();
			f->s.flags = rnd() % 2 ? ACK | PSH : ACK;
			f->s.tos = (uint8_t)(rnd() & 0xfc);
			hdrs = hdrs_len(&f->s);
			f->gso_size = 1 + rnd() % (SEG_CAP - hdrs);
			if (rnd() % 4 == 0)
				f->gso_size = 1 + rnd() % 64;
			max_total = OFFLOAD_IP_MAX - hdrs;
			nsegs = 1 + rnd() % (budget / (nflows - k) < 2 ? 1 : budget / (nflows - k));
			if (nsegs * f->gso_size > max_total)
				nsegs = max_total / f->gso_size;
			f->total = nsegs * f->gso_size;
			if (rnd() % 2 && f->gso_size > 1)	/* a short last segment */
				f->total -= 1 + rnd() % (f->gso_size - 1);
			f->nsegs = (f->total + f->gso_size - 1) / f->gso_size;
			budget -= f->nsegs;
			fill(f->payload, f->total);
		}
		/* Interleave: each step takes the next segment of a random unfinished flow. */
		for (;;) {
			size_t left = 0, pick;

			for (size_t k = 0; k < nflows; ++k)
				left += next[k] < flows[k].nsegs;
			if (!left)
				break;
			pick = rnd() % nflows;
			while (next[pick] >= flows[pick].nsegs)
				pick = (pick + 1) % nflows;
			owner[n] = pick;
			index[n] = next[pick]++;
			n++;
		}
		/* Split each flow's super-packet; check its segments; queue them. */
		for (size_t k = 0; k < nflows; ++k) {
			struct flow *f = &flows[k];

			if (f->nsegs == 1)
				continue;
			split_and_check(&f->s, f->payload, f->total, f->gso_size, super, &len,
					&nsegs);
			assert_int_equal(nsegs, f->nsegs);
			for (size_t i = 0; i < n; ++i)
				if (owner[i] == k)
					pkts[i] = inbound(segs[index[i]], seg_lens[index[i]]);
		}
		for (size_t i = 0; i < n; ++i) {
			if (flows[owner[i]].nsegs == 1) {
				len = build_segment(super, &flows[owner[i]].s, flows[owner[i]].payload,
						    flows[owner[i]].total, flows[owner[i]].gso_size, 0);
				pkts[i] = inbound(super, len);
			}
		}
		ret = offload_coalesce(&co, pkts, n, OFFLOAD_COALESCE_UDP, iov, w);
		/* A write starts wherever a flow's chunk starts: TCP once, UDP every 64. */
		for (size_t i = 0; i < n; ++i) {
			const struct flow *f = &flows[owner[i]];
			size_t chunk = f->s.proto == UDP ? OFFLOAD_UDP_MAX_SEGS : f->nsegs;
			size_t count;

			if (index[i] % chunk)
				continue;
			count = f->nsegs - index[i] < chunk ? f->nsegs - index[i] : chunk;
			assert_true((int)expect_writes < ret);
			len = flow_expect(f, index[i], count, expect);
			assert_write(&w[expect_writes++], expect, len);
		}
		assert_int_equal(ret, expect_writes);
		free_inbound(pkts, n);
	}
}

/* The fast checksum against the naive one at every length and alignment. */
static void test_csum_partial(void **state)
{
	enum { BIG_SUM = 3 * 4096 * 64 + 77 };
	static uint8_t buf[600];
	uint8_t a4[4], b4[4], a16[16], b16[16], *big;

	(void)state;
	fill(buf, sizeof(buf));
	for (size_t off = 0; off < 8; ++off) {
		for (size_t len = 0; len < 300; ++len) {
			uint16_t fast = offload_csum_fold(offload_csum_partial(buf + off, len, 0));
			uint16_t naive = (uint16_t)~ref_fold(ref_add(0, buf + off, len));
			uint8_t be[2];

			memcpy(be, &fast, 2);	/* memory order */
			assert_int_equal(rd16(be), naive);
		}
	}
	/* all ones: the accumulators must not lose carries */
	memset(buf, 0xff, sizeof(buf));
	assert_int_equal(offload_csum_fold(offload_csum_partial(buf, sizeof(buf), 0xffffffff)),
			 0);
	/* longer than one run of vector blocks (256 KiB), all ones and random */
	big = malloc(BIG_SUM);
	memset(big, 0xff, BIG_SUM);
	assert_int_equal(offload_csum_fold(offload_csum_partial(big, BIG_SUM - 1, 0)), 0);
	fill(big, BIG_SUM);
	for (size_t len = BIG_SUM - 8; len <= BIG_SUM; ++len) {
		uint16_t fast = offload_csum_fold(offload_csum_partial(big, len, 0));
		uint8_t be[2];

		memcpy(be, &fast, 2);
		assert_int_equal(rd16(be), (uint16_t)~ref_fold(ref_add(0, big, len)));
	}
	free(big);
	for (int i = 0; i < 1000; ++i) {
		uint8_t ph[40] = { 0 }, be[2];
		uint16_t len = (uint16_t)rnd(), fast;
		uint8_t proto = (uint8_t)rnd();

		fill(a4, 4);
		fill(b4, 4);
		fill(a16, 16);
		fill(b16, 16);
		memcpy(ph, a4, 4);
		memcpy(ph + 4, b4, 4);
		ph[9] = proto;
		wr16(ph + 10, len);
		fast = (uint16_t)~offload_csum_fold(offload_pseudo_v4(a4, b4, proto, len));
		memcpy(be, &fast, 2);
		assert_int_equal(ref_fold(rd16(be)), ref_fold(ref_add(0, ph, 12)));
		memset(ph, 0, sizeof(ph));
		memcpy(ph, a16, 16);
		memcpy(ph + 16, b16, 16);
		wr32(ph + 32, len + 0x10000u * (i & 1));
		ph[39] = proto;
		fast = (uint16_t)~offload_csum_fold(
			offload_pseudo_v6(a16, b16, proto, len + 0x10000u * (i & 1)));
		memcpy(be, &fast, 2);
		assert_int_equal(rd16(be), ref_fold(ref_add(0, ph, 40)));
	}
}

static void test_ipv4_csum(void **state)
{
	struct spec s = base_spec(4, TCP);
	uint8_t pkt[200], be[2], none[1] = { 0 };
	uint16_t c;

	(void)state;
	for (size_t opt = 0; opt <= 40; opt += 4) {
		s.ipopt_len = opt;
		build(pkt, &s, none, 0, FULL);
		c = offload_ipv4_csum(pkt, 20 + opt);	/* ignores the field's value */
		memcpy(be, &c, 2);
		assert_int_equal(rd16(be), rd16(pkt + 10));
		pkt[10] ^= 0x5a;
		assert_int_equal(offload_ipv4_csum(pkt, 20 + opt), c);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_csum_partial),
		cmocka_unit_test(test_ipv4_csum),
		cmocka_unit_test(test_split_coalesce_shapes),
		cmocka_unit_test(test_split_one_segment),
		cmocka_unit_test(test_split_tcp_flags),
		cmocka_unit_test(test_split_udp_zero_checksum),
		cmocka_unit_test(test_split_not_gso),
		cmocka_unit_test(test_split_hostile),
		cmocka_unit_test(test_split_gso_size_above_payload),
		cmocka_unit_test(test_split_fuzz),
		cmocka_unit_test(test_coalesce_mixed),
		cmocka_unit_test(test_coalesce_spoilers),
		cmocka_unit_test(test_coalesce_rules),
		cmocka_unit_test(test_coalesce_udp_off),
		cmocka_unit_test(test_coalesce_many_flows),
		cmocka_unit_test(test_coalesce_bad_head),
		cmocka_unit_test(test_coalesce_limits),
		cmocka_unit_test(test_coalesce_generations),
		cmocka_unit_test(test_coalesce_fuzz),
		cmocka_unit_test(test_random_round_trip),
	};

	return cmocka_run_group_tests(tests, setup_segs, teardown_segs);
}
