/*
 * debug.c -- endpoints for tests and operators, served only with
 * OMNI_DEBUG_ROUTES=1, which the configuration refuses outside
 * development.  Every one is a ROUTE_USER (handlers/routes.c): with
 * OMNI_AUTH=jwt each needs a valid bearer token, as the user endpoints.
 *
 * GET /debug/sleep?ms=N holds a worker thread N ms (at most 60 s): the
 * integration tests use it to keep a request in flight across a drain, a
 * reload or a flood.  POST /debug/echo answers with the parsed JSON body,
 * to check the JSON rules of the router end to end.
 *
 * POST /debug/sandbox/exec {sandboxId, command, timeoutS?} runs 'command'
 * in a sandbox through the worker's provider and answers {exitCode,
 * timedOut, truncated, output}: the integration tests use it to show,
 * through the front server, that a command in a local sandbox cannot reach
 * the network, write outside its home or outlive its time limit.  It is
 * the one place where a command comes from a request (sandbox_local.h
 * assumes commands come from Omni's code), which is why it exists only
 * under the debug flag.  The command is never logged.  With OMNI_AUTH=jwt
 * it runs only in the caller's own sandbox (handlers.h, the owner rule),
 * which matters on a development machine shared by several users.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "handlers.h"
#include "json_util.h"
#include "log.h"
#include "omni_worker.h"
#include "sandbox.h"
#include "timeutil.h"

#define DEBUG_SLEEP_MAX_MS 60000
#define DEBUG_EXEC_COMMAND_MAX 8192          /* bytes of the command */
#define DEBUG_EXEC_TIMEOUT_MAX_S 300
#define DEBUG_EXEC_TIMEOUT_DEFAULT_S 30
#define DEBUG_EXEC_MAX_OUTPUT ((size_t)64 << 10)

void handle_debug_sleep(struct http_request *req, struct http_response *resp)
{
	const char *v = http_param(req, "ms");
	struct json_object *o;
	char *end;
	long ms;

	if (v == NULL) {
		http_response_field_error(resp, API_VALIDATION_ERROR,
		    "query parameter ms is required", "ms", "is required");
		return;
	}
	errno = 0;
	ms = strtol(v, &end, 10);
	if (errno != 0 || *end != '\0' || end == v || ms < 0 ||
	    ms > DEBUG_SLEEP_MAX_MS) {
		http_response_field_error(resp, API_VALIDATION_ERROR,
		    "ms must be an integer from 0 to "
		    HANDLER_STR(DEBUG_SLEEP_MAX_MS), "ms",
		    "out of range");
		return;
	}
	time_sleep_ms(ms);
	o = json_object_new_object();
	if (o != NULL)
		json_object_object_add(o, "slept_ms",
		    json_object_new_int64(ms));
	http_response_json(resp, 200, o);
}

void handle_debug_echo(struct http_request *req, struct http_response *resp)
{
	http_response_json(resp, 200, json_object_get(req->json));
}

/*
 * The command's output as a JSON string.  Output is bytes, a JSON string
 * is UTF-8: each byte that does not start a well-formed sequence becomes
 * U+FFFD, so a binary-writing command still gets a parseable answer.
 * NULL when out of memory.
 */
static struct json_object *output_json(const char *out, size_t len)
{
	static const char repl[] = "\xEF\xBF\xBD";
	const unsigned char *s = (const unsigned char *)out;
	struct json_object *o;
	size_t i = 0, j = 0, k;
	char *buf;

	if (out == NULL)
		return json_object_new_string("");
	/* Each bad byte grows to 3: bounded by DEBUG_EXEC_MAX_OUTPUT. */
	if ((buf = malloc(len * 3 + 1)) == NULL)
		return NULL;
	while (i < len) {
		if ((k = json_utf8_sequence(s + i, len - i)) == 0) {
			memcpy(buf + j, repl, 3);
			j += 3;
			i++;
			continue;
		}
		memcpy(buf + j, s + i, k);
		j += k;
		i += k;
	}
	o = json_object_new_string_len(buf, (int)j);
	free(buf);
	return o;
}

/* Optional integer timeoutS in 1..DEBUG_EXEC_TIMEOUT_MAX_S: its value,
 * the default when absent or null, or -1 (not an integer, out of range). */
static int timeout_field(struct json_object *body)
{
	struct json_object *v;
	int64_t n;

	if (!json_object_object_get_ex(body, "timeoutS", &v) || v == NULL)
		return DEBUG_EXEC_TIMEOUT_DEFAULT_S;
	if (!json_object_is_type(v, json_type_int))
		return -1;
	/* Past INT64_MAX json-c answers INT64_MAX: still out of range. */
	n = json_object_get_int64(v);
	if (n < 1 || n > DEBUG_EXEC_TIMEOUT_MAX_S)
		return -1;
	return (int)n;
}

void handle_debug_sandbox_exec(struct http_request *req,
    struct http_response *resp)
{
	struct omni_worker *w = omni_worker_of(req);
	struct sbx_provider *p = w != NULL ? w->sandbox : NULL;
	struct sbx_exec_opts opts;
	struct sbx_exec_result r;
	struct sbx_info info;
	struct json_object *o, *line, *out;
	const char *id = NULL, *command = NULL;
	long long started = time_mono_ms();
	enum json_err je;
	struct sbx_error why;
	int timeout_s;

	je = json_get_string(req->json, "sandboxId", SBX_ID_MAX - 1, &id);
	if (je != JSON_OK || !sbx_id_valid(id)) {
		http_response_field_error(resp, API_VALIDATION_ERROR,
		    "sandboxId must be 1 to " HANDLER_STR(SBX_ID_CHARS)
		    " characters of letters, "
		    "digits, '.', '_' and '-'", "sandboxId",
		    je != JSON_OK ? json_strerror(je) : "is not a sandbox id");
		return;
	}
	je = json_get_string(req->json, "command", DEBUG_EXEC_COMMAND_MAX,
	    &command);
	if (je != JSON_OK) {
		http_response_field_error(resp, API_VALIDATION_ERROR,
		    "command must be a string of 1 to "
		    HANDLER_STR(DEBUG_EXEC_COMMAND_MAX) " bytes", "command",
		    json_strerror(je));
		return;
	}
	if ((timeout_s = timeout_field(req->json)) < 0) {
		http_response_field_error(resp, API_VALIDATION_ERROR,
		    "timeoutS must be an integer from 1 to "
		    HANDLER_STR(DEBUG_EXEC_TIMEOUT_MAX_S), "timeoutS",
		    "out of range");
		return;
	}
	if (p == NULL) {
		http_response_error(resp, API_SERVICE_UNAVAILABLE,
		    "sandbox provider not initialised", NULL);
		return;
	}
	/* The path status and delete take: one of Omni's sandboxes, and
	 * with OMNI_AUTH=jwt the caller's own. */
	if (sandbox_get_owned(p, req, id, &info, resp, "debug.exec") != 0)
		return;
	memset(&opts, 0, sizeof(opts));
	opts.timeout_s = timeout_s;
	opts.max_output = DEBUG_EXEC_MAX_OUTPUT;
	memset(&r, 0, sizeof(r));
	if (sbx_exec(p, id, command, &opts, &r, &why) != SBX_OK) {
		sandbox_error_response(req, resp, &why, "debug.exec");
		return;
	}
	if ((line = log_begin(LOG_INFO, "debug.sandbox.exec")) != NULL) {
		json_object_object_add(line, "sandboxId",
		    json_object_new_string(id));
		json_object_object_add(line, "exitCode",
		    json_object_new_int(r.exit_code));
		json_object_object_add(line, "timedOut",
		    json_object_new_boolean(r.timed_out));
		json_object_object_add(line, "ms",
		    json_object_new_int64(time_mono_ms() - started));
		log_end(line);
	}
	out = output_json(r.output, r.output_len);
	o = json_object_new_object();
	if (out == NULL || o == NULL) {
		json_object_put(out);
		json_object_put(o);
		sbx_exec_result_free(&r);
		http_response_error(resp, API_SERVER_ERROR, "out of memory",
		    NULL);
		return;
	}
	json_object_object_add(o, "exitCode", json_object_new_int(r.exit_code));
	json_object_object_add(o, "timedOut",
	    json_object_new_boolean(r.timed_out));
	json_object_object_add(o, "truncated",
	    json_object_new_boolean(r.truncated));
	json_object_object_add(o, "output", out);
	sbx_exec_result_free(&r);
	http_response_json(resp, 200, o);
}
