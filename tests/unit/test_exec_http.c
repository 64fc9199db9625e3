/*
 * test_exec_http.c -- the executor's HTTP server (exec_http.h) over real
 * HTTP on loopback, spoken with libcurl: what the handler sees (method,
 * decoded path, query, headers, binary bodies), what comes back (status,
 * content type, extra and common headers), the body cap with and without
 * a Content-Length, the 500 for a handler that answers nothing,
 * concurrent clients, and the start-up failures.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>
#include <curl/curl.h>

#include "exec_http.h"

#define SMALL_CAP 64

/* ---- the test handler --------------------------------------------------- */

/* What the last request looked like to the handler. */
struct seen {
	atomic_int calls;
	pthread_mutex_t mu;
	char method[16];
	char path[128];
	char query_x[64];
	int query_x_null;
	int query_missing_null;
	char accept[64];
	char authorization[64];
	char content_type[64];
	char body[256];
	size_t body_len;
	int body_terminated;
};

static void copy_str(char *dst, size_t n, const char *src)
{
	snprintf(dst, n, "%s", src != NULL ? src : "(null)");
}

static void record(struct seen *s, const struct exec_http_request *req)
{
	const char *x = exec_http_query(req, "x");

	pthread_mutex_lock(&s->mu);
	copy_str(s->method, sizeof(s->method), req->method);
	copy_str(s->path, sizeof(s->path), req->path);
	copy_str(s->query_x, sizeof(s->query_x), x);
	s->query_x_null = x == NULL;
	s->query_missing_null = exec_http_query(req, "missing") == NULL;
	copy_str(s->accept, sizeof(s->accept), req->accept);
	copy_str(s->authorization, sizeof(s->authorization),
	    req->authorization);
	copy_str(s->content_type, sizeof(s->content_type), req->content_type);
	s->body_len = req->body_len;
	memcpy(s->body, req->body, req->body_len < sizeof(s->body) ?
	    req->body_len : sizeof(s->body));
	s->body_terminated = req->body[req->body_len] == '\0';
	pthread_mutex_unlock(&s->mu);
}

static char *dup_bytes(const char *p, size_t n)
{
	char *d = malloc(n + 1);

	if (d != NULL) {
		memcpy(d, p, n);
		d[n] = '\0';
	}
	return d;
}

/* Routes by path: /echo* answers the body back, /teapot sets everything
 * a handler can, /zero leaves the status at 0 (with a body that must
 * still be freed), /json leaves the content type NULL. */
static void handler(void *ud, const struct exec_http_request *req,
    struct exec_http_response *resp)
{
	struct seen *s = ud;

	atomic_fetch_add(&s->calls, 1);
	if (strncmp(req->path, "/echo", 5) == 0) {
		record(s, req);
		resp->status = 200;
		resp->content_type = "application/octet-stream";
		resp->body = dup_bytes(req->body, req->body_len);
		resp->body_len = req->body_len;
	} else if (strcmp(req->path, "/teapot") == 0) {
		resp->status = 418;
		resp->content_type = "text/plain; charset=utf-8";
		resp->body = dup_bytes("short and stout", 15);
		resp->body_len = 15;
		resp->header_names[0] = "Allow";
		resp->header_values[0] = "GET, POST";
		resp->header_names[2] = "X-Extra";
		resp->header_values[2] = "two";
	} else if (strcmp(req->path, "/zero") == 0) {
		resp->body = dup_bytes("lost", 4);
		resp->body_len = 4;
	} else if (strcmp(req->path, "/json") == 0) {
		resp->status = 201;
		resp->body = dup_bytes("{}", 2);
		resp->body_len = 2;
	} else {
		resp->status = 204;
	}
}

struct fixture {
	struct seen seen;
	struct exec_http_server *srv;
	int port;
};

static int start_with(struct fixture *f, size_t max_body, unsigned threads)
{
	struct exec_http_options o = {0};
	char err[256] = "";

	memset(f, 0, sizeof(*f));
	pthread_mutex_init(&f->seen.mu, NULL);
	o.host = "127.0.0.1";
	o.max_body = max_body;
	o.threads = threads;
	o.handler = handler;
	o.ud = &f->seen;
	if (exec_http_start(&o, &f->srv, err, sizeof(err)) != 0) {
		fprintf(stderr, "exec_http_start: %s\n", err);
		return -1;
	}
	f->port = exec_http_port(f->srv);
	return f->port > 0 ? 0 : -1;
}

static void stop(struct fixture *f)
{
	exec_http_stop(f->srv);
	pthread_mutex_destroy(&f->seen.mu);
}

/* ---- the client --------------------------------------------------------- */

struct buf {
	char *p;
	size_t len;
};

static size_t buf_write(char *data, size_t size, size_t n, void *ud)
{
	struct buf *b = ud;
	char *p = realloc(b->p, b->len + size * n + 1);

	if (p == NULL)
		return 0;
	memcpy(p + b->len, data, size * n);
	b->p = p;
	b->len += size * n;
	b->p[b->len] = '\0';
	return size * n;
}

struct reply {
	long status;
	struct buf body;
	struct buf headers;
	curl_off_t uploaded;
};

static void reply_free(struct reply *r)
{
	free(r->body.p);
	free(r->headers.p);
	memset(r, 0, sizeof(*r));
}

/* The body a chunked upload sends: 'left' bytes of 'x'. */
struct source {
	size_t left;
};

static size_t source_read(char *out, size_t size, size_t n, void *ud)
{
	struct source *s = ud;
	size_t k = size * n < s->left ? size * n : s->left;

	memset(out, 'x', k);
	s->left -= k;
	return k;
}

struct call {
	const char *host;           /* NULL: 127.0.0.1 */
	int port;
	const char *method;         /* NULL: GET, or POST with a body */
	const char *path;
	const char *body;           /* sent with a Content-Length */
	size_t body_len;
	size_t chunked_len;         /* > 0: sent chunked, no Content-Length */
	const char *headers[4];
	CURL *h;                    /* NULL: a fresh handle */
};

static CURLcode perform(const struct call *c, struct reply *r)
{
	struct curl_slist *hl = NULL;
	struct source src = { c->chunked_len };
	char url[256];
	CURL *h = c->h != NULL ? c->h : curl_easy_init();
	CURLcode rc;

	memset(r, 0, sizeof(*r));
	if (h == NULL)
		return CURLE_FAILED_INIT;
	curl_easy_reset(h);
	snprintf(url, sizeof(url), "http://%s:%d%s",
	    c->host != NULL ? c->host : "127.0.0.1", c->port, c->path);
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, 20000L);
	/* Long enough that curl never sends a body unasked. */
	curl_easy_setopt(h, CURLOPT_EXPECT_100_TIMEOUT_MS, 20000L);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, buf_write);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, &r->body);
	curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, buf_write);
	curl_easy_setopt(h, CURLOPT_HEADERDATA, &r->headers);
	if (c->body != NULL) {
		curl_easy_setopt(h, CURLOPT_POSTFIELDS, c->body);
		curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE,
		    (curl_off_t)c->body_len);
	} else if (c->chunked_len > 0) {
		curl_easy_setopt(h, CURLOPT_POST, 1L);
		curl_easy_setopt(h, CURLOPT_READFUNCTION, source_read);
		curl_easy_setopt(h, CURLOPT_READDATA, &src);
	}
	if (c->method != NULL)
		curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, c->method);
	for (int i = 0; i < 4 && c->headers[i] != NULL; i++)
		hl = curl_slist_append(hl, c->headers[i]);
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, hl);
	rc = curl_easy_perform(h);
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &r->status);
	curl_easy_getinfo(h, CURLINFO_SIZE_UPLOAD_T, &r->uploaded);
	curl_slist_free_all(hl);
	if (c->h == NULL)
		curl_easy_cleanup(h);
	return rc;
}

/* The header line "name: value" (case-insensitive name) is in 'r'. */
static int has_header(const struct reply *r, const char *line)
{
	return r->headers.p != NULL && strcasestr(r->headers.p, line) != NULL;
}

static char *too_large_json(size_t cap)
{
	static char json[160];

	snprintf(json, sizeof(json), "{\"error\":{\"code\":"
	    "\"PAYLOAD_TOO_LARGE\",\"message\":\"request body exceeds %zu "
	    "bytes\",\"details\":{}}", cap);
	return json;
}

/* ---- tests -------------------------------------------------------------- */

static void test_get_reaches_handler(void **state)
{
	struct fixture f;
	struct call c = {0};
	struct reply r;

	(void)state;
	assert_int_equal(start_with(&f, 0, 0), 0);
	c.port = f.port;
	c.path = "/echo/a%20b/%C3%A9?x=1%262&y=z";
	c.headers[0] = "Accept: text/html";
	c.headers[1] = "Authorization: Bearer tok";
	assert_int_equal(perform(&c, &r), CURLE_OK);
	assert_int_equal(r.status, 200);
	assert_int_equal(atomic_load(&f.seen.calls), 1);
	assert_string_equal(f.seen.method, "GET");
	assert_string_equal(f.seen.path, "/echo/a b/\xc3\xa9");
	assert_false(f.seen.query_x_null);
	assert_string_equal(f.seen.query_x, "1&2");
	assert_true(f.seen.query_missing_null);
	assert_string_equal(f.seen.accept, "text/html");
	assert_string_equal(f.seen.authorization, "Bearer tok");
	assert_string_equal(f.seen.content_type, "(null)");
	/* No body: "" and 0, still NUL-terminated. */
	assert_int_equal(f.seen.body_len, 0);
	assert_true(f.seen.body_terminated);
	assert_int_equal(r.body.len, 0);
	reply_free(&r);

	/* Without a query, the argument is NULL; an absent header too
	 * ("Accept:" makes curl drop its default). */
	c.path = "/echo";
	c.headers[0] = "Accept:";
	c.headers[1] = NULL;
	assert_int_equal(perform(&c, &r), CURLE_OK);
	assert_true(f.seen.query_x_null);
	assert_string_equal(f.seen.accept, "(null)");
	assert_string_equal(f.seen.authorization, "(null)");
	reply_free(&r);
	stop(&f);
}

static void test_post_body_intact_with_nul(void **state)
{
	static const char body[] = "head\0tail{\"k\":1}";
	struct fixture f;
	struct call c = {0};
	struct reply r;

	(void)state;
	assert_int_equal(start_with(&f, 0, 0), 0);
	c.port = f.port;
	c.path = "/echo";
	c.body = body;
	c.body_len = sizeof(body) - 1;
	c.headers[0] = "Content-Type: application/json";
	assert_int_equal(perform(&c, &r), CURLE_OK);
	assert_int_equal(r.status, 200);
	assert_string_equal(f.seen.method, "POST");
	assert_string_equal(f.seen.content_type, "application/json");
	assert_int_equal(f.seen.body_len, sizeof(body) - 1);
	assert_memory_equal(f.seen.body, body, sizeof(body) - 1);
	assert_true(f.seen.body_terminated);
	/* And back: the handler's body, length and all. */
	assert_int_equal(r.body.len, sizeof(body) - 1);
	assert_memory_equal(r.body.p, body, sizeof(body) - 1);
	assert_true(has_header(&r,
	    "Content-Type: application/octet-stream\r\n"));
	reply_free(&r);
	stop(&f);
}

static void test_default_cap_is_not_zero(void **state)
{
	size_t n = 300 * 1024;
	char *big = malloc(n);
	struct fixture f;
	struct call c = {0};
	struct reply r;

	(void)state;
	assert_non_null(big);
	memset(big, 'b', n);
	assert_int_equal(start_with(&f, 0, 0), 0);
	c.port = f.port;
	c.path = "/echo";
	c.body = big;
	c.body_len = n;
	assert_int_equal(perform(&c, &r), CURLE_OK);
	assert_int_equal(r.status, 200);
	assert_int_equal(f.seen.body_len, n);
	assert_int_equal(r.body.len, n);
	assert_memory_equal(r.body.p, big, n);
	reply_free(&r);
	stop(&f);
	free(big);
}

static void test_body_at_and_over_cap(void **state)
{
	char body[SMALL_CAP + 1];
	struct fixture f;
	struct call c = {0};
	struct reply r;

	(void)state;
	memset(body, 'a', sizeof(body));
	assert_int_equal(start_with(&f, SMALL_CAP, 2), 0);
	c.port = f.port;
	c.path = "/echo";
	c.body = body;
	/* Exactly the cap is accepted... */
	c.body_len = SMALL_CAP;
	assert_int_equal(perform(&c, &r), CURLE_OK);
	assert_int_equal(r.status, 200);
	assert_int_equal(f.seen.body_len, SMALL_CAP);
	assert_int_equal(atomic_load(&f.seen.calls), 1);
	reply_free(&r);
	/* ...one byte more is not, and never reaches the handler. */
	c.body_len = SMALL_CAP + 1;
	assert_int_equal(perform(&c, &r), CURLE_OK);
	assert_int_equal(r.status, 413);
	assert_string_equal(r.body.p, too_large_json(SMALL_CAP));
	assert_true(has_header(&r, "Content-Type: application/json\r\n"));
	assert_true(has_header(&r, "Cache-Control: no-store\r\n"));
	assert_int_equal(atomic_load(&f.seen.calls), 1);
	reply_free(&r);
	stop(&f);
}

/* A declared length over the cap is answered before the body is sent:
 * with "Expect: 100-continue" curl uploads nothing. */
static void test_content_length_over_cap_refused_up_front(void **state)
{
	size_t n = 256 * 1024;
	char *big = calloc(1, n);
	struct fixture f;
	struct call c = {0};
	struct reply r;

	(void)state;
	assert_non_null(big);
	assert_int_equal(start_with(&f, SMALL_CAP, 0), 0);
	c.port = f.port;
	c.path = "/echo";
	c.body = big;
	c.body_len = n;
	c.headers[0] = "Expect: 100-continue";
	assert_int_equal(perform(&c, &r), CURLE_OK);
	assert_int_equal(r.status, 413);
	assert_string_equal(r.body.p, too_large_json(SMALL_CAP));
	assert_int_equal(r.uploaded, 0);
	assert_int_equal(atomic_load(&f.seen.calls), 0);
	reply_free(&r);
	/* The server is still fine afterwards. */
	c.body = NULL;
	c.headers[0] = NULL;
	assert_int_equal(perform(&c, &r), CURLE_OK);
	assert_int_equal(r.status, 200);
	assert_int_equal(atomic_load(&f.seen.calls), 1);
	reply_free(&r);
	stop(&f);
	free(big);
}

/* Without a Content-Length (chunked), the cap is found while reading. */
static void test_chunked_over_cap(void **state)
{
	struct fixture f;
	struct call c = {0};
	struct reply r;

	(void)state;
	assert_int_equal(start_with(&f, SMALL_CAP, 0), 0);
	c.port = f.port;
	c.path = "/echo";
	c.chunked_len = SMALL_CAP - 1;
	assert_int_equal(perform(&c, &r), CURLE_OK);
	assert_int_equal(r.status, 200);
	assert_int_equal(f.seen.body_len, SMALL_CAP - 1);
	assert_true(f.seen.body_terminated);
	reply_free(&r);
	c.chunked_len = 100 * 1024;
	assert_int_equal(perform(&c, &r), CURLE_OK);
	assert_int_equal(r.status, 413);
	assert_string_equal(r.body.p, too_large_json(SMALL_CAP));
	assert_true(r.uploaded > SMALL_CAP);
	assert_int_equal(atomic_load(&f.seen.calls), 1);
	reply_free(&r);
	stop(&f);
}

static void test_handler_response_comes_back(void **state)
{
	struct fixture f;
	struct call c = {0};
	struct reply r;

	(void)state;
	assert_int_equal(start_with(&f, 0, 0), 0);
	c.port = f.port;
	c.path = "/teapot";
	assert_int_equal(perform(&c, &r), CURLE_OK);
	assert_int_equal(r.status, 418);
	assert_string_equal(r.body.p, "short and stout");
	assert_true(has_header(&r,
	    "Content-Type: text/plain; charset=utf-8\r\n"));
	assert_true(has_header(&r, "Allow: GET, POST\r\n"));
	/* A gap in the header slots does not end them. */
	assert_true(has_header(&r, "X-Extra: two\r\n"));
	assert_true(has_header(&r, "Cache-Control: no-store\r\n"));
	assert_true(has_header(&r, "X-Content-Type-Options: nosniff\r\n"));
	reply_free(&r);

	/* No content type: JSON. */
	c.path = "/json";
	c.method = "PUT";
	assert_int_equal(perform(&c, &r), CURLE_OK);
	assert_int_equal(r.status, 201);
	assert_string_equal(r.body.p, "{}");
	assert_true(has_header(&r, "Content-Type: application/json\r\n"));
	reply_free(&r);

	/* No body at all. */
	c.path = "/nothing";
	c.method = "DELETE";
	assert_int_equal(perform(&c, &r), CURLE_OK);
	assert_int_equal(r.status, 204);
	assert_int_equal(r.body.len, 0);
	assert_true(has_header(&r, "X-Content-Type-Options: nosniff\r\n"));
	reply_free(&r);
	stop(&f);
}

static void test_status_zero_is_500(void **state)
{
	struct fixture f;
	struct call c = {0};
	struct reply r;

	(void)state;
	assert_int_equal(start_with(&f, 0, 0), 0);
	c.port = f.port;
	c.path = "/zero";
	assert_int_equal(perform(&c, &r), CURLE_OK);
	assert_int_equal(r.status, 500);
	assert_non_null(r.body.p);
	assert_non_null(strstr(r.body.p, "\"code\":\"SERVER_ERROR\""));
	assert_null(strstr(r.body.p, "lost"));
	assert_true(has_header(&r, "Content-Type: application/json\r\n"));
	assert_int_equal(atomic_load(&f.seen.calls), 1);
	reply_free(&r);
	stop(&f);
}

#define CLIENTS 4
#define PER_CLIENT 25

struct client {
	int port;
	int ok;
};

/* No cmocka asserts off the main thread: count the good answers. */
static void *client_main(void *arg)
{
	struct client *cl = arg;
	CURL *h = curl_easy_init();
	char body[64], path[64];
	struct call c = {0};
	struct reply r;

	for (int i = 0; h != NULL && i < PER_CLIENT; i++) {
		snprintf(body, sizeof(body), "client %p request %d", arg, i);
		snprintf(path, sizeof(path), "/echo/%d", i);
		c.port = cl->port;
		c.path = path;
		c.body = body;
		c.body_len = strlen(body);
		c.h = h;
		if (perform(&c, &r) == CURLE_OK && r.status == 200 &&
		    r.body.len == strlen(body) &&
		    memcmp(r.body.p, body, r.body.len) == 0)
			cl->ok++;
		reply_free(&r);
	}
	curl_easy_cleanup(h);
	return NULL;
}

static void test_concurrent_clients(void **state)
{
	struct client cl[CLIENTS];
	pthread_t t[CLIENTS];
	struct fixture f;
	int total = 0;

	(void)state;
	assert_int_equal(start_with(&f, 0, 4), 0);
	for (int i = 0; i < CLIENTS; i++) {
		cl[i].port = f.port;
		cl[i].ok = 0;
		assert_int_equal(pthread_create(&t[i], NULL, client_main,
		    &cl[i]), 0);
	}
	for (int i = 0; i < CLIENTS; i++) {
		pthread_join(t[i], NULL);
		total += cl[i].ok;
	}
	assert_int_equal(total, CLIENTS * PER_CLIENT);
	assert_int_equal(atomic_load(&f.seen.calls), CLIENTS * PER_CLIENT);
	stop(&f);
}

static void test_port_in_use(void **state)
{
	struct exec_http_options o = {0};
	struct exec_http_server *srv = (void *)&o;
	struct fixture f;
	char err[256] = "";

	(void)state;
	assert_int_equal(start_with(&f, 0, 0), 0);
	o.handler = handler;
	o.port = f.port;
	assert_int_equal(exec_http_start(&o, &srv, err, sizeof(err)), -1);
	assert_null(srv);
	assert_non_null(strstr(err, "in use"));
	stop(&f);
}

static void test_bad_hosts_refused(void **state)
{
	static const char *const hosts[] = {
		"localhost", "example.com", "127.0.0.1.", "", "::1%lo0x"
	};
	struct exec_http_options o = {0};
	struct exec_http_server *srv;
	char err[256];

	(void)state;
	o.handler = handler;
	for (size_t i = 0; i < sizeof(hosts) / sizeof(hosts[0]); i++) {
		err[0] = '\0';
		srv = (void *)&o;
		o.host = hosts[i];
		assert_int_equal(exec_http_start(&o, &srv, err, sizeof(err)),
		    -1);
		assert_null(srv);
		assert_non_null(strstr(err, "numeric"));
	}
	/* A port out of range, and no handler. */
	o.host = NULL;
	o.port = 70000;
	err[0] = '\0';
	assert_int_equal(exec_http_start(&o, &srv, err, sizeof(err)), -1);
	assert_true(err[0] != '\0');
	o.port = 0;
	o.handler = NULL;
	err[0] = '\0';
	assert_int_equal(exec_http_start(&o, &srv, err, sizeof(err)), -1);
	assert_true(err[0] != '\0');
}

/* IPv6 loopback, where the machine has it. */
static void test_ipv6_loopback(void **state)
{
	struct sockaddr_in6 a = {0};
	struct exec_http_options o = {0};
	struct seen seen = {0};
	struct call c = {0};
	struct exec_http_server *srv;
	struct reply r;
	char err[256] = "";
	int fd, ok;

	(void)state;
	fd = socket(AF_INET6, SOCK_STREAM, 0);
	a.sin6_family = AF_INET6;
	a.sin6_addr = in6addr_loopback;
	ok = fd >= 0 && bind(fd, (struct sockaddr *)&a, sizeof(a)) == 0;
	if (fd >= 0)
		close(fd);
	if (!ok)
		skip();
	pthread_mutex_init(&seen.mu, NULL);
	o.host = "::1";
	o.handler = handler;
	o.ud = &seen;
	assert_int_equal(exec_http_start(&o, &srv, err, sizeof(err)), 0);
	c.host = "[::1]";
	c.port = exec_http_port(srv);
	c.path = "/echo/six";
	assert_int_equal(perform(&c, &r), CURLE_OK);
	assert_int_equal(r.status, 200);
	assert_string_equal(seen.path, "/echo/six");
	reply_free(&r);
	exec_http_stop(srv);
	pthread_mutex_destroy(&seen.mu);
}

static void test_stop_null(void **state)
{
	(void)state;
	exec_http_stop(NULL);
	assert_int_equal(exec_http_port(NULL), -1);
	assert_null(exec_http_query(NULL, "x"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_get_reaches_handler),
		cmocka_unit_test(test_post_body_intact_with_nul),
		cmocka_unit_test(test_default_cap_is_not_zero),
		cmocka_unit_test(test_body_at_and_over_cap),
		cmocka_unit_test(test_content_length_over_cap_refused_up_front),
		cmocka_unit_test(test_chunked_over_cap),
		cmocka_unit_test(test_handler_response_comes_back),
		cmocka_unit_test(test_status_zero_is_500),
		cmocka_unit_test(test_concurrent_clients),
		cmocka_unit_test(test_port_in_use),
		cmocka_unit_test(test_bad_hosts_refused),
		cmocka_unit_test(test_ipv6_loopback),
		cmocka_unit_test(test_stop_null),
	};
	int rc;

	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
		return 1;
	rc = cmocka_run_group_tests(tests, NULL, NULL);
	curl_global_cleanup();
	return rc;
}
