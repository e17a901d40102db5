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

/* How a counter was given up on, for what a late packet of it teaches. */
enum skipped {
	SKIPPED,		/* to make room, or flushed: nothing */
	SKIPPED_AT_BOUND,	/* the bound was too short */
	SKIPPED_EARLY,		/* the skew was */
};

/* A slot holds a packet, or remembers the counter given up on last. */
struct slot_head {
	uint64_t counter;
	uint64_t arrived;		/* held: when it came */
	uint64_t due;			/* held: not released before (its lane's hold) */
	uint64_t overdue_since;		/* given up on: the bound's end, or when every lane was past */
	uint32_t len;
	bool is_filled;
	uint8_t skipped;		/* enum skipped */
};

enum { SLOT_DATA_MAX = REORDER_SLOT_LEN - sizeof(struct slot_head) };

/*
 * The held counters, in the order they came: each lies within a window of
 * next, and next moved at most a window since the first of them was held.
 */
enum { HELD_RING = 2 * REORDER_SLOTS };

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
	r->lanes_since = BRAID_NEVER;
}

int reorder_init(struct reorder *r)
{
	if (r->arena)
		return 0;
	memset(r, 0, sizeof(*r));
	reorder_forget_lanes(r);
	r->arena = calloc(REORDER_SLOTS, REORDER_SLOT_LEN);
	r->held = calloc(HELD_RING, sizeof(*r->held));
	if (!r->arena || !r->held) {
		reorder_free(r);
		return -ENOMEM;
	}
	return 0;
}

void reorder_free(struct reorder *r)
{
	if (r->arena) {
		/* Plaintext: wipe it. */
		memset(r->arena, 0, (size_t)REORDER_SLOTS * REORDER_SLOT_LEN);
		free(r->arena);
	}
	free(r->held);
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
		r->skew[0] = REORDER_SKEW_FIRST_NS;
		return;
	}
	if (now < r->skew_window_start + REORDER_SKEW_WINDOW_NS)
		return;
	r->skew[1] = now < r->skew_window_start + 2 * REORDER_SKEW_WINDOW_NS ? r->skew[0] : 0;
	r->skew[0] = 0;
	r->skew_window_start = now;
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

uint64_t reorder_skew(const struct reorder *r)
{
	return r->skew_window_start ? skew(r) : 0;
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

/*
 * When the gap at next may go early. A lane not seen yet cannot be waited
 * for, but one that exists shows itself within the bound: until the lanes
 * have been watched that long, no earlier.
 */
static uint64_t early_deadline(const struct reorder *r, uint64_t now, uint64_t bound)
{
	uint64_t t;

	if (!r->count || r->lanes_since == BRAID_NEVER)
		return BRAID_NEVER;
	t = all_passed(r, now);
	if (t == BRAID_NEVER)
		return t;
	t += skew(r);
	return t > r->lanes_since + bound ? t : r->lanes_since + bound;
}

/*
 * The gap at next is new: the held packet that has waited longest is the
 * first in the ring still held (a counter from next on: only release_next()
 * releases, in counter order).
 */
static void new_gap(struct reorder *r)
{
	while (r->held_n && r->held[r->held_first] < r->next) {
		r->held_first = (r->held_first + 1) % HELD_RING;
		r->held_n--;
	}
	r->oldest = r->held_n ? slot(r, r->held[r->held_first])->arrived : BRAID_NEVER;
}

/* ---- The buffer ---- */

/* Deliver the packet held at next, and move on. */
static void release_next(struct reorder *r, uint64_t now, reorder_deliver_fn *fn, void *ctx)
{
	struct slot_head *s = slot(r, r->next);

	note_hold(r, now - s->arrived);
	r->stats.released++;
	if (s->len)
		fn(ctx, slot_data(s), s->len);
	s->is_filled = false;
	r->count--;
	r->next++;
}

/* Give up on the missing counter at next, remembering how, and move on. */
static void skip_next(struct reorder *r, enum skipped how, uint64_t overdue_since)
{
	struct slot_head *s = slot(r, r->next);

	s->counter = r->next;
	s->skipped = how;
	s->overdue_since = overdue_since;
	r->stats.gave_up++;
	r->stats.gave_up_early += how == SKIPPED_EARLY;
	r->next++;
}

uint64_t reorder_take_late_by(struct reorder *r)
{
	uint64_t late_by = r->late_by;

	r->late_by = 0;
	return late_by;
}

/*
 * Counter c came after it was given up on: by how much the wait fell short.
 * Given up at its bound, the bound was short by as long as c came after;
 * given up early, its lane held it back by as long as it came after every
 * lane had gone past it.
 */
static void note_late(struct reorder *r, uint64_t now, uint64_t c)
{
	struct slot_head *s = slot(r, c);
	uint64_t short_by;

	r->stats.late++;
	if (s->is_filled || s->counter != c || now <= s->overdue_since)
		return;		/* the slot serves a later counter now */
	short_by = now - s->overdue_since;
	if (s->skipped == SKIPPED_EARLY)
		skew_sample(r, now, short_by);
	else if (s->skipped == SKIPPED_AT_BOUND && short_by > r->late_by)
		r->late_by = short_by;
}

/* Release the run of filled slots at next whose hold is over. */
static void release_run(struct reorder *r, uint64_t now, reorder_deliver_fn *fn, void *ctx)
{
	struct slot_head *s;

	while (r->count && (s = slot(r, r->next))->is_filled && s->due <= now)
		release_next(r, now, fn, ctx);
}

void reorder_flush(struct reorder *r, uint64_t now, reorder_deliver_fn *fn, void *ctx)
{
	while (r->count) {
		if (slot(r, r->next)->is_filled)
			release_next(r, now, fn, ctx);
		else
			skip_next(r, SKIPPED, 0);
	}
	if (r->high > r->next)
		r->next = r->high;
	r->held_n = 0;
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
	if (r->lanes_since == BRAID_NEVER)
		r->lanes_since = now;
	if (c == r->next && r->count) {
		passed = lane_passed(ln, c);
		if (passed != BRAID_NEVER && now > passed)
			skew_sample(r, now, now - passed);
	}
	ln->last = now;
	lane_rise(ln, now, c);
}

void reorder_add(struct reorder *r, uint64_t now, uint64_t keypair_id, uint64_t c, int lane,
		 uint64_t hold, const uint8_t *pkt, size_t len, reorder_deliver_fn *fn, void *ctx)
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
		note_late(r, now, c);
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
	if (c == r->next && !hold) {
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
	s->due = now + hold;
	s->counter = c;
	if (r->held_n == HELD_RING)
		new_gap(r);	/* full only of released counters, if ever: see HELD_RING */
	r->held[(r->held_first + r->held_n++) % HELD_RING] = c;
	if (!r->count++ || now < r->oldest)
		r->oldest = now;
	r->stats.held++;
	if (c + 1 > r->high)
		r->high = c + 1;
}

uint64_t reorder_deadline(const struct reorder *r, uint64_t now, uint64_t bound)
{
	uint64_t early;

	if (!r->count)
		return BRAID_NEVER;
	/* No gap at next: its packet waits out its hold. */
	if (slot(r, r->next)->is_filled)
		return slot(r, r->next)->due;
	early = early_deadline(r, now, bound);
	return r->oldest + bound < early ? r->oldest + bound : early;
}

uint64_t reorder_tick(struct reorder *r, uint64_t now, uint64_t bound,
		      reorder_deliver_fn *fn, void *ctx)
{
	uint64_t deadline, since;
	enum skipped how;

	skew_rotate(r, now);
	/*
	 * Release what waited out its hold; skip gaps until none has waited its
	 * bound or its lanes' skew.
	 */
	while ((deadline = reorder_deadline(r, now, bound)) <= now) {
		if (!slot(r, r->next)->is_filled) {
			if (early_deadline(r, now, bound) < r->oldest + bound) {
				how = SKIPPED_EARLY;
				since = all_passed(r, now);
			} else {
				how = SKIPPED_AT_BOUND;
				since = now;
			}
			do
				skip_next(r, how, since);
			while (r->count && !slot(r, r->next)->is_filled);
		}
		release_run(r, now, fn, ctx);
		new_gap(r);
	}
	return deadline;
}
