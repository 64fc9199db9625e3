/*
 * fuzz_endpoints.c -- libFuzzer harness for each endpoint's validation of
 * its JSON body or query, through the real router and route table
 * (router_dispatch over omni_routes) and the real handlers.
 *
 * The handlers' provider is the Daytona provider, made once by
 * sandbox_handlers_init() into a worker context as a worker makes it,
 * whose client is then pointed at a fake transport: a stateless stand-in for Daytona that
 * answers from the request alone.  Nothing runs anywhere: an execute is
 * answered by echoing the script the client sent (decoded from its base64
 * line), so POST /debug/sandbox/exec exercises its validation and its
 * answer, never a shell.  Every URL must start with http://127.0.0.1:9/
 * or the harness aborts; no socket is opened.
 *
 * Input layout:
 *   byte 0   bits 0-2 the endpoint: 0 POST /api/sandbox/create,
 *                     1 GET /api/sandbox/status, 2 DELETE /api/sandbox,
 *                     3 POST /debug/echo, 4 POST /debug/sandbox/exec,
 *                     5 GET /ready, 6 GET /, 7 HEAD /api/sandbox/status
 *            bit 3    OMNI_AUTH=jwt, with a valid token for "alice"
 *            bits 4-5 the fake Daytona: 0 the sandbox exists and is
 *                     started, 1 there is none (404; create makes it),
 *                     2 it is stopped, 3 every call fails (bits 6-7)
 *            bits 6-7 with 3: 503 with Retry-After, 429, 400 quota, 200
 *                     with a body that is not JSON
 *   rest     the JSON body (POST endpoints) or the raw query string
 *            (the others; cut at a NUL, as FastCGI params are C strings)
 *
 * The fake's sandboxes belong to "alice", except the one named for the
 * userId of the request body, which belongs to that user.
 *
 * Beyond the sanitizers, the harness aborts when:
 *   - a response has a status outside 100..599, CR or LF in a header, a
 *     body that is not one strict JSON object, a Content-Type other than
 *     application/json, an error without {error:{code,message,details}}
 *     (but for /ready's {status,checks}),
 *     or a Retry-After that is not a number of seconds;
 *   - an invalid body or query is not refused with 400 naming its field
 *     (userId, id, sandboxId, command, timeoutS, body), a userId other
 *     than the token's subject with 403;
 *   - a valid request to a working backend does not succeed with the
 *     contract's shape (sandboxId the user's derived name, the id asked
 *     for, userId echoed, a known status, exec output = the command,
 *     echo = the body), or succeeds against a failing backend;
 *   - the script that reaches the toolbox is not exactly the command,
 *     wrapped in the one fixed sh -c line;
 *   - a Daytona URL has a "." or ".." path segment (curl would resolve
 *     it and the call would reach another resource).
 *
 * With FUZZ_ENDPOINTS_VERBOSE set, each answer goes to stderr.
 * corpus/fuzz_endpoints/crash-dot-* are the ids the first runs found
 * reaching Daytona as dot segments, kept as regressions.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <json-c/json.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "config.h"
#include "daytona.h"
#include "handlers.h"
#include "http.h"
#include "json_util.h"
#include "log.h"
#include "omni_worker.h"
#include "router.h"
#include "sandbox.h"
#include "sandbox_daytona.h"
#include "fuzz_util.h"

#define ORIGIN "http://127.0.0.1:9"
#define API ORIGIN "/api"
#define TOOLBOX ORIGIN "/toolbox"
#define JWT_SECRET "fuzz-endpoints-secret-0123456789abcdef"
#define OWNER "alice"
#define EXEC_PREFIX "sh -c 'eval \"$(echo "
#define EXEC_SUFFIX " | base64 -d)\"'"
#define MAX_IN 8192

enum endpoint {
	EP_CREATE, EP_STATUS, EP_DELETE, EP_ECHO, EP_EXEC, EP_READY, EP_ROOT,
	EP_HEAD_STATUS
};

static const struct {
	const char *method;
	const char *path;
	int json;
} endpoints[8] = {
	{ "POST", "/api/sandbox/create", 1 },
	{ "GET", "/api/sandbox/status", 0 },
	{ "DELETE", "/api/sandbox", 0 },
	{ "POST", "/debug/echo", 1 },
	{ "POST", "/debug/sandbox/exec", 1 },
	{ "GET", "/ready", 0 },
	{ "GET", "/", 0 },
	{ "HEAD", "/api/sandbox/status", 0 },
};

static struct omni_config cfg_open, cfg_jwt;
/* The worker context the endpoints are served with (omni_worker.h). */
static struct omni_worker worker;
static char bearer[512];

/* The current input, as the fake Daytona sees it. */
static int backend;          /* 0 started, 1 absent, 2 stopped, 3 failing */
static int failure;          /* with 3: 503, 429, quota, junk */
static char body_user[SBX_USER_MAX + 1];
static char body_user_name[SBX_NAME_MAX];
static char *exec_script;    /* what the last execute carried */
static int exec_calls;
static int verbose;          /* FUZZ_ENDPOINTS_VERBOSE: print each answer */


/* ---- a token for OWNER, signed here with OpenSSL ---- */


static void
make_bearer(void)
{
	static const char hdr[] = "{\"alg\":\"HS256\",\"typ\":\"JWT\"}";
	char claims[128], tok[400];
	unsigned char mac[EVP_MAX_MD_SIZE];
	unsigned int maclen = 0;
	size_t n;

	/* Valid for a day from the start of the run. */
	snprintf(claims, sizeof(claims), "{\"sub\":\"" OWNER "\","
	    "\"iat\":%lld,\"exp\":%lld}", (long long)time(NULL),
	    (long long)time(NULL) + 86400);
	n = b64url_encode((const unsigned char *)hdr, strlen(hdr), tok);
	tok[n++] = '.';
	n += b64url_encode((const unsigned char *)claims, strlen(claims), tok + n);
	check(HMAC(EVP_sha256(), JWT_SECRET, (int)strlen(JWT_SECRET),
	    (const unsigned char *)tok, n, mac, &maclen) != NULL, "HMAC");
	tok[n++] = '.';
	b64url_encode(mac, maclen, tok + n);
	snprintf(bearer, sizeof(bearer), "HTTP_AUTHORIZATION=Bearer %s", tok);
}

/* ---- the fake Daytona ---- */

static enum dt_err
answer_text(struct dt_http_resp *resp, long status, const char *text,
    long retry_ms)
{
	size_t n = strlen(text);

	resp->status = status;
	resp->retry_after_ms = retry_ms;
	if ((resp->body = malloc(n + 1)) == NULL)
		return DT_ENOMEM;
	memcpy(resp->body, text, n + 1);
	resp->body_len = n;
	return DT_OK;
}

/* Answer 'o' (consumed) as JSON with 'status'. */
static enum dt_err
answer_json(struct dt_http_resp *resp, long status, struct json_object *o)
{
	const char *s = json_object_to_json_string_ext(o,
	    JSON_C_TO_STRING_PLAIN);
	enum dt_err err;

	check(s != NULL, "cannot serialise an answer");
	err = answer_text(resp, status, s, -1);
	json_object_put(o);
	return err;
}

static struct json_object *
sandbox_object(const char *id, const char *owner, const char *state,
    struct json_object *labels)
{
	struct json_object *o = json_object_new_object();

	json_object_object_add(o, "id", json_object_new_string(id));
	json_object_object_add(o, "name", json_object_new_string(id));
	json_object_object_add(o, "state", json_object_new_string(state));
	json_object_object_add(o, "desiredState",
	    json_object_new_string(state));
	json_object_object_add(o, "createdAt",
	    json_object_new_string("2025-05-01T12:00:00.123Z"));
	json_object_object_add(o, "target", json_object_new_string("eu"));
	if (labels == NULL) {
		labels = json_object_new_object();
		json_object_object_add(labels, SBX_LABEL_USER,
		    json_object_new_string(owner));
		json_object_object_add(labels, "omni.managed",
		    json_object_new_string("true"));
	}
	json_object_object_add(o, "labels", labels);
	return o;
}

/* The path segments after 'base' must not be "." or "..". */
static void
check_segments(const char *path)
{
	for (const char *p = path; *p != '\0';) {
		size_t n = strcspn(p, "/?");

		check(!((n == 1 && p[0] == '.') ||
		    (n == 2 && p[0] == '.' && p[1] == '.')),
		    "dot segment in a Daytona URL path");
		if (p[n] != '/')
			break;
		p += n + 1;
	}
}

/* The script inside the one line dt_process_execute sends. */
static char *
script_of(const struct dt_http_req *req)
{
	struct json_object *o = json_tokener_parse(req->body), *v = NULL;
	const char *cmd, *b64;
	size_t n, blen;
	unsigned char *out;
	int dec;

	check(o != NULL && json_object_object_get_ex(o, "command", &v) &&
	    json_object_is_type(v, json_type_string), "execute body");
	cmd = json_object_get_string(v);
	n = strlen(cmd);
	check(n > strlen(EXEC_PREFIX) + strlen(EXEC_SUFFIX) &&
	    strncmp(cmd, EXEC_PREFIX, strlen(EXEC_PREFIX)) == 0 &&
	    strcmp(cmd + n - strlen(EXEC_SUFFIX), EXEC_SUFFIX) == 0,
	    "the execute line is not the fixed sh -c wrapper");
	b64 = cmd + strlen(EXEC_PREFIX);
	blen = n - strlen(EXEC_PREFIX) - strlen(EXEC_SUFFIX);
	check(strspn(b64, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
	    "0123456789+/=") == blen && blen % 4 == 0,
	    "the execute line carries more than base64");
	out = malloc(blen / 4 * 3 + 1);
	check(out != NULL, "out of memory");
	dec = EVP_DecodeBlock(out, (const unsigned char *)b64, (int)blen);
	check(dec >= 0, "the execute line's base64 does not decode");
	/* EVP_DecodeBlock counts the padding's zero bytes. */
	while (blen > 0 && b64[blen - 1] == '=' && dec > 0) {
		blen--;
		dec--;
	}
	out[dec] = '\0';
	json_object_put(o);
	return (char *)out;
}

static enum dt_err
fake_perform(void *ctx, const struct dt_http_req *req,
    struct dt_http_resp *resp)
{
	static const char api_sbx[] = API "/sandbox";
	static const char tb[] = TOOLBOX "/";
	const char *url, *rest;
	char id[256];
	size_t n;

	(void)ctx;
	check(req != NULL && req->url != NULL &&
	    strncmp(req->url, ORIGIN "/", sizeof(ORIGIN)) == 0,
	    "request to an origin other than 127.0.0.1:9");
	url = req->url;
	if (verbose)
		fprintf(stderr, "  daytona %d %s\n", (int)req->method, url);
	check_segments(url + sizeof(ORIGIN));

	if (backend == 3) {
		static const char *const junk = "<html>upstream</html>";

		switch (failure) {
		case 0:
			return answer_text(resp, 503, "{\"message\":"
			    "\"Service Unavailable\"}", 2000);
		case 1:
			return answer_text(resp, 429, "{\"statusCode\":429,"
			    "\"message\":\"ThrottlerException\"}", 1000);
		case 2:
			return answer_text(resp, 400, "{\"statusCode\":400,"
			    "\"message\":\"Total CPU limit exceeded. Maximum "
			    "allowed: 10.\"}", -1);
		default:
			return answer_text(resp, 200, junk, -1);
		}
	}

	if (strncmp(url, tb, sizeof(tb) - 1) == 0) {
		struct json_object *o;

		rest = url + sizeof(tb) - 1;
		n = strcspn(rest, "/");
		check(strcmp(rest + n, "/process/execute") == 0 &&
		    req->method == DT_POST && req->body != NULL,
		    "unexpected toolbox call");
		free(exec_script);
		exec_script = script_of(req);
		exec_calls++;
		o = json_object_new_object();
		json_object_object_add(o, "exitCode", json_object_new_int(0));
		json_object_object_add(o, "result",
		    json_object_new_string(exec_script));
		return answer_json(resp, 200, o);
	}

	check(strncmp(url, api_sbx, sizeof(api_sbx) - 1) == 0,
	    "unexpected Daytona call");
	rest = url + sizeof(api_sbx) - 1;
	if (*rest == '?' && req->method == DT_GET)         /* ping, list */
		return answer_text(resp, 200, "{\"items\":[]}", -1);
	if (*rest == '\0' && req->method == DT_POST) {     /* create */
		struct json_object *b = json_tokener_parse(req->body);
		struct json_object *nm = NULL, *lb = NULL;
		struct json_object *o;

		check(b != NULL && json_object_object_get_ex(b, "name", &nm) &&
		    json_object_object_get_ex(b, "labels", &lb),
		    "create body without name or labels");
		o = sandbox_object(json_object_get_string(nm), NULL, "started",
		    json_object_get(lb));
		json_object_put(b);
		return answer_json(resp, 200, o);
	}
	check(*rest == '/', "unexpected Daytona call");
	rest++;
	n = strcspn(rest, "/?");
	check(n > 0 && n < sizeof(id), "bad sandbox id in a URL");
	memcpy(id, rest, n);
	id[n] = '\0';
	rest += n;
	if (strcmp(rest, "/toolbox-proxy-url") == 0 && req->method == DT_GET)
		return answer_text(resp, 200, "{\"url\":\"" TOOLBOX "\"}", -1);
	if ((strcmp(rest, "/start") == 0 || strcmp(rest, "/stop") == 0) &&
	    req->method == DT_POST)
		return answer_json(resp, 200, sandbox_object(id,
		    strcmp(id, body_user_name) == 0 ? body_user : OWNER,
		    rest[3] == 'a' ? "starting" : "stopped", NULL));
	check(*rest == '\0', "unexpected Daytona call");
	if (req->method == DT_DELETE)
		return answer_text(resp, 200, "", -1);
	check(req->method == DT_GET, "unexpected Daytona call");
	if (backend == 1)
		return answer_text(resp, 404, "{\"statusCode\":404,\"message\":"
		    "\"Sandbox not found\",\"error\":\"Not Found\"}", -1);
	return answer_json(resp, 200, sandbox_object(id,
	    strcmp(id, body_user_name) == 0 ? body_user : OWNER,
	    backend == 2 ? "stopped" : "started", NULL));
}

static void
no_sleep(void *ctx, long ms)
{
	(void)ctx;
	(void)ms;
}

static const struct dt_transport fake = { fake_perform, no_sleep, NULL, NULL };

/* ---- what the contract says ---- */

static int
id_ok(const char *s)
{
	size_t n = s != NULL ? strlen(s) : 0;

	/* Not dots alone: "." and ".." would be URL path segments. */
	return n >= 1 && n <= SBX_ID_MAX - 1 && strspn(s,
	    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
	    "._-") == n && strspn(s, ".") != n;
}

/* A required string field of 1..max bytes without NUL: the value, or
 * NULL. */
static const char *
str_field(struct json_object *o, const char *key, size_t max)
{
	struct json_object *v;
	size_t n;

	if (o == NULL || !json_object_object_get_ex(o, key, &v) ||
	    !json_object_is_type(v, json_type_string))
		return NULL;
	n = (size_t)json_object_get_string_len(v);
	if (n == 0 || n > max || strlen(json_object_get_string(v)) != n)
		return NULL;
	return json_object_get_string(v);
}

static int
user_ok(const char *u)
{
	if (u == NULL)
		return 0;
	for (const char *p = u; *p != '\0'; p++)
		if ((unsigned char)*p < 0x20 || (unsigned char)*p > 0x7e ||
		    *p == '/')
			return 0;
	return strlen(u) <= SBX_USER_MAX - 1;
}

static int
utf8_ok(const unsigned char *s)
{
	while (*s != '\0') {
		size_t len, i;
		unsigned lo = 0x80, hi = 0xBF;

		if (s[0] < 0x80) {
			s++;
			continue;
		}
		if (s[0] >= 0xC2 && s[0] <= 0xDF)
			len = 2;
		else if (s[0] >= 0xE0 && s[0] <= 0xEF)
			len = 3;
		else if (s[0] >= 0xF0 && s[0] <= 0xF4)
			len = 4;
		else
			return 0;
		if (s[0] == 0xE0)
			lo = 0xA0;
		else if (s[0] == 0xED)
			hi = 0x9F;
		else if (s[0] == 0xF0)
			lo = 0x90;
		else if (s[0] == 0xF4)
			hi = 0x8F;
		if (s[1] < lo || s[1] > hi)
			return 0;
		for (i = 2; i < len; i++)
			if (s[i] < 0x80 || s[i] > 0xBF)
				return 0;
		s += len;
	}
	return 1;
}

static struct json_object *
strict_object(const char *text, size_t len)
{
	struct json_tokener *tok = json_tokener_new();
	struct json_object *o;

	check(tok != NULL, "out of memory");
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT);
	o = json_tokener_parse_ex(tok, text, (int)len);
	if (o != NULL && (json_tokener_get_error(tok) != json_tokener_success ||
	    json_tokener_get_parse_end(tok) != len ||
	    !json_object_is_type(o, json_type_object))) {
		json_object_put(o);
		o = NULL;
	}
	json_tokener_free(tok);
	return o;
}

static const char *
get_str(struct json_object *o, const char *k)
{
	struct json_object *v;

	if (o == NULL || !json_object_object_get_ex(o, k, &v) ||
	    !json_object_is_type(v, json_type_string))
		return NULL;
	return json_object_get_string(v);
}

/* The error model; returns details.field or NULL. */
static const char *
check_error(struct json_object *r)
{
	struct json_object *e, *d;

	check(json_object_object_get_ex(r, "error", &e) &&
	    json_object_is_type(e, json_type_object),
	    "error response without an error object");
	check(get_str(e, "code") != NULL && get_str(e, "message") != NULL,
	    "error without code or message");
	check(json_object_object_get_ex(e, "details", &d) &&
	    json_object_is_type(d, json_type_object),
	    "error without a details object");
	return get_str(d, "field");
}

static void
expect_field(int status, const char *field, int want_status,
    const char *want)
{
	if (status != want_status || field == NULL || strcmp(field, want) != 0)
		fprintf(stderr, "status %d field %s, want %d %s\n", status,
		    field != NULL ? field : "(none)", want_status, want);
	check(status == want_status && field != NULL &&
	    strcmp(field, want) == 0, "refusal does not name the field");
}

static int
known_state(const char *s)
{
	return s != NULL && (strcmp(s, "creating") == 0 ||
	    strcmp(s, "ready") == 0 || strcmp(s, "stopped") == 0 ||
	    strcmp(s, "error") == 0);
}

static void
check_response(enum endpoint ep, int jwt, const struct http_request *req,
    const struct http_response *resp, const char *body, size_t blen)
{
	struct json_object *r = NULL, *in = NULL, *v;
	const char *field = NULL, *ra;
	int st = resp->status, healthy = backend != 3;

	if (resp->oom)
		return;
	check(st >= 100 && st <= 599, "status out of range");
	for (size_t i = 0; i < resp->nheaders; i++)
		check(strpbrk(resp->headers[i].name, "\r\n") == NULL &&
		    strpbrk(resp->headers[i].value, "\r\n") == NULL,
		    "CR or LF in a header");
	if ((ra = http_response_get_header(resp, "Retry-After")) != NULL)
		check(ra[0] != '\0' && strspn(ra, "0123456789") == strlen(ra),
		    "Retry-After is not seconds");
	check(resp->content_type != NULL &&
	    strcmp(resp->content_type, "application/json") == 0,
	    "not application/json");
	check(resp->body != NULL && resp->body[resp->body_len] == '\0',
	    "body missing or not NUL-terminated");
	r = strict_object(resp->body, resp->body_len);
	check(r != NULL, "body is not one JSON object");
	/* /ready's 503 has its own shape: {status, checks}. */
	if (st >= 400 && ep != EP_READY)
		field = check_error(r);

	if (endpoints[ep].json &&
	    json_parse_object(body, blen, &in, NULL, 0) != JSON_OK) {
		expect_field(st, field, 400, "body");
		goto out;
	}
	switch (ep) {
	case EP_CREATE: {
		const char *u = str_field(in, "userId", SBX_USER_MAX - 1);

		if (u == NULL || !user_ok(u)) {
			expect_field(st, field, 400, "userId");
			break;
		}
		if (jwt && strcmp(u, OWNER) != 0) {
			expect_field(st, field, 403, "userId");
			break;
		}
		if (!healthy) {
			check(st >= 500, "create succeeded on a failing backend");
			break;
		}
		{
			char name[SBX_NAME_MAX];

			sbx_name_for_user(u, name);
			check(st == 200, "a valid create failed");
			check(get_str(r, "sandboxId") != NULL &&
			    strcmp(get_str(r, "sandboxId"), name) == 0,
			    "create answered another sandbox");
			check(get_str(r, "userId") != NULL &&
			    strcmp(get_str(r, "userId"), u) == 0,
			    "create answered another userId");
			check(known_state(get_str(r, "status")),
			    "create answered an unknown status");
		}
		break;
	}
	case EP_STATUS:
	case EP_DELETE:
	case EP_HEAD_STATUS: {
		const char *id = http_param(req, "id");

		if (!id_ok(id)) {
			expect_field(st, field, 400, "id");
			break;
		}
		if (!healthy) {
			check(st >= 500, "success on a failing backend");
			break;
		}
		if (backend == 1) {
			check(st == 404, "an absent sandbox was not 404");
			break;
		}
		check(st == 200, "a valid status or delete failed");
		check(get_str(r, "sandboxId") != NULL &&
		    strcmp(get_str(r, "sandboxId"), id) == 0,
		    "answered another sandbox");
		if (ep == EP_DELETE)
			check(json_object_object_get_ex(r, "deleted", &v) &&
			    json_object_get_boolean(v), "deleted is not true");
		else
			check(known_state(get_str(r, "status")),
			    "unknown status");
		break;
	}
	case EP_ECHO: {
		check(st == 200, "echo of a JSON object failed");
		check(json_object_equal(r, in), "echo is not the body");
		break;
	}
	case EP_EXEC: {
		const char *sid = NULL, *cmd;
		struct json_object *t;
		int t_ok = 1;

		if (json_object_object_get_ex(in, "sandboxId", &v) &&
		    json_object_is_type(v, json_type_string) &&
		    strlen(json_object_get_string(v)) ==
		    (size_t)json_object_get_string_len(v))
			sid = json_object_get_string(v);
		if (!id_ok(sid)) {
			expect_field(st, field, 400, "sandboxId");
			break;
		}
		if ((cmd = str_field(in, "command", 8192)) == NULL) {
			expect_field(st, field, 400, "command");
			break;
		}
		if (json_object_object_get_ex(in, "timeoutS", &t) && t != NULL)
			t_ok = json_object_is_type(t, json_type_int) &&
			    json_object_get_int64(t) >= 1 &&
			    json_object_get_int64(t) <= 300;
		if (!t_ok) {
			expect_field(st, field, 400, "timeoutS");
			break;
		}
		if (!healthy) {
			check(st >= 500, "exec succeeded on a failing backend");
			break;
		}
		/* Absent: 404 (the provider checks the owner label), or,
		 * by a provider that skips the check without OMNI_AUTH=jwt,
		 * the fake's answer. */
		if (backend == 1 && (jwt || st != 200)) {
			check(st == 404, "exec in an absent sandbox was not 404");
			break;
		}
		check(st == 200, "a valid exec failed");
		check(exec_calls == 1 && exec_script != NULL &&
		    strcmp(exec_script, cmd) == 0,
		    "the script sent is not the command");
		check(json_object_object_get_ex(r, "exitCode", &v) &&
		    json_object_get_int(v) == 0, "exitCode is not 0");
		if (utf8_ok((const unsigned char *)cmd))
			check(get_str(r, "output") != NULL &&
			    strcmp(get_str(r, "output"), cmd) == 0,
			    "output is not what the sandbox printed");
		break;
	}
	case EP_READY:
		check(st == 200 || st == 503, "ready is neither 200 nor 503");
		break;
	case EP_ROOT:
		check(st == 200, "root failed");
		break;
	}
out:
	json_object_put(in);
	json_object_put(r);
}

/* ---- one request ---- */

struct body {
	const char *data;
	size_t len, pos;
};

static long
body_read(void *ctx, char *buf, size_t len)
{
	struct body *b = ctx;
	size_t n = b->len - b->pos;

	if (n > len)
		n = len;
	memcpy(buf, b->data + b->pos, n);
	b->pos += n;
	return (long)n;
}

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	static char url[] = API, key[] = "fuzz-endpoints-key";
	static char secret[] = JWT_SECRET, origins[] = "https://app.example";
	char err[256] = "";
	struct dt_client *c;

	(void)argc;
	(void)argv;
	log_set_level(LOG_ERROR);
	memset(&cfg_open, 0, sizeof(cfg_open));
	cfg_open.provider = CFG_PROVIDER_DAYTONA;
	cfg_open.daytona_api_url = url;
	cfg_open.daytona_api_key = key;
	cfg_open.debug_routes = 1;
	cfg_open.max_body = MAX_IN;
	cfg_open.allowed_origins = origins;
	cfg_jwt = cfg_open;
	cfg_jwt.auth = CFG_AUTH_JWT;
	cfg_jwt.jwt_secret = secret;
	worker.cfg = &cfg_open;
	pthread_mutex_init(&worker.ready.mu, NULL);
	if (sandbox_handlers_init(&worker, err, sizeof(err)) != 0) {
		fprintf(stderr, "fuzz_endpoints: %s\n", err);
		abort();
	}
	c = sbx_daytona_client(worker.sandbox);
	check(c != NULL, "the provider is not Daytona's");
	dt_client_set_transport(c, &fake);
	make_bearer();
	verbose = getenv("FUZZ_ENDPOINTS_VERBOSE") != NULL;
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char m[32], uri[MAX_IN + 64], qs[MAX_IN + 16], cl[48], *envp[12];
	char *text, *q;
	struct http_request req;
	struct http_response resp;
	struct body b;
	struct json_object *pre;
	enum endpoint ep;
	enum http_parse_err perr;
	size_t len;
	int n = 0, jwt;

	if (size < 1 || size > MAX_IN)
		return 0;
	ep = (enum endpoint)(data[0] & 7);
	jwt = (data[0] & 8) != 0;
	backend = (data[0] >> 4) & 3;
	failure = data[0] >> 6;
	len = size - 1;
	text = malloc(len + 1);
	if (text == NULL)
		return 0;
	memcpy(text, data + 1, len);
	text[len] = '\0';

	/* The fake gives the body's userId its own sandbox. */
	body_user[0] = body_user_name[0] = '\0';
	if (endpoints[ep].json && (pre = json_tokener_parse(text)) != NULL) {
		const char *u = get_str(pre, "userId");

		if (u != NULL && strlen(u) < sizeof(body_user)) {
			memcpy(body_user, u, strlen(u) + 1);
			sbx_name_for_user(u, body_user_name);
		}
		json_object_put(pre);
	}
	free(exec_script);
	exec_script = NULL;
	exec_calls = 0;

	snprintf(m, sizeof(m), "REQUEST_METHOD=%s", endpoints[ep].method);
	envp[n++] = m;
	if (endpoints[ep].json) {
		snprintf(uri, sizeof(uri), "REQUEST_URI=%s", endpoints[ep].path);
		snprintf(cl, sizeof(cl), "CONTENT_LENGTH=%zu", len);
		envp[n++] = uri;
		envp[n++] = cl;
		envp[n++] = (char *)(uintptr_t)"CONTENT_TYPE=application/json";
		b = (struct body){ text, len, 0 };
	} else {
		q = text; /* a C string: cut at the first NUL */
		snprintf(uri, sizeof(uri), "REQUEST_URI=%s?%s",
		    endpoints[ep].path, q);
		snprintf(qs, sizeof(qs), "QUERY_STRING=%s", q);
		envp[n++] = uri;
		envp[n++] = qs;
		b = (struct body){ "", 0, 0 };
	}
	envp[n++] = (char *)(uintptr_t)"REMOTE_ADDR=127.0.0.1";
	if (jwt)
		envp[n++] = bearer;
	envp[n] = NULL;

	http_response_init(&resp);
	perr = http_request_parse(&req, envp, body_read, &b, MAX_IN,
	    jwt ? &cfg_jwt : &cfg_open);
	req.app = &worker;
	if (perr == HTTP_PARSE_OK) {
		router_dispatch(omni_routes, omni_routes_count, &req, &resp);
		if (verbose)
			fprintf(stderr, "%s %s: %d %s\n", endpoints[ep].method,
			    endpoints[ep].path, resp.status,
			    resp.body != NULL ? resp.body : "");
		check_response(ep, jwt, &req, &resp, text, len);
	} else {
		/* Only a query can be malformed here. */
		check(perr == HTTP_PARSE_BAD_QUERY && !endpoints[ep].json,
		    "a request the harness built did not parse");
	}
	http_response_free(&resp);
	http_request_free(&req);
	free(text);
	return 0;
}
