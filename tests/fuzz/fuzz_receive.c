// SPDX-License-Identifier: MIT
/*
 * libFuzzer target: everything braid_device_receive() can be handed, with
 * enough help that the fuzzer gets past the MACs and the AEAD.
 *
 * Each input builds two devices in this process, A (the initiator) and B
 * (the responder, which also knows a third peer C that has no device), with
 * fixed keys, a deterministic RNG and a fake clock, and completes a real
 * handshake between them. The rest of the input is a program:
 *
 *   RAW        any bytes, any length, to A or B from one of a few sources
 *   INITIATION 148 fuzz bytes (or a captured real initiation with byte
 *              patches) with a correct mac1, and mac2 when we hold a cookie,
 *              so Noise consumption runs
 *   RESPONSE   the same for 92-byte responses, optionally aimed at the
 *              receiver's pending handshake index
 *   COOKIE     a cookie reply sealed with the right key and AD
 *   DATA       a transport message sealed with the sender's real current
 *              keypair at a fuzz-chosen counter, around a fuzz-chosen inner
 *              packet, opened by braid_device_receive() or the split API
 *   SEND       an inner packet through braid_device_send()
 *   FORWARD    deliver what the devices sent each other: dropped,
 *              duplicated, corrupted (and re-MAC'd), or from a new address
 *   TIME       advance the clock and tick both devices
 *   CONTROL    under load (and triage first, as a daemon whose handshake backlog is
 *              loaded), handshakes, keepalives, key and peer changes, multipath
 *              modes, paths, link events and refused sources
 * DATA and SEND inner packets include braid's control messages (probes and
 * replies with any fields), which a multipath peer answers.
 *
 * Besides the sanitizers, the harness checks what the protocol promises:
 * every datagram sent has a valid type and length, handshake messages carry
 * the mac1 the spec defines for their receiver, a cookie reply to one of our
 * messages opens under the spec's key with our mac1 as AD, a transport
 * message sealed with a live keypair opens at the receiver, delivered
 * packets are whole IP packets whose source the sending peer may use,
 * braid_device_tick() never returns a deadline that is already due, and
 * braid_device_next_deadline() is never later than a peer's next timer.
 * A broken promise is an abort(), which libFuzzer reports as a crash.
 */
#include <arpa/inet.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "braid.h"
#include "crypto.h"
#include "messages.h"
#include "noise.h"
#include "peer.h"
#include "timers.h"
#include "transport.h"

#define SEC 1000000000ULL
#define MSEC 1000000ULL

enum {
	HOST_A,
	HOST_B,
	N_HOSTS,
	N_SOURCES = 4,
	OUTBOX_MAX = 32,
	DGRAM_KEEP = 2048,		/* bytes of a sent datagram kept for FORWARD */
	PKT_MAX = 4096,			/* largest inner packet the program builds */
	BUF_MAX = BRAID_MAX_MESSAGE_LEN + 64,
	MAX_OPS = 96,
	PATCHES_MAX = 4,
};

enum op {
	OP_RAW,
	OP_INITIATION,
	OP_RESPONSE,
	OP_COOKIE,
	OP_DATA,
	OP_SEND,
	OP_FORWARD,
	OP_TIME,
	OP_CONTROL,
	OP_COUNT
};

/* Fixed identities: fuzzing needs repeatable runs, not secret keys. */
static const char *const private_hex[3] = {
	"a8e3c3ef8d3ba1d4b7b65c09c11a1f1a0ed1cf8be0e6e2b0b1c0c4d83b0f8b60",
	"d0b5e6a2b5c7e9a60a6a1e7f6bcf14ce2f7e3c8a5d0b9e1f4a2c6d8e0b1a3f50",
	"f8a2c5e1d7b9036c4e8a1f2b5d7c9e0a3b6d8f1c4e7a0b2d5f8c1e4a7b0d3e68",
};

struct dgram {
	struct braid_endpoint to;
	bool is_reply;			/* sent with send_reply (a cookie reply) */
	size_t len;			/* the real length; data holds at most DGRAM_KEEP */
	uint8_t data[DGRAM_KEEP];
};

struct host {
	unsigned int id;
	struct braid_device *dev;
	struct braid_peer *peer;	/* the other host, as this device knows it */
	struct braid_peer *peer_c;	/* B only: a peer without a device */
	struct braid_endpoint addr;
	uint8_t private_key[BRAID_KEY_LEN], public_key[BRAID_KEY_LEN];
	uint8_t mac1_key[NOISE_SYMMETRIC_KEY_LEN];	/* HASH("mac1----" || our public key) */
	uint8_t cookie_key[NOISE_SYMMETRIC_KEY_LEN];	/* HASH("cookie--" || our public key) */
	uint64_t rng;
	bool triage;			/* as the daemon with a loaded backlog: triage first */

	struct dgram outbox[OUTBOX_MAX];
	unsigned int out_head, out_count;

	/* The last handshake messages this device sent, for COOKIE and patched replays. */
	uint8_t last_initiation[MESSAGE_INITIATION_LEN];
	uint8_t last_response[MESSAGE_RESPONSE_LEN];
	bool has_initiation, has_response;
	uint8_t last_mac1[COOKIE_LEN];
	uint32_t last_sender_index;
	bool has_mac1;

	/* A cookie reply sent during the current operation. */
	struct message_handshake_cookie reply;
	struct braid_endpoint reply_to;
	bool has_reply;

	/* Cookies this device handed to each source, for mac2. */
	uint8_t cookie[N_SOURCES][COOKIE_LEN];
	bool has_cookie[N_SOURCES];
};

struct world {
	struct host host[N_HOSTS];
	uint64_t now;
	uint64_t wall_base;
	uint8_t c_public[BRAID_KEY_LEN];
	struct braid_endpoint sources[N_HOSTS][N_SOURCES];
	uint8_t buf[BUF_MAX];
	uint8_t pkt[PKT_MAX];
};

static struct world *w;
/* Derived once: X25519 is most of what a run costs. */
static uint8_t private_keys[3][BRAID_KEY_LEN], public_keys[3][BRAID_KEY_LEN];

struct input {
	const uint8_t *p;
	size_t n;
};

static uint8_t in_u8(struct input *in)
{
	if (!in->n)
		return 0;
	--in->n;
	return *in->p++;
}

static uint16_t in_u16(struct input *in)
{
	return (uint16_t)(in_u8(in) | in_u8(in) << 8);
}

static uint32_t in_u32(struct input *in)
{
	return (uint32_t)in_u16(in) | (uint32_t)in_u16(in) << 16;
}

static uint64_t in_u64(struct input *in)
{
	return (uint64_t)in_u32(in) | (uint64_t)in_u32(in) << 32;
}

/* Copy up to len input bytes to dst, zero-filling the rest; returns how many came from input. */
static size_t in_bytes(struct input *in, uint8_t *dst, size_t len)
{
	size_t k = len < in->n ? len : in->n;

	memcpy(dst, in->p, k);
	memset(dst + k, 0, len - k);
	in->p += k;
	in->n -= k;
	return k;
}

static void check(bool ok, const char *what)
{
	if (!ok) {
		fprintf(stderr, "fuzz_receive: broken promise: %s\n", what);
		abort();
	}
}

/* ---- The devices' callbacks ---- */

static uint64_t splitmix64(uint64_t *state)
{
	uint64_t z = (*state += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static void cb_random(void *ctx, void *buf, size_t len)
{
	struct host *h = ctx;
	uint8_t *p = buf;

	while (len) {
		uint64_t r = splitmix64(&h->rng);
		size_t n = len < 8 ? len : 8;

		memcpy(p, &r, n);
		p += n;
		len -= n;
	}
}

static uint64_t cb_wall_clock(void *ctx)
{
	return w->wall_base + w->now;
}

static void cb_log(void *ctx, enum braid_log_level level, const char *msg)
{
	check(msg && strlen(msg) < 256, "log message is a short string");
}

static struct host *other(const struct host *h)
{
	return &w->host[h->id == HOST_A ? HOST_B : HOST_A];
}

static void outbox_push(struct host *h, const struct braid_endpoint *to, const uint8_t *buf,
			size_t len, bool is_reply)
{
	struct dgram *d;

	if (h->out_count == OUTBOX_MAX) {
		/* Full: the oldest is lost, as on a congested link. */
		h->out_head = (h->out_head + 1) % OUTBOX_MAX;
		--h->out_count;
	}
	d = &h->outbox[(h->out_head + h->out_count++) % OUTBOX_MAX];
	d->to = *to;
	d->is_reply = is_reply;
	d->len = len;
	memcpy(d->data, buf, len < DGRAM_KEEP ? len : DGRAM_KEEP);
}

/* mac1 = MAC(HASH("mac1----" || Spub_receiver), msg up to mac1), straight from the spec. */
static void spec_mac1(uint8_t mac1[COOKIE_LEN], const uint8_t *msg, size_t len,
		      const uint8_t receiver_public[BRAID_KEY_LEN])
{
	static const char label[] = "mac1----";
	uint8_t key[NOISE_HASH_LEN];

	crypto_hash(key, (const uint8_t *)label, 8, receiver_public, BRAID_KEY_LEN);
	crypto_mac(mac1, key, sizeof(key), msg, len - 2 * COOKIE_LEN);
}

static void cb_send(void *ctx, struct braid_peer *peer, const struct braid_endpoint *to,
		    const uint8_t *buf, size_t len, uint8_t tos)
{
	struct host *h = ctx;
	uint8_t mac1[COOKIE_LEN], their_public[BRAID_KEY_LEN];
	uint32_t type;

	check(len >= 4 && len <= BRAID_MAX_MESSAGE_LEN, "sent datagram length");
	check(peer != NULL, "send names its peer");
	check(to->addr.sa.sa_family == AF_INET || to->addr.sa.sa_family == AF_INET6,
	      "send has an endpoint");
	type = braid_get_le32(buf);
	switch (type) {
	case MESSAGE_HANDSHAKE_INITIATION:
	case MESSAGE_HANDSHAKE_RESPONSE:
		check(len == (type == MESSAGE_HANDSHAKE_INITIATION ? MESSAGE_INITIATION_LEN :
								     MESSAGE_RESPONSE_LEN),
		      "handshake message length");
		braid_peer_get_public_key(peer, their_public);
		spec_mac1(mac1, buf, len, their_public);
		check(!memcmp(mac1, buf + len - 2 * COOKIE_LEN, COOKIE_LEN),
		      "mac1 as the spec defines it");
		if (type == MESSAGE_HANDSHAKE_INITIATION) {
			memcpy(h->last_initiation, buf, len);
			h->has_initiation = true;
		} else {
			memcpy(h->last_response, buf, len);
			h->has_response = true;
		}
		memcpy(h->last_mac1, mac1, COOKIE_LEN);
		h->last_sender_index = braid_get_le32(buf + 4);
		h->has_mac1 = true;
		break;
	case MESSAGE_DATA:
		check(len >= MESSAGE_MINIMUM_LEN, "data message length");
		break;
	default:
		check(false, "send of a message type other than 1, 2 or 4");
	}
	outbox_push(h, to, buf, len, false);
}

static void cb_send_reply(void *ctx, const struct braid_endpoint *to, const uint8_t *buf,
			  size_t len)
{
	struct host *h = ctx;

	check(len == MESSAGE_COOKIE_LEN && braid_get_le32(buf) == MESSAGE_HANDSHAKE_COOKIE,
	      "send_reply sends only cookie replies");
	memcpy(&h->reply, buf, len);
	h->reply_to = *to;
	h->has_reply = true;
	outbox_push(h, to, buf, len, true);
}

/* The allowed IPs of each peer, as the harness configured them (see setup()). */
static bool peer_may_use(const struct host *h, const struct braid_peer *peer, const uint8_t *pkt)
{
	static const uint8_t net_a6[6] = { 0x20, 0x01, 0x0d, 0xb8, 0, 1 };
	static const uint8_t net_b6[6] = { 0x20, 0x01, 0x0d, 0xb8, 0, 2 };
	static const uint8_t net_c6[6] = { 0x20, 0x01, 0x0d, 0xb8, 0, 3 };
	const uint8_t *s4 = pkt + 12, *s6 = pkt + 8;
	bool v4 = pkt[0] >> 4 == 4;

	if (h->id == HOST_A) {
		/* A's peer B: 192.0.2.2/32 and 2001:db8:2::/48. */
		return v4 ? !memcmp(s4, "\xc0\x00\x02\x02", 4) : !memcmp(s6, net_b6, 6);
	}
	if (peer == h->peer_c)
		return v4 ? !memcmp(s4, "\xc0\x00\x02\x03", 4) : !memcmp(s6, net_c6, 6);
	/* B's peer A: 192.0.2.1/32, 10.0.0.0/8 and 2001:db8:1::/48. */
	return v4 ? !memcmp(s4, "\xc0\x00\x02\x01", 4) || s4[0] == 10 : !memcmp(s6, net_a6, 6);
}

static void cb_deliver(void *ctx, struct braid_peer *peer, uint8_t *pkt, size_t len)
{
	struct host *h = ctx;
	size_t ip_len;

	check(peer == h->peer || (h->peer_c && peer == h->peer_c), "delivered from a known peer");
	check(len >= 20, "delivered packet has an IP header");
	if (pkt[0] >> 4 == 4) {
		ip_len = (size_t)pkt[2] << 8 | pkt[3];
	} else {
		check(pkt[0] >> 4 == 6 && len >= 40, "delivered packet is IPv4 or IPv6");
		ip_len = ((size_t)pkt[4] << 8 | pkt[5]) + 40;
	}
	check(ip_len == len, "delivered length is the IP length");
	check(peer_may_use(h, peer, pkt), "delivered source is in the peer's allowed IPs");
}

static const struct braid_ops ops = {
	.send = cb_send,
	.send_reply = cb_send_reply,
	.deliver = cb_deliver,
	.random = cb_random,
	.wall_clock_ns = cb_wall_clock,
	.log = cb_log,
};

/* ---- Setup: two devices and a finished handshake ---- */

static void endpoint4(struct braid_endpoint *ep, uint32_t addr, uint16_t port)
{
	memset(ep, 0, sizeof(*ep));
	ep->addr.in4.sin_family = AF_INET;
	ep->addr.in4.sin_addr.s_addr = htonl(addr);
	ep->addr.in4.sin_port = htons(port);
}

static void endpoint6(struct braid_endpoint *ep, uint8_t last, uint16_t port)
{
	memset(ep, 0, sizeof(*ep));
	ep->addr.in6.sin6_family = AF_INET6;
	inet_pton(AF_INET6, "2001:db8::", &ep->addr.in6.sin6_addr);
	ep->addr.in6.sin6_addr.s6_addr[15] = last;
	ep->addr.in6.sin6_port = htons(port);
}

static void add_aip4(struct braid_peer *peer, uint32_t addr, uint8_t cidr)
{
	uint32_t a = htonl(addr);

	check(!braid_peer_add_allowed_ip(peer, AF_INET, &a, cidr), "adding an IPv4 prefix");
}

static void add_aip6(struct braid_peer *peer, uint8_t net, uint8_t cidr)
{
	uint8_t a[16] = { 0x20, 0x01, 0x0d, 0xb8, 0, net };

	check(!braid_peer_add_allowed_ip(peer, AF_INET6, a, cidr), "adding an IPv6 prefix");
}

static struct braid_peer *add_peer(struct host *h, const uint8_t *public_key, bool with_endpoint)
{
	struct braid_peer *peer = braid_peer_new(h->dev, public_key);

	check(peer != NULL, "creating a peer");
	if (public_key == w->c_public) {
		add_aip4(peer, 0xc0000203, 32);
		add_aip6(peer, 3, 48);
	} else if (h->id == HOST_A) {
		add_aip4(peer, 0xc0000202, 32);
		add_aip6(peer, 2, 48);
	} else {
		add_aip4(peer, 0xc0000201, 32);
		add_aip4(peer, 0x0a000000, 8);
		add_aip6(peer, 1, 48);
	}
	if (with_endpoint)
		braid_peer_set_endpoint(peer, &other(h)->addr);
	return peer;
}

static void deliver_one(struct host *to, const struct braid_endpoint *from, const uint8_t *msg,
			size_t len)
{
	memcpy(w->buf, msg, len);
	braid_device_receive(to->dev, w->now, from, w->buf, len);
}

/* Move everything both devices sent, until they are quiet (setup only). */
static void flush_all(void)
{
	bool again = true;
	unsigned int i, guard = 0;

	while (again && guard++ < 64) {
		again = false;
		for (i = 0; i < N_HOSTS; ++i) {
			struct host *h = &w->host[i];

			while (h->out_count) {
				struct dgram *d = &h->outbox[h->out_head];

				h->out_head = (h->out_head + 1) % OUTBOX_MAX;
				--h->out_count;
				again = true;
				if (d->len <= DGRAM_KEEP)
					deliver_one(other(h), &h->addr, d->data, d->len);
			}
		}
	}
}

static void setup(uint8_t flags)
{
	static const struct braid_device_config config = { .data_threads = 1,
							     .ratelimiter_entries = 16 };
	unsigned int i;

	memset(w, 0, sizeof(*w));
	w->wall_base = 1700000000ULL * SEC;
	w->now = 3 * SEC;
	memcpy(w->c_public, public_keys[2], BRAID_KEY_LEN);
	for (i = 0; i < N_HOSTS; ++i) {
		struct host *h = &w->host[i];
		static const char mac1_label[] = "mac1----", cookie_label[] = "cookie--";

		h->id = i;
		h->rng = 0x5eed0000 + i * 7919 + (flags >> 4);
		h->dev = braid_device_new(&config, &ops, h);
		check(h->dev != NULL, "creating a device");
		memcpy(h->private_key, private_keys[i], BRAID_KEY_LEN);
		memcpy(h->public_key, public_keys[i], BRAID_KEY_LEN);
		braid_device_set_private_key(h->dev, h->private_key);
		crypto_hash(h->mac1_key, (const uint8_t *)mac1_label, 8, h->public_key,
			    BRAID_KEY_LEN);
		crypto_hash(h->cookie_key, (const uint8_t *)cookie_label, 8, h->public_key,
			    BRAID_KEY_LEN);
		endpoint4(&h->addr, 0xc6336401 + i, 51820);	/* 198.51.100.1 and .2 */
		if (flags & 2)
			braid_device_set_mtu(h->dev, 1280);
		/* Where fuzzed datagrams may come from: the real peer, and strangers. */
		endpoint4(&w->sources[i][1], 0xcb007107, 1234);	/* 203.0.113.7 */
		endpoint6(&w->sources[i][2], 7, 51820);
		endpoint6(&w->sources[i][3], 7, 4321);		/* same /64, other port */
	}
	for (i = 0; i < N_HOSTS; ++i)
		w->sources[i][0] = other(&w->host[i])->addr;

	w->host[HOST_A].peer = add_peer(&w->host[HOST_A], w->host[HOST_B].public_key, true);
	w->host[HOST_B].peer = add_peer(&w->host[HOST_B], w->host[HOST_A].public_key, !(flags & 4));
	w->host[HOST_B].peer_c = add_peer(&w->host[HOST_B], w->c_public, false);
	if (flags & 1) {
		uint8_t psk[BRAID_KEY_LEN];

		memset(psk, 0x5a, sizeof(psk));
		braid_peer_set_preshared_key(w->host[HOST_A].peer, psk);
		braid_peer_set_preshared_key(w->host[HOST_B].peer, psk);
	}

	/* The real handshake: initiation, response, and A's keepalive confirming it. */
	braid_peer_initiate_handshake(w->host[HOST_A].peer, w->now);
	flush_all();
	check(w->host[HOST_A].peer->keypairs.current != NULL, "initiator has a session");
	check(w->host[HOST_B].peer->keypairs.current != NULL, "responder has a session");
}

static void teardown(void)
{
	unsigned int i;

	for (i = 0; i < N_HOSTS; ++i)
		braid_device_free(w->host[i].dev);
}

/* ---- Operations ---- */

static struct host *pick_host(struct input *in)
{
	return &w->host[in_u8(in) & 1];
}

static const struct braid_endpoint *pick_source(struct host *to, uint8_t sel, unsigned int *idx)
{
	*idx = sel % N_SOURCES;
	return &w->sources[to->id][*idx];
}

static void receive(struct host *to, const struct braid_endpoint *from, size_t len)
{
	enum braid_drop why;

	if (to->triage) {
		why = braid_device_triage_handshake(to->dev, w->now, from, w->buf, len);
		check((unsigned int)why < BRAID_DROP_MAX, "triage returns a drop reason");
		if (why != BRAID_OK)
			return;
	}
	why = braid_device_receive(to->dev, w->now, from, w->buf, len);

	check((unsigned int)why < BRAID_DROP_MAX, "receive returns a drop reason");
}

static void op_raw(struct input *in)
{
	struct host *to = pick_host(in);
	uint8_t ctl = in_u8(in);
	unsigned int src;
	const struct braid_endpoint *from = pick_source(to, ctl, &src);
	size_t len = in_u16(in);

	/* Mostly datagrams the input holds; sometimes oversized ones, zero-filled. */
	if (ctl & 0x80)
		len = len % 4 + (ctl & 0x40 ? BRAID_MAX_MESSAGE_LEN : 148);
	else
		len %= PKT_MAX;
	in_bytes(in, w->buf, len);
	/* A valid type, so the length checks run. */
	if (ctl & 0x20 && len >= 4)
		braid_put_le32(w->buf, 1 + (ctl >> 2 & 3));
	receive(to, from, len);
}

/* Add mac1 (and mac2 when a cookie is held for this source) to a handshake message. */
static void add_macs(struct host *to, uint8_t *msg, size_t len, unsigned int src, bool want_mac2)
{
	struct message_macs *macs = (struct message_macs *)(msg + len - sizeof(*macs));

	crypto_mac(macs->mac1, to->mac1_key, sizeof(to->mac1_key), msg, len - sizeof(*macs));
	if (want_mac2 && to->has_cookie[src])
		crypto_mac(macs->mac2, to->cookie[src], COOKIE_LEN, msg, len - COOKIE_LEN);
}

/*
 * After a handshake message we sent: a cookie reply must name our sender
 * index and open under HASH("cookie--" || Spub_receiver) with our mac1 as AD.
 */
static void learn_cookie(struct host *to, const uint8_t *msg, size_t len, unsigned int src)
{
	const struct message_macs *macs = (const struct message_macs *)(msg + len - sizeof(*macs));
	uint8_t cookie[COOKIE_LEN];

	if (!to->has_reply)
		return;
	check(!memcmp(to->reply.receiver_index, msg + 4, 4),
	      "cookie reply names the message's sender index");
	check(!memcmp(&to->reply_to, &w->sources[to->id][src], sizeof(to->reply_to)),
	      "cookie reply goes to the message's source");
	check(crypto_xaead_open(cookie, to->reply.encrypted_cookie,
				sizeof(to->reply.encrypted_cookie), macs->mac1, COOKIE_LEN,
				to->reply.nonce, to->cookie_key),
	      "cookie reply opens under the spec's key with our mac1 as AD");
	memcpy(to->cookie[src], cookie, COOKIE_LEN);
	to->has_cookie[src] = true;
}

/* A handshake message: fuzz bytes or a real captured one with patches, then valid MACs. */
static void op_handshake(struct input *in, uint32_t type)
{
	struct host *to = pick_host(in), *from_host = other(to);
	uint8_t ctl = in_u8(in), msg[MESSAGE_INITIATION_LEN];
	size_t len = type == MESSAGE_HANDSHAKE_INITIATION ? MESSAGE_INITIATION_LEN :
							     MESSAGE_RESPONSE_LEN;
	const uint8_t *captured = type == MESSAGE_HANDSHAKE_INITIATION ?
				  (from_host->has_initiation ? from_host->last_initiation : NULL) :
				  (from_host->has_response ? from_host->last_response : NULL);
	unsigned int src, i, patches;
	const struct braid_endpoint *from = pick_source(to, ctl >> 4, &src);

	if (ctl & 1 && captured) {
		memcpy(msg, captured, len);
		patches = in_u8(in) % (PATCHES_MAX + 1);
		for (i = 0; i < patches; ++i) {
			size_t pos = 4 + in_u8(in) % (len - 4 - sizeof(struct message_macs));

			msg[pos] ^= in_u8(in);
		}
	} else {
		in_bytes(in, msg + 4, len - 4 - sizeof(struct message_macs));
		memset(msg + len - sizeof(struct message_macs), 0, sizeof(struct message_macs));
	}
	braid_put_le32(msg, type);
	/* A response aimed at the handshake the receiver has pending. */
	if (type == MESSAGE_HANDSHAKE_RESPONSE && ctl & 2 && to->has_initiation)
		memcpy(msg + 8, to->last_initiation + 4, 4);
	add_macs(to, msg, len, src, ctl & 4);
	to->has_reply = false;
	memcpy(w->buf, msg, len);
	receive(to, from, len);
	learn_cookie(to, msg, len, src);
}

/* A cookie reply for the last handshake message the receiver sent, sealed as the spec says. */
static void op_cookie(struct input *in)
{
	struct host *to = pick_host(in);
	uint8_t ctl = in_u8(in), cookie[COOKIE_LEN], ad[COOKIE_LEN], key[NOISE_HASH_LEN];
	struct message_handshake_cookie reply;
	static const char label[] = "cookie--";
	unsigned int src;
	const struct braid_endpoint *from = pick_source(to, ctl >> 4, &src);

	braid_put_le32(reply.type, MESSAGE_HANDSHAKE_COOKIE);
	if (ctl & 1 && to->has_mac1)
		braid_put_le32(reply.receiver_index, to->last_sender_index);
	else
		braid_put_le32(reply.receiver_index, in_u32(in));
	in_bytes(in, reply.nonce, sizeof(reply.nonce));
	in_bytes(in, cookie, sizeof(cookie));
	if (ctl & 2 && to->has_mac1)
		memcpy(ad, to->last_mac1, COOKIE_LEN);
	else
		in_bytes(in, ad, sizeof(ad));
	/* The key is the one the replying side derives from its own public key. */
	crypto_hash(key, (const uint8_t *)label, 8,
		    ctl & 4 ? w->c_public : other(to)->public_key, BRAID_KEY_LEN);
	crypto_xaead_seal(reply.encrypted_cookie, cookie, COOKIE_LEN, ad, COOKIE_LEN, reply.nonce,
			  key);
	memcpy(w->buf, &reply, sizeof(reply));
	receive(to, from, sizeof(reply));
}

static void put_be16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

/*
 * An inner packet from host s: raw bytes, or an IPv4/IPv6 header with a
 * chosen source (s's own, another allowed one, C's, or any) and consistent
 * lengths unless told otherwise. Returns its length.
 */
static size_t build_inner(struct input *in, const struct host *s, uint8_t *pkt)
{
	uint8_t ctl = in_u8(in), who = ctl >> 2 & 3;
	size_t len, plen;

	switch (ctl & 3) {
	case 0:
		len = in_u16(in) % PKT_MAX;
		in_bytes(in, pkt, len);
		return len;
	case 1:
		plen = in_u16(in) % 1400;
		len = 20 + plen;
		memset(pkt, 0, 20);
		pkt[0] = 0x45;
		put_be16(pkt + 2, (uint16_t)len);
		pkt[8] = 64;
		pkt[9] = in_u8(in);
		if (who == 3)
			in_bytes(in, pkt + 12, 4);
		else
			braid_put_be32(pkt + 12, who == 0 ? 0xc0000201 + s->id :
					   who == 1 ? 0x0a000000 | in_u8(in) : 0xc0000203);
		braid_put_be32(pkt + 16, 0xc0000201 + other(s)->id);
		if (ctl & 0x10)
			in_bytes(in, pkt, 4);	/* version, IHL, TOS, total length as fuzzed */
		in_bytes(in, pkt + 20, plen);
		return len;
	case 2: {
		static const uint8_t net[4] = { 0x20, 0x01, 0x0d, 0xb8 };

		plen = in_u16(in) % 1400;
		len = 40 + plen;
		memset(pkt, 0, 40);
		pkt[0] = 0x60;
		put_be16(pkt + 4, (uint16_t)plen);
		pkt[6] = in_u8(in);
		pkt[7] = 64;
		memcpy(pkt + 8, net, 4);
		memcpy(pkt + 24, net, 4);
		pkt[13] = who == 3 ? in_u8(in) : who == 0 ? 1 + s->id : who == 1 ? 1 : 3;
		pkt[23] = in_u8(in);
		pkt[29] = 1 + other(s)->id;
		pkt[39] = 1;
		if (ctl & 0x10)
			in_bytes(in, pkt, 6);
		in_bytes(in, pkt + 40, plen);
		return len;
	}
	default:
		if (!(ctl & 0x10))
			return 0;	/* a keepalive */
		/* A braid control message: probe or reply, any flags, mode, times. */
		len = sizeof(struct message_control) + (ctl & 0x20 ? in_u8(in) % 16 : 0);
		in_bytes(in, pkt, len);
		pkt[0] = CONTROL_TYPE_V1;
		if (!(ctl & 0x40))
			pkt[1] = 1 + (pkt[1] & 1);
		if (!(ctl & 0x80))
			pkt[3] &= 3;
		return len;
	}
}

/* The sender's next counter: as it is, a replay, a jump ahead, or any value at all. */
static void steer_counter(struct input *in, struct braid_keypair *kp, uint8_t how)
{
	uint64_t c = atomic_load(&kp->sending_counter), d;

	switch (how & 3) {
	case 0:
		return;
	case 1:
		d = in_u8(in) % 64 + 1;
		c -= c < d ? c : d;
		break;
	case 2:
		c += in_u16(in);
		break;
	case 3:
		c = in_u64(in);
		break;
	}
	atomic_store(&kp->sending_counter, c);
}

static void op_data(struct input *in)
{
	struct host *s = pick_host(in), *r = other(s);
	uint8_t ctl = in_u8(in);
	struct braid_keypair *kp, *rkp;
	unsigned int slot = ctl >> 2 & 1, src;
	const struct braid_endpoint *from = pick_source(r, ctl >> 4, &src);
	size_t len = build_inner(in, s, w->pkt), mlen, inner_len;
	uint64_t nonce, opened_nonce;
	enum braid_drop why;

	if (s->peer->keypairs.current)
		steer_counter(in, s->peer->keypairs.current, ctl);
	kp = transport_send_begin(s->peer, w->now, 1, &nonce);
	if (!kp)
		return;
	mlen = braid_keypair_seal(kp, slot, nonce, w->buf, w->pkt, len, 1420);
	braid_keypair_put(kp);
	check(mlen == braid_message_len(len, 1420) && mlen <= BRAID_MAX_MESSAGE_LEN,
	      "sealed length");
	if (!(ctl & 0x08)) {
		receive(r, from, mlen);
		return;
	}
	/* The split data path a multi-threaded caller uses. */
	rkp = transport_data_keypair(r->dev, w->now, w->buf, mlen, &why);
	if (!rkp)
		return;
	check(braid_keypair_peer(rkp) == r->peer, "the keypair belongs to the sender's peer");
	check(braid_keypair_open(rkp, slot, w->buf, mlen, &opened_nonce, &inner_len),
	      "a message sealed with a live keypair opens");
	check(opened_nonce == nonce, "the counter survives");
	check(inner_len >= len && !memcmp(w->buf + MESSAGE_DATA_HEADER_LEN, w->pkt, len),
	      "the inner packet survives");
	transport_data_done(r->dev, w->now, rkp, from, opened_nonce,
			       w->buf + MESSAGE_DATA_HEADER_LEN, inner_len);
	braid_keypair_put(rkp);
}

static void op_send(struct input *in)
{
	struct host *s = pick_host(in);
	uint8_t *pkts[1] = { w->pkt };
	size_t len = build_inner(in, s, w->pkt);

	check(braid_device_send(s->dev, w->now, pkts, &len, 1) <= 1, "send drops at most all");
}

static void re_mac(struct host *to, uint8_t *msg, size_t len, unsigned int src, bool want_mac2)
{
	uint32_t type = braid_get_le32(msg);

	if ((type == MESSAGE_HANDSHAKE_INITIATION && len == MESSAGE_INITIATION_LEN) ||
	    (type == MESSAGE_HANDSHAKE_RESPONSE && len == MESSAGE_RESPONSE_LEN))
		add_macs(to, msg, len, src, want_mac2);
}

/* Deliver what one device sent to the other: in order, lost, twice, corrupted or roamed. */
static void op_forward(struct input *in)
{
	struct host *from_host = pick_host(in), *to = other(from_host);
	unsigned int n = in_u8(in) % 8 + 1, src, copies;
	static struct dgram d;

	while (n-- && from_host->out_count) {
		uint8_t ctl = in_u8(in);
		const struct braid_endpoint *from = pick_source(to, ctl >> 5, &src);

		d = from_host->outbox[from_host->out_head];
		from_host->out_head = (from_host->out_head + 1) % OUTBOX_MAX;
		--from_host->out_count;
		if (ctl & 1 || d.len > DGRAM_KEEP)
			continue;	/* lost */
		/* Unless it arrives from elsewhere: roaming. */
		if (!(ctl & 0x10))
			from = &from_host->addr;
		if (ctl & 4 && d.len) {
			uint16_t pos = in_u16(in);

			d.data[pos % d.len] ^= in_u8(in) | 1;
		}
		if (ctl & 8)
			re_mac(to, d.data, d.len, src, true);
		for (copies = ctl & 2 ? 2 : 1; copies; --copies) {
			memcpy(w->buf, d.data, d.len);
			receive(to, from, d.len);
		}
	}
}

static void tick_all(void)
{
	unsigned int i;

	for (i = 0; i < N_HOSTS; ++i) {
		uint64_t next = braid_device_tick(w->host[i].dev, w->now);

		check(next > w->now, "tick leaves no timer due");
	}
}

/* braid_device_next_deadline() may be early, never late: no peer's timer comes before it. */
static void check_deadlines(void)
{
	const struct braid_peer *peer;
	unsigned int i;

	for (i = 0; i < N_HOSTS; ++i) {
		uint64_t next = braid_device_next_deadline(w->host[i].dev);

		for (peer = NULL; (peer = braid_device_next_peer(w->host[i].dev, peer));)
			check(timers_next_deadline(peer) >= next, "next_deadline is never late");
	}
}

static void op_time(struct input *in)
{
	uint8_t ctl = in_u8(in);
	uint64_t next, d;
	unsigned int i;

	switch (ctl & 3) {
	case 0:
		w->now += (uint64_t)(ctl >> 2) * 10 * MSEC;
		break;
	case 1:
		w->now += (uint64_t)in_u8(in) * 100 * MSEC;
		break;
	case 2:
		w->now += (uint64_t)in_u8(in) * 4 * SEC;
		break;
	case 3:
		/* Straight to the next deadline, where the timer handlers run. */
		next = BRAID_NEVER;
		for (i = 0; i < N_HOSTS; ++i) {
			d = braid_device_next_deadline(w->host[i].dev);
			if (d < next)
				next = d;
		}
		if (next != BRAID_NEVER && next > w->now)
			w->now = next;
		break;
	}
	tick_all();
}

static void op_control(struct input *in)
{
	struct host *h = pick_host(in);
	uint8_t ctl = in_u8(in), key[BRAID_KEY_LEN];
	struct braid_endpoint ep;

	switch (ctl % 12) {
	case 0:
		braid_device_set_under_load(h->dev, w->now);
		if (ctl & 8)
			h->triage = !h->triage;
		break;
	case 1:
		braid_peer_initiate_handshake(h->peer, w->now);
		break;
	case 2:
		braid_peer_set_persistent_keepalive(h->peer, w->now, in_u8(in) % 30);
		break;
	case 3:
		/* Both sides agree on a new preshared key, or drop it. */
		memset(key, ctl >> 3, sizeof(key));
		braid_peer_set_preshared_key(h->peer, ctl >> 3 ? key : NULL);
		braid_peer_set_preshared_key(other(h)->peer, ctl >> 3 ? key : NULL);
		break;
	case 4:
		/* Same key again: sessions stay. Zero then back: every session goes. */
		if (ctl & 8)
			braid_device_set_private_key(h->dev, NULL);
		braid_device_set_private_key(h->dev, h->private_key);
		break;
	case 5:
		/* The peer is removed and configured again from scratch. */
		braid_peer_free(h->peer);
		h->peer = add_peer(h, other(h)->public_key, ctl & 8);
		break;
	case 6:
		memset(&ep, 0, sizeof(ep));
		if (ctl & 8)
			ep = w->sources[h->id][in_u8(in) % N_SOURCES];
		braid_peer_set_endpoint(h->peer, &ep);
		break;
	case 7:
		braid_device_set_mtu(h->dev, ctl & 8 ? 1420 : 576 + in_u8(in));
		break;
	case 8:
		/* Any mode, an invalid one too. */
		braid_peer_set_multipath(h->peer, w->now, (enum braid_multipath)(ctl >> 4) % 6);
		break;
	case 9: {
		/* Up to three uplinks, to the peer's endpoint or to one of the sources. */
		struct braid_path_config paths[3];
		unsigned int n = (ctl >> 4) % 4;

		memset(paths, 0, sizeof(paths));
		for (unsigned int i = 0; i < n; i++) {
			uint8_t c = in_u8(in);

			if (c & 1)
				paths[i].endpoint = w->sources[h->id][c >> 1 & 3];
			paths[i].endpoint.src_ifindex = c >> 3 & 3;
			paths[i].prio = c >> 5;
			paths[i].is_usable = c & 0x80;
		}
		braid_peer_set_paths(h->peer, w->now, paths, n);
		break;
	}
	case 10:
		braid_device_set_link(h->dev, w->now, (ctl >> 4) & 3, ctl & 0x40);
		break;
	case 11:
		braid_peer_source_refused(h->peer, &w->sources[h->id][(ctl >> 4) % N_SOURCES]);
		break;
	}
}

int LLVMFuzzerInitialize(int *argc, char ***argv);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	unsigned int i;

	if (!braid_init())
		abort();
	for (i = 0; i < 3; ++i) {
		if (!braid_key_from_hex(private_keys[i], private_hex[i]))
			abort();
		braid_public_key(public_keys[i], private_keys[i]);
	}
	w = calloc(1, sizeof(*w));
	if (!w)
		abort();
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct input in = { data, size };
	unsigned int n_ops = 0;

	setup(in_u8(&in));
	while (in.n && n_ops++ < MAX_OPS) {
		switch (in_u8(&in) % OP_COUNT) {
		case OP_RAW: op_raw(&in); break;
		case OP_INITIATION: op_handshake(&in, MESSAGE_HANDSHAKE_INITIATION); break;
		case OP_RESPONSE: op_handshake(&in, MESSAGE_HANDSHAKE_RESPONSE); break;
		case OP_COOKIE: op_cookie(&in); break;
		case OP_DATA: op_data(&in); break;
		case OP_SEND: op_send(&in); break;
		case OP_FORWARD: op_forward(&in); break;
		case OP_TIME: op_time(&in); break;
		case OP_CONTROL: op_control(&in); break;
		}
		check_deadlines();
	}
	teardown();
	return 0;
}
