/* SPDX-License-Identifier: MIT */
/*
 * A device as the UAPI's get reply describes it: the standard keys, and
 * braid's read-only extensions (braid_multipath, braid_peer_multipath,
 * braid_path lines, braid_endpoint_name, the device counters). Unknown keys,
 * and unknown fields of a braid_path line, are skipped: the daemon may add
 * more later.
 */
#ifndef BRAID_DEVINFO_H
#define BRAID_DEVINFO_H

#include <braid.h>
#include <stdbool.h>
#include <stdint.h>

#include "hostnet.h"

struct dev_path {
	char name[BRAID_PATH_NAME_LEN];
	char local[64], remote[64], state[16];
	uint64_t rtt_us, tx_bytes, rx_bytes;
	bool has_last_rx;
	uint64_t last_rx_ms;
	uint64_t rate_bps;			/* aggregation's estimate, 0 when none */
	int64_t owd_us;				/* one-way delay over the fastest path */
};

struct dev_peer {
	uint8_t public_key[BRAID_KEY_LEN];
	bool has_preshared_key;
	uint8_t preshared_key[BRAID_KEY_LEN];
	char endpoint[64];			/* "" when none */
	char endpoint_name[300];		/* braid_endpoint_name, "" when none */
	uint64_t handshake_sec, handshake_nsec, rx_bytes, tx_bytes;
	uint16_t keepalive;
	struct prefix *allowed_ips;
	size_t n_allowed_ips;
	char multipath[16];			/* "" when the daemon did not say */
	char far_end[16];
	struct dev_path paths[BRAID_MAX_PATHS];
	unsigned int n_paths;
	char reorder[160];			/* braid_reorder, "" when none */
};

struct dev_counter {
	char name[64];				/* without the braid_ prefix */
	uint64_t value;
};

struct dev_info {
	bool has_private_key;
	uint8_t private_key[BRAID_KEY_LEN];
	uint8_t public_key[BRAID_KEY_LEN];
	uint16_t listen_port;
	uint32_t fwmark;
	struct dev_counter *counters;
	size_t n_counters;
	struct dev_peer *peers;
	size_t n_peers;
};

/* Parse a get reply (it is not modified). 0, the reply's errno (< 0), or -ENOMEM. */
int devinfo_parse(struct dev_info *d, const char *reply);
/* Ask ifname's daemon and parse its answer: 0 or -errno. */
int devinfo_get(struct dev_info *d, const char *ifname);
void devinfo_free(struct dev_info *d);

/* A device counter's value, 0 when absent (the daemon lists only those above 0). */
uint64_t devinfo_counter(const struct dev_info *d, const char *name);
/* "198.51.100.0/24" */
void devinfo_format_prefix(char *buf, size_t len, const struct prefix *p);

#endif
