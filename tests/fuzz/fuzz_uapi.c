// SPDX-License-Identifier: MIT
/*
 * libFuzzer target: the UAPI text protocol (src/daemon/uapi.c) applied to a
 * real braid_device with fake sockets.
 *
 * The first input byte picks the mode, the rest is what a client sent:
 *  - bit 0: set_net fails (a listen port in use), so applying a set fails
 *  - bit 1: run it through uapi_process() whole; otherwise fed to a session
 *    a few bytes at a time (as the socket code feeds it) and run in small
 *    slices, with a get before and after each operation
 *  - bits 2-4: the chunk size, bits 5-7 the slice size
 *
 * What must hold, besides the sanitizers:
 *  - fed in chunks and run in slices, the input gets the same replies as
 *    when it is processed whole
 *  - every reply is a run of key=value lines ending "errno=N" and an empty
 *    line, and a get answers errno=0
 *  - a set that fails changes nothing: get shows the same text before and after
 *  - get after set round-trips: its configuration lines, sent as a set to a
 *    fresh device, give the same get output (counters aside)
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "braid.h"
#include "log.h"
#include "multipath.h"
#include "resolver.h"
#include "uapi.h"

#define NOW (42ULL * 1000000000ULL)

struct fake_host {
	uint16_t port;
	uint32_t fwmark;
	bool fail;
	uint64_t rng;
};

static void check(bool ok, const char *what)
{
	if (!ok) {
		fprintf(stderr, "fuzz_uapi: broken promise: %s\n", what);
		abort();
	}
}

static void fake_send(void *ctx, struct braid_peer *peer, const struct braid_endpoint *to,
		      const uint8_t *buf, size_t len, uint8_t tos)
{
}

static void fake_send_reply(void *ctx, const struct braid_endpoint *to, const uint8_t *buf,
			    size_t len)
{
}

static void fake_deliver(void *ctx, struct braid_peer *peer, uint8_t *pkt, size_t len)
{
}

static void fake_random(void *ctx, void *buf, size_t len)
{
	struct fake_host *h = ctx;
	uint8_t *p = buf;

	while (len--) {
		h->rng = h->rng * 6364136223846793005ULL + 1442695040888963407ULL;
		*p++ = (uint8_t)(h->rng >> 56);
	}
}

static uint64_t fake_wall_clock(void *ctx)
{
	return 1700000000ULL * 1000000000ULL;
}

static const struct braid_ops ops = {
	.send = fake_send,
	.send_reply = fake_send_reply,
	.deliver = fake_deliver,
	.random = fake_random,
	.wall_clock_ns = fake_wall_clock,
};

static uint16_t host_get_port(void *ctx)
{
	return ((struct fake_host *)ctx)->port;
}

static uint32_t host_get_fwmark(void *ctx)
{
	return ((struct fake_host *)ctx)->fwmark;
}

static int host_set_net(void *ctx, bool set_port, uint16_t port, bool set_mark, uint32_t mark)
{
	struct fake_host *h = ctx;

	if (h->fail)
		return -EADDRINUSE;
	if (set_port)
		h->port = port ? port : 34567;	/* the kernel's pick */
	if (set_mark)
		h->fwmark = mark;
	return 0;
}

static const struct uapi_host_ops host_ops = {
	.get_listen_port = host_get_port,
	.get_fwmark = host_get_fwmark,
	.set_net = host_set_net,
};

struct instance {
	struct fake_host host;
	struct uapi u;
	struct mp_config mp;
	struct uplinks uplinks;		/* none */
	struct resolver names;		/* braid_endpoint_name, without a resolver process */
};

static void instance_init(struct instance *in, bool fail)
{
	memset(in, 0, sizeof(*in));
	in->host.fail = fail;
	in->host.rng = 0x243f6a8885a308d3ULL;
	in->u.dev = braid_device_new(NULL, &ops, &in->host);
	check(in->u.dev != NULL, "creating a device");
	in->u.host = &host_ops;
	in->u.host_ctx = &in->host;
	/* Multipath specs expand against no uplinks: paths exist, down; no route checks. */
	in->mp.route_fd = -1;
	in->mp.uplinks = &in->uplinks;
	in->u.mp = &in->mp;
	in->names.w.fd = -1;
	in->u.resolver = &in->names;
}

/*
 * A reply is key=value lines, then "errno=N" and an empty line. Checks the
 * one starting at out->data[from]; returns N and where the next one starts.
 */
static long check_reply_at(const struct uapi_buf *out, size_t from, size_t *next)
{
	const char *p, *end, *nl;
	long err;
	char *num_end;

	check(!out->failed, "reply buffer did not fail");
	check(out->len >= from + 9, "a reply was written");
	p = out->data + from;
	end = out->data + out->len;
	for (;; p = nl + 1) {
		nl = memchr(p, '\n', end - p);
		check(nl && nl > p, "reply lines are not empty");
		check(memchr(p, '=', nl - p) != NULL, "reply lines are key=value");
		if (!strncmp(p, "errno=", 6))
			break;
	}
	err = strtol(p + 6, &num_end, 10);
	check(num_end == nl && err <= 0, "errno is 0 or negative");
	check(nl + 1 < end && nl[1] == '\n', "errno is followed by an empty line");
	*next = nl + 2 - out->data;
	return err;
}

/* Exactly one reply, from offset from to the end. */
static long check_reply(const struct uapi_buf *out, size_t from)
{
	size_t next;
	long err = check_reply_at(out, from, &next);

	check(next == out->len, "nothing after the reply");
	return err;
}

static void get(struct instance *in, struct uapi_buf *out)
{
	static const char req[] = "get=1\n\n";

	memset(out, 0, sizeof(*out));
	check(uapi_process(&in->u, NOW, req, sizeof(req) - 1, out), "get keeps the connection");
	check(check_reply(out, 0) == 0, "get answers errno=0");
}

static bool is_counter(const char *line, size_t len)
{
	static const char *const keys[] = {
		"last_handshake_time_sec=", "last_handshake_time_nsec=", "tx_bytes=", "rx_bytes=",
		"errno=",
		/* braid's view of multipath: state, not configuration (braid_path has another form in set) */
		"braid_",
	};
	size_t i;

	for (i = 0; i < sizeof(keys) / sizeof(keys[0]); ++i)
		if (len >= strlen(keys[i]) && !strncmp(line, keys[i], strlen(keys[i])))
			return true;
	return false;
}

/* The configuration lines of a get reply (no counters, no errno), each ending in '\n'. */
static char *config_lines(const struct uapi_buf *out, const char *prefix)
{
	size_t prefix_len = strlen(prefix), n = prefix_len;
	const char *p = out->data, *end = out->data + out->len, *nl;
	char *s = malloc(out->len + prefix_len + 2);

	check(s != NULL, "memory");
	memcpy(s, prefix, prefix_len);
	for (; p < end && *p != '\n'; p = nl + 1) {
		nl = memchr(p, '\n', end - p);
		if (is_counter(p, nl - p))
			continue;
		memcpy(s + n, p, nl + 1 - p);
		n += nl + 1 - p;
	}
	s[n] = '\0';
	return s;
}

/* Send get's configuration to a fresh device: its get must say the same. */
static void check_round_trip(struct instance *in)
{
	struct instance fresh;
	struct uapi_buf out1, out2, reply = { 0 };
	char *set, *conf1, *conf2;

	get(in, &out1);
	conf1 = config_lines(&out1, "");
	set = config_lines(&out1, "set=1\nreplace_peers=true\n");
	strcat(set, "\n");

	instance_init(&fresh, false);
	check(uapi_process(&fresh.u, NOW, set, strlen(set), &reply), "set keeps the connection");
	if (check_reply(&reply, 0) != 0) {
		fprintf(stderr, "set:\n%s\nreply:\n%.*s", set, (int)reply.len, reply.data);
		check(false, "get's output is a valid set");
	}
	get(&fresh, &out2);
	conf2 = config_lines(&out2, "");
	if (strcmp(conf1, conf2)) {
		fprintf(stderr, "before:\n%s\nafter:\n%s", conf1, conf2);
		check(false, "get, set on a fresh device, get: the same configuration");
	}
	braid_device_free(fresh.u.dev);
	mp_config_free(&fresh.mp);
	resolver_stop(&fresh.names);
	uapi_buf_free(&out1);
	uapi_buf_free(&out2);
	uapi_buf_free(&reply);
	free(set);
	free(conf1);
	free(conf2);
}

/* Whether the connection's operations so far include a set that failed. */
static bool is_failed_set(const struct uapi_buf *reply, size_t from, bool was_set)
{
	size_t next;

	return was_set && check_reply_at(reply, from, &next) != 0;
}

/*
 * Fed chunk bytes at a time and run slice units at a time, as the socket
 * code does; a get before and after each operation, and a set that fails
 * must leave get's output as it was. The replies are compared with
 * processing the input whole, on a device in the same state.
 */
static void run_in_pieces(struct instance *in, const char *req, size_t len, size_t chunk,
			  size_t slice, const struct uapi_buf *whole)
{
	struct uapi_buf before = { 0 }, after, reply = { 0 };
	struct uapi_session *s = uapi_session_new(&in->u);
	size_t have = 0, used = 0, from;
	ssize_t n;
	bool was_set;

	check(s != NULL, "a session");
	for (;;) {
		have = have + chunk < len ? have + chunk : len;
		n = uapi_session_feed(s, req + used, have - used, &reply);
		if (n < 0)
			break;
		used += n;
		if (uapi_session_has_op(s)) {
			was_set = uapi_session_op_is_set(s);
			get(in, &before);
			from = reply.len;
			while (!uapi_session_run(s, NOW, &reply, slice))
				;
			get(in, &after);
			if (is_failed_set(&reply, from, was_set) &&
			    (before.len != after.len || memcmp(before.data, after.data, before.len))) {
				fprintf(stderr, "before:\n%.*s\nafter:\n%.*s", (int)before.len,
					before.data, (int)after.len, after.data);
				check(false, "a failed set changes nothing");
			}
			uapi_buf_free(&before);
			uapi_buf_free(&after);
			continue;
		}
		if (have == len && !n)
			break;
	}
	uapi_session_end(s, len - used, &reply);
	uapi_session_free(s);
	if (reply.len != whole->len || (reply.len && memcmp(reply.data, whole->data, reply.len))) {
		fprintf(stderr, "in pieces:\n%.*s\nwhole:\n%.*s", (int)reply.len, reply.data,
			(int)whole->len, whole->data);
		check(false, "fed in pieces, the replies are those of the whole input");
	}
	uapi_buf_free(&reply);
}

int LLVMFuzzerInitialize(int *argc, char ***argv);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	if (!braid_init())
		abort();
	log_init(LOG_SILENT, NULL);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct instance in;
	struct uapi_buf out = { 0 };
	const char *req = (const char *)data + 1;
	size_t len;
	uint8_t mode;

	if (!size)
		return 0;
	mode = data[0];
	len = size - 1;

	instance_init(&in, mode & 1);
	uapi_process(&in.u, NOW, req, len, &out);
	for (size_t at = 0; at < out.len;)
		check_reply_at(&out, at, &at);
	check(!len || out.len, "every request is answered");
	if (!(mode & 2)) {
		struct instance pieces;

		instance_init(&pieces, mode & 1);
		run_in_pieces(&pieces, req, len, 1 + (mode >> 2 & 7) * 5, 1 + (mode >> 5), &out);
		check_round_trip(&pieces);
		braid_device_free(pieces.u.dev);
		mp_config_free(&pieces.mp);
	}
	uapi_buf_free(&out);
	check_round_trip(&in);
	braid_device_free(in.u.dev);
	mp_config_free(&in.mp);
	resolver_stop(&in.names);
	return 0;
}
