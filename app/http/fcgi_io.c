/*
 * fcgi_io.c -- one FastCGI request in, one response out, one log line.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "fcgi_io.h"
#include "log.h"
#include "metrics.h"
#include "router.h"

static long read_stream(void *ctx, char *buf, size_t len)
{
	FCGX_Stream *in = ctx;
	int want = len > 65536 ? 65536 : (int)len;
	int got = FCGX_GetStr(buf, want, in);

	if (got < want && FCGX_GetError(in) != 0)
		return -1;
	return got;
}

static int put(FCGX_Stream *out, const char *s, size_t len)
{
	return FCGX_PutStr(s, (int)len, out) == (int)len ? 0 : -1;
}

/*
 * The head of the answer, built in one buffer and handed to libfcgi in
 * one call (libfcgi's printf costs more than the rest of a health
 * check).  A head that does not fit 'small' goes to the heap.
 */
struct head {
	char small[1024];
	char *buf;
	size_t len, cap;
	int failed;
};

static void head_add(struct head *h, const char *s, size_t n)
{
	if (h->failed)
		return;
	if (h->len + n > h->cap) {
		size_t cap = (h->len + n) * 2;
		char *grown = h->buf == h->small ? malloc(cap) :
		    realloc(h->buf, cap);

		if (grown == NULL) {
			h->failed = 1;
			return;
		}
		if (h->buf == h->small)
			memcpy(grown, h->small, h->len);
		h->buf = grown;
		h->cap = cap;
	}
	memcpy(h->buf + h->len, s, n);
	h->len += n;
}

static void head_header(struct head *h, const char *name, const char *value)
{
	head_add(h, name, strlen(name));
	head_add(h, ": ", 2);
	head_add(h, value, strlen(value));
	head_add(h, "\r\n", 2);
}

/* 'v' in decimal into 'buf' (at least 21 bytes); returns the length. */
static size_t decimal(char *buf, unsigned long long v)
{
	char tmp[24];
	size_t n = 0;

	do {
		tmp[n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v > 0);
	for (size_t i = 0; i < n; i++)
		buf[i] = tmp[n - 1 - i];
	buf[n] = '\0';
	return n;
}

int fcgi_write_response(FCGX_Stream *out, const struct http_request *req,
    const struct http_response *resp)
{
	int status = resp->status;
	int no_body = status == 204 || status == 304 ||
	    strcmp(req->method, "HEAD") == 0;
	struct head h = { .len = 0, .cap = sizeof(h.small), .failed = 0 };
	const char *text = http_status_text(status);
	char num[24];
	int rc;

	h.buf = h.small;
	head_add(&h, "Status: ", 8);
	head_add(&h, num, decimal(num, status > 0 ? (unsigned)status : 0));
	head_add(&h, " ", 1);
	head_add(&h, text, strlen(text));
	head_add(&h, "\r\n", 2);
	head_header(&h, "Content-Type", resp->content_type ?
	    resp->content_type : "application/json");
	head_header(&h, "X-Request-Id", req->request_id);
	for (size_t i = 0; i < resp->nheaders; i++)
		head_header(&h, resp->headers[i].name, resp->headers[i].value);
	/* HEAD carries the length GET would have (RFC 9110, 8.6). */
	if (status != 204) {
		decimal(num, resp->body_len);
		head_header(&h, "Content-Length", num);
	}
	head_add(&h, "\r\n", 2);
	rc = h.failed ? -1 : put(out, h.buf, h.len);
	if (h.buf != h.small)
		free(h.buf);
	if (rc != 0)
		return -1;
	if (!no_body && resp->body_len > 0)
		return put(out, resp->body, resp->body_len);
	return 0;
}

/* The response when building one ran out of memory: static, no malloc. */
static const char oom_body[] =
    "{\"error\":{\"code\":\"SERVER_ERROR\",\"message\":\"out of memory\","
    "\"details\":{}}}";

/* Microseconds since 'start' (CLOCK_MONOTONIC). */
static long long elapsed_us(const struct timespec *start)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (long long)(now.tv_sec - start->tv_sec) * 1000000 +
	    (now.tv_nsec - start->tv_nsec) / 1000;
}

static void parse_error_response(enum http_parse_err err,
    struct http_response *resp)
{
	switch (err) {
	case HTTP_PARSE_BAD_PATH:
		http_response_field_error(resp, API_VALIDATION_ERROR,
		    "the request path is malformed", "path",
		    "bad percent-encoding or not absolute");
		break;
	case HTTP_PARSE_BAD_QUERY:
		http_response_field_error(resp, API_VALIDATION_ERROR,
		    "the query string is malformed", "query",
		    "bad percent-encoding");
		break;
	case HTTP_PARSE_BAD_METHOD:
		http_response_field_error(resp, API_VALIDATION_ERROR,
		    "the request method is malformed", "method",
		    "not an HTTP method");
		break;
	default:
		http_response_error(resp, API_SERVER_ERROR, "out of memory",
		    NULL);
		break;
	}
}

void fcgi_serve(FCGX_Request *fr, const struct fcgi_site *site)
{
	struct http_request req;
	struct http_response resp;
	enum http_parse_err perr;
	int row = -1;
	long long us;

	http_response_init(&resp);
	perr = http_request_parse(&req, fr->envp, read_stream, fr->in,
	    site->cfg->max_body, site->cfg);
	req.ratelimit = site->ratelimit;
	req.app = site->app;
	log_set_request_id(req.request_id);
	if (perr != HTTP_PARSE_OK)
		parse_error_response(perr, &resp);
	else
		row = router_dispatch(site->routes, site->nroutes, &req,
		    &resp);
	if (resp.oom || resp.status == 0) {
		http_response_free(&resp);
		http_response_init(&resp);
		resp.status = 500;
		resp.body = (char *)oom_body;
		resp.body_len = sizeof(oom_body) - 1;
		fcgi_write_response(fr->out, &req, &resp);
		resp.body = NULL;
	} else {
		fcgi_write_response(fr->out, &req, &resp);
	}
	us = elapsed_us(&req.started);
	/* The path is logged, never the query or body: those carry user
	 * data (ids, prompts) that the log has no business keeping. */
	log_request(resp.status >= 500 ? LOG_ERROR : LOG_INFO,
	    req.method[0] ? req.method : NULL, req.path, resp.status, us);
	metrics_observe_request(row, req.method, resp.status, us);
	log_set_request_id(NULL);
	http_response_free(&resp);
	http_request_free(&req);
}
