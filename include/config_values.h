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

/* OMNI_AGENT_CMD: 1..CFGVAL_AGENT_WORDS words of printable ASCII
 * separated by single spaces (collapsed), no quotes, backslashes or shell
 * metacharacters: the words become the agent's argv as they are. */
#define CFGVAL_AGENT_WORDS 16
const char *cfgval_check_agent_cmd(char *value);

/* OMNI_AGENT_MODELS: a comma list of 1..CFGVAL_MODELS_MAX model names, each
 * 1..64 characters of letters, digits, '.', '_', '-', ':' and '/'. */
#define CFGVAL_MODELS_MAX 32
const char *cfgval_check_models(char *value);

/* Is 'model' one of the comma list 'models' (exactly)? */
int cfgval_model_allowed(const char *models, const char *model);

/* The first model of the comma list 'models' (the default) into 'out'
 * ("" when 'models' is NULL or empty). */
void cfgval_model_default(const char *models, char *out, size_t len);

/* OMNI_AGENT_KEY_NAME: "" or a variable name [A-Za-z_][A-Za-z0-9_]*. */
const char *cfgval_check_env_name(char *value);

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

/* OMNI_METRICS_TOKEN: at least CFGVAL_METRICS_TOKEN_MIN bytes of the
 * bearer token alphabet (RFC 6750 b64token: A-Z a-z 0-9 - . _ ~ + / =). */
#define CFGVAL_METRICS_TOKEN_MIN 16
const char *cfgval_check_metrics_token(char *value);

/*
 * OMNI_EGRESS_PROBE: up to CFGVAL_PROBES_MAX comma-separated "host:port"
 * (a DNS name, an IPv4 address or a bracketed IPv6 address; port 1 to
 * 65535), spaces around the commas removed.
 */
#define CFGVAL_PROBES_MAX 8
const char *cfgval_check_probe_list(char *value);

/*
 * Production gates.  Values that every profile accepts but production
 * must not run with: config.c applies them to production only.  They
 * read the value (already stored, so already through the checks above)
 * and return NULL or a static phrase, as the checks do.
 */

/*
 * Hex digits of the secret part of a production signing key: Inngest
 * issues "signkey-<env>-" followed by 64 hex digits, a 32-byte key.
 */
#define CFGVAL_SIGNING_KEY_PROD_HEX 64

/*
 * Is the host of the http(s) URL 'url' a loopback host: exactly
 * "localhost" (any case), a dotted-quad IPv4 address in 127.0.0.0/8 or
 * the bracketed IPv6 literal [::1]?  The host is the authority up to an
 * optional ":port" (digits only); anything that does not parse that way
 * ("http://127.0.0.1.attacker.com", "http://127.1", "http://[::1%lo]",
 * "http://localhost:80x") is not loopback.  0 for NULL.
 */
int cfgval_url_is_loopback(const char *url);

/*
 * A URL that carries credentials (a key in a header, run data) in
 * production: https://, or http:// only to a loopback host (a sidecar on
 * the same machine), so no key crosses a network in clear text.
 */
const char *cfgval_prod_url_problem(const char *url);

/*
 * A production signing key: the part after "signkey-<env>-" (or the
 * whole value) holds at least CFGVAL_SIGNING_KEY_PROD_HEX hex digits.
 * A shorter key is a test key or a truncated paste; its HMAC protects
 * nothing.
 */
const char *cfgval_prod_signing_key_problem(const char *key);

#endif
