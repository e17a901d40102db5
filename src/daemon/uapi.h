/* SPDX-License-Identifier: MIT */
/*
 * The WireGuard cross-platform configuration protocol ("UAPI"), as wg(8)
 * speaks it over /var/run/wireguard/IFNAME.sock: text in, text out, applied
 * to a braid_device. No sockets here: uapi_sock.c moves the bytes.
 *
 * An operation is a line "get=1" or "set=1", key=value lines, and an empty
 * line. Each reply ends "errno=N" and an empty line, with N = 0 or a negative
 * errno, as wireguard-go writes it and wg's ipc-uapi.h reads it back.
 *
 * A connection is a session: its input is parsed line by line as it arrives
 * (a set into a compact, validated form, so that nothing is applied unless
 * all of it is valid), and a complete operation then runs a slice at a time
 * (uapi_session_run()), so that the caller can serve packets in between: a
 * set of a million peers, or the get of them, never holds the event loop for
 * more than a slice.
 */
#ifndef BRAID_UAPI_H
#define BRAID_UAPI_H

#include <braid.h>
#include <sys/types.h>

enum uapi_limits {
	/* No valid line comes close; an endpoint with a zone is under 80 bytes. */
	UAPI_LINE_MAX = 4096,
	/*
	 * A set is kept, parsed, until it is complete; this much at most (a peer
	 * with an endpoint and two IPv6 allowed IPs takes about 110 bytes, so
	 * the kernel's 2^20 peers fit many times over). Past it: -E2BIG.
	 */
	UAPI_SET_MAX = 1 << 30,
	/* A get pauses once its reply holds this much, until the client reads it. */
	UAPI_REPLY_HIGH = 256 << 10,
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
/* Append one formatted line (shorter than 256 bytes). */
void uapi_buf_printf(struct uapi_buf *buf, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* The names of enum braid_multipath, as braid_multipath= reads and writes them. */
extern const char *const uapi_multipath_modes[BRAID_MULTIPATH_AGGREGATE_FLOW + 1];

struct uapi_session;

/* A connection's session; NULL when out of memory. */
struct uapi_session *uapi_session_new(struct uapi *u);
/* Drop whatever is parsed or running; nothing more is applied. */
void uapi_session_free(struct uapi_session *s);

/*
 * Parse the whole lines at the start of in[0, len), up to the end of the
 * first operation that must run (then uapi_session_run()); replies to
 * operations refused on the spot go to out. Returns how many bytes it took
 * (a partial line is left for later), or -EPROTO when a line is longer than
 * UAPI_LINE_MAX (answered; the connection must close). Takes nothing while
 * an operation runs or once the session is closing.
 */
ssize_t uapi_session_feed(struct uapi_session *s, const char *in, size_t len,
			  struct uapi_buf *out);
/*
 * The client closed its side with `pending` bytes unparsed: an operation it
 * cut off is answered -EPROTO (then true) and not applied.
 */
bool uapi_session_end(struct uapi_session *s, size_t pending, struct uapi_buf *out);

/* Whether a complete operation waits for uapi_session_run(). */
bool uapi_session_has_op(const struct uapi_session *s);
/* Whether that operation is a set: one set at a time may run on a device. */
bool uapi_session_op_is_set(const struct uapi_session *s);
/*
 * Run the operation for at most `budget` units (a peer applied, removed or
 * written), appending to out; true once it is finished and answered. A get
 * stops early when out holds UAPI_REPLY_HIGH bytes.
 */
bool uapi_session_run(struct uapi_session *s, uint64_t now, struct uapi_buf *out,
		      size_t budget);
/* False once the connection should close after its replies (it does not speak this protocol). */
bool uapi_session_keep(const struct uapi_session *s);

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
