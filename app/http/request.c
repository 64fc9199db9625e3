/*
 * request.c -- FastCGI params and body into a struct http_request.
 *
 * The params come from the front server (nginx fastcgi_params, Caddy's
 * fastcgi transport) as "NAME=value" strings.  Only REQUEST_URI is trusted
 * for the path: it is what the client sent, and decoding it here means the
 * route table sees the same path whichever front server is in use.
 */
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/rand.h>

#include "hex.h"
#include "http.h"

static int hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

char *http_percent_decode(const char *in, size_t len, int plus_is_space,
    size_t *out_len)
{
	char *out = malloc(len + 1);
	size_t o = 0;

	if (out == NULL)
		return NULL;
	for (size_t i = 0; i < len; i++) {
		int c = (unsigned char)in[i];

		if (c == '%') {
			int hi, lo;

			if (i + 2 >= len) {
				free(out);
				return NULL;
			}
			hi = hexval((unsigned char)in[i + 1]);
			lo = hexval((unsigned char)in[i + 2]);
			if (hi < 0 || lo < 0 || (hi == 0 && lo == 0)) {
				free(out);
				return NULL;
			}
			c = hi * 16 + lo;
			i += 2;
		} else if (c == '+' && plus_is_space) {
			c = ' ';
		} else if (c == '\0') {
			free(out);
			return NULL;
		}
		out[o++] = (char)c;
	}
	out[o] = '\0';
	if (out_len != NULL)
		*out_len = o;
	return out;
}

int http_is_json_type(const char *ct)
{
	static const char json[] = "application/json";
	size_t n = sizeof(json) - 1;

	if (ct == NULL)
		return 0;
	while (*ct == ' ' || *ct == '\t')
		ct++;
	if (strncasecmp(ct, json, n) != 0)
		return 0;
	ct += n;
	while (*ct == ' ' || *ct == '\t')
		ct++;
	return *ct == '\0' || *ct == ';';
}

/* The FastCGI params the parser reads, borrowed from envp. */
struct cgi_params {
	const char *method, *uri, *query, *remote_addr, *content_type,
	    *content_length, *document_uri;
};

/* One pass over envp for all of them (the first occurrence wins, as a
 * lookup would find it): this runs for every request. */
static void known_params(char *const *envp, struct cgi_params *p)
{
	static const struct {
		const char *name;
		size_t len;
	} known[] = {
#define NAME(s) { s, sizeof(s) - 1 }
		NAME("REQUEST_METHOD"), NAME("REQUEST_URI"),
		NAME("QUERY_STRING"), NAME("REMOTE_ADDR"),
		NAME("CONTENT_TYPE"), NAME("CONTENT_LENGTH"),
		NAME("DOCUMENT_URI"),
#undef NAME
	};
	/* In the order of 'known'. */
	const char **slot[] = {
		&p->method, &p->uri, &p->query, &p->remote_addr,
		&p->content_type, &p->content_length, &p->document_uri,
	};

	_Static_assert(sizeof(known) / sizeof(known[0]) ==
	    sizeof(slot) / sizeof(slot[0]), "one slot per name");
	memset(p, 0, sizeof(*p));
	for (; envp != NULL && *envp != NULL; envp++) {
		const char *e = *envp;

		for (size_t k = 0; k < sizeof(known) / sizeof(known[0]); k++)
			if (e[0] == known[k].name[0] && *slot[k] == NULL &&
			    strncmp(e, known[k].name, known[k].len) == 0 &&
			    e[known[k].len] == '=') {
				*slot[k] = e + known[k].len + 1;
				break;
			}
	}
}

static int kv_push(struct http_kv **arr, size_t *n, char *name, char *value)
{
	struct http_kv *grown = realloc(*arr, (*n + 1) * sizeof(**arr));

	if (grown == NULL) {
		free(name);
		free(value);
		return -1;
	}
	*arr = grown;
	grown[*n].name = name;
	grown[*n].value = value;
	(*n)++;
	return 0;
}

/*
 * The request headers from the HTTP_* params: "HTTP_X_REQUEST_ID=v" ->
 * {"x-request-id", "v"}.  The array is sized once, and each header is one
 * allocation holding the name, then the value (headers_free frees the
 * names only).
 */
static int parse_headers(struct http_request *req, char *const *envp)
{
	size_t count = 0;

	for (char *const *e = envp; e != NULL && *e != NULL; e++)
		count += strncmp(*e, "HTTP_", 5) == 0;
	if (count == 0)
		return 0;
	if ((req->headers = calloc(count, sizeof(*req->headers))) == NULL)
		return -1;
	for (; envp != NULL && *envp != NULL; envp++) {
		const char *e = *envp, *eq;
		size_t nlen, vlen;
		char *kv;

		if (strncmp(e, "HTTP_", 5) != 0)
			continue;
		eq = strchr(e, '=');
		if (eq == NULL || eq == e + 5)
			continue;
		nlen = (size_t)(eq - e - 5);
		vlen = strlen(eq + 1);
		if ((kv = malloc(nlen + 1 + vlen + 1)) == NULL)
			return -1;
		for (size_t i = 0; i < nlen; i++)
			kv[i] = e[5 + i] == '_' ? '-' :
			    (char)tolower((unsigned char)e[5 + i]);
		kv[nlen] = '\0';
		memcpy(kv + nlen + 1, eq + 1, vlen + 1);
		req->headers[req->nheaders].name = kv;
		req->headers[req->nheaders].value = kv + nlen + 1;
		req->nheaders++;
	}
	return 0;
}

static void headers_free(struct http_kv *kv, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(kv[i].name);
	free(kv);
}

static enum http_parse_err parse_query(struct http_request *req)
{
	const char *p = req->raw_query;

	while (*p != '\0') {
		const char *amp = strchr(p, '&');
		size_t len = amp ? (size_t)(amp - p) : strlen(p);
		const char *eq = memchr(p, '=', len);
		size_t klen = eq ? (size_t)(eq - p) : len;
		char *name, *value;

		if (len > 0) {
			name = http_percent_decode(p, klen, 1, NULL);
			value = eq ? http_percent_decode(eq + 1,
			    len - klen - 1, 1, NULL) : strdup("");
			if (name == NULL || value == NULL) {
				free(name);
				free(value);
				return HTTP_PARSE_BAD_QUERY;
			}
			if (kv_push(&req->params, &req->nparams, name,
			    value) != 0)
				return HTTP_PARSE_NOMEM;
		}
		p += len;
		if (*p == '&')
			p++;
	}
	return HTTP_PARSE_OK;
}

/* A request id from the client is kept only if it is short and plain, so
 * it can go into logs and headers as is. */
static int request_id_acceptable(const char *id)
{
	size_t n = 0;

	for (; id[n] != '\0'; n++) {
		unsigned char c = (unsigned char)id[n];

		if (n >= HTTP_REQUEST_ID_MAX - 1)
			return 0;
		if (!(isalnum(c) || c == '-' || c == '_' || c == '.' ||
		    c == ':' || c == '/' || c == '+' || c == '='))
			return 0;
	}
	return n > 0;
}

static void set_request_id(struct http_request *req)
{
	const char *given = http_header(req, "x-request-id");
	unsigned char raw[16];

	if (given != NULL && request_id_acceptable(given)) {
		strcpy(req->request_id, given);
		return;
	}
	if (RAND_bytes(raw, sizeof(raw)) != 1) {
		/* The CSPRNG failing is not a reason to refuse a request;
		 * uniqueness is all an id needs. */
		for (size_t i = 0; i < sizeof(raw); i++)
			raw[i] = (unsigned char)random();
	}
	hex_encode(raw, sizeof(raw), req->request_id, 0);
}

/* Read and drop whatever is left of the body. */
static void drain(http_body_reader reader, void *ctx)
{
	char scratch[8192];

	while (reader(ctx, scratch, sizeof(scratch)) > 0)
		;
}

/*
 * Read the body, at most 'max' bytes.  Past that the rest is read and
 * dropped: the front server has already sent it, and leaving it unread
 * would desynchronise a kept-alive FastCGI connection.  Memory stays
 * bounded by 'max' whatever the client sends.
 */
static enum http_parse_err read_body(struct http_request *req,
    http_body_reader reader, void *ctx, size_t max)
{
	size_t cap, len = 0;
	char *buf;

	if (reader == NULL)
		return HTTP_PARSE_OK;
	if (req->content_length > (long long)max) {
		drain(reader, ctx);
		req->body_status = HTTP_BODY_TOO_LARGE;
		return HTTP_PARSE_OK;
	}
	/* Without a length (a GET, or a chunked body) start small: most such
	 * requests have no body, and a small block comes from the thread's
	 * cache where a page-sized one makes malloc consolidate its free
	 * lists on every request.  A body of unknown length grows by
	 * doubling. */
	cap = req->content_length > 0 ? (size_t)req->content_length : 64;
	if (cap > max)
		cap = max;
	if ((buf = malloc(cap + 1)) == NULL)
		return HTTP_PARSE_NOMEM;
	for (;;) {
		long got;

		if (len == cap) {
			char probe;
			char *grown;

			if (cap == max) {
				/* Full: one more byte proves it too large. */
				if (reader(ctx, &probe, 1) <= 0)
					break;
				drain(reader, ctx);
				free(buf);
				req->body_status = HTTP_BODY_TOO_LARGE;
				return HTTP_PARSE_OK;
			}
			cap = cap * 2 > max ? max : cap * 2;
			if ((grown = realloc(buf, cap + 1)) == NULL) {
				free(buf);
				return HTTP_PARSE_NOMEM;
			}
			buf = grown;
		}
		got = reader(ctx, buf + len, cap - len);
		if (got < 0) {
			free(buf);
			req->body_status = HTTP_BODY_READ_ERROR;
			return HTTP_PARSE_OK;
		}
		if (got == 0)
			break;
		len += (size_t)got;
	}
	buf[len] = '\0';
	if (req->content_length >= 0 && (long long)len < req->content_length)
		req->body_status = HTTP_BODY_READ_ERROR;
	req->body = buf;
	req->body_len = len;
	return HTTP_PARSE_OK;
}

static int method_valid(const char *m)
{
	size_t n = strlen(m);

	if (n == 0 || n >= sizeof(((struct http_request *)0)->method))
		return 0;
	for (size_t i = 0; i < n; i++)
		if (!isupper((unsigned char)m[i]))
			return 0;
	return 1;
}

static enum http_parse_err parse_head(struct http_request *req,
    char *const *envp, const struct omni_config *cfg)
{
	struct cgi_params cp;
	const char *method, *uri, *qs, *v;
	size_t plen;

	known_params(envp, &cp);
	method = cp.method;
	uri = cp.uri;
	qs = cp.query;
	memset(req, 0, sizeof(*req));
	clock_gettime(CLOCK_MONOTONIC, &req->started);
	req->cfg = cfg;
	req->content_length = -1;
	if (parse_headers(req, envp) != 0) {
		set_request_id(req);
		return HTTP_PARSE_NOMEM;
	}
	set_request_id(req);

	v = cp.remote_addr;
	req->remote_addr = strdup(v ? v : "");
	if ((v = cp.content_type) != NULL && *v != '\0')
		req->content_type = strdup(v);
	if ((v = cp.content_length) != NULL && *v != '\0') {
		char *end;

		errno = 0;
		req->content_length = strtoll(v, &end, 10);
		if (errno != 0 || *end != '\0' || req->content_length < 0)
			req->content_length = -1;
	}
	if (req->remote_addr == NULL)
		return HTTP_PARSE_NOMEM;

	if (method == NULL || !method_valid(method))
		return HTTP_PARSE_BAD_METHOD;
	strcpy(req->method, method);

	if (uri == NULL)
		uri = cp.document_uri;
	if (uri == NULL || uri[0] != '/')
		return HTTP_PARSE_BAD_PATH;
	plen = strcspn(uri, "?#");
	req->path = http_percent_decode(uri, plen, 0, NULL);
	if (req->path == NULL)
		return HTTP_PARSE_BAD_PATH;
	if (qs == NULL && uri[plen] == '?')
		qs = uri + plen + 1;
	req->raw_query = strdup(qs ? qs : "");
	if (req->raw_query == NULL)
		return HTTP_PARSE_NOMEM;
	return parse_query(req);
}

enum http_parse_err http_request_parse(struct http_request *req,
    char *const *envp, http_body_reader reader, void *reader_ctx,
    size_t max_body, const struct omni_config *cfg)
{
	enum http_parse_err err = parse_head(req, envp, cfg);

	if (err == HTTP_PARSE_OK)
		return read_body(req, reader, reader_ctx, max_body);
	/* The body is consumed even when the request is refused, so that a
	 * kept-alive FastCGI connection stays in step. */
	if (reader != NULL)
		drain(reader, reader_ctx);
	return err;
}

static void kv_free(struct http_kv *arr, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(arr[i].name);
		free(arr[i].value);
	}
	free(arr);
}

void http_request_free(struct http_request *req)
{
	if (req == NULL)
		return;
	free(req->path);
	free(req->raw_query);
	kv_free(req->params, req->nparams);
	headers_free(req->headers, req->nheaders);
	free(req->remote_addr);
	free(req->content_type);
	free(req->body);
	if (req->json != NULL)
		json_object_put(req->json);
	memset(req, 0, sizeof(*req));
}

const char *http_header(const struct http_request *req, const char *name)
{
	for (size_t i = 0; i < req->nheaders; i++)
		if (strcmp(req->headers[i].name, name) == 0)
			return req->headers[i].value;
	return NULL;
}

const char *http_param(const struct http_request *req, const char *name)
{
	for (size_t i = 0; i < req->nparams; i++)
		if (strcmp(req->params[i].name, name) == 0)
			return req->params[i].value;
	return NULL;
}
