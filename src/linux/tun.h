/* SPDX-License-Identifier: MIT */
/*
 * The TUN interface: layer-3 packets without a packet-info header
 * (IFF_TUN | IFF_NO_PI), and where the kernel agrees, with a struct
 * virtio_net_hdr in front of each (IFF_VNET_HDR) and offloads on
 * (TUNSETOFFLOAD): a read may then return a TCP (or UDP) super-packet of up
 * to 64 KB for offload_split(), and a write may carry one that
 * offload_coalesce() built.
 */
#ifndef BRAID_TUN_H
#define BRAID_TUN_H

#include <net/if.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/uio.h>

/* Linux 6.2 added USO; older uapi headers lack the constants, not the ABI. */
#ifndef TUN_F_USO4
#define TUN_F_USO4 0x20
#define TUN_F_USO6 0x40
#endif

enum {
	TUN_BATCH = 64,			/* reads per event, at most */
	TUN_VNET_HDR_LEN = 10,		/* sizeof(struct virtio_net_hdr) */
	/*
	 * A read buffer: the largest IP packet behind a virtio_net_hdr that
	 * starts at TUN_READ_OFF, so the packet itself starts 16-byte aligned.
	 */
	TUN_READ_OFF = 16 - TUN_VNET_HDR_LEN,
	TUN_BUF_LEN = TUN_READ_OFF + TUN_VNET_HDR_LEN + 65535,
};

struct tun {
	int fd;
	int ifindex;
	char name[IFNAMSIZ];
	bool has_vnet_hdr;		/* every read and write starts with a virtio_net_hdr */
	unsigned int offloads;		/* the TUN_F_* flags TUNSETOFFLOAD accepted */
};

/* NULL when name can be an interface name and a socket file name, else why not. */
const char *tun_name_problem(const char *name);

/*
 * Create (or attach to a free persistent) TUN device name: 0 or -errno. With
 * use_offloads, ask for vnet_hdr and the most offloads the kernel accepts
 * (TSO and checksums; USO too where it exists); without, or when the
 * kernel refuses TSO, plain packets.
 */
int tun_open(struct tun *tun, const char *name, bool use_offloads);
void tun_close(struct tun *tun);

/* True once the interface was deleted (`ip link del`); false while it exists anywhere. */
bool tun_is_deleted(const struct tun *tun);

/* The link's MTU, through the interface ioctls: 0 or -errno. */
int tun_set_mtu(const struct tun *tun, unsigned int mtu);
int tun_get_mtu(const struct tun *tun, unsigned int *mtu);

/*
 * Read one packet without blocking into buf (TUN_BUF_LEN bytes): its
 * virtio_net_hdr, when the device has them, at buf + TUN_READ_OFF and the
 * packet at buf + 16. Returns the packet's length (without the header),
 * -EAGAIN when none is waiting, or -errno: -EBADFD once the interface is
 * deleted.
 */
ssize_t tun_read(struct tun *tun, uint8_t *buf);

static inline uint8_t *tun_read_pkt(uint8_t *buf)
{
	return buf + TUN_READ_OFF + TUN_VNET_HDR_LEN;
}

/*
 * Write one plain packet (behind a zeroed virtio_net_hdr when the device
 * has them): 0 or -errno (-EIO while the link is down, -EBADFD once deleted).
 */
int tun_write(struct tun *tun, const uint8_t *pkt, size_t len);

/* Write what iov holds, virtio_net_hdr included when the device has them: 0 or -errno. */
int tun_writev(struct tun *tun, const struct iovec *iov, int iovcnt);

#endif
