// SPDX-License-Identifier: MIT
/*
 * Transport data messages.
 *
 * Outbound: route by destination through the allowed-IPs trie, reserve a
 * nonce on the current keypair, pad to a multiple of 16 (never past the
 * MTU), seal. Without a usable keypair the packet is staged and a
 * handshake starts.
 * Inbound: the receiver index finds the keypair, which must be valid and
 * young enough; open; the replay window must accept the counter; only then
 * may the packet move the endpoint (roaming) and confirm a new session;
 * finally the inner source address must be one the peer is allowed to use.
 */
#include <assert.h>
#include <string.h>

#include "aggregate.h"
#include "device.h"
#include "path.h"
#include "probe.h"
#include "peer.h"
#include "timers.h"
#include "transport.h"

enum { ECN_MASK = 3, ECN_ECT_0 = 2, ECN_CE = 3 };

uint8_t transport_outer_tos(const uint8_t *pkt, size_t len)
{
	uint8_t inner;

	if (len >= BRAID_IPV4_HEADER_LEN && pkt[0] >> 4 == 4)
		inner = pkt[BRAID_IPV4_TOS_OFF];
	else if (len >= BRAID_IPV6_HEADER_LEN && pkt[0] >> 4 == 6)
		inner = (uint8_t)(pkt[0] << 4 | pkt[1] >> 4);	/* the traffic class straddles them */
	else
		return 0;
	inner &= ECN_MASK;
	return inner == ECN_CE ? ECN_ECT_0 : inner;
}

static size_t padded_len(size_t len, unsigned int mtu)
{
	size_t last_unit = len, padded;

	if (!mtu)
		return (len + MESSAGE_PADDING_MULTIPLE - 1) & ~(size_t)(MESSAGE_PADDING_MULTIPLE - 1);
	/* A packet over the MTU (should not happen) pads like its remainder. */
	if (last_unit > mtu)
		last_unit %= mtu;
	padded = (last_unit + MESSAGE_PADDING_MULTIPLE - 1) &
		 ~(size_t)(MESSAGE_PADDING_MULTIPLE - 1);
	if (padded > mtu)
		padded = mtu;
	return len + (padded - last_unit);
}

size_t braid_message_len(size_t len, unsigned int mtu)
{
	return message_data_len(padded_len(len, mtu));
}

size_t braid_keypair_seal(struct braid_keypair *kp, unsigned int slot, uint64_t nonce,
			  uint8_t *out, const uint8_t *pkt, size_t len, unsigned int mtu)
{
	struct message_data_header *hdr = (struct message_data_header *)out;
	size_t plen = padded_len(len, mtu);

	assert(slot < kp->slots);
	braid_put_le32(hdr->type, MESSAGE_DATA);
	braid_put_le32(hdr->receiver_index, kp->remote_index);
	braid_put_le64(hdr->counter, nonce);
	memcpy(out + MESSAGE_DATA_HEADER_LEN, pkt, len);
	memset(out + MESSAGE_DATA_HEADER_LEN + len, 0, plen - len);
	crypto_aead_ctx_seal(kp->ctx[slot], out + MESSAGE_DATA_HEADER_LEN,
			     out + MESSAGE_DATA_HEADER_LEN, plen, nonce);
	return message_data_len(plen);
}

bool braid_keypair_open(struct braid_keypair *kp, unsigned int slot, uint8_t *msg, size_t len,
			uint64_t *nonce, size_t *inner_len)
{
	const struct message_data_header *hdr = (const struct message_data_header *)msg;

	assert(slot < kp->slots);
	if (len < MESSAGE_MINIMUM_LEN)
		return false;
	*nonce = braid_get_le64(hdr->counter);
	if (!crypto_aead_ctx_open(kp->ctx[kp->slots + slot], msg + MESSAGE_DATA_HEADER_LEN,
				  msg + MESSAGE_DATA_HEADER_LEN, len - MESSAGE_DATA_HEADER_LEN,
				  *nonce))
		return false;
	*inner_len = len - MESSAGE_MINIMUM_LEN;
	return true;
}

struct braid_peer *braid_keypair_peer(const struct braid_keypair *kp)
{
	return kp->peer;
}

static void invalidate_sending(struct braid_keypair *kp)
{
	atomic_store(&kp->sending_is_valid, false);
}

struct braid_keypair *transport_send_begin(struct braid_peer *peer, uint64_t now, size_t n,
					   uint64_t *first_nonce)
{
	struct braid_keypair *kp = peer->keypairs.current;
	uint64_t nonce;

	if (!kp || !atomic_load(&kp->sending_is_valid))
		return NULL;
	if (has_expired(kp->birthdate, REJECT_AFTER_TIME * PROTOCOL_SEC, now)) {
		invalidate_sending(kp);
		return NULL;
	}
	nonce = atomic_fetch_add(&kp->sending_counter, n);
	/* Every nonce handed out must stay below REJECT_AFTER_MESSAGES. */
	if (nonce >= REJECT_AFTER_MESSAGES || n > REJECT_AFTER_MESSAGES - nonce) {
		invalidate_sending(kp);
		return NULL;
	}
	*first_nonce = nonce;
	return noise_keypair_get(kp);
}

/*
 * The one place the data-sent hooks run, as the kernel's
 * wg_packet_create_data_done: whoever sealed and sent, this follows.
 */
void transport_data_sent(struct braid_peer *peer, uint64_t now, size_t n_data, size_t bytes)
{
	peer->tx_bytes += bytes;
	timers_any_authenticated_packet_traversal(peer, now);
	timers_any_authenticated_packet_sent(peer);
	if (n_data)
		timers_data_sent(peer, now);
	peer_keep_key_fresh_send(peer, now);
}

/* The destination (dst) or source address of an IPv4 or IPv6 packet. */
static const uint8_t *ip_address(const uint8_t *pkt, size_t len, bool dst, int *family)
{
	if (len >= BRAID_IPV4_HEADER_LEN && pkt[0] >> 4 == 4) {
		*family = AF_INET;
		return pkt + (dst ? BRAID_IPV4_DST_OFF : BRAID_IPV4_SRC_OFF);
	}
	if (len >= BRAID_IPV6_HEADER_LEN && pkt[0] >> 4 == 6) {
		*family = AF_INET6;
		return pkt + (dst ? BRAID_IPV6_DST_OFF : BRAID_IPV6_SRC_OFF);
	}
	return NULL;
}

struct braid_peer *transport_route(struct braid_device *dev, const uint8_t *pkt, size_t len)
{
	int family;
	const uint8_t *addr = ip_address(pkt, len, true, &family);

	return addr ? allowedips_lookup(&dev->allowedips, family, addr) : NULL;
}

/*
 * The control-plane half of sending one packet: a keypair and a nonce when
 * it can go now (*kp set), else staged behind the peer's waiting packets.
 */
static enum braid_drop send_prepare_one(struct braid_device *dev, uint64_t now,
					const uint8_t *pkt, size_t len, struct braid_peer **peerp,
					struct path_choice *choice, struct braid_keypair **kp,
					uint64_t *nonce)
{
	struct braid_peer *peer;

	*kp = NULL;
	if (!dev->has_identity)
		return BRAID_DROP_NO_KEY;
	peer = transport_route(dev, pkt, len);
	if (!peer)
		return BRAID_DROP_NO_ROUTE;
	if (!path_choose(peer, now, PATH_MSG_DATA, pkt, braid_message_len(len, dev->mtu), choice))
		return BRAID_DROP_NO_ENDPOINT;
	*peerp = peer;
	/* Nothing may overtake packets already waiting for a session. */
	if (!peer->staged.count && (*kp = transport_send_begin(peer, now, 1, nonce)))
		return BRAID_OK;
	return peer_stage_packet(peer, now, pkt, len);
}

size_t braid_device_send_prepare(struct braid_device *dev, uint64_t now, uint8_t *const pkts[],
				 const size_t lens[], size_t n, struct braid_send_job jobs[])
{
	struct braid_peer *peer = NULL;
	struct path_choice choice;
	enum braid_drop why;
	size_t i, ready = 0;

	for (i = 0; i < n; ++i) {
		memset(&jobs[i], 0, sizeof(jobs[i]));
		why = send_prepare_one(dev, now, pkts[i], lens[i], &peer, &choice, &jobs[i].kp,
				       &jobs[i].nonce);
		if (why != BRAID_OK) {
			device_drop(dev, why);
			continue;
		}
		if (!jobs[i].kp)
			continue;
		jobs[i].to = *path_endpoint(peer, choice.first);
		jobs[i].path = choice.first;
		jobs[i].also = choice.also;
		jobs[i].tos = transport_outer_tos(pkts[i], lens[i]);
		++ready;
	}
	return ready;
}

void braid_device_send_finish(struct braid_device *dev, uint64_t now,
			      struct braid_send_job jobs[], size_t n)
{
	struct braid_peer *peer;
	struct path_choice choice;
	size_t i;

	for (i = 0; i < n; ++i) {
		if (!jobs[i].kp)
			continue;
		peer = jobs[i].kp->peer;
		choice = (struct path_choice){ .first = jobs[i].path, .also = jobs[i].also };
		if (!peer->is_dead && jobs[i].sealed_len)
			path_sent(peer, now, &choice, jobs[i].sealed_len, PATH_SENT_DATA);
		if (!peer->is_dead)
			transport_data_sent(peer, now, 1, jobs[i].sealed_len *
					    (1 + __builtin_popcount(jobs[i].also)));
		braid_keypair_put(jobs[i].kp);
		jobs[i].kp = NULL;
	}
}

static enum braid_drop send_one(struct braid_device *dev, uint64_t now, const uint8_t *pkt,
				size_t len)
{
	struct braid_peer *peer = NULL;
	struct path_choice choice;
	struct braid_keypair *kp;
	enum braid_drop why;
	uint64_t nonce;
	size_t mlen;

	why = send_prepare_one(dev, now, pkt, len, &peer, &choice, &kp, &nonce);
	if (why != BRAID_OK || !kp)
		return why;
	mlen = braid_keypair_seal(kp, 0, nonce, dev->scratch, pkt, len, dev->mtu);
	braid_keypair_put(kp);
	mlen *= path_send_choice(peer, now, &choice, dev->scratch, mlen,
				 transport_outer_tos(pkt, len), PATH_SENT_DATA);
	transport_data_sent(peer, now, 1, mlen);
	return BRAID_OK;
}

size_t braid_device_send(struct braid_device *dev, uint64_t now, uint8_t *const pkts[],
			 const size_t lens[], size_t n)
{
	size_t i, dropped = 0;
	enum braid_drop why;

	for (i = 0; i < n; ++i) {
		why = send_one(dev, now, pkts[i], lens[i]);
		if (why != BRAID_OK) {
			device_drop(dev, why);
			++dropped;
		}
	}
	return dropped;
}

struct braid_keypair *transport_data_keypair(struct braid_device *dev, uint64_t now,
					     const uint8_t *msg, size_t len, enum braid_drop *why)
{
	const struct message_data_header *hdr = (const struct message_data_header *)msg;
	struct index_entry *entry;
	struct braid_keypair *kp;

	if (len < MESSAGE_MINIMUM_LEN || braid_get_le32(hdr->type) != MESSAGE_DATA) {
		*why = BRAID_DROP_MALFORMED;
		return NULL;
	}
	entry = index_table_lookup(&dev->index, braid_get_le32(hdr->receiver_index), INDEX_KEYPAIR);
	if (!entry) {
		*why = BRAID_DROP_UNKNOWN_INDEX;
		return NULL;
	}
	kp = container_of(entry, struct braid_keypair, entry);
	if (!atomic_load(&kp->receiving_is_valid) ||
	    has_expired(kp->birthdate, REJECT_AFTER_TIME * PROTOCOL_SEC, now) ||
	    kp->receiving_counter.counter >= REJECT_AFTER_MESSAGES) {
		atomic_store(&kp->receiving_is_valid, false);
		*why = BRAID_DROP_KEY_EXPIRED;
		return NULL;
	}
	*why = BRAID_OK;
	return noise_keypair_get(kp);
}

/*
 * The inner packet's real length from its own header: the rest is padding.
 * 0 when the packet is not a plausible IPv4 or IPv6 packet.
 */
static size_t inner_ip_len(const uint8_t *pkt, size_t len)
{
	size_t ip_len;

	if (len >= BRAID_IPV4_HEADER_LEN && pkt[0] >> 4 == 4) {
		ip_len = braid_get_be16(pkt + BRAID_IPV4_TOTAL_LEN_OFF);
		if (ip_len < BRAID_IPV4_HEADER_LEN || (pkt[0] & 15) < 5 ||
		    (size_t)(pkt[0] & 15) * 4 > ip_len)
			return 0;
	} else if (len >= BRAID_IPV6_HEADER_LEN && pkt[0] >> 4 == 6) {
		ip_len = braid_get_be16(pkt + BRAID_IPV6_PAYLOAD_LEN_OFF) + BRAID_IPV6_HEADER_LEN;
	} else {
		return 0;
	}
	return ip_len <= len ? ip_len : 0;
}

/*
 * What an authentic, fresh message's payload is to deliver: BRAID_OK and its
 * real length in *ip_len, or why not (a keepalive and a control message are
 * BRAID_OK with nothing to deliver).
 */
static enum braid_drop inner_checked(struct braid_device *dev, uint64_t now,
				     struct braid_peer *peer, const struct braid_endpoint *from,
				     uint8_t *inner, size_t inner_len, bool is_control,
				     size_t *ip_len)
{
	const uint8_t *src;
	int family;

	*ip_len = 0;
	if (!inner_len)
		return BRAID_OK;
	/* braid's control messages are keepalives with news, not data. */
	if (is_control) {
		if (probe_received(peer, now, from, inner, inner_len))
			return BRAID_OK;
		device_log_drop(dev, now, "peer %llu: malformed control message",
				(unsigned long long)peer->internal_id);
		return BRAID_DROP_INNER_MALFORMED;
	}
	timers_data_received(peer, now);
	*ip_len = inner_ip_len(inner, inner_len);
	src = *ip_len ? ip_address(inner, *ip_len, false, &family) : NULL;
	if (!src) {
		device_log_drop(dev, now, "peer %llu: packet is neither IPv4 nor IPv6",
				(unsigned long long)peer->internal_id);
		return BRAID_DROP_INNER_MALFORMED;
	}
	if (allowedips_lookup(&dev->allowedips, family, src) != peer) {
		device_log_drop(dev, now, "peer %llu: packet has unallowed source address",
				(unsigned long long)peer->internal_id);
		return BRAID_DROP_INNER_SOURCE;
	}
	return BRAID_OK;
}

enum braid_drop transport_data_done(struct braid_device *dev, uint64_t now,
				    struct braid_keypair *kp, const struct braid_endpoint *from,
				    uint64_t nonce, uint8_t *inner, size_t inner_len)
{
	struct braid_peer *peer = kp->peer;
	enum braid_drop why;
	bool is_control;
	size_t ip_len;
	int path;

	if (!peer || peer->is_dead)
		return device_drop(dev, BRAID_DROP_UNKNOWN_INDEX);
	is_control = inner_len && inner[0] >> 4 == CONTROL_TYPE_V1 >> 4 && !dev->no_multipath;
	if (!replay_check(&kp->receiving_counter, nonce)) {
		/* Multipath: a copy that another path brought first, which still shows its path works. */
		if (path_is_multipath(peer)) {
			path_received(peer, now, from, message_data_len(inner_len), PATH_RX_COPY);
			return device_drop(dev, BRAID_DROP_DUPLICATE);
		}
		device_log_drop(dev, now, "peer %llu: packet with invalid counter %llu",
				(unsigned long long)peer->internal_id, (unsigned long long)nonce);
		return device_drop(dev, BRAID_DROP_REPLAY);
	}

	/* Authentic and fresh: it may move the endpoint and confirm the session. */
	path = path_received(peer, now, from, message_data_len(inner_len),
			     is_control ? PATH_RX_CONTROL : PATH_RX_NEW);
	if (noise_received_with_keypair(&peer->keypairs, kp)) {
		timers_handshake_complete(peer, now);
		path_session_started(peer, now, 0);
		peer_send_staged_packets(peer, now);
	}
	peer_keep_key_fresh_receive(peer, now);
	timers_any_authenticated_packet_received(peer);
	timers_any_authenticated_packet_traversal(peer, now);

	why = inner_checked(dev, now, peer, from, inner, inner_len, is_control, &ip_len);
	/* As the kernel counts: not a packet dropped by the checks. */
	if (why == BRAID_OK)
		peer->rx_bytes += message_data_len(inner_len);
	/* Whatever it held, its counter takes its place in the order (aggregate_deliver()). */
	aggregate_deliver(peer, now, kp->internal_id, nonce, path, inner,
			  why == BRAID_OK ? ip_len : 0);
	return why == BRAID_OK ? BRAID_OK : device_drop(dev, why);
}

size_t braid_device_receive_prepare(struct braid_device *dev, uint64_t now,
				    const struct braid_endpoint from[], uint8_t *const bufs[],
				    const size_t lens[], size_t n, struct braid_receive_job jobs[])
{
	enum braid_drop why;
	size_t i, ready = 0;

	for (i = 0; i < n; ++i) {
		memset(&jobs[i], 0, sizeof(jobs[i]));
		if (lens[i] < 4 || braid_get_le32(bufs[i]) != MESSAGE_DATA) {
			braid_device_receive(dev, now, &from[i], bufs[i], lens[i]);
			continue;
		}
		jobs[i].kp = transport_data_keypair(dev, now, bufs[i], lens[i], &why);
		if (!jobs[i].kp) {
			device_drop(dev, why);
			continue;
		}
		++ready;
	}
	return ready;
}

/* Corruption or forgery: counted, and logged at a bounded rate, whichever path opened it. */
static enum braid_drop auth_failed(struct braid_device *dev, uint64_t now)
{
	device_log_drop(dev, now, "data message failed authentication");
	return device_drop(dev, BRAID_DROP_DECRYPT);
}

void braid_device_receive_finish(struct braid_device *dev, uint64_t now,
				 const struct braid_endpoint from[], uint8_t *const bufs[],
				 struct braid_receive_job jobs[], size_t n)
{
	size_t i;

	for (i = 0; i < n; ++i) {
		if (!jobs[i].kp)
			continue;
		if (jobs[i].opened)
			transport_data_done(dev, now, jobs[i].kp, &from[i], jobs[i].nonce,
					    bufs[i] + MESSAGE_DATA_HEADER_LEN, jobs[i].inner_len);
		else
			auth_failed(dev, now);
		braid_keypair_put(jobs[i].kp);
		jobs[i].kp = NULL;
	}
}

enum braid_drop transport_receive(struct braid_device *dev, uint64_t now,
				  const struct braid_endpoint *from, uint8_t *msg, size_t len)
{
	struct braid_keypair *kp;
	enum braid_drop why;
	uint64_t nonce;
	size_t inner_len;

	kp = transport_data_keypair(dev, now, msg, len, &why);
	if (!kp)
		return device_drop(dev, why);
	if (!braid_keypair_open(kp, 0, msg, len, &nonce, &inner_len)) {
		braid_keypair_put(kp);
		return auth_failed(dev, now);
	}
	why = transport_data_done(dev, now, kp, from, nonce, msg + MESSAGE_DATA_HEADER_LEN,
				  inner_len);
	braid_keypair_put(kp);
	return why;
}
