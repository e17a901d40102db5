/* SPDX-License-Identifier: MIT */
/*
 * The Linux I/O layer's log. Its messages go to a sink that its user sets
 * (the daemon sets its own log), at libbraid's levels and in the shape of
 * braid_ops.log, so one sink takes the messages of this layer and of
 * libbraid alike. Until a sink is set, messages are dropped. A message above
 * the sink's level is not even formatted: a verbose line on a busy path
 * costs one comparison while the log is quiet.
 *
 * Set the sink before any thread logs; after that it is only read.
 */
#ifndef BRAID_IOLOG_H
#define BRAID_IOLOG_H

#include <braid.h>

/* Takes a message already formatted, without a trailing newline. */
typedef void iolog_sink_fn(void *ctx, enum braid_log_level level, const char *msg);

/* Send messages of max_level and below (0: none) to sink(ctx, ...); sink NULL: none. */
void iolog_set_sink(iolog_sink_fn *sink, void *ctx, unsigned int max_level);

void iolog_msg(enum braid_log_level level, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
#define iolog_error(...) iolog_msg(BRAID_LOG_ERROR, __VA_ARGS__)
#define iolog_verbose(...) iolog_msg(BRAID_LOG_VERBOSE, __VA_ARGS__)

/* A braid_ops.log callback: libbraid's messages to the same sink (ctx unused). */
void iolog_from_core(void *ctx, enum braid_log_level level, const char *msg);

#endif
