// SPDX-License-Identifier: MIT
/*
 * Aggregation (braid.h, "aggregate"): the scheduler that spreads a peer's
 * packets over its paths, the rates it works with, and the reorder buffer
 * that puts the far end's packets back in order.
 *
 * Sending: a burst of PATH_BURST_BYTES goes by the path where it would
 * arrive first: its queue (busy_until, grown by each packet at the path's
 * rate) plus how much slower than the fastest path it is, or, when the far
 * end evens the paths' delays out (below), how far its delay rose over its
 * floor: the paths differ only in their queues then. Rates come from
 * the far end's reports (probe.c): the bytes a path delivered over the far
 * end's clock; a path whose one-way delay rose past max(5 ms, a quarter of
 * its base) above its floor is full and takes 7/8 of what it delivered,
 * else 10% more than the most it carried (mud's rule). aggregate-flow keeps
 * each inner flow on one path instead.
 *
 * Receiving: while the far end aggregates per packet, every counter goes
 * through the reorder buffer (reorder.h), with a bound derived from the
 * paths' delays as the far end's probes met them. Packets by a faster path
 * also wait out its delay floor's difference to the slowest (evening): a
 * flow inside sees one delay whichever path carried it. Otherwise its
 * delay jumps from the fast path's to the slow one's as its rate grows
 * past what the fast path carries, which a TCP takes for a filling queue:
 * it stops growing near the fast path's rate (bench/multipath.sh, 40 Mbit/s
 * 5 ms + 20 Mbit/s 45 ms: one flow 10-28 Mbit/s, no retransmission, nearly
 * all on the fast path; 41-55 evened).
 */
#include <stdlib.h>
#include <string.h>

#include "device.h"
#include "path_table.h"


/* ---- Aggregation: the scheduler ---- */

static uint64_t rate_of(const struct path *p)
{
	uint64_t r = p->rate ? p->rate : PATH_RATE_INITIAL_BPS;

	return p->cap && r > p->cap ? p->cap : r;
}

/* How long bytes take to leave by p at its rate. */
static uint64_t serialize_ns(const struct path *p, size_t bytes)
{
	return (uint64_t)bytes * 8 * NSEC_PER_SEC / rate_of(p);
}

static bool may_aggregate(const struct path *p, uint64_t now)
{
	return p->is_usable && (p->state == BRAID_PATH_ACTIVE || p->state == BRAID_PATH_STANDBY) &&
	       now >= p->holddown_until;
}

/* The smallest one-way delay among the paths that may carry traffic (0 when none is known). */
int64_t aggregate_base_owd(const struct multipath *mp, uint64_t now)
{
	int64_t min = INT64_MAX;

	for (unsigned int i = 0; i < mp->n; i++)
		if (mp->path[i].has_owd && may_aggregate(&mp->path[i], now) &&
		    mp->path[i].owd < min)
			min = mp->path[i].owd;
	return min == INT64_MAX ? 0 : min;
}

/* The lowest delay over the last one or two windows: the path with empty queues. */
static int64_t owd_floor(const struct path *p)
{
	return p->owd_min[0] < p->owd_min[1] ? p->owd_min[0] : p->owd_min[1];
}

/*
 * The far end evens these paths' delays out: it says it does, and their
 * floors differ by PATH_EVEN_MIN_NS or more (closer ones it leaves alone).
 */
static bool evened(const struct multipath *mp, uint64_t now)
{
	int64_t lo = INT64_MAX, hi = INT64_MIN, f;

	if (!mp->far_evens)
		return false;
	for (unsigned int i = 0; i < mp->n; i++) {
		if (!mp->path[i].has_owd || !may_aggregate(&mp->path[i], now))
			continue;
		f = owd_floor(&mp->path[i]);
		lo = f < lo ? f : lo;
		hi = f > hi ? f : hi;
	}
	return hi != INT64_MIN && hi - lo >= (int64_t)(PATH_EVEN_MIN_NS / 1000);
}

/*
 * What a path's delay adds to a packet's arrival: how much slower than the
 * fastest path it is; when the far end evens the delays out, only how far
 * its queue made it rise over its floor.
 */
static uint64_t delay_ns(const struct path *p, bool is_evened, int64_t base)
{
	int64_t d = !p->has_owd ? 0 : is_evened ? p->owd - owd_floor(p) : p->owd - base;

	return d > 0 ? (uint64_t)d * 1000 : 0;
}

/*
 * Earliest arrival: a burst of PATH_BURST_BYTES goes by the path where it
 * would arrive first, its queue (busy_until) over its rate plus how much
 * slower than the fastest path it is; a path PATH_QUEUE_MAX_NS behind is
 * passed over while another is not. -1 when no path may carry traffic.
 */
static int earliest_path(const struct multipath *mp, uint64_t now)
{
	int64_t base = aggregate_base_owd(mp, now);
	bool is_evened = evened(mp, now);
	uint64_t best_t = UINT64_MAX, t;
	int best = -1, pass;

	for (pass = 0; pass < 2 && best < 0; pass++) {
		for (unsigned int i = 0; i < mp->n; i++) {
			const struct path *p = &mp->path[i];

			if (!may_aggregate(p, now) ||
			    (!pass && p->busy_until > now + PATH_QUEUE_MAX_NS))
				continue;
			t = (p->busy_until > now ? p->busy_until : now) +
			    serialize_ns(p, PATH_BURST_BYTES) + delay_ns(p, is_evened, base);
			if (t < best_t) {
				best_t = t;
				best = (int)i;
			}
		}
	}
	return best;
}

/* An inner flow's hash: addresses, protocol and ports (when it has them). */
static uint32_t flow_hash(const uint8_t *pkt, size_t len)
{
	size_t off = 0, n = 0, l4 = 0;
	uint32_t h = 2166136261u;	/* FNV-1a */

	if (len >= BRAID_IPV4_HEADER_LEN && pkt[0] >> 4 == 4) {
		off = BRAID_IPV4_SRC_OFF;
		n = 8;
		l4 = (size_t)(pkt[0] & 15) * 4;
		h = (h ^ pkt[BRAID_IPV4_PROTOCOL_OFF]) * 16777619u;
	} else if (len >= BRAID_IPV6_HEADER_LEN && pkt[0] >> 4 == 6) {
		off = BRAID_IPV6_SRC_OFF;
		n = 32;
		l4 = BRAID_IPV6_HEADER_LEN;
		h = (h ^ pkt[BRAID_IPV6_NEXT_HEADER_OFF]) * 16777619u;
	}
	for (size_t i = 0; i < n; i++)
		h = (h ^ pkt[off + i]) * 16777619u;
	for (size_t i = 0; l4 && i < 4 && l4 + i < len; i++)
		h = (h ^ pkt[l4 + i]) * 16777619u;
	return h;
}

/* A new flow's path: its hash picks one, each in proportion to its rate. */
static int pick_by_rate(const struct multipath *mp, uint64_t now, uint32_t hash)
{
	uint64_t total = 0, pick, r;

	for (unsigned int i = 0; i < mp->n; i++)
		if (may_aggregate(&mp->path[i], now))
			total += rate_of(&mp->path[i]) / 1000;
	if (!total)
		return -1;
	pick = hash % total;
	for (unsigned int i = 0; i < mp->n; i++) {
		if (!may_aggregate(&mp->path[i], now))
			continue;
		r = rate_of(&mp->path[i]) / 1000;
		if (pick < r)
			return (int)i;
		pick -= r;
	}
	return -1;
}

/*
 * aggregate-flow: a flow keeps the path it was given while it is active
 * (rates move, flows must not: a moved flow is reordered), and gets another
 * only when its path can no longer carry traffic.
 */
static int flow_path(struct multipath *mp, uint64_t now, const uint8_t *pkt, size_t len)
{
	uint32_t hash = pkt ? flow_hash(pkt, len) : 0;
	struct flow_slot *f;

	if (!mp->flows && !(mp->flows = calloc(FLOW_SLOTS, sizeof(*mp->flows))))
		return pick_by_rate(mp, now, hash);
	f = &mp->flows[hash % FLOW_SLOTS];
	if (f->last && f->hash == hash && now - f->last < FLOW_IDLE_NS && f->slot < mp->n &&
	    may_aggregate(&mp->path[f->slot], now)) {
		f->last = now;
		return f->slot;
	}
	f->hash = hash;
	f->last = now;
	f->slot = (uint8_t)pick_by_rate(mp, now, hash);
	return f->slot == UINT8_MAX ? -1 : f->slot;
}

bool aggregate_choose(struct braid_peer *peer, uint64_t now, const uint8_t *pkt,
			     size_t len, struct path_choice *c)
{
	struct multipath *mp = peer->paths.mp;
	struct path *p;
	int slot;

	if (effective_mode(mp) == BRAID_MULTIPATH_AGGREGATE_FLOW) {
		slot = flow_path(mp, now, pkt, len);
	} else {
		/* Keep a burst on its path, so segmentation offload sends it whole. */
		if (mp->burst < 0 || mp->burst_left < len ||
		    !may_aggregate(&mp->path[mp->burst], now)) {
			mp->burst = earliest_path(mp, now);
			mp->burst_left = PATH_BURST_BYTES;
		}
		slot = mp->burst;
		if (slot >= 0)
			mp->burst_left -= len < mp->burst_left ? len : mp->burst_left;
	}
	if (slot < 0)
		return false;
	p = &mp->path[slot];
	if (p->state == BRAID_PATH_STANDBY)
		path_set_state(peer, p, BRAID_PATH_ACTIVE, "aggregation uses it");
	p->busy_until = (p->busy_until > now ? p->busy_until : now) + serialize_ns(p, len);
	add_slot(c, slot);
	return true;
}

/* ---- Aggregation: rates and delays from the far end's reports ---- */

/* A one-way delay against the reference: clocks differ by an unknown, common offset. */
static int64_t owd_sample(uint32_t *ref, bool *has_ref, uint32_t raw)
{
	if (!*has_ref) {
		*ref = raw;
		*has_ref = true;
	}
	return (int32_t)(raw - *ref);
}

static void note_owd(struct multipath *mp, struct path *p, uint64_t now, int64_t owd)
{
	if (now - mp->owd_window_start >= PATH_OWD_WINDOW_NS) {
		for (unsigned int i = 0; i < mp->n; i++) {
			mp->path[i].owd_min[1] = mp->path[i].owd_min[0];
			mp->path[i].owd_min[0] = INT64_MAX;
		}
		mp->owd_window_start = now;
	}
	if (!p->has_owd)
		p->owd_min[0] = p->owd_min[1] = INT64_MAX;
	p->owd = owd;
	p->has_owd = true;
	if (owd < p->owd_min[0])
		p->owd_min[0] = owd;
}

/*
 * The rate a path delivers, from two reports: the bytes the far end received
 * by it over the far end's clock, when it carried about its share (else
 * they say nothing of what it can: the scheduler had little for it, and
 * taken for its rate while its delay jittered up, a single report starved
 * the path for many seconds). Its delay over its floor is its queue: past
 * max(PATH_QUEUE_DELAY_MIN_NS, a quarter of the one-way base), the path is
 * full and takes 7/8 of what it delivered; else it may take 10% more than
 * the most it was seen to carry.
 */
static void update_rate(struct path *p, uint64_t delivered_bps)
{
	uint64_t queue_ns = (uint64_t)(p->owd - owd_floor(p)) * 1000;
	uint64_t limit = p->srtt / 8 > PATH_QUEUE_DELAY_MIN_NS ? p->srtt / 8 :
							       PATH_QUEUE_DELAY_MIN_NS;
	uint64_t rate = rate_of(p);

	if (delivered_bps * 2 < rate)
		return;
	if (queue_ns > limit)
		rate = delivered_bps * 7 / 8;
	else
		rate = (rate > delivered_bps ? rate : delivered_bps) * 11 / 10;
	if (rate < PATH_RATE_MIN_BPS)
		rate = PATH_RATE_MIN_BPS;
	p->rate = p->cap && rate > p->cap ? p->cap : rate;
}

void aggregate_report(struct multipath *mp, struct path *p, uint64_t now,
		       const struct message_control *m)
{
	uint64_t rx = braid_get_le64(m->rx_bytes), at = braid_get_le64(m->sent_us), span;

	note_owd(mp, p, now, owd_sample(&mp->owd_ref, &mp->has_owd_ref, braid_get_le32(m->owd_us)));
	if (p->has_report && at > p->report_us && rx >= p->report_rx_bytes) {
		span = at - p->report_us;
		/* Too short a span measures the probes' own spacing, not the path. */
		if (span * 1000 < PATH_REPORT_INTERVAL_NS / 2)
			return;
		if (now - mp->last_data_tx < PATH_DATA_RECENT_NS)
			update_rate(p, (rx - p->report_rx_bytes) * 8 * 1000000 / span);
	}
	p->report_rx_bytes = rx;
	p->report_us = at;
	p->has_report = true;
}

/* A probe of the far end's came by p: its delay, for the reorder bound. */
void aggregate_probe_seen(struct multipath *mp, struct path *p, uint64_t now,
		      const struct message_control *m)
{
	int64_t owd = owd_sample(&mp->rx_owd_ref, &mp->has_rx_owd_ref,
				 (uint32_t)(now / 1000 - braid_get_le64(m->sent_us)));
	int64_t err;

	if (now - mp->rx_owd_window_start >= PATH_OWD_WINDOW_NS) {
		for (unsigned int i = 0; i < mp->n; i++) {
			mp->path[i].rx_owd_lo[1] = mp->path[i].rx_owd_lo[0];
			mp->path[i].rx_owd_hi[1] = mp->path[i].rx_owd_hi[0];
			mp->path[i].rx_owd_lo[0] = INT64_MAX;
			mp->path[i].rx_owd_hi[0] = INT64_MIN;
		}
		mp->rx_owd_window_start = now;
	}
	if (!p->has_rx_owd) {
		p->rx_owd = owd;
		p->rx_owdvar = 0;
		p->rx_owd_lo[0] = p->rx_owd_lo[1] = p->rx_owd_hi[0] = p->rx_owd_hi[1] = owd;
		p->has_rx_owd = true;
		return;
	}
	err = owd > p->rx_owd ? owd - p->rx_owd : p->rx_owd - owd;
	p->rx_owdvar = (3 * p->rx_owdvar + err) / 4;
	p->rx_owd = (7 * p->rx_owd + owd) / 8;
	p->rx_owd_lo[0] = owd < p->rx_owd_lo[0] ? owd : p->rx_owd_lo[0];
	p->rx_owd_hi[0] = owd > p->rx_owd_hi[0] ? owd : p->rx_owd_hi[0];
}

/*
 * How long a gap in the order may wait: from the lowest delay any path had
 * lately to the highest (queues included, as the probes met them), twice
 * their variation on top, and a little; one path alone, the minimum; paths
 * not yet measured, the maximum.
 */
uint64_t aggregate_reorder_bound(const struct multipath *mp, uint64_t now_ns)
{
	int64_t lo = INT64_MAX, hi = INT64_MIN, var = 0;
	unsigned int live = 0, measured = 0;
	uint64_t b;

	for (unsigned int i = 0; i < mp->n; i++) {
		const struct path *p = &mp->path[i];

		if (!is_live(p))
			continue;
		live++;
		if (!p->has_rx_owd)
			continue;
		measured++;
		for (unsigned int w = 0; w < 2; w++) {
			lo = p->rx_owd_lo[w] < lo ? p->rx_owd_lo[w] : lo;
			hi = p->rx_owd_hi[w] > hi && p->rx_owd_hi[w] != INT64_MIN ?
			     p->rx_owd_hi[w] : hi;
		}
		var = p->rx_owdvar > var ? p->rx_owdvar : var;
	}
	/*
	 * A path alone has nothing to reorder, unless it is alone only because
	 * the others are not known yet: the far end has just begun to aggregate.
	 */
	if (live <= 1)
		return now_ns - mp->reorder_since < PATH_DATA_RECENT_NS ? PATH_REORDER_MAX_NS :
									 PATH_REORDER_MIN_NS;
	if (measured < live)
		return PATH_REORDER_MAX_NS;
	b = (uint64_t)(hi - lo + 2 * var) * 1000 + PATH_REORDER_SLACK_NS;
	/* What the probes did not see, the late packets did: a queue that filled between them. */
	b += mp->reorder_extra[0] > mp->reorder_extra[1] ? mp->reorder_extra[0] :
							   mp->reorder_extra[1];
	if (b < PATH_REORDER_MIN_NS)
		return PATH_REORDER_MIN_NS;
	return b > PATH_REORDER_MAX_NS ? PATH_REORDER_MAX_NS : b;
}

/* The lowest delay by which the far end's probes came over p lately; INT64_MAX: none yet. */
static int64_t rx_floor(const struct path *p)
{
	return p->rx_owd_lo[0] < p->rx_owd_lo[1] ? p->rx_owd_lo[0] : p->rx_owd_lo[1];
}

/*
 * Evening: how long a packet by this path waits, in order or not, so that
 * it leaves about as late as one sent with it by the slowest live path: the
 * difference of their delay floors, at most PATH_REORDER_MAX_NS; nothing
 * under PATH_EVEN_MIN_NS, a host's own noise (each held packet is copied and
 * waits for a timer). Queues are not evened: a path that fills shows it, as
 * it would alone.
 */
static uint64_t even_hold(const struct multipath *mp, int path)
{
	int64_t own, slowest = INT64_MIN, f;

	if (path < 0 || (unsigned int)path >= mp->n || !mp->path[path].has_rx_owd)
		return 0;
	own = rx_floor(&mp->path[path]);
	for (unsigned int i = 0; i < mp->n; i++) {
		f = rx_floor(&mp->path[i]);
		if (is_live(&mp->path[i]) && mp->path[i].has_rx_owd && f != INT64_MAX && f > slowest)
			slowest = f;
	}
	if (own == INT64_MAX || slowest - own < (int64_t)(PATH_EVEN_MIN_NS / 1000))
		return 0;
	return (uint64_t)(slowest - own) * 1000 < PATH_REORDER_MAX_NS ?
	       (uint64_t)(slowest - own) * 1000 : PATH_REORDER_MAX_NS;
}

static void deliver_in_order(void *ctx, uint8_t *pkt, size_t len)
{
	struct braid_peer *peer = ctx;
	struct braid_device *dev = peer->dev;

	dev->ops->deliver(dev->ctx, peer, pkt, len);
}

/* Late packets say the bound was short: remember by how much, for a window or two. */
static void learn_from_late(struct multipath *mp, uint64_t now)
{
	uint64_t late_by = reorder_take_late_by(&mp->reorder);

	if (now - mp->reorder_window_start >= PATH_OWD_WINDOW_NS) {
		mp->reorder_extra[1] = mp->reorder_extra[0];
		mp->reorder_extra[0] = 0;
		mp->reorder_window_start = now;
	}
	if (late_by > mp->reorder_extra[0])
		mp->reorder_extra[0] = late_by > PATH_REORDER_MAX_NS ? PATH_REORDER_MAX_NS : late_by;
}

_Static_assert((int)BRAID_MAX_PATHS <= (int)REORDER_LANES, "a lane for each path");

void aggregate_deliver(struct braid_peer *peer, uint64_t now, uint64_t keypair_id,
		       uint64_t counter, int path, uint8_t *pkt, size_t len)
{
	struct multipath *mp = peer->paths.mp;

	if (!reorders(mp)) {
		if (len)
			deliver_in_order(peer, pkt, len);
		return;
	}
	reorder_add(&mp->reorder, now, keypair_id, counter, path, even_hold(mp, path), pkt, len,
		    deliver_in_order, peer);
	if (mp->reorder.late_by)
		learn_from_late(mp, now);
	/* The arrival may have made a gap due: every lane is past it now. */
	if (mp->reorder.count)
		path_note_deadline(peer, reorder_tick(&mp->reorder, now,
						      aggregate_reorder_bound(mp, now),
						      deliver_in_order, peer));
}

void aggregate_follow(struct braid_peer *peer, uint64_t now)
{
	struct multipath *mp = peer->paths.mp;
	bool needs = far_aggregates(mp);

	if (needs && !mp->reorder.arena) {
		mp->reorder_since = now;
		if (reorder_init(&mp->reorder))
			device_log(peer->dev, BRAID_LOG_ERROR,
				   "peer %llu: no memory for a reorder buffer; packets go unordered",
				   (unsigned long long)peer->internal_id);
	} else if (!needs && mp->reorder.arena) {
		reorder_flush(&mp->reorder, now, deliver_in_order, peer);
		reorder_free(&mp->reorder);
	}
}

bool braid_peer_get_reorder_stats(const struct braid_peer *peer, struct braid_reorder_stats *st)
{
	const struct multipath *mp = peer->paths.mp;
	uint64_t total = 0, seen = 0;
	unsigned int b;

	memset(st, 0, sizeof(*st));
	if (!reorders(mp))
		return false;
	st->held = mp->reorder.stats.held;
	st->released = mp->reorder.stats.released;
	st->gave_up = mp->reorder.stats.gave_up;
	st->late = mp->reorder.stats.late;
	st->gave_up_early = mp->reorder.stats.gave_up_early;
	st->skew_us = reorder_skew(&mp->reorder) / 1000;
	for (unsigned int i = 0; i < mp->n; i++)
		if (is_live(&mp->path[i]) && even_hold(mp, (int)i) / 1000 > st->even_us)
			st->even_us = even_hold(mp, (int)i) / 1000;
	st->bound_us = aggregate_reorder_bound(mp, mp->last_data_tx == BRAID_NEVER ? 0 : mp->last_data_tx) / 1000;
	for (b = 0; b < REORDER_HOLD_BUCKETS; b++)
		total += mp->reorder.stats.holds[b];
	/* The upper edge of the bucket that holds the 99th percentile. */
	for (b = 0; total && b < REORDER_HOLD_BUCKETS; b++) {
		seen += mp->reorder.stats.holds[b];
		if (seen * 100 >= total * 99) {
			st->hold_p99_us = (uint64_t)(b + 1) * REORDER_HOLD_BUCKET_US;
			break;
		}
	}
	return true;
}

uint64_t aggregate_deadline(const struct multipath *mp, uint64_t now)
{
	return mp->reorder.count ?
	       reorder_deadline(&mp->reorder, now, aggregate_reorder_bound(mp, now)) : BRAID_NEVER;
}

void aggregate_tick(struct braid_peer *peer, uint64_t now)
{
	struct multipath *mp = peer->paths.mp;

	if (mp->reorder.count)
		reorder_tick(&mp->reorder, now, aggregate_reorder_bound(mp, now), deliver_in_order,
			     peer);
}

void aggregate_flush(struct braid_peer *peer, uint64_t now)
{
	struct multipath *mp = peer->paths.mp;

	if (mp->reorder.count)
		reorder_flush(&mp->reorder, now, deliver_in_order, peer);
}
