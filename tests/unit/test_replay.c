// SPDX-License-Identifier: MIT
/*
 * Replay window: hand-written sequences, the exact window edge at every
 * alignment within a 64-bit word, jumps of every interesting size, the
 * REJECT_AFTER_MESSAGES limit, and a randomized run against a naive model
 * (every seen counter remembered, plus the newest).
 */
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "replay.h"

#define W ((uint64_t)COUNTER_WINDOW_SIZE)
#define LIMIT REJECT_AFTER_MESSAGES

struct step {
	uint64_t nonce;
	bool accepted;
};

struct sequence {
	const char *name;
	const struct step *steps;
	size_t len;
};

#define SEQ(name, ...) { name, (const struct step[]){ __VA_ARGS__ }, \
	sizeof((const struct step[]){ __VA_ARGS__ }) / sizeof(struct step) }
#define T(n) { (n), true }
#define F(n) { (n), false }

static const struct sequence sequences[] = {
	/* 1 */ SEQ("in order", T(0), T(1), T(2), T(3), T(4), T(5)),
	/* 2 */ SEQ("repeats", T(0), F(0), T(1), F(1), F(0), T(2), F(1), F(2)),
	/* 3 */ SEQ("reordered inside the window", T(5), T(3), T(4), T(1), T(0), T(2),
		    F(0), F(3), F(5), T(7), T(6), F(6)),
	/* 4 */ SEQ("first counter far from zero", T(1000000), T(1000000 - W), F(1000000 - W - 1),
		    F(0), T(999999), F(1000000)),
	/* 5 */ SEQ("exactly at the edge", T(W), T(0), F(0), T(W + 1), F(0), T(1), F(1)),
	/* 6 */ SEQ("one past the edge", T(0), T(W + 1), F(0), T(1), F(W + 1)),
	/* 7 */ SEQ("jump over the whole bitmap", T(0), T(1), T(2), T(100000), F(0), F(1), F(2),
		    T(100000 - W), T(99999), F(100000 - W - 1), T(100001)),
	/* 8 */ SEQ("jump of exactly the ring size", T(64), T(64 + COUNTER_BITS_TOTAL),
		    F(64), T(64 + COUNTER_BITS_TOTAL - W), T(64 + COUNTER_BITS_TOTAL - 1)),
	/* 9 */ SEQ("limit: last valid counter", T(LIMIT - 1), F(LIMIT - 1), F(LIMIT)),
	/* 10 */ SEQ("limit: nothing after the last valid counter", T(LIMIT - 3), T(LIMIT - 1),
		     F(LIMIT - 2), F(LIMIT - 3), F(0)),
	/* 11 */ SEQ("limit: near it is fine", T(LIMIT - 3), T(LIMIT - 2), T(LIMIT - 2 - W),
		     F(LIMIT - 3 - W), F(LIMIT)),
	/* 12 */ SEQ("too large leaves the state alone", F(UINT64_MAX), F(LIMIT), T(0), T(1),
		     F(UINT64_MAX - 1), T(2), F(0)),
	/* 13 */ SEQ("word boundaries", T(62), T(63), T(64), T(65), T(127), T(128), F(64), T(0),
		     F(62), F(127)),
};

static void test_sequences(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(sequences) / sizeof(sequences[0]); ++i) {
		struct replay_counter r = { 0 };

		for (size_t j = 0; j < sequences[i].len; ++j) {
			const struct step *s = &sequences[i].steps[j];
			bool got = replay_check(&r, s->nonce);

			if (got != s->accepted)
				fail_msg("case %zu (%s) step %zu: nonce %llu %s, expected %s",
					 i + 1, sequences[i].name, j, (unsigned long long)s->nonce,
					 got ? "accepted" : "rejected",
					 s->accepted ? "accepted" : "rejected");
		}
	}
}

/*
 * After newest = top, each of top - W .. top - 1 is accepted exactly once in
 * any order and top - W - 1 never is, for every position of top in its word.
 */
static void test_window_edge_all_alignments(void **state)
{
	static const uint64_t bases[] = { W + 2, 1ULL << 20, (1ULL << 40) + 17, LIMIT - 1 - 64 };

	(void)state;
	for (size_t b = 0; b < sizeof(bases) / sizeof(bases[0]); ++b) {
		for (uint64_t off = 0; off < 64; ++off) {
			struct replay_counter r = { 0 };
			uint64_t top = bases[b] + off, n;

			assert_true(replay_check(&r, top));
			/* Oldest first, then newest first over a second pass. */
			for (n = top - W; n < top; ++n)
				if (!replay_check(&r, n))
					fail_msg("top %llu: %llu (top - %llu) rejected",
						 (unsigned long long)top, (unsigned long long)n,
						 (unsigned long long)(top - n));
			for (n = top; n >= top - W; --n)
				assert_false(replay_check(&r, n));
			assert_false(replay_check(&r, top - W - 1));
			assert_false(replay_check(&r, top - W - 2));
		}
	}
}

/*
 * Fill the whole window, jump forward by d, then every counter in the new
 * window is accepted iff it was not seen before: the words reused by the
 * jump must have been cleared, and no others.
 */
static void test_jumps(void **state)
{
	static const uint64_t jumps[] = {
		1, 2, 63, 64, 65, 127, 128, 129, W - 1, W, W + 1, COUNTER_BITS_TOTAL - 65,
		COUNTER_BITS_TOTAL - 64, COUNTER_BITS_TOTAL - 1, COUNTER_BITS_TOTAL,
		COUNTER_BITS_TOTAL + 1, 2 * COUNTER_BITS_TOTAL + 5, 1ULL << 33,
	};

	(void)state;
	for (size_t j = 0; j < sizeof(jumps) / sizeof(jumps[0]); ++j) {
		for (uint64_t start = 20000; start < 20000 + 64; start += 21) {
			struct replay_counter r = { 0 };
			uint64_t top = start + jumps[j], n;

			for (n = start - W; n <= start; ++n)
				assert_true(replay_check(&r, n));
			assert_true(replay_check(&r, top));
			for (n = top - 1; n >= top - W; --n) {
				bool seen = n <= start;

				if (replay_check(&r, n) == seen)
					fail_msg("start %llu jump %llu: counter %llu %s",
						 (unsigned long long)start,
						 (unsigned long long)jumps[j],
						 (unsigned long long)n,
						 seen ? "accepted twice" : "rejected");
			}
			assert_false(replay_check(&r, top - W - 1));
		}
	}
}

/* splitmix64: a fixed, portable stream so failures reproduce. */
static uint64_t rng_state;

static uint64_t rnd(void)
{
	uint64_t z = (rng_state += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

/*
 * The naive model: every accepted counter in a set (open addressing), and
 * the newest. It knows nothing of words or rings.
 */
struct model {
	uint64_t *seen;		/* stored as counter + 1 so that 0 marks a free slot */
	size_t mask;
	bool has_newest;
	uint64_t newest;
};

static bool model_seen_insert(struct model *m, uint64_t nonce)
{
	size_t i = (size_t)((nonce * 0x9e3779b97f4a7c15ULL) >> 20) & m->mask;

	for (; m->seen[i]; i = (i + 1) & m->mask)
		if (m->seen[i] == nonce + 1)
			return false;
	m->seen[i] = nonce + 1;
	return true;
}

static bool model_check(struct model *m, uint64_t nonce)
{
	if (nonce >= LIMIT)
		return false;
	if (m->has_newest && m->newest >= LIMIT - 1)
		return false;
	if (m->has_newest && nonce + W < m->newest)
		return false;
	if (!model_seen_insert(m, nonce))
		return false;
	if (!m->has_newest || nonce > m->newest)
		m->newest = nonce;
	m->has_newest = true;
	return true;
}

/*
 * Mostly increasing counters with reordering, duplicates, stragglers from
 * just inside and just outside the window, and occasional jumps.
 */
static uint64_t forward(uint64_t *cursor, uint64_t by)
{
	/* Saturate a little past the limit so the cursor never wraps. */
	*cursor = *cursor < LIMIT + 100 - by ? *cursor + by : LIMIT + 100;
	return *cursor;
}

static uint64_t next_nonce(uint64_t *cursor, uint64_t base)
{
	uint64_t r = rnd(), pick = r % 100, back;

	if (pick < 55)
		return forward(cursor, 1);
	if (pick < 70) {		/* a short reorder */
		back = rnd() % 32;
		return *cursor > base + back ? *cursor - back : base;
	}
	if (pick < 80) {		/* near the window edge, on either side */
		back = W - 8 + rnd() % 16;
		return *cursor > base + back ? *cursor - back : base;
	}
	if (pick < 88) {		/* anywhere in or a little past the window */
		back = rnd() % (W + 200);
		return *cursor > base + back ? *cursor - back : base;
	}
	if (pick < 95)			/* a duplicate of the newest */
		return *cursor;
	if (pick < 99)			/* a gap */
		return forward(cursor, 1 + rnd() % 100);
	return forward(cursor, 1 + rnd() % (3 * COUNTER_BITS_TOTAL));	/* a jump */
}

/* Returns how many counters were accepted; *newest is the model's newest. */
static size_t compare_with_model(uint64_t base, size_t rounds, uint64_t seed, uint64_t *newest)
{
	struct replay_counter r = { 0 };
	struct model m = { 0 };
	uint64_t cursor = base, n;
	size_t accepted = 0, slots = 1;

	rng_state = seed;
	while (slots < 2 * rounds)
		slots <<= 1;
	m.mask = slots - 1;
	m.seen = calloc(slots, sizeof(*m.seen));
	assert_non_null(m.seen);
	for (size_t i = 0; i < rounds; ++i) {
		bool want, got;

		n = next_nonce(&cursor, base);
		want = model_check(&m, n);
		got = replay_check(&r, n);
		if (want != got)
			fail_msg("round %zu: nonce %llu (newest %llu): got %d, model %d", i,
				 (unsigned long long)n, (unsigned long long)m.newest, got, want);
		accepted += got;
	}
	free(m.seen);
	*newest = m.newest;
	return accepted;
}

static void test_random_vs_model(void **state)
{
	static const uint64_t bases[] = { 0, 123456789, 1ULL << 62 };
	const size_t rounds = 100000;

	(void)state;
	for (size_t i = 0; i < sizeof(bases) / sizeof(bases[0]); ++i) {
		uint64_t newest;
		size_t accepted = compare_with_model(bases[i], rounds, i + 1, &newest);

		/* The run must exercise both outcomes a lot to mean anything. */
		assert_true(accepted > rounds / 3);
		assert_true(accepted < rounds - rounds / 10);
	}
}

/* The same traffic shape running into REJECT_AFTER_MESSAGES. */
static void test_random_vs_model_at_limit(void **state)
{
	const size_t rounds = 4000;
	uint64_t newest;
	size_t accepted;

	(void)state;
	/* The cursor advances about 125 per round: the limit comes about halfway. */
	accepted = compare_with_model(LIMIT - 250000, rounds, 99, &newest);
	assert_true(accepted > rounds / 5);
	assert_true(newest > LIMIT - 1 - 3 * COUNTER_BITS_TOTAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sequences),
		cmocka_unit_test(test_window_edge_all_alignments),
		cmocka_unit_test(test_jumps),
		cmocka_unit_test(test_random_vs_model),
		cmocka_unit_test(test_random_vs_model_at_limit),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
