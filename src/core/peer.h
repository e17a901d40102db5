/* SPDX-License-Identifier: MIT */
/*
 * A peer: its handshake, keypairs and cookie state embedded, its endpoint,
 * timers, counters and the packets waiting for a session.
 */
#ifndef BRAID_PEER_H
#define BRAID_PEER_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "braid.h"
#include "cookie.h"
#include "noise.h"

struct staged_packet {
	size_t len;
	uint8_t data[];
};

/*
 * The device holds one reference, each keypair another, so a keypair a
 * worker still holds can name its peer after braid_peer_free().
 */
struct braid_peer {
	struct braid_device *dev;
	atomic_uint refcount;
	bool is_dead;
	struct braid_peer *prev, *next;		/* device list, insertion order */
	struct braid_peer *hash_next;		/* device table by public key */
	uint64_t internal_id;

	struct noise_handshake handshake;
	struct noise_keypairs keypairs;
	struct cookie_maker cookie;

	struct braid_endpoint endpoint;
	bool has_endpoint;
	uint16_t persistent_keepalive_interval;

	/* Deadlines (TIME_NEVER when not pending), as in the kernel's timers.c. */
	uint64_t timer_retransmit_handshake;
	uint64_t timer_send_keepalive;
	uint64_t timer_new_handshake;
	uint64_t timer_zero_key_material;
	uint64_t timer_persistent_keepalive;
	unsigned int timer_handshake_attempts;
	bool timer_need_another_keepalive;
	bool sent_lastminute_handshake;
	uint64_t last_sent_handshake;		/* TIME_NEVER until one */

	/* Ring of packets waiting for a keypair; a zero-length one is a keepalive. */
	struct staged_packet *staged[MAX_STAGED_PACKETS];
	unsigned int staged_head, staged_count;

	uint64_t rx_bytes, tx_bytes;
	uint64_t last_handshake_ns;		/* wall clock */
	void *userdata;
};

void peer_put(struct braid_peer *peer);

/* Send an initiation unless one went out less than REKEY_TIMEOUT ago. */
void peer_send_handshake_initiation(struct braid_peer *peer, uint64_t now, bool is_retry);
void peer_send_handshake_response(struct braid_peer *peer, uint64_t now);
void peer_send_keepalive(struct braid_peer *peer, uint64_t now);
/* Encrypt and send whatever is staged, or start a handshake if there is no session. */
void peer_send_staged_packets(struct braid_peer *peer, uint64_t now);
void peer_purge_staged_packets(struct braid_peer *peer, enum braid_drop why);
/* Send one datagram to the peer's endpoint and count it. */
void peer_send_buffer(struct braid_peer *peer, const uint8_t *buf, size_t len, uint8_t tos);
/* Let the host choose the source address again (after a failed handshake, or a routing change). */
void peer_clear_endpoint_source(struct braid_peer *peer);
/* Roaming: an authenticated packet came from here. */
void peer_set_endpoint_from(struct braid_peer *peer, const struct braid_endpoint *from);
/* After a session is used: start a handshake if the keys are getting old. */
void peer_keep_key_fresh_send(struct braid_peer *peer, uint64_t now);
void peer_keep_key_fresh_receive(struct braid_peer *peer, uint64_t now);

#endif
