/* SPDX-License-Identifier: MIT */
/*
 * From a configuration file to the daemon and back: the UAPI set request
 * that `wg setconf` would send for the file's wg keys (replace everything:
 * private key, port and fwmark reset when absent, every peer replaced), plus
 * braid's multipath keys; and SaveConfig's file, written from the running
 * device as wg-quick writes it.
 *
 * Endpoints given by name are resolved here (getaddrinfo, with wg's retries
 * for transient failures: WG_ENDPOINT_RESOLUTION_RETRIES, default 15, or
 * "infinity"), and the name goes to the daemon as braid_endpoint_name, so
 * that it resolves it again when handshakes keep failing.
 */
#ifndef BRAID_SETCONF_H
#define BRAID_SETCONF_H

#include "conf.h"
#include "devinfo.h"
#include "uapi_client.h"

/* Resolve host:port to a numeric endpoint "198.51.100.1:51820" or "[2001:db8::1]:51820". */
int setconf_resolve(const char *endpoint, char *out, size_t len, char *why, size_t why_len);

/* Does the host part of endpoint need resolving (is it not an IP address)? */
bool setconf_is_name(const char *endpoint);

/* The set request for c into r: 0, or -EINVAL with *err naming the line that failed. */
int setconf_request(const struct conf *c, struct uapi_request *r, struct conf_error *err);

/*
 * SaveConfig: write c's file anew from the running device d, the interface's
 * addresses and MTU (mtu 0: keep none), and c's own wg-quick keys. 0 or -errno.
 */
int setconf_save(const struct conf *c, const struct dev_info *d, const struct prefix *addrs,
		 unsigned int n_addrs, unsigned int mtu);

#endif
