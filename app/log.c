/*
 * log.c -- structured logging: one JSON object per line on stderr.
 *
 * A line is built as a json-c object (log_begin), serialised once and
 * written with a single write(2) to fd 2 (log_end), so that lines from the
 * threads of a worker and from the processes of the pool, which all share
 * the same stderr, never interleave.  See include/log.h.
 */
#include "log.h"
#include "timeutil.h"

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

/*
 * The threshold.  Written only before threads start (start-up, and in the
 * master after a reload, before it forks new workers), read without locks.
 */
static enum log_level log_threshold = LOG_INFO;

static const char *const level_names[LOG__MAX] = {
	[LOG_DEBUG] = "debug",
	[LOG_INFO] = "info",
	[LOG_WARN] = "warn",
	[LOG_ERROR] = "error",
};

void log_set_level(enum log_level level)
{
	if ((unsigned)level >= LOG__MAX)
		level = LOG_ERROR;
	log_threshold = level;
}

enum log_level log_get_level(void)
{
	return log_threshold;
}

int log_enabled(enum log_level level)
{
	return (unsigned)level < LOG__MAX && level >= log_threshold;
}

const char *log_level_name(enum log_level level)
{
	if ((unsigned)level >= LOG__MAX)
		return "unknown";
	return level_names[level];
}

int log_level_parse(const char *name, enum log_level *out)
{
	if (name == NULL)
		return -1;
	for (int i = 0; i < LOG__MAX; i++) {
		if (strcasecmp(name, level_names[i]) == 0) {
			*out = (enum log_level)i;
			return 0;
		}
	}
	if (strcasecmp(name, "warning") == 0) {
		*out = LOG_WARN;
		return 0;
	}
	return -1;
}

/*
 * getpid() is a system call on this libc, and every line carries the pid:
 * it is read once per process.  A fork resets it in the child (the pool
 * forks its workers after lines were written).
 */
static pid_t cached_pid;
static pthread_once_t pid_once = PTHREAD_ONCE_INIT;

static void forget_pid(void)
{
	cached_pid = 0;
}

static void watch_forks(void)
{
	pthread_atfork(NULL, NULL, forget_pid);
}

static long log_pid(void)
{
	pthread_once(&pid_once, watch_forks);
	if (cached_pid == 0)
		cached_pid = getpid();
	return (long)cached_pid;
}

/* The request the calling thread is serving (fcgi_io.c sets it), so that
 * every line written meanwhile, by any module, names it. */
static _Thread_local char current_request[72];

void log_set_request_id(const char *id)
{
	size_t n = id != NULL ? strnlen(id, sizeof(current_request) - 1) : 0;

	memcpy(current_request, id != NULL ? id : "", n);
	current_request[n] = '\0';
}

struct json_object *log_begin(enum log_level level, const char *event)
{
	char ts[40];
	struct json_object *line;

	if (!log_enabled(level))
		return NULL;
	line = json_object_new_object();
	if (line == NULL)
		return NULL;
	time_rfc3339_now(ts, sizeof(ts));
	/* json-c keeps insertion order: ts, level, event, pid lead every line. */
	json_object_object_add(line, "ts", json_object_new_string(ts));
	json_object_object_add(line, "level",
	    json_object_new_string(level_names[level]));
	json_object_object_add(line, "event",
	    json_object_new_string(event != NULL ? event : ""));
	json_object_object_add(line, "pid",
	    json_object_new_int64((int64_t)log_pid()));
	if (current_request[0] != '\0')
		json_object_object_add(line, "request_id",
		    json_object_new_string(current_request));
	return line;
}

/* Write all of 'buf', retrying on EINTR and short writes. */
static void write_all(const char *buf, size_t len)
{
	while (len > 0) {
		ssize_t n = write(STDERR_FILENO, buf, len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return; /* nowhere left to report it */
		}
		buf += n;
		len -= (size_t)n;
	}
}

void log_end(struct json_object *line)
{
	char small[2048];
	const char *text;
	size_t len;
	char *buf;

	if (line == NULL)
		return;
	text = json_object_to_json_string_length(line,
	    JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE, &len);
	if (text == NULL) {
		json_object_put(line);
		return;
	}
	/* Copy so that the newline goes out in the same write(2). */
	buf = len + 1 <= sizeof(small) ? small : malloc(len + 1);
	if (buf != NULL) {
		memcpy(buf, text, len);
		buf[len] = '\n';
		write_all(buf, len + 1);
		if (buf != small)
			free(buf);
	} else {
		write_all(text, len); /* out of memory: two writes beat none */
		write_all("\n", 1);
	}
	json_object_put(line);
}

void log_msg(enum log_level level, const char *event, const char *fmt, ...)
{
	struct json_object *line;
	va_list ap;
	char *msg = NULL;
	int n;

	line = log_begin(level, event);
	if (line == NULL)
		return;
	va_start(ap, fmt);
	n = vasprintf(&msg, fmt, ap);
	va_end(ap);
	if (n >= 0) {
		json_object_object_add(line, "msg", json_object_new_string(msg));
		free(msg);
	}
	log_end(line);
}

/*
 * Append 's' as a JSON string (quotes included) to 'out' at '*used', as
 * json-c escapes it with JSON_C_TO_STRING_NOSLASHESCAPE: the short escapes
 * for \b \t \n \f \r " and backslash, \u00xx for the other control
 * characters, every other byte as it is.  Returns -1 when 'cap' is too
 * small (nothing is promised about 'out' then).
 */
static int put_json_string(char *out, size_t cap, size_t *used,
    const char *s)
{
	static const char hex[] = "0123456789abcdef";
	size_t o = *used;

	if (o + 1 > cap)
		return -1;
	out[o++] = '"';
	for (; *s != '\0'; s++) {
		unsigned char c = (unsigned char)*s;
		const char *esc = NULL;

		switch (c) {
		case '\b': esc = "\\b"; break;
		case '\t': esc = "\\t"; break;
		case '\n': esc = "\\n"; break;
		case '\f': esc = "\\f"; break;
		case '\r': esc = "\\r"; break;
		case '"': esc = "\\\""; break;
		case '\\': esc = "\\\\"; break;
		default: break;
		}
		if (o + 7 > cap)
			return -1;
		if (esc != NULL) {
			out[o++] = esc[0];
			out[o++] = esc[1];
		} else if (c < 0x20) {
			memcpy(out + o, "\\u00", 4);
			out[o + 4] = hex[c >> 4];
			out[o + 5] = hex[c & 0xf];
			o += 6;
		} else {
			out[o++] = (char)c;
		}
	}
	if (o + 1 > cap)
		return -1;
	out[o++] = '"';
	*used = o;
	return 0;
}

/* Append 'n' bytes; -1 when they do not fit. */
static int put_bytes(char *out, size_t cap, size_t *used, const char *s,
    size_t n)
{
	if (n > cap - *used)
		return -1;
	memcpy(out + *used, s, n);
	*used += n;
	return 0;
}

#define PUT_LIT(out, cap, used, lit) \
	put_bytes(out, cap, used, lit, sizeof(lit) - 1)

/* Append 'v' in decimal, with at least 'min_digits' digits. */
static int put_uint(char *out, size_t cap, size_t *used,
    unsigned long long v, int min_digits)
{
	char digits[24];
	int n = 0;

	do {
		digits[sizeof(digits) - 1 - n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v > 0 || n < min_digits);
	return put_bytes(out, cap, used, digits + sizeof(digits) - n,
	    (size_t)n);
}

static int format_request(char *out, size_t cap, size_t *used,
    enum log_level level, const char *method, const char *path, int status,
    long long us)
{
	const char *lname = level_names[level];
	char ts[40];

	if (us < 0)
		us = 0;
	time_rfc3339_now(ts, sizeof(ts));
	if (PUT_LIT(out, cap, used, "{\"ts\":\"") != 0 ||
	    put_bytes(out, cap, used, ts, strlen(ts)) != 0 ||
	    PUT_LIT(out, cap, used, "\",\"level\":\"") != 0 ||
	    put_bytes(out, cap, used, lname, strlen(lname)) != 0 ||
	    PUT_LIT(out, cap, used, "\",\"event\":\"request\",\"pid\":") != 0 ||
	    put_uint(out, cap, used, (unsigned long long)log_pid(), 1) != 0)
		return -1;
	if (current_request[0] != '\0' &&
	    (PUT_LIT(out, cap, used, ",\"request_id\":") != 0 ||
	    put_json_string(out, cap, used, current_request) != 0))
		return -1;
	/* duration_ms as "%.3f" of us / 1000 prints it: exact decimals. */
	if (PUT_LIT(out, cap, used, ",\"method\":") != 0 ||
	    put_json_string(out, cap, used, method != NULL ? method : "-") != 0 ||
	    PUT_LIT(out, cap, used, ",\"path\":") != 0 ||
	    put_json_string(out, cap, used, path != NULL ? path : "-") != 0 ||
	    PUT_LIT(out, cap, used, ",\"status\":") != 0 ||
	    (status < 0 && PUT_LIT(out, cap, used, "-") != 0) ||
	    put_uint(out, cap, used, (unsigned long long)(status < 0 ?
	    -(long long)status : status), 1) != 0 ||
	    PUT_LIT(out, cap, used, ",\"duration_ms\":") != 0 ||
	    put_uint(out, cap, used, (unsigned long long)(us / 1000), 1) != 0 ||
	    PUT_LIT(out, cap, used, ".") != 0 ||
	    put_uint(out, cap, used, (unsigned long long)(us % 1000), 3) != 0)
		return -1;
	return PUT_LIT(out, cap, used, "}\n");
}

void log_request(enum log_level level, const char *method, const char *path,
    int status, long long duration_us)
{
	char small[1024];
	size_t used = 0, cap;
	char *big;

	if (!log_enabled(level))
		return;
	if (format_request(small, sizeof(small), &used, level, method, path,
	    status, duration_us) == 0) {
		write_all(small, used);
		return;
	}
	/* A long path: room for every byte escaped six times over. */
	cap = sizeof(small) + (path != NULL ? strlen(path) * 6 : 0);
	if ((big = malloc(cap)) == NULL)
		return;
	used = 0;
	if (format_request(big, cap, &used, level, method, path, status,
	    duration_us) == 0)
		write_all(big, used);
	free(big);
}
