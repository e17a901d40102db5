/* SPDX-License-Identifier: MIT */
/*
 * The wire facts a caller doing its own I/O needs: WireGuard's message types
 * and lengths, how many received handshakes may wait for the device, a test
 * that tells a handshake message from data, the IPv4 and IPv6 header fields
 * an I/O layer reads, and byte-order helpers. Constants and static inline
 * functions only: nothing here needs linking with libbraid.
 *
 * WireGuard's multi-byte fields are little-endian, IP's are big-endian
 * (network order). The helpers read and write byte arrays at any alignment.
 */
#ifndef BRAID_WIRE_H
#define BRAID_WIRE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* A message's first byte; the three after it are zero (a little-endian 32-bit type). */
enum braid_message_type {
	BRAID_MESSAGE_INITIATION = 1,
	BRAID_MESSAGE_RESPONSE = 2,
	BRAID_MESSAGE_COOKIE_REPLY = 3,
	BRAID_MESSAGE_DATA = 4,
};

enum braid_message_len {
	BRAID_MESSAGE_INITIATION_LEN = 148,
	BRAID_MESSAGE_RESPONSE_LEN = 92,
	BRAID_MESSAGE_COOKIE_REPLY_LEN = 64,
	BRAID_MESSAGE_DATA_HEADER_LEN = 16,	/* type, receiver index, counter */
	/* The shortest data message: a header and an AEAD tag around nothing (a keepalive). */
	BRAID_MESSAGE_DATA_MIN_LEN = 32,
	/* The longest handshake message: an initiation. */
	BRAID_MESSAGE_HANDSHAKE_MAX_LEN = BRAID_MESSAGE_INITIATION_LEN,
};

/*
 * Received handshake messages that may wait for the device at once, as the
 * kernel's MAX_QUEUED_INCOMING_HANDSHAKES: the size of a caller's backlog.
 */
enum { BRAID_MAX_QUEUED_HANDSHAKES = 4096 };

/*
 * True for a message of a handshake type (initiation, response, cookie
 * reply) no longer than an initiation; its exact length is the device's to
 * check. Anything else, malformed messages included, belongs on the data
 * path, where rejecting it is cheap.
 */
static inline bool braid_message_is_handshake(const uint8_t *buf, size_t len)
{
	return len >= 4 && len <= BRAID_MESSAGE_HANDSHAKE_MAX_LEN &&
	       buf[0] >= BRAID_MESSAGE_INITIATION && buf[0] <= BRAID_MESSAGE_COOKIE_REPLY &&
	       !buf[1] && !buf[2] && !buf[3];
}

/* IPv4 (RFC 791) and IPv6 (RFC 8200) headers: lengths, and the offsets (_OFF) of fields. */
enum braid_ip_header {
	BRAID_IPV4_HEADER_LEN = 20,		/* without options (IHL 5) */
	BRAID_IPV4_TOS_OFF = 1,
	BRAID_IPV4_TOTAL_LEN_OFF = 2,
	BRAID_IPV4_ID_OFF = 4,
	BRAID_IPV4_FRAG_OFF = 6,		/* flags and fragment offset, 16 bits */
	BRAID_IPV4_TTL_OFF = 8,
	BRAID_IPV4_PROTOCOL_OFF = 9,
	BRAID_IPV4_CHECKSUM_OFF = 10,
	BRAID_IPV4_SRC_OFF = 12,
	BRAID_IPV4_DST_OFF = 16,
	BRAID_IPV6_HEADER_LEN = 40,
	BRAID_IPV6_PAYLOAD_LEN_OFF = 4,		/* after version, class, flow label */
	BRAID_IPV6_NEXT_HEADER_OFF = 6,
	BRAID_IPV6_HOP_LIMIT_OFF = 7,
	BRAID_IPV6_SRC_OFF = 8,
	BRAID_IPV6_DST_OFF = 24,
};

/* The 16 bits at BRAID_IPV4_FRAG_OFF. */
enum braid_ipv4_frag {
	BRAID_IPV4_FLAG_DF = 0x4000,		/* don't fragment */
	BRAID_IPV4_FLAG_MF = 0x2000,		/* more fragments */
	BRAID_IPV4_OFFSET_MASK = 0x1fff,	/* fragment offset, in 8-byte units */
};

static inline uint16_t braid_get_be16(const uint8_t p[2])
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static inline uint32_t braid_get_be32(const uint8_t p[4])
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static inline void braid_put_be16(uint8_t p[2], uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static inline void braid_put_be32(uint8_t p[4], uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

static inline void braid_put_be64(uint8_t p[8], uint64_t v)
{
	braid_put_be32(p, (uint32_t)(v >> 32));
	braid_put_be32(p + 4, (uint32_t)v);
}

static inline uint32_t braid_get_le32(const uint8_t p[4])
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static inline void braid_put_le32(uint8_t p[4], uint32_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
	p[2] = (uint8_t)(v >> 16);
	p[3] = (uint8_t)(v >> 24);
}

static inline uint64_t braid_get_le64(const uint8_t p[8])
{
	return (uint64_t)braid_get_le32(p) | (uint64_t)braid_get_le32(p + 4) << 32;
}

static inline void braid_put_le64(uint8_t p[8], uint64_t v)
{
	braid_put_le32(p, (uint32_t)v);
	braid_put_le32(p + 4, (uint32_t)(v >> 32));
}

#endif
