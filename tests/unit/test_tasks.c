/*
 * test_tasks.c -- a task's files in its sandbox (app/tasks.c, tasks.h) on
 * the local provider, unsandboxed, in a temporary data directory: message
 * order, the cap on their number, the UTF-8 cut of their text, damaged
 * lines skipped, task ids that could leave the task folder refused, the
 * result and queued marker round trips, and damaged files read as
 * missing.  The files are also looked at on disk, where a command in the
 * sandbox would see them.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <json-c/json.h>

#include "json_util.h"
#include "log.h"
#include "rm_tree.h"
#include "sandbox.h"
#include "sandbox_local.h"
#include "tasks.h"

static char dir[64];
static struct sbx_provider *p;
static struct sbx_info sbx;

static int setup(void **state)
{
	struct sbx_local_opts o;

	(void)state;
	log_set_level(LOG_ERROR);
	snprintf(dir, sizeof(dir), "/tmp/omni-tasks-test-XXXXXX");
	if (mkdtemp(dir) == NULL)
		return -1;
	memset(&o, 0, sizeof(o));
	o.data_dir = dir;
	o.unsandboxed = 1;
	o.bwrap = "/nonexistent/bwrap"; /* no isolation needed for files */
	if (sbx_local_new_opts(&o, &p, NULL, 0) != SBX_OK)
		return -1;
	return sbx_ensure_for_user(p, "alice", &sbx, NULL) == SBX_OK ? 0 : -1;
}

static int teardown(void **state)
{
	(void)state;
	sbx_provider_free(p);
	p = NULL;
	rm_tree(dir);
	return 0;
}

/* Write 'text' as the task file 'file' of task 't1', directly. */
static void put_file(const char *file, const char *text)
{
	char path[256];

	assert_int_equal(task_path(path, sizeof(path), "t1", file), 0);
	assert_int_equal(sbx_write_file(p, sbx.id, path, text, strlen(text),
	    NULL), SBX_OK);
}

/* The task file 'file' of 't1' as it is on disk (caller frees). */
static char *disk_file(const char *file)
{
	char path[512], *buf;
	FILE *f;
	long n;

	snprintf(path, sizeof(path), "%s/sandboxes/%s/home/%s/t1/%s", dir,
	    sbx.id, TASK_DIR, file);
	assert_non_null(f = fopen(path, "rb"));
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	rewind(f);
	assert_non_null(buf = calloc(1, (size_t)n + 1));
	assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
	fclose(f);
	return buf;
}

static struct json_object *messages(const char *task)
{
	struct json_object *m = NULL;

	assert_int_equal(task_messages_read(p, sbx.id, task, &m, NULL),
	    SBX_OK);
	assert_true(json_object_is_type(m, json_type_array));
	return m;
}

static const char *field(struct json_object *o, const char *key)
{
	struct json_object *v;

	return json_object_object_get_ex(o, key, &v) ?
	    json_object_get_string(v) : NULL;
}

static void ids_and_paths(void **state)
{
	char big[TASK_ID_CHARS + 2], path[64];

	(void)state;
	assert_true(task_id_valid("t1"));
	assert_true(task_id_valid("A-b_9"));
	memset(big, 'a', TASK_ID_CHARS);
	big[TASK_ID_CHARS] = '\0';
	assert_true(task_id_valid(big));
	big[TASK_ID_CHARS] = 'a';
	big[TASK_ID_CHARS + 1] = '\0';
	assert_false(task_id_valid(big)); /* 65 characters */
	assert_false(task_id_valid(""));
	assert_false(task_id_valid(NULL));
	assert_false(task_id_valid(".."));
	assert_false(task_id_valid("a/b"));
	assert_false(task_id_valid("a.b"));
	assert_false(task_id_valid("a b"));
	assert_false(task_id_valid("caf\xc3\xa9"));
	assert_int_equal(task_path(path, sizeof(path), "t1", "result.json"),
	    0);
	assert_string_equal(path, ".omni/tasks/t1/result.json");
	assert_int_equal(task_path(path, 10, "t1", "result.json"), -1);
	assert_string_equal(task_msg_name(TASK_MSG_LOG), "log");
	assert_string_equal(task_msg_name(TASK_MSG_RESULT), "result");
	assert_string_equal(task_msg_name(TASK_MSG_ERROR), "error");
	assert_string_equal(task_msg_name(TASK_MSG_DONE), "done");
}

/* Every operation refuses a task id that is not a plain name, before
 * the provider sees a path. */
static void bad_task_ids_are_refused(void **state)
{
	static const char *const bad[] = { "..", "a/b", "", "a.b",
	    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
	    "../x" };
	struct json_object *o = json_object_new_object(), *out;
	struct sbx_error why;

	(void)state;
	assert_int_equal(strlen(bad[4]), 65);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(task_message_append(p, sbx.id, bad[i], "j",
		    TASK_MSG_LOG, "x", &why), SBX_EINVAL);
		assert_int_equal(why.code, SBX_EINVAL);
		out = (struct json_object *)1;
		assert_int_equal(task_messages_read(p, sbx.id, bad[i], &out,
		    NULL), SBX_EINVAL);
		assert_null(out);
		assert_int_equal(task_result_write(p, sbx.id, bad[i], o, NULL),
		    SBX_EINVAL);
		assert_int_equal(task_result_read(p, sbx.id, bad[i], &out,
		    NULL), SBX_EINVAL);
		assert_int_equal(task_queued_write(p, sbx.id, bad[i], "j",
		    NULL), SBX_EINVAL);
		assert_int_equal(task_queued_read(p, sbx.id, bad[i], &out,
		    NULL), SBX_EINVAL);
	}
	json_object_put(o);
}

static void messages_append_and_read_in_order(void **state)
{
	struct json_object *m, *first, *v;
	char *disk;

	(void)state;
	m = messages("t1");
	assert_int_equal(json_object_array_length(m), 0); /* no file yet */
	json_object_put(m);
	assert_int_equal(task_message_append(p, sbx.id, "t1", "job-1",
	    TASK_MSG_LOG, "first", NULL), SBX_OK);
	assert_int_equal(task_message_append(p, sbx.id, "t1", "job-1",
	    TASK_MSG_ERROR, "second\nwith a newline", NULL), SBX_OK);
	assert_int_equal(task_message_append(p, sbx.id, "t1", "job-1",
	    TASK_MSG_DONE, "done", NULL), SBX_OK);
	m = messages("t1");
	assert_int_equal(json_object_array_length(m), 3);
	first = json_object_array_get_idx(m, 0);
	assert_string_equal(field(first, "type"), "log");
	assert_string_equal(field(first, "jobId"), "job-1");
	assert_string_equal(field(first, "message"), "first");
	assert_true(json_object_object_get_ex(first, "ts", &v));
	assert_true(json_object_is_type(v, json_type_int));
	assert_true(json_object_get_int64(v) > 1600000000000LL);
	assert_string_equal(field(json_object_array_get_idx(m, 1), "type"),
	    "error");
	assert_string_equal(field(json_object_array_get_idx(m, 1), "message"),
	    "second\nwith a newline");
	assert_string_equal(field(json_object_array_get_idx(m, 2), "type"),
	    "done");
	json_object_put(m);
	/* One JSON object a line on disk: the newline stayed escaped. */
	disk = disk_file("messages.jsonl");
	{
		int lines = 0;

		for (char *s = disk; *s != '\0'; s++)
			lines += *s == '\n';
		assert_int_equal(lines, 3);
	}
	free(disk);
	/* Another task's messages are its own. */
	m = messages("t2");
	assert_int_equal(json_object_array_length(m), 0);
	json_object_put(m);
}

static void messages_keep_the_last_max(void **state)
{
	struct json_object *m;
	char text[32];

	(void)state;
	for (int i = 0; i < TASK_MESSAGES_MAX + 7; i++) {
		snprintf(text, sizeof(text), "m%d", i);
		assert_int_equal(task_message_append(p, sbx.id, "t1", "j",
		    TASK_MSG_LOG, text, NULL), SBX_OK);
	}
	m = messages("t1");
	assert_int_equal(json_object_array_length(m), TASK_MESSAGES_MAX);
	assert_string_equal(field(json_object_array_get_idx(m, 0), "message"),
	    "m7");
	snprintf(text, sizeof(text), "m%d", TASK_MESSAGES_MAX + 6);
	assert_string_equal(field(json_object_array_get_idx(m,
	    TASK_MESSAGES_MAX - 1), "message"), text);
	json_object_put(m);
}

/* Long text is cut at TASK_MESSAGE_CHARS bytes, never inside a UTF-8
 * sequence; a stray byte becomes U+FFFD so the line stays JSON. */
static void message_text_cut_at_utf8_boundary(void **state)
{
	char *text = malloc(TASK_MESSAGE_CHARS + 16);
	const char *got;
	struct json_object *m;
	size_t i;

	(void)state;
	/* One ASCII byte, then 3-byte characters: the limit falls inside
	 * one (2047 bytes after the first = 3 * 682 + 1). */
	text[0] = 'x';
	for (i = 1; i + 3 <= TASK_MESSAGE_CHARS + 10; i += 3)
		memcpy(text + i, "\xe2\x82\xac", 3); /* EURO SIGN */
	text[i] = '\0';
	assert_int_equal(task_message_append(p, sbx.id, "t1", "j",
	    TASK_MSG_LOG, text, NULL), SBX_OK);
	assert_int_equal(task_message_append(p, sbx.id, "t1", "j",
	    TASK_MSG_LOG, "bad \xff byte", NULL), SBX_OK);
	assert_int_equal(task_message_append(p, sbx.id, "t1", NULL,
	    TASK_MSG_LOG, NULL, NULL), SBX_OK);
	m = messages("t1");
	assert_int_equal(json_object_array_length(m), 3);
	got = field(json_object_array_get_idx(m, 0), "message");
	assert_true(strlen(got) <= TASK_MESSAGE_CHARS);
	assert_int_equal(strlen(got), 1 + 3 * ((TASK_MESSAGE_CHARS - 1) / 3));
	assert_int_equal(memcmp(got, text, strlen(got)), 0);
	assert_string_equal(field(json_object_array_get_idx(m, 1), "message"),
	    "bad \xef\xbf\xbd byte");
	assert_null(field(json_object_array_get_idx(m, 2), "jobId"));
	assert_string_equal(field(json_object_array_get_idx(m, 2), "message"),
	    "");
	json_object_put(m);
	free(text);
}

/* Lines that are not JSON objects are skipped on read and dropped by the
 * next append; the good ones keep their order. */
static void damaged_lines_are_skipped(void **state)
{
	struct json_object *m;

	(void)state;
	put_file("messages.jsonl",
	    "{\"type\":\"log\",\"message\":\"one\"}\n"
	    "not json\n"
	    "[1,2]\n"
	    "{\"type\":\"log\",\"n\":NaN}\n"
	    "\n"
	    "{\"type\":\"log\",\"message\":\"two\"}\r\n"
	    "{\"type\":\"log\",\"message\":\"three\"}\n"
	    "{\"type\":\"log\",\"message\":\"cut");
	m = messages("t1");
	/* "\r" is JSON whitespace: that line is whole. */
	assert_int_equal(json_object_array_length(m), 3);
	assert_string_equal(field(json_object_array_get_idx(m, 0), "message"),
	    "one");
	assert_string_equal(field(json_object_array_get_idx(m, 1), "message"),
	    "two");
	assert_string_equal(field(json_object_array_get_idx(m, 2), "message"),
	    "three");
	json_object_put(m);
	assert_int_equal(task_message_append(p, sbx.id, "t1", "j",
	    TASK_MSG_LOG, "four", NULL), SBX_OK);
	m = messages("t1");
	assert_int_equal(json_object_array_length(m), 4);
	assert_string_equal(field(json_object_array_get_idx(m, 3), "message"),
	    "four");
	json_object_put(m);
}

static void result_round_trip(void **state)
{
	struct json_object *r = json_object_new_object(), *back = NULL, *files;
	char *disk;

	(void)state;
	assert_int_equal(task_result_read(p, sbx.id, "t1", &back, NULL),
	    SBX_ENOTFOUND);
	assert_null(back);
	json_object_object_add(r, "taskId", json_object_new_string("t1"));
	json_object_object_add(r, "success", json_object_new_boolean(1));
	json_object_object_add(r, "result",
	    json_object_new_string("wrote the update / \"quoted\""));
	files = json_object_new_array();
	json_object_array_add(files, json_object_new_string("updates/a.md"));
	json_object_object_add(r, "files", files);
	json_object_object_add(r, "error", NULL);
	json_object_object_add(r, "timestamp",
	    json_object_new_int64(1700000000000LL));
	assert_int_equal(task_result_write(p, sbx.id, "t1", r, NULL), SBX_OK);
	assert_int_equal(task_result_read(p, sbx.id, "t1", &back, NULL),
	    SBX_OK);
	assert_true(json_object_equal(r, back));
	json_object_put(back);
	disk = disk_file("result.json");
	assert_non_null(strstr(disk, "\"updates/a.md\"")); /* no \/ */
	free(disk);
	/* Only objects are results. */
	files = json_object_new_array();
	assert_int_equal(task_result_write(p, sbx.id, "t1", files, NULL),
	    SBX_EINVAL);
	json_object_put(files);
	json_object_put(r);
}

static void damaged_result_reads_as_not_found(void **state)
{
	static const char *const damaged[] = { "", "not json", "[1]", "42",
	    "{\"a\":1} trailing", "{\"a\":NaN}", "{\"a\":1" };
	struct json_object *out;
	struct sbx_error why;

	(void)state;
	for (size_t i = 0; i < sizeof(damaged) / sizeof(damaged[0]); i++) {
		put_file("result.json", damaged[i]);
		out = (struct json_object *)1;
		assert_int_equal(task_result_read(p, sbx.id, "t1", &out, &why),
		    SBX_ENOTFOUND);
		assert_int_equal(why.code, SBX_ENOTFOUND);
		assert_null(out);
	}
	/* Something else than a file in its place reads as missing too. */
	assert_int_equal(sbx_write_file(p, sbx.id,
	    ".omni/tasks/t3/result.json/x", "1", 1, NULL), SBX_OK);
	assert_int_equal(task_result_read(p, sbx.id, "t3", &out, NULL),
	    SBX_ENOTFOUND);
}

static void queued_round_trip(void **state)
{
	struct json_object *q = NULL, *v;

	(void)state;
	assert_int_equal(task_queued_read(p, sbx.id, "t1", &q, NULL),
	    SBX_ENOTFOUND);
	assert_int_equal(task_queued_write(p, sbx.id, "t1", "01JOB", NULL),
	    SBX_OK);
	assert_int_equal(task_queued_read(p, sbx.id, "t1", &q, NULL), SBX_OK);
	assert_string_equal(field(q, "taskId"), "t1");
	assert_string_equal(field(q, "jobId"), "01JOB");
	assert_true(json_object_object_get_ex(q, "queuedAt", &v));
	assert_true(json_object_get_int64(v) > 1600000000000LL);
	json_object_put(q);
}

/* Provider errors come through: a stopped sandbox refuses file access. */
static void provider_errors_pass_through(void **state)
{
	struct json_object *out = NULL;
	struct sbx_error why;

	(void)state;
	assert_int_equal(p->ops->stop(p, sbx.id, NULL), SBX_OK);
	assert_int_equal(task_messages_read(p, sbx.id, "t1", &out, &why),
	    SBX_ECONFLICT);
	assert_int_equal(why.code, SBX_ECONFLICT);
	assert_null(out);
	assert_int_equal(task_message_append(p, sbx.id, "t1", "j",
	    TASK_MSG_LOG, "x", NULL), SBX_ECONFLICT);
	assert_int_equal(task_result_read(p, sbx.id, "t1", &out, NULL),
	    SBX_ECONFLICT);
	assert_int_equal(task_queued_write(p, sbx.id, "t1", "j", NULL),
	    SBX_ECONFLICT);
}

#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(ids_and_paths),
		T(bad_task_ids_are_refused),
		T(messages_append_and_read_in_order),
		T(messages_keep_the_last_max),
		T(message_text_cut_at_utf8_boundary),
		T(damaged_lines_are_skipped),
		T(result_round_trip),
		T(damaged_result_reads_as_not_found),
		T(queued_round_trip),
		T(provider_errors_pass_through),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
