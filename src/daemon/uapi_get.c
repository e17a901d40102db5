// SPDX-License-Identifier: MIT
/*
 * The UAPI get operation: the device's configuration and counters as
 * key=value lines, written a slice of peers at a time. Between slices the
 * peers may change (a set of another client runs its own slices): a cursor
 * keeps the place, every peer is written whole, in insertion order, and a
 * peer removed meanwhile is skipped if it was not written yet.
 */
#include <arpa/inet.h>
#include <net/if.h>
#include <stdio.h>
#include <string.h>

#include "log.h"
#include "multipath.h"
#include "resolver.h"
#include "uapi_get.h"
#include "watch.h"

static void put_key(struct uapi_buf *out, const char *name, const uint8_t key[BRAID_KEY_LEN])
{
	char hex[2 * BRAID_KEY_LEN + 1];

	braid_key_to_hex(hex, key);
	uapi_buf_printf(out, "%s=%s\n", name, hex);
	explicit_bzero(hex, sizeof(hex));
}

/* "198.51.100.1:51820" or "[2001:db8::1%eth0]:51820"; empty for another family. */
static void format_endpoint(char *buf, size_t len, const struct braid_endpoint *ep)
{
	char ip[INET6_ADDRSTRLEN], zone[IF_NAMESIZE + 2] = "";
	const struct sockaddr_in6 *in6 = &ep->addr.in6;

	*buf = '\0';
	if (ep->addr.sa.sa_family == AF_INET) {
		inet_ntop(AF_INET, &ep->addr.in4.sin_addr, ip, sizeof(ip));
		snprintf(buf, len, "%s:%u", ip, ntohs(ep->addr.in4.sin_port));
	} else if (ep->addr.sa.sa_family == AF_INET6) {
		inet_ntop(AF_INET6, &in6->sin6_addr, ip, sizeof(ip));
		if (in6->sin6_scope_id) {
			char name[IF_NAMESIZE];

			if (if_indextoname(in6->sin6_scope_id, name))
				snprintf(zone, sizeof(zone), "%%%s", name);
			else
				snprintf(zone, sizeof(zone), "%%%u", in6->sin6_scope_id);
		}
		snprintf(buf, len, "[%s%s]:%u", ip, zone, ntohs(in6->sin6_port));
	}
}

static void put_endpoint(struct uapi_buf *out, const struct braid_endpoint *ep)
{
	char text[INET6_ADDRSTRLEN + IF_NAMESIZE + 16];

	format_endpoint(text, sizeof(text), ep);
	if (*text)
		uapi_buf_printf(out, "endpoint=%s\n", text);
}

static int put_allowed_ip(void *ctx, int family, const void *addr, uint8_t cidr)
{
	struct uapi_buf *out = ctx;
	char ip[INET6_ADDRSTRLEN];

	if (!inet_ntop(family, addr, ip, sizeof(ip)))
		return 0;
	uapi_buf_printf(out, "allowed_ip=%s/%u\n", ip, cidr);
	return 0;
}

static const char *const path_state_names[] = {
	[BRAID_PATH_DOWN] = "down", [BRAID_PATH_PROBING] = "probing",
	[BRAID_PATH_STANDBY] = "standby", [BRAID_PATH_ACTIVE] = "active",
	[BRAID_PATH_SUSPECT] = "suspect",
};

static const char *const kind_names[] = {
	[BRAID_PEER_UNKNOWN] = "unknown", [BRAID_PEER_BRAID] = "yes", [BRAID_PEER_STOCK] = "no",
};

/* What a path is called in get: its configured name, else its interface's, else "learned". */
static const char *path_name(const struct uapi *u, const struct braid_path_info *info)
{
	const struct uplink *l;

	if (*info->name)
		return info->name;
	l = u->mp ? uplinks_by_index(u->mp->uplinks, info->endpoint.src_ifindex) : NULL;
	return l && *l->name ? l->name : "learned";
}

static void put_path(const struct uapi *u, uint64_t now, struct uapi_buf *out,
		     const struct braid_path_info *info)
{
	char remote[INET6_ADDRSTRLEN + IF_NAMESIZE + 16], local[INET6_ADDRSTRLEN] = "";
	const struct braid_endpoint *ep = &info->endpoint;
	uint64_t last_rx = info->last_rx_ns == BRAID_NEVER || info->last_rx_ns > now ? UINT64_MAX :
			   (now - info->last_rx_ns) / 1000000;

	format_endpoint(remote, sizeof(remote), ep);
	inet_ntop(ep->addr.sa.sa_family, ep->addr.sa.sa_family == AF_INET ?
		  (const void *)&ep->src.in4 : (const void *)&ep->src.in6, local, sizeof(local));
	/* One line, so that wg, which ignores it, sees one unknown key. */
	uapi_buf_printf(out, "braid_path=%s,local=%s,remote=%s,state=%s,rtt_us=%llu,tx_bytes=%llu,"
		   "rx_bytes=%llu,last_rx_ms=%lld,rate_bps=%llu,owd_us=%lld,wins=%llu\n",
		   path_name(u, info), local, remote, path_state_names[info->state],
		   (unsigned long long)(info->srtt_ns / 1000), (unsigned long long)info->tx_bytes,
		   (unsigned long long)info->rx_bytes,
		   last_rx == UINT64_MAX ? -1LL : (long long)last_rx,
		   (unsigned long long)info->rate_bps, (long long)info->owd_us,
		   (unsigned long long)info->wins);
}

/*
 * Multipath, read-only like the drop counters (wg ignores these keys): the
 * mode, whether the far end is braid, one line per path. Only for a peer
 * with something to show, so a plain configuration answers as wireguard-go.
 */
static void put_multipath(const struct uapi *u, uint64_t now, struct uapi_buf *out,
			  const struct braid_peer *peer)
{
	struct braid_path_info info[BRAID_MAX_PATHS];
	struct braid_reorder_stats rs;
	enum braid_multipath mode = braid_peer_get_multipath(peer);
	enum braid_peer_kind kind = braid_peer_get_kind(peer);
	size_t n = braid_peer_get_paths(peer, info, BRAID_MAX_PATHS);

	if (mode == BRAID_MULTIPATH_OFF && kind == BRAID_PEER_UNKNOWN && !n)
		return;
	uapi_buf_printf(out, "braid_multipath=%s\n", uapi_multipath_modes[mode]);
	uapi_buf_printf(out, "braid_peer_multipath=%s\n", kind_names[kind]);
	for (size_t i = 0; i < n && i < BRAID_MAX_PATHS; i++)
		put_path(u, now, out, &info[i]);
	if (braid_peer_get_reorder_stats(peer, &rs))
		uapi_buf_printf(out, "braid_reorder=held=%llu,released=%llu,gave_up=%llu,"
				"gave_up_early=%llu,late=%llu,hold_p99_us=%llu,bound_us=%llu,"
				"skew_us=%llu,even_us=%llu\n",
				(unsigned long long)rs.held, (unsigned long long)rs.released,
				(unsigned long long)rs.gave_up, (unsigned long long)rs.gave_up_early,
				(unsigned long long)rs.late, (unsigned long long)rs.hold_p99_us,
				(unsigned long long)rs.bound_us, (unsigned long long)rs.skew_us,
				(unsigned long long)rs.even_us);
}

static void put_name(const struct uapi *u, struct uapi_buf *out, const struct braid_peer *peer)
{
	uint8_t key[BRAID_KEY_LEN];
	const char *name;

	if (!u->resolver)
		return;
	braid_peer_get_public_key(peer, key);
	name = resolver_name_of(u->resolver, key);
	if (name)
		uapi_buf_printf(out, "braid_endpoint_name=%s\n", name);
}

static void put_peer(const struct uapi *u, uint64_t now, struct uapi_buf *out,
		     const struct braid_peer *peer)
{
	uint8_t key[BRAID_KEY_LEN];
	struct braid_endpoint ep;
	struct braid_peer_stats st;

	braid_peer_get_public_key(peer, key);
	put_key(out, "public_key", key);
	if (braid_peer_get_preshared_key(peer, key))
		put_key(out, "preshared_key", key);
	explicit_bzero(key, sizeof(key));
	uapi_buf_printf(out, "protocol_version=1\n");
	if (braid_peer_get_endpoint(peer, &ep))
		put_endpoint(out, &ep);
	put_name(u, out, peer);
	braid_peer_get_stats(peer, &st);
	uapi_buf_printf(out, "last_handshake_time_sec=%llu\n",
		   (unsigned long long)(st.last_handshake_ns / NSEC_PER_SEC));
	uapi_buf_printf(out, "last_handshake_time_nsec=%llu\n",
		   (unsigned long long)(st.last_handshake_ns % NSEC_PER_SEC));
	uapi_buf_printf(out, "tx_bytes=%llu\n", (unsigned long long)st.tx_bytes);
	uapi_buf_printf(out, "rx_bytes=%llu\n", (unsigned long long)st.rx_bytes);
	uapi_buf_printf(out, "persistent_keepalive_interval=%u\n",
		   braid_peer_get_persistent_keepalive(peer));
	put_multipath(u, now, out, peer);
	braid_peer_foreach_allowed_ip(peer, put_allowed_ip, out);
}

static void put_counter(struct uapi_buf *out, const char *prefix, const char *name,
			uint64_t value)
{
	if (value)
		uapi_buf_printf(out, "%s%s=%llu\n", prefix, name, (unsigned long long)value);
}

/*
 * Read-only extensions: wg ignores keys it does not know in get output, so
 * braid's counters travel with the standard fields: braid_drop_<reason>,
 * braid_cookie_replies_sent, braid_handshakes_under_load. Only non-zero
 * ones are listed, so a quiet device answers exactly as wireguard-go does.
 */
static void put_device_stats(struct uapi_buf *out, const struct braid_device *dev)
{
	struct braid_device_stats stats;
	unsigned int i;

	braid_device_get_stats(dev, &stats);
	for (i = BRAID_OK + 1; i < BRAID_DROP_MAX; ++i)
		put_counter(out, "braid_drop_", braid_drop_name(i), stats.drops[i]);
	put_counter(out, "braid_", "cookie_replies_sent", stats.cookie_replies_sent);
	put_counter(out, "braid_", "handshakes_under_load", stats.handshakes_under_load);
}

/* The lines before the peers: our key, port, fwmark and counters. */
static void put_device(struct uapi *u, struct uapi_buf *out)
{
	uint8_t key[BRAID_KEY_LEN];
	uint16_t port = u->host->get_listen_port(u->host_ctx);
	uint32_t fwmark = u->host->get_fwmark(u->host_ctx);

	if (braid_device_get_private_key(u->dev, key))
		put_key(out, "private_key", key);
	explicit_bzero(key, sizeof(key));
	if (port)
		uapi_buf_printf(out, "listen_port=%u\n", port);
	if (fwmark)
		uapi_buf_printf(out, "fwmark=%u\n", fwmark);
	put_device_stats(out, u->dev);
}

void uapi_get_start(struct uapi_get *g)
{
	memset(g, 0, sizeof(*g));
}

bool uapi_get_run(struct uapi_get *g, struct uapi *u, uint64_t now, struct uapi_buf *out,
		  size_t budget)
{
	const struct braid_peer *peer;
	size_t n = 0;

	if (!g->started) {
		put_device(u, out);
		braid_peer_cursor_open(&g->cursor, u->dev);
		g->started = true;
	}
	/* At least one peer a slice, so that a caller that never drains out still finishes. */
	while (n < budget && (!n || out->len < UAPI_REPLY_HIGH)) {
		peer = braid_peer_cursor_next(&g->cursor);
		if (!peer) {
			braid_peer_cursor_close(&g->cursor);
			uapi_reply_errno(out, 0);
			return true;
		}
		put_peer(u, now, out, peer);
		n++;
	}
	return false;
}

void uapi_get_stop(struct uapi_get *g)
{
	braid_peer_cursor_close(&g->cursor);
}
