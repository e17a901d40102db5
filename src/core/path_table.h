/* SPDX-License-Identifier: MIT */
/*
 * The table of a multipath peer's paths, shared by the files that work on
 * it and by nothing else: path.c (the table, failover, sending, arrivals,
 * time), probe.c (braid's control messages: HELLO, probes, replies) and
 * aggregate.c (the scheduler, rates, the reorder buffer). path.h says what
 * the rest of the core may call.
 */
#ifndef BRAID_PATH_TABLE_H
#define BRAID_PATH_TABLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "aggregate.h"
#include "braid.h"
#include "messages.h"
#include "path.h"
#include "peer.h"
#include "probe.h"
#include "reorder.h"

struct path {
	struct braid_endpoint endpoint;	/* addr: the peer; src, src_ifindex: our side */
	char name[BRAID_PATH_NAME_LEN];
	uint8_t prio;
	enum braid_path_state state;
	bool is_configured;		/* else learned */
	bool is_usable;			/* its link, as the caller says; learned: always */
	bool pins_interface;		/* configured with an interface: leave by it */
	uint64_t srtt, rttvar;		/* 0: no sample yet */
	uint64_t last_rx, last_tx;		/* anything sent or received */
	uint64_t unanswered_since;	/* first send since the last arrival; BRAID_NEVER: none */
	unsigned int unanswered;	/* probes (braid) or sends (stock) since then */
	uint64_t rx_gap;		/* smoothed time between arrivals (each at most 2 s) */
	uint64_t healthy_since;		/* probing: answering since */
	uint64_t holddown_until;	/* failover avoids it until then */
	uint64_t holddown;		/* the next hold-down, doubled per flap */
	uint64_t last_failback;
	uint64_t next_probe;		/* BRAID_NEVER: none planned */
	uint64_t last_probe;
	uint64_t silence_exempt_until;	/* stock peer: answered a handshake probe */
	uint64_t probes_sent, probes_answered;
	uint32_t loss_ppm;
	uint64_t tx_bytes, rx_bytes, tx_packets, rx_packets, wins;
	/*
	 * Aggregation. Sending: what the path delivers, from the far end's
	 * reports, and when what the scheduler gave it will have left. One-way
	 * delays are in microseconds against the peer's reference (owd_ref),
	 * since the two clocks' offset is unknown but common to every path.
	 */
	uint64_t rate;			/* bits per second; 0: not measured yet */
	uint64_t cap;			/* the user's limit; 0: none */
	uint64_t busy_until;
	int64_t owd, owd_min[2];	/* the last report's delay, the minima of two windows */
	bool has_owd;
	uint64_t report_rx_bytes, report_us;	/* the far end's counter and clock at its last report */
	bool has_report;
	/*
	 * Receiving: the far end's probes by this path, their smoothed delay, its
	 * variation, and the extremes over the last one or two windows.
	 */
	int64_t rx_owd, rx_owdvar, rx_owd_lo[2], rx_owd_hi[2];
	bool has_rx_owd;
};

/* aggregate-flow: which path a flow took, kept while it is active so it never moves. */
struct flow_slot {
	uint32_t hash;
	uint8_t slot;
	uint64_t last;
};

enum { FLOW_SLOTS = 1024, FLOW_IDLE_NS = 30 * NSEC_PER_SEC };

struct multipath {
	enum braid_multipath mode;	/* ours */
	enum braid_multipath far_mode;	/* the peer's, from its control messages */
	bool far_evens;			/* the peer evens our paths' delays out (CONTROL_FLAG_EVENS) */
	enum braid_peer_kind kind;
	unsigned int n, n_configured;	/* configured slots first, then learned */
	int active;			/* failover: the slot carrying traffic; -1: none */
	int last_rx;			/* the slot of the last first arrival; -1: none */
	unsigned int hellos;		/* HELLOs sent this session without an answer */
	uint64_t next_hello;		/* BRAID_NEVER: none planned */
	uint32_t probe_seq;
	uint64_t reply_tokens, reply_last;	/* rate of probe replies */
	uint64_t next_deadline;
	/* Aggregation: the delay reference, the path of the burst under way, the receive order. */
	uint32_t owd_ref, rx_owd_ref;
	bool has_owd_ref, has_rx_owd_ref;
	uint64_t owd_window_start, rx_owd_window_start;
	int burst;			/* -1: none */
	size_t burst_left;
	struct flow_slot *flows;	/* aggregate-flow: FLOW_SLOTS, by flow hash; NULL: none */
	uint64_t reorder_since;		/* when the reorder buffer started */
	uint64_t reorder_extra[2];	/* what late packets showed the bound lacked, two windows */
	uint64_t reorder_window_start;
	uint64_t last_data_tx;		/* BRAID_NEVER: none yet */
	struct reorder reorder;		/* in use while the far end aggregates per packet */
	struct path path[BRAID_MAX_PATHS];
};



/* The mode in force: ours, else the far end's once it showed it is braid. */
static inline enum braid_multipath effective_mode(const struct multipath *mp)
{
	enum braid_multipath mode = mp->mode;

	if (mode == BRAID_MULTIPATH_OFF && mp->kind == BRAID_PEER_BRAID)
		mode = mp->far_mode;
	/* Aggregation needs braid at both ends; until then it is failover. */
	if ((mode == BRAID_MULTIPATH_AGGREGATE || mode == BRAID_MULTIPATH_AGGREGATE_FLOW) &&
	    mp->kind != BRAID_PEER_BRAID)
		mode = BRAID_MULTIPATH_FAILOVER;
	return mode;
}

static inline bool is_aggregating(const struct multipath *mp)
{
	enum braid_multipath mode = effective_mode(mp);

	return mode == BRAID_MULTIPATH_AGGREGATE || mode == BRAID_MULTIPATH_AGGREGATE_FLOW;
}

/*
 * The far end spreads one flow over several paths: by its own mode, or, with
 * none of its own, by ours, which it follows. Its packets must be put back
 * in order.
 */
static inline bool far_aggregates(const struct multipath *mp)
{
	return mp->kind == BRAID_PEER_BRAID &&
	       (mp->far_mode == BRAID_MULTIPATH_AGGREGATE ||
		(mp->far_mode == BRAID_MULTIPATH_OFF && mp->mode == BRAID_MULTIPATH_AGGREGATE));
}

static inline bool reorders(const struct multipath *mp)
{
	return mp && far_aggregates(mp) && mp->reorder.arena;
}

static inline bool is_multipath(const struct braid_peer *peer)
{
	const struct multipath *mp = peer->paths.mp;

	return mp && effective_mode(mp) != BRAID_MULTIPATH_OFF;
}

/* We follow: no mode of our own, the far end's is in force. */
static inline bool is_follower(const struct multipath *mp)
{
	return mp->mode == BRAID_MULTIPATH_OFF;
}

static inline bool is_live(const struct path *p)
{
	return p->state == BRAID_PATH_ACTIVE || p->state == BRAID_PATH_STANDBY ||
	       p->state == BRAID_PATH_SUSPECT;
}

static inline uint64_t suspect_ns(const struct path *p)
{
	uint64_t t;

	if (!p->srtt)
		return PATH_SUSPECT_MAX_NS;
	t = p->srtt + 4 * p->rttvar + PATH_SUSPECT_SLACK_NS;
	if (t < PATH_SUSPECT_MIN_NS)
		return PATH_SUSPECT_MIN_NS;
	return t > PATH_SUSPECT_MAX_NS ? PATH_SUSPECT_MAX_NS : t;
}

/*
 * How long p may be silent under traffic before it is suspect. A stock peer
 * answers one-way traffic only with a keepalive every 10 s: at least four of
 * the path's usual gaps between arrivals (at most 8 s).
 */
static inline uint64_t silence_ns(const struct multipath *mp, const struct path *p)
{
	uint64_t t = suspect_ns(p);

	if (mp->kind != BRAID_PEER_BRAID && 4 * p->rx_gap > t)
		t = 4 * p->rx_gap;
	return t;
}

static inline void add_slot(struct path_choice *c, int slot)
{
	if (c->first == PATH_MAIN)
		c->first = (uint8_t)slot;
	else if (c->first != slot)
		c->also |= (uint8_t)(1u << slot);
}

/* ---- path.c ---- */

/* The peer's table, made (mode off, no paths) if it has none; NULL when out of memory. */
struct multipath *path_mp_get(struct braid_peer *peer);
void path_set_state(struct braid_peer *peer, struct path *p, enum braid_path_state state,
		    const char *why);
/* The slot whose path `from` arrived by, or -1. */
int path_find(const struct multipath *mp, const struct braid_endpoint *from);
/* Deadlines moved: the peer's next one, told to the device. */
void path_reschedule(struct braid_peer *peer, uint64_t now);
/* Hand one datagram to the caller for one slot (PATH_MAIN too); counts nothing. */
void path_send_slot(struct braid_peer *peer, unsigned int slot, const void *buf, size_t len,
		    uint8_t tos);

/* ---- probe.c ---- */

/* A probe (a HELLO when hello) on slot: PATH_MAIN for the peer's endpoint. */
void probe_send(struct braid_peer *peer, uint64_t now, unsigned int slot, bool is_hello);
/* The next HELLO of the session, or the verdict that the far end is stock. */
void probe_hello(struct braid_peer *peer, uint64_t now);
/* When p wants its next probe (p->next_probe). */
void probe_plan(const struct multipath *mp, struct path *p, uint64_t now);
/* When p should carry a keepalive for the far end's reorder buffer; BRAID_NEVER: not. */
uint64_t probe_mark_due(const struct multipath *mp, const struct path *p);
void probe_mark(struct braid_peer *peer, uint64_t now, unsigned int slot);
void probe_rtt_sample(struct path *p, uint64_t rtt);

/* ---- aggregate.c ---- */

/* Where a data packet of len bytes goes when aggregating; false when no path may carry it. */
bool aggregate_choose(struct braid_peer *peer, uint64_t now, const uint8_t *pkt, size_t len,
		      struct path_choice *c);
/* The lowest one-way delay among the paths that may carry traffic (0: none known). */
int64_t aggregate_base_owd(const struct multipath *mp, uint64_t now);
/* A probe reply's report for p: its delay and what came by it. */
void aggregate_report(struct multipath *mp, struct path *p, uint64_t now,
		      const struct message_control *m);
/* A probe of the far end's came by p: its delay, for the reorder bound. */
void aggregate_probe_seen(struct multipath *mp, struct path *p, uint64_t now,
			  const struct message_control *m);
/* The far end's mode or ours changed: a reorder buffer while it aggregates per packet. */
void aggregate_follow(struct braid_peer *peer, uint64_t now);
uint64_t aggregate_reorder_bound(const struct multipath *mp, uint64_t now);
/* The reorder buffer's next deadline, BRAID_NEVER when it holds nothing. */
uint64_t aggregate_deadline(const struct multipath *mp, uint64_t now);
/* Give up on gaps past their bound; release everything when aggregation stopped. */
void aggregate_tick(struct braid_peer *peer, uint64_t now);
void aggregate_flush(struct braid_peer *peer, uint64_t now);

#endif
