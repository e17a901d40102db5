/* SPDX-License-Identifier: MIT */
/*
 * mac1, mac2 and cookie replies (the paper's section 5.4.4 and 5.4.7).
 *
 * cookie_checker: our side as responder. Verifies mac1 always, and mac2
 * when under load; makes cookie replies whose cookie is a MAC of the
 * sender's IP address and port under a secret rotated every two minutes.
 * cookie_maker: our side as initiator toward one peer. Adds mac1 and, while
 * it holds a fresh cookie from that peer, mac2.
 */
#ifndef BRAID_COOKIE_H
#define BRAID_COOKIE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "braid.h"
#include "messages.h"

typedef void cookie_random_fn(void *ctx, void *buf, size_t len);

struct cookie_checker {
	uint8_t secret[NOISE_HASH_LEN];
	uint64_t secret_birthdate;		/* BRAID_NEVER: none yet */
	uint8_t message_mac1_key[NOISE_SYMMETRIC_KEY_LEN];
	uint8_t cookie_encryption_key[NOISE_SYMMETRIC_KEY_LEN];
	cookie_random_fn *random;
	void *random_ctx;
};

/*
 * Its mac1 and cookie keys are derived from the peer's public key each time
 * a message goes out or a reply comes in (a hash, next to the handshake's
 * Diffie-Hellmans), so that a peer that never handshakes costs no hashing
 * and no room for them.
 */
struct cookie_maker {
	const uint8_t *their_public;	/* the peer's static key; outlives the maker */
	uint8_t cookie[COOKIE_LEN];
	uint64_t birthdate;
	bool is_valid;
	bool have_sent_mac1;
	uint8_t last_mac1_sent[COOKIE_LEN];
};

enum cookie_mac_state {
	INVALID_MAC,
	VALID_MAC_BUT_NO_COOKIE,
	VALID_MAC_WITH_COOKIE,
};

void cookie_checker_init(struct cookie_checker *checker, cookie_random_fn *random, void *ctx);
/* Derive the mac1 and cookie keys from our public key (all zero when we have none). */
void cookie_checker_precompute_keys(struct cookie_checker *checker,
				    const uint8_t our_public[NOISE_PUBLIC_KEY_LEN]);
void cookie_checker_clear(struct cookie_checker *checker);
/* msg is a whole handshake message ending in struct message_macs. */
enum cookie_mac_state cookie_checker_validate(struct cookie_checker *checker, uint64_t now,
					      const uint8_t *msg, size_t len,
					      const struct braid_endpoint *from, bool check_cookie);
void cookie_checker_create_reply(struct cookie_checker *checker, uint64_t now,
				 struct message_handshake_cookie *dst, const uint8_t *msg,
				 size_t len, const struct braid_endpoint *from);

/* their_public must stay valid, unchanged, as long as the maker. */
void cookie_maker_init(struct cookie_maker *maker, const uint8_t their_public[NOISE_PUBLIC_KEY_LEN]);
void cookie_maker_clear(struct cookie_maker *maker);
void cookie_maker_add_macs(struct cookie_maker *maker, uint64_t now, uint8_t *msg, size_t len);
bool cookie_maker_consume_reply(struct cookie_maker *maker, uint64_t now,
				const struct message_handshake_cookie *src) __must_check;

#endif
