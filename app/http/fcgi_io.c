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

static int put_header(FCGX_Stream *out, const char *name, const char *value)
{
	return FCGX_FPrintF(out, "%s: %s\r\n", name, value) < 0 ? -1 : 0;
}

int fcgi_write_response(FCGX_Stream *out, const struct http_request *req,
    const struct http_response *resp)
{
	int status = resp->status;
	int no_body = status == 204 || status == 304 ||
	    strcmp(req->method, "HEAD") == 0;
	char len[32];

	if (FCGX_FPrintF(out, "Status: %d %s\r\n", status,
	    http_status_text(status)) < 0)
		return -1;
	if (put_header(out, "Content-Type", resp->content_type ?
	    resp->content_type : "application/json") != 0 ||
	    put_header(out, "X-Request-Id", req->request_id) != 0)
		return -1;
	for (size_t i = 0; i < resp->nheaders; i++)
		if (put_header(out, resp->headers[i].name,
		    resp->headers[i].value) != 0)
			return -1;
	/* HEAD carries the length GET would have (RFC 9110, 8.6). */
	snprintf(len, sizeof(len), "%zu", resp->body_len);
	if (status != 204 && put_header(out, "Content-Length", len) != 0)
		return -1;
	if (put(out, "\r\n", 2) != 0)
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

static void log_request(const struct http_request *req, int status,
    long long us)
{
	struct json_object *line;
	char num[32];
	double ms = (double)us / 1e3;
	enum log_level level = status >= 500 ? LOG_ERROR : LOG_INFO;

	if ((line = log_begin(level, "request")) == NULL)
		return;
	/* The path is logged, never the query or body: those carry user
	 * data (ids, prompts) that the log has no business keeping. */
	json_object_object_add(line, "method",
	    json_object_new_string(req->method[0] ? req->method : "-"));
	json_object_object_add(line, "path",
	    json_object_new_string(req->path ? req->path : "-"));
	json_object_object_add(line, "status", json_object_new_int(status));
	snprintf(num, sizeof(num), "%.3f", ms);
	json_object_object_add(line, "duration_ms",
	    json_object_new_double_s(ms, num));
	log_end(line);
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
	log_request(&req, resp.status, us);
	metrics_observe_request(row, req.method, resp.status, us);
	log_set_request_id(NULL);
	http_response_free(&resp);
	http_request_free(&req);
}
