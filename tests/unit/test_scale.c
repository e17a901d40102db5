// SPDX-License-Identifier: MIT
/*
 * A device with many peers (100,000 by default), as a VPN concentrator has
 * them: every public key and allowed IP found, prefixes moving between
 * peers, half the peers removed, all of them cleared; and the timers of a
 * few live peers firing exactly as they do on a device with no others,
 * while the many wait in the timer heap (some with deadlines that moved
 * later or went away), each firing exactly when a walk of every peer on
 * every tick (what braid_device_tick() did before the heap) fires it.
 *
 * BRAID_TEST_SCALE sets the number of peers (the Makefile's unit-valgrind
 * sets a smaller one: the walk-every-peer reference is quadratic).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <cmocka.h>

#include "allowedips.h"
#include "device.h"
#include "peer.h"
#include "sim.h"
#include "timers.h"

#define SEC 1000000000ULL
#define MSEC 1000000ULL

static size_t scale(void)
{
	const char *s = getenv("BRAID_TEST_SCALE");
	long n = s ? strtol(s, NULL, 10) : 0;

	return n > 0 ? (size_t)n : 100000;
}

/* Peer i's key, /64 (2001:db8:1000+hi:lo::/64) and /128 (2001:db8:ff00::hi:lo). */
static void peer_key(uint8_t key[BRAID_KEY_LEN], size_t i)
{
	uint64_t state = 0xabcdef0123ULL + i, r;

	for (int j = 0; j < BRAID_KEY_LEN; j += 8) {
		r = splitmix64(&state);
		memcpy(key + j, &r, 8);
	}
}

static void peer_prefix(uint8_t addr[16], size_t i, bool host)
{
	memset(addr, 0, 16);
	addr[0] = 0x20, addr[1] = 0x01, addr[2] = 0x0d, addr[3] = 0xb8;
	if (host) {
		addr[4] = 0xff;
		addr[12] = (uint8_t)(i >> 24), addr[13] = (uint8_t)(i >> 16);
		addr[14] = (uint8_t)(i >> 8), addr[15] = (uint8_t)i;
	} else {
		addr[4] = (uint8_t)(0x10 + (i >> 24)), addr[5] = (uint8_t)(i >> 16);
		addr[6] = (uint8_t)(i >> 8), addr[7] = (uint8_t)i;
	}
}

static struct braid_peer *add_peer(struct braid_device *dev, size_t i)
{
	uint8_t key[BRAID_KEY_LEN], addr[16];
	struct braid_endpoint ep = { 0 };
	struct braid_peer *peer;

	peer_key(key, i);
	peer = braid_peer_new(dev, key);
	assert_non_null(peer);
	peer_prefix(addr, i, false);
	assert_int_equal(braid_peer_add_allowed_ip(peer, AF_INET6, addr, 64), 0);
	peer_prefix(addr, i, true);
	assert_int_equal(braid_peer_add_allowed_ip(peer, AF_INET6, addr, 128), 0);
	ep.addr.in6.sin6_family = AF_INET6;
	ep.addr.in6.sin6_port = htons(51820);
	memcpy(&ep.addr.in6.sin6_addr, addr, 16);
	ep.addr.in6.sin6_addr.s6_addr[4] = 0xee;
	braid_peer_set_endpoint(peer, &ep);
	return peer;
}

/* Who routes an address inside peer i's /64 (host bits set) and its /128. */
static void *route(struct braid_device *dev, size_t i, bool host)
{
	uint8_t addr[16];

	peer_prefix(addr, i, host);
	if (!host)
		addr[15] = 0x42;
	return allowedips_lookup(&dev->allowedips, AF_INET6, addr);
}

struct prefix_log {
	uint8_t last[16];
	uint8_t last_cidr;
	size_t n;
};

static int log_prefix(void *ctx, int family, const void *addr, uint8_t cidr)
{
	struct prefix_log *log = ctx;

	assert_int_equal(family, AF_INET6);
	memcpy(log->last, addr, 16);
	log->last_cidr = cidr;
	log->n++;
	return 0;
}

/* The longest run of occupied slots in the key table: what a lookup may probe. */
static size_t longest_run(const struct braid_device *dev)
{
	const struct pubkey_table *t = &dev->pubkeys;
	size_t longest = 0, len = 0;

	/* Twice round, so a run across the end is counted whole. */
	for (size_t i = 0; i < 2 * (t->mask + 1); i++) {
		len = t->slots[i & t->mask].peer ? len + 1 : 0;
		longest = len > longest ? len : longest;
	}
	return longest;
}

/* 1. Lookups, moves, removal and clearing with many peers. */
static void test_many_peers(void **state)
{
	size_t n = scale(), i;
	struct sim sim;
	struct sim_host *h;
	struct braid_peer **peers = calloc(n, sizeof(*peers));
	uint8_t key[BRAID_KEY_LEN], addr[16];
	struct prefix_log log;

	(void)state;
	assert_non_null(peers);
	sim_init(&sim);
	h = sim_add_host(&sim, NULL);
	for (i = 0; i < n; i++)
		peers[i] = add_peer(h->dev, i);
	assert_int_equal(h->dev->peer_count, n);

	/* The key table grew with the peers: at most half full, short runs, every key found. */
	assert_true(h->dev->pubkeys.mask + 1 >= 2 * n);
	assert_true(longest_run(h->dev) <= 64);
	for (i = 0; i < n; i++) {
		peer_key(key, i);
		assert_ptr_equal(braid_device_find_peer(h->dev, key), peers[i]);
		assert_ptr_equal(route(h->dev, i, false), peers[i]);
		assert_ptr_equal(route(h->dev, i, true), peers[i]);
	}
	peer_key(key, n);
	assert_null(braid_device_find_peer(h->dev, key));

	/* Every 7th peer takes the next one's /128: its walk ends with it, the other's lacks it. */
	for (i = 0; i + 1 < n; i += 7) {
		peer_prefix(addr, i + 1, true);
		assert_int_equal(braid_peer_add_allowed_ip(peers[i], AF_INET6, addr, 128), 0);
		assert_ptr_equal(route(h->dev, i + 1, true), peers[i]);
		assert_ptr_equal(route(h->dev, i + 1, false), peers[i + 1]);
		memset(&log, 0, sizeof(log));
		assert_int_equal(braid_peer_foreach_allowed_ip(peers[i], log_prefix, &log), 0);
		assert_int_equal(log.n, 3);
		assert_memory_equal(log.last, addr, 16);
		memset(&log, 0, sizeof(log));
		braid_peer_foreach_allowed_ip(peers[i + 1], log_prefix, &log);
		assert_int_equal(log.n, 1);
		assert_int_equal(log.last_cidr, 64);
	}

	/* Remove every other peer: what they held is gone, the rest untouched. */
	for (i = 0; i < n; i += 2) {
		braid_peer_free(peers[i]);
		peers[i] = NULL;
	}
	assert_int_equal(h->dev->peer_count, n - (n + 1) / 2);
	for (i = 0; i < n; i++) {
		peer_key(key, i);
		assert_ptr_equal(braid_device_find_peer(h->dev, key), peers[i]);
		assert_ptr_equal(route(h->dev, i, false), peers[i]);
		/* Peer i - 1 took i's /128 (and took it along if it went). */
		assert_ptr_equal(route(h->dev, i, true), i % 7 == 1 ? peers[i - 1] : peers[i]);
	}

	/* Clear them all (replace_peers), then fill again: nothing of the first set is left. */
	braid_device_clear_peers(h->dev);
	assert_int_equal(h->dev->peer_count, 0);
	assert_null(h->dev->allowedips.root6);
	assert_null(deadline_heap_first(&h->dev->deadlines));
	for (i = 0; i < n; i++)
		peers[i] = add_peer(h->dev, n - 1 - i);
	for (i = 0; i < n; i += 97) {
		peer_key(key, n - 1 - i);
		assert_ptr_equal(braid_device_find_peer(h->dev, key), peers[i]);
		assert_ptr_equal(route(h->dev, n - 1 - i, true), peers[i]);
	}
	sim_free(&sim);
	free(peers);
}

/* ---- Timers: a few live peers among many waiting ones ---- */

enum { DEADLINE_SLOTS = 64 };

/* What a host sent, when, to whom: the trace two runs must share. */
struct event {
	uint64_t at;
	uint8_t from, to, type;
	uint16_t len;
};

struct world {
	struct sim sim;
	struct sim_host *a, *b, *c;
	struct braid_peer *a_peer_b, *a_peer_c;
	struct braid_peer **idle;
	size_t n_idle;
	uint64_t first_idle_id;
	uint64_t t0;
	bool walk_every_peer;		/* tick a the way braid_device_tick() did before the heap */
	struct event *trace;
	size_t n_trace, cap_trace;
	uint64_t *fired;		/* when each idle peer's keys were zeroed; 0: never */
};

static struct world *current;

static bool record(struct sim *sim, struct sim_host *from, struct sim_host *to,
		   struct sim_datagram *d)
{
	struct world *w = current;
	struct event *e;

	if (w->n_trace == w->cap_trace) {
		w->cap_trace = w->cap_trace ? 2 * w->cap_trace : 1024;
		w->trace = realloc(w->trace, w->cap_trace * sizeof(*w->trace));
		assert_non_null(w->trace);
	}
	e = &w->trace[w->n_trace++];
	*e = (struct event){ sim->now, (uint8_t)sim_host_number(sim, from),
			     (uint8_t)sim_host_number(sim, to), d->data[0], (uint16_t)d->len };
	/* c is unreachable for the first 12 s: a retries its handshake meanwhile. */
	return !((from == w->c || to == w->c) && sim->now < w->t0 + 12 * SEC);
}

/* The zeroing of an idle peer's keys, as its log line tells it. */
static void log_line(void *ctx, enum braid_log_level level, const char *msg)
{
	struct world *w = current;
	unsigned long long id;

	if (!strstr(msg, ": zeroing keys") || sscanf(msg, "peer %llu:", &id) != 1 ||
	    id < w->first_idle_id ||
	    id >= w->first_idle_id + w->n_idle)
		return;
	assert_int_equal(w->fired[id - w->first_idle_id], 0);
	w->fired[id - w->first_idle_id] = w->sim.now;
}

static const struct braid_ops logging_ops = {
	.send = sim_send,
	.send_reply = sim_send_reply,
	.deliver = sim_deliver,
	.random = sim_random,
	.wall_clock_ns = sim_wall_clock,
	.log = log_line,
};

/* Idle peer i's keys are zeroed at one of DEADLINE_SLOTS times, 13 s apart. */
static uint64_t slot_time(const struct world *w, size_t slot)
{
	return w->t0 + (slot + 1) * 13 * SEC + 17 * MSEC;
}

/*
 * Each idle peer's zeroing timer is armed as if a session had been derived
 * 540 s before its slot. A third then move to the next slot (the heap keeps
 * the early key), a tenth are stopped (they never fire).
 */
static bool is_moved(size_t i)
{
	return i % 3 == 1 && i % DEADLINE_SLOTS + 1 < DEADLINE_SLOTS;
}

static bool is_stopped(size_t i)
{
	return i % 10 == 7;
}

/* When idle peer i's keys must be zeroed; 0: never. */
static uint64_t idle_deadline(const struct world *w, size_t i)
{
	return is_stopped(i) ? 0 : slot_time(w, i % DEADLINE_SLOTS + is_moved(i));
}

static void arm_idle(struct world *w, size_t i)
{
	const uint64_t zero_after = REJECT_AFTER_TIME * 3 * PROTOCOL_SEC;

	timers_session_derived(w->idle[i], slot_time(w, i % DEADLINE_SLOTS) - zero_after);
	if (is_moved(i))
		timers_session_derived(w->idle[i], slot_time(w, i % DEADLINE_SLOTS + 1) - zero_after);
	if (is_stopped(i))
		timers_stop(w->idle[i]);
}

static void world_init(struct world *w, size_t n_idle, bool walk_every_peer)
{
	memset(w, 0, sizeof(*w));
	current = w;
	sim_init(&w->sim);
	w->a = sim_add_host(&w->sim, NULL);
	w->b = sim_add_host(&w->sim, NULL);
	w->c = sim_add_host(&w->sim, NULL);
	/* Only a's log matters; its ops are sim_ops with a log. */
	braid_device_free(w->a->dev);
	w->a->dev = braid_device_new(NULL, &logging_ops, w->a);
	assert_non_null(w->a->dev);
	braid_device_set_private_key(w->a->dev, w->a->private_key);
	w->a_peer_b = sim_connect(&w->sim, w->a, w->b, true);
	sim_connect(&w->sim, w->b, w->a, true);
	w->a_peer_c = sim_connect(&w->sim, w->a, w->c, true);
	sim_connect(&w->sim, w->c, w->a, true);
	w->t0 = w->sim.now;
	w->walk_every_peer = walk_every_peer;
	w->n_idle = n_idle;
	w->idle = calloc(n_idle + 1, sizeof(*w->idle));
	w->fired = calloc(n_idle + 1, sizeof(*w->fired));
	assert_non_null(w->idle);
	assert_non_null(w->fired);
	for (size_t i = 0; i < n_idle; i++) {
		w->idle[i] = add_peer(w->a->dev, i);
		if (!i)
			w->first_idle_id = w->idle[i]->internal_id;
	}
	w->sim.filter = record;
}

/* What braid_device_tick() did before the heap: every peer, in list order, every tick. */
static uint64_t walk_tick(struct braid_device *dev, uint64_t now)
{
	uint64_t next = BRAID_NEVER, d;

	for (struct braid_peer *peer = dev->peers_head; peer; peer = peer->next) {
		d = timers_tick(peer, now);
		next = d < next ? d : next;
	}
	if (dev->next_gc != BRAID_NEVER && dev->next_gc <= now) {
		ratelimiter_gc(dev->ratelimiter, now);
		dev->next_gc = ratelimiter_count(dev->ratelimiter) ? now + SEC : BRAID_NEVER;
	}
	return next < dev->next_gc ? next : dev->next_gc;
}

static uint64_t walk_next(const struct braid_device *dev)
{
	uint64_t next = dev->next_gc, d;

	for (const struct braid_peer *peer = dev->peers_head; peer; peer = peer->next) {
		d = timers_next_deadline(peer);
		next = d < next ? d : next;
	}
	return next;
}

static uint64_t next_deadline(struct world *w, struct sim_host *h)
{
	return w->walk_every_peer && h == w->a ? walk_next(h->dev) :
	       braid_device_next_deadline(h->dev);
}

/* sim_run_until(), with a ticked by the walk when the world says so. */
static void run_until(struct world *w, uint64_t until)
{
	struct sim *sim = &w->sim;
	uint64_t next, d;

	sim_flush(sim);
	for (;;) {
		next = BRAID_NEVER;
		for (unsigned int i = 0; i < sim->n_hosts; i++) {
			d = next_deadline(w, &sim->hosts[i]);
			next = d < next ? d : next;
		}
		if (next > until)
			break;
		if (next > sim->now)
			sim->now = next;
		for (unsigned int i = 0; i < sim->n_hosts; i++) {
			if (w->walk_every_peer && &sim->hosts[i] == w->a)
				walk_tick(w->a->dev, sim->now);
			else
				braid_device_tick(sim->hosts[i].dev, sim->now);
		}
		sim_flush(sim);
	}
	sim->now = until;
}

/*
 * The live part: c behind a persistent keepalive and unreachable at first
 * (handshake retries with jitter), b sending every 600 ms for three minutes
 * (rekeys), then 12 quiet minutes (keepalives, new handshakes, keys zeroed).
 * The idle peers' zeroing is armed once the scene starts.
 */
static void world_run(struct world *w)
{
	braid_peer_set_persistent_keepalive(w->a_peer_c, w->sim.now, 25);
	for (size_t i = 0; i < w->n_idle; i++)
		arm_idle(w, i);
	for (unsigned int step = 0; step < 600; step++) {
		if (step % 2 == 0)
			sim_send_packet(&w->sim, w->b, w->a, 100 + step % 50, (uint8_t)step);
		if (step % 7 == 0)
			sim_send_packet(&w->sim, w->a, w->b, 60, (uint8_t)step);
		run_until(w, w->sim.now + 300 * MSEC);
	}
	run_until(w, w->t0 + 15 * 60 * SEC);
}

static void world_free(struct world *w)
{
	sim_free(&w->sim);
	free(w->trace);
	free(w->idle);
	free(w->fired);
	current = NULL;
}

static bool same_event(const struct event *x, const struct event *y)
{
	return x->at == y->at && x->from == y->from && x->to == y->to && x->type == y->type &&
	       x->len == y->len;
}

static void assert_same_trace(const struct world *x, const struct world *y)
{
	assert_int_equal(x->n_trace, y->n_trace);
	for (size_t i = 0; i < x->n_trace; i++)
		if (!same_event(&x->trace[i], &y->trace[i]))
			fail_msg("event %zu differs: at %llu from %u to %u type %u len %u, "
				 "and at %llu from %u to %u type %u len %u", i,
				 (unsigned long long)x->trace[i].at, x->trace[i].from,
				 x->trace[i].to, x->trace[i].type, x->trace[i].len,
				 (unsigned long long)y->trace[i].at, y->trace[i].from,
				 y->trace[i].to, y->trace[i].type, y->trace[i].len);
}

/* 2. Live peers' timers fire as with no others; idle ones exactly when the walk fires them. */
static void test_timers_with_many_peers(void **state)
{
	size_t n = scale();
	struct world *alone = calloc(1, sizeof(*alone)), *crowd = calloc(1, sizeof(*crowd));
	struct world *walked = calloc(1, sizeof(*walked));
	size_t fired = 0;

	(void)state;
	assert_non_null(alone);
	assert_non_null(crowd);
	assert_non_null(walked);
	world_init(alone, 0, false);
	world_run(alone);
	world_init(crowd, n, false);
	world_run(crowd);
	/* Something happened in the scene: handshakes, retries, rekeys, keepalives. */
	assert_true(crowd->n_trace > 300);
	assert_true(crowd->a->sent_initiations >= 8);
	assert_true(crowd->a->sent_keepalives >= 20);
	assert_same_trace(alone, crowd);

	/* Each idle peer fired at its last deadline, or never once stopped. */
	for (size_t i = 0; i < n; i++) {
		assert_int_equal(crowd->fired[i], idle_deadline(crowd, i));
		fired += crowd->fired[i] != 0;
	}
	assert_true(fired > n / 2);

	world_init(walked, n, true);
	world_run(walked);
	assert_same_trace(crowd, walked);
	assert_memory_equal(crowd->fired, walked->fired, (n + 1) * sizeof(*crowd->fired));

	world_free(walked);
	current = crowd;
	world_free(crowd);
	current = alone;
	world_free(alone);
	free(alone);
	free(crowd);
	free(walked);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_many_peers),
		cmocka_unit_test(test_timers_with_many_peers),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
