// SPDX-License-Identifier: MIT
/*
 * Staged packets: FIFO order, the oldest evicted when full, one keepalive
 * entry that is never freed, buffers reused from the pool (no allocation
 * once it is warm), and packets too large for a pool buffer.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "messages.h"
#include "staged.h"

static void push_byte(struct staged_queue *q, struct staged_pool *pool, uint8_t b, bool *evicted)
{
	assert_true(staged_push(q, pool, &b, 1, evicted));
}

/* 1. First in, first out; a full queue drops its oldest entry for the newest. */
static void test_fifo_and_eviction(void **state)
{
	struct staged_queue q;
	struct staged_pool pool = { 0 };
	struct staged_packet *sp;
	bool evicted;
	unsigned int i;

	(void)state;
	staged_init(&q);
	for (i = 0; i < MAX_STAGED_PACKETS; i++) {
		push_byte(&q, &pool, (uint8_t)i, &evicted);
		assert_false(evicted);
	}
	push_byte(&q, &pool, 0xee, &evicted);
	assert_true(evicted);
	assert_int_equal(q.count, MAX_STAGED_PACKETS);
	for (i = 1; i <= MAX_STAGED_PACKETS; i++) {
		sp = staged_pop(&q);
		assert_non_null(sp);
		assert_int_equal(sp->len, 1);
		assert_int_equal(staged_data(sp)[0], i == MAX_STAGED_PACKETS ? 0xee : (uint8_t)i);
		staged_release(&pool, sp);
	}
	assert_null(staged_pop(&q));
	assert_int_equal(q.count, 0);
	staged_pool_free(&pool);
}

/* 2. A keepalive is queued only into an empty queue, and its entry is the queue's own. */
static void test_keepalive(void **state)
{
	struct staged_queue q;
	struct staged_pool pool = { 0 };
	struct staged_packet *sp;
	bool evicted;

	(void)state;
	staged_init(&q);
	staged_push_keepalive(&q);
	staged_push_keepalive(&q);
	assert_int_equal(q.count, 1);
	push_byte(&q, &pool, 7, &evicted);
	assert_int_equal(q.count, 2);
	sp = staged_pop(&q);
	assert_ptr_equal(sp, &q.keepalive);
	assert_int_equal(sp->len, 0);
	staged_release(&pool, sp);
	assert_int_equal(pool.n_free, 0);
	sp = staged_pop(&q);
	assert_int_equal(staged_data(sp)[0], 7);
	staged_release(&pool, sp);
	assert_int_equal(pool.n_free, 1);

	push_byte(&q, &pool, 8, &evicted);
	staged_push_keepalive(&q);	/* something is queued: it carries the news */
	assert_int_equal(q.count, 1);
	staged_release(&pool, staged_pop(&q));
	staged_pool_free(&pool);
}

/* 3. Released buffers are reused; the pool keeps at most STAGED_POOL_MAX; big packets stand alone. */
static void test_pool(void **state)
{
	enum { BIG = STAGED_BUF_LEN + 100 };
	struct staged_queue q;
	struct staged_pool pool = { 0 };
	struct staged_packet *sp, *first;
	uint8_t *big = malloc(BIG);
	bool evicted;
	unsigned int round, i;

	(void)state;
	assert_non_null(big);
	memset(big, 0x5a, BIG);
	staged_init(&q);
	push_byte(&q, &pool, 1, &evicted);
	first = staged_pop(&q);
	staged_release(&pool, first);
	push_byte(&q, &pool, 2, &evicted);
	sp = staged_pop(&q);
	assert_ptr_equal(sp, first);
	staged_release(&pool, sp);

	assert_true(staged_push(&q, &pool, big, BIG, &evicted));
	sp = staged_pop(&q);
	assert_int_equal(sp->len, BIG);
	assert_false(sp->is_pooled);
	assert_memory_equal(staged_data(sp), big, BIG);
	staged_release(&pool, sp);
	assert_int_equal(pool.n_free, 1);

	/* Three full queues' worth come back: the pool keeps its maximum and frees the rest. */
	for (round = 0; round < 3; round++) {
		struct staged_queue qs;

		staged_init(&qs);
		for (i = 0; i < MAX_STAGED_PACKETS; i++)
			push_byte(&qs, &pool, (uint8_t)i, &evicted);
		while ((sp = staged_pop(&qs)))
			staged_release(&pool, sp);
		assert_true(pool.n_free <= STAGED_POOL_MAX);
	}
	staged_pool_free(&pool);
	assert_int_equal(pool.n_free, 0);
	assert_null(pool.free);
	free(big);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fifo_and_eviction),
		cmocka_unit_test(test_keepalive),
		cmocka_unit_test(test_pool),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
