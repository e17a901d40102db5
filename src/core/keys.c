// SPDX-License-Identifier: MIT
/*
 * Key helpers of the public API: public-key derivation and the two text
 * forms tools use, base64 (wg(8) configuration) and hex (the UAPI).
 *
 * Encoders and decoders never branch or index a table on a key byte: every
 * character class is chosen with masks from mask_ge(), so the time taken
 * says nothing about the key.
 */
#include <string.h>

#include "braid.h"
#include "crypto.h"

void braid_clamp_private_key(uint8_t key[BRAID_KEY_LEN])
{
	crypto_x25519_clamp(key);
}

void braid_public_key(uint8_t pub[BRAID_KEY_LEN], const uint8_t priv[BRAID_KEY_LEN])
{
	uint8_t clamped[BRAID_KEY_LEN];

	memcpy(clamped, priv, sizeof(clamped));
	crypto_x25519_clamp(clamped);
	crypto_x25519_public(pub, clamped);
	crypto_wipe(clamped, sizeof(clamped));
}

/* All ones when a >= b, else zero; a and b below 2^31. */
static unsigned int mask_ge(unsigned int a, unsigned int b)
{
	return 0U - (((b - a - 1) >> 31) & 1);
}

static unsigned int mask_in(unsigned int c, unsigned int lo, unsigned int hi)
{
	return mask_ge(c, lo) & mask_ge(hi, c);
}

/* 0..25 'A'..'Z', 26..51 'a'..'z', 52..61 '0'..'9', 62 '+', 63 '/'. */
static char base64_char(unsigned int v)
{
	unsigned int c = 'A' + v;

	c += mask_ge(v, 26) & ('a' - 'A' - 26);
	c += mask_ge(v, 52) & (unsigned int)('0' - 'a' - 26);
	c += mask_ge(v, 62) & (unsigned int)('+' - '0' - 10);
	c += mask_ge(v, 63) & ('/' - '+' - 1);
	return (char)c;
}

/* The 6-bit value of c in the low bits; bit 8 set when c is not base64. */
static unsigned int base64_value(unsigned char c)
{
	unsigned int upper = mask_in(c, 'A', 'Z'), lower = mask_in(c, 'a', 'z');
	unsigned int digit = mask_in(c, '0', '9'), plus = mask_in(c, '+', '+');
	unsigned int slash = mask_in(c, '/', '/');
	unsigned int v = (upper & (c - 'A')) | (lower & (c - 'a' + 26)) |
			 (digit & (c - '0' + 52)) | (plus & 62) | (slash & 63);

	return v | (~(upper | lower | digit | plus | slash) & 0x100);
}

/* 32 bytes are 10 groups of 3 bytes (4 characters) and 2 bytes (3 characters and '='). */
void braid_key_to_base64(char out[45], const uint8_t key[BRAID_KEY_LEN])
{
	unsigned int i, group;

	for (i = 0; i < 11; ++i) {
		group = (unsigned int)key[i * 3] << 16 | (unsigned int)key[i * 3 + 1] << 8;
		if (i < 10)
			group |= key[i * 3 + 2];
		out[i * 4 + 0] = base64_char(group >> 18);
		out[i * 4 + 1] = base64_char((group >> 12) & 63);
		out[i * 4 + 2] = base64_char((group >> 6) & 63);
		out[i * 4 + 3] = i < 10 ? base64_char(group & 63) : '=';
	}
	out[44] = '\0';
}

bool braid_key_from_base64(uint8_t key[BRAID_KEY_LEN], const char *in)
{
	uint8_t out[BRAID_KEY_LEN];
	unsigned int i, j, group, bad = 0;

	if (strlen(in) != 44 || in[43] != '=')
		return false;
	for (i = 0; i < 11; ++i) {
		group = 0;
		for (j = 0; j < (i < 10 ? 4U : 3U); ++j) {
			unsigned int v = base64_value((unsigned char)in[i * 4 + j]);

			bad |= v;
			group = group << 6 | (v & 63);
		}
		if (i < 10) {
			out[i * 3 + 2] = (uint8_t)group;
			group >>= 8;
		} else {
			/* 18 bits for 16: the two spare low bits must be zero. */
			bad |= (group & 3) << 8;
			group >>= 2;
		}
		out[i * 3 + 1] = (uint8_t)group;
		out[i * 3] = (uint8_t)(group >> 8);
	}
	if (!(bad & 0x300))
		memcpy(key, out, BRAID_KEY_LEN);
	crypto_wipe(out, sizeof(out));
	return !(bad & 0x300);
}

static char hex_char(unsigned int nibble)
{
	return (char)('0' + nibble + (mask_ge(nibble, 10) & ('a' - '0' - 10)));
}

/* The nibble in the low bits; bit 8 set when c is not a hex digit. */
static unsigned int hex_value(unsigned char c)
{
	unsigned int digit = mask_in(c, '0', '9'), lower = mask_in(c, 'a', 'f');
	unsigned int upper = mask_in(c, 'A', 'F');

	return (digit & (c - '0')) | (lower & (c - 'a' + 10)) | (upper & (c - 'A' + 10)) |
	       (~(digit | lower | upper) & 0x100);
}

void braid_key_to_hex(char out[65], const uint8_t key[BRAID_KEY_LEN])
{
	unsigned int i;

	for (i = 0; i < BRAID_KEY_LEN; ++i) {
		out[i * 2] = hex_char(key[i] >> 4);
		out[i * 2 + 1] = hex_char(key[i] & 15);
	}
	out[64] = '\0';
}

bool braid_key_from_hex(uint8_t key[BRAID_KEY_LEN], const char *in)
{
	uint8_t out[BRAID_KEY_LEN];
	unsigned int i, hi, lo, bad = 0;

	if (strlen(in) != 64)
		return false;
	for (i = 0; i < BRAID_KEY_LEN; ++i) {
		hi = hex_value((unsigned char)in[i * 2]);
		lo = hex_value((unsigned char)in[i * 2 + 1]);
		bad |= hi | lo;
		out[i] = (uint8_t)((hi & 15) << 4 | (lo & 15));
	}
	if (!(bad & 0x100))
		memcpy(key, out, BRAID_KEY_LEN);
	crypto_wipe(out, sizeof(out));
	return !(bad & 0x100);
}
