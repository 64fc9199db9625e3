/*
 * serve.c -- the /api/inngest entry point (spec 4): method dispatch,
 * introspection (GET) and the trust probe (POST ?probe=trust).  Sync (PUT)
 * is in sync.c, call requests (POST) in call.c; the response helpers and
 * request verification all three share are in respond.c, so that calls
 * run one way (serve -> sync/call -> response).
 *
 * ing_serve() is transport-neutral: handlers/inngest.c adapts the FastCGI
 * request to struct ing_request and copies struct ing_response back.  Each
 * request builds its state on the stack and in a per-call arena, so
 * requests on different threads share nothing but the immutable app.
 *
 * A request that fails verification gets 401 {"message":"Unauthorized"},
 * as both official SDKs answer today; the spec text (4.1.3) still says
 * 500.  The Inngest server retries either alike (neither carries
 * X-Inngest-No-Retry), and its sync flow reports a 401 as "unauthorized"
 * where a 500 reads as an SDK crash; docs/inngest.md has the details.  A
 * missing signing key is our configuration error: 500, as the spec says.
 */
#include <json-c/json.h>
#include <stdio.h>
#include <string.h>

#include "inngest_internal.h"

/* ---- GET: introspection (spec 4.5, schema 2024-05-24) ----------------- */

/* Like inngest-js: 12 hex digits identify the key without handing out a
 * usable bearer token; NULL (JSON null) without a key. */
static const char *short_hash(const char *hash, char out[13])
{
	if (hash[0] == '\0')
		return NULL;
	snprintf(out, 13, "%s", hash + ing_signing_key_prefix_len(hash));
	return out;
}

/* The fields only a verified caller sees; -1 out of memory. */
static int introspect_private(struct ing_app *app, struct json_object *o)
{
	char kh[13], fh[13];

	return ing_json_add_str(o, "api_origin", app->api_origin) != 0 ||
	    ing_json_add_str(o, "app_id", app->app_id) != 0 ||
	    ing_json_add(o, "capabilities", ing_capabilities_json()) != 0 ||
	    ing_json_add_str_or_null(o, "env", app->env) != 0 ||
	    ing_json_add_str(o, "event_api_origin", app->event_origin) != 0 ||
	    ing_json_add_str_or_null(o, "event_key_hash",
	    app->event_key_hash[0] != '\0' ? app->event_key_hash :
	    NULL) != 0 ||
	    ing_json_add_str(o, "framework", ING_FRAMEWORK) != 0 ||
	    ing_json_add_str(o, "sdk_language", ING_SDK_LANGUAGE) != 0 ||
	    ing_json_add_str(o, "sdk_version", ING_SDK_VERSION) != 0 ||
	    ing_json_add_str_or_null(o, "serve_origin",
	    app->serve_origin) != 0 ||
	    ing_json_add_str_or_null(o, "serve_path", app->serve_path) != 0 ||
	    ing_json_add_str_or_null(o, "signing_key_fallback_hash",
	    short_hash(app->fallback_hash, fh)) != 0 ||
	    ing_json_add_str_or_null(o, "signing_key_hash",
	    short_hash(app->key_hash, kh)) != 0 ? -1 : 0;
}

/*
 * Exactly the spec's top-level fields: the unauthenticated set, plus the
 * private ones when the request is signed and verifies (cloud mode only:
 * dev mode verifies nothing, so it never shows them).
 * authentication_succeeded is null unsigned, false for a signature that
 * does not verify.
 */
static struct json_object *introspection(struct ing_app *app,
    int signed_req, enum ing_sig_err e)
{
	struct json_object *o = json_object_new_object();

	if (o == NULL || (signed_req ?
	    ing_json_add_bool(o, "authentication_succeeded",
	    e == ING_SIG_OK) : json_object_object_add(o,
	    "authentication_succeeded", NULL)) != 0 ||
	    ing_json_add_int(o, "function_count", (int64_t)app->nfns) != 0 ||
	    ing_json_add_bool(o, "has_event_key",
	    app->event_key != NULL) != 0 ||
	    ing_json_add_bool(o, "has_signing_key",
	    app->signing_key != NULL) != 0 ||
	    ing_json_add_bool(o, "has_signing_key_fallback",
	    app->signing_key_fallback != NULL) != 0 ||
	    ing_json_add_str(o, "mode", app->mode == ING_MODE_DEV ? "dev" :
	    "cloud") != 0 ||
	    ing_json_add_str(o, "schema_version", "2024-05-24") != 0 ||
	    (e == ING_SIG_OK && introspect_private(app, o) != 0)) {
		json_object_put(o);
		return NULL;
	}
	return o;
}

/*
 * The unsigned answer depends on the app alone (its functions are all
 * registered before serving), so it is serialised once; concurrent first
 * requests may each make it, one copy is kept.  NULL: out of memory.
 */
static const char *public_introspection(struct ing_app *app)
{
	char *text = atomic_load_explicit(&app->public_introspection,
	    memory_order_acquire);
	struct json_object *o;
	const char *t;
	char *expect = NULL;

	if (text != NULL)
		return text;
	if ((o = introspection(app, 0, ING_SIG_EMISSING)) == NULL)
		return NULL;
	t = ing_json_text(o, NULL);
	text = t != NULL ? strdup(t) : NULL;
	json_object_put(o);
	if (text == NULL)
		return NULL;
	if (!atomic_compare_exchange_strong(&app->public_introspection,
	    &expect, text)) {
		free(text);
		return expect;
	}
	return text;
}

/* GET.  Inngest Cloud probes with several keys, so a failed probe is
 * logged at debug level only. */
static void introspect(struct ing_app *app, const struct ing_request *req,
    struct ing_response *res)
{
	const char *sig = ing_req_header(req, "X-Inngest-Signature");
	struct json_object *o;
	enum ing_sig_err e = ING_SIG_EMISSING;
	int signed_req = sig != NULL && app->mode == ING_MODE_CLOUD;
	const char *text;

	if (!signed_req) {
		if ((text = public_introspection(app)) == NULL) {
			ing_res_message(res, 500, "out of memory", 0);
			return;
		}
		res->status = 200;
		ing_res_text(res, text, strlen(text));
		return;
	}
	e = ing_serve_verify(app, req, NULL);
	if (e != ING_SIG_OK)
		ing_log(app, ING_LOG_DEBUG, "inngest_introspect_unverified",
		    "%s", ing_sig_strerror(e));
	if ((o = introspection(app, 1, e)) == NULL) {
		ing_res_message(res, 500, "out of memory", 0);
		return;
	}
	ing_res_json(res, 200, o);
}

/* ---- POST ?probe=trust -------------------------------------------------- */

/* Prove we hold the key: answer {} signed with the key that verified the
 * request (inngestgo's trust probe). */
static void trust_probe(struct ing_app *app, const struct ing_request *req,
    struct ing_response *res)
{
	char sig[ING_SIG_HEADER_LEN];
	enum ing_sig_err e;
	const char *key;
	int which = 0;

	if (app->mode == ING_MODE_CLOUD) {
		e = ing_serve_verify(app, req, &which);
		if (e != ING_SIG_OK) {
			ing_res_refuse(app, res, e, "trust probe", 0);
			return;
		}
		key = which == 0 ? app->signing_key :
		    app->signing_key_fallback;
		if (ing_signature_make(key, "{}", 2,
		    app->hooks.now_ms() / 1000, sig, sizeof(sig)) != 0) {
			ing_res_message(res, 500, "cannot sign the answer", 0);
			return;
		}
		ing_res_set_header(res, "X-Inngest-Signature", sig);
	}
	ing_res_text(res, "{}", 2);
	res->status = 200;
}

/* ---- entry point -------------------------------------------------------- */

enum ing_err ing_serve(struct ing_app *app, const struct ing_request *req,
    struct ing_response *res)
{
	char probe[16];

	memset(res, 0, sizeof(*res));
	res->status = 500;
	ing_res_set_header(res, "Content-Type", "application/json");
	ing_res_set_header(res, "X-Inngest-Sdk", ING_SDK_HEADER);
	ing_res_set_header(res, "X-Inngest-Req-Version", ING_REQ_VERSION);
	if (app == NULL || req == NULL || req->method == NULL) {
		ing_res_message(res, 500, "not configured", 0);
		return res->body != NULL ? ING_OK : ING_ENOMEM;
	}
	if (strcmp(req->method, "GET") == 0) {
		/* Some self-hosted servers send call requests as GET with a
		 * body: a GET naming a function and carrying one is a call. */
		if (req->body_len > 0 && ing_query_get(req->query, "fnId",
		    probe, sizeof(probe)) != 0)
			ing_serve_call(app, req, res);
		else
			introspect(app, req, res);
	} else if (strcmp(req->method, "PUT") == 0) {
		ing_serve_sync(app, req, res);
	} else if (strcmp(req->method, "POST") == 0) {
		if (ing_query_get(req->query, "probe", probe,
		    sizeof(probe)) == 1 && strcmp(probe, "trust") == 0)
			trust_probe(app, req, res);
		else
			ing_serve_call(app, req, res);
	} else {
		ing_res_set_header(res, "Allow", "GET, PUT, POST");
		ing_res_message(res, 405, "method not allowed", 0);
	}
	return res->body != NULL ? ING_OK : ING_ENOMEM;
}
