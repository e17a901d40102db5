/* SPDX-License-Identifier: MIT */
/* Aggregation (aggregate.c): what the rest of the core hands it. */
#ifndef BRAID_AGGREGATE_H
#define BRAID_AGGREGATE_H

#include <stddef.h>
#include <stdint.h>

#include "braid.h"

/*
 * Hand an inner packet to the caller, counter of keypair_id, come by path
 * (its slot, -1: none): at once, or, when the far end aggregates per packet,
 * in counter order (reorder.h). len 0: the counter carried nothing to
 * deliver, but takes its place in the order.
 */
void aggregate_deliver(struct braid_peer *peer, uint64_t now, uint64_t keypair_id,
		       uint64_t counter, int path, uint8_t *pkt, size_t len);

#endif
