// SPDX-License-Identifier: MIT
/*
 * braid's control messages (messages.h: struct message_control), inside
 * transport messages, so only a peer with the session can send or read
 * them, and a stock WireGuard peer drops them as "not IP":
 *
 *   HELLO  a probe with CONTROL_FLAG_HELLO, on the path the traffic takes,
 *          up to PATH_HELLOS a session: answered, the far end is braid
 *          and says its mode; unanswered, it is stock.
 *   probe  sent by the end that configured a path (by both when they
 *          aggregate), every second idle, every 100 ms while aggregated
 *          data flows, faster while the path is suspect or coming back.
 *   reply  to every probe, by the path it came by, at most
 *          PATH_PROBE_REPLIES_PER_SECOND: it echoes the probe's time (an RTT
 *          sample) and reports the probe's one-way delay and the bytes that
 *          came by the path (aggregate.c turns those into a rate).
 */
#include <string.h>

#include "device.h"
#include "path_table.h"
#include "transport.h"

/* RFC 6298's smoothing, as TCP does: srtt by 1/8, rttvar by 1/4. */
void probe_rtt_sample(struct path *p, uint64_t rtt)
{
	uint64_t err;

	/* The probes' clock counts microseconds: below that, a sample says "under 1 us". */
	if (rtt < 1000)
		rtt = 1000;
	if (!p->srtt) {
		p->srtt = rtt;
		p->rttvar = rtt / 2;
		return;
	}
	err = p->srtt > rtt ? p->srtt - rtt : rtt - p->srtt;
	p->rttvar = (3 * p->rttvar + err) / 4;
	p->srtt = (7 * p->srtt + rtt) / 8;
}

static bool reply_allowed(struct multipath *mp, uint64_t now)
{
	const uint64_t cost = NSEC_PER_SEC / PATH_PROBE_REPLIES_PER_SECOND;
	const uint64_t cap = cost * PATH_PROBE_REPLY_BURST;

	mp->reply_tokens += now - mp->reply_last;
	if (mp->reply_tokens > cap)
		mp->reply_tokens = cap;
	mp->reply_last = now;
	if (mp->reply_tokens < cost)
		return false;
	mp->reply_tokens -= cost;
	return true;
}

/*
 * Seal a control message (len 0: a keepalive) with the current session and
 * send it by one path only; expects_answer: its silence counts against the
 * path (a probe to a braid peer), else it does not (a HELLO a stock peer
 * will never answer, a reply, a keepalive).
 */
static bool send_control(struct braid_peer *peer, uint64_t now, unsigned int slot,
			 const void *msg, size_t msg_len, bool expects_answer)
{
	struct braid_device *dev = peer->dev;
	struct braid_keypair *kp;
	struct path_choice c = { .first = (uint8_t)slot };
	uint64_t nonce;
	size_t len;

	/* A peer whose endpoint nothing has set yet (a probe came first, not by a path). */
	if (slot == PATH_MAIN && !peer->paths.has_endpoint)
		return false;
	kp = transport_send_begin(peer, now, 1, &nonce);
	if (!kp)
		return false;
	len = braid_keypair_seal(kp, 0, nonce, dev->scratch, msg, msg_len, dev->mtu);
	braid_keypair_put(kp);
	path_send_slot(peer, slot, dev->scratch, len, 0);
	path_sent(peer, now, &c, len, expects_answer ? PATH_SENT_PROBE : PATH_SENT_QUIET);
	transport_data_sent(peer, now, 0, len);
	return true;
}

static void fill_control(const struct multipath *mp, uint64_t now, struct message_control *m,
			 uint8_t kind, uint8_t flags, uint32_t seq)
{
	memset(m, 0, sizeof(*m));
	m->type = CONTROL_TYPE_V1;
	m->kind = kind;
	m->flags = flags | CONTROL_FLAG_EVENS;
	m->mode = (uint8_t)mp->mode;
	braid_put_le32(m->seq, seq);
	braid_put_le64(m->sent_us, now / 1000);
}

void probe_send(struct braid_peer *peer, uint64_t now, unsigned int slot, bool is_hello)
{
	struct multipath *mp = peer->paths.mp;
	struct message_control m;
	bool expects_answer = mp->kind == BRAID_PEER_BRAID;
	struct path *p;

	if (!is_hello && !expects_answer && slot != PATH_MAIN) {
		/* A stock peer's path: an initiation, whose silence path_sent() counts. */
		p = &mp->path[slot];
		p->last_probe = now;
		p->probes_sent += peer_probe_handshake(peer, now, slot, PATH_STOCK_PROBE_NS);
		return;
	}
	fill_control(mp, now, &m, CONTROL_PROBE, is_hello ? CONTROL_FLAG_HELLO : 0, ++mp->probe_seq);
	if (slot == PATH_MAIN) {
		send_control(peer, now, slot, &m, sizeof(m), false);
		return;
	}
	p = &mp->path[slot];
	/* Without a session nothing goes; the attempt still waits its interval. */
	p->last_probe = now;
	if (!send_control(peer, now, slot, &m, sizeof(m), expects_answer))
		return;
	p->probes_sent++;
	if (expects_answer)
		p->unanswered++;
}

/*
 * Aggregating, the data paused after its newest packet went by another path
 * than this one: a keepalive by this one, whose counter shows the far end's
 * reorder buffer that nothing older is on its way by it, so a packet lost
 * before the pause is given up on then, not after the whole bound (a flow
 * that waits for its acknowledgements would wait for that bound too).
 */
uint64_t probe_mark_due(const struct multipath *mp, const struct path *p)
{
	if (effective_mode(mp) != BRAID_MULTIPATH_AGGREGATE || mp->kind != BRAID_PEER_BRAID ||
	    !p->is_usable || !is_live(p) || mp->last_data_tx == BRAID_NEVER ||
	    (p->last_tx != BRAID_NEVER && p->last_tx >= mp->last_data_tx))
		return BRAID_NEVER;
	return mp->last_data_tx + PATH_MARK_NS;
}

void probe_mark(struct braid_peer *peer, uint64_t now, unsigned int slot)
{
	send_control(peer, now, slot, "", 0, false);
}

/*
 * Is the far end braid? A HELLO on the path the traffic takes (where a stock
 * peer would move its endpoint anyway), again PATH_HELLO_RETRY_NS later, at
 * most PATH_HELLOS times a session; unanswered, the peer is stock until the
 * next session asks again.
 */
void probe_hello(struct braid_peer *peer, uint64_t now)
{
	struct multipath *mp = peer->paths.mp;
	struct path_choice c;

	mp->next_hello = BRAID_NEVER;
	if (mp->kind == BRAID_PEER_BRAID || is_follower(mp))
		return;
	if (mp->hellos >= PATH_HELLOS) {
		if (mp->kind != BRAID_PEER_STOCK)
			device_log(peer->dev, BRAID_LOG_VERBOSE,
				   "peer %llu: no answer to %u HELLOs: a stock WireGuard peer",
				   (unsigned long long)peer->internal_id, mp->hellos);
		mp->kind = BRAID_PEER_STOCK;
		return;
	}
	if (!path_choose(peer, now, PATH_MSG_DATA, NULL, 0, &c))
		return;
	probe_send(peer, now, c.first, true);
	mp->hellos++;
	mp->next_hello = now + PATH_HELLO_RETRY_NS;
}

static void reply_to(struct braid_peer *peer, uint64_t now, unsigned int slot,
		     const struct message_control *probe)
{
	struct multipath *mp = peer->paths.mp;
	struct message_control m;

	if (!reply_allowed(mp, now))
		return;
	fill_control(mp, now, &m, CONTROL_REPLY, probe->flags & CONTROL_FLAG_HELLO,
		     braid_get_le32(probe->seq));
	memcpy(m.echo_us, probe->sent_us, sizeof(m.echo_us));
	/* For the prober's rate estimate: the probe's delay, and what came by this path. */
	braid_put_le32(m.owd_us, (uint32_t)(now / 1000 - braid_get_le64(probe->sent_us)));
	if (slot != PATH_MAIN)
		braid_put_le64(m.rx_bytes, mp->path[slot].rx_bytes);
	send_control(peer, now, slot, &m, sizeof(m), false);
}

static void got_reply(struct braid_peer *peer, uint64_t now, struct path *p,
		      const struct message_control *m)
{
	uint64_t sent = braid_get_le64(m->echo_us) * 1000, hold = (uint64_t)braid_get_le32(m->hold_us) * 1000;

	/* Our own clock came back: a reply to a probe from the future is no sample. */
	if (sent <= now && now - sent >= hold)
		probe_rtt_sample(p, now - sent - hold);
	aggregate_report(peer->paths.mp, p, now, m);
	p->probes_answered++;
	if (p->probes_sent) {
		uint64_t lost = p->probes_sent > p->probes_answered ?
				p->probes_sent - p->probes_answered : 0;

		p->loss_ppm = (uint32_t)(lost * 1000000 / p->probes_sent);
	}
}

bool probe_received(struct braid_peer *peer, uint64_t now,
			   const struct braid_endpoint *from, const uint8_t *msg, size_t len)
{
	const struct message_control *m = (const struct message_control *)msg;
	struct multipath *mp;
	int slot;

	if (len < sizeof(*m) || m->type != CONTROL_TYPE_V1 ||
	    (m->kind != CONTROL_PROBE && m->kind != CONTROL_REPLY) ||
	    m->mode > BRAID_MULTIPATH_AGGREGATE_FLOW)
		return false;
	mp = path_mp_get(peer);
	if (!mp)
		return true;
	if (mp->kind != BRAID_PEER_BRAID)
		device_log(peer->dev, BRAID_LOG_VERBOSE, "peer %llu: the far end is braid (%s)",
			   (unsigned long long)peer->internal_id,
			   m->mode == BRAID_MULTIPATH_OFF ? "no multipath" : "multipath");
	mp->kind = BRAID_PEER_BRAID;
	mp->far_mode = m->mode;
	mp->far_evens = m->flags & CONTROL_FLAG_EVENS;
	aggregate_follow(peer, now);
	mp->hellos = 0;
	mp->next_hello = BRAID_NEVER;
	/* Its arrival was counted before it was known to be braid's: learn its path now. */
	slot = is_multipath(peer) ? path_find(mp, from) : -1;
	if (slot < 0 && is_multipath(peer)) {
		path_received(peer, now, from, 0, PATH_RX_CONTROL);
		slot = path_find(mp, from);
	}
	if (m->kind == CONTROL_PROBE) {
		if (slot >= 0)
			aggregate_probe_seen(mp, &mp->path[slot], now, m);
		reply_to(peer, now, slot >= 0 ? (unsigned int)slot : PATH_MAIN, m);
	} else if (slot >= 0) {
		got_reply(peer, now, &mp->path[slot], m);
	}
	path_reschedule(peer, now);
	return true;
}

/*
 * When p wants its next probe. Only a braid peer is probed, and only by the
 * end that configured the path, but for aggregation, where both ends need
 * their rates. Every PATH_PROBE_INTERVAL_NS idle; PATH_REPORT_INTERVAL_NS
 * while aggregated data flows (the probes' replies are the rate reports).
 */
static bool any_live(const struct multipath *mp)
{
	for (unsigned int i = 0; i < mp->n; i++)
		if (is_live(&mp->path[i]))
			return true;
	return false;
}

/*
 * A stock (or not yet known) peer can only be asked with an initiation: on a
 * suspect path; on a probing one that has no RTT yet or whose last send went
 * unanswered; on a down one while another path works. The first at once,
 * then each PATH_STOCK_PROBE_NS; after PATH_STOCK_PROBES_FAST unanswered (an
 * outage of half a minute), the gap doubles each time up to
 * PATH_STOCK_PROBE_MAX_NS.
 */
static void plan_stock(const struct multipath *mp, struct path *p, uint64_t now)
{
	uint64_t gap = PATH_STOCK_PROBE_NS;
	bool silent = p->unanswered_since != BRAID_NEVER;

	p->next_probe = BRAID_NEVER;
	if (!p->is_configured || !p->is_usable || is_follower(mp))
		return;
	if (p->state == BRAID_PATH_PROBING && silent &&
	    now - p->unanswered_since < silence_ns(mp, p)) {
		p->next_probe = p->unanswered_since + silence_ns(mp, p);
		return;
	}
	if (p->state == BRAID_PATH_SUSPECT ||
	    (p->state == BRAID_PATH_PROBING && (silent || !p->srtt))) {
		if (p->last_probe == BRAID_NEVER || (silent && p->last_probe < p->unanswered_since)) {
			p->next_probe = now;
			return;
		}
	} else if (p->state != BRAID_PATH_DOWN || !any_live(mp)) {
		return;
	}
	for (unsigned int i = PATH_STOCK_PROBES_FAST; i < p->unanswered && gap < PATH_STOCK_PROBE_MAX_NS; i++)
		gap *= 2;
	if (gap > PATH_STOCK_PROBE_MAX_NS)
		gap = PATH_STOCK_PROBE_MAX_NS;
	p->next_probe = p->last_probe == BRAID_NEVER ? now : p->last_probe + gap;
}

void probe_plan(const struct multipath *mp, struct path *p, uint64_t now)
{
	uint64_t interval = PATH_PROBE_INTERVAL_NS, next, early;
	bool aggregating = is_aggregating(mp);

	if (mp->kind != BRAID_PEER_BRAID) {
		plan_stock(mp, p, now);
		return;
	}
	if (!p->is_usable ||
	    (p->is_configured ? is_follower(mp) && !aggregating :
				!aggregating || !is_live(p))) {
		p->next_probe = BRAID_NEVER;
		return;
	}
	if (p->state == BRAID_PATH_SUSPECT)
		interval = PATH_SUSPECT_PROBE_NS;
	else if (p->state == BRAID_PATH_PROBING)
		interval = PATH_UP_DELAY_NS / 8;
	else if (p->state == BRAID_PATH_DOWN)
		interval = PATH_UP_DELAY_NS / 4;	/* to see it back soon */
	else if (aggregating && mp->last_data_tx != BRAID_NEVER &&
		 now - mp->last_data_tx < PATH_DATA_RECENT_NS)
		interval = PATH_REPORT_INTERVAL_NS;
	next = p->last_probe == BRAID_NEVER ? now : p->last_probe + interval;
	/* Traffic unanswered for half the suspect time: ask now rather than wait to suspect. */
	if (p->unanswered_since != BRAID_NEVER &&
	    (p->last_probe == BRAID_NEVER || p->last_probe < p->unanswered_since)) {
		early = p->unanswered_since + suspect_ns(p) / 2;
		next = early < next ? early : next;
	}
	p->next_probe = next;
}
