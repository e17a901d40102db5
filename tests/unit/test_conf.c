// SPDX-License-Identifier: MIT
/*
 * Configuration files (conf.c): what a good file parses into, wg-quick's and
 * wg's ways of reading values (case, comments, spaces), and for each kind of
 * mistake the line it is reported on, with nothing left allocated. The UAPI
 * request setconf.c builds from a file is checked too: what `wg setconf`
 * sends, plus braid's keys.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "conf.h"
#include "setconf.h"

#define KEY_A "yAnz5TF+lXXJte14tji3zlMNq+hd2rYUIgJBgB3fBmk="
#define KEY_B "xTIBA5rboUvnH4htodjb6e697QjLERt1NAB4mZqp8Dg="

static int parse(struct conf *c, const char *text, struct conf_error *err)
{
	return conf_parse(c, text, strlen(text), err);
}

static void test_good_file(void **state)
{
	static const char text[] =
		"# a comment line\n"
		"[Interface]\n"
		"privatekey=" KEY_A "\n"
		"Address = 192.0.2.1/24, 2001:db8:2::1/64   # trailing comment\n"
		"Address = 192.0.2.9\n"
		"ListenPort = 51820\n"
		"FwMark = 0x10\n"
		"MTU = 1380\n"
		"DNS = 192.0.2.53,2001:db8::53 example.test\n"
		"Table = 1234\n"
		"PostUp = echo %i up > /tmp/x\n"
		"PostUp = true\n"
		"SaveConfig = TRUE\n"
		"\r\n"
		"[peer]\n"
		"Public Key = " KEY_B "\n"
		"AllowedIPs = 0.0.0.0/0, ::/0\n"
		"AllowedIPs = 192.0.2.128/25\n"
		"Endpoint = vpn.example.test:51820\n"
		"PersistentKeepalive = off\n"
		"Multipath = Failover\n"
		"Path = wlan0\n"
		"Path = wwan0, prio=1\n"
		"MultipathEndpoint = 203.0.113.9:51820\n";
	struct conf c;
	struct conf_error err;

	assert_int_equal(parse(&c, text, &err), 0);
	assert_true(c.has_private_key);
	assert_int_equal(c.n_addresses, 3);
	assert_int_equal(c.addresses[0].family, AF_INET);
	assert_int_equal(c.addresses[0].len, 24);
	assert_int_equal(c.addresses[1].family, AF_INET6);
	assert_int_equal(c.addresses[2].len, 32);
	assert_int_equal(c.listen_port, 51820);
	assert_true(c.has_fwmark);
	assert_int_equal(c.fwmark, 16);
	assert_int_equal(c.mtu, 1380);
	assert_int_equal(c.dns.n, 2);
	assert_int_equal(c.dns_search.n, 1);
	assert_string_equal(c.dns_search.item[0], "example.test");
	assert_int_equal(c.table, CONF_TABLE_SET);
	assert_string_equal(c.table_name, "1234");
	assert_int_equal(c.post_up.n, 2);
	/* wg-quick's keys keep their inner spaces; the comment is gone. */
	assert_string_equal(c.post_up.item[0], "echo %i up > /tmp/x");
	assert_true(c.save_config);
	assert_int_equal(c.n_peers, 1);
	assert_int_equal(c.peers[0].n_allowed_ips, 3);
	assert_string_equal(c.peers[0].endpoint, "vpn.example.test:51820");
	assert_true(c.peers[0].has_keepalive);
	assert_int_equal(c.peers[0].keepalive, 0);
	assert_int_equal(c.peers[0].multipath, BRAID_MULTIPATH_FAILOVER);
	assert_int_equal(c.peers[0].n_paths, 2);
	assert_string_equal(c.peers[0].paths[1], "wwan0,prio=1");
	assert_int_equal(c.peers[0].n_extra, 1);
	conf_free(&c);
}

static const struct bad_case {
	const char *text;
	unsigned int line;
	const char *msg;
} bad_cases[] = {
	/* 1 */ { "Address = 192.0.2.1\n", 1, "before any" },
	/* 2 */ { "[Interface]\nAddress = 192.0.2.300/24\n", 2, "invalid Address" },
	/* 3 */ { "[Interface]\nAddress = 192.0.2.1/33\n", 2, "invalid Address" },
	/* 4 */ { "[Interface]\nListenPort = 65536\n", 2, "ListenPort" },
	/* 5 */ { "[Interface]\nListenPort =\n", 2, "empty value" },
	/* 6 */ { "[Interface]\nFwMark = 0x1ffffffff\n", 2, "FwMark" },
	/* 7 */ { "[Interface]\nPrivateKey = abc\n", 2, "PrivateKey" },
	/* 8 */ { "[Interface]\nMTU = 67\n", 2, "MTU" },
	/* 9 */ { "[Interface]\nDNS = 192.0.2.999\n", 2, "DNS server" },
	/* 10 */ { "[Interface]\nTable = a/b\n", 2, "Table" },
	/* 11 */ { "[Interface]\nSaveConfig = yes\n", 2, "neither true nor false" },
	/* 12 */ { "[Interface]\nEndpoint = 192.0.2.1:1\n", 2, "unknown key" },
	/* 13 */ { "[Interfaces]\n", 1, "unknown section" },
	/* 14 */ { "[Interface]\njust words\n", 2, "Key = Value" },
	/* 15 */ { "[Peer]\nPublicKey = " KEY_B "\nAllowedIPs = 192.0.2.0/24,,\n", 3,
		   "AllowedIPs" },
	/* 16 */ { "[Peer]\nPublicKey = " KEY_B "\nEndpoint = 192.0.2.1\n", 3, "Endpoint" },
	/* 17 */ { "[Peer]\nPublicKey = " KEY_B "\nEndpoint = [2001:db8::1:51820\n", 3,
		   "Endpoint" },
	/* 18 */ { "[Peer]\nPublicKey = " KEY_B "\nPersistentKeepalive = 65536\n", 3,
		   "PersistentKeepalive" },
	/* 19 */ { "[Peer]\nPublicKey = " KEY_B "\nMultipath = all\n", 3, "Multipath" },
	/* 20 */ { "[Peer]\nPublicKey = " KEY_B "\nPath = eth0,prio=256\n", 3, "invalid Path" },
	/* 21 */ { "[Peer]\nPublicKey = " KEY_B "\nPath = a\nPath = b\nPath = c\nPath = d\n"
		   "Path = e\nPath = f\nPath = g\nPath = h\nPath = i\n", 11, "more than 8" },
	/* 22 */ { "[Peer]\nPublicKey = " KEY_B "\nMultipathEndpoint = nowhere\n", 3,
		   "MultipathEndpoint" },
	/* 23 */ { "[Interface]\n\n[Peer]\nAllowedIPs = 192.0.2.2/32\n", 3, "no PublicKey" },
	/* 24 */ { "[Peer]\nPublicKey = " KEY_B "\nPresharedKey = " KEY_A "x\n", 3,
		   "PresharedKey" },
	/* 25 */ { "[Interface]\nAddress = 192.0.2.1\0\n", 2, "NUL" },
};

static void test_bad_files(void **state)
{
	for (size_t i = 0; i < sizeof(bad_cases) / sizeof(*bad_cases); i++) {
		const struct bad_case *t = &bad_cases[i];
		size_t len = strlen(t->text);
		struct conf c;
		struct conf_error err;

		/* Case 25 holds a NUL: its length runs to the newline after it. */
		if (i == 24)
			len += 2;
		if (conf_parse(&c, t->text, len, &err) != -EINVAL) {
			print_error("case %zu was accepted\n", i + 1);
			fail();
		}
		if (err.line != t->line || !strstr(err.msg, t->msg)) {
			print_error("case %zu: line %u `%s', want line %u `%s'\n", i + 1, err.line,
				    err.msg, t->line, t->msg);
			fail();
		}
	}
}

static void test_names(void **state)
{
	char host[CONF_ENDPOINT_LEN], port[16];

	assert_true(conf_is_ifname("wg0"));
	assert_true(conf_is_ifname("a_b=c+d.e-f"));
	assert_false(conf_is_ifname("sixteen-chars-xx"));
	assert_false(conf_is_ifname("wg 0"));
	assert_false(conf_is_ifname(""));
	assert_int_equal(conf_split_endpoint("[2001:db8::1]:51820", host, sizeof(host), port,
					     sizeof(port)), 0);
	assert_string_equal(host, "2001:db8::1");
	assert_string_equal(port, "51820");
	assert_int_equal(conf_split_endpoint("vpn.example.test:1", host, sizeof(host), port,
					     sizeof(port)), 0);
	assert_string_equal(host, "vpn.example.test");
	assert_int_not_equal(conf_split_endpoint(":1", host, sizeof(host), port, sizeof(port)), 0);
	assert_true(setconf_is_name("vpn.example.test:1"));
	assert_false(setconf_is_name("192.0.2.1:1"));
	assert_false(setconf_is_name("[fe80::1%eth0]:1"));
}

/* The request wg setconf would send (replace all), with braid's keys after the peer's. */
static void test_request(void **state)
{
	static const char text[] =
		"[Interface]\nPrivateKey = " KEY_A "\n"
		"[Peer]\nPublicKey = " KEY_B "\nEndpoint = 198.51.100.2:51820\n"
		"AllowedIPs = 192.0.2.0/25\nPersistentKeepalive = 25\n"
		"Multipath = redundant\nPath = veth0\nMultipathEndpoint = [2001:db8::2]:51820\n";
	struct conf c;
	struct conf_error err;
	struct uapi_request r = { 0 };

	assert_int_equal(parse(&c, text, &err), 0);
	assert_int_equal(setconf_request(&c, &r, &err), 0);
	assert_non_null(strstr(r.buf, "set=1\nprivate_key="));
	assert_non_null(strstr(r.buf, "listen_port=0\nfwmark=0\nreplace_peers=true\npublic_key="));
	assert_non_null(strstr(r.buf, "endpoint=198.51.100.2:51820\n"
				       "persistent_keepalive_interval=25\n"
				       "replace_allowed_ips=true\nallowed_ip=192.0.2.0/25\n"
				       "braid_multipath=redundant\nbraid_replace_paths=true\n"
				       "braid_path=veth0\nbraid_endpoint=[2001:db8::2]:51820\n\n"));
	assert_null(strstr(r.buf, "braid_endpoint_name"));
	uapi_request_free(&r);
	conf_free(&c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_good_file),
		cmocka_unit_test(test_bad_files),
		cmocka_unit_test(test_names),
		cmocka_unit_test(test_request),
	};

	braid_init();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
