// SPDX-License-Identifier: MIT
/*
 * braid [-f|--foreground] IFNAME: the command line, as wireguard-go takes
 * it so that wg-quick can run either (WG_QUICK_USERSPACE_IMPLEMENTATION).
 * The sandbox has switches in the environment too, since wg-quick passes
 * its environment on but no options. Everything else lives in daemon.c.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "daemon.h"
#include "sandbox.h"

static void usage(FILE *f, const char *prog)
{
	fprintf(f, "Usage: %s [-f/--foreground] [--user NAME] [--no-sandbox] INTERFACE-NAME\n"
		   "       %s set INTERFACE peer KEY [multipath MODE] [path SPEC]... (braid set -h)\n"
		   "       %s show [INTERFACE]\n"
		   "\n"
		   "Once the interface and its sockets are open, braid runs as an unprivileged\n"
		   "user with only CAP_NET_ADMIN and CAP_NET_BIND_SERVICE, no_new_privs, and a\n"
		   "system-call filter (seccomp) that kills it if it strays.\n"
		   "\n"
		   "Options:\n"
		   "  -f, --foreground             do not daemonize\n"
		   "  --user NAME                  the user to run as (default %s when started\n"
		   "                               as root; otherwise the caller's)\n"
		   "  --no-sandbox                 keep every privilege; no system-call filter\n"
		   "\n"
		   "Environment:\n"
		   "  WG_PROCESS_FOREGROUND=1      stay in the foreground (like -f)\n"
		   "  LOG_LEVEL=error|verbose|silent  how much to log on stderr (default error)\n"
		   "  BRAID_USER=NAME              like --user\n"
		   "  BRAID_SANDBOX=0              like --no-sandbox\n",
		prog, prog, prog, SANDBOX_DEFAULT_USER);
}

/* Unset or "1": on; "0": off; anything else is a mistake, and the safe side is on. */
static bool sandbox_from_env(const char *prog)
{
	const char *v = getenv("BRAID_SANDBOX");

	if (!v || !*v || !strcmp(v, "1"))
		return true;
	if (!strcmp(v, "0"))
		return false;
	fprintf(stderr, "%s: unknown BRAID_SANDBOX \"%s\"; using \"1\"\n", prog, v);
	return true;
}

int main(int argc, char *argv[])
{
	const char *fg = getenv("WG_PROCESS_FOREGROUND"), *level = getenv("LOG_LEVEL");
	struct daemon_options opts = {
		.foreground = fg && !strcmp(fg, "1"),
		.sandbox = sandbox_from_env(argv[0]),
		.user = getenv("BRAID_USER"),
	};

	if (argc > 1 && cli_is_command(argv[1]))
		return cli_main(argc - 1, argv + 1);
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--version")) {
			printf("braid v%s\nUserspace WireGuard daemon for Linux.\n", BRAID_VERSION);
			return 0;
		} else if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
			usage(stdout, argv[0]);
			return 0;
		} else if (!strcmp(argv[i], "-f") || !strcmp(argv[i], "--foreground")) {
			opts.foreground = true;
		} else if (!strcmp(argv[i], "--no-sandbox")) {
			opts.sandbox = false;
		} else if (!strcmp(argv[i], "--user") && i + 1 < argc) {
			opts.user = argv[++i];
		} else if (argv[i][0] == '-' || opts.ifname) {
			usage(stderr, argv[0]);
			return 1;
		} else {
			opts.ifname = argv[i];
		}
	}
	if (!opts.ifname) {
		usage(stderr, argv[0]);
		return 1;
	}
	if (opts.user && !*opts.user)
		opts.user = NULL;
	if (!log_parse_level(level, &opts.log_level)) {
		fprintf(stderr, "%s: unknown LOG_LEVEL \"%s\"; using \"error\"\n", argv[0], level);
		opts.log_level = LOG_ERROR;
	}
	return daemon_run(&opts);
}
