/* SPDX-License-Identifier: MIT */
/*
 * The only way into cryptography. crypto.c implements it over OpenSSL 3
 * libcrypto; nothing else in the tree includes OpenSSL.
 *
 * Functions that can only fail on memory exhaustion inside libcrypto are
 * void and abort() in that case: every input to them has a fixed, checked
 * size. Functions whose result depends on their input (authentication,
 * contributory DH) return a bool that must be checked.
 */
#ifndef BRAID_CRYPTO_H
#define BRAID_CRYPTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum crypto_lengths {
	CRYPTO_KEY_LEN = 32,
	CRYPTO_HASH_LEN = 32,
	CRYPTO_TAG_LEN = 16,
	CRYPTO_MAC_LEN = 16,		/* keyed BLAKE2s-128: mac1, mac2, cookies */
	CRYPTO_XNONCE_LEN = 24,
	CRYPTO_HCHACHA_NONCE_LEN = 16,
};

#ifndef __must_check
#define __must_check __attribute__((warn_unused_result))
#endif

/* Fetch the algorithms once; false when libcrypto lacks one (too old). Idempotent. */
bool crypto_init(void) __must_check;

/* BLAKE2s-256 of a || b (either may be empty). */
void crypto_hash(uint8_t out[CRYPTO_HASH_LEN], const uint8_t *a, size_t a_len,
		 const uint8_t *b, size_t b_len);

/* HMAC-BLAKE2s-256, as the WireGuard KDF uses it. */
void crypto_hmac(uint8_t out[CRYPTO_HASH_LEN], const uint8_t key[CRYPTO_HASH_LEN],
		 const uint8_t *in, size_t in_len);

/* Keyed BLAKE2s with a 16-byte output (not a truncated 32-byte one); key is 1..32 bytes. */
void crypto_mac(uint8_t out[CRYPTO_MAC_LEN], const uint8_t *key, size_t key_len,
		const uint8_t *in, size_t in_len);

/* BLAKE2s with an out_len-byte output (1..32) over a || b, keyed with 1..32 bytes; unkeyed only for out_len 32. */
void crypto_blake2s(uint8_t *out, size_t out_len, const uint8_t *key, size_t key_len,
		    const uint8_t *a, size_t a_len, const uint8_t *b, size_t b_len);

/* Clamp a random 32-byte string into an X25519 private key. */
void crypto_x25519_clamp(uint8_t key[CRYPTO_KEY_LEN]);
void crypto_x25519_public(uint8_t pub[CRYPTO_KEY_LEN], const uint8_t priv[CRYPTO_KEY_LEN]);
/* X25519(priv, pub); false when the shared secret is all zeros (a low-order point). */
bool crypto_x25519(uint8_t out[CRYPTO_KEY_LEN], const uint8_t priv[CRYPTO_KEY_LEN],
		   const uint8_t pub[CRYPTO_KEY_LEN]) __must_check;

/*
 * A private key prepared once for several DH operations: loading a raw key
 * into libcrypto costs as much as the DH itself. Freeing wipes it.
 */
struct crypto_x25519_key;
struct crypto_x25519_key *crypto_x25519_key_new(const uint8_t priv[CRYPTO_KEY_LEN]);
void crypto_x25519_key_free(struct crypto_x25519_key *key);
void crypto_x25519_key_public(uint8_t pub[CRYPTO_KEY_LEN], const struct crypto_x25519_key *key);
/* As crypto_x25519, with a prepared key. */
bool crypto_x25519_with(uint8_t out[CRYPTO_KEY_LEN], const struct crypto_x25519_key *key,
			const uint8_t pub[CRYPTO_KEY_LEN]) __must_check;

/*
 * ChaCha20-Poly1305 (RFC 8439), one shot, for handshake messages.
 * The 96-bit nonce is 32 zero bits followed by the 64-bit counter, little-endian.
 * seal writes len + CRYPTO_TAG_LEN bytes; open reads len bytes (tag included).
 */
void crypto_aead_seal(uint8_t *dst, const uint8_t *src, size_t src_len,
		      const uint8_t *ad, size_t ad_len, uint64_t nonce,
		      const uint8_t key[CRYPTO_KEY_LEN]);
bool crypto_aead_open(uint8_t *dst, const uint8_t *src, size_t src_len,
		      const uint8_t *ad, size_t ad_len, uint64_t nonce,
		      const uint8_t key[CRYPTO_KEY_LEN]) __must_check;

/* XChaCha20-Poly1305 (draft-irtf-cfrg-xchacha), for cookie replies. */
void crypto_xaead_seal(uint8_t *dst, const uint8_t *src, size_t src_len,
		       const uint8_t *ad, size_t ad_len,
		       const uint8_t nonce[CRYPTO_XNONCE_LEN], const uint8_t key[CRYPTO_KEY_LEN]);
bool crypto_xaead_open(uint8_t *dst, const uint8_t *src, size_t src_len,
		       const uint8_t *ad, size_t ad_len,
		       const uint8_t nonce[CRYPTO_XNONCE_LEN],
		       const uint8_t key[CRYPTO_KEY_LEN]) __must_check;
void crypto_hchacha20(uint8_t out[CRYPTO_KEY_LEN], const uint8_t nonce[CRYPTO_HCHACHA_NONCE_LEN],
		      const uint8_t key[CRYPTO_KEY_LEN]);

/*
 * A keyed ChaCha20-Poly1305 context for the data plane: keyed once, then only
 * the nonce changes per packet. One context belongs to one thread at a time.
 * No additional data (WireGuard transport messages have none). dst may equal src.
 */
struct crypto_aead_ctx;
struct crypto_aead_ctx *crypto_aead_ctx_new(const uint8_t key[CRYPTO_KEY_LEN], bool encrypt);
void crypto_aead_ctx_free(struct crypto_aead_ctx *ctx);
void crypto_aead_ctx_seal(struct crypto_aead_ctx *ctx, uint8_t *dst, const uint8_t *src,
			  size_t src_len, uint64_t nonce);
bool crypto_aead_ctx_open(struct crypto_aead_ctx *ctx, uint8_t *dst, const uint8_t *src,
			  size_t src_len, uint64_t nonce) __must_check;

/* Constant-time equality of two equal-length buffers. */
bool crypto_equal(const void *a, const void *b, size_t len) __must_check;
/* True when all len bytes are zero, in constant time. */
bool crypto_is_zero(const void *a, size_t len) __must_check;
/* Wipe a secret in a way the compiler cannot elide. */
void crypto_wipe(void *p, size_t len);

#endif
