// SPDX-License-Identifier: MIT
/*
 * The daemon's multipath configuration: path specs as the UAPI takes them
 * (a numbered table of good and bad values), the uplink table built from
 * crafted rtnetlink messages, and the braid_ keys through set and get on a
 * real device: paths named, sources chosen from the uplinks, interfaces that
 * come later, and every bad request refused with nothing applied. The store
 * of per-peer specs against a naive model, with thousands of peers.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "multipath.h"
#include "uapi.h"
#include "uplinks.h"

/* ---- 1. Specs ---- */

static const struct {
	const char *value;
	bool ok;
	const char *name;		/* as formatted back */
	uint8_t prio;
	bool has_endpoint;
} specs[] = {
	/* 1 */ { "wlan0", true, "wlan0", 0, false },
	/* 2 */ { "wwan0,prio=1", true, "wwan0", 1, false },
	/* 3 */ { "eth1,prio=255,endpoint=203.0.113.7:51820", true, "eth1", 255, true },
	/* 4 */ { "198.51.100.2,prio=3", true, "198.51.100.2", 3, false },
	/* 5 */ { "2001:db8:1::2,endpoint=[2001:db8::1]:51820", true, "2001:db8:1::2", 0, true },
	/* 6 */ { "auto", true, "auto", 0, false },
	/* 7 */ { "auto,exclude=docker0+virbr0,prio=2", true, "auto", 2, false },
	/* 8 */ { "", false, NULL, 0, false },
	/* 9 */ { "wlan0,prio=256", false, NULL, 0, false },
	/* 10 */ { "wlan0,prio=-1", false, NULL, 0, false },
	/* 11 */ { "wlan0,speed=9", false, NULL, 0, false },
	/* 12 */ { "wlan0,endpoint=203.0.113.7", false, NULL, 0, false },
	/* 13 */ { "auto,endpoint=203.0.113.7:1", false, NULL, 0, false },
	/* 14 */ { "wlan0,exclude=eth0", false, NULL, 0, false },
	/* 15 */ { "averyveryverylongname", false, NULL, 0, false },
	/* 16 */ { "wlan0,", false, NULL, 0, false },
	/* 17 */ { "a/b", false, NULL, 0, false },
	/* 18 */ { "auto,exclude=", false, NULL, 0, false },
	/* 19 */ { "wlan0,prio=1,prio", false, NULL, 0, false },
	/* 20 */ { "wwan0,prio=1,rate=20", true, "wwan0", 1, false },
	/* 21 */ { "wwan0,rate=0", false, NULL, 0, false },
	/* 22 */ { "wwan0,rate=1000000", false, NULL, 0, false },
	/* 23 */ { "auto,rate=50", true, "auto", 0, false },
};

static void test_specs(void **state)
{
	struct mp_spec spec;
	char name[BRAID_PATH_NAME_LEN];

	(void)state;
	for (size_t i = 0; i < sizeof(specs) / sizeof(specs[0]); i++) {
		bool ok = mp_spec_parse(&spec, specs[i].value, strlen(specs[i].value));

		if (ok != specs[i].ok)
			fail_msg("spec %zu \"%s\": %s", i + 1, specs[i].value,
				 ok ? "accepted" : "refused");
		if (!ok)
			continue;
		mp_spec_format(&spec, name, sizeof(name));
		assert_string_equal(name, specs[i].name);
		assert_int_equal(spec.prio, specs[i].prio);
		assert_int_equal(spec.has_endpoint, specs[i].has_endpoint);
	}
	assert_true(mp_spec_parse(&spec, "wwan0,rate=20", 13));
	assert_int_equal(spec.rate_cap_bps, 20000000);
	assert_true(mp_spec_parse(&spec, "auto,exclude=docker0+virbr0", 27));
	assert_int_equal(spec.n_exclude, 2);
	assert_string_equal(spec.exclude[1], "virbr0");
}

/* ---- 2. Uplinks from rtnetlink messages ---- */

struct nlbuf {
	union {
		char buf[4096];
		struct nlmsghdr align;
	};
	size_t len;
};

static void *msg_begin(struct nlbuf *b, uint16_t type, size_t body)
{
	struct nlmsghdr *nh = (struct nlmsghdr *)(b->buf + b->len);

	memset(nh, 0, NLMSG_LENGTH(body));
	nh->nlmsg_type = type;
	nh->nlmsg_len = NLMSG_LENGTH(body);
	return NLMSG_DATA(nh);
}

static void msg_attr(struct nlbuf *b, uint16_t type, const void *data, size_t len)
{
	struct nlmsghdr *nh = (struct nlmsghdr *)(b->buf + b->len);
	struct rtattr *rta = (struct rtattr *)((char *)nh + NLMSG_ALIGN(nh->nlmsg_len));

	rta->rta_type = type;
	rta->rta_len = RTA_LENGTH(len);
	memcpy(RTA_DATA(rta), data, len);
	nh->nlmsg_len = NLMSG_ALIGN(nh->nlmsg_len) + RTA_ALIGN(rta->rta_len);
}

static void msg_end(struct nlbuf *b)
{
	b->len += NLMSG_ALIGN(((struct nlmsghdr *)(b->buf + b->len))->nlmsg_len);
}

static void add_link(struct nlbuf *b, uint16_t type, int ifindex, const char *name, bool up)
{
	struct ifinfomsg *ifi = msg_begin(b, type, sizeof(*ifi));

	ifi->ifi_index = ifindex;
	ifi->ifi_flags = up ? IFF_UP | IFF_RUNNING : IFF_UP;
	msg_attr(b, IFLA_IFNAME, name, strlen(name) + 1);
	msg_end(b);
}

static void add_addr(struct nlbuf *b, uint16_t type, int ifindex, const char *text,
		     uint8_t scope, uint32_t flags)
{
	struct ifaddrmsg *ifa = msg_begin(b, type, sizeof(*ifa));
	uint8_t addr[16];
	int family = strchr(text, ':') ? AF_INET6 : AF_INET;

	assert_int_equal(inet_pton(family, text, addr), 1);
	ifa->ifa_family = family;
	ifa->ifa_prefixlen = family == AF_INET ? 25 : 64;
	ifa->ifa_scope = scope;
	ifa->ifa_index = ifindex;
	msg_attr(b, family == AF_INET ? IFA_LOCAL : IFA_ADDRESS, addr, family == AF_INET ? 4 : 16);
	msg_attr(b, IFA_FLAGS, &flags, sizeof(flags));
	msg_end(b);
}

/* Two uplinks, wlan0 (index 2) and wwan0 (index 3), with documentation addresses. */
static void two_uplinks(struct uplinks *u)
{
	struct nlbuf b = { .len = 0 };

	add_link(&b, RTM_NEWLINK, 2, "wlan0", true);
	add_link(&b, RTM_NEWLINK, 3, "wwan0", true);
	add_addr(&b, RTM_NEWADDR, 2, "198.51.100.2", RT_SCOPE_UNIVERSE, 0);
	add_addr(&b, RTM_NEWADDR, 3, "198.51.100.130", RT_SCOPE_UNIVERSE, 0);
	add_addr(&b, RTM_NEWADDR, 2, "2001:db8:1::2", RT_SCOPE_UNIVERSE, 0);
	assert_true(uplinks_update(u, b.buf, b.len));
}

static void test_uplinks(void **state)
{
	struct uplinks u = { .n = 0 };
	struct nlbuf b = { .len = 0 };
	const struct uplink *l;
	uint8_t a4[4];

	(void)state;
	two_uplinks(&u);
	l = uplinks_by_name(&u, "wlan0");
	assert_non_null(l);
	assert_int_equal(l->ifindex, 2);
	assert_true(l->is_up);
	assert_int_equal(l->n_addrs, 2);
	assert_non_null(uplink_global_addr(l, AF_INET6));
	inet_pton(AF_INET, "198.51.100.130", a4);
	assert_ptr_equal(uplinks_by_addr(&u, AF_INET, a4), uplinks_by_index(&u, 3));

	/* Tentative and link-local addresses are no use to a path; carrier loss is down. */
	add_addr(&b, RTM_NEWADDR, 3, "2001:db8:2::130", RT_SCOPE_UNIVERSE, IFA_F_TENTATIVE);
	add_addr(&b, RTM_NEWADDR, 3, "fe80::1", RT_SCOPE_LINK, 0);
	add_link(&b, RTM_NEWLINK, 3, "wwan0", false);
	uplinks_update(&u, b.buf, b.len);
	l = uplinks_by_index(&u, 3);
	assert_int_equal(l->n_addrs, 1);
	assert_false(l->is_up);
	assert_null(uplink_global_addr(l, AF_INET6));

	/* The address goes, then the link. */
	b.len = 0;
	add_addr(&b, RTM_DELADDR, 2, "198.51.100.2", RT_SCOPE_UNIVERSE, 0);
	uplinks_update(&u, b.buf, b.len);
	assert_null(uplink_global_addr(uplinks_by_index(&u, 2), AF_INET));
	b.len = 0;
	add_link(&b, RTM_DELLINK, 2, "wlan0", false);
	assert_true(uplinks_update(&u, b.buf, b.len));
	assert_null(uplinks_by_name(&u, "wlan0"));
	assert_int_equal(u.n, 1);
	/* A truncated message changes nothing. */
	assert_false(uplinks_update(&u, b.buf, 10));
}

/* ---- 3. The braid_ keys through the UAPI ---- */

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
	static uint64_t s = 0x9e3779b97f4a7c15ULL;
	uint8_t *p = buf;

	for (size_t i = 0; i < len; i++) {
		s = s * 6364136223846793005ULL + 1442695040888963407ULL;
		p[i] = s >> 56;
	}
}

static uint64_t fake_wall_clock(void *ctx)
{
	return 1700000000ULL * 1000000000ULL;
}

static const struct braid_ops ops = {
	.send = fake_send, .send_reply = fake_send_reply, .deliver = fake_deliver,
	.random = fake_random, .wall_clock_ns = fake_wall_clock,
};

static uint16_t get_port(void *ctx)
{
	return 51820;
}

static uint32_t get_fwmark(void *ctx)
{
	return 0;
}

static int set_net(void *ctx, bool set_port, uint16_t port, bool set_mark, uint32_t mark)
{
	return 0;
}

static const struct uapi_host_ops host = {
	.get_listen_port = get_port, .get_fwmark = get_fwmark, .set_net = set_net,
};

struct fixture {
	struct braid_device *dev;
	struct uplinks uplinks;
	struct mp_config mp;
	struct uapi uapi;
	uint64_t now;
};

#define PEER_KEY "e84b5a6d2717c1003a13b431570353dbaca9146cf150c5f8575680feba52027a"

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	f->dev = braid_device_new(NULL, &ops, NULL);
	assert_non_null(f->dev);
	f->mp.route_fd = -1;
	two_uplinks(&f->uplinks);
	f->mp.uplinks = &f->uplinks;
	f->uapi = (struct uapi){ .dev = f->dev, .host = &host, .mp = &f->mp };
	f->now = 1000000000ULL;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	braid_device_free(f->dev);
	mp_config_free(&f->mp);
	free(f);
	return 0;
}

static char *run(struct fixture *f, const char *in)
{
	struct uapi_buf out = { 0 };
	char *s;

	uapi_process(&f->uapi, f->now, in, strlen(in), &out);
	s = strndup(out.data ? out.data : "", out.len);
	uapi_buf_free(&out);
	return s;
}

static void expect_errno(struct fixture *f, const char *in, int err)
{
	char *reply = run(f, in), want[32];

	snprintf(want, sizeof(want), "errno=%d\n\n", err);
	if (strcmp(reply, want))
		fail_msg("for\n%sgot\n%s", in, reply);
	free(reply);
}

static void test_uapi_paths(void **state)
{
	struct fixture *f = *state;
	struct nlbuf b = { .len = 0 };
	char *get;

	expect_errno(f, "set=1\npublic_key=" PEER_KEY "\nendpoint=203.0.113.2:51820\n"
		     "braid_multipath=failover\nbraid_path=wlan0\nbraid_path=wwan0,prio=1\n"
		     "braid_path=wlan9,prio=2\n\n", 0);
	get = run(f, "get=1\n\n");
	assert_non_null(strstr(get, "braid_multipath=failover\nbraid_peer_multipath=unknown\n"));
	assert_non_null(strstr(get, "braid_path=wlan0,local=198.51.100.2,remote=203.0.113.2:51820,"
				    "state=active,"));
	assert_non_null(strstr(get, "braid_path=wwan0,local=198.51.100.130,"
				    "remote=203.0.113.2:51820,state=standby,"));
	/* An interface that does not exist yet: a path, down. */
	assert_non_null(strstr(get, "braid_path=wlan9,local=0.0.0.0,remote=203.0.113.2:51820,"
				    "state=down,"));
	assert_non_null(strstr(get, "endpoint=203.0.113.2:51820\n"));
	free(get);

	/* It appears: the path comes up with its address. */
	add_link(&b, RTM_NEWLINK, 9, "wlan9", true);
	add_addr(&b, RTM_NEWADDR, 9, "198.51.100.200", RT_SCOPE_UNIVERSE, 0);
	assert_true(uplinks_update(&f->uplinks, b.buf, b.len));
	mp_config_apply_all(&f->mp, f->dev, f->now);
	get = run(f, "get=1\n\n");
	assert_non_null(strstr(get, "braid_path=wlan9,local=198.51.100.200,"));
	free(get);

	/* braid_replace_paths starts over; a plain wg set keeps what braid set. */
	expect_errno(f, "set=1\npublic_key=" PEER_KEY "\nbraid_replace_paths=true\n"
		     "braid_path=wwan0\nbraid_endpoint=198.51.100.9:51820\n\n", 0);
	expect_errno(f, "set=1\npublic_key=" PEER_KEY "\npersistent_keepalive_interval=0\n\n", 0);
	get = run(f, "get=1\n\n");
	assert_null(strstr(get, "braid_path=wlan0"));
	assert_non_null(strstr(get, "braid_path=wwan0,local=198.51.100.130,remote=203.0.113.2:51820"));
	assert_non_null(strstr(get, "braid_path=wwan0,local=198.51.100.130,remote=198.51.100.9:51820"));
	free(get);
	expect_errno(f, "set=1\npublic_key=" PEER_KEY "\nbraid_multipath=off\n\n", 0);
	get = run(f, "get=1\n\n");
	assert_non_null(strstr(get, "braid_multipath=off\n"));
	free(get);
}

/* Bad requests: errno=-EINVAL, and get says exactly what it said before. */
static void test_uapi_refused(void **state)
{
	static const char *const bad[] = {
		"braid_multipath=sometimes\n",
		"braid_path=wlan0,prio=300\n",
		"braid_path=wlan0,endpoint=nowhere\n",
		"braid_path=\n",
		"braid_endpoint=203.0.113.7\n",
		"braid_replace_paths=yes\n",
		"braid_colour=blue\n",
		"braid_path=a\nbraid_path=b\nbraid_path=c\nbraid_path=d\nbraid_path=e\n"
		"braid_path=f\nbraid_path=g\nbraid_path=h\nbraid_path=i\n",
		/* five now, four more would make nine */
		"braid_path=f\nbraid_path=g\nbraid_path=h\nbraid_path=i\n",
	};
	struct fixture *f = *state;
	char *before, *after, req[512];

	expect_errno(f, "set=1\npublic_key=" PEER_KEY "\nendpoint=203.0.113.2:51820\n"
		     "braid_multipath=redundant\nbraid_path=a\nbraid_path=b\nbraid_path=c\n"
		     "braid_path=d\nbraid_path=e\n\n", 0);
	before = run(f, "get=1\n\n");
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(req, sizeof(req), "set=1\npublic_key=" PEER_KEY "\n%s\n", bad[i]);
		expect_errno(f, req, -EINVAL);
		after = run(f, "get=1\n\n");
		if (strcmp(before, after))
			fail_msg("case %zu changed the configuration", i + 1);
		free(after);
	}
	free(before);
	/* Without the multipath store (a library user's UAPI), the keys are refused. */
	f->uapi.mp = NULL;
	expect_errno(f, "set=1\npublic_key=" PEER_KEY "\nbraid_multipath=failover\n\n", -EINVAL);
}

/* ---- 4. The per-peer store, by public key, with many peers ---- */

/* Random gets and forgets of 4000 keys against a flag per key; then cleared. */
static void test_store(void **state)
{
	enum { KEYS = 4000, STEPS = 40000 };
	struct mp_config c = { .route_fd = -1 };
	static uint8_t keys[KEYS][BRAID_KEY_LEN];
	static bool held[KEYS];
	uint64_t x = 77;
	size_t n = 0;

	(void)state;
	for (size_t k = 0; k < KEYS; k++) {
		for (int j = 0; j < BRAID_KEY_LEN; j++) {
			x = x * 6364136223846793005ULL + 1442695040888963407ULL;
			keys[k][j] = (uint8_t)(x >> 56);
		}
		/* Half the keys share their first bytes: the index must still tell them apart. */
		if (k % 2)
			memcpy(keys[k], keys[k - 1], 8);
	}
	for (size_t step = 0; step < STEPS; step++) {
		size_t k;
		struct mp_peer *p;

		x = x * 6364136223846793005ULL + 1442695040888963407ULL;
		k = (x >> 33) % KEYS;
		if ((x >> 20) % 3) {
			p = mp_config_get(&c, keys[k]);
			assert_non_null(p);
			assert_memory_equal(p->public_key, keys[k], BRAID_KEY_LEN);
			if (!held[k])
				p->n_specs = (unsigned int)(k % 7);
			n += !held[k];
			held[k] = true;
		} else {
			mp_config_forget(&c, keys[k]);
			n -= held[k];
			held[k] = false;
		}
		if (step % 1000)
			continue;
		assert_int_equal(c.n, n);
		for (size_t j = 0; j < KEYS; j++) {
			p = mp_config_find(&c, keys[j]);
			if (!held[j]) {
				assert_null(p);
				continue;
			}
			assert_non_null(p);
			assert_memory_equal(p->public_key, keys[j], BRAID_KEY_LEN);
			assert_int_equal(p->n_specs, j % 7);
		}
	}
	mp_config_clear(&c);
	assert_int_equal(c.n, 0);
	for (size_t j = 0; j < KEYS; j++)
		assert_null(mp_config_find(&c, keys[j]));
	assert_non_null(mp_config_get(&c, keys[0]));
	assert_non_null(mp_config_find(&c, keys[0]));
	mp_config_free(&c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_specs),
		cmocka_unit_test(test_uplinks),
		cmocka_unit_test_setup_teardown(test_uapi_paths, setup, teardown),
		cmocka_unit_test_setup_teardown(test_uapi_refused, setup, teardown),
		cmocka_unit_test(test_store),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
