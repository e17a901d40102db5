// SPDX-License-Identifier: MIT
/*
 * Reading configuration files (see conf.h). One pass, line by line; each
 * key's parser checks its value completely, so that a file either parses
 * whole or is refused with the line of its first mistake.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "conf.h"
#include "multipath.h"

enum { CONF_FILE_MAX = 1 << 20 };

/* Between the items of wg-quick's list values (Address, DNS): commas and spaces. */
#define SEPARATORS ", \t"

enum section { SECTION_NONE, SECTION_INTERFACE, SECTION_PEER };

struct parser {
	struct conf *c;
	struct conf_error *err;
	unsigned int line;
	enum section section;
};

static const char *const multipath_names[] = {
	[BRAID_MULTIPATH_OFF] = "off",
	[BRAID_MULTIPATH_FAILOVER] = "failover",
	[BRAID_MULTIPATH_REDUNDANT] = "redundant",
	[BRAID_MULTIPATH_AGGREGATE] = "aggregate",
	[BRAID_MULTIPATH_AGGREGATE_FLOW] = "aggregate-flow",
};

const char *conf_multipath_name(enum braid_multipath mode)
{
	return (unsigned int)mode < sizeof(multipath_names) / sizeof(*multipath_names) ?
		       multipath_names[mode] : "off";
}

static int __attribute__((format(printf, 2, 3))) fail(struct parser *p, const char *fmt, ...)
{
	va_list ap;

	p->err->line = p->line;
	va_start(ap, fmt);
	vsnprintf(p->err->msg, sizeof(p->err->msg), fmt, ap);
	va_end(ap);
	return -EINVAL;
}

/* ---- Text ---- */

/* The value with every space removed (wg's reading) into out; false when too long. */
static bool compact(char *out, size_t out_len, const char *s, size_t len)
{
	size_t n = 0;

	for (size_t i = 0; i < len; i++) {
		if (isspace((unsigned char)s[i]))
			continue;
		if (n + 1 >= out_len)
			return false;
		out[n++] = s[i];
	}
	out[n] = '\0';
	return true;
}

/* The value without the spaces around it (wg-quick's reading), newly allocated. */
static char *trimmed(const char *s, size_t len)
{
	char *out;

	while (len && isspace((unsigned char)*s)) {
		s++;
		len--;
	}
	while (len && isspace((unsigned char)s[len - 1]))
		len--;
	out = malloc(len + 1);
	if (out) {
		memcpy(out, s, len);
		out[len] = '\0';
	}
	return out;
}

/* Decimal digits only, at most max. */
static bool parse_number(const char *s, unsigned long long max, unsigned long long *out)
{
	unsigned long long n = 0;

	if (!*s)
		return false;
	for (; *s; s++) {
		if (*s < '0' || *s > '9' || n > (max - (unsigned int)(*s - '0')) / 10)
			return false;
		n = n * 10 + (unsigned int)(*s - '0');
	}
	*out = n;
	return true;
}

bool conf_is_ifname(const char *name)
{
	size_t len = strlen(name);

	if (!len || len >= IF_NAMESIZE)
		return false;
	for (size_t i = 0; i < len; i++)
		if (!isalnum((unsigned char)name[i]) && !strchr("_=+.-", name[i]))
			return false;
	return true;
}

/* "ADDRESS[/LEN]": an IPv6 address when it holds a ':', IPv4 otherwise. */
static bool parse_prefix(struct prefix *p, char *s)
{
	char *slash = strchr(s, '/');
	unsigned long long len;

	memset(p, 0, sizeof(*p));
	if (slash)
		*slash = '\0';
	p->family = strchr(s, ':') ? AF_INET6 : AF_INET;
	if (inet_pton(p->family, s, p->addr) != 1)
		return false;
	if (!slash) {
		p->len = p->family == AF_INET ? 32 : 128;
		return true;
	}
	if (!parse_number(slash + 1, p->family == AF_INET ? 32 : 128, &len))
		return false;
	p->len = (uint8_t)len;
	return true;
}

static bool list_add(struct conf_list *l, const char *s)
{
	char **grown = realloc(l->item, (l->n + 1) * sizeof(*l->item));

	if (!grown)
		return false;
	l->item = grown;
	l->item[l->n] = strdup(s);
	if (!l->item[l->n])
		return false;
	l->n++;
	return true;
}

static void list_free(struct conf_list *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->item[i]);
	free(l->item);
	*l = (struct conf_list){ 0 };
}

static bool prefixes_add(struct prefix **list, size_t *n, const struct prefix *p)
{
	struct prefix *grown = realloc(*list, (*n + 1) * sizeof(**list));

	if (!grown)
		return false;
	grown[(*n)++] = *p;
	*list = grown;
	return true;
}

int conf_split_endpoint(const char *endpoint, char *host, size_t host_len, char *port,
			size_t port_len)
{
	const char *colon, *h = endpoint;
	size_t hl;

	if (*endpoint == '[') {
		const char *close = strchr(endpoint, ']');

		if (!close || close[1] != ':')
			return -EINVAL;
		h = endpoint + 1;
		hl = (size_t)(close - h);
		colon = close + 1;
	} else {
		colon = strrchr(endpoint, ':');
		if (!colon)
			return -EINVAL;
		hl = (size_t)(colon - endpoint);
	}
	if (!hl || hl >= host_len || !colon[1] || strlen(colon + 1) >= port_len)
		return -EINVAL;
	memcpy(host, h, hl);
	host[hl] = '\0';
	snprintf(port, port_len, "%s", colon + 1);
	return 0;
}

/* host:port with a host that could be a name or an address and a numeric port. */
static bool endpoint_is_valid(const char *value)
{
	char host[CONF_ENDPOINT_LEN], port[16];
	unsigned long long n;

	if (conf_split_endpoint(value, host, sizeof(host), port, sizeof(port)) ||
	    !parse_number(port, 65535, &n))
		return false;
	for (const char *s = host; *s; s++)
		if (!isalnum((unsigned char)*s) && !strchr(".-_:%", *s))
			return false;
	return true;
}

/* ---- [Interface] ---- */

static int parse_key(struct parser *p, uint8_t key[BRAID_KEY_LEN], const char *name,
		     const char *value)
{
	if (!braid_key_from_base64(key, value))
		return fail(p, "%s is not a base64 key of 32 bytes", name);
	return 0;
}

static int parse_addresses(struct parser *p, const char *value)
{
	char *copy = strdup(value), *tok, *save = NULL;
	struct prefix pre;
	int ret = 0;

	if (!copy)
		return fail(p, "out of memory");
	for (tok = strtok_r(copy, SEPARATORS, &save); tok && !ret;
	     tok = strtok_r(NULL, SEPARATORS, &save)) {
		char shown[64];

		snprintf(shown, sizeof(shown), "%s", tok);
		if (!parse_prefix(&pre, tok))
			ret = fail(p, "invalid Address `%s'", shown);
		else if (!prefixes_add(&p->c->addresses, &p->c->n_addresses, &pre))
			ret = fail(p, "out of memory");
	}
	free(copy);
	return ret;
}

/* Servers (IPv4 dotted digits, or anything with a ':') and search domains, as wg-quick does. */
static int parse_dns(struct parser *p, const char *value)
{
	char *copy = strdup(value), *tok, *save = NULL;
	uint8_t addr[16];
	int ret = 0;

	if (!copy)
		return fail(p, "out of memory");
	for (tok = strtok_r(copy, SEPARATORS, &save); tok && !ret;
	     tok = strtok_r(NULL, SEPARATORS, &save)) {
		bool v4 = strspn(tok, "0123456789.") == strlen(tok), v6 = strchr(tok, ':');

		if ((v4 || v6) && inet_pton(v6 ? AF_INET6 : AF_INET, tok, addr) != 1)
			ret = fail(p, "invalid DNS server `%.64s'", tok);
		else if (!list_add(v4 || v6 ? &p->c->dns : &p->c->dns_search, tok))
			ret = fail(p, "out of memory");
	}
	free(copy);
	return ret;
}

static int parse_table(struct parser *p, const char *value)
{
	struct conf *c = p->c;
	unsigned long long n;

	c->table_line = p->line;
	if (!strcasecmp(value, "off")) {
		c->table = CONF_TABLE_OFF;
	} else if (!strcasecmp(value, "auto") || !*value) {
		c->table = CONF_TABLE_AUTO;
	} else {
		if (strlen(value) >= sizeof(c->table_name) ||
		    (isdigit((unsigned char)*value) && !parse_number(value, UINT32_MAX, &n)))
			return fail(p, "invalid Table `%.64s'", value);
		for (const char *s = value; *s; s++)
			if (!isalnum((unsigned char)*s) && !strchr("_-.", *s))
				return fail(p, "invalid Table `%.64s'", value);
		c->table = CONF_TABLE_SET;
		snprintf(c->table_name, sizeof(c->table_name), "%s", value);
	}
	return 0;
}

static int parse_bool(struct parser *p, bool *out, const char *name, const char *value)
{
	if (!strcasecmp(value, "true"))
		*out = true;
	else if (!strcasecmp(value, "false"))
		*out = false;
	else
		return fail(p, "%s `%.64s' is neither true nor false", name, value);
	return 0;
}

static int parse_fwmark(struct parser *p, const char *value)
{
	unsigned long n;
	char *end;

	if (!strcasecmp(value, "off")) {
		p->c->fwmark = 0;
	} else {
		if (!isdigit((unsigned char)*value))
			return fail(p, "FwMark `%.64s' is neither off nor 0-0xffffffff", value);
		errno = 0;
		n = strtoul(value, &end, strncmp(value, "0x", 2) ? 10 : 16);
		if (errno || *end || n > UINT32_MAX)
			return fail(p, "FwMark `%.64s' is neither off nor 0-0xffffffff", value);
		p->c->fwmark = (uint32_t)n;
	}
	p->c->has_fwmark = true;
	return 0;
}

/* A wg-quick key of [Interface]: 1 when key is not one of them. */
static int interface_quick_key(struct parser *p, const char *key, const char *value)
{
	struct conf *c = p->c;
	unsigned long long n;

	if (!strcasecmp(key, "Address"))
		return parse_addresses(p, value);
	if (!strcasecmp(key, "DNS"))
		return parse_dns(p, value);
	if (!strcasecmp(key, "MTU")) {
		if (!parse_number(value, 65535, &n) || n < 68)
			return fail(p, "MTU `%.64s' is not a number from 68 to 65535", value);
		c->has_mtu = true;
		c->mtu = (unsigned int)n;
		c->mtu_line = p->line;
		return 0;
	}
	if (!strcasecmp(key, "Table"))
		return parse_table(p, value);
	if (!strcasecmp(key, "SaveConfig"))
		return parse_bool(p, &c->save_config, "SaveConfig", value);
	if (!strcasecmp(key, "PreUp"))
		return list_add(&c->pre_up, value) ? 0 : fail(p, "out of memory");
	if (!strcasecmp(key, "PostUp"))
		return list_add(&c->post_up, value) ? 0 : fail(p, "out of memory");
	if (!strcasecmp(key, "PreDown"))
		return list_add(&c->pre_down, value) ? 0 : fail(p, "out of memory");
	if (!strcasecmp(key, "PostDown"))
		return list_add(&c->post_down, value) ? 0 : fail(p, "out of memory");
	return 1;
}

static int interface_key(struct parser *p, const char *key, const char *value, const char *packed)
{
	struct conf *c = p->c;
	unsigned long long n;
	int ret = interface_quick_key(p, key, value);

	if (ret <= 0)
		return ret;
	if (!*packed)
		return fail(p, "%s has an empty value", key);
	if (!strcasecmp(key, "PrivateKey")) {
		c->has_private_key = true;
		return parse_key(p, c->private_key, "PrivateKey", packed);
	}
	if (!strcasecmp(key, "ListenPort")) {
		if (!parse_number(packed, 65535, &n))
			return fail(p, "ListenPort `%.64s' is not a number from 0 to 65535",
				    packed);
		c->has_listen_port = true;
		c->listen_port = (uint16_t)n;
		return 0;
	}
	if (!strcasecmp(key, "FwMark"))
		return parse_fwmark(p, packed);
	return fail(p, "unknown key `%.64s' in [Interface]", key);
}

/* ---- [Peer] ---- */

static int parse_allowed_ips(struct parser *p, struct conf_peer *peer, const char *value)
{
	char *copy = strdup(value), *tok, *rest;
	struct prefix pre;
	int ret = 0;

	if (!copy)
		return fail(p, "out of memory");
	rest = copy;
	while (!ret && (tok = strsep(&rest, ","))) {
		char shown[64];

		snprintf(shown, sizeof(shown), "%s", tok);
		if (!parse_prefix(&pre, tok))
			ret = fail(p, "invalid AllowedIPs entry `%s'", shown);
		else if (!prefixes_add(&peer->allowed_ips, &peer->n_allowed_ips, &pre))
			ret = fail(p, "out of memory");
	}
	free(copy);
	return ret;
}

static int parse_keepalive(struct parser *p, struct conf_peer *peer, const char *value)
{
	unsigned long long n = 0;

	if (strcasecmp(value, "off") && !parse_number(value, 65535, &n))
		return fail(p, "PersistentKeepalive `%.64s' is neither off nor 0-65535", value);
	peer->has_keepalive = true;
	peer->keepalive = (uint16_t)n;
	return 0;
}

static int parse_multipath(struct parser *p, struct conf_peer *peer, const char *value)
{
	for (unsigned int i = 0; i < sizeof(multipath_names) / sizeof(*multipath_names); i++) {
		if (!strcasecmp(value, multipath_names[i])) {
			peer->has_multipath = true;
			peer->multipath = (enum braid_multipath)i;
			return 0;
		}
	}
	return fail(p, "Multipath `%.64s' is not off, failover, redundant, aggregate or "
		    "aggregate-flow", value);
}

static int parse_path(struct parser *p, struct conf_peer *peer, const char *value)
{
	struct mp_spec spec;

	if (peer->n_paths == BRAID_MAX_PATHS)
		return fail(p, "more than %d Path lines for one peer", BRAID_MAX_PATHS);
	if (strlen(value) >= CONF_PATH_LEN || !mp_spec_parse(&spec, value, strlen(value)))
		return fail(p, "invalid Path `%.64s' (an interface, a local address or auto, "
			    "with ,prio=N ,endpoint=IP:PORT ,exclude=A+B)", value);
	snprintf(peer->paths[peer->n_paths++], CONF_PATH_LEN, "%s", value);
	return 0;
}

static int parse_extra_endpoint(struct parser *p, struct conf_peer *peer, const char *value)
{
	if (peer->n_extra == BRAID_MAX_PATHS)
		return fail(p, "more than %d MultipathEndpoint lines for one peer",
			    BRAID_MAX_PATHS);
	if (strlen(value) >= CONF_ENDPOINT_LEN || !endpoint_is_valid(value))
		return fail(p, "MultipathEndpoint `%.64s' is not HOST:PORT", value);
	peer->extra_lines[peer->n_extra] = p->line;
	snprintf(peer->extra_endpoints[peer->n_extra++], CONF_ENDPOINT_LEN, "%s", value);
	return 0;
}

static int peer_key(struct parser *p, const char *key, const char *packed)
{
	struct conf_peer *peer = &p->c->peers[p->c->n_peers - 1];

	if (!*packed)
		return fail(p, "%s has an empty value", key);
	if (!strcasecmp(key, "PublicKey")) {
		peer->has_public_key = true;
		return parse_key(p, peer->public_key, "PublicKey", packed);
	}
	if (!strcasecmp(key, "PresharedKey")) {
		peer->has_preshared_key = true;
		return parse_key(p, peer->preshared_key, "PresharedKey", packed);
	}
	if (!strcasecmp(key, "Endpoint")) {
		if (strlen(packed) >= CONF_ENDPOINT_LEN || !endpoint_is_valid(packed))
			return fail(p, "Endpoint `%.64s' is not HOST:PORT", packed);
		peer->has_endpoint = true;
		peer->endpoint_line = p->line;
		snprintf(peer->endpoint, sizeof(peer->endpoint), "%s", packed);
		return 0;
	}
	if (!strcasecmp(key, "AllowedIPs"))
		return parse_allowed_ips(p, peer, packed);
	if (!strcasecmp(key, "PersistentKeepalive"))
		return parse_keepalive(p, peer, packed);
	if (!strcasecmp(key, "Multipath"))
		return parse_multipath(p, peer, packed);
	if (!strcasecmp(key, "Path"))
		return parse_path(p, peer, packed);
	if (!strcasecmp(key, "MultipathEndpoint"))
		return parse_extra_endpoint(p, peer, packed);
	return fail(p, "unknown key `%.64s' in [Peer]", key);
}

/* ---- Lines ---- */

static int start_section(struct parser *p, const char *packed)
{
	struct conf *c = p->c;
	struct conf_peer *grown;

	if (!strcasecmp(packed, "[Interface]")) {
		p->section = SECTION_INTERFACE;
		return 0;
	}
	if (strcasecmp(packed, "[Peer]"))
		return fail(p, "unknown section `%.64s' (only [Interface] and [Peer])", packed);
	grown = realloc(c->peers, (c->n_peers + 1) * sizeof(*c->peers));
	if (!grown)
		return fail(p, "out of memory");
	c->peers = grown;
	c->peers[c->n_peers++] = (struct conf_peer){ .line = p->line };
	p->section = SECTION_PEER;
	return 0;
}

/* The key and both readings of the value of a `Key = Value' line; 0 or -errno. */
static int key_value(struct parser *p, const char *s, size_t len, const char *packed)
{
	const char *eq = memchr(s, '=', len);
	size_t rest;
	char key[64], *value, *value_packed;
	int ret;

	if (!eq || !compact(key, sizeof(key), s, (size_t)(eq - s)) || !*key)
		return fail(p, "expected `Key = Value', found `%.64s'", packed);
	if (p->section == SECTION_NONE)
		return fail(p, "`%s' before any [Interface] or [Peer] section", key);
	rest = len - (size_t)(eq + 1 - s);
	value = trimmed(eq + 1, rest);
	value_packed = malloc(rest + 1);
	if (!value || !value_packed) {
		free(value);
		free(value_packed);
		return fail(p, "out of memory");
	}
	compact(value_packed, rest + 1, eq + 1, rest);
	if (p->section == SECTION_INTERFACE)
		ret = interface_key(p, key, value, value_packed);
	else
		ret = peer_key(p, key, value_packed);
	free(value);
	free(value_packed);
	return ret;
}

static int parse_line(struct parser *p, const char *s, size_t len)
{
	const char *hash = memchr(s, '#', len);
	char *packed;
	int ret;

	if (hash)
		len = (size_t)(hash - s);
	if (memchr(s, '\0', len))
		return fail(p, "a NUL byte");
	packed = malloc(len + 1);
	if (!packed)
		return fail(p, "out of memory");
	compact(packed, len + 1, s, len);
	if (!*packed)
		ret = 0;
	else if (*packed == '[')
		ret = start_section(p, packed);
	else
		ret = key_value(p, s, len, packed);
	free(packed);
	return ret;
}

int conf_parse(struct conf *c, const char *text, size_t len, struct conf_error *err)
{
	struct parser p = { .c = c, .err = err };
	const char *end = text + len, *nl;
	int ret = 0;

	memset(c, 0, sizeof(*c));
	memset(err, 0, sizeof(*err));
	while (!ret && text < end) {
		nl = memchr(text, '\n', (size_t)(end - text));
		if (!nl)
			nl = end;
		p.line++;
		ret = parse_line(&p, text, (size_t)(nl - text));
		text = nl + 1;
	}
	for (size_t i = 0; !ret && i < c->n_peers; i++) {
		if (!c->peers[i].has_public_key) {
			p.line = c->peers[i].line;
			ret = fail(&p, "this [Peer] has no PublicKey");
		}
	}
	if (ret)
		conf_free(c);
	return ret;
}

/* ---- Files ---- */

static int read_file(const char *path, char **text, size_t *len, struct conf_error *err)
{
	FILE *f = fopen(path, "re");
	size_t n;

	if (!f) {
		snprintf(err->msg, sizeof(err->msg), "%.200s: %s", path, strerror(errno));
		return -errno;
	}
	*text = malloc(CONF_FILE_MAX + 1);
	if (!*text) {
		fclose(f);
		snprintf(err->msg, sizeof(err->msg), "out of memory");
		return -ENOMEM;
	}
	n = fread(*text, 1, CONF_FILE_MAX + 1, f);
	fclose(f);
	if (n > CONF_FILE_MAX) {
		free(*text);
		snprintf(err->msg, sizeof(err->msg), "%.200s: larger than %d bytes", path,
			 CONF_FILE_MAX);
		return -EFBIG;
	}
	*len = n;
	return 0;
}

/* The file for arg, and the interface name it gives; 0 or -errno with *err. */
static int find_file(const char *arg, char *path, size_t path_len, char ifname[IF_NAMESIZE],
		     struct conf_error *err)
{
	static const char *const dirs[] = { "/etc/braid", "/etc/wireguard" };
	const char *base = strrchr(arg, '/'), *dot;
	struct stat st;

	if (conf_is_ifname(arg) && strcmp(arg, ".") && strcmp(arg, "..")) {
		for (size_t i = 0; i < 2; i++) {
			snprintf(path, path_len, "%s/%s.conf", dirs[i], arg);
			if (stat(path, &st) == 0) {
				snprintf(ifname, IF_NAMESIZE, "%s", arg);
				return 0;
			}
		}
		snprintf(err->msg, sizeof(err->msg), "neither /etc/braid/%s.conf nor "
			 "/etc/wireguard/%s.conf exists", arg, arg);
		return -ENOENT;
	}
	base = base ? base + 1 : arg;
	dot = strrchr(base, '.');
	if (!dot || strcmp(dot, ".conf") || (size_t)(dot - base) >= IF_NAMESIZE) {
		snprintf(err->msg, sizeof(err->msg), "`%.128s': the file name must be an "
			 "interface name followed by .conf", arg);
		return -EINVAL;
	}
	memcpy(ifname, base, (size_t)(dot - base));
	ifname[dot - base] = '\0';
	if (!conf_is_ifname(ifname)) {
		snprintf(err->msg, sizeof(err->msg), "`%.128s': the file name must be an "
			 "interface name followed by .conf", arg);
		return -EINVAL;
	}
	if (snprintf(path, path_len, "%s", arg) >= (int)path_len)
		return -ENAMETOOLONG;
	if (stat(path, &st) < 0) {
		snprintf(err->msg, sizeof(err->msg), "%.200s: %s", arg, strerror(errno));
		return -ENOENT;
	}
	return 0;
}

int conf_load(struct conf *c, const char *arg, struct conf_error *err)
{
	char path[PATH_MAX], ifname[IF_NAMESIZE], *text = NULL, *real;
	size_t len = 0;
	int ret;

	memset(c, 0, sizeof(*c));
	memset(err, 0, sizeof(*err));
	ret = find_file(arg, path, sizeof(path), ifname, err);
	if (!ret)
		ret = read_file(path, &text, &len, err);
	if (ret)
		return ret;
	ret = conf_parse(c, text, len, err);
	free(text);
	if (ret)
		return ret;
	snprintf(c->ifname, sizeof(c->ifname), "%s", ifname);
	real = realpath(path, NULL);
	c->path = real ? real : strdup(path);
	return 0;
}

void conf_free(struct conf *c)
{
	for (size_t i = 0; i < c->n_peers; i++) {
		free(c->peers[i].allowed_ips);
		explicit_bzero(c->peers[i].preshared_key, BRAID_KEY_LEN);
	}
	free(c->peers);
	free(c->addresses);
	free(c->path);
	list_free(&c->dns);
	list_free(&c->dns_search);
	list_free(&c->pre_up);
	list_free(&c->post_up);
	list_free(&c->pre_down);
	list_free(&c->post_down);
	explicit_bzero(c->private_key, BRAID_KEY_LEN);
	memset(c, 0, sizeof(*c));
}
