/* SPDX-License-Identifier: MIT */
/* braid's control messages (probe.c): what the rest of the core hands them. */
#ifndef BRAID_PROBE_H
#define BRAID_PROBE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "braid.h"

/*
 * A control message (a decrypted payload whose first byte's high nibble is
 * CONTROL_TYPE_V1's) came from `from`: answer a probe, take a reply's
 * measures, learn that the far end is braid. False when it is malformed.
 */
bool probe_received(struct braid_peer *peer, uint64_t now, const struct braid_endpoint *from,
		    const uint8_t *msg, size_t len);

#endif
