// SPDX-License-Identifier: MIT
/*
 * The UAPI text protocol against a real braid_device with fake I/O: every
 * key round-trips through set and get, the peer-section semantics match
 * wireguard-go's, and every malformed request answers the right errno with
 * nothing applied (the get output is compared before and after). With many
 * peers (BRAID_TEST_SCALE, 100,000 by default; the Makefile's unit-valgrind
 * sets fewer): a setconf fed in chunks and run in slices while a get runs
 * its own, a one-line change, removing them all, and the peer limit.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "log.h"
#include "resolver.h"
#include "uapi.h"

/* ---- Fakes: the device's I/O and the UDP sockets ---- */

static unsigned int datagrams_sent;
static uint64_t rng_state = 0x243f6a8885a308d3ULL;

static void fake_send(void *ctx, struct braid_peer *peer, const struct braid_endpoint *to,
		      const uint8_t *buf, size_t len, uint8_t tos)
{
	datagrams_sent++;
}

static void fake_send_reply(void *ctx, const struct braid_endpoint *to, const uint8_t *buf,
			    size_t len)
{
	datagrams_sent++;
}

static void fake_deliver(void *ctx, struct braid_peer *peer, uint8_t *pkt, size_t len)
{
}

/* Deterministic: the tests need repeatable keys, not secret ones. */
static void fake_random(void *ctx, void *buf, size_t len)
{
	uint8_t *p = buf;

	for (size_t i = 0; i < len; i++) {
		rng_state = rng_state * 6364136223846793005ULL + 1442695040888963407ULL;
		p[i] = rng_state >> 56;
	}
}

static uint64_t fake_wall_clock(void *ctx)
{
	return 1700000000ULL * 1000000000ULL;
}

static const struct braid_ops fake_ops = {
	.send = fake_send,
	.send_reply = fake_send_reply,
	.deliver = fake_deliver,
	.random = fake_random,
	.wall_clock_ns = fake_wall_clock,
};

struct fake_net {
	uint16_t port;
	uint32_t fwmark;
	int fail_with;		/* set_net answers this when non-zero */
	unsigned int calls;
};

static uint16_t fake_get_port(void *ctx)
{
	return ((struct fake_net *)ctx)->port;
}

static uint32_t fake_get_fwmark(void *ctx)
{
	return ((struct fake_net *)ctx)->fwmark;
}

static int fake_set_net(void *ctx, bool set_port, uint16_t port, bool set_mark, uint32_t mark)
{
	struct fake_net *net = ctx;

	net->calls++;
	if (net->fail_with)
		return net->fail_with;
	if (set_port)
		net->port = port ? port : 40000;	/* 0: "the kernel picked" */
	if (set_mark)
		net->fwmark = mark;
	return 0;
}

static const struct uapi_host_ops fake_host = {
	.get_listen_port = fake_get_port,
	.get_fwmark = fake_get_fwmark,
	.set_net = fake_set_net,
};

/* ---- Fixture ---- */

struct fixture {
	struct braid_device *dev;
	struct fake_net net;
	struct uapi uapi;
	uint64_t now;
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	struct braid_device_config config = { 0 };

	assert_non_null(f);
	f->dev = braid_device_new(&config, &fake_ops, NULL);
	assert_non_null(f->dev);
	f->net.port = 51820;
	f->uapi = (struct uapi){ .dev = f->dev, .host = &fake_host, .host_ctx = &f->net };
	f->now = 1000000000ULL;
	datagrams_sent = 0;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	braid_device_free(f->dev);
	free(f);
	return 0;
}

/* Run a whole input as one client would send it; return the reply as a C string. */
static char *run(struct fixture *f, const char *in, bool *keep)
{
	struct uapi_buf out = { 0 };
	bool k;
	char *s;

	k = uapi_process(&f->uapi, f->now, in, strlen(in), &out);
	if (keep)
		*keep = k;
	assert_false(out.failed);
	s = malloc(out.len + 1);
	assert_non_null(s);
	memcpy(s, out.data, out.len);
	s[out.len] = '\0';
	uapi_buf_free(&out);
	return s;
}

static void expect_reply(struct fixture *f, const char *in, const char *reply)
{
	char *got = run(f, in, NULL);

	assert_string_equal(got, reply);
	free(got);
}

/* Like expect_reply, and report whether the connection would stay open. */
static bool expect_reply_keep(struct fixture *f, const char *in, const char *reply)
{
	bool keep;
	char *got = run(f, in, &keep);

	assert_string_equal(got, reply);
	free(got);
	return keep;
}

static char *get(struct fixture *f)
{
	return run(f, "get=1\n\n", NULL);
}

/* A key pair from the fake RNG; hex forms for requests. */
struct test_key {
	uint8_t priv[BRAID_KEY_LEN], pub[BRAID_KEY_LEN];
	char priv_hex[65], pub_hex[65];
};

static void make_key(struct test_key *k)
{
	fake_random(NULL, k->priv, sizeof(k->priv));
	braid_clamp_private_key(k->priv);
	braid_public_key(k->pub, k->priv);
	braid_key_to_hex(k->priv_hex, k->priv);
	braid_key_to_hex(k->pub_hex, k->pub);
}

static char *format(const char *fmt, ...)
{
	va_list ap;
	char *s;

	va_start(ap, fmt);
	assert_true(vasprintf(&s, fmt, ap) >= 0);
	va_end(ap);
	return s;
}

static void set_ok(struct fixture *f, const char *fmt, ...)
{
	va_list ap;
	char *s;

	va_start(ap, fmt);
	assert_true(vasprintf(&s, fmt, ap) >= 0);
	va_end(ap);
	expect_reply(f, s, "errno=0\n\n");
	free(s);
}

static bool contains(const char *haystack, const char *needle)
{
	return strstr(haystack, needle) != NULL;
}

/* ---- Device keys ---- */

static void test_get_empty(void **state)
{
	struct fixture *f = *state;

	expect_reply(f, "get=1\n\n", "listen_port=51820\nerrno=0\n\n");
	f->net.port = 0;
	expect_reply(f, "get=1\n\n", "errno=0\n\n");
}

/* braid's own read-only counters appear once non-zero; wg ignores keys it does not know. */
static void test_drop_counters(void **state)
{
	struct fixture *f = *state;
	struct braid_endpoint from = { .addr.in4 = { .sin_family = AF_INET } };
	uint8_t junk[3] = { 9, 9, 9 };
	unsigned int i;

	for (i = 0; i < 3; ++i)
		braid_device_receive(f->dev, f->now, &from, junk, sizeof(junk));
	expect_reply(f, "get=1\n\n", "listen_port=51820\nbraid_drop_malformed=3\nerrno=0\n\n");
}

static void test_private_key_round_trip(void **state)
{
	struct fixture *f = *state;
	struct test_key k;
	char *want, *got;

	make_key(&k);
	set_ok(f, "set=1\nprivate_key=%s\n\n", k.priv_hex);
	want = format("private_key=%s\nlisten_port=51820\nerrno=0\n\n", k.priv_hex);
	got = get(f);
	assert_string_equal(got, want);
	free(got);
	free(want);

	/* All zero removes the key. */
	set_ok(f, "set=1\nprivate_key=%064d\n\n", 0);
	expect_reply(f, "get=1\n\n", "listen_port=51820\nerrno=0\n\n");
}

static void test_private_key_uppercase_hex(void **state)
{
	struct fixture *f = *state;
	struct test_key k;
	char upper[65], *got;

	make_key(&k);
	for (int i = 0; i < 65; i++)
		upper[i] = k.priv_hex[i] >= 'a' && k.priv_hex[i] <= 'f' ?
			   k.priv_hex[i] - 'a' + 'A' : k.priv_hex[i];
	set_ok(f, "set=1\nprivate_key=%s\n\n", upper);
	got = get(f);
	assert_true(contains(got, k.priv_hex));
	free(got);
}

static void test_listen_port_and_fwmark(void **state)
{
	struct fixture *f = *state;

	set_ok(f, "set=1\nlisten_port=12345\nfwmark=51820\n\n");
	assert_int_equal(f->net.port, 12345);
	assert_int_equal(f->net.fwmark, 51820);
	expect_reply(f, "get=1\n\n", "listen_port=12345\nfwmark=51820\nerrno=0\n\n");

	/* fwmark 0 removes it; listen_port 0 asks for any port. */
	set_ok(f, "set=1\nfwmark=0\nlisten_port=0\n\n");
	expect_reply(f, "get=1\n\n", "listen_port=40000\nerrno=0\n\n");
	set_ok(f, "set=1\nfwmark=4294967295\nlisten_port=65535\n\n");
	expect_reply(f, "get=1\n\n", "listen_port=65535\nfwmark=4294967295\nerrno=0\n\n");
}

static void test_port_in_use_applies_nothing(void **state)
{
	struct fixture *f = *state;
	struct test_key k, p;
	char *in, *before, *after;

	make_key(&k);
	make_key(&p);
	before = get(f);
	f->net.fail_with = -EADDRINUSE;
	in = format("set=1\nprivate_key=%s\nlisten_port=9\npublic_key=%s\n"
		    "allowed_ip=192.0.2.1/32\n\n", k.priv_hex, p.pub_hex);
	expect_reply(f, in, "errno=-98\n\n");
	after = get(f);
	assert_string_equal(before, after);
	assert_null(braid_device_next_peer(f->dev, NULL));
	free(in);
	free(before);
	free(after);
}

/* ---- Peers ---- */

static void test_peer_round_trip_v4(void **state)
{
	struct fixture *f = *state;
	struct test_key me, p, psk;
	char *want, *got;

	make_key(&me);
	make_key(&p);
	make_key(&psk);
	set_ok(f, "set=1\nprivate_key=%s\npublic_key=%s\npreshared_key=%s\nprotocol_version=1\n"
	       "endpoint=198.51.100.7:51820\npersistent_keepalive_interval=25\n"
	       "allowed_ip=192.0.2.2/32\nallowed_ip=2001:db8:1::/48\n\n",
	       me.priv_hex, p.pub_hex, psk.priv_hex);
	want = format("private_key=%s\nlisten_port=51820\n"
		      "public_key=%s\npreshared_key=%s\nprotocol_version=1\n"
		      "endpoint=198.51.100.7:51820\n"
		      "last_handshake_time_sec=0\nlast_handshake_time_nsec=0\n",
		      me.priv_hex, p.pub_hex, psk.priv_hex);
	got = get(f);
	/* Counters depend on the keepalive's handshake; check the fixed parts. */
	assert_memory_equal(got, want, strlen(want));
	assert_true(contains(got, "\npersistent_keepalive_interval=25\n"));
	assert_true(contains(got, "\nallowed_ip=192.0.2.2/32\n"));
	assert_true(contains(got, "\nallowed_ip=2001:db8:1::/48\n"));
	assert_true(contains(got, "\ntx_bytes="));
	assert_true(contains(got, "\nrx_bytes=0\n"));
	assert_true(strlen(got) > 11 && !strcmp(got + strlen(got) - 10, "\nerrno=0\n\n"));
	free(got);
	free(want);
}

static void test_endpoint_formats(void **state)
{
	struct fixture *f = *state;
	struct test_key a, b, c;
	char *got;

	make_key(&a);
	make_key(&b);
	make_key(&c);
	set_ok(f, "set=1\npublic_key=%s\nendpoint=[2001:db8::1]:51820\n"
	       "public_key=%s\nendpoint=[::ffff:203.0.113.9]:1\n"
	       "public_key=%s\nendpoint=203.0.113.200:65535\n\n",
	       a.pub_hex, b.pub_hex, c.pub_hex);
	got = get(f);
	assert_true(contains(got, "\nendpoint=[2001:db8::1]:51820\n"));
	/* A v4-mapped address is shown (and used) as IPv4. */
	assert_true(contains(got, "\nendpoint=203.0.113.9:1\n"));
	assert_true(contains(got, "\nendpoint=203.0.113.200:65535\n"));
	free(got);
}

static void test_no_preshared_key_no_endpoint(void **state)
{
	struct fixture *f = *state;
	struct test_key p;
	char *want, *got;

	make_key(&p);
	set_ok(f, "set=1\npublic_key=%s\n\n", p.pub_hex);
	want = format("listen_port=51820\npublic_key=%s\nprotocol_version=1\n"
		      "last_handshake_time_sec=0\nlast_handshake_time_nsec=0\n"
		      "tx_bytes=0\nrx_bytes=0\npersistent_keepalive_interval=0\nerrno=0\n\n",
		      p.pub_hex);
	got = get(f);
	assert_string_equal(got, want);
	free(got);

	/* An all-zero preshared key removes it. */
	set_ok(f, "set=1\npublic_key=%s\npreshared_key=%s\n\n", p.pub_hex, p.priv_hex);
	got = get(f);
	assert_true(contains(got, "preshared_key="));
	free(got);
	set_ok(f, "set=1\npublic_key=%s\npreshared_key=%064d\n\n", p.pub_hex, 0);
	got = get(f);
	assert_string_equal(got, want);
	free(got);
	free(want);
}

static void test_prefix_host_bits_masked(void **state)
{
	struct fixture *f = *state;
	struct test_key p;
	char *got;

	make_key(&p);
	set_ok(f, "set=1\npublic_key=%s\nallowed_ip=192.0.2.77/24\n"
	       "allowed_ip=2001:db8::1234/33\nallowed_ip=198.51.100.255/0\n\n", p.pub_hex);
	got = get(f);
	assert_true(contains(got, "\nallowed_ip=192.0.2.0/24\n"));
	assert_true(contains(got, "\nallowed_ip=2001:db8::/33\n"));
	assert_true(contains(got, "\nallowed_ip=0.0.0.0/0\n"));
	free(got);
}

static void test_replace_peers(void **state)
{
	struct fixture *f = *state;
	struct test_key a, b, c;
	char *got;

	make_key(&a);
	make_key(&b);
	make_key(&c);
	set_ok(f, "set=1\npublic_key=%s\npublic_key=%s\n\n", a.pub_hex, b.pub_hex);
	set_ok(f, "set=1\nreplace_peers=true\npublic_key=%s\n\n", c.pub_hex);
	got = get(f);
	assert_false(contains(got, a.pub_hex));
	assert_false(contains(got, b.pub_hex));
	assert_true(contains(got, c.pub_hex));
	free(got);
}

static void test_update_only(void **state)
{
	struct fixture *f = *state;
	struct test_key a, b;
	char *got;

	make_key(&a);
	make_key(&b);
	/* Absent: not created, whatever else the section says. */
	set_ok(f, "set=1\npublic_key=%s\nupdate_only=true\nallowed_ip=192.0.2.1/32\n\n",
	       a.pub_hex);
	assert_null(braid_device_next_peer(f->dev, NULL));
	/* Present: updated. */
	set_ok(f, "set=1\npublic_key=%s\n\n", b.pub_hex);
	set_ok(f, "set=1\npublic_key=%s\nallowed_ip=192.0.2.9/32\nupdate_only=true\n\n",
	       b.pub_hex);
	got = get(f);
	assert_true(contains(got, "\nallowed_ip=192.0.2.9/32\n"));
	free(got);
	/* A peer created earlier in the same request counts as present. */
	set_ok(f, "set=1\npublic_key=%s\npublic_key=%s\nupdate_only=true\n"
	       "allowed_ip=192.0.2.10/32\n\n", a.pub_hex, a.pub_hex);
	got = get(f);
	assert_true(contains(got, a.pub_hex));
	assert_true(contains(got, "\nallowed_ip=192.0.2.10/32\n"));
	free(got);
}

static void test_remove(void **state)
{
	struct fixture *f = *state;
	struct test_key a, b;
	char *got;

	make_key(&a);
	make_key(&b);
	set_ok(f, "set=1\npublic_key=%s\nallowed_ip=192.0.2.1/32\npublic_key=%s\n\n",
	       a.pub_hex, b.pub_hex);
	set_ok(f, "set=1\npublic_key=%s\nremove=true\n\n", a.pub_hex);
	got = get(f);
	assert_false(contains(got, a.pub_hex));
	assert_false(contains(got, "192.0.2.1/32"));
	assert_true(contains(got, b.pub_hex));
	free(got);
	/* Removing an absent peer is fine, and creates nothing. */
	set_ok(f, "set=1\npublic_key=%s\nremove=true\nallowed_ip=192.0.2.1/32\n\n", a.pub_hex);
	got = get(f);
	assert_false(contains(got, a.pub_hex));
	free(got);
}

/*
 * braid_endpoint_name: kept with the peer, shown by get, forgotten by an
 * endpoint= without it, by remove and by replace_peers; refused when the
 * host serves no names, or when it is not NAME:PORT.
 */
static void test_endpoint_name(void **state)
{
	struct fixture *f = *state;
	struct resolver names = { .w.fd = -1 };
	struct test_key a;
	char *got, *req;

	make_key(&a);
	req = format("set=1\npublic_key=%s\nbraid_endpoint_name=vpn.example.test:51820\n\n",
		     a.pub_hex);
	expect_reply(f, req, "errno=-22\n\n");
	f->uapi.resolver = &names;
	set_ok(f, "set=1\npublic_key=%s\nendpoint=198.51.100.2:51820\n"
	       "braid_endpoint_name=vpn.example.test:51820\n\n", a.pub_hex);
	got = get(f);
	assert_true(contains(got, "endpoint=198.51.100.2:51820\n"
				  "braid_endpoint_name=vpn.example.test:51820\n"));
	free(got);
	set_ok(f, "set=1\npublic_key=%s\nendpoint=198.51.100.3:51820\n\n", a.pub_hex);
	got = get(f);
	assert_false(contains(got, "braid_endpoint_name"));
	free(got);
	set_ok(f, "set=1\npublic_key=%s\nbraid_endpoint_name=vpn.example.test:51820\n\n",
	       a.pub_hex);
	set_ok(f, "set=1\npublic_key=%s\nremove=true\n\n", a.pub_hex);
	assert_null(resolver_name_of(&names, a.pub));
	set_ok(f, "set=1\npublic_key=%s\nbraid_endpoint_name=vpn.example.test:51820\n\n",
	       a.pub_hex);
	set_ok(f, "set=1\nreplace_peers=true\n\n");
	assert_int_equal(names.n, 0);
	free(req);
	req = format("set=1\npublic_key=%s\nbraid_endpoint_name=vpn.example.test\n\n",
		     a.pub_hex);
	expect_reply(f, req, "errno=-22\n\n");
	free(req);
	req = format("set=1\npublic_key=%s\nbraid_endpoint_name=vpn example:1\n\n", a.pub_hex);
	expect_reply(f, req, "errno=-22\n\n");
	free(req);
	resolver_stop(&names);
	f->uapi.resolver = NULL;
}

static void test_replace_allowed_ips(void **state)
{
	struct fixture *f = *state;
	struct test_key p;
	char *got;

	make_key(&p);
	set_ok(f, "set=1\npublic_key=%s\nallowed_ip=192.0.2.1/32\nallowed_ip=192.0.2.2/32\n\n",
	       p.pub_hex);
	/* In order: a prefix before replace_allowed_ips goes too, one after stays. */
	set_ok(f, "set=1\npublic_key=%s\nallowed_ip=192.0.2.3/32\nreplace_allowed_ips=true\n"
	       "allowed_ip=192.0.2.4/32\n\n", p.pub_hex);
	got = get(f);
	assert_false(contains(got, "192.0.2.1/32"));
	assert_false(contains(got, "192.0.2.2/32"));
	assert_false(contains(got, "192.0.2.3/32"));
	assert_true(contains(got, "\nallowed_ip=192.0.2.4/32\n"));
	free(got);
}

static void test_remove_one_prefix(void **state)
{
	struct fixture *f = *state;
	struct test_key p, q;
	char *got;

	make_key(&p);
	make_key(&q);
	set_ok(f, "set=1\npublic_key=%s\nallowed_ip=192.0.2.1/32\nallowed_ip=2001:db8::/64\n"
	       "public_key=%s\nallowed_ip=192.0.2.2/32\n\n", p.pub_hex, q.pub_hex);
	/* A prefix the peer does not hold (another peer's, or none) is no error. */
	set_ok(f, "set=1\npublic_key=%s\nallowed_ip=-2001:db8::5/64\nallowed_ip=-192.0.2.2/32\n"
	       "allowed_ip=-192.0.2.99/32\n\n", p.pub_hex);
	got = get(f);
	assert_true(contains(got, "\nallowed_ip=192.0.2.1/32\n"));
	assert_false(contains(got, "2001:db8::/64"));
	assert_true(contains(got, "\nallowed_ip=192.0.2.2/32\n"));
	free(got);
}

static void test_own_public_key_ignored(void **state)
{
	struct fixture *f = *state;
	struct test_key me, other;
	char *got, *in;

	make_key(&me);
	make_key(&other);
	/* Our key is known only from the same request's private_key. */
	set_ok(f, "set=1\nprivate_key=%s\npublic_key=%s\nallowed_ip=192.0.2.1/32\n"
	       "public_key=%s\n\n", me.priv_hex, me.pub_hex, other.pub_hex);
	got = get(f);
	assert_false(contains(got, me.pub_hex));
	assert_false(contains(got, "192.0.2.1/32"));
	assert_true(contains(got, other.pub_hex));
	free(got);
	/* And from the device afterwards; the ignored section is still validated. */
	set_ok(f, "set=1\npublic_key=%s\nendpoint=198.51.100.1:1\n\n", me.pub_hex);
	in = format("set=1\npublic_key=%s\nendpoint=nonsense\n\n", me.pub_hex);
	expect_reply(f, in, "errno=-22\n\n");
	free(in);
	assert_null(braid_device_find_peer(f->dev, me.pub));
}

static void test_new_key_drops_peer_with_that_key(void **state)
{
	struct fixture *f = *state;
	struct test_key k;

	make_key(&k);
	set_ok(f, "set=1\npublic_key=%s\n\n", k.pub_hex);
	assert_non_null(braid_device_find_peer(f->dev, k.pub));
	set_ok(f, "set=1\nprivate_key=%s\n\n", k.priv_hex);
	assert_null(braid_device_find_peer(f->dev, k.pub));
}

static void test_keepalive_sends_when_turned_on(void **state)
{
	struct fixture *f = *state;
	struct test_key me, p;

	make_key(&me);
	make_key(&p);
	set_ok(f, "set=1\nprivate_key=%s\npublic_key=%s\nendpoint=198.51.100.2:51820\n\n",
	       me.priv_hex, p.pub_hex);
	assert_int_equal(datagrams_sent, 0);
	set_ok(f, "set=1\npublic_key=%s\npersistent_keepalive_interval=25\n\n", p.pub_hex);
	/* No session yet: the keepalive starts a handshake, which is a datagram. */
	assert_true(datagrams_sent > 0);
}

static void test_several_operations(void **state)
{
	struct fixture *f = *state;
	struct test_key p;
	char *in, *got;

	make_key(&p);
	in = format("set=1\nlisten_port=1000\n\nget=1\n\nset=1\npublic_key=%s\n\nget=1\n\n",
		    p.pub_hex);
	static const char prefix[] = "errno=0\n\nlisten_port=1000\nerrno=0\n\nerrno=0\n\n"
				     "listen_port=1000\npublic_key=";

	got = run(f, in, NULL);
	assert_memory_equal(got, prefix, strlen(prefix));
	assert_memory_equal(got + strlen(prefix), p.pub_hex, 64);
	free(got);
	free(in);

	/* A rejected operation does not stop the ones after it. */
	expect_reply(f, "set=1\nbogus=1\n\nset=1\nfwmark=7\n\n", "errno=-22\n\nerrno=0\n\n");
	assert_int_equal(f->net.fwmark, 7);
}

/* ---- Malformed requests: errno, and nothing applied ---- */

struct bad_case {
	const char *body;		/* lines after set=1, "%s" = a valid public key */
	int err;
};

static const struct bad_case bad_cases[] = {
	/* 1 */ { "private_key=00\n", -EINVAL },
	/* 2 */ { "private_key=%sff\n", -EINVAL },
	/* 3 */ { "private_key=zz00000000000000000000000000000000000000000000000000000000000000\n",
		  -EINVAL },
	/* 4 */ { "listen_port=65536\n", -EINVAL },
	/* 5 */ { "listen_port=-1\n", -EINVAL },
	/* 6 */ { "listen_port=\n", -EINVAL },
	/* 7 */ { "listen_port= 1\n", -EINVAL },
	/* 8 */ { "fwmark=4294967296\n", -EINVAL },
	/* 9 */ { "fwmark=0x10\n", -EINVAL },
	/* 10 */ { "replace_peers=false\n", -EINVAL },
	/* 11 */ { "bogus_key=1\n", -EINVAL },
	/* 12 */ { "no equals sign\n", -EPROTO },
	/* 13 */ { "public_key=%s\nallowed_ip=192.0.2.1/32\nremove=yes\n", -EINVAL },
	/* 14 */ { "public_key=%s\nupdate_only=1\n", -EINVAL },
	/* 15 */ { "public_key=%s\npreshared_key=abc\n", -EINVAL },
	/* 16 */ { "public_key=%s\nendpoint=198.51.100.1\n", -EINVAL },
	/* 17 */ { "public_key=%s\nendpoint=198.51.100.1:65536\n", -EINVAL },
	/* 18 */ { "public_key=%s\nendpoint=2001:db8::1:51820\n", -EINVAL },
	/* 19 */ { "public_key=%s\nendpoint=[2001:db8::1]51820\n", -EINVAL },
	/* 20 */ { "public_key=%s\nendpoint=vpn.example.com:51820\n", -EINVAL },
	/* 21 */ { "public_key=%s\npersistent_keepalive_interval=65536\n", -EINVAL },
	/* 22 */ { "public_key=%s\nreplace_allowed_ips=TRUE\n", -EINVAL },
	/* 23 */ { "public_key=%s\nallowed_ip=192.0.2.1\n", -EINVAL },
	/* 24 */ { "public_key=%s\nallowed_ip=192.0.2.1/33\n", -EINVAL },
	/* 25 */ { "public_key=%s\nallowed_ip=2001:db8::/129\n", -EINVAL },
	/* 26 */ { "public_key=%s\nallowed_ip=192.0.2.256/32\n", -EINVAL },
	/* 27 */ { "public_key=%s\nallowed_ip=192.0.2.1/\n", -EINVAL },
	/* 28 */ { "public_key=%s\nprotocol_version=2\n", -EINVAL },
	/* 29 */ { "public_key=%s\nlisten_port=1\n", -EINVAL },	/* device key in a peer section */
	/* 30 */ { "public_key=%s\nbogus=1\n", -EINVAL },
	/* 31 */ { "public_key=%s\nallowed_ip=192.0.2.1/32\nline without equals\n", -EPROTO },
	/* 32 */ { "public_key=not-hex\n", -EINVAL },
	/* 33 */ { "public_key=%s\nallowed_ip=192.0.2.1/32\npublic_key=%s0\n", -EINVAL },
	/* 34 */ { "public_key=%s\nendpoint=[fe80::1%%no-such-if9]:1\n", -EINVAL },
};

static void test_malformed(void **state)
{
	struct fixture *f = *state;
	struct test_key me, p;
	char *before, *after, *body, *in, *want, *got;

	make_key(&me);
	make_key(&p);
	set_ok(f, "set=1\nprivate_key=%s\nlisten_port=2000\npublic_key=%s\n"
	       "allowed_ip=192.0.2.50/32\n\n", me.priv_hex, p.pub_hex);
	before = get(f);
	for (size_t i = 0; i < sizeof(bad_cases) / sizeof(bad_cases[0]); i++) {
		/* Every case starts with valid lines that must not take effect. */
		body = format(bad_cases[i].body, p.pub_hex, p.pub_hex);
		in = format("set=1\nlisten_port=3000\nreplace_peers=true\n%s\n", body);
		want = format("errno=%d\n\n", bad_cases[i].err);
		got = run(f, in, NULL);
		if (strcmp(got, want))
			fail_msg("case %zu (%s): answered %s", i + 1, body, got);
		after = get(f);
		if (strcmp(before, after))
			fail_msg("case %zu (%s): changed the device to\n%s", i + 1, body, after);
		free(got);
		free(after);
		free(want);
		free(in);
		free(body);
	}
	assert_int_equal(f->net.port, 2000);
	free(before);
}

static void test_truncated(void **state)
{
	struct fixture *f = *state;
	struct test_key p;
	char *in, *before, *after;

	make_key(&p);
	before = get(f);
	/* No empty line at the end: the client closed inside the operation. */
	in = format("set=1\nlisten_port=7\npublic_key=%s\n", p.pub_hex);
	assert_false(expect_reply_keep(f, in, "errno=-71\n\n"));
	free(in);
	in = format("set=1\nlisten_port=7\npublic_key=%s", p.pub_hex);
	assert_false(expect_reply_keep(f, in, "errno=-71\n\n"));
	free(in);
	assert_false(expect_reply_keep(f, "get=1\n", "errno=-71\n\n"));
	after = get(f);
	assert_string_equal(before, after);
	assert_int_equal(f->net.calls, 0);
	free(before);
	free(after);
}

static void test_line_too_long(void **state)
{
	struct fixture *f = *state;
	size_t n = UAPI_LINE_MAX + 100;
	char *in = malloc(n + 16);

	assert_non_null(in);
	strcpy(in, "set=1\nfwmark=");
	memset(in + 13, '1', n);
	strcpy(in + 13 + n, "\n\n");
	assert_false(expect_reply_keep(f, in, "errno=-71\n\n"));
	assert_int_equal(f->net.calls, 0);
	free(in);
}

/* A session fed a byte at a time, and run a peer at a time, answers as one fed everything. */
static void test_byte_by_byte(void **state)
{
	struct fixture *f = *state;
	struct test_key p, q;
	struct uapi_buf out = { 0 };
	struct uapi_session *s;
	char *in, *whole, pending[128];
	size_t len, n_pending = 0;
	ssize_t n;

	make_key(&p);
	make_key(&q);
	in = format("set=1\nfwmark=1\npublic_key=%s\nallowed_ip=192.0.2.1/32\n"
		    "public_key=%s\nendpoint=198.51.100.9:7\n\nget=1\n\nset=1\nbogus=1\n\n"
		    "get=1\n\nhello\n\nget=1\n\n", p.pub_hex, q.pub_hex);
	whole = run(f, in, NULL);
	s = uapi_session_new(&f->uapi);
	assert_non_null(s);
	for (len = 0; in[len]; len++) {
		pending[n_pending++] = in[len];
		n = uapi_session_feed(s, pending, n_pending, &out);
		assert_true(n >= 0);
		memmove(pending, pending + n, n_pending - n);
		n_pending -= n;
		/* While an operation runs, the session takes nothing more. */
		if (uapi_session_has_op(s))
			assert_int_equal(uapi_session_feed(s, "get=1\n\n", 7, &out), 0);
		while (!uapi_session_run(s, f->now, &out, 1))
			;
	}
	uapi_session_end(s, n_pending, &out);
	assert_false(uapi_session_keep(s));
	uapi_session_free(s);
	assert_int_equal(out.len, strlen(whole));
	assert_memory_equal(out.data, whole, out.len);
	uapi_buf_free(&out);
	free(whole);
	free(in);
}

static void test_unknown_operation(void **state)
{
	struct fixture *f = *state;

	/* Not this protocol: answer and hang up. */
	assert_false(expect_reply_keep(f, "hello=1\n\n", "errno=-22\n\n"));
	assert_false(expect_reply_keep(f, "get=2\n\n", "errno=-22\n\n"));
	assert_false(expect_reply_keep(f, "\n", "errno=-22\n\n"));
	/* get takes no lines; the connection goes on. */
	assert_true(expect_reply_keep(f, "get=1\nfoo=bar\n\nget=1\n\n",
				      "errno=-22\n\nlisten_port=51820\nerrno=0\n\n"));
}

/* ---- Many peers ---- */

static size_t scale(void)
{
	const char *s = getenv("BRAID_TEST_SCALE");
	long n = s ? strtol(s, NULL, 10) : 0;

	return n > 0 ? (size_t)n : 100000;
}

/* Peer i: a key from i, /64 2001:db8:1000+hi:lo::, /128 2001:db8:ff00::hi:lo, an endpoint. */
static void scale_key_hex(char hex[65], size_t i)
{
	uint8_t key[BRAID_KEY_LEN];
	uint64_t x = 0x9e3779b97f4a7c15ULL * (i + 1);

	for (int j = 0; j < BRAID_KEY_LEN; j++) {
		x ^= x >> 29;
		x *= 0xbf58476d1ce4e5b9ULL;
		key[j] = (uint8_t)(x >> 56);
	}
	braid_key_to_hex(hex, key);
}

/* Peer i's endpoint address and prefixes, as get writes them. */
struct scale_addrs {
	char endpoint[INET6_ADDRSTRLEN], net[INET6_ADDRSTRLEN], host[INET6_ADDRSTRLEN];
};

static void scale_addrs(struct scale_addrs *a, size_t i)
{
	uint8_t b[16] = { 0x20, 0x01, 0x0d, 0xb8 };

	b[4] = 0xee;
	b[12] = (uint8_t)(i >> 24), b[13] = (uint8_t)(i >> 16);
	b[14] = (uint8_t)(i >> 8), b[15] = (uint8_t)i;
	inet_ntop(AF_INET6, b, a->endpoint, sizeof(a->endpoint));
	b[4] = 0xff;
	inet_ntop(AF_INET6, b, a->host, sizeof(a->host));
	memset(b + 4, 0, 12);
	b[4] = (uint8_t)(0x10 + (i >> 24)), b[5] = (uint8_t)(i >> 16);
	b[6] = (uint8_t)(i >> 8), b[7] = (uint8_t)i;
	inet_ntop(AF_INET6, b, a->net, sizeof(a->net));
}

/* The lines wg setconf sends for peer i, appended at out + *len. */
static void scale_peer_lines(char *out, size_t *len, size_t i, unsigned int port)
{
	struct scale_addrs a;
	char hex[65];

	scale_key_hex(hex, i);
	scale_addrs(&a, i);
	*len += sprintf(out + *len, "public_key=%s\nendpoint=[%s]:%u\nreplace_allowed_ips=true\n"
			"allowed_ip=%s/64\nallowed_ip=%s/128\n", hex, a.endpoint, port, a.net,
			a.host);
}

/* "set=1", replace_peers, then peers [0, n) as wg setconf sends them. */
static char *scale_setconf(size_t n, unsigned int port)
{
	char *in = malloc(64 + n * 256);
	size_t len;

	assert_non_null(in);
	len = (size_t)sprintf(in, "set=1\nlisten_port=51820\nreplace_peers=true\n");
	for (size_t i = 0; i < n; i++)
		scale_peer_lines(in, &len, i, port);
	strcpy(in + len, "\n");
	return in;
}

/* Run a session's operation to its end, a slice at a time. */
static void run_op(struct uapi_session *s, struct fixture *f, struct uapi_buf *out, size_t slice)
{
	while (!uapi_session_run(s, f->now, out, slice))
		;
}

/*
 * The next line of text starting with prefix, from p on; NULL when none.
 * (Line by line with memchr: strstr on a large text is quadratic under ASan,
 * which measures the haystack on every call.)
 */
static const char *find_line(const char *p, const char *end, const char *prefix)
{
	size_t len = strlen(prefix);
	const char *nl;

	for (; p < end; p = nl + 1) {
		nl = memchr(p, '\n', end - p);
		if (!nl)
			return NULL;
		if ((size_t)(nl - p) >= len && !memcmp(p, prefix, len))
			return p;
	}
	return NULL;
}

/* The peer lines of a get, checked against peers [0, n) with the given port. */
static void check_scale_get(const char *got, size_t n, unsigned int port)
{
	const char *end = got + strlen(got), *p = find_line(got, end, "public_key=");
	char want[512];
	size_t len;

	for (size_t i = 0; i < n; i++) {
		struct scale_addrs a;
		char hex[65];

		assert_non_null(p);
		scale_key_hex(hex, i);
		scale_addrs(&a, i);
		len = (size_t)sprintf(want, "public_key=%s\nprotocol_version=1\nendpoint=[%s]:%u\n",
				      hex, a.endpoint, port);
		if ((size_t)(end - p) < len || memcmp(p, want, len))
			fail_msg("peer %zu: got %.*s", i, (int)len, p);
		p = find_line(p + len, end, "allowed_ip=");
		len = (size_t)sprintf(want, "allowed_ip=%s/64\nallowed_ip=%s/128\n", a.net, a.host);
		assert_non_null(p);
		if ((size_t)(end - p) < len || memcmp(p, want, len))
			fail_msg("peer %zu: got %.*s", i, (int)len, p);
		p = find_line(p + len, end, "public_key=");
	}
	assert_null(p);
	assert_string_equal(end - 9, "errno=0\n\n");
}

static size_t count_lines(const char *s, size_t len, const char *prefix)
{
	size_t n = 0;

	for (const char *p = s; (p = find_line(p, s + len, prefix)); p++)
		n++;
	return n;
}

/* How many lines of a differ from those of b (the same number of lines). */
static size_t lines_differing(const char *a, const char *b)
{
	const char *a_end = a + strlen(a), *b_end = b + strlen(b), *na, *nb;
	size_t n = 0;

	for (; a < a_end && b < b_end; a = na + 1, b = nb + 1) {
		na = memchr(a, '\n', a_end - a);
		nb = memchr(b, '\n', b_end - b);
		assert_non_null(na);
		assert_non_null(nb);
		n += na - a != nb - b || memcmp(a, b, na - a);
	}
	return n;
}

/*
 * 1. wg setconf of many peers, fed 64 KiB at a time and run a slice at a
 * time, while another session's get runs its slices in between: the set
 * applies, and the get ends with whole peers only. Then get, a one-line
 * change (syncconf), and removing every peer.
 */
static void test_many_peers(void **state)
{
	struct fixture *f = *state;
	size_t n = scale(), len, at = 0;
	struct uapi_buf out = { 0 }, side = { 0 };
	struct uapi_session *set = uapi_session_new(&f->uapi), *peek;
	char *in = scale_setconf(n, 51820), *got, *after, change[256];
	ssize_t used;

	assert_non_null(set);
	/* A first set, so the get below has peers to walk while the big set clears them. */
	scale_peer_lines(change, &(size_t){ 0 }, n + 1, 7);
	set_ok(f, "set=1\n%s\n", change);
	peek = uapi_session_new(&f->uapi);
	assert_non_null(peek);
	assert_int_equal(uapi_session_feed(peek, "get=1\n\n", 7, &side), 7);

	len = strlen(in);
	while (at < len) {
		used = uapi_session_feed(set, in + at, len - at < 65536 ? len - at : 65536, &out);
		assert_true(used >= 0);
		at += (size_t)used;
		if (!uapi_session_has_op(set))
			continue;
		while (!uapi_session_run(set, f->now, &out, 1024))
			if (uapi_session_has_op(peek))
				uapi_session_run(peek, f->now, &side, 7);
	}
	assert_int_equal(out.len, 9);
	assert_memory_equal(out.data, "errno=0\n\n", 9);
	assert_int_equal(braid_device_peer_count(f->dev), n);
	run_op(peek, f, &side, 7);
	/* The get saw a mix of before and after, each peer whole, and finished. */
	assert_int_equal(count_lines(side.data, side.len, "public_key="),
			 count_lines(side.data, side.len, "persistent_keepalive_interval="));
	assert_memory_equal(side.data + side.len - 9, "errno=0\n\n", 9);
	uapi_session_free(peek);
	uapi_session_free(set);
	uapi_buf_free(&side);
	free(in);

	got = get(f);
	check_scale_get(got, n, 51820);

	/* One peer's endpoint changes; nothing else in the get does. */
	len = 0;
	memcpy(change, "set=1\n", 6);
	len = 6;
	scale_peer_lines(change, &len, n / 2, 9);
	strcpy(change + len, "\n");
	set_ok(f, "%s", change);
	after = get(f);
	assert_int_equal(strlen(after), strlen(got) - 4);
	assert_int_equal(lines_differing(got, after), 1);
	free(after);
	free(got);

	/* Remove them all. */
	set_ok(f, "set=1\nreplace_peers=true\n\n");
	assert_int_equal(braid_device_peer_count(f->dev), 0);
	expect_reply(f, "get=1\n\n", "listen_port=51820\nerrno=0\n\n");
	uapi_buf_free(&out);
}

/*
 * 2. The peer limit, counted before anything is applied: replace_peers,
 * removals, update_only, a key given twice, our own key.
 */
static void test_peer_limit(void **state)
{
	struct fixture *f = *state;
	struct braid_device_config config = { .max_peers = 100 };
	struct test_key me;
	char *in, *before, *after, *body = malloc(120 * 200), hex[65];
	size_t len = 0;

	assert_non_null(body);
	braid_device_free(f->dev);
	f->dev = braid_device_new(&config, &fake_ops, NULL);
	assert_non_null(f->dev);
	f->uapi.dev = f->dev;
	make_key(&me);

	/* 101 peers: refused, nothing applied. */
	for (size_t i = 0; i < 101; i++)
		scale_peer_lines(body, &len, i, 1);
	in = format("set=1\nprivate_key=%s\nreplace_peers=true\n%s\n", me.priv_hex, body);
	expect_reply(f, in, "errno=-28\n\n");
	assert_int_equal(braid_device_peer_count(f->dev), 0);
	expect_reply(f, "get=1\n\n", "listen_port=51820\nerrno=0\n\n");
	free(in);

	/* 100, and the same key again, and our own key: fine. */
	len = 0;
	for (size_t i = 0; i < 100; i++)
		scale_peer_lines(body, &len, i, 1);
	scale_peer_lines(body, &len, 5, 2);
	in = format("set=1\nprivate_key=%s\n%spublic_key=%s\n\n", me.priv_hex, body, me.pub_hex);
	expect_reply(f, in, "errno=0\n\n");
	assert_int_equal(braid_device_peer_count(f->dev), 100);
	free(in);

	/* One more: refused. An update_only one, or one more after a removal: fine. */
	before = get(f);
	len = 0;
	scale_peer_lines(body, &len, 100, 1);
	in = format("set=1\n%s\n", body);
	expect_reply(f, in, "errno=-28\n\n");
	after = get(f);
	assert_string_equal(before, after);
	free(in);
	free(after);
	in = format("set=1\n%supdate_only=true\n\n", body);
	expect_reply(f, in, "errno=0\n\n");
	free(in);
	scale_key_hex(hex, 3);
	in = format("set=1\n%spublic_key=%s\nremove=true\n\n", body, hex);
	/* Added before the removal: one over the limit on the way, refused. */
	expect_reply(f, in, "errno=-28\n\n");
	free(in);
	in = format("set=1\npublic_key=%s\nremove=true\n%s\n", hex, body);
	expect_reply(f, in, "errno=0\n\n");
	assert_int_equal(braid_device_peer_count(f->dev), 100);
	free(in);
	/* Removed and given again in one set: it is there after, the count unchanged. */
	scale_key_hex(hex, 4);
	in = format("set=1\npublic_key=%s\nremove=true\npublic_key=%s\n\n", hex, hex);
	expect_reply(f, in, "errno=0\n\n");
	assert_int_equal(braid_device_peer_count(f->dev), 100);
	free(in);
	free(before);
	free(body);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_get_empty, setup, teardown),
		cmocka_unit_test_setup_teardown(test_drop_counters, setup, teardown),
		cmocka_unit_test_setup_teardown(test_private_key_round_trip, setup, teardown),
		cmocka_unit_test_setup_teardown(test_private_key_uppercase_hex, setup, teardown),
		cmocka_unit_test_setup_teardown(test_listen_port_and_fwmark, setup, teardown),
		cmocka_unit_test_setup_teardown(test_port_in_use_applies_nothing, setup, teardown),
		cmocka_unit_test_setup_teardown(test_peer_round_trip_v4, setup, teardown),
		cmocka_unit_test_setup_teardown(test_endpoint_formats, setup, teardown),
		cmocka_unit_test_setup_teardown(test_no_preshared_key_no_endpoint, setup, teardown),
		cmocka_unit_test_setup_teardown(test_prefix_host_bits_masked, setup, teardown),
		cmocka_unit_test_setup_teardown(test_replace_peers, setup, teardown),
		cmocka_unit_test_setup_teardown(test_update_only, setup, teardown),
		cmocka_unit_test_setup_teardown(test_remove, setup, teardown),
		cmocka_unit_test_setup_teardown(test_endpoint_name, setup, teardown),
		cmocka_unit_test_setup_teardown(test_replace_allowed_ips, setup, teardown),
		cmocka_unit_test_setup_teardown(test_remove_one_prefix, setup, teardown),
		cmocka_unit_test_setup_teardown(test_own_public_key_ignored, setup, teardown),
		cmocka_unit_test_setup_teardown(test_new_key_drops_peer_with_that_key, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_keepalive_sends_when_turned_on, setup, teardown),
		cmocka_unit_test_setup_teardown(test_several_operations, setup, teardown),
		cmocka_unit_test_setup_teardown(test_malformed, setup, teardown),
		cmocka_unit_test_setup_teardown(test_truncated, setup, teardown),
		cmocka_unit_test_setup_teardown(test_line_too_long, setup, teardown),
		cmocka_unit_test_setup_teardown(test_byte_by_byte, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unknown_operation, setup, teardown),
		cmocka_unit_test_setup_teardown(test_many_peers, setup, teardown),
		cmocka_unit_test_setup_teardown(test_peer_limit, setup, teardown),
	};

	if (!braid_init())
		return 1;
	/* Rejections are logged as errors; the tests expect them. */
	log_init(LOG_SILENT, NULL);
	return cmocka_run_group_tests_name("uapi", tests, NULL, NULL);
}
