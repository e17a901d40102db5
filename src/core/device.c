// SPDX-License-Identifier: MIT
/*
 * The device: lifecycle, identity, the peer table, and the entry points
 * that take packets in, dispatching by message type:
 *
 *   initiation, response -> mac1, load and rate checks -> Noise -> reply
 *   cookie reply         -> the peer's cookie_maker
 *   data                 -> transport.c
 *
 * Handshake load. Each source IP (an IPv6 /64) has a token bucket of 20
 * handshakes per second with a burst of 5. A source past its bucket must
 * prove its address with a cookie (mac2), and even then it is dropped until
 * its bucket refills; its excess never counts toward the device's load, so
 * one flooding source cannot push other peers into cookie mode. The device
 * itself has a budget of handshakes per second (handshake_load_rate); when
 * that runs dry, or the caller reports a backlog, the device is under load
 * for a second and every source needs a cookie. So is a rate-limiter table
 * full of sources (spoofed ones cost an attacker nothing): then a source
 * with a valid cookie is admitted even though it has no bucket.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "device.h"
#include "noise.h"
#include "path.h"
#include "peer.h"
#include "timers.h"
#include "transport.h"

enum { LOG_DROPS_PER_SECOND = 10 };

static pthread_once_t init_once = PTHREAD_ONCE_INIT;
static bool init_ok;

static void init(void)
{
	init_ok = crypto_init();
	if (init_ok)
		noise_init();
}

bool braid_init(void)
{
	pthread_once(&init_once, init);
	return init_ok;
}

static const char *const drop_names[BRAID_DROP_MAX] = {
	[BRAID_OK] = "ok",
	[BRAID_DROP_MALFORMED] = "malformed",
	[BRAID_DROP_MAC1] = "bad_mac1",
	[BRAID_DROP_COOKIE_SENT] = "cookie_sent",
	[BRAID_DROP_RATELIMITED] = "ratelimited",
	[BRAID_DROP_HANDSHAKE] = "handshake_failed",
	[BRAID_DROP_HANDSHAKE_REPLAY] = "handshake_replay",
	[BRAID_DROP_HANDSHAKE_FLOOD] = "handshake_flood",
	[BRAID_DROP_COOKIE] = "bad_cookie_reply",
	[BRAID_DROP_UNKNOWN_INDEX] = "unknown_index",
	[BRAID_DROP_KEY_EXPIRED] = "key_expired",
	[BRAID_DROP_DECRYPT] = "decrypt_failed",
	[BRAID_DROP_REPLAY] = "replay",
	[BRAID_DROP_DUPLICATE] = "duplicate",
	[BRAID_DROP_INNER_MALFORMED] = "inner_malformed",
	[BRAID_DROP_INNER_SOURCE] = "inner_source_not_allowed",
	[BRAID_DROP_NO_ROUTE] = "no_route",
	[BRAID_DROP_NO_ENDPOINT] = "no_endpoint",
	[BRAID_DROP_NO_KEY] = "no_private_key",
	[BRAID_DROP_STAGED_OVERFLOW] = "staged_overflow",
	[BRAID_DROP_HANDSHAKE_GAVE_UP] = "handshake_gave_up",
	[BRAID_DROP_HANDSHAKE_BACKLOG] = "handshake_backlog_full",
	[BRAID_DROP_NOMEM] = "no_memory",
};

const char *braid_drop_name(enum braid_drop reason)
{
	return (unsigned int)reason < BRAID_DROP_MAX ? drop_names[reason] : "unknown";
}

void device_random(struct braid_device *dev, void *buf, size_t len)
{
	dev->ops->random(dev->ctx, buf, len);
}

static void random_cb(void *ctx, void *buf, size_t len)
{
	device_random(ctx, buf, len);
}

void device_note_peer_deadline(struct braid_peer *peer, uint64_t deadline)
{
	struct deadline_entry *e = &peer->deadline;

	if (deadline == BRAID_NEVER || peer->is_dead)
		return;
	if (!deadline_is_queued(e) || deadline < e->at)
		deadline_heap_set(&peer->dev->deadlines, e, deadline);
}

enum braid_drop device_drop(struct braid_device *dev, enum braid_drop why)
{
	if ((unsigned int)why < BRAID_DROP_MAX)
		++dev->stats.drops[why];
	return why;
}

static void vlog(struct braid_device *dev, enum braid_log_level level, const char *fmt,
		 va_list ap)
{
	char msg[256];

	vsnprintf(msg, sizeof(msg), fmt, ap);
	dev->ops->log(dev->ctx, level, msg);
}

void device_log(struct braid_device *dev, enum braid_log_level level, const char *fmt, ...)
{
	va_list ap;

	if (!dev->ops->log)
		return;
	va_start(ap, fmt);
	vlog(dev, level, fmt, ap);
	va_end(ap);
}

void device_log_drop(struct braid_device *dev, uint64_t now, const char *fmt, ...)
{
	const uint64_t cost = NSEC_PER_SEC / LOG_DROPS_PER_SECOND;
	va_list ap;

	if (!dev->ops->log)
		return;
	dev->log_tokens += now - dev->log_last;
	if (dev->log_tokens > NSEC_PER_SEC)
		dev->log_tokens = NSEC_PER_SEC;
	dev->log_last = now;
	if (dev->log_tokens < cost)
		return;
	dev->log_tokens -= cost;
	va_start(ap, fmt);
	vlog(dev, BRAID_LOG_VERBOSE, fmt, ap);
	va_end(ap);
}

struct braid_device *braid_device_new(const struct braid_device_config *config,
				      const struct braid_ops *ops, void *ctx)
{
	struct braid_device *dev;
	uint8_t seed[16];

	if (!braid_init()) {
		errno = ENOSYS;
		return NULL;
	}
	if (!ops || !ops->send || !ops->send_reply || !ops->deliver || !ops->random ||
	    !ops->wall_clock_ns) {
		errno = EINVAL;
		return NULL;
	}
	dev = calloc(1, sizeof(*dev));
	if (!dev)
		goto err;
	dev->ops = ops;
	dev->ctx = ctx;
	dev->slots = (config ? config->data_threads : 0) + 1;
	dev->no_multipath = config && config->no_multipath;
	dev->max_peers = config && config->max_peers && config->max_peers < MAX_PEERS_PER_DEVICE ?
			 config->max_peers : MAX_PEERS_PER_DEVICE;
	dev->load_rate = config && config->handshake_load_rate ? config->handshake_load_rate :
								 DEVICE_HANDSHAKE_LOAD_RATE;
	dev->load_tokens = NSEC_PER_SEC;
	dev->load_last = BRAID_NEVER;
	dev->last_under_load = BRAID_NEVER;
	dev->log_tokens = NSEC_PER_SEC;
	dev->mtu = BRAID_DEFAULT_MTU;
	dev->next_gc = BRAID_NEVER;
	cookie_checker_init(&dev->cookie_checker, random_cb, dev);

	device_random(dev, seed, sizeof(seed));
	/* The key table's mix and the rate limiter's key, from one draw. */
	if (pubkeys_init(&dev->pubkeys, braid_get_le64(seed) ^ braid_get_le64(seed + 8)))
		goto err_dev;
	if (index_table_init(&dev->index, random_cb, dev) < 0)
		goto err_pubkeys;
	dev->ratelimiter = ratelimiter_new(config && config->ratelimiter_entries ?
					   config->ratelimiter_entries :
					   RATELIMITER_DEFAULT_MAX_ENTRIES, seed);
	if (!dev->ratelimiter)
		goto err_index;
	return dev;

err_index:
	index_table_free(&dev->index);
err_pubkeys:
	pubkeys_free(&dev->pubkeys);
err_dev:
	free(dev);
err:
	errno = ENOMEM;
	return NULL;
}

/*
 * Every table at once, then each peer released: nothing is unlinked one
 * peer at a time, which with a million peers would cost a cache miss or two
 * a peer for nothing.
 */
void braid_device_clear_peers(struct braid_device *dev)
{
	struct braid_peer *peer, *next;
	struct braid_peer_cursor *c;

	if (!dev->peer_count)
		return;
	device_log(dev, BRAID_LOG_VERBOSE, "removing all %zu peers", dev->peer_count);
	/* Their lists of prefixes go with them. */
	allowedips_forget(&dev->allowedips);
	pubkeys_clear(&dev->pubkeys);
	deadline_heap_forget(&dev->deadlines);
	for (c = dev->cursors; c; c = c->link)
		c->prev = NULL;
	for (peer = dev->peers_head; peer; peer = next) {
		next = peer->next;
		peer->prev = peer->next = NULL;
		peer->allowed_ips = (struct allowedips_link){ 0 };
		peer_release(peer);
	}
	dev->peers_head = dev->peers_tail = NULL;
	dev->peer_count = 0;
}

void braid_device_free(struct braid_device *dev)
{
	if (!dev)
		return;
	braid_device_clear_peers(dev);
	staged_pool_free(&dev->staged_pool);
	ratelimiter_free(dev->ratelimiter);
	index_table_free(&dev->index);
	pubkeys_free(&dev->pubkeys);
	deadline_heap_free(&dev->deadlines);
	free(dev->held);
	cookie_checker_clear(&dev->cookie_checker);
	crypto_x25519_key_free(dev->static_key);
	crypto_wipe(dev->static_private, sizeof(dev->static_private));
	crypto_wipe(dev->scratch, sizeof(dev->scratch));
	free(dev);
}

struct braid_peer *device_lookup_peer(const struct braid_device *dev,
				      const uint8_t public_key[NOISE_PUBLIC_KEY_LEN])
{
	return pubkeys_lookup(&dev->pubkeys, public_key);
}

int device_reserve_peer(struct braid_device *dev)
{
	if (pubkeys_reserve(&dev->pubkeys) ||
	    deadline_heap_reserve(&dev->deadlines, dev->peer_count + 1))
		return -ENOMEM;
	return 0;
}

void device_add_peer(struct braid_device *dev, struct braid_peer *peer)
{
	pubkeys_insert(&dev->pubkeys, peer);
	peer->prev = dev->peers_tail;
	peer->next = NULL;
	if (dev->peers_tail)
		dev->peers_tail->next = peer;
	else
		dev->peers_head = peer;
	dev->peers_tail = peer;
	++dev->peer_count;
}

void device_remove_peer(struct braid_device *dev, struct braid_peer *peer)
{
	struct braid_peer_cursor *c;

	for (c = dev->cursors; c; c = c->link)
		if (c->prev == peer)
			c->prev = peer->prev;
	pubkeys_remove(&dev->pubkeys, peer);
	deadline_heap_remove(&dev->deadlines, &peer->deadline);
	if (peer->prev)
		peer->prev->next = peer->next;
	else
		dev->peers_head = peer->next;
	if (peer->next)
		peer->next->prev = peer->prev;
	else
		dev->peers_tail = peer->prev;
	peer->prev = peer->next = NULL;
	--dev->peer_count;
}

struct braid_peer *braid_device_next_peer(const struct braid_device *dev,
					  const struct braid_peer *prev)
{
	return prev ? prev->next : dev->peers_head;
}

size_t braid_device_peer_count(const struct braid_device *dev)
{
	return dev->peer_count;
}

size_t braid_device_max_peers(const struct braid_device *dev)
{
	return dev->max_peers;
}

void braid_peer_cursor_open(struct braid_peer_cursor *c, struct braid_device *dev)
{
	c->dev = dev;
	c->prev = NULL;
	c->link = dev->cursors;
	dev->cursors = c;
}

struct braid_peer *braid_peer_cursor_next(struct braid_peer_cursor *c)
{
	struct braid_peer *peer = c->prev ? c->prev->next : c->dev->peers_head;

	if (peer)
		c->prev = peer;
	return peer;
}

void braid_peer_cursor_close(struct braid_peer_cursor *c)
{
	struct braid_peer_cursor **p;

	if (!c->dev)
		return;
	for (p = &c->dev->cursors; *p; p = &(*p)->link) {
		if (*p == c) {
			*p = c->link;
			break;
		}
	}
	c->dev = NULL;
	c->prev = NULL;
}

struct braid_peer *braid_device_find_peer(const struct braid_device *dev,
					  const uint8_t public_key[BRAID_KEY_LEN])
{
	return device_lookup_peer(dev, public_key);
}

void braid_device_set_private_key(struct braid_device *dev, const uint8_t key[BRAID_KEY_LEN])
{
	uint8_t private[NOISE_PUBLIC_KEY_LEN], public[NOISE_PUBLIC_KEY_LEN];
	struct braid_peer *peer;
	bool has_identity = key && !crypto_is_zero(key, NOISE_PUBLIC_KEY_LEN);

	if (has_identity) {
		memcpy(private, key, sizeof(private));
		crypto_x25519_clamp(private);
		if (dev->has_identity &&
		    crypto_equal(private, dev->static_private, sizeof(private)))
			goto out;
		crypto_x25519_public(public, private);
		/* A peer with our own public key would be ourselves: it goes. */
		peer = device_lookup_peer(dev, public);
		if (peer)
			braid_peer_free(peer);
		memcpy(dev->static_private, private, sizeof(private));
		memcpy(dev->static_public, public, sizeof(public));
		crypto_x25519_key_free(dev->static_key);
		dev->static_key = crypto_x25519_key_new(private);
	} else {
		if (!dev->has_identity)
			goto out;
		crypto_x25519_key_free(dev->static_key);
		dev->static_key = NULL;
		crypto_wipe(dev->static_private, sizeof(dev->static_private));
		memset(dev->static_public, 0, sizeof(dev->static_public));
	}
	dev->has_identity = has_identity;
	for (peer = dev->peers_head; peer; peer = peer->next) {
		noise_precompute_static_static(peer);
		noise_expire_current_peer_keypairs(peer);
	}
	cookie_checker_precompute_keys(&dev->cookie_checker, has_identity ? public : NULL);
out:
	crypto_wipe(private, sizeof(private));
}

bool braid_device_get_private_key(const struct braid_device *dev, uint8_t key[BRAID_KEY_LEN])
{
	memcpy(key, dev->static_private, BRAID_KEY_LEN);
	return dev->has_identity;
}

bool braid_device_get_public_key(const struct braid_device *dev, uint8_t key[BRAID_KEY_LEN])
{
	memcpy(key, dev->static_public, BRAID_KEY_LEN);
	return dev->has_identity;
}

void braid_device_set_mtu(struct braid_device *dev, unsigned int mtu)
{
	dev->mtu = mtu;
}

void braid_device_get_stats(const struct braid_device *dev, struct braid_device_stats *stats)
{
	*stats = dev->stats;
}

void braid_device_count_drop(struct braid_device *dev, enum braid_drop why)
{
	device_drop(dev, why);
}

void braid_device_clear_endpoint_sources(struct braid_device *dev)
{
	struct braid_peer *peer;

	for (peer = dev->peers_head; peer; peer = peer->next)
		path_clear_source(peer);
}

void braid_device_set_under_load(struct braid_device *dev, uint64_t now)
{
	dev->last_under_load = now;
}

static bool under_load(const struct braid_device *dev, uint64_t now)
{
	return dev->last_under_load != BRAID_NEVER &&
	       now < dev->last_under_load + DEVICE_UNDER_LOAD_STICKY_NS;
}

/* Spend one handshake of the device's budget; running dry puts it under load. */
static void charge_handshake(struct braid_device *dev, uint64_t now)
{
	const uint64_t cost = NSEC_PER_SEC / dev->load_rate;

	if (dev->load_last != BRAID_NEVER) {
		dev->load_tokens += now - dev->load_last;
		if (dev->load_tokens > NSEC_PER_SEC)
			dev->load_tokens = NSEC_PER_SEC;
	}
	dev->load_last = now;
	if (dev->load_tokens >= cost)
		dev->load_tokens -= cost;
	else
		dev->last_under_load = now;
}

static void send_cookie_reply(struct braid_device *dev, uint64_t now, const uint8_t *msg,
			      size_t len, const struct braid_endpoint *from)
{
	struct message_handshake_cookie reply;
	char ep[ENDPOINT_STR_LEN];

	device_log_drop(dev, now, "sending cookie reply to %s", endpoint_str(from, ep));
	cookie_checker_create_reply(&dev->cookie_checker, now, &reply, msg, len, from);
	dev->ops->send_reply(dev->ctx, from, (const uint8_t *)&reply, sizeof(reply));
	++dev->stats.cookie_replies_sent;
}

static void schedule_gc(struct braid_device *dev, uint64_t now)
{
	if (dev->next_gc == BRAID_NEVER)
		dev->next_gc = now + NSEC_PER_SEC;
}

/*
 * The checks every handshake message passes before any Diffie-Hellman. A
 * full rate-limiter table means many sources at once, spoofed for free:
 * that is load, so every new source must show a cookie, and one that does
 * is admitted (spoofers never see the cookie replies).
 */
static enum braid_drop admit_handshake(struct braid_device *dev, uint64_t now,
				       const struct braid_endpoint *from, const uint8_t *msg,
				       size_t len)
{
	enum ratelimiter_verdict source;
	bool loaded;

	if (cookie_checker_validate(&dev->cookie_checker, now, msg, len, from, false) ==
	    INVALID_MAC) {
		device_log_drop(dev, now, "handshake with invalid mac1");
		return BRAID_DROP_MAC1;
	}
	source = ratelimiter_check(dev->ratelimiter, now, &from->addr.sa);
	schedule_gc(dev, now);
	if (source == RATELIMITER_FULL)
		dev->last_under_load = now;
	loaded = under_load(dev, now);
	if (loaded)
		++dev->stats.handshakes_under_load;
	if (loaded || source != RATELIMITER_ALLOW) {
		if (cookie_checker_validate(&dev->cookie_checker, now, msg, len, from, true) !=
		    VALID_MAC_WITH_COOKIE) {
			send_cookie_reply(dev, now, msg, len, from);
			return BRAID_DROP_COOKIE_SENT;
		}
		if (source == RATELIMITER_OVER_RATE)
			return BRAID_DROP_RATELIMITED;
	}
	charge_handshake(dev, now);
	return BRAID_OK;
}

static void handshake_received(struct braid_peer *peer, uint64_t now, size_t len)
{
	peer->rx_bytes += len;
	timers_any_authenticated_packet_received(peer);
	timers_any_authenticated_packet_traversal(peer, now);
}

static enum braid_drop receive_initiation(struct braid_device *dev, uint64_t now,
					  const struct braid_endpoint *from, const uint8_t *msg,
					  size_t len)
{
	struct braid_peer *peer;
	enum braid_drop why;
	char ep[ENDPOINT_STR_LEN];

	peer = noise_handshake_consume_initiation((const struct message_handshake_initiation *)msg,
						  dev, now, &why);
	if (!peer) {
		device_log_drop(dev, now, "invalid handshake initiation from %s (%s)",
				endpoint_str(from, ep), braid_drop_name(why));
		return why;
	}
	path_received(peer, now, from, len, PATH_RX_NEW);
	device_log(dev, BRAID_LOG_VERBOSE, "peer %llu (%s): receiving handshake initiation",
		   (unsigned long long)peer->internal_id, endpoint_str(from, ep));
	peer_send_handshake_response(peer, now);
	handshake_received(peer, now, len);
	return BRAID_OK;
}

static enum braid_drop receive_response(struct braid_device *dev, uint64_t now,
					const struct braid_endpoint *from, const uint8_t *msg,
					size_t len)
{
	struct braid_peer *peer;
	char ep[ENDPOINT_STR_LEN];

	peer = noise_handshake_consume_response((const struct message_handshake_response *)msg,
						dev);
	if (!peer) {
		device_log_drop(dev, now, "invalid handshake response from %s",
				endpoint_str(from, ep));
		return BRAID_DROP_HANDSHAKE;
	}
	path_received(peer, now, from, len, PATH_RX_NEW);
	device_log(dev, BRAID_LOG_VERBOSE, "peer %llu (%s): receiving handshake response",
		   (unsigned long long)peer->internal_id, endpoint_str(from, ep));
	if (noise_handshake_begin_session(peer, now)) {
		timers_session_derived(peer, now);
		timers_handshake_complete(peer, now);
		path_session_started(peer, now, peer->last_sent_handshake != BRAID_NEVER ?
					     now - peer->last_sent_handshake : 0);
		/*
		 * Sends what is staged, or else a keepalive, so the responder
		 * gets its confirmation of the session right away.
		 */
		peer_send_keepalive(peer, now);
	}
	handshake_received(peer, now, len);
	return BRAID_OK;
}

static enum braid_drop receive_cookie(struct braid_device *dev, uint64_t now, const uint8_t *msg)
{
	const struct message_handshake_cookie *reply = (const struct message_handshake_cookie *)msg;
	struct index_entry *entry;

	entry = index_table_lookup(&dev->index, braid_get_le32(reply->receiver_index),
				   INDEX_HANDSHAKE | INDEX_KEYPAIR);
	if (!entry || !cookie_maker_consume_reply(&entry->peer->cookie, now, reply)) {
		device_log_drop(dev, now, "could not decrypt cookie reply");
		return BRAID_DROP_COOKIE;
	}
	device_log(dev, BRAID_LOG_VERBOSE, "peer %llu: received cookie reply",
		   (unsigned long long)entry->peer->internal_id);
	return BRAID_OK;
}

static enum braid_drop receive_handshake(struct braid_device *dev, uint64_t now,
					 const struct braid_endpoint *from, const uint8_t *msg,
					 size_t len, uint32_t type)
{
	enum braid_drop why = admit_handshake(dev, now, from, msg, len);

	if (why != BRAID_OK)
		return why;
	if (type == MESSAGE_HANDSHAKE_INITIATION)
		return receive_initiation(dev, now, from, msg, len);
	return receive_response(dev, now, from, msg, len);
}

enum braid_drop braid_device_triage_handshake(struct braid_device *dev, uint64_t now,
					      const struct braid_endpoint *from,
					      const uint8_t *buf, size_t len)
{
	enum cookie_mac_state mac;

	if (len < 4)
		return device_drop(dev, BRAID_DROP_MALFORMED);
	switch (braid_get_le32(buf)) {
	case MESSAGE_HANDSHAKE_INITIATION:
		if (len != MESSAGE_INITIATION_LEN)
			return device_drop(dev, BRAID_DROP_MALFORMED);
		break;
	case MESSAGE_HANDSHAKE_RESPONSE:
		if (len != MESSAGE_RESPONSE_LEN)
			return device_drop(dev, BRAID_DROP_MALFORMED);
		break;
	default:
		return BRAID_OK;	/* cookie replies carry no MACs; the rest is not ours */
	}
	mac = cookie_checker_validate(&dev->cookie_checker, now, buf, len, from, true);
	if (mac == INVALID_MAC) {
		device_log_drop(dev, now, "handshake with invalid mac1");
		return device_drop(dev, BRAID_DROP_MAC1);
	}
	if (mac != VALID_MAC_WITH_COOKIE) {
		send_cookie_reply(dev, now, buf, len, from);
		return device_drop(dev, BRAID_DROP_COOKIE_SENT);
	}
	return BRAID_OK;
}

enum braid_drop braid_device_receive(struct braid_device *dev, uint64_t now,
				     const struct braid_endpoint *from, uint8_t *buf, size_t len)
{
	uint32_t type;
	enum braid_drop why;

	if (len < 4)
		return device_drop(dev, BRAID_DROP_MALFORMED);
	/* The type's three reserved bytes must be zero: compare all four. */
	type = braid_get_le32(buf);
	switch (type) {
	case MESSAGE_HANDSHAKE_INITIATION:
		why = len == MESSAGE_INITIATION_LEN ?
		      receive_handshake(dev, now, from, buf, len, type) : BRAID_DROP_MALFORMED;
		break;
	case MESSAGE_HANDSHAKE_RESPONSE:
		why = len == MESSAGE_RESPONSE_LEN ?
		      receive_handshake(dev, now, from, buf, len, type) : BRAID_DROP_MALFORMED;
		break;
	case MESSAGE_HANDSHAKE_COOKIE:
		why = len == MESSAGE_COOKIE_LEN ? receive_cookie(dev, now, buf) :
						  BRAID_DROP_MALFORMED;
		break;
	case MESSAGE_DATA:
		/* transport_receive counts its own drops. */
		return len >= MESSAGE_MINIMUM_LEN ? transport_receive(dev, now, from, buf, len) :
						    device_drop(dev, BRAID_DROP_MALFORMED);
	default:
		why = BRAID_DROP_MALFORMED;
	}
	return why == BRAID_OK ? BRAID_OK : device_drop(dev, why);
}

/* Queue peer at its true next deadline, or take it out when it has none. */
static void requeue(struct braid_device *dev, struct braid_peer *peer)
{
	uint64_t next = timers_next_deadline(peer);

	if (next == BRAID_NEVER)
		deadline_heap_remove(&dev->deadlines, &peer->deadline);
	else
		deadline_heap_set(&dev->deadlines, &peer->deadline, next);
}

/* Out of the heap until the tick ends; false when there is no room to keep it. */
static bool hold(struct braid_device *dev, struct braid_peer *peer)
{
	struct braid_peer **held;
	size_t cap = dev->cap_held ? 2 * dev->cap_held : 8;

	if (dev->n_held == dev->cap_held) {
		held = reallocarray(dev->held, cap, sizeof(*held));
		if (!held)
			return false;
		dev->held = held;
		dev->cap_held = cap;
	}
	deadline_heap_remove(&dev->deadlines, &peer->deadline);
	dev->held[dev->n_held++] = peer;
	return true;
}

/*
 * The heap's keys are never later than the peers' deadlines, but may be
 * earlier (a timer cleared or pushed back does not tell the heap). Peers
 * come out earliest first, ties in the order they were created (the order
 * a walk of the peer list would take). A key that turns out early just
 * requeues its peer; a peer whose timers run is requeued at what they
 * leave. One that is still due after its timers ran waits for the next
 * tick, which its deadline (now or before) asks for at once. Last, the
 * first key is made exact, so the deadline returned is the true one.
 */
uint64_t braid_device_tick(struct braid_device *dev, uint64_t now)
{
	struct deadline_entry *e;
	struct braid_peer *peer;
	uint32_t round = ++dev->tick_round;

	while ((e = deadline_heap_first(&dev->deadlines)) && e->at <= now) {
		peer = container_of(e, struct braid_peer, deadline);
		if (timers_next_deadline(peer) <= now) {
			if (peer->tick_round == round) {
				if (!hold(dev, peer))
					break;
				continue;
			}
			peer->tick_round = round;
			timers_tick(peer, now);
		}
		requeue(dev, peer);
	}
	while (dev->n_held)
		requeue(dev, dev->held[--dev->n_held]);
	while ((e = deadline_heap_first(&dev->deadlines)) && e->at > now) {
		peer = container_of(e, struct braid_peer, deadline);
		if (timers_next_deadline(peer) == e->at)
			break;
		requeue(dev, peer);
	}
	if (dev->next_gc != BRAID_NEVER && dev->next_gc <= now) {
		ratelimiter_gc(dev->ratelimiter, now);
		dev->next_gc = ratelimiter_count(dev->ratelimiter) ? now + NSEC_PER_SEC : BRAID_NEVER;
	}
	return braid_device_next_deadline(dev);
}

uint64_t braid_device_next_deadline(const struct braid_device *dev)
{
	const struct deadline_entry *e = deadline_heap_first(&dev->deadlines);
	uint64_t next = e ? e->at : BRAID_NEVER;

	return dev->next_gc < next ? dev->next_gc : next;
}
