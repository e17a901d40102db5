// SPDX-License-Identifier: MIT
/*
 * The fork-join worker pool: every job runs exactly once per batch, on a
 * valid slot, the batch is complete when workers_run returns, and many
 * batches in a row (where a slow worker could straddle two) stay exact,
 * even when consecutive batches belong to different callers' contexts.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <cmocka.h>

#include "workers.h"

struct job_ctx {
	atomic_uint *runs;
	unsigned int *slot_of;
	unsigned int max_slot;
	atomic_uint bad_slot;
};

static void count_jobs(void *arg, unsigned int slot, size_t begin, size_t end)
{
	struct job_ctx *ctx = arg;
	size_t i;

	if (slot > ctx->max_slot)
		atomic_fetch_add(&ctx->bad_slot, 1);
	for (i = begin; i < end; ++i) {
		atomic_fetch_add(&ctx->runs[i], 1);
		ctx->slot_of[i] = slot;
	}
}

static void run_batches(unsigned int nthreads, size_t n, unsigned int rounds, size_t min_chunk)
{
	struct workers *w = workers_new(nthreads);
	struct job_ctx ctx = { .max_slot = nthreads };
	unsigned int r;
	size_t i;

	assert_non_null(w);
	assert_int_equal(workers_threads(w), nthreads);
	ctx.runs = calloc(n ? n : 1, sizeof(*ctx.runs));
	ctx.slot_of = calloc(n ? n : 1, sizeof(*ctx.slot_of));
	for (r = 0; r < rounds; ++r) {
		for (i = 0; i < n; ++i)
			atomic_store(&ctx.runs[i], 0);
		workers_run(w, count_jobs, &ctx, n, min_chunk);
		/* Complete on return: every job exactly once. */
		for (i = 0; i < n; ++i)
			assert_int_equal(atomic_load(&ctx.runs[i]), 1);
	}
	assert_int_equal(atomic_load(&ctx.bad_slot), 0);
	free(ctx.runs);
	free(ctx.slot_of);
	workers_free(w);
}

static void test_inline_without_threads(void **state)
{
	struct job_ctx ctx = { .max_slot = 0 };
	atomic_uint runs[10] = { 0 };
	unsigned int slots[10];

	ctx.runs = runs;
	ctx.slot_of = slots;
	workers_run(NULL, count_jobs, &ctx, 10, 1);
	for (int i = 0; i < 10; ++i) {
		assert_int_equal(runs[i], 1);
		assert_int_equal(slots[i], 0);
	}
	run_batches(0, 1000, 10, 8);
}

static void test_small_batches_inline(void **state)
{
	struct workers *w = workers_new(3);
	struct job_ctx ctx = { .max_slot = 3 };
	atomic_uint runs[15] = { 0 };
	unsigned int slots[15];

	ctx.runs = runs;
	ctx.slot_of = slots;
	/* Fewer than two chunks of 8: the caller does it all on slot 0. */
	workers_run(w, count_jobs, &ctx, 15, 8);
	for (int i = 0; i < 15; ++i) {
		assert_int_equal(runs[i], 1);
		assert_int_equal(slots[i], 0);
	}
	workers_run(w, count_jobs, &ctx, 0, 8);
	workers_free(w);
}

static void test_many_batches(void **state)
{
	run_batches(1, 4096, 2000, 16);
	run_batches(3, 257, 3000, 1);
	run_batches(7, 100000, 20, 64);
}

/*
 * Batches alternate between two contexts, back to back with tiny chunks:
 * a worker that wakes late for a batch must never run its jobs inside the
 * next one, so a context's counts stay exact after its own batch returned.
 */
static void test_late_workers_stay_out(void **state)
{
	enum { N = 48, ROUNDS = 20000 };
	struct workers *w = workers_new(3);
	struct job_ctx ctx[2] = { { .max_slot = 3 }, { .max_slot = 3 } };
	atomic_uint runs[2][N];
	unsigned int slots[2][N];
	unsigned int r, c, i;

	assert_non_null(w);
	for (c = 0; c < 2; c++) {
		ctx[c].runs = runs[c];
		ctx[c].slot_of = slots[c];
		for (i = 0; i < N; i++)
			atomic_store(&runs[c][i], 0);
	}
	for (r = 0; r < ROUNDS; r++) {
		c = r % 2;
		workers_run(w, count_jobs, &ctx[c], N, 1);
		/* This batch is whole; the other context's, finished before, is untouched. */
		for (i = 0; i < N; i++) {
			assert_int_equal(atomic_load(&runs[c][i]), r / 2 + 1);
			assert_int_equal(atomic_load(&runs[!c][i]), (r + 1) / 2);
		}
	}
	assert_int_equal(atomic_load(&ctx[0].bad_slot) + atomic_load(&ctx[1].bad_slot), 0);
	workers_free(w);
}

/*
 * The workers take part in a batch: the caller holds on to its first chunk
 * until another slot has run a job (for at most 10 s), so the test does not
 * depend on the scheduler handing a worker the CPU while the caller could
 * have done everything alone, which under valgrind, one thread at a time,
 * it may never do.
 */
struct share_ctx {
	atomic_bool others;
	atomic_uint runs[64];
};

static void wait_for_others(void *arg, unsigned int slot, size_t begin, size_t end)
{
	struct share_ctx *ctx = arg;
	const struct timespec ms = { 0, 1000000 };

	for (size_t i = begin; i < end; ++i)
		atomic_fetch_add(&ctx->runs[i], 1);
	if (slot) {
		atomic_store(&ctx->others, true);
		return;
	}
	for (int i = 0; i < 10000 && !atomic_load(&ctx->others); i++)
		nanosleep(&ms, NULL);
}

static void test_threads_share_the_work(void **state)
{
	struct workers *w = workers_new(2);
	struct share_ctx ctx = { 0 };

	assert_non_null(w);
	workers_run(w, wait_for_others, &ctx, 64, 1);
	assert_true(atomic_load(&ctx.others));
	for (size_t i = 0; i < 64; i++)
		assert_int_equal(atomic_load(&ctx.runs[i]), 1);
	workers_free(w);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_inline_without_threads),
		cmocka_unit_test(test_small_batches_inline),
		cmocka_unit_test(test_many_batches),
		cmocka_unit_test(test_late_workers_stay_out),
		cmocka_unit_test(test_threads_share_the_work),
	};

	return cmocka_run_group_tests_name("workers", tests, NULL, NULL);
}
