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

/* The request the calling thread is serving (fcgi_io.c sets it), so that
 * every line written meanwhile, by any module, names it. */
static _Thread_local char current_request[72];

void log_set_request_id(const char *id)
{
	if (id == NULL)
		current_request[0] = '\0';
	else
		snprintf(current_request, sizeof(current_request), "%s", id);
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
	    json_object_new_int64((int64_t)getpid()));
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
