// SPDX-License-Identifier: MIT
/*
 * What crypto.c costs next to OpenSSL used directly, in the same process.
 *
 * Data plane: sealing and opening one 1420-byte packet through a keyed
 * crypto_aead_ctx, against the same EVP calls written out here (nonce-only
 * re-init), and against the naive way that re-keys the context per packet.
 * On x86_64 the direct calls run once more followed by a vzeroupper: OpenSSL
 * 3.0's AVX-512 Poly1305 returns without one and the code after it, OpenSSL's
 * own next call included, runs slower; that row separates what crypto.c gains
 * from that from what its wrapper costs.
 *
 * Control plane: X25519 (crypto_x25519 builds both keys per call; OpenSSL's
 * floor is a derive on prebuilt keys), public-key derivation, and the hashes
 * a handshake uses.
 *
 * Variants run interleaved, round after round, starting each round at a
 * different one, so drift in clock speed or neighbours hits all alike; the
 * table shows medians.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/evp.h>
#include <openssl/opensslv.h>

#if defined(__x86_64__)
#include <immintrin.h>
#endif

#include "bench.h"
#include "crypto.h"

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

enum {
	PACKET_LEN = 1420,
	ROUNDS = 31,
	NONCE_LEN = 12,
};

static struct {
	uint8_t key[CRYPTO_KEY_LEN];
	uint8_t buf[PACKET_LEN + CRYPTO_TAG_LEN];
	uint8_t sealed[PACKET_LEN + CRYPTO_TAG_LEN];
	uint8_t opened[PACKET_LEN];
	uint64_t nonce;
	struct crypto_aead_ctx *enc, *dec;
	EVP_CIPHER *cipher;
	EVP_CIPHER_CTX *evp_enc, *evp_dec;
	EVP_MD *md;
	EVP_MD_CTX *md_ctx;
	uint8_t priv[CRYPTO_KEY_LEN], peer[CRYPTO_KEY_LEN];
	EVP_PKEY_CTX *derive;
} b;

static void iv_of(uint8_t iv[NONCE_LEN], uint64_t counter)
{
	memset(iv, 0, 4);
	for (int i = 0; i < 8; ++i)
		iv[4 + i] = counter >> (8 * i);
}

/* The direct OpenSSL calls; rekey selects the naive variant. */
static void evp_seal(EVP_CIPHER_CTX *evp, uint8_t *buf, uint64_t counter, bool rekey)
{
	uint8_t iv[NONCE_LEN];
	int len;

	iv_of(iv, counter);
	if (!EVP_CipherInit_ex(evp, rekey ? b.cipher : NULL, NULL, rekey ? b.key : NULL, iv, 1) ||
	    !EVP_CipherUpdate(evp, buf, &len, buf, PACKET_LEN) ||
	    !EVP_CipherFinal_ex(evp, buf + PACKET_LEN, &len) ||
	    !EVP_CIPHER_CTX_ctrl(evp, EVP_CTRL_AEAD_GET_TAG, CRYPTO_TAG_LEN, buf + PACKET_LEN))
		die("EVP seal failed");
}

static void evp_open(EVP_CIPHER_CTX *evp, uint8_t *out, const uint8_t *in, uint64_t counter,
		     bool rekey)
{
	uint8_t iv[NONCE_LEN], tag[CRYPTO_TAG_LEN];
	int len;

	iv_of(iv, counter);
	memcpy(tag, in + PACKET_LEN, CRYPTO_TAG_LEN);
	if (!EVP_CipherInit_ex(evp, rekey ? b.cipher : NULL, NULL, rekey ? b.key : NULL, iv, 0) ||
	    !EVP_CipherUpdate(evp, out, &len, in, PACKET_LEN) ||
	    !EVP_CIPHER_CTX_ctrl(evp, EVP_CTRL_AEAD_SET_TAG, CRYPTO_TAG_LEN, tag) ||
	    EVP_CipherFinal_ex(evp, out + PACKET_LEN, &len) <= 0)
		die("EVP open failed");
}

static void braid_seal(size_t n)
{
	for (size_t i = 0; i < n; ++i)
		crypto_aead_ctx_seal(b.enc, b.buf, b.buf, PACKET_LEN, b.nonce++);
}

static void ossl_seal(size_t n)
{
	for (size_t i = 0; i < n; ++i)
		evp_seal(b.evp_enc, b.buf, b.nonce++, false);
}

static void ossl_seal_rekey(size_t n)
{
	for (size_t i = 0; i < n; ++i)
		evp_seal(b.evp_enc, b.buf, b.nonce++, true);
}

static void braid_open(size_t n)
{
	for (size_t i = 0; i < n; ++i)
		if (!crypto_aead_ctx_open(b.dec, b.opened, b.sealed, sizeof(b.sealed), 7))
			die("crypto_aead_ctx_open failed");
}

/* opened has room for the tag: EVP_CipherFinal_ex gets a pointer past the plaintext. */
static uint8_t evp_opened[PACKET_LEN + CRYPTO_TAG_LEN];

static void ossl_open(size_t n)
{
	for (size_t i = 0; i < n; ++i)
		evp_open(b.evp_dec, evp_opened, b.sealed, 7, false);
}

static void ossl_open_rekey(size_t n)
{
	for (size_t i = 0; i < n; ++i)
		evp_open(b.evp_dec, evp_opened, b.sealed, 7, true);
}

/* The bench's own vzeroupper, to split crypto.c's gain from its wrapper cost. */
#if defined(__x86_64__)
__attribute__((target("avx"), noinline)) static void zero_upper(void)
{
	_mm256_zeroupper();
}

static void ossl_seal_zero_upper(size_t n)
{
	for (size_t i = 0; i < n; ++i) {
		evp_seal(b.evp_enc, b.buf, b.nonce++, false);
		zero_upper();
	}
}

static void ossl_open_zero_upper(size_t n)
{
	for (size_t i = 0; i < n; ++i) {
		evp_open(b.evp_dec, evp_opened, b.sealed, 7, false);
		zero_upper();
	}
}
#endif

static void braid_x25519(size_t n)
{
	uint8_t out[CRYPTO_KEY_LEN];

	for (size_t i = 0; i < n; ++i)
		if (!crypto_x25519(out, b.priv, b.peer))
			die("crypto_x25519 failed");
}

static void ossl_derive(size_t n)
{
	uint8_t out[CRYPTO_KEY_LEN];

	for (size_t i = 0; i < n; ++i) {
		size_t len = sizeof(out);

		if (EVP_PKEY_derive(b.derive, out, &len) <= 0)
			die("EVP_PKEY_derive failed");
	}
}

static void braid_x25519_public(size_t n)
{
	uint8_t out[CRYPTO_KEY_LEN];

	for (size_t i = 0; i < n; ++i)
		crypto_x25519_public(out, b.priv);
}

static void braid_hash(size_t n)
{
	uint8_t out[CRYPTO_HASH_LEN];

	for (size_t i = 0; i < n; ++i)
		crypto_hash(out, b.key, 32, NULL, 0);
}

/* A reused EVP_MD_CTX: the floor, with no allocation per hash. */
static void ossl_hash(size_t n)
{
	uint8_t out[CRYPTO_HASH_LEN];

	for (size_t i = 0; i < n; ++i)
		if (!EVP_DigestInit_ex2(b.md_ctx, b.md, NULL) ||
		    !EVP_DigestUpdate(b.md_ctx, b.key, 32) ||
		    !EVP_DigestFinal_ex(b.md_ctx, out, NULL))
			die("EVP digest failed");
}

static void braid_hmac(size_t n)
{
	uint8_t out[CRYPTO_HASH_LEN];

	for (size_t i = 0; i < n; ++i)
		crypto_hmac(out, b.key, b.priv, 32);
}

static void braid_mac(size_t n)
{
	uint8_t out[CRYPTO_MAC_LEN];

	for (size_t i = 0; i < n; ++i)
		crypto_mac(out, b.key, 32, b.priv, 32);
}

struct variant {
	void (*run)(size_t n);
	size_t ops;		/* per round: a few milliseconds each */
	double ns[ROUNDS];
	double median;
};

static struct variant variants[] = {
#define V(fn, ops) { fn, ops, { 0 }, 0 }
	V(braid_seal, 2000), V(ossl_seal, 2000), V(ossl_seal_rekey, 2000),
	V(braid_open, 2000), V(ossl_open, 2000), V(ossl_open_rekey, 2000),
#if defined(__x86_64__)
	V(ossl_seal_zero_upper, 2000), V(ossl_open_zero_upper, 2000),
#endif
	V(braid_x25519, 40), V(ossl_derive, 40), V(braid_x25519_public, 40),
	V(braid_hash, 5000), V(ossl_hash, 5000), V(braid_hmac, 2000), V(braid_mac, 5000),
#undef V
};

static struct variant *find(void (*run)(size_t))
{
	for (size_t i = 0; i < ARRAY_SIZE(variants); ++i)
		if (variants[i].run == run)
			return &variants[i];
	return NULL;
}

static void measure(void)
{
	size_t count = ARRAY_SIZE(variants);

	for (size_t i = 0; i < count; ++i)
		variants[i].run(variants[i].ops / 4 + 1); /* warm caches and clocks */
	for (int r = 0; r < ROUNDS; ++r) {
		for (size_t k = 0; k < count; ++k) {
			struct variant *v = &variants[(r + k) % count];
			uint64_t start = now_ns();

			v->run(v->ops);
			v->ns[r] = (double)(now_ns() - start) / v->ops;
		}
	}
	for (size_t i = 0; i < count; ++i) {
		qsort(variants[i].ns, ROUNDS, sizeof(double), cmp_double);
		variants[i].median = variants[i].ns[ROUNDS / 2];
	}
}

/* braid and OpenSSL side by side; either may be absent. */
struct row {
	const char *what;
	void (*braid)(size_t n);
	void (*ossl)(size_t n);
	const char *ossl_is;
};

static const struct row rows[] = {
	{ "seal 1420 B", braid_seal, ossl_seal, "same EVP calls, nonce only" },
#if defined(__x86_64__)
	{ "", braid_seal, ossl_seal_zero_upper, "nonce only, then vzeroupper" },
#endif
	{ "", braid_seal, ossl_seal_rekey, "naive: re-key per packet" },
	{ "open 1420 B", braid_open, ossl_open, "same EVP calls, nonce only" },
#if defined(__x86_64__)
	{ "", braid_open, ossl_open_zero_upper, "nonce only, then vzeroupper" },
#endif
	{ "", braid_open, ossl_open_rekey, "naive: re-key per packet" },
	{ "X25519 shared secret", braid_x25519, ossl_derive, "derive on prebuilt keys" },
	{ "X25519 public key", braid_x25519_public, NULL, "" },
	{ "BLAKE2s-256 of 32 B", braid_hash, ossl_hash, "reused EVP_MD_CTX" },
	{ "HMAC-BLAKE2s of 32 B", braid_hmac, NULL, "" },
	{ "BLAKE2s-128 keyed, 32 B", braid_mac, NULL, "" },
};

static void print_table(void)
{
	printf("%s; %d interleaved rounds; median ns per operation\n\n",
	       OpenSSL_version(OPENSSL_VERSION), ROUNDS);
	printf("%-28s %10s %10s %7s  %s\n", "operation", "braid", "OpenSSL", "ratio",
	       "OpenSSL baseline");
	for (size_t i = 0; i < ARRAY_SIZE(rows); ++i) {
		const struct row *row = &rows[i];
		double mine = find(row->braid)->median;

		if (!row->ossl) {
			printf("%-28s %10.0f %10s %7s\n", row->what, mine, "-", "-");
			continue;
		}
		double theirs = find(row->ossl)->median;

		printf("%-28s %10.0f %10.0f %7.2f  %s\n", row->what, mine, theirs, mine / theirs,
		       row->ossl_is);
	}
}

static void setup(void)
{
	EVP_PKEY *local, *remote;
	uint8_t check[sizeof(b.buf)];

	if (!crypto_init())
		die("crypto_init failed");
	for (size_t i = 0; i < sizeof(b.key); ++i)
		b.key[i] = i * 7 + 1;
	for (size_t i = 0; i < sizeof(b.buf); ++i)
		b.buf[i] = i;
	b.enc = crypto_aead_ctx_new(b.key, true);
	b.dec = crypto_aead_ctx_new(b.key, false);
	b.cipher = EVP_CIPHER_fetch(NULL, "ChaCha20-Poly1305", NULL);
	b.evp_enc = EVP_CIPHER_CTX_new();
	b.evp_dec = EVP_CIPHER_CTX_new();
	if (!b.cipher || !b.evp_enc || !b.evp_dec ||
	    !EVP_CipherInit_ex(b.evp_enc, b.cipher, NULL, b.key, NULL, 1) ||
	    !EVP_CipherInit_ex(b.evp_dec, b.cipher, NULL, b.key, NULL, 0))
		die("EVP cipher setup failed");

	/* Both ways must produce the same packet, or the comparison means nothing. */
	memcpy(check, b.buf, sizeof(check));
	crypto_aead_ctx_seal(b.enc, b.sealed, b.buf, PACKET_LEN, 7);
	evp_seal(b.evp_enc, check, 7, false);
	if (memcmp(check, b.sealed, sizeof(check)))
		die("braid and OpenSSL disagree");

	for (size_t i = 0; i < sizeof(b.priv); ++i) {
		b.priv[i] = i * 13 + 5;
		b.peer[i] = i * 17 + 3;
	}
	crypto_x25519_clamp(b.priv);
	crypto_x25519_clamp(b.peer);
	crypto_x25519_public(b.peer, b.peer);
	local = EVP_PKEY_new_raw_private_key_ex(NULL, "X25519", NULL, b.priv, sizeof(b.priv));
	remote = EVP_PKEY_new_raw_public_key_ex(NULL, "X25519", NULL, b.peer, sizeof(b.peer));
	b.derive = local ? EVP_PKEY_CTX_new_from_pkey(NULL, local, NULL) : NULL;
	if (!remote || !b.derive || EVP_PKEY_derive_init(b.derive) <= 0 ||
	    EVP_PKEY_derive_set_peer_ex(b.derive, remote, 0) <= 0)
		die("EVP X25519 setup failed");
	EVP_PKEY_free(local);
	EVP_PKEY_free(remote);

	b.md = EVP_MD_fetch(NULL, "BLAKE2S-256", NULL);
	b.md_ctx = EVP_MD_CTX_new();
	if (!b.md || !b.md_ctx)
		die("EVP digest setup failed");
}

int main(void)
{
	setup();
	measure();
	print_table();
	return 0;
}
