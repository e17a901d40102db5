// SPDX-License-Identifier: MIT
/*
 * Allowed IPs: hand-written tables of operations for IPv4 and IPv6, the
 * walk, and randomized runs against a naive model
 * (a flat array of prefixes that knows nothing about tries).
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
#include <arpa/inet.h>
#include <sys/socket.h>
#include <cmocka.h>

#include "allowedips.h"

/*
 * Fake peers: each is nothing but its list of prefixes, so a peer and its
 * list are one address. Index 0 stands for "no peer".
 */
enum { NPEERS = 64 };
static struct allowedips_link peer_objs[NPEERS + 1];
#define PEER(i) ((i) ? (void *)&peer_objs[(i)] : NULL)
#define LIST(peer) ((struct allowedips_link *)(peer))

static int peer_index(void *peer)
{
	if (!peer)
		return 0;
	assert_true(LIST(peer) > peer_objs && LIST(peer) <= &peer_objs[NPEERS]);
	return (int)(LIST(peer) - peer_objs);
}

static int insert(struct allowedips *t, int family, const uint8_t *addr, uint8_t cidr, void *peer)
{
	return allowedips_insert(t, family, addr, cidr, peer, LIST(peer));
}

/* Parse "192.0.2.1" or "2001:db8::1"; returns the family. */
static int parse(const char *s, uint8_t addr[16])
{
	int family = strchr(s, ':') ? AF_INET6 : AF_INET;

	memset(addr, 0, 16);
	if (inet_pton(family, s, addr) != 1)
		fail_msg("bad address in test table: %s", s);
	return family;
}

enum op_kind { INS, DEL, DELPEER, LOOK, BADFAM };

struct op {
	enum op_kind kind;
	const char *addr;
	int cidr;
	int peer;	/* INS, DEL, DELPEER: who; LOOK: who should be found (0: nobody) */
	int ret;	/* INS, DEL: expected return */
};

#define ins(a, c, p) { INS, a, c, p, 0 }
#define del(a, c, p, r) { DEL, a, c, p, r }
#define delpeer(p) { DELPEER, NULL, 0, p, 0 }
#define look(a, p) { LOOK, a, 0, p, 0 }

struct ops_case {
	const char *name;
	const struct op *ops;
	size_t len;
};

#define CASE(name, ...) { name, (const struct op[]){ __VA_ARGS__ }, \
	sizeof((const struct op[]){ __VA_ARGS__ }) / sizeof(struct op) }

static const struct ops_case cases[] = {
	/* 1 */ CASE("IPv4 default route",
		ins("0.0.0.0", 0, 1), look("1.2.3.4", 1), look("255.255.255.255", 1),
		look("0.0.0.0", 1), look("::", 0), look("2001:db8::1", 0)),
	/* 2 */ CASE("IPv6 default route",
		ins("::", 0, 2), look("2001:db8::1", 2),
		look("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", 2),
		look("::", 2), look("192.0.2.1", 0)),
	/* 3 */ CASE("host routes",
		ins("192.0.2.1", 32, 1), look("192.0.2.1", 1), look("192.0.2.0", 0),
		look("192.0.2.2", 0), look("64.0.2.1", 0),
		ins("2001:db8::1", 128, 2), look("2001:db8::1", 2), look("2001:db8::", 0),
		look("2001:db8::3", 0), look("2001:db9::1", 0), look("::1", 0),
		look("192.0.2.1", 1)),
	/* 4 */ CASE("nested prefixes, general first",
		ins("0.0.0.0", 0, 5), ins("10.0.0.0", 8, 1), ins("10.1.0.0", 16, 2),
		ins("10.1.1.0", 24, 3), ins("10.1.1.1", 32, 4),
		look("10.1.1.1", 4), look("10.1.1.2", 3), look("10.1.1.0", 3), look("10.1.2.1", 2),
		look("10.2.0.0", 1), look("10.255.255.255", 1), look("11.0.0.0", 5),
		look("9.255.255.255", 5)),
	/* 5 */ CASE("nested prefixes, specific first",
		ins("10.1.1.1", 32, 4), ins("10.1.1.0", 24, 3), ins("10.0.0.0", 8, 1),
		ins("10.1.0.0", 16, 2), ins("0.0.0.0", 0, 5),
		look("10.1.1.1", 4), look("10.1.1.2", 3), look("10.1.2.1", 2), look("10.2.0.0", 1),
		look("11.0.0.0", 5)),
	/* 6 */ CASE("siblings under a branch, then a prefix on the branch",
		ins("192.168.4.0", 24, 1), ins("192.168.5.0", 24, 2),
		look("192.168.4.9", 1), look("192.168.5.9", 2), look("192.168.6.1", 0),
		look("192.168.0.0", 0),
		ins("192.168.4.0", 23, 3), look("192.168.4.9", 1), look("192.168.5.9", 2),
		look("192.168.6.1", 0),
		del("192.168.4.0", 24, 1, 0), look("192.168.4.9", 3), look("192.168.5.9", 2),
		del("192.168.4.0", 23, 3, 0), look("192.168.4.9", 0), look("192.168.5.9", 2),
		del("192.168.5.0", 24, 2, 0), look("192.168.5.9", 0)),
	/* 7 */ CASE("overlapping IPv6 prefixes across the 64-bit boundary",
		ins("2001:db8::", 32, 1), ins("2001:db8::", 64, 2), ins("2001:db8::", 65, 3),
		ins("2001:db8:0:0:8000::", 65, 4), ins("2001:db8::", 127, 5),
		ins("2001:db8:0:1::", 64, 6), ins("2001:db8::", 63, 7),
		look("2001:db8::1", 5), look("2001:db8::2", 3), look("2001:db8::ffff", 3),
		look("2001:db8::8000:0:0:1", 4), look("2001:db8:0:1::1", 6),
		look("2001:db8:0:2::1", 1), look("2001:db8:ffff::", 1), look("2001:db9::", 0),
		look("2000::", 0)),
	/* 8 */ CASE("host bits are masked",
		ins("192.0.2.77", 24, 1), look("192.0.2.1", 1), look("192.0.2.255", 1),
		look("192.0.3.1", 0),
		del("192.0.2.200", 24, 1, 0), look("192.0.2.77", 0),
		ins("2001:db8:ffff:ffff::1", 32, 2), look("2001:db8::", 2),
		look("2001:db8:1::", 2), look("2001:db9::", 0),
		ins("255.255.255.255", 0, 3), look("1.1.1.1", 3),
		del("1.2.3.4", 0, 3, 0), look("1.1.1.1", 0)),
	/* 9 */ CASE("a prefix moves between peers",
		ins("10.0.0.0", 8, 1), ins("10.0.0.0", 8, 2), look("10.1.1.1", 2),
		del("10.0.0.0", 8, 1, -ENOENT), look("10.1.1.1", 2),
		ins("2001:db8::", 48, 1), ins("2001:db8::", 48, 2), ins("2001:db8::", 48, 3),
		look("2001:db8::1", 3), del("2001:db8::", 48, 2, -ENOENT),
		del("10.0.0.0", 8, 2, 0), look("10.1.1.1", 0),
		del("2001:db8::", 48, 3, 0), look("2001:db8::1", 0)),
	/* 10 */ CASE("removal of exactly one prefix",
		del("10.0.0.0", 8, 1, -ENOENT),
		ins("10.0.0.0", 8, 1), ins("10.1.0.0", 16, 1), ins("10.1.0.0", 24, 2),
		del("10.0.0.0", 9, 1, -ENOENT), del("10.0.0.0", 7, 1, -ENOENT),
		del("10.0.0.0", 16, 1, -ENOENT), del("11.0.0.0", 8, 1, -ENOENT),
		del("10.0.0.0", 8, 2, -ENOENT), del("10.0.0.0", 8, 0, -ENOENT),
		look("10.9.9.9", 1),
		del("10.0.0.0", 8, 1, 0), del("10.0.0.0", 8, 1, -ENOENT),
		look("10.9.9.9", 0), look("10.1.9.9", 1), look("10.1.0.9", 2),
		del("10.1.0.0", 16, 1, 0), look("10.1.9.9", 0), look("10.1.0.9", 2),
		del("10.1.0.0", 24, 2, 0), look("10.1.0.9", 0)),
	/* 11 */ CASE("a branch node holds no prefix",
		ins("10.0.0.0", 16, 1), ins("10.128.0.0", 16, 2),
		del("10.0.0.0", 8, 1, -ENOENT), del("10.0.0.0", 8, 0, -ENOENT),
		look("10.0.0.1", 1), look("10.128.0.1", 2), look("10.64.0.1", 0)),
	/* 12 */ CASE("remove every prefix of one peer",
		ins("10.0.0.0", 8, 1), ins("10.1.0.0", 16, 2), ins("10.1.1.0", 24, 1),
		ins("10.1.1.1", 32, 2), ins("0.0.0.0", 0, 1), ins("192.0.2.0", 24, 1),
		ins("2001:db8::", 32, 1), ins("2001:db8:1::", 48, 2), ins("::", 0, 1),
		delpeer(1),
		look("10.0.0.1", 0), look("10.1.0.1", 2), look("10.1.1.2", 2), look("10.1.1.1", 2),
		look("192.0.2.1", 0), look("2001:db8::1", 0), look("2001:db8:1::1", 2),
		del("10.1.1.0", 24, 1, -ENOENT),
		delpeer(1), delpeer(3), look("10.1.1.1", 2),
		delpeer(2), look("10.1.1.1", 0), look("2001:db8:1::1", 0)),
	/* 13 */ CASE("invalid arguments",
		{ INS, "192.0.2.0", 33, 1, -EINVAL }, { INS, "2001:db8::", 129, 1, -EINVAL },
		{ INS, "192.0.2.0", 24, 0, -EINVAL }, { BADFAM, "192.0.2.0", 24, 1, 0 },
		{ DEL, "192.0.2.0", 33, 1, -ENOENT }, look("192.0.2.0", 0)),
};

static void run_op(struct allowedips *t, const struct op *op, size_t ci, size_t oi)
{
	uint8_t addr[16];
	int family = op->addr ? parse(op->addr, addr) : 0, ret;
	void *got;

	switch (op->kind) {
	case INS:
		ret = insert(t, family, addr, op->cidr, PEER(op->peer));
		break;
	case BADFAM:
		assert_int_equal(insert(t, AF_UNIX, addr, op->cidr, PEER(op->peer)),
				 -EINVAL);
		assert_int_equal(allowedips_remove(t, AF_UNIX, addr, op->cidr, PEER(op->peer)),
				 -ENOENT);
		assert_null(allowedips_lookup(t, AF_UNIX, addr));
		return;
	case DEL:
		ret = allowedips_remove(t, family, addr, op->cidr, PEER(op->peer));
		break;
	case DELPEER:
		allowedips_remove_by_peer(t, LIST(PEER(op->peer)));
		return;
	case LOOK:
		got = allowedips_lookup(t, family, addr);
		if (got != PEER(op->peer))
			fail_msg("case %zu (%s) op %zu: lookup %s found peer %d, expected %d",
				 ci + 1, cases[ci].name, oi, op->addr, peer_index(got), op->peer);
		return;
	}
	if (ret != op->ret)
		fail_msg("case %zu (%s) op %zu: %s %s/%d returned %d, expected %d", ci + 1,
			 cases[ci].name, oi, op->kind == DEL ? "remove" : "insert", op->addr,
			 op->cidr, ret, op->ret);
}

static void test_cases(void **state)
{
	(void)state;
	for (size_t ci = 0; ci < sizeof(cases) / sizeof(cases[0]); ++ci) {
		struct allowedips t = { 0 };

		for (size_t oi = 0; oi < cases[ci].len; ++oi)
			run_op(&t, &cases[ci].ops[oi], ci, oi);
		allowedips_free(&t);
		assert_null(t.root4);
		assert_null(t.root6);
	}
}

/* What a walk saw, in the order it saw it. */
struct walk_entry {
	int family;
	uint8_t addr[16];
	uint8_t cidr;
};

struct walk_log {
	struct walk_entry *e;
	size_t len, cap;
	int stop_after;		/* return 1000 + n from the n-th call (1-based), 0: never */
};

static int log_prefix(void *ctx, int family, const uint8_t *addr, uint8_t cidr)
{
	struct walk_log *log = ctx;
	struct walk_entry *e;

	if (log->len == log->cap) {
		log->cap = log->cap ? 2 * log->cap : 64;
		log->e = realloc(log->e, log->cap * sizeof(*log->e));
		assert_non_null(log->e);
	}
	e = &log->e[log->len++];
	memset(e, 0, sizeof(*e));
	e->family = family;
	memcpy(e->addr, addr, family == AF_INET ? 4 : 16);
	e->cidr = cidr;
	if (log->stop_after && (int)log->len == log->stop_after)
		return 1000 + (int)log->len;
	return 0;
}

static int entry_cmp(const void *a, const void *b)
{
	const struct walk_entry *x = a, *y = b;
	int c;

	if (x->family != y->family)
		return x->family < y->family ? -1 : 1;
	c = memcmp(x->addr, y->addr, 16);
	if (c)
		return c;
	return (int)x->cidr - (int)y->cidr;
}

static void test_walk(void **state)
{
	static const struct { const char *addr; int cidr, peer; } inserted[] = {
		{ "10.1.2.3", 8, 1 }, { "10.1.2.3", 16, 1 }, { "10.1.2.3", 32, 1 },
		{ "10.1.2.3", 24, 2 }, { "0.0.0.0", 0, 1 }, { "192.0.2.129", 25, 1 },
		{ "192.0.2.1", 25, 2 }, { "2001:db8::dead:beef", 32, 1 },
		{ "2001:db8::dead:beef", 128, 1 }, { "2001:db8:1::", 48, 2 }, { "::", 0, 2 },
		{ "2001:db8:0:0:8000::1", 65, 1 }, { "10.1.0.0", 16, 3 }, /* moves 10.1/16 to 3 */
	};
	static const struct { const char *addr; int cidr; } expect1[] = {
		{ "0.0.0.0", 0 }, { "10.0.0.0", 8 }, { "10.1.2.3", 32 }, { "192.0.2.128", 25 },
		{ "2001:db8::", 32 }, { "2001:db8::8000:0:0:0", 65 },
		{ "2001:db8::dead:beef", 128 },
	};
	struct allowedips t = { 0 };
	struct walk_log log = { 0 };
	struct walk_entry want[16];
	size_t i, n = sizeof(expect1) / sizeof(expect1[0]);

	(void)state;
	for (i = 0; i < sizeof(inserted) / sizeof(inserted[0]); ++i) {
		uint8_t addr[16];
		int family = parse(inserted[i].addr, addr);

		assert_int_equal(insert(&t, family, addr, inserted[i].cidr, PEER(inserted[i].peer)), 0);
	}

	/* Exactly peer 1's prefixes, host bits cleared, each once. */
	assert_int_equal(allowedips_walk_by_peer(LIST(PEER(1)), log_prefix, &log), 0);
	assert_int_equal(log.len, n);
	for (i = 0; i < n; ++i) {
		memset(&want[i], 0, sizeof(want[i]));
		want[i].family = parse(expect1[i].addr, want[i].addr);
		want[i].cidr = expect1[i].cidr;
	}
	qsort(log.e, log.len, sizeof(*log.e), entry_cmp);
	qsort(want, n, sizeof(want[0]), entry_cmp);
	for (i = 0; i < n; ++i)
		if (entry_cmp(&log.e[i], &want[i]))
			fail_msg("walk entry %zu differs (expected %s/%d)", i, expect1[i].addr,
				 expect1[i].cidr);

	/* A non-zero return stops the walk and comes back to the caller. */
	log.len = 0;
	log.stop_after = 5;
	assert_int_equal(allowedips_walk_by_peer(LIST(PEER(1)), log_prefix, &log), 1005);
	assert_int_equal(log.len, 5);

	/* Peers 3 and 4. */
	log.len = 0;
	log.stop_after = 0;
	assert_int_equal(allowedips_walk_by_peer(LIST(PEER(3)), log_prefix, &log), 0);
	assert_int_equal(log.len, 1);
	assert_int_equal(log.e[0].family, AF_INET);
	assert_int_equal(log.e[0].cidr, 16);
	assert_memory_equal(log.e[0].addr, ((uint8_t[]){ 10, 1, 0, 0 }), 4);
	log.len = 0;
	assert_int_equal(allowedips_walk_by_peer(LIST(PEER(4)), log_prefix, &log), 0);
	assert_int_equal(log.len, 0);

	allowedips_remove_by_peer(&t, LIST(PEER(1)));
	assert_int_equal(allowedips_walk_by_peer(LIST(PEER(1)), log_prefix, &log), 0);
	assert_int_equal(log.len, 0);
	free(log.e);
	allowedips_free(&t);
}

/*
 * A peer's walk lists its prefixes in the order it got them (as wg shows
 * them back); one that moves to another peer goes to the end of its list,
 * one inserted again for its holder keeps its place.
 */
static void test_walk_order(void **state)
{
	static const struct { const char *addr; int cidr, peer; } inserted[] = {
		{ "2001:db8:1::", 64, 1 }, { "192.0.2.1", 32, 1 }, { "2001:db8:1::1", 128, 1 },
		{ "10.0.0.0", 8, 2 }, { "192.0.2.0", 24, 1 }, { "10.0.0.0", 8, 1 },
		{ "2001:db8:1::", 64, 1 }, { "2001:db8:1::", 48, 2 },
	};
	static const struct { const char *addr; int cidr; } expect1[] = {
		{ "2001:db8:1::", 64 }, { "192.0.2.1", 32 }, { "2001:db8:1::1", 128 },
		{ "192.0.2.0", 24 }, { "10.0.0.0", 8 },
	};
	struct allowedips t = { 0 };
	struct walk_log log = { 0 };
	uint8_t addr[16];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(inserted) / sizeof(inserted[0]); ++i)
		assert_int_equal(insert(&t, parse(inserted[i].addr, addr), addr, inserted[i].cidr,
					PEER(inserted[i].peer)), 0);
	assert_int_equal(allowedips_walk_by_peer(LIST(PEER(1)), log_prefix, &log), 0);
	assert_int_equal(log.len, sizeof(expect1) / sizeof(expect1[0]));
	for (i = 0; i < log.len; ++i) {
		int family = parse(expect1[i].addr, addr);

		assert_int_equal(log.e[i].family, family);
		assert_int_equal(log.e[i].cidr, expect1[i].cidr);
		assert_memory_equal(log.e[i].addr, addr, family == AF_INET ? 4 : 16);
	}
	/* Removing from the middle and the end keeps the order of the rest. */
	parse("10.0.0.0", addr);
	assert_int_equal(allowedips_remove(&t, AF_INET, addr, 8, PEER(1)), 0);
	parse("192.0.2.1", addr);
	assert_int_equal(allowedips_remove(&t, AF_INET, addr, 32, PEER(1)), 0);
	log.len = 0;
	assert_int_equal(allowedips_walk_by_peer(LIST(PEER(1)), log_prefix, &log), 0);
	assert_int_equal(log.len, 3);
	assert_int_equal(log.e[0].cidr, 64);
	assert_int_equal(log.e[1].cidr, 128);
	assert_int_equal(log.e[2].cidr, 24);
	free(log.e);
	allowedips_free(&t);
	/* Freeing the table empties every list. */
	log.e = NULL;
	log.len = log.cap = 0;
	assert_int_equal(allowedips_walk_by_peer(LIST(PEER(1)), log_prefix, &log), 0);
	assert_int_equal(allowedips_walk_by_peer(LIST(PEER(2)), log_prefix, &log), 0);
	assert_int_equal(log.len, 0);
}

/*
 * The naive model: a flat array of (prefix, cidr, peer), never reordered; a
 * removed prefix keeps its slot with a NULL peer. Longest-prefix match by a
 * linear scan over all of it is the reference, but 10^5 lookups over 10^5
 * prefixes is 10^10 steps, so most lookups ask an exact-match index for each
 * length from longest to shortest (no trie either), and every LINEAR_EVERY-th
 * lookup also runs the full scan to keep that index honest.
 */
enum { LINEAR_EVERY = 100 };

struct model_entry {
	uint8_t addr[16];
	uint8_t cidr;
	void *peer;
};

struct model {
	int family;
	int bits;
	struct model_entry *e;
	size_t len, cap;
	int32_t *index;		/* open addressing: entry + 1, 0 = empty */
	size_t index_mask;
};

static void mask_addr(uint8_t addr[16], int cidr, int bits)
{
	for (int i = 0; i < bits / 8; ++i) {
		int keep = cidr - 8 * i;

		if (keep <= 0)
			addr[i] = 0;
		else if (keep < 8)
			addr[i] &= (uint8_t)(0xff << (8 - keep));
	}
}

static size_t model_hash(const uint8_t addr[16], int cidr)
{
	uint64_t a, b, h;

	memcpy(&a, addr, 8);
	memcpy(&b, addr + 8, 8);
	h = (a * 0x9e3779b97f4a7c15ULL) ^ (b * 0xc2b2ae3d27d4eb4fULL) ^ ((uint64_t)cidr << 40);
	h *= 0x165667b19e3779f9ULL;
	return (size_t)(h ^ (h >> 32));
}

static bool same_addr(const uint8_t a[16], const uint8_t b[16])
{
	uint64_t x[2], y[2];

	memcpy(x, a, 16);
	memcpy(y, b, 16);
	return x[0] == y[0] && x[1] == y[1];
}

/* The entry holding exactly this (masked) prefix, alive or not; NULL if never inserted. */
static struct model_entry *model_find(struct model *m, const uint8_t addr[16], int cidr,
				      size_t *slot)
{
	size_t i = model_hash(addr, cidr) & m->index_mask;

	for (; m->index[i]; i = (i + 1) & m->index_mask) {
		struct model_entry *e = &m->e[m->index[i] - 1];

		if (e->cidr == cidr && same_addr(e->addr, addr))
			return e;
	}
	*slot = i;
	return NULL;
}

static void model_insert(struct model *m, const uint8_t addr[16], int cidr, void *peer)
{
	struct model_entry *e;
	size_t slot;

	e = model_find(m, addr, cidr, &slot);
	if (e) {
		e->peer = peer;
		return;
	}
	if (m->len == m->cap) {
		m->cap = m->cap ? 2 * m->cap : 1024;
		m->e = realloc(m->e, m->cap * sizeof(*m->e));
		assert_non_null(m->e);
	}
	assert_true(2 * (m->len + 1) < m->index_mask);
	e = &m->e[m->len++];
	memcpy(e->addr, addr, 16);
	e->cidr = (uint8_t)cidr;
	e->peer = peer;
	m->index[slot] = (int32_t)m->len;
}

static int model_remove(struct model *m, const uint8_t addr[16], int cidr, void *peer)
{
	size_t slot;
	struct model_entry *e = model_find(m, addr, cidr, &slot);

	if (!e || !e->peer || e->peer != peer)
		return -ENOENT;
	e->peer = NULL;
	return 0;
}

static void model_remove_by_peer(struct model *m, void *peer)
{
	for (size_t i = 0; i < m->len; ++i)
		if (m->e[i].peer == peer)
			m->e[i].peer = NULL;
}

static bool prefix_covers(const uint8_t prefix[16], int cidr, const uint8_t addr[16])
{
	int full = cidr / 8, rest = cidr % 8;

	if (memcmp(prefix, addr, full))
		return false;
	return !rest || !((prefix[full] ^ addr[full]) & (uint8_t)(0xff << (8 - rest)));
}

static void *model_lookup_linear(const struct model *m, const uint8_t addr[16])
{
	const struct model_entry *best = NULL;

	for (size_t i = 0; i < m->len; ++i) {
		const struct model_entry *e = &m->e[i];

		if (e->peer && (!best || e->cidr > best->cidr) &&
		    prefix_covers(e->addr, e->cidr, addr))
			best = e;
	}
	return best ? best->peer : NULL;
}

static void *model_lookup(struct model *m, const uint8_t addr[16], int *cidr_found)
{
	uint8_t masked[16];
	size_t slot;

	memcpy(masked, addr, 16);
	for (int cidr = m->bits; cidr >= 0; --cidr) {
		struct model_entry *e;

		/* From here on, masked keeps only the first cidr bits of addr. */
		if (cidr < m->bits)
			masked[cidr / 8] &= (uint8_t)~(0x80 >> (cidr % 8));
		e = model_find(m, masked, cidr, &slot);
		if (e && e->peer) {
			*cidr_found = cidr;
			return e->peer;
		}
	}
	*cidr_found = -1;
	return NULL;
}

/* splitmix64: a fixed stream so that a failure reproduces. */
static uint64_t rng_state;

static uint64_t rnd(void)
{
	uint64_t z = (rng_state += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static unsigned int rnd_below(unsigned int n)
{
	return (unsigned int)(rnd() % n);
}

/*
 * Random addresses cluster around a pool of bases so that prefixes nest and
 * collide and lookups land inside them; a few are uniformly random.
 */
enum { POOL = 512 };

struct generator {
	int bits;
	uint8_t pool[POOL][16];
};

static void generator_init(struct generator *g, int bits)
{
	g->bits = bits;
	memset(g->pool, 0, sizeof(g->pool));
	for (int i = 0; i < POOL; ++i) {
		uint8_t *a = g->pool[i];

		for (int j = 0; j < bits / 8; ++j)
			a[j] = (uint8_t)rnd();
		/* A handful of top bytes: IPv4 in 8 /8s, IPv6 in 4 /32s x 8 /64s. */
		if (bits == 32) {
			a[0] = (uint8_t)(10 + rnd_below(8));
		} else {
			a[0] = 0x20;
			a[1] = 0x01;
			a[2] = 0x0d;
			a[3] = (uint8_t)(0xb8 + rnd_below(4));
			memset(a + 4, 0, 4);
			a[7] = (uint8_t)rnd_below(8);
		}
	}
}

static void flip_bit(uint8_t a[16], int bit)
{
	a[bit / 8] ^= (uint8_t)(0x80 >> (bit % 8));
}

static int random_cidr(const struct generator *g)
{
	/* Short prefixes are rare, or everything would end up under a /0. */
	if (!rnd_below(1000))
		return (int)rnd_below(g->bits + 1);
	return g->bits / 4 + (int)rnd_below(g->bits - g->bits / 4 + 1);
}

static void random_prefix(const struct generator *g, uint8_t addr[16], int *cidr)
{
	*cidr = random_cidr(g);
	memcpy(addr, g->pool[rnd_below(POOL)], 16);
	if (*cidr && rnd_below(2))	/* a sibling or cousin of a pool prefix */
		flip_bit(addr, *cidr / 2 + (int)rnd_below(*cidr - *cidr / 2));
	if (rnd_below(2))		/* host bits that the table must ignore */
		for (int i = *cidr; i < g->bits; i += 1 + (int)rnd_below(8))
			flip_bit(addr, i);
}

static void random_lookup_addr(const struct generator *g, const struct model *m,
			       uint8_t addr[16])
{
	unsigned int kind = rnd_below(4);

	memset(addr, 0, 16);
	if (kind < 2 && m->len) {
		/* Inside a prefix that is or was in the table. */
		const struct model_entry *e = &m->e[rnd_below((unsigned int)m->len)];

		memcpy(addr, e->addr, 16);
		for (int i = e->cidr; i < g->bits; ++i)
			if (rnd_below(2))
				flip_bit(addr, i);
	} else if (kind == 2) {
		memcpy(addr, g->pool[rnd_below(POOL)], 16);
		flip_bit(addr, (int)rnd_below(g->bits));
	} else {
		for (int i = 0; i < g->bits / 8; ++i)
			addr[i] = (uint8_t)rnd();
	}
}

struct run_stats {
	size_t lookups, hits, deep_hits, removes_ok, removes_refused, moves;
};

static void check_lookup(struct allowedips *t, struct model *m, const struct generator *g,
			 struct run_stats *st, const char *when)
{
	uint8_t addr[16];
	int cidr;
	void *want, *got;

	random_lookup_addr(g, m, addr);
	want = model_lookup(m, addr, &cidr);
	if (st->lookups % LINEAR_EVERY == 0)
		assert_ptr_equal(want, model_lookup_linear(m, addr));
	got = allowedips_lookup(t, m->family, addr);
	if (got != want) {
		char s[INET6_ADDRSTRLEN];

		inet_ntop(m->family, addr, s, sizeof(s));
		fail_msg("%s: lookup %s: table says peer %d, model says %d (from a /%d)", when, s,
			 peer_index(got), peer_index(want), cidr);
	}
	st->lookups++;
	st->hits += want != NULL;
	st->deep_hits += cidr >= g->bits / 2;
}

/*
 * Compare peers' walks with the model's entries for them, as sorted sets:
 * every peer, or a few at random.
 */
static void check_walks(struct allowedips *t, struct model *m, bool every_peer)
{
	struct walk_log log = { 0 };
	struct walk_entry *want = malloc((m->len + 1) * sizeof(*want));

	assert_non_null(want);
	for (int k = 1; k <= (every_peer ? NPEERS : 4); ++k) {
		int p = every_peer ? k : 1 + (int)rnd_below(NPEERS);
		size_t n = 0;

		for (size_t i = 0; i < m->len; ++i) {
			if (m->e[i].peer != PEER(p))
				continue;
			memset(&want[n], 0, sizeof(want[n]));
			want[n].family = m->family;
			memcpy(want[n].addr, m->e[i].addr, 16);
			want[n].cidr = m->e[i].cidr;
			n++;
		}
		log.len = 0;
		assert_int_equal(allowedips_walk_by_peer(LIST(PEER(p)), log_prefix, &log), 0);
		if (log.len != n)
			fail_msg("peer %d: walk gave %zu prefixes, model has %zu", p, log.len, n);
		if (!n)
			continue;
		qsort(want, n, sizeof(*want), entry_cmp);
		qsort(log.e, n, sizeof(*log.e), entry_cmp);
		for (size_t i = 0; i < n; ++i)
			if (entry_cmp(&want[i], &log.e[i]))
				fail_msg("peer %d: walk entry %zu differs from the model", p, i);
	}
	free(log.e);
	free(want);
}

static void random_remove(struct allowedips *t, struct model *m, struct run_stats *st)
{
	const struct model_entry *e = &m->e[rnd_below((unsigned int)m->len)];
	uint8_t addr[16];
	void *peer = e->peer;
	int cidr = e->cidr, want, got;

	memcpy(addr, e->addr, 16);
	/* Mostly the holder; sometimes someone else, or an entry already gone. */
	if (!peer || rnd_below(4) == 0)
		peer = PEER(1 + rnd_below(NPEERS));
	want = model_remove(m, addr, cidr, peer);
	got = allowedips_remove(t, m->family, addr, (uint8_t)cidr, peer);
	assert_int_equal(got, want);
	if (got)
		st->removes_refused++;
	else
		st->removes_ok++;
}

static void random_run(int family, size_t inserts, size_t lookups, uint64_t seed)
{
	struct allowedips t = { 0 };
	struct model m = { .family = family, .bits = family == AF_INET ? 32 : 128 };
	struct generator *g = malloc(sizeof(*g));
	struct run_stats st = { 0 };
	size_t index_slots = 1, i, alive;

	assert_non_null(g);
	rng_state = seed;
	generator_init(g, m.bits);
	while (index_slots < 4 * inserts)
		index_slots <<= 1;
	m.index = calloc(index_slots, sizeof(*m.index));
	assert_non_null(m.index);
	m.index_mask = index_slots - 1;

	for (i = 0; i < inserts; ++i) {
		uint8_t addr[16], masked[16];
		int cidr;
		void *peer = PEER(1 + rnd_below(NPEERS));
		struct model_entry *held;
		size_t slot;

		random_prefix(g, addr, &cidr);
		memcpy(masked, addr, 16);
		mask_addr(masked, cidr, m.bits);
		held = model_find(&m, masked, cidr, &slot);
		st.moves += held && held->peer && held->peer != peer;
		assert_int_equal(insert(&t, family, addr, (uint8_t)cidr, peer), 0);
		model_insert(&m, masked, cidr, peer);

		/* Lookups spread evenly over the inserts. */
		while (st.lookups * inserts < (i + 1) * lookups)
			check_lookup(&t, &m, g, &st, "while inserting");
		if (rnd_below(10) == 0)
			random_remove(&t, &m, &st);
		if (rnd_below(5000) == 0) {
			void *victim = PEER(1 + rnd_below(NPEERS));

			allowedips_remove_by_peer(&t, LIST(victim));
			model_remove_by_peer(&m, victim);
		}
		if ((i + 1) % (inserts / 16) == 0)
			check_walks(&t, &m, i + 1 == inserts);
	}

	/* The run must have hit often, deep, and exercised every kind of change. */
	assert_true(st.hits > st.lookups / 2);
	assert_true(st.deep_hits > st.lookups / 5);
	assert_true(st.hits < st.lookups);
	assert_true(st.moves > inserts / 100);
	assert_true(st.removes_ok > inserts / 40);
	assert_true(st.removes_refused > inserts / 100);

	/* Empty the table one prefix at a time, in random order: nothing may be left. */
	for (alive = 0, i = 0; i < m.len; ++i)
		alive += m.e[i].peer != NULL;
	while (alive) {
		struct model_entry *e = &m.e[rnd_below((unsigned int)m.len)];

		if (!e->peer)
			continue;
		assert_int_equal(allowedips_remove(&t, family, e->addr, e->cidr, e->peer), 0);
		e->peer = NULL;
		alive--;
		if (alive % 64 == 0) {
			check_lookup(&t, &m, g, &st, "while emptying");
			if (alive % 8192 == 0)
				check_walks(&t, &m, alive == 16384);
		}
	}
	assert_null(t.root4);
	assert_null(t.root6);

	/* Fill again and clear it peer by peer. */
	for (i = 0; i < inserts / 10; ++i) {
		uint8_t addr[16];
		int cidr;
		void *peer = PEER(1 + rnd_below(NPEERS));

		random_prefix(g, addr, &cidr);
		assert_int_equal(insert(&t, family, addr, (uint8_t)cidr, peer), 0);
		mask_addr(addr, cidr, m.bits);
		model_insert(&m, addr, cidr, peer);
	}
	for (int p = 1; p <= NPEERS; ++p) {
		allowedips_remove_by_peer(&t, LIST(PEER(p)));
		model_remove_by_peer(&m, PEER(p));
		for (i = 0; i < 16; ++i)
			check_lookup(&t, &m, g, &st, "while removing peers");
	}
	assert_null(t.root4);
	assert_null(t.root6);

	allowedips_free(&t);
	free(m.e);
	free(m.index);
	free(g);
}

static void test_random_ipv4(void **state)
{
	(void)state;
	random_run(AF_INET, 100000, 100000, 4);
}

static void test_random_ipv6(void **state)
{
	(void)state;
	random_run(AF_INET6, 100000, 100000, 6);
}

/* Both families in one table: neither may see the other. */
static void test_random_mixed(void **state)
{
	struct allowedips t = { 0 };
	struct generator *g4 = malloc(sizeof(*g4)), *g6 = malloc(sizeof(*g6));
	struct model m4 = { .family = AF_INET, .bits = 32 };
	struct model m6 = { .family = AF_INET6, .bits = 128 };
	struct run_stats st = { 0 };
	const size_t n = 5000;

	(void)state;
	assert_non_null(g4);
	assert_non_null(g6);
	rng_state = 46;
	generator_init(g4, 32);
	generator_init(g6, 128);
	m4.index = calloc(4 * 8192, sizeof(int32_t));
	m6.index = calloc(4 * 8192, sizeof(int32_t));
	assert_non_null(m4.index);
	assert_non_null(m6.index);
	m4.index_mask = m6.index_mask = 4 * 8192 - 1;
	for (size_t i = 0; i < n; ++i) {
		bool v6 = rnd_below(2);
		struct model *m = v6 ? &m6 : &m4;
		struct generator *g = v6 ? g6 : g4;
		uint8_t addr[16];
		int cidr;
		void *peer = PEER(1 + rnd_below(NPEERS));

		random_prefix(g, addr, &cidr);
		assert_int_equal(insert(&t, m->family, addr, (uint8_t)cidr, peer), 0);
		mask_addr(addr, cidr, m->bits);
		model_insert(m, addr, cidr, peer);
		check_lookup(&t, &m4, g4, &st, "mixed IPv4");
		check_lookup(&t, &m6, g6, &st, "mixed IPv6");
		if (rnd_below(1000) == 0) {
			void *victim = PEER(1 + rnd_below(NPEERS));

			allowedips_remove_by_peer(&t, LIST(victim));
			model_remove_by_peer(&m4, victim);
			model_remove_by_peer(&m6, victim);
		}
	}
	allowedips_free(&t);
	assert_null(t.root4);
	assert_null(t.root6);
	free(m4.e);
	free(m6.e);
	free(m4.index);
	free(m6.index);
	free(g4);
	free(g6);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cases),
		cmocka_unit_test(test_walk),
		cmocka_unit_test(test_walk_order),
		cmocka_unit_test(test_random_ipv4),
		cmocka_unit_test(test_random_ipv6),
		cmocka_unit_test(test_random_mixed),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
