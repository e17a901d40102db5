/* SPDX-License-Identifier: MIT */
/* Starting the braid daemon: checks, detaching from the caller, the loop and its UAPI server. */
#ifndef BRAID_DAEMON_H
#define BRAID_DAEMON_H

#include <stdbool.h>

#include "log.h"

struct daemon_options {
	const char *ifname;
	bool foreground;
	enum log_level log_level;
	bool sandbox;		/* drop privileges and filter system calls once set up */
	const char *user;	/* run as this user; NULL: the default (sandbox.h) */
	unsigned int threads;	/* crypto workers besides the event loop's thread */
	bool offloads;		/* TUN and UDP offloads where the kernel has them */
};

/* Serve ifname until told to stop; returns the process exit status. */
int daemon_run(const struct daemon_options *opts);

#endif
