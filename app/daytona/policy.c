/*
 * policy.c -- the decisions of the Daytona client that need no network:
 * which answers are retried and after how long, how a Retry-After header
 * reads, and which error an HTTP answer becomes.  Pure functions, so the
 * unit tests pin each rule down without a server.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <json-c/json.h>

#include "daytona.h"
#include "hex.h"
#include "http_client.h"

/* ASCII only: the locale must not change what a URL or header holds. */
static int is_alnum(char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') ||
	    (c >= 'A' && c <= 'Z');
}

const char *dt_strerror(enum dt_err err)
{
	static const char *const text[DT__MAX] = {
		[DT_OK] = "success",
		[DT_EINVAL] = "invalid argument",
		[DT_ENOMEM] = "out of memory",
		[DT_ENETWORK] = "Daytona cannot be reached",
		[DT_ETIMEOUT] = "Daytona did not answer in time",
		[DT_EAUTH] = "Daytona refused the API key",
		[DT_ENOTFOUND] = "not found",
		[DT_ECONFLICT] = "conflict with the sandbox's name or state",
		[DT_EQUOTA] = "Daytona organisation limit reached",
		[DT_ERATELIMIT] = "Daytona is throttling requests",
		[DT_EUNAVAILABLE] = "Daytona is unavailable",
		[DT_EUPSTREAM] = "Daytona failed",
		[DT_EBADREQUEST] = "Daytona refused the request",
		[DT_ETOOLARGE] = "answer too large",
		[DT_EPROTO] = "Daytona answered something undecodable",
	};

	if ((unsigned)err >= DT__MAX || text[err] == NULL)
		return "unknown Daytona error";
	return text[err];
}

/*
 * Wait before attempt 'attempt' + 1, or -1 to stop.
 *
 * Only idempotent calls are retried.  Retried: network errors (no answer
 * at all: the request may not have arrived, and repeating an idempotent
 * call is harmless either way), 429 (throttled before any work), 502,
 * 503, 504 (a proxy or the API is momentarily unable).  Not retried: our
 * own timeout (the call already used its whole budget once), an answer
 * too large (it would be as large again), and every other status, which
 * says something about the request itself.
 *
 * The wait is exponential (base * 2^attempt, capped at max) with jitter in
 * [half, full] so that the threads of all workers do not retry in step.  A
 * server hint (Retry-After*) replaces the computed wait when it is longer:
 * it is the earliest moment the server will accept the call.
 */
long dt_retry_delay(const struct dt_retry_policy *pol, int idempotent,
    enum dt_err rc, long http_status, long retry_after_ms, int attempt,
    double jitter)
{
	long d;
	int shift;

	if (pol == NULL || !idempotent || attempt < 0 ||
	    attempt + 1 >= pol->max_attempts)
		return -1;
	if (rc == DT_OK) {
		if (http_status != 429 && http_status != 502 &&
		    http_status != 503 && http_status != 504)
			return -1;
	} else if (rc != DT_ENETWORK) {
		return -1;
	}
	shift = attempt < 20 ? attempt : 20;
	d = pol->base_ms << shift;
	if (d > pol->max_ms || d <= 0)
		d = pol->max_ms;
	if (jitter < 0.0)
		jitter = 0.0;
	if (jitter >= 1.0)
		jitter = 0.999999;
	d = d / 2 + (long)((double)(d - d / 2) * jitter);
	if (rc == DT_OK && retry_after_ms > d)
		d = retry_after_ms;
	return d;
}

/*
 * Retry-After (RFC 9110: delay-seconds or an HTTP-date) and Daytona's
 * per-throttler Retry-After-<name> (delay-seconds).  Header names are
 * case-insensitive.
 */
int dt_parse_retry_after(const char *line, size_t len, long now_epoch, long *ms)
{
	/* One parser for every outbound client: http_client's. */
	return hc_parse_retry_after(line, len, now_epoch, ms);
}

/* Copy 's' into 'out', keeping printable ASCII only (no control bytes or
 * escapes reach logs or API answers). */
static void copy_printable(char *out, size_t out_len, const char *s)
{
	size_t i = 0;

	if (out_len == 0)
		return;
	for (; s != NULL && *s != '\0' && i + 1 < out_len; s++) {
		unsigned char ch = (unsigned char)*s;

		out[i++] = ch >= 0x20 && ch < 0x7f ? (char)ch : ' ';
	}
	out[i] = '\0';
}

/*
 * Daytona reports organisation limits as 400 ("Total CPU limit exceeded.
 * Maximum allowed: 10.") or 403 ("Organization is suspended: ..."); the
 * words are the only signal, so match the ones its messages use.
 */
int dt_message_is_quota(const char *message)
{
	static const char *const words[] = {
		"quota", "limit exceeded", "limit reached", "maximum allowed",
		"maximum number", "suspended", "insufficient credit",
		"no available runners",
	};
	char lower[512];
	size_t i;

	if (message == NULL)
		return 0;
	for (i = 0; message[i] != '\0' && i + 1 < sizeof(lower); i++)
		lower[i] = (char)tolower((unsigned char)message[i]);
	lower[i] = '\0';
	for (i = 0; i < sizeof(words) / sizeof(words[0]); i++)
		if (strstr(lower, words[i]) != NULL)
			return 1;
	return 0;
}

/* Daytona's error body is {statusCode, error, message}; the toolbox's is
 * {message} or {error}.  Take the first text found. */
static void error_message(const char *body, size_t len, char *msg,
    size_t msg_len)
{
	struct json_tokener *tok;
	struct json_object *obj, *m = NULL;

	if (msg_len == 0)
		return;
	msg[0] = '\0';
	if (body == NULL || len == 0 || len > 65536)
		return;
	tok = json_tokener_new();
	if (tok == NULL)
		return;
	obj = json_tokener_parse_ex(tok, body, (int)len);
	json_tokener_free(tok);
	if (obj == NULL)
		return;
	if (json_object_is_type(obj, json_type_object) &&
	    ((json_object_object_get_ex(obj, "message", &m) &&
	    json_object_is_type(m, json_type_string)) ||
	    (json_object_object_get_ex(obj, "error", &m) &&
	    json_object_is_type(m, json_type_string))))
		copy_printable(msg, msg_len, json_object_get_string(m));
	json_object_put(obj);
}

enum dt_err dt_err_from_http(long status, const char *body, size_t len,
    char *msg, size_t msg_len)
{
	char local[256];

	if (msg == NULL || msg_len == 0) {
		msg = local;
		msg_len = sizeof(local);
	}
	msg[0] = '\0';
	if (status >= 200 && status < 300)
		return DT_OK;
	error_message(body, len, msg, msg_len);
	switch (status) {
	case 400:
	case 403:
		if (dt_message_is_quota(msg))
			return DT_EQUOTA;
		return status == 400 ? DT_EBADREQUEST : DT_EAUTH;
	case 401:
		return DT_EAUTH;
	case 404:
		return DT_ENOTFOUND;
	case 408:
		return DT_ETIMEOUT;
	case 409:
		return DT_ECONFLICT;
	case 413:
		return DT_ETOOLARGE;
	case 429:
		return DT_ERATELIMIT;
	case 503:
		return DT_EUNAVAILABLE;
	case 504:
		return DT_ETIMEOUT;
	default:
		if (status >= 500)
			return DT_EUPSTREAM;
		if (status >= 400)
			return DT_EBADREQUEST;
		/* 1xx/3xx: we never follow redirects, so this is junk. */
		return DT_EPROTO;
	}
}

/* Days from 1970-01-01 to y-m-d (proleptic Gregorian). */
static long long days_from_civil(long long y, unsigned m, unsigned d)
{
	long long era;
	unsigned yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = (unsigned)(y - era * 400);
	doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + (long long)doe - 719468;
}

/*
 * RFC 3339 ("2024-05-01T12:00:00.123Z", "...+02:00") as the API gives it,
 * and Go's time.String() ("2024-05-01 12:00:00.5 +0000 UTC") as the
 * toolbox's FileInfo.modTime gives it.
 */
long long dt_parse_time(const char *s)
{
	long long ms = dt_parse_time_ms(s);

	return ms > 0 ? ms / 1000 : 0;
}

long long dt_parse_time_ms(const char *s)
{
	int y, mo, d, h, mi, sec, n = 0, frac = 0, digits = 0;
	long long t;
	const char *p;
	int sign, oh, om;

	if (s == NULL)
		return 0;
	if (sscanf(s, "%4d-%2d-%2d%*1[T ]%2d:%2d:%2d%n", &y, &mo, &d, &h, &mi,
	    &sec, &n) != 6 || n == 0)
		return 0;
	if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 ||
	    sec > 60 || y < 1970)
		return 0;
	t = days_from_civil(y, (unsigned)mo, (unsigned)d) * 86400 +
	    h * 3600 + mi * 60 + sec;
	p = s + n;
	if (*p == '.')
		for (p++; isdigit((unsigned char)*p); p++)
			if (digits++ < 3)
				frac = frac * 10 + (*p - '0');
	while (digits > 0 && digits < 3) {
		frac *= 10;
		digits++;
	}
	t = t * 1000 + frac;
	while (*p == ' ')
		p++;
	if (*p == 'Z' || *p == '\0')
		return t;
	if (*p == '+' || *p == '-') {
		sign = *p == '-' ? -1 : 1;
		p++;
		if (sscanf(p, "%2d:%2d", &oh, &om) == 2 ||
		    sscanf(p, "%2d%2d", &oh, &om) == 2)
			t -= sign * (oh * 3600LL + om * 60LL) * 1000;
		return t;
	}
	return 0;
}

char *dt_url_escape(const char *s)
{
	size_t i, n, len;
	char *out;

	if (s == NULL)
		return NULL;
	len = strlen(s);
	if (len > (SIZE_MAX - 1) / 3)
		return NULL;
	out = malloc(len * 3 + 1);
	if (out == NULL)
		return NULL;
	for (i = 0, n = 0; i < len; i++) {
		unsigned char ch = (unsigned char)s[i];

		/* RFC 3986 unreserved characters pass as they are. */
		if (is_alnum((char)ch) || ch == '-' || ch == '_' || ch == '.' ||
		    ch == '~') {
			out[n++] = (char)ch;
		} else {
			out[n++] = '%';
			hex_encode(&ch, 1, out + n, 1);
			n += 2;
		}
	}
	out[n] = '\0';
	return out;
}
