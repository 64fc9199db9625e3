/*
 * envfile.c -- read an env file into a private table (see include/envfile.h).
 *
 * The file is read line by line with getline(), so no line length limit
 * applies; each line is parsed in place and its key and value copied into
 * the table.  Nothing here touches environ: the only reader of the process
 * environment is envfile_lookup(), and only through getenv().
 */
#include "envfile.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

/* Write one error line into the caller's buffer; returns 'err'. */
static enum envfile_err fail(char *errbuf, size_t errlen,
    enum envfile_err err, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static enum envfile_err fail(char *errbuf, size_t errlen,
    enum envfile_err err, const char *fmt, ...)
{
	va_list ap;

	if (errbuf != NULL && errlen > 0) {
		va_start(ap, fmt);
		vsnprintf(errbuf, errlen, fmt, ap);
		va_end(ap);
	}
	return err;
}

/* Set 'key' to 'value' in the table (last assignment wins). */
static int put(struct envfile *ef, const char *key, size_t keylen,
    const char *value, size_t valuelen)
{
	char *v = strndup(value, valuelen);
	struct envfile_var *grown;

	if (v == NULL)
		return -1;
	for (size_t i = 0; i < ef->nvars; i++) {
		if (strlen(ef->vars[i].key) == keylen &&
		    memcmp(ef->vars[i].key, key, keylen) == 0) {
			free(ef->vars[i].value);
			ef->vars[i].value = v;
			return 0;
		}
	}
	grown = realloc(ef->vars, (ef->nvars + 1) * sizeof(*grown));
	if (grown == NULL) {
		free(v);
		return -1;
	}
	ef->vars = grown;
	ef->vars[ef->nvars].key = strndup(key, keylen);
	if (ef->vars[ef->nvars].key == NULL) {
		free(v);
		return -1;
	}
	ef->vars[ef->nvars].value = v;
	ef->nvars++;
	return 0;
}

/*
 * Parse one line of the env file.  Returns NULL (ok, possibly nothing to
 * store), or the reason the line is malformed.  '*oom' is set when
 * storing failed.  The line's text is never quoted back: it may hold a key.
 */
static const char *parse_line(struct envfile *ef, char *line, int *oom)
{
	char *p = line, *key, *val;
	size_t keylen, vlen;

	while (*p == ' ' || *p == '\t')
		p++;
	if (*p == '\0' || *p == '#')
		return NULL;
	if (strncmp(p, "export", 6) == 0 && (p[6] == ' ' || p[6] == '\t')) {
		p += 6;
		while (*p == ' ' || *p == '\t')
			p++;
	}
	key = p;
	if (!isalpha((unsigned char)*p) && *p != '_')
		return "expected KEY=VALUE";
	while (isalnum((unsigned char)*p) || *p == '_')
		p++;
	keylen = (size_t)(p - key);
	while (*p == ' ' || *p == '\t')
		p++;
	if (*p != '=')
		return "expected KEY=VALUE";
	p++;
	while (*p == ' ' || *p == '\t')
		p++;
	if (*p == '"' || *p == '\'') {
		char quote = *p++;
		char *end = strchr(p, quote);
		if (end == NULL)
			return "unterminated quote";
		val = p;
		vlen = (size_t)(end - p);
		for (p = end + 1; *p == ' ' || *p == '\t'; p++)
			;
		if (*p != '\0')
			return "unexpected text after the closing quote";
	} else {
		val = p;
		vlen = strlen(p);
		while (vlen > 0 &&
		    (val[vlen - 1] == ' ' || val[vlen - 1] == '\t'))
			vlen--;
	}
	if (put(ef, key, keylen, val, vlen) != 0) {
		*oom = 1;
		return "out of memory";
	}
	return NULL;
}

enum envfile_err envfile_read(struct envfile *ef, const char *path,
    char *errbuf, size_t errlen)
{
	FILE *fp;
	char *line = NULL;
	size_t cap = 0;
	ssize_t n;
	unsigned long lineno = 0;
	enum envfile_err err = ENVFILE_OK;

	if (ef == NULL || path == NULL)
		return fail(errbuf, errlen, ENVFILE_EOPEN,
		    "env file: no %s given", ef == NULL ? "table" : "path");
	ef->vars = NULL;
	ef->nvars = 0;
	fp = fopen(path, "re");
	if (fp == NULL)
		return fail(errbuf, errlen, ENVFILE_EOPEN,
		    "%s: cannot read env file: %s", path, strerror(errno));
	while ((n = getline(&line, &cap, fp)) >= 0) {
		const char *why;
		int oom = 0;

		lineno++;
		while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
			line[--n] = '\0';
		if (strlen(line) != (size_t)n) {
			err = fail(errbuf, errlen, ENVFILE_ESYNTAX,
			    "%s:%lu: NUL byte in line", path, lineno);
			break;
		}
		why = parse_line(ef, line, &oom);
		if (why != NULL) {
			err = fail(errbuf, errlen,
			    oom ? ENVFILE_ENOMEM : ENVFILE_ESYNTAX,
			    "%s:%lu: %s", path, lineno, why);
			break;
		}
	}
	if (err == ENVFILE_OK && ferror(fp))
		err = fail(errbuf, errlen, ENVFILE_EREAD, "%s: read error",
		    path);
	free(line);
	fclose(fp);
	if (err != ENVFILE_OK)
		envfile_free(ef);
	return err;
}

const char *envfile_get(const struct envfile *ef, const char *name)
{
	if (ef == NULL || name == NULL)
		return NULL;
	for (size_t i = 0; i < ef->nvars; i++)
		if (strcmp(ef->vars[i].key, name) == 0)
			return ef->vars[i].value;
	return NULL;
}

/* The real environment wins; the env file fills what it leaves unset. */
const char *envfile_lookup(const struct envfile *ef, const char *name)
{
	const char *v;

	if (name == NULL)
		return NULL;
	v = getenv(name);
	if (v != NULL)
		return v;
	return envfile_get(ef, name);
}

void envfile_free(struct envfile *ef)
{
	if (ef == NULL)
		return;
	for (size_t i = 0; i < ef->nvars; i++) {
		free(ef->vars[i].key);
		free(ef->vars[i].value);
	}
	free(ef->vars);
	ef->vars = NULL;
	ef->nvars = 0;
}

const char *envfile_strerror(enum envfile_err err)
{
	switch (err) {
	case ENVFILE_OK:
		return "env file read";
	case ENVFILE_EOPEN:
		return "cannot open the env file";
	case ENVFILE_ESYNTAX:
		return "malformed line in the env file";
	case ENVFILE_EREAD:
		return "cannot read the env file";
	case ENVFILE_ENOMEM:
		return "out of memory";
	case ENVFILE__MAX:
		break;
	}
	return "unknown env file error";
}
