// SPDX-License-Identifier: MIT
/*
 * Fork-join crypto workers (see workers.h).
 *
 * A batch is published under the lock with a new generation number; each
 * worker that wakes copies its parameters and claims chunks from one
 * atomic cursor until the batch is exhausted. The caller claims chunks
 * too, then waits until the last job is counted.
 *
 * The cursor holds the generation in its high half and the next unclaimed
 * job in its low half, and a chunk is claimed by compare-and-swap only
 * while the generation is still the one the worker joined. So a worker
 * that wakes late, even after the next batch was published, finds its
 * generation gone and claims nothing: the caller never waits for a thread
 * that has no work, which on a busy machine may not run for milliseconds.
 * It waits only for chunks already claimed, and those are short: it spins
 * for them a little before it sleeps.
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>

#include "watch.h"
#include "workers.h"

enum {
	/*
	 * About the cost of sleeping and being woken: a wait longer than
	 * that is cheaper asleep, and the CPU may have other work.
	 */
	SPIN_NS = 10000,
	/* The cursor's low half, with room to step a chunk past the end. */
	JOBS_MAX = UINT32_MAX / 2,
};

struct batch {
	workers_fn *fn;
	void *ctx;
	size_t n, chunk;
	uint32_t generation;
};

/*
 * Generations are 32 bits in the cursor: a worker would have to sleep
 * through 2^32 batches to mistake a new one for its own.
 */
struct workers {
	pthread_mutex_t lock;
	pthread_cond_t wake;		/* a new batch, or stop */
	pthread_cond_t finished;	/* the last job of the batch is done */
	struct batch batch;
	uint32_t generation;
	bool stopping;
	_Atomic uint64_t cursor;	/* generation << 32 | first unclaimed job */
	atomic_size_t done;		/* jobs finished */
	unsigned int nthreads;
	pthread_t *threads;
};

struct worker_start {
	struct workers *w;
	unsigned int slot;
};

/* The first job of a chunk of b, if b is still the current batch and has any left. */
static bool claim(struct workers *w, const struct batch *b, size_t *begin)
{
	uint64_t cur = atomic_load(&w->cursor);

	do {
		if ((uint32_t)(cur >> 32) != b->generation || (cur & UINT32_MAX) >= b->n)
			return false;
	} while (!atomic_compare_exchange_weak(&w->cursor, &cur, cur + b->chunk));
	*begin = cur & UINT32_MAX;
	return true;
}

static void run_chunks(struct workers *w, const struct batch *b, unsigned int slot)
{
	size_t begin, end, finished;

	while (claim(w, b, &begin)) {
		end = begin + b->chunk < b->n ? begin + b->chunk : b->n;
		b->fn(b->ctx, slot, begin, end);
		finished = atomic_fetch_add(&w->done, end - begin) + (end - begin);
		if (finished == b->n) {
			pthread_mutex_lock(&w->lock);
			pthread_cond_broadcast(&w->finished);
			pthread_mutex_unlock(&w->lock);
		}
	}
}

static void *worker_main(void *arg)
{
	struct worker_start start = *(struct worker_start *)arg;
	struct workers *w = start.w;
	uint32_t seen = 0;
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
		pthread_mutex_unlock(&w->lock);

		run_chunks(w, &b, start.slot);

		pthread_mutex_lock(&w->lock);
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
	pthread_cond_init(&w->finished, NULL);
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
	pthread_cond_destroy(&w->finished);
	pthread_mutex_destroy(&w->lock);
	free(w->threads);
	free(w);
}

unsigned int workers_threads(const struct workers *w)
{
	return w ? w->nthreads : 0;
}

static inline void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#elif defined(__aarch64__)
	__asm__ __volatile__("yield");
#endif
}

/* The workers' last chunks: spin while they should be nearly done, then sleep. */
static void wait_done(struct workers *w, size_t n)
{
	uint64_t until = 0;

	for (unsigned int i = 0; atomic_load(&w->done) < n; i++) {
		cpu_relax();
		if (i % 64)
			continue;
		if (!until)
			until = watch_now() + SPIN_NS;
		else if (watch_now() > until)
			break;
	}
	pthread_mutex_lock(&w->lock);
	while (atomic_load(&w->done) < n)
		pthread_cond_wait(&w->finished, &w->lock);
	pthread_mutex_unlock(&w->lock);
}

void workers_run(struct workers *w, workers_fn *fn, void *ctx, size_t n, size_t min_chunk)
{
	struct batch b = { fn, ctx, n, min_chunk ? min_chunk : 1, 0 };
	size_t share;

	if (!n)
		return;
	if (!w || !w->nthreads || n < 2 * b.chunk || n > JOBS_MAX) {
		fn(ctx, 0, 0, n);
		return;
	}
	/*
	 * Several chunks per thread, so one slow thread does not hold the
	 * batch up, and the last chunk, which the caller may wait for, is short.
	 */
	share = n / (8 * (w->nthreads + 1));
	if (share > b.chunk)
		b.chunk = share;

	pthread_mutex_lock(&w->lock);
	b.generation = ++w->generation;
	w->batch = b;
	atomic_store(&w->done, 0);
	atomic_store(&w->cursor, (uint64_t)b.generation << 32);
	pthread_cond_broadcast(&w->wake);
	pthread_mutex_unlock(&w->lock);

	run_chunks(w, &b, 0);
	wait_done(w, n);
}
