/*
 * fuzz_daytona.c -- libFuzzer harness for the Daytona client's response
 * parsers (app/daytona/, include/daytona.h) and the provider above them
 * (app/sandbox/daytona_provider.c).
 *
 * One client, made once, talks to a fake transport (struct dt_transport):
 * the fuzzed bytes are the body of Daytona's answer, with a fuzzed status
 * and Retry-After hint.  No socket is opened: every URL must start with
 * http://127.0.0.1:9/ or the harness aborts.  Each input runs one call:
 * a sandbox get/create/start/stop/delete/list (sandbox objects, {items}
 * and bare-array lists, error bodies {statusCode,error,message}), the
 * toolbox proxy URL, an execute ({exitCode,result}), a file list
 * ([FileInfo]), a download or upload, one provider op, or one of the
 * parsers called directly: dt_err_from_http, dt_parse_retry_after,
 * dt_parse_time, dt_sandbox_decode, dt_url_escape.
 *
 * Input layout:
 *   byte 0   the call (byte % N_OPS, see the ops enum below)
 *   byte 1   bits 0-4 the HTTP status (statuses[] below)
 *            bits 5-6 Retry-After: none, 0 s, 2 s, past the retry budget
 *            bit 7    the primary key is refused with 401 first, so the
 *                     fallback key answers
 *   rest     the answer body (raw bytes; the transport NUL-terminates its
 *            copy, as curl_perform does); for the direct parsers, their
 *            input
 *
 * Beyond the sanitizers (LeakSanitizer: on error nothing is left to
 * free), the harness aborts when:
 *   - a result is out of range, or dt_status.err is not the result;
 *   - dt_status.message is not NUL-terminated printable ASCII;
 *   - success comes with a final status outside 2xx (save an execute's
 *     408, which is a timed-out command), or an error with a 2xx that the
 *     call had no reason to refuse is not DT_EPROTO/DT_ETOOLARGE/...;
 *   - a decoded sandbox has a field that is not NUL-terminated in its
 *     array, an empty id, more than DT_LABELS_MAX labels;
 *   - an error comes back with output (items, exec output, file list,
 *     download), or a success without it;
 *   - exec output is not NUL-terminated, longer than max_output, or its
 *     exit code is outside 0..255;
 *   - a download is longer than its max or not NUL-terminated;
 *   - a file name is empty, has '/' or NUL; a toolbox URL is not http(s)
 *     or has white space;
 *   - dt_err_from_http gives success outside 2xx or an error inside;
 *     dt_parse_retry_after a delay outside 0..86400 s; dt_url_escape
 *     anything but unreserved characters and %XX that decode back.
 */
#include <ctype.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "config.h"
#include "daytona.h"
#include "log.h"
#include "sandbox.h"
#include "sandbox_daytona.h"
#include "fuzz_util.h"

#define ORIGIN "http://127.0.0.1:9"
#define API_URL ORIGIN "/api"
#define TOOLBOX_ANSWER "{\"url\":\"" ORIGIN "/toolbox\"}"
#define UNAUTHORIZED "{\"statusCode\":401,\"message\":\"Unauthorized\"}"
#define KEY "fuzz-daytona-key"
#define KEY2 "fuzz-daytona-key-2"
#define SBX_ID "omni-0123456789abcdef0123456789abcdef"
#define MAX_IN 8192

enum op {
	OP_GET, OP_CREATE, OP_START, OP_STOP, OP_DELETE, OP_LIST, OP_LIST_2,
	OP_TOOLBOX_URL, OP_EXEC, OP_EXEC_SMALL, OP_FILE_LIST, OP_DOWNLOAD,
	OP_DOWNLOAD_SMALL, OP_UPLOAD, OP_PING, OP_ERR_FROM_HTTP,
	OP_RETRY_AFTER, OP_PARSE_TIME, OP_DECODE, OP_URL_ESCAPE,
	OP_P_FIND, OP_P_CREATE, OP_P_GET, OP_P_STOP, OP_P_REMOVE, OP_P_EXEC,
	OP_P_LIST_FILES, OP_P_READ, OP_P_CHECK,
	N_OPS
};

static const long statuses[32] = {
	200, 200, 200, 200, 201, 204, 400, 401, 403, 404, 408, 409, 413,
	422, 429, 500, 502, 503, 504, 301, 100, 200, 200, 200, 400, 403,
	200, 500, 200, 418, 599, 200,
};

static struct dt_client *client;     /* the calls' own */
static struct sbx_provider *provider; /* over a second client */
static struct omni_config cfg;

/* The answer of the current input. */
static const char *ans_body;
static size_t ans_len;
static long ans_status;
static long ans_retry_ms;
static int ans_refuse_primary;
static int ans_toolbox_is_fuzzed; /* the proxy-url answer is the input */


/* ---- the fake transport ---- */

static enum dt_err
answer(struct dt_http_resp *resp, long status, const char *body, size_t len,
    long retry_ms)
{
	resp->status = status;
	resp->retry_after_ms = retry_ms;
	resp->body = malloc(len + 1);
	if (resp->body == NULL)
		return DT_ENOMEM;
	if (len > 0)
		memcpy(resp->body, body, len);
	resp->body[len] = '\0';
	resp->body_len = len;
	return DT_OK;
}

static enum dt_err
fake_perform(void *ctx, const struct dt_http_req *req,
    struct dt_http_resp *resp)
{
	const char *auth = NULL;
	size_t n;

	(void)ctx;
	check(req != NULL && req->url != NULL &&
	    strncmp(req->url, ORIGIN "/", sizeof(ORIGIN)) == 0,
	    "request to an origin other than 127.0.0.1:9");
	check((unsigned)req->method < DT_METHOD__MAX, "bad method");
	check(req->body != NULL || req->body_len == 0, "length without body");
	for (size_t i = 0; req->headers != NULL && req->headers[i] != NULL;
	    i++) {
		check(strpbrk(req->headers[i], "\r\n") == NULL,
		    "CR or LF in a request header");
		if (strncmp(req->headers[i], "Authorization: ", 15) == 0)
			auth = req->headers[i] + 15;
	}
	check(auth != NULL && (strcmp(auth, "Bearer " KEY) == 0 ||
	    strcmp(auth, "Bearer " KEY2) == 0), "no or unknown API key");
	if (ans_refuse_primary && strcmp(auth, "Bearer " KEY) == 0)
		return answer(resp, 401, UNAUTHORIZED, strlen(UNAUTHORIZED),
		    -1);
	n = strlen(req->url);
	if (!ans_toolbox_is_fuzzed && n > 18 &&
	    strcmp(req->url + n - 18, "/toolbox-proxy-url") == 0 &&
	    req->method == DT_GET)
		return answer(resp, 200, TOOLBOX_ANSWER,
		    strlen(TOOLBOX_ANSWER), -1);
	/* As curl_perform: a 2xx answer over the cap is an error. */
	if (ans_status >= 200 && ans_status < 300 &&
	    ans_len > req->max_response)
		return DT_ETOOLARGE;
	return answer(resp, ans_status, ans_body, ans_len, ans_retry_ms);
}

static void
no_sleep(void *ctx, long ms)
{
	(void)ctx;
	check(ms >= 0, "negative back-off");
}

static double
fixed_rand(void *ctx)
{
	(void)ctx;
	return 0.5;
}

static const struct dt_transport fake = {
	fake_perform, no_sleep, fixed_rand, NULL
};

/* ---- invariants ---- */

static void
check_terminated(const char *s, size_t cap, const char *what)
{
	check(memchr(s, '\0', cap) != NULL, what);
}

static void
check_printable(const char *s, size_t cap, const char *what)
{
	check_terminated(s, cap, what);
	for (; *s != '\0'; s++)
		check((unsigned char)*s >= 0x20 && (unsigned char)*s < 0x7f,
		    what);
}

static void
check_status(enum dt_err err, const struct dt_status *st, int exec)
{
	check((unsigned)err < DT__MAX, "result out of range");
	check(dt_strerror(err) != NULL, "no text for the result");
	check(st->err == err, "status.err is not the result");
	check_printable(st->message, sizeof(st->message),
	    "status message not printable ASCII");
	check(st->attempts >= 0, "negative attempts");
	if (err == DT_OK)
		check((st->http_status >= 200 && st->http_status < 300) ||
		    (exec && st->http_status == 408),
		    "success with a status outside 2xx");
	if (st->http_status != 0 && (st->http_status < 200 ||
	    st->http_status >= 300) && !(exec && st->http_status == 408))
		check(err != DT_OK, "an error status came back as success");
}

static void
check_sandbox(const struct dt_sandbox *s)
{
	check_terminated(s->id, sizeof(s->id), "id not terminated");
	check(s->id[0] != '\0', "sandbox without an id");
	check_terminated(s->name, sizeof(s->name), "name not terminated");
	check_terminated(s->state, sizeof(s->state), "state not terminated");
	check_terminated(s->desired_state, sizeof(s->desired_state),
	    "desiredState not terminated");
	check_terminated(s->created_at, sizeof(s->created_at),
	    "createdAt not terminated");
	check_terminated(s->target, sizeof(s->target), "target not terminated");
	check_terminated(s->error_reason, sizeof(s->error_reason),
	    "errorReason not terminated");
	check_terminated(s->toolbox_proxy_url, sizeof(s->toolbox_proxy_url),
	    "toolboxProxyUrl not terminated");
	check(s->nlabels <= DT_LABELS_MAX, "too many labels");
	for (size_t i = 0; i < s->nlabels; i++) {
		check_terminated(s->labels[i].key, sizeof(s->labels[i].key),
		    "label key not terminated");
		check_terminated(s->labels[i].value,
		    sizeof(s->labels[i].value), "label value not terminated");
		check(dt_sandbox_label(s, s->labels[i].key) != NULL,
		    "a label is not found by its key");
	}
	(void)sbx_daytona_state(s->state, s->desired_state);
}

static void
check_info(const struct sbx_info *info, const char *user)
{
	check_terminated(info->id, sizeof(info->id), "info id");
	check_terminated(info->user_id, sizeof(info->user_id), "info user");
	check_terminated(info->created_at, sizeof(info->created_at),
	    "info createdAt");
	check((unsigned)info->state < SBX_STATE__MAX, "info state");
	if (user != NULL)
		check(strcmp(info->user_id, user) == 0, "info of another user");
}

static void
check_exec(enum dt_err err, const struct dt_exec_result *r, size_t max)
{
	if (err != DT_OK) {
		check(r->output == NULL, "exec error with output");
		return;
	}
	check(r->output != NULL, "exec success without output");
	check(r->output[r->output_len] == '\0', "exec output not terminated");
	check(r->output_len <= max, "exec output over max_output");
	check(!r->truncated || r->output_len == max, "truncated below max");
	check(r->exit_code >= 0 && r->exit_code <= 255, "exit code range");
	check(!r->timed_out || r->exit_code == 137, "timed out but not 137");
}

static void
check_files(enum dt_err err, const struct dt_file_info *items, size_t count)
{
	if (err != DT_OK) {
		check(items == NULL && count == 0, "file list error with items");
		return;
	}
	check(count == 0 || items != NULL, "file list count without items");
	for (size_t i = 0; i < count; i++) {
		check(items[i].name != NULL && items[i].name[0] != '\0',
		    "empty file name");
		check(strchr(items[i].name, '/') == NULL, "'/' in a file name");
	}
}

static void
check_escape(const char *in)
{
	char *e = dt_url_escape(in);
	size_t j = 0;

	if (e == NULL)
		return;
	for (size_t i = 0; e[i] != '\0'; i++) {
		unsigned char c = (unsigned char)e[i];

		if (c == '%') {
			unsigned v;

			check(isxdigit((unsigned char)e[i + 1]) &&
			    isxdigit((unsigned char)e[i + 2]), "bad %XX");
			sscanf(e + i + 1, "%2x", &v);
			check(in[j++] == (char)v, "escape does not decode back");
			i += 2;
		} else {
			check(isalnum(c) || c == '-' || c == '_' || c == '.' ||
			    c == '~', "reserved character left unescaped");
			check(in[j++] == (char)c, "escape does not decode back");
		}
	}
	check(in[j] == '\0', "escape lost bytes");
	free(e);
}

/* ---- the calls ---- */

static void
run_client_op(enum op op, const char *text, size_t len)
{
	static const struct dt_kv labels[2] = {
		{ SBX_LABEL_USER, "alice" }, { "omni.managed", "true" },
	};
	static const struct dt_kv env[1] = { { "OMNI_USER_ID", "alice" } };
	struct dt_status st;
	struct dt_sandbox sb, *items = NULL;
	struct dt_exec_result xr;
	struct dt_file_info *files = NULL;
	char url[DT_URL_MAX], *data = NULL;
	size_t count = 7, dlen = 7, max;
	enum dt_err err;

	switch (op) {
	case OP_GET:
	case OP_START:
		err = op == OP_GET ? dt_sandbox_get(client, SBX_ID, &sb, &st) :
		    dt_sandbox_start(client, SBX_ID, &sb, &st);
		check_status(err, &st, 0);
		if (err == DT_OK)
			check_sandbox(&sb);
		break;
	case OP_CREATE: {
		struct dt_create_params p;

		memset(&p, 0, sizeof(p));
		p.name = SBX_ID;
		p.snapshot = "omni-snapshot";
		p.env = env;
		p.nenv = 1;
		p.labels = labels;
		p.nlabels = 2;
		p.auto_stop_minutes = 30;
		p.auto_archive_minutes = -1;
		p.auto_delete_minutes = -1;
		err = dt_sandbox_create(client, &p, &sb, &st);
		check_status(err, &st, 0);
		if (err == DT_OK)
			check_sandbox(&sb);
		break;
	}
	case OP_STOP:
		check_status(dt_sandbox_stop(client, SBX_ID, NULL, &st), &st, 0);
		break;
	case OP_DELETE:
		check_status(dt_sandbox_delete(client, SBX_ID, &st), &st, 0);
		break;
	case OP_LIST:
	case OP_LIST_2: {
		int limit = op == OP_LIST ? 100 : 2;

		err = dt_sandbox_list(client, labels, 1, limit, &items, &count,
		    &st);
		check_status(err, &st, 0);
		if (err != DT_OK) {
			check(items == NULL && count == 0,
			    "list error with items");
			break;
		}
		check(count <= (size_t)limit, "list longer than the limit");
		check(count == 0 || items != NULL, "list count without items");
		for (size_t i = 0; i < count; i++)
			check_sandbox(&items[i]);
		free(items);
		break;
	}
	case OP_TOOLBOX_URL:
		err = dt_toolbox_url(client, SBX_ID, url, sizeof(url), &st);
		check_status(err, &st, 0);
		if (err == DT_OK) {
			check_terminated(url, sizeof(url), "url not terminated");
			check(strncmp(url, "http://", 7) == 0 ||
			    strncmp(url, "https://", 8) == 0,
			    "toolbox url is not http(s)");
			check(strpbrk(url, " \t\r\n") == NULL,
			    "white space in the toolbox url");
		}
		break;
	case OP_EXEC:
	case OP_EXEC_SMALL: {
		struct dt_exec_params p;
		static const struct dt_kv xenv[2] = {
			{ "A", "x'y" }, { "HOME_DIR", "/home/omni" },
		};

		memset(&p, 0, sizeof(p));
		p.command = "ls -la";
		p.cwd = "/home/omni";
		p.env = xenv;
		p.nenv = 2;
		p.max_output = op == OP_EXEC ? 0 : 16;
		max = op == OP_EXEC ? DT_EXEC_DEFAULT_MAX_OUTPUT : 16;
		memset(&xr, 0x5a, sizeof(xr));
		err = dt_process_execute(client, SBX_ID, &p, &xr, &st);
		check_status(err, &st, 1);
		check_exec(err, &xr, max);
		dt_exec_result_free(&xr);
		break;
	}
	case OP_FILE_LIST:
		err = dt_file_list(client, SBX_ID, "/home/omni/kb", &files,
		    &count, &st);
		check_status(err, &st, 0);
		check_files(err, files, count);
		dt_file_info_free(files, count);
		break;
	case OP_DOWNLOAD:
	case OP_DOWNLOAD_SMALL:
		max = op == OP_DOWNLOAD ? 1 << 20 : 16;
		err = dt_file_download(client, SBX_ID, "notes/a b.md", max,
		    &data, &dlen, &st);
		check_status(err, &st, 0);
		if (err != DT_OK) {
			check(data == NULL && dlen == 0,
			    "download error with data");
			break;
		}
		check(data != NULL && data[dlen] == '\0',
		    "download not terminated");
		check(dlen <= max, "download over its max");
		free(data);
		break;
	case OP_UPLOAD:
		check_status(dt_file_upload(client, SBX_ID, "notes/x.md", text,
		    len, &st), &st, 0);
		break;
	case OP_PING:
		check_status(dt_ping(client, 3000, &st), &st, 0);
		break;
	default:
		break;
	}
}

static void
run_provider_op(enum op op)
{
	struct sbx_info info;
	struct sbx_exec_result xr;
	struct sbx_exec_opts xo;
	struct sbx_file_list fl;
	struct sbx_error why;
	char detail[160], *data = NULL;
	size_t dlen = 7;
	enum sbx_err err = SBX_OK;
	static const char *const xenv[] = { "LANG=C.UTF-8", NULL };

	memset(&info, 0x5a, sizeof(info));
	sbx_error_clear(&why);
	switch (op) {
	case OP_P_FIND:
		err = provider->ops->find_for_user(provider, "alice", &info, &why);
		if (err == SBX_OK)
			check_info(&info, "alice");
		break;
	case OP_P_CREATE:
		err = provider->ops->create_for_user(provider, "alice", &info, &why);
		if (err == SBX_OK)
			check_info(&info, "alice");
		break;
	case OP_P_GET:
		err = provider->ops->get(provider, SBX_ID, &info, &why);
		if (err == SBX_OK)
			check_info(&info, NULL);
		break;
	case OP_P_STOP:
		err = provider->ops->stop(provider, SBX_ID, &why);
		break;
	case OP_P_REMOVE:
		err = provider->ops->remove(provider, SBX_ID, &why);
		break;
	case OP_P_EXEC:
		memset(&xo, 0, sizeof(xo));
		xo.env = xenv;
		xo.max_output = 64;
		memset(&xr, 0, sizeof(xr));
		err = provider->ops->exec(provider, SBX_ID, "cat notes.md", &xo,
		    &xr, &why);
		if (err == SBX_OK) {
			check(xr.output != NULL &&
			    xr.output[xr.output_len] == '\0' &&
			    xr.output_len <= 64, "provider exec output");
			sbx_exec_result_free(&xr);
		} else {
			check(xr.output == NULL, "provider exec error output");
		}
		break;
	case OP_P_LIST_FILES:
		memset(&fl, 0, sizeof(fl));
		err = provider->ops->list_files(provider, SBX_ID, "kb", &fl, &why);
		if (err == SBX_OK) {
			for (size_t i = 0; i < fl.count; i++)
				check(fl.entries[i].name != NULL,
				    "provider file without a name");
			sbx_file_list_free(&fl);
		} else {
			check(fl.entries == NULL && fl.count == 0,
			    "provider list error with entries");
		}
		break;
	case OP_P_READ:
		err = provider->ops->read_file(provider, SBX_ID, "kb/a.md", 32,
		    &data, &dlen, &why);
		if (err == SBX_OK) {
			check(data != NULL && data[dlen] == '\0' && dlen <= 32,
			    "provider read");
			free(data);
		} else {
			check(data == NULL && dlen == 0,
			    "provider read error with data");
		}
		break;
	case OP_P_CHECK:
		detail[0] = '\0';
		err = provider->ops->check(provider, detail, sizeof(detail));
		check_terminated(detail, sizeof(detail), "check detail");
		break;
	default:
		break;
	}
	check((unsigned)err < SBX__MAX, "provider result out of range");
	/* What an op reports in 'why' is its own result or nothing (the
	 * sbx_* wrappers fill the code a provider left out); never another
	 * error than the one returned, and nothing after a success. */
	check(why.code == SBX_OK || why.code == err,
	    "error detail disagrees with the result");
	check(err != SBX_OK || why.message[0] == '\0',
	    "error detail after a success");
	check_printable(why.message, sizeof(why.message),
	    "error detail message not printable");
}

static void
run_direct_op(enum op op, long status, const char *text, size_t len)
{
	switch (op) {
	case OP_ERR_FROM_HTTP: {
		char msg[64];
		enum dt_err err;

		memset(msg, 'Z', sizeof(msg));
		err = dt_err_from_http(status, text, len, msg, sizeof(msg));
		check((unsigned)err < DT__MAX, "err_from_http out of range");
		check_printable(msg, sizeof(msg), "message not printable");
		check((status >= 200 && status < 300) == (err == DT_OK),
		    "err_from_http and 2xx disagree");
		if (err == DT_EQUOTA)
			check(status == 400 || status == 403,
			    "quota outside 400/403");
		(void)dt_message_is_quota(text);
		/* No buffer: it uses its own. */
		(void)dt_err_from_http(status, text, len, NULL, 0);
		break;
	}
	case OP_RETRY_AFTER: {
		long ms = -7;

		if (dt_parse_retry_after(text, len, 1700000000L, &ms))
			check(ms >= 0 && ms <= 86400L * 1000,
			    "Retry-After out of 0..86400 s");
		else
			check(ms == -7, "Retry-After written on refusal");
		break;
	}
	case OP_PARSE_TIME:
		(void)dt_parse_time(text);
		break;
	case OP_DECODE: {
		struct json_tokener *tok = json_tokener_new();
		struct json_object *o;
		struct dt_sandbox sb;
		char why[12];

		if (tok == NULL)
			break;
		o = json_tokener_parse_ex(tok, text, (int)len);
		json_tokener_free(tok);
		memset(why, 'Z', sizeof(why));
		if (dt_sandbox_decode(o, &sb, why, sizeof(why)) == DT_OK)
			check_sandbox(&sb);
		else
			check_terminated(why, sizeof(why), "why not terminated");
		json_object_put(o);
		break;
	}
	case OP_URL_ESCAPE:
		check_escape(text);
		(void)dt_id_ok(text);
		break;
	default:
		break;
	}
}

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	static char url[] = API_URL, key[] = KEY, key2[] = KEY2;
	static char snapshot[] = "omni-snapshot", target[] = "eu";
	struct dt_client_opts o;
	struct dt_client *c2;
	enum dt_err err;

	(void)argc;
	(void)argv;
	log_set_level(LOG_ERROR);
	memset(&o, 0, sizeof(o));
	o.api_url = API_URL;
	o.api_key = KEY;
	o.api_key_fallback = KEY2;
	o.org_id = "org-fuzz";
	client = dt_client_new(&o, &err);
	c2 = dt_client_new(&o, &err);
	check(client != NULL && c2 != NULL, "cannot make the clients");
	dt_client_set_transport(client, &fake);
	dt_client_set_transport(c2, &fake);
	memset(&cfg, 0, sizeof(cfg));
	cfg.provider = CFG_PROVIDER_DAYTONA;
	cfg.daytona_api_url = url;
	cfg.daytona_api_key = key;
	cfg.daytona_api_key_fallback = key2;
	cfg.daytona_snapshot = snapshot;
	cfg.daytona_target = target;
	check(sbx_daytona_new_with_client(&cfg, c2, &provider) == SBX_OK,
	    "cannot make the provider");
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const long retry_ms[4] = { -1, 0, 2000, 1000L * 1000 * 1000 };
	enum op op;
	char *text;
	size_t len;

	if (size < 2 || size > MAX_IN)
		return 0;
	op = (enum op)(data[0] % N_OPS);
	ans_status = statuses[data[1] & 31];
	ans_retry_ms = retry_ms[(data[1] >> 5) & 3];
	ans_refuse_primary = (data[1] & 0x80) != 0;
	ans_toolbox_is_fuzzed = op == OP_TOOLBOX_URL;
	len = size - 2;
	/* Own allocation with a NUL after it: the parsers that take a C
	 * string get one, the others see any over-read past 'len'. */
	text = malloc(len + 1);
	if (text == NULL)
		return 0;
	memcpy(text, data + 2, len);
	text[len] = '\0';
	ans_body = text;
	ans_len = len;

	/* Same start for every input: the primary key, no cached proxy. */
	dt_client_set_keys(client, KEY, KEY2);
	dt_client_set_keys(sbx_daytona_client(provider), KEY, KEY2);
	dt_client_tb_cache_set(client, NULL);
	dt_client_tb_cache_set(sbx_daytona_client(provider), NULL);

	if (op >= OP_P_FIND)
		run_provider_op(op);
	else if (op >= OP_ERR_FROM_HTTP)
		run_direct_op(op, ans_status, text, len);
	else
		run_client_op(op, text, len);
	free(text);
	return 0;
}
