/* SPDX-License-Identifier: MIT */
/*
 * The WireGuard cross-platform configuration protocol ("UAPI"), as wg(8)
 * speaks it over /var/run/wireguard/IFNAME.sock: text in, text out, applied
 * to a braid_device. No sockets here: uapi_sock.c moves the bytes.
 *
 * An operation is a line "get=1" or "set=1", key=value lines, and an empty
 * line. Each reply ends "errno=N" and an empty line, with N = 0 or a negative
 * errno, as wireguard-go writes it and wg's ipc-uapi.h reads it back.
 */
#ifndef BRAID_UAPI_H
#define BRAID_UAPI_H

#include <braid.h>
#include <sys/types.h>

enum uapi_limits {
	/* No valid line comes close; an endpoint with a zone is under 80 bytes. */
	UAPI_LINE_MAX = 4096,
	/* One operation, buffered whole so it can be validated before it is applied. */
	UAPI_REQUEST_MAX = 32 << 20,
};

/* What the UAPI needs besides the device: the UDP sockets. */
struct uapi_host_ops {
	/* The port the sockets are bound to (the kernel's pick when 0 was asked for). */
	uint16_t (*get_listen_port)(void *ctx);
	uint32_t (*get_fwmark)(void *ctx);
	/*
	 * Move to a new listen port (0 = any) and/or fwmark (0 = none), all or
	 * nothing: 0, or -errno with the old sockets and mark kept.
	 */
	int (*set_net)(void *ctx, bool set_port, uint16_t port, bool set_mark, uint32_t mark);
};

struct mp_config;
struct resolver;

struct uapi {
	struct braid_device *dev;
	const struct uapi_host_ops *host;
	void *host_ctx;
	struct mp_config *mp;		/* multipath specs; NULL: the braid_path keys are refused */
	struct resolver *resolver;	/* endpoint names; NULL: braid_endpoint_name is refused */
};

/* A growing reply buffer; failed is set (and the text dropped) when memory runs out. */
struct uapi_buf {
	char *data;
	size_t len, cap;
	bool failed;
};

void uapi_buf_free(struct uapi_buf *buf);

/*
 * Find the end of the first operation in in[0, len): its length (through
 * the empty line), 0 when more input is needed, or -EPROTO when no valid
 * operation can start this way (a line over UAPI_LINE_MAX, a request over
 * UAPI_REQUEST_MAX). *scanned carries how far earlier calls looked; start at 0
 * and reset it after each operation.
 */
ssize_t uapi_frame(const char *in, size_t len, size_t *scanned);

/*
 * Run one framed operation and append its reply. False when the connection
 * should close after the reply (the client does not speak this protocol).
 */
bool uapi_execute(struct uapi *u, uint64_t now, const char *op, size_t len,
		  struct uapi_buf *out);

/*
 * Run every operation in a complete input (as a client that sent in[] and
 * then closed its side): input ending inside an operation is answered with
 * errno=-EPROTO and not applied. False when the connection would close early.
 */
bool uapi_process(struct uapi *u, uint64_t now, const char *in, size_t len,
		  struct uapi_buf *out);

/* Append "errno=N" and the empty line. */
void uapi_reply_errno(struct uapi_buf *out, int err);

/* Numeric only: "198.51.100.1:51820" or "[2001:db8::1]:51820" (with an optional %zone). */
bool uapi_parse_endpoint(struct braid_endpoint *ep, const char *value, size_t len);

#endif
