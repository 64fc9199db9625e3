/*
 * sync.c -- PUT /api/inngest (spec 4.3): tell Inngest which functions this
 * app serves, at which URL, by POSTing the sync payload to
 * {api origin}/fn/register.
 *
 * An unsigned PUT is a sync anyone may start (spec 4.3.1, inngest-js's
 * default), so the payload's URL must not be the caller's to choose:
 * with INNGEST_SERVE_ORIGIN set the request's scheme and host are never
 * read.  Without it they come from struct ing_request, and the transport
 * decides what it puts there: Omni's (handlers/inngest.c) passes no host
 * in cloud mode, so such a sync fails naming INNGEST_SERVE_ORIGIN, and
 * never a scheme taken from a header.  A PUT that carries a signature
 * must verify (it would be a forgery otherwise); this SDK does no in-band
 * sync, so a verified PUT syncs out of band like any other.
 */
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "inngest_internal.h"
#include "inngest_jcs.h"
#include "inngest_transport.h"

#define MAX_REGISTER_RESPONSE (1024u * 1024u)

/*
 * The URL Inngest should call: INNGEST_SERVE_ORIGIN or the request's
 * scheme://host, then INNGEST_SERVE_PATH or the request's path, then the
 * request's query minus deployId (spec 4.3.2) and the call parameters.
 * NULL out of memory, or without a serve origin when the transport gave
 * no host or one that cannot be part of a URL.
 */
static char *serve_url(struct ing_app *app, const struct ing_request *req)
{
	static const char *const drop[] = { "deployId", "fnId", "stepId",
	    "probe", NULL };
	const char *path = app->serve_path != NULL ? app->serve_path :
	    req->path != NULL && *req->path != '\0' ? req->path :
	    "/api/inngest";
	struct ing_buf b, q;
	char *qs;

	ing_buf_init(&b);
	if (app->serve_origin != NULL) {
		ing_buf_puts(&b, app->serve_origin);
	} else {
		if (req->host == NULL || *req->host == '\0' ||
		    strpbrk(req->host, "/?#@ \t\r\n\\") != NULL)
			return NULL;
		ing_buf_puts(&b, req->scheme != NULL &&
		    strcmp(req->scheme, "https") == 0 ? "https://" :
		    "http://");
		ing_buf_puts(&b, req->host);
	}
	if (path[0] != '/')
		ing_buf_putc(&b, '/');
	ing_buf_puts(&b, path);
	ing_buf_init(&q);
	ing_query_filter(&q, req->query, drop);
	qs = ing_buf_take(&q, NULL);
	if (qs != NULL && *qs != '\0') {
		ing_buf_putc(&b, '?');
		ing_buf_puts(&b, qs);
	}
	free(qs);
	return ing_buf_take(&b, NULL);
}

/* {api origin}/fn/register, with the request's deployId passed on. */
static char *register_url(struct ing_app *app, const struct ing_request *req)
{
	char deploy[256];
	struct ing_buf b;

	ing_buf_init(&b);
	ing_buf_puts(&b, app->api_origin);
	ing_buf_puts(&b, "/fn/register");
	if (ing_query_get(req->query, "deployId", deploy,
	    sizeof(deploy)) == 1 && deploy[0] != '\0') {
		ing_buf_puts(&b, "?deployId=");
		ing_buf_put_urlenc(&b, deploy);
	}
	return ing_buf_take(&b, NULL);
}

/* "dev" or "cloud" today: lower-case letters only, so that the value
 * cannot bend the header line it is copied into. */
static int valid_server_kind(const char *s)
{
	size_t n = 0;

	for (; s[n] != '\0'; n++)
		if (!(s[n] >= 'a' && s[n] <= 'z') || n >= 16)
			return 0;
	return n > 0;
}

/*
 * Answer the PUT from Inngest's answer 'hr' (spec 4.3.3, 4.3.4): 200 with
 * Inngest's "modified" (false if absent), or 500 with its "error".
 */
static void answer(struct ing_app *app, const struct ing_http_res *hr,
    struct ing_response *res)
{
	struct json_object *o = NULL, *v, *out;
	char msg[300];
	int modified = 0;

	if (ing_json_parse(hr->body, hr->body_len, &o) != ING_JCS_OK)
		o = NULL;
	if (hr->status != 200) {
		if (json_object_object_get_ex(o, "error", &v) &&
		    json_object_is_type(v, json_type_string))
			snprintf(msg, sizeof(msg), "%s",
			    json_object_get_string(v));
		else
			snprintf(msg, sizeof(msg), "sync failed: Inngest "
			    "answered %ld", hr->status);
		ing_log(app, ING_LOG_ERROR, "inngest_sync_failed", "status %ld",
		    hr->status);
		ing_res_message(res, 500, msg, 1);
		json_object_put(o);
		return;
	}
	if (json_object_object_get_ex(o, "modified", &v) &&
	    json_object_is_type(v, json_type_boolean))
		modified = json_object_get_boolean(v);
	json_object_put(o);
	out = json_object_new_object();
	if (out == NULL ||
	    ing_json_add_str(out, "message", "Successfully synced.") != 0 ||
	    ing_json_add_bool(out, "modified", modified) != 0) {
		json_object_put(out);
		ing_res_message(res, 500, "out of memory", 1);
		return;
	}
	ing_res_json(res, 200, out);
	ing_log(app, ING_LOG_INFO, "inngest_synced", "%zu functions, "
	    "modified %s",
	    app->nfns, modified ? "true" : "false");
}

void ing_serve_sync(struct ing_app *app, const struct ing_request *req,
    struct ing_response *res)
{
	const char *kind = ing_req_header(req, "X-Inngest-Server-Kind");
	const char *extra[2], *body;
	char kindline[64], msg[128];
	struct json_object *payload = NULL;
	struct ing_http_res hr = { 0 };
	char *url = NULL, *regurl = NULL;
	size_t body_len, nextra = 0;
	enum ing_sig_err se;
	enum ing_err err;

	if (app->mode == ING_MODE_CLOUD &&
	    ing_req_header(req, "X-Inngest-Signature") != NULL &&
	    (se = ing_serve_verify(app, req, NULL)) != ING_SIG_OK) {
		ing_res_refuse(app, res, se, "sync", 1);
		return;
	}
	url = serve_url(app, req);
	if (url == NULL) {
		ing_res_message(res, 500, "cannot tell the serve URL; set "
		    "INNGEST_SERVE_ORIGIN", 1);
		return;
	}
	regurl = register_url(app, req);
	if (regurl == NULL ||
	    ing_app_sync_payload(app, url, &payload) != ING_OK ||
	    (body = ing_json_text(payload, &body_len)) == NULL) {
		ing_res_message(res, 500, "out of memory", 1);
		goto out;
	}
	/* Spec 4.3.2: lets the server refuse a sync meant for the other
	 * kind (a dev server reaching a cloud-configured app). */
	if (kind != NULL && valid_server_kind(kind)) {
		snprintf(kindline, sizeof(kindline),
		    "X-Inngest-Expected-Server-Kind: %s", kind);
		extra[nextra++] = kindline;
	}
	extra[nextra++] = "X-Inngest-Sync-Kind: out_of_band";
	err = ing_app_api_request(app, "POST", regurl, extra, nextra, body,
	    body_len, MAX_REGISTER_RESPONSE, &hr);
	if (err != ING_OK) {
		snprintf(msg, sizeof(msg), "sync failed: %s",
		    ing_strerror(err));
		ing_log(app, ING_LOG_ERROR, "inngest_sync_failed", "%s", msg);
		ing_res_message(res, 500, msg, 1);
		goto out;
	}
	answer(app, &hr, res);
out:
	json_object_put(payload);
	ing_http_res_free(&hr);
	free(regurl);
	free(url);
}
