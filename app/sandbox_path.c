/*
 * sandbox_path.c -- the path rule of sandbox_path.h.
 */
#include <string.h>

#include "sandbox_path.h"

int sandbox_path_ok(const char *path)
{
	const char *p;
	size_t n;

	if (path == NULL || *path == '\0' || strlen(path) >= SANDBOX_PATH_MAX)
		return 0;
	for (p = path; *p != '\0'; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			return 0;
	for (p = path; *p != '\0'; p += n) {
		while (*p == '/')
			p++;
		n = strcspn(p, "/");
		if (n == 2 && p[0] == '.' && p[1] == '.')
			return 0;
	}
	return 1;
}
