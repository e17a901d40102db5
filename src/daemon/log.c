// SPDX-License-Identifier: MIT
/*
 * Daemon logging. Lines go to stderr, which the daemon keeps after it
 * detaches (as wireguard-go does), so a foreground run, wg-quick and a
 * service manager all capture them. Each line carries a timestamp and the
 * interface name, since several daemons may share one log.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "log.h"

static enum log_level threshold = LOG_ERROR;
static char tag[32] = "braid";

bool log_parse_level(const char *value, enum log_level *level)
{
	if (!value || !*value || !strcmp(value, "error"))
		*level = LOG_ERROR;
	else if (!strcmp(value, "verbose") || !strcmp(value, "debug"))
		*level = LOG_VERBOSE;
	else if (!strcmp(value, "silent"))
		*level = LOG_SILENT;
	else
		return false;
	return true;
}

void log_init(enum log_level level, const char *ifname)
{
	threshold = level;
	if (ifname)
		snprintf(tag, sizeof(tag), "braid(%s)", ifname);
}

bool log_enabled(enum log_level level)
{
	return level != LOG_SILENT && level <= threshold;
}

static void log_line(enum log_level level, const char *msg)
{
	struct timespec ts;
	struct tm tm;
	char when[32];

	clock_gettime(CLOCK_REALTIME, &ts);
	localtime_r(&ts.tv_sec, &tm);
	strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S", &tm);
	/* One fprintf per line: stderr is unbuffered, so lines stay whole. */
	fprintf(stderr, "%s: %s %s: %s\n", level == LOG_ERROR ? "ERROR" : "DEBUG",
		when, tag, msg);
}

void log_msg(enum log_level level, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	if (!log_enabled(level))
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	log_line(level, msg);
}

void log_from_core(void *ctx, enum braid_log_level level, const char *msg)
{
	enum log_level l = level == BRAID_LOG_ERROR ? LOG_ERROR : LOG_VERBOSE;

	if (log_enabled(l))
		log_line(l, msg);
}
