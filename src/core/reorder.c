// SPDX-License-Identifier: MIT
/*
 * The receive reorder buffer (see reorder.h): a ring of REORDER_SLOTS fixed
 * slots indexed by counter, for the counters [next, next + REORDER_SLOTS).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "messages.h"
#include "reorder.h"

struct slot_head {
	uint32_t len;
	bool is_filled;
	uint64_t arrived;
};

enum { SLOT_DATA_MAX = REORDER_SLOT_LEN - sizeof(struct slot_head) };

static struct slot_head *slot(const struct reorder *r, uint64_t c)
{
	return (struct slot_head *)(r->arena + (c & (REORDER_SLOTS - 1)) * REORDER_SLOT_LEN);
}

static uint8_t *slot_data(struct slot_head *s)
{
	return (uint8_t *)(s + 1);
}

void reorder_forget_lanes(struct reorder *r)
{
	for (unsigned int i = 0; i < REORDER_LANES; i++) {
		r->lanes[i].last = BRAID_NEVER;
		r->lanes[i].n = 0;
	}
}

int reorder_init(struct reorder *r)
{
	if (r->arena)
		return 0;
	memset(r, 0, sizeof(*r));
	reorder_forget_lanes(r);
	r->arena = calloc(REORDER_SLOTS, REORDER_SLOT_LEN);
	return r->arena ? 0 : -ENOMEM;
}

void reorder_free(struct reorder *r)
{
	if (r->arena) {
		/* Plaintext: wipe it. */
		memset(r->arena, 0, (size_t)REORDER_SLOTS * REORDER_SLOT_LEN);
		free(r->arena);
	}
	memset(r, 0, sizeof(*r));
}

static void note_hold(struct reorder *r, uint64_t waited_ns)
{
	uint64_t b = waited_ns / 1000 / REORDER_HOLD_BUCKET_US;

	r->stats.holds[b < REORDER_HOLD_BUCKETS ? b : REORDER_HOLD_BUCKETS - 1]++;
}

/* ---- How much a lane holds a packet back ---- */

static void skew_rotate(struct reorder *r, uint64_t now)
{
	if (!r->skew_window_start) {
		r->skew_window_start = now ? now : 1;
		return;
	}
	if (now < r->skew_window_start + REORDER_SKEW_WINDOW_NS)
		return;
	r->skew[1] = now < r->skew_window_start + 2 * REORDER_SKEW_WINDOW_NS ? r->skew[0] : 0;
	r->skew[0] = 0;
	r->skew_window_start = now;
	r->is_skew_known = true;
}

static void skew_sample(struct reorder *r, uint64_t now, uint64_t held_back)
{
	skew_rotate(r, now);
	if (held_back > r->skew[0])
		r->skew[0] = held_back;
}

static uint64_t skew(const struct reorder *r)
{
	return (r->skew[0] > r->skew[1] ? r->skew[0] : r->skew[1]) + REORDER_SKEW_SLACK_NS;
}

/* ---- Lanes ---- */

static unsigned int mark_at(const struct reorder_lane *ln, unsigned int i)
{
	return (ln->first + i) % REORDER_LANE_MARKS;
}

/* Counter c came by ln at now: a new mark if it is the highest yet (one per instant). */
static void lane_rise(struct reorder_lane *ln, uint64_t now, uint64_t c)
{
	unsigned int newest = mark_at(ln, ln->n - 1);

	if (ln->n && c < ln->mark[newest].high)
		return;
	if (ln->n && now <= ln->mark[newest].at) {
		ln->mark[newest].high = c + 1;
		return;
	}
	if (ln->n == REORDER_LANE_MARKS) {
		ln->first = mark_at(ln, 1);
		ln->n--;
	}
	newest = mark_at(ln, ln->n++);
	ln->mark[newest].high = c + 1;
	ln->mark[newest].at = now;
}

/* When ln went past counter c (BRAID_NEVER: it has not): its first mark above c. */
static uint64_t lane_passed(const struct reorder_lane *ln, uint64_t c)
{
	unsigned int lo = 0, hi = ln->n;

	if (!ln->n || ln->mark[mark_at(ln, ln->n - 1)].high <= c)
		return BRAID_NEVER;
	while (lo < hi) {
		unsigned int mid = (lo + hi) / 2;

		if (ln->mark[mark_at(ln, mid)].high > c)
			hi = mid;
		else
			lo = mid + 1;
	}
	return ln->mark[mark_at(ln, lo)].at;
}

/*
 * When every lane that is not quiet had gone past the gap at next;
 * BRAID_NEVER while one has not, or none is known.
 */
static uint64_t all_passed(const struct reorder *r, uint64_t now)
{
	uint64_t t = 0, passed;
	bool any = false;

	for (unsigned int i = 0; i < REORDER_LANES; i++) {
		const struct reorder_lane *ln = &r->lanes[i];

		if (ln->last == BRAID_NEVER || (now > ln->last && now - ln->last >= REORDER_LANE_QUIET_NS))
			continue;
		passed = lane_passed(ln, r->next);
		if (passed == BRAID_NEVER)
			return BRAID_NEVER;
		t = passed > t ? passed : t;
		any = true;
	}
	return any ? t : BRAID_NEVER;
}

static uint64_t early_deadline(const struct reorder *r, uint64_t now)
{
	uint64_t t;

	if (!r->count || !r->is_skew_known)
		return BRAID_NEVER;
	t = all_passed(r, now);
	return t == BRAID_NEVER ? t : t + skew(r);
}

/* The gap at next is new: find the held packet that has waited longest. */
static void new_gap(struct reorder *r)
{
	unsigned int seen = 0;

	r->oldest = BRAID_NEVER;
	for (uint64_t c = r->next; seen < r->count && c < r->high; c++) {
		const struct slot_head *s = slot(r, c);

		if (!s->is_filled)
			continue;
		seen++;
		if (s->arrived < r->oldest)
			r->oldest = s->arrived;
	}
}

/* ---- The buffer ---- */

/* The next counter's slot: deliver what it holds, or count it given up; then move on. */
static void advance(struct reorder *r, uint64_t now, reorder_deliver_fn *fn, void *ctx)
{
	struct slot_head *s = slot(r, r->next);

	if (s->is_filled) {
		note_hold(r, now - s->arrived);
		r->stats.released++;
		if (s->len)
			fn(ctx, slot_data(s), s->len);
		s->is_filled = false;
		r->count--;
	} else {
		r->stats.gave_up++;
		r->gave_up_at = now;
	}
	r->next++;
}

uint64_t reorder_take_late_by(struct reorder *r)
{
	uint64_t late_by = r->late_by;

	r->late_by = 0;
	return late_by;
}

/*
 * A packet whose gap was given up on: how long after that it came. Given up
 * early, its lane held it back longer than the skew: by as long as it came
 * after every lane had gone past it.
 */
static void note_late(struct reorder *r, uint64_t now)
{
	r->stats.late++;
	if (now <= r->gave_up_at)
		return;
	if (r->was_early)
		skew_sample(r, now, now - r->early_from);
	else if (now - r->gave_up_at > r->late_by)
		r->late_by = now - r->gave_up_at;
}

/* Release the run of filled slots at next. */
static void release_run(struct reorder *r, uint64_t now, reorder_deliver_fn *fn, void *ctx)
{
	while (r->count && slot(r, r->next)->is_filled)
		advance(r, now, fn, ctx);
}

void reorder_flush(struct reorder *r, uint64_t now, reorder_deliver_fn *fn, void *ctx)
{
	r->was_early = false;
	while (r->count)
		advance(r, now, fn, ctx);
	if (r->high > r->next)
		r->next = r->high;
	new_gap(r);
}

static void deliver_now(uint8_t *pkt, size_t len, reorder_deliver_fn *fn, void *ctx)
{
	if (len)
		fn(ctx, pkt, len);
}

/*
 * Counter c came by lane: if that lane had gone past c while c was the gap,
 * it held c back that long.
 */
static void lane_add(struct reorder *r, uint64_t now, int lane, uint64_t c)
{
	struct reorder_lane *ln;
	uint64_t passed;

	if (lane < 0 || lane >= REORDER_LANES)
		return;
	ln = &r->lanes[lane];
	skew_rotate(r, now);
	if (c == r->next && r->count) {
		passed = lane_passed(ln, c);
		if (passed != BRAID_NEVER && now > passed)
			skew_sample(r, now, now - passed);
	}
	ln->last = now;
	lane_rise(ln, now, c);
}

void reorder_add(struct reorder *r, uint64_t now, uint64_t keypair_id, uint64_t c, int lane,
		 const uint8_t *pkt, size_t len, reorder_deliver_fn *fn, void *ctx)
{
	struct slot_head *s;

	if (!r->arena || len > SLOT_DATA_MAX) {
		deliver_now((uint8_t *)pkt, len, fn, ctx);
		return;
	}
	/* A buffer put in place mid-session starts with the first counter it sees. */
	if (!r->is_started) {
		r->is_started = true;
		r->keypair_id = keypair_id;
		r->next = r->high = c;
	}
	if (keypair_id != r->keypair_id) {
		if (keypair_id < r->keypair_id) {
			r->stats.late++;
			deliver_now((uint8_t *)pkt, len, fn, ctx);
			return;
		}
		/* A newer session: the old one's packets go first. */
		reorder_flush(r, now, fn, ctx);
		r->keypair_id = keypair_id;
		r->next = r->high = 0;
		for (unsigned int i = 0; i < REORDER_LANES; i++)
			r->lanes[i].n = 0;
	}
	lane_add(r, now, lane, c);
	if (c < r->next) {
		note_late(r, now);
		deliver_now((uint8_t *)pkt, len, fn, ctx);
		return;
	}
	if (c >= r->next + REORDER_SLOTS) {
		/* Too far ahead to wait for everything before it: release, then skip. */
		reorder_flush(r, now, fn, ctx);
		if (c >= r->next + REORDER_SLOTS) {
			r->stats.gave_up += c + 1 - REORDER_SLOTS - r->next;
			r->next = c + 1 - REORDER_SLOTS;
		}
	}
	if (c == r->next) {
		deliver_now((uint8_t *)pkt, len, fn, ctx);
		r->next++;
		if (r->count) {
			release_run(r, now, fn, ctx);
			new_gap(r);
		}
		return;
	}
	s = slot(r, c);
	if (s->is_filled)
		return;		/* the replay window lets no copy through; be safe anyway */
	memcpy(slot_data(s), pkt, len);
	s->len = (uint32_t)len;
	s->is_filled = true;
	s->arrived = now;
	if (!r->count++ || now < r->oldest)
		r->oldest = now;
	r->stats.held++;
	if (c + 1 > r->high)
		r->high = c + 1;
}

uint64_t reorder_deadline(const struct reorder *r, uint64_t now, uint64_t bound)
{
	uint64_t early = early_deadline(r, now);

	if (!r->count)
		return BRAID_NEVER;
	return r->oldest + bound < early ? r->oldest + bound : early;
}

uint64_t reorder_tick(struct reorder *r, uint64_t now, uint64_t bound,
		      reorder_deliver_fn *fn, void *ctx)
{
	uint64_t deadline, early, gave_up;

	skew_rotate(r, now);
	/* Skip gaps until none has waited its bound or its lanes' skew. */
	while ((deadline = reorder_deadline(r, now, bound)) <= now) {
		early = early_deadline(r, now);
		r->was_early = early < r->oldest + bound;
		r->early_from = r->was_early ? all_passed(r, now) : 0;
		gave_up = r->stats.gave_up;
		do
			advance(r, now, fn, ctx);
		while (r->count && !slot(r, r->next)->is_filled);
		if (r->was_early)
			r->stats.gave_up_early += r->stats.gave_up - gave_up;
		release_run(r, now, fn, ctx);
		new_gap(r);
	}
	return deadline;
}
