/* SPDX-License-Identifier: MIT */
/* braid up, down, show and set: the command line's client side (see cli.c). */
#ifndef BRAID_CLI_H
#define BRAID_CLI_H

#include <braid.h>
#include <stdbool.h>

/* True for a word that starts a client command rather than naming an interface. */
bool cli_is_command(const char *word);
/* Run the command in argv[0] with its arguments: the process's exit status. */
int cli_main(int argc, char *argv[]);

#endif
