// SPDX-License-Identifier: MIT
/*
 * Key derivation and the text forms of keys. The key pairs below were made
 * by wireguard-tools (`wg genkey | wg pubkey`), an independent X25519 and
 * base64 implementation, so they check braid_public_key() and the codecs.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "braid.h"

static const struct {
	const char *private_b64, *public_b64, *private_hex;
} pairs[] = {
	{ "GLF2H1lTgvBPPov2TIyrYcTE414ytv9NQ+XtlPEldnY=", "XYQxbjYm6s1U6PuAV8YmXQy/lo6TV3Rj61jP3S7/LT8=",
	  "18b1761f595382f04f3e8bf64c8cab61c4c4e35e32b6ff4d43e5ed94f1257676" },
	{ "SKvR9KnlMO2AQwxmCDeLuwnzLFehLWqKNp3dsFw8vVM=", "v2nXQ3PoSaStFEC589S5jWFg6RLs06AVqKEd3pyAWko=",
	  "48abd1f4a9e530ed80430c6608378bbb09f32c57a12d6a8a369dddb05c3cbd53" },
	{ "YHmWQMDPdoiJ3PvegqoBNAA2GzXFwbtY2QUUaTWtEU0=", "TttHtkD9L0tXA2RNpgx3D5L20vcZCDZcV99Kkgi7P3I=",
	  "60799640c0cf768889dcfbde82aa013400361b35c5c1bb58d905146935ad114d" },
};

static void test_public_keys(void **state)
{
	uint8_t priv[BRAID_KEY_LEN], pub[BRAID_KEY_LEN], expect[BRAID_KEY_LEN];
	char b64[45], hex[65];
	unsigned int i;

	for (i = 0; i < sizeof(pairs) / sizeof(pairs[0]); ++i) {
		assert_true(braid_key_from_base64(priv, pairs[i].private_b64));
		assert_true(braid_key_from_base64(expect, pairs[i].public_b64));
		braid_public_key(pub, priv);
		assert_memory_equal(pub, expect, BRAID_KEY_LEN);
		braid_key_to_base64(b64, priv);
		assert_string_equal(b64, pairs[i].private_b64);
		braid_key_to_hex(hex, priv);
		assert_string_equal(hex, pairs[i].private_hex);
		memset(pub, 0, sizeof(pub));
		assert_true(braid_key_from_hex(pub, pairs[i].private_hex));
		assert_memory_equal(pub, priv, BRAID_KEY_LEN);
	}
}

static void test_codecs_every_byte(void **state)
{
	uint8_t key[BRAID_KEY_LEN], back[BRAID_KEY_LEN];
	char b64[45], hex[65];
	unsigned int i, j;

	/* Every byte value in every position, through both codecs. */
	for (i = 0; i < 256; ++i) {
		for (j = 0; j < BRAID_KEY_LEN; ++j)
			key[j] = (uint8_t)(i + j * 7);
		braid_key_to_base64(b64, key);
		assert_true(braid_key_from_base64(back, b64));
		assert_memory_equal(back, key, BRAID_KEY_LEN);
		braid_key_to_hex(hex, key);
		assert_true(braid_key_from_hex(back, hex));
		assert_memory_equal(back, key, BRAID_KEY_LEN);
	}
	memset(key, 0xff, sizeof(key));
	braid_key_to_base64(b64, key);
	assert_string_equal(b64, "//////////////////////////////////////////8=");
	for (j = 0; j < BRAID_KEY_LEN; ++j)
		key[j] = (uint8_t)j;
	braid_key_to_base64(b64, key);
	assert_string_equal(b64, "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=");
	assert_true(braid_key_from_hex(back, "000102030405060708090A0B0C0D0E0F101112131415161718191a1b1c1d1e1f"));
	assert_memory_equal(back, key, BRAID_KEY_LEN);
}

static void test_codecs_reject(void **state)
{
	static const char *const bad_b64[] = {
		"",
		"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8",		/* no '=' */
		"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8==",	/* too long */
		"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh9=",	/* spare bits set */
		"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdH*8=",	/* bad character */
		"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwd Hh8=",
		"=AECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=",
	};
	static const char *const bad_hex[] = {
		"",
		"000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1",
		"000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f0",
		"000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1g",
		"000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e:f",
		" 00102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f",
	};
	uint8_t key[BRAID_KEY_LEN], zero[BRAID_KEY_LEN] = { 0 };
	unsigned int i;

	for (i = 0; i < sizeof(bad_b64) / sizeof(bad_b64[0]); ++i) {
		memset(key, 0, sizeof(key));
		assert_false(braid_key_from_base64(key, bad_b64[i]));
		assert_memory_equal(key, zero, BRAID_KEY_LEN);
	}
	for (i = 0; i < sizeof(bad_hex) / sizeof(bad_hex[0]); ++i) {
		memset(key, 0, sizeof(key));
		assert_false(braid_key_from_hex(key, bad_hex[i]));
		assert_memory_equal(key, zero, BRAID_KEY_LEN);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_public_keys),
		cmocka_unit_test(test_codecs_every_byte),
		cmocka_unit_test(test_codecs_reject),
	};

	if (!braid_init())
		return 1;
	return cmocka_run_group_tests_name("keys", tests, NULL, NULL);
}
