// SPDX-License-Identifier: MIT
/*
 * The deadline heap against a naive model (an array scanned for its
 * minimum): random sets, moves both ways and removals on up to 100,000
 * entries, the first entry checked after every step and the heap emptied
 * in order at the end. Ties come out lowest order first.
 *
 * BRAID_TEST_SCALE (default 100000) sets the number of entries, smaller
 * under valgrind (the Makefile's unit-valgrind sets it).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "deadlines.h"

static uint64_t rng_state;

static uint64_t rnd(void)
{
	uint64_t z = (rng_state += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static size_t scale(void)
{
	const char *s = getenv("BRAID_TEST_SCALE");
	long n = s ? strtol(s, NULL, 10) : 0;

	return n > 0 ? (size_t)n : 100000;
}

/* The model: the earliest queued entry by a full scan, ties by order. */
static struct deadline_entry *model_first(struct deadline_entry *e, size_t n)
{
	struct deadline_entry *best = NULL;

	for (size_t i = 0; i < n; i++)
		if (deadline_is_queued(&e[i]) &&
		    (!best || e[i].at < best->at || (e[i].at == best->at && e[i].order < best->order)))
			best = &e[i];
	return best;
}

/* 1. A few entries by hand: order, moves both ways, removal from the middle. */
static void test_small(void **state)
{
	struct deadline_heap h = { 0 };
	struct deadline_entry e[4] = { { .order = 0 }, { .order = 1 }, { .order = 2 }, { .order = 3 } };

	(void)state;
	assert_null(deadline_heap_first(&h));
	assert_int_equal(deadline_heap_reserve(&h, 4), 0);
	deadline_heap_set(&h, &e[0], 30);
	deadline_heap_set(&h, &e[1], 10);
	deadline_heap_set(&h, &e[2], 20);
	deadline_heap_set(&h, &e[3], 10);
	assert_ptr_equal(deadline_heap_first(&h), &e[1]);
	deadline_heap_set(&h, &e[1], 40);		/* later */
	assert_ptr_equal(deadline_heap_first(&h), &e[3]);
	deadline_heap_set(&h, &e[0], 5);		/* earlier */
	assert_ptr_equal(deadline_heap_first(&h), &e[0]);
	deadline_heap_remove(&h, &e[0]);
	assert_false(deadline_is_queued(&e[0]));
	deadline_heap_remove(&h, &e[0]);		/* not queued: nothing */
	assert_ptr_equal(deadline_heap_first(&h), &e[3]);
	deadline_heap_set(&h, &e[2], 10);		/* ties with e[3]; order 2 first */
	assert_ptr_equal(deadline_heap_first(&h), &e[2]);
	deadline_heap_free(&h);
	assert_false(deadline_is_queued(&e[1]));
	assert_null(deadline_heap_first(&h));
}

/*
 * 2. Random operations against the model. Checking the first entry with a
 * full scan after every step would be quadratic: the scan runs every
 * `every` steps, and the first entry is compared by deadline (the model's
 * and the heap's may be different entries with the same key) and order.
 */
static void test_random(void **state)
{
	size_t n = scale(), steps = 4 * n, every = n / 64 + 1;
	struct deadline_entry *e = calloc(n, sizeof(*e)), *first, *want;
	struct deadline_heap h = { 0 };
	uint64_t last;

	(void)state;
	assert_non_null(e);
	rng_state = 12;
	assert_int_equal(deadline_heap_reserve(&h, n), 0);
	for (size_t i = 0; i < n; i++)
		e[i].order = (uint32_t)i;
	for (size_t step = 0; step < steps; step++) {
		struct deadline_entry *x = &e[rnd() % n];
		/* Few distinct deadlines, so that ties are common. */
		uint64_t at = rnd() % (n / 4 + 1);

		if (rnd() % 8 == 0)
			deadline_heap_remove(&h, x);
		else
			deadline_heap_set(&h, x, at);
		if (step % every == 0) {
			first = deadline_heap_first(&h);
			want = model_first(e, n);
			assert_ptr_equal(first, want);
		}
	}
	/* Empty it: deadlines never go down, ties by order, every queued entry once. */
	for (last = 0, want = NULL; (first = deadline_heap_first(&h)); want = first) {
		assert_true(first->at >= last);
		if (want && first->at == want->at)
			assert_true(first->order > want->order);
		last = first->at;
		deadline_heap_remove(&h, first);
	}
	for (size_t i = 0; i < n; i++)
		assert_false(deadline_is_queued(&e[i]));
	deadline_heap_free(&h);
	free(e);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_small),
		cmocka_unit_test(test_random),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
