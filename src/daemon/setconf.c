// SPDX-License-Identifier: MIT
/* Configuration file to UAPI request and back (see setconf.h). */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "setconf.h"

static int retries_allowed(void)
{
	const char *v = getenv("WG_ENDPOINT_RESOLUTION_RETRIES");
	char *end;
	long n;

	if (!v)
		return 15;
	if (!strcmp(v, "infinity"))
		return -1;
	n = strtol(v, &end, 10);
	return *end || n < 0 ? 15 : (int)n;
}

static void format_sockaddr(char *out, size_t len, const struct sockaddr *sa)
{
	char host[INET6_ADDRSTRLEN + IF_NAMESIZE + 2] = "";

	getnameinfo(sa, sa->sa_family == AF_INET ? sizeof(struct sockaddr_in) :
		    sizeof(struct sockaddr_in6), host, sizeof(host), NULL, 0, NI_NUMERICHOST);
	if (sa->sa_family == AF_INET)
		snprintf(out, len, "%s:%u", host,
			 ntohs(((const struct sockaddr_in *)sa)->sin_port));
	else
		snprintf(out, len, "[%s]:%u", host,
			 ntohs(((const struct sockaddr_in6 *)sa)->sin6_port));
}

bool setconf_is_name(const char *endpoint)
{
	char host[CONF_ENDPOINT_LEN], port[16];
	uint8_t addr[16];

	if (conf_split_endpoint(endpoint, host, sizeof(host), port, sizeof(port)))
		return false;
	*strchrnul(host, '%') = '\0';
	return inet_pton(AF_INET, host, addr) != 1 && inet_pton(AF_INET6, host, addr) != 1;
}

int setconf_resolve(const char *endpoint, char *out, size_t len, char *why, size_t why_len)
{
	const struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_DGRAM,
					.ai_protocol = IPPROTO_UDP };
	char host[CONF_ENDPOINT_LEN], port[16];
	struct addrinfo *res = NULL;
	unsigned int wait_us = 1000000;
	int ret, left = retries_allowed();

	if (conf_split_endpoint(endpoint, host, sizeof(host), port, sizeof(port))) {
		snprintf(why, why_len, "not HOST:PORT");
		return -EINVAL;
	}
	for (;;) {
		ret = getaddrinfo(host, port, &hints, &res);
		if (!ret)
			break;
		/* Permanent failures end at once; the others may pass (no network yet at boot). */
		if (ret == EAI_NONAME || ret == EAI_FAIL || ret == EAI_NODATA || !left) {
			snprintf(why, why_len, "%s", ret == EAI_SYSTEM ? strerror(errno) :
						       gai_strerror(ret));
			return -EINVAL;
		}
		if (left > 0)
			left--;
		fprintf(stderr, "%s: `%s'; trying again in %.2f seconds\n", gai_strerror(ret),
			endpoint, wait_us / 1e6);
		usleep(wait_us);
		wait_us = wait_us * 6 / 5 < 20000000 ? wait_us * 6 / 5 : 20000000;
	}
	for (struct addrinfo *a = res; a; a = a->ai_next) {
		if (a->ai_family == AF_INET || a->ai_family == AF_INET6) {
			format_sockaddr(out, len, a->ai_addr);
			freeaddrinfo(res);
			return 0;
		}
	}
	freeaddrinfo(res);
	snprintf(why, why_len, "neither an IPv4 nor an IPv6 address");
	return -EINVAL;
}

static void put_hex_key(struct uapi_request *r, const char *name, const uint8_t *key)
{
	char hex[2 * BRAID_KEY_LEN + 1];

	braid_key_to_hex(hex, key);
	uapi_request_add(r, name, "%s", hex);
	explicit_bzero(hex, sizeof(hex));
}

static int endpoint_line(struct uapi_request *r, const char *key, const char *endpoint,
			 unsigned int line, struct conf_error *err)
{
	char numeric[80], why[128];

	if (setconf_resolve(endpoint, numeric, sizeof(numeric), why, sizeof(why))) {
		err->line = line;
		snprintf(err->msg, sizeof(err->msg), "cannot resolve `%.100s': %s", endpoint, why);
		return -EINVAL;
	}
	uapi_request_add(r, key, "%s", numeric);
	return 0;
}

static int peer_request(const struct conf_peer *p, struct uapi_request *r,
			struct conf_error *err)
{
	char prefix[64];
	int ret;

	put_hex_key(r, "public_key", p->public_key);
	if (p->has_preshared_key)
		put_hex_key(r, "preshared_key", p->preshared_key);
	if (p->has_endpoint) {
		ret = endpoint_line(r, "endpoint", p->endpoint, p->endpoint_line, err);
		if (ret)
			return ret;
		if (setconf_is_name(p->endpoint))
			uapi_request_add(r, "braid_endpoint_name", "%s", p->endpoint);
	}
	if (p->has_keepalive)
		uapi_request_add(r, "persistent_keepalive_interval", "%u", p->keepalive);
	uapi_request_add(r, "replace_allowed_ips", "true");
	for (size_t i = 0; i < p->n_allowed_ips; i++) {
		devinfo_format_prefix(prefix, sizeof(prefix), &p->allowed_ips[i]);
		uapi_request_add(r, "allowed_ip", "%s", prefix);
	}
	if (p->has_multipath)
		uapi_request_add(r, "braid_multipath", "%s", conf_multipath_name(p->multipath));
	if (p->n_paths)
		uapi_request_add(r, "braid_replace_paths", "true");
	for (unsigned int i = 0; i < p->n_paths; i++)
		uapi_request_add(r, "braid_path", "%s", p->paths[i]);
	for (unsigned int i = 0; i < p->n_extra; i++) {
		ret = endpoint_line(r, "braid_endpoint", p->extra_endpoints[i], p->extra_lines[i],
				    err);
		if (ret)
			return ret;
	}
	return 0;
}

int setconf_request(const struct conf *c, struct uapi_request *r, struct conf_error *err)
{
	static const uint8_t zero[BRAID_KEY_LEN];
	int ret;

	uapi_request_line(r, "set=1");
	put_hex_key(r, "private_key", c->has_private_key ? c->private_key : zero);
	uapi_request_add(r, "listen_port", "%u", c->has_listen_port ? c->listen_port : 0);
	uapi_request_add(r, "fwmark", "%u", c->has_fwmark ? c->fwmark : 0);
	uapi_request_add(r, "replace_peers", "true");
	for (size_t i = 0; i < c->n_peers; i++) {
		ret = peer_request(&c->peers[i], r, err);
		if (ret)
			return ret;
	}
	uapi_request_line(r, "");
	if (r->failed) {
		snprintf(err->msg, sizeof(err->msg), "out of memory");
		return -ENOMEM;
	}
	return 0;
}

/* ---- SaveConfig ---- */

static const struct conf_peer *conf_peer_of(const struct conf *c, const uint8_t *key)
{
	for (size_t i = 0; i < c->n_peers; i++)
		if (!memcmp(c->peers[i].public_key, key, BRAID_KEY_LEN))
			return &c->peers[i];
	return NULL;
}

static void save_list(FILE *f, const char *key, const struct conf_list *l)
{
	for (size_t i = 0; i < l->n; i++)
		fprintf(f, "%s = %s\n", key, l->item[i]);
}

static void save_interface(FILE *f, const struct conf *c, const struct dev_info *d,
			   const struct prefix *addrs, unsigned int n_addrs, unsigned int mtu)
{
	char text[64], b64[45];

	fprintf(f, "[Interface]\n");
	for (unsigned int i = 0; i < n_addrs; i++) {
		devinfo_format_prefix(text, sizeof(text), &addrs[i]);
		fprintf(f, "Address = %s\n", text);
	}
	for (size_t i = 0; i < c->dns.n; i++)
		fprintf(f, "DNS = %s\n", c->dns.item[i]);
	for (size_t i = 0; i < c->dns_search.n; i++)
		fprintf(f, "DNS = %s\n", c->dns_search.item[i]);
	if (mtu)
		fprintf(f, "MTU = %u\n", mtu);
	if (c->table == CONF_TABLE_OFF)
		fprintf(f, "Table = off\n");
	else if (c->table == CONF_TABLE_SET)
		fprintf(f, "Table = %s\n", c->table_name);
	fprintf(f, "SaveConfig = true\n");
	save_list(f, "PreUp", &c->pre_up);
	save_list(f, "PostUp", &c->post_up);
	save_list(f, "PreDown", &c->pre_down);
	save_list(f, "PostDown", &c->post_down);
	if (d->listen_port)
		fprintf(f, "ListenPort = %u\n", d->listen_port);
	if (d->fwmark)
		fprintf(f, "FwMark = 0x%x\n", d->fwmark);
	if (d->has_private_key) {
		braid_key_to_base64(b64, d->private_key);
		fprintf(f, "PrivateKey = %s\n", b64);
		explicit_bzero(b64, sizeof(b64));
	}
}

static void save_peer(FILE *f, const struct dev_peer *p, const struct conf_peer *was)
{
	char text[64], b64[45];

	braid_key_to_base64(b64, p->public_key);
	fprintf(f, "\n[Peer]\nPublicKey = %s\n", b64);
	if (p->has_preshared_key) {
		braid_key_to_base64(b64, p->preshared_key);
		fprintf(f, "PresharedKey = %s\n", b64);
		explicit_bzero(b64, sizeof(b64));
	}
	if (p->n_allowed_ips) {
		fprintf(f, "AllowedIPs = ");
		for (size_t i = 0; i < p->n_allowed_ips; i++) {
			devinfo_format_prefix(text, sizeof(text), &p->allowed_ips[i]);
			fprintf(f, "%s%s", i ? ", " : "", text);
		}
		fprintf(f, "\n");
	}
	/* A name the daemon still resolves for this peer is kept as a name. */
	if (*p->endpoint_name)
		fprintf(f, "Endpoint = %s\n", p->endpoint_name);
	else if (*p->endpoint)
		fprintf(f, "Endpoint = %s\n", p->endpoint);
	if (p->keepalive)
		fprintf(f, "PersistentKeepalive = %u\n", p->keepalive);
	if (!was)
		return;
	if (was->has_multipath)
		fprintf(f, "Multipath = %s\n", conf_multipath_name(was->multipath));
	for (unsigned int i = 0; i < was->n_paths; i++)
		fprintf(f, "Path = %s\n", was->paths[i]);
	for (unsigned int i = 0; i < was->n_extra; i++)
		fprintf(f, "MultipathEndpoint = %s\n", was->extra_endpoints[i]);
}

int setconf_save(const struct conf *c, const struct dev_info *d, const struct prefix *addrs,
		 unsigned int n_addrs, unsigned int mtu)
{
	char tmp[4096];
	FILE *f;
	int fd, ret = 0;

	if (!c->path || snprintf(tmp, sizeof(tmp), "%s.tmp", c->path) >= (int)sizeof(tmp))
		return -ENAMETOOLONG;
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	f = fdopen(fd, "w");
	if (!f) {
		ret = -errno;
		close(fd);
		unlink(tmp);
		return ret;
	}
	save_interface(f, c, d, addrs, n_addrs, mtu);
	for (size_t i = 0; i < d->n_peers; i++)
		save_peer(f, &d->peers[i], conf_peer_of(c, d->peers[i].public_key));
	if (fflush(f) || fsync(fileno(f)))
		ret = -errno;
	if (fclose(f) && !ret)
		ret = -errno;
	if (!ret && rename(tmp, c->path) < 0)
		ret = -errno;
	if (ret)
		unlink(tmp);
	return ret;
}
