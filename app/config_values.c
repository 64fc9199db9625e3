/*
 * config_values.c -- parsers and checks for single configuration values
 * (see include/config_values.h).
 *
 * Everything here is strict on purpose: a value that is almost right
 * ("16 ", "1mb", "https://app.example.com/") is refused at start-up with
 * a clear line rather than read as something the operator did not mean.
 */
#include "config_values.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <netinet/in.h>
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

const char *cfgval_check_agent_cmd(char *value)
{
	static const char bad[] = "must be words of printable ASCII separated "
	    "by spaces, without quotes, '\\' or shell characters (they are "
	    "the agent's argv, no shell reads them)";
	char *r = value, *w = value;
	int words = 0, in_word = 0;

	if (value == NULL)
		return bad;
	for (; *r != '\0'; r++) {
		unsigned char ch = (unsigned char)*r;

		if (ch == ' ' || ch == '\t') {
			in_word = 0;
			continue;
		}
		if (ch < 0x21 || ch > 0x7e || strchr("'\"\\`$;&|<>(){}*?[]#~!",
		    ch) != NULL)
			return bad;
		if (!in_word) {
			if (++words > CFGVAL_AGENT_WORDS)
				return "must be at most 16 words";
			if (w != value)
				*w++ = ' ';
			in_word = 1;
		}
		*w++ = (char)ch;
	}
	*w = '\0';
	return words == 0 ? "must name the agent's program" : NULL;
}

static int model_char(unsigned char c)
{
	return isalnum(c) || c == '.' || c == '_' || c == '-' || c == ':' ||
	    c == '/';
}

const char *cfgval_check_models(char *value)
{
	static const char bad[] = "must be a comma list of model names "
	    "(letters, digits, '.', '_', '-', ':', '/'; up to 64 each)";
	size_t len = 0;
	int n = 0;

	if (value == NULL || *value == '\0')
		return bad;
	for (const char *p = value;; p++) {
		if (*p == ',' || *p == '\0') {
			if (len == 0 || len > 64)
				return bad;
			if (++n > CFGVAL_MODELS_MAX)
				return "must list at most 32 models";
			len = 0;
			if (*p == '\0')
				break;
		} else if (!model_char((unsigned char)*p)) {
			return bad;
		} else {
			len++;
		}
	}
	return NULL;
}

int cfgval_model_allowed(const char *models, const char *model)
{
	size_t n;

	if (models == NULL || model == NULL || (n = strlen(model)) == 0)
		return 0;
	for (const char *p = models; p != NULL && *p != '\0';) {
		const char *end = strchr(p, ',');
		size_t len = end != NULL ? (size_t)(end - p) : strlen(p);

		if (len == n && memcmp(p, model, n) == 0)
			return 1;
		p = end != NULL ? end + 1 : NULL;
	}
	return 0;
}

void cfgval_model_default(const char *models, char *out, size_t len)
{
	size_t n = models != NULL ? strcspn(models, ",") : 0;

	snprintf(out, len, "%.*s", (int)n, models != NULL ? models : "");
}

const char *cfgval_check_env_name(char *value)
{
	static const char bad[] = "must be a variable name (letters, digits "
	    "and '_', not starting with a digit)";

	if (value == NULL)
		return bad;
	if (*value == '\0')
		return NULL;
	if (strlen(value) > 128)
		return "must be at most 128 characters";
	if (isdigit((unsigned char)value[0]))
		return bad;
	for (const char *p = value; *p != '\0'; p++)
		if (!isalnum((unsigned char)*p) && *p != '_')
			return bad;
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

/*
 * The secret part of "signkey-<env>-<hex>" (or of a bare <hex>): the
 * HMAC key.  NULL when the prefix is malformed ("signkey-" without an
 * environment and its '-').
 */
static const char *signing_key_secret(const char *value)
{
	const char *dash;

	if (strncmp(value, "signkey-", 8) != 0)
		return value;
	dash = strchr(value + 8, '-');
	if (dash == NULL || dash == value + 8)
		return NULL;
	return dash + 1;
}

const char *cfgval_check_signing_key(char *value)
{
	static const char why[] = "must look like signkey-<env>-<hex>";
	const char *hex;
	size_t n;

	if (value == NULL || (hex = signing_key_secret(value)) == NULL)
		return why;
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

const char *cfgval_check_metrics_token(char *value)
{
	if (value == NULL || strlen(value) < CFGVAL_METRICS_TOKEN_MIN)
		return "must be at least " STR(CFGVAL_METRICS_TOKEN_MIN)
		    " bytes";
	if (strspn(value, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
	    "0123456789-._~+/=") != strlen(value))
		return "must use only A-Z a-z 0-9 - . _ ~ + / =";
	return NULL;
}

static int port_ok(const char *s, size_t len);

/* One "host:port" of the probe list, 'len' bytes at 's'. */
static int probe_ok(const char *s, size_t len)
{
	const char *colon = memrchr(s, ':', len);
	size_t hlen;

	if (colon == NULL || colon == s)
		return 0;
	hlen = (size_t)(colon - s);
	if (!port_ok(colon, len - hlen) || len - hlen < 2)
		return 0;
	if (s[0] == '[')
		return hlen > 2 && s[hlen - 1] == ']' &&
		    strspn(s + 1, "0123456789abcdefABCDEF:.") == hlen - 2;
	return hlen <= 253 && strspn(s, "abcdefghijklmnopqrstuvwxyz"
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-") == hlen;
}

const char *cfgval_check_probe_list(char *value)
{
	size_t n = 0, o = 0;
	char *p = value;

	if (value == NULL || *value == '\0')
		return "must name at least one host:port";
	while (*p != '\0') {
		size_t len;

		while (*p == ' ')
			p++;
		len = strcspn(p, ",");
		while (len > 0 && p[len - 1] == ' ')
			len--;
		if (len == 0 || !probe_ok(p, len))
			return "must be a comma-separated list of host:port";
		if (++n > CFGVAL_PROBES_MAX)
			return "names more than " STR(CFGVAL_PROBES_MAX)
			    " hosts";
		if (o > 0)
			value[o++] = ',';
		memmove(value + o, p, len);
		o += len;
		p += len;
		while (*p == ' ')
			p++;
		if (*p == ',' && *++p == '\0')
			return "must not end with a comma";
	}
	value[o] = '\0';
	return NULL;
}

/* ------------------------------------------------------------------ */
/* Production gates                                                     */
/* ------------------------------------------------------------------ */

/*
 * The port after a host: nothing, or ':' and 1 to 5 digits up to 65535,
 * filling exactly the 'len' bytes at 's'.
 */
static int port_ok(const char *s, size_t len)
{
	long port = 0;

	if (len == 0)
		return 1;
	if (s[0] != ':' || len < 2 || len > 6)
		return 0;
	for (size_t i = 1; i < len; i++) {
		if (!isdigit((unsigned char)s[i]))
			return 0;
		port = port * 10 + (s[i] - '0');
	}
	return port >= 1 && port <= 65535;
}

int cfgval_url_is_loopback(const char *url)
{
	char host[INET6_ADDRSTRLEN + 1];
	const char *auth, *end, *rest;
	struct in6_addr a6;
	struct in_addr a4;
	size_t alen, hlen;

	if (url == NULL || cfgval_url_problem(url) != NULL)
		return 0;
	auth = url + (strncasecmp(url, "https://", 8) == 0 ? 8 : 7);
	alen = strcspn(auth, "/?#");
	end = auth + alen;
	if (auth[0] == '[') {
		/* [IPv6]: only ::1 itself (no zone, no mapped forms). */
		const char *close = memchr(auth, ']', alen);
		if (close == NULL)
			return 0;
		hlen = (size_t)(close - auth - 1);
		rest = close + 1;
		if (hlen == 0 || hlen >= sizeof(host))
			return 0;
		memcpy(host, auth + 1, hlen);
		host[hlen] = '\0';
		if (!port_ok(rest, (size_t)(end - rest)) ||
		    inet_pton(AF_INET6, host, &a6) != 1)
			return 0;
		return IN6_IS_ADDR_LOOPBACK(&a6);
	}
	hlen = strcspn(auth, ":/?#");
	if (hlen > alen)
		hlen = alen;
	rest = auth + hlen;
	if (hlen == 0 || hlen >= sizeof(host) ||
	    !port_ok(rest, (size_t)(end - rest)))
		return 0;
	memcpy(host, auth, hlen);
	host[hlen] = '\0';
	if (strcasecmp(host, "localhost") == 0)
		return 1;
	/* inet_pton takes full dotted quads only, so "127.1", "0x7f.0.0.1"
	 * and "127.0.0.1.attacker.com" are not taken for loopback: a
	 * resolver or libcurl may read them some other way. */
	if (inet_pton(AF_INET, host, &a4) != 1)
		return 0;
	return ntohl(a4.s_addr) >> 24 == 127;
}

const char *cfgval_prod_url_problem(const char *url)
{
	if (url != NULL && strncasecmp(url, "https://", 8) == 0)
		return NULL;
	if (cfgval_url_is_loopback(url))
		return NULL;
	return "must be an https:// URL in production (http:// only to "
	    "localhost, 127.0.0.0/8 or [::1]): keys and run data would cross "
	    "the network in clear text";
}

const char *cfgval_prod_signing_key_problem(const char *key)
{
	const char *hex;
	size_t n;

	if (key == NULL || (hex = signing_key_secret(key)) == NULL)
		return "must look like signkey-<env>-<hex>";
	n = strlen(hex);
	if (n < CFGVAL_SIGNING_KEY_PROD_HEX ||
	    strspn(hex, "0123456789abcdefABCDEF") != n)
		return "must be a real Inngest signing key in production: "
		    "signkey-<env>- and at least " STR(CFGVAL_SIGNING_KEY_PROD_HEX)
		    " hex digits (32 bytes)";
	return NULL;
}
