// SPDX-License-Identifier: MIT
/*
 * The UAPI get/set operations applied to a braid_device.
 *
 * A set operation is parsed and validated whole into a struct set_request
 * before anything changes (validate, then commit): a malformed line rejects
 * the entire operation with nothing applied, where wireguard-go would have
 * applied the lines before it. Within a valid operation the lines keep
 * wireguard-go's meaning, including their order: replace_allowed_ips drops
 * the prefixes given before it in the same section, remove and update_only
 * act on the whole section, and a section for our own public key is checked
 * but ignored.
 *
 * errno values follow wireguard-go (ipc/uapi_*.go) so wg prints the same
 * messages: -EINVAL for a bad key or value, -EPROTO for a line without '='
 * or a broken frame, -EADDRINUSE when the listen port cannot be bound.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <net/if.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "multipath.h"
#include "resolver.h"
#include "uapi.h"
#include "watch.h"

enum aip_action { AIP_ADD, AIP_REMOVE, AIP_CLEAR };

struct aip_change {
	uint8_t action;
	uint8_t cidr;
	int family;
	uint8_t addr[16];
};

/* The braid_ keys of one peer section. */
struct mp_change {
	bool has_mode;
	enum braid_multipath mode;
	bool replace_paths;
	struct mp_spec specs[BRAID_MAX_PATHS];
	unsigned int n_specs;
	struct braid_endpoint extra[BRAID_MAX_PATHS];
	unsigned int n_extra;
};

/* One public_key section. */
struct peer_change {
	uint8_t public_key[BRAID_KEY_LEN];
	bool is_own_key;	/* validated, then ignored */
	bool remove;
	bool update_only;
	bool has_preshared_key;
	bool has_endpoint;
	bool has_keepalive;
	uint16_t keepalive;
	uint8_t preshared_key[BRAID_KEY_LEN];
	struct braid_endpoint endpoint;
	bool has_endpoint_name;
	char endpoint_name[RESOLVER_NAME_LEN];	/* "": forget the name */
	/* allowed_ip and replace_allowed_ips lines, in order. */
	struct aip_change *aips;
	size_t n_aips, cap_aips;
	struct mp_change *mp;	/* NULL: no braid_ key in this section */
};

struct set_request {
	bool has_private_key;
	bool has_listen_port;
	bool has_fwmark;
	bool replace_peers;
	uint8_t private_key[BRAID_KEY_LEN];
	uint16_t listen_port;
	uint32_t fwmark;
	struct peer_change *peers;
	size_t n_peers, cap_peers;
};

/* A key=value line, not NUL-terminated. */
struct kv {
	const char *key, *value;
	size_t key_len, value_len;
};

/* ---- Reply buffer ---- */

/*
 * Grow by copying and wiping, not realloc: a get reply holds the private
 * key, and realloc could leave a copy of it in freed memory.
 */
static bool buf_reserve(struct uapi_buf *buf, size_t more)
{
	size_t cap = buf->cap ? buf->cap : 1024;
	char *data;

	if (buf->failed)
		return false;
	if (buf->len + more <= buf->cap)
		return true;
	while (cap < buf->len + more)
		cap *= 2;
	data = malloc(cap);
	if (!data) {
		uapi_buf_free(buf);
		buf->failed = true;
		return false;
	}
	if (buf->data) {
		memcpy(data, buf->data, buf->len);
		explicit_bzero(buf->data, buf->cap);
		free(buf->data);
	}
	buf->data = data;
	buf->cap = cap;
	return true;
}

static void __attribute__((format(printf, 2, 3))) buf_printf(struct uapi_buf *buf,
							    const char *fmt, ...)
{
	char line[256];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	/* Every line we format is far shorter than the buffer. */
	if (n > 0 && (size_t)n < sizeof(line) && buf_reserve(buf, n)) {
		memcpy(buf->data + buf->len, line, n);
		buf->len += n;
	}
	explicit_bzero(line, sizeof(line));
}

void uapi_buf_free(struct uapi_buf *buf)
{
	if (buf->data) {
		explicit_bzero(buf->data, buf->cap);
		free(buf->data);
	}
	buf->data = NULL;
	buf->len = buf->cap = 0;
}

void uapi_reply_errno(struct uapi_buf *out, int err)
{
	buf_printf(out, "errno=%d\n\n", err);
}

/* ---- Value parsers: each takes the exact bytes of a value ---- */

static bool value_is(const struct kv *kv, const char *s)
{
	return kv->value_len == strlen(s) && !memcmp(kv->value, s, kv->value_len);
}

static bool key_is(const struct kv *kv, const char *s)
{
	return kv->key_len == strlen(s) && !memcmp(kv->key, s, kv->key_len);
}

/* Copy a value into a C string; false when it does not fit or holds a NUL. */
static bool value_cstr(char *out, size_t out_len, const char *value, size_t len)
{
	if (len >= out_len || memchr(value, '\0', len))
		return false;
	memcpy(out, value, len);
	out[len] = '\0';
	return true;
}

/* Decimal digits only, as Go's strconv.ParseUint(s, 10, bits) accepts them. */
static bool parse_uint(const char *s, size_t len, uint64_t max, uint64_t *out)
{
	uint64_t n = 0;
	size_t i;

	if (!len)
		return false;
	for (i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		if (n > (max - (s[i] - '0')) / 10)
			return false;
		n = n * 10 + (s[i] - '0');
	}
	*out = n;
	return true;
}

static bool parse_key(uint8_t key[BRAID_KEY_LEN], const struct kv *kv)
{
	char hex[2 * BRAID_KEY_LEN + 1];
	bool ok;

	if (kv->value_len != 2 * BRAID_KEY_LEN ||
	    !value_cstr(hex, sizeof(hex), kv->value, kv->value_len))
		return false;
	ok = braid_key_from_hex(key, hex);
	explicit_bzero(hex, sizeof(hex));
	return ok;
}

static bool key_is_zero(const uint8_t key[BRAID_KEY_LEN])
{
	uint8_t acc = 0;

	for (int i = 0; i < BRAID_KEY_LEN; i++)
		acc |= key[i];
	return !acc;
}

static bool parse_true(const struct kv *kv)
{
	return value_is(kv, "true");
}

/* "%eth0" or "%2" after an IPv6 address: the interface's index. */
static bool parse_zone(const char *zone, uint32_t *scope_id)
{
	uint64_t n;

	if (parse_uint(zone, strlen(zone), UINT32_MAX, &n)) {
		*scope_id = n;
		return n != 0;
	}
	*scope_id = if_nametoindex(zone);
	return *scope_id != 0;
}

static bool parse_endpoint_v6(struct braid_endpoint *ep, char *s)
{
	char *close = strchr(s, ']'), *zone;
	uint64_t port;
	struct in6_addr a;

	if (s[0] != '[' || !close || close[1] != ':')
		return false;
	if (!parse_uint(close + 2, strlen(close + 2), 65535, &port))
		return false;
	*close = '\0';
	zone = strchr(s + 1, '%');
	if (zone)
		*zone++ = '\0';
	if (inet_pton(AF_INET6, s + 1, &a) != 1)
		return false;
	/* A v4-mapped address is IPv4: the v6 socket is IPV6_V6ONLY. */
	if (IN6_IS_ADDR_V4MAPPED(&a) && !zone) {
		ep->addr.in4.sin_family = AF_INET;
		memcpy(&ep->addr.in4.sin_addr, &a.s6_addr[12], 4);
		ep->addr.in4.sin_port = htons(port);
		return true;
	}
	ep->addr.in6.sin6_family = AF_INET6;
	ep->addr.in6.sin6_addr = a;
	ep->addr.in6.sin6_port = htons(port);
	return !zone || parse_zone(zone, &ep->addr.in6.sin6_scope_id);
}

bool uapi_parse_endpoint(struct braid_endpoint *ep, const char *value, size_t len)
{
	char s[INET6_ADDRSTRLEN + IF_NAMESIZE + 16], *colon;
	uint64_t port;

	memset(ep, 0, sizeof(*ep));
	if (!value_cstr(s, sizeof(s), value, len))
		return false;
	if (s[0] == '[')
		return parse_endpoint_v6(ep, s);
	colon = strchr(s, ':');
	if (!colon || strchr(colon + 1, ':'))
		return false;
	*colon = '\0';
	if (!parse_uint(colon + 1, strlen(colon + 1), 65535, &port) ||
	    inet_pton(AF_INET, s, &ep->addr.in4.sin_addr) != 1)
		return false;
	ep->addr.in4.sin_family = AF_INET;
	ep->addr.in4.sin_port = htons(port);
	return true;
}

/* Clear the bits past the prefix length, so get shows what is routed. */
static void mask_prefix(uint8_t *addr, size_t len, uint8_t cidr)
{
	for (size_t i = 0; i < len; i++) {
		if (cidr >= 8)
			cidr -= 8;
		else {
			addr[i] &= (uint8_t)(0xff00 >> cidr);
			cidr = 0;
		}
	}
}

/* "[-]address/cidr"; a leading '-' removes the prefix instead of adding it. */
static bool parse_allowed_ip(struct aip_change *c, const struct kv *kv)
{
	char s[INET6_ADDRSTRLEN + 8], *slash, *ip = s;
	uint64_t cidr;

	memset(c, 0, sizeof(*c));
	if (!value_cstr(s, sizeof(s), kv->value, kv->value_len))
		return false;
	c->action = AIP_ADD;
	if (*ip == '-') {
		c->action = AIP_REMOVE;
		ip++;
	}
	slash = strchr(ip, '/');
	if (!slash)
		return false;
	*slash = '\0';
	c->family = strchr(ip, ':') ? AF_INET6 : AF_INET;
	if (inet_pton(c->family, ip, c->addr) != 1 ||
	    !parse_uint(slash + 1, strlen(slash + 1), c->family == AF_INET ? 32 : 128, &cidr))
		return false;
	c->cidr = cidr;
	mask_prefix(c->addr, c->family == AF_INET ? 4 : 16, c->cidr);
	return true;
}

/* ---- Parsing a set operation ---- */

struct parser {
	struct set_request *req;
	struct peer_change *peer;	/* the current section, NULL while in the device part */
	uint8_t own_public_key[BRAID_KEY_LEN];
	bool has_own_key;
	bool has_multipath;		/* the braid_ peer keys are served */
	bool has_names;			/* braid_endpoint_name is served */
	const char *why;		/* for the log */
};

static int fail(struct parser *p, int err, const char *why)
{
	p->why = why;
	return err;
}

static void *grow(void *array, size_t *cap, size_t n, size_t size)
{
	size_t new_cap = *cap ? *cap * 2 : 4;
	void *a;

	if (n < *cap)
		return array;
	a = reallocarray(array, new_cap, size);
	if (a)
		*cap = new_cap;
	return a;
}

static int parse_device_line(struct parser *p, const struct kv *kv)
{
	struct set_request *req = p->req;
	uint64_t n;

	if (key_is(kv, "private_key")) {
		if (!parse_key(req->private_key, kv))
			return fail(p, -EINVAL, "invalid private_key");
		req->has_private_key = true;
		p->has_own_key = !key_is_zero(req->private_key);
		if (p->has_own_key)
			braid_public_key(p->own_public_key, req->private_key);
	} else if (key_is(kv, "listen_port")) {
		if (!parse_uint(kv->value, kv->value_len, UINT16_MAX, &n))
			return fail(p, -EINVAL, "invalid listen_port");
		req->has_listen_port = true;
		req->listen_port = n;
	} else if (key_is(kv, "fwmark")) {
		if (!parse_uint(kv->value, kv->value_len, UINT32_MAX, &n))
			return fail(p, -EINVAL, "invalid fwmark");
		req->has_fwmark = true;
		req->fwmark = n;
	} else if (key_is(kv, "replace_peers")) {
		if (!parse_true(kv))
			return fail(p, -EINVAL, "invalid replace_peers");
		req->replace_peers = true;
	} else {
		return fail(p, -EINVAL, "unknown device key");
	}
	return 0;
}

static int start_peer(struct parser *p, const struct kv *kv)
{
	struct set_request *req = p->req;
	struct peer_change *peers, *pc;

	peers = grow(req->peers, &req->cap_peers, req->n_peers, sizeof(*peers));
	if (!peers)
		return fail(p, -ENOMEM, "out of memory");
	req->peers = peers;
	pc = &peers[req->n_peers];
	memset(pc, 0, sizeof(*pc));
	if (!parse_key(pc->public_key, kv))
		return fail(p, -EINVAL, "invalid public_key");
	req->n_peers++;
	pc->is_own_key = p->has_own_key &&
			 !memcmp(pc->public_key, p->own_public_key, BRAID_KEY_LEN);
	p->peer = pc;
	return 0;
}

static int add_aip(struct parser *p, const struct aip_change *c)
{
	struct peer_change *pc = p->peer;
	struct aip_change *aips;

	aips = grow(pc->aips, &pc->cap_aips, pc->n_aips, sizeof(*aips));
	if (!aips)
		return fail(p, -ENOMEM, "out of memory");
	pc->aips = aips;
	aips[pc->n_aips++] = *c;
	return 0;
}

static const char *const mode_names[] = {
	[BRAID_MULTIPATH_OFF] = "off",
	[BRAID_MULTIPATH_FAILOVER] = "failover",
	[BRAID_MULTIPATH_REDUNDANT] = "redundant",
	[BRAID_MULTIPATH_AGGREGATE] = "aggregate",
};

/* braid's own peer keys (multipath); a client that sends them knows they are ours. */
static int parse_multipath_line(struct parser *p, const struct kv *kv)
{
	struct peer_change *pc = p->peer;
	struct mp_change *mc = pc->mp;
	unsigned int i;

	if (!p->has_multipath)
		return fail(p, -EINVAL, "multipath is not available");
	if (!mc) {
		mc = pc->mp = calloc(1, sizeof(*mc));
		if (!mc)
			return fail(p, -ENOMEM, "out of memory");
	}
	if (key_is(kv, "braid_multipath")) {
		for (i = 0; i < sizeof(mode_names) / sizeof(mode_names[0]); i++)
			if (value_is(kv, mode_names[i]))
				break;
		if (i == sizeof(mode_names) / sizeof(mode_names[0]))
			return fail(p, -EINVAL, "unknown braid_multipath mode");
		mc->has_mode = true;
		mc->mode = (enum braid_multipath)i;
	} else if (key_is(kv, "braid_replace_paths")) {
		if (!parse_true(kv))
			return fail(p, -EINVAL, "invalid braid_replace_paths");
		mc->replace_paths = true;
		mc->n_specs = mc->n_extra = 0;
	} else if (key_is(kv, "braid_path")) {
		if (mc->n_specs == BRAID_MAX_PATHS)
			return fail(p, -EINVAL, "more than 8 braid_path lines");
		if (!mp_spec_parse(&mc->specs[mc->n_specs], kv->value, kv->value_len))
			return fail(p, -EINVAL, "invalid braid_path");
		mc->n_specs++;
	} else if (key_is(kv, "braid_endpoint")) {
		if (mc->n_extra == BRAID_MAX_PATHS)
			return fail(p, -EINVAL, "more than 8 braid_endpoint lines");
		if (!uapi_parse_endpoint(&mc->extra[mc->n_extra], kv->value, kv->value_len))
			return fail(p, -EINVAL, "invalid braid_endpoint");
		mc->n_extra++;
	} else {
		return fail(p, -EINVAL, "unknown peer key");
	}
	return 0;
}

static int parse_peer_line(struct parser *p, const struct kv *kv)
{
	struct peer_change *pc = p->peer;
	struct aip_change c;
	uint64_t n;

	if (key_is(kv, "remove")) {
		if (!parse_true(kv))
			return fail(p, -EINVAL, "invalid remove");
		pc->remove = true;
	} else if (key_is(kv, "update_only")) {
		if (!parse_true(kv))
			return fail(p, -EINVAL, "invalid update_only");
		pc->update_only = true;
	} else if (key_is(kv, "preshared_key")) {
		if (!parse_key(pc->preshared_key, kv))
			return fail(p, -EINVAL, "invalid preshared_key");
		pc->has_preshared_key = true;
	} else if (key_is(kv, "endpoint")) {
		if (!uapi_parse_endpoint(&pc->endpoint, kv->value, kv->value_len))
			return fail(p, -EINVAL, "invalid endpoint");
		pc->has_endpoint = true;
	} else if (key_is(kv, "persistent_keepalive_interval")) {
		if (!parse_uint(kv->value, kv->value_len, UINT16_MAX, &n))
			return fail(p, -EINVAL, "invalid persistent_keepalive_interval");
		pc->has_keepalive = true;
		pc->keepalive = n;
	} else if (key_is(kv, "replace_allowed_ips")) {
		if (!parse_true(kv))
			return fail(p, -EINVAL, "invalid replace_allowed_ips");
		c = (struct aip_change){ .action = AIP_CLEAR };
		return add_aip(p, &c);
	} else if (key_is(kv, "allowed_ip")) {
		if (!parse_allowed_ip(&c, kv))
			return fail(p, -EINVAL, "invalid allowed_ip");
		return add_aip(p, &c);
	} else if (key_is(kv, "protocol_version")) {
		if (!value_is(kv, "1"))
			return fail(p, -EINVAL, "unsupported protocol_version");
	} else if (key_is(kv, "braid_endpoint_name")) {
		if (!p->has_names || (kv->value_len &&
				      !resolver_name_is_valid(kv->value, kv->value_len)))
			return fail(p, -EINVAL, "invalid braid_endpoint_name");
		memcpy(pc->endpoint_name, kv->value, kv->value_len);
		pc->endpoint_name[kv->value_len] = '\0';
		pc->has_endpoint_name = true;
	} else if (kv->key_len > 6 && !memcmp(kv->key, "braid_", 6)) {
		return parse_multipath_line(p, kv);
	} else {
		return fail(p, -EINVAL, "unknown peer key");
	}
	return 0;
}

static int parse_line(struct parser *p, const char *line, size_t len)
{
	const char *eq = memchr(line, '=', len);
	struct kv kv;

	if (!eq)
		return fail(p, -EPROTO, "line without '='");
	kv.key = line;
	kv.key_len = eq - line;
	kv.value = eq + 1;
	kv.value_len = len - kv.key_len - 1;
	if (key_is(&kv, "public_key"))
		return start_peer(p, &kv);
	if (!p->peer)
		return parse_device_line(p, &kv);
	return parse_peer_line(p, &kv);
}

static void set_request_free(struct set_request *req)
{
	for (size_t i = 0; i < req->n_peers; i++) {
		free(req->peers[i].aips);
		free(req->peers[i].mp);
	}
	if (req->peers) {
		explicit_bzero(req->peers, req->cap_peers * sizeof(*req->peers));
		free(req->peers);
	}
	explicit_bzero(req, sizeof(*req));
}

/* body holds the lines after "set=1", without the final empty line. */
static int parse_set(struct uapi *u, struct set_request *req, const char *body, size_t len)
{
	struct parser p = { .req = req, .has_multipath = u->mp != NULL,
			    .has_names = u->resolver != NULL };
	const char *end = body + len, *nl;
	int line_no = 1, ret = 0;

	p.has_own_key = braid_device_get_public_key(u->dev, p.own_public_key);
	for (; body < end && !ret; body = nl + 1) {
		nl = memchr(body, '\n', end - body);
		line_no++;
		ret = parse_line(&p, body, nl - body);
	}
	if (ret)
		log_error("UAPI: set rejected at line %d: %s", line_no, p.why);
	explicit_bzero(p.own_public_key, sizeof(p.own_public_key));
	return ret;
}

/* ---- Applying a validated set operation ---- */

/*
 * The device keeps its sessions when the key is the one it has (wg setconf
 * resends it) and drops a peer whose key is our new public key, as
 * wireguard-go does.
 */
static void apply_private_key(struct braid_device *dev, const uint8_t key[BRAID_KEY_LEN])
{
	log_verbose("UAPI: %s private key", key_is_zero(key) ? "removing" : "updating");
	braid_device_set_private_key(dev, key);
}

static int apply_aips(struct braid_peer *peer, const struct peer_change *pc)
{
	int ret;

	for (size_t i = 0; i < pc->n_aips; i++) {
		const struct aip_change *c = &pc->aips[i];

		switch (c->action) {
		case AIP_CLEAR:
			braid_peer_clear_allowed_ips(peer);
			break;
		case AIP_ADD:
			ret = braid_peer_add_allowed_ip(peer, c->family, c->addr, c->cidr);
			if (ret)
				return ret;
			break;
		case AIP_REMOVE:
			/* Removing a prefix the peer does not hold is not an error. */
			braid_peer_remove_allowed_ip(peer, c->family, c->addr, c->cidr);
			break;
		}
	}
	return 0;
}

/* The section's braid_ keys, into the daemon's store and the peer (validated before). */
static int apply_multipath(struct uapi *u, struct braid_peer *peer, uint64_t now,
			   const struct peer_change *pc)
{
	const struct mp_change *mc = pc->mp;
	struct mp_peer *mpp;
	int ret;

	if (!mc) {
		/* A new endpoint is the remote of the peer's paths: expand them again. */
		if (pc->has_endpoint && u->mp) {
			u->mp->fwmark = u->host->get_fwmark(u->host_ctx);
			return mp_config_apply(u->mp, peer, now);
		}
		return 0;
	}
	u->mp->fwmark = u->host->get_fwmark(u->host_ctx);
	mpp = mp_config_get(u->mp, pc->public_key);
	if (!mpp)
		return -ENOMEM;
	if (mc->replace_paths)
		mpp->n_specs = mpp->n_extra = 0;
	memcpy(&mpp->specs[mpp->n_specs], mc->specs, mc->n_specs * sizeof(mc->specs[0]));
	mpp->n_specs += mc->n_specs;
	memcpy(&mpp->extra[mpp->n_extra], mc->extra, mc->n_extra * sizeof(mc->extra[0]));
	mpp->n_extra += mc->n_extra;
	if (mc->has_mode) {
		log_verbose("UAPI: multipath %s", mode_names[mc->mode]);
		ret = braid_peer_set_multipath(peer, now, mc->mode);
		if (ret)
			return ret;
	}
	return mp_config_apply(u->mp, peer, now);
}

/*
 * The name the endpoint was resolved from, to resolve again when the peer
 * stops answering (resolver.h). An endpoint= without it (wg's) forgets it.
 */
static int apply_name(struct uapi *u, uint64_t now, const struct peer_change *pc)
{
	if (!u->resolver)
		return 0;
	if (pc->has_endpoint_name)
		return resolver_set_name(u->resolver, pc->public_key, pc->endpoint_name, now);
	if (pc->has_endpoint)
		resolver_forget(u->resolver, pc->public_key);
	return 0;
}

static int apply_peer(struct uapi *u, uint64_t now, const struct peer_change *pc)
{
	struct braid_device *dev = u->dev;
	struct braid_peer *peer;
	int ret;

	if (pc->is_own_key)
		return 0;
	peer = braid_device_find_peer(dev, pc->public_key);
	if (pc->remove) {
		if (peer) {
			log_verbose("UAPI: removing a peer");
			braid_peer_free(peer);
		}
		if (u->mp)
			mp_config_forget(u->mp, pc->public_key);
		if (u->resolver)
			resolver_forget(u->resolver, pc->public_key);
		return 0;
	}
	if (!peer) {
		if (pc->update_only)
			return 0;
		peer = braid_peer_new(dev, pc->public_key);
		if (!peer)
			return -errno;
		log_verbose("UAPI: created a peer");
	}
	if (pc->has_preshared_key)
		braid_peer_set_preshared_key(peer, pc->preshared_key);
	if (pc->has_endpoint)
		braid_peer_set_endpoint(peer, &pc->endpoint);
	ret = apply_name(u, now, pc);
	if (!ret)
		ret = apply_aips(peer, pc);
	if (!ret)
		ret = apply_multipath(u, peer, now, pc);
	if (ret)
		return ret;
	/* Last, as wireguard-go does: a keepalive turned on goes out to the new endpoint. */
	if (pc->has_keepalive && braid_peer_get_persistent_keepalive(peer) != pc->keepalive)
		braid_peer_set_persistent_keepalive(peer, now, pc->keepalive);
	return 0;
}

/* Limits that depend on what a peer has already: checked before anything is applied. */
static int check_multipath(const struct uapi *u, const struct set_request *req)
{
	const struct mp_peer *have;
	const struct mp_change *mc;
	unsigned int specs, extra;

	for (size_t i = 0; i < req->n_peers; i++) {
		mc = req->peers[i].mp;
		if (!mc)
			continue;
		have = req->replace_peers || mc->replace_paths ? NULL :
		       mp_config_find(u->mp, req->peers[i].public_key);
		specs = mc->n_specs + (have ? have->n_specs : 0);
		extra = mc->n_extra + (have ? have->n_extra : 0);
		if (specs > BRAID_MAX_PATHS || extra > BRAID_MAX_PATHS) {
			log_error("UAPI: set rejected: a peer would have more than %d braid_path or"
				  " braid_endpoint lines", BRAID_MAX_PATHS);
			return -EINVAL;
		}
	}
	return 0;
}

/*
 * The socket change goes first because it is the one step that can fail
 * for reasons outside the request (a port in use): then nothing is applied.
 * After it, only memory exhaustion or the device's peer limit can stop the
 * request half-way; the errno then says so.
 */
static int apply_set(struct uapi *u, uint64_t now, const struct set_request *req)
{
	int ret = check_multipath(u, req);

	if (ret)
		return ret;
	if (req->has_listen_port || req->has_fwmark) {
		ret = u->host->set_net(u->host_ctx, req->has_listen_port, req->listen_port,
				       req->has_fwmark, req->fwmark);
		if (ret) {
			log_error("UAPI: cannot apply listen_port/fwmark: %s", strerror(-ret));
			return ret;
		}
	}
	if (req->has_private_key)
		apply_private_key(u->dev, req->private_key);
	if (req->replace_peers) {
		log_verbose("UAPI: removing all peers");
		braid_device_clear_peers(u->dev);
		if (u->mp)
			u->mp->n = 0;
		if (u->resolver)
			resolver_forget_all(u->resolver);
	}
	for (size_t i = 0; i < req->n_peers; i++) {
		ret = apply_peer(u, now, &req->peers[i]);
		if (ret) {
			log_error("UAPI: cannot apply a peer: %s", strerror(-ret));
			return ret;
		}
	}
	return 0;
}

static void do_set(struct uapi *u, uint64_t now, const char *body, size_t len,
		   struct uapi_buf *out)
{
	struct set_request req = { 0 };
	int ret;

	ret = parse_set(u, &req, body, len);
	if (!ret)
		ret = apply_set(u, now, &req);
	set_request_free(&req);
	uapi_reply_errno(out, ret);
}

/* ---- get ---- */

static void put_key(struct uapi_buf *out, const char *name, const uint8_t key[BRAID_KEY_LEN])
{
	char hex[2 * BRAID_KEY_LEN + 1];

	braid_key_to_hex(hex, key);
	buf_printf(out, "%s=%s\n", name, hex);
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
		buf_printf(out, "endpoint=%s\n", text);
}

static int put_allowed_ip(void *ctx, int family, const void *addr, uint8_t cidr)
{
	struct uapi_buf *out = ctx;
	char ip[INET6_ADDRSTRLEN];

	if (!inet_ntop(family, addr, ip, sizeof(ip)))
		return 0;
	buf_printf(out, "allowed_ip=%s/%u\n", ip, cidr);
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
	buf_printf(out, "braid_path=%s,local=%s,remote=%s,state=%s,rtt_us=%llu,tx_bytes=%llu,"
		   "rx_bytes=%llu,last_rx_ms=%lld\n", path_name(u, info), local, remote,
		   path_state_names[info->state], (unsigned long long)(info->srtt_ns / 1000),
		   (unsigned long long)info->tx_bytes, (unsigned long long)info->rx_bytes,
		   last_rx == UINT64_MAX ? -1LL : (long long)last_rx);
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
	enum braid_multipath mode = braid_peer_get_multipath(peer);
	enum braid_peer_kind kind = braid_peer_get_kind(peer);
	size_t n = braid_peer_get_paths(peer, info, BRAID_MAX_PATHS);

	if (mode == BRAID_MULTIPATH_OFF && kind == BRAID_PEER_UNKNOWN && !n)
		return;
	buf_printf(out, "braid_multipath=%s\n", mode_names[mode]);
	buf_printf(out, "braid_peer_multipath=%s\n", kind_names[kind]);
	for (size_t i = 0; i < n && i < BRAID_MAX_PATHS; i++)
		put_path(u, now, out, &info[i]);
}

static void put_name(const struct uapi *u, struct uapi_buf *out, const struct braid_peer *peer)
{
	uint8_t key[BRAID_KEY_LEN];
	const char *name;

	if (!u->resolver)
		return;
	braid_peer_get_public_key(peer, key);
	name = resolver_name_of(u->resolver, key);
	/* Longer than buf_printf's lines can be: copied as it is. */
	if (name && buf_reserve(out, strlen(name) + 21)) {
		out->len += (size_t)sprintf(out->data + out->len, "braid_endpoint_name=%s\n", name);
	}
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
	buf_printf(out, "protocol_version=1\n");
	if (braid_peer_get_endpoint(peer, &ep))
		put_endpoint(out, &ep);
	put_name(u, out, peer);
	braid_peer_get_stats(peer, &st);
	buf_printf(out, "last_handshake_time_sec=%llu\n",
		   (unsigned long long)(st.last_handshake_ns / NSEC_PER_SEC));
	buf_printf(out, "last_handshake_time_nsec=%llu\n",
		   (unsigned long long)(st.last_handshake_ns % NSEC_PER_SEC));
	buf_printf(out, "tx_bytes=%llu\n", (unsigned long long)st.tx_bytes);
	buf_printf(out, "rx_bytes=%llu\n", (unsigned long long)st.rx_bytes);
	buf_printf(out, "persistent_keepalive_interval=%u\n",
		   braid_peer_get_persistent_keepalive(peer));
	put_multipath(u, now, out, peer);
	braid_peer_foreach_allowed_ip(peer, put_allowed_ip, out);
}

static void put_counter(struct uapi_buf *out, const char *prefix, const char *name,
			uint64_t value)
{
	if (value)
		buf_printf(out, "%s%s=%llu\n", prefix, name, (unsigned long long)value);
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

static void do_get(struct uapi *u, uint64_t now, struct uapi_buf *out)
{
	uint8_t key[BRAID_KEY_LEN];
	const struct braid_peer *peer = NULL;
	uint16_t port = u->host->get_listen_port(u->host_ctx);
	uint32_t fwmark = u->host->get_fwmark(u->host_ctx);

	if (braid_device_get_private_key(u->dev, key))
		put_key(out, "private_key", key);
	explicit_bzero(key, sizeof(key));
	if (port)
		buf_printf(out, "listen_port=%u\n", port);
	if (fwmark)
		buf_printf(out, "fwmark=%u\n", fwmark);
	put_device_stats(out, u->dev);
	while ((peer = braid_device_next_peer(u->dev, peer)))
		put_peer(u, now, out, peer);
	uapi_reply_errno(out, 0);
}

/* ---- Framing and dispatch ---- */

ssize_t uapi_frame(const char *in, size_t len, size_t *scanned)
{
	size_t pos = *scanned, line_len;
	const char *nl;

	while (pos < len) {
		nl = memchr(in + pos, '\n', len - pos);
		if (!nl)
			break;
		line_len = nl - (in + pos);
		if (line_len > UAPI_LINE_MAX)
			return -EPROTO;
		pos += line_len + 1;
		if (!line_len) {
			*scanned = 0;
			return pos;
		}
	}
	*scanned = pos;
	if (len - pos > UAPI_LINE_MAX || len > UAPI_REQUEST_MAX)
		return -EPROTO;
	return 0;
}

bool uapi_execute(struct uapi *u, uint64_t now, const char *op, size_t len,
		  struct uapi_buf *out)
{
	static const char get[] = "get=1\n", set[] = "set=1\n";
	const size_t op_len = sizeof(get) - 1;

	/* op ends with "\n\n", or is a lone "\n". */
	if (len > op_len && !memcmp(op, set, op_len)) {
		do_set(u, now, op + op_len, len - op_len - 1, out);
		return true;
	}
	if (len > op_len && !memcmp(op, get, op_len)) {
		if (len == op_len + 1) {
			do_get(u, now, out);
		} else {
			log_error("UAPI: get with trailing lines");
			uapi_reply_errno(out, -EINVAL);
		}
		return true;
	}
	log_error("UAPI: unknown operation");
	uapi_reply_errno(out, -EINVAL);
	return false;
}

bool uapi_process(struct uapi *u, uint64_t now, const char *in, size_t len,
		  struct uapi_buf *out)
{
	size_t scanned = 0;
	ssize_t n;

	while (len) {
		n = uapi_frame(in, len, &scanned);
		if (n <= 0) {
			/* A broken frame, or input that stops inside an operation. */
			log_error("UAPI: %s", n ? "line or request too long" : "truncated request");
			uapi_reply_errno(out, -EPROTO);
			return false;
		}
		if (!uapi_execute(u, now, in, n, out))
			return false;
		in += n;
		len -= n;
	}
	return true;
}
