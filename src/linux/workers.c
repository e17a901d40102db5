// SPDX-License-Identifier: MIT
/*
 * Fork-join crypto workers (see workers.h).
 *
 * A batch is published under the lock with a new generation number; each
 * worker that wakes joins it (busy++), copies its parameters, and claims
 * chunks from an atomic cursor until the batch is exhausted. The caller
 * claims chunks too, then sleeps until the last job is counted. A worker
 * that wakes too late finds nothing left and leaves; the next batch waits
 * until no worker is still inside the previous one, so a straggler can
 * never claim jobs of a batch it did not join.
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>

#include "workers.h"

struct batch {
	workers_fn *fn;
	void *ctx;
	size_t n, chunk;
};

struct workers {
	pthread_mutex_t lock;
	pthread_cond_t wake;		/* a new batch, or stop */
	pthread_cond_t idle;		/* the batch is done, or the last worker left it */
	struct batch batch;
	uint64_t generation;
	unsigned int busy;		/* workers inside a batch */
	bool stopping;
	atomic_size_t next;		/* first unclaimed job */
	atomic_size_t done;		/* jobs finished */
	unsigned int nthreads;
	pthread_t *threads;
};

struct worker_start {
	struct workers *w;
	unsigned int slot;
};

static void run_chunks(struct workers *w, const struct batch *b, unsigned int slot)
{
	size_t begin, end, finished;

	while ((begin = atomic_fetch_add(&w->next, b->chunk)) < b->n) {
		end = begin + b->chunk < b->n ? begin + b->chunk : b->n;
		b->fn(b->ctx, slot, begin, end);
		finished = atomic_fetch_add(&w->done, end - begin) + (end - begin);
		if (finished == b->n) {
			pthread_mutex_lock(&w->lock);
			pthread_cond_broadcast(&w->idle);
			pthread_mutex_unlock(&w->lock);
		}
	}
}

static void *worker_main(void *arg)
{
	struct worker_start start = *(struct worker_start *)arg;
	struct workers *w = start.w;
	uint64_t seen = 0;
	struct batch b;

	free(arg);
	pthread_mutex_lock(&w->lock);
	for (;;) {
		while (!w->stopping && w->generation == seen)
			pthread_cond_wait(&w->wake, &w->lock);
		if (w->stopping)
			break;
		seen = w->generation;
		b = w->batch;
		++w->busy;
		pthread_mutex_unlock(&w->lock);

		run_chunks(w, &b, start.slot);

		pthread_mutex_lock(&w->lock);
		if (!--w->busy)
			pthread_cond_broadcast(&w->idle);
	}
	pthread_mutex_unlock(&w->lock);
	return NULL;
}

struct workers *workers_new(unsigned int nthreads)
{
	struct workers *w = calloc(1, sizeof(*w));
	struct worker_start *start;
	unsigned int i;
	int ret;

	if (!w)
		return NULL;
	pthread_mutex_init(&w->lock, NULL);
	pthread_cond_init(&w->wake, NULL);
	pthread_cond_init(&w->idle, NULL);
	w->threads = calloc(nthreads ? nthreads : 1, sizeof(*w->threads));
	if (!w->threads)
		goto err;
	for (i = 0; i < nthreads; ++i) {
		start = malloc(sizeof(*start));
		if (!start)
			goto err;
		*start = (struct worker_start){ w, i + 1 };
		ret = pthread_create(&w->threads[i], NULL, worker_main, start);
		if (ret) {
			free(start);
			errno = ret;
			goto err;
		}
		w->nthreads = i + 1;
	}
	return w;
err:
	ret = errno;
	workers_free(w);
	errno = ret;
	return NULL;
}

void workers_free(struct workers *w)
{
	unsigned int i;

	if (!w)
		return;
	pthread_mutex_lock(&w->lock);
	w->stopping = true;
	pthread_cond_broadcast(&w->wake);
	pthread_mutex_unlock(&w->lock);
	for (i = 0; i < w->nthreads; ++i)
		pthread_join(w->threads[i], NULL);
	pthread_cond_destroy(&w->wake);
	pthread_cond_destroy(&w->idle);
	pthread_mutex_destroy(&w->lock);
	free(w->threads);
	free(w);
}

unsigned int workers_threads(const struct workers *w)
{
	return w ? w->nthreads : 0;
}

void workers_run(struct workers *w, workers_fn *fn, void *ctx, size_t n, size_t min_chunk)
{
	struct batch b = { fn, ctx, n, min_chunk ? min_chunk : 1 };
	size_t share;

	if (!n)
		return;
	if (!w || !w->nthreads || n < 2 * b.chunk) {
		fn(ctx, 0, 0, n);
		return;
	}
	/* A few chunks per thread, so one slow thread does not hold the batch up. */
	share = n / (4 * (w->nthreads + 1));
	if (share > b.chunk)
		b.chunk = share;

	pthread_mutex_lock(&w->lock);
	while (w->busy)
		pthread_cond_wait(&w->idle, &w->lock);
	w->batch = b;
	atomic_store(&w->next, 0);
	atomic_store(&w->done, 0);
	++w->generation;
	pthread_cond_broadcast(&w->wake);
	pthread_mutex_unlock(&w->lock);

	run_chunks(w, &b, 0);

	pthread_mutex_lock(&w->lock);
	while (atomic_load(&w->done) < n)
		pthread_cond_wait(&w->idle, &w->lock);
	pthread_mutex_unlock(&w->lock);
}
