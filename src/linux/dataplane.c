// SPDX-License-Identifier: MIT
/*
 * Sealing and opening batches on the crypto workers (see dataplane.h).
 *
 * The jobs and their buffers are laid out by the control thread before
 * workers_run() and read by it only after: each worker writes nothing but
 * the results of the jobs it claimed (a sealed message into its reserved
 * place, or a job's opened, nonce and inner_len), and workers_run()
 * returning orders those writes before everything the control thread
 * does next.
 */
#include <assert.h>
#include <string.h>

#include "dataplane.h"

/* Fork the batch out to the workers when it is worth it, else run it here. */
static void run(struct workers *w, workers_fn *fn, void *ctx, size_t n)
{
	if (n < DP_PARALLEL_MIN)
		fn(ctx, 0, 0, n);
	else
		workers_run(w, fn, ctx, n, DP_CHUNK);
}

static void seal_jobs(void *ctx, unsigned int slot, size_t begin, size_t end)
{
	struct dp_send *s = ctx;
	struct braid_send_job *job;

	for (size_t i = begin; i < end; i++) {
		job = &s->jobs[i];
		if (s->out[i])
			job->sealed_len = braid_keypair_seal(job->kp, slot, job->nonce, s->out[i],
							     s->pkts[i], s->lens[i], s->mtu);
	}
}

/*
 * Places for the copies multipath asks for (job->also), after the batch's
 * own, one path at a time in batch order: each path's datagrams stay in
 * runs that UDP_SEGMENT can send whole.
 */
static void reserve_copies(struct dp_send *s, dataplane_reserve_fn *reserve, void *ctx)
{
	const struct braid_endpoint *to;
	struct braid_peer *peer;
	uint8_t *out;

	s->n_copies = 0;
	for (unsigned int slot = 0; slot < BRAID_MAX_PATHS; slot++) {
		for (size_t i = 0; i < s->n; i++) {
			struct braid_send_job *job = &s->jobs[i];

			if (!s->out[i] || !(job->also & (1u << slot)) || s->n_copies == DP_COPIES_MAX)
				continue;
			peer = braid_keypair_peer(job->kp);
			to = braid_peer_path_endpoint(peer, slot);
			out = reserve(ctx, peer, to, braid_message_len(s->lens[i], s->mtu), job->tos);
			if (out)
				s->copies[s->n_copies++] = (struct dp_copy){ out, (uint32_t)i };
		}
	}
}

size_t dataplane_send(struct dp_send *s, struct braid_device *dev, struct workers *w,
		      uint64_t now, uint8_t *const pkts[], const size_t lens[], size_t n,
		      unsigned int mtu, dataplane_reserve_fn *reserve, void *ctx)
{
	struct braid_send_job *job;
	size_t i, sealed = 0;

	assert(n <= DP_SEND_MAX);
	s->pkts = pkts;
	s->lens = lens;
	s->n = n;
	s->mtu = mtu;
	if (!braid_device_send_prepare(dev, now, pkts, lens, n, s->jobs))
		return 0;
	/* In batch order: the queue sends in the order places were reserved. */
	for (i = 0; i < n; i++) {
		job = &s->jobs[i];
		s->out[i] = NULL;
		if (!job->kp)
			continue;
		s->out[i] = reserve(ctx, braid_keypair_peer(job->kp), &job->to,
				    braid_message_len(lens[i], mtu), job->tos);
		sealed += s->out[i] != NULL;
	}
	reserve_copies(s, reserve, ctx);
	if (sealed)
		run(w, seal_jobs, s, n);
	for (i = 0; i < s->n_copies; i++)
		memcpy(s->copies[i].out, s->out[s->copies[i].job],
		       s->jobs[s->copies[i].job].sealed_len);
	return sealed;
}

void dataplane_send_finish(struct dp_send *s, struct braid_device *dev, uint64_t now)
{
	braid_device_send_finish(dev, now, s->jobs, s->n);
	s->n = 0;
}

static void open_jobs(void *ctx, unsigned int slot, size_t begin, size_t end)
{
	struct dp_recv *r = ctx;
	struct braid_receive_job *job;

	for (size_t i = begin; i < end; i++) {
		job = &r->jobs[i];
		if (job->kp)
			job->opened = braid_keypair_open(job->kp, slot, r->bufs[i], r->lens[i],
							 &job->nonce, &job->inner_len);
	}
}

void dataplane_receive(struct dp_recv *r, struct braid_device *dev, struct workers *w,
		       uint64_t now)
{
	if (!r->n)
		return;
	if (braid_device_receive_prepare(dev, now, r->from, r->bufs, r->lens, r->n, r->jobs))
		run(w, open_jobs, r, r->n);
	braid_device_receive_finish(dev, now, r->from, r->bufs, r->jobs, r->n);
	r->n = 0;
}
