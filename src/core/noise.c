// SPDX-License-Identifier: MIT
/*
 * Noise_IKpsk2_25519_ChaChaPoly_BLAKE2s, as WireGuard v1 uses it:
 *
 *   IK:
 *     <- s
 *     ******
 *     -> e, es, s, ss, {t}
 *     <- e, ee, se, psk, {}
 *
 * Each step below is marked with its token. Consumers work on local copies
 * of the chaining key and hash and commit them to the peer only once every
 * check has passed, so a forged message never disturbs a handshake.
 */
#include <stdlib.h>
#include <string.h>

#include "device.h"
#include "noise.h"
#include "peer.h"
#include "timers.h"

static const char construction[] = "Noise_IKpsk2_25519_ChaChaPoly_BLAKE2s";
static const char identifier[] = "WireGuard v1 zx2c4 Jason@zx2c4.com";

static uint8_t handshake_init_chaining_key[NOISE_HASH_LEN];
static uint8_t handshake_init_hash[NOISE_HASH_LEN];

void noise_init(void)
{
	crypto_hash(handshake_init_chaining_key, (const uint8_t *)construction,
		    strlen(construction), NULL, 0);
	crypto_hash(handshake_init_hash, handshake_init_chaining_key, NOISE_HASH_LEN,
		    (const uint8_t *)identifier, strlen(identifier));
}

/*
 * HKDF over HMAC-BLAKE2s: secret = HMAC(ck, data), then T1 = HMAC(secret, 1),
 * T2 = HMAC(secret, T1 || 2), T3 = HMAC(secret, T2 || 3). Any output may be
 * NULL to stop early; the first may alias ck, which is read before it is written.
 */
static void kdf(uint8_t *first, uint8_t *second, uint8_t *third, const uint8_t *data,
		size_t data_len, const uint8_t chaining_key[NOISE_HASH_LEN])
{
	uint8_t secret[NOISE_HASH_LEN], buf[NOISE_HASH_LEN + 1];

	crypto_hmac(secret, chaining_key, data, data_len);
	buf[0] = 1;
	crypto_hmac(buf, secret, buf, 1);
	if (first)
		memcpy(first, buf, NOISE_HASH_LEN);
	if (!second)
		goto out;
	buf[NOISE_HASH_LEN] = 2;
	crypto_hmac(buf, secret, buf, NOISE_HASH_LEN + 1);
	memcpy(second, buf, NOISE_HASH_LEN);
	if (!third)
		goto out;
	buf[NOISE_HASH_LEN] = 3;
	crypto_hmac(buf, secret, buf, NOISE_HASH_LEN + 1);
	memcpy(third, buf, NOISE_HASH_LEN);
out:
	crypto_wipe(secret, sizeof(secret));
	crypto_wipe(buf, sizeof(buf));
}

static void mix_hash(uint8_t hash[NOISE_HASH_LEN], const uint8_t *src, size_t len)
{
	crypto_hash(hash, hash, NOISE_HASH_LEN, src, len);
}

static bool __must_check mix_dh(uint8_t chaining_key[NOISE_HASH_LEN],
				uint8_t key[NOISE_SYMMETRIC_KEY_LEN],
				const struct crypto_x25519_key *private,
				const uint8_t public[NOISE_PUBLIC_KEY_LEN])
{
	uint8_t dh[NOISE_PUBLIC_KEY_LEN];
	bool ok = private && crypto_x25519_with(dh, private, public);

	if (ok)
		kdf(chaining_key, key, NULL, dh, sizeof(dh), chaining_key);
	crypto_wipe(dh, sizeof(dh));
	return ok;
}

/* An all-zero precomputed DH means we had no identity or they sent a low-order point. */
static bool __must_check mix_precomputed_dh(uint8_t chaining_key[NOISE_HASH_LEN],
					    uint8_t key[NOISE_SYMMETRIC_KEY_LEN],
					    const uint8_t precomputed[NOISE_PUBLIC_KEY_LEN])
{
	if (crypto_is_zero(precomputed, NOISE_PUBLIC_KEY_LEN))
		return false;
	kdf(chaining_key, key, NULL, precomputed, NOISE_PUBLIC_KEY_LEN, chaining_key);
	return true;
}

static void mix_psk(uint8_t chaining_key[NOISE_HASH_LEN], uint8_t hash[NOISE_HASH_LEN],
		    uint8_t key[NOISE_SYMMETRIC_KEY_LEN],
		    const uint8_t psk[NOISE_SYMMETRIC_KEY_LEN])
{
	uint8_t temp_hash[NOISE_HASH_LEN];

	kdf(chaining_key, temp_hash, key, psk, NOISE_SYMMETRIC_KEY_LEN, chaining_key);
	mix_hash(hash, temp_hash, NOISE_HASH_LEN);
	crypto_wipe(temp_hash, sizeof(temp_hash));
}

static void handshake_init_state(uint8_t chaining_key[NOISE_HASH_LEN],
				 uint8_t hash[NOISE_HASH_LEN],
				 const uint8_t remote_static[NOISE_PUBLIC_KEY_LEN])
{
	memcpy(chaining_key, handshake_init_chaining_key, NOISE_HASH_LEN);
	memcpy(hash, handshake_init_hash, NOISE_HASH_LEN);
	mix_hash(hash, remote_static, NOISE_PUBLIC_KEY_LEN);
}

static void message_encrypt(uint8_t *dst, const uint8_t *src, size_t src_len,
			    const uint8_t key[NOISE_SYMMETRIC_KEY_LEN], uint8_t hash[NOISE_HASH_LEN])
{
	crypto_aead_seal(dst, src, src_len, hash, NOISE_HASH_LEN, 0, key);
	mix_hash(hash, dst, noise_encrypted_len(src_len));
}

static bool __must_check message_decrypt(uint8_t *dst, const uint8_t *src, size_t src_len,
					 const uint8_t key[NOISE_SYMMETRIC_KEY_LEN],
					 uint8_t hash[NOISE_HASH_LEN])
{
	if (!crypto_aead_open(dst, src, src_len, hash, NOISE_HASH_LEN, 0, key))
		return false;
	mix_hash(hash, src, src_len);
	return true;
}

static void message_ephemeral(uint8_t dst[NOISE_PUBLIC_KEY_LEN],
			      const uint8_t src[NOISE_PUBLIC_KEY_LEN],
			      uint8_t chaining_key[NOISE_HASH_LEN], uint8_t hash[NOISE_HASH_LEN])
{
	if (dst != src)
		memcpy(dst, src, NOISE_PUBLIC_KEY_LEN);
	mix_hash(hash, src, NOISE_PUBLIC_KEY_LEN);
	kdf(chaining_key, NULL, NULL, src, NOISE_PUBLIC_KEY_LEN, chaining_key);
}

/*
 * TAI64N of the wall clock. The nanoseconds are rounded down to a power of
 * two (2^24 ns) no finer than the 50 initiations per second we accept
 * anyway, so the timestamp does not leak a precise clock.
 */
static void tai64n_now(uint8_t out[NOISE_TIMESTAMP_LEN], uint64_t wall_ns)
{
	uint64_t sec = wall_ns / NSEC_PER_SEC;
	uint32_t nsec = (uint32_t)(wall_ns % NSEC_PER_SEC) & ~((1U << 24) - 1);

	braid_put_be64(out, 0x400000000000000aULL + sec);
	braid_put_be32(out + 8, nsec);
}

/* A fresh ephemeral key, prepared for the two DH operations it takes part in. */
static void new_ephemeral(struct braid_device *dev, struct noise_handshake *handshake,
			  uint8_t public[NOISE_PUBLIC_KEY_LEN])
{
	uint8_t private[NOISE_PUBLIC_KEY_LEN];

	device_random(dev, private, sizeof(private));
	crypto_x25519_clamp(private);
	crypto_x25519_key_free(handshake->ephemeral);
	handshake->ephemeral = crypto_x25519_key_new(private);
	crypto_x25519_key_public(public, handshake->ephemeral);
	crypto_wipe(private, sizeof(private));
}

/* Our handshake gets a fresh random index each time it sends. */
static uint32_t handshake_rehash(struct braid_device *dev, struct noise_handshake *handshake)
{
	index_table_remove(&dev->index, &handshake->entry);
	return index_table_insert(&dev->index, &handshake->entry);
}

void noise_handshake_init(struct noise_handshake *handshake, struct braid_peer *peer,
			  const uint8_t remote_static[NOISE_PUBLIC_KEY_LEN])
{
	memset(handshake, 0, sizeof(*handshake));
	handshake->entry.type = INDEX_HANDSHAKE;
	handshake->entry.peer = peer;
	handshake->last_initiation_consumption = BRAID_NEVER;
	memcpy(handshake->remote_static, remote_static, NOISE_PUBLIC_KEY_LEN);
}

/* Keeps the static keys, the preshared key and the replay/flood state. */
static void handshake_zero(struct noise_handshake *handshake)
{
	crypto_x25519_key_free(handshake->ephemeral);
	handshake->ephemeral = NULL;
	memset(handshake->remote_ephemeral, 0, NOISE_PUBLIC_KEY_LEN);
	crypto_wipe(handshake->hash, NOISE_HASH_LEN);
	crypto_wipe(handshake->chaining_key, NOISE_HASH_LEN);
	handshake->remote_index = 0;
	handshake->state = HANDSHAKE_ZEROED;
}

void noise_handshake_clear(struct braid_device *dev, struct noise_handshake *handshake)
{
	index_table_remove(&dev->index, &handshake->entry);
	handshake_zero(handshake);
}

void noise_precompute_static_static(struct braid_peer *peer)
{
	struct noise_handshake *handshake = &peer->handshake;

	handshake->has_static_static = false;
	crypto_wipe(handshake->precomputed_static_static, NOISE_PUBLIC_KEY_LEN);
}

/* DH(our static, their static), computed on first use; all zero when there is none. */
static const uint8_t *static_static(struct braid_device *dev, struct noise_handshake *handshake)
{
	if (!handshake->has_static_static) {
		if (!dev->has_identity ||
		    !crypto_x25519_with(handshake->precomputed_static_static, dev->static_key,
					handshake->remote_static))
			crypto_wipe(handshake->precomputed_static_static, NOISE_PUBLIC_KEY_LEN);
		handshake->has_static_static = true;
	}
	return handshake->precomputed_static_static;
}

bool noise_handshake_create_initiation(struct message_handshake_initiation *dst,
				       struct braid_peer *peer)
{
	struct braid_device *dev = peer->dev;
	struct noise_handshake *handshake = &peer->handshake;
	uint8_t timestamp[NOISE_TIMESTAMP_LEN], key[NOISE_SYMMETRIC_KEY_LEN];
	bool ret = false;

	if (!dev->has_identity)
		goto out;

	braid_put_le32(dst->type, MESSAGE_HANDSHAKE_INITIATION);
	handshake_init_state(handshake->chaining_key, handshake->hash, handshake->remote_static);

	/* e */
	new_ephemeral(dev, handshake, dst->unencrypted_ephemeral);
	message_ephemeral(dst->unencrypted_ephemeral, dst->unencrypted_ephemeral,
			  handshake->chaining_key, handshake->hash);

	/* es */
	if (!mix_dh(handshake->chaining_key, key, handshake->ephemeral, handshake->remote_static))
		goto out;

	/* s */
	message_encrypt(dst->encrypted_static, dev->static_public, NOISE_PUBLIC_KEY_LEN, key,
			handshake->hash);

	/* ss */
	if (!mix_precomputed_dh(handshake->chaining_key, key, static_static(dev, handshake)))
		goto out;

	/* {t} */
	tai64n_now(timestamp, dev->ops->wall_clock_ns(dev->ctx));
	message_encrypt(dst->encrypted_timestamp, timestamp, NOISE_TIMESTAMP_LEN, key,
			handshake->hash);

	braid_put_le32(dst->sender_index, handshake_rehash(dev, handshake));
	handshake->state = HANDSHAKE_CREATED_INITIATION;
	ret = true;
out:
	if (!ret)
		handshake_zero(handshake);
	crypto_wipe(key, sizeof(key));
	crypto_wipe(timestamp, sizeof(timestamp));
	return ret;
}

struct braid_peer *noise_handshake_consume_initiation(const struct message_handshake_initiation *src,
						      struct braid_device *dev, uint64_t now,
						      enum braid_drop *why)
{
	struct braid_peer *peer = NULL, *ret_peer = NULL;
	struct noise_handshake *handshake;
	uint8_t key[NOISE_SYMMETRIC_KEY_LEN], chaining_key[NOISE_HASH_LEN], hash[NOISE_HASH_LEN];
	uint8_t s[NOISE_PUBLIC_KEY_LEN], e[NOISE_PUBLIC_KEY_LEN], t[NOISE_TIMESTAMP_LEN];
	bool replay_attack, flood_attack;

	*why = BRAID_DROP_HANDSHAKE;
	if (!dev->has_identity)
		goto out;

	handshake_init_state(chaining_key, hash, dev->static_public);

	/* e */
	message_ephemeral(e, src->unencrypted_ephemeral, chaining_key, hash);

	/* es */
	if (!mix_dh(chaining_key, key, dev->static_key, e))
		goto out;

	/* s */
	if (!message_decrypt(s, src->encrypted_static, sizeof(src->encrypted_static), key, hash))
		goto out;

	/* Only now do we know which peer this claims to be. */
	peer = device_lookup_peer(dev, s);
	if (!peer)
		goto out;
	handshake = &peer->handshake;

	/* ss */
	if (!mix_precomputed_dh(chaining_key, key, static_static(dev, handshake)))
		goto out;

	/* {t} */
	if (!message_decrypt(t, src->encrypted_timestamp, sizeof(src->encrypted_timestamp), key,
			     hash))
		goto out;

	/* TAI64N is big-endian, so byte order is time order. */
	replay_attack = memcmp(t, handshake->latest_timestamp, NOISE_TIMESTAMP_LEN) <= 0;
	flood_attack = handshake->last_initiation_consumption != BRAID_NEVER &&
		       now < handshake->last_initiation_consumption +
			     NSEC_PER_SEC / INITIATIONS_PER_SECOND;
	if (replay_attack) {
		*why = BRAID_DROP_HANDSHAKE_REPLAY;
		goto out;
	}
	if (flood_attack) {
		*why = BRAID_DROP_HANDSHAKE_FLOOD;
		goto out;
	}

	/* Authentic, fresh and in time: commit. */
	memcpy(handshake->remote_ephemeral, e, NOISE_PUBLIC_KEY_LEN);
	memcpy(handshake->latest_timestamp, t, NOISE_TIMESTAMP_LEN);
	memcpy(handshake->hash, hash, NOISE_HASH_LEN);
	memcpy(handshake->chaining_key, chaining_key, NOISE_HASH_LEN);
	handshake->remote_index = braid_get_le32(src->sender_index);
	handshake->last_initiation_consumption = now;
	handshake->state = HANDSHAKE_CONSUMED_INITIATION;
	ret_peer = peer;
	*why = BRAID_OK;
out:
	crypto_wipe(key, sizeof(key));
	crypto_wipe(chaining_key, sizeof(chaining_key));
	crypto_wipe(hash, sizeof(hash));
	crypto_wipe(t, sizeof(t));
	return ret_peer;
}

bool noise_handshake_create_response(struct message_handshake_response *dst,
				     struct braid_peer *peer)
{
	struct braid_device *dev = peer->dev;
	struct noise_handshake *handshake = &peer->handshake;
	uint8_t key[NOISE_SYMMETRIC_KEY_LEN];
	bool ret = false;

	if (handshake->state != HANDSHAKE_CONSUMED_INITIATION)
		goto out;

	braid_put_le32(dst->type, MESSAGE_HANDSHAKE_RESPONSE);
	braid_put_le32(dst->receiver_index, handshake->remote_index);

	/* e */
	new_ephemeral(dev, handshake, dst->unencrypted_ephemeral);
	message_ephemeral(dst->unencrypted_ephemeral, dst->unencrypted_ephemeral,
			  handshake->chaining_key, handshake->hash);

	/* ee */
	if (!mix_dh(handshake->chaining_key, NULL, handshake->ephemeral,
		    handshake->remote_ephemeral))
		goto out;

	/* se */
	if (!mix_dh(handshake->chaining_key, NULL, handshake->ephemeral, handshake->remote_static))
		goto out;

	/* psk */
	mix_psk(handshake->chaining_key, handshake->hash, key, handshake->preshared_key);

	/* {} */
	message_encrypt(dst->encrypted_nothing, NULL, 0, key, handshake->hash);

	braid_put_le32(dst->sender_index, handshake_rehash(dev, handshake));
	handshake->state = HANDSHAKE_CREATED_RESPONSE;
	ret = true;
out:
	if (!ret)
		noise_handshake_clear(dev, handshake);
	crypto_wipe(key, sizeof(key));
	return ret;
}

struct braid_peer *noise_handshake_consume_response(const struct message_handshake_response *src,
						    struct braid_device *dev)
{
	struct index_entry *entry;
	struct noise_handshake *handshake;
	struct braid_peer *peer;
	uint8_t key[NOISE_SYMMETRIC_KEY_LEN], chaining_key[NOISE_HASH_LEN], hash[NOISE_HASH_LEN];
	uint8_t e[NOISE_PUBLIC_KEY_LEN];
	uint8_t nothing[1];
	bool ok = false;

	if (!dev->has_identity)
		return NULL;
	entry = index_table_lookup(&dev->index, braid_get_le32(src->receiver_index), INDEX_HANDSHAKE);
	if (!entry)
		return NULL;
	peer = entry->peer;
	handshake = &peer->handshake;
	if (handshake->state != HANDSHAKE_CREATED_INITIATION)
		return NULL;

	memcpy(chaining_key, handshake->chaining_key, NOISE_HASH_LEN);
	memcpy(hash, handshake->hash, NOISE_HASH_LEN);

	/* e */
	message_ephemeral(e, src->unencrypted_ephemeral, chaining_key, hash);

	/* ee */
	if (!mix_dh(chaining_key, NULL, handshake->ephemeral, e))
		goto out;

	/* se */
	if (!mix_dh(chaining_key, NULL, dev->static_key, e))
		goto out;

	/* psk */
	mix_psk(chaining_key, hash, key, handshake->preshared_key);

	/* {} */
	if (!message_decrypt(nothing, src->encrypted_nothing, sizeof(src->encrypted_nothing), key,
			     hash))
		goto out;

	memcpy(handshake->remote_ephemeral, e, NOISE_PUBLIC_KEY_LEN);
	memcpy(handshake->hash, hash, NOISE_HASH_LEN);
	memcpy(handshake->chaining_key, chaining_key, NOISE_HASH_LEN);
	handshake->remote_index = braid_get_le32(src->sender_index);
	handshake->state = HANDSHAKE_CONSUMED_RESPONSE;
	ok = true;
out:
	crypto_wipe(key, sizeof(key));
	crypto_wipe(chaining_key, sizeof(chaining_key));
	crypto_wipe(hash, sizeof(hash));
	return ok ? peer : NULL;
}

static void keypair_free(struct braid_keypair *kp)
{
	unsigned int i;

	for (i = 0; i < kp->slots * 2; ++i)
		crypto_aead_ctx_free(kp->ctx[i]);
	peer_put(kp->peer);
	crypto_wipe(kp, sizeof(*kp) + kp->slots * 2 * sizeof(kp->ctx[0]));
	free(kp);
}

struct braid_keypair *noise_keypair_get(struct braid_keypair *kp)
{
	if (kp)
		atomic_fetch_add(&kp->refcount, 1);
	return kp;
}

void braid_keypair_put(struct braid_keypair *kp)
{
	if (kp && atomic_fetch_sub(&kp->refcount, 1) == 1)
		keypair_free(kp);
}

/* Take the keypair out of service now; its memory goes with the last reference. */
static void keypair_drop(struct braid_device *dev, struct braid_keypair *kp)
{
	if (!kp)
		return;
	index_table_remove(&dev->index, &kp->entry);
	atomic_store(&kp->sending_is_valid, false);
	atomic_store(&kp->receiving_is_valid, false);
	braid_keypair_put(kp);
}

static struct braid_keypair *keypair_new(struct braid_peer *peer, uint64_t now,
					 const uint8_t send_key[NOISE_SYMMETRIC_KEY_LEN],
					 const uint8_t receive_key[NOISE_SYMMETRIC_KEY_LEN])
{
	struct braid_device *dev = peer->dev;
	struct braid_keypair *kp;
	unsigned int i;

	kp = calloc(1, sizeof(*kp) + dev->slots * 2 * sizeof(kp->ctx[0]));
	if (!kp)
		return NULL;
	kp->slots = dev->slots;
	for (i = 0; i < kp->slots; ++i) {
		kp->ctx[i] = crypto_aead_ctx_new(send_key, true);
		kp->ctx[kp->slots + i] = crypto_aead_ctx_new(receive_key, false);
		if (!kp->ctx[i] || !kp->ctx[kp->slots + i])
			goto fail;
	}
	atomic_init(&kp->refcount, 1);
	atomic_init(&kp->sending_counter, 0);
	atomic_init(&kp->sending_is_valid, true);
	atomic_init(&kp->receiving_is_valid, true);
	kp->entry.type = INDEX_KEYPAIR;
	kp->entry.peer = peer;
	kp->birthdate = now;
	kp->internal_id = ++dev->next_keypair_id;
	kp->peer = peer;
	atomic_fetch_add(&peer->refcount, 1);
	return kp;
fail:
	for (i = 0; i < kp->slots * 2; ++i)
		crypto_aead_ctx_free(kp->ctx[i]);
	free(kp);
	return NULL;
}

static void add_new_keypair(struct braid_device *dev, struct noise_keypairs *keypairs,
			    struct braid_keypair *new_keypair)
{
	struct braid_keypair *previous = keypairs->previous, *next = keypairs->next;
	struct braid_keypair *current = keypairs->current;

	if (new_keypair->i_am_the_initiator) {
		/*
		 * We sent the initiation and got a response: the new keypair
		 * is confirmed and usable at once. An unconfirmed next keypair
		 * (from a crossing handshake) becomes previous, so packets the
		 * other side sends on it still decrypt; otherwise current does.
		 */
		if (next) {
			keypairs->next = NULL;
			keypairs->previous = next;
			keypair_drop(dev, current);
		} else {
			keypairs->previous = current;
		}
		keypair_drop(dev, previous);
		keypairs->current = new_keypair;
	} else {
		/*
		 * We are the responder: we may not send on the new keypair
		 * until the initiator has used it, so it waits in next. The
		 * old previous and next go; current stays usable meanwhile.
		 */
		keypairs->next = new_keypair;
		keypair_drop(dev, next);
		keypairs->previous = NULL;
		keypair_drop(dev, previous);
	}
}

bool noise_handshake_begin_session(struct braid_peer *peer, uint64_t now)
{
	struct braid_device *dev = peer->dev;
	struct noise_handshake *handshake = &peer->handshake;
	uint8_t first[NOISE_SYMMETRIC_KEY_LEN], second[NOISE_SYMMETRIC_KEY_LEN];
	struct braid_keypair *kp;
	bool initiator;

	if (handshake->state != HANDSHAKE_CREATED_RESPONSE &&
	    handshake->state != HANDSHAKE_CONSUMED_RESPONSE)
		return false;
	initiator = handshake->state == HANDSHAKE_CONSUMED_RESPONSE;

	/* The initiator sends with T1 and receives with T2; the responder the reverse. */
	kdf(first, second, NULL, NULL, 0, handshake->chaining_key);
	kp = initiator ? keypair_new(peer, now, first, second) : keypair_new(peer, now, second, first);
	crypto_wipe(first, sizeof(first));
	crypto_wipe(second, sizeof(second));
	if (!kp)
		return false;
	kp->i_am_the_initiator = initiator;
	kp->remote_index = handshake->remote_index;

	/* The keypair answers to the index the handshake used. */
	index_table_replace(&dev->index, &handshake->entry, &kp->entry);
	handshake_zero(handshake);
	add_new_keypair(dev, &peer->keypairs, kp);
	return true;
}

bool noise_received_with_keypair(struct noise_keypairs *keypairs, struct braid_keypair *kp)
{
	struct braid_peer *peer = kp->peer;

	if (keypairs->next != kp)
		return false;
	/* Confirmation: next becomes current, current becomes previous. */
	keypair_drop(peer->dev, keypairs->previous);
	keypairs->previous = keypairs->current;
	keypairs->current = kp;
	keypairs->next = NULL;
	return true;
}

void noise_keypairs_clear(struct braid_device *dev, struct noise_keypairs *keypairs)
{
	keypair_drop(dev, keypairs->previous);
	keypair_drop(dev, keypairs->current);
	keypair_drop(dev, keypairs->next);
	keypairs->previous = keypairs->current = keypairs->next = NULL;
}

void noise_expire_current_peer_keypairs(struct braid_peer *peer)
{
	noise_handshake_clear(peer->dev, &peer->handshake);
	peer->last_sent_handshake = BRAID_NEVER;
	if (peer->keypairs.next)
		atomic_store(&peer->keypairs.next->sending_is_valid, false);
	if (peer->keypairs.current)
		atomic_store(&peer->keypairs.current->sending_is_valid, false);
}
