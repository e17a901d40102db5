/* SPDX-License-Identifier: MIT */
/*
 * Noise_IKpsk2 handshake state and the keypairs it yields.
 *
 * A peer has one handshake and three keypair slots: previous, current and
 * next. The initiator installs a new keypair as current at once; the
 * responder parks it in next until the first data message proves that the
 * initiator has it too (key confirmation).
 *
 * Keypairs are the only objects the data plane touches. They are reference
 * counted: the peer's slots hold one reference each, and every caller of
 * braid_peer_send_begin() or braid_device_data_keypair() holds one more
 * until braid_keypair_put(). Everything else here is control plane.
 */
#ifndef BRAID_NOISE_H
#define BRAID_NOISE_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "braid.h"
#include "crypto.h"
#include "index.h"
#include "messages.h"
#include "replay.h"

enum noise_handshake_state {
	HANDSHAKE_ZEROED,
	HANDSHAKE_CREATED_INITIATION,
	HANDSHAKE_CONSUMED_INITIATION,
	HANDSHAKE_CREATED_RESPONSE,
	HANDSHAKE_CONSUMED_RESPONSE,
};

struct noise_handshake {
	struct index_entry entry;
	enum noise_handshake_state state;
	bool has_static_static;			/* precomputed_static_static is up to date */
	uint64_t last_initiation_consumption;	/* BRAID_NEVER until one */
	uint8_t remote_static[NOISE_PUBLIC_KEY_LEN];
	uint8_t remote_ephemeral[NOISE_PUBLIC_KEY_LEN];
	uint8_t precomputed_static_static[NOISE_PUBLIC_KEY_LEN];
	struct crypto_x25519_key *ephemeral;	/* ours, prepared; NULL when none */
	uint8_t preshared_key[NOISE_SYMMETRIC_KEY_LEN];
	uint8_t hash[NOISE_HASH_LEN];
	uint8_t chaining_key[NOISE_HASH_LEN];
	uint8_t latest_timestamp[NOISE_TIMESTAMP_LEN];
	uint32_t remote_index;
};

struct braid_keypair {
	struct index_entry entry;		/* entry.index is our receiver index */
	atomic_uint refcount;
	atomic_uint_fast64_t sending_counter;	/* next nonce to hand out */
	atomic_bool sending_is_valid;
	atomic_bool receiving_is_valid;
	bool i_am_the_initiator;
	uint32_t remote_index;
	uint64_t birthdate;
	uint64_t internal_id;
	struct braid_peer *peer;		/* a counted reference; peer->is_dead once it is freed */
	struct replay_counter receiving_counter;
	unsigned int slots;
	/* slots sending contexts, then slots receiving contexts */
	struct crypto_aead_ctx *ctx[];
};

struct noise_keypairs {
	struct braid_keypair *previous;
	struct braid_keypair *current;
	struct braid_keypair *next;
};

struct braid_device;
struct braid_peer;

/* Precomputed for the whole process: HASH(CONSTRUCTION) and HASH(that || IDENTIFIER). */
void noise_init(void);

void noise_handshake_init(struct noise_handshake *handshake, struct braid_peer *peer,
			  const uint8_t remote_static[NOISE_PUBLIC_KEY_LEN]);
/* Wipe everything but the peer's static key, preshared key and anti-replay state. */
void noise_handshake_clear(struct braid_device *dev, struct noise_handshake *handshake);
/*
 * After either static key changes: DH(our static, their static) is computed
 * again, when the next handshake needs it, so that configuring many peers
 * costs no Diffie-Hellman for those that never handshake.
 */
void noise_precompute_static_static(struct braid_peer *peer);

bool noise_handshake_create_initiation(struct message_handshake_initiation *dst,
				       struct braid_peer *peer) __must_check;
struct braid_peer *noise_handshake_consume_initiation(const struct message_handshake_initiation *src,
						      struct braid_device *dev, uint64_t now,
						      enum braid_drop *why);
bool noise_handshake_create_response(struct message_handshake_response *dst,
				     struct braid_peer *peer) __must_check;
struct braid_peer *noise_handshake_consume_response(const struct message_handshake_response *src,
						    struct braid_device *dev);
/* Derive the transport keys from a finished handshake and slot them in. */
bool noise_handshake_begin_session(struct braid_peer *peer, uint64_t now) __must_check;

/* A message arrived on kp: if it was the next keypair, rotate it to current. */
bool noise_received_with_keypair(struct noise_keypairs *keypairs, struct braid_keypair *kp);
/* Drop all three keypairs (keys zeroed once no worker holds them). */
void noise_keypairs_clear(struct braid_device *dev, struct noise_keypairs *keypairs);
/* Stop sending with current and next: forces a new handshake. */
void noise_expire_current_peer_keypairs(struct braid_peer *peer);

struct braid_keypair *noise_keypair_get(struct braid_keypair *kp);

#endif
