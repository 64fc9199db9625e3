/*
 * config_values.c -- parsers and checks for single configuration values
 * (see include/config_values.h).
 *
 * Everything here is strict on purpose: a value that is almost right
 * ("16 ", "1mb", "https://app.example.com/") is refused at start-up with
 * a clear line rather than read as something the operator did not mean.
 */
#include "config_values.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define STR_(x) #x
#define STR(x) STR_(x)

/* ------------------------------------------------------------------ */
/* Parsers                                                              */
/* ------------------------------------------------------------------ */

int cfgval_parse_int(const char *s, long long *out)
{
	char *end;
	long long x;

	if (s == NULL || *s == '\0' || isspace((unsigned char)*s))
		return -1;
	errno = 0;
	x = strtoll(s, &end, 10);
	if (errno != 0 || *end != '\0')
		return -1;
	*out = x;
	return 0;
}

int cfgval_parse_size(const char *s, unsigned long long *out)
{
	unsigned long long x = 0, mult = 1;
	const char *p = s;

	if (p == NULL || !isdigit((unsigned char)*p))
		return -1;
	for (; isdigit((unsigned char)*p); p++) {
		unsigned d = (unsigned)(*p - '0');
		if (x > (ULLONG_MAX - d) / 10)
			return -1;
		x = x * 10 + d;
	}
	switch (*p) {
	case '\0':
		break;
	case 'k': case 'K':
		mult = 1024ULL;
		p++;
		break;
	case 'm': case 'M':
		mult = 1024ULL * 1024;
		p++;
		break;
	case 'g': case 'G':
		mult = 1024ULL * 1024 * 1024;
		p++;
		break;
	default:
		return -1;
	}
	if (*p != '\0' || x > ULLONG_MAX / mult)
		return -1;
	*out = x * mult;
	return 0;
}

int cfgval_parse_bool(const char *s, int *out)
{
	static const char *const yes[] = {"1", "true", "yes", "on"};
	static const char *const no[] = {"0", "false", "no", "off"};

	if (s == NULL)
		return -1;
	for (size_t i = 0; i < 4; i++) {
		if (strcasecmp(s, yes[i]) == 0) {
			*out = 1;
			return 0;
		}
		if (strcasecmp(s, no[i]) == 0) {
			*out = 0;
			return 0;
		}
	}
	return -1;
}

void cfgval_format_size(unsigned long long n, char *buf, size_t len)
{
	static const char suffix[] = "gmk";
	unsigned long long unit = 1024ULL * 1024 * 1024;

	if (buf == NULL || len == 0)
		return;
	for (int i = 0; i < 3; i++, unit /= 1024) {
		if (n >= unit && n % unit == 0) {
			snprintf(buf, len, "%llu%c", n / unit, suffix[i]);
			return;
		}
	}
	snprintf(buf, len, "%llu", n);
}

int cfgval_has_control(const char *s)
{
	if (s == NULL)
		return 0;
	for (; *s != '\0'; s++)
		if (iscntrl((unsigned char)*s))
			return 1;
	return 0;
}

/* ------------------------------------------------------------------ */
/* URLs                                                                 */
/* ------------------------------------------------------------------ */

const char *cfgval_url_problem(const char *s)
{
	const char *host;
	size_t hostlen;

	if (s == NULL)
		return "must be an http:// or https:// URL";
	if (strncasecmp(s, "http://", 7) == 0)
		host = s + 7;
	else if (strncasecmp(s, "https://", 8) == 0)
		host = s + 8;
	else
		return "must be an http:// or https:// URL";
	hostlen = strcspn(host, "/?#");
	if (hostlen == 0 || host[0] == ':')
		return "must be an http:// or https:// URL with a host";
	if (memchr(host, '@', hostlen) != NULL)
		return "must not contain credentials (user@)";
	for (const char *p = s; *p != '\0'; p++)
		if (isspace((unsigned char)*p))
			return "must be an http:// or https:// URL";
	return NULL;
}

void cfgval_strip_trailing_slashes(char *url)
{
	size_t n, min;
	const char *host;

	if (url == NULL)
		return;
	n = strlen(url);
	/* Keep "http://": strip only past the scheme's "//". */
	host = strstr(url, "//");
	min = host != NULL ? (size_t)(host - url) + 3 : 1;
	while (n > min && url[n - 1] == '/')
		url[--n] = '\0';
}

/* ------------------------------------------------------------------ */
/* Checks                                                               */
/* ------------------------------------------------------------------ */

/* One origin, the 'len' bytes at 's': scheme://host[:port], nothing after. */
static int origin_ok(const char *s, size_t len)
{
	size_t i;

	if (len >= 7 && strncasecmp(s, "http://", 7) == 0)
		i = 7;
	else if (len >= 8 && strncasecmp(s, "https://", 8) == 0)
		i = 8;
	else
		return 0;
	if (i < len && s[i] == '[') { /* IPv6 literal */
		size_t start = ++i;
		while (i < len && (isxdigit((unsigned char)s[i]) ||
		    s[i] == ':' || s[i] == '.'))
			i++;
		if (i == start || i >= len || s[i] != ']')
			return 0;
		i++;
	} else {
		size_t start = i;
		while (i < len && (isalnum((unsigned char)s[i]) ||
		    s[i] == '-' || s[i] == '.'))
			i++;
		if (i == start)
			return 0;
	}
	if (i < len && s[i] == ':') {
		size_t start = ++i;
		long port = 0;
		while (i < len && isdigit((unsigned char)s[i]) && i - start < 5)
			port = port * 10 + (s[i++] - '0');
		if (i == start || port < 1 || port > 65535)
			return 0;
	}
	return i == len;
}

const char *cfgval_check_origins(char *value)
{
	static const char why[] = "must be '*' or a comma-separated list of "
	    "origins like https://app.example.com (scheme, host, optional "
	    "port, no path)";
	const char *p = value;

	if (value == NULL)
		return why;
	if (strcmp(value, "*") == 0 || value[0] == '\0')
		return NULL;
	for (;;) {
		size_t len;

		while (*p == ' ' || *p == '\t')
			p++;
		len = strcspn(p, ",");
		while (len > 0 && (p[len - 1] == ' ' || p[len - 1] == '\t'))
			len--;
		if (!origin_ok(p, len))
			return why;
		p += strcspn(p, ",");
		if (*p == '\0')
			return NULL;
		p++;
	}
}

const char *cfgval_check_ident(char *value)
{
	static const char chars[] = "must contain only letters, digits, '.', "
	    "'_' and '-'";

	if (value == NULL)
		return chars;
	if (strlen(value) > 64)
		return "must be at most 64 characters";
	for (const char *p = value; *p != '\0'; p++)
		if (!isalnum((unsigned char)*p) && *p != '-' && *p != '_' &&
		    *p != '.')
			return chars;
	return NULL;
}

const char *cfgval_check_serve_path(char *value)
{
	if (value == NULL || value[0] != '/' ||
	    strpbrk(value, "?# ") != NULL)
		return "must be a path starting with '/' (no query or "
		    "fragment)";
	return NULL;
}

/* The hex part of "signkey-<env>-<hex>" is the HMAC key. */
const char *cfgval_check_signing_key(char *value)
{
	static const char why[] = "must look like signkey-<env>-<hex>";
	const char *hex = value;
	size_t n;

	if (value == NULL)
		return why;
	if (strncmp(value, "signkey-", 8) == 0) {
		const char *dash = strchr(value + 8, '-');
		if (dash == NULL || dash == value + 8)
			return why;
		hex = dash + 1;
	}
	n = strlen(hex);
	if (n == 0 || n % 2 != 0 || strspn(hex, "0123456789abcdefABCDEF") != n)
		return why;
	return NULL;
}

const char *cfgval_check_inngest_dev(char *value)
{
	static const char why[] = "must be 0, 1, true, false or the http(s):// "
	    "URL of a dev server";

	if (value == NULL)
		return why;
	if (strcmp(value, "1") == 0 || strcasecmp(value, "true") == 0) {
		strcpy(value, "1"); /* never longer than the original */
		return NULL;
	}
	if (strcmp(value, "0") == 0 || strcasecmp(value, "false") == 0) {
		strcpy(value, "0");
		return NULL;
	}
	if (cfgval_url_problem(value) != NULL)
		return why;
	cfgval_strip_trailing_slashes(value);
	return NULL;
}

const char *cfgval_check_jwt_secret(char *value)
{
	if (value == NULL || strlen(value) < CFGVAL_JWT_SECRET_MIN)
		return "must be at least " STR(CFGVAL_JWT_SECRET_MIN) " bytes";
	return NULL;
}
