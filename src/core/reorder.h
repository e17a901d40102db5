/* SPDX-License-Identifier: MIT */
/*
 * The receive reorder buffer of an aggregating peer. Its packets come by
 * paths of different delay, so they arrive out of counter order; an inner
 * TCP flow would take that for loss. This buffer releases them in counter
 * order: a packet that fills the next counter goes at once with whatever
 * waited behind it; one after a gap waits until the gap fills or has waited
 * `bound` (derived from the paths' delay difference and jitter by the
 * caller), and then the gap is given up on. A packet that comes after its
 * gap was given up on is delivered at once: late beats lost.
 *
 * A gap need not wait its whole bound when it is a loss: each packet comes
 * by a lane (the caller's path), and a lane keeps its packets' order but for
 * its jitter. Once every lane that is not quiet has brought a counter past
 * the gap, the missing packet would have come by now, unless its own lane
 * held it back; the gap waits for that skew, the most any lane was seen to
 * hold a packet back behind a later one lately (REORDER_SKEW_WINDOW_NS, two
 * of them), and is then given up on; not before the lanes have been watched
 * for a bound, though (a lane not seen yet may exist). The first window
 * starts from REORDER_SKEW_FIRST_NS, enough for a few ms of jitter: a
 * flow's first losses, in its slow start, cost the most to wait for.
 *
 * A lane may also have a hold: its packets wait that long after they came
 * even when nothing before them is missing. The caller holds its faster
 * paths' packets so that every packet leaves about as late as by the
 * slowest: a flow inside then sees one delay whichever path carried it.
 *
 * Counters belong to a keypair: when packets of a newer keypair arrive,
 * everything the older one holds is released first, in order, and a late
 * packet of the older keypair is delivered at once.
 *
 * Memory is one arena of REORDER_SLOTS fixed slots (and a ring of twice as
 * many counters, the order they came in), allocated when the peer starts
 * aggregating; a packet is copied in (the caller's buffers live only
 * during its call), and a packet too large for a slot is not held. Counters
 * that carry nothing to deliver (keepalives, control messages, packets the
 * allowed-IPs check refused) still fill their place. Control plane only.
 */
#ifndef BRAID_REORDER_H
#define BRAID_REORDER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum {
	REORDER_SLOTS = 2048,		/* counters held ahead of the next one, a power of two */
	REORDER_SLOT_LEN = 2048,	/* bytes per slot, the packet and its length */
	REORDER_HOLD_BUCKET_US = 2000,	/* hold times by steps of 2 ms, */
	REORDER_HOLD_BUCKETS = 128,	/* the last one for all from 254 ms on */
	REORDER_LANES = 8,		/* lanes 0 to REORDER_LANES - 1 */
	REORDER_LANE_MARKS = 32,	/* when a lane's counters rose, the last so many times */
};

#define REORDER_SKEW_WINDOW_NS 1000000000ULL	/* the skew is the most of one or two of these */
#define REORDER_SKEW_SLACK_NS 1000000ULL	/* and this on top */
#define REORDER_SKEW_FIRST_NS 10000000ULL	/* what the first window starts with */
#define REORDER_LANE_QUIET_NS 2000000000ULL	/* a lane this long without a packet is not waited for */

struct reorder_stats {
	uint64_t released;		/* packets delivered in order after waiting */
	uint64_t held;			/* packets that waited: for a gap, or their hold */
	uint64_t gave_up;		/* counters skipped: at their bound, early, to make room */
	uint64_t late;			/* packets that came after their gap was skipped */
	uint64_t gave_up_early;		/* of gave_up, before their bound: every lane was past them */
	uint64_t holds[REORDER_HOLD_BUCKETS];	/* bucket i: held [2i, 2i + 2) ms */
};

typedef void reorder_deliver_fn(void *ctx, uint8_t *pkt, size_t len);

/*
 * What came by one lane, in counters of the current keypair: when it went
 * past a counter is the first mark above it (a counter older than every mark
 * is taken to have been passed at the oldest, which errs on the side of
 * waiting).
 */
struct reorder_lane {
	uint64_t last;			/* when the last packet came; BRAID_NEVER: none yet */
	unsigned int first, n;		/* the oldest mark, how many */
	struct {
		uint64_t high;		/* one past the highest counter, */
		uint64_t at;		/* from this time on */
	} mark[REORDER_LANE_MARKS];
};

struct reorder {
	uint8_t *arena;			/* REORDER_SLOTS * REORDER_SLOT_LEN; NULL: not in use */
	uint64_t *held;			/* counters in the order they were held (a ring) */
	unsigned int held_first, held_n;
	uint64_t keypair_id;		/* whose counters */
	uint64_t next;			/* the next counter to release */
	uint64_t high;			/* one past the highest counter held */
	unsigned int count;		/* slots filled */
	bool is_started;		/* next is known: the first counter has come */
	uint64_t oldest;		/* when the held packet that waited longest came */
	uint64_t late_by;		/* the most a late packet came after its bound, since last read */
	struct reorder_lane lanes[REORDER_LANES];
	uint64_t lanes_since;		/* watched since (the first, or since forgotten) */
	uint64_t skew[2];		/* the most a lane held a packet back, this window and the last */
	uint64_t skew_window_start;	/* 0: the first window has not begun */
	struct reorder_stats stats;
};

/* 0 or -ENOMEM: allocate the arena (an idempotent call when it exists). */
int reorder_init(struct reorder *r);
/* Release the arena; whatever it held is dropped. */
void reorder_free(struct reorder *r);

/*
 * Counter c of keypair keypair_id passed the replay check at now, with pkt
 * (len 0: nothing to deliver), by lane (-1: none known), to wait at least
 * hold ns. Delivers, through fn, what is in order and due now.
 */
void reorder_add(struct reorder *r, uint64_t now, uint64_t keypair_id, uint64_t c, int lane,
		 uint64_t hold, const uint8_t *pkt, size_t len, reorder_deliver_fn *fn, void *ctx);

/*
 * Release what waited out its hold, give up on every gap that has waited its
 * bound or its lanes' skew; the next deadline.
 */
uint64_t reorder_tick(struct reorder *r, uint64_t now, uint64_t bound,
		      reorder_deliver_fn *fn, void *ctx);

/*
 * When the packet at the head is due, or the gap there would be given up on
 * with this bound (BRAID_NEVER: nothing waits).
 */
uint64_t reorder_deadline(const struct reorder *r, uint64_t now, uint64_t bound);

/* The caller's lanes are numbered anew: forget what came by which (the skew stays). */
void reorder_forget_lanes(struct reorder *r);

/*
 * How much longer than its bound a gap would have had to wait, at most, for
 * the late packets since the last call: the caller's bound was too short by
 * this much. Reading it starts over. (A gap given up on early that turns out
 * to have been late teaches the skew instead.)
 */
uint64_t reorder_take_late_by(struct reorder *r);

/* How long a gap waits once every lane is past it; 0 before the first packet. */
uint64_t reorder_skew(const struct reorder *r);

/* Deliver everything held, in counter order, gaps skipped. */
void reorder_flush(struct reorder *r, uint64_t now, reorder_deliver_fn *fn, void *ctx);

#endif
