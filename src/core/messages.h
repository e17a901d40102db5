/* SPDX-License-Identifier: MIT */
/*
 * WireGuard wire formats and every protocol constant, in one place.
 *
 * All multi-byte fields are little-endian on the wire. The structs are
 * packed byte arrays: they are never accessed through unaligned pointers
 * to wider types; fields are read and written with get_le32()/put_le32().
 */
#ifndef BRAID_MESSAGES_H
#define BRAID_MESSAGES_H

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "braid.h"
#include "braid_wire.h"

#ifndef __must_check
#define __must_check __attribute__((warn_unused_result))
#endif

#define NSEC_PER_SEC 1000000000ULL
#define NSEC_PER_MSEC 1000000ULL

/*
 * One second of protocol time (the timers of section 6 and the cookie
 * secret's age). Test builds may define BRAID_TIME_DIVISOR to run all of
 * them that many times faster, so that hours of rekeying fit in a minute;
 * rate limits, TAI64N and configured keepalive intervals stay in real time.
 */
#ifndef BRAID_TIME_DIVISOR
#define BRAID_TIME_DIVISOR 1
#endif
#define PROTOCOL_SEC (NSEC_PER_SEC / BRAID_TIME_DIVISOR)
#define PROTOCOL_MSEC (NSEC_PER_MSEC / BRAID_TIME_DIVISOR)

/* True when after_ns have passed since birth, or birth is BRAID_NEVER (it never happened). */
static inline bool has_expired(uint64_t birth, uint64_t after_ns, uint64_t now)
{
	return birth == BRAID_NEVER || now >= birth + after_ns;
}

enum noise_lengths {
	NOISE_PUBLIC_KEY_LEN = 32,
	NOISE_SYMMETRIC_KEY_LEN = 32,
	NOISE_TIMESTAMP_LEN = 12,
	NOISE_AUTHTAG_LEN = 16,
	NOISE_HASH_LEN = 32,
};

#define noise_encrypted_len(plain_len) ((plain_len) + NOISE_AUTHTAG_LEN)

enum cookie_values {
	COOKIE_SECRET_MAX_AGE = 120,	/* seconds */
	COOKIE_SECRET_LATENCY = 5,	/* seconds */
	COOKIE_NONCE_LEN = 24,
	COOKIE_LEN = 16,
};

enum counter_values {
	COUNTER_BITS_TOTAL = 8192,
	COUNTER_REDUNDANT_BITS = 64,
	COUNTER_WINDOW_SIZE = COUNTER_BITS_TOTAL - COUNTER_REDUNDANT_BITS,
};

/* Times in seconds, as in the paper's section 6. */
enum limits {
	REKEY_TIMEOUT = 5,
	REKEY_TIMEOUT_JITTER_MAX_MS = 333,	/* jitter is drawn from [0, 333) ms */
	KEEPALIVE_TIMEOUT = 10,
	REKEY_AFTER_TIME = 120,
	REJECT_AFTER_TIME = 180,
	REKEY_ATTEMPT_TIME = 90,
	INITIATIONS_PER_SECOND = 50,
	MAX_PEERS_PER_DEVICE = 1 << 20,
	MAX_TIMER_HANDSHAKES = REKEY_ATTEMPT_TIME / REKEY_TIMEOUT,
	MAX_QUEUED_INCOMING_HANDSHAKES = BRAID_MAX_QUEUED_HANDSHAKES,
	MAX_STAGED_PACKETS = 128,
};

#define REKEY_AFTER_MESSAGES (1ULL << 60)
/* 2^64 - 2^13 - 1, the paper's value */
#define REJECT_AFTER_MESSAGES (UINT64_MAX - (1ULL << 13))

enum message_type {
	MESSAGE_INVALID = 0,
	MESSAGE_HANDSHAKE_INITIATION = BRAID_MESSAGE_INITIATION,
	MESSAGE_HANDSHAKE_RESPONSE = BRAID_MESSAGE_RESPONSE,
	MESSAGE_HANDSHAKE_COOKIE = BRAID_MESSAGE_COOKIE_REPLY,
	MESSAGE_DATA = BRAID_MESSAGE_DATA,
};

/* Offsets into each message; every message starts with a 32-bit type. */
struct message_macs {
	uint8_t mac1[COOKIE_LEN];
	uint8_t mac2[COOKIE_LEN];
};

struct message_handshake_initiation {
	uint8_t type[4];
	uint8_t sender_index[4];
	uint8_t unencrypted_ephemeral[NOISE_PUBLIC_KEY_LEN];
	uint8_t encrypted_static[noise_encrypted_len(NOISE_PUBLIC_KEY_LEN)];
	uint8_t encrypted_timestamp[noise_encrypted_len(NOISE_TIMESTAMP_LEN)];
	struct message_macs macs;
};

struct message_handshake_response {
	uint8_t type[4];
	uint8_t sender_index[4];
	uint8_t receiver_index[4];
	uint8_t unencrypted_ephemeral[NOISE_PUBLIC_KEY_LEN];
	uint8_t encrypted_nothing[noise_encrypted_len(0)];
	struct message_macs macs;
};

struct message_handshake_cookie {
	uint8_t type[4];
	uint8_t receiver_index[4];
	uint8_t nonce[COOKIE_NONCE_LEN];
	uint8_t encrypted_cookie[noise_encrypted_len(COOKIE_LEN)];
};

struct message_data_header {
	uint8_t type[4];
	uint8_t receiver_index[4];
	uint8_t counter[8];
};

enum message_sizes {
	MESSAGE_INITIATION_LEN = sizeof(struct message_handshake_initiation),
	MESSAGE_RESPONSE_LEN = sizeof(struct message_handshake_response),
	MESSAGE_COOKIE_LEN = sizeof(struct message_handshake_cookie),
	MESSAGE_DATA_HEADER_LEN = sizeof(struct message_data_header),
	MESSAGE_PADDING_MULTIPLE = 16,
	MESSAGE_MINIMUM_LEN = MESSAGE_DATA_HEADER_LEN + NOISE_AUTHTAG_LEN,
};

#define message_data_len(plain_len) (noise_encrypted_len(plain_len) + MESSAGE_DATA_HEADER_LEN)

/* braid_wire.h tells callers the same facts: one set of numbers. */
_Static_assert((int)MESSAGE_INITIATION_LEN == (int)BRAID_MESSAGE_INITIATION_LEN, "initiation is 148 bytes");
_Static_assert((int)MESSAGE_RESPONSE_LEN == (int)BRAID_MESSAGE_RESPONSE_LEN, "response is 92 bytes");
_Static_assert((int)MESSAGE_COOKIE_LEN == (int)BRAID_MESSAGE_COOKIE_REPLY_LEN, "cookie reply is 64 bytes");
_Static_assert((int)MESSAGE_DATA_HEADER_LEN == (int)BRAID_MESSAGE_DATA_HEADER_LEN, "data header is 16 bytes");
_Static_assert((int)MESSAGE_MINIMUM_LEN == (int)BRAID_MESSAGE_DATA_MIN_LEN, "a keepalive is 32 bytes");
_Static_assert((int)BRAID_DATA_OVERHEAD == (int)MESSAGE_MINIMUM_LEN, "braid.h's overhead is header + tag");
_Static_assert(BRAID_MAX_MESSAGE_LEN == message_data_len(65535 + MESSAGE_PADDING_MULTIPLE - 1),
	       "braid.h's largest message holds the largest inner packet, padded");

/*
 * Multipath: braid's own constants (path.h explains each rule). Starting
 * points from notes/multipath.md section 7, measured by bench/failover.sh.
 */
#define PATH_PROBE_INTERVAL_NS (1000 * NSEC_PER_MSEC)	/* idle probe per path, braid peers */
#define PATH_SUSPECT_MIN_NS (100 * NSEC_PER_MSEC)
#define PATH_SUSPECT_MAX_NS (1000 * NSEC_PER_MSEC)
#define PATH_SUSPECT_SLACK_NS (50 * NSEC_PER_MSEC)
#define PATH_SUSPECT_PROBE_NS (50 * NSEC_PER_MSEC)	/* probes of a suspect path, apart */
#define PATH_DOWN_MIN_NS (300 * NSEC_PER_MSEC)	/* after suspect, at least this long to down */
#define PATH_UP_DELAY_NS (2000 * NSEC_PER_MSEC)	/* healthy this long before carrying traffic */
#define PATH_HOLDDOWN_MIN_NS (2000 * NSEC_PER_MSEC)
#define PATH_HOLDDOWN_MAX_NS (60000 * NSEC_PER_MSEC)
#define PATH_FLAP_WINDOW_NS (60000 * NSEC_PER_MSEC)	/* a drop within this of a failback is a flap */
#define PATH_HELLO_RETRY_NS (1000 * NSEC_PER_MSEC)
#define PATH_LEARNED_LIVE_NS (3000 * NSEC_PER_MSEC)	/* a learned path silent this long is down */
#define PATH_STOCK_PROBE_NS (1000 * NSEC_PER_MSEC)	/* handshake probes of a stock peer's path */
#define PATH_STOCK_PROBE_MAX_NS (30000 * NSEC_PER_MSEC)	/* ... of one long down */
#define PATH_RX_GAP_MAX_NS (2000 * NSEC_PER_MSEC)	/* longer gaps count as this long */

/* Aggregation (path.h): the scheduler's and the rate estimate's constants. */
#define PATH_REPORT_INTERVAL_NS (100 * NSEC_PER_MSEC)	/* probes while data flows */
#define PATH_MARK_NS (5 * NSEC_PER_MSEC)	/* data paused this long: a keepalive by the other paths */
#define PATH_DATA_RECENT_NS (1000 * NSEC_PER_MSEC)	/* data this recent: "flows" */
#define PATH_OWD_WINDOW_NS (5000 * NSEC_PER_MSEC)	/* the minimum delay is over two of these */
#define PATH_QUEUE_DELAY_MIN_NS (5 * NSEC_PER_MSEC)	/* more is congestion, or a quarter of base */
#define PATH_QUEUE_MAX_NS (100 * NSEC_PER_MSEC)	/* a path this far behind takes nothing new */
#define PATH_REORDER_MIN_NS (5 * NSEC_PER_MSEC)
#define PATH_REORDER_MAX_NS (200 * NSEC_PER_MSEC)
#define PATH_REORDER_SLACK_NS (2 * NSEC_PER_MSEC)
#define PATH_EVEN_MIN_NS (1 * NSEC_PER_MSEC)	/* paths' delays closer than this are not evened */
#define PATH_RATE_INITIAL_BPS (8000000ULL)
#define PATH_RATE_MIN_BPS (64000ULL)

enum path_limits {
	PATH_BURST_BYTES = 16384,	/* a path keeps the data this long: GSO batches survive */
	PATH_SUSPECT_PROBES = 3,
	PATH_STOCK_PROBES_FAST = 30,	/* a stock peer's down path: initiations 1 s apart */
	PATH_HELLOS = 3,		/* HELLOs per session before the peer counts as stock */
	PATH_PROBE_REPLIES_PER_SECOND = 128,	/* 8 paths probed every 100 ms, and then some */
	PATH_PROBE_REPLY_BURST = 32,
};

/*
 * braid's control messages travel as the plaintext of transport data
 * messages. Their first byte's high nibble is 1, never an IP version, so a
 * stock WireGuard peer drops them (after the replay check: they are
 * authentic, and the kernel may move its endpoint to where one came from).
 */
enum control_values {
	CONTROL_TYPE_V1 = 0x11,
	CONTROL_PROBE = 1,		/* answer with a reply on the path it came by */
	CONTROL_REPLY = 2,
	CONTROL_FLAG_HELLO = 1 << 0,	/* "I am braid": ask in a probe, confirm in a reply */
	CONTROL_FLAG_EVENS = 1 << 1,	/* "I even out the delays of paths I reorder" (aggregate.c) */
};

struct message_control {
	uint8_t type;			/* CONTROL_TYPE_V1 */
	uint8_t kind;
	uint8_t flags;
	uint8_t mode;			/* the sender's enum braid_multipath */
	uint8_t seq[4];
	uint8_t sent_us[8];		/* the sender's clock */
	uint8_t echo_us[8];		/* reply: the probe's sent_us */
	uint8_t hold_us[4];		/* reply: how long the probe waited for it */
	/*
	 * Reply: the probe's arrival on the replier's clock less its sent_us,
	 * modulo 2^32: the clocks' offset is unknown, but the same on every
	 * path, so differences between paths and over time are one-way delays.
	 */
	uint8_t owd_us[4];
	uint8_t rx_bytes[8];		/* reply: bytes the replier received by this path */
	uint8_t reserved[8];
};

_Static_assert(sizeof(struct message_control) == 48, "a control message is three padding units");

/* Differentiated services code point for handshakes: AF41, as the kernel sends. */
enum { HANDSHAKE_DSCP = 0x88 };

#endif
