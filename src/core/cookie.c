// SPDX-License-Identifier: MIT
/*
 * mac1, mac2 and cookie replies.
 *
 *   mac1   = MAC(HASH("mac1----" || Spub_receiver), msg up to mac1)
 *   cookie = MAC(secret, source IP || source port), secret renewed every 120 s
 *   mac2   = MAC(cookie, msg up to mac2)
 *   reply  = XAEAD(HASH("cookie--" || Spub_receiver), random nonce, cookie, AD = mac1)
 *
 * MAC is keyed BLAKE2s with a 16-byte output. A cookie binds the port as
 * well as the address, so one NATed host cannot lend its cookie to another.
 */
#include <string.h>

#include "cookie.h"
#include "crypto.h"

static const char mac1_label[] = "mac1----";
static const char cookie_label[] = "cookie--";

static void derive_key(uint8_t key[NOISE_SYMMETRIC_KEY_LEN],
			   const uint8_t pubkey[NOISE_PUBLIC_KEY_LEN], const char *label)
{
	crypto_hash(key, (const uint8_t *)label, strlen(label), pubkey, NOISE_PUBLIC_KEY_LEN);
}

static void compute_mac1(uint8_t mac1[COOKIE_LEN], const uint8_t *msg, size_t len,
			 const uint8_t key[NOISE_SYMMETRIC_KEY_LEN])
{
	crypto_mac(mac1, key, NOISE_SYMMETRIC_KEY_LEN, msg, len - sizeof(struct message_macs));
}

static void compute_mac2(uint8_t mac2[COOKIE_LEN], const uint8_t *msg, size_t len,
			 const uint8_t cookie[COOKIE_LEN])
{
	crypto_mac(mac2, cookie, COOKIE_LEN, msg, len - COOKIE_LEN);
}

void cookie_checker_init(struct cookie_checker *checker, cookie_random_fn *random, void *ctx)
{
	memset(checker, 0, sizeof(*checker));
	checker->secret_birthdate = BRAID_NEVER;
	checker->random = random;
	checker->random_ctx = ctx;
}

void cookie_checker_precompute_keys(struct cookie_checker *checker,
				    const uint8_t our_public[NOISE_PUBLIC_KEY_LEN])
{
	if (!our_public) {
		memset(checker->message_mac1_key, 0, NOISE_SYMMETRIC_KEY_LEN);
		memset(checker->cookie_encryption_key, 0, NOISE_SYMMETRIC_KEY_LEN);
		return;
	}
	derive_key(checker->message_mac1_key, our_public, mac1_label);
	derive_key(checker->cookie_encryption_key, our_public, cookie_label);
}

void cookie_checker_clear(struct cookie_checker *checker)
{
	crypto_wipe(checker->secret, sizeof(checker->secret));
	checker->secret_birthdate = BRAID_NEVER;
}

static void make_cookie(struct cookie_checker *checker, uint64_t now, uint8_t cookie[COOKIE_LEN],
			const struct braid_endpoint *from)
{
	const struct sockaddr *sa = &from->addr.sa;

	if (has_expired(checker->secret_birthdate, COOKIE_SECRET_MAX_AGE * PROTOCOL_SEC, now)) {
		checker->random(checker->random_ctx, checker->secret, sizeof(checker->secret));
		checker->secret_birthdate = now;
	}
	/* Address bytes then the port, both as they are on the wire. */
	if (sa->sa_family == AF_INET)
		crypto_blake2s(cookie, COOKIE_LEN, checker->secret, NOISE_HASH_LEN,
			       (const uint8_t *)&from->addr.in4.sin_addr, 4,
			       (const uint8_t *)&from->addr.in4.sin_port, 2);
	else if (sa->sa_family == AF_INET6)
		crypto_blake2s(cookie, COOKIE_LEN, checker->secret, NOISE_HASH_LEN,
			       (const uint8_t *)&from->addr.in6.sin6_addr, 16,
			       (const uint8_t *)&from->addr.in6.sin6_port, 2);
	else
		memset(cookie, 0, COOKIE_LEN);
}

enum cookie_mac_state cookie_checker_validate(struct cookie_checker *checker, uint64_t now,
					      const uint8_t *msg, size_t len,
					      const struct braid_endpoint *from, bool check_cookie)
{
	const struct message_macs *macs = (const struct message_macs *)(msg + len - sizeof(*macs));
	uint8_t computed[COOKIE_LEN], cookie[COOKIE_LEN];
	enum cookie_mac_state ret = INVALID_MAC;

	compute_mac1(computed, msg, len, checker->message_mac1_key);
	if (!crypto_equal(computed, macs->mac1, COOKIE_LEN))
		goto out;
	ret = VALID_MAC_BUT_NO_COOKIE;
	if (!check_cookie)
		goto out;

	make_cookie(checker, now, cookie, from);
	compute_mac2(computed, msg, len, cookie);
	if (crypto_equal(computed, macs->mac2, COOKIE_LEN))
		ret = VALID_MAC_WITH_COOKIE;
out:
	crypto_wipe(cookie, sizeof(cookie));
	return ret;
}

void cookie_checker_create_reply(struct cookie_checker *checker, uint64_t now,
				 struct message_handshake_cookie *dst, const uint8_t *msg,
				 size_t len, const struct braid_endpoint *from)
{
	const struct message_macs *macs = (const struct message_macs *)(msg + len - sizeof(*macs));
	uint8_t cookie[COOKIE_LEN];

	braid_put_le32(dst->type, MESSAGE_HANDSHAKE_COOKIE);
	/* Initiations and responses both carry their sender index at offset 4. */
	memcpy(dst->receiver_index, msg + 4, 4);
	checker->random(checker->random_ctx, dst->nonce, COOKIE_NONCE_LEN);
	make_cookie(checker, now, cookie, from);
	crypto_xaead_seal(dst->encrypted_cookie, cookie, COOKIE_LEN, macs->mac1, COOKIE_LEN,
			  dst->nonce, checker->cookie_encryption_key);
	crypto_wipe(cookie, sizeof(cookie));
}

void cookie_maker_init(struct cookie_maker *maker, const uint8_t their_public[NOISE_PUBLIC_KEY_LEN])
{
	memset(maker, 0, sizeof(*maker));
	maker->their_public = their_public;
}

void cookie_maker_clear(struct cookie_maker *maker)
{
	crypto_wipe(maker->cookie, COOKIE_LEN);
	maker->is_valid = false;
	maker->have_sent_mac1 = false;
}

void cookie_maker_add_macs(struct cookie_maker *maker, uint64_t now, uint8_t *msg, size_t len)
{
	struct message_macs *macs = (struct message_macs *)(msg + len - sizeof(*macs));

	uint8_t key[NOISE_SYMMETRIC_KEY_LEN];

	derive_key(key, maker->their_public, mac1_label);
	compute_mac1(macs->mac1, msg, len, key);
	memcpy(maker->last_mac1_sent, macs->mac1, COOKIE_LEN);
	maker->have_sent_mac1 = true;

	/* The responder renews its secret every 120 s; stop 5 s early to allow for latency. */
	if (maker->is_valid &&
	    !has_expired(maker->birthdate,
			 (COOKIE_SECRET_MAX_AGE - COOKIE_SECRET_LATENCY) * PROTOCOL_SEC, now))
		compute_mac2(macs->mac2, msg, len, maker->cookie);
	else
		memset(macs->mac2, 0, COOKIE_LEN);
}

bool cookie_maker_consume_reply(struct cookie_maker *maker, uint64_t now,
				const struct message_handshake_cookie *src)
{
	uint8_t cookie[COOKIE_LEN], key[NOISE_SYMMETRIC_KEY_LEN];

	/* A reply must answer a mac1 we sent, and only once. */
	if (!maker->have_sent_mac1)
		return false;
	derive_key(key, maker->their_public, cookie_label);
	if (!crypto_xaead_open(cookie, src->encrypted_cookie, sizeof(src->encrypted_cookie),
			       maker->last_mac1_sent, COOKIE_LEN, src->nonce, key)) {
		crypto_wipe(cookie, sizeof(cookie));
		return false;
	}
	memcpy(maker->cookie, cookie, COOKIE_LEN);
	maker->birthdate = now;
	maker->is_valid = true;
	maker->have_sent_mac1 = false;
	crypto_wipe(cookie, sizeof(cookie));
	return true;
}
