/*
 * test_fcgi_io.c -- unit tests for app/http/fcgi_io.c.
 *
 * libfcgi's FCGX_Stream is a public struct of buffer pointers plus two
 * callbacks (fcgiapp.h), so the tests make their own streams over memory:
 * a writer with a deliberately small buffer whose flush callback appends
 * to a capture (and can play a front server that went away), and a
 * reader that hands out a body a few bytes at a time.  FCGX_PutStr,
 * FCGX_FPrintF and FCGX_GetStr are libfcgi's own, unchanged.  No socket,
 * no process: fcgi_serve() runs on an FCGX_Request whose in, out and envp
 * are set by hand.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <fcgiapp.h>

#include "config.h"
#include "fcgi_io.h"
#include "handlers.h"
#include "log.h"

/* ---- memory streams ---- */

#define WBUF 16   /* small, so every response crosses many flushes */

struct capture {
	FCGX_Stream s;
	unsigned char buf[WBUF];
	char *data;
	size_t len;
	size_t cap;
	size_t fail_after;  /* flushes allowed before failing (0: never) */
	size_t flushes;
};

static void
capture_append(struct capture *c, const unsigned char *p, size_t n)
{
	if (c->len + n + 1 > c->cap) {
		size_t cap = (c->len + n + 1) * 2;
		char *grown = realloc(c->data, cap);

		assert_non_null(grown);
		c->data = grown;
		c->cap = cap;
	}
	memcpy(c->data + c->len, p, n);
	c->len += n;
	c->data[c->len] = '\0';
}

static void
capture_flush(FCGX_Stream *s, int do_close)
{
	struct capture *c = s->data;

	(void)do_close;
	if (c->fail_after > 0 && c->flushes >= c->fail_after) {
		/* As libfcgi does when the peer is gone: the stream closes
		 * with an error and the buffer is not drained. */
		s->isClosed = 1;
		s->FCGI_errno = EPIPE;
		return;
	}
	c->flushes++;
	capture_append(c, c->buf, (size_t)(s->wrNext - c->buf));
	s->wrNext = c->buf;
}

static void
capture_init(struct capture *c)
{
	memset(c, 0, sizeof(*c));
	c->s.wrNext = c->buf;
	c->s.rdNext = c->buf + WBUF;
	c->s.stop = c->buf + WBUF;
	c->s.stopUnget = NULL;
	c->s.isReader = 0;
	c->s.emptyBuffProc = capture_flush;
	c->s.data = c;
}

/* Everything written so far, NUL-terminated (borrowed from 'c'). */
static const char *
capture_text(struct capture *c)
{
	capture_append(c, c->buf, (size_t)(c->s.wrNext - c->buf));
	c->s.wrNext = c->buf;
	return c->data ? c->data : "";
}

static void
capture_free(struct capture *c)
{
	free(c->data);
	memset(c, 0, sizeof(*c));
}

struct source {
	FCGX_Stream s;
	const unsigned char *data;
	size_t len;
	size_t pos;         /* start of the window handed out next */
	size_t window;
	int fail_at_end;    /* end with an error instead of EOF */
};

static void
source_fill(FCGX_Stream *s)
{
	struct source *src = s->data;
	size_t n = src->len - src->pos;

	if (n == 0) {
		s->isClosed = 1;
		if (src->fail_at_end)
			s->FCGI_errno = ECONNRESET;
		s->rdNext = s->stop;
		return;
	}
	if (n > src->window)
		n = src->window;
	s->rdNext = (unsigned char *)src->data + src->pos;
	s->stop = s->rdNext + n;
	s->stopUnget = s->rdNext;
	src->pos += n;
}

static void
source_init(struct source *src, const char *body, size_t len, size_t window)
{
	static unsigned char empty;

	memset(src, 0, sizeof(*src));
	src->data = (const unsigned char *)(body ? body : "");
	src->len = len;
	src->window = window;
	src->s.rdNext = &empty;
	src->s.stop = &empty;
	src->s.stopUnget = &empty;
	src->s.wrNext = &empty;
	src->s.isReader = 1;
	src->s.fillBuffProc = source_fill;
	src->s.data = src;
}

/* ---- response parsing ---- */

struct parsed {
	char status_line[64];
	char *head;          /* header block, each line "Name: value\r\n" */
	const char *body;
	size_t body_len;
};

/* Split a CGI response into head and body; the head must end with an
 * empty line. */
static void
split(const char *text, size_t len, struct parsed *p)
{
	const char *end = strstr(text, "\r\n\r\n");
	const char *eol = strstr(text, "\r\n");

	assert_non_null(end);
	assert_non_null(eol);
	assert_true((size_t)(eol - text) < sizeof(p->status_line));
	memcpy(p->status_line, text, (size_t)(eol - text));
	p->status_line[eol - text] = '\0';
	p->head = strndup(text, (size_t)(end - text) + 2);
	assert_non_null(p->head);
	p->body = end + 4;
	p->body_len = len - (size_t)(p->body - text);
}

/* Value of header 'name' in the head (first one), or NULL.  The returned
 * string is static, valid until the next call. */
static const char *
head_value(const struct parsed *p, const char *name)
{
	static char value[512];
	const char *line = p->head;

	while (line != NULL && *line != '\0') {
		const char *eol = strstr(line, "\r\n");
		size_t nlen = strlen(name);

		assert_non_null(eol);
		if (strncasecmp(line, name, nlen) == 0 &&
		    line[nlen] == ':' && line[nlen + 1] == ' ') {
			size_t vlen = (size_t)(eol - line) - nlen - 2;

			assert_true(vlen < sizeof(value));
			memcpy(value, line + nlen + 2, vlen);
			value[vlen] = '\0';
			return value;
		}
		line = eol + 2;
	}
	return NULL;
}

static int
head_count(const struct parsed *p, const char *name)
{
	int n = 0;
	const char *line = p->head;

	while (*line != '\0') {
		const char *eol = strstr(line, "\r\n");
		size_t nlen = strlen(name);

		if (strncasecmp(line, name, nlen) == 0 && line[nlen] == ':')
			n++;
		line = eol + 2;
	}
	return n;
}

/* ---- fixtures ---- */

static void
request_init(struct http_request *req, const char *method, const char *id)
{
	memset(req, 0, sizeof(*req));
	snprintf(req->method, sizeof(req->method), "%s", method);
	snprintf(req->request_id, sizeof(req->request_id), "%s", id);
	req->content_length = -1;
}

static int
group_setup(void **state)
{
	(void)state;
	log_set_level(LOG_ERROR);   /* no request lines in the test output */
	return 0;
}

/* ---- fcgi_write_response ---- */

static void
test_write_exact_format(void **state)
{
	struct http_request req;
	struct http_response resp;
	struct capture c;
	static const char want[] =
	    "Status: 200 OK\r\n"
	    "Content-Type: application/json\r\n"
	    "X-Request-Id: rid-1\r\n"
	    "X-A: 1\r\n"
	    "Vary: Origin\r\n"
	    "Content-Length: 9\r\n"
	    "\r\n"
	    "{\"a\":\"b\"}";

	(void)state;
	request_init(&req, "GET", "rid-1");
	http_response_init(&resp);
	http_response_body(&resp, 200, "application/json", "{\"a\":\"b\"}", 9);
	http_response_header(&resp, "X-A", "1");
	http_response_header(&resp, "Vary", "Origin");
	capture_init(&c);
	assert_int_equal(fcgi_write_response(&c.s, &req, &resp), 0);
	assert_string_equal(capture_text(&c), want);
	assert_true(c.flushes > 1);
	capture_free(&c);
	http_response_free(&resp);
}

static void
test_write_status_reason_phrase(void **state)
{
	struct http_request req;
	struct http_response resp;
	struct capture c;
	struct parsed p;

	(void)state;
	request_init(&req, "POST", "r");
	http_response_init(&resp);
	http_response_error(&resp, API_UNSUPPORTED_MEDIA_TYPE, "no", NULL);
	capture_init(&c);
	assert_int_equal(fcgi_write_response(&c.s, &req, &resp), 0);
	capture_text(&c);
	split(c.data, c.len, &p);
	assert_string_equal(p.status_line,
	    "Status: 415 Unsupported Media Type");
	free(p.head);
	capture_free(&c);
	http_response_free(&resp);
}

static void
test_write_default_content_type(void **state)
{
	struct http_request req;
	struct http_response resp;
	struct capture c;
	struct parsed p;

	(void)state;
	request_init(&req, "GET", "r");
	http_response_init(&resp);
	resp.status = 500;
	capture_init(&c);
	assert_int_equal(fcgi_write_response(&c.s, &req, &resp), 0);
	capture_text(&c);
	split(c.data, c.len, &p);
	assert_string_equal(head_value(&p, "Content-Type"),
	    "application/json");
	assert_string_equal(head_value(&p, "Content-Length"), "0");
	assert_int_equal(p.body_len, 0);
	free(p.head);
	capture_free(&c);
	http_response_free(&resp);
}

static void
test_write_request_id_always_present(void **state)
{
	struct http_request req;
	struct http_response resp;
	struct capture c;
	struct parsed p;

	(void)state;
	request_init(&req, "GET", "0123456789abcdef0123456789abcdef");
	http_response_init(&resp);
	http_response_body(&resp, 404, "text/plain", "x", 1);
	capture_init(&c);
	assert_int_equal(fcgi_write_response(&c.s, &req, &resp), 0);
	capture_text(&c);
	split(c.data, c.len, &p);
	assert_string_equal(head_value(&p, "X-Request-Id"),
	    "0123456789abcdef0123456789abcdef");
	assert_int_equal(head_count(&p, "X-Request-Id"), 1);
	assert_int_equal(head_count(&p, "Content-Type"), 1);
	free(p.head);
	capture_free(&c);
	http_response_free(&resp);
}

static void
test_write_binary_body_in_full(void **state)
{
	struct http_request req;
	struct http_response resp;
	struct capture c;
	struct parsed p;
	char body[1000];

	(void)state;
	for (size_t i = 0; i < sizeof(body); i++)
		body[i] = (char)(i % 251);   /* includes NUL bytes */
	request_init(&req, "GET", "r");
	http_response_init(&resp);
	http_response_body(&resp, 200, "application/octet-stream", body,
	    sizeof(body));
	capture_init(&c);
	assert_int_equal(fcgi_write_response(&c.s, &req, &resp), 0);
	capture_text(&c);
	split(c.data, c.len, &p);
	assert_string_equal(head_value(&p, "Content-Length"), "1000");
	assert_int_equal(p.body_len, sizeof(body));
	assert_memory_equal(p.body, body, sizeof(body));
	free(p.head);
	capture_free(&c);
	http_response_free(&resp);
}

static void
test_write_head_has_no_body(void **state)
{
	struct http_request req;
	struct http_response resp;
	struct capture c;
	struct parsed p;

	(void)state;
	request_init(&req, "HEAD", "r");
	http_response_init(&resp);
	http_response_body(&resp, 200, "application/json",
	    "{\"status\":\"ok\"}", 15);
	capture_init(&c);
	assert_int_equal(fcgi_write_response(&c.s, &req, &resp), 0);
	capture_text(&c);
	split(c.data, c.len, &p);
	assert_string_equal(p.status_line, "Status: 200 OK");
	assert_int_equal(p.body_len, 0);
	free(p.head);
	capture_free(&c);
	http_response_free(&resp);
}

/*
 * RFC 9110 section 8.6: a Content-Length sent in answer to HEAD must be
 * the length the GET body would have; otherwise it must be left out.
 * "Content-Length: 0" tells a client that probes with HEAD that the
 * resource is empty.
 */
static void
test_write_head_content_length_is_get_length(void **state)
{
	struct http_request req;
	struct http_response resp;
	struct capture c;
	struct parsed p;
	const char *cl;
	char got[32] = "(absent)";
	int rc;

	(void)state;
	request_init(&req, "HEAD", "r");
	http_response_init(&resp);
	http_response_body(&resp, 200, "application/json",
	    "{\"status\":\"ok\"}", 15);
	capture_init(&c);
	rc = fcgi_write_response(&c.s, &req, &resp);
	capture_text(&c);
	split(c.data, c.len, &p);
	if ((cl = head_value(&p, "Content-Length")) != NULL)
		snprintf(got, sizeof(got), "%s", cl);
	free(p.head);
	capture_free(&c);
	http_response_free(&resp);
	assert_int_equal(rc, 0);
	if (strcmp(got, "(absent)") != 0)
		assert_string_equal(got, "15");
}

static void
test_write_204_has_no_length_and_no_body(void **state)
{
	struct http_request req;
	struct http_response resp;
	struct capture c;
	struct parsed p;

	(void)state;
	request_init(&req, "OPTIONS", "r");
	http_response_init(&resp);
	http_response_body(&resp, 204, "text/plain", "ignored", 7);
	http_response_header(&resp, "Allow", "GET, OPTIONS");
	capture_init(&c);
	assert_int_equal(fcgi_write_response(&c.s, &req, &resp), 0);
	capture_text(&c);
	split(c.data, c.len, &p);
	assert_string_equal(p.status_line, "Status: 204 No Content");
	assert_null(head_value(&p, "Content-Length"));
	assert_string_equal(head_value(&p, "Allow"), "GET, OPTIONS");
	assert_int_equal(p.body_len, 0);
	free(p.head);
	capture_free(&c);
	http_response_free(&resp);
}

static void
test_write_failure_returns_error(void **state)
{
	struct http_request req;
	struct http_response resp;
	struct capture c;
	char body[4096];

	(void)state;
	memset(body, 'b', sizeof(body));
	request_init(&req, "GET", "r");
	http_response_init(&resp);
	http_response_body(&resp, 200, "text/plain", body, sizeof(body));
	capture_init(&c);
	c.fail_after = 3;
	assert_int_equal(fcgi_write_response(&c.s, &req, &resp), -1);
	capture_free(&c);
	http_response_free(&resp);
}

static void
test_write_failure_in_headers_returns_error(void **state)
{
	struct http_request req;
	struct http_response resp;
	struct capture c;
	char value[200];

	(void)state;
	memset(value, 'v', sizeof(value) - 1);
	value[sizeof(value) - 1] = '\0';
	request_init(&req, "GET", "r");
	http_response_init(&resp);
	http_response_body(&resp, 200, "text/plain", "x", 1);
	http_response_header(&resp, "X-Big", value);
	capture_init(&c);
	c.fail_after = 2;
	assert_int_equal(fcgi_write_response(&c.s, &req, &resp), -1);
	capture_free(&c);
	http_response_free(&resp);
}

/* ---- fcgi_serve over memory streams ---- */

static struct omni_config cfg;
/* Omni's own table, as a worker serves it, without a worker context. */
static struct fcgi_site site = { .cfg = &cfg, .routes = omni_routes };

struct served {
	struct capture out;
	struct source in;
	struct parsed p;
	struct json_object *json;
};

static void
serve(struct served *s, char **envp, const char *body, size_t window)
{
	FCGX_Request fr;

	memset(&fr, 0, sizeof(fr));
	capture_init(&s->out);
	source_init(&s->in, body, body ? strlen(body) : 0, window);
	fr.in = &s->in.s;
	fr.out = &s->out.s;
	fr.envp = envp;
	site.nroutes = omni_routes_count;
	fcgi_serve(&fr, &site);
	capture_text(&s->out);
	split(s->out.data, s->out.len, &s->p);
	s->json = s->p.body_len > 0 ? json_tokener_parse(s->p.body) : NULL;
}

static void
served_free(struct served *s)
{
	json_object_put(s->json);
	free(s->p.head);
	capture_free(&s->out);
}

static const char *
json_path(struct json_object *o, const char *a, const char *b)
{
	struct json_object *v;

	if (o == NULL || !json_object_object_get_ex(o, a, &v))
		return NULL;
	if (b != NULL && !json_object_object_get_ex(v, b, &v))
		return NULL;
	return json_object_get_string(v);
}

static int
serve_setup(void **state)
{
	(void)state;
	memset(&cfg, 0, sizeof(cfg));
	cfg.max_body = 64;
	cfg.debug_routes = 1;
	cfg.auth = CFG_AUTH_NONE;
	return 0;
}

static void
test_serve_root(void **state)
{
	char *env[] = { "REQUEST_METHOD=GET", "REQUEST_URI=/",
	    "HTTP_X_REQUEST_ID=serve-1", NULL };
	struct served s;

	(void)state;
	serve(&s, env, NULL, 8);
	assert_string_equal(s.p.status_line, "Status: 200 OK");
	assert_string_equal(head_value(&s.p, "X-Request-Id"), "serve-1");
	assert_string_equal(head_value(&s.p, "Content-Type"),
	    "application/json");
	assert_string_equal(json_path(s.json, "status", NULL), "ok");
	served_free(&s);
}

static void
test_serve_head_root_has_no_body(void **state)
{
	char *env[] = { "REQUEST_METHOD=HEAD", "REQUEST_URI=/", NULL };
	struct served s;

	(void)state;
	serve(&s, env, NULL, 8);
	assert_string_equal(s.p.status_line, "Status: 200 OK");
	assert_int_equal(s.p.body_len, 0);
	served_free(&s);
}

static void
test_serve_bad_path_is_400(void **state)
{
	char *env[] = { "REQUEST_METHOD=GET", "REQUEST_URI=/a%zz",
	    "HTTP_X_REQUEST_ID=bad-path", NULL };
	struct served s;

	(void)state;
	serve(&s, env, NULL, 8);
	assert_string_equal(s.p.status_line, "Status: 400 Bad Request");
	assert_string_equal(head_value(&s.p, "X-Request-Id"), "bad-path");
	assert_string_equal(json_path(s.json, "error", "code"),
	    "VALIDATION_ERROR");
	served_free(&s);
}

static void
test_serve_bad_method_is_400(void **state)
{
	char *env[] = { "REQUEST_METHOD=get", "REQUEST_URI=/", NULL };
	struct served s;

	(void)state;
	serve(&s, env, NULL, 8);
	assert_string_equal(s.p.status_line, "Status: 400 Bad Request");
	assert_string_equal(json_path(s.json, "error", "code"),
	    "VALIDATION_ERROR");
	served_free(&s);
}

static void
test_serve_body_read_through_stream(void **state)
{
	static const char body[] = "{\"hello\":\"world\",\"n\":[1,2,3]}";
	char cl[32];
	char *env[] = { "REQUEST_METHOD=POST", "REQUEST_URI=/debug/echo",
	    "CONTENT_TYPE=application/json", cl, NULL };
	struct served s;

	(void)state;
	snprintf(cl, sizeof(cl), "CONTENT_LENGTH=%zu", strlen(body));
	serve(&s, env, body, 5);
	assert_string_equal(s.p.status_line, "Status: 200 OK");
	assert_string_equal(json_path(s.json, "hello", NULL), "world");
	assert_int_equal(s.in.pos, s.in.len);
	served_free(&s);
}

static void
test_serve_body_over_limit_is_413_and_drained(void **state)
{
	char body[200];
	char *env[] = { "REQUEST_METHOD=POST", "REQUEST_URI=/debug/echo",
	    "CONTENT_TYPE=application/json", "CONTENT_LENGTH=199", NULL };
	struct served s;

	(void)state;
	memset(body, ' ', sizeof(body) - 1);
	body[sizeof(body) - 1] = '\0';
	body[0] = '{';
	body[sizeof(body) - 2] = '}';
	serve(&s, env, body, 7);
	assert_string_equal(s.p.status_line, "Status: 413 Payload Too Large");
	assert_string_equal(json_path(s.json, "error", "code"),
	    "PAYLOAD_TOO_LARGE");
	assert_int_equal(s.in.pos, s.in.len);
	served_free(&s);
}

static void
test_serve_stream_error_is_400(void **state)
{
	char *env[] = { "REQUEST_METHOD=POST", "REQUEST_URI=/debug/echo",
	    "CONTENT_TYPE=application/json", "CONTENT_LENGTH=20", NULL };
	struct served s;
	FCGX_Request fr;

	(void)state;
	memset(&fr, 0, sizeof(fr));
	capture_init(&s.out);
	source_init(&s.in, "{\"a\":", 5, 4);
	s.in.fail_at_end = 1;
	fr.in = &s.in.s;
	fr.out = &s.out.s;
	fr.envp = env;
	fcgi_serve(&fr, &site);
	capture_text(&s.out);
	split(s.out.data, s.out.len, &s.p);
	s.json = json_tokener_parse(s.p.body);
	assert_string_equal(s.p.status_line, "Status: 400 Bad Request");
	assert_string_equal(json_path(s.json, "error", "code"),
	    "VALIDATION_ERROR");
	served_free(&s);
}

static void
test_serve_unknown_path_is_404(void **state)
{
	char *env[] = { "REQUEST_METHOD=GET", "REQUEST_URI=/no/such", NULL };
	struct served s;

	(void)state;
	serve(&s, env, NULL, 8);
	assert_string_equal(s.p.status_line, "Status: 404 Not Found");
	assert_string_equal(json_path(s.json, "error", "code"), "NOT_FOUND");
	served_free(&s);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_write_exact_format),
		cmocka_unit_test(test_write_status_reason_phrase),
		cmocka_unit_test(test_write_default_content_type),
		cmocka_unit_test(test_write_request_id_always_present),
		cmocka_unit_test(test_write_binary_body_in_full),
		cmocka_unit_test(test_write_head_has_no_body),
		cmocka_unit_test(test_write_head_content_length_is_get_length),
		cmocka_unit_test(test_write_204_has_no_length_and_no_body),
		cmocka_unit_test(test_write_failure_returns_error),
		cmocka_unit_test(test_write_failure_in_headers_returns_error),
		cmocka_unit_test_setup(test_serve_root, serve_setup),
		cmocka_unit_test_setup(test_serve_head_root_has_no_body,
		    serve_setup),
		cmocka_unit_test_setup(test_serve_bad_path_is_400, serve_setup),
		cmocka_unit_test_setup(test_serve_bad_method_is_400,
		    serve_setup),
		cmocka_unit_test_setup(test_serve_body_read_through_stream,
		    serve_setup),
		cmocka_unit_test_setup(
		    test_serve_body_over_limit_is_413_and_drained, serve_setup),
		cmocka_unit_test_setup(test_serve_stream_error_is_400,
		    serve_setup),
		cmocka_unit_test_setup(test_serve_unknown_path_is_404,
		    serve_setup),
	};

	return cmocka_run_group_tests(tests, group_setup, NULL);
}
