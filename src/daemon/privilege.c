// SPDX-License-Identifier: MIT
/*
 * Dropping root, in the order the kernel requires:
 *  1. the ambient set emptied, and the bounding set reduced while
 *     CAP_SETPCAP is still effective (changing it needs that capability);
 *  2. PR_SET_KEEPCAPS, so that leaving uid 0 keeps the permitted set (the
 *     kernel clears it otherwise, and clears the effective set in any case);
 *  3. supplementary groups, gid, then uid: after the uid change CAP_SETGID
 *     is no longer effective;
 *  4. capset: permitted = effective = what is kept, inheritable empty;
 *  5. no_new_privs: no exec can gain a capability or another uid back.
 * Then the result is read back and compared, and a return to uid 0 is tried
 * and must fail, so that a kernel or libc surprise stops the daemon instead
 * of leaving it privileged.
 *
 * Capabilities, the bounding set and the prctl flags belong to each thread,
 * and all of the above acts on the calling one. Threads started earlier
 * (crypto workers) still end up with nothing: glibc makes every thread
 * change its ids, and a thread without PR_SET_KEEPCAPS that leaves uid 0
 * loses all its capabilities; the seccomp filter (TSYNC) then gives them
 * no_new_privs. The check reads every thread's sets in /proc to be sure.
 *
 * Why not libcap: it would replace the two capget/capset calls below, about
 * ten lines, and the rest (prctl, set*id) stays the same; a library linked
 * into a daemon that keeps CAP_NET_ADMIN has to earn its place.
 */
#include <dirent.h>
#include <errno.h>
#include <grp.h>
#include <limits.h>
#include <linux/capability.h>
#include <stdio.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "privilege.h"

/* Capability sets as the kernel's version 3 interface splits them: two 32-bit words. */
static int caps_get(uint64_t *effective, uint64_t *permitted, uint64_t *inheritable)
{
	struct __user_cap_header_struct hdr = { .version = _LINUX_CAPABILITY_VERSION_3 };
	struct __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3] = { 0 };

	*effective = *permitted = *inheritable = 0;
	if (syscall(SYS_capget, &hdr, data) < 0)
		return -errno;
	*effective = data[0].effective | (uint64_t)data[1].effective << 32;
	*permitted = data[0].permitted | (uint64_t)data[1].permitted << 32;
	*inheritable = data[0].inheritable | (uint64_t)data[1].inheritable << 32;
	return 0;
}

static int caps_set(uint64_t caps)
{
	struct __user_cap_header_struct hdr = { .version = _LINUX_CAPABILITY_VERSION_3 };
	struct __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3] = {
		{ .effective = (uint32_t)caps, .permitted = (uint32_t)caps },
		{ .effective = (uint32_t)(caps >> 32), .permitted = (uint32_t)(caps >> 32) },
	};

	return syscall(SYS_capset, &hdr, data) < 0 ? -errno : 0;
}

/* Every capability the kernel knows (PR_CAPBSET_READ fails past the last) but those kept. */
static int drop_bounding(uint64_t keep)
{
	for (int cap = 0; cap < 64 && prctl(PR_CAPBSET_READ, cap, 0, 0, 0) >= 0; cap++)
		if (!(keep & PRIVILEGE_CAP(cap)) && prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) < 0)
			return -errno;
	return 0;
}

static int become_user(uid_t uid, gid_t gid)
{
	int ret = 0;

	if (prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) < 0)
		return -errno;
	/* glibc applies each of these to every thread of the process. */
	if (setgroups(0, NULL) < 0 || setresgid(gid, gid, gid) < 0 || setresuid(uid, uid, uid) < 0)
		ret = -errno;
	prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0);
	return ret;
}

/* A thread's permitted, effective and ambient sets hold nothing beyond keep. */
static int thread_within(const char *tid, uint64_t keep)
{
	unsigned long long set;
	char path[sizeof("/proc/self/task//status") + NAME_MAX], line[128];
	int ret = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/self/task/%s/status", tid);
	f = fopen(path, "re");
	if (!f)
		return errno == ENOENT ? 0 : -errno;	/* ENOENT: the thread has ended */
	while (fgets(line, sizeof(line), f)) {
		if ((sscanf(line, "CapPrm: %llx", &set) == 1 ||
		     sscanf(line, "CapEff: %llx", &set) == 1 ||
		     sscanf(line, "CapAmb: %llx", &set) == 1) && (set & ~keep))
			ret = -EPERM;
	}
	fclose(f);
	return ret;
}

/* Without /proc there is nothing to read; a daemon that starts threads has it. */
static int check_threads(uint64_t keep)
{
	DIR *d = opendir("/proc/self/task");
	struct dirent *e;
	int ret = 0;

	if (!d)
		return 0;
	while (!ret && (e = readdir(d)))
		if (e->d_name[0] != '.')
			ret = thread_within(e->d_name, keep);
	closedir(d);
	return ret;
}

static int check(bool change_user, uid_t uid, gid_t gid, uint64_t keep)
{
	uid_t r, e, s;
	gid_t rg, eg, sg;
	uint64_t eff, prm, inh;

	if (caps_get(&eff, &prm, &inh) || eff != keep || prm != keep || inh)
		return -EPERM;
	if (prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0) != 1 || check_threads(keep))
		return -EPERM;
	if (!change_user)
		return 0;
	if (getresuid(&r, &e, &s) || r != uid || e != uid || s != uid)
		return -EPERM;
	if (getresgid(&rg, &eg, &sg) || rg != gid || eg != gid || sg != gid)
		return -EPERM;
	if (getgroups(0, NULL) != 0)
		return -EPERM;
	/* Nothing must take us back: no saved uid 0, no CAP_SETUID. */
	if (uid != 0 && setresuid(0, 0, 0) == 0)
		return -EPERM;
	return 0;
}

int privilege_drop(bool change_user, uid_t uid, gid_t gid, uint64_t keep)
{
	uint64_t eff, prm, inh;
	int ret;

	ret = caps_get(&eff, &prm, &inh);
	if (ret)
		return ret;
	keep &= prm;
	/* EINVAL: a kernel before 4.3, which has no ambient set to clear. */
	if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0 && errno != EINVAL)
		return -errno;
	/* Without CAP_SETPCAP (started unprivileged) the bounding set cannot shrink. */
	if (eff & PRIVILEGE_CAP(CAP_SETPCAP)) {
		ret = drop_bounding(keep);
		if (ret)
			return ret;
	}
	if (change_user) {
		ret = become_user(uid, gid);
		if (ret)
			return ret;
	}
	ret = caps_set(keep);
	if (ret)
		return ret;
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		return -errno;
	return check(change_user, uid, gid, keep);
}
