/*
 * sandbox_api.c -- the control-plane calls of the Daytona API: create,
 * get, list, start, stop, delete a sandbox and find its toolbox proxy
 * URL.  Builds each request (URL, JSON body), hands it to dt_call_do()
 * with its idempotency and timeout, and decodes the answer into
 * struct dt_sandbox.  The retry rules are explained in client.c.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "daytona.h"
#include "daytona_internal.h"

const char *dt_sandbox_label(const struct dt_sandbox *s, const char *key)
{
	size_t i;

	if (s == NULL || key == NULL)
		return NULL;
	for (i = 0; i < s->nlabels && i < DT_LABELS_MAX; i++)
		if (strcmp(s->labels[i].key, key) == 0)
			return s->labels[i].value;
	return NULL;
}

int dt_id_ok(const char *s)
{
	size_t i;

	if (s == NULL || *s == '\0')
		return 0;
	for (i = 0; s[i] != '\0'; i++)
		if (i >= DT_ID_MAX - 1 || (unsigned char)s[i] <= 0x20 ||
		    (unsigned char)s[i] >= 0x7f)
			return 0;
	/* Only dots would be a "." or ".." path segment in the URL. */
	return s[strspn(s, ".")] != '\0';
}

/* "<api>/sandbox[/<escaped id>][<suffix>]": new string or NULL. */
static char *sandbox_url(struct dt_client *c, const char *id,
    const char *suffix)
{
	char *esc = NULL, *url;
	int n;

	if (id != NULL && (esc = dt_url_escape(id)) == NULL)
		return NULL;
	n = asprintf(&url, "%s/sandbox%s%s%s", dt_client_api_url(c),
	    esc != NULL ? "/" : "", esc != NULL ? esc : "",
	    suffix != NULL ? suffix : "");
	free(esc);
	return n < 0 ? NULL : url;
}

static void set_why(char *why, size_t len, const char *field, const char *what)
{
	if (why != NULL && len > 0)
		snprintf(why, len, "%s: %s", field, what);
}

/*
 * String field 'key' of 'obj' into 'buf'.  Absent or null gives "" unless
 * 'required'.  Too long is an error unless 'truncate'.
 */
static enum dt_err get_field(struct json_object *obj, const char *key,
    char *buf, size_t len, int required, int truncate, char *why,
    size_t why_len)
{
	struct json_object *v;
	const char *s;
	size_t n;

	buf[0] = '\0';
	if (!json_object_object_get_ex(obj, key, &v) || v == NULL) {
		if (required) {
			set_why(why, why_len, key, "missing");
			return DT_EPROTO;
		}
		return DT_OK;
	}
	if (!json_object_is_type(v, json_type_string)) {
		set_why(why, why_len, key, "not a string");
		return DT_EPROTO;
	}
	s = json_object_get_string(v);
	n = (size_t)json_object_get_string_len(v);
	if (memchr(s, '\0', n) != NULL) {
		set_why(why, why_len, key, "contains NUL");
		return DT_EPROTO;
	}
	if (n >= len) {
		if (!truncate) {
			set_why(why, why_len, key, "too long");
			return DT_EPROTO;
		}
		n = len - 1;
	}
	if (required && n == 0) {
		set_why(why, why_len, key, "empty");
		return DT_EPROTO;
	}
	memcpy(buf, s, n);
	buf[n] = '\0';
	return DT_OK;
}

enum dt_err dt_sandbox_decode(struct json_object *obj, struct dt_sandbox *out,
    char *why, size_t why_len)
{
	struct json_object *labels;
	enum dt_err err;

	if (out == NULL)
		return DT_EINVAL;
	memset(out, 0, sizeof(*out));
	if (obj == NULL || !json_object_is_type(obj, json_type_object)) {
		set_why(why, why_len, "sandbox", "not an object");
		return DT_EPROTO;
	}
	if ((err = get_field(obj, "id", out->id, sizeof(out->id), 1, 0, why,
	    why_len)) != DT_OK ||
	    (err = get_field(obj, "name", out->name, sizeof(out->name), 0, 0,
	    why, why_len)) != DT_OK ||
	    (err = get_field(obj, "state", out->state, sizeof(out->state), 0,
	    0, why, why_len)) != DT_OK ||
	    (err = get_field(obj, "desiredState", out->desired_state,
	    sizeof(out->desired_state), 0, 0, why, why_len)) != DT_OK ||
	    (err = get_field(obj, "createdAt", out->created_at,
	    sizeof(out->created_at), 0, 0, why, why_len)) != DT_OK ||
	    (err = get_field(obj, "target", out->target, sizeof(out->target),
	    0, 1, why, why_len)) != DT_OK ||
	    (err = get_field(obj, "errorReason", out->error_reason,
	    sizeof(out->error_reason), 0, 1, why, why_len)) != DT_OK ||
	    (err = get_field(obj, "toolboxProxyUrl", out->toolbox_proxy_url,
	    sizeof(out->toolbox_proxy_url), 0, 0, why, why_len)) != DT_OK)
		return err;
	if (json_object_object_get_ex(obj, "labels", &labels) &&
	    labels != NULL) {
		if (!json_object_is_type(labels, json_type_object)) {
			set_why(why, why_len, "labels", "not an object");
			return DT_EPROTO;
		}
		json_object_object_foreach(labels, k, v) {
			struct dt_label *l;
			const char *s;

			if (out->nlabels >= DT_LABELS_MAX)
				break;
			if (!json_object_is_type(v, json_type_string))
				continue;
			s = json_object_get_string(v);
			if (strlen(k) >= DT_LABEL_KEY_MAX ||
			    (size_t)json_object_get_string_len(v) >=
			    DT_LABEL_VALUE_MAX ||
			    strlen(s) != (size_t)json_object_get_string_len(v))
				continue;
			l = &out->labels[out->nlabels++];
			memcpy(l->key, k, strlen(k) + 1);
			memcpy(l->value, s, strlen(s) + 1);
		}
	}
	return DT_OK;
}

/* Parse a whole answer body as JSON: new reference or NULL. */
static struct json_object *parse_body(const char *body, size_t len)
{
	struct json_tokener *tok;
	struct json_object *obj;

	if (body == NULL || len == 0 || len > (size_t)INT32_MAX)
		return NULL;
	tok = json_tokener_new_ex(64);
	if (tok == NULL)
		return NULL;
	obj = json_tokener_parse_ex(tok, body, (int)len);
	if (obj != NULL && (json_tokener_get_error(tok) !=
	    json_tokener_success || json_tokener_get_parse_end(tok) != len)) {
		json_object_put(obj);
		obj = NULL;
	}
	json_tokener_free(tok);
	return obj;
}

/* Decode the body of 'resp' as one sandbox into 'arg' (a struct
 * dt_sandbox, may be NULL); a dt_decode_fn. */
static enum dt_err decode_one(struct dt_http_resp *resp, void *arg,
    struct dt_status *st)
{
	struct dt_sandbox tmp, *out = arg;
	struct json_object *obj;
	enum dt_err err;

	obj = parse_body(resp->body, resp->body_len);
	if (obj == NULL) {
		snprintf(st->message, sizeof(st->message),
		    "sandbox answer is not JSON");
		return st->err = DT_EPROTO;
	}
	err = dt_sandbox_decode(obj, out != NULL ? out : &tmp, st->message,
	    sizeof(st->message));
	json_object_put(obj);
	if (err == DT_OK)
		st->message[0] = '\0';
	return st->err = err;
}

/* {"key": "value", ...} from 'kv': new reference, or NULL on a bad pair
 * or out of memory. */
static struct json_object *kv_object(const struct dt_kv *kv, size_t n)
{
	struct json_object *o;
	size_t i;

	if (n > 0 && kv == NULL)
		return NULL;
	o = json_object_new_object();
	if (o == NULL)
		return NULL;
	for (i = 0; i < n; i++) {
		struct json_object *v;

		if (kv[i].key == NULL || *kv[i].key == '\0' ||
		    kv[i].value == NULL) {
			json_object_put(o);
			return NULL;
		}
		v = json_object_new_string(kv[i].value);
		if (v == NULL || json_object_object_add(o, kv[i].key, v) != 0) {
			json_object_put(v);
			json_object_put(o);
			return NULL;
		}
	}
	return o;
}

static int add_kv_object(struct json_object *root, const char *name,
    const struct dt_kv *kv, size_t n)
{
	struct json_object *o;

	if (n == 0)
		return 0;
	o = kv_object(kv, n);
	if (o == NULL)
		return -1;
	if (json_object_object_add(root, name, o) != 0) {
		json_object_put(o);
		return -1;
	}
	return 0;
}

static int add_str(struct json_object *root, const char *name,
    const char *value)
{
	struct json_object *v;

	if (value == NULL)
		return 0;
	v = json_object_new_string(value);
	if (v == NULL || json_object_object_add(root, name, v) != 0) {
		json_object_put(v);
		return -1;
	}
	return 0;
}

static int add_int(struct json_object *root, const char *name, int value)
{
	struct json_object *v;

	if (value < 0)
		return 0;
	v = json_object_new_int(value);
	if (v == NULL || json_object_object_add(root, name, v) != 0) {
		json_object_put(v);
		return -1;
	}
	return 0;
}

/* Serialise 'root' (consumed) into a new string. */
static char *finish_json(struct json_object *root)
{
	const char *s;
	char *out;

	s = json_object_to_json_string_ext(root, JSON_C_TO_STRING_PLAIN |
	    JSON_C_TO_STRING_NOSLASHESCAPE);
	out = s != NULL ? strdup(s) : NULL;
	json_object_put(root);
	return out;
}

char *dt_create_body(const struct dt_create_params *p)
{
	struct json_object *root;

	if (p == NULL || !dt_id_ok(p->name))
		return NULL;
	root = json_object_new_object();
	if (root == NULL)
		return NULL;
	if (add_str(root, "name", p->name) != 0 ||
	    add_str(root, "snapshot", p->snapshot != NULL && *p->snapshot ?
	    p->snapshot : NULL) != 0 ||
	    add_str(root, "target", p->target != NULL && *p->target ?
	    p->target : NULL) != 0 ||
	    add_kv_object(root, "env", p->env, p->nenv) != 0 ||
	    add_kv_object(root, "labels", p->labels, p->nlabels) != 0 ||
	    add_int(root, "autoStopInterval", p->auto_stop_minutes) != 0 ||
	    add_int(root, "autoArchiveInterval", p->auto_archive_minutes) != 0)
		goto fail;
	/* autoDeleteInterval: negative means "never", so it is sent as is
	 * when the caller asks for anything but the default. */
	if (p->auto_delete_minutes != -1) {
		struct json_object *v = json_object_new_int(
		    p->auto_delete_minutes);

		if (v == NULL || json_object_object_add(root,
		    "autoDeleteInterval", v) != 0) {
			json_object_put(v);
			goto fail;
		}
	}
	return finish_json(root);
fail:
	json_object_put(root);
	return NULL;
}

enum dt_err dt_sandbox_create(struct dt_client *c,
    const struct dt_create_params *p, struct dt_sandbox *out,
    struct dt_status *st)
{
	struct dt_status local;
	struct dt_call call = {0};
	char *body;
	enum dt_err err;

	st = dt_status_begin(st, &local);
	if (c == NULL || p == NULL || !dt_id_ok(p->name))
		return st->err = DT_EINVAL;
	if ((body = dt_create_body(p)) == NULL)
		return st->err = DT_ENOMEM;
	call.method = DT_POST;
	call.body = body;
	call.body_len = strlen(body);
	call.idempotent = 0; /* see client.c: never blindly re-create */
	call.timeout_ms = dt_client_timeout(c, 0);
	err = dt_call_url(c, &call, sandbox_url(c, NULL, NULL), decode_one,
	    out, st);
	free(body);
	return err;
}

/* GET/POST/DELETE on "/sandbox/<id><suffix>"; decodes into 'out' when
 * given. */
static enum dt_err simple_call(struct dt_client *c, enum dt_method m,
    const char *id, const char *suffix, long timeout_ms, struct dt_sandbox *out,
    struct dt_status *st)
{
	struct dt_status local;
	struct dt_call call = {0};

	st = dt_status_begin(st, &local);
	if (c == NULL || !dt_id_ok(id))
		return st->err = DT_EINVAL;
	call.method = m;
	/* GET, DELETE, start and stop are all safe to repeat (client.c). */
	call.idempotent = 1;
	call.timeout_ms = timeout_ms;
	return dt_call_url(c, &call, sandbox_url(c, id, suffix),
	    out != NULL ? decode_one : NULL, out, st);
}

enum dt_err dt_sandbox_get(struct dt_client *c, const char *id_or_name,
    struct dt_sandbox *out, struct dt_status *st)
{
	struct dt_sandbox tmp;

	return simple_call(c, DT_GET, id_or_name, NULL, 0,
	    out != NULL ? out : &tmp, st);
}

enum dt_err dt_sandbox_start(struct dt_client *c, const char *id_or_name,
    struct dt_sandbox *out, struct dt_status *st)
{
	return simple_call(c, DT_POST, id_or_name, "/start",
	    dt_client_timeout(c, 0), out, st);
}

enum dt_err dt_sandbox_stop(struct dt_client *c, const char *id_or_name,
    struct dt_sandbox *out, struct dt_status *st)
{
	return simple_call(c, DT_POST, id_or_name, "/stop",
	    dt_client_timeout(c, 0), out, st);
}

enum dt_err dt_sandbox_delete(struct dt_client *c, const char *id_or_name,
    struct dt_status *st)
{
	return simple_call(c, DT_DELETE, id_or_name, NULL, 0, NULL, st);
}

struct list_out {
	int limit;
	struct dt_sandbox **items;
	size_t *count;
};

/* The list answer into a new array of at most 'limit'; a dt_decode_fn
 * with a struct list_out. */
static enum dt_err decode_list(struct dt_http_resp *resp, void *arg,
    struct dt_status *st)
{
	const struct list_out *lo = arg;
	int limit = lo->limit;
	struct json_object *root, *arr;
	struct dt_sandbox *list = NULL;
	enum dt_err err = DT_OK;
	size_t i, n;

	/* The current API answers {items, nextCursor}; older ones a bare
	 * array.  Accept both. */
	arr = root = parse_body(resp->body, resp->body_len);
	if (root != NULL && json_object_is_type(root, json_type_object) &&
	    !json_object_object_get_ex(root, "items", &arr))
		arr = NULL;
	if (arr == NULL || !json_object_is_type(arr, json_type_array)) {
		snprintf(st->message, sizeof(st->message),
		    "list answer has no items array");
		json_object_put(root);
		return DT_EPROTO;
	}
	n = json_object_array_length(arr);
	if (n > (size_t)limit)
		n = (size_t)limit;
	if (n > 0 && (list = calloc(n, sizeof(*list))) == NULL)
		err = DT_ENOMEM;
	for (i = 0; i < n && err == DT_OK; i++)
		err = dt_sandbox_decode(json_object_array_get_idx(arr, i),
		    &list[i], st->message, sizeof(st->message));
	json_object_put(root);
	if (err != DT_OK) {
		free(list);
		return err;
	}
	*lo->items = list;
	*lo->count = n;
	return DT_OK;
}

/* "<api>/sandbox?limit=N[&labels=<escaped JSON>]": new string in '*url'. */
static enum dt_err list_url(struct dt_client *c, const struct dt_kv *labels,
    size_t nlabels, int limit, char **url)
{
	struct json_object *filter;
	const char *json;
	char *base, *esc = NULL;
	enum dt_err err = DT_OK;

	*url = NULL;
	if (nlabels > 0) {
		if ((filter = kv_object(labels, nlabels)) == NULL)
			return DT_EINVAL;
		json = json_object_to_json_string_ext(filter,
		    JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
		esc = json != NULL ? dt_url_escape(json) : NULL;
		json_object_put(filter);
		if (esc == NULL)
			return DT_ENOMEM;
	}
	base = sandbox_url(c, NULL, NULL);
	if (base == NULL || asprintf(url, "%s?limit=%d%s%s", base, limit,
	    esc != NULL ? "&labels=" : "", esc != NULL ? esc : "") < 0) {
		*url = NULL;
		err = DT_ENOMEM;
	}
	free(base);
	free(esc);
	return err;
}

enum dt_err dt_sandbox_list(struct dt_client *c, const struct dt_kv *labels,
    size_t nlabels, int limit, struct dt_sandbox **items, size_t *count,
    struct dt_status *st)
{
	struct list_out lo = { limit, items, count };
	struct dt_status local;
	struct dt_call call = {0};
	char *url;
	enum dt_err err;

	st = dt_status_begin(st, &local);
	if (items != NULL)
		*items = NULL;
	if (count != NULL)
		*count = 0;
	if (c == NULL || items == NULL || count == NULL || limit < 1 ||
	    limit > 100 || (nlabels > 0 && labels == NULL))
		return st->err = DT_EINVAL;
	if ((err = list_url(c, labels, nlabels, limit, &url)) != DT_OK)
		return st->err = err;
	call.method = DT_GET;
	call.idempotent = 1;
	return dt_call_url(c, &call, url, decode_list, &lo, st);
}

enum dt_err dt_ping(struct dt_client *c, long timeout_ms,
    struct dt_status *st)
{
	struct dt_status local;
	struct dt_call call = {0};

	st = dt_status_begin(st, &local);
	if (c == NULL || timeout_ms <= 0)
		return st->err = DT_EINVAL;
	call.method = DT_GET;
	call.idempotent = 1;
	call.max_attempts = 1;
	call.timeout_ms = timeout_ms;
	return dt_call_url(c, &call, sandbox_url(c, NULL, "?limit=1"), NULL,
	    NULL, st);
}

struct tb_out {
	struct dt_client *c;
	char *url;
	size_t url_len;
};

/* {"url": "http(s)://..."} into a struct tb_out, cached; a dt_decode_fn. */
static enum dt_err decode_toolbox_url(struct dt_http_resp *resp, void *arg,
    struct dt_status *st)
{
	const struct tb_out *to = arg;
	struct json_object *root, *u;
	const char *s;
	enum dt_err err = DT_EPROTO;

	root = parse_body(resp->body, resp->body_len);
	if (root != NULL && json_object_is_type(root, json_type_object) &&
	    json_object_object_get_ex(root, "url", &u) &&
	    json_object_is_type(u, json_type_string)) {
		s = json_object_get_string(u);
		if ((strncmp(s, "http://", 7) == 0 ||
		    strncmp(s, "https://", 8) == 0) &&
		    strlen(s) < to->url_len && strlen(s) < DT_URL_MAX &&
		    strpbrk(s, " \r\n\t") == NULL) {
			memcpy(to->url, s, strlen(s) + 1);
			dt_client_tb_cache_set(to->c, to->url);
			err = DT_OK;
		}
	}
	if (err != DT_OK)
		snprintf(st->message, sizeof(st->message),
		    "toolbox-proxy-url answer has no usable url");
	json_object_put(root);
	return err;
}

enum dt_err dt_toolbox_url(struct dt_client *c, const char *id, char *url,
    size_t url_len, struct dt_status *st)
{
	struct tb_out to = { c, url, url_len };
	struct dt_status local;
	struct dt_call call = {0};

	st = dt_status_begin(st, &local);
	if (c == NULL || !dt_id_ok(id) || url == NULL || url_len == 0)
		return st->err = DT_EINVAL;
	if (dt_client_tb_cache_get(c, url, url_len))
		return st->err = DT_OK;
	call.method = DT_GET;
	call.idempotent = 1;
	return dt_call_url(c, &call, sandbox_url(c, id, "/toolbox-proxy-url"),
	    decode_toolbox_url, &to, st);
}
