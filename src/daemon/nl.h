/* SPDX-License-Identifier: MIT */
/*
 * A small netlink client for one-shot commands (braid up and down): build a
 * message or a batch of them with nested attributes, send it, and read the
 * kernel's acknowledgements or a dump. Blocking sockets; everything here runs
 * in the command, never in the daemon's event loop.
 *
 * Messages are built in one growing buffer; a batch is several messages
 * back to back, each with NLM_F_ACK, so the kernel answers every one and the
 * first error is reported (nf_tables applies a batch all or nothing).
 */
#ifndef BRAID_NL_H
#define BRAID_NL_H

#include <linux/netlink.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct nl_buf {
	uint8_t *data;
	size_t len, cap;
	size_t msg;		/* offset of the message being built */
	bool failed;		/* out of memory: every later put is ignored */
};

struct nl_sock {
	int fd;
	uint32_t seq;		/* of the last message built */
};

/* 0 or -errno. protocol: NETLINK_ROUTE or NETLINK_NETFILTER. */
int nl_open(struct nl_sock *s, int protocol);
void nl_close(struct nl_sock *s);

/* Start a message with a fixed header of hdr_len bytes (copied from hdr); returns its seq. */
uint32_t nl_msg(struct nl_sock *s, struct nl_buf *b, uint16_t type, uint16_t flags,
		const void *hdr, size_t hdr_len);
void nl_put(struct nl_buf *b, uint16_t type, const void *data, size_t len);
void nl_put_u8(struct nl_buf *b, uint16_t type, uint8_t v);
void nl_put_u32(struct nl_buf *b, uint16_t type, uint32_t v);
void nl_put_be32(struct nl_buf *b, uint16_t type, uint32_t v);
void nl_put_str(struct nl_buf *b, uint16_t type, const char *s);
/* A nested attribute: returns the offset nl_nest_end() closes. */
size_t nl_nest(struct nl_buf *b, uint16_t type);
void nl_nest_end(struct nl_buf *b, size_t at);
void nl_buf_free(struct nl_buf *b);

/*
 * Send every message in b and read the answers up to the one for last_seq:
 * 0, or the first error the kernel reported (-errno).
 */
int nl_transact(struct nl_sock *s, struct nl_buf *b, uint32_t last_seq);

/* A dump (or one reply): fn is called for each message until it returns non-zero. */
typedef int nl_msg_fn(const struct nlmsghdr *nh, void *ctx);
int nl_dump(struct nl_sock *s, struct nl_buf *b, nl_msg_fn *fn, void *ctx);

/* Attributes of a message after a fixed header of hdr_len: tb[type] or NULL, type <= max. */
void nl_parse(const struct nlmsghdr *nh, size_t hdr_len, const struct nlattr **tb, int max);
/* The same within a nested attribute. */
void nl_parse_nested(const struct nlattr *nest, const struct nlattr **tb, int max);
uint32_t nl_get_u32(const struct nlattr *a);
const void *nl_data(const struct nlattr *a);
size_t nl_len(const struct nlattr *a);

#endif
