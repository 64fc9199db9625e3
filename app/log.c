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

/* Fields a handler added to the access line of that request
 * (log_request_add_*), rendered, until log_request writes them. */
static _Thread_local char request_extra[LOG_REQUEST_EXTRA_MAX];
static _Thread_local size_t request_extra_len;

void log_set_request_id(const char *id)
{
	size_t n = id != NULL ? strnlen(id, sizeof(current_request) - 1) : 0;

	memcpy(current_request, id != NULL ? id : "", n);
	current_request[n] = '\0';
	request_extra_len = 0;  /* a new request, or none: nothing carried */
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

/* ---- lines built straight into a buffer (log_line_*) ---- */

/* Make room for 'n' more bytes: the stack buffer first, then the heap. */
static int line_room(struct log_line *l, size_t n)
{
	size_t cap;
	char *grown;

	if (l->failed)
		return -1;
	if (l->len + n <= l->cap)
		return 0;
	cap = (l->len + n) * 2;
	grown = l->buf == l->small ? malloc(cap) : realloc(l->buf, cap);
	if (grown == NULL) {
		l->failed = 1;
		return -1;
	}
	if (l->buf == l->small)
		memcpy(grown, l->small, l->len);
	l->buf = grown;
	l->cap = cap;
	return 0;
}

static void line_bytes(struct log_line *l, const char *s, size_t n)
{
	if (line_room(l, n) != 0)
		return;
	memcpy(l->buf + l->len, s, n);
	l->len += n;
}

#define LINE_LIT(l, lit) line_bytes(l, lit, sizeof(lit) - 1)

/* 'v' in decimal, with at least 'min_digits' digits. */
static void line_uint(struct log_line *l, unsigned long long v,
    int min_digits)
{
	char digits[24];
	int n = 0;

	do {
		digits[sizeof(digits) - 1 - n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v > 0 || n < min_digits);
	line_bytes(l, digits + sizeof(digits) - n, (size_t)n);
}

/*
 * 's' as a JSON string, quotes included, escaped as json-c escapes it
 * with JSON_C_TO_STRING_NOSLASHESCAPE: the short escapes for \b \t \n \f
 * \r " and backslash, \u00xx for the other control characters, every
 * other byte as it is.
 */
static void line_string(struct log_line *l, const char *s)
{
	static const char hex[] = "0123456789abcdef";

	if (line_room(l, strlen(s) * 6 + 2) != 0)
		return;
	l->buf[l->len++] = '"';
	for (; *s != '\0'; s++) {
		unsigned char c = (unsigned char)*s;
		char esc = 0;

		switch (c) {
		case '\b': esc = 'b'; break;
		case '\t': esc = 't'; break;
		case '\n': esc = 'n'; break;
		case '\f': esc = 'f'; break;
		case '\r': esc = 'r'; break;
		case '"': esc = '"'; break;
		case '\\': esc = '\\'; break;
		default: break;
		}
		if (esc != 0) {
			l->buf[l->len++] = '\\';
			l->buf[l->len++] = esc;
		} else if (c < 0x20) {
			memcpy(l->buf + l->len, "\\u00", 4);
			l->buf[l->len + 4] = hex[c >> 4];
			l->buf[l->len + 5] = hex[c & 0xf];
			l->len += 6;
		} else {
			l->buf[l->len++] = (char)c;
		}
	}
	l->buf[l->len++] = '"';
}

static void line_key(struct log_line *l, const char *name)
{
	LINE_LIT(l, ",");
	line_string(l, name);
	LINE_LIT(l, ":");
}

/* An empty line to render fields into, without the standard ones. */
static void fields_begin(struct log_line *l)
{
	l->buf = l->small;
	l->len = 0;
	l->cap = sizeof(l->small);
	l->failed = 0;
}

int log_line_begin(struct log_line *l, enum log_level level,
    const char *event)
{
	char ts[40];

	if (!log_enabled(level))
		return -1;
	fields_begin(l);
	time_rfc3339_now(ts, sizeof(ts));
	LINE_LIT(l, "{\"ts\":");
	line_string(l, ts);
	LINE_LIT(l, ",\"level\":");
	line_string(l, level_names[level]);
	LINE_LIT(l, ",\"event\":");
	line_string(l, event != NULL ? event : "");
	LINE_LIT(l, ",\"pid\":");
	line_uint(l, (unsigned long long)log_pid(), 1);
	if (current_request[0] != '\0')
		log_line_str(l, "request_id", current_request);
	return 0;
}

void log_line_str(struct log_line *l, const char *name, const char *value)
{
	line_key(l, name);
	line_string(l, value != NULL ? value : "");
}

void log_line_int(struct log_line *l, const char *name, long long value)
{
	line_key(l, name);
	if (value < 0) {
		LINE_LIT(l, "-");
		line_uint(l, (unsigned long long)0 - (unsigned long long)value,
		    1);
	} else {
		line_uint(l, (unsigned long long)value, 1);
	}
}

void log_line_ms(struct log_line *l, const char *name, long long us)
{
	if (us < 0)
		us = 0;
	line_key(l, name);
	/* As "%.3f" prints us / 1000: the decimals are exact. */
	line_uint(l, (unsigned long long)(us / 1000), 1);
	LINE_LIT(l, ".");
	line_uint(l, (unsigned long long)(us % 1000), 3);
}

void log_line_end(struct log_line *l)
{
	LINE_LIT(l, "}\n");
	if (!l->failed)
		write_all(l->buf, l->len);
	if (l->buf != l->small)
		free(l->buf);
	l->buf = l->small;
	l->len = 0;
}

/* Keep what 'l' rendered for the access line, whole or not at all. */
static void fields_keep(struct log_line *l)
{
	if (!l->failed &&
	    l->len <= sizeof(request_extra) - request_extra_len) {
		memcpy(request_extra + request_extra_len, l->buf, l->len);
		request_extra_len += l->len;
	}
	if (l->buf != l->small)
		free(l->buf);
}

void log_request_add_str(const char *name, const char *value)
{
	struct log_line l;

	fields_begin(&l);
	log_line_str(&l, name, value);
	fields_keep(&l);
}

void log_request_add_int(const char *name, long long value)
{
	struct log_line l;

	fields_begin(&l);
	log_line_int(&l, name, value);
	fields_keep(&l);
}

void log_request(enum log_level level, const char *method, const char *path,
    int status, long long duration_us)
{
	struct log_line l;
	size_t extra = request_extra_len;

	request_extra_len = 0;
	if (log_line_begin(&l, level, "request") != 0)
		return;
	log_line_str(&l, "method", method != NULL ? method : "-");
	log_line_str(&l, "path", path != NULL ? path : "-");
	log_line_int(&l, "status", status);
	log_line_ms(&l, "duration_ms", duration_us);
	if (extra > 0)
		line_bytes(&l, request_extra, extra);
	log_line_end(&l);
}
