/*
 * response.c -- building a struct http_response, including the contract's
 * error model.  Setters copy; on out-of-memory they return -1 and set
 * resp->oom, and the worker then sends a bare 500.
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "http.h"
#include "json_util.h"

void http_response_init(struct http_response *resp)
{
	memset(resp, 0, sizeof(*resp));
}

void http_response_free(struct http_response *resp)
{
	if (resp == NULL)
		return;
	for (size_t i = 0; i < resp->nheaders; i++) {
		free(resp->headers[i].name);
		free(resp->headers[i].value);
	}
	free(resp->headers);
	free(resp->content_type);
	free(resp->body);
	memset(resp, 0, sizeof(*resp));
}

/* Header names and values go to the front server verbatim: a CR or LF in
 * one would split the response, so such values are refused. */
static int header_safe(const char *s)
{
	return strpbrk(s, "\r\n") == NULL;
}

int http_response_header(struct http_response *resp, const char *name,
    const char *value)
{
	char *n, *v;

	if (!header_safe(name) || !header_safe(value))
		return -1;
	if (resp->nheaders == resp->cap) {
		size_t cap = resp->cap ? resp->cap * 2 : 8;
		struct http_kv *grown = realloc(resp->headers,
		    cap * sizeof(*grown));

		if (grown == NULL)
			goto oom;
		resp->headers = grown;
		resp->cap = cap;
	}
	n = strdup(name);
	v = strdup(value);
	if (n == NULL || v == NULL) {
		free(n);
		free(v);
		goto oom;
	}
	resp->headers[resp->nheaders].name = n;
	resp->headers[resp->nheaders].value = v;
	resp->nheaders++;
	return 0;
oom:
	resp->oom = 1;
	return -1;
}

int http_response_set_header(struct http_response *resp, const char *name,
    const char *value)
{
	for (size_t i = 0; i < resp->nheaders; i++) {
		if (strcasecmp(resp->headers[i].name, name) == 0) {
			char *v;

			if (!header_safe(value))
				return -1;
			if ((v = strdup(value)) == NULL) {
				resp->oom = 1;
				return -1;
			}
			free(resp->headers[i].value);
			resp->headers[i].value = v;
			return 0;
		}
	}
	return http_response_header(resp, name, value);
}

const char *http_response_get_header(const struct http_response *resp,
    const char *name)
{
	for (size_t i = 0; i < resp->nheaders; i++)
		if (strcasecmp(resp->headers[i].name, name) == 0)
			return resp->headers[i].value;
	return NULL;
}

int http_response_body(struct http_response *resp, int status,
    const char *content_type, const void *body, size_t len)
{
	char *ct = strdup(content_type);
	char *b = malloc(len + 1);

	if (ct == NULL || b == NULL) {
		free(ct);
		free(b);
		resp->oom = 1;
		return -1;
	}
	if (len > 0)
		memcpy(b, body, len);
	b[len] = '\0';
	free(resp->content_type);
	free(resp->body);
	resp->status = status;
	resp->content_type = ct;
	resp->body = b;
	resp->body_len = len;
	return 0;
}

int http_response_json(struct http_response *resp, int status,
    struct json_object *obj)
{
	const char *s;
	int rc;

	if (obj == NULL) {
		resp->oom = 1;
		return -1;
	}
	s = json_compact(obj);
	rc = s ? http_response_body(resp, status, "application/json", s,
	    strlen(s)) : -1;
	json_object_put(obj);
	return rc;
}

int http_response_error(struct http_response *resp, enum api_err err,
    const char *message, struct json_object *details)
{
	struct json_object *root = json_object_new_object();
	struct json_object *e = json_object_new_object();

	if (details == NULL)
		details = json_object_new_object();
	if (root == NULL || e == NULL || details == NULL) {
		json_object_put(root);
		json_object_put(e);
		json_object_put(details);
		resp->oom = 1;
		return -1;
	}
	json_object_object_add(e, "code",
	    json_object_new_string(api_err_code(err)));
	json_object_object_add(e, "message", json_object_new_string(message));
	json_object_object_add(e, "details", details);
	json_object_object_add(root, "error", e);
	return http_response_json(resp, api_err_status(err), root);
}

int http_response_field_error(struct http_response *resp, enum api_err err,
    const char *message, const char *field, const char *problem)
{
	struct json_object *d = json_object_new_object();

	if (d != NULL) {
		json_object_object_add(d, "field",
		    json_object_new_string(field));
		json_object_object_add(d, "problem",
		    json_object_new_string(problem));
	}
	return http_response_error(resp, err, message, d);
}
