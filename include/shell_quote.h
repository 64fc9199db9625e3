/*
 * shell_quote.h -- the one way Omni quotes a word for a POSIX shell,
 * shared by every layer that builds a command line: the Daytona toolbox
 * client (daytona.h: its exec script's exports), the Daytona provider (the
 * job command) and process-knowledge (its preflight script).  It sits below
 * all of them and depends on nothing.
 *
 * 's' goes between single quotes, each ' inside written as '\'' (close,
 * an escaped quote, reopen): the shell reads the bytes back exactly,
 * whatever they are.  For the words Omni itself puts in a command (a
 * configured program, a path, a value in an export line); a user's text
 * travels as a file, never through here.
 */
#ifndef OMNI_SHELL_QUOTE_H
#define OMNI_SHELL_QUOTE_H

#include <stddef.h>

/*
 * Write the quoted 's' and a NUL to 'dst' when it is not NULL (it must
 * hold the returned length + 1).  Returns the quoted length, without the
 * NUL, so a caller can measure first and write second.
 */
size_t shell_quote(char *dst, const char *s);

/* The same as a new malloc'd string (the caller frees), or NULL out of
 * memory. */
char *shell_quote_dup(const char *s);

#endif
