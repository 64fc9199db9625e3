/*
 * knowledge_query.c -- the search behind GET /api/knowledge/query
 * (knowledge_query.h).
 *
 * Everything is read through the provider's list and read operations, so
 * the same code serves Daytona and the local provider; every loop is
 * bounded by a count from the header, because each read may be an HTTP
 * call to the provider.  The query is compared as bytes: both sides are
 * lower-cased (ASCII only) and searched with memmem, which is linear, so
 * no query can make a search slow.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <json-c/json.h>

#include "json_util.h"
#include "knowledge_query.h"
#include "sandbox.h"
#include "sandbox_path.h"
#include "tasks.h"

#define ENTITY_INDEX ".omni-system/entities.json"
#define INDEX_ENTRIES_MAX 1000   /* entries of entities.json looked at */
#define TASK_FILES_MAX 100       /* paths kept per task */

/* One search: where, what, and how much of the answer is spent. */
struct kq_ctx {
	struct sbx_provider *p;
	const char *id;
	char *q;              /* the query, lower-cased; NULL: match all */
	size_t qlen;
	size_t used;          /* JSON bytes added to the three lists */
	struct sbx_error *why;
};

/* ---- text ---- */

static void ascii_lower(char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		s[i] = (char)tolower((unsigned char)s[i]);
}

/* Does 'lowered' ('n' bytes, already lower-cased) hold the query? */
static int lowered_matches(const struct kq_ctx *c, const char *lowered,
    size_t n)
{
	return c->q == NULL || memmem(lowered, n, c->q, c->qlen) != NULL;
}

/* Does 's' ('n' bytes) hold the query, ASCII case aside?  -1 out of
 * memory. */
static int text_matches(const struct kq_ctx *c, const char *s, size_t n)
{
	char *low;
	int hit;

	if (c->q == NULL)
		return 1;
	if (s == NULL || n < c->qlen)
		return 0;
	if ((low = malloc(n)) == NULL)
		return -1;
	memcpy(low, s, n);
	ascii_lower(low, n);
	hit = lowered_matches(c, low, n);
	free(low);
	return hit;
}

static int string_matches(const struct kq_ctx *c, const char *s)
{
	return s != NULL && text_matches(c, s, strlen(s)) == 1;
}

/*
 * A JSON string of at most 'max' bytes of 's' ('n' bytes), ending on a
 * UTF-8 boundary, with each byte that starts no well-formed sequence
 * replaced by U+FFFD: file text may be anything, the answer must be
 * JSON.  NULL out of memory.
 */
static struct json_object *utf8_string(const char *s, size_t n, size_t max)
{
	struct json_object *o;
	size_t w = 0;
	char *buf = json_utf8_clean(s, n, max, &w);

	if (buf == NULL)
		return NULL;
	o = json_object_new_string_len(buf, (int)w);
	free(buf);
	return o;
}

int kq_query_valid(const char *query)
{
	size_t n, i = 0, k;

	if (query == NULL)
		return 1;
	if ((n = strlen(query)) > KQ_QUERY_MAX)
		return 0;
	while (i < n) {
		unsigned char ch = (unsigned char)query[i];

		if (ch < 0x20 || ch == 0x7f)
			return 0;
		if ((k = json_utf8_sequence((const unsigned char *)query + i,
		    n - i)) == 0)
			return 0;
		i += k;
	}
	return 1;
}

/* ---- the answer's budget ---- */

/*
 * Append 'item' (taken) to 'arr' while the answer is under KQ_ANSWER_MAX:
 * 1 if added, 0 when the budget was spent (or no memory) and 'item' was
 * released.
 */
static int add_item(struct kq_ctx *c, struct json_object *arr,
    struct json_object *item)
{
	const char *s;

	if (item == NULL)
		return 0;
	if (c->used > KQ_ANSWER_MAX || (s = json_compact(item)) == NULL ||
	    json_object_array_add(arr, item) != 0) {
		json_object_put(item);
		return 0;
	}
	c->used += strlen(s) + 1;
	return 1;
}

static int budget_left(const struct kq_ctx *c)
{
	return c->used <= KQ_ANSWER_MAX;
}

/* ---- the provider ---- */

/*
 * Is 'e' about the one file or folder only (missing, too large, not a
 * regular file, unreadable)?  Then it drops out of the lists; anything
 * else (stopped sandbox, provider down) fails the search.
 */
static int skippable(enum sbx_err e)
{
	return e == SBX_ENOTFOUND || e == SBX_EINVAL || e == SBX_ETOOLARGE ||
	    e == SBX_EIO;
}

/*
 * Read 'path' as a JSON object into '*out' (NULL when it is missing or
 * not an object).  SBX_OK then; a provider error otherwise.
 */
static enum sbx_err read_json(struct kq_ctx *c, const char *path,
    struct json_object **out)
{
	char *data = NULL;
	size_t len = 0;
	enum sbx_err e;

	*out = NULL;
	e = sbx_read_file(c->p, c->id, path, KQ_FILE_MAX, &data, &len, c->why);
	if (e != SBX_OK)
		return skippable(e) ? SBX_OK : e;
	if (json_parse_object(data, len, out, NULL, 0) != JSON_OK)
		*out = NULL;
	free(data);
	return SBX_OK;
}

/* List 'dir' into '*l' (empty when it is missing or not a folder). */
static enum sbx_err list_dir(struct kq_ctx *c, const char *dir,
    struct sbx_file_list *l)
{
	enum sbx_err e;

	memset(l, 0, sizeof(*l));
	e = sbx_list_files(c->p, c->id, dir, l, c->why);
	if (e != SBX_OK)
		return skippable(e) ? SBX_OK : e;
	return SBX_OK;
}

/* "dir/name" into 'buf'; -1 if it is no acceptable sandbox path. */
static int join(char *buf, size_t len, const char *dir, const char *name)
{
	int n = snprintf(buf, len, "%s/%s", dir, name);

	return n < 0 || (size_t)n >= len || !sandbox_path_ok(buf) ? -1 : 0;
}

/* A string member of 'o', or NULL when absent or of another type. */
static struct json_object *str_or_null(const char *s)
{
	return s != NULL ? json_object_new_string(s) : NULL;
}

/* ---- entities ---- */

/* The entity of 'list' with this type and id, or NULL. */
static struct json_object *entity_find(struct json_object *list,
    const char *type, const char *id)
{
	size_t n = json_object_array_length(list);

	for (size_t i = 0; i < n; i++) {
		struct json_object *e = json_object_array_get_idx(list, i);

		if (strcmp(json_str_member(e, "type"), type) == 0 &&
		    strcmp(json_str_member(e, "id"), id) == 0)
			return e;
	}
	return NULL;
}

/*
 * Merge one entity into 'list': a new entry, or, for a (type, id) seen
 * before, the non-null fields of this one over it ('over': the
 * stakeholder file is the truth, the index only its summary) or into
 * its null fields.
 */
static void entity_merge(struct json_object *list, const char *type,
    const char *id, struct json_object *src, const char *path, int over)
{
	static const char *const fields[] = { "name", "company" };
	struct json_object *e = entity_find(list, type, id);
	const char *v;

	if (e == NULL) {
		if ((e = json_object_new_object()) == NULL)
			return;
		json_object_object_add(e, "id", json_object_new_string(id));
		json_object_object_add(e, "type", json_object_new_string(type));
		for (size_t i = 0; i < 2; i++)
			json_object_object_add(e, fields[i],
			    str_or_null(json_str_member(src, fields[i])));
		json_object_object_add(e, "path", str_or_null(path));
		if (json_object_array_add(list, e) != 0)
			json_object_put(e);
		return;
	}
	for (size_t i = 0; i < 2; i++)
		if ((v = json_str_member(src, fields[i])) != NULL &&
		    (over || json_str_member(e, fields[i]) == NULL))
			json_object_object_add(e, fields[i],
			    json_object_new_string(v));
	if (path != NULL && (over || json_str_member(e, "path") == NULL))
		json_object_object_add(e, "path", json_object_new_string(path));
}

/* The entries of .omni-system/entities.json into 'list'. */
static enum sbx_err entities_from_index(struct kq_ctx *c,
    struct json_object *list)
{
	struct json_object *idx, *arr;
	enum sbx_err e;
	size_t n;

	if ((e = read_json(c, ENTITY_INDEX, &idx)) != SBX_OK || idx == NULL)
		return e;
	if (json_object_object_get_ex(idx, "entities", &arr) &&
	    json_object_is_type(arr, json_type_array)) {
		n = json_object_array_length(arr);
		for (size_t i = 0; i < n && i < INDEX_ENTRIES_MAX; i++) {
			struct json_object *en = json_object_array_get_idx(arr,
			    i);
			const char *id = json_str_member(en, "id");
			const char *type = json_str_member(en, "type");

			if (id != NULL && id[0] != '\0' && type != NULL &&
			    type[0] != '\0')
				entity_merge(list, type, id, en,
				    json_str_member(en, "path"), 0);
		}
	}
	json_object_put(idx);
	return SBX_OK;
}

/* Does 'name' end in ".json" (with something before it)? */
static int is_json_name(const char *name)
{
	size_t n = strlen(name);

	return n > 5 && strcmp(name + n - 5, ".json") == 0;
}

/* The stakeholder files of folder 'dir', of type 'type', into 'list'. */
static enum sbx_err entities_from_dir(struct kq_ctx *c, const char *dir,
    const char *type, struct json_object *list)
{
	struct sbx_file_list l;
	char path[SANDBOX_PATH_MAX], id[256];
	struct json_object *o;
	enum sbx_err e;
	size_t read = 0;

	if ((e = list_dir(c, dir, &l)) != SBX_OK)
		return e;
	for (size_t i = 0; i < l.count && read < KQ_ENTITY_FILES; i++) {
		const struct sbx_file_entry *f = &l.entries[i];
		const char *fid;

		if (f->is_dir || f->name[0] == '.' || !is_json_name(f->name) ||
		    f->size > (long long)KQ_FILE_MAX ||
		    join(path, sizeof(path), dir, f->name) != 0)
			continue;
		read++;
		if ((e = read_json(c, path, &o)) != SBX_OK)
			break;
		if (o == NULL)
			continue;
		/* The id is the file's, or its name without ".json". */
		if ((fid = json_str_member(o, "id")) == NULL || fid[0] == '\0') {
			snprintf(id, sizeof(id), "%.*s",
			    (int)(strlen(f->name) - 5), f->name);
			fid = id;
		}
		entity_merge(list, type, fid, o, path, 1);
		json_object_put(o);
	}
	sbx_file_list_free(&l);
	return e;
}

static int entity_cmp(const void *a, const void *b)
{
	struct json_object *x = *(struct json_object *const *)a;
	struct json_object *y = *(struct json_object *const *)b;
	int r = strcmp(json_str_member(x, "type"), json_str_member(y, "type"));

	return r != 0 ? r : strcmp(json_str_member(x, "id"), json_str_member(y, "id"));
}

static int entity_matches(const struct kq_ctx *c, struct json_object *e)
{
	return c->q == NULL || string_matches(c, json_str_member(e, "id")) ||
	    string_matches(c, json_str_member(e, "name")) ||
	    string_matches(c, json_str_member(e, "company"));
}

static enum sbx_err find_entities(struct kq_ctx *c, struct json_object *out)
{
	struct json_object *all = json_object_new_array();
	enum sbx_err e;
	size_t n, added = 0;

	if (all == NULL)
		return SBX_ENOMEM;
	if ((e = entities_from_index(c, all)) != SBX_OK ||
	    (e = entities_from_dir(c, "stakeholders/investors", "investor",
	    all)) != SBX_OK ||
	    (e = entities_from_dir(c, "stakeholders/customers", "customer",
	    all)) != SBX_OK) {
		json_object_put(all);
		return e;
	}
	json_object_array_sort(all, entity_cmp);
	n = json_object_array_length(all);
	for (size_t i = 0; i < n && added < KQ_ENTITIES_MAX &&
	    budget_left(c); i++) {
		struct json_object *en = json_object_array_get_idx(all, i);

		if (entity_matches(c, en))
			added += (size_t)add_item(c, out, json_object_get(en));
	}
	json_object_put(all);
	return SBX_OK;
}

/* ---- tasks ---- */

/*
 * The result's "timestamp" as ms since the epoch, for ordering: a number
 * as it is, RFC 3339 text ("2025-04-02T10:00:00.123Z", an offset, or no
 * fraction) parsed; 0 (oldest) for anything else.
 */
static long long timestamp_ms(struct json_object *v)
{
	struct tm tm;
	const char *s, *p;
	int n = 0, ms = 0, scale = 100, oh, om;
	long long t;

	if (json_object_is_type(v, json_type_int) ||
	    json_object_is_type(v, json_type_double))
		return json_object_get_int64(v);
	if (!json_object_is_type(v, json_type_string))
		return 0;
	s = json_object_get_string(v);
	memset(&tm, 0, sizeof(tm));
	if (sscanf(s, "%4d-%2d-%2d%*1[Tt ]%2d:%2d:%2d%n", &tm.tm_year,
	    &tm.tm_mon, &tm.tm_mday, &tm.tm_hour, &tm.tm_min, &tm.tm_sec,
	    &n) != 6 || n == 0)
		return 0;
	tm.tm_year -= 1900;
	tm.tm_mon -= 1;
	p = s + n;
	if (*p == '.')
		for (p++; *p >= '0' && *p <= '9'; p++, scale /= 10)
			ms += (*p - '0') * scale;
	t = (long long)timegm(&tm) * 1000 + ms;
	if ((*p == '+' || *p == '-') &&
	    sscanf(p + 1, "%2d:%2d", &oh, &om) == 2)
		t -= (*p == '+' ? 1 : -1) * (oh * 3600LL + om * 60LL) * 1000;
	return t;
}

/* The paths of a result's "files" (strings, or objects with a path). */
static struct json_object *file_paths(struct json_object *result)
{
	struct json_object *files, *out = json_object_new_array();
	size_t n;

	if (out == NULL || !json_object_object_get_ex(result, "files",
	    &files) || !json_object_is_type(files, json_type_array))
		return out;
	n = json_object_array_length(files);
	for (size_t i = 0; i < n && i < TASK_FILES_MAX; i++) {
		struct json_object *f = json_object_array_get_idx(files, i);
		const char *path = json_object_is_type(f, json_type_string) ?
		    json_object_get_string(f) : json_str_member(f, "path");

		if (path != NULL)
			json_object_array_add(out,
			    json_object_new_string(path));
	}
	return out;
}

/* Does the task match: its id, or the text of its result? */
static int task_matches(const struct kq_ctx *c, const char *task_id,
    struct json_object *result)
{
	struct json_object *r;
	const char *text;

	if (c->q == NULL || string_matches(c, task_id))
		return 1;
	if (!json_object_object_get_ex(result, "result", &r) || r == NULL)
		return 0;
	text = json_object_is_type(r, json_type_string) ?
	    json_object_get_string(r) : json_compact(r);
	return string_matches(c, text);
}

/* A copy of member 'key' of 'o' (null when absent). */
static struct json_object *member_copy(struct json_object *o,
    const char *key)
{
	struct json_object *v;

	return json_object_object_get_ex(o, key, &v) ? json_object_get(v) :
	    NULL;
}

static struct json_object *task_item(const char *task_id,
    struct json_object *result)
{
	struct json_object *t = json_object_new_object(), *ok;

	if (t == NULL)
		return NULL;
	json_object_object_add(t, "taskId", json_object_new_string(task_id));
	json_object_object_add(t, "success", json_object_new_boolean(
	    json_object_object_get_ex(result, "success", &ok) &&
	    json_object_get_boolean(ok)));
	json_object_object_add(t, "timestamp", member_copy(result,
	    "timestamp"));
	json_object_object_add(t, "error", member_copy(result, "error"));
	json_object_object_add(t, "files", file_paths(result));
	return t;
}

struct dated {
	long long ms;
	struct json_object *item;
};

static int newest_first(const void *a, const void *b)
{
	const struct dated *x = a, *y = b;

	return x->ms < y->ms ? 1 : x->ms > y->ms ? -1 : 0;
}

static int entry_newest_first(const void *a, const void *b)
{
	const struct sbx_file_entry *x = a, *y = b;

	if (x->mtime != y->mtime)
		return x->mtime < y->mtime ? 1 : -1;
	return strcmp(x->name, y->name);
}

/* Read the results of the task folders 'l' (sorted) into 'v'. */
static enum sbx_err read_tasks(struct kq_ctx *c, const struct sbx_file_list *l,
    struct dated *v, size_t *n)
{
	struct json_object *result, *ts;
	enum sbx_err e;
	size_t tried = 0;

	*n = 0;
	for (size_t i = 0; i < l->count && tried < KQ_TASKS_READ; i++) {
		const char *tid = l->entries[i].name;

		if (!l->entries[i].is_dir || !task_id_valid(tid))
			continue;
		tried++;
		e = task_result_read(c->p, c->id, tid, &result, c->why);
		if (e != SBX_OK) {
			if (skippable(e))
				continue;
			return e;
		}
		if (task_matches(c, tid, result)) {
			v[*n].ms = json_object_object_get_ex(result,
			    "timestamp", &ts) ? timestamp_ms(ts) : 0;
			if ((v[*n].item = task_item(tid, result)) != NULL)
				(*n)++;
		}
		json_object_put(result);
	}
	return SBX_OK;
}

static enum sbx_err find_tasks(struct kq_ctx *c, struct json_object *out)
{
	struct dated v[KQ_TASKS_READ];
	struct sbx_file_list l;
	enum sbx_err e;
	size_t n = 0, added = 0;

	if ((e = list_dir(c, TASK_DIR, &l)) != SBX_OK)
		return e;
	/* The most recently changed folders are read: the newest tasks,
	 * when there are more than can be read. */
	if (l.count > 1)
		qsort(l.entries, l.count, sizeof(*l.entries),
		    entry_newest_first);
	e = read_tasks(c, &l, v, &n);
	sbx_file_list_free(&l);
	qsort(v, n, sizeof(*v), newest_first);
	for (size_t i = 0; i < n; i++) {
		if (e == SBX_OK && added < KQ_TASKS_MAX && budget_left(c))
			added += (size_t)add_item(c, out, v[i].item);
		else
			json_object_put(v[i].item);
	}
	return e;
}

/* ---- patterns ---- */

struct walk {
	struct kq_ctx *c;
	struct json_object *out;
	size_t seen;      /* files looked at */
	size_t added;     /* files answered */
	size_t limit;     /* files to answer */
};

static int walk_done(const struct walk *w)
{
	return w->seen >= KQ_WALK_FILES || w->added >= w->limit ||
	    !budget_left(w->c);
}

/* The lines of 'data' that hold the query, as [{line, text}]; NULL when
 * none (or out of memory). */
static struct json_object *matching_lines(const struct kq_ctx *c,
    const char *data, const char *low, size_t len)
{
	struct json_object *m = NULL, *hit;
	size_t i = 0, line = 1, found = 0;

	while (i < len && found < KQ_FILE_MATCHES) {
		const char *nl = memchr(data + i, '\n', len - i);
		size_t l = nl != NULL ? (size_t)(nl - (data + i)) : len - i;

		if (l > 0 && data[i + l - 1] == '\r')
			l--;
		if (lowered_matches(c, low + i, l) &&
		    (m != NULL || (m = json_object_new_array()) != NULL) &&
		    (hit = json_object_new_object()) != NULL) {
			json_object_object_add(hit, "line",
			    json_object_new_int64((long long)line));
			json_object_object_add(hit, "text",
			    utf8_string(data + i, l, KQ_LINE_TEXT));
			json_object_array_add(m, hit);
			found++;
		}
		i += (nl != NULL ? (size_t)(nl - (data + i)) : len - i) + 1;
		line++;
	}
	return m;
}

/* Search one file; its entry into w->out when its text matches. */
static enum sbx_err search_file(struct walk *w, const char *path,
    long long size)
{
	struct json_object *matches, *item;
	char *data = NULL, *low;
	size_t len = 0;
	enum sbx_err e;

	if (size > (long long)KQ_FILE_MAX)
		return SBX_OK;
	e = sbx_read_file(w->c->p, w->c->id, path, KQ_FILE_MAX, &data, &len,
	    w->c->why);
	if (e != SBX_OK)
		return skippable(e) ? SBX_OK : e;
	/* A NUL byte: not text. */
	if (memchr(data, '\0', len) != NULL || (low = malloc(len + 1)) ==
	    NULL) {
		free(data);
		return SBX_OK;
	}
	memcpy(low, data, len);
	ascii_lower(low, len);
	matches = lowered_matches(w->c, low, len) ?
	    matching_lines(w->c, data, low, len) : NULL;
	free(low);
	free(data);
	if (matches == NULL || (item = json_object_new_object()) == NULL) {
		json_object_put(matches);
		return SBX_OK;
	}
	json_object_object_add(item, "path", json_object_new_string(path));
	json_object_object_add(item, "matches", matches);
	w->added += (size_t)add_item(w->c, w->out, item);
	return SBX_OK;
}

/* List one file (the empty query). */
static void list_file(struct walk *w, const char *path, long long size)
{
	struct json_object *item = json_object_new_object();

	if (item == NULL)
		return;
	json_object_object_add(item, "path", json_object_new_string(path));
	json_object_object_add(item, "size", json_object_new_int64(size));
	w->added += (size_t)add_item(w->c, w->out, item);
}

/* Walk 'dir' ('depth' folders below its root), depth first, by name. */
static enum sbx_err walk_dir(struct walk *w, const char *dir, int depth)
{
	char path[SANDBOX_PATH_MAX];
	struct sbx_file_list l;
	enum sbx_err e;

	if ((e = list_dir(w->c, dir, &l)) != SBX_OK)
		return e;
	for (size_t i = 0; i < l.count && e == SBX_OK && !walk_done(w); i++) {
		const struct sbx_file_entry *f = &l.entries[i];

		/* Dot entries: temporary files of atomic writes, editors'
		 * leftovers; no knowledge. */
		if (f->name[0] == '.' || join(path, sizeof(path), dir,
		    f->name) != 0)
			continue;
		if (f->is_dir) {
			if (depth < KQ_WALK_DEPTH)
				e = walk_dir(w, path, depth + 1);
			continue;
		}
		w->seen++;
		if (w->c->q == NULL)
			list_file(w, path, f->size);
		else
			e = search_file(w, path, f->size);
	}
	sbx_file_list_free(&l);
	return e;
}

static enum sbx_err find_patterns(struct kq_ctx *c, struct json_object *out)
{
	static const char *const roots[] = KQ_ROOTS;
	struct walk w = { c, out, 0, 0,
	    c->q == NULL ? KQ_LISTED_FILES : KQ_PATTERN_FILES };
	enum sbx_err e = SBX_OK;

	for (size_t i = 0; i < sizeof(roots) / sizeof(roots[0]) &&
	    e == SBX_OK && !walk_done(&w); i++)
		e = walk_dir(&w, roots[i], 0);
	return e;
}

/* ---- the search ---- */

void kq_result_free(struct kq_result *r)
{
	if (r == NULL)
		return;
	json_object_put(r->entities);
	json_object_put(r->tasks);
	json_object_put(r->patterns);
	memset(r, 0, sizeof(*r));
}

/* Leave 'why' saying 'e' (the provider filled it, or nobody did). */
static enum sbx_err finish(struct sbx_error *why, enum sbx_err e)
{
	if (why != NULL) {
		if (e == SBX_OK || why->code != e)
			sbx_error_clear(why);
		why->code = e;
	}
	return e;
}

enum sbx_err kq_search(struct sbx_provider *p, const char *sandbox_id,
    const char *query, struct kq_result *out, struct sbx_error *why)
{
	struct kq_ctx c = { p, sandbox_id, NULL, 0, 0, why };
	struct kq_result r = { NULL, NULL, NULL };
	enum sbx_err e;

	memset(out, 0, sizeof(*out));
	if (!kq_query_valid(query) || p == NULL || sandbox_id == NULL)
		return finish(why, SBX_EINVAL);
	if (query != NULL && query[0] != '\0') {
		if ((c.q = strdup(query)) == NULL)
			return finish(why, SBX_ENOMEM);
		c.qlen = strlen(c.q);
		ascii_lower(c.q, c.qlen);
	}
	r.entities = json_object_new_array();
	r.tasks = json_object_new_array();
	r.patterns = json_object_new_array();
	if (r.entities == NULL || r.tasks == NULL || r.patterns == NULL)
		e = SBX_ENOMEM;
	else if ((e = find_entities(&c, r.entities)) == SBX_OK &&
	    (e = find_tasks(&c, r.tasks)) == SBX_OK)
		e = find_patterns(&c, r.patterns);
	free(c.q);
	if (e != SBX_OK)
		kq_result_free(&r);
	else
		*out = r;
	return finish(why, e);
}
