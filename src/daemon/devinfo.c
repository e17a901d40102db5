// SPDX-License-Identifier: MIT
/* Reading a get reply into a struct dev_info (see devinfo.h). */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "devinfo.h"
#include "uapi_client.h"

static const char *value_of(const char *line, const char *key)
{
	size_t n = strlen(key);

	return !strncmp(line, key, n) && line[n] == '=' ? line + n + 1 : NULL;
}

static uint64_t number(const char *s)
{
	return strtoull(s, NULL, 10);
}

static void copy(char *out, size_t len, const char *s)
{
	snprintf(out, len, "%s", s);
}

/* "wlan0,local=…,remote=…,state=…,rtt_us=…,…": unknown fields are skipped. */
static void parse_path(struct dev_path *p, const char *value)
{
	char buf[512], *field, *save = NULL;

	memset(p, 0, sizeof(*p));
	copy(buf, sizeof(buf), value);
	field = strtok_r(buf, ",", &save);
	copy(p->name, sizeof(p->name), field ? field : "");
	while ((field = strtok_r(NULL, ",", &save))) {
		const char *v;

		if ((v = value_of(field, "local")))
			copy(p->local, sizeof(p->local), v);
		else if ((v = value_of(field, "remote")))
			copy(p->remote, sizeof(p->remote), v);
		else if ((v = value_of(field, "state")))
			copy(p->state, sizeof(p->state), v);
		else if ((v = value_of(field, "rtt_us")))
			p->rtt_us = number(v);
		else if ((v = value_of(field, "tx_bytes")))
			p->tx_bytes = number(v);
		else if ((v = value_of(field, "rx_bytes")))
			p->rx_bytes = number(v);
		else if ((v = value_of(field, "last_rx_ms")) && *v != '-')
			p->has_last_rx = true, p->last_rx_ms = number(v);
		else if ((v = value_of(field, "rate_bps")))
			p->rate_bps = number(v);
		else if ((v = value_of(field, "owd_us")))
			p->owd_us = strtoll(v, NULL, 10);
	}
}

static bool parse_prefix(struct prefix *p, const char *value)
{
	char buf[64], *slash;

	copy(buf, sizeof(buf), value);
	slash = strchr(buf, '/');
	if (!slash)
		return false;
	*slash = '\0';
	memset(p, 0, sizeof(*p));
	p->family = strchr(buf, ':') ? AF_INET6 : AF_INET;
	p->len = (uint8_t)atoi(slash + 1);
	return inet_pton(p->family, buf, p->addr) == 1;
}

static int peer_line(struct dev_peer *peer, const char *line)
{
	const char *v;

	if ((v = value_of(line, "preshared_key"))) {
		peer->has_preshared_key = braid_key_from_hex(peer->preshared_key, v);
	} else if ((v = value_of(line, "endpoint"))) {
		copy(peer->endpoint, sizeof(peer->endpoint), v);
	} else if ((v = value_of(line, "braid_endpoint_name"))) {
		copy(peer->endpoint_name, sizeof(peer->endpoint_name), v);
	} else if ((v = value_of(line, "last_handshake_time_sec"))) {
		peer->handshake_sec = number(v);
	} else if ((v = value_of(line, "last_handshake_time_nsec"))) {
		peer->handshake_nsec = number(v);
	} else if ((v = value_of(line, "rx_bytes"))) {
		peer->rx_bytes = number(v);
	} else if ((v = value_of(line, "tx_bytes"))) {
		peer->tx_bytes = number(v);
	} else if ((v = value_of(line, "persistent_keepalive_interval"))) {
		peer->keepalive = (uint16_t)number(v);
	} else if ((v = value_of(line, "braid_multipath"))) {
		copy(peer->multipath, sizeof(peer->multipath), v);
	} else if ((v = value_of(line, "braid_peer_multipath"))) {
		copy(peer->far_end, sizeof(peer->far_end), v);
	} else if ((v = value_of(line, "braid_reorder"))) {
		copy(peer->reorder, sizeof(peer->reorder), v);
	} else if ((v = value_of(line, "braid_path"))) {
		if (peer->n_paths < BRAID_MAX_PATHS)
			parse_path(&peer->paths[peer->n_paths++], v);
	} else if ((v = value_of(line, "allowed_ip"))) {
		struct prefix p, *grown;

		if (!parse_prefix(&p, v))
			return 0;
		grown = realloc(peer->allowed_ips, (peer->n_allowed_ips + 1) * sizeof(p));
		if (!grown)
			return -ENOMEM;
		grown[peer->n_allowed_ips++] = p;
		peer->allowed_ips = grown;
	}
	return 0;
}

static int device_line(struct dev_info *d, const char *line)
{
	const char *v, *eq;

	if ((v = value_of(line, "private_key"))) {
		d->has_private_key = braid_key_from_hex(d->private_key, v);
		if (d->has_private_key)
			braid_public_key(d->public_key, d->private_key);
	} else if ((v = value_of(line, "listen_port"))) {
		d->listen_port = (uint16_t)number(v);
	} else if ((v = value_of(line, "fwmark"))) {
		d->fwmark = (uint32_t)number(v);
	} else if (!strncmp(line, "braid_", 6) && (eq = strchr(line, '='))) {
		struct dev_counter *grown = realloc(d->counters,
						    (d->n_counters + 1) * sizeof(*grown));

		if (!grown)
			return -ENOMEM;
		d->counters = grown;
		snprintf(grown[d->n_counters].name, sizeof(grown->name), "%.*s",
			 (int)(eq - line - 6), line + 6);
		grown[d->n_counters++].value = number(eq + 1);
	}
	return 0;
}

static int new_peer(struct dev_info *d, const char *hex)
{
	struct dev_peer *grown = realloc(d->peers, (d->n_peers + 1) * sizeof(*grown));

	if (!grown)
		return -ENOMEM;
	d->peers = grown;
	memset(&grown[d->n_peers], 0, sizeof(*grown));
	braid_key_from_hex(grown[d->n_peers].public_key, hex);
	d->n_peers++;
	return 0;
}

int devinfo_parse(struct dev_info *d, const char *reply)
{
	char *copy_of = strdup(reply), *line, *save = NULL;
	int ret = 0, err = -EPROTO;

	memset(d, 0, sizeof(*d));
	if (!copy_of)
		return -ENOMEM;
	for (line = strtok_r(copy_of, "\n", &save); line && !ret;
	     line = strtok_r(NULL, "\n", &save)) {
		const char *v;

		if ((v = value_of(line, "errno"))) {
			err = atoi(v);
			break;
		}
		if ((v = value_of(line, "public_key")))
			ret = new_peer(d, v);
		else if (d->n_peers)
			ret = peer_line(&d->peers[d->n_peers - 1], line);
		else
			ret = device_line(d, line);
	}
	explicit_bzero(copy_of, strlen(reply));
	free(copy_of);
	if (!ret)
		ret = err;
	if (ret)
		devinfo_free(d);
	return ret;
}

int devinfo_get(struct dev_info *d, const char *ifname)
{
	char *reply = uapi_client_transact(ifname, "get=1\n\n");
	int ret;

	memset(d, 0, sizeof(*d));
	if (!reply)
		return -errno;
	ret = devinfo_parse(d, reply);
	explicit_bzero(reply, strlen(reply));
	free(reply);
	return ret;
}

void devinfo_free(struct dev_info *d)
{
	for (size_t i = 0; i < d->n_peers; i++)
		free(d->peers[i].allowed_ips);
	free(d->peers);
	free(d->counters);
	explicit_bzero(d, sizeof(*d));
}

uint64_t devinfo_counter(const struct dev_info *d, const char *name)
{
	for (size_t i = 0; i < d->n_counters; i++)
		if (!strcmp(d->counters[i].name, name))
			return d->counters[i].value;
	return 0;
}

void devinfo_format_prefix(char *buf, size_t len, const struct prefix *p)
{
	char addr[INET6_ADDRSTRLEN];

	inet_ntop(p->family, p->addr, addr, sizeof(addr));
	snprintf(buf, len, "%s/%u", addr, p->len);
}
