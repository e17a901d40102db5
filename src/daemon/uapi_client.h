/* SPDX-License-Identifier: MIT */
/*
 * The client side of the UAPI socket, for braid's own commands (set, show,
 * up, down): build a request, send it, read the reply through its
 * "errno=N" and empty line. Request buffers hold private keys: they are
 * wiped when freed.
 */
#ifndef BRAID_UAPI_CLIENT_H
#define BRAID_UAPI_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct uapi_request {
	char *buf;
	size_t len, cap;
	bool failed;		/* out of memory: the request must not be sent */
};

/* Append "key=value\n" (value formatted); a "set=1" or "get=1" line goes first. */
void uapi_request_add(struct uapi_request *r, const char *key, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* Append a raw line; "" ends the operation. */
void uapi_request_line(struct uapi_request *r, const char *line);
void uapi_request_free(struct uapi_request *r);

/* A connected socket for ifname's daemon, or -1 with errno set. */
int uapi_client_connect(const char *ifname);
/* Is a live daemon serving ifname? */
bool uapi_client_is_up(const char *ifname);

/*
 * Send request (one or more operations ending with empty lines) and read
 * the reply of the last one; NULL with errno set when the daemon cannot be
 * reached. The caller frees the reply.
 */
char *uapi_client_transact(const char *ifname, const char *request);
/* The errno=N of a reply (0 on success, negative otherwise); -EPROTO when there is none. */
int uapi_client_errno(const char *reply);

/*
 * The interfaces with a socket in the UAPI directory, sorted, as one
 * allocation of NUL-separated names; the count in *n. NULL when none.
 */
char *uapi_client_list(size_t *n);

#endif
