/* SPDX-License-Identifier: MIT */
/*
 * braid show: what the daemons say, for people (wg show's view with paths
 * and counters), for programs (`dump`: wg show dump's lines, then braid's),
 * and for Prometheus (`metrics`: the text exposition format, for
 * node_exporter's textfile collector or any scraper). braid(8) documents
 * the dump's extra lines and every metric.
 */
#ifndef BRAID_SHOW_H
#define BRAID_SHOW_H

#include <stdbool.h>
#include <stdio.h>
#include <time.h>

#include "devinfo.h"

/* braid show [INTERFACE | all | interfaces] [dump | metrics]: the exit status. */
int show_main(int argc, char *argv[]);

/* The views, for one device each (metrics: n devices, named by ifnames). now: wall clock. */
void show_pretty(FILE *f, const char *ifname, const struct dev_info *d, time_t now);
void show_dump(FILE *f, const char *ifname, const struct dev_info *d, bool with_ifname);
void show_metrics(FILE *f, const char *const *ifnames, const struct dev_info *devs, size_t n,
		  time_t now);

#endif
