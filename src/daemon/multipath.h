/* SPDX-License-Identifier: MIT */
/*
 * Multipath configuration: what the UAPI's braid_path and braid_endpoint
 * keys asked for each peer, turned into libbraid's concrete paths whenever
 * the request or the host changes.
 *
 * A path spec names a local uplink by interface name, by local address, or
 * "auto" (every interface with a global address and a route to the peer,
 * minus some); each is paired with every remote endpoint of the peer of its
 * family (the peer's endpoint, then each braid_endpoint), or with the one
 * its endpoint= gives, at most BRAID_MAX_PATHS in all. A path is usable
 * when its interface is up with a carrier, holds a global address of the
 * remote's family (the source the path sends from) and has a route to the
 * remote leaving by it (for the daemon's fwmark). A spec for an interface
 * that does not exist yet makes a path that is down until it appears.
 */
#ifndef BRAID_MULTIPATH_H
#define BRAID_MULTIPATH_H

#include <braid.h>
#include <net/if.h>
#include <stdbool.h>
#include <stdint.h>

#include "uplinks.h"

enum { MP_EXCLUDE_MAX = 8 };

struct mp_spec {
	char name[IF_NAMESIZE];		/* interface name; empty when by address or auto */
	bool is_auto;
	int family;			/* by address: AF_INET or AF_INET6; else 0 */
	uint8_t local[16];
	char exclude[MP_EXCLUDE_MAX][IF_NAMESIZE];	/* auto only */
	unsigned int n_exclude;
	uint8_t prio;
	uint64_t rate_cap_bps;		/* rate=N (Mbit/s): aggregation's limit; 0: none */
	bool has_endpoint;
	struct braid_endpoint endpoint;
};

struct mp_peer {
	uint8_t public_key[BRAID_KEY_LEN];
	struct mp_spec specs[BRAID_MAX_PATHS];
	unsigned int n_specs;
	struct braid_endpoint extra[BRAID_MAX_PATHS];	/* braid_endpoint= lines */
	unsigned int n_extra;
};

struct mp_config {
	struct mp_peer *peers;
	size_t n, cap;
	/* peers by public key: open addressing, each slot an index into peers plus one (0: empty) */
	size_t *slots;
	size_t mask;
	const struct uplinks *uplinks;	/* the host's, kept by the event loop */
	int route_fd;			/* a rtnetlink request socket; -1: no route checks */
	uint32_t fwmark;		/* the one the UDP sockets carry: route checks use it */
	int tun_ifindex;		/* never an uplink */
};

/*
 * Parse "wlan0[,prio=N][,endpoint=IP:PORT][,rate=MBIT]", "198.51.100.2[,...]"
 * or "auto[,exclude=a+b][,prio=N][,rate=MBIT]".
 */
bool mp_spec_parse(struct mp_spec *spec, const char *value, size_t len);
/* The spec as get shows it back. */
void mp_spec_format(const struct mp_spec *spec, char *buf, size_t len);

struct mp_peer *mp_config_find(const struct mp_config *c, const uint8_t key[BRAID_KEY_LEN]);
/* The peer's entry, made empty if new; NULL when out of memory. */
struct mp_peer *mp_config_get(struct mp_config *c, const uint8_t key[BRAID_KEY_LEN]);
void mp_config_forget(struct mp_config *c, const uint8_t key[BRAID_KEY_LEN]);
/* Forget every peer's entry (replace_peers). */
void mp_config_clear(struct mp_config *c);
void mp_config_free(struct mp_config *c);

/* Turn peer's specs into libbraid paths now: 0 or -errno from braid_peer_set_paths(). */
int mp_config_apply(struct mp_config *c, struct braid_peer *peer, uint64_t now);
/* The host's uplinks or routes changed: every configured peer again. */
void mp_config_apply_all(struct mp_config *c, struct braid_device *dev, uint64_t now);

#endif
