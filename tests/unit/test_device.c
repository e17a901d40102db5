// SPDX-License-Identifier: MIT
/*
 * Two (or three) devices in one process under a simulated clock: the
 * handshake in both directions, data, rekeying, retries with jitter,
 * keepalives, zeroing, cookies under load, replays, reordering, cryptokey
 * routing and hostile input. No test sleeps; time is a number.
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <cmocka.h>

#include "device.h"
#include "peer.h"
#include "sim.h"
#include "timers.h"
#include "transport.h"

#define SEC 1000000000ULL
#define MSEC 1000000ULL

struct pair {
	struct sim sim;
	struct sim_host *a, *b;
	struct braid_peer *a_peer_b, *b_peer_a;	/* a's view of b, b's view of a */
};

static void pair_init(struct pair *p, const struct braid_device_config *config)
{
	sim_init(&p->sim);
	p->a = sim_add_host(&p->sim, config);
	p->b = sim_add_host(&p->sim, config);
	p->a_peer_b = sim_connect(&p->sim, p->a, p->b, true);
	p->b_peer_a = sim_connect(&p->sim, p->b, p->a, true);
}

static int setup_pair(void **state)
{
	struct pair *p = calloc(1, sizeof(*p));

	pair_init(p, NULL);
	*state = p;
	return 0;
}

static int teardown_pair(void **state)
{
	struct pair *p = *state;

	sim_free(&p->sim);
	free(p);
	return 0;
}

static const struct sim_delivered *last_delivered(struct sim_host *h)
{
	assert_true(h->n_delivered > 0);
	return &h->delivered[h->n_delivered - 1];
}

static void assert_packet_delivered(struct sim_host *to, struct braid_peer *from_peer,
				    size_t payload, uint8_t fill)
{
	const struct sim_delivered *d = last_delivered(to);
	unsigned int i;

	assert_ptr_equal(d->peer, from_peer);
	assert_int_equal(d->len, 28 + payload);
	for (i = 0; i < payload; ++i)
		assert_int_equal(d->data[28 + i], (uint8_t)(fill + i));
}

static uint64_t drops(struct sim_host *h, enum braid_drop why)
{
	struct braid_device_stats stats;

	braid_device_get_stats(h->dev, &stats);
	return stats.drops[why];
}

static void establish(struct pair *p)
{
	sim_send_packet(&p->sim, p->a, p->b, 10, 0);
	sim_flush(&p->sim);
	assert_non_null(p->b_peer_a->keypairs.current);
	assert_non_null(p->a_peer_b->keypairs.current);
	p->a->n_delivered = p->b->n_delivered = 0;
}

/* 1. A packet from a starts the handshake; it arrives once the session exists. */
static void test_handshake_initiator_a(void **state)
{
	struct pair *p = *state;
	struct braid_peer_stats sa, sb;

	assert_int_equal(sim_send_packet(&p->sim, p->a, p->b, 100, 7), 0);
	assert_int_equal(p->a->sent_initiations, 1);
	assert_int_equal(p->a->sent_data, 0);
	sim_flush(&p->sim);
	assert_int_equal(p->b->sent_responses, 1);
	assert_int_equal(p->b->n_delivered, 1);
	assert_packet_delivered(p->b, p->b_peer_a, 100, 7);

	/* Now b answers on the confirmed session. */
	assert_int_equal(sim_send_packet(&p->sim, p->b, p->a, 200, 9), 0);
	sim_flush(&p->sim);
	assert_int_equal(p->a->n_delivered, 1);
	assert_packet_delivered(p->a, p->a_peer_b, 200, 9);

	braid_peer_get_stats(p->a_peer_b, &sa);
	braid_peer_get_stats(p->b_peer_a, &sb);
	assert_int_equal(sa.tx_bytes, sb.rx_bytes);
	assert_int_equal(sb.tx_bytes, sa.rx_bytes);
	/* 148 initiation + 32 + 128 data (128 bytes padded) */
	assert_int_equal(sa.tx_bytes, 148 + 32 + 128);
	assert_int_equal(sa.rx_bytes, 92 + 32 + 240);
	assert_true(sa.last_handshake_ns >= p->sim.wall_base);
	assert_true(sb.last_handshake_ns >= p->sim.wall_base);
}

/* 2. The other direction, so each device plays each role. */
static void test_handshake_initiator_b(void **state)
{
	struct pair *p = *state;

	sim_send_packet(&p->sim, p->b, p->a, 0, 0);
	assert_int_equal(p->b->sent_initiations, 1);
	sim_flush(&p->sim);
	assert_int_equal(p->a->sent_responses, 1);
	assert_int_equal(p->a->n_delivered, 1);
	sim_send_packet(&p->sim, p->a, p->b, 1, 1);
	sim_flush(&p->sim);
	assert_packet_delivered(p->b, p->b_peer_a, 1, 1);
}

/* 3. Key confirmation: the responder stages its data until the initiator has used the session. */
static void test_responder_waits_for_confirmation(void **state)
{
	struct pair *p = *state;
	struct sim_datagram response;

	braid_peer_initiate_handshake(p->a_peer_b, p->sim.now);
	assert_int_equal(p->a->n_out, 1);
	braid_device_receive(p->b->dev, p->sim.now, &p->a->addr, p->a->out[0].data,
			     p->a->out[0].len);
	p->a->n_out = 0;
	assert_int_equal(p->b->n_out, 1);
	response = p->b->out[0];
	p->b->n_out = 0;

	/* b has a session in "next" only: its data must wait. */
	sim_send_packet(&p->sim, p->b, p->a, 50, 3);
	assert_int_equal(p->b->n_out, 0);
	assert_null(p->b_peer_a->keypairs.current);
	assert_non_null(p->b_peer_a->keypairs.next);

	/* The response reaches a, which confirms with a keepalive; b then sends. */
	braid_device_receive(p->a->dev, p->sim.now, &p->b->addr, response.data, response.len);
	assert_int_equal(p->a->sent_keepalives, 1);
	sim_flush(&p->sim);
	assert_int_equal(p->b->sent_data, 1);
	assert_packet_delivered(p->a, p->a_peer_b, 50, 3);
	assert_non_null(p->b_peer_a->keypairs.current);
	assert_null(p->b_peer_a->keypairs.next);
}

/* 4. Data both ways at every size from 0 to 1392 payload bytes. */
static void test_data_all_sizes(void **state)
{
	struct pair *p = *state;
	size_t len;

	/*
	 * Both sides sending first would cross two initiations, which (as in
	 * every WireGuard) only the retransmit timer resolves: start one way.
	 */
	establish(p);
	for (len = 0; len <= 1392; ++len) {
		sim_send_packet(&p->sim, p->a, p->b, len, (uint8_t)len);
		sim_send_packet(&p->sim, p->b, p->a, len, (uint8_t)(len + 1));
		sim_flush(&p->sim);
		assert_packet_delivered(p->b, p->b_peer_a, len, (uint8_t)len);
		assert_packet_delivered(p->a, p->a_peer_b, len, (uint8_t)(len + 1));
		p->a->n_delivered = p->b->n_delivered = 0;
	}
}

/* 5. A packet every 500 ms for 20 minutes: many rekeys, nothing lost. */
static void test_rekey_without_loss(void **state)
{
	struct pair *p = *state;
	uint64_t sent = 0, end = p->sim.now + 1200 * SEC;
	size_t delivered = 0;
	uint64_t first_kp;

	establish(p);
	first_kp = p->a_peer_b->keypairs.current->internal_id;
	while (p->sim.now < end) {
		sim_send_packet(&p->sim, p->a, p->b, 64, (uint8_t)sent);
		++sent;
		sim_send_packet(&p->sim, p->b, p->a, 64, (uint8_t)sent);
		++sent;
		sim_run_for(&p->sim, 500 * MSEC);
		delivered += p->a->n_delivered + p->b->n_delivered;
		p->a->n_delivered = p->b->n_delivered = 0;
	}
	assert_int_equal(delivered, sent);
	/* REKEY_AFTER_TIME is 120 s: about ten rekeys in 1200 s. */
	assert_true(p->a->sent_initiations + p->b->sent_initiations >= 9);
	assert_true(p->a->sent_initiations + p->b->sent_initiations <= 12);
	assert_true(p->a_peer_b->keypairs.current->internal_id > first_kp);
	assert_int_equal(drops(p->a, BRAID_DROP_KEY_EXPIRED) + drops(p->b, BRAID_DROP_KEY_EXPIRED), 0);
}

static bool drop_all(struct sim *sim, struct sim_host *from, struct sim_host *to,
		     struct sim_datagram *d)
{
	return false;
}

/*
 * 6. Nobody answers: retries every REKEY_TIMEOUT plus jitter in [0, 333) ms,
 * twenty initiations in all, then the staged packet is dropped and the
 * peer stays quiet.
 */
static void test_handshake_retries_and_gives_up(void **state)
{
	struct pair *p = *state;
	uint64_t last = 0, times[32], gap;
	unsigned int n = 0, i;
	bool jitter_varies = false;

	p->sim.filter = drop_all;
	sim_send_packet(&p->sim, p->a, p->b, 10, 0);
	times[n++] = p->sim.now;
	while (p->sim.now < 200 * SEC) {
		uint64_t next = sim_next_deadline(&p->sim);

		if (next == BRAID_NEVER)
			break;
		sim_run_until(&p->sim, next);
		if (p->a->last_initiation_at != last && p->a->sent_initiations > n) {
			assert_true(n < 32);
			times[n++] = p->a->last_initiation_at;
			last = p->a->last_initiation_at;
		}
	}
	assert_int_equal(p->a->sent_initiations, MAX_TIMER_HANDSHAKES + 2);
	assert_int_equal(n, MAX_TIMER_HANDSHAKES + 2);
	for (i = 1; i < n; ++i) {
		gap = times[i] - times[i - 1];
		assert_true(gap >= 5 * SEC);
		assert_true(gap < 5 * SEC + 333 * MSEC);
		if (i > 1 && gap != times[1] - times[0])
			jitter_varies = true;
	}
	assert_true(jitter_varies);
	/* Together longer than REKEY_ATTEMPT_TIME. */
	assert_true(times[n - 1] - times[0] >= REKEY_ATTEMPT_TIME * SEC);
	assert_int_equal(drops(p->a, BRAID_DROP_HANDSHAKE_GAVE_UP), 1);
	assert_int_equal(p->a_peer_b->staged.count, 0);
	/* Nothing else happens until there is something to send. */
	sim_run_for(&p->sim, 600 * SEC);
	assert_int_equal(p->a->sent_initiations, MAX_TIMER_HANDSHAKES + 2);
}


/* 7. Passive keepalive exactly KEEPALIVE_TIMEOUT after data arrives, if nothing was sent back. */
static void test_keepalive_when_due(void **state)
{
	struct pair *p = *state;
	uint64_t t0;

	establish(p);
	/* b answers establish()'s data with a keepalive after 10 s; let that pass. */
	sim_run_for(&p->sim, 30 * SEC);
	assert_int_equal(p->b->sent_keepalives, 1);
	p->b->sent_keepalives = 0;
	t0 = p->sim.now;
	sim_send_packet(&p->sim, p->a, p->b, 10, 0);
	sim_flush(&p->sim);
	assert_int_equal(p->b->sent_keepalives, 0);
	sim_run_until(&p->sim, t0 + KEEPALIVE_TIMEOUT * SEC - 1);
	assert_int_equal(p->b->sent_keepalives, 0);
	sim_run_until(&p->sim, t0 + KEEPALIVE_TIMEOUT * SEC);
	assert_int_equal(p->b->sent_keepalives, 1);
	/* Keepalives are not acknowledged: one and done. */
	sim_run_for(&p->sim, 60 * SEC);
	assert_int_equal(p->b->sent_keepalives, 1);
}

/* 8. Data sent and nothing heard for KEEPALIVE + REKEY_TIMEOUT (+ jitter): new handshake. */
static void test_new_handshake_when_unanswered(void **state)
{
	struct pair *p = *state;
	uint64_t t0, initiations;

	establish(p);
	initiations = p->a->sent_initiations;
	p->sim.filter = drop_all;
	t0 = p->sim.now;
	sim_send_packet(&p->sim, p->a, p->b, 10, 0);
	sim_run_until(&p->sim, t0 + 15 * SEC - 1);
	assert_int_equal(p->a->sent_initiations, initiations);
	sim_run_until(&p->sim, t0 + 15 * SEC + 333 * MSEC);
	assert_int_equal(p->a->sent_initiations, initiations + 1);
	assert_true(p->a->last_initiation_at >= t0 + 15 * SEC);
}

/* 9. Persistent keepalive every interval while idle. */
static void test_persistent_keepalive(void **state)
{
	struct pair *p = *state;
	uint64_t before;

	establish(p);
	sim_run_for(&p->sim, 30 * SEC);
	p->a->sent_keepalives = 0;
	braid_peer_set_persistent_keepalive(p->a_peer_b, p->sim.now, 25);
	before = p->a->sent_keepalives;
	assert_int_equal(before, 1);	/* turning it on sends one at once */
	sim_run_for(&p->sim, 25 * SEC - 1);
	assert_int_equal(p->a->sent_keepalives, before);
	sim_run_for(&p->sim, 1);
	assert_int_equal(p->a->sent_keepalives, before + 1);
	sim_run_for(&p->sim, 100 * SEC);
	assert_true(p->a->sent_keepalives >= before + 5);
	braid_peer_set_persistent_keepalive(p->a_peer_b, p->sim.now, 0);
	before = p->a->sent_keepalives;
	sim_run_for(&p->sim, 100 * SEC);
	assert_int_equal(p->a->sent_keepalives, before);
}

/* 10. Keys are zeroed REJECT_AFTER_TIME * 3 after the last session was derived. */
static void test_keys_zeroed(void **state)
{
	struct pair *p = *state;
	struct sim_datagram old;

	establish(p);
	sim_send_packet(&p->sim, p->a, p->b, 10, 0);
	old = p->a->out[0];
	sim_flush(&p->sim);
	sim_run_for(&p->sim, 3 * REJECT_AFTER_TIME * SEC - 1);
	assert_non_null(p->a_peer_b->keypairs.current);
	sim_run_for(&p->sim, 1);
	assert_null(p->a_peer_b->keypairs.current);
	assert_null(p->a_peer_b->keypairs.previous);
	assert_null(p->b_peer_a->keypairs.current);
	assert_int_equal(p->a_peer_b->handshake.state, HANDSHAKE_ZEROED);
	/* The old session's index is gone too. */
	assert_int_equal(braid_device_receive(p->b->dev, p->sim.now, &p->a->addr, old.data, old.len),
			 BRAID_DROP_UNKNOWN_INDEX);
}

/* 11. Under load: a cookie reply, then the retry with mac2 completes the handshake. */
static void test_cookie_under_load(void **state)
{
	struct pair *p = *state;
	struct braid_device_stats stats;

	braid_device_set_under_load(p->b->dev, p->sim.now);
	braid_peer_initiate_handshake(p->a_peer_b, p->sim.now);
	sim_flush(&p->sim);
	braid_device_get_stats(p->b->dev, &stats);
	assert_int_equal(stats.cookie_replies_sent, 1);
	assert_int_equal(stats.drops[BRAID_DROP_COOKIE_SENT], 1);
	assert_int_equal(p->b->sent_responses, 0);
	assert_true(p->a_peer_b->cookie.is_valid);
	/* A cookie reply is not authentication: it must not move b's endpoint in a's view. */
	assert_null(p->a_peer_b->keypairs.current);

	/* Still under load when a retries after REKEY_TIMEOUT: mac2 gets it through. */
	sim_run_for(&p->sim, REKEY_TIMEOUT * SEC - 1);
	braid_device_set_under_load(p->b->dev, p->sim.now);
	sim_run_for(&p->sim, 400 * MSEC);
	assert_int_equal(p->a->sent_initiations, 2);
	assert_int_equal(p->b->sent_responses, 1);
	braid_device_get_stats(p->b->dev, &stats);
	assert_int_equal(stats.cookie_replies_sent, 1);
	assert_non_null(p->a_peer_b->keypairs.current);
}

/*
 * 11b. Triage for an overflowing backlog: a bad mac1 and a bad length are
 * dropped, an initiation without a cookie is answered with a cookie reply
 * at once, and the retry that carries the cookie is kept for the device,
 * which completes the handshake with it under load.
 */
static void test_triage_handshake(void **state)
{
	struct pair *p = *state;
	struct braid_device_stats stats;
	struct sim_datagram init, bad;
	uint8_t data[32] = { MESSAGE_DATA };

	braid_peer_initiate_handshake(p->a_peer_b, p->sim.now);
	assert_int_equal(p->a->n_out, 1);
	init = p->a->out[0];
	p->a->n_out = 0;

	bad = init;
	bad.data[init.len - 2 * 16 - 1] ^= 1;	/* a byte mac1 covers */
	assert_int_equal(braid_device_triage_handshake(p->b->dev, p->sim.now, &p->a->addr,
						       bad.data, bad.len), BRAID_DROP_MAC1);
	assert_int_equal(braid_device_triage_handshake(p->b->dev, p->sim.now, &p->a->addr,
						       init.data, init.len - 1),
			 BRAID_DROP_MALFORMED);
	assert_int_equal(braid_device_triage_handshake(p->b->dev, p->sim.now, &p->a->addr,
						       data, sizeof(data)), BRAID_OK);
	assert_int_equal(p->b->n_out, 0);

	assert_int_equal(braid_device_triage_handshake(p->b->dev, p->sim.now, &p->a->addr,
						       init.data, init.len),
			 BRAID_DROP_COOKIE_SENT);
	assert_int_equal(p->b->n_out, 1);
	assert_int_equal(p->b->out[0].data[0], MESSAGE_HANDSHAKE_COOKIE);
	braid_device_get_stats(p->b->dev, &stats);
	assert_int_equal(stats.cookie_replies_sent, 1);
	assert_int_equal(stats.drops[BRAID_DROP_COOKIE_SENT], 1);
	assert_int_equal(stats.drops[BRAID_DROP_MAC1], 1);
	assert_int_equal(stats.drops[BRAID_DROP_MALFORMED], 1);
	sim_flush(&p->sim);
	assert_true(p->a_peer_b->cookie.is_valid);
	assert_int_equal(p->b->sent_responses, 0);

	/* a's retry after REKEY_TIMEOUT carries mac2: kept, and answered in its turn. */
	p->sim.now += REKEY_TIMEOUT * SEC + 400 * MSEC;
	braid_device_tick(p->a->dev, p->sim.now);
	assert_int_equal(p->a->n_out, 1);
	init = p->a->out[0];
	p->a->n_out = 0;
	assert_int_equal(braid_device_triage_handshake(p->b->dev, p->sim.now, &p->a->addr,
						       init.data, init.len), BRAID_OK);
	assert_int_equal(p->b->n_out, 0);
	braid_device_set_under_load(p->b->dev, p->sim.now);
	assert_int_equal(braid_device_receive(p->b->dev, p->sim.now, &p->a->addr, init.data,
					      init.len), BRAID_OK);
	assert_int_equal(p->b->sent_responses, 1);
	braid_device_get_stats(p->b->dev, &stats);
	assert_int_equal(stats.cookie_replies_sent, 1);
	sim_flush(&p->sim);
	assert_non_null(p->a_peer_b->keypairs.current);
}

static struct sim_datagram captured;
static bool capture_initiation(struct sim *sim, struct sim_host *from, struct sim_host *to,
			       struct sim_datagram *d)
{
	if (d->data[0] == MESSAGE_HANDSHAKE_INITIATION && !captured.len)
		captured = *d;
	return true;
}

static void spoof_from(struct braid_endpoint *ep, uint32_t host)
{
	sim_endpoint(ep, 0, 40000);
	ep->addr.in4.sin_addr.s_addr = htonl(0xcb007100 | (host & 0xff));	/* 203.0.113.x */
	ep->addr.in4.sin_port = htons((uint16_t)(1024 + host));
}

/*
 * 12. Load from many sources puts the device under load: replayed
 * initiations (valid mac1) from 200 addresses exhaust a budget of 50 per
 * second, after which every source, the legitimate one too, gets cookies.
 */
static void test_many_sources_cause_load(void **state)
{
	struct braid_device_config config = { .handshake_load_rate = 50 };
	struct pair p;
	struct braid_device_stats stats;
	struct braid_endpoint from;
	uint8_t buf[MESSAGE_INITIATION_LEN];
	unsigned int i;

	pair_init(&p, &config);
	memset(&captured, 0, sizeof(captured));
	p.sim.filter = capture_initiation;
	establish(&p);
	assert_int_equal(captured.len, MESSAGE_INITIATION_LEN);
	p.sim.filter = NULL;
	for (i = 0; i < 200; ++i) {
		spoof_from(&from, i);
		memcpy(buf, captured.data, sizeof(buf));
		braid_device_receive(p.b->dev, p.sim.now, &from, buf, sizeof(buf));
	}
	p.b->n_out = 0;
	braid_device_get_stats(p.b->dev, &stats);
	assert_true(stats.cookie_replies_sent >= 100);
	assert_true(stats.drops[BRAID_DROP_HANDSHAKE_REPLAY] >= 50);

	/* The legitimate peer is asked for a cookie too, and then gets through. */
	p.a->sent_cookies = p.b->sent_cookies = 0;
	p.sim.now += REKEY_TIMEOUT * SEC;
	braid_device_set_under_load(p.b->dev, p.sim.now);
	braid_peer_initiate_handshake(p.a_peer_b, p.sim.now);
	sim_flush(&p.sim);
	assert_int_equal(p.b->sent_cookies, 1);
	sim_run_for(&p.sim, REKEY_TIMEOUT * SEC + 400 * MSEC);
	assert_int_equal(p.b->sent_responses, 2);
	sim_free(&p.sim);
}

/*
 * 13. One flooding source: it is answered with cookies and then rate
 * limited, but another peer's handshake goes through without a cookie.
 */
static void test_one_flooder_does_not_load_others(void **state)
{
	struct braid_device_config config = { .handshake_load_rate = 50 };
	struct pair p;
	struct sim_host *c;
	struct braid_peer *c_peer_b;
	struct braid_device_stats stats;
	struct braid_endpoint from;
	uint8_t buf[MESSAGE_INITIATION_LEN];
	unsigned int i;

	pair_init(&p, &config);
	c = sim_add_host(&p.sim, &config);
	c_peer_b = sim_connect(&p.sim, c, p.b, true);
	sim_connect(&p.sim, p.b, c, true);
	memset(&captured, 0, sizeof(captured));
	p.sim.filter = capture_initiation;
	establish(&p);
	p.sim.filter = NULL;

	spoof_from(&from, 7);
	for (i = 0; i < 1000; ++i) {
		memcpy(buf, captured.data, sizeof(buf));
		braid_device_receive(p.b->dev, p.sim.now + i * 10000, &from, buf, sizeof(buf));
	}
	p.b->n_out = 0;
	braid_device_get_stats(p.b->dev, &stats);
	/* The first few pass the source's bucket (and fail as replays); the rest get cookies. */
	assert_true(stats.drops[BRAID_DROP_HANDSHAKE_REPLAY] <= RATELIMITER_PACKETS_BURSTABLE + 1);
	assert_true(stats.cookie_replies_sent >= 990);

	p.sim.now += 10 * MSEC;
	p.b->sent_cookies = 0;
	braid_peer_initiate_handshake(c_peer_b, p.sim.now);
	sim_flush(&p.sim);
	assert_int_equal(p.b->sent_cookies, 0);
	assert_non_null(c_peer_b->keypairs.current);
	sim_free(&p.sim);
}

/* 14. A replayed initiation or response changes nothing. */
static void test_replayed_handshake(void **state)
{
	struct pair *p = *state;
	struct sim_datagram init, resp;

	braid_peer_initiate_handshake(p->a_peer_b, p->sim.now);
	init = p->a->out[0];
	p->a->n_out = 0;
	assert_int_equal(braid_device_receive(p->b->dev, p->sim.now, &p->a->addr, init.data, init.len),
			 BRAID_OK);
	resp = p->b->out[0];
	p->b->n_out = 0;
	p->sim.now += SEC;
	assert_int_equal(braid_device_receive(p->b->dev, p->sim.now, &p->a->addr, init.data, init.len),
			 BRAID_DROP_HANDSHAKE_REPLAY);
	assert_int_equal(p->b->n_out, 0);
	assert_int_equal(braid_device_receive(p->a->dev, p->sim.now, &p->b->addr, resp.data, resp.len),
			 BRAID_OK);
	p->a->n_out = 0;
	assert_int_equal(braid_device_receive(p->a->dev, p->sim.now, &p->b->addr, resp.data, resp.len),
			 BRAID_DROP_HANDSHAKE);
}

/* 15. Two initiations within 1/50 s from one peer: the second is a flood. */
static void test_initiation_flood_per_peer(void **state)
{
	struct pair *p = *state;
	struct sim_datagram first;

	braid_peer_initiate_handshake(p->a_peer_b, p->sim.now);
	first = p->a->out[0];
	p->a->n_out = 0;
	assert_int_equal(braid_device_receive(p->b->dev, p->sim.now, &p->a->addr, first.data,
					      first.len), BRAID_OK);
	/* A newer timestamp (the wall clock moved 100 ms) but too soon after the last one. */
	p->a_peer_b->last_sent_handshake = BRAID_NEVER;
	p->sim.now += 100 * MSEC;
	braid_peer_initiate_handshake(p->a_peer_b, p->sim.now);
	p->sim.now -= 90 * MSEC;
	assert_int_equal(braid_device_receive(p->b->dev, p->sim.now, &p->a->addr, p->a->out[0].data,
					      p->a->out[0].len), BRAID_DROP_HANDSHAKE_FLOOD);
}

static struct sim_datagram data_msgs[9000];
static size_t n_data_msgs;
static bool capture_data(struct sim *sim, struct sim_host *from, struct sim_host *to,
			 struct sim_datagram *d)
{
	if (d->data[0] == MESSAGE_DATA && d->len > 32 && n_data_msgs < 9000) {
		data_msgs[n_data_msgs++] = *d;
		return false;
	}
	return true;
}

static size_t delivered_total;
static enum braid_drop deliver_captured(struct pair *p, size_t i)
{
	struct sim_datagram d = data_msgs[i];
	enum braid_drop why = braid_device_receive(p->b->dev, p->sim.now, &d.from, d.data, d.len);

	delivered_total += p->b->n_delivered;
	p->b->n_delivered = 0;
	return why;
}

/* 16. Replays and counters behind the window are dropped; reordering inside it is fine. */
static void test_data_replay_and_reordering(void **state)
{
	struct pair *p = *state;
	size_t i;

	establish(p);
	n_data_msgs = 0;
	p->sim.filter = capture_data;
	for (i = 0; i < 9000; ++i) {
		sim_send_packet(&p->sim, p->a, p->b, 16, (uint8_t)i);
		if (i % 1000 == 999)
			sim_flush(&p->sim);
	}
	sim_flush(&p->sim);
	p->sim.filter = NULL;
	assert_int_equal(n_data_msgs, 9000);
	delivered_total = 0;

	/* Deliver 8128 .. 0 backwards is too much: the window is 8128 wide, so
	 * deliver the newest first, then every older one still inside the window. */
	assert_int_equal(deliver_captured(p, 8999), BRAID_OK);
	for (i = 8998; i >= 8999 - (COUNTER_WINDOW_SIZE - 1); --i)
		assert_int_equal(deliver_captured(p, i), BRAID_OK);
	/* One step further back is outside the window. */
	assert_int_equal(deliver_captured(p, 8999 - COUNTER_WINDOW_SIZE - 1), BRAID_DROP_REPLAY);
	assert_int_equal(deliver_captured(p, 0), BRAID_DROP_REPLAY);
	/* Every accepted one is now a replay. */
	assert_int_equal(deliver_captured(p, 8999), BRAID_DROP_REPLAY);
	assert_int_equal(deliver_captured(p, 5000), BRAID_DROP_REPLAY);
	assert_int_equal(delivered_total, COUNTER_WINDOW_SIZE);
	assert_int_equal(drops(p->b, BRAID_DROP_REPLAY), 4);
}

/* 17. A decrypted packet whose inner source is not the peer's is dropped and counted. */
static void test_disallowed_inner_source(void **state)
{
	struct pair *p = *state;
	uint8_t buf[128], *pkts[1] = { buf };
	size_t len = sim_ipv4_packet(buf, htonl(0xc0000263) /* 192.0.2.99 */, sim_tunnel_addr(2), 20, 0);

	establish(p);
	assert_int_equal(braid_device_send(p->a->dev, p->sim.now, pkts, &len, 1), 0);
	sim_flush(&p->sim);
	assert_int_equal(p->b->n_delivered, 0);
	assert_int_equal(drops(p->b, BRAID_DROP_INNER_SOURCE), 1);
	/* With the address allowed, the same packet goes through. */
	{
		uint32_t extra = htonl(0xc0000263);

		assert_int_equal(braid_peer_add_allowed_ip(p->b_peer_a, AF_INET, &extra, 32), 0);
	}
	braid_device_send(p->a->dev, p->sim.now, pkts, &len, 1);
	sim_flush(&p->sim);
	assert_int_equal(p->b->n_delivered, 1);
}

/* 18. Cryptokey routing with three hosts: each destination goes to its own peer. */
static void test_cryptokey_routing(void **state)
{
	struct pair *p = *state;
	struct sim_host *c = sim_add_host(&p->sim, NULL);
	struct braid_peer *a_peer_c = sim_connect(&p->sim, p->a, c, true);
	struct braid_peer *c_peer_a = sim_connect(&p->sim, c, p->a, true);
	uint8_t buf[128], *pkts[1] = { buf };
	size_t len;

	sim_send_packet(&p->sim, p->a, p->b, 5, 1);
	sim_send_packet(&p->sim, p->a, c, 6, 2);
	sim_flush(&p->sim);
	assert_packet_delivered(p->b, p->b_peer_a, 5, 1);
	assert_packet_delivered(c, c_peer_a, 6, 2);
	assert_int_equal(p->b->n_delivered, 1);
	assert_int_equal(c->n_delivered, 1);
	/* No peer holds 192.0.2.50. */
	len = sim_ipv4_packet(buf, sim_tunnel_addr(1), htonl(0xc0000232), 1, 0);
	assert_int_equal(braid_device_send(p->a->dev, p->sim.now, pkts, &len, 1), 1);
	assert_int_equal(drops(p->a, BRAID_DROP_NO_ROUTE), 1);
	/* Moving c's prefix to b moves the traffic. */
	{
		uint32_t caddr = sim_tunnel_addr(3);

		assert_int_equal(braid_peer_add_allowed_ip(p->a_peer_b, AF_INET, &caddr, 32), 0);
	}
	len = sim_ipv4_packet(buf, sim_tunnel_addr(1), sim_tunnel_addr(3), 1, 0);
	assert_ptr_equal(transport_route(p->a->dev, buf, len), p->a_peer_b);
	sim_send_packet(&p->sim, p->a, c, 7, 3);
	sim_flush(&p->sim);
	assert_int_equal(c->n_delivered, 1);
	/* b receives it: the source 192.0.2.1 is a's, so b accepts it for its host to route. */
	assert_int_equal(p->b->n_delivered, 2);
	(void)a_peer_c;
}

/* 19. Roaming: authenticated data from a new address moves the endpoint; a cookie reply does not. */
static void test_roaming(void **state)
{
	struct pair *p = *state;
	struct braid_endpoint ep, moved;

	establish(p);
	sim_endpoint(&moved, 1, 40001);
	moved.addr.in4.sin_addr.s_addr = htonl(0xcb007105);	/* 203.0.113.5 */
	sim_send_packet(&p->sim, p->a, p->b, 10, 0);
	p->a->out[0].from = moved;
	sim_flush(&p->sim);
	assert_true(braid_peer_get_endpoint(p->b_peer_a, &ep));
	assert_int_equal(ep.addr.in4.sin_addr.s_addr, moved.addr.in4.sin_addr.s_addr);
	assert_int_equal(ep.addr.in4.sin_port, moved.addr.in4.sin_port);
}

/* 20. Preshared keys: equal keys work, different keys never complete a handshake. */
static void test_preshared_key(void **state)
{
	struct pair *p = *state;
	uint8_t psk[BRAID_KEY_LEN], other[BRAID_KEY_LEN];

	memset(psk, 0x42, sizeof(psk));
	memset(other, 0x43, sizeof(other));
	braid_peer_set_preshared_key(p->a_peer_b, psk);
	braid_peer_set_preshared_key(p->b_peer_a, psk);
	establish(p);

	/* A changed key applies to the next handshake, and a mismatch fails it. */
	braid_peer_set_preshared_key(p->b_peer_a, other);
	p->sim.now += REKEY_TIMEOUT * SEC;
	braid_peer_initiate_handshake(p->a_peer_b, p->sim.now);
	sim_flush(&p->sim);
	assert_int_equal(drops(p->a, BRAID_DROP_HANDSHAKE), 1);
	assert_int_equal(p->a_peer_b->handshake.state, HANDSHAKE_CREATED_INITIATION);
}

/* 21. REKEY_AFTER_MESSAGES starts a handshake; REJECT_AFTER_MESSAGES stops sending. */
static void test_message_limits(void **state)
{
	struct pair *p = *state;
	struct braid_keypair *kp;
	uint64_t initiations;

	establish(p);
	kp = p->b_peer_a->keypairs.current;
	/* b is the responder: only the message count makes it rekey. */
	p->sim.now += REKEY_TIMEOUT * SEC;
	atomic_store(&kp->sending_counter, REKEY_AFTER_MESSAGES);
	initiations = p->b->sent_initiations;
	sim_send_packet(&p->sim, p->b, p->a, 10, 0);
	assert_int_equal(p->b->sent_initiations, initiations + 1);
	p->b->n_out = 0;

	atomic_store(&kp->sending_counter, REJECT_AFTER_MESSAGES - 1);
	p->b->sent_data = 0;
	sim_send_packet(&p->sim, p->b, p->a, 10, 0);	/* the last nonce allowed */
	assert_int_equal(p->b->sent_data, 1);
	sim_send_packet(&p->sim, p->b, p->a, 10, 0);	/* staged: no nonce left */
	assert_int_equal(p->b->sent_data, 1);
	assert_int_equal(p->b_peer_a->staged.count, 1);
	assert_false(atomic_load(&kp->sending_is_valid));
}

/* 22. Every type at every length up to 200, and random bytes: dropped, never accepted. */
static void test_hostile_input(void **state)
{
	struct pair *p = *state;
	uint8_t buf[256];
	uint64_t rng = 99;
	unsigned int type, len, round;

	establish(p);
	for (round = 0; round < 4; ++round) {
		for (type = 0; type < 6; ++type) {
			for (len = 0; len <= 200; ++len) {
				sim_random(&(struct sim_host){ .rng = rng++ }, buf, sizeof(buf));
				if (len >= 1)
					buf[0] = (uint8_t)type;
				if (len >= 4 && round < 2)
					buf[1] = buf[2] = buf[3] = 0;
				if (len >= 8 && round == 1 && type == 4)
					memcpy(buf + 4, &p->b_peer_a->keypairs.current->entry.index, 4);
				assert_int_not_equal(braid_device_receive(p->b->dev, p->sim.now,
									  &p->a->addr, buf, len),
						     BRAID_OK);
			}
		}
	}
	assert_int_equal(p->b->n_delivered, 0);
	/* The session still works. */
	sim_send_packet(&p->sim, p->a, p->b, 10, 0);
	sim_flush(&p->sim);
	assert_int_equal(p->b->n_delivered, 1);
}

/* 23. Changing our private key drops sessions and peers re-handshake with the new identity. */
static void test_private_key_change(void **state)
{
	struct pair *p = *state;
	uint8_t key[BRAID_KEY_LEN];

	establish(p);
	memset(key, 0x11, sizeof(key));
	braid_clamp_private_key(key);
	braid_device_set_private_key(p->a->dev, key);
	braid_public_key(p->a->public_key, key);
	assert_false(atomic_load(&p->a_peer_b->keypairs.current->sending_is_valid));
	/* b only knows the old key: a's initiation fails there. */
	sim_send_packet(&p->sim, p->a, p->b, 10, 0);
	sim_flush(&p->sim);
	assert_int_equal(p->b->n_delivered, 0);
	/* b learns the new key (a new peer) and it works. */
	braid_peer_free(p->b_peer_a);
	p->b_peer_a = sim_connect(&p->sim, p->b, p->a, true);
	p->sim.now += REKEY_TIMEOUT * SEC;
	sim_send_packet(&p->sim, p->a, p->b, 10, 0);
	sim_flush(&p->sim);
	assert_int_not_equal(p->b->n_delivered, 0);
	/* A peer with our own public key is refused. */
	assert_null(braid_peer_new(p->a->dev, p->a->public_key));
}

struct seal_job {
	struct braid_keypair *kp;
	unsigned int slot;
	uint64_t first;
	uint8_t out[64][160];
	size_t len[64];
};

static void *seal_thread(void *arg)
{
	struct seal_job *job = arg;
	uint8_t pkt[100];
	unsigned int i;

	for (i = 0; i < 64; ++i) {
		memset(pkt, (int)i, sizeof(pkt));
		job->len[i] = braid_keypair_seal(job->kp, job->slot, job->first + i, job->out[i], pkt,
						 sizeof(pkt), 1420);
	}
	return NULL;
}

/* 24. The data plane from several threads: each seals with its own slot. */
static void test_data_plane_threads(void **state)
{
	struct braid_device_config config = { .data_threads = 2 };
	struct pair p;
	struct seal_job jobs[2];
	pthread_t threads[2];
	struct braid_keypair *kp, *rkp;
	enum braid_drop why;
	unsigned int t, i;

	pair_init(&p, &config);
	establish(&p);
	for (t = 0; t < 2; ++t) {
		jobs[t].kp = transport_send_begin(p.a_peer_b, p.sim.now, 64, &jobs[t].first);
		assert_non_null(jobs[t].kp);
		jobs[t].slot = t + 1;
		assert_int_equal(pthread_create(&threads[t], NULL, seal_thread, &jobs[t]), 0);
	}
	for (t = 0; t < 2; ++t)
		assert_int_equal(pthread_join(threads[t], NULL), 0);
	for (t = 0; t < 2; ++t) {
		kp = jobs[t].kp;
		for (i = 0; i < 64; ++i) {
			uint64_t nonce;
			size_t inner_len;

			rkp = transport_data_keypair(p.b->dev, p.sim.now, jobs[t].out[i],
							jobs[t].len[i], &why);
			assert_non_null(rkp);
			assert_true(braid_keypair_open(rkp, 2 - t, jobs[t].out[i], jobs[t].len[i],
						       &nonce, &inner_len));
			assert_int_equal(nonce, jobs[t].first + i);
			assert_int_equal(inner_len, 112);
			assert_int_equal(jobs[t].out[i][16], i);
			braid_keypair_put(rkp);
		}
		braid_keypair_put(kp);
	}
	assert_int_not_equal(jobs[0].first, jobs[1].first);
	sim_free(&p.sim);
}

/* 25. Deadlines: an idle device with no peers sleeps forever; timers move the deadline. */
static void test_deadlines(void **state)
{
	struct pair *p = *state;

	assert_int_equal(braid_device_tick(p->a->dev, p->sim.now), BRAID_NEVER);
	establish(p);
	assert_true(braid_device_next_deadline(p->a->dev) > p->sim.now);
	assert_true(braid_device_next_deadline(p->a->dev) <= p->sim.now + 3 * REJECT_AFTER_TIME * SEC);
	/* After everything has expired and been zeroed, nothing is scheduled. */
	sim_run_for(&p->sim, 3 * REJECT_AFTER_TIME * SEC + 10 * SEC);
	assert_int_equal(braid_device_tick(p->a->dev, p->sim.now), BRAID_NEVER);
}

/* 26. A cookie binds the source port too: from another port it is worth nothing. */
static void test_cookie_bound_to_port(void **state)
{
	struct pair *p = *state;
	struct braid_device_stats stats;
	struct braid_endpoint a_orig = p->a->addr;

	braid_device_set_under_load(p->b->dev, p->sim.now);
	braid_peer_initiate_handshake(p->a_peer_b, p->sim.now);
	sim_flush(&p->sim);
	assert_true(p->a_peer_b->cookie.is_valid);

	/* a's NAT mapping changes port: the retry carries a mac2 for the old port. */
	p->a->addr.addr.in4.sin_port = htons(40404);
	p->sim.now += REKEY_TIMEOUT * SEC;
	braid_device_set_under_load(p->b->dev, p->sim.now);
	p->a_peer_b->last_sent_handshake = BRAID_NEVER;
	braid_peer_initiate_handshake(p->a_peer_b, p->sim.now);
	sim_flush(&p->sim);
	braid_device_get_stats(p->b->dev, &stats);
	assert_int_equal(stats.cookie_replies_sent, 2);
	assert_int_equal(p->b->sent_responses, 0);
	p->a->addr = a_orig;
}

/* 27. A cookie reply, even a valid one, never moves the endpoint. */
static void test_cookie_reply_does_not_roam(void **state)
{
	struct pair *p = *state;
	struct braid_endpoint ep;

	braid_device_set_under_load(p->b->dev, p->sim.now);
	braid_peer_initiate_handshake(p->a_peer_b, p->sim.now);
	assert_int_equal(braid_device_receive(p->b->dev, p->sim.now, &p->a->addr, p->a->out[0].data,
					      p->a->out[0].len), BRAID_DROP_COOKIE_SENT);
	p->a->n_out = 0;
	assert_int_equal(p->b->n_out, 1);
	/* Deliver the reply as if from somewhere else. */
	sim_endpoint(&ep, 77, 9999);
	assert_int_equal(braid_device_receive(p->a->dev, p->sim.now, &ep, p->b->out[0].data,
					      p->b->out[0].len), BRAID_OK);
	p->b->n_out = 0;
	assert_true(braid_peer_get_endpoint(p->a_peer_b, &ep));
	assert_int_equal(ep.addr.in4.sin_addr.s_addr, p->b->addr.addr.in4.sin_addr.s_addr);
	/* A second copy of the same reply is refused: one reply per mac1 sent. */
	sim_endpoint(&ep, 2, 51820);
	assert_int_equal(braid_device_receive(p->a->dev, p->sim.now, &ep, p->b->out[0].data, 64),
			 BRAID_DROP_COOKIE);
}

/* 28. Counters are 64 bits all the way: past 2^32 packets still flow. */
static void test_counter_past_32_bits(void **state)
{
	struct pair *p = *state;

	establish(p);
	atomic_store(&p->a_peer_b->keypairs.current->sending_counter, (1ULL << 32) + 5);
	sim_send_packet(&p->sim, p->a, p->b, 10, 1);
	sim_send_packet(&p->sim, p->a, p->b, 10, 2);
	sim_flush(&p->sim);
	assert_int_equal(p->b->n_delivered, 2);
	assert_int_equal(p->b_peer_a->keypairs.current->receiving_counter.counter, (1ULL << 32) + 7);
}

/* 29. REJECT_AFTER_TIME: an old keypair neither sends nor receives. */
static void test_reject_after_time(void **state)
{
	struct pair *p = *state;
	struct sim_datagram d;

	establish(p);
	sim_send_packet(&p->sim, p->a, p->b, 10, 0);
	d = p->a->out[0];
	p->a->n_out = 0;
	/* Age both sessions past 180 s without running any timer. */
	p->sim.now += REJECT_AFTER_TIME * SEC;
	assert_int_equal(braid_device_receive(p->b->dev, p->sim.now, &d.from, d.data, d.len),
			 BRAID_DROP_KEY_EXPIRED);
	p->b->sent_data = 0;
	sim_send_packet(&p->sim, p->b, p->a, 10, 0);
	assert_int_equal(p->b->sent_data, 0);
	assert_int_equal(p->b_peer_a->staged.count, 1);
	assert_int_equal(p->b->sent_initiations, 1);
	/* The new handshake carries the staged packet. */
	sim_flush(&p->sim);
	assert_int_equal(p->a->n_delivered, 1);
}

/* 30. Oversized and odd datagrams are dropped without touching memory past them. */
static void test_oversized_datagrams(void **state)
{
	struct pair *p = *state;
	uint8_t *buf = calloc(1, 65535);
	size_t lens[] = { 65535, 65534, 65519, 4096 + 3, 33, 47, 31, 32 };
	unsigned int i, type;

	establish(p);
	for (type = 1; type <= 4; ++type) {
		for (i = 0; i < sizeof(lens) / sizeof(lens[0]); ++i) {
			memset(buf, 0xa5, lens[i]);
			buf[0] = (uint8_t)type;
			buf[1] = buf[2] = buf[3] = 0;
			memcpy(buf + 4, &p->b_peer_a->keypairs.current->entry.index, 4);
			assert_int_not_equal(braid_device_receive(p->b->dev, p->sim.now, &p->a->addr,
								  buf, lens[i]), BRAID_OK);
		}
	}
	free(buf);
}

/* 31. The sticky source follows the packets, and a routing change forgets it. */
static void test_sticky_source(void **state)
{
	struct pair *p = *state;
	struct braid_endpoint ep;

	establish(p);
	sim_send_packet(&p->sim, p->a, p->b, 10, 0);
	/* As the daemon reports it: a's packet arrived on b's 198.51.100.2, interface 7. */
	p->a->out[0].from.src.in4.s_addr = p->b->addr.addr.in4.sin_addr.s_addr;
	p->a->out[0].from.src_ifindex = 7;
	sim_flush(&p->sim);
	assert_true(braid_peer_get_endpoint(p->b_peer_a, &ep));
	assert_int_equal(ep.src.in4.s_addr, p->b->addr.addr.in4.sin_addr.s_addr);
	assert_int_equal(ep.src_ifindex, 7);
	braid_device_clear_endpoint_sources(p->b->dev);
	assert_true(braid_peer_get_endpoint(p->b_peer_a, &ep));
	assert_int_equal(ep.src.in4.s_addr, 0);
	assert_int_equal(ep.src_ifindex, 0);
	/* The address itself stays: only the choice of source is forgotten. */
	assert_int_equal(ep.addr.in4.sin_addr.s_addr, p->a->addr.addr.in4.sin_addr.s_addr);
}

/* Make a's next packet arrive at b as if on b's 198.51.100.2, interface 7, and move it. */
static void arrive_with_source(struct pair *p)
{
	sim_send_packet(&p->sim, p->a, p->b, 10, 0);
	p->a->out[0].from.src.in4.s_addr = p->b->addr.addr.in4.sin_addr.s_addr;
	p->a->out[0].from.src_ifindex = 7;
	sim_flush(&p->sim);
}

/*
 * 34. The host refusing a sticky source makes the peer forget it, unless the
 * source has changed since; configuring an endpoint forgets it too.
 */
static void test_source_refused(void **state)
{
	struct pair *p = *state;
	struct braid_endpoint ep, refused;

	establish(p);
	arrive_with_source(p);
	assert_true(braid_peer_get_endpoint(p->b_peer_a, &ep));
	refused = ep;
	refused.src.in4.s_addr = htonl(0xcb007101);	/* 203.0.113.1: not the source in use */
	braid_peer_source_refused(p->b_peer_a, &refused);
	assert_true(braid_peer_get_endpoint(p->b_peer_a, &ep));
	assert_int_equal(ep.src_ifindex, 7);
	braid_peer_source_refused(p->b_peer_a, &ep);
	assert_true(braid_peer_get_endpoint(p->b_peer_a, &ep));
	assert_int_equal(ep.src.in4.s_addr, 0);
	assert_int_equal(ep.src_ifindex, 0);
	assert_int_equal(ep.addr.in4.sin_addr.s_addr, p->a->addr.addr.in4.sin_addr.s_addr);

	arrive_with_source(p);
	assert_true(braid_peer_get_endpoint(p->b_peer_a, &ep));
	assert_int_equal(ep.src_ifindex, 7);
	braid_peer_set_endpoint(p->b_peer_a, &ep);	/* src given, but set_endpoint takes addr only */
	assert_true(braid_peer_get_endpoint(p->b_peer_a, &ep));
	assert_int_equal(ep.src.in4.s_addr, 0);
	assert_int_equal(ep.src_ifindex, 0);
}

/*
 * 33. A rate-limiter table filled by spoofed sources does not lock out a
 * legitimate peer: it gets a cookie, and its retry with mac2 is admitted.
 */
static void test_full_ratelimiter_table(void **state)
{
	struct braid_device_config config = { .ratelimiter_entries = 16 };
	struct braid_endpoint from;
	uint8_t buf[MESSAGE_INITIATION_LEN];
	struct pair p;
	unsigned int i;

	pair_init(&p, &config);
	memset(&captured, 0, sizeof(captured));
	p.sim.filter = capture_initiation;
	establish(&p);
	p.sim.filter = NULL;
	p.sim.now += 6 * SEC;	/* a may initiate again, and its own entry goes idle */
	braid_device_tick(p.b->dev, p.sim.now);
	for (i = 0; i < 16; ++i) {
		spoof_from(&from, 100 + i);
		memcpy(buf, captured.data, sizeof(buf));
		braid_device_receive(p.b->dev, p.sim.now, &from, buf, sizeof(buf));
	}
	p.b->n_out = 0;
	p.b->sent_cookies = p.b->sent_responses = 0;

	braid_peer_initiate_handshake(p.a_peer_b, p.sim.now);
	sim_flush(&p.sim);
	assert_int_equal(p.b->sent_cookies, 1);
	assert_int_equal(p.b->sent_responses, 0);
	/* The retry carries mac2 and gets through although the table is still full. */
	for (i = 0; i < 16; ++i) {
		spoof_from(&from, 100 + i);
		memcpy(buf, captured.data, sizeof(buf));
		braid_device_receive(p.b->dev, p.sim.now + REKEY_TIMEOUT * SEC, &from, buf,
				     sizeof(buf));
	}
	p.b->n_out = 0;
	sim_run_for(&p.sim, REKEY_TIMEOUT * SEC + 400 * MSEC);
	assert_int_equal(p.b->sent_responses, 1);
	assert_int_equal(drops(p.b, BRAID_DROP_RATELIMITED), 0);
	sim_free(&p.sim);
}

struct batch_io {
	uint8_t in[64][256];
	size_t in_len[64];
	uint8_t out[64][320];
	uint8_t *out_ptr[64];
	size_t out_len[64];
	struct braid_send_job send[64];
	struct braid_receive_job recv[64];
	struct braid_endpoint from[64];
};

static void *seal_half(void *arg)
{
	struct batch_io *io = arg;
	unsigned int i;

	/* Slot 1 seals the odd jobs while the main thread (slot 0) seals the even ones. */
	for (i = 1; i < 64; i += 2)
		if (io->send[i].kp)
			io->send[i].sealed_len = braid_keypair_seal(io->send[i].kp, 1, io->send[i].nonce,
								    io->out[i], io->in[i], io->in_len[i],
								    1420);
	return NULL;
}

static void *open_half(void *arg)
{
	struct batch_io *io = arg;
	unsigned int i;

	for (i = 1; i < 64; i += 2)
		if (io->recv[i].kp)
			io->recv[i].opened = braid_keypair_open(io->recv[i].kp, 1, io->out_ptr[i],
								io->out_len[i], &io->recv[i].nonce,
								&io->recv[i].inner_len);
	return NULL;
}

/* 32. The batch API: prepare, seal and open on two threads, finish; order and counters kept. */
static void test_batch_api(void **state)
{
	struct braid_device_config config = { .data_threads = 1 };
	struct braid_peer_stats sa, sb;
	struct batch_io *io = calloc(1, sizeof(*io));
	uint8_t *pkts[64];
	struct pair p;
	pthread_t t;
	unsigned int i;

	pair_init(&p, &config);
	for (i = 0; i < 64; ++i) {
		io->in_len[i] = sim_ipv4_packet(io->in[i], sim_tunnel_addr(1), sim_tunnel_addr(2),
						i * 3, (uint8_t)i);
		pkts[i] = io->in[i];
	}
	/* No session yet: everything is staged and a handshake starts. */
	assert_int_equal(braid_device_send_prepare(p.a->dev, p.sim.now, pkts, io->in_len, 4,
						   io->send), 0);
	assert_int_equal(p.a_peer_b->staged.count, 4);
	assert_int_equal(p.a->sent_initiations, 1);
	sim_flush(&p.sim);
	assert_int_equal(p.b->n_delivered, 4);
	p.b->n_delivered = 0;

	assert_int_equal(braid_device_send_prepare(p.a->dev, p.sim.now, pkts, io->in_len, 64,
						   io->send), 64);
	assert_int_equal(pthread_create(&t, NULL, seal_half, io), 0);
	for (i = 0; i < 64; i += 2)
		io->send[i].sealed_len = braid_keypair_seal(io->send[i].kp, 0, io->send[i].nonce,
							    io->out[i], io->in[i], io->in_len[i], 1420);
	assert_int_equal(pthread_join(t, NULL), 0);
	for (i = 0; i < 64; ++i) {
		assert_int_equal(io->send[i].to.addr.in4.sin_addr.s_addr,
				 p.b->addr.addr.in4.sin_addr.s_addr);
		io->out_ptr[i] = io->out[i];
		io->out_len[i] = io->send[i].sealed_len;
		io->from[i] = p.a->addr;
	}
	braid_device_send_finish(p.a->dev, p.sim.now, io->send, 64);

	/* Corrupt one message: it must be counted as a failed authentication. */
	io->out[10][40] ^= 1;
	assert_int_equal(braid_device_receive_prepare(p.b->dev, p.sim.now, io->from, io->out_ptr,
						      io->out_len, 64, io->recv), 64);
	assert_int_equal(pthread_create(&t, NULL, open_half, io), 0);
	for (i = 0; i < 64; i += 2)
		io->recv[i].opened = braid_keypair_open(io->recv[i].kp, 0, io->out_ptr[i],
							io->out_len[i], &io->recv[i].nonce,
							&io->recv[i].inner_len);
	assert_int_equal(pthread_join(t, NULL), 0);
	braid_device_receive_finish(p.b->dev, p.sim.now, io->from, io->out_ptr, io->recv, 64);

	assert_int_equal(p.b->n_delivered, 63);
	assert_int_equal(drops(p.b, BRAID_DROP_DECRYPT), 1);
	for (i = 0; i < 63; ++i) {
		unsigned int k = i < 10 ? i : i + 1;

		assert_int_equal(p.b->delivered[i].len, io->in_len[k]);
		assert_memory_equal(p.b->delivered[i].data, io->in[k], io->in_len[k]);
	}
	braid_peer_get_stats(p.a_peer_b, &sa);
	braid_peer_get_stats(p.b_peer_a, &sb);
	/* Everything a sent, b received, except the one corrupted message. */
	assert_int_equal(sa.tx_bytes, sb.rx_bytes + io->out_len[10]);
	free(io);
	sim_free(&p.sim);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_handshake_initiator_a, setup_pair, teardown_pair),
		cmocka_unit_test_setup_teardown(test_handshake_initiator_b, setup_pair, teardown_pair),
		cmocka_unit_test_setup_teardown(test_responder_waits_for_confirmation, setup_pair, teardown_pair),
		cmocka_unit_test_setup_teardown(test_data_all_sizes, setup_pair, teardown_pair),
		cmocka_unit_test_setup_teardown(test_rekey_without_loss, setup_pair, teardown_pair),
		cmocka_unit_test_setup_teardown(test_handshake_retries_and_gives_up, setup_pair, teardown_pair),
		cmocka_unit_test_setup_teardown(test_keepalive_when_due, setup_pair, teardown_pair),
		cmocka_unit_test_setup_teardown(test_new_handshake_when_unanswered, setup_pair, teardown_pair),
		cmocka_unit_test_setup_teardown(test_persistent_keepalive, setup_pair, teardown_pair),
		cmocka_unit_test_setup_teardown(test_keys_zeroed, setup_pair, teardown_pair),
		cmocka_unit_test_setup_teardown(test_cookie_under_load, setup_pair, teardown_pair),
		cmocka_unit_test_setup_teardown(test_triage_handshake, setup_pair, teardown_pair),
		cmocka_unit_test(test_many_sources_cause_load),
		cmocka_unit_test(test_one_flooder_does_not_load_others),
		cmocka_unit_test_setup_teardown(test_replayed_handshake, setup_pair, teardown_pair),
		cmocka_unit_test_setup_teardown(test_initiation_flood_per_peer, setup_pair, teardown_pair),
		cmocka_unit_test_setup_teardown(test_data_replay_and_reordering, setup_pair, teardown_pair),
		cmocka_unit_test_setup_teardown(test_disallowed_inner_source, setup_pair, teardown_pair),
		cmocka_unit_test_setup_teardown(test_cryptokey_routing, setup_pair, teardown_pair),
		cmocka_unit_test_setup_teardown(test_roaming, setup_pair, teardown_pair),
		cmocka_unit_test_setup_teardown(test_preshared_key, setup_pair, teardown_pair),
		cmocka_unit_test_setup_teardown(test_message_limits, setup_pair, teardown_pair),
		cmocka_unit_test_setup_teardown(test_hostile_input, setup_pair, teardown_pair),
		cmocka_unit_test_setup_teardown(test_private_key_change, setup_pair, teardown_pair),
		cmocka_unit_test(test_data_plane_threads),
		cmocka_unit_test_setup_teardown(test_deadlines, setup_pair, teardown_pair),
		cmocka_unit_test_setup_teardown(test_cookie_bound_to_port, setup_pair, teardown_pair),
		cmocka_unit_test_setup_teardown(test_cookie_reply_does_not_roam, setup_pair, teardown_pair),
		cmocka_unit_test_setup_teardown(test_counter_past_32_bits, setup_pair, teardown_pair),
		cmocka_unit_test_setup_teardown(test_reject_after_time, setup_pair, teardown_pair),
		cmocka_unit_test_setup_teardown(test_oversized_datagrams, setup_pair, teardown_pair),
		cmocka_unit_test_setup_teardown(test_sticky_source, setup_pair, teardown_pair),
		cmocka_unit_test_setup_teardown(test_source_refused, setup_pair, teardown_pair),
		cmocka_unit_test(test_batch_api),
		cmocka_unit_test(test_full_ratelimiter_table),
	};

	return cmocka_run_group_tests_name("device", tests, NULL, NULL);
}
