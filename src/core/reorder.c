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

int reorder_init(struct reorder *r)
{
	if (r->arena)
		return 0;
	memset(r, 0, sizeof(*r));
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

/* A packet whose gap was given up on: how long after that it came. */
static void note_late(struct reorder *r, uint64_t now)
{
	r->stats.late++;
	if (now > r->gave_up_at && now - r->gave_up_at > r->late_by)
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
	while (r->count)
		advance(r, now, fn, ctx);
	if (r->high > r->next)
		r->next = r->high;
}

static void deliver_now(uint8_t *pkt, size_t len, reorder_deliver_fn *fn, void *ctx)
{
	if (len)
		fn(ctx, pkt, len);
}

void reorder_add(struct reorder *r, uint64_t now, uint64_t keypair_id, uint64_t c,
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
	}
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
		release_run(r, now, fn, ctx);
		return;
	}
	s = slot(r, c);
	if (s->is_filled)
		return;		/* the replay window lets no copy through; be safe anyway */
	memcpy(slot_data(s), pkt, len);
	s->len = (uint32_t)len;
	s->is_filled = true;
	s->arrived = now;
	r->count++;
	r->stats.held++;
	if (c + 1 > r->high)
		r->high = c + 1;
}

/* When the packet that has waited longest arrived; BRAID_NEVER when none waits. */
static uint64_t oldest(const struct reorder *r)
{
	uint64_t t = BRAID_NEVER;
	unsigned int seen = 0;

	for (uint64_t c = r->next; seen < r->count && c < r->high; c++) {
		const struct slot_head *s = slot(r, c);

		if (!s->is_filled)
			continue;
		seen++;
		if (s->arrived < t)
			t = s->arrived;
	}
	return t;
}

uint64_t reorder_deadline(const struct reorder *r, uint64_t bound)
{
	uint64_t t = r->count ? oldest(r) : BRAID_NEVER;

	return t == BRAID_NEVER ? BRAID_NEVER : t + bound;
}

uint64_t reorder_tick(struct reorder *r, uint64_t now, uint64_t bound,
		      reorder_deliver_fn *fn, void *ctx)
{
	uint64_t deadline;

	/* Skip gaps until no held packet has waited its bound. */
	while ((deadline = reorder_deadline(r, bound)) <= now) {
		do
			advance(r, now, fn, ctx);
		while (r->count && !slot(r, r->next)->is_filled);
		release_run(r, now, fn, ctx);
	}
	return deadline;
}
