/* SPDX-License-Identifier: MIT */
/*
 * Logging for the daemon: one line per message on stderr, filtered by
 * LOG_LEVEL (error, verbose or silent) as wireguard-go reads it, so wg-quick
 * users see the same amount of output from either implementation.
 */
#ifndef BRAID_LOG_H
#define BRAID_LOG_H

#include <braid.h>

enum log_level {
	LOG_SILENT = 0,
	LOG_ERROR = BRAID_LOG_ERROR,
	LOG_VERBOSE = BRAID_LOG_VERBOSE,
};

/* Parse a LOG_LEVEL value; NULL or empty gives the default (error). False when unknown. */
bool log_parse_level(const char *value, enum log_level *level);
/* Set the threshold and the interface name every line is tagged with. */
void log_init(enum log_level level, const char *ifname);
bool log_enabled(enum log_level level);

void log_msg(enum log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
#define log_error(...) log_msg(LOG_ERROR, __VA_ARGS__)
#define log_verbose(...) log_msg(LOG_VERBOSE, __VA_ARGS__)

/* The braid_ops log callback: messages from libbraid. */
void log_from_core(void *ctx, enum braid_log_level level, const char *msg);

#endif
