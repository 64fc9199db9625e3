/*
 * shell_quote.c -- quoting a word for a POSIX shell (shell_quote.h).
 */
#include <stdlib.h>
#include <string.h>

#include "shell_quote.h"

size_t shell_quote(char *dst, const char *s)
{
	size_t n = 0;

	if (dst != NULL)
		dst[n] = '\'';
	n++;
	for (; *s != '\0'; s++) {
		if (*s == '\'') {
			/* close, an escaped quote, reopen */
			if (dst != NULL)
				memcpy(dst + n, "'\\''", 4);
			n += 4;
		} else {
			if (dst != NULL)
				dst[n] = *s;
			n++;
		}
	}
	if (dst != NULL) {
		dst[n] = '\'';
		dst[n + 1] = '\0';
	}
	return n + 1;
}

char *shell_quote_dup(const char *s)
{
	char *q = malloc(shell_quote(NULL, s) + 1);

	if (q != NULL)
		shell_quote(q, s);
	return q;
}
