/*
 * sandbox_path.h -- the one rule for a path inside a sandbox, shared by
 * every layer that takes one: the Daytona toolbox client (daytona.h), the
 * Daytona provider and the local provider (sandbox.h).  It sits below all
 * of them and depends on nothing.
 *
 * A path is acceptable when it is 1 to SANDBOX_PATH_MAX - 1 bytes, holds
 * no control byte (0x00-0x1f, 0x7f: they would split a header or a log
 * line, and no file of the workspace needs one), and has no ".."
 * component (a sandbox path never climbs out of where it starts; the
 * local provider also confines it by opening each component without
 * following symlinks).  Absolute paths and "." components are the
 * caller's to interpret.
 */
#ifndef OMNI_SANDBOX_PATH_H
#define OMNI_SANDBOX_PATH_H

#define SANDBOX_PATH_MAX 4096

/* 1 if 'path' follows the rule above, else 0 (NULL is 0). */
int sandbox_path_ok(const char *path);

#endif
