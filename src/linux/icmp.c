// SPDX-License-Identifier: MIT
/*
 * ICMP "fragmentation needed" (RFC 792, RFC 1191) and ICMPv6 "packet too
 * big" (RFC 4443) for packets that do not fit the tunnel.
 *
 * The answer's source is the original packet's destination. The TUN
 * interface may have no address, and a local address as the source of a
 * packet arriving from TUN would be dropped as a martian; the destination
 * is routed through the tunnel, so the reverse-path check accepts it, and
 * the sender's stack matches the error by the quoted header, not by who
 * sent it.
 */
#include <braid_wire.h>
#include <stdbool.h>
#include <string.h>

#include "icmp.h"
#include "offload.h"

enum {
	ICMP_HLEN = 8,
	IPV4_ERROR_MAX = 576,		/* RFC 1812 4.3.2.3: quote as much as fits in 576 */
	IPPROTO_ICMP_ = 1,
	IPPROTO_ICMPV6_ = 58,
	ICMP_DEST_UNREACH = 3,
	ICMP_FRAG_NEEDED = 4,
	ICMPV6_PKT_TOOBIG = 2,
	/* Offsets in an ICMP (and ICMPv6) header. */
	ICMP_TYPE_OFF = 0,
	ICMP_CODE_OFF = 1,
	ICMP_CHECKSUM_OFF = 2,
	ICMP_NEXT_HOP_MTU_OFF = 6,	/* ICMPv4 "fragmentation needed": 16 bits */
	ICMPV6_MTU_OFF = 4,		/* ICMPv6 "packet too big": 32 bits */
};

/* A checksum field, computed by offload.c's one's-complement sums (memory byte order). */
static void put_csum(uint8_t *field, uint32_t partial)
{
	uint16_t csum = offload_csum_fold(partial);

	memcpy(field, &csum, sizeof(csum));
}

/* Errors about errors are forbidden (RFC 1122 3.2.2); queries like echo are fine. */
static bool is_icmp4_error(const uint8_t *pkt, size_t hlen, size_t len)
{
	uint8_t type;

	if (pkt[BRAID_IPV4_PROTOCOL_OFF] != IPPROTO_ICMP_)
		return false;
	if (len <= hlen)
		return true;		/* too short to tell: stay quiet */
	type = pkt[hlen + ICMP_TYPE_OFF];
	return type == 3 || type == 4 || type == 5 || type == 11 || type == 12;
}

/* No error to or about a source we cannot answer, nor for broadcast or multicast. */
static bool ipv4_answerable(const uint8_t *src, const uint8_t *dst)
{
	static const uint8_t bcast[4] = { 255, 255, 255, 255 };

	if (!memcmp(src, "\0\0\0\0", 4) || src[0] >= 224 || src[0] == 127)
		return false;
	return dst[0] < 224 && memcmp(dst, bcast, 4) != 0;
}

static size_t too_big4(uint8_t *out, const uint8_t *pkt, size_t len, unsigned int mtu)
{
	size_t hlen = (pkt[0] & 0x0f) * 4, quote, total;
	uint8_t *icmp = out + BRAID_IPV4_HEADER_LEN;
	uint16_t frag;

	if (hlen < BRAID_IPV4_HEADER_LEN || len < hlen)
		return 0;
	frag = braid_get_be16(pkt + BRAID_IPV4_FRAG_OFF);
	if (!(frag & BRAID_IPV4_FLAG_DF) || (frag & BRAID_IPV4_OFFSET_MASK))
		return 0;
	if (is_icmp4_error(pkt, hlen, len) ||
	    !ipv4_answerable(pkt + BRAID_IPV4_SRC_OFF, pkt + BRAID_IPV4_DST_OFF))
		return 0;
	quote = len < IPV4_ERROR_MAX - BRAID_IPV4_HEADER_LEN - ICMP_HLEN ?
		len : IPV4_ERROR_MAX - BRAID_IPV4_HEADER_LEN - ICMP_HLEN;
	total = BRAID_IPV4_HEADER_LEN + ICMP_HLEN + quote;

	memset(out, 0, BRAID_IPV4_HEADER_LEN + ICMP_HLEN);
	out[0] = 0x45;
	/* Precedence "internetwork control", as routers send errors. */
	out[BRAID_IPV4_TOS_OFF] = 0xc0;
	braid_put_be16(out + BRAID_IPV4_TOTAL_LEN_OFF, total);
	out[BRAID_IPV4_TTL_OFF] = 64;
	out[BRAID_IPV4_PROTOCOL_OFF] = IPPROTO_ICMP_;
	/* From the original destination, to the original source. */
	memcpy(out + BRAID_IPV4_SRC_OFF, pkt + BRAID_IPV4_DST_OFF, 4);
	memcpy(out + BRAID_IPV4_DST_OFF, pkt + BRAID_IPV4_SRC_OFF, 4);
	put_csum(out + BRAID_IPV4_CHECKSUM_OFF,
		 offload_csum_partial(out, BRAID_IPV4_HEADER_LEN, 0));

	icmp[ICMP_TYPE_OFF] = ICMP_DEST_UNREACH;
	icmp[ICMP_CODE_OFF] = ICMP_FRAG_NEEDED;
	braid_put_be16(icmp + ICMP_NEXT_HOP_MTU_OFF, mtu > 0xffff ? 0xffff : mtu);
	memcpy(icmp + ICMP_HLEN, pkt, quote);
	put_csum(icmp + ICMP_CHECKSUM_OFF, offload_csum_partial(icmp, ICMP_HLEN + quote, 0));
	return total;
}

static bool is_multicast6(const uint8_t *a)
{
	return a[0] == 0xff;
}

static bool is_unspecified6(const uint8_t *a)
{
	static const uint8_t zero[16];

	return !memcmp(a, zero, 16);
}

/*
 * Only the first next header is looked at: an ICMPv6 error behind extension
 * headers would get an answer, which the sender then drops as a reply to an
 * error; it cannot loop, since our answer is smaller than any MTU.
 */
static size_t too_big6(uint8_t *out, const uint8_t *pkt, size_t len, unsigned int mtu)
{
	const uint8_t *src = pkt + BRAID_IPV6_SRC_OFF, *dst = pkt + BRAID_IPV6_DST_OFF;
	uint8_t *icmp = out + BRAID_IPV6_HEADER_LEN;
	size_t quote, plen;
	uint32_t sum;

	if (len < BRAID_IPV6_HEADER_LEN)
		return 0;
	/* ICMPv6 types below 128 are errors. */
	if (pkt[BRAID_IPV6_NEXT_HEADER_OFF] == IPPROTO_ICMPV6_ &&
	    (len == BRAID_IPV6_HEADER_LEN || pkt[BRAID_IPV6_HEADER_LEN + ICMP_TYPE_OFF] < 128))
		return 0;
	/* A multicast destination could not be our answer's source address. */
	if (is_unspecified6(src) || is_multicast6(src) || is_multicast6(dst))
		return 0;
	quote = len < ICMP_TOO_BIG_MAX - BRAID_IPV6_HEADER_LEN - ICMP_HLEN ?
		len : ICMP_TOO_BIG_MAX - BRAID_IPV6_HEADER_LEN - ICMP_HLEN;
	plen = ICMP_HLEN + quote;

	memset(out, 0, BRAID_IPV6_HEADER_LEN + ICMP_HLEN);
	out[0] = 0x60;
	braid_put_be16(out + BRAID_IPV6_PAYLOAD_LEN_OFF, plen);
	out[BRAID_IPV6_NEXT_HEADER_OFF] = IPPROTO_ICMPV6_;
	out[BRAID_IPV6_HOP_LIMIT_OFF] = 64;
	memcpy(out + BRAID_IPV6_SRC_OFF, dst, 16);
	memcpy(out + BRAID_IPV6_DST_OFF, src, 16);

	icmp[ICMP_TYPE_OFF] = ICMPV6_PKT_TOOBIG;
	braid_put_be32(icmp + ICMPV6_MTU_OFF, mtu);
	memcpy(icmp + ICMP_HLEN, pkt, quote);
	sum = offload_pseudo_v6(out + BRAID_IPV6_SRC_OFF, out + BRAID_IPV6_DST_OFF,
				IPPROTO_ICMPV6_, plen);
	put_csum(icmp + ICMP_CHECKSUM_OFF, offload_csum_partial(icmp, plen, sum));
	return BRAID_IPV6_HEADER_LEN + plen;
}

size_t icmp_too_big(uint8_t *out, const uint8_t *pkt, size_t len, unsigned int mtu)
{
	if (len < 1 || len <= mtu)
		return 0;
	switch (pkt[0] >> 4) {
	case 4:
		return too_big4(out, pkt, len, mtu);
	case 6:
		return too_big6(out, pkt, len, mtu);
	}
	return 0;
}
