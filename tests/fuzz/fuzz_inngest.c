/*
 * fuzz_inngest.c -- libFuzzer harnesses for the Inngest SDK.
 *
 * Built as is, the target is one /api/inngest request through ing_serve()
 * on apps built once with the test functions registered (as
 * handlers/inngest.c builds them with debug routes on): a dev-mode app,
 * which checks no signature, and a cloud-mode app with a fixed signing key
 * and a fixed clock, so that the harness can sign a body validly or not.
 * Built with -DFUZZ_JCS, the target is the RFC 8785 canonicaliser on
 * arbitrary bytes.  See README.md in this directory for the build and run
 * lines.
 *
 * No network: both apps point every origin at 127.0.0.1:9 and, above
 * that, use a fake transport (inngest_transport.h) that never opens a
 * socket.  The fake answers as byte 0 says: a transport error, a 500, or
 * a plausible 200 (a batch, an actions map, event ids, a sync answer).
 *
 * Request input layout:
 *   byte 0   bits 0-1 method: 0 GET, 1 PUT, 2 and 3 POST
 *            bit 2    cloud app (else dev)
 *            bit 3    send X-Inngest-Signature: valid for the body when
 *                     bit 4 is clear, a wrong one when it is set
 *            bit 5    send X-Inngest-Server-Kind: dev
 *            bits 6-7 fake transport: 0 error, 1 HTTP 500, 2-3 HTTP 200
 *   rest     the raw query string (fnId, stepId, probe, deployId ...),
 *            a '\n', then the body (the call request JSON)
 *
 * With FUZZ_INNGEST_VERBOSE set in the environment, each answer's status
 * and body go to stderr (to check what a seed reaches).
 *
 * Beyond the sanitizers (LeakSanitizer checks that ing_response_free()
 * and the per-call state leave nothing), the harness aborts when a
 * response breaks an invariant: a status outside 100..599, no
 * X-Inngest-Sdk header, CR or LF in a header, a body that is missing, not
 * NUL-terminated or not one valid JSON text while the status is not 204.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "inngest.h"
#include "inngest_jcs.h"
#include "log.h"

#ifndef FUZZ_JCS

#include "config.h"
#include "functions.h"
#include "inngest_signing.h"
#include "inngest_transport.h"
#include "fuzz_util.h"

#define FUZZ_NOW_MS 1700000000000LL
#define FUZZ_SIGNING_KEY \
	"signkey-test-8ee2262a15e8d3c42d6a840db7af3de2aab08ef632b32a37a687f24b34dba3ff"

static struct ing_app *dev_app;
static struct ing_app *cloud_app;
static int transport_mode;
static int verbose;     /* FUZZ_INNGEST_VERBOSE set: print each answer */


/* ---- seams: a fixed clock, no sleeping, no network ---- */

static long long
fixed_now_ms(void)
{
	return FUZZ_NOW_MS;
}

static void
no_sleep(long long ms)
{
	(void)ms;
}

static enum ing_err
fake_send(void *ud, const struct ing_http_req *req, struct ing_http_res *res)
{
	const char *answer;
	size_t n;

	(void)ud;
	memset(res, 0, sizeof(*res));
	check(req != NULL && req->url != NULL &&
	    strncmp(req->url, "http://127.0.0.1:9/", 19) == 0,
	    "request to an origin other than 127.0.0.1:9");
	if (transport_mode == 0)
		return ING_ETRANSPORT;
	if (transport_mode == 1) {
		res->status = 500;
		answer = "";
	} else {
		res->status = 200;
		if (strstr(req->url, "/batch") != NULL)
			answer = "[{\"name\":\"omni/test.three-steps\","
			    "\"data\":{\"id\":\"x\"}}]";
		else if (strstr(req->url, "/actions") != NULL)
			answer = "{}";
		else if (strstr(req->url, "/fn/register") != NULL)
			answer = "{\"ok\":true,\"modified\":true}";
		else
			answer = "{\"ids\":[\"01HFUZZ\"],\"status\":200}";
	}
	n = strlen(answer);
	res->body = malloc(n + 1);
	if (res->body == NULL)
		return ING_ENOMEM;
	memcpy(res->body, answer, n + 1);
	res->body_len = n;
	return ING_OK;
}

static const struct ing_transport fake_transport = { fake_send, NULL };

static struct ing_app *
build_app(int cloud)
{
	static char app_id[] = "omni";
	static char dev[] = "1";
	static char origin[] = "http://127.0.0.1:9";
	static char key[] = FUZZ_SIGNING_KEY;
	static char event_key[] = "fuzz-event-key";
	struct ing_hooks hooks = { .transport = &fake_transport,
	    .now_ms = fixed_now_ms,
	    .sleep_ms = no_sleep };
	struct omni_config cfg;     /* the functions' settings */
	struct ing_config icfg;     /* the SDK's */
	struct ing_app *app = NULL;

	memset(&cfg, 0, sizeof(cfg));
	cfg.debug_routes = 1;
	memset(&icfg, 0, sizeof(icfg));
	icfg.app_id = app_id;
	icfg.dev = cloud ? NULL : dev;
	icfg.base_url = origin;
	icfg.api_origin = origin;
	icfg.event_api_origin = origin;
	icfg.signing_key = cloud ? key : NULL;
	icfg.event_key = event_key;
	if (ing_app_new(&icfg, &hooks, &app) != ING_OK ||
	    functions_register_testing(app, &cfg) != ING_OK ||
	    ing_app_function_count(app) == 0) {
		fprintf(stderr, "fuzz_inngest: cannot build the app\n");
		abort();
	}
	return app;
}

/* One valid JSON text of exactly 'len' bytes (json-c's strict mode). */
static int
valid_json(const char *text, size_t len)
{
	struct json_tokener *tok = json_tokener_new_ex(1024);
	struct json_object *obj;
	int ok;

	if (tok == NULL)
		return 1; /* out of memory: nothing to say */
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT);
	obj = json_tokener_parse_ex(tok, text, (int)len);
	ok = json_tokener_get_error(tok) == json_tokener_success &&
	    json_tokener_get_parse_end(tok) == len;
	json_object_put(obj);
	json_tokener_free(tok);
	return ok;
}

static void
check_response(const struct ing_response *res)
{
	check(res->status >= 100 && res->status <= 599, "status out of range");
	check(ing_response_header(res, "X-Inngest-Sdk") != NULL &&
	    strcmp(ing_response_header(res, "X-Inngest-Sdk"),
	    ING_SDK_HEADER) == 0, "no X-Inngest-Sdk");
	check(res->nheaders <= ING_RESPONSE_MAX_HEADERS, "header count");
	for (size_t i = 0; i < res->nheaders; i++)
		check(strpbrk(res->headers[i].name, "\r\n") == NULL &&
		    strpbrk(res->headers[i].value, "\r\n") == NULL,
		    "CR or LF in a header");
	if (res->status == 204)
		return;
	check(res->body != NULL, "no body");
	check(res->body[res->body_len] == '\0', "body not NUL-terminated");
	check(valid_json(res->body, res->body_len), "body is not JSON");
}

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	log_set_level(LOG_ERROR);
	verbose = getenv("FUZZ_INNGEST_VERBOSE") != NULL;
	dev_app = build_app(0);
	cloud_app = build_app(1);
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const methods[] = { "GET", "PUT", "POST", "POST" };
	struct ing_header_ref hdrs[4];
	struct ing_request req;
	struct ing_response res;
	char sig[ING_SIG_HEADER_LEN];
	char *query, *body;
	size_t blen, nh = 0;
	uint8_t flags;

	if (size < 1)
		return 0;
	flags = data[0];
	data++;
	size--;
	/* The query is a C string (the transport gives one); the body is
	 * raw bytes in its own allocation so ASan sees any over-read. */
	if (fuzz_split_line(data, size, &query, &body, &blen) != 0)
		return 0;

	transport_mode = flags >> 6;
	if (flags & 8) {
		if (flags & 16)
			snprintf(sig, sizeof(sig), "t=%lld&s=%064d",
			    FUZZ_NOW_MS / 1000, 0);
		else
			check(ing_signature_make(FUZZ_SIGNING_KEY, body, blen,
			    FUZZ_NOW_MS / 1000, sig, sizeof(sig)) == 0,
			    "cannot sign");
		hdrs[nh].name = "X-Inngest-Signature";
		hdrs[nh++].value = sig;
	}
	if (flags & 32) {
		hdrs[nh].name = "X-Inngest-Server-Kind";
		hdrs[nh++].value = "dev";
	}
	hdrs[nh].name = "Host";
	hdrs[nh++].value = "omni.example:8080";

	memset(&req, 0, sizeof(req));
	req.method = methods[flags & 3];
	req.query = query;
	req.headers = hdrs;
	req.nheaders = nh;
	req.body = blen > 0 ? body : NULL;
	req.body_len = blen;
	req.scheme = "https";
	req.host = "omni.example:8080";
	req.path = "/api/inngest";

	(void)ing_serve((flags & 4) ? cloud_app : dev_app, &req, &res);
	check_response(&res);
	if (verbose)
		fprintf(stderr, "%d %s\n", res.status,
		    res.body != NULL ? res.body : "");
	ing_response_free(&res);
	check(res.body == NULL && res.body_len == 0, "free left a body");
	ing_response_free(&res); /* documented as safe twice */
	free(query);
	free(body);
	return 0;
}

#else /* FUZZ_JCS */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct json_object *obj = NULL;
	char *out = NULL, *again = NULL;
	size_t outlen = 0, againlen = 0;
	enum ing_jcs_err err;
	char *copy;

	/* Its own allocation, not NUL-terminated: any over-read shows. */
	copy = malloc(size > 0 ? size : 1);
	if (copy == NULL)
		return 0;
	if (size > 0)
		memcpy(copy, data, size);
	err = ing_jcs_canonicalize(copy, size, &out, &outlen);
	free(copy);
	if (err != ING_JCS_OK) {
		if (out != NULL || err >= ING_JCS__MAX)
			abort();                /* error with output */
		return 0;
	}
	if (out == NULL || out[outlen] != '\0' || strlen(out) != outlen)
		abort();                        /* bad length or NUL inside */
	/* What JCS writes is JSON: strictly, and for the SDK's own parser. */
	if (ing_json_parse(out, outlen, &obj) != ING_JCS_OK)
		abort();
	json_object_put(obj);
	/* Canonical text is a fixed point. */
	if (ing_jcs_canonicalize(out, outlen, &again, &againlen) !=
	    ING_JCS_OK || againlen != outlen || memcmp(out, again, outlen) != 0) {
		fprintf(stderr, "not idempotent:\n  %s\n  %s\n", out,
		    again != NULL ? again : "(error)");
		abort();
	}
	free(again);
	free(out);
	return 0;
}

#endif
