// SPDX-License-Identifier: MIT
/*
 * The reorder buffer: numbered cases (in order, a swap, a gap given up, a
 * late packet, duplicates, a keypair rotation mid-gap, a counter far ahead,
 * a buffer that starts mid-session with the first counter it sees),
 * then randomized runs of two paths with different delays, jitter and loss,
 * checked against what a naive model says must hold: every packet delivered
 * exactly once, in counter order except the late ones, none held past its
 * bound, nothing held when nothing is missing.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "messages.h"
#include "reorder.h"

#define MSEC 1000000ULL

struct log {
	uint32_t seq[20000];
	size_t n;
};

/* Each test packet carries its counter in its first four bytes. */
static void record(void *ctx, uint8_t *pkt, size_t len)
{
	struct log *l = ctx;

	assert_true(len >= 4);
	assert_true(l->n < sizeof(l->seq) / sizeof(l->seq[0]));
	memcpy(&l->seq[l->n++], pkt, 4);
}

static void add(struct reorder *r, struct log *l, uint64_t now, uint64_t kp, uint32_t c)
{
	uint8_t pkt[40] = { 0 };

	memcpy(pkt, &c, 4);
	reorder_add(r, now, kp, c, pkt, sizeof(pkt), record, l);
}

static void expect(const struct log *l, const uint32_t *want, size_t n)
{
	assert_int_equal(l->n, n);
	for (size_t i = 0; i < n; i++)
		if (l->seq[i] != want[i])
			fail_msg("delivery %zu: counter %u, expected %u", i, l->seq[i], want[i]);
}

/* 1. In order: delivered at once, nothing held. */
static void test_in_order(void **state)
{
	static const uint32_t want[] = { 0, 1, 2, 3 };
	struct reorder r = { 0 };
	struct log *l = calloc(1, sizeof(*l));

	(void)state;
	assert_int_equal(reorder_init(&r), 0);
	for (uint32_t c = 0; c < 4; c++)
		add(&r, l, 0, 1, c);
	expect(l, want, 4);
	assert_int_equal(r.count, 0);
	assert_int_equal(reorder_deadline(&r, MSEC), BRAID_NEVER);
	reorder_free(&r);
	free(l);
}

/* 2. A swap waits for the missing one; a gap never filled goes after the bound, then late. */
static void test_gaps(void **state)
{
	struct reorder r = { 0 };
	struct log *l = calloc(1, sizeof(*l));

	(void)state;
	assert_int_equal(reorder_init(&r), 0);
	add(&r, l, 0, 1, 0);
	add(&r, l, 1, 1, 2);
	assert_int_equal(l->n, 1);
	assert_int_equal(reorder_deadline(&r, 10 * MSEC), 1 + 10 * MSEC);
	add(&r, l, 2, 1, 1);		/* 1 and 2 go, in order */
	add(&r, l, 3, 1, 3);
	add(&r, l, 4 * MSEC, 1, 5);
	add(&r, l, 5 * MSEC, 1, 6);
	assert_int_equal(reorder_tick(&r, 13 * MSEC, 10 * MSEC, record, l), 14 * MSEC);
	assert_int_equal(l->n, 4);
	reorder_tick(&r, 14 * MSEC, 10 * MSEC, record, l);	/* 4 given up: 5, 6 go */
	assert_int_equal(r.stats.gave_up, 1);
	add(&r, l, 15 * MSEC, 1, 4);	/* late: delivered at once */
	assert_int_equal(r.stats.late, 1);
	expect(l, (const uint32_t[]){ 0, 1, 2, 3, 5, 6, 4 }, 7);
	reorder_free(&r);
	free(l);
}

/* 3. A copy of a held packet is not delivered twice; keepalives fill their place. */
static void test_duplicates_and_empty(void **state)
{
	struct reorder r = { 0 };
	struct log *l = calloc(1, sizeof(*l));

	(void)state;
	assert_int_equal(reorder_init(&r), 0);
	reorder_add(&r, 0, 1, 0, NULL, 0, record, l);	/* a keepalive at 0 */
	add(&r, l, 0, 1, 2);
	add(&r, l, 0, 1, 2);
	assert_int_equal(l->n, 0);
	add(&r, l, 0, 1, 1);
	expect(l, (const uint32_t[]){ 1, 2 }, 2);
	assert_int_equal(r.count, 0);
	reorder_free(&r);
	free(l);
}

/* 4. A new keypair mid-gap: the old one's held packets go first, its late one at once. */
static void test_keypair_rotation(void **state)
{
	struct reorder r = { 0 };
	struct log *l = calloc(1, sizeof(*l));

	(void)state;
	assert_int_equal(reorder_init(&r), 0);
	add(&r, l, 0, 7, 0);
	add(&r, l, 0, 7, 2);		/* 1 missing */
	add(&r, l, 1, 8, 1000);		/* a new keypair; its 0..999 are still on their way */
	expect(l, (const uint32_t[]){ 0, 2 }, 2);
	add(&r, l, 2, 8, 0);
	add(&r, l, 3, 7, 1);		/* old keypair's straggler: at once */
	assert_int_equal(r.stats.late, 1);
	expect(l, (const uint32_t[]){ 0, 2, 0, 1 }, 4);
	reorder_free(&r);
	free(l);
}

/* 5. A counter far ahead of what waits: everything held is released and the rest skipped. */
static void test_far_ahead(void **state)
{
	struct reorder r = { 0 };
	struct log *l = calloc(1, sizeof(*l));

	(void)state;
	assert_int_equal(reorder_init(&r), 0);
	add(&r, l, 0, 1, 5);
	add(&r, l, 0, 1, 1u << 30);
	expect(l, (const uint32_t[]){ 5 }, 1);
	assert_int_equal(r.next, (1ULL << 30) + 1 - REORDER_SLOTS);
	assert_int_equal(r.count, 1);
	reorder_flush(&r, 1, record, l);
	expect(l, (const uint32_t[]){ 5, 1u << 30 }, 2);
	reorder_free(&r);
	free(l);
}

/*
 * 6. Randomized: one packet a millisecond, each by path A (10 ms) or B
 * (delay_b), with jitter and loss; the buffer ticked at every deadline.
 */
static uint64_t rng;

static uint64_t next_rand(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

struct flight {
	uint64_t at;
	uint32_t c;
};

static int by_time(const void *a, const void *b)
{
	const struct flight *x = a, *y = b;

	return x->at < y->at ? -1 : x->at > y->at ? 1 : (x->c < y->c ? -1 : 1);
}

static void random_run(uint64_t seed, uint64_t delay_b, uint64_t jitter, unsigned int loss_pct)
{
	enum { N = 8000 };
	const uint64_t bound = delay_b - 10 * MSEC + 4 * jitter + 2 * MSEC;
	struct flight *f = calloc(N, sizeof(*f));
	struct log *l = calloc(1, sizeof(*l));
	bool *lost = calloc(N, sizeof(bool)), *seen = calloc(N, sizeof(bool));
	struct reorder r = { 0 };
	size_t n = 0, delivered = 0, late_order = 0;

	assert_true(f && l && lost && seen);
	rng = seed;
	assert_int_equal(reorder_init(&r), 0);
	/* The control message that started the buffer had counter 0; data follows it. */
	reorder_add(&r, 0, 1, 0, NULL, 0, record, l);
	for (uint32_t c = 1; c < N; c++) {
		uint64_t d = next_rand() & 1 ? delay_b : 10 * MSEC;

		if (next_rand() % 100 < loss_pct) {
			lost[c] = true;
			continue;
		}
		d += jitter ? next_rand() % (2 * jitter) : 0;
		f[n++] = (struct flight){ .at = c * MSEC + d, .c = c };
	}
	qsort(f, n, sizeof(*f), by_time);
	for (size_t i = 0; i < n; i++) {
		uint64_t d;

		/* The timer fires at each deadline before the next arrival. */
		while ((d = reorder_deadline(&r, bound)) <= f[i].at)
			reorder_tick(&r, d, bound, record, l);
		add(&r, l, f[i].at, 1, f[i].c);
		assert_true(reorder_deadline(&r, bound) > f[i].at);
	}
	while (r.count)
		reorder_tick(&r, reorder_deadline(&r, bound), bound, record, l);
	for (size_t i = 0; i < l->n; i++) {
		assert_false(lost[l->seq[i]]);
		assert_false(seen[l->seq[i]]);
		seen[l->seq[i]] = true;
		delivered++;
		if (i && l->seq[i] < l->seq[i - 1])
			late_order++;
	}
	assert_int_equal(delivered, n);
	/* Out of order only what came after its gap was given up on. */
	assert_true(late_order <= r.stats.late);
	if (!loss_pct && jitter < 2 * MSEC)
		assert_int_equal(r.stats.late, 0);
	/* Nothing held past its bound: no hold in a bucket that starts after it. */
	for (unsigned int b = 0; b < REORDER_HOLD_BUCKETS; b++)
		if ((uint64_t)b * REORDER_HOLD_BUCKET_US * 1000 > bound)
			assert_int_equal(r.stats.holds[b], 0);
	reorder_free(&r);
	free(f);
	free(l);
	free(lost);
	free(seen);
}

static void test_random(void **state)
{
	(void)state;
	random_run(1, 10 * MSEC, 0, 0);
	random_run(2, 30 * MSEC, 0, 0);
	random_run(3, 30 * MSEC, 1 * MSEC, 0);
	random_run(4, 30 * MSEC, 5 * MSEC, 0);
	random_run(5, 30 * MSEC, 5 * MSEC, 2);
	random_run(6, 80 * MSEC, 10 * MSEC, 10);
}

/* 7. Put in place mid-session: the first counter seen is where the order starts. */
static void test_starts_mid_session(void **state)
{
	struct reorder r = { 0 };
	struct log *l = calloc(1, sizeof(*l));

	(void)state;
	assert_int_equal(reorder_init(&r), 0);
	add(&r, l, 0, 3, 5000);
	add(&r, l, 0, 3, 5002);
	add(&r, l, 0, 3, 5001);
	expect(l, (const uint32_t[]){ 5000, 5001, 5002 }, 3);
	reorder_free(&r);
	free(l);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_in_order),
		cmocka_unit_test(test_gaps),
		cmocka_unit_test(test_duplicates_and_empty),
		cmocka_unit_test(test_keypair_rotation),
		cmocka_unit_test(test_far_ahead),
		cmocka_unit_test(test_random),
		cmocka_unit_test(test_starts_mid_session),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
