/* SPDX-License-Identifier: MIT */
/*
 * A peer: its handshake, keypairs, cookie state and path embedded, its
 * timers, counters and the packets waiting for a session.
 */
#ifndef BRAID_PEER_H
#define BRAID_PEER_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "allowedips.h"
#include "braid.h"
#include "cookie.h"
#include "deadlines.h"
#include "noise.h"
#include "path.h"
#include "staged.h"

/*
 * The device holds one reference, each keypair another, so a keypair a
 * worker still holds can name its peer after braid_peer_free().
 */
struct braid_peer {
	struct braid_device *dev;
	atomic_uint refcount;
	bool is_dead;
	struct braid_peer *prev, *next;		/* device list, insertion order */
	uint64_t internal_id;

	struct noise_handshake handshake;
	struct noise_keypairs keypairs;
	struct cookie_maker cookie;

	struct peer_paths paths;
	struct allowedips_link allowed_ips;	/* the prefixes it holds in dev->allowedips */
	uint16_t persistent_keepalive_interval;

	/*
	 * Deadlines (BRAID_NEVER when not pending), as in the kernel's timers.c.
	 * The peer waits in the device's heap no later than the earliest of them
	 * and of its paths' (device_note_peer_deadline()).
	 */
	struct deadline_entry deadline;
	uint32_t tick_round;			/* the device's tick that last ran its timers */
	uint64_t timer_retransmit_handshake;
	uint64_t timer_send_keepalive;
	uint64_t timer_new_handshake;
	uint64_t timer_zero_key_material;
	uint64_t timer_persistent_keepalive;
	unsigned int timer_handshake_attempts;
	bool timer_need_another_keepalive;
	bool sent_lastminute_handshake;
	uint64_t last_sent_handshake;		/* BRAID_NEVER until one */

	struct staged_queue staged;		/* packets waiting for a keypair */

	uint64_t rx_bytes, tx_bytes;
	uint64_t last_handshake_ns;		/* wall clock */
};

void peer_put(struct braid_peer *peer);
/*
 * The rest of braid_peer_free(), once the device holds the peer nowhere
 * (list, key table, trie, timer heap): stop it, wipe its secrets, drop the
 * device's reference.
 */
void peer_release(struct braid_peer *peer);

/* Send an initiation unless one went out less than REKEY_TIMEOUT ago. */
void peer_send_handshake_initiation(struct braid_peer *peer, uint64_t now, bool is_retry);
void peer_send_handshake_response(struct braid_peer *peer, uint64_t now);
/*
 * An initiation on one path only, with no retries, at most one a gap: a stock
 * peer answers if the path works. Whether it went.
 */
bool peer_probe_handshake(struct braid_peer *peer, uint64_t now, unsigned int slot,
			  uint64_t gap);
void peer_send_keepalive(struct braid_peer *peer, uint64_t now);
/* Queue a packet until a session exists, and start a handshake; BRAID_OK or the drop reason. */
enum braid_drop peer_stage_packet(struct braid_peer *peer, uint64_t now, const uint8_t *pkt,
				  size_t len);
/* Encrypt and send whatever is staged, or start a handshake if there is no session. */
void peer_send_staged_packets(struct braid_peer *peer, uint64_t now);
void peer_purge_staged_packets(struct braid_peer *peer, enum braid_drop why);
/* After a session is used: start a handshake if the keys are getting old. */
void peer_keep_key_fresh_send(struct braid_peer *peer, uint64_t now);
void peer_keep_key_fresh_receive(struct braid_peer *peer, uint64_t now);

#endif
