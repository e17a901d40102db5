/* SPDX-License-Identifier: MIT */
/*
 * Transport data messages: sealing inner packets into them and opening
 * them again, plus the checks on what comes out.
 */
#ifndef BRAID_TRANSPORT_H
#define BRAID_TRANSPORT_H

#include <stddef.h>
#include <stdint.h>

#include "braid.h"

/* The outer TOS for an inner packet: its ECN bits carried out (CE as ECT(0)), no DSCP. */
uint8_t transport_outer_tos(const uint8_t *pkt, size_t len);

enum braid_drop transport_receive(struct braid_device *dev, uint64_t now,
				  const struct braid_endpoint *from, uint8_t *msg, size_t len);

#endif
