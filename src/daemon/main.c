// SPDX-License-Identifier: MIT
/*
 * braid [-f|--foreground] IFNAME: the command line, as wireguard-go takes
 * it so that wg-quick can run either (WG_QUICK_USERSPACE_IMPLEMENTATION).
 * Everything else lives in daemon.c.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon.h"

static void usage(FILE *f, const char *prog)
{
	fprintf(f, "Usage: %s [-f/--foreground] INTERFACE-NAME\n"
		   "\n"
		   "Environment:\n"
		   "  WG_PROCESS_FOREGROUND=1      stay in the foreground (like -f)\n"
		   "  LOG_LEVEL=error|verbose|silent  how much to log on stderr (default error)\n",
		prog);
}

int main(int argc, char *argv[])
{
	const char *fg = getenv("WG_PROCESS_FOREGROUND"), *level = getenv("LOG_LEVEL");
	struct daemon_options opts = { .foreground = fg && !strcmp(fg, "1") };

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--version")) {
			printf("braid v%s\nUserspace WireGuard daemon for Linux.\n", BRAID_VERSION);
			return 0;
		} else if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
			usage(stdout, argv[0]);
			return 0;
		} else if (!strcmp(argv[i], "-f") || !strcmp(argv[i], "--foreground")) {
			opts.foreground = true;
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
	if (!log_parse_level(level, &opts.log_level)) {
		fprintf(stderr, "%s: unknown LOG_LEVEL \"%s\"; using \"error\"\n", argv[0], level);
		opts.log_level = LOG_ERROR;
	}
	return daemon_run(&opts);
}
