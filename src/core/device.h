/* SPDX-License-Identifier: MIT */
/*
 * The device: our identity, peers, cryptokey routing, the index table,
 * handshake load accounting and the callbacks to the caller.
 */
#ifndef BRAID_DEVICE_H
#define BRAID_DEVICE_H

#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>

#include "allowedips.h"
#include "braid.h"
#include "cookie.h"
#include "deadlines.h"
#include "index.h"
#include "pubkeys.h"
#include "messages.h"
#include "ratelimiter.h"
#include "staged.h"

enum {
	/* Default handshakes per second before the whole device is under load. */
	DEVICE_HANDSHAKE_LOAD_RATE = 1000,
	/* How long the device stays under load after the last sign of it. */
	DEVICE_UNDER_LOAD_STICKY_NS = 1000000000,
};

struct braid_device {
	const struct braid_ops *ops;
	void *ctx;
	unsigned int slots;		/* data-plane contexts per keypair direction */
	bool no_multipath;		/* answer no control message: a stock peer, for tests */

	uint8_t static_private[NOISE_PUBLIC_KEY_LEN];
	uint8_t static_public[NOISE_PUBLIC_KEY_LEN];
	struct crypto_x25519_key *static_key;	/* static_private, prepared for DH */
	bool has_identity;

	struct cookie_checker cookie_checker;
	struct ratelimiter *ratelimiter;
	struct index_table index;
	struct allowedips allowedips;

	struct braid_peer *peers_head, *peers_tail;
	struct pubkey_table pubkeys;
	size_t peer_count, max_peers;
	struct braid_peer_cursor *cursors;	/* open ones: a removed peer moves them on */
	uint64_t next_peer_id, next_keypair_id;

	unsigned int mtu;
	/* Peers by their next deadline, and the ones a tick holds back (fired, still due). */
	struct deadline_heap deadlines;
	struct braid_peer **held;
	size_t n_held, cap_held;
	uint32_t tick_round;
	uint64_t next_gc;

	/* Token bucket of handshakes (in ns of budget) and the last time it ran dry. */
	uint64_t load_rate;
	uint64_t load_tokens;
	uint64_t load_last;
	uint64_t last_under_load;

	uint64_t log_tokens, log_last;
	struct braid_device_stats stats;

	/* Buffers for staged packets, reused across peers. */
	struct staged_pool staged_pool;

	/* The control plane seals here: one call at a time per device. */
	uint8_t scratch[BRAID_MAX_MESSAGE_LEN];
};

void device_random(struct braid_device *dev, void *buf, size_t len);
/*
 * One of peer's deadlines (a timer's, its paths') is now `deadline`: the
 * device ticks the peer no later than that. Only a deadline that moves
 * earlier must be noted; a later one or a cleared one needs nothing (the
 * tick finds out and queues the peer at its true next deadline).
 */
void device_note_peer_deadline(struct braid_peer *peer, uint64_t deadline);
enum braid_drop device_drop(struct braid_device *dev, enum braid_drop why);
void device_log(struct braid_device *dev, enum braid_log_level level, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* Rate-limited verbose log for hostile or broken input. */
void device_log_drop(struct braid_device *dev, uint64_t now, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* Room for one more peer in every table, so that adding it cannot fail: 0 or -ENOMEM. */
int device_reserve_peer(struct braid_device *dev);
/* Link a new peer into the device's list and tables, after device_reserve_peer(). */
void device_add_peer(struct braid_device *dev, struct braid_peer *peer);
void device_remove_peer(struct braid_device *dev, struct braid_peer *peer);
struct braid_peer *device_lookup_peer(const struct braid_device *dev,
				      const uint8_t public_key[NOISE_PUBLIC_KEY_LEN]);

#endif
