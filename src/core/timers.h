/* SPDX-License-Identifier: MIT */
/*
 * Per-peer timers as deadlines. Hooks (timers_*) record that something
 * happened and move deadlines; expiry handlers run from timers_tick(),
 * which the device calls from braid_device_tick(). BRAID_NEVER is "not
 * pending" for a deadline, and "never" for when something last happened.
 */
#ifndef BRAID_TIMERS_H
#define BRAID_TIMERS_H

#include <stdbool.h>
#include <stdint.h>

struct braid_peer;

void timers_init(struct braid_peer *peer);
void timers_stop(struct braid_peer *peer);

void timers_data_sent(struct braid_peer *peer, uint64_t now);
void timers_data_received(struct braid_peer *peer, uint64_t now);
void timers_any_authenticated_packet_sent(struct braid_peer *peer);
void timers_any_authenticated_packet_received(struct braid_peer *peer);
void timers_handshake_initiated(struct braid_peer *peer, uint64_t now);
void timers_handshake_complete(struct braid_peer *peer, uint64_t now);
void timers_session_derived(struct braid_peer *peer, uint64_t now);
void timers_any_authenticated_packet_traversal(struct braid_peer *peer, uint64_t now);

/* Fire the peer's due timers; returns its next deadline. */
uint64_t timers_tick(struct braid_peer *peer, uint64_t now);
uint64_t timers_next_deadline(const struct braid_peer *peer);

#endif
