/*
 * tasks.c -- a task's files in its user's sandbox (tasks.h).
 *
 * Everything goes through the provider's whole-file operations, so the
 * same code serves Daytona and the local provider, and every write is
 * atomic.  What comes back from the sandbox is treated as untrusted: it
 * is parsed with the strict parser (json_util.h) and anything that is not
 * the expected shape reads as missing, never as an error.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "json_util.h"
#include "sandbox.h"
#include "tasks.h"
#include "timeutil.h"

/*
 * The largest messages.jsonl read back: TASK_MESSAGES_MAX lines of the
 * longest message, each byte escaped at worst as \u00XX, plus the other
 * fields.  Only a file someone else wrote can be larger; it reads as
 * missing.
 */
#define MESSAGE_LINE_MAX (TASK_MESSAGE_CHARS * 6 + 256)
#define MESSAGES_FILE_MAX ((size_t)(TASK_MESSAGES_MAX + 1) * MESSAGE_LINE_MAX)
#define QUEUED_FILE_MAX 4096

/* A task id names a folder exactly as a job id does (sandbox.h): one
 * rule for both. */
_Static_assert(TASK_ID_CHARS == SBX_JOB_ID_CHARS,
    "task and job ids share their rule");

int task_id_valid(const char *task_id)
{
	return sbx_job_id_valid(task_id);
}

int task_path(char *buf, size_t len, const char *task_id, const char *file)
{
	int n;

	if (buf == NULL || len == 0 || task_id == NULL || file == NULL)
		return -1;
	n = snprintf(buf, len, "%s/%s/%s", TASK_DIR, task_id, file);
	return n < 0 || (size_t)n >= len ? -1 : 0;
}

const char *task_msg_name(enum task_msg type)
{
	switch (type) {
	case TASK_MSG_LOG:
		return "log";
	case TASK_MSG_RESULT:
		return "result";
	case TASK_MSG_ERROR:
		return "error";
	case TASK_MSG_DONE:
		return "done";
	}
	return "log";
}

/* The path of 'file' of a valid task, or SBX_EINVAL. */
static enum sbx_err path_of(char *buf, size_t len, const char *task_id,
    const char *file)
{
	if (!task_id_valid(task_id) || task_path(buf, len, task_id, file) != 0)
		return SBX_EINVAL;
	return SBX_OK;
}

/* Return 'e', decided here rather than by the provider, with 'why'
 * saying the same (and nothing else). */
static enum sbx_err answer(struct sbx_error *why, enum sbx_err e)
{
	sbx_error_clear(why);
	if (why != NULL)
		why->code = e;
	return e;
}

/*
 * Read 'path' up to 'max' bytes.  A file that is missing, too large (not
 * one this module wrote) or refused as a path (a directory or a symlink
 * planted in its place) is SBX_ENOTFOUND: the sandbox's content must not
 * fail a request.  Other errors are the provider's.
 */
static enum sbx_err read_small(struct sbx_provider *p, const char *sandbox_id,
    const char *path, size_t max, char **data, size_t *len,
    struct sbx_error *why)
{
	enum sbx_err e = sbx_read_file(p, sandbox_id, path, max, data, len,
	    why);

	if (e == SBX_ETOOLARGE || e == SBX_EINVAL)
		return answer(why, SBX_ENOTFOUND);
	return e;
}

/*
 * Read 'path' as one JSON object: SBX_ENOTFOUND when it is missing or is
 * not an object (damaged files read as missing).
 */
static enum sbx_err read_object(struct sbx_provider *p,
    const char *sandbox_id, const char *path, size_t max,
    struct json_object **out, struct sbx_error *why)
{
	char *data = NULL;
	size_t len = 0;
	enum sbx_err e;
	enum json_err je;

	*out = NULL;
	e = read_small(p, sandbox_id, path, max, &data, &len, why);
	if (e != SBX_OK)
		return e;
	je = json_parse_object(data, len, out, NULL, 0);
	free(data);
	if (je == JSON_ENOMEM)
		return answer(why, SBX_ENOMEM);
	if (je != JSON_OK)
		return answer(why, SBX_ENOTFOUND);
	return SBX_OK;
}

/* Serialize 'obj' and write it as 'path'; SBX_ETOOLARGE past 'max'
 * (it could not be read back). */
static enum sbx_err write_object(struct sbx_provider *p,
    const char *sandbox_id, const char *path, struct json_object *obj,
    size_t max, struct sbx_error *why)
{
	const char *s;
	size_t n;

	if ((s = json_compact(obj)) == NULL)
		return answer(why, SBX_ENOMEM);
	if ((n = strlen(s)) > max)
		return answer(why, SBX_ETOOLARGE);
	return sbx_write_file(p, sandbox_id, path, s, n, why);
}

/* One message line's object (without the newline), or NULL. */
static struct json_object *message_new(const char *job_id,
    enum task_msg type, const char *text)
{
	struct json_object *m = json_object_new_object();
	const char *t = text != NULL ? text : "";
	char *cut = json_utf8_clean(t, strlen(t), TASK_MESSAGE_CHARS, NULL);

	if (m == NULL || cut == NULL) {
		json_object_put(m);
		free(cut);
		return NULL;
	}
	json_object_object_add(m, "type",
	    json_object_new_string(task_msg_name(type)));
	json_object_object_add(m, "jobId", job_id != NULL ?
	    json_object_new_string(job_id) : NULL);
	json_object_object_add(m, "ts", json_object_new_int64(time_real_ms()));
	json_object_object_add(m, "message", json_object_new_string(cut));
	free(cut);
	return m;
}

/* A line of messages.jsonl, by its place in the file's buffer. */
struct span {
	const char *start;
	size_t len;
};

/* Is the line a JSON object?  (Kept: the others are damage.) */
static int line_is_object(const char *s, size_t len)
{
	struct json_object *o = NULL;
	int ok = json_parse_object(s, len, &o, NULL, 0) == JSON_OK;

	json_object_put(o);
	return ok;
}

/*
 * The lines of 'data' that are JSON objects, in order, into a new array
 * (caller frees); '*n' their count.  NULL out of memory.
 */
static struct span *object_lines(const char *data, size_t len, size_t *n)
{
	struct span *v = NULL, *grown;
	size_t cap = 0, i = 0;

	*n = 0;
	while (i < len) {
		const char *nl = memchr(data + i, '\n', len - i);
		size_t l = nl != NULL ? (size_t)(nl - (data + i)) : len - i;

		if (l > 0 && line_is_object(data + i, l)) {
			if (*n == cap) {
				cap = cap ? cap * 2 : 64;
				if ((grown = realloc(v, cap * sizeof(*v))) ==
				    NULL) {
					free(v);
					return NULL;
				}
				v = grown;
			}
			v[(*n)++] = (struct span){ data + i, l };
		}
		i += l + 1;
	}
	/* A non-NULL result even for no lines: NULL means no memory. */
	return v != NULL ? v : malloc(sizeof(*v));
}

/*
 * The new file: the last TASK_MESSAGES_MAX - 1 of 'lines', then 'add',
 * each with its newline.  A new buffer (caller frees), or NULL.
 */
static char *messages_join(const struct span *lines, size_t n,
    const char *add, size_t *out_len)
{
	size_t first = n >= TASK_MESSAGES_MAX ? n - (TASK_MESSAGES_MAX - 1) : 0;
	size_t total = strlen(add) + 1, o = 0;
	char *buf;

	for (size_t i = first; i < n; i++)
		total += lines[i].len + 1;
	if ((buf = malloc(total + 1)) == NULL)
		return NULL;
	for (size_t i = first; i < n; i++) {
		memcpy(buf + o, lines[i].start, lines[i].len);
		o += lines[i].len;
		buf[o++] = '\n';
	}
	memcpy(buf + o, add, strlen(add));
	o += strlen(add);
	buf[o++] = '\n';
	buf[o] = '\0';
	*out_len = o;
	return buf;
}

enum sbx_err task_message_append(struct sbx_provider *p,
    const char *sandbox_id, const char *task_id, const char *job_id,
    enum task_msg type, const char *text, struct sbx_error *why)
{
	char path[256], *old = NULL, *file = NULL;
	size_t old_len = 0, n = 0, len = 0;
	struct json_object *m;
	struct span *lines = NULL;
	enum sbx_err e;

	if ((e = path_of(path, sizeof(path), task_id, "messages.jsonl")) !=
	    SBX_OK)
		return answer(why, e);
	e = read_small(p, sandbox_id, path, MESSAGES_FILE_MAX, &old, &old_len,
	    why);
	/* A missing (or oversized, foreign) file starts a new list. */
	if (e != SBX_OK && e != SBX_ENOTFOUND)
		return e;
	if ((m = message_new(job_id, type, text)) == NULL ||
	    json_compact(m) == NULL ||
	    (lines = object_lines(old != NULL ? old : "", old_len, &n)) ==
	    NULL ||
	    (file = messages_join(lines, n, json_compact(m), &len)) == NULL)
		e = answer(why, SBX_ENOMEM);
	else
		e = sbx_write_file(p, sandbox_id, path, file, len, why);
	json_object_put(m);
	free(lines);
	free(file);
	free(old);
	return e;
}

enum sbx_err task_messages_read(struct sbx_provider *p,
    const char *sandbox_id, const char *task_id, struct json_object **out,
    struct sbx_error *why)
{
	char path[256], *data = NULL;
	size_t len = 0, n = 0, first;
	struct json_object *arr, *o;
	struct span *lines;
	enum sbx_err e;

	*out = NULL;
	if ((e = path_of(path, sizeof(path), task_id, "messages.jsonl")) !=
	    SBX_OK)
		return answer(why, e);
	e = read_small(p, sandbox_id, path, MESSAGES_FILE_MAX, &data, &len,
	    why);
	if (e != SBX_OK && e != SBX_ENOTFOUND)
		return e;
	lines = object_lines(data != NULL ? data : "", len, &n);
	if (lines == NULL || (arr = json_object_new_array()) == NULL) {
		free(lines);
		free(data);
		return answer(why, SBX_ENOMEM);
	}
	/* A file written by someone else may hold more: the last ones. */
	first = n > TASK_MESSAGES_MAX ? n - TASK_MESSAGES_MAX : 0;
	for (size_t i = first; i < n; i++) {
		o = NULL;
		if (json_parse_object(lines[i].start, lines[i].len, &o, NULL,
		    0) == JSON_OK)
			json_object_array_add(arr, o);
	}
	free(lines);
	free(data);
	*out = arr;
	return answer(why, SBX_OK);
}

enum sbx_err task_result_write(struct sbx_provider *p,
    const char *sandbox_id, const char *task_id,
    struct json_object *result, struct sbx_error *why)
{
	char path[256];
	enum sbx_err e;

	if ((e = path_of(path, sizeof(path), task_id, "result.json")) !=
	    SBX_OK || !json_object_is_type(result, json_type_object))
		return answer(why, SBX_EINVAL);
	return write_object(p, sandbox_id, path, result, TASK_RESULT_MAX, why);
}

enum sbx_err task_result_read(struct sbx_provider *p,
    const char *sandbox_id, const char *task_id, struct json_object **out,
    struct sbx_error *why)
{
	char path[256];
	enum sbx_err e;

	*out = NULL;
	if ((e = path_of(path, sizeof(path), task_id, "result.json")) !=
	    SBX_OK)
		return answer(why, e);
	return read_object(p, sandbox_id, path, TASK_RESULT_MAX, out, why);
}

enum sbx_err task_queued_write(struct sbx_provider *p,
    const char *sandbox_id, const char *task_id, const char *job_id,
    struct sbx_error *why)
{
	struct json_object *q;
	char path[256];
	enum sbx_err e;

	if ((e = path_of(path, sizeof(path), task_id, "queued.json")) !=
	    SBX_OK || job_id == NULL)
		return answer(why, SBX_EINVAL);
	if ((q = json_object_new_object()) == NULL)
		return answer(why, SBX_ENOMEM);
	json_object_object_add(q, "taskId", json_object_new_string(task_id));
	json_object_object_add(q, "jobId", json_object_new_string(job_id));
	json_object_object_add(q, "queuedAt",
	    json_object_new_int64(time_real_ms()));
	e = write_object(p, sandbox_id, path, q, QUEUED_FILE_MAX, why);
	json_object_put(q);
	return e;
}

enum sbx_err task_queued_read(struct sbx_provider *p,
    const char *sandbox_id, const char *task_id, struct json_object **out,
    struct sbx_error *why)
{
	char path[256];
	enum sbx_err e;

	*out = NULL;
	if ((e = path_of(path, sizeof(path), task_id, "queued.json")) !=
	    SBX_OK)
		return answer(why, e);
	return read_object(p, sandbox_id, path, QUEUED_FILE_MAX, out, why);
}
