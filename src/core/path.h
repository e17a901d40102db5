/* SPDX-License-Identifier: MIT */
/*
 * A peer's path: where its datagrams go (the endpoint: the peer's address
 * and port) and which local address and interface they leave from (the
 * sticky source: where the peer's last authenticated packet arrived, so a
 * reply leaves from the address the peer sent to).
 *
 * This file is the only place that reads or writes them. The endpoint is
 * set from configuration and moved only by authenticated packets (roaming:
 * handshake initiations and responses, data after the replay check), never
 * by a cookie reply. The sticky source is forgotten when a handshake has to
 * be retried, when the host's routing changes, and when the host refuses to
 * send from it.
 */
#ifndef BRAID_PATH_H
#define BRAID_PATH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "braid.h"

enum { ENDPOINT_STR_LEN = 64 };

struct path {
	struct braid_endpoint endpoint;	/* addr: the peer; src, src_ifindex: the sticky source */
	bool has_endpoint;
};

struct braid_peer;

void path_init(struct path *path);

/* Where the next datagram to the peer goes; NULL while the peer has no endpoint. */
const struct braid_endpoint *path_select(const struct braid_peer *peer);

/* Hand one datagram to the caller for the peer's endpoint; false when it has none. */
bool path_send(struct braid_peer *peer, const uint8_t *buf, size_t len, uint8_t tos);

/* An authenticated packet of the peer's arrived from `from`: the peer is there now. */
void path_received_from(struct braid_peer *peer, const struct braid_endpoint *from);

/* Let the host choose the source address again. */
void path_clear_source(struct braid_peer *peer);

/* Human-readable endpoint for logs: "198.51.100.1:51820", "[2001:db8::1]:51820" or "(none)". */
const char *endpoint_str(const struct braid_endpoint *ep, char buf[ENDPOINT_STR_LEN]);
/* The peer's endpoint, for logs. */
const char *path_str(const struct braid_peer *peer, char buf[ENDPOINT_STR_LEN]);

#endif
