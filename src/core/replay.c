// SPDX-License-Identifier: MIT
/*
 * Anti-replay window, RFC 6479: a ring of COUNTER_BITS_TOTAL bits kept in
 * 64-bit words, one bit per counter. Moving the window forward clears whole
 * words instead of shifting the bitmap, so a jump costs at most one pass over
 * the ring and the common in-order case touches a single word.
 *
 * The word holding the newest counter may be only partly used, so of the
 * ring's COUNTER_BITS_TOTAL bits only COUNTER_WINDOW_SIZE are guaranteed to
 * lie behind the newest counter. The rule this file keeps, exactly:
 *
 *	accept n  iff  n < REJECT_AFTER_MESSAGES,
 *	               n has not been accepted before, and
 *	               n + COUNTER_WINDOW_SIZE >= newest accepted counter.
 *
 * So the newest counter and the COUNTER_WINDOW_SIZE counters before it are
 * each accepted once, whatever order they arrive in.
 */
#include "replay.h"

enum {
	WORD_BITS = 64,
	WORD_SHIFT = 6,
	RING_WORDS = COUNTER_BITS_TOTAL / WORD_BITS,
};

_Static_assert((RING_WORDS & (RING_WORDS - 1)) == 0, "the ring must be a power of two words");

/*
 * Clear the words that counters in (old_top, new_top] will use. The words
 * between are reused from counters that are now out of the window.
 */
static void advance(struct replay_counter *r, uint64_t old_top, uint64_t new_top)
{
	uint64_t first = old_top >> WORD_SHIFT, last = new_top >> WORD_SHIFT;
	uint64_t n = last - first, i;

	if (n > RING_WORDS)
		n = RING_WORDS;
	for (i = 1; i <= n; ++i)
		r->backtrack[(first + i) & (RING_WORDS - 1)] = 0;
}

bool replay_check(struct replay_counter *r, uint64_t nonce)
{
	uint64_t n, bit, *word;

	/*
	 * r->counter is the newest counter plus one. Once it has reached the
	 * limit the keypair must not be used any more, even for counters
	 * that would still be inside the window.
	 */
	if (nonce >= REJECT_AFTER_MESSAGES || r->counter >= REJECT_AFTER_MESSAGES)
		return false;

	/*
	 * Work in "plus one" space like r->counter, so that a zeroed struct
	 * (counter 0) needs no special case: nothing is ever behind it.
	 * The limit check above keeps n + COUNTER_WINDOW_SIZE from wrapping.
	 */
	n = nonce + 1;
	if (n + COUNTER_WINDOW_SIZE < r->counter)
		return false;

	if (n > r->counter) {
		advance(r, r->counter, n);
		r->counter = n;
	}

	word = &r->backtrack[(n >> WORD_SHIFT) & (RING_WORDS - 1)];
	bit = 1ULL << (n & (WORD_BITS - 1));
	if (*word & bit)
		return false;
	*word |= bit;
	return true;
}
