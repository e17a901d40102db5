// SPDX-License-Identifier: MIT
/*
 * A small netlink client for one-shot commands (see nl.h). Every answer is
 * read with a time limit: a kernel that says nothing (a message without
 * NLM_F_ACK that succeeded) must not hang `braid up`.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "nl.h"

enum { NL_READ_TIMEOUT_MS = 3000 };

int nl_open(struct nl_sock *s, int protocol)
{
	struct sockaddr_nl sa = { .nl_family = AF_NETLINK };
	int ret, one = 1;

	s->seq = 0;
	s->fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, protocol);
	if (s->fd < 0)
		return -errno;
	/* Error messages without the request copied back: we only need the seq. */
	setsockopt(s->fd, SOL_NETLINK, NETLINK_CAP_ACK, &one, sizeof(one));
	if (bind(s->fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		ret = -errno;
		close(s->fd);
		s->fd = -1;
		return ret;
	}
	return 0;
}

void nl_close(struct nl_sock *s)
{
	if (s->fd >= 0)
		close(s->fd);
	s->fd = -1;
}

static bool reserve(struct nl_buf *b, size_t more)
{
	size_t cap = b->cap ? b->cap : 1024;
	uint8_t *data;

	if (b->failed)
		return false;
	if (b->len + more <= b->cap)
		return true;
	while (cap < b->len + more)
		cap *= 2;
	data = realloc(b->data, cap);
	if (!data) {
		b->failed = true;
		return false;
	}
	memset(data + b->cap, 0, cap - b->cap);
	b->data = data;
	b->cap = cap;
	return true;
}

static struct nlmsghdr *current(struct nl_buf *b)
{
	return (struct nlmsghdr *)(b->data + b->msg);
}

uint32_t nl_msg(struct nl_sock *s, struct nl_buf *b, uint16_t type, uint16_t flags,
		const void *hdr, size_t hdr_len)
{
	size_t need = NLMSG_HDRLEN + NLMSG_ALIGN(hdr_len);
	struct nlmsghdr *nh;

	s->seq++;
	if (!reserve(b, need))
		return s->seq;
	b->msg = b->len;
	nh = current(b);
	memset(nh, 0, need);
	nh->nlmsg_len = (uint32_t)need;
	nh->nlmsg_type = type;
	nh->nlmsg_flags = NLM_F_REQUEST | flags;
	nh->nlmsg_seq = s->seq;
	if (hdr_len)
		memcpy(NLMSG_DATA(nh), hdr, hdr_len);
	b->len += need;
	return s->seq;
}

void nl_put(struct nl_buf *b, uint16_t type, const void *data, size_t len)
{
	size_t need = NLA_ALIGN(NLA_HDRLEN + len);
	struct nlattr *a;

	if (!reserve(b, need))
		return;
	a = (struct nlattr *)(b->data + b->len);
	memset(a, 0, need);
	a->nla_type = type;
	a->nla_len = (uint16_t)(NLA_HDRLEN + len);
	if (len)
		memcpy((uint8_t *)a + NLA_HDRLEN, data, len);
	b->len += need;
	current(b)->nlmsg_len += (uint32_t)need;
}

void nl_put_u8(struct nl_buf *b, uint16_t type, uint8_t v)
{
	nl_put(b, type, &v, sizeof(v));
}

void nl_put_u32(struct nl_buf *b, uint16_t type, uint32_t v)
{
	nl_put(b, type, &v, sizeof(v));
}

void nl_put_be32(struct nl_buf *b, uint16_t type, uint32_t v)
{
	uint32_t be = htonl(v);

	nl_put(b, type, &be, sizeof(be));
}

void nl_put_str(struct nl_buf *b, uint16_t type, const char *s)
{
	nl_put(b, type, s, strlen(s) + 1);
}

size_t nl_nest(struct nl_buf *b, uint16_t type)
{
	size_t at = b->len;

	nl_put(b, type | NLA_F_NESTED, NULL, 0);
	return at;
}

void nl_nest_end(struct nl_buf *b, size_t at)
{
	if (!b->failed)
		((struct nlattr *)(b->data + at))->nla_len = (uint16_t)(b->len - at);
}

void nl_buf_free(struct nl_buf *b)
{
	free(b->data);
	*b = (struct nl_buf){ 0 };
}

static int send_all(struct nl_sock *s, struct nl_buf *b)
{
	struct sockaddr_nl kernel = { .nl_family = AF_NETLINK };
	ssize_t n;

	if (b->failed)
		return -ENOMEM;
	do
		n = sendto(s->fd, b->data, b->len, 0, (struct sockaddr *)&kernel, sizeof(kernel));
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	/* A netlink datagram is taken whole or refused. */
	b->len = b->msg = 0;
	return 0;
}

/* One read of answers into buf; its length, 0 on time-out, or -errno. */
static ssize_t read_answers(struct nl_sock *s, void *buf, size_t len)
{
	struct pollfd p = { .fd = s->fd, .events = POLLIN };
	ssize_t n;
	int r;

	do
		r = poll(&p, 1, NL_READ_TIMEOUT_MS);
	while (r < 0 && errno == EINTR);
	if (r <= 0)
		return r < 0 ? -errno : 0;
	do
		n = recv(s->fd, buf, len, 0);
	while (n < 0 && errno == EINTR);
	return n < 0 ? -errno : n;
}

/*
 * Read until the answer for last_seq (an ack or an error), or until a dump
 * for last_seq is done. fn (when set) sees the dump's messages.
 */
static int read_until(struct nl_sock *s, uint32_t last_seq, nl_msg_fn *fn, void *ctx)
{
	union {
		char buf[32768];
		struct nlmsghdr align;
	} u = { 0 };
	int first_err = 0, stop = 0;

	for (;;) {
		ssize_t n = read_answers(s, u.buf, sizeof(u.buf));
		const struct nlmsghdr *nh;
		size_t left;

		if (n <= 0)
			return first_err ? first_err : n ? (int)n : -ETIMEDOUT;
		for (nh = &u.align, left = (size_t)n; NLMSG_OK(nh, left);
		     nh = NLMSG_NEXT(nh, left)) {
			if (nh->nlmsg_type == NLMSG_ERROR) {
				const struct nlmsgerr *e = NLMSG_DATA(nh);
				int err = nh->nlmsg_len >= NLMSG_LENGTH(sizeof(*e)) ?
					  e->error : -EPROTO;

				if (err && !first_err)
					first_err = err;
				if (nh->nlmsg_seq == last_seq)
					return first_err;
				continue;
			}
			if (nh->nlmsg_seq != last_seq)
				continue;
			if (nh->nlmsg_type == NLMSG_DONE)
				return first_err ? first_err : stop;
			if (fn && !stop)
				stop = fn(nh, ctx);
			if (!(nh->nlmsg_flags & NLM_F_MULTI))
				return first_err ? first_err : stop;
		}
	}
}

int nl_transact(struct nl_sock *s, struct nl_buf *b, uint32_t last_seq)
{
	int ret = send_all(s, b);

	return ret ? ret : read_until(s, last_seq, NULL, NULL);
}

int nl_dump(struct nl_sock *s, struct nl_buf *b, nl_msg_fn *fn, void *ctx)
{
	uint32_t seq = s->seq;
	int ret = send_all(s, b);

	return ret ? ret : read_until(s, seq, fn, ctx);
}

static void parse_attrs(const struct nlattr *a, size_t left, const struct nlattr **tb, int max)
{
	memset(tb, 0, sizeof(*tb) * (size_t)(max + 1));
	while (left >= NLA_HDRLEN && a->nla_len >= NLA_HDRLEN && a->nla_len <= left) {
		int type = a->nla_type & NLA_TYPE_MASK;

		if (type <= max)
			tb[type] = a;
		if ((size_t)NLA_ALIGN(a->nla_len) >= left)
			break;
		left -= NLA_ALIGN(a->nla_len);
		a = (const struct nlattr *)((const uint8_t *)a + NLA_ALIGN(a->nla_len));
	}
}

void nl_parse(const struct nlmsghdr *nh, size_t hdr_len, const struct nlattr **tb, int max)
{
	size_t start = NLMSG_HDRLEN + NLMSG_ALIGN(hdr_len);

	if (nh->nlmsg_len < start) {
		memset(tb, 0, sizeof(*tb) * (size_t)(max + 1));
		return;
	}
	parse_attrs((const struct nlattr *)((const uint8_t *)nh + start), nh->nlmsg_len - start,
		    tb, max);
}

void nl_parse_nested(const struct nlattr *nest, const struct nlattr **tb, int max)
{
	parse_attrs((const struct nlattr *)((const uint8_t *)nest + NLA_HDRLEN),
		    nest->nla_len - NLA_HDRLEN, tb, max);
}

uint32_t nl_get_u32(const struct nlattr *a)
{
	uint32_t v = 0;

	if (a && nl_len(a) >= sizeof(v))
		memcpy(&v, nl_data(a), sizeof(v));
	return v;
}

const void *nl_data(const struct nlattr *a)
{
	return (const uint8_t *)a + NLA_HDRLEN;
}

size_t nl_len(const struct nlattr *a)
{
	return a->nla_len - NLA_HDRLEN;
}
