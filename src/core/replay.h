/* SPDX-License-Identifier: MIT */
/*
 * Anti-replay window over transport-message counters (RFC 6479 bitmap).
 * A zeroed struct is ready to use. Not safe for concurrent use: the caller
 * serialises per keypair.
 */
#ifndef BRAID_REPLAY_H
#define BRAID_REPLAY_H

#include <stdbool.h>
#include <stdint.h>
#include "messages.h"

struct replay_counter {
	uint64_t counter;	/* highest counter seen, plus one; 0 = none yet */
	uint64_t backtrack[COUNTER_BITS_TOTAL / 64];
};

/*
 * True when nonce is new and inside the window (then it is marked seen);
 * false for a repeat, a counter too far behind the newest one, or one at or
 * past REJECT_AFTER_MESSAGES.
 */
bool replay_check(struct replay_counter *r, uint64_t nonce) __attribute__((warn_unused_result));

#endif
