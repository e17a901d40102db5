// SPDX-License-Identifier: MIT
/*
 * braid show (see show.h). Every view is built from the daemon's get reply
 * (devinfo.h); nothing here talks to the kernel.
 *
 * The dump is wg show dump's format, tab-separated, then braid's own lines,
 * each starting with a word that no base64 key can be:
 *
 *   PRIVATE-KEY PUBLIC-KEY LISTEN-PORT FWMARK
 *   PUBLIC-KEY PRESHARED-KEY ENDPOINT ALLOWED-IPS LATEST-HANDSHAKE RX TX KEEPALIVE  (per peer)
 *   braid-peer PUBLIC-KEY MULTIPATH FAR-END-IS-BRAID ENDPOINT-NAME                 (per peer)
 *   braid-path PUBLIC-KEY NAME LOCAL REMOTE STATE RTT-US TX RX LAST-RX-MS           (per path)
 *   braid-counter NAME VALUE                                                         (per counter)
 *
 * With `all`, every line starts with the interface's name, as in wg's.
 */
#include <errno.h>
#include <inttypes.h>
#include <net/if.h>
#include <stdlib.h>
#include <string.h>

#include "show.h"
#include "uapi_client.h"

static const char *const path_states[] = { "down", "probing", "standby", "active", "suspect" };

static void key_b64(char out[45], const uint8_t key[BRAID_KEY_LEN])
{
	braid_key_to_base64(out, key);
}

/* ---- For people ---- */

static void print_bytes(FILE *f, uint64_t b)
{
	static const char *const units[] = { "KiB", "MiB", "GiB", "TiB" };
	double v = (double)b;
	int u = -1;

	while (v >= 1024 && u < 3) {
		v /= 1024;
		u++;
	}
	if (u < 0)
		fprintf(f, "%" PRIu64 " B", b);
	else
		fprintf(f, "%.2f %s", v, units[u]);
}

/* "1 day, 2 hours, 3 minutes, 4 seconds", as wg show writes an age. */
static void print_age(FILE *f, uint64_t secs)
{
	static const struct { uint64_t len; const char *name; } units[] = {
		{ 365 * 86400ULL, "year" }, { 86400, "day" }, { 3600, "hour" },
		{ 60, "minute" }, { 1, "second" },
	};
	bool first = true;

	if (!secs) {
		fprintf(f, "Now");
		return;
	}
	for (size_t i = 0; i < sizeof(units) / sizeof(*units); i++) {
		uint64_t n = secs / units[i].len;

		if (!n)
			continue;
		secs %= units[i].len;
		fprintf(f, "%s%" PRIu64 " %s%s", first ? "" : ", ", n, units[i].name,
			n == 1 ? "" : "s");
		first = false;
	}
	fprintf(f, " ago");
}

static void print_counters(FILE *f, const struct dev_info *d)
{
	bool any = false;

	for (size_t i = 0; i < d->n_counters; i++) {
		if (strncmp(d->counters[i].name, "drop_", 5))
			continue;
		fprintf(f, "%s%s %" PRIu64, any ? ", " : "  drops: ", d->counters[i].name + 5,
			d->counters[i].value);
		any = true;
	}
	if (any)
		fprintf(f, "\n");
	any = false;
	for (size_t i = 0; i < d->n_counters; i++) {
		if (!strncmp(d->counters[i].name, "drop_", 5))
			continue;
		fprintf(f, "%s%s: %" PRIu64, any ? ", " : "  ", d->counters[i].name,
			d->counters[i].value);
		any = true;
	}
	if (any)
		fprintf(f, "\n");
}

static void print_path(FILE *f, const struct dev_path *p)
{
	fprintf(f, "  path %s: %s -> %s, %s", p->name, *p->local ? p->local : "(any)",
		*p->remote ? p->remote : "(none)", *p->state ? p->state : "?");
	if (p->rtt_us)
		fprintf(f, ", rtt %.1f ms", (double)p->rtt_us / 1000.0);
	fprintf(f, ", ");
	print_bytes(f, p->rx_bytes);
	fprintf(f, " received, ");
	print_bytes(f, p->tx_bytes);
	fprintf(f, " sent");
	if (p->has_last_rx)
		fprintf(f, ", last received %.1f s ago", (double)p->last_rx_ms / 1000.0);
	if (p->rate_bps)
		fprintf(f, ", rate %.1f Mbit/s", (double)p->rate_bps / 1e6);
	if (p->owd_us > 0)
		fprintf(f, ", %.1f ms behind the fastest", (double)p->owd_us / 1000.0);
	fprintf(f, "\n");
}

static void print_peer(FILE *f, const struct dev_peer *p, time_t now)
{
	char b64[45], prefix[64];

	key_b64(b64, p->public_key);
	fprintf(f, "\npeer: %s\n", b64);
	if (p->has_preshared_key)
		fprintf(f, "  preshared key: (hidden)\n");
	if (*p->endpoint || *p->endpoint_name) {
		fprintf(f, "  endpoint: %s", *p->endpoint ? p->endpoint : "(none)");
		if (*p->endpoint_name)
			fprintf(f, " (%s)", p->endpoint_name);
		fprintf(f, "\n");
	}
	fprintf(f, "  allowed ips: ");
	for (size_t i = 0; i < p->n_allowed_ips; i++) {
		devinfo_format_prefix(prefix, sizeof(prefix), &p->allowed_ips[i]);
		fprintf(f, "%s%s", i ? ", " : "", prefix);
	}
	fprintf(f, "%s\n", p->n_allowed_ips ? "" : "(none)");
	if (p->handshake_sec) {
		fprintf(f, "  latest handshake: ");
		print_age(f, now > (time_t)p->handshake_sec ? (uint64_t)now - p->handshake_sec : 0);
		fprintf(f, "\n");
	}
	if (p->rx_bytes || p->tx_bytes) {
		fprintf(f, "  transfer: ");
		print_bytes(f, p->rx_bytes);
		fprintf(f, " received, ");
		print_bytes(f, p->tx_bytes);
		fprintf(f, " sent\n");
	}
	if (p->keepalive)
		fprintf(f, "  persistent keepalive: every %u seconds\n", p->keepalive);
	if (*p->multipath)
		fprintf(f, "  multipath: %s (far end is braid: %s)\n", p->multipath,
			*p->far_end ? p->far_end : "unknown");
	for (unsigned int i = 0; i < p->n_paths; i++)
		print_path(f, &p->paths[i]);
	if (*p->reorder)
		fprintf(f, "  reorder: %s\n", p->reorder);
}

/* wg show's order: the most recent handshake first, peers without one last. */
static int by_handshake(const void *a, const void *b)
{
	const struct dev_peer *x = *(const struct dev_peer *const *)a;
	const struct dev_peer *y = *(const struct dev_peer *const *)b;

	if (x->handshake_sec != y->handshake_sec)
		return x->handshake_sec > y->handshake_sec ? -1 : 1;
	if (x->handshake_nsec != y->handshake_nsec)
		return x->handshake_nsec > y->handshake_nsec ? -1 : 1;
	return 0;
}

void show_pretty(FILE *f, const char *ifname, const struct dev_info *d, time_t now)
{
	const struct dev_peer **order = calloc(d->n_peers ? d->n_peers : 1, sizeof(*order));
	char b64[45];

	fprintf(f, "interface: %s\n", ifname);
	if (d->has_private_key) {
		key_b64(b64, d->public_key);
		fprintf(f, "  public key: %s\n  private key: (hidden)\n", b64);
	}
	if (d->listen_port)
		fprintf(f, "  listening port: %u\n", d->listen_port);
	if (d->fwmark)
		fprintf(f, "  fwmark: 0x%x\n", d->fwmark);
	print_counters(f, d);
	for (size_t i = 0; i < d->n_peers && order; i++)
		order[i] = &d->peers[i];
	if (order)
		qsort(order, d->n_peers, sizeof(*order), by_handshake);
	for (size_t i = 0; i < d->n_peers; i++)
		print_peer(f, order ? order[i] : &d->peers[i], now);
	free(order);
}

/* ---- For programs ---- */

/* The counters every daemon has, zero or not: each drop reason and the handshake ones. */
static uint64_t counter_value(const struct dev_info *d, const char *name)
{
	return devinfo_counter(d, name);
}

static void known_counter_name(char *buf, size_t len, unsigned int i)
{
	if (i < BRAID_DROP_MAX)
		snprintf(buf, len, "drop_%s", braid_drop_name((enum braid_drop)i));
	else
		snprintf(buf, len, "%s", i == BRAID_DROP_MAX ? "cookie_replies_sent" :
					 "handshakes_under_load");
}

enum { KNOWN_COUNTERS = BRAID_DROP_MAX + 2 };

static bool is_known_counter(const char *name)
{
	char known[64];

	for (unsigned int i = BRAID_OK + 1; i < KNOWN_COUNTERS; i++) {
		known_counter_name(known, sizeof(known), i);
		if (!strcmp(known, name))
			return true;
	}
	return false;
}

static void dump_peer(FILE *f, const char *pre, const struct dev_peer *p)
{
	char b64[45], prefix[64];

	key_b64(b64, p->public_key);
	fprintf(f, "%s%s\t", pre, b64);
	if (p->has_preshared_key) {
		key_b64(b64, p->preshared_key);
		fprintf(f, "%s\t", b64);
	} else {
		fprintf(f, "(none)\t");
	}
	fprintf(f, "%s\t", *p->endpoint ? p->endpoint : "(none)");
	for (size_t i = 0; i < p->n_allowed_ips; i++) {
		devinfo_format_prefix(prefix, sizeof(prefix), &p->allowed_ips[i]);
		fprintf(f, "%s%s", i ? "," : "", prefix);
	}
	fprintf(f, "%s\t%" PRIu64 "\t%" PRIu64 "\t%" PRIu64 "\t", p->n_allowed_ips ? "" : "(none)",
		p->handshake_sec, p->rx_bytes, p->tx_bytes);
	if (p->keepalive)
		fprintf(f, "%u\n", p->keepalive);
	else
		fprintf(f, "off\n");
}

static void dump_braid_lines(FILE *f, const char *pre, const struct dev_info *d)
{
	char b64[45], name[64];

	for (size_t i = 0; i < d->n_peers; i++) {
		const struct dev_peer *p = &d->peers[i];

		key_b64(b64, p->public_key);
		fprintf(f, "%sbraid-peer\t%s\t%s\t%s\t%s\n", pre, b64,
			*p->multipath ? p->multipath : "off", *p->far_end ? p->far_end : "unknown",
			*p->endpoint_name ? p->endpoint_name : "(none)");
		for (unsigned int j = 0; j < p->n_paths; j++) {
			const struct dev_path *t = &p->paths[j];

			fprintf(f, "%sbraid-path\t%s\t%s\t%s\t%s\t%s\t%" PRIu64 "\t%" PRIu64 "\t%"
				PRIu64 "\t", pre, b64, t->name, *t->local ? t->local : "(none)",
				*t->remote ? t->remote : "(none)", *t->state ? t->state : "(none)",
				t->rtt_us, t->tx_bytes, t->rx_bytes);
			if (t->has_last_rx)
				fprintf(f, "%" PRIu64 "\n", t->last_rx_ms);
			else
				fprintf(f, "(none)\n");
		}
	}
	for (unsigned int i = BRAID_OK + 1; i < KNOWN_COUNTERS; i++) {
		known_counter_name(name, sizeof(name), i);
		fprintf(f, "%sbraid-counter\t%s\t%" PRIu64 "\n", pre, name, counter_value(d, name));
	}
	for (size_t i = 0; i < d->n_counters; i++)
		if (!is_known_counter(d->counters[i].name))
			fprintf(f, "%sbraid-counter\t%s\t%" PRIu64 "\n", pre, d->counters[i].name,
				d->counters[i].value);
}

void show_dump(FILE *f, const char *ifname, const struct dev_info *d, bool with_ifname)
{
	char pre[IF_NAMESIZE + 2] = "", b64[45];

	if (with_ifname)
		snprintf(pre, sizeof(pre), "%s\t", ifname);
	if (d->has_private_key) {
		key_b64(b64, d->private_key);
		fprintf(f, "%s%s\t", pre, b64);
		key_b64(b64, d->public_key);
		fprintf(f, "%s\t", b64);
		explicit_bzero(b64, sizeof(b64));
	} else {
		fprintf(f, "%s(none)\t(none)\t", pre);
	}
	fprintf(f, "%u\t", d->listen_port);
	if (d->fwmark)
		fprintf(f, "0x%x\n", d->fwmark);
	else
		fprintf(f, "off\n");
	for (size_t i = 0; i < d->n_peers; i++)
		dump_peer(f, pre, &d->peers[i]);
	dump_braid_lines(f, pre, d);
}

/* ---- For Prometheus ---- */

/* A label value with \, " and newline escaped, as the text format wants. */
static void label(FILE *f, const char *name, const char *value, bool first)
{
	fprintf(f, "%s%s=\"", first ? "" : ",", name);
	for (; *value; value++) {
		if (*value == '\\' || *value == '"')
			fprintf(f, "\\%c", *value);
		else if (*value == '\n')
			fprintf(f, "\\n");
		else
			fputc(*value, f);
	}
	fputc('"', f);
}

static void family(FILE *f, const char *name, const char *type, const char *help)
{
	fprintf(f, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

struct metrics {
	FILE *f;
	const char *const *ifnames;
	const struct dev_info *devs;
	size_t n;
	time_t now;
};

typedef void peer_metric_fn(const struct metrics *m, const char *ifname,
			    const struct dev_peer *p, const char *key);

static void peer_labels(FILE *f, const char *name, const char *ifname, const char *key)
{
	fprintf(f, "%s{", name);
	label(f, "interface", ifname, true);
	label(f, "public_key", key, false);
}

static void each_peer(const struct metrics *m, peer_metric_fn *fn)
{
	char b64[45];

	for (size_t i = 0; i < m->n; i++) {
		for (size_t j = 0; j < m->devs[i].n_peers; j++) {
			key_b64(b64, m->devs[i].peers[j].public_key);
			fn(m, m->ifnames[i], &m->devs[i].peers[j], b64);
		}
	}
}

static void m_rx(const struct metrics *m, const char *ifname, const struct dev_peer *p,
		 const char *key)
{
	peer_labels(m->f, "braid_peer_receive_bytes_total", ifname, key);
	fprintf(m->f, "} %" PRIu64 "\n", p->rx_bytes);
}

static void m_tx(const struct metrics *m, const char *ifname, const struct dev_peer *p,
		 const char *key)
{
	peer_labels(m->f, "braid_peer_transmit_bytes_total", ifname, key);
	fprintf(m->f, "} %" PRIu64 "\n", p->tx_bytes);
}

static void m_handshake(const struct metrics *m, const char *ifname, const struct dev_peer *p,
			const char *key)
{
	peer_labels(m->f, "braid_peer_last_handshake_timestamp_seconds", ifname, key);
	fprintf(m->f, "} %" PRIu64 "\n", p->handshake_sec);
}

static void m_handshake_age(const struct metrics *m, const char *ifname, const struct dev_peer *p,
			    const char *key)
{
	if (!p->handshake_sec)
		return;
	peer_labels(m->f, "braid_peer_last_handshake_age_seconds", ifname, key);
	fprintf(m->f, "} %lld\n", m->now > (time_t)p->handshake_sec ?
				   (long long)(m->now - (time_t)p->handshake_sec) : 0LL);
}

static void m_info(const struct metrics *m, const char *ifname, const struct dev_peer *p,
		   const char *key)
{
	peer_labels(m->f, "braid_peer_info", ifname, key);
	label(m->f, "endpoint", p->endpoint, false);
	label(m->f, "endpoint_name", p->endpoint_name, false);
	label(m->f, "multipath", *p->multipath ? p->multipath : "off", false);
	label(m->f, "far_end_braid", *p->far_end ? p->far_end : "unknown", false);
	fprintf(m->f, "} 1\n");
}

static void m_keepalive(const struct metrics *m, const char *ifname, const struct dev_peer *p,
			const char *key)
{
	peer_labels(m->f, "braid_peer_persistent_keepalive_seconds", ifname, key);
	fprintf(m->f, "} %u\n", p->keepalive);
}

static void path_labels(FILE *f, const char *name, const char *ifname, const char *key,
			const struct dev_path *t)
{
	peer_labels(f, name, ifname, key);
	label(f, "path", t->name, false);
	label(f, "local", t->local, false);
	label(f, "remote", t->remote, false);
}

enum path_metric { P_STATE, P_RTT, P_TX, P_RX, P_LAST_RX, P_RATE };

/* One path's sample (samples, for the state) of one metric. */
static void path_sample(FILE *f, enum path_metric which, const char *ifn, const char *key,
			const struct dev_path *t)
{
	switch (which) {
	case P_STATE:
		for (size_t s = 0; s < sizeof(path_states) / sizeof(*path_states); s++) {
			path_labels(f, "braid_path_state", ifn, key, t);
			label(f, "state", path_states[s], false);
			fprintf(f, "} %d\n", !strcmp(t->state, path_states[s]));
		}
		break;
	case P_RTT:
		if (!t->rtt_us)
			break;
		path_labels(f, "braid_path_rtt_seconds", ifn, key, t);
		fprintf(f, "} %.6f\n", (double)t->rtt_us / 1e6);
		break;
	case P_TX:
		path_labels(f, "braid_path_transmit_bytes_total", ifn, key, t);
		fprintf(f, "} %" PRIu64 "\n", t->tx_bytes);
		break;
	case P_RX:
		path_labels(f, "braid_path_receive_bytes_total", ifn, key, t);
		fprintf(f, "} %" PRIu64 "\n", t->rx_bytes);
		break;
	case P_LAST_RX:
		if (!t->has_last_rx)
			break;
		path_labels(f, "braid_path_last_receive_age_seconds", ifn, key, t);
		fprintf(f, "} %.3f\n", (double)t->last_rx_ms / 1e3);
		break;
	case P_RATE:
		if (!t->rate_bps)
			break;
		path_labels(f, "braid_path_rate_bits_per_second", ifn, key, t);
		fprintf(f, "} %" PRIu64 "\n", t->rate_bps);
		break;
	}
}

static void path_metric(const struct metrics *m, enum path_metric which)
{
	char b64[45];

	for (size_t i = 0; i < m->n; i++) {
		for (size_t j = 0; j < m->devs[i].n_peers; j++) {
			const struct dev_peer *p = &m->devs[i].peers[j];

			key_b64(b64, p->public_key);
			for (unsigned int k = 0; k < p->n_paths; k++)
				path_sample(m->f, which, m->ifnames[i], b64, &p->paths[k]);
		}
	}
}

static void device_metrics(const struct metrics *m)
{
	char name[64], b64[45];

	family(m->f, "braid_interface_info", "gauge",
	       "A braid interface: its public key, listening port and fwmark.");
	for (size_t i = 0; i < m->n; i++) {
		const struct dev_info *d = &m->devs[i];

		if (d->has_private_key)
			key_b64(b64, d->public_key);
		fprintf(m->f, "braid_interface_info{");
		label(m->f, "interface", m->ifnames[i], true);
		label(m->f, "public_key", d->has_private_key ? b64 : "", false);
		fprintf(m->f, ",listen_port=\"%u\",fwmark=\"%u\"} 1\n", d->listen_port, d->fwmark);
	}
	family(m->f, "braid_drops_total", "counter",
	       "Packets dropped, by reason (braid(8) lists them).");
	for (size_t i = 0; i < m->n; i++) {
		for (unsigned int r = BRAID_OK + 1; r < BRAID_DROP_MAX; r++) {
			known_counter_name(name, sizeof(name), r);
			fprintf(m->f, "braid_drops_total{");
			label(m->f, "interface", m->ifnames[i], true);
			label(m->f, "reason", name + 5, false);
			fprintf(m->f, "} %" PRIu64 "\n", counter_value(&m->devs[i], name));
		}
	}
	family(m->f, "braid_cookie_replies_sent_total", "counter",
	       "Cookie replies sent to handshakes that came while under load.");
	for (size_t i = 0; i < m->n; i++) {
		fprintf(m->f, "braid_cookie_replies_sent_total{");
		label(m->f, "interface", m->ifnames[i], true);
		fprintf(m->f, "} %" PRIu64 "\n", counter_value(&m->devs[i], "cookie_replies_sent"));
	}
	family(m->f, "braid_handshakes_under_load_total", "counter",
	       "Handshake messages received while the interface was under load.");
	for (size_t i = 0; i < m->n; i++) {
		fprintf(m->f, "braid_handshakes_under_load_total{");
		label(m->f, "interface", m->ifnames[i], true);
		fprintf(m->f, "} %" PRIu64 "\n",
			counter_value(&m->devs[i], "handshakes_under_load"));
	}
}

void show_metrics(FILE *f, const char *const *ifnames, const struct dev_info *devs, size_t n,
		  time_t now)
{
	const struct metrics m = { .f = f, .ifnames = ifnames, .devs = devs, .n = n, .now = now };

	device_metrics(&m);
	family(f, "braid_peer_info", "gauge",
	       "A peer: its endpoint (and the name it was resolved from), multipath mode, "
	       "and whether the far end is braid.");
	each_peer(&m, m_info);
	family(f, "braid_peer_receive_bytes_total", "counter",
	       "Bytes of WireGuard messages received from the peer, handshakes included.");
	each_peer(&m, m_rx);
	family(f, "braid_peer_transmit_bytes_total", "counter",
	       "Bytes of WireGuard messages sent to the peer, handshakes included.");
	each_peer(&m, m_tx);
	family(f, "braid_peer_last_handshake_timestamp_seconds", "gauge",
	       "Wall-clock time of the latest completed handshake; 0 when there was none.");
	each_peer(&m, m_handshake);
	family(f, "braid_peer_last_handshake_age_seconds", "gauge",
	       "Seconds since the latest completed handshake (peers that had one).");
	each_peer(&m, m_handshake_age);
	family(f, "braid_peer_persistent_keepalive_seconds", "gauge",
	       "The persistent keepalive interval; 0 when off.");
	each_peer(&m, m_keepalive);
	family(f, "braid_path_state", "gauge",
	       "A multipath path's state: 1 for the state it is in, 0 for the others.");
	path_metric(&m, P_STATE);
	family(f, "braid_path_rtt_seconds", "gauge", "A path's smoothed round-trip time.");
	path_metric(&m, P_RTT);
	family(f, "braid_path_transmit_bytes_total", "counter", "Bytes sent on a path.");
	path_metric(&m, P_TX);
	family(f, "braid_path_receive_bytes_total", "counter", "Bytes received on a path.");
	path_metric(&m, P_RX);
	family(f, "braid_path_last_receive_age_seconds", "gauge",
	       "Seconds since a path last received anything.");
	path_metric(&m, P_LAST_RX);
	family(f, "braid_path_rate_bits_per_second", "gauge",
	       "Aggregation's estimate of what a path delivers (paths that have one).");
	path_metric(&m, P_RATE);
}

/* ---- The command ---- */

static void usage(FILE *f)
{
	fprintf(f, "Usage: braid show [INTERFACE | all | interfaces] [dump | metrics]\n");
}

/* The interfaces to show: one, or every one with a socket. */
static char *targets(const char *which, size_t *n)
{
	char *one;

	if (strcmp(which, "all"))
		return (one = strdup(which)) ? (*n = 1, one) : NULL;
	return uapi_client_list(n);
}

enum view { VIEW_PRETTY, VIEW_DUMP, VIEW_METRICS };

static int show_targets(char *names, size_t n, enum view view, bool all)
{
	const char **ifnames;
	struct dev_info *devs;
	size_t ok = 0;
	int ret = 0, err;
	char *name = names;

	if (!names)
		n = 0;
	ifnames = calloc(n ? n : 1, sizeof(*ifnames));
	devs = calloc(n ? n : 1, sizeof(*devs));
	if (!ifnames || !devs) {
		free(ifnames);
		free(devs);
		return 1;
	}
	for (size_t i = 0; i < n; i++, name += strlen(name) + 1) {
		err = devinfo_get(&devs[ok], name);
		if (err) {
			fprintf(stderr, "braid show: %s: %s\n", name, strerror(-err));
			ret = 1;
			continue;
		}
		ifnames[ok++] = name;
	}
	for (size_t i = 0; view != VIEW_METRICS && i < ok; i++) {
		if (view == VIEW_DUMP) {
			show_dump(stdout, ifnames[i], &devs[i], all);
			continue;
		}
		if (i)
			putchar('\n');
		show_pretty(stdout, ifnames[i], &devs[i], time(NULL));
	}
	if (view == VIEW_METRICS)
		show_metrics(stdout, ifnames, devs, ok, time(NULL));
	for (size_t i = 0; i < ok; i++)
		devinfo_free(&devs[i]);
	free(devs);
	free(ifnames);
	return ret;
}

int show_main(int argc, char *argv[])
{
	const char *which = argc > 0 ? argv[0] : "all";
	enum view view = VIEW_PRETTY;
	size_t n = 0;
	char *names, *s;
	int ret;

	if (argc > 2 || (argc == 1 && (!strcmp(which, "-h") || !strcmp(which, "--help")))) {
		usage(argc > 2 ? stderr : stdout);
		return argc > 2;
	}
	if (argc == 2 && !strcmp(argv[1], "dump"))
		view = VIEW_DUMP;
	else if (argc == 2 && !strcmp(argv[1], "metrics"))
		view = VIEW_METRICS;
	else if (argc == 2) {
		usage(stderr);
		return 1;
	}
	if (!strcmp(which, "interfaces") && argc == 1) {
		names = uapi_client_list(&n);
		for (s = names; n--; s += strlen(s) + 1)
			printf("%s%s", s, n ? " " : "\n");
		free(names);
		return 0;
	}
	names = targets(which, &n);
	if (!names && strcmp(which, "all")) {
		fprintf(stderr, "braid show: out of memory\n");
		return 1;
	}
	ret = show_targets(names, n, view, !strcmp(which, "all"));
	free(names);
	return ret;
}
