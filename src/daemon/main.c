// SPDX-License-Identifier: MIT
/*
 * braid [-f|--foreground] IFNAME: the command line, as wireguard-go takes
 * it so that wg-quick can run either (WG_QUICK_USERSPACE_IMPLEMENTATION).
 * The sandbox, the crypto threads and the offloads have switches in the
 * environment too, since wg-quick passes its environment on but no
 * options; they are all read here, into struct daemon_options. Everything
 * else lives in daemon.c.
 */
#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "daemon.h"
#include "loop.h"
#include "sandbox.h"

static void usage(FILE *f, const char *prog)
{
	fprintf(f, "Usage: %s [-f/--foreground] [--user NAME] [--no-sandbox] INTERFACE-NAME\n"
		   "       %s up CONFIG-FILE|INTERFACE     bring a tunnel up (braid.conf(5))\n"
		   "       %s down CONFIG-FILE|INTERFACE   take it down again\n"
		   "       %s show [INTERFACE|all|interfaces] [dump|metrics]\n"
		   "       %s set INTERFACE peer KEY [multipath MODE] [path SPEC]... (braid set -h)\n"
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
		   "  BRAID_SANDBOX=0              like --no-sandbox\n"
		   "  BRAID_THREADS=N              crypto threads besides the event loop's\n"
		   "                               (0 to %d; 0 keeps all crypto on it; default:\n"
		   "                               one per usable CPU less one, at most %d)\n"
		   "  BRAID_OFFLOADS=0             no TUN or UDP offloads (vnet_hdr,\n"
		   "                               UDP_SEGMENT, UDP_GRO): for comparisons,\n"
		   "                               and to test the paths of kernels without them\n",
		prog, prog, prog, prog, prog, SANDBOX_DEFAULT_USER, LOOP_MAX_WORKERS,
		LOOP_DEFAULT_WORKERS);
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

/* CPUs this process may run on; 1 when that cannot be told. */
static unsigned int usable_cpus(void)
{
	cpu_set_t set;
	int n;

	if (sched_getaffinity(0, sizeof(set), &set) < 0)
		return 1;
	n = CPU_COUNT(&set);
	return n > 0 ? (unsigned int)n : 1;
}

/* BRAID_THREADS, or one worker per usable CPU besides the event loop's thread. */
static unsigned int threads_from_env(const char *prog)
{
	const char *v = getenv("BRAID_THREADS");
	unsigned int n = usable_cpus() - 1;
	char *end;
	long asked;

	if (n > LOOP_DEFAULT_WORKERS)
		n = LOOP_DEFAULT_WORKERS;
	if (!v || !*v)
		return n;
	errno = 0;
	asked = strtol(v, &end, 10);
	if (errno || *end || asked < 0 || asked > LOOP_MAX_WORKERS) {
		fprintf(stderr, "%s: BRAID_THREADS=%s is not a number from 0 to %d; using %u\n",
			prog, v, LOOP_MAX_WORKERS, n);
		return n;
	}
	return (unsigned int)asked;
}

/* Anything but "0" leaves the offloads on. */
static bool offloads_from_env(void)
{
	const char *v = getenv("BRAID_OFFLOADS");

	return !v || strcmp(v, "0");
}

int main(int argc, char *argv[])
{
	const char *fg = getenv("WG_PROCESS_FOREGROUND"), *level = getenv("LOG_LEVEL");
	struct daemon_options opts = {
		.foreground = fg && !strcmp(fg, "1"),
		.sandbox = sandbox_from_env(argv[0]),
		.user = getenv("BRAID_USER"),
		.threads = threads_from_env(argv[0]),
		.offloads = offloads_from_env(),
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
