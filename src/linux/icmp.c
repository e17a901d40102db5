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
#include <stdbool.h>
#include <string.h>

#include "icmp.h"
#include "offload.h"

enum {
	IPV4_HLEN = 20,
	IPV6_HLEN = 40,
	ICMP_HLEN = 8,
	IPV4_ERROR_MAX = 576,		/* RFC 1812 4.3.2.3: quote as much as fits in 576 */
	IPPROTO_ICMP_ = 1,
	IPPROTO_ICMPV6_ = 58,
	ICMP_DEST_UNREACH = 3,
	ICMP_FRAG_NEEDED = 4,
	ICMPV6_PKT_TOOBIG = 2,
	IPV4_DF = 0x4000,
	IPV4_OFFSET_MASK = 0x1fff,
};

/* A checksum field, computed by offload.c's one's-complement sums (memory byte order). */
static void put_csum(uint8_t *field, uint32_t partial)
{
	uint16_t csum = offload_csum_fold(partial);

	memcpy(field, &csum, sizeof(csum));
}

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = v >> 8;
	p[1] = v;
}

static uint16_t get16(const uint8_t *p)
{
	return (uint16_t)p[0] << 8 | p[1];
}

/* Errors about errors are forbidden (RFC 1122 3.2.2); queries like echo are fine. */
static bool is_icmp4_error(const uint8_t *pkt, size_t hlen, size_t len)
{
	uint8_t type;

	if (pkt[9] != IPPROTO_ICMP_)
		return false;
	if (len <= hlen)
		return true;		/* too short to tell: stay quiet */
	type = pkt[hlen];
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
	uint16_t frag;

	if (hlen < IPV4_HLEN || len < hlen)
		return 0;
	frag = get16(pkt + 6);
	if (!(frag & IPV4_DF) || (frag & IPV4_OFFSET_MASK))
		return 0;
	if (is_icmp4_error(pkt, hlen, len) || !ipv4_answerable(pkt + 12, pkt + 16))
		return 0;
	quote = len < IPV4_ERROR_MAX - IPV4_HLEN - ICMP_HLEN ?
		len : IPV4_ERROR_MAX - IPV4_HLEN - ICMP_HLEN;
	total = IPV4_HLEN + ICMP_HLEN + quote;

	memset(out, 0, IPV4_HLEN + ICMP_HLEN);
	out[0] = 0x45;
	out[1] = 0xc0;			/* precedence "internetwork control", as routers send errors */
	put16(out + 2, total);
	out[8] = 64;
	out[9] = IPPROTO_ICMP_;
	memcpy(out + 12, pkt + 16, 4);	/* from the original destination */
	memcpy(out + 16, pkt + 12, 4);	/* to the original source */
	put_csum(out + 10, offload_csum_partial(out, IPV4_HLEN, 0));

	out[20] = ICMP_DEST_UNREACH;
	out[21] = ICMP_FRAG_NEEDED;
	put16(out + 26, mtu > 0xffff ? 0xffff : mtu);
	memcpy(out + IPV4_HLEN + ICMP_HLEN, pkt, quote);
	put_csum(out + 22, offload_csum_partial(out + IPV4_HLEN, ICMP_HLEN + quote, 0));
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
	size_t quote, plen;
	uint32_t sum;

	if (len < IPV6_HLEN)
		return 0;
	if (pkt[6] == IPPROTO_ICMPV6_ && (len == IPV6_HLEN || pkt[IPV6_HLEN] < 128))
		return 0;
	/* A multicast destination could not be our answer's source address. */
	if (is_unspecified6(pkt + 8) || is_multicast6(pkt + 8) || is_multicast6(pkt + 24))
		return 0;
	quote = len < ICMP_TOO_BIG_MAX - IPV6_HLEN - ICMP_HLEN ?
		len : ICMP_TOO_BIG_MAX - IPV6_HLEN - ICMP_HLEN;
	plen = ICMP_HLEN + quote;

	memset(out, 0, IPV6_HLEN + ICMP_HLEN);
	out[0] = 0x60;
	put16(out + 4, plen);
	out[6] = IPPROTO_ICMPV6_;
	out[7] = 64;
	memcpy(out + 8, pkt + 24, 16);
	memcpy(out + 24, pkt + 8, 16);

	out[40] = ICMPV6_PKT_TOOBIG;
	out[44] = mtu >> 24;
	out[45] = mtu >> 16;
	out[46] = mtu >> 8;
	out[47] = mtu;
	memcpy(out + IPV6_HLEN + ICMP_HLEN, pkt, quote);
	sum = offload_pseudo_v6(out + 8, out + 24, IPPROTO_ICMPV6_, plen);
	put_csum(out + 42, offload_csum_partial(out + IPV6_HLEN, plen, sum));
	return IPV6_HLEN + plen;
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
