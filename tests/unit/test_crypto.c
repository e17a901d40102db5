// SPDX-License-Identifier: MIT
/*
 * crypto.c against published vectors, through every path that reaches each
 * primitive: one-shot and keyed-context AEAD, in place and out of place,
 * XChaCha20 through its HChaCha20 subkey, BLAKE2s through the OpenSSL digest,
 * the BLAKE2SMAC. Then what must fail:
 * tampered packets, low-order X25519 points.
 *
 * Vectors without an RFC behind them were computed with Python 3.11's hashlib
 * and hmac modules, or with a from-the-RFC Python ChaCha20-Poly1305 that first
 * reproduced RFC 8439 section 2.8.2 byte for byte; each says which.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "crypto.h"

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* Hex with any whitespace in between, so long vectors can wrap. */
static uint8_t *unhex(const char *hex, size_t *len)
{
	uint8_t *out = malloc(strlen(hex) / 2 + 1);
	size_t n = 0;
	int nibble = -1;

	assert_non_null(out);
	for (; *hex; ++hex) {
		int v = 0;

		if (*hex == ' ' || *hex == '\n' || *hex == '\t')
			continue;
		if (*hex >= '0' && *hex <= '9')
			v = *hex - '0';
		else if (*hex >= 'a' && *hex <= 'f')
			v = *hex - 'a' + 10;
		else
			fail_msg("bad hex digit '%c'", *hex);
		if (nibble < 0) {
			nibble = v;
		} else {
			out[n++] = nibble << 4 | v;
			nibble = -1;
		}
	}
	assert_int_equal(nibble, -1);
	if (len)
		*len = n;
	return out;
}

/* Compare against hex; the message names the case when it fails. */
static void expect_hex(const char *what, const uint8_t *got, size_t len, const char *hex)
{
	size_t want_len;
	uint8_t *want = unhex(hex, &want_len);

	if (want_len != len || memcmp(got, want, len)) {
		fprintf(stderr, "%s: got ", what);
		for (size_t i = 0; i < len; ++i)
			fprintf(stderr, "%02x", got[i]);
		fprintf(stderr, "\n");
		free(want);
		fail_msg("%s: mismatch", what);
	}
	free(want);
}

static void fill(uint8_t *p, size_t len, uint32_t seed)
{
	for (size_t i = 0; i < len; ++i) {
		seed = seed * 1103515245 + 12345;
		p[i] = seed >> 16;
	}
}

static void seq(uint8_t *p, size_t len)
{
	for (size_t i = 0; i < len; ++i)
		p[i] = i;
}

static int setup(void **state)
{
	return crypto_init() ? 0 : -1;
}

static void test_init_is_idempotent(void **state)
{
	assert_true(crypto_init());
	assert_true(crypto_init());
}

/* ChaCha20-Poly1305 */

/* RFC 8439 Appendix A.5: decryption, then the same bytes back from encryption. */
static void test_aead_rfc8439_a5(void **state)
{
	static const char ct_hex[] =
		"64a0861575861af460f062c79be643bd5e805cfd345cf389f108670ac76c8cb2"
		"4c6cfc18755d43eea09ee94e382d26b0bdb7b73c321b0100d4f03b7f355894cf"
		"332f830e710b97ce98c8a84abd0b948114ad176e008d33bd60f982b1ff37c855"
		"9797a06ef4f0ef61c186324e2b3506383606907b6a7c02b0f9f6157b53c867e4"
		"b9166c767b804d46a59b5216cde7a4e99040c5a40433225ee282a1b0a06c523e"
		"af4534d7f83fa1155b0047718cbc546a0d072b04b3564eea1b422273f548271a"
		"0bb2316053fa76991955ebd63159434ecebb4e466dae5a1073a6727627097a10"
		"49e617d91d361094fa68f0ff77987130305beaba2eda04df997b714d6c6f2c29"
		"a6ad5cb4022b02709b"
		"eead9d67890cbb22392336fea1851f38";
	static const char pt_text[] =
		"Internet-Drafts are draft documents valid for a maximum of six months and "
		"may be updated, replaced, or obsoleted by other documents at any time. It is "
		"inappropriate to use Internet-Drafts as reference material or to cite them "
		"other than as /\xe2\x80\x9cwork in progress./\xe2\x80\x9d";
	uint8_t *key = unhex("1c9240a5eb55d38af333888604f6b5f0473917c1402b80099dca5cbc207075c0",
			     NULL);
	uint8_t *ad = unhex("f33388860000000000004e91", NULL);
	/* Nonce 00 00 00 00 01 02 03 04 05 06 07 08: the counter is its last 8 bytes, LE. */
	uint64_t nonce = 0x0807060504030201ULL;
	size_t ct_len, pt_len = strlen(pt_text);
	uint8_t *ct = unhex(ct_hex, &ct_len);
	uint8_t pt[265], sealed[265 + CRYPTO_TAG_LEN];

	assert_int_equal(pt_len, 265);
	assert_int_equal(ct_len, pt_len + CRYPTO_TAG_LEN);
	assert_true(crypto_aead_open(pt, ct, ct_len, ad, 12, nonce, key));
	assert_memory_equal(pt, pt_text, pt_len);
	crypto_aead_seal(sealed, (const uint8_t *)pt_text, pt_len, ad, 12, nonce, key);
	assert_memory_equal(sealed, ct, ct_len);
	free(key);
	free(ad);
	free(ct);
}

/*
 * RFC 8439 section 2.8.2 uses the nonce 07 00 00 00 40 41 .. 47, which this
 * API cannot express (its first 32 bits are always zero). Same key, plaintext
 * and AAD with the nonce 00 00 00 00 40 41 .. 47, computed with the
 * from-the-RFC Python implementation (which reproduces 2.8.2 itself) and
 * matched by the Python cryptography package; then again with no AAD, as the
 * data plane seals, to pin the keyed-context path to a known answer too.
 */
static const char ladies[] = "Ladies and Gentlemen of the class of '99: If I could offer you only "
			     "one tip for the future, sunscreen would be it.";
static const char ladies_key[] = "808182838485868788898a8b8c8d8e8f909192939495969798999a9b9c9d9e9f";
static const uint64_t ladies_nonce = 0x4746454443424140ULL;
static const char ladies_with_ad[] =
	"a479cb54628946d6f4042a8e384ef4bd2fbc7330b8be55eb2d8dc18aaa51d66a"
	"8ec1f8d3619a258db0ac56956015b7b4937e9b8e6aa957b3dc0214d803d77660"
	"aabc913092971da8f207171ce7843608162e2e759d8efc25d8d0936990af63c8"
	"20ba87e8a955b5c8274ef7d10f6fafd04647"
	"2dbf189b668bd430aef9147e99cb6c89";
static const char ladies_no_ad[] =
	"a479cb54628946d6f4042a8e384ef4bd2fbc7330b8be55eb2d8dc18aaa51d66a"
	"8ec1f8d3619a258db0ac56956015b7b4937e9b8e6aa957b3dc0214d803d77660"
	"aabc913092971da8f207171ce7843608162e2e759d8efc25d8d0936990af63c8"
	"20ba87e8a955b5c8274ef7d10f6fafd04647"
	"fa6775577a1a250dcc2df37e95e46c4a";

static void test_aead_rfc8439_282_inputs(void **state)
{
	uint8_t *key = unhex(ladies_key, NULL);
	uint8_t *ad = unhex("50515253c0c1c2c3c4c5c6c7", NULL);
	size_t len = strlen(ladies);
	uint8_t out[sizeof(ladies) + CRYPTO_TAG_LEN], back[sizeof(ladies)];
	struct crypto_aead_ctx *enc = crypto_aead_ctx_new(key, true);
	struct crypto_aead_ctx *dec = crypto_aead_ctx_new(key, false);

	assert_int_equal(len, 114);
	crypto_aead_seal(out, (const uint8_t *)ladies, len, ad, 12, ladies_nonce, key);
	expect_hex("one-shot, AAD", out, len + CRYPTO_TAG_LEN, ladies_with_ad);
	assert_true(crypto_aead_open(back, out, len + CRYPTO_TAG_LEN, ad, 12, ladies_nonce, key));
	assert_memory_equal(back, ladies, len);

	crypto_aead_seal(out, (const uint8_t *)ladies, len, NULL, 0, ladies_nonce, key);
	expect_hex("one-shot, no AAD", out, len + CRYPTO_TAG_LEN, ladies_no_ad);
	memset(out, 0, sizeof(out));
	crypto_aead_ctx_seal(enc, out, (const uint8_t *)ladies, len, ladies_nonce);
	expect_hex("context", out, len + CRYPTO_TAG_LEN, ladies_no_ad);
	assert_true(crypto_aead_ctx_open(dec, back, out, len + CRYPTO_TAG_LEN, ladies_nonce));
	assert_memory_equal(back, ladies, len);

	crypto_aead_ctx_free(enc);
	crypto_aead_ctx_free(dec);
	free(key);
	free(ad);
}

/*
 * The keyed context (nonce-only re-init) gives the one-shot path's bytes for
 * every length and nonce, in place and out of place, with one context reused
 * across all of them, as a worker thread reuses it.
 */
static void test_aead_ctx_matches_one_shot(void **state)
{
	static const size_t lens[] = { 0, 1, 15, 16, 17, 63, 64, 65, 1420, 65535 };
	static const uint64_t nonces[] = { 0, 1, 2, 0xffffffffULL, 0x100000000ULL,
					   0x0123456789abcdefULL, UINT64_MAX - 1, UINT64_MAX };
	enum { MAX = 65535 + CRYPTO_TAG_LEN };
	uint8_t key[CRYPTO_KEY_LEN];
	uint8_t *pt = malloc(MAX), *want = malloc(MAX), *got = malloc(MAX), *back = malloc(MAX);
	struct crypto_aead_ctx *enc, *dec;

	assert_true(pt && want && got && back);
	fill(key, sizeof(key), 7);
	enc = crypto_aead_ctx_new(key, true);
	dec = crypto_aead_ctx_new(key, false);
	for (size_t i = 0; i < ARRAY_SIZE(lens); ++i) {
		for (size_t j = 0; j < ARRAY_SIZE(nonces); ++j) {
			size_t len = lens[i], sealed_len = len + CRYPTO_TAG_LEN;

			fill(pt, len, i * 31 + j);
			crypto_aead_seal(want, pt, len, NULL, 0, nonces[j], key);

			crypto_aead_ctx_seal(enc, got, pt, len, nonces[j]);
			if (memcmp(got, want, sealed_len))
				fail_msg("len %zu nonce %zu: out-of-place seal differs", len, j);
			memcpy(got, pt, len);
			crypto_aead_ctx_seal(enc, got, got, len, nonces[j]);
			if (memcmp(got, want, sealed_len))
				fail_msg("len %zu nonce %zu: in-place seal differs", len, j);

			memset(back, 0xaa, len);
			if (!crypto_aead_ctx_open(dec, back, want, sealed_len, nonces[j]) ||
			    memcmp(back, pt, len))
				fail_msg("len %zu nonce %zu: out-of-place open", len, j);
			if (!crypto_aead_ctx_open(dec, got, got, sealed_len, nonces[j]) ||
			    memcmp(got, pt, len))
				fail_msg("len %zu nonce %zu: in-place open", len, j);
			memset(back, 0xaa, len);
			if (!crypto_aead_open(back, want, sealed_len, NULL, 0, nonces[j], key) ||
			    memcmp(back, pt, len))
				fail_msg("len %zu nonce %zu: one-shot open", len, j);
		}
	}
	crypto_aead_ctx_free(enc);
	crypto_aead_ctx_free(dec);
	free(pt);
	free(want);
	free(got);
	free(back);
}

/* Different nonces give different packets; a context is not stuck on its first nonce. */
static void test_aead_nonce_changes_output(void **state)
{
	uint8_t key[CRYPTO_KEY_LEN], pt[64], a[64 + CRYPTO_TAG_LEN], b[64 + CRYPTO_TAG_LEN];
	struct crypto_aead_ctx *enc;

	fill(key, sizeof(key), 1);
	fill(pt, sizeof(pt), 2);
	enc = crypto_aead_ctx_new(key, true);
	crypto_aead_ctx_seal(enc, a, pt, sizeof(pt), 5);
	crypto_aead_ctx_seal(enc, b, pt, sizeof(pt), 6);
	assert_memory_not_equal(a, b, sizeof(a));
	crypto_aead_ctx_seal(enc, b, pt, sizeof(pt), 5);
	assert_memory_equal(a, b, sizeof(a));
	crypto_aead_ctx_free(enc);
}

enum tamper { FLIP_FIRST, FLIP_MIDDLE, FLIP_LAST_CT, FLIP_TAG_FIRST, FLIP_TAG_LAST,
	      WRONG_NONCE, WRONG_KEY, TRUNCATED, TAMPER_CASES };

/* Every tampering fails, out of place the output is wiped, and the context keeps working. */
static void test_aead_tamper(void **state)
{
	enum { LEN = 100, SEALED = LEN + CRYPTO_TAG_LEN };
	uint8_t key[CRYPTO_KEY_LEN], other[CRYPTO_KEY_LEN], pt[LEN], good[SEALED], bad[SEALED];
	uint8_t out[LEN], zero[LEN] = { 0 };
	struct crypto_aead_ctx *dec, *dec_other;

	fill(key, sizeof(key), 3);
	memcpy(other, key, sizeof(other));
	other[31] ^= 1;
	fill(pt, sizeof(pt), 4);
	crypto_aead_seal(good, pt, LEN, NULL, 0, 42, key);
	dec = crypto_aead_ctx_new(key, false);
	dec_other = crypto_aead_ctx_new(other, false);
	for (int t = 0; t < TAMPER_CASES; ++t) {
		struct crypto_aead_ctx *ctx = t == WRONG_KEY ? dec_other : dec;
		const uint8_t *k = t == WRONG_KEY ? other : key;
		uint64_t nonce = t == WRONG_NONCE ? 43 : 42;
		size_t len = t == TRUNCATED ? SEALED - 1 : SEALED;

		memcpy(bad, good, SEALED);
		if (t == FLIP_FIRST)
			bad[0] ^= 1;
		else if (t == FLIP_MIDDLE)
			bad[LEN / 2] ^= 0x80;
		else if (t == FLIP_LAST_CT)
			bad[LEN - 1] ^= 0x10;
		else if (t == FLIP_TAG_FIRST)
			bad[LEN] ^= 1;
		else if (t == FLIP_TAG_LAST)
			bad[SEALED - 1] ^= 0x80;

		memset(out, 0xaa, sizeof(out));
		if (crypto_aead_ctx_open(ctx, out, bad, len, nonce))
			fail_msg("case %d: context opened a tampered packet", t);
		if (memcmp(out, zero, len - CRYPTO_TAG_LEN))
			fail_msg("case %d: context left unauthenticated plaintext", t);
		memset(out, 0xaa, sizeof(out));
		if (crypto_aead_open(out, bad, len, NULL, 0, nonce, k))
			fail_msg("case %d: one-shot opened a tampered packet", t);
		if (memcmp(out, zero, len - CRYPTO_TAG_LEN))
			fail_msg("case %d: one-shot left unauthenticated plaintext", t);
		if (!crypto_aead_ctx_open(dec, out, good, SEALED, 42) || memcmp(out, pt, LEN))
			fail_msg("case %d: context unusable after a failure", t);
	}
	/* Shorter than a tag: nothing to authenticate. */
	for (size_t len = 0; len < CRYPTO_TAG_LEN; ++len) {
		assert_false(crypto_aead_ctx_open(dec, out, good, len, 42));
		assert_false(crypto_aead_open(out, good, len, NULL, 0, 42, key));
	}
	crypto_aead_ctx_free(dec);
	crypto_aead_ctx_free(dec_other);
}

static void test_aead_tamper_ad(void **state)
{
	uint8_t key[CRYPTO_KEY_LEN], pt[40], sealed[40 + CRYPTO_TAG_LEN], out[40], ad[32];

	fill(key, sizeof(key), 5);
	fill(pt, sizeof(pt), 6);
	fill(ad, sizeof(ad), 7);
	crypto_aead_seal(sealed, pt, sizeof(pt), ad, sizeof(ad), 9, key);
	assert_true(crypto_aead_open(out, sealed, sizeof(sealed), ad, sizeof(ad), 9, key));
	assert_memory_equal(out, pt, sizeof(pt));
	ad[31] ^= 1;
	assert_false(crypto_aead_open(out, sealed, sizeof(sealed), ad, sizeof(ad), 9, key));
	ad[31] ^= 1;
	assert_false(crypto_aead_open(out, sealed, sizeof(sealed), ad, sizeof(ad) - 1, 9, key));
	assert_false(crypto_aead_open(out, sealed, sizeof(sealed), NULL, 0, 9, key));
}

/* XChaCha20-Poly1305 */

/* draft-irtf-cfrg-xchacha-03 section 2.2.1. */
static void test_hchacha20(void **state)
{
	uint8_t key[CRYPTO_KEY_LEN], out[CRYPTO_KEY_LEN];
	uint8_t *nonce = unhex("000000090000004a0000000031415927", NULL);

	seq(key, sizeof(key));
	crypto_hchacha20(out, nonce, key);
	expect_hex("HChaCha20", out, sizeof(out),
		   "82413b4227b27bfed30e42508a877d73a0f9e4d58a74a853c12ec41326d3ecdc");
	free(nonce);
}

/* draft-irtf-cfrg-xchacha-03 Appendix A.3.1. */
static void test_xaead_draft_a31(void **state)
{
	static const char want[] =
		"bd6d179d3e83d43b9576579493c0e939572a1700252bfaccbed2902c21396cbb"
		"731c7f1b0b4aa6440bf3a82f4eda7e39ae64c6708c54c216cb96b72e1213b452"
		"2f8c9ba40db5d945b11b69b982c1bb9e3f3fac2bc369488f76b2383565d3fff9"
		"21f9664c97637da9768812f615c68b13b52e"
		"c0875924c1c7987947deafd8780acf49";
	uint8_t *key = unhex(ladies_key, NULL);
	uint8_t *ad = unhex("50515253c0c1c2c3c4c5c6c7", NULL);
	uint8_t *nonce = unhex("404142434445464748494a4b4c4d4e4f5051525354555657", NULL);
	size_t len = strlen(ladies);
	uint8_t out[sizeof(ladies) + CRYPTO_TAG_LEN], back[sizeof(ladies)];

	crypto_xaead_seal(out, (const uint8_t *)ladies, len, ad, 12, nonce, key);
	expect_hex("XChaCha20-Poly1305", out, len + CRYPTO_TAG_LEN, want);
	assert_true(crypto_xaead_open(back, out, len + CRYPTO_TAG_LEN, ad, 12, nonce, key));
	assert_memory_equal(back, ladies, len);

	/* In place too, as cookie replies may be built. */
	memcpy(out, ladies, len);
	crypto_xaead_seal(out, out, len, ad, 12, nonce, key);
	expect_hex("XChaCha20-Poly1305 in place", out, len + CRYPTO_TAG_LEN, want);

	/* A change in either part of the nonce: the subkey half or the counter half. */
	nonce[0] ^= 1;
	assert_false(crypto_xaead_open(back, out, len + CRYPTO_TAG_LEN, ad, 12, nonce, key));
	nonce[0] ^= 1;
	nonce[23] ^= 1;
	assert_false(crypto_xaead_open(back, out, len + CRYPTO_TAG_LEN, ad, 12, nonce, key));
	nonce[23] ^= 1;
	ad[0] ^= 1;
	assert_false(crypto_xaead_open(back, out, len + CRYPTO_TAG_LEN, ad, 12, nonce, key));
	ad[0] ^= 1;
	out[len] ^= 1;
	assert_false(crypto_xaead_open(back, out, len + CRYPTO_TAG_LEN, ad, 12, nonce, key));
	free(key);
	free(ad);
	free(nonce);
}

/* X25519 */

struct x25519_vector {
	const char *scalar, *u, *out;
};

/* RFC 7748 section 5.2; the second u has its top bit set, which X25519 must ignore. */
static const struct x25519_vector rfc7748_52[] = {
	/* 1 */ { "a546e36bf0527c9d3b16154b82465edd62144c0ac1fc5a18506a2244ba449ac4",
		  "e6db6867583030db3594c1a424b15f7c726624ec26b3353b10a903a6d0ab1c4c",
		  "c3da55379de9c6908e94ea4df28d084f32eccf03491c71f754b4075577a28552" },
	/* 2 */ { "4b66e9d4d1b4673c5ad22691957d6af5c11b6421e0ea01d42ca4169e7918ba0d",
		  "e5210f12786811d3f4b7959d0538ae2c31dbe7106fc03c3efc4cd549c715a493",
		  "95cbde9476e8907d7aade45cb4b873f88b595a68799fa152e6f8f7647aac7957" },
};

static void test_x25519_rfc7748_vectors(void **state)
{
	for (size_t i = 0; i < ARRAY_SIZE(rfc7748_52); ++i) {
		uint8_t *k = unhex(rfc7748_52[i].scalar, NULL), *u = unhex(rfc7748_52[i].u, NULL);
		uint8_t out[CRYPTO_KEY_LEN];
		char what[32];

		snprintf(what, sizeof(what), "RFC 7748 5.2 vector %zu", i + 1);
		assert_true(crypto_x25519(out, k, u));
		expect_hex(what, out, sizeof(out), rfc7748_52[i].out);
		free(k);
		free(u);
	}
}

/* RFC 7748 section 5.2, iterated: k = u = 9, then k, u = X25519(k, u), k. */
static void test_x25519_rfc7748_iterated(void **state)
{
	uint8_t k[CRYPTO_KEY_LEN] = { 9 }, u[CRYPTO_KEY_LEN] = { 9 }, r[CRYPTO_KEY_LEN];

	for (int i = 1; i <= 1000; ++i) {
		assert_true(crypto_x25519(r, k, u));
		memcpy(u, k, sizeof(u));
		memcpy(k, r, sizeof(k));
		if (i == 1)
			expect_hex("after 1 iteration", k, sizeof(k),
				   "422c8e7a6227d7bca1350b3e2bb7279f7897b87bb6854b783c60e80311ae3079");
	}
	expect_hex("after 1,000 iterations", k, sizeof(k),
		   "684cf59ba83309552800ef566f2f4d3c1c3887c49360e3875f2eb94d99532c51");
}

/* RFC 7748 section 6.1: both public keys, and the same secret from both sides. */
static void test_x25519_rfc7748_dh(void **state)
{
	static const char shared[] =
		"4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742";
	uint8_t *a = unhex("77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a", NULL);
	uint8_t *b = unhex("5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb", NULL);
	uint8_t a_pub[CRYPTO_KEY_LEN], b_pub[CRYPTO_KEY_LEN], s[CRYPTO_KEY_LEN];

	crypto_x25519_public(a_pub, a);
	expect_hex("Alice's public key", a_pub, sizeof(a_pub),
		   "8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a");
	crypto_x25519_public(b_pub, b);
	expect_hex("Bob's public key", b_pub, sizeof(b_pub),
		   "de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f");
	assert_true(crypto_x25519(s, a, b_pub));
	expect_hex("Alice's shared secret", s, sizeof(s), shared);
	assert_true(crypto_x25519(s, b, a_pub));
	expect_hex("Bob's shared secret", s, sizeof(s), shared);
	free(a);
	free(b);
}

/*
 * Points of small order make the shared secret zero whatever the private key:
 * 0, 1, p - 1 (order 2), the two points of order 8, and the non-canonical
 * encodings p and p + 1 of 0 and 1 (p = 2^255 - 19).
 */
static void test_x25519_rejects_low_order(void **state)
{
	static const char *const points[] = {
		"0000000000000000000000000000000000000000000000000000000000000000",
		"0100000000000000000000000000000000000000000000000000000000000000",
		"ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
		"e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800",
		"5f9c95bca3508c24b1d0b1559c83ef5b04445cc4581c8e86d8224eddd09f1157",
		"edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
		"eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
	};
	uint8_t priv[CRYPTO_KEY_LEN], out[CRYPTO_KEY_LEN];

	fill(priv, sizeof(priv), 11);
	crypto_x25519_clamp(priv);
	for (size_t i = 0; i < ARRAY_SIZE(points); ++i) {
		uint8_t *u = unhex(points[i], NULL);

		memset(out, 0xaa, sizeof(out));
		if (crypto_x25519(out, priv, u))
			fail_msg("low-order point %zu accepted", i + 1);
		if (!crypto_is_zero(out, sizeof(out)))
			fail_msg("low-order point %zu: output not cleared", i + 1);
		free(u);
	}
}

static void test_x25519_clamp_and_random_pairs(void **state)
{
	uint8_t k[CRYPTO_KEY_LEN];

	memset(k, 0xff, sizeof(k));
	crypto_x25519_clamp(k);
	assert_int_equal(k[0], 0xf8);
	assert_int_equal(k[31], 0x7f);
	memset(k, 0, sizeof(k));
	crypto_x25519_clamp(k);
	assert_int_equal(k[0], 0);
	assert_int_equal(k[31], 0x40);

	for (uint32_t i = 0; i < 8; ++i) {
		uint8_t a[CRYPTO_KEY_LEN], b[CRYPTO_KEY_LEN], ap[CRYPTO_KEY_LEN], bp[CRYPTO_KEY_LEN];
		uint8_t s1[CRYPTO_KEY_LEN], s2[CRYPTO_KEY_LEN];

		fill(a, sizeof(a), 100 + i);
		fill(b, sizeof(b), 200 + i);
		crypto_x25519_clamp(a);
		crypto_x25519_clamp(b);
		crypto_x25519_public(ap, a);
		crypto_x25519_public(bp, b);
		assert_true(crypto_x25519(s1, a, bp));
		assert_true(crypto_x25519(s2, b, ap));
		assert_memory_equal(s1, s2, sizeof(s1));
	}
}

/* BLAKE2s */

/* RFC 7693 Appendix B, and a || b split at every point equals the whole. */
static void test_hash_rfc7693(void **state)
{
	static const char abc_hash[] =
		"508c5e8c327c14e2e1a72ba34eeb452f37458b209ed63a294d999b4c86675982";
	const uint8_t *abc = (const uint8_t *)"abc";
	uint8_t out[CRYPTO_HASH_LEN];

	for (size_t split = 0; split <= 3; ++split) {
		memset(out, 0, sizeof(out));
		crypto_hash(out, abc, split, abc + split, 3 - split);
		expect_hex("BLAKE2s-256(\"abc\")", out, sizeof(out), abc_hash);
	}
	crypto_blake2s(out, CRYPTO_HASH_LEN, NULL, 0, abc, 3, NULL, 0);
	expect_hex("crypto_blake2s unkeyed 32", out, sizeof(out), abc_hash);
	/* BLAKE2s-256 of the empty string (Python hashlib.blake2s). */
	crypto_hash(out, NULL, 0, NULL, 0);
	expect_hex("BLAKE2s-256(\"\")", out, sizeof(out),
		   "69217a3079908094e11121d042354a7c1f55b6482ca1a51e1b250dfd1ed0eef9");
}

struct blake2s_vector {
	size_t in_len;		/* input: bytes 00 01 02 .. in_len - 1 */
	size_t key_len;		/* key: bytes 00 01 02 .. key_len - 1 */
	size_t out_len;
	const char *out;
};

/*
 * Cases 1-7: the BLAKE2 reference KAT (blake2s-kat.txt: key 00..1f, input
 * 00..n-1, 32-byte output). Cases 8-13: keyed BLAKE2s-128, from Python's
 * hashlib.blake2s(data, digest_size=16, key=...). Lengths straddle the 64-byte block.
 */
static const struct blake2s_vector blake2s_vectors[] = {
	/* 1 */ { 0, 32, 32, "48a8997da407876b3d79c0d92325ad3b89cbb754d86ab71aee047ad345fd2c49" },
	/* 2 */ { 1, 32, 32, "40d15fee7c328830166ac3f918650f807e7e01e177258cdc0a39b11f598066f1" },
	/* 3 */ { 2, 32, 32, "6bb71300644cd3991b26ccd4d274acd1adeab8b1d7914546c1198bbe9fc9d803" },
	/* 4 */ { 63, 32, 32, "c65382513f07460da39833cb666c5ed82e61b9e998f4b0c4287cee56c3cc9bcd" },
	/* 5 */ { 64, 32, 32, "8975b0577fd35566d750b362b0897a26c399136df07bababbde6203ff2954ed4" },
	/* 6 */ { 65, 32, 32, "21fe0ceb0052be7fb0f004187cacd7de67fa6eb0938d927677f2398c132317a8" },
	/* 7 */ { 255, 32, 32, "3fb735061abc519dfe979e54c1ee5bfad0a9d858b3315bad34bde999efd724dd" },
	/* 8 */ { 0, 32, 16, "9536f9b267655743dee97b8a670f9f53" },
	/* 9 */ { 1, 32, 16, "13bacfb85b48a1223c595f8c1e7e82cb" },
	/* 10 */ { 64, 32, 16, "f1efa90d2547036841ecd3627fafbc36" },
	/* 11 */ { 65, 32, 16, "811ff8686d23a435ecbd0bdafcd27b1b" },
	/* 12 */ { 3, 1, 16, "2dc274d52c2abc1db926bcb9e565636c" },
	/* 13 */ { 100, 16, 16, "56301549e674c3b72a0e1dafb7a2c620" },
};

/* Each vector in one piece and split as a || b at several points, block edges included. */
static void test_blake2s_vectors(void **state)
{
	static const size_t splits[] = { 0, 1, 31, 63, 64, 65, 128, 129 };
	uint8_t in[255], key[CRYPTO_HASH_LEN], out[CRYPTO_HASH_LEN];
	char what[64];

	seq(in, sizeof(in));
	seq(key, sizeof(key));
	for (size_t i = 0; i < ARRAY_SIZE(blake2s_vectors); ++i) {
		const struct blake2s_vector *v = &blake2s_vectors[i];

		for (size_t j = 0; j < ARRAY_SIZE(splits); ++j) {
			size_t split = splits[j] > v->in_len ? v->in_len : splits[j];

			snprintf(what, sizeof(what), "case %zu split %zu", i + 1, split);
			crypto_blake2s(out, v->out_len, key, v->key_len, in, split, in + split,
				       v->in_len - split);
			expect_hex(what, out, v->out_len, v->out);
		}
		if (v->out_len == CRYPTO_MAC_LEN && v->key_len > 0) {
			snprintf(what, sizeof(what), "case %zu via crypto_mac", i + 1);
			crypto_mac(out, key, v->key_len, in, v->in_len);
			expect_hex(what, out, CRYPTO_MAC_LEN, v->out);
		}
	}
}

/* mac1 would be wrong if the 16-byte MAC were a truncated 32-byte one. */
static void test_mac_is_not_truncated(void **state)
{
	uint8_t key[CRYPTO_HASH_LEN], in[60], mac[CRYPTO_MAC_LEN], full[CRYPTO_HASH_LEN];

	seq(key, sizeof(key));
	fill(in, sizeof(in), 9);
	crypto_mac(mac, key, sizeof(key), in, sizeof(in));
	crypto_blake2s(full, CRYPTO_HASH_LEN, key, sizeof(key), in, sizeof(in), NULL, 0);
	assert_memory_not_equal(mac, full, CRYPTO_MAC_LEN);
}

/* HMAC-BLAKE2s, key 00..1f, input 00..n-1: Python hmac.new(key, data, hashlib.blake2s). */
static void test_hmac(void **state)
{
	static const struct {
		size_t in_len;
		const char *out;
	} vectors[] = {
		/* 1 */ { 0, "e2641d24dfa8dd89e8cb77f1cdc77d8c006e5bebdfc4d6a3a3a6f8d5b7586fb0" },
		/* 2 */ { 3, "fb3e80cfc950d62fb256c9e5d2219b1d5533d9e3862f9f61f4e02865363b031e" },
		/* 3 */ { 64, "3b35e945d05ac982850451ac8b6cdfffb98e56f50b95272fab665de081691056" },
		/* 4 */ { 65, "e0bf9ad5f46ae7cb59268a338f24391ad8cc125148746599da55803c3d80c2e2" },
		/* 5 */ { 200, "543eec9b22646365ef782d72dae137cc761d018005f8d33d0f20bfbd01e62974" },
	};
	uint8_t key[CRYPTO_HASH_LEN], in[200], out[CRYPTO_HASH_LEN];
	char what[32];

	seq(key, sizeof(key));
	seq(in, sizeof(in));
	for (size_t i = 0; i < ARRAY_SIZE(vectors); ++i) {
		snprintf(what, sizeof(what), "HMAC case %zu", i + 1);
		crypto_hmac(out, key, in, vectors[i].in_len);
		expect_hex(what, out, sizeof(out), vectors[i].out);
	}
}

/* Comparisons and wiping */

static void test_equal_and_is_zero(void **state)
{
	uint8_t a[33], b[33], z[33] = { 0 };

	fill(a, sizeof(a), 12);
	memcpy(b, a, sizeof(b));
	assert_true(crypto_equal(a, b, sizeof(a)));
	assert_true(crypto_equal(a, b, 0));
	for (size_t i = 0; i < sizeof(a); i += 8) {
		b[i] ^= 0x40;
		assert_false(crypto_equal(a, b, sizeof(a)));
		assert_true(crypto_equal(a, b, i));
		b[i] ^= 0x40;
	}
	b[32] ^= 1;
	assert_false(crypto_equal(a, b, sizeof(a)));

	assert_true(crypto_is_zero(z, sizeof(z)));
	assert_true(crypto_is_zero(z, 0));
	for (size_t i = 0; i < sizeof(z); ++i) {
		z[i] = 0x80 >> (i % 8);
		assert_false(crypto_is_zero(z, sizeof(z)));
		assert_true(crypto_is_zero(z, i));
		z[i] = 0;
	}
}

static void test_wipe(void **state)
{
	uint8_t buf[50];

	memset(buf, 0x5a, sizeof(buf));
	crypto_wipe(buf + 1, 48);
	assert_int_equal(buf[0], 0x5a);
	assert_true(crypto_is_zero(buf + 1, 48));
	assert_int_equal(buf[49], 0x5a);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_init_is_idempotent),
		cmocka_unit_test(test_aead_rfc8439_a5),
		cmocka_unit_test(test_aead_rfc8439_282_inputs),
		cmocka_unit_test(test_aead_ctx_matches_one_shot),
		cmocka_unit_test(test_aead_nonce_changes_output),
		cmocka_unit_test(test_aead_tamper),
		cmocka_unit_test(test_aead_tamper_ad),
		cmocka_unit_test(test_hchacha20),
		cmocka_unit_test(test_xaead_draft_a31),
		cmocka_unit_test(test_x25519_rfc7748_vectors),
		cmocka_unit_test(test_x25519_rfc7748_iterated),
		cmocka_unit_test(test_x25519_rfc7748_dh),
		cmocka_unit_test(test_x25519_rejects_low_order),
		cmocka_unit_test(test_x25519_clamp_and_random_pairs),
		cmocka_unit_test(test_hash_rfc7693),
		cmocka_unit_test(test_blake2s_vectors),
		cmocka_unit_test(test_mac_is_not_truncated),
		cmocka_unit_test(test_hmac),
		cmocka_unit_test(test_equal_and_is_zero),
		cmocka_unit_test(test_wipe),
	};

	return cmocka_run_group_tests(tests, setup, NULL);
}
