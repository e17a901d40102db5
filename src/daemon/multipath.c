// SPDX-License-Identifier: MIT
/*
 * Multipath configuration (see multipath.h): parse specs, keep them per
 * peer, and expand them into libbraid paths against the host's uplinks.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "multipath.h"
#include "uapi.h"

/* ---- Specs ---- */

static bool copy_token(char *out, size_t out_len, const char *s, size_t len)
{
	if (!len || len >= out_len || memchr(s, '\0', len))
		return false;
	memcpy(out, s, len);
	out[len] = '\0';
	return true;
}

static bool parse_prio(const char *s, size_t len, uint8_t *prio)
{
	unsigned int n = 0;

	if (!len || len > 3)
		return false;
	for (size_t i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		n = n * 10 + (unsigned int)(s[i] - '0');
	}
	if (n > UINT8_MAX)
		return false;
	*prio = (uint8_t)n;
	return true;
}

/* "rate=N": megabits per second, 1 to 100000. */
static bool parse_rate(const char *s, size_t len, uint64_t *bps)
{
	uint64_t n = 0;

	if (!len || len > 6)
		return false;
	for (size_t i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		n = n * 10 + (uint64_t)(s[i] - '0');
	}
	if (!n || n > 100000)
		return false;
	*bps = n * 1000000;
	return true;
}

/* "a+b+c": interface names to leave out of auto. */
static bool parse_exclude(struct mp_spec *spec, const char *s, size_t len)
{
	const char *end = s + len, *plus;

	while (s < end) {
		plus = memchr(s, '+', end - s);
		if (!plus)
			plus = end;
		if (spec->n_exclude == MP_EXCLUDE_MAX ||
		    !copy_token(spec->exclude[spec->n_exclude++], IF_NAMESIZE, s, plus - s))
			return false;
		s = plus + 1;
	}
	return spec->n_exclude > 0;
}

static bool parse_local(struct mp_spec *spec, const char *s, size_t len)
{
	char text[INET6_ADDRSTRLEN];

	if (len == 4 && !memcmp(s, "auto", 4)) {
		spec->is_auto = true;
		return true;
	}
	if (copy_token(text, sizeof(text), s, len)) {
		if (inet_pton(AF_INET, text, spec->local) == 1) {
			spec->family = AF_INET;
			return true;
		}
		if (inet_pton(AF_INET6, text, spec->local) == 1) {
			spec->family = AF_INET6;
			return true;
		}
	}
	/* An interface name: what the kernel accepts (dev_valid_name). */
	if (!copy_token(spec->name, sizeof(spec->name), s, len) || !strcmp(spec->name, ".") ||
	    !strcmp(spec->name, ".."))
		return false;
	for (size_t i = 0; i < len; i++)
		if (s[i] == '/' || s[i] == ':' || s[i] == ',' || s[i] == '=' || s[i] <= ' ')
			return false;
	return true;
}

bool mp_spec_parse(struct mp_spec *spec, const char *value, size_t len)
{
	const char *end = value + len, *comma, *eq;
	bool first = true;

	memset(spec, 0, sizeof(*spec));
	for (const char *s = value; s <= end; s = comma + 1) {
		comma = memchr(s, ',', end - s);
		if (!comma)
			comma = end;
		if (first) {
			if (!parse_local(spec, s, comma - s))
				return false;
			first = false;
			continue;
		}
		eq = memchr(s, '=', comma - s);
		if (!eq)
			return false;
		if (eq - s == 4 && !memcmp(s, "prio", 4)) {
			if (!parse_prio(eq + 1, comma - eq - 1, &spec->prio))
				return false;
		} else if (eq - s == 8 && !memcmp(s, "endpoint", 8) && !spec->is_auto) {
			if (!uapi_parse_endpoint(&spec->endpoint, eq + 1, comma - eq - 1))
				return false;
			spec->has_endpoint = true;
		} else if (eq - s == 4 && !memcmp(s, "rate", 4)) {
			if (!parse_rate(eq + 1, comma - eq - 1, &spec->rate_cap_bps))
				return false;
		} else if (eq - s == 7 && !memcmp(s, "exclude", 7) && spec->is_auto) {
			if (!parse_exclude(spec, eq + 1, comma - eq - 1))
				return false;
		} else {
			return false;
		}
		if (comma == end)
			break;
	}
	return !first;
}

void mp_spec_format(const struct mp_spec *spec, char *buf, size_t len)
{
	char ip[INET6_ADDRSTRLEN] = "";

	if (spec->is_auto)
		snprintf(buf, len, "auto");
	else if (spec->family)
		snprintf(buf, len, "%s", inet_ntop(spec->family, spec->local, ip, sizeof(ip)));
	else
		snprintf(buf, len, "%s", spec->name);
}

/* ---- Per-peer store ---- */

/*
 * The store is an array (apply_all walks it) with an index by public key, so
 * that a set naming many multipath peers costs a lookup each, not a scan of
 * the store each: linear probing at most half full, removal by shifting back.
 */
static size_t home(const struct mp_config *c, const uint8_t key[BRAID_KEY_LEN])
{
	uint32_t h;

	memcpy(&h, key, sizeof(h));
	return (h * 0x9e3779b1u) & c->mask;
}

/* The slot of key: its own, or the empty one where it would go. */
static size_t slot_of(const struct mp_config *c, const uint8_t key[BRAID_KEY_LEN])
{
	size_t i = home(c, key);

	while (c->slots[i] && memcmp(c->peers[c->slots[i] - 1].public_key, key, BRAID_KEY_LEN))
		i = (i + 1) & c->mask;
	return i;
}

struct mp_peer *mp_config_find(const struct mp_config *c, const uint8_t key[BRAID_KEY_LEN])
{
	size_t i;

	if (!c->slots)
		return NULL;
	i = slot_of(c, key);
	return c->slots[i] ? &c->peers[c->slots[i] - 1] : NULL;
}

/* Room for one more entry, in the array and in the index. */
static bool reserve(struct mp_config *c)
{
	size_t cap = c->cap ? c->cap * 2 : 4, slots = 2 * cap;
	struct mp_peer *peers;
	size_t *index;

	if (c->n < c->cap)
		return true;
	peers = reallocarray(c->peers, cap, sizeof(*peers));
	if (!peers)
		return false;
	c->peers = peers;
	index = calloc(slots, sizeof(*index));
	if (!index)
		return false;
	c->cap = cap;
	free(c->slots);
	c->slots = index;
	c->mask = slots - 1;
	for (size_t i = 0; i < c->n; i++)
		c->slots[slot_of(c, c->peers[i].public_key)] = i + 1;
	return true;
}

struct mp_peer *mp_config_get(struct mp_config *c, const uint8_t key[BRAID_KEY_LEN])
{
	struct mp_peer *p = mp_config_find(c, key);

	if (p)
		return p;
	if (!reserve(c))
		return NULL;
	p = &c->peers[c->n++];
	memset(p, 0, sizeof(*p));
	memcpy(p->public_key, key, BRAID_KEY_LEN);
	c->slots[slot_of(c, key)] = c->n;
	return p;
}

/* Whether slot j, of an entry whose home is h, lies cyclically in (hole, j]: it stays. */
static bool stays(size_t hole, size_t h, size_t j)
{
	return hole <= j ? hole < h && h <= j : hole < h || h <= j;
}

void mp_config_forget(struct mp_config *c, const uint8_t key[BRAID_KEY_LEN])
{
	size_t i, j, at;

	if (!mp_config_find(c, key))
		return;
	i = slot_of(c, key);
	at = c->slots[i] - 1;
	for (j = (i + 1) & c->mask; c->slots[j]; j = (j + 1) & c->mask) {
		if (stays(i, home(c, c->peers[c->slots[j] - 1].public_key), j))
			continue;
		c->slots[i] = c->slots[j];
		i = j;
	}
	c->slots[i] = 0;
	/* The last entry fills the gap in the array; its slot follows it. */
	if (at != --c->n) {
		c->slots[slot_of(c, c->peers[c->n].public_key)] = at + 1;
		c->peers[at] = c->peers[c->n];
	}
}

void mp_config_clear(struct mp_config *c)
{
	if (c->slots)
		memset(c->slots, 0, (c->mask + 1) * sizeof(*c->slots));
	c->n = 0;
}

void mp_config_free(struct mp_config *c)
{
	free(c->peers);
	free(c->slots);
	c->peers = NULL;
	c->slots = NULL;
	c->n = c->cap = c->mask = 0;
}

/* ---- Expansion ---- */

struct expansion {
	struct braid_path_config path[BRAID_MAX_PATHS];
	unsigned int n;
};

static bool is_excluded(const struct mp_spec *spec, const char *name)
{
	for (unsigned int i = 0; i < spec->n_exclude; i++)
		if (!strcmp(spec->exclude[i], name))
			return true;
	return false;
}

/* The local side of one uplink towards remote: interface and source address, and whether it works. */
static void local_side(struct mp_config *c, const struct uplink *l,
		       const struct braid_endpoint *remote, struct braid_path_config *p)
{
	int family = remote->addr.sa.sa_family;
	const struct uplink_addr *a = l ? uplink_global_addr(l, family) : NULL;

	int route;

	p->is_usable = false;
	if (!l)
		return;
	p->endpoint.src_ifindex = l->ifindex;
	p->endpoint.addr = remote->addr;
	if (!a)
		return;
	memcpy(family == AF_INET ? (void *)&p->endpoint.src.in4 : (void *)&p->endpoint.src.in6,
	       a->addr, family == AF_INET ? 4 : 16);
	if (!l->is_up)
		return;
	/* Without a request socket (tests), a carrier and an address are enough. */
	route = c->route_fd < 0 ? 1 : uplinks_route_via(c->route_fd, l->ifindex, &p->endpoint,
							 c->fwmark);
	if (route < 0)
		log_verbose("multipath: cannot check the route by %s: %s", l->name, strerror(-route));
	p->is_usable = route == 1;
}

static void add_path(struct expansion *e, const char *name, const struct mp_spec *spec,
		     const struct braid_endpoint *remote, const struct braid_path_config *local)
{
	struct braid_path_config *p;

	if (e->n == BRAID_MAX_PATHS)
		return;
	p = &e->path[e->n++];
	*p = *local;
	p->endpoint.addr = remote->addr;
	snprintf(p->name, sizeof(p->name), "%s", name);
	p->prio = spec ? spec->prio : 0;
	p->rate_cap_bps = spec ? spec->rate_cap_bps : 0;
}

static void expand_named(struct mp_config *c, const struct mp_spec *spec,
			 const struct braid_endpoint *remote, struct expansion *e)
{
	const struct uplink *l;
	struct braid_path_config local = { 0 };
	char name[BRAID_PATH_NAME_LEN];

	if (spec->family) {
		if (spec->family != remote->addr.sa.sa_family)
			return;
		l = uplinks_by_addr(c->uplinks, spec->family, spec->local);
	} else {
		l = uplinks_by_name(c->uplinks, spec->name);
	}
	local_side(c, l, remote, &local);
	/* A local address is the source, whatever else its interface holds. */
	if (spec->family == AF_INET)
		memcpy(&local.endpoint.src.in4, spec->local, 4);
	else if (spec->family == AF_INET6)
		memcpy(&local.endpoint.src.in6, spec->local, 16);
	mp_spec_format(spec, name, sizeof(name));
	add_path(e, name, spec, remote, &local);
}

static void expand_auto(struct mp_config *c, const struct mp_spec *spec,
			const struct braid_endpoint *remote, struct expansion *e)
{
	const struct uplink *l;
	struct braid_path_config local;

	for (unsigned int i = 0; i < c->uplinks->n; i++) {
		l = &c->uplinks->link[i];
		if (l->ifindex == c->tun_ifindex || !strcmp(l->name, "lo") ||
		    is_excluded(spec, l->name))
			continue;
		memset(&local, 0, sizeof(local));
		local_side(c, l, remote, &local);
		/* auto takes what works now; it is expanded again when that changes. */
		if (local.is_usable)
			add_path(e, l->name, spec, remote, &local);
	}
}

/* The remotes a spec pairs with: its own endpoint, else the peer's and each extra one. */
static unsigned int remotes_of(const struct mp_peer *mp, const struct mp_spec *spec,
			       const struct braid_endpoint *peer_ep,
			       struct braid_endpoint out[BRAID_MAX_PATHS + 1])
{
	unsigned int n = 0;

	if (spec->has_endpoint) {
		out[n++] = spec->endpoint;
		return n;
	}
	if (peer_ep)
		out[n++] = *peer_ep;
	for (unsigned int i = 0; i < mp->n_extra; i++)
		out[n++] = mp->extra[i];
	return n;
}

int mp_config_apply(struct mp_config *c, struct braid_peer *peer, uint64_t now)
{
	struct braid_endpoint remotes[BRAID_MAX_PATHS + 1], ep;
	const struct braid_endpoint *peer_ep = NULL;
	uint8_t key[BRAID_KEY_LEN];
	struct expansion e = { .n = 0 };
	const struct mp_peer *mp;
	unsigned int n;

	braid_peer_get_public_key(peer, key);
	mp = mp_config_find(c, key);
	if (!mp)
		return 0;
	if (braid_peer_get_configured_endpoint(peer, &ep))
		peer_ep = &ep;
	for (unsigned int i = 0; i < mp->n_specs; i++) {
		n = remotes_of(mp, &mp->specs[i], peer_ep, remotes);
		for (unsigned int r = 0; r < n; r++) {
			if (mp->specs[i].is_auto)
				expand_auto(c, &mp->specs[i], &remotes[r], &e);
			else
				expand_named(c, &mp->specs[i], &remotes[r], &e);
		}
	}
	/* Extra endpoints without a spec of our own: by whatever route the host picks. */
	if (!mp->n_specs) {
		for (unsigned int r = 0; r < mp->n_extra + (peer_ep != NULL); r++) {
			const struct braid_endpoint *remote = r < (peer_ep != NULL) ? peer_ep :
							      &mp->extra[r - (peer_ep != NULL)];
			struct braid_path_config local = { .is_usable = true };

			add_path(&e, "", NULL, remote, &local);
		}
	}
	return braid_peer_set_paths(peer, now, e.path, e.n);
}

void mp_config_apply_all(struct mp_config *c, struct braid_device *dev, uint64_t now)
{
	struct braid_peer *peer;

	for (size_t i = 0; i < c->n; i++) {
		peer = braid_device_find_peer(dev, c->peers[i].public_key);
		if (peer)
			mp_config_apply(c, peer, now);
	}
}
