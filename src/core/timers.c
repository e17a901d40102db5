// SPDX-License-Identifier: MIT
/*
 * Timers of the paper's section 6, as deadlines on each peer:
 *
 * - retransmit_handshake: REKEY_TIMEOUT + jitter after sending an
 *   initiation, resend it; after MAX_TIMER_HANDSHAKES tries give up, drop
 *   what is staged and schedule zeroing.
 * - send_keepalive: KEEPALIVE_TIMEOUT after receiving data, if we have sent
 *   nothing since, send a keepalive (passive keepalive).
 * - new_handshake: KEEPALIVE_TIMEOUT + REKEY_TIMEOUT + jitter after sending
 *   data, if we have heard nothing since, start a new handshake.
 * - zero_key_material: REJECT_AFTER_TIME * 3 after the last session was
 *   derived, wipe every key.
 * - persistent_keepalive: every interval seconds after the last
 *   authenticated packet in either direction, send a keepalive.
 *
 * Hooks only move deadlines; timers_tick() runs the handlers that are due.
 * Jitter comes from the device's RNG.
 */
#include "device.h"
#include "noise.h"
#include "path.h"
#include "peer.h"
#include "timers.h"

static void arm(struct braid_peer *peer, uint64_t *timer, uint64_t deadline)
{
	*timer = deadline;
	device_note_peer_deadline(peer, deadline);
}

static bool pending(uint64_t timer)
{
	return timer != BRAID_NEVER;
}

/* Uniform in [0, REKEY_TIMEOUT_JITTER_MAX_MS) ms. */
static uint64_t jitter(struct braid_peer *peer)
{
	uint32_t r;

	device_random(peer->dev, &r, sizeof(r));
	return (uint64_t)r * (REKEY_TIMEOUT_JITTER_MAX_MS * PROTOCOL_MSEC) >> 32;
}

void timers_init(struct braid_peer *peer)
{
	timers_stop(peer);
	peer->timer_handshake_attempts = 0;
	peer->timer_need_another_keepalive = false;
	peer->sent_lastminute_handshake = false;
	peer->last_sent_handshake = BRAID_NEVER;
}

void timers_stop(struct braid_peer *peer)
{
	peer->timer_retransmit_handshake = BRAID_NEVER;
	peer->timer_send_keepalive = BRAID_NEVER;
	peer->timer_new_handshake = BRAID_NEVER;
	peer->timer_zero_key_material = BRAID_NEVER;
	peer->timer_persistent_keepalive = BRAID_NEVER;
}

/* After an authenticated data packet is sent. */
void timers_data_sent(struct braid_peer *peer, uint64_t now)
{
	if (!pending(peer->timer_new_handshake))
		arm(peer, &peer->timer_new_handshake,
		    now + (KEEPALIVE_TIMEOUT + REKEY_TIMEOUT) * PROTOCOL_SEC + jitter(peer));
}

/* After an authenticated data packet is received. */
void timers_data_received(struct braid_peer *peer, uint64_t now)
{
	if (!pending(peer->timer_send_keepalive))
		arm(peer, &peer->timer_send_keepalive, now + KEEPALIVE_TIMEOUT * PROTOCOL_SEC);
	else
		peer->timer_need_another_keepalive = true;
}

/* After any authenticated packet (keepalive, data or handshake) is sent. */
void timers_any_authenticated_packet_sent(struct braid_peer *peer)
{
	peer->timer_send_keepalive = BRAID_NEVER;
}

/* After any authenticated packet (keepalive, data or handshake) is received. */
void timers_any_authenticated_packet_received(struct braid_peer *peer)
{
	peer->timer_new_handshake = BRAID_NEVER;
}

/* After an initiation is sent. */
void timers_handshake_initiated(struct braid_peer *peer, uint64_t now)
{
	arm(peer, &peer->timer_retransmit_handshake,
	    now + REKEY_TIMEOUT * PROTOCOL_SEC + jitter(peer));
}

/* After a response is consumed, or the first data on a new session confirms it. */
void timers_handshake_complete(struct braid_peer *peer, uint64_t now)
{
	struct braid_device *dev = peer->dev;

	peer->timer_retransmit_handshake = BRAID_NEVER;
	peer->timer_handshake_attempts = 0;
	peer->sent_lastminute_handshake = false;
	peer->last_handshake_ns = dev->ops->wall_clock_ns(dev->ctx);
}

/* After a session's keys are derived (sending a response or consuming one). */
void timers_session_derived(struct braid_peer *peer, uint64_t now)
{
	arm(peer, &peer->timer_zero_key_material, now + REJECT_AFTER_TIME * 3 * PROTOCOL_SEC);
}

/* Before sending, or after receiving, any authenticated packet. */
void timers_any_authenticated_packet_traversal(struct braid_peer *peer, uint64_t now)
{
	if (peer->persistent_keepalive_interval)
		arm(peer, &peer->timer_persistent_keepalive,
		    now + peer->persistent_keepalive_interval * NSEC_PER_SEC);
}

static void expired_retransmit_handshake(struct braid_peer *peer, uint64_t now)
{
	char ep[ENDPOINT_STR_LEN];

	if (peer->timer_handshake_attempts > MAX_TIMER_HANDSHAKES) {
		device_log(peer->dev, BRAID_LOG_VERBOSE,
			   "peer %llu (%s): handshake did not complete after %d attempts, giving up",
			   (unsigned long long)peer->internal_id, path_str(peer, ep),
			   MAX_TIMER_HANDSHAKES + 2);
		peer->timer_send_keepalive = BRAID_NEVER;
		/* Nothing staged may wait forever for a session that will not come. */
		peer_purge_staged_packets(peer, BRAID_DROP_HANDSHAKE_GAVE_UP);
		/* Wipe whatever a half-finished exchange left behind. */
		if (!pending(peer->timer_zero_key_material))
			arm(peer, &peer->timer_zero_key_material,
			    now + REJECT_AFTER_TIME * 3 * PROTOCOL_SEC);
		return;
	}
	++peer->timer_handshake_attempts;
	device_log(peer->dev, BRAID_LOG_VERBOSE,
		   "peer %llu (%s): handshake did not complete after %d seconds, retrying (try %u)",
		   (unsigned long long)peer->internal_id, path_str(peer, ep),
		   REKEY_TIMEOUT, peer->timer_handshake_attempts + 1);
	/* The sticky source address may be what broke; let the host choose again. */
	path_clear_source(peer);
	peer_send_handshake_initiation(peer, now, true);
}

static void expired_send_keepalive(struct braid_peer *peer, uint64_t now)
{
	peer_send_keepalive(peer, now);
	if (peer->timer_need_another_keepalive) {
		peer->timer_need_another_keepalive = false;
		arm(peer, &peer->timer_send_keepalive, now + KEEPALIVE_TIMEOUT * PROTOCOL_SEC);
	}
}

static void expired_new_handshake(struct braid_peer *peer, uint64_t now)
{
	char ep[ENDPOINT_STR_LEN];

	device_log(peer->dev, BRAID_LOG_VERBOSE,
		   "peer %llu (%s): retrying handshake because we stopped hearing back after %d seconds",
		   (unsigned long long)peer->internal_id, path_str(peer, ep),
		   KEEPALIVE_TIMEOUT + REKEY_TIMEOUT);
	path_clear_source(peer);
	peer_send_handshake_initiation(peer, now, false);
}

static void expired_zero_key_material(struct braid_peer *peer, uint64_t now)
{
	device_log(peer->dev, BRAID_LOG_VERBOSE,
		   "peer %llu: zeroing keys after %d seconds without a new session",
		   (unsigned long long)peer->internal_id, REJECT_AFTER_TIME * 3);
	noise_handshake_clear(peer->dev, &peer->handshake);
	noise_keypairs_clear(peer->dev, &peer->keypairs);
}

static void expired_send_persistent_keepalive(struct braid_peer *peer, uint64_t now)
{
	if (peer->persistent_keepalive_interval)
		peer_send_keepalive(peer, now);
}

static bool due(uint64_t *timer, uint64_t now)
{
	if (!pending(*timer) || *timer > now)
		return false;
	*timer = BRAID_NEVER;
	return true;
}

uint64_t timers_tick(struct braid_peer *peer, uint64_t now)
{
	if (due(&peer->timer_retransmit_handshake, now))
		expired_retransmit_handshake(peer, now);
	if (due(&peer->timer_send_keepalive, now))
		expired_send_keepalive(peer, now);
	if (due(&peer->timer_new_handshake, now))
		expired_new_handshake(peer, now);
	if (due(&peer->timer_zero_key_material, now))
		expired_zero_key_material(peer, now);
	if (due(&peer->timer_persistent_keepalive, now))
		expired_send_persistent_keepalive(peer, now);
	if (path_next_deadline(peer) <= now)
		path_tick(peer, now);
	return timers_next_deadline(peer);
}

static uint64_t min_u64(uint64_t a, uint64_t b)
{
	return a < b ? a : b;
}

uint64_t timers_next_deadline(const struct braid_peer *peer)
{
	return min_u64(min_u64(min_u64(peer->timer_retransmit_handshake,
				       peer->timer_send_keepalive),
			       min_u64(peer->timer_new_handshake,
				       peer->timer_zero_key_material)),
		       min_u64(peer->timer_persistent_keepalive, path_next_deadline(peer)));
}
