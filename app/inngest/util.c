/*
 * util.c -- small building blocks of the Inngest SDK: a growable buffer, a
 * per-invocation arena with a cleanup list, query-string, hex and header
 * helpers, logging through the app's hook, checked json-c builders.
 *
 * The arena is what makes step functions leak-free on every return path:
 * everything the SDK hands out during one call request lives in it, and
 * ing_arena_release() runs once when the call ends.
 */
#include <ctype.h>
#include <json-c/json.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "inngest_internal.h"
#include "inngest_transport.h"

/* ---- buffer -------------------------------------------------------- */

void ing_buf_init(struct ing_buf *b)
{
	b->data = NULL;
	b->len = 0;
	b->cap = 0;
	b->failed = 0;
}

void ing_buf_free(struct ing_buf *b)
{
	free(b->data);
	ing_buf_init(b);
}

static int buf_reserve(struct ing_buf *b, size_t more)
{
	size_t need, cap;
	char *p;

	if (b->failed)
		return -1;
	if (more > SIZE_MAX - b->len - 1) {
		b->failed = 1;
		return -1;
	}
	need = b->len + more + 1;
	if (need <= b->cap)
		return 0;
	cap = b->cap != 0 ? b->cap : 256;
	while (cap < need)
		cap = cap > SIZE_MAX / 2 ? need : cap * 2;
	p = realloc(b->data, cap);
	if (p == NULL) {
		b->failed = 1;
		return -1;
	}
	b->data = p;
	b->cap = cap;
	return 0;
}

int ing_buf_put(struct ing_buf *b, const void *p, size_t n)
{
	if (buf_reserve(b, n) != 0)
		return -1;
	if (n > 0)
		memcpy(b->data + b->len, p, n);
	b->len += n;
	b->data[b->len] = '\0';
	return 0;
}

int ing_buf_puts(struct ing_buf *b, const char *s)
{
	return ing_buf_put(b, s, strlen(s));
}

int ing_buf_putc(struct ing_buf *b, char c)
{
	return ing_buf_put(b, &c, 1);
}

int ing_buf_printf(struct ing_buf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0 || buf_reserve(b, (size_t)n) != 0) {
		b->failed = 1;
		return -1;
	}
	va_start(ap, fmt);
	vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
	return 0;
}

char *ing_buf_take(struct ing_buf *b, size_t *len)
{
	char *p;

	if (b->failed || buf_reserve(b, 0) != 0) {
		ing_buf_free(b);
		if (len != NULL)
			*len = 0;
		return NULL;
	}
	p = b->data;
	p[b->len] = '\0';
	if (len != NULL)
		*len = b->len;
	ing_buf_init(b);
	return p;
}

/* ---- arena ---------------------------------------------------------- */

#define ARENA_CHUNK 4096

struct ing_arena_chunk {
	struct ing_arena_chunk *next;
	size_t used;
	size_t size;
	max_align_t data[];
};

struct ing_cleanup {
	struct ing_cleanup *next;
	void (*fn)(void *);
	void *p;
};

void ing_arena_init(struct ing_arena *a)
{
	a->chunks = NULL;
	a->cleanups = NULL;
}

void *ing_arena_alloc(struct ing_arena *a, size_t n)
{
	struct ing_arena_chunk *c = a->chunks;
	size_t align = sizeof(max_align_t), size;
	void *p;

	if (n == 0)
		n = 1;
	if (n > SIZE_MAX / 2)
		return NULL;
	n = (n + align - 1) / align * align;
	if (c == NULL || c->size - c->used < n) {
		size = n > ARENA_CHUNK ? n : ARENA_CHUNK;
		c = malloc(sizeof(*c) + size);
		if (c == NULL)
			return NULL;
		c->used = 0;
		c->size = size;
		c->next = a->chunks;
		a->chunks = c;
	}
	p = (char *)c->data + c->used;
	c->used += n;
	memset(p, 0, n);
	return p;
}

char *ing_arena_strdup(struct ing_arena *a, const char *s)
{
	size_t n;
	char *p;

	if (s == NULL)
		return NULL;
	n = strlen(s);
	p = ing_arena_alloc(a, n + 1);
	if (p != NULL)
		memcpy(p, s, n + 1);
	return p;
}

char *ing_arena_vprintf(struct ing_arena *a, const char *fmt, va_list ap)
{
	va_list cp;
	char *p;
	int n;

	va_copy(cp, ap);
	n = vsnprintf(NULL, 0, fmt, cp);
	va_end(cp);
	if (n < 0)
		return NULL;
	p = ing_arena_alloc(a, (size_t)n + 1);
	if (p != NULL)
		vsnprintf(p, (size_t)n + 1, fmt, ap);
	return p;
}

int ing_arena_defer(struct ing_arena *a, void (*fn)(void *), void *p)
{
	struct ing_cleanup *c = malloc(sizeof(*c));

	if (c == NULL)
		return -1;
	c->fn = fn;
	c->p = p;
	c->next = a->cleanups;
	a->cleanups = c;
	return 0;
}

void ing_arena_release(struct ing_arena *a)
{
	while (a->cleanups != NULL) {
		struct ing_cleanup *c = a->cleanups;

		a->cleanups = c->next;
		c->fn(c->p);
		free(c);
	}
	while (a->chunks != NULL) {
		struct ing_arena_chunk *c = a->chunks;

		a->chunks = c->next;
		free(c);
	}
}

/* ---- logging ---------------------------------------------------------- */

/* Long enough for every message the SDK writes (ids are capped far
 * below); a longer one is cut, not dropped. */
#define LOG_MSG_MAX 1024

void ing_log(const struct ing_app *app, enum ing_log_level level,
    const char *event, const char *fmt, ...)
{
	char msg[LOG_MSG_MAX];
	va_list ap;

	if (app == NULL || app->hooks.log == NULL)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	app->hooks.log(app->hooks.log_ud, level, event, msg);
}

/* ---- hex --------------------------------------------------------------- */

void ing_hex_encode(const unsigned char *in, size_t n, char *out, int upper)
{
	static const char lower_digits[] = "0123456789abcdef";
	static const char upper_digits[] = "0123456789ABCDEF";
	const char *d = upper ? upper_digits : lower_digits;

	for (size_t i = 0; i < n; i++) {
		out[2 * i] = d[in[i] >> 4];
		out[2 * i + 1] = d[in[i] & 15];
	}
	out[2 * n] = '\0';
}

/* ---- query strings, headers, URLs ------------------------------------ */

static int hex_value(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/*
 * Percent-decode the 'len' bytes at 'in' into 'out' ('outlen' bytes,
 * NUL-terminated), '+' as a space.  The rules of a query string as a
 * FastCGI host decodes them: a truncated or non-hex escape, "%00" and a
 * raw NUL are malformed.  0, or -1 malformed or too long.
 */
static int query_decode(const char *in, size_t len, char *out, size_t outlen)
{
	size_t o = 0;

	for (size_t i = 0; i < len; i++) {
		int c = (unsigned char)in[i];

		if (c == '%') {
			int hi, lo;

			if (i + 2 >= len)
				return -1;
			hi = hex_value((unsigned char)in[i + 1]);
			lo = hex_value((unsigned char)in[i + 2]);
			if (hi < 0 || lo < 0 || (hi == 0 && lo == 0))
				return -1;
			c = hi * 16 + lo;
			i += 2;
		} else if (c == '+') {
			c = ' ';
		} else if (c == '\0') {
			return -1;
		}
		if (o + 1 >= outlen)
			return -1;
		out[o++] = (char)c;
	}
	out[o] = '\0';
	return 0;
}

int ing_query_get(const char *query, const char *name, char *out,
    size_t outlen)
{
	size_t nlen = strlen(name);
	const char *p = query;

	if (query == NULL || outlen == 0)
		return 0;
	while (*p != '\0') {
		const char *end = strchr(p, '&'), *eq;
		size_t seglen = end != NULL ? (size_t)(end - p) : strlen(p);

		eq = memchr(p, '=', seglen);
		if ((eq != NULL ? (size_t)(eq - p) : seglen) == nlen &&
		    memcmp(p, name, nlen) == 0) {
			if (eq == NULL) {
				out[0] = '\0';
				return 1;
			}
			return query_decode(eq + 1, seglen - nlen - 1, out,
			    outlen) == 0 ? 1 : -1;
		}
		if (end == NULL)
			break;
		p = end + 1;
	}
	return 0;
}

int ing_query_filter(struct ing_buf *b, const char *query,
    const char *const *drop)
{
	const char *p = query;
	int first = 1;

	if (query == NULL)
		return 0;
	while (*p != '\0') {
		const char *end = strchr(p, '&'), *eq;
		size_t seglen = end != NULL ? (size_t)(end - p) : strlen(p);
		size_t klen;
		int skip = seglen == 0;

		eq = memchr(p, '=', seglen);
		klen = eq != NULL ? (size_t)(eq - p) : seglen;
		for (size_t i = 0; !skip && drop[i] != NULL; i++)
			if (strlen(drop[i]) == klen &&
			    memcmp(p, drop[i], klen) == 0)
				skip = 1;
		if (!skip) {
			if (!first && ing_buf_putc(b, '&') != 0)
				return -1;
			if (ing_buf_put(b, p, seglen) != 0)
				return -1;
			first = 0;
		}
		if (end == NULL)
			break;
		p = end + 1;
	}
	return 0;
}

int ing_buf_put_urlenc(struct ing_buf *b, const char *s)
{
	for (; *s != '\0'; s++) {
		unsigned char c = (unsigned char)*s;

		if (isalnum(c) || c == '-' || c == '_' || c == '.' ||
		    c == '~') {
			if (ing_buf_putc(b, (char)c) != 0)
				return -1;
		} else {
			char enc[4] = { '%' };

			ing_hex_encode(&c, 1, enc + 1, 1);
			if (ing_buf_put(b, enc, 3) != 0)
				return -1;
		}
	}
	return 0;
}

const char *ing_req_header(const struct ing_request *req, const char *name)
{
	for (size_t i = 0; i < req->nheaders; i++)
		if (req->headers[i].name != NULL &&
		    strcasecmp(req->headers[i].name, name) == 0)
			return req->headers[i].value;
	return NULL;
}

char *ing_strdup_origin(const char *s)
{
	size_t n;
	char *p;

	if (s == NULL)
		return NULL;
	n = strlen(s);
	while (n > 0 && s[n - 1] == '/')
		n--;
	p = malloc(n + 1);
	if (p == NULL)
		return NULL;
	memcpy(p, s, n);
	p[n] = '\0';
	return p;
}

const char *ing_json_text(struct json_object *obj, size_t *len)
{
	const char *s;

	s = json_object_to_json_string_length(obj,
	    JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE, len);
	return s;
}

/* ---- checked json-c builders ------------------------------------------ */

int ing_json_add(struct json_object *o, const char *key, struct json_object *v)
{
	if (v == NULL || json_object_object_add(o, key, v) != 0) {
		json_object_put(v);
		return -1;
	}
	return 0;
}

int ing_json_add_str(struct json_object *o, const char *key, const char *s)
{
	return s == NULL ? 0 : ing_json_add(o, key, json_object_new_string(s));
}

int ing_json_add_str_or_null(struct json_object *o, const char *key,
    const char *s)
{
	if (s != NULL)
		return ing_json_add(o, key, json_object_new_string(s));
	return json_object_object_add(o, key, NULL) == 0 ? 0 : -1;
}

int ing_json_add_int(struct json_object *o, const char *key, int64_t n)
{
	return ing_json_add(o, key, json_object_new_int64(n));
}

int ing_json_add_bool(struct json_object *o, const char *key, int b)
{
	return ing_json_add(o, key, json_object_new_boolean(b != 0));
}

int ing_json_push(struct json_object *arr, struct json_object *v)
{
	if (v == NULL || json_object_array_add(arr, v) != 0) {
		json_object_put(v);
		return -1;
	}
	return 0;
}

static struct json_object *add_child(struct json_object *parent,
    const char *key, struct json_object *child)
{
	int rc = key != NULL ? ing_json_add(parent, key, child) :
	    ing_json_push(parent, child);

	return rc == 0 ? child : NULL;
}

struct json_object *ing_json_add_object(struct json_object *o,
    const char *key)
{
	return add_child(o, key, json_object_new_object());
}

struct json_object *ing_json_add_array(struct json_object *o,
    const char *key)
{
	return add_child(o, key, json_object_new_array());
}

struct json_object *ing_json_push_object(struct json_object *arr)
{
	return add_child(arr, NULL, json_object_new_object());
}

void ing_http_res_free(struct ing_http_res *res)
{
	if (res == NULL)
		return;
	free(res->body);
	memset(res, 0, sizeof(*res));
}

static enum ing_err no_transport(void *ud, const struct ing_http_req *req,
    struct ing_http_res *res)
{
	(void)ud;
	(void)req;
	memset(res, 0, sizeof(*res));
	return ING_ETRANSPORT;
}

const struct ing_transport ing_transport_none = { no_transport, NULL };
