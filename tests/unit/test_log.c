/*
 * test_log.c -- unit tests for app/log.c.
 *
 * stderr (fd 2) is redirected to a temporary file around each call under
 * test, and the bytes written are read back and parsed.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <sys/wait.h>

#include "log.h"

static FILE *cap_file;
static int cap_saved = -1;

static void
capture_start(void)
{
	fflush(stderr);
	cap_file = tmpfile();
	assert_non_null(cap_file);
	cap_saved = dup(STDERR_FILENO);
	assert_true(cap_saved >= 0);
	assert_true(dup2(fileno(cap_file), STDERR_FILENO) >= 0);
}

/* Stop capturing; returns what was written to fd 2 (caller frees). */
static char *
capture_end(size_t *len_out)
{
	long len;
	char *buf;

	fflush(stderr);
	dup2(cap_saved, STDERR_FILENO);
	close(cap_saved);
	cap_saved = -1;
	len = ftell(cap_file);
	assert_true(len >= 0);
	buf = calloc(1, (size_t)len + 1);
	assert_non_null(buf);
	rewind(cap_file);
	assert_int_equal(fread(buf, 1, (size_t)len, cap_file), (size_t)len);
	fclose(cap_file);
	cap_file = NULL;
	if (len_out != NULL)
		*len_out = (size_t)len;
	return buf;
}

static int
count_char(const char *s, char c)
{
	int n = 0;
	for (; *s != '\0'; s++)
		n += *s == c;
	return n;
}

/* Parse one captured line (without its newline) as a JSON object. */
static struct json_object *
parse_line(const char *text)
{
	struct json_object *obj = json_tokener_parse(text);
	assert_non_null(obj);
	assert_true(json_object_is_type(obj, json_type_object));
	return obj;
}

static const char *
get_str(struct json_object *obj, const char *key)
{
	struct json_object *v;
	assert_true(json_object_object_get_ex(obj, key, &v));
	return json_object_get_string(v);
}

static int
setup(void **state)
{
	(void)state;
	log_set_level(LOG_DEBUG);
	return 0;
}

/* A failed assertion while capturing must not swallow cmocka's report. */
static int
teardown(void **state)
{
	(void)state;
	if (cap_saved >= 0) {
		dup2(cap_saved, STDERR_FILENO);
		close(cap_saved);
		cap_saved = -1;
	}
	if (cap_file != NULL) {
		fclose(cap_file);
		cap_file = NULL;
	}
	return 0;
}

static void
test_begin_below_threshold_returns_null(void **state)
{
	(void)state;
	log_set_level(LOG_WARN);
	assert_null(log_begin(LOG_INFO, "x"));
	assert_null(log_begin(LOG_DEBUG, "x"));
	struct json_object *line = log_begin(LOG_WARN, "x");
	assert_non_null(line);
	json_object_put(line);
}

static void
test_enabled_follows_threshold(void **state)
{
	(void)state;
	log_set_level(LOG_INFO);
	assert_int_equal(log_get_level(), LOG_INFO);
	assert_false(log_enabled(LOG_DEBUG));
	assert_true(log_enabled(LOG_INFO));
	assert_true(log_enabled(LOG_ERROR));
	assert_false(log_enabled((enum log_level)42));
}

static void
test_line_has_standard_fields_in_order(void **state)
{
	(void)state;
	capture_start();
	log_end(log_begin(LOG_INFO, "start"));
	char *out = capture_end(NULL);

	const char *ts = strstr(out, "\"ts\"");
	const char *level = strstr(out, "\"level\"");
	const char *event = strstr(out, "\"event\"");
	const char *pid = strstr(out, "\"pid\"");
	assert_non_null(ts);
	assert_non_null(level);
	assert_non_null(event);
	assert_non_null(pid);
	assert_true(out[0] == '{' && ts == out + 1);
	assert_true(ts < level && level < event && event < pid);

	struct json_object *obj = parse_line(out);
	assert_string_equal(get_str(obj, "level"), "info");
	assert_string_equal(get_str(obj, "event"), "start");
	struct json_object *p;
	assert_true(json_object_object_get_ex(obj, "pid", &p));
	assert_int_equal(json_object_get_int64(p), (int64_t)getpid());
	json_object_put(obj);
	free(out);
}

static void
test_ts_is_utc_with_milliseconds(void **state)
{
	(void)state;
	regex_t re;
	struct tm tm;

	assert_int_equal(regcomp(&re, "^[0-9]{4}-[0-9]{2}-[0-9]{2}T"
	    "[0-9]{2}:[0-9]{2}:[0-9]{2}\\.[0-9]{3}Z$", REG_EXTENDED | REG_NOSUB),
	    0);
	time_t before = time(NULL);
	capture_start();
	log_end(log_begin(LOG_ERROR, "x"));
	char *out = capture_end(NULL);
	time_t after = time(NULL);

	struct json_object *obj = parse_line(out);
	const char *ts = get_str(obj, "ts");
	assert_int_equal(regexec(&re, ts, 0, NULL, 0), 0);
	memset(&tm, 0, sizeof(tm));
	assert_non_null(strptime(ts, "%Y-%m-%dT%H:%M:%S", &tm));
	time_t t = timegm(&tm);
	/* time() may lag CLOCK_REALTIME by a tick: allow a second. */
	assert_true(t >= before - 1 && t <= after + 1);
	regfree(&re);
	json_object_put(obj);
	free(out);
}

static void
test_end_writes_one_line_with_newline(void **state)
{
	(void)state;
	size_t len;

	capture_start();
	struct json_object *line = log_begin(LOG_INFO, "request");
	json_object_object_add(line, "status", json_object_new_int(200));
	log_end(line);
	char *out = capture_end(&len);

	assert_true(len > 2);
	assert_int_equal(out[len - 1], '\n');
	assert_int_equal(count_char(out, '\n'), 1);
	out[len - 1] = '\0';
	struct json_object *obj = parse_line(out);
	struct json_object *v;
	assert_true(json_object_object_get_ex(obj, "status", &v));
	assert_int_equal(json_object_get_int(v), 200);
	json_object_put(obj);
	free(out);
}

static void
test_slashes_are_not_escaped(void **state)
{
	(void)state;
	capture_start();
	struct json_object *line = log_begin(LOG_INFO, "request");
	json_object_object_add(line, "path",
	    json_object_new_string("/api/sandbox/create"));
	log_end(line);
	char *out = capture_end(NULL);
	assert_non_null(strstr(out, "\"path\":\"/api/sandbox/create\""));
	free(out);
}

static void
test_newline_in_field_stays_one_line(void **state)
{
	(void)state;
	capture_start();
	struct json_object *line = log_begin(LOG_INFO, "x");
	json_object_object_add(line, "path",
	    json_object_new_string("/a\nb\r\n"));
	log_end(line);
	char *out = capture_end(NULL);
	assert_int_equal(count_char(out, '\n'), 1);
	free(out);
}

/* Every line written while a request is served names it, whichever
 * module writes the line; none does before or after. */
static void
test_request_id_on_every_line_while_serving(void **state)
{
	(void)state;
	capture_start();
	log_msg(LOG_INFO, "before", "x");
	log_set_request_id("req-42");
	log_msg(LOG_WARN, "during", "y");
	log_end(log_begin(LOG_INFO, "also_during"));
	log_set_request_id(NULL);
	log_msg(LOG_INFO, "after", "z");
	char *out = capture_end(NULL);
	assert_int_equal(count_char(out, '\n'), 4);
	char *during = strstr(out, "\"during\"");
	char *also = strstr(out, "\"also_during\"");
	char *after = strstr(out, "\"after\"");
	assert_non_null(during);
	assert_non_null(also);
	assert_non_null(after);
	/* The first id is on the "during" line, the second on the next. */
	char *first = strstr(out, "\"request_id\":\"req-42\"");
	assert_non_null(first);
	assert_true(first > during && first < also);
	char *second = strstr(first + 1, "\"request_id\":\"req-42\"");
	assert_non_null(second);
	assert_true(second > also && second < after);
	assert_null(strstr(second + 12, "request_id"));
	free(out);
}

static void
test_long_line_is_written_whole(void **state)
{
	(void)state;
	size_t len;
	char big[10000];

	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	capture_start();
	struct json_object *line = log_begin(LOG_INFO, "x");
	json_object_object_add(line, "big", json_object_new_string(big));
	log_end(line);
	char *out = capture_end(&len);
	assert_true(len > sizeof(big));
	assert_int_equal(out[len - 1], '\n');
	assert_int_equal(count_char(out, '\n'), 1);
	out[len - 1] = '\0';
	struct json_object *obj = parse_line(out);
	assert_int_equal(strlen(get_str(obj, "big")), sizeof(big) - 1);
	json_object_put(obj);
	free(out);
}

static void
test_end_null_writes_nothing(void **state)
{
	(void)state;
	size_t len;
	capture_start();
	log_end(NULL);
	char *out = capture_end(&len);
	assert_int_equal(len, 0);
	free(out);
}

static void
test_msg_formats_message(void **state)
{
	(void)state;
	capture_start();
	log_msg(LOG_WARN, "worker_exit", "worker %d exited with status %s", 42,
	    "1");
	char *out = capture_end(NULL);
	struct json_object *obj = parse_line(out);
	assert_string_equal(get_str(obj, "level"), "warn");
	assert_string_equal(get_str(obj, "event"), "worker_exit");
	assert_string_equal(get_str(obj, "msg"), "worker 42 exited with status 1");
	json_object_put(obj);
	free(out);
}

static void
test_msg_below_threshold_writes_nothing(void **state)
{
	(void)state;
	size_t len;
	log_set_level(LOG_ERROR);
	capture_start();
	log_msg(LOG_INFO, "x", "hello");
	char *out = capture_end(&len);
	assert_int_equal(len, 0);
	free(out);
}

static void
test_level_parse_accepts_names_any_case(void **state)
{
	(void)state;
	enum log_level l = LOG_ERROR;
	assert_int_equal(log_level_parse("debug", &l), 0);
	assert_int_equal(l, LOG_DEBUG);
	assert_int_equal(log_level_parse("INFO", &l), 0);
	assert_int_equal(l, LOG_INFO);
	assert_int_equal(log_level_parse("Warn", &l), 0);
	assert_int_equal(l, LOG_WARN);
	assert_int_equal(log_level_parse("warning", &l), 0);
	assert_int_equal(l, LOG_WARN);
	assert_int_equal(log_level_parse("error", &l), 0);
	assert_int_equal(l, LOG_ERROR);
}

static void
test_level_parse_rejects_unknown(void **state)
{
	(void)state;
	enum log_level l = LOG_INFO;
	assert_int_equal(log_level_parse("verbose", &l), -1);
	assert_int_equal(log_level_parse("", &l), -1);
	assert_int_equal(log_level_parse(NULL, &l), -1);
	assert_int_equal(l, LOG_INFO);
}

static void
test_level_names(void **state)
{
	(void)state;
	assert_string_equal(log_level_name(LOG_DEBUG), "debug");
	assert_string_equal(log_level_name(LOG_INFO), "info");
	assert_string_equal(log_level_name(LOG_WARN), "warn");
	assert_string_equal(log_level_name(LOG_ERROR), "error");
	assert_string_equal(log_level_name((enum log_level)99), "unknown");
}

/* The request line as log_begin() + log_end() write it. */
static void
request_line_by_json_c(enum log_level level, const char *method,
    const char *path, int status, long long us)
{
	struct json_object *line = log_begin(level, "request");
	double ms = (double)us / 1e3;
	char num[32];

	json_object_object_add(line, "method",
	    json_object_new_string(method ? method : "-"));
	json_object_object_add(line, "path",
	    json_object_new_string(path ? path : "-"));
	json_object_object_add(line, "status", json_object_new_int(status));
	snprintf(num, sizeof(num), "%.3f", ms);
	json_object_object_add(line, "duration_ms",
	    json_object_new_double_s(ms, num));
	log_end(line);
}

/* Both writers, one line each; equal once the timestamps are cut off
 * ({"ts":"2026-12-04T10:00:00.123Z" is 31 bytes). */
static void
assert_same_request_line(enum log_level level, const char *method,
    const char *path, int status, long long us)
{
	char *out, *nl;
	size_t len;

	capture_start();
	log_request(level, method, path, status, us);
	request_line_by_json_c(level, method, path, status, us);
	out = capture_end(&len);
	nl = strchr(out, '\n');
	assert_non_null(nl);
	assert_int_equal(out + len - (nl + 1), nl + 1 - out);
	assert_true(nl - out > 31);
	if (memcmp(out + 31, nl + 1 + 31, (size_t)(nl - out) - 31) != 0)
		fail_msg("fast:   %.*s\njson-c: %s", (int)(nl - out), out, nl + 1);
	free(out);
}

static void
test_request_line_matches_json_c(void **state)
{
	char every[256], *longpath;
	size_t n = 0;

	(void)state;
	for (int c = 1; c < 256; c++)
		every[n++] = (char)c;
	every[n] = '\0';
	longpath = malloc(5001);
	assert_non_null(longpath);
	for (size_t i = 0; i < 5000; i++)
		longpath[i] = "/\"\\\n"[i % 4];
	longpath[5000] = '\0';
	assert_same_request_line(LOG_INFO, "GET", "/", 200, 123);
	assert_same_request_line(LOG_ERROR, "POST", "/api/x", 503, 1234567);
	assert_same_request_line(LOG_INFO, NULL, NULL, 400, 0);
	assert_same_request_line(LOG_INFO, "GET", every, 404, 4);
	assert_same_request_line(LOG_INFO, "GET", longpath, 404, 2500);
	assert_same_request_line(LOG_INFO, "GET", "/", 200, 86400123456LL);
	for (long long us = 0; us < 3000; us += 7)
		assert_same_request_line(LOG_WARN, "PUT", "/p", 201, us);
	log_set_request_id("req-\"1\"");
	assert_same_request_line(LOG_INFO, "HEAD", "/ready", 200, 10);
	log_set_request_id(NULL);
	free(longpath);
}

/* Any line built with log_line_* equals the json-c one: strings with
 * escapes, negative and large integers, in the order given. */
static void
test_log_line_fields_match_json_c(void **state)
{
	static const long long ints[] = { 0, -1, 42, -9223372036854775807LL,
	    9223372036854775807LL };
	struct log_line l;
	struct json_object *j;
	char *out, *nl;
	size_t len;

	(void)state;
	for (size_t i = 0; i < sizeof(ints) / sizeof(ints[0]); i++) {
		capture_start();
		assert_int_equal(log_line_begin(&l, LOG_WARN, "ev\"t"), 0);
		log_line_str(&l, "fn", "omni-\ttest");
		log_line_int(&l, "n", ints[i]);
		log_line_str(&l, "k\\ey", "");
		log_line_end(&l);
		j = log_begin(LOG_WARN, "ev\"t");
		json_object_object_add(j, "fn",
		    json_object_new_string("omni-\ttest"));
		json_object_object_add(j, "n", json_object_new_int64(ints[i]));
		json_object_object_add(j, "k\\ey", json_object_new_string(""));
		log_end(j);
		out = capture_end(&len);
		nl = strchr(out, '\n');
		assert_non_null(nl);
		if (memcmp(out + 31, nl + 1 + 31, (size_t)(nl - out) - 31) != 0)
			fail_msg("fast:   %.*s\njson-c: %s", (int)(nl - out),
			    out, nl + 1);
		free(out);
	}
	log_set_level(LOG_ERROR);
	assert_int_equal(log_line_begin(&l, LOG_WARN, "x"), -1);
}

static void
test_request_line_below_threshold_writes_nothing(void **state)
{
	char *out;
	size_t len;

	(void)state;
	log_set_level(LOG_WARN);
	capture_start();
	log_request(LOG_INFO, "GET", "/", 200, 1000);
	out = capture_end(&len);
	assert_int_equal(len, 0);
	free(out);
	capture_start();
	log_request(LOG_ERROR, "GET", "/", 500, 1000);
	out = capture_end(&len);
	assert_true(len > 0);
	free(out);
}

/* Fields a handler adds land in that request's access line, escaped, in
 * order, once; a new request id drops any left over; one that does not fit
 * is dropped whole. */
static void
test_request_line_carries_added_fields_once(void **state)
{
	struct json_object *line, *v;
	char *out, big[LOG_REQUEST_EXTRA_MAX];
	size_t len;

	(void)state;
	capture_start();
	log_request_add_str("fn", "omni-a\"b");
	log_request_add_int("attempt", -2);
	log_request(LOG_INFO, "POST", "/api/inngest", 206, 1500);
	log_request(LOG_INFO, "GET", "/", 200, 1);
	out = capture_end(&len);
	assert_int_equal(count_char(out, '\n'), 2);
	*strchr(out, '\n') = '\0';
	assert_non_null(strstr(out, ",\"duration_ms\":1.500,\"fn\":"
	    "\"omni-a\\\"b\",\"attempt\":-2}"));
	line = parse_line(out);
	assert_string_equal(get_str(line, "fn"), "omni-a\"b");
	json_object_put(line);
	line = parse_line(out + strlen(out) + 1);
	assert_false(json_object_object_get_ex(line, "fn", &v));
	json_object_put(line);
	free(out);

	/* Left over from a request that wrote no access line. */
	log_request_add_str("fn", "stale");
	log_set_request_id("next");
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	log_request_add_str("too_long", big);
	log_request_add_int("ops", 1);
	capture_start();
	log_request(LOG_INFO, "GET", "/", 200, 1);
	out = capture_end(&len);
	log_set_request_id(NULL);
	assert_null(strstr(out, "stale"));
	assert_null(strstr(out, "too_long"));
	assert_non_null(strstr(out, ",\"ops\":1}"));
	free(out);
}

/* The pid is read once per process: a forked child must log its own. */
static void
test_pid_after_fork_is_the_childs(void **state)
{
	int fds[2], status;
	char buf[512] = "";
	pid_t kid;
	ssize_t n;

	(void)state;
	log_msg(LOG_INFO, "before_fork", "x"); /* the parent's pid cached */
	assert_int_equal(pipe(fds), 0);
	kid = fork();
	assert_true(kid >= 0);
	if (kid == 0) {
		dup2(fds[1], STDERR_FILENO);
		log_request(LOG_INFO, "GET", "/", 200, 1);
		_exit(0);
	}
	close(fds[1]);
	n = read(fds[0], buf, sizeof(buf) - 1);
	close(fds[0]);
	assert_int_equal(waitpid(kid, &status, 0), kid);
	assert_true(n > 0);
	buf[n] = '\0';
	{
		struct json_object *line = parse_line(buf);
		struct json_object *pid;

		assert_true(json_object_object_get_ex(line, "pid", &pid));
		assert_int_equal(json_object_get_int64(pid), kid);
		json_object_put(line);
	}
}

int
main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
	const struct CMUnitTest tests[] = {
		T(test_begin_below_threshold_returns_null),
		T(test_enabled_follows_threshold),
		T(test_line_has_standard_fields_in_order),
		T(test_ts_is_utc_with_milliseconds),
		T(test_end_writes_one_line_with_newline),
		T(test_slashes_are_not_escaped),
		T(test_newline_in_field_stays_one_line),
		T(test_request_id_on_every_line_while_serving),
		T(test_long_line_is_written_whole),
		T(test_end_null_writes_nothing),
		T(test_msg_formats_message),
		T(test_msg_below_threshold_writes_nothing),
		T(test_level_parse_accepts_names_any_case),
		T(test_level_parse_rejects_unknown),
		T(test_level_names),
		T(test_request_line_matches_json_c),
		T(test_log_line_fields_match_json_c),
		T(test_request_line_below_threshold_writes_nothing),
		T(test_request_line_carries_added_fields_once),
		T(test_pid_after_fork_is_the_childs),
	};
	return cmocka_run_group_tests_name("log", tests, NULL, NULL);
}
