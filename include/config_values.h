/*
 * config_values.h -- parse and check the text of one configuration value.
 *
 * These are the building blocks of cfg_load() (config.h): each takes the
 * text of a single variable, with no knowledge of its name, its profile
 * default or the other variables; config.c adds the variable's name and
 * bounds to the error line it reports.  They hold no state, allocate
 * nothing and are safe to call from any thread.
 *
 * Two conventions:
 * - Parsers (cfgval_parse_*) return 0 and set '*out', or -1 and leave it
 *   alone when the text is not of their type.  A NULL text is not valid.
 * - Checks (cfgval_check_*, type cfgval_check_fn) take an owned, writable
 *   copy of the value, may normalise it in place (never making it longer),
 *   and return NULL when it is acceptable, or a static phrase saying what
 *   it must be ("must be at most 64 characters"), meant to follow the
 *   variable's name.  The phrase never quotes the value: it may be secret.
 *   A NULL value is refused with the same phrase.
 */
#ifndef OMNI_CONFIG_VALUES_H
#define OMNI_CONFIG_VALUES_H

#include <stddef.h>

/* Shortest JWT_SECRET, in bytes: HS256 wants a 256-bit key. */
#define CFGVAL_JWT_SECRET_MIN 32

/* A check on a string value: see above. */
typedef const char *cfgval_check_fn(char *value);

/*
 * A plain decimal integer: optional sign, digits, nothing else (no blanks,
 * no "0x").  -1 also when it does not fit in a long long.
 */
int cfgval_parse_int(const char *s, long long *out);

/*
 * A size in bytes: digits, optionally followed by one k, m or g (either
 * case) meaning 1024, 1024^2, 1024^3.  -1 on anything else ("1.5m",
 * "1mb", "-1", " 1") and when the result overflows an unsigned long long.
 */
int cfgval_parse_size(const char *s, unsigned long long *out);

/* 1 for 1/true/yes/on, 0 for 0/false/no/off (case-insensitive). */
int cfgval_parse_bool(const char *s, int *out);

/*
 * Write 'n' in its shortest exact spelling ("1g", "512k", "1500") into
 * 'buf' of 'len' bytes, truncated if short.  Nothing when 'buf' is NULL
 * or 'len' is 0.
 */
void cfgval_format_size(unsigned long long n, char *buf, size_t len);

/* Does 's' hold a control character (newline, tab, DEL ...)?  0 for NULL. */
int cfgval_has_control(const char *s);

/*
 * Is 's' an http:// or https:// URL (scheme case-insensitive) with a
 * host, no blanks and no "user:password@" (URLs are logged)?  NULL when it
 * is, else the reason it is not.
 */
const char *cfgval_url_problem(const char *s);

/*
 * Remove the trailing '/' characters of 'url' in place, but never the
 * "//" after the scheme: "http://h/api//" becomes "http://h/api".
 */
void cfgval_strip_trailing_slashes(char *url);

/*
 * OMNI_ALLOWED_ORIGINS: "*", "" (no origin), or a comma-separated list of
 * origins scheme://host[:port] (http or https, a DNS name or a bracketed
 * IPv6 literal, port 1-65535, no path), blanks around entries allowed.
 */
const char *cfgval_check_origins(char *value);

/*
 * INNGEST_APP_ID, OMNI_EVENT_PREFIX: they end up in event names and URLs,
 * so at most 64 of [A-Za-z0-9._-].
 */
const char *cfgval_check_ident(char *value);

/* INNGEST_SERVE_PATH: starts with '/', no '?', '#' or space. */
const char *cfgval_check_serve_path(char *value);

/*
 * INNGEST_SIGNING_KEY(_FALLBACK): "signkey-<env>-<hex>" or bare <hex>,
 * with an even, non-zero number of hex digits.  Catches a pasted event key
 * or a truncated value at start-up instead of at every call.
 */
const char *cfgval_check_signing_key(char *value);

/*
 * INNGEST_DEV: "1"/"true" (normalised to "1"), "0"/"false" (to "0"), or
 * the http(s) URL of a dev server (trailing '/' removed).
 */
const char *cfgval_check_inngest_dev(char *value);

/* JWT_SECRET: at least CFGVAL_JWT_SECRET_MIN bytes. */
const char *cfgval_check_jwt_secret(char *value);

#endif
