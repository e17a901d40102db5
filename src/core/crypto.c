// SPDX-License-Identifier: MIT
/*
 * Cryptography over OpenSSL 3 libcrypto: the only file that includes OpenSSL.
 *
 * Algorithms are fetched once (crypto_init) because fetching by name takes
 * locks and walks the provider store; every later call uses the fetched
 * objects. Two pieces OpenSSL 3.0 lacks are written here from their specs:
 * HChaCha20 (draft-irtf-cfrg-xchacha section 2.2) for XChaCha20-Poly1305.
 *
 * Secrets leave no copies behind: every stack buffer that held one is wiped
 * before return, and the OpenSSL contexts that held keys cleanse them when
 * freed.
 */
#include "braid_wire.h"
#include "crypto.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/params.h>

#if defined(__x86_64__)
#include <immintrin.h>
#endif

enum {
	AEAD_NONCE_LEN = 12,
	/* EVP takes int lengths; feed larger buffers in pieces of this size. */
	EVP_CHUNK_LEN = 1 << 30,
};

static struct {
	EVP_CIPHER *aead;
	EVP_MD *hash;
	EVP_MAC *hmac;
	EVP_MAC *keyed_hash;
	bool has_avx;
	bool is_ready;
} algs;

static pthread_once_t algs_once = PTHREAD_ONCE_INIT;

static void fetch_algorithms(void)
{
	EVP_KEYMGMT *x25519 = EVP_KEYMGMT_fetch(NULL, "X25519", NULL);

	algs.aead = EVP_CIPHER_fetch(NULL, "ChaCha20-Poly1305", NULL);
	algs.hash = EVP_MD_fetch(NULL, "BLAKE2S-256", NULL);
	algs.hmac = EVP_MAC_fetch(NULL, "HMAC", NULL);
	algs.keyed_hash = EVP_MAC_fetch(NULL, "BLAKE2SMAC", NULL);
#if defined(__x86_64__)
	algs.has_avx = __builtin_cpu_supports("avx");
#endif
	algs.is_ready = algs.aead && algs.hash && algs.hmac && algs.keyed_hash && x25519;
	EVP_KEYMGMT_free(x25519);
}

bool crypto_init(void)
{
	return pthread_once(&algs_once, fetch_algorithms) == 0 && algs.is_ready;
}

/*
 * OpenSSL 3.0's AVX-512 Poly1305 returns with the upper halves of the vector
 * registers dirty and no vzeroupper; the SSE code that runs next (ours, libc's)
 * then pays for it, about 350 ns per packet. Clear them after every AEAD call.
 */
#if defined(__x86_64__)
__attribute__((target("avx"), noinline)) static void zero_upper_avx(void)
{
	_mm256_zeroupper();
}

static inline void zero_upper(void)
{
	if (algs.has_avx)
		zero_upper_avx();
}
#else
static inline void zero_upper(void)
{
}
#endif

static inline uint32_t rol32(uint32_t v, int n)
{
	return v << n | v >> (32 - n);
}

/* BLAKE2s-256, and keyed BLAKE2s of any size: OpenSSL does both. */

static bool mac_update(EVP_MAC_CTX *ctx, const uint8_t *in, size_t len)
{
	return len == 0 || EVP_MAC_update(ctx, in, len);
}

static bool digest_update(EVP_MD_CTX *ctx, const uint8_t *in, size_t len)
{
	return len == 0 || EVP_DigestUpdate(ctx, in, len);
}

void crypto_hash(uint8_t out[CRYPTO_HASH_LEN], const uint8_t *a, size_t a_len,
		 const uint8_t *b, size_t b_len)
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();

	if (!ctx || !EVP_DigestInit_ex2(ctx, algs.hash, NULL) || !digest_update(ctx, a, a_len) ||
	    !digest_update(ctx, b, b_len) || !EVP_DigestFinal_ex(ctx, out, NULL))
		abort();
	EVP_MD_CTX_free(ctx);
}

/* The "size" parameter goes into BLAKE2s's parameter block: not a truncation. */
static void keyed_hash(uint8_t *out, size_t out_len, const uint8_t *key, size_t key_len,
		       const uint8_t *a, size_t a_len, const uint8_t *b, size_t b_len)
{
	EVP_MAC_CTX *ctx = EVP_MAC_CTX_new(algs.keyed_hash);
	OSSL_PARAM params[] = {
		OSSL_PARAM_construct_size_t(OSSL_MAC_PARAM_SIZE, &out_len),
		OSSL_PARAM_construct_end(),
	};
	size_t written;

	if (!ctx || !EVP_MAC_init(ctx, key, key_len, params) || !mac_update(ctx, a, a_len) ||
	    !mac_update(ctx, b, b_len) || !EVP_MAC_final(ctx, out, &written, out_len) ||
	    written != out_len)
		abort();
	EVP_MAC_CTX_free(ctx);
}

void crypto_blake2s(uint8_t *out, size_t out_len, const uint8_t *key, size_t key_len,
		    const uint8_t *a, size_t a_len, const uint8_t *b, size_t b_len)
{
	/* Unkeyed BLAKE2s shorter than 32 bytes: WireGuard never needs it, OpenSSL 3.0 has none. */
	if (out_len < 1 || out_len > CRYPTO_HASH_LEN || key_len > CRYPTO_HASH_LEN ||
	    (!key_len && out_len != CRYPTO_HASH_LEN))
		abort();
	if (key_len > 0)
		keyed_hash(out, out_len, key, key_len, a, a_len, b, b_len);
	else
		crypto_hash(out, a, a_len, b, b_len);
}

void crypto_mac(uint8_t out[CRYPTO_MAC_LEN], const uint8_t *key, size_t key_len,
		const uint8_t *in, size_t in_len)
{
	crypto_blake2s(out, CRYPTO_MAC_LEN, key, key_len, in, in_len, NULL, 0);
}

void crypto_hmac(uint8_t out[CRYPTO_HASH_LEN], const uint8_t key[CRYPTO_HASH_LEN],
		 const uint8_t *in, size_t in_len)
{
	EVP_MAC_CTX *ctx = EVP_MAC_CTX_new(algs.hmac);
	OSSL_PARAM params[] = {
		OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, (char *)"BLAKE2S-256", 0),
		OSSL_PARAM_construct_end(),
	};
	size_t written;

	if (!ctx || !EVP_MAC_init(ctx, key, CRYPTO_HASH_LEN, params) ||
	    !mac_update(ctx, in, in_len) || !EVP_MAC_final(ctx, out, &written, CRYPTO_HASH_LEN) ||
	    written != CRYPTO_HASH_LEN)
		abort();
	EVP_MAC_CTX_free(ctx);
}

/* X25519 (RFC 7748). OpenSSL clamps the scalar and masks the top bit of u itself. */

void crypto_x25519_clamp(uint8_t key[CRYPTO_KEY_LEN])
{
	key[0] &= 248;
	key[31] &= 127;
	key[31] |= 64;
}

/*
 * OpenSSL computes the public half as it builds the key, which costs as
 * much as a DH: keys used more than once are prepared (crypto_x25519_key).
 */
static EVP_PKEY *x25519_private(const uint8_t priv[CRYPTO_KEY_LEN])
{
	EVP_PKEY *pkey = EVP_PKEY_new_raw_private_key_ex(NULL, "X25519", NULL, priv,
							 CRYPTO_KEY_LEN);

	if (!pkey)
		abort();
	return pkey;
}

struct crypto_x25519_key {
	EVP_PKEY *pkey;
};

struct crypto_x25519_key *crypto_x25519_key_new(const uint8_t priv[CRYPTO_KEY_LEN])
{
	struct crypto_x25519_key *key = malloc(sizeof(*key));

	if (!key)
		abort();
	key->pkey = x25519_private(priv);
	return key;
}

/* OpenSSL cleanses the private scalar when it frees the key. */
void crypto_x25519_key_free(struct crypto_x25519_key *key)
{
	if (!key)
		return;
	EVP_PKEY_free(key->pkey);
	free(key);
}

void crypto_x25519_key_public(uint8_t pub[CRYPTO_KEY_LEN], const struct crypto_x25519_key *key)
{
	size_t len = CRYPTO_KEY_LEN;

	if (!EVP_PKEY_get_raw_public_key(key->pkey, pub, &len) || len != CRYPTO_KEY_LEN)
		abort();
}

bool crypto_x25519_with(uint8_t out[CRYPTO_KEY_LEN], const struct crypto_x25519_key *key,
			const uint8_t pub[CRYPTO_KEY_LEN])
{
	EVP_PKEY *remote = EVP_PKEY_new_raw_public_key_ex(NULL, "X25519", NULL, pub,
							  CRYPTO_KEY_LEN);
	EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_pkey(NULL, key->pkey, NULL);
	size_t len = CRYPTO_KEY_LEN;
	bool is_derived;

	/* Every 32-byte string is a valid u-coordinate: nothing to validate in the peer. */
	if (!remote || !ctx || EVP_PKEY_derive_init(ctx) <= 0 ||
	    EVP_PKEY_derive_set_peer_ex(ctx, remote, 0) <= 0)
		abort();
	/* OpenSSL already fails on an all-zero result; the check below does not rely on it. */
	is_derived = EVP_PKEY_derive(ctx, out, &len) > 0 && len == CRYPTO_KEY_LEN;
	if (!is_derived) {
		crypto_wipe(out, CRYPTO_KEY_LEN);
		ERR_clear_error(); /* the peer's doing, as in aead_open */
	}
	EVP_PKEY_CTX_free(ctx);
	EVP_PKEY_free(remote);
	return !crypto_is_zero(out, CRYPTO_KEY_LEN) & is_derived;
}

void crypto_x25519_public(uint8_t pub[CRYPTO_KEY_LEN], const uint8_t priv[CRYPTO_KEY_LEN])
{
	struct crypto_x25519_key *key = crypto_x25519_key_new(priv);

	crypto_x25519_key_public(pub, key);
	crypto_x25519_key_free(key);
}

bool crypto_x25519(uint8_t out[CRYPTO_KEY_LEN], const uint8_t priv[CRYPTO_KEY_LEN],
		   const uint8_t pub[CRYPTO_KEY_LEN])
{
	struct crypto_x25519_key *key = crypto_x25519_key_new(priv);
	bool ok = crypto_x25519_with(out, key, pub);

	crypto_x25519_key_free(key);
	return ok;
}

/*
 * ChaCha20-Poly1305 (RFC 8439). The IETF nonce is 32 zero bits and then
 * WireGuard's 64-bit counter, little-endian. A keyed EVP_CIPHER_CTX is reused
 * by giving EVP_CipherInit_ex only a nonce: re-keying per packet would make a
 * 1420-byte packet cost a third more (bench/crypto.c).
 */

static void aead_nonce(uint8_t iv[AEAD_NONCE_LEN], uint64_t counter)
{
	memset(iv, 0, 4);
	braid_put_le64(iv + 4, counter);
}

/* With out NULL, EVP takes the input as additional data. */
static bool cipher_update(EVP_CIPHER_CTX *evp, uint8_t *out, const uint8_t *in, size_t len)
{
	int out_len;

	while (len > 0) {
		int n = len > EVP_CHUNK_LEN ? EVP_CHUNK_LEN : (int)len;

		if (!EVP_CipherUpdate(evp, out, &out_len, in, n))
			return false;
		if (out)
			out += n;
		in += n;
		len -= n;
	}
	return true;
}

static EVP_CIPHER_CTX *aead_keyed(const uint8_t key[CRYPTO_KEY_LEN], bool encrypt)
{
	EVP_CIPHER_CTX *evp = EVP_CIPHER_CTX_new();

	if (!evp || !EVP_CipherInit_ex(evp, algs.aead, NULL, key, NULL, encrypt))
		abort();
	return evp;
}

/* Writes len bytes of ciphertext and then the tag. */
static void aead_seal(EVP_CIPHER_CTX *evp, uint8_t *dst, const uint8_t *src, size_t len,
		      const uint8_t *ad, size_t ad_len, uint64_t counter)
{
	uint8_t iv[AEAD_NONCE_LEN], unused[CRYPTO_TAG_LEN];
	int final_len;

	aead_nonce(iv, counter);
	/* A stream cipher's final writes nothing; unused is there in case it ever does. */
	if (!EVP_CipherInit_ex(evp, NULL, NULL, NULL, iv, 1) ||
	    !cipher_update(evp, NULL, ad, ad_len) || !cipher_update(evp, dst, src, len) ||
	    !EVP_CipherFinal_ex(evp, unused, &final_len) ||
	    !EVP_CIPHER_CTX_ctrl(evp, EVP_CTRL_AEAD_GET_TAG, CRYPTO_TAG_LEN, dst + len))
		abort();
	zero_upper();
}

/* src_len includes the tag. On failure dst is wiped: unauthenticated plaintext stays unseen. */
static bool aead_open(EVP_CIPHER_CTX *evp, uint8_t *dst, const uint8_t *src, size_t src_len,
		      const uint8_t *ad, size_t ad_len, uint64_t counter)
{
	uint8_t iv[AEAD_NONCE_LEN], tag[CRYPTO_TAG_LEN], unused[CRYPTO_TAG_LEN];
	size_t len;
	int final_len;
	bool is_authentic;

	if (src_len < CRYPTO_TAG_LEN)
		return false;
	len = src_len - CRYPTO_TAG_LEN;
	memcpy(tag, src + len, CRYPTO_TAG_LEN);
	aead_nonce(iv, counter);
	if (!EVP_CipherInit_ex(evp, NULL, NULL, NULL, iv, 0) ||
	    !cipher_update(evp, NULL, ad, ad_len) || !cipher_update(evp, dst, src, len) ||
	    !EVP_CIPHER_CTX_ctrl(evp, EVP_CTRL_AEAD_SET_TAG, CRYPTO_TAG_LEN, tag))
		abort();
	is_authentic = EVP_CipherFinal_ex(evp, unused, &final_len) > 0;
	zero_upper();
	if (!is_authentic) {
		crypto_wipe(dst, len);
		/* The peer's doing, not ours: keep the thread's error queue for real failures. */
		ERR_clear_error();
	}
	return is_authentic;
}

void crypto_aead_seal(uint8_t *dst, const uint8_t *src, size_t src_len,
		      const uint8_t *ad, size_t ad_len, uint64_t nonce,
		      const uint8_t key[CRYPTO_KEY_LEN])
{
	EVP_CIPHER_CTX *evp = aead_keyed(key, true);

	aead_seal(evp, dst, src, src_len, ad, ad_len, nonce);
	EVP_CIPHER_CTX_free(evp);
}

bool crypto_aead_open(uint8_t *dst, const uint8_t *src, size_t src_len,
		      const uint8_t *ad, size_t ad_len, uint64_t nonce,
		      const uint8_t key[CRYPTO_KEY_LEN])
{
	EVP_CIPHER_CTX *evp;
	bool is_authentic;

	if (src_len < CRYPTO_TAG_LEN)
		return false;
	evp = aead_keyed(key, false);
	is_authentic = aead_open(evp, dst, src, src_len, ad, ad_len, nonce);
	EVP_CIPHER_CTX_free(evp);
	return is_authentic;
}

/* HChaCha20 (draft-irtf-cfrg-xchacha section 2.2): the ChaCha20 block without its final addition. */

static void quarter_round(uint32_t x[16], int a, int b, int c, int d)
{
	x[a] += x[b];
	x[d] = rol32(x[d] ^ x[a], 16);
	x[c] += x[d];
	x[b] = rol32(x[b] ^ x[c], 12);
	x[a] += x[b];
	x[d] = rol32(x[d] ^ x[a], 8);
	x[c] += x[d];
	x[b] = rol32(x[b] ^ x[c], 7);
}

void crypto_hchacha20(uint8_t out[CRYPTO_KEY_LEN], const uint8_t nonce[CRYPTO_HCHACHA_NONCE_LEN],
		      const uint8_t key[CRYPTO_KEY_LEN])
{
	uint32_t x[16] = { 0x61707865, 0x3320646e, 0x79622d32, 0x6b206574 }; /* "expand 32-byte k" */
	int i;

	for (i = 0; i < 8; ++i)
		x[4 + i] = braid_get_le32(key + 4 * i);
	for (i = 0; i < 4; ++i)
		x[12 + i] = braid_get_le32(nonce + 4 * i);
	for (i = 0; i < 10; ++i) {
		quarter_round(x, 0, 4, 8, 12);
		quarter_round(x, 1, 5, 9, 13);
		quarter_round(x, 2, 6, 10, 14);
		quarter_round(x, 3, 7, 11, 15);
		quarter_round(x, 0, 5, 10, 15);
		quarter_round(x, 1, 6, 11, 12);
		quarter_round(x, 2, 7, 8, 13);
		quarter_round(x, 3, 4, 9, 14);
	}
	for (i = 0; i < 4; ++i) {
		braid_put_le32(out + 4 * i, x[i]);
		braid_put_le32(out + 16 + 4 * i, x[12 + i]);
	}
	crypto_wipe(x, sizeof(x));
}

/* XChaCha20-Poly1305: the subkey from the first 16 nonce bytes, the IETF nonce from the last 8. */

void crypto_xaead_seal(uint8_t *dst, const uint8_t *src, size_t src_len,
		       const uint8_t *ad, size_t ad_len,
		       const uint8_t nonce[CRYPTO_XNONCE_LEN], const uint8_t key[CRYPTO_KEY_LEN])
{
	uint8_t subkey[CRYPTO_KEY_LEN];

	crypto_hchacha20(subkey, nonce, key);
	crypto_aead_seal(dst, src, src_len, ad, ad_len,
			 braid_get_le64(nonce + CRYPTO_HCHACHA_NONCE_LEN), subkey);
	crypto_wipe(subkey, sizeof(subkey));
}

bool crypto_xaead_open(uint8_t *dst, const uint8_t *src, size_t src_len,
		       const uint8_t *ad, size_t ad_len,
		       const uint8_t nonce[CRYPTO_XNONCE_LEN],
		       const uint8_t key[CRYPTO_KEY_LEN])
{
	uint8_t subkey[CRYPTO_KEY_LEN];
	bool is_authentic;

	crypto_hchacha20(subkey, nonce, key);
	is_authentic = crypto_aead_open(dst, src, src_len, ad, ad_len,
					braid_get_le64(nonce + CRYPTO_HCHACHA_NONCE_LEN), subkey);
	crypto_wipe(subkey, sizeof(subkey));
	return is_authentic;
}

/* The data plane: one keyed context per keypair, direction and thread. */

struct crypto_aead_ctx {
	EVP_CIPHER_CTX *evp;
	bool is_encrypt;
};

/* Never returns NULL: like the void functions, it aborts when memory runs out. */
struct crypto_aead_ctx *crypto_aead_ctx_new(const uint8_t key[CRYPTO_KEY_LEN], bool encrypt)
{
	struct crypto_aead_ctx *ctx = malloc(sizeof(*ctx));

	if (!ctx)
		abort();
	ctx->evp = aead_keyed(key, encrypt);
	ctx->is_encrypt = encrypt;
	return ctx;
}

void crypto_aead_ctx_free(struct crypto_aead_ctx *ctx)
{
	if (!ctx)
		return;
	EVP_CIPHER_CTX_free(ctx->evp);
	free(ctx);
}

/* Using a context in the other direction than it was made for is our bug, not the peer's. */
void crypto_aead_ctx_seal(struct crypto_aead_ctx *ctx, uint8_t *dst, const uint8_t *src,
			  size_t src_len, uint64_t nonce)
{
	if (!ctx->is_encrypt)
		abort();
	aead_seal(ctx->evp, dst, src, src_len, NULL, 0, nonce);
}

bool crypto_aead_ctx_open(struct crypto_aead_ctx *ctx, uint8_t *dst, const uint8_t *src,
			  size_t src_len, uint64_t nonce)
{
	if (ctx->is_encrypt)
		abort();
	return aead_open(ctx->evp, dst, src, src_len, NULL, 0, nonce);
}

bool crypto_equal(const void *a, const void *b, size_t len)
{
	return CRYPTO_memcmp(a, b, len) == 0;
}

/* volatile keeps the compiler from stopping early once a nonzero byte is seen. */
bool crypto_is_zero(const void *a, size_t len)
{
	const volatile uint8_t *p = a;
	uint8_t acc = 0;
	size_t i;

	for (i = 0; i < len; ++i)
		acc |= p[i];
	return acc == 0;
}

void crypto_wipe(void *p, size_t len)
{
	OPENSSL_cleanse(p, len);
}
