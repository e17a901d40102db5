/* SPDX-License-Identifier: MIT */
/*
 * A UAPI get in progress (uapi_get.c): its reply written a slice at a time.
 * Only uapi.c's sessions use it.
 */
#ifndef BRAID_UAPI_GET_H
#define BRAID_UAPI_GET_H

#include "uapi.h"

/* A zeroed one (or uapi_get_start()) has written nothing yet. */
struct uapi_get {
	bool started;
	struct braid_peer_cursor cursor;
};

void uapi_get_start(struct uapi_get *g);
/*
 * Write the device's lines, then up to budget peers (at least one, when
 * any is left), stopping once out holds UAPI_REPLY_HIGH bytes; true when the
 * reply is complete, "errno=0" included.
 */
bool uapi_get_run(struct uapi_get *g, struct uapi *u, uint64_t now, struct uapi_buf *out,
		  size_t budget);
/* Give up a get before it finished (the connection went away). */
void uapi_get_stop(struct uapi_get *g);

#endif
