/*
 * respond.c -- what serve.c, sync.c and call.c share: building struct
 * ing_response (headers, JSON bodies, the error shapes of spec 4.4.3)
 * and verifying a request's signature (spec 4.1.3), with the refusal that
 * follows a failed check.
 *
 * It sits below the three entry files and calls none of them, so the
 * include and call graph of the serving side has no cycle.
 */
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "inngest_internal.h"

/* ---- response helpers ---------------------------------------------- */

/* 'src' into 'dst' of 'cap' bytes, cut to fit, always NUL-terminated. */
static void copy_cut(char *dst, size_t cap, const char *src)
{
	size_t n = strnlen(src, cap - 1);

	memcpy(dst, src, n);
	dst[n] = '\0';
}

void ing_res_set_header(struct ing_response *res, const char *name,
    const char *value)
{
	struct ing_response_header *h = NULL;

	for (size_t i = 0; i < res->nheaders; i++)
		if (strcasecmp(res->headers[i].name, name) == 0)
			h = &res->headers[i];
	if (h == NULL) {
		if (res->nheaders == ING_RESPONSE_MAX_HEADERS)
			return;
		h = &res->headers[res->nheaders++];
	}
	copy_cut(h->name, sizeof(h->name), name);
	copy_cut(h->value, sizeof(h->value), value);
}

const char *ing_response_header(const struct ing_response *res,
    const char *name)
{
	for (size_t i = 0; i < res->nheaders; i++)
		if (strcasecmp(res->headers[i].name, name) == 0)
			return res->headers[i].value;
	return NULL;
}

void ing_response_free(struct ing_response *res)
{
	if (res == NULL)
		return;
	free(res->body);
	res->body = NULL;
	res->body_len = 0;
}

/* Copy 'len' bytes of 'text' as the body; 500 without one out of memory. */
void ing_res_text(struct ing_response *res, const char *text,
    size_t len)
{
	char *p = malloc(len + 1);

	free(res->body);
	res->body = NULL;
	res->body_len = 0;
	if (p == NULL) {
		res->status = 500;
		return;
	}
	memcpy(p, text, len);
	p[len] = '\0';
	res->body = p;
	res->body_len = len;
}

void ing_res_json(struct ing_response *res, int status,
    struct json_object *obj)
{
	const char *text;
	size_t len = 0;

	res->status = status;
	text = obj != NULL ? ing_json_text(obj, &len) : "null";
	if (obj == NULL)
		len = 4;
	if (text == NULL) {
		res->status = 500;
		text = "{\"message\":\"out of memory\"}";
		len = strlen(text);
	}
	ing_res_text(res, text, len);
	json_object_put(obj);
}

void ing_res_message(struct ing_response *res, int status, const char *msg,
    int with_modified)
{
	struct json_object *o = json_object_new_object();

	if (o == NULL || ing_json_add_str(o, "message", msg) != 0 ||
	    (with_modified && ing_json_add_bool(o, "modified", 0) != 0)) {
		json_object_put(o);
		o = NULL;
		status = 500;
	}
	ing_res_json(res, status, o);
}

void ing_res_error(struct ing_response *res, int no_retry, const char *name,
    const char *msg, long retry_after)
{
	struct json_object *o = json_object_new_object();
	char num[24];

	if (o == NULL || ing_json_add_str(o, "name", name) != 0 ||
	    ing_json_add_str(o, "message", msg) != 0) {
		json_object_put(o);
		o = NULL;
	}
	ing_res_json(res, no_retry ? 400 : 500, o);
	ing_res_set_header(res, "X-Inngest-No-Retry",
	    no_retry ? "true" : "false");
	if (!no_retry && retry_after > 0) {
		snprintf(num, sizeof(num), "%ld", retry_after);
		ing_res_set_header(res, "Retry-After", num);
	}
}

/* ---- verification (spec 4.1.3) ---------------------------------------- */

enum ing_sig_err ing_serve_verify(struct ing_app *app,
    const struct ing_request *req, int *which)
{
	return ing_signature_verify(ing_req_header(req, "X-Inngest-Signature"),
	    req->body, req->body_len, app->signing_key,
	    app->signing_key_fallback, app->hooks.now_ms() / 1000, which);
}

void ing_res_refuse(const struct ing_app *app, struct ing_response *res,
    enum ing_sig_err e, const char *what, int sync_shape)
{
	/* The reason goes to the log only: a caller probing keys learns
	 * nothing from the answer. */
	ing_log(app, ING_LOG_WARN, "inngest_unauthorized", "%s refused: %s",
	    what, ing_sig_strerror(e));
	if (e == ING_SIG_ENOKEY)
		ing_res_message(res, 500, "no signing key configured",
		    sync_shape);
	else if (e == ING_SIG_ENOMEM)
		ing_res_message(res, 500, "out of memory", sync_shape);
	else
		ing_res_message(res, 401, "Unauthorized", sync_shape);
}
