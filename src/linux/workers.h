/* SPDX-License-Identifier: MIT */
/*
 * Crypto workers for the data plane, fork-join per batch.
 *
 * The event loop gathers a batch of independent jobs (seal or open one
 * packet each) and calls workers_run(): the worker threads and the caller
 * take chunks of the batch until none are left, and the call returns when
 * every job is done. Jobs write their results into the batch's own slots,
 * so the batch keeps its order whoever did the work: packets of a peer
 * leave and arrive in the order they came, with no reordering stage.
 *
 * Each thread passes its slot to the job function: 0 for the caller (the
 * control thread, which owns libbraid's slot 0), 1..n for the workers.
 */
#ifndef BRAID_WORKERS_H
#define BRAID_WORKERS_H

#include <stddef.h>

struct workers;

/* Run jobs [begin, end) of the batch on the thread that owns slot. */
typedef void workers_fn(void *ctx, unsigned int slot, size_t begin, size_t end);

/* nthreads worker threads besides the caller (0: everything runs inline). NULL with errno. */
struct workers *workers_new(unsigned int nthreads);
void workers_free(struct workers *w);
unsigned int workers_threads(const struct workers *w);

/*
 * Run fn over n jobs in chunks of at least min_chunk. Small batches (fewer
 * than two chunks) run inline: waking a thread costs more than it saves.
 * Only one thread (the control thread) may call this at a time.
 */
void workers_run(struct workers *w, workers_fn *fn, void *ctx, size_t n, size_t min_chunk);

#endif
