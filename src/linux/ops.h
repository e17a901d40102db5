/* SPDX-License-Identifier: MIT */
/*
 * What libbraid calls back (struct braid_ops), with the event loop as its
 * context; every call comes on the loop's thread. Nothing here sends or
 * writes during the call: the loop does that after it.
 *  - send, send_reply: copied into the send queue of the datagram's socket
 *    (sendq.h), sent by the loop's flush after the call. ops_reserve() does
 *    the same without the copy, for messages the data plane seals in place.
 *  - deliver: to the TUN writer (tun_writer.h), which coalesces what one
 *    call delivered into few writes at ops_flush_delivered().
 *  - random: small draws from a pool, large ones from getrandom().
 *  - wall_clock_ns: CLOCK_REALTIME; log: the I/O layer's log (iolog.h).
 * When the kernel refuses a datagram's sticky source (the send queue then
 * sends it without one), its peer hears of it, with the endpoint that was
 * refused, only after the call (braid_peer_source_refused() from
 * ops_forget_refused_sources()), since a callback must not re-enter the
 * device.
 */
#ifndef BRAID_OPS_H
#define BRAID_OPS_H

#include <braid.h>

struct loop;

enum {
	OPS_MAX_REFUSED = 16,		/* refused sources noted per call, at most */
	OPS_RANDOM_POOL_LEN = 256,	/* bytes one getrandom() brings for small draws */
};

/* A sticky source the kernel refused: to is the endpoint the datagram had, src included. */
struct ops_refused {
	struct braid_peer *peer;
	struct braid_endpoint to;
};

/* libbraid's callbacks; their ctx is the struct loop. */
extern const struct braid_ops ops_table;

/* A sealed message's place in its socket's send queue (a dataplane_reserve_fn; ctx: the loop). */
uint8_t *ops_reserve(void *ctx, struct braid_peer *peer, const struct braid_endpoint *to,
		     size_t len, uint8_t tos);

/* Note that the kernel refused to->src for peer (a udp_source_refused_fn; ctx: the loop). */
void ops_source_refused(void *ctx, struct braid_peer *peer, const struct braid_endpoint *to);

/* After a call: write what it delivered; the receive buffers may be reused after this. */
void ops_flush_delivered(struct loop *l);

/* After a call and its flush: tell each peer noted which source was refused. */
void ops_forget_refused_sources(struct loop *l);

#endif
