/* SPDX-License-Identifier: MIT */
/*
 * The TUN interface: layer-3 packets without a packet-info header
 * (IFF_TUN | IFF_NO_PI). Reads and writes go through batch-shaped calls so
 * the later vnet_hdr/offload version keeps the same callers.
 */
#ifndef BRAID_TUN_H
#define BRAID_TUN_H

#include <net/if.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum {
	TUN_BATCH = 64,			/* packets read per event */
	TUN_BUF_LEN = 65536,		/* the largest IP packet fits */
};

struct tun {
	int fd;
	int ifindex;
	char name[IFNAMSIZ];
};

/* NULL when name can be an interface name and a socket file name, else why not. */
const char *tun_name_problem(const char *name);

/* Create (or attach to a free persistent) TUN device name: 0 or -errno. */
int tun_open(struct tun *tun, const char *name);
void tun_close(struct tun *tun);

/* True once the interface was deleted (`ip link del`); false while it exists anywhere. */
bool tun_is_deleted(const struct tun *tun);

/* The link's MTU, through the interface ioctls: 0 or -errno. */
int tun_set_mtu(const struct tun *tun, unsigned int mtu);
int tun_get_mtu(const struct tun *tun, unsigned int *mtu);

/*
 * Read up to n packets without blocking, each into bufs[i] (TUN_BUF_LEN
 * bytes), lengths into lens[]. Returns how many (0 when none is waiting) or
 * -errno when the first read fails: -EBADFD once the interface is deleted.
 */
int tun_read_batch(struct tun *tun, uint8_t *const bufs[], size_t lens[], size_t n);

/* Write one packet: 0 or -errno (-EIO while the link is down, -EBADFD once deleted). */
int tun_write(struct tun *tun, const uint8_t *pkt, size_t len);

#endif
