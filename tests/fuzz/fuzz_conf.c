// SPDX-License-Identifier: MIT
/*
 * libFuzzer target: configuration files (src/daemon/conf.c). Any input either
 * parses, with every count within its limit, a line number within the file
 * and every string terminated, or is refused with a line number within the
 * file (0 never: a parse error always has a line) and nothing allocated
 * (LeakSanitizer). Nothing is resolved: names are checked for form only.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "conf.h"

static unsigned int count_lines(const uint8_t *data, size_t size)
{
	unsigned int n = 1;

	for (size_t i = 0; i < size; i++)
		n += data[i] == '\n';
	return n;
}

static void check_peer(const struct conf_peer *p, unsigned int lines)
{
	if (!p->has_public_key || p->line == 0 || p->line > lines)
		abort();
	if (p->n_paths > BRAID_MAX_PATHS || p->n_extra > BRAID_MAX_PATHS)
		abort();
	if (p->has_endpoint && (p->endpoint_line == 0 || p->endpoint_line > lines ||
				!memchr(p->endpoint, '\0', sizeof(p->endpoint))))
		abort();
	for (size_t i = 0; i < p->n_allowed_ips; i++)
		if (p->allowed_ips[i].len > (p->allowed_ips[i].family == AF_INET ? 32 : 128))
			abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int ready;
	unsigned int lines = count_lines(data, size);
	struct conf c;
	struct conf_error err;

	if (!ready)
		ready = braid_init() ? 1 : (abort(), 0);
	if (conf_parse(&c, (const char *)data, size, &err)) {
		if (err.line == 0 || err.line > lines || !memchr(err.msg, '\0', sizeof(err.msg)))
			abort();
		return 0;
	}
	for (size_t i = 0; i < c.n_peers; i++)
		check_peer(&c.peers[i], lines);
	for (size_t i = 0; i < c.dns.n + c.dns_search.n; i++)
		if (!(i < c.dns.n ? c.dns.item[i] : c.dns_search.item[i - c.dns.n])[0])
			abort();
	if (c.has_mtu && (c.mtu < 68 || c.mtu > 65535))
		abort();
	conf_free(&c);
	return 0;
}
