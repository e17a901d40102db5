// SPDX-License-Identifier: MIT
/*
 * Peer lifecycle and configuration, and the control-plane sends that act
 * for a peer: handshake initiations and responses, keepalives, and the
 * staged packets that wait for a session.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "device.h"
#include "peer.h"
#include "timers.h"
#include "transport.h"

struct braid_peer *braid_peer_new(struct braid_device *dev, const uint8_t public_key[BRAID_KEY_LEN])
{
	struct braid_peer *peer;

	if (dev->has_identity && crypto_equal(public_key, dev->static_public, BRAID_KEY_LEN)) {
		errno = EINVAL;
		return NULL;
	}
	if (device_lookup_peer(dev, public_key)) {
		errno = EEXIST;
		return NULL;
	}
	if (dev->peer_count >= MAX_PEERS_PER_DEVICE) {
		errno = ENOSPC;
		return NULL;
	}
	peer = calloc(1, sizeof(*peer));
	if (!peer) {
		errno = ENOMEM;
		return NULL;
	}
	atomic_init(&peer->refcount, 1);
	peer->dev = dev;
	peer->internal_id = ++dev->next_peer_id;
	cookie_maker_init(&peer->cookie, public_key);
	noise_handshake_init(&peer->handshake, peer, public_key);
	timers_init(peer);
	if (device_add_peer(dev, peer) < 0) {
		crypto_wipe(peer, sizeof(*peer));
		free(peer);
		errno = ENOMEM;
		return NULL;
	}
	device_log(dev, BRAID_LOG_VERBOSE, "peer %llu created", (unsigned long long)peer->internal_id);
	return peer;
}

void peer_put(struct braid_peer *peer)
{
	if (peer && atomic_fetch_sub(&peer->refcount, 1) == 1) {
		crypto_wipe(peer, sizeof(*peer));
		free(peer);
	}
}

void braid_peer_free(struct braid_peer *peer)
{
	struct braid_device *dev;

	if (!peer)
		return;
	dev = peer->dev;
	device_log(dev, BRAID_LOG_VERBOSE, "peer %llu removed", (unsigned long long)peer->internal_id);
	peer->is_dead = true;
	device_remove_peer(dev, peer);
	allowedips_remove_by_peer(&dev->allowedips, peer);
	timers_stop(peer);
	peer_purge_staged_packets(peer, BRAID_OK);
	noise_handshake_clear(dev, &peer->handshake);
	noise_keypairs_clear(dev, &peer->keypairs);
	cookie_maker_clear(&peer->cookie);
	crypto_wipe(peer->handshake.preshared_key, NOISE_SYMMETRIC_KEY_LEN);
	crypto_wipe(peer->handshake.precomputed_static_static, NOISE_PUBLIC_KEY_LEN);
	peer_put(peer);
}

void braid_peer_get_public_key(const struct braid_peer *peer, uint8_t key[BRAID_KEY_LEN])
{
	memcpy(key, peer->handshake.remote_static, BRAID_KEY_LEN);
}

void braid_peer_set_preshared_key(struct braid_peer *peer, const uint8_t key[BRAID_KEY_LEN])
{
	if (key)
		memcpy(peer->handshake.preshared_key, key, BRAID_KEY_LEN);
	else
		crypto_wipe(peer->handshake.preshared_key, BRAID_KEY_LEN);
}

bool braid_peer_get_preshared_key(const struct braid_peer *peer, uint8_t key[BRAID_KEY_LEN])
{
	memcpy(key, peer->handshake.preshared_key, BRAID_KEY_LEN);
	return !crypto_is_zero(key, BRAID_KEY_LEN);
}

void braid_peer_set_endpoint(struct braid_peer *peer, const struct braid_endpoint *endpoint)
{
	peer->endpoint = *endpoint;
	peer->has_endpoint = endpoint->addr.sa.sa_family == AF_INET ||
			     endpoint->addr.sa.sa_family == AF_INET6;
}

bool braid_peer_get_endpoint(const struct braid_peer *peer, struct braid_endpoint *endpoint)
{
	if (!peer->has_endpoint)
		return false;
	*endpoint = peer->endpoint;
	return true;
}

void peer_clear_endpoint_source(struct braid_peer *peer)
{
	memset(&peer->endpoint.src, 0, sizeof(peer->endpoint.src));
	peer->endpoint.src_ifindex = 0;
}

void peer_set_endpoint_from(struct braid_peer *peer, const struct braid_endpoint *from)
{
	if (from->addr.sa.sa_family != AF_INET && from->addr.sa.sa_family != AF_INET6)
		return;
	peer->endpoint = *from;
	peer->has_endpoint = true;
}

void braid_peer_set_persistent_keepalive(struct braid_peer *peer, uint64_t now, uint16_t seconds)
{
	bool send_now = !peer->persistent_keepalive_interval && seconds;

	peer->persistent_keepalive_interval = seconds;
	if (!seconds)
		peer->timer_persistent_keepalive = TIME_NEVER;
	/* Turning it on opens the NAT mapping at once rather than after a full interval. */
	if (send_now && peer->has_endpoint)
		peer_send_keepalive(peer, now);
}

uint16_t braid_peer_get_persistent_keepalive(const struct braid_peer *peer)
{
	return peer->persistent_keepalive_interval;
}

static int addr_len(int family)
{
	return family == AF_INET ? 4 : family == AF_INET6 ? 16 : -1;
}

int braid_peer_add_allowed_ip(struct braid_peer *peer, int family, const void *addr, uint8_t cidr)
{
	if (addr_len(family) < 0)
		return -EINVAL;
	return allowedips_insert(&peer->dev->allowedips, family, addr, cidr, peer);
}

int braid_peer_remove_allowed_ip(struct braid_peer *peer, int family, const void *addr, uint8_t cidr)
{
	if (addr_len(family) < 0)
		return -EINVAL;
	return allowedips_remove(&peer->dev->allowedips, family, addr, cidr, peer);
}

void braid_peer_clear_allowed_ips(struct braid_peer *peer)
{
	allowedips_remove_by_peer(&peer->dev->allowedips, peer);
}

struct walk_ctx {
	braid_allowed_ip_fn *fn;
	void *ctx;
};

static int walk_one(void *ctx, int family, const uint8_t *addr, uint8_t cidr)
{
	struct walk_ctx *w = ctx;

	return w->fn(w->ctx, family, addr, cidr);
}

int braid_peer_foreach_allowed_ip(const struct braid_peer *peer, braid_allowed_ip_fn *fn, void *ctx)
{
	struct walk_ctx w = { fn, ctx };

	return allowedips_walk_by_peer(&peer->dev->allowedips, (void *)peer, walk_one, &w);
}

void braid_peer_get_stats(const struct braid_peer *peer, struct braid_peer_stats *stats)
{
	stats->rx_bytes = peer->rx_bytes;
	stats->tx_bytes = peer->tx_bytes;
	stats->last_handshake_ns = peer->last_handshake_ns;
}

void braid_peer_set_userdata(struct braid_peer *peer, void *data)
{
	peer->userdata = data;
}

void *braid_peer_get_userdata(const struct braid_peer *peer)
{
	return peer->userdata;
}

void braid_peer_initiate_handshake(struct braid_peer *peer, uint64_t now)
{
	peer_send_handshake_initiation(peer, now, false);
}

void peer_send_buffer(struct braid_peer *peer, const uint8_t *buf, size_t len, uint8_t tos)
{
	struct braid_device *dev = peer->dev;

	if (!peer->has_endpoint)
		return;
	dev->ops->send(dev->ctx, peer, &peer->endpoint, buf, len, tos);
	peer->tx_bytes += len;
}

void peer_send_handshake_initiation(struct braid_peer *peer, uint64_t now, bool is_retry)
{
	struct message_handshake_initiation msg;
	char ep[64];

	if (!is_retry)
		peer->timer_handshake_attempts = 0;
	/* At most one initiation per REKEY_TIMEOUT, whatever asks for it. */
	if (!has_expired(peer->last_sent_handshake, REKEY_TIMEOUT * PROTOCOL_SEC, now) ||
	    peer->is_dead)
		return;
	peer->last_sent_handshake = now;
	if (!noise_handshake_create_initiation(&msg, peer))
		return;
	device_log(peer->dev, BRAID_LOG_VERBOSE, "peer %llu (%s): sending handshake initiation",
		   (unsigned long long)peer->internal_id, endpoint_str(&peer->endpoint, ep));
	cookie_maker_add_macs(&peer->cookie, now, (uint8_t *)&msg, sizeof(msg));
	timers_any_authenticated_packet_traversal(peer, now);
	timers_any_authenticated_packet_sent(peer);
	peer_send_buffer(peer, (uint8_t *)&msg, sizeof(msg), HANDSHAKE_DSCP);
	timers_handshake_initiated(peer, now);
}

void peer_send_handshake_response(struct braid_peer *peer, uint64_t now)
{
	struct message_handshake_response msg;
	char ep[64];

	peer->last_sent_handshake = now;
	if (!noise_handshake_create_response(&msg, peer))
		return;
	cookie_maker_add_macs(&peer->cookie, now, (uint8_t *)&msg, sizeof(msg));
	if (!noise_handshake_begin_session(peer, now))
		return;
	device_log(peer->dev, BRAID_LOG_VERBOSE, "peer %llu (%s): sending handshake response",
		   (unsigned long long)peer->internal_id, endpoint_str(&peer->endpoint, ep));
	timers_session_derived(peer, now);
	timers_any_authenticated_packet_traversal(peer, now);
	timers_any_authenticated_packet_sent(peer);
	peer_send_buffer(peer, (uint8_t *)&msg, sizeof(msg), HANDSHAKE_DSCP);
}

/* Stage a copy; when full, the oldest packet makes room, as the kernel does. */
enum braid_drop braid_peer_stage(struct braid_peer *peer, uint64_t now, const uint8_t *pkt,
				 size_t len)
{
	struct staged_packet *sp;
	unsigned int tail;

	if (peer->staged_count == MAX_STAGED_PACKETS) {
		free(peer->staged[peer->staged_head]);
		peer->staged_head = (peer->staged_head + 1) % MAX_STAGED_PACKETS;
		--peer->staged_count;
		device_drop(peer->dev, BRAID_DROP_STAGED_OVERFLOW);
	}
	sp = malloc(sizeof(*sp) + len);
	if (!sp)
		return BRAID_DROP_NOMEM;
	sp->len = len;
	memcpy(sp->data, pkt, len);
	tail = (peer->staged_head + peer->staged_count) % MAX_STAGED_PACKETS;
	peer->staged[tail] = sp;
	++peer->staged_count;
	peer_send_staged_packets(peer, now);
	return BRAID_OK;
}

static struct staged_packet *unstage(struct braid_peer *peer)
{
	struct staged_packet *sp = peer->staged[peer->staged_head];

	peer->staged[peer->staged_head] = NULL;
	peer->staged_head = (peer->staged_head + 1) % MAX_STAGED_PACKETS;
	--peer->staged_count;
	return sp;
}

void peer_purge_staged_packets(struct braid_peer *peer, enum braid_drop why)
{
	while (peer->staged_count) {
		struct staged_packet *sp = unstage(peer);

		if (why != BRAID_OK && sp->len)
			device_drop(peer->dev, why);
		free(sp);
	}
}

void peer_send_keepalive(struct braid_peer *peer, uint64_t now)
{
	struct staged_packet *sp;

	/* Anything already staged carries the same news. */
	if (!peer->staged_count) {
		sp = malloc(sizeof(*sp));
		if (!sp)
			return;
		sp->len = 0;
		peer->staged[peer->staged_head] = sp;
		peer->staged_count = 1;
		device_log(peer->dev, BRAID_LOG_VERBOSE, "peer %llu: sending keepalive",
			   (unsigned long long)peer->internal_id);
	}
	peer_send_staged_packets(peer, now);
}

void peer_send_staged_packets(struct braid_peer *peer, uint64_t now)
{
	struct braid_device *dev = peer->dev;
	struct braid_keypair *kp;
	uint64_t nonce;
	size_t n_data = 0, len;

	if (!peer->staged_count)
		return;
	kp = braid_peer_send_begin(peer, now, peer->staged_count, &nonce);
	if (!kp) {
		/* No usable session: the packets stay staged until a handshake completes. */
		peer_send_handshake_initiation(peer, now, false);
		return;
	}
	timers_any_authenticated_packet_traversal(peer, now);
	timers_any_authenticated_packet_sent(peer);
	while (peer->staged_count) {
		struct staged_packet *sp = unstage(peer);

		len = braid_keypair_seal(kp, 0, nonce++, dev->scratch, sp->data, sp->len, dev->mtu);
		peer_send_buffer(peer, dev->scratch, len, transport_outer_tos(sp->data, sp->len));
		n_data += sp->len != 0;
		free(sp);
	}
	braid_keypair_put(kp);
	if (n_data)
		timers_data_sent(peer, now);
	peer_keep_key_fresh_send(peer, now);
}

/* Sending: rekey after REKEY_AFTER_MESSAGES, or REKEY_AFTER_TIME if we initiated the session. */
void peer_keep_key_fresh_send(struct braid_peer *peer, uint64_t now)
{
	struct braid_keypair *kp = peer->keypairs.current;

	if (kp && atomic_load(&kp->sending_is_valid) &&
	    (atomic_load(&kp->sending_counter) > REKEY_AFTER_MESSAGES ||
	     (kp->i_am_the_initiator &&
	      has_expired(kp->birthdate, REKEY_AFTER_TIME * PROTOCOL_SEC, now))))
		peer_send_handshake_initiation(peer, now, false);
}

/*
 * Receiving: if we initiated the session and it is about to be rejected
 * (REJECT_AFTER_TIME - KEEPALIVE_TIMEOUT - REKEY_TIMEOUT old), try once to
 * renew it, even though we have nothing to send.
 */
void peer_keep_key_fresh_receive(struct braid_peer *peer, uint64_t now)
{
	struct braid_keypair *kp = peer->keypairs.current;

	if (peer->sent_lastminute_handshake)
		return;
	if (kp && atomic_load(&kp->sending_is_valid) && kp->i_am_the_initiator &&
	    has_expired(kp->birthdate,
			(REJECT_AFTER_TIME - KEEPALIVE_TIMEOUT - REKEY_TIMEOUT) * PROTOCOL_SEC, now)) {
		peer->sent_lastminute_handshake = true;
		peer_send_handshake_initiation(peer, now, false);
	}
}
