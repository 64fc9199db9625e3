/*
 * envfile.h -- read an env file (--env-file) into a private lookup table.
 *
 * The file is never applied with setenv(): libfcgi workers and their
 * threads must see an unchanged environ, so its assignments stay in a
 * struct envfile and are consulted through envfile_lookup(), where the
 * real environment wins.  cfg_load() (config.h) is the only user.
 *
 * File syntax (docs/configuration.md, "Env file"), one assignment a line:
 *
 *	# comment, only at the start of a line (after optional blanks)
 *	KEY=VALUE           blanks around '=' and after VALUE are dropped
 *	export KEY=VALUE    "export " is optional
 *	KEY="VALUE"         quotes ('...' or "...") are removed; no escapes,
 *	KEY='VALUE'         nothing but blanks may follow the closing quote
 *
 * KEY is [A-Za-z_][A-Za-z0-9_]*.  A '#' after '=' is part of the value.
 * Lines may end in "\n" or "\r\n".  A key given twice keeps its last value.
 *
 * Ownership: the table owns its keys and values; envfile_free() releases
 * them.  Strings returned by envfile_get()/envfile_lookup() are borrowed
 * from the table (or from environ) and live until envfile_free() (or the
 * next change of that variable in environ).
 *
 * Error messages never quote a line of the file: it may hold a secret.
 */
#ifndef OMNI_ENVFILE_H
#define OMNI_ENVFILE_H

#include <stddef.h>

struct envfile_var {
	char *key;   /* variable name, owned */
	char *value; /* its value (may be ""), owned */
};

/* Zero it (ENVFILE_INIT) before the first envfile_read(). */
struct envfile {
	struct envfile_var *vars; /* in order of first appearance */
	size_t nvars;
};

#define ENVFILE_INIT {NULL, 0}

enum envfile_err {
	ENVFILE_OK = 0,  /* read; every line was well formed */
	ENVFILE_EOPEN,   /* cannot be opened, or 'ef' or 'path' is NULL */
	ENVFILE_ESYNTAX, /* a line is malformed, or holds a NUL byte */
	ENVFILE_EREAD,   /* opened, but reading it failed (e.g. a directory) */
	ENVFILE_ENOMEM,  /* out of memory */
	ENVFILE__MAX
};

/*
 * Read the file at 'path' into '*ef', which must be empty (zeroed, or
 * freed with envfile_free()): its previous contents are not released.
 * On ENVFILE_OK the caller owns the table (envfile_free).  On error '*ef'
 * is left empty, with nothing to free, and 'errbuf' (if not NULL and
 * 'errlen' > 0) holds one line naming the file and, for a bad line, its
 * number: "F: cannot read env file: No such file or directory",
 * "F:3: expected KEY=VALUE", "F:1: unterminated quote",
 * "F:2: unexpected text after the closing quote", "F:4: NUL byte in line",
 * "F: read error", "F:5: out of memory".  Reading stops at the first error.
 */
enum envfile_err envfile_read(struct envfile *ef, const char *path,
    char *errbuf, size_t errlen);

/* The value the file gives 'name', or NULL.  'ef' may be NULL. */
const char *envfile_get(const struct envfile *ef, const char *name);

/*
 * The value of 'name' as the configuration sees it: the real environment
 * (getenv) first, then the file.  NULL when neither sets it.  An empty
 * value in the environment ("") counts as set and hides the file's.
 * 'ef' may be NULL (no file).
 */
const char *envfile_lookup(const struct envfile *ef, const char *name);

/* Release the table and leave it empty; safe on a zeroed table or NULL. */
void envfile_free(struct envfile *ef);

/* Text for an error value, never NULL. */
const char *envfile_strerror(enum envfile_err err);

#endif
