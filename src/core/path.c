// SPDX-License-Identifier: MIT
/*
 * A peer's paths (see path.h for the rules). Off, this is the kernel's
 * socket.c: one endpoint that authenticated packets move, with its sticky
 * source. Multipath, a table of paths, each with its own silence clock,
 * RTT and state, and the choice of where each message goes.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "device.h"
#include "path_table.h"
#include "transport.h"


static const char *const state_names[] = {
	[BRAID_PATH_DOWN] = "down", [BRAID_PATH_PROBING] = "probing",
	[BRAID_PATH_STANDBY] = "standby", [BRAID_PATH_ACTIVE] = "active",
	[BRAID_PATH_SUSPECT] = "suspect",
};

static bool is_ip(const struct braid_endpoint *ep)
{
	return ep->addr.sa.sa_family == AF_INET || ep->addr.sa.sa_family == AF_INET6;
}

static void forget_source(struct braid_endpoint *ep)
{
	memset(&ep->src, 0, sizeof(ep->src));
	ep->src_ifindex = 0;
}

static bool same_remote(const struct braid_endpoint *a, const struct braid_endpoint *b)
{
	if (a->addr.sa.sa_family != b->addr.sa.sa_family)
		return false;
	if (a->addr.sa.sa_family == AF_INET)
		return a->addr.in4.sin_port == b->addr.in4.sin_port &&
		       a->addr.in4.sin_addr.s_addr == b->addr.in4.sin_addr.s_addr;
	return a->addr.in6.sin6_port == b->addr.in6.sin6_port &&
	       !memcmp(&a->addr.in6.sin6_addr, &b->addr.in6.sin6_addr, 16);
}

static bool source_is_zero(const struct braid_endpoint *ep)
{
	static const struct in6_addr zero;

	if (ep->addr.sa.sa_family == AF_INET)
		return !ep->src.in4.s_addr;
	return !memcmp(&ep->src.in6, &zero, sizeof(zero));
}

static bool same_source(const struct braid_endpoint *a, const struct braid_endpoint *b)
{
	if (a->addr.sa.sa_family != b->addr.sa.sa_family)
		return false;
	if (a->addr.sa.sa_family == AF_INET)
		return a->src.in4.s_addr == b->src.in4.s_addr;
	return !memcmp(&a->src.in6, &b->src.in6, sizeof(a->src.in6));
}

static const char *path_label(const struct path *p, char buf[ENDPOINT_STR_LEN])
{
	char ep[ENDPOINT_STR_LEN];

	snprintf(buf, ENDPOINT_STR_LEN, "%s%s%s", p->name, *p->name ? " " : "",
		 endpoint_str(&p->endpoint, ep));
	return buf;
}

/* ---- The table ---- */

void path_init(struct peer_paths *paths)
{
	memset(paths, 0, sizeof(*paths));
}

void path_free(struct peer_paths *paths)
{
	if (paths->mp) {
		reorder_free(&paths->mp->reorder);
		free(paths->mp->flows);
	}
	free(paths->mp);
	paths->mp = NULL;
}

struct multipath *path_mp_get(struct braid_peer *peer)
{
	struct multipath *mp = peer->paths.mp;

	if (mp)
		return mp;
	mp = calloc(1, sizeof(*mp));
	if (!mp)
		return NULL;
	mp->active = mp->last_rx = mp->burst = -1;
	mp->next_hello = mp->last_data_tx = BRAID_NEVER;
	mp->reply_tokens = NSEC_PER_SEC;
	mp->next_deadline = BRAID_NEVER;
	peer->paths.mp = mp;
	return mp;
}

static uint64_t down_ns(const struct path *p)
{
	return p->srtt * 3 > PATH_DOWN_MIN_NS ? p->srtt * 3 : PATH_DOWN_MIN_NS;
}

void path_set_state(struct braid_peer *peer, struct path *p, enum braid_path_state state,
		      const char *why)
{
	char label[ENDPOINT_STR_LEN];

	if (p->state == state)
		return;
	device_log(peer->dev, BRAID_LOG_VERBOSE, "peer %llu: path %s %s -> %s (%s)",
		   (unsigned long long)peer->internal_id, path_label(p, label),
		   state_names[p->state], state_names[state], why);
	p->state = state;
}

static void path_reset(struct path *p)
{
	p->last_rx = p->last_tx = BRAID_NEVER;
	p->unanswered_since = BRAID_NEVER;
	p->healthy_since = BRAID_NEVER;
	p->next_probe = BRAID_NEVER;
	p->last_probe = BRAID_NEVER;
	p->last_failback = BRAID_NEVER;
	p->silence_exempt_until = 0;
	p->holddown = PATH_HOLDDOWN_MIN_NS;
}

/* The slot whose path `from` arrived by, or -1. */
int path_find(const struct multipath *mp, const struct braid_endpoint *from)
{
	const struct path *p;

	for (unsigned int i = 0; i < mp->n; i++) {
		p = &mp->path[i];
		if (!same_remote(&p->endpoint, from))
			continue;
		if (p->pins_interface && p->endpoint.src_ifindex != from->src_ifindex)
			continue;
		if (!source_is_zero(&p->endpoint) && !same_source(&p->endpoint, from))
			continue;
		return (int)i;
	}
	return -1;
}

static void remove_slot(struct multipath *mp, unsigned int slot)
{
	/* Slots move: flows choose again. */
	if (mp->flows)
		memset(mp->flows, 0, FLOW_SLOTS * sizeof(*mp->flows));
	reorder_forget_lanes(&mp->reorder);
	memmove(&mp->path[slot], &mp->path[slot + 1], (mp->n - slot - 1) * sizeof(mp->path[0]));
	mp->n--;
	if (slot < mp->n_configured)
		mp->n_configured--;
	if (mp->active == (int)slot)
		mp->active = -1;
	else if (mp->active > (int)slot)
		mp->active--;
	if (mp->last_rx == (int)slot)
		mp->last_rx = -1;
	else if (mp->last_rx > (int)slot)
		mp->last_rx--;
}

/* A learned path for `from`: a free slot, else the learned path idle longest. */
static int learn(struct braid_peer *peer, uint64_t now, const struct braid_endpoint *from)
{
	struct multipath *mp = peer->paths.mp;
	char label[ENDPOINT_STR_LEN];
	unsigned int i, oldest = mp->n;
	struct path *p;

	if (mp->n == BRAID_MAX_PATHS) {
		for (i = mp->n_configured; i < mp->n; i++)
			if (oldest == mp->n || mp->path[i].last_rx < mp->path[oldest].last_rx)
				oldest = i;
		if (oldest == mp->n)
			return -1;
		remove_slot(mp, oldest);
	}
	p = &mp->path[mp->n];
	memset(p, 0, sizeof(*p));
	path_reset(p);
	p->endpoint = *from;
	p->prio = UINT8_MAX;
	p->is_usable = true;
	p->state = BRAID_PATH_STANDBY;
	device_log(peer->dev, BRAID_LOG_VERBOSE, "peer %llu: learned path %s",
		   (unsigned long long)peer->internal_id, path_label(p, label));
	(void)now;
	return (int)mp->n++;
}

/* ---- Failover: which path carries the traffic ---- */

static bool is_eligible(const struct path *p, uint64_t now)
{
	return p->is_usable && is_live(p) && now >= p->holddown_until;
}

/* The most preferred eligible path (lowest prio, then slot), or -1. */
static int best_path(const struct multipath *mp, uint64_t now, int except)
{
	int best = -1;

	for (unsigned int i = 0; i < mp->n; i++) {
		if ((int)i == except || !is_eligible(&mp->path[i], now))
			continue;
		if (best < 0 || mp->path[i].prio < mp->path[best].prio)
			best = (int)i;
	}
	return best;
}

static void send_keepalive_on_switch(struct braid_peer *peer, uint64_t now)
{
	/* Whatever is staged goes out now anyway; else a keepalive tells a stock peer. */
	if (!peer->staged.count)
		peer_send_keepalive(peer, now);
}

/* Failover: keep the active path unless it is down or a preferred one is ready. */
static void select_active(struct braid_peer *peer, uint64_t now, bool announce)
{
	struct multipath *mp = peer->paths.mp;
	char label[ENDPOINT_STR_LEN];
	int best = best_path(mp, now, -1), old = mp->active;
	struct path *cur = old >= 0 ? &mp->path[old] : NULL;

	if (cur && is_live(cur) && cur->is_usable &&
	    (best < 0 || mp->path[best].prio >= cur->prio))
		return;
	if (best < 0 || best == old)
		return;
	if (cur && (cur->state == BRAID_PATH_ACTIVE || cur->state == BRAID_PATH_SUSPECT))
		path_set_state(peer, cur, BRAID_PATH_STANDBY, "a preferred path is back");
	mp->active = best;
	if (old >= 0 && is_live(&mp->path[old]))
		mp->path[best].last_failback = now;
	path_set_state(peer, &mp->path[best], BRAID_PATH_ACTIVE, "now carries the traffic");
	device_log(peer->dev, BRAID_LOG_VERBOSE, "peer %llu: traffic moves to path %s",
		   (unsigned long long)peer->internal_id, path_label(&mp->path[best], label));
	/* Traffic moved (not merely found its first path): tell the far end. */
	if (announce && old >= 0)
		send_keepalive_on_switch(peer, now);
}

/* A path stopped working: down, with a hold-down that grows when it had just come back. */
static void path_down(struct braid_peer *peer, uint64_t now, struct path *p, const char *why)
{
	if (p->state == BRAID_PATH_DOWN)
		return;
	path_set_state(peer, p, BRAID_PATH_DOWN, why);
	/* Down soon after traffic came back to it: a flap. A path that held a while starts over. */
	if (p->last_failback != BRAID_NEVER && now - p->last_failback < PATH_FLAP_WINDOW_NS) {
		p->holddown_until = now + p->holddown;
		p->holddown = p->holddown * 2 > PATH_HOLDDOWN_MAX_NS ? PATH_HOLDDOWN_MAX_NS :
								     p->holddown * 2;
	} else {
		p->holddown = PATH_HOLDDOWN_MIN_NS;
	}
	p->healthy_since = BRAID_NEVER;
	p->unanswered_since = BRAID_NEVER;
	p->unanswered = 0;
}

/* ---- Choosing where a message goes ---- */

/* Every live path, or, when none is, every usable one: someone may get through. */
static bool choose_all(const struct multipath *mp, struct path_choice *c)
{
	for (int pass = 0; pass < 2 && c->first == PATH_MAIN; pass++)
		for (unsigned int i = 0; i < mp->n; i++)
			if (mp->path[i].is_usable && (pass || is_live(&mp->path[i])))
				add_slot(c, (int)i);
	return c->first != PATH_MAIN;
}

static bool choose_failover(struct braid_peer *peer, uint64_t now, struct path_choice *c)
{
	struct multipath *mp = peer->paths.mp;
	int hedge;

	if (mp->active < 0 || !is_live(&mp->path[mp->active]))
		select_active(peer, now, false);
	if (mp->active < 0)
		return choose_all(mp, c);
	add_slot(c, mp->active);
	if (mp->path[mp->active].state == BRAID_PATH_SUSPECT) {
		hedge = best_path(mp, now, mp->active);
		if (hedge >= 0)
			add_slot(c, hedge);
	}
	return true;
}

/* Follower, far end not redundant: back where the last new packet came from. */
static bool choose_follow(const struct multipath *mp, struct path_choice *c)
{
	if (mp->last_rx >= 0 && is_live(&mp->path[mp->last_rx])) {
		add_slot(c, mp->last_rx);
		return true;
	}
	return false;
}

bool path_choose(struct braid_peer *peer, uint64_t now, enum path_msg msg, const uint8_t *pkt,
		 size_t len, struct path_choice *choice)
{
	struct multipath *mp = peer->paths.mp;

	choice->first = PATH_MAIN;
	choice->also = 0;
	if (is_multipath(peer)) {
		enum braid_multipath mode = effective_mode(mp);

		if (msg == PATH_MSG_DATA && is_aggregating(mp) &&
		    aggregate_choose(peer, now, pkt, len, choice))
			return true;
		if (msg == PATH_MSG_RESPONSE && choose_follow(mp, choice))
			return true;
		if (mode == BRAID_MULTIPATH_REDUNDANT && choose_all(mp, choice))
			return true;
		if (is_follower(mp) && choose_follow(mp, choice))
			return true;
		if (!is_follower(mp) && mode != BRAID_MULTIPATH_REDUNDANT &&
		    choose_failover(peer, now, choice))
			return true;
	}
	return peer->paths.has_endpoint;
}

bool path_can_send(const struct braid_peer *peer)
{
	return peer->paths.has_endpoint || (peer->paths.mp && peer->paths.mp->n);
}

const struct braid_endpoint *path_endpoint(const struct braid_peer *peer, unsigned int slot)
{
	if (slot == PATH_MAIN || !peer->paths.mp || slot >= peer->paths.mp->n)
		return &peer->paths.endpoint;
	return &peer->paths.mp->path[slot].endpoint;
}

const struct braid_endpoint *braid_peer_path_endpoint(const struct braid_peer *peer,
						      unsigned int slot)
{
	return path_endpoint(peer, slot);
}

void path_sent(struct braid_peer *peer, uint64_t now, const struct path_choice *choice,
	       size_t bytes, enum path_sent kind)
{
	struct multipath *mp = peer->paths.mp;
	bool started = false;
	struct path *p;

	if (!mp || choice->first == PATH_MAIN)
		return;
	if (kind == PATH_SENT_DATA) {
		mp->last_data_tx = now;
		/* A pause from now on would want keepalives (probe_mark_due()). */
		if (mp->next_deadline > now + PATH_MARK_NS &&
		    effective_mode(mp) == BRAID_MULTIPATH_AGGREGATE)
			path_note_deadline(peer, now + PATH_MARK_NS);
	}
	for (unsigned int i = 0; i < mp->n; i++) {
		if (i != choice->first && !(choice->also & (1u << i)))
			continue;
		p = &mp->path[i];
		p->tx_bytes += bytes;
		p->tx_packets++;
		p->last_tx = now;
		if (kind == PATH_SENT_QUIET)
			continue;
		if (p->unanswered_since == BRAID_NEVER) {
			p->unanswered_since = now;
			started = true;
		}
		/* A stock peer owes an answer to an initiation (probe_send counts braid's). */
		if (kind == PATH_SENT_PROBE && mp->kind != BRAID_PEER_BRAID)
			p->unanswered++;
	}
	if (started)
		path_reschedule(peer, now);
}

void path_send_slot(struct braid_peer *peer, unsigned int slot, const void *buf, size_t len,
		     uint8_t tos)
{
	struct braid_device *dev = peer->dev;

	dev->ops->send(dev->ctx, peer, path_endpoint(peer, slot), buf, len, tos);
}

unsigned int path_send_choice(struct braid_peer *peer, uint64_t now,
			      const struct path_choice *c, const void *buf, size_t len,
			      uint8_t tos, enum path_sent kind)
{
	unsigned int copies = 1;

	path_send_slot(peer, c->first, buf, len, tos);
	for (unsigned int i = 0; i < BRAID_MAX_PATHS; i++) {
		if (c->also & (1u << i)) {
			path_send_slot(peer, i, buf, len, tos);
			copies++;
		}
	}
	path_sent(peer, now, c, len, kind);
	return copies;
}

unsigned int path_send(struct braid_peer *peer, uint64_t now, enum path_msg msg,
		       const void *buf, size_t len, uint8_t tos)
{
	struct path_choice c;

	enum path_sent kind = PATH_SENT_QUIET;

	if (!path_choose(peer, now, msg, NULL, len, &c))
		return 0;
	/* Data and initiations get answers; keepalives and responses do not. */
	if (msg == PATH_MSG_INITIATION)
		kind = PATH_SENT_PROBE;
	else if (msg == PATH_MSG_DATA && len > MESSAGE_MINIMUM_LEN)
		kind = PATH_SENT_DATA;
	return path_send_choice(peer, now, &c, buf, len, tos, kind);
}

unsigned int path_send_on(struct braid_peer *peer, uint64_t now, unsigned int slot,
			  const void *buf, size_t len, uint8_t tos)
{
	struct path_choice c = { .first = (uint8_t)slot };

	if (slot == PATH_MAIN ? !peer->paths.has_endpoint :
	    !peer->paths.mp || slot >= peer->paths.mp->n)
		return 0;
	path_send_slot(peer, slot, buf, len, tos);
	path_sent(peer, now, &c, len, PATH_SENT_PROBE);
	return 1;
}

bool path_is_multipath(const struct braid_peer *peer)
{
	return is_multipath(peer);
}

/* ---- Arrivals ---- */

/* An authenticated packet came by p: it is alive. */
static void heard_on(struct braid_peer *peer, struct path *p, uint64_t now, size_t len)
{
	struct multipath *mp = peer->paths.mp;
	bool carries = is_aggregating(mp) || (mp->active >= 0 && p == &mp->path[mp->active]);
	uint64_t gap;

	if (p->last_rx != BRAID_NEVER) {
		gap = now - p->last_rx;
		if (gap > PATH_RX_GAP_MAX_NS)
			gap = PATH_RX_GAP_MAX_NS;
		p->rx_gap = p->rx_gap ? (7 * p->rx_gap + gap) / 8 : gap;
	}
	p->rx_bytes += len;
	p->rx_packets++;
	p->last_rx = now;
	p->unanswered_since = BRAID_NEVER;
	p->unanswered = 0;
	if (p->state == BRAID_PATH_SUSPECT) {
		/* Traffic may have moved off it meanwhile: active only if it still carries some. */
		path_set_state(peer, p, carries ? BRAID_PATH_ACTIVE : BRAID_PATH_STANDBY,
			       "heard again");
	} else if (p->state == BRAID_PATH_DOWN && p->is_usable) {
		p->healthy_since = now;
		path_set_state(peer, p, BRAID_PATH_PROBING, "heard again");
	}
}

int path_received(struct braid_peer *peer, uint64_t now, const struct braid_endpoint *from,
		  size_t len, enum path_rx rx)
{
	struct multipath *mp = peer->paths.mp;
	int slot;

	if (!is_ip(from))
		return -1;
	if (rx == PATH_RX_NEW && (!mp || is_follower(mp) || !is_multipath(peer))) {
		/* Roaming, as WireGuard does; a follower still knows where it is. */
		peer->paths.endpoint = *from;
		peer->paths.has_endpoint = true;
	}
	if (!is_multipath(peer))
		return -1;
	slot = path_find(mp, from);
	if (slot < 0 && rx != PATH_RX_COPY)
		slot = learn(peer, now, from);
	if (slot < 0)
		return -1;
	heard_on(peer, &mp->path[slot], now, len);
	if (rx == PATH_RX_NEW) {
		mp->path[slot].wins++;
		/*
		 * A follower's traffic goes back where the last new packet came from;
		 * aggregating, it uses every path and marks them itself.
		 */
		if (is_follower(mp) && !is_aggregating(mp) && mp->last_rx != slot) {
			if (mp->last_rx >= 0 && mp->path[mp->last_rx].state == BRAID_PATH_ACTIVE)
				mp->path[mp->last_rx].state = BRAID_PATH_STANDBY;
			if (is_live(&mp->path[slot]))
				mp->path[slot].state = BRAID_PATH_ACTIVE;
		}
		mp->last_rx = slot;
	}
	path_reschedule(peer, now);
	return slot;
}

void path_session_started(struct braid_peer *peer, uint64_t now, uint64_t rtt_ns)
{
	struct multipath *mp = peer->paths.mp;

	if (!mp)
		return;
	/* A stock peer's paths have no other RTT than their handshakes'. */
	if (rtt_ns && mp->last_rx >= 0 &&
	    (mp->kind != BRAID_PEER_BRAID || !mp->path[mp->last_rx].srtt))
		probe_rtt_sample(&mp->path[mp->last_rx], rtt_ns);
	/*
	 * Ask again each session whether the far end is braid (a stock peer drops
	 * a HELLO); once it has not answered PATH_HELLOS of them, one a session.
	 */
	if (!is_follower(mp) && mp->kind != BRAID_PEER_BRAID) {
		mp->hellos = mp->kind == BRAID_PEER_STOCK ? PATH_HELLOS - 1 : 0;
		mp->next_hello = now;
		path_note_deadline(peer, now);
	}
}

/* ---- Time ---- */

/* What each path's clocks say now: suspect, down, ready again. */
static void check_path(struct braid_peer *peer, uint64_t now, struct path *p)
{
	struct multipath *mp = peer->paths.mp;
	uint64_t silent;

	if (!p->is_configured && p->last_rx != BRAID_NEVER &&
	    now - p->last_rx >= PATH_LEARNED_LIVE_NS && is_live(p)) {
		path_down(peer, now, p, "learned path went quiet");
		return;
	}
	if (p->state == BRAID_PATH_PROBING) {
		if (p->unanswered_since != BRAID_NEVER &&
		    now - p->unanswered_since >= silence_ns(mp, p)) {
			p->healthy_since = now;
		} else if (p->healthy_since != BRAID_NEVER &&
			   now - p->healthy_since >= PATH_UP_DELAY_NS) {
			path_set_state(peer, p, BRAID_PATH_STANDBY, "healthy for the up-delay");
		}
		return;
	}
	if (!is_live(p) || p->unanswered_since == BRAID_NEVER || now < p->silence_exempt_until)
		return;
	silent = now - p->unanswered_since;
	if (silent >= silence_ns(mp, p) + down_ns(p) &&
	    p->unanswered >= (mp->kind == BRAID_PEER_BRAID ? PATH_SUSPECT_PROBES : 1))
		path_down(peer, now, p, "silent");
	else if (silent >= silence_ns(mp, p) && p->state == BRAID_PATH_ACTIVE)
		path_set_state(peer, p, BRAID_PATH_SUSPECT, "silent past its timeout");
}

/* Keep t in *d when earlier; a time already past says nothing new (its condition did not hold). */
static void earliest(uint64_t *d, uint64_t t, uint64_t now)
{
	if (t > now && t < *d)
		*d = t;
}

/* When p's clocks next need a look: a probe due, a timeout that may expire. */
static uint64_t path_deadline(const struct multipath *mp, const struct path *p, uint64_t now)
{
	uint64_t d = p->next_probe;

	earliest(&d, probe_mark_due(mp, p), now);
	if (p->unanswered_since != BRAID_NEVER && is_live(p)) {
		earliest(&d, p->unanswered_since + silence_ns(mp, p), now);
		earliest(&d, p->unanswered_since + silence_ns(mp, p) + down_ns(p), now);
		earliest(&d, p->silence_exempt_until, now);
	}
	if (p->state == BRAID_PATH_PROBING && p->healthy_since != BRAID_NEVER)
		earliest(&d, p->healthy_since + PATH_UP_DELAY_NS, now);
	if (!p->is_configured && p->last_rx != BRAID_NEVER)
		earliest(&d, p->last_rx + (is_live(p) ? PATH_LEARNED_LIVE_NS :
					   BRAID_PATH_IDLE_SEC * NSEC_PER_SEC), now);
	earliest(&d, p->holddown_until, now);
	return d;
}

static void forget_idle_learned(struct braid_peer *peer, uint64_t now)
{
	struct multipath *mp = peer->paths.mp;

	for (unsigned int i = mp->n_configured; i < mp->n;) {
		if (mp->path[i].last_rx != BRAID_NEVER &&
		    now - mp->path[i].last_rx >= BRAID_PATH_IDLE_SEC * NSEC_PER_SEC)
			remove_slot(mp, i);
		else
			i++;
	}
}

/*
 * The peer's next path deadline from its paths' clocks. Only path_tick() may
 * drop one that is due: it has just looked at every path. Anyone else
 * reschedules between the deadline passing and the tick that serves it
 * (the loop was busy with packets), and path_deadline() no longer sees a
 * time that has passed: the due one is kept, or it would be lost for good.
 */
static void reschedule(struct braid_peer *peer, uint64_t now, bool keep_due)
{
	struct multipath *mp = peer->paths.mp;
	uint64_t next = mp->next_hello, d;

	if (keep_due && mp->next_deadline <= now)
		next = mp->next_deadline;
	for (unsigned int i = 0; i < mp->n; i++) {
		probe_plan(mp, &mp->path[i], now);
		d = path_deadline(mp, &mp->path[i], now);
		next = d < next ? d : next;
	}
	d = aggregate_deadline(mp, now);
	next = d < next ? d : next;
	mp->next_deadline = next;
	device_note_peer_deadline(peer, next);
}

void path_reschedule(struct braid_peer *peer, uint64_t now)
{
	reschedule(peer, now, true);
}

uint64_t path_tick(struct braid_peer *peer, uint64_t now)
{
	struct multipath *mp = peer->paths.mp;

	if (!mp)
		return BRAID_NEVER;
	forget_idle_learned(peer, now);
	if (!is_multipath(peer)) {
		aggregate_flush(peer, now);
		mp->next_deadline = BRAID_NEVER;
		return BRAID_NEVER;
	}
	for (unsigned int i = 0; i < mp->n; i++)
		check_path(peer, now, &mp->path[i]);
	if (!is_follower(mp) && effective_mode(mp) == BRAID_MULTIPATH_FAILOVER)
		select_active(peer, now, true);
	if (mp->next_hello <= now)
		probe_hello(peer, now);
	for (unsigned int i = 0; i < mp->n; i++) {
		probe_plan(mp, &mp->path[i], now);
		if (mp->path[i].next_probe <= now)
			probe_send(peer, now, i, false);
		else if (probe_mark_due(mp, &mp->path[i]) <= now)
			probe_mark(peer, now, i);
	}
	aggregate_tick(peer, now);
	reschedule(peer, now, false);
	return mp->next_deadline;
}

void path_note_deadline(struct braid_peer *peer, uint64_t at)
{
	struct multipath *mp = peer->paths.mp;

	if (at < mp->next_deadline)
		mp->next_deadline = at;
	device_note_peer_deadline(peer, at);
}

uint64_t path_next_deadline(const struct braid_peer *peer)
{
	return peer->paths.mp ? peer->paths.mp->next_deadline : BRAID_NEVER;
}

/* ---- Configuration and the caller's view ---- */

int braid_peer_set_multipath(struct braid_peer *peer, uint64_t now, enum braid_multipath mode)
{
	struct multipath *mp;

	if ((unsigned int)mode > BRAID_MULTIPATH_AGGREGATE_FLOW)
		return -EINVAL;
	if (mode == BRAID_MULTIPATH_OFF && !peer->paths.mp)
		return 0;
	mp = path_mp_get(peer);
	if (!mp)
		return -ENOMEM;
	if (mp->mode == mode)
		return 0;
	device_log(peer->dev, BRAID_LOG_VERBOSE, "peer %llu: multipath %d -> %d",
		   (unsigned long long)peer->internal_id, mp->mode, mode);
	mp->mode = mode;
	aggregate_follow(peer, now);
	if (mode == BRAID_MULTIPATH_OFF) {
		while (mp->n > mp->n_configured)
			remove_slot(mp, mp->n - 1);
		mp->active = -1;
	} else if (mp->kind != BRAID_PEER_BRAID && peer->keypairs.current) {
		/* A session exists already: ask now whether the far end is braid. */
		mp->hellos = 0;
		mp->next_hello = now;
	}
	path_reschedule(peer, now);
	return 0;
}

enum braid_multipath braid_peer_get_multipath(const struct braid_peer *peer)
{
	return peer->paths.mp ? peer->paths.mp->mode : BRAID_MULTIPATH_OFF;
}

enum braid_peer_kind braid_peer_get_kind(const struct braid_peer *peer)
{
	return peer->paths.mp ? peer->paths.mp->kind : BRAID_PEER_UNKNOWN;
}

/* A path's link went down, or is back: down at once, or probing from now. */
static void set_usable(struct braid_peer *peer, uint64_t now, struct path *p, bool is_usable)
{
	if (p->is_usable == is_usable)
		return;
	p->is_usable = is_usable;
	if (!is_usable) {
		path_down(peer, now, p, "link down");
		return;
	}
	p->healthy_since = now;
	p->unanswered_since = BRAID_NEVER;
	p->last_probe = BRAID_NEVER;
	path_set_state(peer, p, BRAID_PATH_PROBING, "link up");
}

/* A configured path from its configuration; the remote defaults to the peer's endpoint. */
static int configure(const struct braid_peer *peer, const struct braid_path_config *cfg,
		     struct path *p)
{
	memset(p, 0, sizeof(*p));
	path_reset(p);
	p->endpoint = cfg->endpoint;
	if (cfg->endpoint.addr.sa.sa_family == AF_UNSPEC) {
		if (!peer->paths.has_endpoint)
			return -EINVAL;
		p->endpoint.addr = peer->paths.endpoint.addr;
	}
	if (!is_ip(&p->endpoint))
		return -EINVAL;
	memcpy(p->name, cfg->name, sizeof(p->name));
	p->name[sizeof(p->name) - 1] = '\0';
	p->prio = cfg->prio;
	p->cap = cfg->rate_cap_bps;
	p->is_configured = true;
	p->is_usable = cfg->is_usable;
	p->pins_interface = cfg->endpoint.src_ifindex != 0;
	p->endpoint.pin_interface = p->pins_interface;
	p->state = cfg->is_usable ? BRAID_PATH_STANDBY : BRAID_PATH_DOWN;
	return 0;
}

/*
 * The same configured path: same remote and same local side. A path on an
 * interface stays itself when the interface's address changes (then it takes
 * the new one); one on a local address is that address.
 */
static bool same_path(const struct path *a, const struct path *b)
{
	if (!same_remote(&a->endpoint, &b->endpoint) ||
	    a->endpoint.src_ifindex != b->endpoint.src_ifindex || strcmp(a->name, b->name))
		return false;
	return a->pins_interface || same_source(&a->endpoint, &b->endpoint);
}

int braid_peer_set_paths(struct braid_peer *peer, uint64_t now,
			 const struct braid_path_config *paths, size_t n)
{
	struct path fresh[BRAID_MAX_PATHS];
	struct multipath *mp;
	unsigned int i, j, n_learned;
	int ret, active = -1, last_rx = -1;

	if (n > BRAID_MAX_PATHS)
		return -E2BIG;
	for (i = 0; i < n; i++) {
		ret = configure(peer, &paths[i], &fresh[i]);
		if (ret)
			return ret;
	}
	if (!n && !peer->paths.mp)
		return 0;
	mp = path_mp_get(peer);
	if (!mp)
		return -ENOMEM;
	/*
	 * Paths that stay keep what they learned (their link may have changed);
	 * a new one added while a session runs must prove itself first.
	 */
	for (i = 0; i < n; i++) {
		for (j = 0; j < mp->n_configured && !same_path(&fresh[i], &mp->path[j]); j++)
			;
		if (j < mp->n_configured) {
			bool is_usable = fresh[i].is_usable;
			struct path keep = mp->path[j];

			keep.prio = fresh[i].prio;
			keep.cap = fresh[i].cap;
			keep.endpoint.src = fresh[i].endpoint.src;
			fresh[i] = keep;
			set_usable(peer, now, &fresh[i], is_usable);
			active = mp->active == (int)j ? (int)i : active;
			last_rx = mp->last_rx == (int)j ? (int)i : last_rx;
		} else if (fresh[i].is_usable && peer->keypairs.current) {
			fresh[i].healthy_since = now;
			fresh[i].state = BRAID_PATH_PROBING;
		}
	}
	n_learned = 0;
	for (j = mp->n_configured; j < mp->n && n + n_learned < BRAID_MAX_PATHS; j++) {
		fresh[n + n_learned] = mp->path[j];
		active = mp->active == (int)j ? (int)(n + n_learned) : active;
		last_rx = mp->last_rx == (int)j ? (int)(n + n_learned) : last_rx;
		n_learned++;
	}
	/* Slots move: the reorder buffer's lanes are theirs. */
	reorder_forget_lanes(&mp->reorder);
	memcpy(mp->path, fresh, (n + n_learned) * sizeof(fresh[0]));
	mp->n = n + n_learned;
	mp->n_configured = n;
	mp->active = active;
	mp->last_rx = last_rx;
	if (active >= 0 && !is_live(&mp->path[active]))
		mp->active = -1;
	if (is_multipath(peer) && !is_follower(mp))
		select_active(peer, now, true);
	path_reschedule(peer, now);
	return 0;
}

static void fill_info(const struct path *p, struct braid_path_info *info)
{
	memset(info, 0, sizeof(*info));
	info->endpoint = p->endpoint;
	memcpy(info->name, p->name, sizeof(info->name));
	info->state = p->state;
	info->prio = p->prio;
	info->is_learned = !p->is_configured;
	info->srtt_ns = p->srtt;
	info->rttvar_ns = p->rttvar;
	info->loss_ppm = p->loss_ppm;
	info->tx_bytes = p->tx_bytes;
	info->rx_bytes = p->rx_bytes;
	info->tx_packets = p->tx_packets;
	info->rx_packets = p->rx_packets;
	info->wins = p->wins;
	info->last_rx_ns = p->last_rx;
	info->rate_bps = p->rate;
	info->owd_us = -1;
}

size_t braid_peer_get_paths(const struct braid_peer *peer, struct braid_path_info *paths,
			    size_t max)
{
	const struct multipath *mp = peer->paths.mp;

	int64_t base;

	if (!mp)
		return 0;
	base = aggregate_base_owd(mp, 0);
	for (unsigned int i = 0; i < mp->n && i < max; i++) {
		fill_info(&mp->path[i], &paths[i]);
		if (mp->path[i].has_owd)
			paths[i].owd_us = mp->path[i].owd > base ? mp->path[i].owd - base : 0;
	}
	return mp->n;
}

static void link_changed(struct braid_peer *peer, uint64_t now, int ifindex, bool is_usable)
{
	struct multipath *mp = peer->paths.mp;
	bool changed = false;
	struct path *p;

	for (unsigned int i = 0; i < mp->n_configured; i++) {
		p = &mp->path[i];
		if (!p->pins_interface || p->endpoint.src_ifindex != ifindex ||
		    p->is_usable == is_usable)
			continue;
		set_usable(peer, now, p, is_usable);
		changed = true;
	}
	if (!changed)
		return;
	if (is_multipath(peer) && !is_follower(mp) &&
	    effective_mode(mp) == BRAID_MULTIPATH_FAILOVER)
		select_active(peer, now, true);
	path_reschedule(peer, now);
}

void braid_device_set_link(struct braid_device *dev, uint64_t now, int ifindex, bool is_usable)
{
	struct braid_peer *peer;

	for (peer = braid_device_next_peer(dev, NULL); peer; peer = peer->next)
		if (peer->paths.mp)
			link_changed(peer, now, ifindex, is_usable);
}

void braid_peer_source_refused(struct braid_peer *peer, const struct braid_endpoint *to)
{
	struct multipath *mp = peer->paths.mp;
	struct path *p;

	if (peer->paths.has_endpoint && same_source(&peer->paths.endpoint, to))
		forget_source(&peer->paths.endpoint);
	if (!mp)
		return;
	for (unsigned int i = 0; i < mp->n; i++) {
		p = &mp->path[i];
		if (!same_remote(&p->endpoint, to) || !same_source(&p->endpoint, to) ||
		    p->endpoint.src_ifindex != to->src_ifindex)
			continue;
		/* A configured local side is not ours to change: the path is unusable for now. */
		if (!p->is_configured)
			forget_source(&p->endpoint);
		else if (p->state != BRAID_PATH_DOWN)
			path_set_state(peer, p, BRAID_PATH_DOWN, "the host refused its source");
	}
}

void path_clear_source(struct braid_peer *peer)
{
	struct multipath *mp = peer->paths.mp;

	forget_source(&peer->paths.endpoint);
	for (unsigned int i = 0; mp && i < mp->n; i++)
		if (!mp->path[i].is_configured)
			forget_source(&mp->path[i].endpoint);
}

void braid_peer_set_endpoint(struct braid_peer *peer, const struct braid_endpoint *endpoint)
{
	peer->paths.endpoint = *endpoint;
	peer->paths.has_endpoint = is_ip(endpoint);
	forget_source(&peer->paths.endpoint);
}

bool braid_peer_get_endpoint(const struct braid_peer *peer, struct braid_endpoint *endpoint)
{
	const struct multipath *mp = peer->paths.mp;
	int slot = -1;

	if (mp && is_multipath(peer))
		slot = !is_follower(mp) && mp->active >= 0 ? mp->active : mp->last_rx;
	if (slot >= 0) {
		*endpoint = mp->path[slot].endpoint;
		return true;
	}
	if (!peer->paths.has_endpoint)
		return false;
	*endpoint = peer->paths.endpoint;
	return true;
}

bool braid_peer_get_configured_endpoint(const struct braid_peer *peer,
					struct braid_endpoint *endpoint)
{
	if (!peer->paths.has_endpoint)
		return false;
	*endpoint = peer->paths.endpoint;
	return true;
}

const char *endpoint_str(const struct braid_endpoint *ep, char buf[ENDPOINT_STR_LEN])
{
	char addr[INET6_ADDRSTRLEN];

	if (ep && ep->addr.sa.sa_family == AF_INET) {
		inet_ntop(AF_INET, &ep->addr.in4.sin_addr, addr, sizeof(addr));
		snprintf(buf, ENDPOINT_STR_LEN, "%s:%u", addr, ntohs(ep->addr.in4.sin_port));
	} else if (ep && ep->addr.sa.sa_family == AF_INET6) {
		inet_ntop(AF_INET6, &ep->addr.in6.sin6_addr, addr, sizeof(addr));
		snprintf(buf, ENDPOINT_STR_LEN, "[%s]:%u", addr, ntohs(ep->addr.in6.sin6_port));
	} else {
		snprintf(buf, ENDPOINT_STR_LEN, "(none)");
	}
	return buf;
}

const char *path_str(const struct braid_peer *peer, char buf[ENDPOINT_STR_LEN])
{
	struct braid_endpoint ep;

	return endpoint_str(braid_peer_get_endpoint(peer, &ep) ? &ep : NULL, buf);
}
