/*
 * fuzz_request.c -- libFuzzer harnesses for the request path.
 *
 * Built as is, the target is one whole request: FastCGI params and a body
 * go through http_request_parse(), router_dispatch() over a table that
 * exercises every router rule, and fcgi_write_response() into a memory
 * stream.  Built with -DFUZZ_JSON, the target is json_parse_object() and
 * the getters on what it returns.  See README.md in this directory for the
 * build and run lines.
 *
 * Request input layout (all of it attacker-shaped):
 *   byte 0   flags: bit 0 debug routes on, bit 1 OMNI_AUTH=jwt,
 *            bit 2 allowed origins "*", bits 4-7 the body reader's chunk
 *   byte 1   max body = byte * 16
 *   rest     params, one "NAME=value" per line ('\n'), then an empty line,
 *            then the body
 *
 * Beyond the sanitizers, the harness aborts when an invariant that every
 * response must keep is broken: a status in 100..599, no CR or LF in any
 * header, a request id that is 1..64 safe characters, and a body that is
 * fully read or drained.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <fcgiapp.h>

#include "config.h"
#include "fcgi_io.h"
#include "handlers.h"
#include "json_util.h"
#include "log.h"
#include "router.h"
#include "fuzz_util.h"

#define MAX_PARAMS 64

#ifndef FUZZ_JSON

/* ---- routes: one row per router rule, handlers that never block ---- */

static void
h_ok(struct http_request *req, struct http_response *resp)
{
	(void)req;
	http_response_body(resp, 200, "text/plain", "ok", 2);
}

static void
h_nothing(struct http_request *req, struct http_response *resp)
{
	(void)req;
	(void)resp;
}

static void
h_query(struct http_request *req, struct http_response *resp)
{
	struct json_object *o = json_object_new_object();

	for (size_t i = 0; i < req->nparams && o != NULL; i++)
		json_object_object_add(o, req->params[i].name,
		    json_object_new_string(req->params[i].value));
	http_response_json(resp, 200, o);
}

static const struct route fuzz_routes[] = {
	{ "GET", "/", handle_root, ROUTE_BODY_NONE, ROUTE_PUBLIC, 0, 0 },
	{ "GET", "/ready", handle_ready, ROUTE_BODY_NONE, ROUTE_PUBLIC, 0, 0 },
	{ "GET", "/q", h_query, ROUTE_BODY_NONE, ROUTE_PUBLIC, 0, 0 },
	{ "DELETE", "/q", h_ok, ROUTE_BODY_NONE, ROUTE_USER, 0, 0 },
	{ "POST", "/echo", handle_debug_echo, ROUTE_BODY_JSON, ROUTE_USER,
	    0, 0 },
	{ "PUT", "/raw", h_ok, ROUTE_BODY_RAW, ROUTE_PUBLIC, 0, 0 },
	{ "GET", "/nothing", h_nothing, ROUTE_BODY_NONE, ROUTE_PUBLIC, 0, 0 },
	{ "POST", "/debug/echo", handle_debug_echo, ROUTE_BODY_JSON,
	    ROUTE_PUBLIC, 1, 0 },
};

/* ---- body reader over the input ---- */

struct body {
	const char *data;
	size_t len;
	size_t pos;
	size_t chunk;
};

static long
body_read(void *ctx, char *buf, size_t len)
{
	struct body *b = ctx;
	size_t n = b->len - b->pos;

	if (n > len)
		n = len;
	if (n > b->chunk)
		n = b->chunk;
	if (n == 0)
		return 0;
	memcpy(buf, b->data + b->pos, n);
	b->pos += n;
	return (long)n;
}

/* ---- an output stream that keeps nothing ---- */

static unsigned char sink_buf[512];

static void
sink_flush(FCGX_Stream *s, int do_close)
{
	(void)do_close;
	s->wrNext = sink_buf;
}

static void
sink_init(FCGX_Stream *s)
{
	memset(s, 0, sizeof(*s));
	s->wrNext = sink_buf;
	s->rdNext = sink_buf + sizeof(sink_buf);
	s->stop = sink_buf + sizeof(sink_buf);
	s->emptyBuffProc = sink_flush;
}


static void
check_response(const struct http_request *req,
    const struct http_response *resp)
{
	size_t idlen = strlen(req->request_id);

	check(resp->oom || (resp->status >= 100 && resp->status <= 599),
	    "status out of range");
	for (size_t i = 0; i < resp->nheaders; i++)
		check(strpbrk(resp->headers[i].name, "\r\n") == NULL &&
		    strpbrk(resp->headers[i].value, "\r\n") == NULL,
		    "CR or LF in a header");
	check(idlen >= 1 && idlen <= 64 &&
	    strspn(req->request_id, "abcdefghijklmnopqrstuvwxyz"
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.:/+=") == idlen,
	    "unsafe request id");
	check(resp->body == NULL || resp->body[resp->body_len] == '\0',
	    "body not NUL-terminated");
}

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	log_set_level(LOG_ERROR);
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char origins_list[] = "https://app.example,http://localhost:3000";
	static char origins_star[] = "*";
	static char secret[] = "fuzz-secret-0123456789abcdef0123";
	struct omni_config cfg;
	struct http_request req;
	struct http_response resp;
	struct body body;
	FCGX_Stream out;
	char *text, *envp[MAX_PARAMS + 1], *line, *split;
	size_t n = 0;
	enum http_parse_err perr;

	if (size < 2)
		return 0;
	memset(&cfg, 0, sizeof(cfg));
	cfg.debug_routes = data[0] & 1;
	cfg.auth = (data[0] & 2) ? CFG_AUTH_JWT : CFG_AUTH_NONE;
	cfg.jwt_secret = secret;
	cfg.allowed_origins = (data[0] & 4) ? origins_star : origins_list;
	cfg.max_body = (size_t)data[1] * 16;

	/* A NUL-terminated copy: params are C strings, as libfcgi gives. */
	text = malloc(size - 2 + 1);
	if (text == NULL)
		return 0;
	memcpy(text, data + 2, size - 2);
	text[size - 2] = '\0';

	split = strstr(text, "\n\n");
	memset(&body, 0, sizeof(body));
	body.chunk = (size_t)(data[0] >> 4) * 97 + 1;
	if (split != NULL) {
		*split = '\0';
		body.data = (const char *)data + 2 + (size_t)(split - text) + 2;
		body.len = size - 2 - (size_t)(split - text) - 2;
	}
	for (line = text; n < MAX_PARAMS && line != NULL && *line != '\0';) {
		char *nl = strchr(line, '\n');

		if (nl != NULL)
			*nl = '\0';
		envp[n++] = line;
		line = nl ? nl + 1 : NULL;
	}
	envp[n] = NULL;

	http_response_init(&resp);
	perr = http_request_parse(&req, envp, body_read, &body, cfg.max_body,
	    &cfg);
	check(body.pos == body.len, "body neither read nor drained");
	if (perr == HTTP_PARSE_OK) {
		check(req.path != NULL && req.path[0] == '/', "bad path");
		check(req.body == NULL || req.body_len <= cfg.max_body,
		    "body over the limit kept");
		router_dispatch(fuzz_routes,
		    sizeof(fuzz_routes) / sizeof(fuzz_routes[0]), &req, &resp);
		check(resp.status != 0 || resp.oom, "no status");
	} else {
		http_response_error(&resp, API_VALIDATION_ERROR, "bad request",
		    NULL);
	}
	check_response(&req, &resp);
	sink_init(&out);
	fcgi_write_response(&out, &req, &resp);
	http_response_free(&resp);
	http_request_free(&req);
	free(text);
	return 0;
}

#else /* FUZZ_JSON */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct json_object *obj = NULL, *again = NULL;
	char why[96];
	enum json_err err;

	memset(why, 'Z', sizeof(why));
	err = json_parse_object((const char *)data, size, &obj, why,
	    sizeof(why));
	if (memchr(why, '\0', sizeof(why)) == NULL)
		abort();                        /* 'why' not terminated */
	if (err != JSON_OK) {
		if (obj != NULL)
			abort();                /* error with an object */
		return 0;
	}
	if (obj == NULL || !json_object_is_type(obj, json_type_object))
		abort();
	{
		const char *s = json_compact(obj);

		/* What Omni writes back must parse back the same way. */
		if (s == NULL || json_parse_object(s, strlen(s), &again, NULL,
		    0) != JSON_OK)
			abort();
		json_object_put(again);
	}
	json_object_object_foreach(obj, key, val) {
		const char *out;
		enum json_err e = json_get_string(obj, key, 8, &out);

		(void)val;
		if (e == JSON_OK && (out == NULL || strlen(out) > 8 ||
		    strlen(out) == 0))
			abort();
		e = json_get_opt_string(obj, key, 1 << 20, &out);
		if (e != JSON_OK && out != NULL)
			abort();
	}
	json_object_put(obj);
	return 0;
}

#endif
