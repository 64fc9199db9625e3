/*
 * handler_call.h -- calling a handler in-process as the router does: the
 * request built from a method, a URI and an optional JSON body (parsed
 * with the strict parser), the worker context and, under jwt, a verified
 * subject; the answer's status, Content-Type, Retry-After and JSON body.
 * Header-only, static: each handler test file gets its own copy.  Include
 * it after cmocka.h.
 */
#ifndef OMNI_TEST_HANDLER_CALL_H
#define OMNI_TEST_HANDLER_CALL_H

#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <json-c/json.h>

#include "config.h"
#include "http.h"
#include "json_util.h"
#include "omni_worker.h"
#include "router.h"

struct handler_reply {
	int status;
	struct json_object *json;  /* owned; NULL when the body is not JSON */
	char content_type[64];
	char retry_after[16];
};

struct handler_body {
	const char *data;
	size_t len, off;
};

static long handler_read_body(void *ctx, char *buf, size_t len)
{
	struct handler_body *b = ctx;
	size_t n = b->len - b->off;

	if (n > len)
		n = len;
	if (n > 0)
		memcpy(buf, b->data + b->off, n);
	b->off += n;
	return (long)n;
}

/*
 * Call 'h' for 'method' 'uri' ("/path?query") with 'json' (NULL: no
 * body) as a request of at most 'max_body' bytes, on worker 'w' with
 * configuration 'cfg', as 'subject' (NULL: none).
 */
static struct handler_reply handler_call(route_handler h,
    struct omni_worker *w, const struct omni_config *cfg,
    const char *subject, size_t max_body, const char *method,
    const char *uri, const char *json)
{
	char m[48], u[1024], q[1024], cl[48];
	char *envp[8];
	struct http_request req;
	struct http_response resp;
	struct handler_body b = { json, json ? strlen(json) : 0, 0 };
	struct handler_reply r;
	const char *qs = strchr(uri, '?'), *ra;
	int n = 0;

	snprintf(m, sizeof(m), "REQUEST_METHOD=%s", method);
	snprintf(u, sizeof(u), "REQUEST_URI=%s", uri);
	snprintf(q, sizeof(q), "QUERY_STRING=%s", qs ? qs + 1 : "");
	snprintf(cl, sizeof(cl), "CONTENT_LENGTH=%zu", b.len);
	envp[n++] = m;
	envp[n++] = u;
	envp[n++] = q;
	if (json != NULL) {
		envp[n++] = cl;
		envp[n++] = (char *)(uintptr_t)"CONTENT_TYPE=application/json";
	}
	envp[n] = NULL;
	assert_int_equal(http_request_parse(&req, envp, handler_read_body, &b,
	    max_body, cfg), HTTP_PARSE_OK);
	req.app = w;
	if (subject != NULL)
		snprintf(req.auth_subject, sizeof(req.auth_subject), "%s",
		    subject);
	if (json != NULL)
		assert_int_equal(json_parse_object(req.body, req.body_len,
		    &req.json, NULL, 0), JSON_OK);
	http_response_init(&resp);
	h(&req, &resp);
	memset(&r, 0, sizeof(r));
	r.status = resp.status;
	snprintf(r.content_type, sizeof(r.content_type), "%s",
	    resp.content_type ? resp.content_type : "");
	ra = http_response_get_header(&resp, "Retry-After");
	snprintf(r.retry_after, sizeof(r.retry_after), "%s", ra ? ra : "");
	r.json = resp.body ? json_tokener_parse(resp.body) : NULL;
	http_response_free(&resp);
	http_request_free(&req);
	return r;
}

#endif
