/*
 * agent.c -- the agent CLI's side of a task (agent.h): its argv, what its
 * output means, and which documents of the workspace it wrote.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "agent.h"
#include "json_util.h"

int agent_argv_build(struct agent_argv *a, const char *cmd, const char *model)
{
	size_t len;
	char *p;

	memset(a, 0, sizeof(*a));
	if (cmd == NULL || model == NULL || (len = strlen(cmd)) == 0 ||
	    len >= sizeof(a->words))
		return -1;
	memcpy(a->words, cmd, len + 1);
	for (p = strtok(a->words, " "); p != NULL; p = strtok(NULL, " ")) {
		if (a->n >= SBX_JOB_ARGV_MAX - 2)
			return -1;
		a->v[a->n++] = p;
	}
	if (a->n == 0)
		return -1;
	a->v[a->n++] = "--model";
	a->v[a->n++] = model;
	a->v[a->n] = NULL;
	return 0;
}

/* Length of the longest prefix of 's' (at most 'max' bytes) that ends on
 * a UTF-8 boundary. */
static size_t utf8_cut(const char *s, size_t len, size_t max)
{
	size_t n = len < max ? len : max;

	while (n > 0 && n < len && ((unsigned char)s[n] & 0xC0) == 0x80)
		n--;
	return n;
}

static int is_space(char c)
{
	return c == ' ' || c == '\n' || c == '\r' || c == '\t';
}

/* The JSON object in s[0..len), or NULL. */
static struct json_object *object_in(const char *s, size_t len)
{
	struct json_object *o = NULL;

	if (json_parse_value(s, len, &o, NULL, 0) != JSON_OK)
		return NULL;
	if (o != NULL && !json_object_is_type(o, json_type_object)) {
		json_object_put(o);
		return NULL;
	}
	return o;
}

/* The last non-empty line of s[0..len) as [*start, *start + *n). */
static void last_line(const char *s, size_t len, const char **start,
    size_t *n)
{
	size_t end = len, b;

	while (end > 0 && is_space(s[end - 1]))
		end--;
	b = end;
	while (b > 0 && s[b - 1] != '\n')
		b--;
	*start = s + b;
	*n = end - b;
}

struct json_object *agent_parse_output(const char *out, size_t len,
    size_t max_text, int *is_error)
{
	struct json_object *o, *r = NULL, *flag;
	const char *line;
	size_t b = 0, n;

	*is_error = 0;
	while (b < len && is_space(out[b]))
		b++;
	if ((o = object_in(out + b, len - b)) == NULL) {
		last_line(out, len, &line, &n);
		o = n > 0 ? object_in(line, n) : NULL;
	}
	if (o != NULL) {
		if (json_object_object_get_ex(o, "is_error", &flag) &&
		    json_object_is_type(flag, json_type_boolean))
			*is_error = json_object_get_boolean(flag);
		if (json_object_object_get_ex(o, "result", &r))
			r = json_object_get(r);
		else
			r = json_object_get(o);
		json_object_put(o);
		/* "result": null reads as an empty answer. */
		return r != NULL ? r : json_object_new_string("");
	}
	while (len > b && is_space(out[len - 1]))
		len--;
	return json_object_new_string_len(out + b,
	    (int)utf8_cut(out + b, len - b, max_text));
}

struct json_object *agent_tail(const char *s, size_t len, size_t max)
{
	size_t from = len > max ? len - max : 0;

	while (from < len && ((unsigned char)s[from] & 0xC0) == 0x80)
		from++;
	while (from < len && is_space(s[from]))
		from++;
	while (len > from && is_space(s[len - 1]))
		len--;
	return json_object_new_string_len(s + from, (int)(len - from));
}

/* ---- the documents it wrote ------------------------------------------- */

struct walk {
	struct sbx_provider *p;
	const char *sid;
	long long since;
	int seen;
	size_t text_left;
	struct json_object *files;
	struct sbx_error *why;
};

static const char *type_of(const char *name)
{
	const char *dot = strrchr(name, '.');

	if (dot == NULL)
		return "text";
	if (strcmp(dot, ".md") == 0 || strcmp(dot, ".markdown") == 0)
		return "markdown";
	if (strcmp(dot, ".json") == 0 || strcmp(dot, ".jsonl") == 0)
		return "json";
	return "text";
}

/* The file's text, or JSON null when it is binary (a NUL byte) or the
 * budget is spent; sets "truncated". */
static void add_content(struct walk *w, struct json_object *f,
    const char *path, const char **type)
{
	size_t len = 0, keep;
	char *data = NULL;
	enum sbx_err err;

	if (w->text_left == 0) {
		json_object_object_add(f, "content", NULL);
		return;
	}
	err = sbx_read_file(w->p, w->sid, path, AGENT_FILE_TEXT_MAX, &data,
	    &len, NULL);
	if (err == SBX_ETOOLARGE) {
		/* Over the cap: read nothing rather than hold it all. */
		json_object_object_add(f, "content", NULL);
		json_object_object_add(f, "truncated",
		    json_object_new_boolean(1));
		return;
	}
	if (err != SBX_OK || memchr(data, '\0', len) != NULL) {
		if (err == SBX_OK)
			*type = "binary";
		json_object_object_add(f, "content", NULL);
		free(data);
		return;
	}
	keep = utf8_cut(data, len, w->text_left);
	w->text_left -= keep;
	json_object_object_add(f, "content",
	    json_object_new_string_len(data, (int)keep));
	if (keep < len)
		json_object_object_add(f, "truncated",
		    json_object_new_boolean(1));
	free(data);
}

static void add_file(struct walk *w, const char *dir,
    const struct sbx_file_entry *e)
{
	struct json_object *f;
	const char *type = type_of(e->name);
	char path[1024];

	if ((int)json_object_array_length(w->files) >= AGENT_FILES_MAX)
		return;
	if (snprintf(path, sizeof(path), "%s%s%s", dir, dir[0] ? "/" : "",
	    e->name) >= (int)sizeof(path))
		return;
	if ((f = json_object_new_object()) == NULL)
		return;
	json_object_object_add(f, "path", json_object_new_string(path));
	json_object_object_add(f, "name", json_object_new_string(e->name));
	json_object_object_add(f, "directory", json_object_new_string(dir));
	json_object_object_add(f, "size", json_object_new_int64(e->size));
	json_object_object_add(f, "mtime", json_object_new_int64(e->mtime));
	add_content(w, f, path, &type);
	json_object_object_add(f, "type", json_object_new_string(type));
	json_object_array_add(w->files, f);
}

static enum sbx_err walk_dir(struct walk *w, const char *dir, int depth)
{
	struct sbx_file_list list;
	char sub[1024];
	enum sbx_err err;

	err = sbx_list_files(w->p, w->sid, dir[0] ? dir : ".", &list, w->why);
	if (err != SBX_OK)
		return depth == 0 ? err : SBX_OK; /* a vanished folder */
	for (size_t i = 0; i < list.count && w->seen < AGENT_WALK_ENTRIES;
	    i++) {
		const struct sbx_file_entry *e = &list.entries[i];

		w->seen++;
		if (depth == 0 && strcmp(e->name, ".omni") == 0)
			continue; /* the task and job files */
		if (!e->is_dir) {
			if (e->mtime_ms > w->since)
				add_file(w, dir, e);
			continue;
		}
		if (depth + 1 >= AGENT_WALK_DEPTH ||
		    snprintf(sub, sizeof(sub), "%s%s%s", dir, dir[0] ? "/" : "",
		    e->name) >= (int)sizeof(sub))
			continue;
		if ((err = walk_dir(w, sub, depth + 1)) != SBX_OK)
			break;
	}
	sbx_file_list_free(&list);
	return err;
}

static int by_path(const void *a, const void *b)
{
	struct json_object *const *x = a, *const *y = b, *px, *py;

	json_object_object_get_ex(*x, "path", &px);
	json_object_object_get_ex(*y, "path", &py);
	return strcmp(json_object_get_string(px), json_object_get_string(py));
}

enum sbx_err agent_collect_files(struct sbx_provider *p,
    const char *sandbox_id, long long since_ms, struct json_object **out,
    struct sbx_error *why)
{
	struct walk w = { p, sandbox_id, since_ms, 0, AGENT_TEXT_TOTAL_MAX, NULL,
	    why };
	enum sbx_err err;

	*out = NULL;
	if ((w.files = json_object_new_array()) == NULL)
		return SBX_ENOMEM;
	if ((err = walk_dir(&w, "", 0)) != SBX_OK) {
		json_object_put(w.files);
		return err;
	}
	json_object_array_sort(w.files, by_path);
	*out = w.files;
	return SBX_OK;
}
