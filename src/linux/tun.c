// SPDX-License-Identifier: MIT
/*
 * TUN device: creation, MTU and packet I/O.
 *
 * The device is not persistent: it disappears when the daemon closes its
 * descriptor, and `ip link del` on it makes reads fail with EBADFD, which
 * the loop takes as the order to exit.
 *
 * Offloads are what the kernel accepts, best first: TSO and checksum
 * offload with USO (Linux 6.2), then without USO. A kernel that refuses
 * TSO gains nothing from virtio_net_hdr, so the device is then opened
 * again without it, as plain as before.
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/if_tun.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "tun.h"

/* The kernel's dev_valid_name() rules, plus what a file name and wg-quick need. */
const char *tun_name_problem(const char *name)
{
	if (!*name)
		return "the name is empty";
	if (strlen(name) >= IFNAMSIZ)
		return "the name is longer than 15 characters";
	if (!strcmp(name, ".") || !strcmp(name, ".."))
		return "the name cannot be \".\" or \"..\"";
	for (const char *c = name; *c; c++) {
		if (*c == '/' || *c == ':' || isspace((unsigned char)*c))
			return "the name cannot contain '/', ':' or white space";
		/* The kernel would expand "%d" to a number the UAPI socket would not match. */
		if (*c == '%')
			return "the name cannot contain '%'";
	}
	return NULL;
}

/* TSO_ECN: super-packets whose first segment carries CWR (offload_split() keeps it there). */
static const unsigned int offload_choices[] = {
	TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6 | TUN_F_TSO_ECN | TUN_F_USO4 | TUN_F_USO6,
	TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6 | TUN_F_TSO_ECN,
};

static int open_fd(struct tun *tun, const char *name, bool vnet_hdr)
{
	struct ifreq ifr = { .ifr_flags = IFF_TUN | IFF_NO_PI };
	int fd, ret;

	if (vnet_hdr)
		ifr.ifr_flags |= IFF_VNET_HDR;
	fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	strncpy(ifr.ifr_name, name, IFNAMSIZ - 1);
	if (ioctl(fd, TUNSETIFF, &ifr) < 0)
		goto fail;
	memcpy(tun->name, ifr.ifr_name, IFNAMSIZ);
	tun->name[IFNAMSIZ - 1] = '\0';
	tun->ifindex = if_nametoindex(tun->name);
	if (!tun->ifindex)
		goto fail;
	tun->fd = fd;
	tun->has_vnet_hdr = vnet_hdr;
	tun->offloads = 0;
	return 0;
fail:
	ret = -errno;
	close(fd);
	return ret;
}

/* The first offload set the kernel takes; false when it takes none. */
static bool set_offloads(struct tun *tun)
{
	for (size_t i = 0; i < sizeof(offload_choices) / sizeof(offload_choices[0]); i++) {
		if (ioctl(tun->fd, TUNSETOFFLOAD, offload_choices[i]) == 0) {
			tun->offloads = offload_choices[i];
			return true;
		}
	}
	return false;
}

int tun_open(struct tun *tun, const char *name, bool use_offloads)
{
	int ret;

	tun->fd = -1;
	if (use_offloads) {
		ret = open_fd(tun, name, true);
		if (!ret && set_offloads(tun))
			return 0;
		/* Closing a device we created deletes it: the second open makes it anew. */
		tun_close(tun);
		if (ret && ret != -EINVAL)
			return ret;
	}
	return open_fd(tun, name, false);
}

void tun_close(struct tun *tun)
{
	if (tun->fd >= 0)
		close(tun->fd);
	tun->fd = -1;
}

bool tun_is_deleted(const struct tun *tun)
{
	struct ifreq ifr;

	/* The kernel detaches every descriptor when the interface is unregistered. */
	return ioctl(tun->fd, TUNGETIFF, &ifr) < 0 && errno == EBADFD;
}

/* The interface ioctls need a socket of some family; IPv4 may be missing, so try both. */
static int ifreq_ioctl(unsigned long req, struct ifreq *ifr)
{
	int fd, ret;

	fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		fd = socket(AF_INET6, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	ret = ioctl(fd, req, ifr) < 0 ? -errno : 0;
	close(fd);
	return ret;
}

int tun_set_mtu(const struct tun *tun, unsigned int mtu)
{
	struct ifreq ifr = { .ifr_mtu = mtu };

	memcpy(ifr.ifr_name, tun->name, IFNAMSIZ);
	return ifreq_ioctl(SIOCSIFMTU, &ifr);
}

int tun_get_mtu(const struct tun *tun, unsigned int *mtu)
{
	struct ifreq ifr = { 0 };
	int ret;

	memcpy(ifr.ifr_name, tun->name, IFNAMSIZ);
	ret = ifreq_ioctl(SIOCGIFMTU, &ifr);
	if (!ret)
		*mtu = ifr.ifr_mtu;
	return ret;
}

ssize_t tun_read(struct tun *tun, uint8_t *buf)
{
	size_t hdr = tun->has_vnet_hdr ? TUN_VNET_HDR_LEN : 0;
	uint8_t *at = tun_read_pkt(buf) - hdr;
	ssize_t r;

	do
		r = read(tun->fd, at, TUN_BUF_LEN - (at - buf));
	while (r < 0 && errno == EINTR);
	if (r < 0)
		return errno == EWOULDBLOCK ? -EAGAIN : -errno;
	/* The kernel always writes the header; anything shorter is not a packet. */
	if ((size_t)r < hdr)
		return -EPROTO;
	return r - hdr;
}

int tun_writev(struct tun *tun, const struct iovec *iov, int iovcnt)
{
	ssize_t r;

	do
		r = writev(tun->fd, iov, iovcnt);
	while (r < 0 && errno == EINTR);
	return r < 0 ? -errno : 0;
}

int tun_write(struct tun *tun, const uint8_t *pkt, size_t len)
{
	static const uint8_t no_offload[TUN_VNET_HDR_LEN];
	struct iovec iov[2] = {
		{ .iov_base = (void *)no_offload, .iov_len = sizeof(no_offload) },
		{ .iov_base = (void *)pkt, .iov_len = len },
	};

	return tun->has_vnet_hdr ? tun_writev(tun, iov, 2) : tun_writev(tun, &iov[1], 1);
}
