// SPDX-License-Identifier: MIT
/*
 * libFuzzer target: TUN offloads (src/linux/offload.h).
 *
 * The first input byte picks what runs:
 *  - offload_split() of a virtio_net_hdr and a packet, either raw input or a
 *    TCP/UDP super-packet built from input fields (consistent lengths, a
 *    header the kernel could send, then fuzz-flipped bits), into segment
 *    buffers of a fuzz-chosen size and count;
 *  - offload_coalesce() of a batch of packets, raw or cut from up to four
 *    flows whose segments continue each other (correct checksums, sequence
 *    numbers and IDs) unless the input perturbs them.
 *
 * Each buffer is allocated at its exact size so AddressSanitizer sees any
 * overrun. Checksums are checked with the harness's own byte-pair sum, not
 * offload.c's. What must hold:
 *  - split: segments carry the payload in order, gso_size each but the last,
 *    with valid lengths, IPv4 header checksums, transport checksums and TCP
 *    sequence numbers, and the input packet is left unchanged;
 *  - coalesce: every packet is written exactly once, writes in the order of
 *    their first packets; a packet written alone is unchanged behind a zero
 *    header; and a super-packet, split again, gives back exactly the packets
 *    that went into it (offload.c's own contract: it merges only what split
 *    would recreate byte for byte; a checksum of 0x0000 and one of 0xffff
 *    are the same one's complement number and may stand for each other).
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "offload.h"

enum {
	BATCH_MAX = 128,
	N_FLOWS = 4,
	RAW_MAX = 2048,
	TCP_ACK = 0x10,
	TCP_PSH = 0x08,
};

struct input {
	const uint8_t *p;
	size_t n;
};

static uint8_t in_u8(struct input *in)
{
	if (!in->n)
		return 0;
	--in->n;
	return *in->p++;
}

static uint16_t in_u16(struct input *in)
{
	return (uint16_t)(in_u8(in) << 8 | in_u8(in));
}

static void in_bytes(struct input *in, uint8_t *dst, size_t len)
{
	size_t k = len < in->n ? len : in->n;

	memcpy(dst, in->p, k);
	memset(dst + k, 0, len - k);
	in->p += k;
	in->n -= k;
}

static void check(bool ok, const char *what)
{
	if (!ok) {
		fprintf(stderr, "fuzz_offload: broken promise: %s\n", what);
		abort();
	}
}

static void *xmalloc(size_t len)
{
	void *p = malloc(len ? len : 1);

	check(p != NULL, "memory");
	return p;
}

static uint16_t be16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static uint32_t be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static void put_be16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static void put_be32(uint8_t *p, uint32_t v)
{
	put_be16(p, (uint16_t)(v >> 16));
	put_be16(p + 2, (uint16_t)v);
}

/* ---- Checksums, the plain way (RFC 1071): big-endian 16-bit words ---- */

static uint64_t sum16(const uint8_t *p, size_t len, uint64_t s)
{
	size_t i;

	for (i = 0; i + 1 < len; i += 2)
		s += (uint64_t)(p[i] << 8 | p[i + 1]);
	if (len & 1)
		s += (uint64_t)p[len - 1] << 8;
	return s;
}

static uint16_t fold(uint64_t s)
{
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return (uint16_t)s;
}

static uint64_t pseudo(const uint8_t *ip, bool v6, uint8_t proto, size_t l4_len)
{
	uint64_t s = proto + (uint64_t)l4_len;

	return v6 ? sum16(ip + 8, 32, s) : sum16(ip + 12, 8, s);
}

/* The transport checksum verifies (sum with the pseudo-header is all ones). */
static bool l4_csum_ok(const uint8_t *ip, size_t len, size_t iph, bool v6, uint8_t proto)
{
	return fold(sum16(ip + iph, len - iph, pseudo(ip, v6, proto, len - iph))) == 0xffff;
}

static bool ip4_csum_ok(const uint8_t *ip, size_t ihl)
{
	return fold(sum16(ip, ihl, 0)) == 0xffff;
}

static void set_l4_csum(uint8_t *ip, size_t len, size_t iph, bool v6, uint8_t proto)
{
	size_t off = iph + (proto == 6 ? 16 : 6);
	uint16_t c;

	put_be16(ip + off, 0);
	c = (uint16_t)~fold(sum16(ip + iph, len - iph, pseudo(ip, v6, proto, len - iph)));
	put_be16(ip + off, proto == 17 && !c ? 0xffff : c);
}

static void set_ip4_csum(uint8_t *ip, size_t ihl)
{
	put_be16(ip + 10, 0);
	put_be16(ip + 10, (uint16_t)~fold(sum16(ip, ihl, 0)));
}

/* ---- Packets from flows ---- */

/* Payload bytes matter only to checksums: a pattern from one input byte will do. */
static void fill(uint8_t *p, size_t len, uint8_t seed)
{
	size_t i;

	for (i = 0; i < len; ++i)
		p[i] = (uint8_t)(seed + i * 31);
}

struct flow {
	bool v6, tcp;
	uint8_t saddr[16], daddr[16];
	uint16_t sport, dport, id, window;
	uint32_t seq, ack;
	uint8_t tos, ttl, ip_opt_len, tcp_opt_len;
	uint16_t last_payload;
};

static void flow_define(struct flow *f, struct input *in)
{
	uint8_t ctl = in_u8(in), a = in_u8(in);

	memset(f, 0, sizeof(*f));
	f->v6 = ctl & 1;
	f->tcp = !(ctl & 2);
	/* Few distinct addresses and ports, so flows collide and interleave. */
	f->saddr[0] = 192;
	f->saddr[15] = f->saddr[3] = a & 3;
	f->daddr[0] = 198;
	f->daddr[15] = f->daddr[3] = a >> 2 & 3;
	f->sport = 1000 + (a >> 4 & 3);
	f->dport = 443;
	f->id = in_u16(in);
	f->seq = (uint32_t)in_u16(in) << 16 | in_u16(in);
	f->ack = 0x01020304;
	f->window = 0xffff;
	f->tos = ctl & 4 ? 0x02 : 0;
	f->ttl = 64;
	f->ip_opt_len = f->v6 ? 0 : (ctl >> 3 & 1) * 4;
	f->tcp_opt_len = f->tcp ? (ctl >> 4 & 1) * 12 : 0;
	f->last_payload = 1 + in_u16(in) % 1448;
}

static size_t flow_hdr_len(const struct flow *f)
{
	return (f->v6 ? 40 : 20 + f->ip_opt_len) + (f->tcp ? 20 + f->tcp_opt_len : 8);
}

/* Write the headers for a packet of this flow with plen payload bytes after them. */
static void flow_headers(const struct flow *f, uint8_t *p, size_t plen, uint8_t tcp_flags)
{
	size_t iph = f->v6 ? 40 : 20 + f->ip_opt_len, l4h = f->tcp ? 20 + f->tcp_opt_len : 8;
	size_t len = iph + l4h + plen;
	uint8_t *l4 = p + iph;

	memset(p, 0, iph + l4h);
	if (f->v6) {
		p[0] = 0x60 | f->tos >> 4;
		p[1] = (uint8_t)(f->tos << 4);
		put_be16(p + 4, (uint16_t)(len - 40));
		p[6] = f->tcp ? 6 : 17;
		p[7] = f->ttl;
		memcpy(p + 8, f->saddr, 16);
		memcpy(p + 24, f->daddr, 16);
	} else {
		p[0] = (uint8_t)(0x40 | iph / 4);
		p[1] = f->tos;
		put_be16(p + 2, (uint16_t)len);
		put_be16(p + 4, f->id);
		p[6] = 0x40;	/* DF */
		p[8] = f->ttl;
		p[9] = f->tcp ? 6 : 17;
		memcpy(p + 12, f->saddr, 4);
		memcpy(p + 16, f->daddr, 4);
		memset(p + 20, 1, f->ip_opt_len);	/* NOPs */
	}
	put_be16(l4, f->sport);
	put_be16(l4 + 2, f->dport);
	if (f->tcp) {
		put_be32(l4 + 4, f->seq);
		put_be32(l4 + 8, f->ack);
		l4[12] = (uint8_t)(l4h / 4) << 4;
		l4[13] = tcp_flags;
		put_be16(l4 + 14, f->window);
		memset(l4 + 20, 1, f->tcp_opt_len);
	} else {
		put_be16(l4 + 4, (uint16_t)(len - iph));
	}
}

static void finish_checksums(const struct flow *f, uint8_t *p, size_t len)
{
	size_t iph = f->v6 ? 40 : 20 + f->ip_opt_len;

	if (!f->v6)
		set_ip4_csum(p, iph);
	set_l4_csum(p, len, iph, f->v6, f->tcp ? 6 : 17);
}

/* The next segment of a flow: it continues the last one unless perturbed. */
static uint8_t *flow_segment(struct flow *f, struct input *in, size_t *len)
{
	uint8_t sel = in_u8(in), perturb = in_u8(in), *p, *buf;
	size_t plen = sel < 160 ? f->last_payload : in_u16(in) % 1449;
	size_t hl = flow_hdr_len(f);
	uint8_t flags = perturb & 1 ? TCP_ACK | TCP_PSH : perturb & 2 ? in_u8(in) : TCP_ACK;

	*len = hl + plen;
	buf = xmalloc(OFFLOAD_VNET_HDR_LEN + *len);
	p = buf + OFFLOAD_VNET_HDR_LEN;
	flow_headers(f, p, plen, flags);
	fill(p + hl, plen, in_u8(in));
	finish_checksums(f, p, *len);
	/* A bad transport checksum: the last payload byte or the last header byte changed. */
	if (perturb & 4)
		p[perturb >> 4 & 1 ? *len - 1 : hl - 1] ^= 1 + (perturb >> 5);
	/* A bad IPv4 header checksum, nothing else wrong. */
	if (perturb & 8 && !f->v6)
		p[10] ^= 0x40;
	f->seq += (uint32_t)plen;
	f->id++;
	if (plen)
		f->last_payload = (uint16_t)plen;
	return buf;
}

/* ---- Split ---- */

struct parsed {
	bool v6, tcp;
	size_t iph, hdr_len;
};

/* Headers of a packet offload_split() accepted: lengths as the packet itself gives them. */
static struct parsed parse(const uint8_t *p)
{
	struct parsed h;
	uint8_t proto;

	h.v6 = p[0] >> 4 == 6;
	h.iph = h.v6 ? 40 : (size_t)(p[0] & 15) * 4;
	proto = h.v6 ? p[6] : p[9];
	h.tcp = proto == 6;
	h.hdr_len = h.iph + (h.tcp ? (size_t)(p[h.iph + 12] >> 4) * 4 : 8);
	return h;
}

static void check_segment(const uint8_t *seg, size_t len, const struct parsed *h)
{
	check(len >= h->hdr_len, "segment holds the headers");
	if (h->v6) {
		check(be16(seg + 4) == len - 40, "IPv6 payload length");
	} else {
		check(be16(seg + 2) == len, "IPv4 total length");
		check(ip4_csum_ok(seg, h->iph), "IPv4 header checksum");
	}
	if (!h->tcp)
		check(be16(seg + h->iph + 4) == len - h->iph, "UDP length");
	check(l4_csum_ok(seg, len, h->iph, h->v6, h->tcp ? 6 : 17), "transport checksum");
}

static void run_split(struct input *in)
{
	uint8_t ctl = in_u8(in), *pkt, *orig, *segs[OFFLOAD_UDP_MAX_SEGS];
	static const size_t caps[4] = { 1500, 9000, 65535, 0 };
	size_t seg_cap = caps[ctl >> 1 & 3], max_segs = 1 + in_u8(in) % OFFLOAD_UDP_MAX_SEGS;
	size_t len, seg_lens[OFFLOAD_UDP_MAX_SEGS], i, off;
	struct virtio_net_hdr vh;
	bool built = ctl & 1, intact = false;
	struct parsed h;
	int ret;

	if (!seg_cap)
		seg_cap = 40 + in_u8(in);
	if (built) {
		/* A super-packet as TUN would hand it over, then some header bits flipped. */
		struct flow f;
		size_t plen = in_u16(in) % 65000;
		uint8_t vflip = in_u8(in);

		flow_define(&f, in);
		len = flow_hdr_len(&f) + plen;
		if (len > 65535)
			len = 65535, plen = len - flow_hdr_len(&f);
		pkt = xmalloc(len);
		flow_headers(&f, pkt, plen, TCP_ACK | (ctl & 0x10 ? TCP_PSH : 0));
		fill(pkt + flow_hdr_len(&f), plen, in_u8(in));
		if (!f.v6)
			set_ip4_csum(pkt, 20 + f.ip_opt_len);
		memset(&vh, 0, sizeof(vh));
		vh.flags = VIRTIO_NET_HDR_F_NEEDS_CSUM;
		vh.gso_type = !f.tcp ? VIRTIO_NET_HDR_GSO_UDP_L4 :
			      f.v6 ? VIRTIO_NET_HDR_GSO_TCPV6 : VIRTIO_NET_HDR_GSO_TCPV4;
		vh.hdr_len = (uint16_t)flow_hdr_len(&f);
		vh.gso_size = (uint16_t)(1 + in_u16(in) % 9000);
		vh.csum_start = (uint16_t)(f.v6 ? 40 : 20 + f.ip_opt_len);
		vh.csum_offset = f.tcp ? 16 : 6;
		/* The kernel leaves the pseudo-header sum in the checksum field. */
		put_be16(pkt + vh.csum_start + vh.csum_offset,
			 fold(pseudo(pkt, f.v6, f.tcp ? 6 : 17, len - vh.csum_start)));
		if (vflip & 1)
			vh.gso_type = VIRTIO_NET_HDR_GSO_NONE;
		if (vflip & 2)
			vh.gso_type ^= VIRTIO_NET_HDR_GSO_ECN;
		if (vflip & 4)
			vh.hdr_len = in_u16(in);
		if (vflip & 8)
			vh.csum_start ^= in_u8(in);
		if (vflip & 16)
			vh.flags = in_u8(in);
		if (vflip & 32)
			pkt[in_u16(in) % len] ^= in_u8(in);
		intact = !(vflip & (8 | 16 | 32));
		if (intact)
			h = parse(pkt);
	} else {
		in_bytes(in, (uint8_t *)&vh, sizeof(vh));
		len = in->n;
		pkt = xmalloc(len);
		in_bytes(in, pkt, len);
	}
	orig = xmalloc(len);
	memcpy(orig, pkt, len);
	for (i = 0; i < max_segs; ++i)
		segs[i] = xmalloc(seg_cap);

	ret = offload_split(&vh, pkt, len, segs, seg_cap, seg_lens, max_segs);
	check(ret == 0 || ret == -EINVAL || ret == -EOPNOTSUPP || ret == -ENOBUFS ||
	      (ret > 1 && (size_t)ret <= max_segs), "split returns 0, n > 1 or an error");
	/* One packet out, in place: whole and with valid checksums, if the header was honest. */
	if (ret == 0 && intact)
		check_segment(pkt, len, &h);
	if (ret > 0) {
		check(!memcmp(pkt, orig, len), "split leaves the packet unchanged");
		h = parse(orig);
		for (i = 0, off = h.hdr_len; i < (size_t)ret; ++i) {
			size_t plen = seg_lens[i] - h.hdr_len;

			check(seg_lens[i] <= seg_cap && seg_lens[i] > h.hdr_len, "segment length");
			check_segment(segs[i], seg_lens[i], &h);
			check(i + 1 == (size_t)ret ? plen <= vh.gso_size : plen == vh.gso_size,
			      "gso_size payload per segment, the last one shorter or equal");
			check(off + plen <= len && !memcmp(segs[i] + h.hdr_len, orig + off, plen),
			      "segments carry the payload in order");
			if (h.tcp)
				check(be32(segs[i] + h.iph + 4) ==
				      be32(orig + h.iph + 4) + (uint32_t)(i * vh.gso_size),
				      "TCP sequence numbers");
			off += plen;
		}
		check(off == len, "segments carry the whole payload");
	}
	for (i = 0; i < max_segs; ++i)
		free(segs[i]);
	free(orig);
	free(pkt);
}

/* ---- Coalesce ---- */

/* Which packet an iovec starts in: the head's headroom or a merged packet's payload. */
static size_t iov_packet(const struct iovec *v, const struct offload_pkt *pkts, size_t n,
			 bool is_head)
{
	size_t i;

	for (i = 0; i < n; ++i) {
		const uint8_t *base = v->iov_base;

		if (is_head ? base == pkts[i].data - OFFLOAD_VNET_HDR_LEN :
			      base > pkts[i].data && base < pkts[i].data + pkts[i].len)
			return i;
	}
	check(false, "iovec points into a packet");
	return n;
}

/* Equal, or both are checksums (one's complement: 0x0000 and 0xffff are one number). */
static bool csum_equal(const uint8_t *a, const uint8_t *b)
{
	uint16_t x = be16(a), y = be16(b);

	return x == y || ((x == 0 || x == 0xffff) && (y == 0 || y == 0xffff));
}

static void check_resplit(const struct offload_write *wr, uint8_t *const originals[],
			  const size_t lens[], const size_t members[])
{
	size_t total = wr->len - OFFLOAD_VNET_HDR_LEN, off = 0, i, seg_cap;
	size_t n = (size_t)wr->iovcnt, seg_lens[BATCH_MAX];
	uint8_t *flat = xmalloc(wr->len), *segs[BATCH_MAX];
	struct virtio_net_hdr vh;
	struct parsed h;
	int ret;

	for (i = 0; i < n; ++i) {
		memcpy(flat + off, wr->iov[i].iov_base, wr->iov[i].iov_len);
		off += wr->iov[i].iov_len;
	}
	memcpy(&vh, flat, sizeof(vh));
	check(vh.flags == VIRTIO_NET_HDR_F_NEEDS_CSUM && vh.gso_size &&
	      (vh.gso_type == VIRTIO_NET_HDR_GSO_TCPV4 || vh.gso_type == VIRTIO_NET_HDR_GSO_TCPV6 ||
	       vh.gso_type == VIRTIO_NET_HDR_GSO_UDP_L4), "a super-packet's vnet header");
	seg_cap = (size_t)vh.hdr_len + vh.gso_size;
	for (i = 0; i < n; ++i)
		segs[i] = xmalloc(seg_cap);
	ret = offload_split(&vh, flat + OFFLOAD_VNET_HDR_LEN, total, segs, seg_cap, seg_lens, n);
	if (ret != (int)n) {
		fprintf(stderr, "%zu packets coalesced, split into %d\n", n, ret);
		check(false, "a super-packet splits into the packets it was made of");
	}
	for (i = 0; i < n; ++i) {
		const uint8_t *a = segs[i], *b = originals[members[i]];
		size_t k, csum_off;

		check(seg_lens[i] == lens[members[i]], "split gives back each packet's length");
		h = parse(b);
		csum_off = h.iph + (h.tcp ? 16 : 6);
		for (k = 0; k < seg_lens[i]; ++k) {
			if ((k == csum_off || (!h.v6 && k == 10)) && csum_equal(a + k, b + k)) {
				++k;
				continue;
			}
			if (a[k] != b[k]) {
				fprintf(stderr, "packet %zu of the write (batch index %zu), "
					"byte %zu: 0x%02x after coalesce and split, "
					"0x%02x before\n", i, members[i], k, a[k], b[k]);
				check(false, "coalesce, then split, gives back the packets");
			}
		}
	}
	for (i = 0; i < n; ++i)
		free(segs[i]);
	free(flat);
}

static void run_coalesce(struct input *in)
{
	uint8_t ctl = in_u8(in), *bufs[BATCH_MAX], *originals[BATCH_MAX];
	size_t n = 0, lens[BATCH_MAX], i, j, seen[BATCH_MAX], members[BATCH_MAX];
	struct offload_pkt pkts[BATCH_MAX];
	struct flow flows[N_FLOWS];
	static struct offload_coalescer c;
	struct offload_write *writes;
	struct iovec *iov;
	size_t last_head = 0, total_iov = 0;
	int ret;

	for (i = 0; i < N_FLOWS; ++i) {
		struct input none = { NULL, 0 };

		/* Until the input says otherwise: TCP and UDP over IPv4 and IPv6. */
		flow_define(&flows[i], &none);
		flows[i].v6 = i & 1;
		flows[i].tcp = !(i & 2);
		flows[i].saddr[3] = flows[i].saddr[15] = (uint8_t)i;
		flows[i].last_payload = (uint16_t)(100 + 300 * i);
	}
	while (in->n && n < BATCH_MAX) {
		uint8_t rec = in_u8(in);
		struct flow *f = &flows[rec >> 2 & 3];

		switch (rec & 3) {
		case 0:
			lens[n] = in_u16(in) % RAW_MAX;
			bufs[n] = xmalloc(OFFLOAD_VNET_HDR_LEN + lens[n]);
			in_bytes(in, bufs[n] + OFFLOAD_VNET_HDR_LEN, lens[n]);
			break;
		case 1:
			flow_define(f, in);
			continue;
		default:
			bufs[n] = flow_segment(f, in, &lens[n]);
			break;
		}
		originals[n] = xmalloc(lens[n]);
		memcpy(originals[n], bufs[n] + OFFLOAD_VNET_HDR_LEN, lens[n]);
		pkts[n].data = bufs[n] + OFFLOAD_VNET_HDR_LEN;
		pkts[n].len = lens[n];
		++n;
	}
	iov = xmalloc(n * sizeof(*iov));
	writes = xmalloc(n * sizeof(*writes));
	ret = offload_coalesce(&c, pkts, n, ctl & 1 ? OFFLOAD_COALESCE_UDP : 0, iov, writes);
	check(ret >= 0 && (size_t)ret <= n && (ret > 0 || n == 0), "one to n writes");
	memset(seen, 0, sizeof(seen));
	for (i = 0; i < (size_t)ret; ++i) {
		const struct offload_write *wr = &writes[i];
		size_t sum = 0, head;
		struct virtio_net_hdr vh;

		check(wr->iovcnt >= 1 && (size_t)wr->iovcnt <= n, "write iovcnt");
		total_iov += (size_t)wr->iovcnt;
		for (j = 0; j < (size_t)wr->iovcnt; ++j) {
			members[j] = iov_packet(&wr->iov[j], pkts, n, j == 0);
			check(!seen[members[j]]++, "each packet is written once");
			check(j == 0 || members[j] > members[j - 1],
			      "merged packets keep their order");
			sum += wr->iov[j].iov_len;
		}
		check(sum == wr->len, "write length is the sum of its iovecs");
		head = members[0];
		check(i == 0 || head > last_head, "writes in the order of their first packets");
		last_head = head;
		if (wr->iovcnt == 1) {
			memcpy(&vh, wr->iov[0].iov_base, sizeof(vh));
			check(vh.flags == 0 && vh.gso_type == VIRTIO_NET_HDR_GSO_NONE &&
			      vh.gso_size == 0 && vh.hdr_len == 0 && vh.csum_start == 0 &&
			      vh.csum_offset == 0, "a packet alone has a zero vnet header");
			check(wr->len == OFFLOAD_VNET_HDR_LEN + lens[head] &&
			      !memcmp(pkts[head].data, originals[head], lens[head]),
			      "a packet written alone is unchanged");
		} else {
			check_resplit(wr, originals, lens, members);
		}
	}
	check(total_iov == n, "every packet is written");
	for (i = 0; i < n; ++i) {
		free(bufs[i]);
		free(originals[i]);
	}
	free(iov);
	free(writes);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct input in = { data, size };

	if (in_u8(&in) & 1)
		run_coalesce(&in);
	else
		run_split(&in);
	return 0;
}
