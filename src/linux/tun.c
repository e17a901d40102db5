// SPDX-License-Identifier: MIT
/*
 * TUN device: creation, MTU and packet I/O.
 *
 * The device is not persistent: it disappears when the daemon closes its
 * descriptor, and `ip link del` on it makes reads fail with EBADFD, which
 * the loop takes as the order to exit.
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

int tun_open(struct tun *tun, const char *name)
{
	struct ifreq ifr = { .ifr_flags = IFF_TUN | IFF_NO_PI };
	int fd, ret;

	tun->fd = -1;
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
	return 0;
fail:
	ret = -errno;
	close(fd);
	return ret;
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

int tun_read_batch(struct tun *tun, uint8_t *const bufs[], size_t lens[], size_t n)
{
	size_t i = 0;
	ssize_t r;

	while (i < n) {
		r = read(tun->fd, bufs[i], TUN_BUF_LEN);
		if (r >= 0) {
			lens[i++] = r;
			continue;
		}
		if (errno == EINTR)
			continue;
		/* Report an error only when it is all we have; the next call sees it again. */
		if (i || errno == EAGAIN)
			break;
		return -errno;
	}
	return i;
}

int tun_write(struct tun *tun, const uint8_t *pkt, size_t len)
{
	ssize_t r;

	do
		r = write(tun->fd, pkt, len);
	while (r < 0 && errno == EINTR);
	return r < 0 ? -errno : 0;
}
