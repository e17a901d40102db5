// SPDX-License-Identifier: MIT
/* The Linux I/O layer's log: formatting and the gate in front of the sink (see iolog.h). */
#include <stdarg.h>
#include <stdio.h>

#include "iolog.h"

static iolog_sink_fn *sink;
static void *sink_ctx;
static unsigned int threshold;

void iolog_set_sink(iolog_sink_fn *fn, void *ctx, unsigned int max_level)
{
	sink = fn;
	sink_ctx = ctx;
	threshold = fn ? max_level : 0;
}

static bool is_enabled(enum braid_log_level level)
{
	return (unsigned int)level <= threshold;
}

void iolog_msg(enum braid_log_level level, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	if (!is_enabled(level))
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	sink(sink_ctx, level, msg);
}

void iolog_from_core(void *ctx, enum braid_log_level level, const char *msg)
{
	if (is_enabled(level))
		sink(sink_ctx, level, msg);
}
