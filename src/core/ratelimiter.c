// SPDX-License-Identifier: MIT
/*
 * Token buckets for handshake messages, one per source: an IPv4 address,
 * or the /64 of an IPv6 address (one host usually owns a whole /64, so
 * finer keys would let it mint buckets at will).
 *
 * Tokens are counted in nanoseconds of credit: a packet costs
 * NSEC_PER_SEC / RATELIMITER_PACKETS_PER_SECOND and a bucket holds at most
 * RATELIMITER_PACKETS_BURSTABLE packets' worth. Elapsed time refills it, so
 * no timer runs per bucket; a new source starts full and pays for its first
 * packet.
 *
 * Entries come from a pool allocated up front, so memory is bounded and a
 * flood of new sources allocates nothing; once the pool is empty, sources
 * not already in the table are refused until ratelimiter_gc frees idle ones.
 * Chains hang off a table keyed with SipHash-2-4 under a random seed, so a
 * sender cannot choose addresses that all land in one chain.
 */
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/in.h>

#include "ratelimiter.h"
#include "messages.h"

enum {
	PACKET_COST = NSEC_PER_SEC / RATELIMITER_PACKETS_PER_SECOND,
	TOKEN_MAX = PACKET_COST * RATELIMITER_PACKETS_BURSTABLE,
	IDLE_TIMEOUT = NSEC_PER_SEC,
};

struct ratelimiter_entry {
	struct ratelimiter_entry *next;		/* in a chain, or in the free list */
	uint64_t ip;				/* address bytes, not a number */
	uint64_t last_time_ns;
	uint64_t tokens;
	int family;
};

struct ratelimiter {
	uint64_t key[2];
	struct ratelimiter_entry **chains;
	size_t chain_mask;
	struct ratelimiter_entry *pool, *free_list;
	size_t count;
};

static uint64_t rotl(uint64_t x, int b)
{
	return (x << b) | (x >> (64 - b));
}

#define SIPROUND(v0, v1, v2, v3) do { \
	v0 += v1; v1 = rotl(v1, 13); v1 ^= v0; v0 = rotl(v0, 32); \
	v2 += v3; v3 = rotl(v3, 16); v3 ^= v2; \
	v0 += v3; v3 = rotl(v3, 21); v3 ^= v0; \
	v2 += v1; v1 = rotl(v1, 17); v1 ^= v2; v2 = rotl(v2, 32); \
} while (0)

/* SipHash-2-4 (Aumasson and Bernstein): little-endian words, length in the last byte. */
static uint64_t siphash24(const uint64_t key[2], const uint8_t *in, size_t len)
{
	uint64_t v0 = key[0] ^ 0x736f6d6570736575ULL, v1 = key[1] ^ 0x646f72616e646f6dULL;
	uint64_t v2 = key[0] ^ 0x6c7967656e657261ULL, v3 = key[1] ^ 0x7465646279746573ULL;
	uint64_t m, last = (uint64_t)len << 56;
	size_t i, tail = len & 7;

	for (i = 0; i + 8 <= len; i += 8) {
		m = braid_get_le64(in + i);
		v3 ^= m;
		SIPROUND(v0, v1, v2, v3);
		SIPROUND(v0, v1, v2, v3);
		v0 ^= m;
	}
	while (tail--)
		last |= (uint64_t)in[i + tail] << (8 * tail);
	v3 ^= last;
	SIPROUND(v0, v1, v2, v3);
	SIPROUND(v0, v1, v2, v3);
	v0 ^= last;
	v2 ^= 0xff;
	SIPROUND(v0, v1, v2, v3);
	SIPROUND(v0, v1, v2, v3);
	SIPROUND(v0, v1, v2, v3);
	SIPROUND(v0, v1, v2, v3);
	return v0 ^ v1 ^ v2 ^ v3;
}

/*
 * The bucket a source belongs to. An IPv4-mapped IPv6 address is the IPv4
 * host it names (a dual-stack socket reports IPv4 peers that way); taken as
 * IPv6, every IPv4 sender would share the one ::ffff:0:0/64 bucket.
 */
static bool source_of(const struct sockaddr *sa, int *family, uint64_t *ip)
{
	static const uint8_t v4mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };
	const char *p = (const char *)sa;
	sa_family_t af;
	uint8_t a[16];

	/*
	 * Read through bytes: the caller's object may be any of the sockaddr
	 * types, and member access through another one would break C's
	 * aliasing rules when this is built without -fno-strict-aliasing.
	 */
	*ip = 0;
	if (!sa)
		return false;
	memcpy(&af, p + offsetof(struct sockaddr, sa_family), sizeof(af));
	if (af == AF_INET) {
		memcpy(ip, p + offsetof(struct sockaddr_in, sin_addr), 4);
		*family = AF_INET;
		return true;
	}
	if (af != AF_INET6)
		return false;
	memcpy(a, p + offsetof(struct sockaddr_in6, sin6_addr), 16);
	if (!memcmp(a, v4mapped, sizeof(v4mapped))) {
		memcpy(ip, a + 12, 4);
		*family = AF_INET;
	} else {
		memcpy(ip, a, 8);
		*family = AF_INET6;
	}
	return true;
}

static struct ratelimiter_entry **chain_of(const struct ratelimiter *rl, int family, uint64_t ip)
{
	uint8_t in[9];

	in[0] = family == AF_INET ? 4 : 6;
	memcpy(in + 1, &ip, 8);
	return &rl->chains[siphash24(rl->key, in, sizeof(in)) & rl->chain_mask];
}

struct ratelimiter *ratelimiter_new(size_t max_entries, const uint8_t seed[16])
{
	struct ratelimiter *rl;
	size_t chains = 1, i;

	/* Keep the power-of-two rounding below from overflowing. */
	if (max_entries > (SIZE_MAX >> 2) / sizeof(struct ratelimiter_entry))
		return NULL;
	while (chains < max_entries)
		chains <<= 1;

	rl = calloc(1, sizeof(*rl));
	if (!rl)
		return NULL;
	rl->key[0] = braid_get_le64(seed);
	rl->key[1] = braid_get_le64(seed + 8);
	rl->chain_mask = chains - 1;
	rl->chains = calloc(chains, sizeof(*rl->chains));
	rl->pool = max_entries ? calloc(max_entries, sizeof(*rl->pool)) : NULL;
	if (!rl->chains || (max_entries && !rl->pool)) {
		ratelimiter_free(rl);
		return NULL;
	}
	for (i = max_entries; i-- > 0;) {
		rl->pool[i].next = rl->free_list;
		rl->free_list = &rl->pool[i];
	}
	return rl;
}

void ratelimiter_free(struct ratelimiter *rl)
{
	if (!rl)
		return;
	free(rl->pool);
	free(rl->chains);
	/* The seed is what keeps chains unpredictable; do not leave it in freed memory. */
	explicit_bzero(rl->key, sizeof(rl->key));
	free(rl);
}

/* Refill by the time since the last packet, then try to pay for this one. */
static bool take_token(struct ratelimiter_entry *e, uint64_t now_ns)
{
	uint64_t elapsed = now_ns > e->last_time_ns ? now_ns - e->last_time_ns : 0;

	if (now_ns > e->last_time_ns)
		e->last_time_ns = now_ns;
	e->tokens = elapsed < TOKEN_MAX - e->tokens ? e->tokens + elapsed : TOKEN_MAX;
	if (e->tokens < PACKET_COST)
		return false;
	e->tokens -= PACKET_COST;
	return true;
}

enum ratelimiter_verdict ratelimiter_check(struct ratelimiter *rl, uint64_t now_ns,
					   const struct sockaddr *src)
{
	struct ratelimiter_entry **chain, *e;
	uint64_t ip;
	int family;

	if (!source_of(src, &family, &ip))
		return RATELIMITER_OVER_RATE;
	chain = chain_of(rl, family, ip);
	for (e = *chain; e; e = e->next)
		if (e->ip == ip && e->family == family)
			return take_token(e, now_ns) ? RATELIMITER_ALLOW : RATELIMITER_OVER_RATE;

	/*
	 * A stranger while the table is full. Spoofed sources fill it for free,
	 * so this is no verdict on the stranger: the caller asks for a cookie.
	 */
	e = rl->free_list;
	if (!e)
		return RATELIMITER_FULL;
	rl->free_list = e->next;
	e->ip = ip;
	e->family = family;
	e->last_time_ns = now_ns;
	e->tokens = TOKEN_MAX - PACKET_COST;
	e->next = *chain;
	*chain = e;
	rl->count++;
	return RATELIMITER_ALLOW;
}

/* A full pass over the table: called about once a second, not per packet. */
void ratelimiter_gc(struct ratelimiter *rl, uint64_t now_ns)
{
	struct ratelimiter_entry **link, *e;
	size_t i;

	for (i = 0; i <= rl->chain_mask; ++i) {
		for (link = &rl->chains[i]; (e = *link);) {
			if (now_ns > e->last_time_ns && now_ns - e->last_time_ns > IDLE_TIMEOUT) {
				*link = e->next;
				e->next = rl->free_list;
				rl->free_list = e;
				rl->count--;
			} else {
				link = &e->next;
			}
		}
	}
}

size_t ratelimiter_count(const struct ratelimiter *rl)
{
	return rl->count;
}
