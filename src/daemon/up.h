/* SPDX-License-Identifier: MIT */
/*
 * braid up and braid down: wg-quick's job, done by braid itself. up starts
 * the daemon, configures it over the UAPI, and sets up the host as wg-quick
 * does (addresses, MTU, routes for the allowed IPs, full-tunnel policy
 * routing with an fwmark, DNS through resolvconf, hooks); down undoes it.
 * Both run whether or not the host has a wireguard kernel module.
 */
#ifndef BRAID_UP_H
#define BRAID_UP_H

/* braid up CONFIG|IFNAME: the exit status. */
int up_main(int argc, char *argv[]);
/* braid down CONFIG|IFNAME: the exit status. */
int down_main(int argc, char *argv[]);

#endif
