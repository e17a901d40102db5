/* SPDX-License-Identifier: MIT */
/*
 * Configuration files for braid up and down: wg-quick's format, read the way
 * wg-quick and wg(8) read it, plus braid's multipath keys.
 *
 *   [Interface]  Address, DNS, MTU, Table, PreUp, PostUp, PreDown, PostDown,
 *                SaveConfig (wg-quick's keys) and PrivateKey, ListenPort,
 *                FwMark (wg's)
 *   [Peer]       PublicKey, PresharedKey, Endpoint, AllowedIPs,
 *                PersistentKeepalive (wg's) and Multipath, Path,
 *                MultipathEndpoint (braid's; braid.conf(5))
 *
 * As in wg-quick: keys are case-insensitive, '#' starts a comment anywhere
 * on a line (in a hook too), wg-quick's keys keep the spaces inside their
 * value, wg's lose every space of the line. Any mistake is reported with
 * the number of its line, and the file is refused whole: nothing is applied
 * from a file that does not parse. Names (Endpoint hosts, Table names) are
 * only checked for form here; resolving them is the caller's.
 */
#ifndef BRAID_CONF_H
#define BRAID_CONF_H

#include <braid.h>
#include <net/if.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hostnet.h"

enum {
	CONF_ENDPOINT_LEN = 300,	/* a DNS name (253), brackets, a port */
	CONF_PATH_LEN = 128,
	CONF_MSG_LEN = 256,
};

enum conf_table { CONF_TABLE_AUTO, CONF_TABLE_OFF, CONF_TABLE_SET };

/* Where a mistake is: line 0 when it concerns the file as a whole. */
struct conf_error {
	unsigned int line;
	char msg[CONF_MSG_LEN];
};

struct conf_peer {
	unsigned int line;			/* of its [Peer] */
	bool has_public_key;
	uint8_t public_key[BRAID_KEY_LEN];
	bool has_preshared_key;
	uint8_t preshared_key[BRAID_KEY_LEN];
	bool has_endpoint;
	char endpoint[CONF_ENDPOINT_LEN];	/* as written: host:port or [v6]:port */
	unsigned int endpoint_line;
	bool has_keepalive;
	uint16_t keepalive;
	struct prefix *allowed_ips;
	size_t n_allowed_ips;
	/* braid's multipath keys */
	bool has_multipath;
	enum braid_multipath multipath;
	char paths[BRAID_MAX_PATHS][CONF_PATH_LEN];
	unsigned int n_paths;
	char extra_endpoints[BRAID_MAX_PATHS][CONF_ENDPOINT_LEN];
	unsigned int extra_lines[BRAID_MAX_PATHS];
	unsigned int n_extra;
};

/* A list of strings, each its own allocation. */
struct conf_list {
	char **item;
	size_t n;
};

struct conf {
	char ifname[IF_NAMESIZE];
	char *path;				/* the file, when read from one */
	/* wg's [Interface] keys */
	bool has_private_key;
	uint8_t private_key[BRAID_KEY_LEN];
	bool has_listen_port;
	uint16_t listen_port;
	bool has_fwmark;
	uint32_t fwmark;
	/* wg-quick's */
	struct prefix *addresses;
	size_t n_addresses;
	bool has_mtu;
	unsigned int mtu;
	unsigned int mtu_line;
	struct conf_list dns, dns_search;
	enum conf_table table;
	char table_name[64];			/* CONF_TABLE_SET: a number or a name */
	unsigned int table_line;
	struct conf_list pre_up, post_up, pre_down, post_down;
	bool save_config;
	struct conf_peer *peers;
	size_t n_peers;
};

/* Parse text[0, len) into c (zeroed first). 0, or -EINVAL with *err filled. */
int conf_parse(struct conf *c, const char *text, size_t len, struct conf_error *err);

/*
 * Find and read the configuration for arg, as wg-quick does: a bare
 * interface name means /etc/braid/NAME.conf, else /etc/wireguard/NAME.conf;
 * anything else is a path whose file name is the interface name and ".conf".
 * 0, -ENOENT (no such file: *err says which), or -EINVAL (*err says why).
 */
int conf_load(struct conf *c, const char *arg, struct conf_error *err);

/* Is name a valid interface name for a configuration file ([A-Za-z0-9_=+.-]{1,15})? */
bool conf_is_ifname(const char *name);

void conf_free(struct conf *c);

/* Split "host:port" or "[v6]:port" into host and port (0, or -EINVAL). */
int conf_split_endpoint(const char *endpoint, char *host, size_t host_len, char *port,
			size_t port_len);

/* The name of a multipath mode, as the UAPI spells it. */
const char *conf_multipath_name(enum braid_multipath mode);

#endif
