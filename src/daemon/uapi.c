// SPDX-License-Identifier: MIT
/*
 * The UAPI's sessions, and its set operation applied to a braid_device
 * (uapi_get.c writes the get).
 *
 * A session reads its input line by line as it arrives. A set is parsed
 * and validated whole into a compact form (struct set_form, below) before
 * anything changes (validate, then commit): a malformed line rejects the
 * entire operation with nothing applied, where wireguard-go would have
 * applied the lines before it. Within a valid operation the lines keep
 * wireguard-go's meaning, including their order: replace_allowed_ips drops
 * the prefixes given before it in the same section, remove and update_only
 * act on the whole section, and a section for our own public key is checked
 * but ignored.
 *
 * The commit runs a slice at a time, in steps: a dry run that counts the
 * peers the set leaves behind (more than a device may hold refuses it with
 * nothing applied), the listen port and fwmark (the one step that can fail
 * for reasons outside the request, a port in use: then nothing is
 * applied), the private key, replace_peers, then the sections in order.
 * Past the dry run only memory exhaustion can stop a set half-way; the log
 * and the errno then say so. Between slices the data plane runs on what is
 * applied so far, as it does while the kernel applies a large `wg setconf`
 * sent in several netlink messages.
 *
 * errno values follow wireguard-go (ipc/uapi_*.go) so wg prints the same
 * messages: -EINVAL for a bad key or value, -EPROTO for a line without '='
 * or a broken frame, -EADDRINUSE when the listen port cannot be bound.
 * braid adds -ENOSPC (the set would leave the device more peers than it may
 * hold) and -E2BIG (a set larger than UAPI_SET_MAX once parsed).
 */
#include <arpa/inet.h>
#include <braid_wire.h>
#include <errno.h>
#include <net/if.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "multipath.h"
#include "resolver.h"
#include "spool.h"
#include "uapi.h"
#include "uapi_get.h"

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
	struct mp_change *next;		/* the set's list of them, to free */
};

/*
 * The compact form of a set: the device's keys, then in a spool each
 * public_key section followed by its items (allowed IPs, replace_allowed_ips
 * and the preshared key, in the order given), one tag byte each and then its
 * bytes. About 110 bytes for a peer with an endpoint and two IPv6 prefixes.
 */
enum item_tag {
	ITEM_ADD4 = 1,		/* cidr, 4 address bytes */
	ITEM_ADD6,		/* cidr, 16 address bytes */
	ITEM_REMOVE4,
	ITEM_REMOVE6,
	ITEM_CLEAR,		/* replace_allowed_ips=true */
	ITEM_PSK,		/* 32 key bytes */
	ITEM_NAME,		/* braid_endpoint_name: length (2 bytes), the name, a NUL */
};

enum section_flag {
	SECTION_REMOVE = 1 << 0,
	SECTION_UPDATE_ONLY = 1 << 1,
	SECTION_ENDPOINT = 1 << 2,
	SECTION_KEEPALIVE = 1 << 3,
	SECTION_NAME = 1 << 4,		/* a braid_endpoint_name item */
};

union inet_addr {
	struct sockaddr sa;
	struct sockaddr_in in4;
	struct sockaddr_in6 in6;
};

struct section {
	uint8_t public_key[BRAID_KEY_LEN];
	struct mp_change *mp;		/* NULL: no braid_ key in this section */
	union inet_addr endpoint;	/* the last endpoint= */
	uint32_t n_items;
	uint16_t keepalive;
	uint8_t flags;			/* enum section_flag */
};

struct set_form {
	bool has_private_key;
	bool has_listen_port;
	bool has_fwmark;
	bool replace_peers;
	uint8_t private_key[BRAID_KEY_LEN];
	uint16_t listen_port;
	uint32_t fwmark;
	struct spool spool;
	size_t n_sections, n_removing;	/* sections, and those with remove=true */
	struct mp_change *mps;		/* n_mp of them */
	size_t n_mp;
};

/* A key=value line, not NUL-terminated. */
struct kv {
	const char *key, *value;
	size_t key_len, value_len;
};

const char *const uapi_multipath_modes[BRAID_MULTIPATH_AGGREGATE_FLOW + 1] = {
	[BRAID_MULTIPATH_OFF] = "off",
	[BRAID_MULTIPATH_FAILOVER] = "failover",
	[BRAID_MULTIPATH_REDUNDANT] = "redundant",
	[BRAID_MULTIPATH_AGGREGATE] = "aggregate",
	[BRAID_MULTIPATH_AGGREGATE_FLOW] = "aggregate-flow",
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

void uapi_buf_printf(struct uapi_buf *buf, const char *fmt, ...)
{
	char line[512];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	/* Every line we format is shorter: a path's, an endpoint name's (< 300). */
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
	uapi_buf_printf(out, "errno=%d\n\n", err);
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


/* ---- The parsed form of a set ---- */

static size_t item_len(const uint8_t *item)
{
	switch (item[0]) {
	case ITEM_ADD4:
	case ITEM_REMOVE4:
		return 2 + 4;
	case ITEM_ADD6:
	case ITEM_REMOVE6:
		return 2 + 16;
	case ITEM_PSK:
		return 1 + BRAID_KEY_LEN;
	case ITEM_NAME:
		return 4 + (item[1] | (size_t)item[2] << 8);
	default:
		return 1;
	}
}

static void set_form_free(struct set_form *form)
{
	struct mp_change *mc, *next;

	spool_free(&form->spool);
	for (mc = form->mps; mc; mc = next) {
		next = mc->next;
		free(mc);
	}
	explicit_bzero(form, sizeof(*form));
}

/* The next section of a parsed set, its items after it; NULL after the last. */
static const struct section *next_section(const struct set_form *form, struct spool_pos *pos)
{
	const struct section *sec = spool_peek(&form->spool, pos, _Alignof(struct section));

	if (sec)
		spool_skip(pos, sizeof(*sec));
	return sec;
}

/* The current section's next item: its tag, then its bytes. */
static const uint8_t *next_item(const struct set_form *form, struct spool_pos *pos)
{
	const uint8_t *item = spool_peek(&form->spool, pos, 1);

	spool_skip(pos, item_len(item));
	return item;
}

static void skip_items(const struct set_form *form, struct spool_pos *pos,
		       const struct section *sec)
{
	for (uint32_t i = 0; i < sec->n_items; i++)
		next_item(form, pos);
}

/* ---- Parsing a set, a line at a time ---- */

struct parser {
	struct set_form *form;
	struct section *section;	/* the current one; NULL in the device part */
	uint8_t *psk;			/* its ITEM_PSK: a later preshared_key rewrites it */
	bool has_multipath;		/* the braid_ peer keys are served */
	bool has_names;			/* braid_endpoint_name is served */
	const char *why;		/* for the log */
};

static int fail(struct parser *p, int err, const char *why)
{
	p->why = why;
	return err;
}

static void *append(struct parser *p, size_t len, size_t align)
{
	if (p->form->spool.bytes + len > UAPI_SET_MAX)
		return NULL;
	return spool_append(&p->form->spool, len, align);
}

/* Why append() failed. */
static int append_failed(struct parser *p)
{
	if (p->form->spool.bytes + UAPI_LINE_MAX > UAPI_SET_MAX)
		return fail(p, -E2BIG, "larger than braid takes in one set (UAPI_SET_MAX, 1 GiB"
			    " parsed, about 9 million peers)");
	return fail(p, -ENOMEM, "out of memory");
}

static int parse_device_line(struct parser *p, const struct kv *kv)
{
	struct set_form *form = p->form;
	uint64_t n;

	if (key_is(kv, "private_key")) {
		if (!parse_key(form->private_key, kv))
			return fail(p, -EINVAL, "invalid private_key");
		form->has_private_key = true;
	} else if (key_is(kv, "listen_port")) {
		if (!parse_uint(kv->value, kv->value_len, UINT16_MAX, &n))
			return fail(p, -EINVAL, "invalid listen_port");
		form->has_listen_port = true;
		form->listen_port = n;
	} else if (key_is(kv, "fwmark")) {
		if (!parse_uint(kv->value, kv->value_len, UINT32_MAX, &n))
			return fail(p, -EINVAL, "invalid fwmark");
		form->has_fwmark = true;
		form->fwmark = n;
	} else if (key_is(kv, "replace_peers")) {
		if (!parse_true(kv))
			return fail(p, -EINVAL, "invalid replace_peers");
		form->replace_peers = true;
	} else {
		return fail(p, -EINVAL, "unknown device key");
	}
	return 0;
}

static int start_section(struct parser *p, const struct kv *kv)
{
	uint8_t key[BRAID_KEY_LEN];
	struct section *sec;

	if (!parse_key(key, kv))
		return fail(p, -EINVAL, "invalid public_key");
	sec = append(p, sizeof(*sec), _Alignof(struct section));
	if (!sec)
		return append_failed(p);
	memset(sec, 0, sizeof(*sec));
	memcpy(sec->public_key, key, BRAID_KEY_LEN);
	p->form->n_sections++;
	p->section = sec;
	p->psk = NULL;
	return 0;
}

/* An item of the current section: tag, then len bytes of data. */
static int add_item(struct parser *p, uint8_t tag, const void *data, size_t len)
{
	uint8_t *item = append(p, 1 + len, 1);

	if (!item)
		return append_failed(p);
	item[0] = tag;
	if (len)
		memcpy(item + 1, data, len);
	p->section->n_items++;
	if (tag == ITEM_PSK)
		p->psk = item;
	return 0;
}

static int add_aip(struct parser *p, const struct aip_change *c)
{
	uint8_t data[17];
	bool v6 = c->family == AF_INET6;

	if (c->action == AIP_CLEAR)
		return add_item(p, ITEM_CLEAR, NULL, 0);
	data[0] = c->cidr;
	memcpy(data + 1, c->addr, v6 ? 16 : 4);
	return add_item(p, c->action == AIP_ADD ? (v6 ? ITEM_ADD6 : ITEM_ADD4) :
						   (v6 ? ITEM_REMOVE6 : ITEM_REMOVE4),
			data, v6 ? 17 : 5);
}

static int set_psk(struct parser *p, const struct kv *kv)
{
	uint8_t key[BRAID_KEY_LEN];
	int ret = 0;

	if (!parse_key(key, kv))
		return fail(p, -EINVAL, "invalid preshared_key");
	/* The last preshared_key of a section is the one that counts: one item, rewritten. */
	if (p->psk)
		memcpy(p->psk + 1, key, BRAID_KEY_LEN);
	else
		ret = add_item(p, ITEM_PSK, key, BRAID_KEY_LEN);
	explicit_bzero(key, sizeof(key));
	return ret;
}

/* braid_endpoint_name: the name the endpoint was resolved from ("" forgets it). */
static int set_name(struct parser *p, const struct kv *kv)
{
	uint8_t data[2 + RESOLVER_NAME_LEN];
	size_t len = kv->value_len;

	if (!p->has_names || len >= RESOLVER_NAME_LEN ||
	    (len && !resolver_name_is_valid(kv->value, len)))
		return fail(p, -EINVAL, "invalid braid_endpoint_name");
	data[0] = len & 0xff;
	data[1] = len >> 8;
	memcpy(data + 2, kv->value, len);
	data[2 + len] = '\0';
	p->section->flags |= SECTION_NAME;
	return add_item(p, ITEM_NAME, data, 3 + len);
}

/* braid's own peer keys (multipath); a client that sends them knows they are ours. */
static int parse_multipath_line(struct parser *p, const struct kv *kv)
{
	struct mp_change *mc = p->section->mp;
	unsigned int i;

	if (!p->has_multipath)
		return fail(p, -EINVAL, "multipath is not available");
	if (!mc) {
		mc = p->section->mp = calloc(1, sizeof(*mc));
		if (!mc)
			return fail(p, -ENOMEM, "out of memory");
		mc->next = p->form->mps;
		p->form->mps = mc;
		p->form->n_mp++;
	}
	if (key_is(kv, "braid_multipath")) {
		for (i = 0; i <= BRAID_MULTIPATH_AGGREGATE_FLOW; i++)
			if (value_is(kv, uapi_multipath_modes[i]))
				break;
		if (i > BRAID_MULTIPATH_AGGREGATE_FLOW)
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
	struct section *sec = p->section;
	struct braid_endpoint ep;
	struct aip_change c;
	uint64_t n;

	if (key_is(kv, "remove")) {
		if (!parse_true(kv))
			return fail(p, -EINVAL, "invalid remove");
		p->form->n_removing += !(sec->flags & SECTION_REMOVE);
		sec->flags |= SECTION_REMOVE;
	} else if (key_is(kv, "update_only")) {
		if (!parse_true(kv))
			return fail(p, -EINVAL, "invalid update_only");
		sec->flags |= SECTION_UPDATE_ONLY;
	} else if (key_is(kv, "preshared_key")) {
		return set_psk(p, kv);
	} else if (key_is(kv, "endpoint")) {
		if (!uapi_parse_endpoint(&ep, kv->value, kv->value_len))
			return fail(p, -EINVAL, "invalid endpoint");
		memcpy(&sec->endpoint, &ep.addr, sizeof(sec->endpoint));
		sec->flags |= SECTION_ENDPOINT;
	} else if (key_is(kv, "persistent_keepalive_interval")) {
		if (!parse_uint(kv->value, kv->value_len, UINT16_MAX, &n))
			return fail(p, -EINVAL, "invalid persistent_keepalive_interval");
		sec->flags |= SECTION_KEEPALIVE;
		sec->keepalive = n;
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
		return set_name(p, kv);
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
		return start_section(p, &kv);
	if (!p->section)
		return parse_device_line(p, &kv);
	return parse_peer_line(p, &kv);
}

/* ---- Committing a parsed set, a slice at a time ---- */

enum commit_step {
	COMMIT_COUNT,		/* the dry run: how many peers the set leaves, at most */
	COMMIT_NET,		/* listen_port, fwmark */
	COMMIT_KEY,		/* private_key */
	COMMIT_CLEAR,		/* replace_peers */
	COMMIT_PEERS,		/* the sections */
	COMMIT_DONE,
};

/*
 * The public keys a set names, for its dry run: open addressing on the
 * key's first bytes (keys are random), each slot a pointer to a section
 * holding the key, its low bit set while that peer would exist.
 */
struct key_set {
	struct spool mem;
	uintptr_t *slots;
	size_t mask;
};

struct commit {
	enum commit_step step;
	struct spool_pos pos;
	uint8_t own_public[BRAID_KEY_LEN];	/* sections for it are checked, then ignored */
	bool has_own;
	struct key_set keys;
	size_t peers, most;			/* the dry run's count, and its peak */
};

static int key_set_init(struct key_set *ks, size_t n)
{
	size_t slots = 16;

	while (slots < 2 * n)
		slots *= 2;
	/* Straight from the system, so that its memory goes back when it is freed. */
	ks->slots = spool_append(&ks->mem, slots * sizeof(*ks->slots), sizeof(*ks->slots));
	ks->mask = slots - 1;
	return ks->slots ? 0 : -ENOMEM;
}

/* The slot of this key: its own, or the empty one where it goes. */
static uintptr_t *key_slot(struct key_set *ks, const uint8_t key[BRAID_KEY_LEN])
{
	size_t i = braid_get_le32(key) & ks->mask;
	const struct section *sec;

	for (;; i = (i + 1) & ks->mask) {
		sec = (const struct section *)(ks->slots[i] & ~(uintptr_t)1);
		if (!sec || !memcmp(sec->public_key, key, BRAID_KEY_LEN))
			return &ks->slots[i];
	}
}

static bool is_own(const struct commit *c, const struct section *sec)
{
	return c->has_own && !memcmp(sec->public_key, c->own_public, BRAID_KEY_LEN);
}

/*
 * What the private key of the set, applied first, makes our public key:
 * sections for it are ignored, and a peer that has it now goes.
 */
static void commit_start(struct commit *c, struct uapi *u, const struct set_form *form)
{
	memset(c, 0, sizeof(*c));
	if (form->has_private_key) {
		c->has_own = !key_is_zero(form->private_key);
		if (c->has_own)
			braid_public_key(c->own_public, form->private_key);
	} else {
		c->has_own = braid_device_get_public_key(u->dev, c->own_public);
	}
	c->peers = form->replace_peers ? 0 : braid_device_peer_count(u->dev);
	if (!form->replace_peers && form->has_private_key && c->has_own &&
	    braid_device_find_peer(u->dev, c->own_public))
		c->peers--;
	c->most = c->peers;
	/*
	 * The dry run costs a lookup a section: skip it when even every section
	 * adding a peer would fit, unless multipath lines need their check.
	 */
	if (!form->n_mp && c->peers + (form->n_sections - form->n_removing) <=
			   braid_device_max_peers(u->dev))
		c->step = COMMIT_NET;
}

static void commit_free(struct commit *c)
{
	spool_free(&c->keys.mem);
	explicit_bzero(c, sizeof(*c));
}

/* Limits that depend on what a peer has already: its multipath lines, with the set's. */
static int check_multipath(struct uapi *u, const struct set_form *form,
			   const struct section *sec)
{
	const struct mp_change *mc = sec->mp;
	const struct mp_peer *have;
	unsigned int specs, extra;

	have = form->replace_peers || mc->replace_paths ? NULL :
	       mp_config_find(u->mp, sec->public_key);
	specs = mc->n_specs + (have ? have->n_specs : 0);
	extra = mc->n_extra + (have ? have->n_extra : 0);
	if (specs > BRAID_MAX_PATHS || extra > BRAID_MAX_PATHS) {
		log_error("UAPI: set rejected: a peer would have more than %d braid_path or"
			  " braid_endpoint lines", BRAID_MAX_PATHS);
		return -EINVAL;
	}
	return 0;
}

/* One section of the dry run: whether its peer would exist after it, and the count. */
static int count_section(struct commit *c, struct uapi *u, const struct set_form *form,
			 const struct section *sec)
{
	uintptr_t *slot;
	bool exists;

	if (sec->mp && check_multipath(u, form, sec))
		return -EINVAL;
	if (is_own(c, sec))
		return 0;
	slot = key_slot(&c->keys, sec->public_key);
	if (!*slot) {
		exists = !form->replace_peers && braid_device_find_peer(u->dev, sec->public_key);
		*slot = (uintptr_t)sec | exists;
	}
	exists = *slot & 1;
	if (sec->flags & SECTION_REMOVE) {
		if (exists)
			c->peers--;
		*slot &= ~(uintptr_t)1;
	} else if (!exists && !(sec->flags & SECTION_UPDATE_ONLY)) {
		c->peers++;
		*slot |= 1;
	}
	if (c->peers > c->most)
		c->most = c->peers;
	return 0;
}

/*
 * The items in order; the first failure stops them (and the set). An
 * endpoint name goes to the resolver, to look up again when the peer stops
 * answering (resolver.h).
 */
static int apply_items(struct uapi *u, uint64_t now, struct braid_peer *peer,
		       const struct set_form *form, struct spool_pos *pos,
		       const struct section *sec)
{
	const uint8_t *item;
	int ret;

	for (uint32_t i = 0; i < sec->n_items; i++) {
		item = next_item(form, pos);
		switch (item[0]) {
		case ITEM_PSK:
			braid_peer_set_preshared_key(peer, item + 1);
			break;
		case ITEM_NAME:
			ret = resolver_set_name(u->resolver, sec->public_key,
						(const char *)item + 3, now);
			if (ret)
				return ret;
			break;
		case ITEM_CLEAR:
			braid_peer_clear_allowed_ips(peer);
			break;
		case ITEM_ADD4:
		case ITEM_ADD6:
			ret = braid_peer_add_allowed_ip(peer, item[0] == ITEM_ADD4 ? AF_INET :
							AF_INET6, item + 2, item[1]);
			if (ret)
				return ret;
			break;
		case ITEM_REMOVE4:
		case ITEM_REMOVE6:
			/* Removing a prefix the peer does not hold is not an error. */
			braid_peer_remove_allowed_ip(peer, item[0] == ITEM_REMOVE4 ? AF_INET :
							   AF_INET6, item + 2, item[1]);
			break;
		}
	}
	return 0;
}

/* The section's braid_ keys, into the daemon's store and the peer (validated before). */
static int apply_multipath(struct uapi *u, struct braid_peer *peer, uint64_t now,
			   const struct section *sec)
{
	const struct mp_change *mc = sec->mp;
	struct mp_peer *mpp;
	int ret;

	if (!mc) {
		/* A new endpoint is the remote of the peer's paths: expand them again. */
		if ((sec->flags & SECTION_ENDPOINT) && u->mp && u->mp->n) {
			u->mp->fwmark = u->host->get_fwmark(u->host_ctx);
			return mp_config_apply(u->mp, peer, now);
		}
		return 0;
	}
	u->mp->fwmark = u->host->get_fwmark(u->host_ctx);
	mpp = mp_config_get(u->mp, sec->public_key);
	if (!mpp)
		return -ENOMEM;
	if (mc->replace_paths)
		mpp->n_specs = mpp->n_extra = 0;
	memcpy(&mpp->specs[mpp->n_specs], mc->specs, mc->n_specs * sizeof(mc->specs[0]));
	mpp->n_specs += mc->n_specs;
	memcpy(&mpp->extra[mpp->n_extra], mc->extra, mc->n_extra * sizeof(mc->extra[0]));
	mpp->n_extra += mc->n_extra;
	if (mc->has_mode) {
		log_verbose("UAPI: multipath %s", uapi_multipath_modes[mc->mode]);
		ret = braid_peer_set_multipath(peer, now, mc->mode);
		if (ret)
			return ret;
	}
	return mp_config_apply(u->mp, peer, now);
}

static int apply_section(struct commit *c, struct uapi *u, uint64_t now,
			 const struct set_form *form, const struct section *sec)
{
	struct braid_device *dev = u->dev;
	struct braid_endpoint ep;
	struct braid_peer *peer;
	int ret;

	peer = is_own(c, sec) ? NULL : braid_device_find_peer(dev, sec->public_key);
	if (is_own(c, sec) || (sec->flags & SECTION_REMOVE) ||
	    (!peer && (sec->flags & SECTION_UPDATE_ONLY))) {
		skip_items(form, &c->pos, sec);
		if ((sec->flags & SECTION_REMOVE) && !is_own(c, sec)) {
			if (peer) {
				log_verbose("UAPI: removing a peer");
				braid_peer_free(peer);
			}
			if (u->mp)
				mp_config_forget(u->mp, sec->public_key);
			if (u->resolver)
				resolver_forget(u->resolver, sec->public_key);
		}
		return 0;
	}
	if (!peer) {
		/* A failure stops the set: its place in the spool no longer matters. */
		peer = braid_peer_new(dev, sec->public_key);
		if (!peer)
			return -errno;
		log_verbose("UAPI: created a peer");
	}
	if (sec->flags & SECTION_ENDPOINT) {
		memset(&ep, 0, sizeof(ep));
		memcpy(&ep.addr, &sec->endpoint, sizeof(sec->endpoint));
		braid_peer_set_endpoint(peer, &ep);
		/* wg's endpoint= alone: the user chose an address, not a name. */
		if (u->resolver && !(sec->flags & SECTION_NAME))
			resolver_forget(u->resolver, sec->public_key);
	}
	ret = apply_items(u, now, peer, form, &c->pos, sec);
	if (!ret)
		ret = apply_multipath(u, peer, now, sec);
	if (ret)
		return ret;
	/* Last, as wireguard-go does: a keepalive turned on goes out to the new endpoint. */
	if ((sec->flags & SECTION_KEEPALIVE) &&
	    braid_peer_get_persistent_keepalive(peer) != sec->keepalive)
		braid_peer_set_persistent_keepalive(peer, now, sec->keepalive);
	return 0;
}

static int commit_net(struct uapi *u, const struct set_form *form)
{
	int ret;

	if (!form->has_listen_port && !form->has_fwmark)
		return 0;
	ret = u->host->set_net(u->host_ctx, form->has_listen_port, form->listen_port,
			       form->has_fwmark, form->fwmark);
	if (ret)
		log_error("UAPI: cannot apply listen_port/fwmark: %s", strerror(-ret));
	return ret;
}

/* The dry run, a slice of sections; then whether the device may hold what it leaves. */
static int commit_count(struct commit *c, struct uapi *u, const struct set_form *form,
			size_t *budget)
{
	const struct section *sec;
	int ret;

	if (!c->keys.slots && key_set_init(&c->keys, form->n_sections)) {
		log_error("UAPI: set rejected: out of memory");
		return -ENOMEM;
	}
	for (; *budget; --*budget) {
		sec = next_section(form, &c->pos);
		if (!sec)
			break;
		skip_items(form, &c->pos, sec);
		ret = count_section(c, u, form, sec);
		if (ret)
			return ret;
	}
	if (*budget && c->most > braid_device_max_peers(u->dev)) {
		log_error("UAPI: set rejected: it would leave the device %zu peers, more than its %zu",
			  c->most, braid_device_max_peers(u->dev));
		return -ENOSPC;
	}
	return 0;
}

/* replace_peers: a slice of the old peers, from the oldest. */
static void commit_clear(struct uapi *u, size_t *budget)
{
	struct braid_peer *peer;

	for (; *budget && (peer = braid_device_next_peer(u->dev, NULL)); --*budget)
		braid_peer_free(peer);
	if (*budget && u->mp)
		mp_config_clear(u->mp);
	if (*budget && u->resolver)
		resolver_forget_all(u->resolver);
}

static int commit_peers(struct commit *c, struct uapi *u, uint64_t now,
			const struct set_form *form, size_t *budget)
{
	const struct section *sec;
	int ret;

	for (; *budget && (sec = next_section(form, &c->pos)); --*budget) {
		ret = apply_section(c, u, now, form, sec);
		if (ret) {
			log_error("UAPI: cannot apply a peer (%s); the set stopped there, partly "
				  "applied", strerror(-ret));
			return ret;
		}
	}
	return 0;
}

/*
 * Run the commit for at most budget units; COMMIT_DONE, or the step that
 * failed (with *err), or the step to go on with.
 */
static bool commit_run(struct commit *c, struct uapi *u, uint64_t now,
		       const struct set_form *form, size_t budget, int *err)
{
	*err = 0;
	while (budget && c->step != COMMIT_DONE && !*err) {
		switch (c->step) {
		case COMMIT_COUNT:
			*err = commit_count(c, u, form, &budget);
			if (!*err && budget) {
				c->pos = (struct spool_pos){ 0 };
				c->step = COMMIT_NET;
			}
			break;
		case COMMIT_NET:
			*err = commit_net(u, form);
			c->step = COMMIT_KEY;
			break;
		case COMMIT_KEY:
			if (form->has_private_key) {
				log_verbose("UAPI: %s private key",
					    key_is_zero(form->private_key) ? "removing" :
										   "updating");
				braid_device_set_private_key(u->dev, form->private_key);
			}
			c->step = form->replace_peers ? COMMIT_CLEAR : COMMIT_PEERS;
			if (form->replace_peers)
				log_verbose("UAPI: removing all peers");
			break;
		case COMMIT_CLEAR:
			commit_clear(u, &budget);
			if (budget)
				c->step = COMMIT_PEERS;
			break;
		case COMMIT_PEERS:
			*err = commit_peers(c, u, now, form, &budget);
			if (!*err && budget)
				c->step = COMMIT_DONE;
			break;
		case COMMIT_DONE:
			break;
		}
	}
	return *err || c->step == COMMIT_DONE;
}

/* ---- Sessions: lines in, operations run ---- */

enum phase {
	PHASE_IDLE,		/* between operations: the next line names one */
	PHASE_GET,		/* get=1 read: its empty line next */
	PHASE_SET,		/* a set's lines */
	PHASE_SKIP,		/* a refused operation's lines, up to its empty line */
	PHASE_RUN_GET,
	PHASE_RUN_SET,
	PHASE_CLOSING,		/* answered; nothing more is read */
};

struct uapi_session {
	struct uapi *u;
	enum phase phase;
	int line_no;
	/* A refused operation: answered at its empty line. */
	int refusal;
	bool refusal_closes;
	struct set_form form;
	struct parser parser;
	struct commit commit;
	struct uapi_get get;
};

struct uapi_session *uapi_session_new(struct uapi *u)
{
	struct uapi_session *s = calloc(1, sizeof(*s));

	if (s)
		s->u = u;
	return s;
}

/* Drop a set's parsed form and commit state, and a get's place. */
static void drop_operation(struct uapi_session *s)
{
	set_form_free(&s->form);
	commit_free(&s->commit);
	uapi_get_stop(&s->get);
	memset(&s->parser, 0, sizeof(s->parser));
}

void uapi_session_free(struct uapi_session *s)
{
	if (!s)
		return;
	drop_operation(s);
	free(s);
}

static void refuse(struct uapi_session *s, int err, bool closes)
{
	s->refusal = err;
	s->refusal_closes = closes;
	s->phase = PHASE_SKIP;
	drop_operation(s);
}

static bool line_is(const char *line, size_t len, const char *s)
{
	return len == strlen(s) && !memcmp(line, s, len);
}

static void begin_operation(struct uapi_session *s, const char *line, size_t len)
{
	s->line_no = 1;
	if (line_is(line, len, "set=1")) {
		memset(&s->form, 0, sizeof(s->form));
		s->parser = (struct parser){ .form = &s->form, .has_multipath = s->u->mp != NULL,
					    .has_names = s->u->resolver != NULL };
		s->phase = PHASE_SET;
	} else if (line_is(line, len, "get=1")) {
		s->phase = PHASE_GET;
	} else {
		log_error("UAPI: unknown operation");
		refuse(s, -EINVAL, true);
	}
}

/* The empty line: run the operation, or answer it now. */
static void end_operation(struct uapi_session *s, struct uapi_buf *out)
{
	switch (s->phase) {
	case PHASE_IDLE:
		log_error("UAPI: unknown operation");
		uapi_reply_errno(out, -EINVAL);
		s->phase = PHASE_CLOSING;
		break;
	case PHASE_GET:
		uapi_get_start(&s->get);
		s->phase = PHASE_RUN_GET;
		break;
	case PHASE_SET:
		commit_start(&s->commit, s->u, &s->form);
		s->phase = PHASE_RUN_SET;
		break;
	case PHASE_SKIP:
		uapi_reply_errno(out, s->refusal);
		s->phase = s->refusal_closes ? PHASE_CLOSING : PHASE_IDLE;
		break;
	default:
		break;
	}
}

static void take_line(struct uapi_session *s, const char *line, size_t len, struct uapi_buf *out)
{
	int ret;

	if (!len) {
		end_operation(s, out);
		return;
	}
	s->line_no++;
	switch (s->phase) {
	case PHASE_IDLE:
		begin_operation(s, line, len);
		break;
	case PHASE_GET:
		log_error("UAPI: get with trailing lines");
		refuse(s, -EINVAL, false);
		break;
	case PHASE_SET:
		ret = parse_line(&s->parser, line, len);
		if (ret) {
			log_error("UAPI: set rejected at line %d: %s", s->line_no, s->parser.why);
			refuse(s, ret, false);
		}
		break;
	default:
		break;
	}
}

static bool is_reading(const struct uapi_session *s)
{
	return s->phase <= PHASE_SKIP;
}

ssize_t uapi_session_feed(struct uapi_session *s, const char *in, size_t len,
			  struct uapi_buf *out)
{
	size_t used = 0, line_len;
	const char *nl;

	while (used < len && is_reading(s)) {
		nl = memchr(in + used, '\n', len - used);
		line_len = nl ? (size_t)(nl - (in + used)) : len - used;
		if (line_len > UAPI_LINE_MAX) {
			log_error("UAPI: line too long");
			uapi_reply_errno(out, -EPROTO);
			drop_operation(s);
			s->phase = PHASE_CLOSING;
			return -EPROTO;
		}
		if (!nl)
			break;
		take_line(s, in + used, line_len, out);
		used += line_len + 1;
	}
	return used;
}

bool uapi_session_end(struct uapi_session *s, size_t pending, struct uapi_buf *out)
{
	bool cut = is_reading(s) && (s->phase != PHASE_IDLE || pending);

	if (!is_reading(s))
		return false;
	/* The client closed its side inside an operation: answer, apply nothing. */
	if (cut) {
		log_error("UAPI: truncated request");
		uapi_reply_errno(out, -EPROTO);
	}
	drop_operation(s);
	s->phase = PHASE_CLOSING;
	return cut;
}

bool uapi_session_has_op(const struct uapi_session *s)
{
	return s->phase == PHASE_RUN_GET || s->phase == PHASE_RUN_SET;
}

bool uapi_session_op_is_set(const struct uapi_session *s)
{
	return s->phase == PHASE_RUN_SET;
}

bool uapi_session_keep(const struct uapi_session *s)
{
	return s->phase != PHASE_CLOSING;
}

bool uapi_session_run(struct uapi_session *s, uint64_t now, struct uapi_buf *out,
		      size_t budget)
{
	int err;

	if (s->phase == PHASE_RUN_GET) {
		if (!uapi_get_run(&s->get, s->u, now, out, budget))
			return false;
	} else if (s->phase == PHASE_RUN_SET) {
		if (!commit_run(&s->commit, s->u, now, &s->form, budget, &err))
			return false;
		uapi_reply_errno(out, err);
	} else {
		return true;
	}
	drop_operation(s);
	s->phase = PHASE_IDLE;
	return true;
}

/* ---- Whole inputs at once ---- */

bool uapi_process(struct uapi *u, uint64_t now, const char *in, size_t len,
		  struct uapi_buf *out)
{
	struct uapi_session *s = uapi_session_new(u);
	ssize_t n;
	bool keep;

	if (!s) {
		uapi_reply_errno(out, -ENOMEM);
		return false;
	}
	for (;;) {
		n = uapi_session_feed(s, in, len, out);
		if (n < 0)
			break;
		in += n;
		len -= n;
		while (!uapi_session_run(s, now, out, SIZE_MAX))
			;
		if (!n)
			break;
	}
	keep = n >= 0 && uapi_session_keep(s);
	if (uapi_session_end(s, len, out))
		keep = false;
	uapi_session_free(s);
	return keep;
}
