/* SPDX-License-Identifier: MIT */
/*
 * Credentials and capabilities: become an unprivileged user that keeps only
 * the capabilities named, with no way back (bounding and ambient sets
 * reduced, no_new_privs set).
 */
#ifndef BRAID_PRIVILEGE_H
#define BRAID_PRIVILEGE_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#define PRIVILEGE_CAP(cap) (1ULL << (cap))

/*
 * Keep only the capabilities in keep (PRIVILEGE_CAP(CAP_...) bits, those not
 * held are ignored) permitted and effective, nothing inheritable or ambient,
 * and only those in the bounding set when CAP_SETPCAP allows changing it;
 * with change_user, become uid:gid with no supplementary groups first. Then
 * set no_new_privs and check that the result is what was asked for, in
 * every thread: threads already running keep their capabilities unless the
 * uid changes (then they have none). 0 or -errno; on failure the process may
 * be half-way and must exit.
 */
int privilege_drop(bool change_user, uid_t uid, gid_t gid, uint64_t keep);

#endif
