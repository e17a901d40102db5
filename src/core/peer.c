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

_Static_assert((int)MAX_PEERS_PER_DEVICE == (int)BRAID_MAX_PEERS, "braid.h tells callers the limit");

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
	if (dev->peer_count >= dev->max_peers) {
		errno = ENOSPC;
		return NULL;
	}
	/* Room in the device's tables first: a peer's timers must never fail to queue. */
	peer = device_reserve_peer(dev) ? NULL : calloc(1, sizeof(*peer));
	if (!peer) {
		errno = ENOMEM;
		return NULL;
	}
	atomic_init(&peer->refcount, 1);
	peer->dev = dev;
	peer->internal_id = ++dev->next_peer_id;
	/* Peers due at the same time run in the order they were made. */
	peer->deadline.order = (uint32_t)peer->internal_id;
	noise_handshake_init(&peer->handshake, peer, public_key);
	cookie_maker_init(&peer->cookie, peer->handshake.remote_static);
	path_init(&peer->paths);
	staged_init(&peer->staged);
	timers_init(peer);
	device_add_peer(dev, peer);
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
	allowedips_remove_by_peer(&dev->allowedips, &peer->allowed_ips);
	peer_release(peer);
}

void peer_release(struct braid_peer *peer)
{
	struct braid_device *dev = peer->dev;

	peer->is_dead = true;
	timers_stop(peer);
	path_free(&peer->paths);
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

void braid_peer_set_persistent_keepalive(struct braid_peer *peer, uint64_t now, uint16_t seconds)
{
	bool send_now = !peer->persistent_keepalive_interval && seconds;

	peer->persistent_keepalive_interval = seconds;
	if (!seconds)
		peer->timer_persistent_keepalive = BRAID_NEVER;
	/* Turning it on opens the NAT mapping at once rather than after a full interval. */
	if (send_now && path_can_send(peer))
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
	return allowedips_insert(&peer->dev->allowedips, family, addr, cidr, peer,
				 &peer->allowed_ips);
}

int braid_peer_remove_allowed_ip(struct braid_peer *peer, int family, const void *addr, uint8_t cidr)
{
	if (addr_len(family) < 0)
		return -EINVAL;
	return allowedips_remove(&peer->dev->allowedips, family, addr, cidr, peer);
}

void braid_peer_clear_allowed_ips(struct braid_peer *peer)
{
	allowedips_remove_by_peer(&peer->dev->allowedips, &peer->allowed_ips);
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

	return allowedips_walk_by_peer(&peer->allowed_ips, walk_one, &w);
}

void braid_peer_get_stats(const struct braid_peer *peer, struct braid_peer_stats *stats)
{
	stats->rx_bytes = peer->rx_bytes;
	stats->tx_bytes = peer->tx_bytes;
	stats->last_handshake_ns = peer->last_handshake_ns;
}

void braid_peer_initiate_handshake(struct braid_peer *peer, uint64_t now)
{
	peer_send_handshake_initiation(peer, now, false);
}

/*
 * Handshake messages go out with DSCP AF41 and count toward tx_bytes, as data
 * does (each copy, when multipath sends several).
 */
static void send_handshake_message(struct braid_peer *peer, uint64_t now, enum path_msg kind,
				   const void *msg, size_t len)
{
	peer->tx_bytes += len * path_send(peer, now, kind, msg, len, HANDSHAKE_DSCP);
}

/* A new initiation, unless one went out less than REKEY_TIMEOUT ago. */
/* An initiation, unless one went out less than gap ago. */
static bool create_initiation(struct braid_peer *peer, uint64_t now, uint64_t gap,
			      struct message_handshake_initiation *msg)
{
	if (!has_expired(peer->last_sent_handshake, gap, now) ||
	    peer->is_dead)
		return false;
	peer->last_sent_handshake = now;
	if (!noise_handshake_create_initiation(msg, peer))
		return false;
	cookie_maker_add_macs(&peer->cookie, now, (uint8_t *)msg, sizeof(*msg));
	timers_any_authenticated_packet_traversal(peer, now);
	timers_any_authenticated_packet_sent(peer);
	return true;
}

void peer_send_handshake_initiation(struct braid_peer *peer, uint64_t now, bool is_retry)
{
	struct message_handshake_initiation msg;
	char ep[ENDPOINT_STR_LEN];

	if (!is_retry)
		peer->timer_handshake_attempts = 0;
	if (!create_initiation(peer, now, REKEY_TIMEOUT * PROTOCOL_SEC, &msg))
		return;
	device_log(peer->dev, BRAID_LOG_VERBOSE, "peer %llu (%s): sending handshake initiation",
		   (unsigned long long)peer->internal_id, path_str(peer, ep));
	send_handshake_message(peer, now, PATH_MSG_INITIATION, &msg, sizeof(msg));
	timers_handshake_initiated(peer, now);
}

bool peer_probe_handshake(struct braid_peer *peer, uint64_t now, unsigned int slot,
			  uint64_t gap)
{
	struct message_handshake_initiation msg;

	/* Never in the way of a handshake that is under way. */
	if (peer->timer_retransmit_handshake != BRAID_NEVER ||
	    !create_initiation(peer, now, gap, &msg))
		return false;
	device_log(peer->dev, BRAID_LOG_VERBOSE, "peer %llu: handshake initiation as a path probe",
		   (unsigned long long)peer->internal_id);
	peer->tx_bytes += sizeof(msg) * path_send_on(peer, now, slot, &msg, sizeof(msg),
						     HANDSHAKE_DSCP);
	crypto_wipe(&msg, sizeof(msg));
	return true;
}

void peer_send_handshake_response(struct braid_peer *peer, uint64_t now)
{
	struct message_handshake_response msg;
	char ep[ENDPOINT_STR_LEN];

	peer->last_sent_handshake = now;
	if (!noise_handshake_create_response(&msg, peer))
		return;
	cookie_maker_add_macs(&peer->cookie, now, (uint8_t *)&msg, sizeof(msg));
	if (!noise_handshake_begin_session(peer, now))
		return;
	device_log(peer->dev, BRAID_LOG_VERBOSE, "peer %llu (%s): sending handshake response",
		   (unsigned long long)peer->internal_id, path_str(peer, ep));
	timers_session_derived(peer, now);
	timers_any_authenticated_packet_traversal(peer, now);
	timers_any_authenticated_packet_sent(peer);
	send_handshake_message(peer, now, PATH_MSG_RESPONSE, &msg, sizeof(msg));
}

enum braid_drop peer_stage_packet(struct braid_peer *peer, uint64_t now, const uint8_t *pkt,
				  size_t len)
{
	bool evicted;

	if (!staged_push(&peer->staged, &peer->dev->staged_pool, pkt, len, &evicted))
		return BRAID_DROP_NOMEM;
	if (evicted)
		device_drop(peer->dev, BRAID_DROP_STAGED_OVERFLOW);
	peer_send_staged_packets(peer, now);
	return BRAID_OK;
}

void peer_purge_staged_packets(struct braid_peer *peer, enum braid_drop why)
{
	struct staged_packet *sp;

	while ((sp = staged_pop(&peer->staged))) {
		if (why != BRAID_OK && sp->len)
			device_drop(peer->dev, why);
		staged_release(&peer->dev->staged_pool, sp);
	}
}

void peer_send_keepalive(struct braid_peer *peer, uint64_t now)
{
	if (!peer->staged.count)
		device_log(peer->dev, BRAID_LOG_VERBOSE, "peer %llu: sending keepalive",
			   (unsigned long long)peer->internal_id);
	staged_push_keepalive(&peer->staged);
	peer_send_staged_packets(peer, now);
}

void peer_send_staged_packets(struct braid_peer *peer, uint64_t now)
{
	struct braid_device *dev = peer->dev;
	struct staged_packet *sp;
	struct braid_keypair *kp;
	uint64_t nonce;
	size_t n_data = 0, bytes = 0, len;

	if (!peer->staged.count)
		return;
	kp = transport_send_begin(peer, now, peer->staged.count, &nonce);
	if (!kp) {
		/* No usable session: the packets stay staged until a handshake completes. */
		peer_send_handshake_initiation(peer, now, false);
		return;
	}
	while ((sp = staged_pop(&peer->staged))) {
		len = braid_keypair_seal(kp, 0, nonce++, dev->scratch, staged_data(sp), sp->len,
					 dev->mtu);
		bytes += len * path_send(peer, now, PATH_MSG_DATA, dev->scratch, len,
					 transport_outer_tos(staged_data(sp), sp->len));
		n_data += sp->len != 0;
		staged_release(&dev->staged_pool, sp);
	}
	braid_keypair_put(kp);
	transport_data_sent(peer, now, n_data, bytes);
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
