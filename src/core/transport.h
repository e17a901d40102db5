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

/* The peer whose allowed IPs hold pkt's destination, or NULL. */
struct braid_peer *transport_route(struct braid_device *dev, const uint8_t *pkt, size_t len);

/*
 * Reserve n consecutive nonces on the peer's current sending keypair and
 * return a reference to it, with the first nonce in *first_nonce; NULL when
 * there is no usable keypair (then stage the packets: peer_stage_packet()).
 */
struct braid_keypair *transport_send_begin(struct braid_peer *peer, uint64_t now, size_t n,
					   uint64_t *first_nonce);

/* After n_data data messages (keepalives not counted), bytes in all, went to the peer. */
void transport_data_sent(struct braid_peer *peer, uint64_t now, size_t n_data, size_t bytes);

/* For a transport message, the keypair its receiver index names (a new reference), or NULL. */
struct braid_keypair *transport_data_keypair(struct braid_device *dev, uint64_t now,
					     const uint8_t *msg, size_t len, enum braid_drop *why);

/*
 * Finish a message braid_keypair_open() accepted: replay check, roaming,
 * session confirmation, timers, the allowed-IPs source check and delivery.
 */
enum braid_drop transport_data_done(struct braid_device *dev, uint64_t now,
				    struct braid_keypair *kp, const struct braid_endpoint *from,
				    uint64_t nonce, uint8_t *inner, size_t inner_len);

/* A whole transport message on the calling thread: open, then transport_data_done(). */
enum braid_drop transport_receive(struct braid_device *dev, uint64_t now,
				  const struct braid_endpoint *from, uint8_t *msg, size_t len);

#endif
