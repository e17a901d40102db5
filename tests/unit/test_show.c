// SPDX-License-Identifier: MIT
/*
 * braid show's views (show.c) from a canned get reply (devinfo.c): the
 * reply's model, unknown keys and path fields skipped, the dump line for
 * line, the metrics' families and label escaping, the view for people.
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

#include "devinfo.h"
#include "show.h"

#define HEX_A "c8e9cfe5317e9575c9b5ed78b638b7ce530dabe85ddab614220241801ddf0669"
#define HEX_B "c5320103b6dba14be71f886da1d8debaebdd08cb112b75340078999aa9f03c"
#define REPLY \
	"private_key=" HEX_A "\n" \
	"listen_port=51820\n" \
	"fwmark=51820\n" \
	"braid_drop_replay=3\n" \
	"braid_cookie_replies_sent=2\n" \
	"braid_future_counter=9\n" \
	"public_key=" HEX_B "38\n" \
	"protocol_version=1\n" \
	"endpoint=198.51.100.2:51820\n" \
	"braid_endpoint_name=vpn.example.test:51820\n" \
	"last_handshake_time_sec=1700000000\n" \
	"last_handshake_time_nsec=5\n" \
	"tx_bytes=1000\n" \
	"rx_bytes=2000\n" \
	"persistent_keepalive_interval=25\n" \
	"braid_multipath=failover\n" \
	"braid_peer_multipath=yes\n" \
	"braid_path=wlan0,local=198.51.100.1,remote=198.51.100.2:51820,state=active,rtt_us=1500," \
	"tx_bytes=10,rx_bytes=20,last_rx_ms=30,some_future_field=1\n" \
	"braid_path=we\"ird\\,local=2001:db8::1,remote=[2001:db8::2]:51820,state=down,rtt_us=0," \
	"tx_bytes=0,rx_bytes=0,last_rx_ms=-1\n" \
	"allowed_ip=192.0.2.0/24\n" \
	"allowed_ip=2001:db8:2::/64\n" \
	"errno=0\n\n"

static char *capture(void (*fn)(FILE *f, const struct dev_info *d), const struct dev_info *d)
{
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);

	assert_non_null(f);
	fn(f, d);
	fclose(f);
	return text;
}

static void dump(FILE *f, const struct dev_info *d)
{
	show_dump(f, "wg0", d, false);
}

static void metrics(FILE *f, const struct dev_info *d)
{
	const char *names[] = { "wg0" };

	show_metrics(f, names, d, 1, 1700000100);
}

static void pretty(FILE *f, const struct dev_info *d)
{
	show_pretty(f, "wg0", d, 1700000100);
}

static void test_model(void **state)
{
	struct dev_info d;

	assert_int_equal(devinfo_parse(&d, REPLY), 0);
	assert_true(d.has_private_key);
	assert_int_equal(d.listen_port, 51820);
	assert_int_equal(d.fwmark, 51820);
	assert_int_equal(devinfo_counter(&d, "drop_replay"), 3);
	assert_int_equal(devinfo_counter(&d, "future_counter"), 9);
	assert_int_equal(devinfo_counter(&d, "drop_decrypt_failed"), 0);
	assert_int_equal(d.n_peers, 1);
	assert_string_equal(d.peers[0].endpoint_name, "vpn.example.test:51820");
	assert_int_equal(d.peers[0].n_allowed_ips, 2);
	assert_int_equal(d.peers[0].n_paths, 2);
	assert_int_equal(d.peers[0].paths[0].rtt_us, 1500);
	assert_true(d.peers[0].paths[0].has_last_rx);
	assert_false(d.peers[0].paths[1].has_last_rx);
	devinfo_free(&d);
	assert_int_equal(devinfo_parse(&d, "errno=-22\n\n"), -22);
	assert_int_equal(devinfo_parse(&d, "private_key=00\n"), -EPROTO);
}

static void test_dump(void **state)
{
	struct dev_info d;
	char *text, *line, *save = NULL;
	unsigned int n = 0;

	assert_int_equal(devinfo_parse(&d, REPLY), 0);
	text = capture(dump, &d);
	for (line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save), n++) {
		if (n == 0)
			assert_non_null(strstr(line, "\t51820\t0xca6c"));
		if (n == 1) {
			assert_non_null(strstr(line, "=\t(none)\t198.51.100.2:51820\t"
						     "192.0.2.0/24,2001:db8:2::/64\t1700000000\t"
						     "2000\t1000\t25"));
		}
		if (n == 2)
			assert_non_null(strstr(line, "braid-peer\t"));
		if (n == 2)
			assert_non_null(strstr(line, "\tfailover\tyes\tvpn.example.test:51820"));
		if (n == 3)
			assert_non_null(strstr(line, "\twlan0\t198.51.100.1\t198.51.100.2:51820\t"
						     "active\t1500\t10\t20\t30"));
		if (n == 4)
			assert_non_null(strstr(line, "\tdown\t0\t0\t0\t(none)"));
		if (n == 5)
			assert_string_equal(line, "braid-counter\tdrop_malformed\t0");
	}
	/* 2 + 1 + 2 lines, then every drop reason, the two handshake counters, the unknown one. */
	assert_int_equal(n, 5 + (BRAID_DROP_MAX - 1) + 2 + 1);
	free(text);
	devinfo_free(&d);
}

static void test_metrics(void **state)
{
	struct dev_info d;
	char *text;

	assert_int_equal(devinfo_parse(&d, REPLY), 0);
	text = capture(metrics, &d);
	assert_non_null(strstr(text, "# TYPE braid_drops_total counter\n"));
	assert_non_null(strstr(text, "braid_drops_total{interface=\"wg0\",reason=\"replay\"} 3\n"));
	assert_non_null(strstr(text, "braid_cookie_replies_sent_total{interface=\"wg0\"} 2\n"));
	assert_non_null(strstr(text, "braid_peer_last_handshake_age_seconds{"));
	assert_non_null(strstr(text, "} 100\n"));
	/* A label value with a quote and a backslash is escaped. */
	assert_non_null(strstr(text, "path=\"we\\\"ird\\\\\""));
	assert_non_null(strstr(text, "state=\"active\"} 1\n"));
	assert_non_null(strstr(text, "braid_path_rtt_seconds{"));
	assert_non_null(strstr(text, "} 0.001500\n"));
	free(text);
	devinfo_free(&d);
}

static void test_pretty(void **state)
{
	struct dev_info d;
	char *text;

	assert_int_equal(devinfo_parse(&d, REPLY), 0);
	text = capture(pretty, &d);
	assert_non_null(strstr(text, "interface: wg0\n"));
	assert_non_null(strstr(text, "  fwmark: 0xca6c\n"));
	assert_non_null(strstr(text, "  drops: replay 3\n"));
	assert_non_null(strstr(text, "  endpoint: 198.51.100.2:51820 (vpn.example.test:51820)\n"));
	assert_non_null(strstr(text, "  latest handshake: 1 minute, 40 seconds ago\n"));
	assert_non_null(strstr(text, "  transfer: 1.95 KiB received, 1000 B sent\n"));
	assert_non_null(strstr(text, "  multipath: failover (far end is braid: yes)\n"));
	assert_non_null(strstr(text, "  path wlan0: 198.51.100.1 -> 198.51.100.2:51820, active, "
				     "rtt 1.5 ms"));
	assert_null(strstr(text, HEX_A));
	free(text);
	devinfo_free(&d);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_model),
		cmocka_unit_test(test_dump),
		cmocka_unit_test(test_metrics),
		cmocka_unit_test(test_pretty),
	};

	braid_init();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
