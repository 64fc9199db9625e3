/*
 * test_inngest_serve.c -- the /api/inngest entry point in cloud mode:
 * signature checks on every method, introspection fields (spec 4.5), the
 * sync request and its payload (spec 4.3), unknown functions, malformed
 * requests, the headers every response carries.  Outgoing HTTP goes to a
 * fake transport that records what the SDK sent.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <json-c/json.h>

#include "inngest.h"
#include "inngest_jcs.h"
#include "inngest_signing.h"
#include "inngest_step.h"
#include "inngest_transport.h"
#include "log.h"

#define NOW_S    INT64_C(1700000000)
#define KEY      "signkey-test-12345678"
#define FALLBACK "signkey-test-abcdef00"
/* Hashed KEY (spec 4.1.4 vector, "test" prefix). */
#define KEY_HASH "signkey-test-b2ed992186a5cb19f6668aade821f502c1d00970dfd0" \
    "e35128d51bac4649916c"

/* ---- fake transport ----------------------------------------------------- */

#define MAXREQ 4
#define FAKE_MAXREQ MAXREQ
#include "fake_transport.h"

static long long fake_now(void)
{
	return NOW_S * 1000;
}

/* ---- one function ------------------------------------------------------- */

static int runs;

static enum ing_rc fn_hello(struct ing_ctx *ctx, struct json_object **result)
{
	(void)ctx;
	runs++;
	*result = json_object_new_string("hello");
	return ING_RC_OK;
}

static const struct ing_function hello = {
	.id = "hello",
	.name = "Say hello",
	.triggers = { { .event = "test/hello", .expression = "event.data.x > 1" },
	    { .cron = "0 0 * * *" } },
	.handler = fn_hello,
	.has_retries = 1,
	.retries = 2,
	.concurrency = { { .limit = 5, .key = "event.data.user", .scope = "fn" } },
	.throttle = { .limit = 10, .period = "1m" },
	.cancel = { { .event = "test/cancel", .if_expr = "event.data.id == "
	    "async.data.id" } },
};

static const struct ing_function plain = {
	.id = "plain",
	.triggers = { { .event = "test/plain" } },
	.handler = fn_hello,
};

/* ---- harness ------------------------------------------------------------ */

static struct ing_app *app;
static struct ing_response res;

/* An app from 'cfg' on the fake transport and clock, both functions
 * registered. */
static struct ing_app *app_from(const struct ing_config *cfg)
{
	struct ing_hooks hooks = { .transport = &fake_transport,
	    .now_ms = fake_now,
	    .sleep_ms = NULL };
	struct ing_app *a = NULL;

	assert_int_equal(ing_app_new(cfg, &hooks, &a), ING_OK);
	assert_int_equal(ing_app_register(a, &hello), ING_OK);
	assert_int_equal(ing_app_register(a, &plain), ING_OK);
	return a;
}

static struct ing_app *make_app(const char *dev, const char *fallback,
    const char *serve_origin)
{
	struct ing_config cfg;

	memset(&cfg, 0, sizeof(cfg));
	cfg.app_id = "omni";
	cfg.signing_key = KEY;
	cfg.signing_key_fallback = fallback;
	cfg.event_key = "evtkey";
	cfg.env = "branch-1";
	cfg.dev = dev;
	cfg.api_origin = "http://api.test:9";
	cfg.serve_origin = serve_origin;
	return app_from(&cfg);
}

static int setup(void **state)
{
	(void)state;
	log_set_level(LOG_ERROR);
	memset(&fake, 0, sizeof(fake));
	memset(&res, 0, sizeof(res));
	runs = 0;
	app = make_app(NULL, FALLBACK, NULL);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	for (int i = 0; i < MAXREQ; i++)
		free(fake.req[i].body);
	ing_response_free(&res);
	ing_app_free(app);
	return 0;
}

/* Serve one request; 'sig' NULL for none.  Returns the parsed body. */
static struct json_object *serve(const char *method, const char *query,
    const char *body, const char *sig, const char *server_kind)
{
	struct ing_header_ref h[3];
	struct ing_request req;
	struct json_object *out = NULL;
	size_t n = 0;

	if (sig != NULL)
		h[n++] = (struct ing_header_ref){ "x-inngest-signature", sig };
	if (server_kind != NULL)
		h[n++] = (struct ing_header_ref){ "X-Inngest-Server-Kind",
		    server_kind };
	memset(&req, 0, sizeof(req));
	req.method = method;
	req.query = query;
	req.headers = h;
	req.nheaders = n;
	req.body = body;
	req.body_len = body != NULL ? strlen(body) : 0;
	req.scheme = "https";
	req.host = "omni.example:8443";
	req.path = "/api/inngest";
	ing_response_free(&res);
	assert_int_equal(ing_serve(app, &req, &res), ING_OK);
	/* Spec 4.1.2: on every response; the version MUST be 2. */
	assert_string_equal(ing_response_header(&res, "X-Inngest-Sdk"),
	    "c:v" ING_SDK_VERSION);
	assert_string_equal(ing_response_header(&res,
	    "X-Inngest-Req-Version"), "2");
	assert_string_equal(ing_response_header(&res, "Content-Type"),
	    "application/json");
	if (res.body_len > 0)
		assert_int_equal(ing_json_parse(res.body, res.body_len, &out),
		    0);
	return out;
}

static const char *sign(const char *key, const char *body, int64_t ts)
{
	static char hdr[ING_SIG_HEADER_LEN];

	assert_int_equal(ing_signature_make(key, body, body != NULL ?
	    strlen(body) : 0, ts, hdr, sizeof(hdr)), 0);
	return hdr;
}

static const char call_body[] = "{\"event\":{\"name\":\"test/hello\","
    "\"data\":{\"x\":2}},\"events\":[{\"name\":\"test/hello\",\"data\":"
    "{\"x\":2}}],\"steps\":{},\"ctx\":{\"run_id\":\"r1\",\"attempt\":0,"
    "\"disable_immediate_execution\":false,\"use_api\":false,"
    "\"stack\":{\"stack\":[],\"current\":0}}}";

static const char *str_at(struct json_object *o, const char *key)
{
	struct json_object *v;

	if (!json_object_object_get_ex(o, key, &v))
		return NULL;
	return json_object_get_string(v);
}

/* ---- call requests ------------------------------------------------------ */

static void test_signed_call_runs_function(void **state)
{
	struct json_object *o;

	(void)state;
	o = serve("POST", "fnId=omni-hello&stepId=step", call_body,
	    sign(KEY, call_body, NOW_S - 10), NULL);
	assert_int_equal(res.status, 200);
	assert_string_equal(json_object_get_string(o), "hello");
	assert_int_equal(runs, 1);
	json_object_put(o);
}

static void test_call_signed_over_jcs_form_accepted(void **state)
{
	char *canon = NULL;
	size_t len;
	struct json_object *o;
	/* Same body as the server might send it: spaced, other order. */
	static const char spaced[] = "{ \"steps\": {}, \"event\": {\"data\": "
	    "{\"x\": 2}, \"name\": \"test/hello\"}, \"ctx\": {\"run_id\": "
	    "\"r1\", \"attempt\": 0} }";

	(void)state;
	assert_int_equal(ing_jcs_canonicalize(spaced, strlen(spaced), &canon,
	    &len), ING_JCS_OK);
	o = serve("POST", "fnId=omni-hello", spaced, sign(KEY, canon, NOW_S),
	    NULL);
	assert_int_equal(res.status, 200);
	assert_int_equal(runs, 1);
	json_object_put(o);
	free(canon);
}

static void test_call_signed_with_fallback_key_accepted(void **state)
{
	struct json_object *o;

	(void)state;
	o = serve("POST", "fnId=omni-hello", call_body,
	    sign(FALLBACK, call_body, NOW_S), NULL);
	assert_int_equal(res.status, 200);
	assert_int_equal(runs, 1);
	json_object_put(o);
}

static void test_call_with_bad_signature_refused(void **state)
{
	struct json_object *o;

	(void)state;
	o = serve("POST", "fnId=omni-hello", call_body,
	    sign("signkey-test-99999999", call_body, NOW_S), NULL);
	/* As both official SDKs: 401, and no hint which check failed. */
	assert_int_equal(res.status, 401);
	assert_string_equal(str_at(o, "message"), "Unauthorized");
	assert_null(ing_response_header(&res, "X-Inngest-No-Retry"));
	assert_int_equal(runs, 0);
	json_object_put(o);
}

static void test_call_with_expired_signature_refused(void **state)
{
	struct json_object *o;

	(void)state;
	o = serve("POST", "fnId=omni-hello", call_body,
	    sign(KEY, call_body, NOW_S - 301), NULL);
	assert_int_equal(res.status, 401);
	assert_int_equal(runs, 0);
	json_object_put(o);
	/* A timestamp from the future is no better (unbounded replay). */
	o = serve("POST", "fnId=omni-hello", call_body,
	    sign(KEY, call_body, NOW_S + 301), NULL);
	assert_int_equal(res.status, 401);
	assert_int_equal(runs, 0);
	json_object_put(o);
}

static void test_call_without_signature_refused(void **state)
{
	struct json_object *o;

	(void)state;
	o = serve("POST", "fnId=omni-hello", call_body, NULL, NULL);
	assert_int_equal(res.status, 401);
	assert_int_equal(runs, 0);
	json_object_put(o);
}

static void test_call_with_tampered_body_refused(void **state)
{
	char tampered[sizeof(call_body)];
	struct json_object *o;
	const char *sig;

	(void)state;
	sig = sign(KEY, call_body, NOW_S);
	memcpy(tampered, call_body, sizeof(call_body));
	strstr(tampered, "\"x\":2")[4] = '3'; /* valid JSON, other data */
	o = serve("POST", "fnId=omni-hello", tampered, sig, NULL);
	assert_int_equal(res.status, 401);
	assert_int_equal(runs, 0);
	json_object_put(o);
}

static void test_cloud_without_signing_key_fails_closed(void **state)
{
	struct ing_config cfg;
	struct json_object *o;

	(void)state;
	ing_app_free(app);
	memset(&cfg, 0, sizeof(cfg));
	cfg.app_id = "omni";
	app = app_from(&cfg);
	o = serve("POST", "fnId=omni-hello", call_body,
	    sign("", call_body, NOW_S), NULL);
	assert_int_equal(res.status, 500);
	assert_string_equal(str_at(o, "message"), "no signing key configured");
	assert_int_equal(runs, 0);
	json_object_put(o);
}

static void test_dev_mode_skips_verification(void **state)
{
	struct json_object *o;

	(void)state;
	ing_app_free(app);
	app = make_app("1", NULL, NULL);
	o = serve("POST", "fnId=omni-hello", call_body, "t=1&s=junk", NULL);
	assert_int_equal(res.status, 200);
	assert_int_equal(runs, 1);
	json_object_put(o);
}

static void test_unknown_fn_id_is_500_after_verification(void **state)
{
	struct json_object *o;

	(void)state;
	o = serve("POST", "fnId=omni-nope", call_body,
	    sign(KEY, call_body, NOW_S), NULL);
	assert_int_equal(res.status, 500);
	assert_string_equal(str_at(o, "message"),
	    "function not found: omni-nope");
	json_object_put(o);
	/* Unsigned: the signature is checked first, no function names. */
	o = serve("POST", "fnId=omni-nope", call_body, NULL, NULL);
	assert_int_equal(res.status, 401);
	assert_null(strstr(res.body, "omni-nope"));
	json_object_put(o);
}

static void test_get_with_body_and_fn_id_is_a_call(void **state)
{
	struct json_object *o;

	(void)state;
	o = serve("GET", "fnId=omni-hello&stepId=step", call_body,
	    sign(KEY, call_body, NOW_S), NULL);
	assert_int_equal(res.status, 200);
	assert_string_equal(json_object_get_string(o), "hello");
	assert_int_equal(runs, 1);
	json_object_put(o);
	/* ...and verified like any call. */
	o = serve("GET", "fnId=omni-hello&stepId=step", call_body,
	    sign(FALLBACK "00", call_body, NOW_S), NULL);
	assert_int_equal(res.status, 401);
	assert_int_equal(runs, 1);
	json_object_put(o);
}

static void test_bare_function_id_accepted(void **state)
{
	struct json_object *o;

	(void)state;
	o = serve("POST", "fnId=hello", call_body,
	    sign(KEY, call_body, NOW_S), NULL);
	assert_int_equal(res.status, 200);
	json_object_put(o);
}

static void test_missing_fn_id_and_bad_body_are_400(void **state)
{
	struct json_object *o;
	static const char junk[] = "{not json";

	(void)state;
	o = serve("POST", "", call_body, sign(KEY, call_body, NOW_S), NULL);
	assert_int_equal(res.status, 400);
	json_object_put(o);
	o = serve("POST", "fnId=omni-hello", junk, sign(KEY, junk, NOW_S),
	    NULL);
	assert_int_equal(res.status, 400);
	assert_string_equal(ing_response_header(&res, "X-Inngest-No-Retry"),
	    "true");
	json_object_put(o);
	o = serve("POST", "fnId=omni-hello", "{\"steps\":{}}",
	    sign(KEY, "{\"steps\":{}}", NOW_S), NULL);
	assert_int_equal(res.status, 400);
	json_object_put(o);
	{
		char q[256];

		snprintf(q, sizeof(q), "fnId=omni-hello&stepId=%0150d", 7);
		o = serve("POST", q, call_body, sign(KEY, call_body, NOW_S),
		    NULL);
		assert_int_equal(res.status, 400);
		assert_string_equal(str_at(o, "message"), "stepId too long");
		json_object_put(o);
	}
	assert_int_equal(runs, 0);
}

/* ---- introspection ------------------------------------------------------ */

static const char *const public_keys[] = { "authentication_succeeded",
    "function_count", "has_event_key", "has_signing_key",
    "has_signing_key_fallback", "mode", "schema_version", NULL };
static const char *const private_keys[] = { "api_origin", "app_id",
    "capabilities", "env", "event_api_origin", "event_key_hash",
    "framework", "sdk_language", "sdk_version", "serve_origin", "serve_path",
    "signing_key_fallback_hash", "signing_key_hash", NULL };

/* Spec 4.5: no top-level key outside the schema. */
static void assert_keys(struct json_object *o, int with_private)
{
	size_t n = 0;

	for (size_t i = 0; public_keys[i] != NULL; i++, n++)
		assert_true(json_object_object_get_ex(o, public_keys[i], NULL));
	for (size_t i = 0; with_private && private_keys[i] != NULL; i++, n++)
		assert_true(json_object_object_get_ex(o, private_keys[i],
		    NULL));
	assert_int_equal(json_object_object_length(o), n);
}

static void test_introspection_unsigned_has_only_public_fields(void **state)
{
	struct json_object *o;

	(void)state;
	o = serve("GET", NULL, NULL, NULL, NULL);
	assert_int_equal(res.status, 200);
	assert_keys(o, 0);
	assert_null(json_object_object_get(o, "authentication_succeeded"));
	assert_int_equal(json_object_get_int(json_object_object_get(o,
	    "function_count")), 2);
	assert_true(json_object_get_boolean(json_object_object_get(o,
	    "has_event_key")));
	assert_true(json_object_get_boolean(json_object_object_get(o,
	    "has_signing_key")));
	assert_true(json_object_get_boolean(json_object_object_get(o,
	    "has_signing_key_fallback")));
	assert_string_equal(str_at(o, "mode"), "cloud");
	assert_string_equal(str_at(o, "schema_version"), "2024-05-24");
	json_object_put(o);
}

static void test_introspection_signed_adds_private_fields(void **state)
{
	struct json_object *o;

	(void)state;
	o = serve("GET", NULL, NULL, sign(KEY, "", NOW_S), NULL);
	assert_int_equal(res.status, 200);
	assert_keys(o, 1);
	assert_true(json_object_get_boolean(json_object_object_get(o,
	    "authentication_succeeded")));
	/* First 12 hex digits of the hashed key, without the prefix. */
	assert_string_equal(str_at(o, "signing_key_hash"), "b2ed992186a5");
	assert_int_equal(strlen(str_at(o, "signing_key_fallback_hash")), 12);
	assert_string_equal(str_at(o, "app_id"), "omni");
	assert_string_equal(str_at(o, "api_origin"), "http://api.test:9");
	assert_string_equal(str_at(o, "env"), "branch-1");
	assert_string_equal(str_at(o, "sdk_language"), "c");
	assert_string_equal(str_at(o, "sdk_version"), ING_SDK_VERSION);
	assert_string_equal(str_at(o, "framework"), "fastcgi");
	/* hex(SHA-256("evtkey")) */
	assert_string_equal(str_at(o, "event_key_hash"), "4f2565cbe6f0084a"
	    "f01660dbf3d74242d15fe6b596df76704554ceeaad6f75a8");
	assert_null(json_object_object_get(o, "serve_origin"));
	json_object_put(o);
}

static void test_introspection_bad_signature_gets_public_fields(void **state)
{
	struct json_object *o;

	(void)state;
	o = serve("GET", NULL, NULL, sign("signkey-test-0000", "", NOW_S),
	    NULL);
	assert_int_equal(res.status, 200);
	assert_keys(o, 0);
	assert_true(json_object_is_type(json_object_object_get(o,
	    "authentication_succeeded"), json_type_boolean));
	assert_false(json_object_get_boolean(json_object_object_get(o,
	    "authentication_succeeded")));
	json_object_put(o);
}

static void test_introspection_dev_mode(void **state)
{
	struct json_object *o;

	(void)state;
	ing_app_free(app);
	app = make_app("http://127.0.0.1:8288", NULL, NULL);
	o = serve("GET", NULL, NULL, sign(KEY, "", NOW_S), NULL);
	assert_string_equal(str_at(o, "mode"), "dev");
	/* Dev mode never verifies, so it never shows private fields. */
	assert_keys(o, 0);
	json_object_put(o);
}

/* ---- sync --------------------------------------------------------------- */

static void test_sync_posts_full_payload_and_reports_modified(void **state)
{
	struct json_object *o, *p = NULL, *f, *step, *t;

	(void)state;
	fake.status[0] = 200;
	fake.reply[0] = "{\"ok\":true,\"modified\":true}";
	o = serve("PUT", "deployId=dep-1&x=y", NULL, NULL, "dev");
	assert_int_equal(res.status, 200);
	assert_string_equal(str_at(o, "message"), "Successfully synced.");
	assert_true(json_object_get_boolean(json_object_object_get(o,
	    "modified")));
	json_object_put(o);

	assert_int_equal(fake.calls, 1);
	assert_string_equal(fake.req[0].method, "POST");
	assert_string_equal(fake.req[0].url,
	    "http://api.test:9/fn/register?deployId=dep-1");
	assert_non_null(strstr(fake.req[0].headers,
	    "Authorization: Bearer " KEY_HASH "\n"));
	assert_non_null(strstr(fake.req[0].headers,
	    "X-Inngest-Sdk: c:v" ING_SDK_VERSION "\n"));
	assert_non_null(strstr(fake.req[0].headers,
	    "X-Inngest-Env: branch-1\n"));
	assert_non_null(strstr(fake.req[0].headers,
	    "X-Inngest-Expected-Server-Kind: dev\n"));

	assert_int_equal(ing_json_parse(fake.req[0].body,
	    strlen(fake.req[0].body), &p), 0);
	/* deployId never reaches the payload URL; other params do. */
	assert_string_equal(str_at(p, "url"),
	    "https://omni.example:8443/api/inngest?x=y");
	assert_string_equal(str_at(p, "deployType"), "ping");
	assert_string_equal(str_at(p, "appName"), "omni");
	assert_string_equal(str_at(p, "v"), "0.1");
	/* Spec 4.3.2: the same value as the X-Inngest-Sdk header. */
	assert_string_equal(str_at(p, "sdk"), ING_SDK_HEADER);
	assert_string_equal(str_at(p, "framework"), "fastcgi");
	assert_string_equal(str_at(json_object_object_get(p, "capabilities"),
	    "trust_probe"), "v1");
	assert_int_equal(json_object_array_length(json_object_object_get(p,
	    "functions")), 2);
	f = json_object_array_get_idx(json_object_object_get(p, "functions"),
	    0);
	assert_string_equal(str_at(f, "id"), "omni-hello");
	assert_string_equal(str_at(f, "name"), "Say hello");
	t = json_object_object_get(f, "triggers");
	assert_int_equal(json_object_array_length(t), 2);
	assert_string_equal(str_at(json_object_array_get_idx(t, 0), "event"),
	    "test/hello");
	assert_string_equal(str_at(json_object_array_get_idx(t, 0),
	    "expression"), "event.data.x > 1");
	assert_string_equal(str_at(json_object_array_get_idx(t, 1), "cron"),
	    "0 0 * * *");
	step = json_object_object_get(json_object_object_get(f, "steps"),
	    "step");
	assert_string_equal(str_at(step, "id"), "step");
	assert_string_equal(str_at(json_object_object_get(step, "runtime"),
	    "type"), "http");
	assert_string_equal(str_at(json_object_object_get(step, "runtime"),
	    "url"), "https://omni.example:8443/api/inngest?x=y&fnId=omni-hello"
	    "&stepId=step");
	assert_int_equal(json_object_get_int(json_object_object_get(
	    json_object_object_get(step, "retries"), "attempts")), 2);
	assert_int_equal(json_object_get_int(json_object_object_get(
	    json_object_array_get_idx(json_object_object_get(f,
	    "concurrency"), 0), "limit")), 5);
	assert_string_equal(str_at(json_object_object_get(f, "throttle"),
	    "period"), "1m");
	assert_string_equal(str_at(json_object_array_get_idx(
	    json_object_object_get(f, "cancel"), 0), "event"), "test/cancel");
	/* Unset options stay out of the payload. */
	f = json_object_array_get_idx(json_object_object_get(p, "functions"),
	    1);
	assert_string_equal(str_at(f, "name"), "plain");
	assert_null(json_object_object_get(f, "concurrency"));
	assert_null(json_object_object_get(f, "rateLimit"));
	assert_null(json_object_object_get(f, "debounce"));
	assert_null(json_object_object_get(f, "batchEvents"));
	assert_null(json_object_object_get(json_object_object_get(
	    json_object_object_get(f, "steps"), "step"), "retries"));
	json_object_put(p);
}

static void test_sync_uses_serve_origin_and_path(void **state)
{
	struct json_object *o, *p = NULL;

	(void)state;
	ing_app_free(app);
	app = make_app(NULL, NULL, "https://public.example/");
	fake.status[0] = 200;
	fake.reply[0] = "{\"ok\":true}";
	o = serve("PUT", NULL, NULL, NULL, NULL);
	assert_int_equal(res.status, 200);
	assert_false(json_object_get_boolean(json_object_object_get(o,
	    "modified")));
	json_object_put(o);
	assert_string_equal(fake.req[0].url, "http://api.test:9/fn/register");
	assert_null(strstr(fake.req[0].headers, "Expected-Server-Kind"));
	assert_int_equal(ing_json_parse(fake.req[0].body,
	    strlen(fake.req[0].body), &p), 0);
	assert_string_equal(str_at(p, "url"),
	    "https://public.example/api/inngest");
	json_object_put(p);
}

static void test_sync_failure_passes_error_back(void **state)
{
	struct json_object *o;

	(void)state;
	fake.status[0] = 400;
	fake.reply[0] = "{\"error\":\"wrong server kind\"}";
	o = serve("PUT", NULL, NULL, NULL, NULL);
	assert_int_equal(res.status, 500);
	assert_string_equal(str_at(o, "message"), "wrong server kind");
	assert_false(json_object_get_boolean(json_object_object_get(o,
	    "modified")));
	json_object_put(o);
}

static void test_sync_unreachable_is_500(void **state)
{
	struct json_object *o;

	(void)state;
	o = serve("PUT", NULL, NULL, NULL, NULL); /* fake: no answer */
	assert_int_equal(res.status, 500);
	assert_false(json_object_get_boolean(json_object_object_get(o,
	    "modified")));
	json_object_put(o);
}

static void test_sync_retries_with_fallback_key_on_401(void **state)
{
	struct json_object *o;

	(void)state;
	fake.status[0] = 401;
	fake.reply[0] = "{\"error\":\"unauthorized\"}";
	fake.status[1] = 200;
	fake.reply[1] = "{\"ok\":true,\"modified\":false}";
	o = serve("PUT", NULL, NULL, NULL, NULL);
	assert_int_equal(res.status, 200);
	assert_int_equal(fake.calls, 2);
	assert_non_null(strstr(fake.req[0].headers, KEY_HASH));
	assert_null(strstr(fake.req[1].headers, KEY_HASH));
	assert_non_null(strstr(fake.req[1].headers, "Bearer signkey-test-"));
	json_object_put(o);
}

static void test_sync_with_forged_signature_refused(void **state)
{
	struct json_object *o;

	(void)state;
	fake.status[0] = 200;
	fake.reply[0] = "{\"ok\":true}";
	o = serve("PUT", NULL, NULL, sign("signkey-test-0bad", "", NOW_S),
	    NULL);
	assert_int_equal(res.status, 401);
	assert_string_equal(str_at(o, "message"), "Unauthorized");
	assert_false(json_object_get_boolean(json_object_object_get(o,
	    "modified")));
	assert_int_equal(fake.calls, 0);
	json_object_put(o);
}

static void test_env_with_control_characters_is_not_sent(void **state)
{
	struct ing_config cfg;
	struct json_object *o;

	(void)state;
	ing_app_free(app);
	memset(&cfg, 0, sizeof(cfg));
	cfg.app_id = "omni";
	cfg.signing_key = KEY;
	cfg.env = "prod\r\nX-Evil: 1";
	cfg.api_origin = "http://api.test:9";
	app = app_from(&cfg);
	fake.status[0] = 200;
	fake.reply[0] = "{\"ok\":true}";
	o = serve("PUT", NULL, NULL, NULL, NULL);
	assert_int_equal(res.status, 200);
	assert_int_equal(fake.calls, 1);
	assert_null(strstr(fake.req[0].headers, "X-Evil"));
	assert_null(strstr(fake.req[0].headers, "X-Inngest-Env"));
	json_object_put(o);
}

/* ---- other methods ------------------------------------------------------ */

static void test_other_methods_get_405_with_allow(void **state)
{
	struct json_object *o;

	(void)state;
	o = serve("DELETE", NULL, NULL, NULL, NULL);
	assert_int_equal(res.status, 405);
	assert_string_equal(ing_response_header(&res, "Allow"),
	    "GET, PUT, POST");
	json_object_put(o);
}

static void test_trust_probe_signs_its_answer(void **state)
{
	struct json_object *o;
	const char *sig;

	(void)state;
	o = serve("POST", "probe=trust", "{}", sign(KEY, "{}", NOW_S), NULL);
	assert_int_equal(res.status, 200);
	sig = ing_response_header(&res, "X-Inngest-Signature");
	assert_non_null(sig);
	assert_int_equal(ing_signature_verify(sig, res.body, res.body_len, KEY,
	    NULL, NOW_S, NULL), ING_SIG_OK);
	json_object_put(o);
	o = serve("POST", "probe=trust", "{}", sign(FALLBACK "1", "{}", NOW_S),
	    NULL);
	assert_int_equal(res.status, 401);
	json_object_put(o);
}

#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_signed_call_runs_function),
		T(test_call_signed_over_jcs_form_accepted),
		T(test_call_signed_with_fallback_key_accepted),
		T(test_call_with_bad_signature_refused),
		T(test_call_with_expired_signature_refused),
		T(test_call_without_signature_refused),
		T(test_call_with_tampered_body_refused),
		T(test_cloud_without_signing_key_fails_closed),
		T(test_dev_mode_skips_verification),
		T(test_unknown_fn_id_is_500_after_verification),
		T(test_get_with_body_and_fn_id_is_a_call),
		T(test_bare_function_id_accepted),
		T(test_missing_fn_id_and_bad_body_are_400),
		T(test_introspection_unsigned_has_only_public_fields),
		T(test_introspection_signed_adds_private_fields),
		T(test_introspection_bad_signature_gets_public_fields),
		T(test_introspection_dev_mode),
		T(test_sync_posts_full_payload_and_reports_modified),
		T(test_sync_uses_serve_origin_and_path),
		T(test_sync_failure_passes_error_back),
		T(test_sync_unreachable_is_500),
		T(test_sync_retries_with_fallback_key_on_401),
		T(test_sync_with_forged_signature_refused),
		T(test_env_with_control_characters_is_not_sent),
		T(test_other_methods_get_405_with_allow),
		T(test_trust_probe_signs_its_answer),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
