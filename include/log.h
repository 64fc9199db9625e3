/*
 * log.h -- structured logging: one JSON object per line on stderr.
 *
 * Every line carries "ts" (RFC 3339 UTC with milliseconds), "level",
 * "event" and "pid", and, while the thread serves a request, its
 * "request_id" (log_set_request_id), whichever module writes the line.  NGINX, Caddy or the supervisor collect stderr.
 * Lines below the threshold set by log_set_level() cost one comparison:
 * log_begin() returns NULL and no field is built.
 *
 * Never pass a secret (API key, signing key, JWT) or user text (request
 * bodies, prompts, file contents) to these functions: the log is read by
 * operators, not by the user.
 *
 * Thread safety: each line is written with a single write(2) so lines from
 * threads and processes sharing stderr do not interleave.
 */
#ifndef OMNI_LOG_H
#define OMNI_LOG_H

#include <json-c/json.h>

enum log_level {
	LOG_DEBUG = 0,
	LOG_INFO,
	LOG_WARN,
	LOG_ERROR,
	LOG__MAX
};

/* Set the threshold; lines below it are dropped.  Not thread safe: call
 * before threads start (at start-up and after a reload in the master). */
void log_set_level(enum log_level level);

/* Current threshold. */
enum log_level log_get_level(void);

/* Would a line at 'level' be written? */
int log_enabled(enum log_level level);

/* "debug", "info", "warn", "error". */
const char *log_level_name(enum log_level level);

/* Parse a level name (case-insensitive; "warning" accepted).  Returns 0 and
 * sets '*out', or -1 if 'name' is not a level. */
int log_level_parse(const char *name, enum log_level *out);

/*
 * Start a line: returns a new JSON object with ts, level, event and pid set,
 * or NULL when 'level' is filtered out.  Add fields with json-c, then hand
 * the object to log_end(), which writes and frees it (NULL is accepted).
 */
struct json_object *log_begin(enum log_level level, const char *event);

/* The request id the calling thread's lines carry from now on (copied;
 * at most 64 characters are kept); NULL when the request is done. */
void log_set_request_id(const char *id);
void log_end(struct json_object *line);

/*
 * Lines on hot paths, built field by field straight into one buffer
 * rather than as a json-c object: the same standard fields (ts, level,
 * event, pid, request_id), order and escaping as log_begin() and
 * log_end() write (test_log.c compares the two), at a fraction of the
 * cost.  log_line_begin() returns 0 when 'level' passes the threshold --
 * then add fields in order and call log_line_end(), which writes the
 * line with one write(2) and releases it -- or -1, with nothing to end.
 * A line that outgrows the struct's buffer moves to the heap; out of
 * memory, it is dropped.
 */
struct log_line {
	char small[1024];
	char *buf;      /* 'small', or the heap */
	size_t len, cap;
	int failed;
};

int log_line_begin(struct log_line *l, enum log_level level,
    const char *event);
void log_line_str(struct log_line *l, const char *name, const char *value);
void log_line_int(struct log_line *l, const char *name, long long value);
/* 'us' microseconds as milliseconds with three decimals (duration_ms). */
void log_line_ms(struct log_line *l, const char *name, long long us);
void log_line_end(struct log_line *l);

/* The access line of one request, the most frequent line by far:
 * method and path (NULL: "-"), status, duration_ms from 'duration_us',
 * then the fields the handler added (below), which it consumes. */
void log_request(enum log_level level, const char *method, const char *path,
    int status, long long duration_us);

/*
 * Fields for the access line of the request the calling thread serves,
 * so that a handler says what it did in that one line (a call request
 * names its function and run) instead of writing a second one.  Kept per
 * thread, in order, until log_request() writes them; log_set_request_id()
 * drops any left over.  At most LOG_REQUEST_EXTRA_MAX bytes rendered: a
 * field that does not fit is dropped whole.  The same rule as every line:
 * no secrets, no user text.
 */
#define LOG_REQUEST_EXTRA_MAX 512
void log_request_add_str(const char *name, const char *value);
void log_request_add_int(const char *name, long long value);

/* One line with a "msg" field formatted printf-style.  The text must not
 * contain secrets or user data. */
void log_msg(enum log_level level, const char *event, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif
