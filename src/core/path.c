// SPDX-License-Identifier: MIT
/*
 * A peer's path (see path.h), after the kernel's socket.c: the endpoint
 * moves only with authenticated packets, the sticky source with it, and the
 * source is dropped, never guessed, when it may be stale.
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>

#include "device.h"
#include "path.h"
#include "peer.h"

static bool is_ip(const struct braid_endpoint *ep)
{
	return ep->addr.sa.sa_family == AF_INET || ep->addr.sa.sa_family == AF_INET6;
}

static void forget_source(struct braid_endpoint *ep)
{
	memset(&ep->src, 0, sizeof(ep->src));
	ep->src_ifindex = 0;
}

void path_init(struct path *path)
{
	memset(path, 0, sizeof(*path));
}

const struct braid_endpoint *path_select(const struct braid_peer *peer)
{
	return peer->path.has_endpoint ? &peer->path.endpoint : NULL;
}

bool path_send(struct braid_peer *peer, const uint8_t *buf, size_t len, uint8_t tos)
{
	struct braid_device *dev = peer->dev;
	const struct braid_endpoint *to = path_select(peer);

	if (!to)
		return false;
	dev->ops->send(dev->ctx, peer, to, buf, len, tos);
	return true;
}

void path_received_from(struct braid_peer *peer, const struct braid_endpoint *from)
{
	if (!is_ip(from))
		return;
	peer->path.endpoint = *from;
	peer->path.has_endpoint = true;
}

void path_clear_source(struct braid_peer *peer)
{
	forget_source(&peer->path.endpoint);
}

/* The source to->src was in use when the host refused it; a newer one is kept. */
static bool same_source(const struct braid_endpoint *a, const struct braid_endpoint *b)
{
	if (a->addr.sa.sa_family != b->addr.sa.sa_family)
		return false;
	if (a->addr.sa.sa_family == AF_INET)
		return a->src.in4.s_addr == b->src.in4.s_addr;
	return !memcmp(&a->src.in6, &b->src.in6, sizeof(a->src.in6));
}

void braid_peer_source_refused(struct braid_peer *peer, const struct braid_endpoint *to)
{
	if (peer->path.has_endpoint && same_source(&peer->path.endpoint, to))
		path_clear_source(peer);
}

void braid_peer_set_endpoint(struct braid_peer *peer, const struct braid_endpoint *endpoint)
{
	peer->path.endpoint = *endpoint;
	peer->path.has_endpoint = is_ip(endpoint);
	forget_source(&peer->path.endpoint);
}

bool braid_peer_get_endpoint(const struct braid_peer *peer, struct braid_endpoint *endpoint)
{
	const struct braid_endpoint *ep = path_select(peer);

	if (!ep)
		return false;
	*endpoint = *ep;
	return true;
}

const char *endpoint_str(const struct braid_endpoint *ep, char buf[ENDPOINT_STR_LEN])
{
	char addr[INET6_ADDRSTRLEN];

	if (ep && ep->addr.sa.sa_family == AF_INET) {
		inet_ntop(AF_INET, &ep->addr.in4.sin_addr, addr, sizeof(addr));
		snprintf(buf, ENDPOINT_STR_LEN, "%s:%u", addr, ntohs(ep->addr.in4.sin_port));
	} else if (ep && ep->addr.sa.sa_family == AF_INET6) {
		inet_ntop(AF_INET6, &ep->addr.in6.sin6_addr, addr, sizeof(addr));
		snprintf(buf, ENDPOINT_STR_LEN, "[%s]:%u", addr, ntohs(ep->addr.in6.sin6_port));
	} else {
		snprintf(buf, ENDPOINT_STR_LEN, "(none)");
	}
	return buf;
}

const char *path_str(const struct braid_peer *peer, char buf[ENDPOINT_STR_LEN])
{
	return endpoint_str(path_select(peer), buf);
}
