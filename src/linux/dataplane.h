/* SPDX-License-Identifier: MIT */
/*
 * Batches of transport messages, sealed and opened on the crypto workers
 * with libbraid's batch API; routing, nonces, replay checks, timers and
 * delivery stay on the event loop's thread (the control plane).
 *
 * Outbound: braid_device_send_prepare() routes a batch and hands out nonces;
 * each job that got a keypair gets its place in a send queue from the
 * caller's reserve function, in batch order; the workers seal every job
 * straight into its place; the caller sends the queue, then
 * dataplane_send_finish(). Inbound: the caller adds a receive's data
 * messages; dataplane_receive() prepares them, opens them on the workers and
 * finishes them, which delivers in batch order.
 *
 * Whichever thread sealed or opened a packet, the batch's order is the
 * order on the wire and into TUN, so each peer's packets keep theirs.
 */
#ifndef BRAID_DATAPLANE_H
#define BRAID_DATAPLANE_H

#include <braid.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "workers.h"

enum {
	DP_SEND_MAX = 1024,		/* packets in one outbound batch */
	DP_RECV_MAX = 1024,		/* datagrams in one inbound batch */
	/*
	 * Packets a thread claims at a time: about 20 us of AEAD at 1420
	 * bytes, well above the cost of waking a worker.
	 */
	DP_CHUNK = 16,
	/*
	 * Smaller batches stay on the calling thread. They come when the
	 * queues are shallow, and there moving packets to another core's cache
	 * and back costs more than it saves; deep queues bring full batches.
	 */
	DP_PARALLEL_MIN = 4 * DP_CHUNK,
	/* Copies of a batch's messages on further paths, at most (each path but one). */
	DP_COPIES_MAX = DP_SEND_MAX * (BRAID_MAX_PATHS - 1),
};

/* Where a sealed message of len bytes goes, or NULL to drop it (and count that). */
typedef uint8_t *dataplane_reserve_fn(void *ctx, struct braid_peer *peer,
				      const struct braid_endpoint *to, size_t len, uint8_t tos);

/* A further copy of a sealed message, for another path (multipath): where, from which job. */
struct dp_copy {
	uint8_t *out;
	uint32_t job;
};

struct dp_send {
	struct braid_send_job jobs[DP_SEND_MAX];
	uint8_t *out[DP_SEND_MAX];	/* NULL: nothing to seal for this job */
	/* Copies are sealed once and copied after: a redundant path costs a memcpy. */
	struct dp_copy copies[DP_COPIES_MAX];
	size_t n_copies;
	uint8_t *const *pkts;
	const size_t *lens;
	size_t n;
	unsigned int mtu;
};

struct dp_recv {
	struct braid_endpoint from[DP_RECV_MAX];
	uint8_t *bufs[DP_RECV_MAX];
	size_t lens[DP_RECV_MAX];
	struct braid_receive_job jobs[DP_RECV_MAX];
	size_t n;
};

/*
 * Control plane: prepare n (at most DP_SEND_MAX) inner packets, reserve
 * room for each message in batch order and seal them on w (NULL: here).
 * Returns how many were sealed. The packets must live until it returns;
 * call dataplane_send_finish() after sending, whatever it returned.
 */
size_t dataplane_send(struct dp_send *s, struct braid_device *dev, struct workers *w,
		      uint64_t now, uint8_t *const pkts[], const size_t lens[], size_t n,
		      unsigned int mtu, dataplane_reserve_fn *reserve, void *ctx);
/* Control plane: counters and timers of the batch; drops its keypair references. */
void dataplane_send_finish(struct dp_send *s, struct braid_device *dev, uint64_t now);

static inline bool dataplane_recv_full(const struct dp_recv *r)
{
	return r->n == DP_RECV_MAX;
}

/* Add a datagram (not full): buf stays put and writable until the batch is delivered. */
static inline void dataplane_recv_add(struct dp_recv *r, const struct braid_endpoint *from,
				      uint8_t *buf, size_t len)
{
	r->from[r->n] = *from;
	r->bufs[r->n] = buf;
	r->lens[r->n++] = len;
}

/*
 * Control plane: open what was added on w (NULL: here) and deliver it,
 * through ops->deliver, in the order it was added. Empties the batch.
 */
void dataplane_receive(struct dp_recv *r, struct braid_device *dev, struct workers *w,
		       uint64_t now);

#endif
