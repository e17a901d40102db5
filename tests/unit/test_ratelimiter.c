// SPDX-License-Identifier: MIT
/*
 * Handshake rate limiter: burst and refill, bucket keys (IPv4 address, IPv6
 * /64, IPv4-mapped IPv6), a full table, collection of idle entries, bad
 * families, SipHash-2-4 against the reference vectors, and a randomized run
 * against a model written as GCRA (a theoretical arrival time per source)
 * instead of a token count.
 */
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/un.h>
#include <cmocka.h>

/* Included, not linked, to reach the static siphash24() for its vectors. */
#include "ratelimiter.c"

/* The common question of these tests: was src let through? */
static bool ratelimiter_allow(struct ratelimiter *rl, uint64_t now_ns, const struct sockaddr *src)
{
	return ratelimiter_check(rl, now_ns, src) == RATELIMITER_ALLOW;
}

#define MS (NSEC_PER_MSEC)
#define COST (NSEC_PER_SEC / RATELIMITER_PACKETS_PER_SECOND)
#define BURST RATELIMITER_PACKETS_BURSTABLE

static const uint8_t seed[16] = { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16 };

/* Start far from zero so that nothing depends on the clock's origin. */
static const uint64_t T0 = 1000 * NSEC_PER_SEC;

/* "192.0.2.1" or "2001:db8::1" as a sockaddr_storage, with a port that must not matter. */
static struct sockaddr_storage src(const char *s, uint16_t port)
{
	struct sockaddr_storage ss;

	memset(&ss, 0, sizeof(ss));
	if (strchr(s, ':')) {
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;

		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons(port);
		assert_int_equal(inet_pton(AF_INET6, s, &sin6->sin6_addr), 1);
	} else {
		struct sockaddr_in *sin = (struct sockaddr_in *)&ss;

		sin->sin_family = AF_INET;
		sin->sin_port = htons(port);
		assert_int_equal(inet_pton(AF_INET, s, &sin->sin_addr), 1);
	}
	return ss;
}

static bool allow(struct ratelimiter *rl, uint64_t now, const char *s)
{
	struct sockaddr_storage ss = src(s, (uint16_t)(now / MS));

	return ratelimiter_allow(rl, now, (struct sockaddr *)&ss);
}

/* Take the whole burst from s at now, then see the next one refused. */
static void drain(struct ratelimiter *rl, uint64_t now, const char *s)
{
	for (int i = 0; i < BURST; ++i)
		if (!allow(rl, now, s))
			fail_msg("%s: packet %d of the burst refused", s, i + 1);
	assert_false(allow(rl, now, s));
}

static void test_siphash_vectors(void **state)
{
	/* SipHash-2-4, key 00..0f, message 00 01 .. (len - 1), from the reference code. */
	static const struct { size_t len; uint64_t out; } v[] = {
		{ 0, 0x726fdb47dd0e0e31ULL }, { 1, 0x74f839c593dc67fdULL },
		{ 2, 0x0d6c8009d9a94f5aULL }, { 7, 0xab0200f58b01d137ULL },
		{ 8, 0x93f5f5799a932462ULL }, { 9, 0x9e0082df0ba9e4b0ULL },
		{ 15, 0xa129ca6149be45e5ULL }, { 16, 0x3f2acc7f57c29bdbULL },
	};
	uint8_t in[16], k[16];
	uint64_t key[2];

	(void)state;
	for (int i = 0; i < 16; ++i)
		in[i] = k[i] = (uint8_t)i;
	key[0] = braid_get_le64(k);
	key[1] = braid_get_le64(k + 8);
	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); ++i)
		if (siphash24(key, in, v[i].len) != v[i].out)
			fail_msg("siphash24 of %zu bytes: %016llx", v[i].len,
				 (unsigned long long)siphash24(key, in, v[i].len));
}

static void test_burst_then_refusal(void **state)
{
	struct ratelimiter *rl = ratelimiter_new(RATELIMITER_DEFAULT_MAX_ENTRIES, seed);

	(void)state;
	assert_non_null(rl);
	drain(rl, T0, "192.0.2.1");
	assert_false(allow(rl, T0, "192.0.2.1"));
	assert_false(allow(rl, T0 + 49 * MS, "192.0.2.1"));
	assert_int_equal(ratelimiter_count(rl), 1);
	ratelimiter_free(rl);
}

/* Each step: advance the clock by dt, then expect n packets allowed and one refused. */
static void test_refill(void **state)
{
	static const struct { uint64_t dt; int n; } steps[] = {
		/* 1 */ { 0, BURST },
		/* 2 */ { COST - 1, 0 },		/* not yet... */
		/* 3 */ { 1, 1 },			/* ...refused attempts keep earning */
		/* 4 */ { COST / 2, 0 },
		/* 5 */ { COST / 2, 1 },
		/* 6 */ { 3 * COST, 3 },
		/* 7 */ { 2 * COST + COST / 2, 2 },	/* half a token stays behind */
		/* 8 */ { COST / 2, 1 },
		/* 9 */ { 10 * NSEC_PER_SEC, BURST },	/* no saving past a burst */
		/* 10 */ { BURST * COST, BURST },
	};
	struct ratelimiter *rl = ratelimiter_new(16, seed);
	uint64_t now = T0;

	(void)state;
	assert_non_null(rl);
	for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]); ++i) {
		now += steps[i].dt;
		for (int j = 0; j < steps[i].n; ++j)
			if (!allow(rl, now, "198.51.100.7"))
				fail_msg("step %zu: packet %d refused", i + 1, j + 1);
		if (allow(rl, now, "198.51.100.7"))
			fail_msg("step %zu: packet %d allowed", i + 1, steps[i].n + 1);
	}
	ratelimiter_free(rl);
}

/* Groups of sources: the same bucket within a group, separate buckets across groups. */
static void test_bucket_keys(void **state)
{
	static const char *const groups[][4] = {
		/* 1 */ { "192.0.2.1", "::ffff:192.0.2.1" },
		/* 2 */ { "192.0.2.2", "::ffff:192.0.2.2" },
		/* 3 */ { "203.0.113.200" },
		/* 4 */ { "2001:db8:1:2::1", "2001:db8:1:2:ffff:ffff:ffff:ffff", "2001:db8:1:2::" },
		/* 5 */ { "2001:db8:1:3::1", "2001:db8:1:3:8000::1" },
		/* 6 */ { "2001:db8:1:2:1::", "2001:db8:1:2::1" },
		/* 7 */ { "0.0.0.0" },
		/* 8 */ { "::1", "::" },		/* the all-zero /64 is not 0.0.0.0 */
		/* 9 */ { "::ffff:0:0:1" },	/* not IPv4-mapped: the all-zero /64 again */
	};
	const size_t ngroups = sizeof(groups) / sizeof(groups[0]);
	struct ratelimiter *rl = ratelimiter_new(64, seed);
	uint64_t now = T0;

	(void)state;
	assert_non_null(rl);
	/* Case 6 is the same /64 as case 4 and case 9 the same as case 8. */
	for (size_t g = 0; g < ngroups; ++g) {
		bool shares_earlier = g == 5 || g == 8;

		if (shares_earlier) {
			for (size_t m = 0; m < 4 && groups[g][m]; ++m)
				assert_false(allow(rl, now, groups[g][m]));
			continue;
		}
		/* Drain through the first member, then every other member is refused too. */
		drain(rl, now, groups[g][0]);
		for (size_t m = 1; m < 4 && groups[g][m]; ++m)
			if (allow(rl, now, groups[g][m]))
				fail_msg("group %zu: %s has its own bucket", g + 1, groups[g][m]);
	}
	assert_int_equal(ratelimiter_count(rl), ngroups - 2);

	/* A packet's worth later, every bucket has exactly one token again. */
	now += COST;
	for (size_t g = 0; g < ngroups; ++g) {
		if (g == 5 || g == 8)
			continue;
		assert_true(allow(rl, now, groups[g][0]));
		assert_false(allow(rl, now, groups[g][0]));
	}
	ratelimiter_free(rl);

	/*
	 * A one-entry table has a single chain, so 0.0.0.0 and the zero /64
	 * meet in it: only the family tells them apart (and :: is a stranger
	 * to a full table).
	 */
	rl = ratelimiter_new(1, seed);
	assert_non_null(rl);
	assert_true(allow(rl, now, "0.0.0.0"));
	assert_false(allow(rl, now, "::"));
	assert_true(allow(rl, now, "0.0.0.0"));
	ratelimiter_free(rl);
}

static void test_table_full(void **state)
{
	struct ratelimiter *rl = ratelimiter_new(4, seed);
	uint64_t now = T0;

	(void)state;
	assert_non_null(rl);
	assert_true(allow(rl, now, "192.0.2.1"));
	assert_true(allow(rl, now, "192.0.2.2"));
	assert_true(allow(rl, now, "2001:db8::1"));
	assert_true(allow(rl, now + 500 * MS, "192.0.2.4"));
	assert_int_equal(ratelimiter_count(rl), 4);

	/* Strangers are refused, even with nothing against them; members go on. */
	assert_false(allow(rl, now, "192.0.2.5"));
	assert_false(allow(rl, now, "2001:db8:0:1::1"));
	assert_true(allow(rl, now, "192.0.2.1"));
	assert_true(allow(rl, now, "2001:db8::2"));
	assert_int_equal(ratelimiter_count(rl), 4);

	/* Collecting the three idle ones makes room; the fourth is still recent. */
	ratelimiter_gc(rl, now + 1200 * MS);
	assert_int_equal(ratelimiter_count(rl), 1);
	assert_true(allow(rl, now + 1200 * MS, "192.0.2.5"));
	assert_true(allow(rl, now + 1200 * MS, "2001:db8:0:1::1"));
	assert_int_equal(ratelimiter_count(rl), 3);
	ratelimiter_free(rl);

	/* A table of no entries refuses everyone. */
	rl = ratelimiter_new(0, seed);
	assert_non_null(rl);
	assert_false(allow(rl, now, "192.0.2.1"));
	assert_int_equal(ratelimiter_count(rl), 0);
	ratelimiter_gc(rl, now);
	ratelimiter_free(rl);
}

static void test_gc(void **state)
{
	struct ratelimiter *rl = ratelimiter_new(RATELIMITER_DEFAULT_MAX_ENTRIES, seed);
	struct sockaddr_in sin = { .sin_family = AF_INET };
	uint64_t now = T0;

	(void)state;
	assert_non_null(rl);
	/* 1000 sources at T0, of which the first 100 come back 600 ms later. */
	for (uint32_t i = 0; i < 1000; ++i) {
		sin.sin_addr.s_addr = htonl(0xc6336400 + i);
		assert_true(ratelimiter_allow(rl, now, (struct sockaddr *)&sin));
	}
	for (uint32_t i = 0; i < 100; ++i) {
		sin.sin_addr.s_addr = htonl(0xc6336400 + i);
		assert_true(ratelimiter_allow(rl, now + 600 * MS, (struct sockaddr *)&sin));
	}
	assert_int_equal(ratelimiter_count(rl), 1000);

	ratelimiter_gc(rl, now + 500 * MS);
	assert_int_equal(ratelimiter_count(rl), 1000);
	ratelimiter_gc(rl, now + NSEC_PER_SEC);		/* idle for exactly 1 s: kept */
	assert_int_equal(ratelimiter_count(rl), 1000);
	ratelimiter_gc(rl, now + NSEC_PER_SEC + 1);
	assert_int_equal(ratelimiter_count(rl), 100);
	ratelimiter_gc(rl, now + 1600 * MS + 1);
	assert_int_equal(ratelimiter_count(rl), 0);

	/* A collected source starts over with a full bucket. */
	drain(rl, now + 2 * NSEC_PER_SEC, "198.51.100.0");
	assert_int_equal(ratelimiter_count(rl), 1);
	ratelimiter_free(rl);
}

static void test_unknown_family(void **state)
{
	struct ratelimiter *rl = ratelimiter_new(16, seed);
	struct sockaddr_un sun = { .sun_family = AF_UNIX, .sun_path = "x" };
	struct sockaddr_storage ss = src("192.0.2.1", 1);

	(void)state;
	assert_non_null(rl);
	assert_false(ratelimiter_allow(rl, T0, (struct sockaddr *)&sun));
	ss.ss_family = AF_UNSPEC;
	assert_false(ratelimiter_allow(rl, T0, (struct sockaddr *)&ss));
	assert_false(ratelimiter_allow(rl, T0, NULL));
	assert_int_equal(ratelimiter_count(rl), 0);
	ratelimiter_free(rl);
}

/*
 * The model: GCRA. Each source has a theoretical arrival time tat; a packet
 * at now conforms when tat - now <= (BURST - 1) * COST, and then moves tat
 * to max(tat, now) + COST. It is the same limit as the token bucket, written
 * without tokens. Sources idle for more than a second are forgotten by gc;
 * a full table refuses strangers.
 */
struct model_source {
	bool present;
	uint64_t tat, last;
};

enum { SOURCES = 48, MODEL_MAX = 32 };

static bool model_allow(struct model_source *m, size_t *count, uint64_t now)
{
	uint64_t tat;

	if (!m->present) {
		if (*count == MODEL_MAX)
			return false;
		m->present = true;
		m->tat = now;
		++*count;
	}
	if (now > m->last)
		m->last = now;
	tat = m->tat > now ? m->tat : now;
	if (tat - now > (BURST - 1) * COST)
		return false;
	m->tat = tat + COST;
	return true;
}

static uint64_t rng_state = 7;

static uint64_t rnd(void)
{
	uint64_t z = (rng_state += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static void test_random_vs_model(void **state)
{
	struct ratelimiter *rl = ratelimiter_new(MODEL_MAX, seed);
	struct model_source model[SOURCES] = { 0 };
	char names[SOURCES][INET6_ADDRSTRLEN];
	size_t count = 0, allowed = 0, refused = 0, refused_full = 0;
	uint64_t now = T0, next_gc = T0 + NSEC_PER_SEC;

	(void)state;
	assert_non_null(rl);
	/* Half IPv4, half IPv6 (each picked with a random interface identifier below). */
	for (int i = 0; i < SOURCES; ++i) {
		if (i % 2)
			snprintf(names[i], sizeof(names[i]), "2001:db8:%x:%x", i, i * 7);
		else
			snprintf(names[i], sizeof(names[i]), "198.51.100.%d", i);
	}
	for (int round = 0; round < 200000; ++round) {
		/* Half the packets come from four busy sources. */
		int i = (int)(rnd() % 2 ? rnd() % 4 : rnd() % SOURCES);
		char addr[INET6_ADDRSTRLEN + 32];
		bool want, got, was_full = count == MODEL_MAX && !model[i].present;

		/* Mostly within milliseconds, now and then a pause. */
		now += rnd() % 32 ? rnd() % (2 * MS) : rnd() % (400 * MS);
		if (i % 2)
			snprintf(addr, sizeof(addr), "%s:%x:%x::%x", names[i],
				 (unsigned int)(rnd() & 0xffff), (unsigned int)(rnd() & 0xffff),
				 (unsigned int)(rnd() & 0xffff));
		else
			snprintf(addr, sizeof(addr), "%s", names[i]);
		want = model_allow(&model[i], &count, now);
		got = allow(rl, now, addr);
		if (got != want)
			fail_msg("round %d: %s at %llu ns: limiter %d, model %d", round, addr,
				 (unsigned long long)(now - T0), got, want);
		allowed += got;
		refused += !got && !was_full;
		refused_full += was_full;

		if (now >= next_gc) {
			ratelimiter_gc(rl, now);
			for (int j = 0; j < SOURCES; ++j) {
				if (model[j].present && now - model[j].last > NSEC_PER_SEC) {
					model[j] = (struct model_source){ 0 };
					count--;
				}
			}
			assert_int_equal(ratelimiter_count(rl), count);
			next_gc = now + rnd() % (2 * NSEC_PER_SEC);
		}
	}
	/* All three outcomes must have happened often. */
	assert_true(allowed > 20000);
	assert_true(refused > 20000);
	assert_true(refused_full > 1000);
	ratelimiter_free(rl);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_siphash_vectors),
		cmocka_unit_test(test_burst_then_refusal),
		cmocka_unit_test(test_refill),
		cmocka_unit_test(test_bucket_keys),
		cmocka_unit_test(test_table_full),
		cmocka_unit_test(test_gc),
		cmocka_unit_test(test_unknown_family),
		cmocka_unit_test(test_random_vs_model),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
