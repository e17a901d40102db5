// SPDX-License-Identifier: MIT
/*
 * TEMPORARY, until the core's own braid_peer_source_refused() (path.c)
 * replaces this file: what the event loop did itself before, through the
 * public endpoint calls. It forgets the peer's sticky source whatever to
 * says, as the loop did.
 */
#include <string.h>

#include <braid.h>

void braid_peer_source_refused(struct braid_peer *peer, const struct braid_endpoint *to)
{
	struct braid_endpoint ep;

	if (!braid_peer_get_endpoint(peer, &ep))
		return;
	memset(&ep.src, 0, sizeof(ep.src));
	ep.src_ifindex = 0;
	braid_peer_set_endpoint(peer, &ep);
}
