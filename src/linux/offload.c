// SPDX-License-Identifier: MIT
/*
 * TUN offloads: splitting GSO super-packets read from TUN and coalescing
 * received segments into super-packets written to it.
 *
 * Split follows what the kernel's own software GSO makes of a super-packet,
 * so a peer sees the packets the kernel would have sent: every segment gets
 * a copy of the IP and transport headers; IPv4 total length, header checksum
 * and an ID counting up from the first; IPv6 payload length; TCP sequence
 * numbers advanced by gso_size, FIN and PSH only on the last segment, CWR
 * only on the first; UDP length; a full transport checksum (UDP: 0 is sent
 * as 0xffff, since 0 means "none").
 *
 * Coalesce is the inverse: it merges only runs that split would recreate
 * byte for byte, so whether the kernel delivers the super-packet locally or
 * re-segments it to forward it, nothing but the packet boundaries changes.
 * Hence the rules: same addresses, ports, IP header (IPv4: TOS, TTL, flags,
 * options; IPv6: traffic class, flow label, hop limit), IPv4 IDs counting up
 * by one, TCP sequence numbers continuing exactly, the same ACK, window,
 * urgent pointer and option bytes, flags ACK with PSH only on the last, every
 * segment but the last exactly gso_size bytes of payload. The IPv4 ID rule
 * is the one that costs something: a sender that keeps the ID fixed on DF
 * packets (allowed by RFC 6864) is not merged, because re-segmentation would
 * number its packets; Linux and most stacks count up per connection.
 *
 * Checksums are one's complement sums computed in memory byte order: the sum
 * of native 16-bit loads is the byte-swapped network-order sum on a
 * little-endian host, folding commutes with the swap, and storing the result
 * with a native store swaps it back (RFC 1071, section 2(B)).
 */
#include <braid_wire.h>
#include <errno.h>
#include <string.h>
#include <netinet/in.h>

#include "offload.h"

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

_Static_assert((ARRAY_SIZE(((struct offload_coalescer *)0)->slot) &
		(ARRAY_SIZE(((struct offload_coalescer *)0)->slot) - 1)) == 0 &&
	       ARRAY_SIZE(((struct offload_coalescer *)0)->slot) > OFFLOAD_BATCH_MAX,
	       "flow_slot() probes a power-of-two table that never fills");

enum {
	TCP_HDR_MIN = 20,
	UDP_HDR_LEN = 8,
	TCP_CSUM_OFF = 16,
	UDP_CSUM_OFF = 6,
};

enum {
	TCP_FIN = 0x01,
	TCP_SYN = 0x02,
	TCP_RST = 0x04,
	TCP_PSH = 0x08,
	TCP_ACK = 0x10,
	TCP_URG = 0x20,
	TCP_ECE = 0x40,
	TCP_CWR = 0x80,
};

/* A 16-bit network-order value as it adds into a memory-order sum. */
static inline uint32_t net16(uint16_t v)
{
	uint8_t b[2] = { (uint8_t)(v >> 8), (uint8_t)v };
	uint16_t w;

	memcpy(&w, b, sizeof(w));
	return w;
}

static inline uint32_t fold64(uint64_t s)
{
	s = (s & 0xffffffff) + (s >> 32);
	s = (s & 0xffffffff) + (s >> 32);
	return (uint32_t)s;
}

/* Four 32-bit lanes: SSE2 or NEON without any -m flag, plain integers elsewhere. */
typedef uint32_t u32x4 __attribute__((vector_size(16)));

/*
 * Each 32-bit lane holds two 16-bit words; adding its low and high halves
 * sums them with no carries to chase, four lanes at a time. Since 2^16 is 1
 * modulo 0xffff, where a word sits in a lane or a 64-bit load does not
 * change the folded sum. About 1.6 times the speed of 64-bit scalar words.
 */
uint32_t offload_csum_partial(const void *buf, size_t len, uint32_t sum)
{
	const u32x4 lo16 = { 0xffff, 0xffff, 0xffff, 0xffff };
	const uint8_t *p = buf;
	uint64_t acc = sum, w;
	u32x4 x[4], s;

	while (len >= 64) {
		/* A lane gains at most 8 * 0xffff per block: 4096 blocks fit 32 bits. */
		size_t blocks = len / 64 < 4096 ? len / 64 : 4096;

		len -= blocks * 64;
		s = (u32x4){ 0 };
		for (; blocks; --blocks, p += 64) {
			memcpy(x, p, sizeof(x));
			s += (x[0] & lo16) + (x[0] >> 16) + (x[1] & lo16) + (x[1] >> 16);
			s += (x[2] & lo16) + (x[2] >> 16) + (x[3] & lo16) + (x[3] >> 16);
		}
		acc += (uint64_t)s[0] + s[1] + s[2] + s[3];
	}
	for (; len >= 8; p += 8, len -= 8) {
		memcpy(&w, p, 8);
		acc += (w & 0xffffffff) + (w >> 32);
	}
	if (len) {
		/* The odd tail, zero-padded on the right in memory order. */
		w = 0;
		memcpy(&w, p, len);
		acc += (w & 0xffffffff) + (w >> 32);
	}
	return fold64(acc);
}

uint16_t offload_csum_fold(uint32_t sum)
{
	sum = (sum & 0xffff) + (sum >> 16);
	sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

uint32_t offload_pseudo_v4(const uint8_t src[4], const uint8_t dst[4], uint8_t proto,
			   uint16_t len)
{
	uint32_t s, d;

	memcpy(&s, src, 4);
	memcpy(&d, dst, 4);
	return fold64((uint64_t)s + d + net16(proto) + net16(len));
}

uint32_t offload_pseudo_v6(const uint8_t src[16], const uint8_t dst[16], uint8_t proto,
			   uint32_t len)
{
	uint64_t sum = net16(proto) + net16((uint16_t)(len >> 16)) + net16((uint16_t)len);

	sum += offload_csum_partial(src, 16, 0);
	sum += offload_csum_partial(dst, 16, 0);
	return fold64(sum);
}

uint16_t offload_ipv4_csum(const uint8_t *iph, size_t ihl_len)
{
	uint32_t sum = offload_csum_partial(iph, ihl_len, 0);
	uint16_t field;

	/* Take the field's own contribution back out rather than copying the header. */
	memcpy(&field, iph + 10, 2);
	return offload_csum_fold(fold64((uint64_t)sum + (uint16_t)~field));
}

/* Outbound: what a GSO super-packet looks like once validated. */
struct gso {
	size_t iph_len;		/* = csum_start */
	size_t hdr_len;		/* IP + TCP/UDP headers */
	size_t gso_size;
	uint8_t proto;
	bool is_v6;
};

/* MF or an offset says an IPv4 packet is a fragment. */
static bool ipv4_is_fragment(const uint8_t *iph)
{
	return braid_get_be16(iph + BRAID_IPV4_FRAG_OFF) &
	       (BRAID_IPV4_FLAG_MF | BRAID_IPV4_OFFSET_MASK);
}

static int parse_ipv4(const uint8_t *pkt, size_t len, struct gso *g)
{
	size_t ihl;

	if (len < BRAID_IPV4_HEADER_LEN)
		return -EINVAL;
	ihl = (size_t)(pkt[0] & 0x0f) * 4;
	if (ihl < BRAID_IPV4_HEADER_LEN || ihl > len ||
	    braid_get_be16(pkt + BRAID_IPV4_TOTAL_LEN_OFF) != len)
		return -EINVAL;
	/* A fragment cannot be a super-packet. */
	if (ipv4_is_fragment(pkt))
		return -EINVAL;
	g->iph_len = ihl;
	g->proto = pkt[BRAID_IPV4_PROTOCOL_OFF];
	g->is_v6 = false;
	return 0;
}

static int parse_ipv6(const uint8_t *pkt, size_t len, struct gso *g)
{
	if (len < BRAID_IPV6_HEADER_LEN ||
	    braid_get_be16(pkt + BRAID_IPV6_PAYLOAD_LEN_OFF) != len - BRAID_IPV6_HEADER_LEN)
		return -EINVAL;
	g->proto = pkt[BRAID_IPV6_NEXT_HEADER_OFF];
	/* The kernel builds TSO/USO over extension headers too; we do not split those. */
	if (g->proto != IPPROTO_TCP && g->proto != IPPROTO_UDP)
		return -EOPNOTSUPP;
	g->iph_len = BRAID_IPV6_HEADER_LEN;
	g->is_v6 = true;
	return 0;
}

/* Validate a GSO header against its packet; g describes what to cut. */
static int parse_gso(const struct virtio_net_hdr *vh, const uint8_t *pkt, size_t len,
		     struct gso *g)
{
	uint8_t type = vh->gso_type & (uint8_t)~VIRTIO_NET_HDR_GSO_ECN;
	uint8_t want = type == VIRTIO_NET_HDR_GSO_UDP_L4 ? IPPROTO_UDP : IPPROTO_TCP;
	size_t l4h, csum_off;
	int ret;

	if (type == VIRTIO_NET_HDR_GSO_UDP)
		return -EOPNOTSUPP;	/* UFO: IP fragments, never enabled */
	if (type != VIRTIO_NET_HDR_GSO_TCPV4 && type != VIRTIO_NET_HDR_GSO_TCPV6 &&
	    type != VIRTIO_NET_HDR_GSO_UDP_L4)
		return -EINVAL;
	if (type == VIRTIO_NET_HDR_GSO_UDP_L4 && type != vh->gso_type)
		return -EINVAL;		/* ECN is a TCP matter */
	if (vh->gso_size == 0 || vh->hdr_len > len || len == 0)
		return -EINVAL;
	switch (pkt[0] >> 4) {
	case 4:
		if (type == VIRTIO_NET_HDR_GSO_TCPV6)
			return -EINVAL;
		ret = parse_ipv4(pkt, len, g);
		break;
	case 6:
		if (type == VIRTIO_NET_HDR_GSO_TCPV4)
			return -EINVAL;
		ret = parse_ipv6(pkt, len, g);
		break;
	default:
		return -EINVAL;
	}
	if (ret)
		return ret;
	if (g->proto != want)
		return -EINVAL;
	if (want == IPPROTO_TCP) {
		if (len - g->iph_len < TCP_HDR_MIN)
			return -EINVAL;
		l4h = (size_t)(pkt[g->iph_len + 12] >> 4) * 4;
		if (l4h < TCP_HDR_MIN)
			return -EINVAL;
		csum_off = TCP_CSUM_OFF;
	} else {
		l4h = UDP_HDR_LEN;
		csum_off = UDP_CSUM_OFF;
	}
	if (l4h >= len - g->iph_len)
		return -EINVAL;		/* no payload to segment */
	if ((vh->flags & VIRTIO_NET_HDR_F_NEEDS_CSUM) &&
	    (vh->csum_start != g->iph_len || vh->csum_offset != csum_off))
		return -EINVAL;
	g->hdr_len = g->iph_len + l4h;
	g->gso_size = vh->gso_size;
	return 0;
}

/*
 * Turn a copy of the headers followed by plen bytes of payload into segment i
 * of n: lengths, IPv4 ID and header checksum, TCP sequence and flags, and the
 * transport checksum over the final bytes.
 */
static void fix_segment(const struct gso *g, uint8_t *seg, size_t i, size_t n, size_t plen)
{
	size_t seg_len = g->hdr_len + plen;
	uint16_t l4_len = (uint16_t)(seg_len - g->iph_len);
	uint8_t *l4 = seg + g->iph_len;
	uint32_t sum;
	uint16_t csum;

	if (g->is_v6) {
		braid_put_be16(seg + BRAID_IPV6_PAYLOAD_LEN_OFF, l4_len);
		sum = offload_pseudo_v6(seg + BRAID_IPV6_SRC_OFF, seg + BRAID_IPV6_DST_OFF,
					g->proto, l4_len);
	} else {
		braid_put_be16(seg + BRAID_IPV4_TOTAL_LEN_OFF, (uint16_t)seg_len);
		braid_put_be16(seg + BRAID_IPV4_ID_OFF,
			       (uint16_t)(braid_get_be16(seg + BRAID_IPV4_ID_OFF) + i));
		csum = offload_ipv4_csum(seg, g->iph_len);
		memcpy(seg + BRAID_IPV4_CHECKSUM_OFF, &csum, 2);
		sum = offload_pseudo_v4(seg + BRAID_IPV4_SRC_OFF, seg + BRAID_IPV4_DST_OFF,
					g->proto, l4_len);
	}
	if (g->proto == IPPROTO_TCP) {
		braid_put_be32(l4 + 4, braid_get_be32(l4 + 4) + (uint32_t)(i * g->gso_size));
		if (i + 1 < n)
			l4[13] &= (uint8_t)~(TCP_FIN | TCP_PSH);
		if (i > 0)
			l4[13] &= (uint8_t)~TCP_CWR;
		memset(l4 + TCP_CSUM_OFF, 0, 2);
		csum = offload_csum_fold(offload_csum_partial(l4, l4_len, sum));
		memcpy(l4 + TCP_CSUM_OFF, &csum, 2);
	} else {
		braid_put_be16(l4 + 4, l4_len);
		memset(l4 + UDP_CSUM_OFF, 0, 2);
		csum = offload_csum_fold(offload_csum_partial(l4, l4_len, sum));
		if (csum == 0)
			csum = 0xffff;
		memcpy(l4 + UDP_CSUM_OFF, &csum, 2);
	}
}

/*
 * Not GSO: finish a partial checksum if the kernel left one. The field holds
 * the pseudo-header sum, so summing from csum_start through the end, field
 * included, gives the checksum. 0 becomes 0xffff as the kernel's own
 * skb_checksum_help() does: required for UDP, equivalent for TCP.
 */
static int complete_csum(const struct virtio_net_hdr *vh, uint8_t *pkt, size_t len)
{
	size_t start = vh->csum_start, off = vh->csum_offset;
	uint16_t csum;

	if (vh->gso_type != VIRTIO_NET_HDR_GSO_NONE)
		return -EINVAL;
	if (!(vh->flags & VIRTIO_NET_HDR_F_NEEDS_CSUM))
		return 0;
	if (start > len || off > len - start || len - start - off < 2)
		return -EINVAL;
	csum = offload_csum_fold(offload_csum_partial(pkt + start, len - start, 0));
	if (csum == 0)
		csum = 0xffff;
	memcpy(pkt + start + off, &csum, 2);
	return 0;
}

int offload_split(const struct virtio_net_hdr *hdr, uint8_t *pkt, size_t len,
		  uint8_t *const segs[], size_t seg_cap, size_t seg_lens[], size_t max_segs)
{
	struct gso g;
	size_t payload, n, i, off, plen;
	int ret;

	if ((hdr->gso_type & (uint8_t)~VIRTIO_NET_HDR_GSO_ECN) == VIRTIO_NET_HDR_GSO_NONE)
		return complete_csum(hdr, pkt, len);
	ret = parse_gso(hdr, pkt, len, &g);
	if (ret)
		return ret;
	payload = len - g.hdr_len;
	n = (payload + g.gso_size - 1) / g.gso_size;
	/*
	 * The kernel treats a GSO packet that fits one segment as a plain one
	 * ("too small packets are not really GSO ones"); so do we, in place.
	 */
	if (n == 1) {
		fix_segment(&g, pkt, 0, 1, payload);
		return 0;
	}
	if (n > max_segs || g.hdr_len + g.gso_size > seg_cap)
		return -ENOBUFS;
	for (i = 0, off = 0; i < n; ++i, off += plen) {
		plen = payload - off < g.gso_size ? payload - off : g.gso_size;
		memcpy(segs[i], pkt, g.hdr_len);
		memcpy(segs[i] + g.hdr_len, pkt + g.hdr_len + off, plen);
		fix_segment(&g, segs[i], i, n, plen);
		seg_lens[i] = g.hdr_len + plen;
	}
	return (int)n;
}

/* Inbound: what a packet is to the coalescer. */
enum {
	KIND_OTHER,		/* no flow we track: written alone, where it arrived */
	KIND_TCP4,
	KIND_TCP6,
	KIND_UDP4,
	KIND_UDP6,
};

enum {
	CSUM_UNKNOWN,
	CSUM_GOOD,
	CSUM_BAD,
};

static bool is_tcp(uint8_t kind)
{
	return kind == KIND_TCP4 || kind == KIND_TCP6;
}

static bool is_v6(uint8_t kind)
{
	return kind == KIND_TCP6 || kind == KIND_UDP6;
}

/* Where the transport header starts and which flow kind, or KIND_OTHER. */
static uint8_t classify_ip(const uint8_t *p, size_t len, bool udp, size_t *iph_len)
{
	uint8_t proto;

	if (len < BRAID_IPV4_HEADER_LEN)
		return KIND_OTHER;
	if (p[0] >> 4 == 4) {
		*iph_len = (size_t)(p[0] & 0x0f) * 4;
		if (*iph_len < BRAID_IPV4_HEADER_LEN || *iph_len > len ||
		    braid_get_be16(p + BRAID_IPV4_TOTAL_LEN_OFF) != len || ipv4_is_fragment(p))
			return KIND_OTHER;
		proto = p[BRAID_IPV4_PROTOCOL_OFF];
		if (proto == IPPROTO_TCP)
			return KIND_TCP4;
		return proto == IPPROTO_UDP && udp ? KIND_UDP4 : KIND_OTHER;
	}
	if (p[0] >> 4 != 6 || len < BRAID_IPV6_HEADER_LEN || len > OFFLOAD_IP_MAX ||
	    braid_get_be16(p + BRAID_IPV6_PAYLOAD_LEN_OFF) != len - BRAID_IPV6_HEADER_LEN)
		return KIND_OTHER;
	*iph_len = BRAID_IPV6_HEADER_LEN;
	proto = p[BRAID_IPV6_NEXT_HEADER_OFF];
	if (proto == IPPROTO_TCP)
		return KIND_TCP6;
	return proto == IPPROTO_UDP && udp ? KIND_UDP6 : KIND_OTHER;
}

/*
 * Fill it for a packet; returns whether it may be part of a super-packet.
 * it->kind is KIND_OTHER when the packet has no flow we track.
 */
static bool classify(const uint8_t *p, size_t len, bool udp, struct offload_item *it)
{
	size_t iph_len = 0, l4h;
	const uint8_t *l4;

	it->kind = classify_ip(p, len, udp, &iph_len);
	if (it->kind == KIND_OTHER)
		return false;
	l4 = p + iph_len;
	if (is_tcp(it->kind)) {
		l4h = len - iph_len < TCP_HDR_MIN ? 0 : (size_t)(l4[12] >> 4) * 4;
		if (l4h < TCP_HDR_MIN || l4h > len - iph_len) {
			it->kind = KIND_OTHER;
			return false;
		}
		it->has_psh = l4[13] & TCP_PSH;
	} else {
		l4h = UDP_HDR_LEN;
		if (len - iph_len < l4h) {
			it->kind = KIND_OTHER;
			return false;
		}
	}
	it->iph_len = (uint8_t)iph_len;
	it->l4h_len = (uint8_t)l4h;
	it->gso_size = (uint16_t)(len - iph_len - l4h);
	it->ip_len = (uint16_t)len;
	if (it->gso_size == 0)
		return false;
	if (is_tcp(it->kind)) {
		it->seq_next = braid_get_be32(l4 + 4) + it->gso_size;
		return (l4[13] & (uint8_t)~TCP_PSH) == TCP_ACK;
	}
	/* A zero UDP checksum means none: nothing to verify, so nothing to merge. */
	return braid_get_be16(l4 + 4) == len - iph_len && braid_get_be16(l4 + UDP_CSUM_OFF) != 0;
}

static uint32_t mix(uint32_t h, const uint8_t *p, size_t len)
{
	uint32_t w;

	for (; len >= 4; p += 4, len -= 4) {
		memcpy(&w, p, 4);
		h = (h ^ w) * 0x9e3779b1u;
		h ^= h >> 15;
	}
	return h;
}

static uint32_t flow_hash(const uint8_t *p, const struct offload_item *it)
{
	size_t addr_off = is_v6(it->kind) ? 8 : 12, addr_len = is_v6(it->kind) ? 32 : 8;

	return mix(mix(it->kind, p + addr_off, addr_len), p + it->iph_len, 4);
}

static bool same_flow(const uint8_t *a, const struct offload_item *ia, const uint8_t *b,
		      const struct offload_item *ib)
{
	size_t addr_off = is_v6(ia->kind) ? 8 : 12, addr_len = is_v6(ia->kind) ? 32 : 8;

	return ia->kind == ib->kind && !memcmp(a + addr_off, b + addr_off, addr_len) &&
	       !memcmp(a + ia->iph_len, b + ib->iph_len, 4);
}

/* The slot of packet i's flow; a new one (no head) if the flow is new in this batch. */
static struct offload_flow_slot *flow_slot(struct offload_coalescer *c,
					   const struct offload_pkt pkts[], uint16_t i)
{
	const size_t mask = ARRAY_SIZE(c->slot) - 1;
	uint32_t hash = flow_hash(pkts[i].data, &c->item[i]);
	struct offload_flow_slot *slot;
	size_t s;

	/* Terminates: there are more slots than packets in a batch. */
	for (s = hash & mask;; s = (s + 1) & mask) {
		slot = &c->slot[s];
		if (slot->gen != c->gen) {
			*slot = (struct offload_flow_slot){ .gen = c->gen, .hash = hash,
							     .key_pkt = i, .head = OFFLOAD_NONE };
			return slot;
		}
		if (slot->hash == hash && same_flow(pkts[slot->key_pkt].data,
						    &c->item[slot->key_pkt], pkts[i].data,
						    &c->item[i]))
			return slot;
	}
}

/*
 * The super-packet gets fresh checksums, so a segment's own must be right
 * first: IPv4 header and transport, as the kernel's GRO checks them.
 */
static bool csums_are_good(const struct offload_pkt *pkt, struct offload_item *it)
{
	const uint8_t *p = pkt->data;
	uint8_t proto = is_tcp(it->kind) ? IPPROTO_TCP : IPPROTO_UDP;
	size_t l4_len = pkt->len - it->iph_len;
	bool is_good;
	uint32_t sum;

	if (it->csum != CSUM_UNKNOWN)
		return it->csum == CSUM_GOOD;
	if (is_v6(it->kind)) {
		sum = offload_pseudo_v6(p + BRAID_IPV6_SRC_OFF, p + BRAID_IPV6_DST_OFF, proto,
					(uint32_t)l4_len);
		is_good = true;
	} else {
		sum = offload_pseudo_v4(p + BRAID_IPV4_SRC_OFF, p + BRAID_IPV4_DST_OFF, proto,
					(uint16_t)l4_len);
		is_good = offload_csum_fold(offload_csum_partial(p, it->iph_len, 0)) == 0;
	}
	sum = offload_csum_partial(p + it->iph_len, l4_len, sum);
	is_good = is_good && offload_csum_fold(sum) == 0;
	it->csum = is_good ? CSUM_GOOD : CSUM_BAD;
	return is_good;
}

/* The IP header fields that segmentation copies from the head must already match. */
static bool ip_continues(const uint8_t *h, const struct offload_item *hi, const uint8_t *p,
			 const struct offload_item *pi)
{
	/* IPv6: version, traffic class, flow label (all before the payload length), hop limit. */
	if (is_v6(hi->kind))
		return !memcmp(h, p, BRAID_IPV6_PAYLOAD_LEN_OFF) &&
		       h[BRAID_IPV6_HOP_LIMIT_OFF] == p[BRAID_IPV6_HOP_LIMIT_OFF];
	/* IPv4: TOS, the flags (DF), TTL, the ID counting up, and the options. */
	return hi->iph_len == pi->iph_len && h[BRAID_IPV4_TOS_OFF] == p[BRAID_IPV4_TOS_OFF] &&
	       h[BRAID_IPV4_FRAG_OFF] == p[BRAID_IPV4_FRAG_OFF] &&
	       h[BRAID_IPV4_TTL_OFF] == p[BRAID_IPV4_TTL_OFF] &&
	       braid_get_be16(p + BRAID_IPV4_ID_OFF) == hi->id_next &&
	       !memcmp(h + BRAID_IPV4_HEADER_LEN, p + BRAID_IPV4_HEADER_LEN,
		       hi->iph_len - BRAID_IPV4_HEADER_LEN);
}

/* Likewise for TCP; the head carries no PSH (a PSH closes it), so flags must be equal. */
static bool tcp_continues(const uint8_t *ht, const struct offload_item *hi, const uint8_t *pt,
			  const struct offload_item *pi)
{
	return hi->l4h_len == pi->l4h_len && braid_get_be32(pt + 4) == hi->seq_next &&
	       !memcmp(ht + 8, pt + 8, 4) && ht[12] == pt[12] &&
	       ht[13] == (pt[13] & (uint8_t)~TCP_PSH) && !memcmp(ht + 14, pt + 14, 2) &&
	       !memcmp(ht + 18, pt + 18, hi->l4h_len - 18);
}

/* Append packet i to the open super-packet headed by h, if it continues it exactly. */
static bool try_append(struct offload_coalescer *c, struct offload_pkt pkts[], uint16_t h,
		       uint16_t i)
{
	struct offload_item *hi = &c->item[h], *pi = &c->item[i];
	const uint8_t *hp = pkts[h].data, *pp = pkts[i].data;

	if (hi->is_closed || pi->gso_size > hi->gso_size ||
	    (size_t)hi->ip_len + pi->gso_size > OFFLOAD_IP_MAX)
		return false;
	if (!is_tcp(hi->kind) && hi->segs >= OFFLOAD_UDP_MAX_SEGS)
		return false;
	if (!ip_continues(hp, hi, pp, pi))
		return false;
	if (is_tcp(hi->kind) &&
	    !tcp_continues(hp + hi->iph_len, hi, pp + pi->iph_len, pi))
		return false;
	if (!csums_are_good(&pkts[h], hi) || !csums_are_good(&pkts[i], pi))
		return false;

	c->item[hi->tail].next = i;
	hi->tail = i;
	hi->segs++;
	hi->ip_len = (uint16_t)(hi->ip_len + pi->gso_size);
	hi->id_next++;
	hi->seq_next += pi->gso_size;
	hi->has_psh = pi->has_psh;
	hi->is_closed = pi->has_psh || pi->gso_size < hi->gso_size;
	pi->is_merged = true;
	return true;
}

/* Take packet i into the flow table: merged, a new head, or a barrier for its flow. */
static void coalesce_one(struct offload_coalescer *c, struct offload_pkt pkts[], uint16_t i,
			 bool udp)
{
	struct offload_item *it = &c->item[i];
	struct offload_flow_slot *slot;
	bool can_merge;

	*it = (struct offload_item){ .next = OFFLOAD_NONE, .tail = i, .segs = 1 };
	can_merge = classify(pkts[i].data, pkts[i].len, udp, it);
	if (it->kind == KIND_OTHER)
		return;
	/* IPv4 only */
	it->id_next = (uint16_t)(braid_get_be16(pkts[i].data + BRAID_IPV4_ID_OFF) + 1);
	slot = flow_slot(c, pkts, i);
	if (can_merge && slot->head != OFFLOAD_NONE && try_append(c, pkts, slot->head, i))
		return;
	/*
	 * Whatever else this packet is, later packets of its flow must not
	 * jump over it into an earlier super-packet: it closes the open one.
	 */
	it->is_closed = it->has_psh;
	slot->head = can_merge && !it->has_psh && it->csum != CSUM_BAD ? i : OFFLOAD_NONE;
}

/* Rewrite a head's headers for the whole super-packet and describe it in vh. */
static void finish_super(uint8_t *p, const struct offload_item *h, struct virtio_net_hdr *vh)
{
	uint8_t proto = is_tcp(h->kind) ? IPPROTO_TCP : IPPROTO_UDP;
	uint16_t l4_len = (uint16_t)(h->ip_len - h->iph_len);
	uint16_t csum_off = is_tcp(h->kind) ? TCP_CSUM_OFF : UDP_CSUM_OFF;
	uint8_t *l4 = p + h->iph_len;
	uint32_t sum;
	uint16_t csum;

	if (is_v6(h->kind)) {
		braid_put_be16(p + BRAID_IPV6_PAYLOAD_LEN_OFF, l4_len);
		sum = offload_pseudo_v6(p + BRAID_IPV6_SRC_OFF, p + BRAID_IPV6_DST_OFF, proto,
					l4_len);
	} else {
		braid_put_be16(p + BRAID_IPV4_TOTAL_LEN_OFF, h->ip_len);
		csum = offload_ipv4_csum(p, h->iph_len);
		memcpy(p + BRAID_IPV4_CHECKSUM_OFF, &csum, 2);
		sum = offload_pseudo_v4(p + BRAID_IPV4_SRC_OFF, p + BRAID_IPV4_DST_OFF, proto,
					l4_len);
	}
	if (is_tcp(h->kind)) {
		if (h->has_psh)
			l4[13] |= TCP_PSH;
	} else {
		braid_put_be16(l4 + 4, l4_len);
	}
	/* CHECKSUM_PARTIAL: the field holds the folded pseudo-header sum, uncomplemented. */
	csum = (uint16_t)~offload_csum_fold(sum);
	memcpy(l4 + csum_off, &csum, 2);

	vh->flags = VIRTIO_NET_HDR_F_NEEDS_CSUM;
	vh->gso_type = h->kind == KIND_TCP4 ? VIRTIO_NET_HDR_GSO_TCPV4 :
		       h->kind == KIND_TCP6 ? VIRTIO_NET_HDR_GSO_TCPV6 :
		       VIRTIO_NET_HDR_GSO_UDP_L4;
	vh->hdr_len = (uint16_t)(h->iph_len + h->l4h_len);
	vh->gso_size = h->gso_size;
	vh->csum_start = h->iph_len;
	vh->csum_offset = csum_off;
}

/* Describe the write that starts with packet i, and finish its headers. */
static size_t emit(struct offload_coalescer *c, struct offload_pkt pkts[], uint16_t i,
		   struct iovec *iov, struct offload_write *w)
{
	const struct offload_item *it = &c->item[i];
	struct virtio_net_hdr vh = { 0 };
	size_t k = 0;
	uint16_t j;

	if (it->segs > 1)
		finish_super(pkts[i].data, it, &vh);
	memcpy(pkts[i].data - OFFLOAD_VNET_HDR_LEN, &vh, OFFLOAD_VNET_HDR_LEN);
	iov[k++] = (struct iovec){ pkts[i].data - OFFLOAD_VNET_HDR_LEN,
				   OFFLOAD_VNET_HDR_LEN + pkts[i].len };
	w->len = OFFLOAD_VNET_HDR_LEN + pkts[i].len;
	for (j = it->next; j != OFFLOAD_NONE; j = c->item[j].next) {
		size_t hl = (size_t)c->item[j].iph_len + c->item[j].l4h_len;

		iov[k++] = (struct iovec){ pkts[j].data + hl, pkts[j].len - hl };
		w->len += pkts[j].len - hl;
	}
	w->iov = iov;
	w->iovcnt = (int)k;
	return k;
}

int offload_coalesce(struct offload_coalescer *c, struct offload_pkt pkts[], size_t n,
		     unsigned int flags, struct iovec iov[], struct offload_write writes[])
{
	bool udp = flags & OFFLOAD_COALESCE_UDP;
	size_t i, k = 0, w = 0;

	if (n > OFFLOAD_BATCH_MAX)
		return -E2BIG;
	/* A new generation empties the flow table without touching it. */
	if (++c->gen == 0) {
		memset(c->slot, 0, sizeof(c->slot));
		c->gen = 1;
	}
	for (i = 0; i < n; ++i)
		coalesce_one(c, pkts, (uint16_t)i, udp);
	for (i = 0; i < n; ++i) {
		if (c->item[i].is_merged)
			continue;
		k += emit(c, pkts, (uint16_t)i, &iov[k], &writes[w++]);
	}
	return (int)w;
}
