// SPDX-License-Identifier: MIT
/*
 * The braid command's client side: braid up, down, show and set, each a
 * client of a daemon's UAPI socket (up also starts the daemon). wg refuses
 * keys it does not know in `set` and hides them in `show`, so braid's own
 * (multipath, endpoint names, counters) go through here:
 *
 *   braid up wg0                (up.c: wg-quick's job, natively)
 *   braid set wg0 peer KEY multipath failover path wlan0 path wwan0,prio=1
 *   braid show [wg0] [dump|metrics]   (show.c)
 *   braid down wg0
 *
 * A set is one UAPI operation: all of it is applied, or, with errno=N,
 * none of it.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "setconf.h"
#include "show.h"
#include "uapi_client.h"
#include "up.h"

static void usage_set(FILE *f)
{
	fprintf(f, "Usage: braid set INTERFACE peer PUBLIC-KEY [endpoint HOST:PORT]\n"
		   "                 [multipath MODE] [replace-paths] [path SPEC]...\n"
		   "                 [extra-endpoint IP:PORT]... [peer PUBLIC-KEY ...]\n"
		   "MODE: off, failover, redundant, aggregate or aggregate-flow.\n"
		   "SPEC: an interface name or a local address, or auto, with options after commas:\n"
		   "      prio=0..255 (lower is preferred), endpoint=IP:PORT (this path's remote),\n"
		   "      rate=MBIT (aggregation sends no faster), exclude=IF1+IF2 (auto only).\n"
		   "An endpoint given by name is resolved now, and again by the daemon when\n"
		   "handshakes with that peer keep failing.\n"
		   "Example (a wg-quick PostUp): braid set %%i peer KEY multipath failover \\\n"
		   "      path wlan0 path wwan0,prio=1\n");
}

/* endpoint HOST:PORT: the address now, and the name for the daemon to resolve again. */
static bool add_endpoint(struct uapi_request *r, const char *value, const char **why)
{
	static char message[256];
	char numeric[80], reason[128];

	if (setconf_resolve(value, numeric, sizeof(numeric), reason, sizeof(reason))) {
		snprintf(message, sizeof(message), "cannot resolve `%.64s': %.120s", value, reason);
		*why = message;
		return false;
	}
	uapi_request_add(r, "endpoint", "%s", numeric);
	if (setconf_is_name(value))
		uapi_request_add(r, "braid_endpoint_name", "%s", value);
	return true;
}

/* The set request for argv (after "braid set IFNAME"), or a message in *why. */
static bool build_set(int argc, char *argv[], struct uapi_request *r, const char **why)
{
	uint8_t key[BRAID_KEY_LEN];
	char hex[2 * BRAID_KEY_LEN + 1];
	bool in_peer = false;

	*why = "invalid arguments";
	uapi_request_line(r, "set=1");
	for (int i = 0; i < argc; i++) {
		const char *word = argv[i], *value = i + 1 < argc ? argv[i + 1] : NULL;

		if (!strcmp(word, "replace-paths")) {
			if (!in_peer)
				return false;
			uapi_request_add(r, "braid_replace_paths", "true");
			continue;
		}
		if (!value)
			return false;
		i++;
		if (!strcmp(word, "peer")) {
			if (!braid_key_from_base64(key, value)) {
				*why = "invalid public key";
				return false;
			}
			braid_key_to_hex(hex, key);
			uapi_request_add(r, "public_key", "%s", hex);
			in_peer = true;
		} else if (in_peer && !strcmp(word, "endpoint")) {
			if (!add_endpoint(r, value, why))
				return false;
		} else if (in_peer && !strcmp(word, "multipath")) {
			uapi_request_add(r, "braid_multipath", "%s", value);
		} else if (in_peer && !strcmp(word, "path")) {
			uapi_request_add(r, "braid_path", "%s", value);
		} else if (in_peer && !strcmp(word, "extra-endpoint")) {
			uapi_request_add(r, "braid_endpoint", "%s", value);
		} else {
			return false;
		}
	}
	uapi_request_line(r, "");
	if (r->failed)
		*why = "out of memory";
	return in_peer && !r->failed;
}

static int cmd_set(int argc, char *argv[])
{
	struct uapi_request r = { 0 };
	const char *why;
	char *reply;
	int err;

	if (argc == 1 && (!strcmp(argv[0], "-h") || !strcmp(argv[0], "--help"))) {
		usage_set(stdout);
		return 0;
	}
	if (argc < 2) {
		usage_set(stderr);
		return 1;
	}
	if (!build_set(argc - 1, argv + 1, &r, &why)) {
		fprintf(stderr, "braid set: %s\n", why);
		if (!strcmp(why, "invalid arguments"))
			usage_set(stderr);
		uapi_request_free(&r);
		return 1;
	}
	reply = uapi_client_transact(argv[0], r.buf);
	uapi_request_free(&r);
	if (!reply) {
		fprintf(stderr, "braid set: %s: cannot reach the daemon: %s\n", argv[0],
			strerror(errno));
		return 1;
	}
	err = uapi_client_errno(reply);
	free(reply);
	if (err) {
		fprintf(stderr, "braid set: %s: the daemon refused the request: %s\n", argv[0],
			strerror(-err));
		return 1;
	}
	return 0;
}

static const struct {
	const char *name;
	int (*run)(int argc, char *argv[]);
} commands[] = {
	{ "up", up_main },
	{ "down", down_main },
	{ "show", show_main },
	{ "set", cmd_set },
};

int cli_main(int argc, char *argv[])
{
	/* Keys are derived and encoded with libbraid's crypto. */
	if (!braid_init()) {
		fprintf(stderr, "braid: libcrypto lacks an algorithm WireGuard needs\n");
		return 1;
	}
	for (size_t i = 0; i < sizeof(commands) / sizeof(*commands); i++)
		if (!strcmp(argv[0], commands[i].name))
			return commands[i].run(argc - 1, argv + 1);
	return -1;
}

bool cli_is_command(const char *word)
{
	for (size_t i = 0; i < sizeof(commands) / sizeof(*commands); i++)
		if (!strcmp(word, commands[i].name))
			return true;
	return false;
}
