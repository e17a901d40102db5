// SPDX-License-Identifier: MIT
/*
 * The reorder buffer: numbered cases (in order, a swap, a gap given up, a
 * late packet, duplicates, a keypair rotation mid-gap, a counter far ahead,
 * a buffer that starts mid-session with the first counter it sees; lanes:
 * a loss every lane has gone past given up early, a quiet lane not waited
 * for, the skew learned from a lane that held a packet back and from a gap
 * given up too early, lanes started over with a keypair and a renumbering;
 * holds: in-order packets of a held lane wait theirs),
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

static void add_by(struct reorder *r, struct log *l, uint64_t now, uint64_t kp, uint32_t c,
		   int lane)
{
	uint8_t pkt[40] = { 0 };

	memcpy(pkt, &c, 4);
	reorder_add(r, now, kp, c, lane, 0, pkt, sizeof(pkt), record, l);
}

/* By no lane: gaps wait their bound. */
static void add(struct reorder *r, struct log *l, uint64_t now, uint64_t kp, uint32_t c)
{
	add_by(r, l, now, kp, c, -1);
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
	assert_int_equal(reorder_deadline(&r, 0, MSEC), BRAID_NEVER);
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
	assert_int_equal(reorder_deadline(&r, 1, 10 * MSEC), 1 + 10 * MSEC);
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
	reorder_add(&r, 0, 1, 0, -1, 0, NULL, 0, record, l);	/* a keepalive at 0 */
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
	int lane;
};

static int by_time(const void *a, const void *b)
{
	const struct flight *x = a, *y = b;

	return x->at < y->at ? -1 : x->at > y->at ? 1 : (x->c < y->c ? -1 : 1);
}

static void random_run(uint64_t seed, uint64_t delay_b, uint64_t jitter, unsigned int loss_pct,
		       uint64_t overshoot)
{
	enum { N = 8000 };
	const uint64_t bound = delay_b - 10 * MSEC + 4 * jitter + 2 * MSEC + overshoot;
	struct flight *f = calloc(N, sizeof(*f));
	struct log *l = calloc(1, sizeof(*l));
	bool *lost = calloc(N, sizeof(bool)), *seen = calloc(N, sizeof(bool));
	struct reorder r = { 0 };
	size_t n = 0, delivered = 0, late_order = 0;

	assert_true(f && l && lost && seen);
	rng = seed;
	assert_int_equal(reorder_init(&r), 0);
	/* The control message that started the buffer had counter 0; data follows it. */
	reorder_add(&r, 0, 1, 0, -1, 0, NULL, 0, record, l);
	for (uint32_t c = 1; c < N; c++) {
		/* Counters 1 and 2 show each lane first, as the probes before the data do. */
		int lane = c <= 2 ? (int)c - 1 : (int)(next_rand() & 1);
		uint64_t d = lane ? delay_b : 10 * MSEC;

		if (c > 2 && next_rand() % 100 < loss_pct) {
			lost[c] = true;
			continue;
		}
		d += jitter ? next_rand() % (2 * jitter) : 0;
		f[n++] = (struct flight){ .at = c * MSEC + d, .c = c, .lane = lane };
	}
	qsort(f, n, sizeof(*f), by_time);
	for (size_t i = 0; i < n; i++) {
		uint64_t d;

		/* The timer fires at each deadline before the next arrival. */
		while ((d = reorder_deadline(&r, f[i].at, bound)) <= f[i].at)
			reorder_tick(&r, d, bound, record, l);
		add_by(&r, l, f[i].at, 1, f[i].c, f[i].lane);
		/* What the arrival made due (the skew may have shrunk) goes at once. */
		assert_true(reorder_tick(&r, f[i].at, bound, record, l) > f[i].at);
	}
	while (r.count)
		reorder_tick(&r, reorder_deadline(&r, f[n - 1].at, bound), bound, record, l);
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
	/*
	 * Lanes that keep their order: a gap every lane has gone past is a loss,
	 * never a late packet, and goes before its bound when that errs long.
	 */
	if (!jitter)
		assert_int_equal(r.stats.late, 0);
	if (!jitter && loss_pct && overshoot)
		assert_true(r.stats.gave_up_early * 10 >= r.stats.gave_up * 8);
	print_message("seed %llu: gave up %llu (%llu early), late %llu\n",
		      (unsigned long long)seed, (unsigned long long)r.stats.gave_up,
		      (unsigned long long)r.stats.gave_up_early, (unsigned long long)r.stats.late);
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
	random_run(1, 10 * MSEC, 0, 0, 0);
	random_run(2, 30 * MSEC, 0, 0, 0);
	random_run(3, 30 * MSEC, 1 * MSEC, 0, 0);
	random_run(4, 30 * MSEC, 5 * MSEC, 0, 0);
	random_run(5, 30 * MSEC, 5 * MSEC, 2, 0);
	random_run(6, 80 * MSEC, 10 * MSEC, 10, 0);
	/* Bounds that err long, as a real one does for the queues its probes did not see. */
	random_run(7, 30 * MSEC, 0, 5, 60 * MSEC);
	random_run(8, 80 * MSEC, 0, 10, 60 * MSEC);
	random_run(9, 30 * MSEC, 5 * MSEC, 5, 60 * MSEC);
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

/*
 * Lanes: in-order traffic by lanes 0 and 1 alternately, a packet a
 * millisecond from counter *c until time `until`, so that the first skew
 * windows have passed (the first skew forgotten: nothing held back, the
 * slack alone).
 */
static uint64_t warm_up(struct reorder *r, struct log *l, uint32_t *c, uint64_t until)
{
	uint64_t t = 0;

	for (; t < until; t += MSEC, ++*c)
		add_by(r, l, t, 1, *c, *c & 1);
	reorder_tick(r, t, 0, record, l);
	assert_int_equal(reorder_skew(r), REORDER_SKEW_SLACK_NS);
	return t;
}

/*
 * 8. Lanes that keep their order: a gap both have gone past is a loss, given
 * up on early; so is a burst of them, at once.
 */
static void test_lanes_loss(void **state)
{
	const uint64_t bound = 100 * MSEC;
	struct reorder r = { 0 };
	struct log *l = calloc(1, sizeof(*l));
	uint32_t c = 0;
	uint64_t t;
	size_t n;

	(void)state;
	assert_int_equal(reorder_init(&r), 0);
	t = warm_up(&r, l, &c, 2100 * MSEC);
	n = l->n;
	/* c is lost; c + 1 comes by lane 0, c + 2 by lane 1 one millisecond later. */
	add_by(&r, l, t, 1, c + 1, 0);
	assert_int_equal(reorder_deadline(&r, t, bound), t + bound);	/* lane 1 not past yet */
	add_by(&r, l, t + MSEC, 1, c + 2, 1);
	assert_int_equal(reorder_deadline(&r, t + MSEC, bound), t + MSEC + REORDER_SKEW_SLACK_NS);
	assert_int_equal(l->n, n);
	reorder_tick(&r, t + MSEC + REORDER_SKEW_SLACK_NS, bound, record, l);
	assert_int_equal(l->n, n + 2);
	assert_int_equal(l->seq[n], c + 1);
	assert_int_equal(l->seq[n + 1], c + 2);
	assert_int_equal(r.stats.gave_up, 1);
	assert_int_equal(r.stats.gave_up_early, 1);
	/* A burst: c, c + 2 and c + 4 lost; the gaps after the first go in the same tick. */
	c += 3;
	t += 10 * MSEC;
	add_by(&r, l, t, 1, c + 1, 0);
	add_by(&r, l, t, 1, c + 3, 0);
	add_by(&r, l, t, 1, c + 5, 0);
	add_by(&r, l, t + MSEC, 1, c + 6, 1);
	reorder_tick(&r, t + MSEC + REORDER_SKEW_SLACK_NS, bound, record, l);
	assert_int_equal(r.count, 0);
	assert_int_equal(r.stats.gave_up_early, 4);
	reorder_free(&r);
	free(l);
}

/* 9. A quiet lane is not waited for; a lane without a packet past the gap is, its bound. */
static void test_lanes_quiet(void **state)
{
	const uint64_t bound = 100 * MSEC;
	struct reorder r = { 0 };
	struct log *l = calloc(1, sizeof(*l));
	uint32_t c = 0;
	uint64_t t;

	(void)state;
	assert_int_equal(reorder_init(&r), 0);
	t = warm_up(&r, l, &c, 2100 * MSEC);
	/* Lane 1 falls silent; lane 0 carries on, in order, until lane 1 is quiet. */
	for (; t < 2100 * MSEC + REORDER_LANE_QUIET_NS; t += MSEC)
		add_by(&r, l, t, 1, c++, 0);
	add_by(&r, l, t, 1, c + 1, 0);		/* c lost */
	assert_int_equal(reorder_deadline(&r, t, bound), t + REORDER_SKEW_SLACK_NS);
	reorder_tick(&r, t + REORDER_SKEW_SLACK_NS, bound, record, l);
	assert_int_equal(r.stats.gave_up_early, 1);
	/* Lane 1 speaks again, and has gone past nothing: the next gap waits for it. */
	add_by(&r, l, t + 2 * MSEC, 1, c + 2, 1);
	add_by(&r, l, t + 3 * MSEC, 1, c + 4, 0);		/* c + 3 missing */
	assert_int_equal(reorder_deadline(&r, t + 3 * MSEC, bound), t + 3 * MSEC + bound);
	reorder_free(&r);
	free(l);
}

/*
 * 10. A lane that holds a packet back behind a later one teaches the skew:
 * the next gap every lane has gone past waits that long (and the slack).
 */
static void test_lanes_skew(void **state)
{
	const uint64_t bound = 100 * MSEC;
	struct reorder r = { 0 };
	struct log *l = calloc(1, sizeof(*l));
	uint32_t c = 0;
	uint64_t t;

	(void)state;
	assert_int_equal(reorder_init(&r), 0);
	t = warm_up(&r, l, &c, 2100 * MSEC);
	/* c and c + 1 by lane 1, swapped: c comes 5 ms after lane 1 went past it. */
	add_by(&r, l, t, 1, c + 1, 1);
	add_by(&r, l, t + 5 * MSEC, 1, c, 1);
	assert_int_equal(r.stats.gave_up, 0);
	c += 2;
	/* c lost; lane 0 and lane 1 go past it. */
	add_by(&r, l, t + 6 * MSEC, 1, c + 1, 0);
	add_by(&r, l, t + 7 * MSEC, 1, c + 2, 1);
	assert_int_equal(reorder_deadline(&r, t + 7 * MSEC, bound),
			 t + 12 * MSEC + REORDER_SKEW_SLACK_NS);
	/* Two windows later without another such swap, the skew is forgotten. */
	reorder_tick(&r, t + 12 * MSEC + REORDER_SKEW_SLACK_NS, bound, record, l);
	assert_int_equal(r.stats.gave_up_early, 1);
	c += 3;
	t += 2 * REORDER_SKEW_WINDOW_NS + 10 * MSEC;
	add_by(&r, l, t, 1, c + 1, 0);
	add_by(&r, l, t, 1, c + 2, 1);
	add_by(&r, l, t, 1, c, 1);		/* late in its lane: a sample for this window */
	add_by(&r, l, t, 1, c + 4, 0);
	add_by(&r, l, t, 1, c + 5, 1);
	assert_int_equal(reorder_deadline(&r, t, bound), t + REORDER_SKEW_SLACK_NS);
	reorder_free(&r);
	free(l);
}

/*
 * 11. A gap given up on early whose packet still comes (its lane held it
 * back longer than any before) teaches the skew as well; one given up at
 * its bound teaches the bound.
 */
static void test_lanes_late(void **state)
{
	const uint64_t bound = 100 * MSEC;
	struct reorder r = { 0 };
	struct log *l = calloc(1, sizeof(*l));
	uint32_t c = 0;
	uint64_t t;

	(void)state;
	assert_int_equal(reorder_init(&r), 0);
	t = warm_up(&r, l, &c, 2100 * MSEC);
	add_by(&r, l, t, 1, c + 1, 0);
	add_by(&r, l, t, 1, c + 2, 1);
	reorder_tick(&r, t + REORDER_SKEW_SLACK_NS, bound, record, l);
	assert_int_equal(r.stats.gave_up_early, 1);
	add_by(&r, l, t + 8 * MSEC, 1, c, 1);	/* 8 ms after both lanes went past it */
	assert_int_equal(r.stats.late, 1);
	assert_int_equal(reorder_take_late_by(&r), 0);	/* not the bound's fault */
	c += 3;
	add_by(&r, l, t + 9 * MSEC, 1, c + 1, 0);
	add_by(&r, l, t + 9 * MSEC, 1, c + 2, 1);
	assert_int_equal(reorder_deadline(&r, t + 9 * MSEC, bound),
			 t + 17 * MSEC + REORDER_SKEW_SLACK_NS);
	reorder_tick(&r, t + 17 * MSEC + REORDER_SKEW_SLACK_NS, bound, record, l);
	/*
	 * A late packet teaches what its own gap was given up by: c at its bound
	 * (lane 1 never went past it), then c + 2 early; c comes 20 ms after its
	 * bound: the bound was short, the skew was not.
	 */
	c += 3;
	t += 30 * MSEC;
	add_by(&r, l, t, 1, c + 1, 0);
	reorder_tick(&r, t + bound, bound, record, l);
	assert_int_equal(r.stats.gave_up - r.stats.gave_up_early, 1);
	add_by(&r, l, t + bound + MSEC, 1, c + 3, 0);
	add_by(&r, l, t + bound + MSEC, 1, c + 4, 1);
	reorder_tick(&r, t + bound + 10 * MSEC + REORDER_SKEW_SLACK_NS, bound, record, l);
	assert_int_equal(r.stats.gave_up_early, 3);
	add_by(&r, l, t + bound + 20 * MSEC, 1, c, 1);
	assert_int_equal(reorder_take_late_by(&r), 20 * MSEC);
	assert_int_equal(reorder_skew(&r), 8 * MSEC + REORDER_SKEW_SLACK_NS);
	reorder_free(&r);
	free(l);
}

/* 12. A new keypair starts its lanes over: counters of the old one are past nothing. */
static void test_lanes_rotation(void **state)
{
	const uint64_t bound = 100 * MSEC;
	struct reorder r = { 0 };
	struct log *l = calloc(1, sizeof(*l));
	uint32_t c = 0;
	uint64_t t;

	(void)state;
	assert_int_equal(reorder_init(&r), 0);
	t = warm_up(&r, l, &c, 2100 * MSEC);
	add_by(&r, l, t, 2, 0, 0);
	add_by(&r, l, t, 2, 2, 0);		/* 1 missing; lane 1 has only old counters */
	add_by(&r, l, t, 2, 5, 0);		/* 3 and 4 missing */
	assert_int_equal(reorder_deadline(&r, t, bound), t + bound);
	add_by(&r, l, t + MSEC, 2, 1, 0);	/* 1, 2 go; 3 is the gap now */
	assert_int_equal(reorder_deadline(&r, t + MSEC, bound), t + bound);
	add_by(&r, l, t + MSEC, 2, 6, 1);
	/* Lane 0 held 1 back behind 2 for a millisecond: that is the skew now. */
	assert_int_equal(reorder_deadline(&r, t + MSEC, bound),
			 t + 2 * MSEC + REORDER_SKEW_SLACK_NS);
	/* The caller's paths are numbered anew: no lane is known to be past anything. */
	reorder_forget_lanes(&r);
	assert_int_equal(reorder_deadline(&r, t + MSEC, bound), t + bound);
	reorder_free(&r);
	free(l);
}

/*
 * 13. Holds: a packet by a held lane waits its hold though nothing before it
 * is missing, one by an unheld lane behind it waits for it, the tick
 * releases them when due; a gap still waits its bound; a flush takes all.
 */
static void test_holds(void **state)
{
	const uint64_t bound = 50 * MSEC, hold = 20 * MSEC;
	struct reorder r = { 0 };
	struct log *l = calloc(1, sizeof(*l));
	uint8_t pkt[40] = { 0 };
	uint32_t c;

	(void)state;
	assert_int_equal(reorder_init(&r), 0);
	for (c = 0; c < 2; c++) {		/* 0 and 1 by lane 0, held 20 ms */
		memcpy(pkt, &c, 4);
		reorder_add(&r, c * MSEC, 1, c, 0, hold, pkt, sizeof(pkt), record, l);
	}
	add_by(&r, l, 5 * MSEC, 1, 2, 1);	/* by lane 1, unheld: waits for 0 and 1 */
	assert_int_equal(l->n, 0);
	assert_int_equal(reorder_deadline(&r, 5 * MSEC, bound), hold);
	assert_int_equal(reorder_tick(&r, hold - 1, bound, record, l), hold);
	assert_int_equal(l->n, 0);
	assert_int_equal(reorder_tick(&r, hold, bound, record, l), hold + MSEC);
	expect(l, (const uint32_t[]){ 0 }, 1);
	reorder_tick(&r, hold + MSEC, bound, record, l);
	expect(l, (const uint32_t[]){ 0, 1, 2 }, 3);
	assert_int_equal(r.count, 0);
	/* A gap before a held packet waits its bound from when that packet came. */
	c = 4;
	memcpy(pkt, &c, 4);
	reorder_add(&r, 30 * MSEC, 1, 4, 0, hold, pkt, sizeof(pkt), record, l);
	assert_int_equal(reorder_deadline(&r, 30 * MSEC, bound), 30 * MSEC + bound);
	add_by(&r, l, 40 * MSEC, 1, 3, 1);	/* 3 fills the gap and goes; 4 waits its hold */
	expect(l, (const uint32_t[]){ 0, 1, 2, 3 }, 4);
	assert_int_equal(reorder_deadline(&r, 40 * MSEC, bound), 30 * MSEC + hold);
	/* Held packets go at once, in order, when the buffer is flushed. */
	for (c = 5; c < 7; c++) {
		memcpy(pkt, &c, 4);
		reorder_add(&r, 41 * MSEC, 1, c, 0, hold, pkt, sizeof(pkt), record, l);
	}
	reorder_flush(&r, 41 * MSEC, record, l);
	expect(l, (const uint32_t[]){ 0, 1, 2, 3, 4, 5, 6 }, 7);
	assert_int_equal(r.stats.gave_up, 0);
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
		cmocka_unit_test(test_lanes_loss),
		cmocka_unit_test(test_lanes_quiet),
		cmocka_unit_test(test_lanes_skew),
		cmocka_unit_test(test_lanes_late),
		cmocka_unit_test(test_lanes_rotation),
		cmocka_unit_test(test_holds),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
