/*
 * test_knowledge_handlers.c -- POST /api/knowledge/process, GET
 * /api/knowledge/query (handlers/knowledge.c, app/knowledge_query.c) and
 * GET /api/task/results (handlers/task.c) on the local provider,
 * unsandboxed, in a temporary data directory, with a real worker
 * context.
 *
 * Events go over the real outbound client to a loopback HTTP server run
 * in a thread (loopback_http.h), which answers like Inngest's event API
 * (200 {"ids":[...],"status":200}), or with 500, or is not there at all;
 * the request it received is the event exactly as sent.  Requests are
 * built from FastCGI-style params with http_request_parse(), the JSON
 * body parsed as the router does; with OMNI_AUTH=jwt the subject is set
 * as the router would after verifying a token.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <json-c/json.h>

#include "loopback_http.h"
#include "rm_tree.h"

#include "config.h"
#include "handler_call.h"
#include "handlers.h"
#include "http.h"
#include "http_client.h"
#include "inngest.h"
#include "inngest_http.h"
#include "json_util.h"
#include "knowledge_query.h"
#include "log.h"
#include "omni_worker.h"
#include "sandbox.h"
#include "sandbox_local.h"
#include "tasks.h"

#define OK_BODY "{\"ids\":[\"evt-1\"],\"status\":200}"
#define FAIL_BODY "{\"error\":\"down\"}"

static char dir[64];
static char models[] = "model-a,model-b";
static char key_name[] = "ANTHROPIC_API_KEY";
static char prefix[] = "omni";
static char ok_reply[256], fail_reply[256];
static struct omni_config cfg;
static struct omni_worker worker;
static struct lb_server inngest;   /* the fake event API */
static int inngest_up;
static const char *subject;        /* the verified subject under jwt */
static struct sbx_info alice, bob; /* their sandboxes */

/* ---- the fake Inngest ---- */

static void no_sleep(long long ms)
{
	(void)ms;
}

/* An Inngest app sending events to 127.0.0.1:'port'. */
static void app_at(int port)
{
	struct ing_hooks hooks = { .transport = &omni_inngest_transport,
	    .sleep_ms = no_sleep };
	struct ing_config ic;
	char origin[64];

	ing_app_free(worker.inngest);
	worker.inngest = NULL;
	snprintf(origin, sizeof(origin), "http://127.0.0.1:%d", port);
	memset(&ic, 0, sizeof(ic));
	ic.dev = origin;
	ic.app_id = "omni";
	assert_int_equal(ing_app_new(&ic, &hooks, &worker.inngest), ING_OK);
}

static void inngest_stop(void)
{
	if (inngest_up)
		lb_stop(&inngest);
	inngest_up = 0;
}

/* (Re)start the fake event API answering 'reply' ("HTTP/1.1 ..."). */
static void inngest_answers(const char *reply)
{
	inngest_stop();
	assert_int_equal(lb_start(&inngest, reply), 0);
	inngest_up = 1;
	app_at(inngest.port);
}

/* Point the app at a port nobody listens on. */
static void inngest_gone(void)
{
	int port;

	inngest_answers(ok_reply);
	port = inngest.port;
	inngest_stop();
	app_at(port);
}

/* The one event of the last request the fake received. */
static struct json_object *sent_event(void)
{
	const char *body = strstr(inngest.got, "\r\n\r\n");
	struct json_object *arr = NULL, *ev;

	assert_non_null(body);
	body += 4;
	assert_int_equal(json_parse_value(body, strlen(body), &arr, NULL, 0),
	    JSON_OK);
	assert_true(json_object_is_type(arr, json_type_array));
	assert_int_equal(json_object_array_length(arr), 1);
	ev = json_object_get(json_object_array_get_idx(arr, 0));
	json_object_put(arr);
	return ev;
}

/* ---- requests ---- */

/* Call 'h' with 'method' 'uri' and, when 'json' is not NULL, that body:
 * always a JSON answer. */
static struct handler_reply call(route_handler h, const char *method,
    const char *uri, const char *json)
{
	struct handler_reply r = handler_call(h, &worker, &cfg, subject,
	    1 << 20, method, uri, json);

	assert_string_equal(r.content_type, "application/json");
	assert_non_null(r.json);
	return r;
}

static void done(struct handler_reply *r)
{
	json_object_put(r->json);
	r->json = NULL;
}

static struct json_object *get(struct json_object *o, const char *k)
{
	struct json_object *v = NULL;

	json_object_object_get_ex(o, k, &v);
	return v;
}

static const char *str(struct json_object *o, const char *k)
{
	struct json_object *v = get(o, k);

	return v != NULL ? json_object_get_string(v) : NULL;
}

static const char *err_code(struct handler_reply *r)
{
	return str(get(r->json, "error"), "code");
}

static const char *err_field(struct handler_reply *r)
{
	return str(get(get(r->json, "error"), "details"), "field");
}

/* ---- the sandbox ---- */

/* Set the state of 'id' as another process would (the state file). */
static void set_state(const struct sbx_info *s, const char *state)
{
	char path[512];
	FILE *f;

	snprintf(path, sizeof(path), "%s/sandboxes/%s/state.json", dir, s->id);
	assert_non_null(f = fopen(path, "w"));
	fprintf(f, "{\"id\":\"%s\",\"userId\":\"%s\",\"state\":\"%s\","
	    "\"createdAt\":\"x\"}", s->id, s->user_id, state);
	fclose(f);
}

static enum sbx_state state_of(const struct sbx_info *s)
{
	struct sbx_info now;

	assert_int_equal(sbx_get(worker.sandbox, s->id, &now, NULL), SBX_OK);
	return now.state;
}

/* Write 'len' bytes of 'data' as 'path' in alice's sandbox. */
static void put_bytes(const char *path, const char *data, size_t len)
{
	assert_int_equal(sbx_write_file(worker.sandbox, alice.id, path, data,
	    len, NULL), SBX_OK);
}

static void put(const char *path, const char *text)
{
	put_bytes(path, text, strlen(text));
}

static int exists_in_home(const struct sbx_info *s, const char *rel)
{
	char path[512];
	struct stat st;

	snprintf(path, sizeof(path), "%s/sandboxes/%s/home/%s", dir, s->id,
	    rel);
	return stat(path, &st) == 0;
}

static int setup(void **state)
{
	struct sbx_local_opts o;

	(void)state;
	log_set_level(LOG_ERROR);
	snprintf(dir, sizeof(dir), "/tmp/omni-know-test-XXXXXX");
	if (mkdtemp(dir) == NULL || http_client_global_init() != 0)
		return -1;
	memset(&cfg, 0, sizeof(cfg));
	cfg.provider = CFG_PROVIDER_LOCAL;
	cfg.data_dir = dir;
	cfg.max_body = 4096;
	cfg.agent_models = models;
	cfg.agent_key_name = key_name;
	cfg.event_prefix = prefix;
	memset(&worker, 0, sizeof(worker));
	worker.cfg = &cfg;
	pthread_mutex_init(&worker.ready.mu, NULL);
	memset(&o, 0, sizeof(o));
	o.data_dir = dir;
	o.unsandboxed = 1;
	o.bwrap = "/nonexistent/bwrap"; /* files only: no isolation needed */
	if (sbx_local_new_opts(&o, &worker.sandbox, NULL, 0) != SBX_OK ||
	    sbx_ensure_for_user(worker.sandbox, "alice", &alice, NULL) !=
	    SBX_OK ||
	    sbx_ensure_for_user(worker.sandbox, "bob", &bob, NULL) != SBX_OK)
		return -1;
	snprintf(ok_reply, sizeof(ok_reply), "HTTP/1.1 200 OK\r\n"
	    "Content-Type: application/json\r\nContent-Length: %zu\r\n\r\n%s",
	    strlen(OK_BODY), OK_BODY);
	snprintf(fail_reply, sizeof(fail_reply), "HTTP/1.1 500 Internal "
	    "Server Error\r\nContent-Type: application/json\r\n"
	    "Content-Length: %zu\r\n\r\n%s", strlen(FAIL_BODY), FAIL_BODY);
	inngest_up = 0;
	inngest_answers(ok_reply);
	subject = NULL;
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	inngest_stop();
	ing_app_free(worker.inngest);
	sbx_provider_free(worker.sandbox);
	pthread_mutex_destroy(&worker.ready.mu);
	memset(&worker, 0, sizeof(worker));
	rm_tree(dir);
	return 0;
}

/* A valid process body for alice's sandbox, with 'extra' (",..." or "")
 * appended to its fields. */
static char *process_body(const char *task, const char *extra)
{
	static char buf[8192];

	snprintf(buf, sizeof(buf), "{\"input\":\"notes: MRR 48k\","
	    "\"sandboxId\":\"%s\",\"userId\":\"alice\",\"taskId\":\"%s\"%s}",
	    alice.id, task, extra);
	return buf;
}

/* ---- POST /api/knowledge/process ---- */

static void process_validation_names_the_field(void **state)
{
	static const struct {
		const char *body; /* %s: alice's sandbox id */
		const char *field;
	} bad[] = {
		{ "{\"sandboxId\":\"%s\",\"userId\":\"alice\",\"taskId\":\"t\"}",
		    "input" },
		{ "{\"input\":\"\",\"sandboxId\":\"%s\",\"userId\":\"alice\","
		    "\"taskId\":\"t\"}", "input" },
		{ "{\"input\":42,\"sandboxId\":\"%s\",\"userId\":\"alice\","
		    "\"taskId\":\"t\"}", "input" },
		{ "{\"input\":\"a\\u0000b\",\"sandboxId\":\"%s\","
		    "\"userId\":\"alice\",\"taskId\":\"t\"}", "input" },
		{ "{\"input\":\"x\",\"sandboxId\":\"..%.0s\","
		    "\"userId\":\"alice\",\"taskId\":\"t\"}", "sandboxId" },
		{ "{\"input\":\"x\",\"sandboxId\":\"a/b%.0s\","
		    "\"userId\":\"alice\",\"taskId\":\"t\"}", "sandboxId" },
		{ "{\"input\":\"x%.0s\",\"userId\":\"alice\",\"taskId\":\"t\"}",
		    "sandboxId" },
		{ "{\"input\":\"x\",\"sandboxId\":\"%s\",\"taskId\":\"t\"}",
		    "userId" },
		{ "{\"input\":\"x\",\"sandboxId\":\"%s\",\"userId\":\"a/b\","
		    "\"taskId\":\"t\"}", "userId" },
		{ "{\"input\":\"x\",\"sandboxId\":\"%s\",\"userId\":\"alice\"}",
		    "taskId" },
		{ "{\"input\":\"x\",\"sandboxId\":\"%s\",\"userId\":\"alice\","
		    "\"taskId\":\"../x\"}", "taskId" },
		{ "{\"input\":\"x\",\"sandboxId\":\"%s\",\"userId\":\"alice\","
		    "\"taskId\":\"a.b\"}", "taskId" },
		{ "{\"input\":\"x\",\"sandboxId\":\"%s\",\"userId\":\"alice\","
		    "\"taskId\":\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
		    "aaaaaaaaaaaaaaaaaaa\"}", "taskId" },
		{ "{\"input\":\"x\",\"sandboxId\":\"%s\",\"userId\":\"alice\","
		    "\"taskId\":\"t\",\"model\":\"gpt-9\"}", "model" },
		{ "{\"input\":\"x\",\"sandboxId\":\"%s\",\"userId\":\"alice\","
		    "\"taskId\":\"t\",\"model\":42}", "model" },
		{ "{\"input\":\"x\",\"sandboxId\":\"%s\",\"userId\":\"alice\","
		    "\"taskId\":\"t\",\"model\":\"model-a,model-b\"}", "model" },
		{ "{\"input\":\"x\",\"sandboxId\":\"%s\",\"userId\":\"alice\","
		    "\"taskId\":\"t\",\"env\":\"A=1\"}", "env" },
		{ "{\"input\":\"x\",\"sandboxId\":\"%s\",\"userId\":\"alice\","
		    "\"taskId\":\"t\",\"env\":{\"A\":1}}", "env" },
		{ "{\"input\":\"x\",\"sandboxId\":\"%s\",\"userId\":\"alice\","
		    "\"taskId\":\"t\",\"env\":{\"OMNI_DATA_DIR\":\"/\"}}",
		    "env" },
		{ "{\"input\":\"x\",\"sandboxId\":\"%s\",\"userId\":\"alice\","
		    "\"taskId\":\"t\",\"env\":{\"ANTHROPIC_API_KEY\":\"k\"}}",
		    "env" },
		{ "{\"input\":\"x\",\"sandboxId\":\"%s\",\"userId\":\"alice\","
		    "\"taskId\":\"t\",\"env\":{\"LD_PRELOAD\":\"/x.so\"}}",
		    "env" },
		{ "{\"input\":\"x\",\"sandboxId\":\"%s\",\"userId\":\"alice\","
		    "\"taskId\":\"t\",\"env\":{\"PATH\":\"/x\"}}", "env" },
		{ "{\"input\":\"x\",\"sandboxId\":\"%s\",\"userId\":\"alice\","
		    "\"taskId\":\"t\",\"env\":{\"1BAD\":\"x\"}}", "env" },
		{ "{\"input\":\"x\",\"sandboxId\":\"%s\",\"userId\":\"alice\","
		    "\"taskId\":\"t\",\"env\":{\"A-B\":\"x\"}}", "env" },
		{ "{\"input\":\"x\",\"sandboxId\":\"%s\",\"userId\":\"alice\","
		    "\"taskId\":\"t\",\"env\":{\"A\":\"line\\nbreak\"}}", "env" },
		{ "{\"input\":\"x\",\"sandboxId\":\"%s\",\"userId\":\"alice\","
		    "\"taskId\":\"t\",\"env\":{\"A\":\"n\\u0000ul\"}}", "env" },
	};
	char body[1024], big[6000];
	struct handler_reply r;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(body, sizeof(body), bad[i].body, alice.id);
		r = call(handle_knowledge_process, "POST",
		    "/api/knowledge/process", body);
		if (r.status != 400 || strcmp(err_field(&r), bad[i].field) != 0)
			fail_msg("%s: status %d field %s", body, r.status,
			    err_field(&r));
		assert_string_equal(err_code(&r), "VALIDATION_ERROR");
		done(&r);
	}
	/* input over the body limit (cfg.max_body is 4096 here) */
	memset(big, 'x', 4200);
	big[4200] = '\0';
	{
		char *b = malloc(8192);

		snprintf(b, 8192, "{\"input\":\"%s\",\"sandboxId\":\"%s\","
		    "\"userId\":\"alice\",\"taskId\":\"t\"}", big, alice.id);
		r = call(handle_knowledge_process, "POST",
		    "/api/knowledge/process", b);
		assert_int_equal(r.status, 400);
		assert_string_equal(err_field(&r), "input");
		done(&r);
		free(b);
	}
	/* More than 32 variables. */
	{
		char env[1024] = "";
		size_t o = 0;

		for (i = 0; i < 33; i++)
			o += (size_t)snprintf(env + o, sizeof(env) - o,
			    "%s\"V%zu\":\"x\"", i ? "," : "", i);
		snprintf(big, sizeof(big), ",\"env\":{%s}", env);
		r = call(handle_knowledge_process, "POST",
		    "/api/knowledge/process", process_body("t", big));
		assert_int_equal(r.status, 400);
		assert_string_equal(err_field(&r), "env");
		done(&r);
	}
	/* Nothing was sent for any of them. */
	assert_int_equal(atomic_load(&inngest.requests), 0);
}

/* Is 's' a ULID: 26 characters of Crockford's base32? */
static int is_ulid(const char *s)
{
	static const char b32[] = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";

	if (s == NULL || strlen(s) != 26)
		return 0;
	for (; *s != '\0'; s++)
		if (strchr(b32, *s) == NULL)
			return 0;
	return 1;
}

static void process_sends_the_event_and_marks_queued(void **state)
{
	struct json_object *ev, *data, *q = NULL;
	const char *job;
	struct handler_reply r;

	(void)state;
	r = call(handle_knowledge_process, "POST", "/api/knowledge/process",
	    process_body("t-1", ",\"whatever\":[1]"));
	assert_int_equal(r.status, 202);
	assert_int_equal(json_object_object_length(r.json), 2);
	assert_true(json_object_get_boolean(get(r.json, "accepted")));
	job = str(r.json, "jobId");
	assert_true(is_ulid(job));
	assert_int_equal(atomic_load(&inngest.requests), 1);
	/* The event as it reached Inngest. */
	assert_non_null(strstr(inngest.got, "POST /e/"));
	ev = sent_event();
	assert_string_equal(str(ev, "name"), "omni/process.knowledge");
	assert_string_equal(str(ev, "id"), job);
	data = get(ev, "data");
	assert_int_equal(json_object_object_length(data), 6);
	assert_string_equal(str(data, "taskId"), "t-1");
	assert_string_equal(str(data, "sandboxId"), alice.id);
	assert_string_equal(str(data, "userId"), "alice");
	assert_string_equal(str(data, "input"), "notes: MRR 48k");
	assert_string_equal(str(data, "model"), "model-a"); /* the default */
	assert_string_equal(str(data, "jobId"), job);
	assert_null(get(data, "env"));
	json_object_put(ev);
	/* The queued marker names the job. */
	assert_int_equal(task_queued_read(worker.sandbox, alice.id, "t-1", &q,
	    NULL), SBX_OK);
	assert_string_equal(str(q, "jobId"), job);
	json_object_put(q);
	done(&r);
}

static void process_passes_model_and_env(void **state)
{
	struct json_object *ev, *env;
	struct handler_reply r;

	(void)state;
	{
		char body[512];

		snprintf(body, sizeof(body), "{\"input\":\"caf\\u00e9 "
		    "\\\"q\\\"\\nline 2\",\"sandboxId\":\"%s\","
		    "\"userId\":\"alice\",\"taskId\":\"t2\","
		    "\"model\":\"model-b\",\"env\":{\"TONE\":\"dry\\tshort\","
		    "\"COMPANY_NAME\":\"Acme\"}}", alice.id);
		r = call(handle_knowledge_process, "POST",
		    "/api/knowledge/process", body);
	}
	assert_int_equal(r.status, 202);
	ev = sent_event();
	assert_string_equal(str(get(ev, "data"), "input"),
	    "caf\xc3\xa9 \"q\"\nline 2");
	assert_string_equal(str(get(ev, "data"), "model"), "model-b");
	env = get(get(ev, "data"), "env");
	assert_int_equal(json_object_object_length(env), 2);
	assert_string_equal(str(env, "TONE"), "dry\tshort");
	assert_string_equal(str(env, "COMPANY_NAME"), "Acme");
	json_object_put(ev);
	done(&r);
}

static void process_other_users_sandbox_is_404(void **state)
{
	char body[512];
	struct handler_reply r, u;

	(void)state;
	snprintf(body, sizeof(body), "{\"input\":\"x\",\"sandboxId\":\"%s\","
	    "\"userId\":\"alice\",\"taskId\":\"t\"}", bob.id);
	r = call(handle_knowledge_process, "POST", "/api/knowledge/process",
	    body);
	assert_int_equal(r.status, 404);
	assert_string_equal(err_code(&r), "SANDBOX_NOT_FOUND");
	/* Exactly what an unknown sandbox gets. */
	u = call(handle_knowledge_process, "POST", "/api/knowledge/process",
	    "{\"input\":\"x\",\"sandboxId\":\"omni-0000\",\"userId\":\"alice\","
	    "\"taskId\":\"t\"}");
	assert_int_equal(u.status, 404);
	assert_true(json_object_equal(r.json, u.json));
	done(&r);
	done(&u);
	assert_int_equal(atomic_load(&inngest.requests), 0);
	assert_false(exists_in_home(&bob, TASK_DIR "/t/queued.json"));
}

static void process_creating_is_409(void **state)
{
	struct handler_reply r;

	(void)state;
	set_state(&alice, "creating");
	r = call(handle_knowledge_process, "POST", "/api/knowledge/process",
	    process_body("t", ""));
	assert_int_equal(r.status, 409);
	assert_string_equal(err_code(&r), "SANDBOX_NOT_READY");
	assert_string_equal(r.retry_after, "2");
	done(&r);
	assert_int_equal(atomic_load(&inngest.requests), 0);
}

static void process_starts_a_stopped_sandbox(void **state)
{
	struct handler_reply r;

	(void)state;
	assert_int_equal(worker.sandbox->ops->stop(worker.sandbox, alice.id,
	    NULL), SBX_OK);
	assert_int_equal(state_of(&alice), SBX_STATE_STOPPED);
	r = call(handle_knowledge_process, "POST", "/api/knowledge/process",
	    process_body("t", ""));
	assert_int_equal(r.status, 202);
	assert_int_equal(state_of(&alice), SBX_STATE_READY);
	assert_int_equal(atomic_load(&inngest.requests), 1);
	done(&r);
}

static void process_error_state_is_500(void **state)
{
	struct handler_reply r;

	(void)state;
	set_state(&alice, "error");
	r = call(handle_knowledge_process, "POST", "/api/knowledge/process",
	    process_body("t", ""));
	assert_int_equal(r.status, 500);
	assert_string_equal(err_code(&r), "SANDBOX_ERROR");
	done(&r);
	assert_int_equal(atomic_load(&inngest.requests), 0);
}

/* Inngest answering 500 (after the client's retries), or not there: 503
 * with Retry-After, and the sandbox untouched. */
static void process_send_failure_is_503(void **state)
{
	struct handler_reply r;

	(void)state;
	inngest_answers(fail_reply);
	r = call(handle_knowledge_process, "POST", "/api/knowledge/process",
	    process_body("t", ""));
	assert_int_equal(r.status, 503);
	assert_string_equal(err_code(&r), "SERVICE_UNAVAILABLE");
	assert_string_equal(r.retry_after, "5");
	assert_true(atomic_load(&inngest.requests) >= 1);
	done(&r);
	assert_false(exists_in_home(&alice, TASK_DIR "/t/queued.json"));

	inngest_gone();
	r = call(handle_knowledge_process, "POST", "/api/knowledge/process",
	    process_body("t", ""));
	assert_int_equal(r.status, 503);
	assert_string_equal(r.retry_after, "5");
	done(&r);
	assert_false(exists_in_home(&alice, TASK_DIR "/t/queued.json"));
}

static void process_jwt_user_must_be_the_subject(void **state)
{
	struct handler_reply r;

	(void)state;
	cfg.auth = CFG_AUTH_JWT;
	subject = "bob";
	r = call(handle_knowledge_process, "POST", "/api/knowledge/process",
	    process_body("t", ""));
	assert_int_equal(r.status, 403);
	assert_string_equal(err_code(&r), "FORBIDDEN");
	done(&r);
	subject = "alice";
	r = call(handle_knowledge_process, "POST", "/api/knowledge/process",
	    process_body("t", ""));
	assert_int_equal(r.status, 202);
	done(&r);
	cfg.auth = CFG_AUTH_NONE;
	subject = NULL;
}

/* The log of an accepted request names the job, never the input or the
 * env values. */
static void process_logs_no_user_text(void **state)
{
	char path[128], logbuf[8192], body[512];
	struct handler_reply r;
	ssize_t n;
	int fd, saved;

	(void)state;
	snprintf(path, sizeof(path), "%s/log", dir);
	assert_true((fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600)) >= 0);
	snprintf(body, sizeof(body), "{\"input\":\"SECRET-INPUT\","
	    "\"sandboxId\":\"%s\",\"userId\":\"alice\",\"taskId\":\"t\","
	    "\"env\":{\"TOKEN\":\"SECRET-VALUE\"}}", alice.id);
	log_set_level(LOG_DEBUG);
	saved = dup(2);
	dup2(fd, 2);
	r = call(handle_knowledge_process, "POST", "/api/knowledge/process",
	    body);
	inngest_answers(fail_reply);
	done(&r);
	r = call(handle_knowledge_process, "POST", "/api/knowledge/process",
	    body);
	dup2(saved, 2);
	close(saved);
	log_set_level(LOG_ERROR);
	assert_int_equal(r.status, 503);
	done(&r);
	n = pread(fd, logbuf, sizeof(logbuf) - 1, 0);
	close(fd);
	assert_true(n > 0);
	logbuf[n] = '\0';
	assert_non_null(strstr(logbuf, "knowledge.accepted"));
	assert_non_null(strstr(logbuf, "\"taskId\":\"t\""));
	assert_null(strstr(logbuf, "SECRET"));
}

/* ---- GET /api/task/results ---- */

static struct handler_reply results(const char *task, const char *user)
{
	char uri[256];

	snprintf(uri, sizeof(uri), "/api/task/results?taskId=%s&userId=%s",
	    task, user);
	return call(handle_task_results, "GET", uri, NULL);
}

static void results_validation(void **state)
{
	static const struct {
		const char *uri;
		const char *field;
	} bad[] = {
		{ "/api/task/results?userId=alice", "taskId" },
		{ "/api/task/results?taskId=&userId=alice", "taskId" },
		{ "/api/task/results?taskId=..%2Fx&userId=alice", "taskId" },
		{ "/api/task/results?taskId=a.b&userId=alice", "taskId" },
		{ "/api/task/results?taskId=t", "userId" },
		{ "/api/task/results?taskId=t&userId=a%2Fb", "userId" },
	};
	struct handler_reply r;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		r = call(handle_task_results, "GET", bad[i].uri, NULL);
		if (r.status != 400 || strcmp(err_field(&r), bad[i].field) != 0)
			fail_msg("%s: %d", bad[i].uri, r.status);
		done(&r);
	}
	cfg.auth = CFG_AUTH_JWT;
	subject = "bob";
	r = results("t", "alice");
	assert_int_equal(r.status, 403);
	done(&r);
	cfg.auth = CFG_AUTH_NONE;
	subject = NULL;
	r = results("t", "carol"); /* has no sandbox */
	assert_int_equal(r.status, 404);
	assert_string_equal(err_code(&r), "SANDBOX_NOT_FOUND");
	done(&r);
}

static void results_not_found_queued_running(void **state)
{
	struct json_object *m;
	struct handler_reply r;

	(void)state;
	r = results("t", "alice");
	assert_int_equal(r.status, 200);
	assert_int_equal(json_object_object_length(r.json), 2);
	assert_false(json_object_get_boolean(get(r.json, "found")));
	assert_string_equal(str(r.json, "taskId"), "t");
	done(&r);

	assert_int_equal(task_queued_write(worker.sandbox, alice.id, "t",
	    "JOB", NULL), SBX_OK);
	r = results("t", "alice");
	assert_string_equal(str(r.json, "status"), "queued");
	assert_int_equal(json_object_array_length(get(r.json, "messages")), 0);
	done(&r);

	assert_int_equal(task_message_append(worker.sandbox, alice.id, "t",
	    "JOB", TASK_MSG_LOG, "preflight", NULL), SBX_OK);
	assert_int_equal(task_message_append(worker.sandbox, alice.id, "t",
	    "JOB", TASK_MSG_LOG, "agent started", NULL), SBX_OK);
	r = results("t", "alice");
	assert_false(json_object_get_boolean(get(r.json, "found")));
	assert_string_equal(str(r.json, "status"), "running");
	m = get(r.json, "messages");
	assert_int_equal(json_object_array_length(m), 2);
	assert_string_equal(str(json_object_array_get_idx(m, 1), "message"),
	    "agent started");
	done(&r);
	/* bob's task of the same name is not alice's */
	r = results("t", "bob");
	assert_int_equal(json_object_object_length(r.json), 2);
	done(&r);
}

static void results_found_is_the_stored_result(void **state)
{
	struct json_object *res = NULL;
	struct handler_reply r;
	static const char stored[] = "{\"taskId\":\"t\",\"success\":true,"
	    "\"result\":\"wrote it\",\"messages\":[{\"type\":\"done\"}],"
	    "\"files\":[{\"path\":\"updates/a.md\"}],\"error\":null,"
	    "\"timestamp\":1700000000000,\"found\":false}";

	(void)state;
	assert_int_equal(json_parse_object(stored, strlen(stored), &res, NULL,
	    0), JSON_OK);
	assert_int_equal(task_result_write(worker.sandbox, alice.id, "t", res,
	    NULL), SBX_OK);
	assert_int_equal(task_message_append(worker.sandbox, alice.id, "t",
	    "JOB", TASK_MSG_DONE, "done", NULL), SBX_OK);
	r = results("t", "alice");
	assert_int_equal(r.status, 200);
	assert_true(json_object_get_boolean(get(r.json, "found")));
	json_object_object_foreach(res, key, val) {
		if (strcmp(key, "found") != 0)
			assert_true(json_object_equal(val, get(r.json, key)));
	}
	assert_int_equal(json_object_object_length(r.json),
	    json_object_object_length(res));
	done(&r);
	json_object_put(res);
}

static void results_sandbox_states(void **state)
{
	struct handler_reply r;

	(void)state;
	assert_int_equal(worker.sandbox->ops->stop(worker.sandbox, alice.id,
	    NULL), SBX_OK);
	r = results("t", "alice");
	assert_int_equal(r.status, 200); /* started and waited for */
	assert_int_equal(state_of(&alice), SBX_STATE_READY);
	done(&r);
	set_state(&alice, "creating");
	r = results("t", "alice");
	assert_int_equal(r.status, 409);
	assert_string_equal(err_code(&r), "SANDBOX_NOT_READY");
	assert_string_equal(r.retry_after, "2");
	done(&r);
	set_state(&alice, "error");
	r = results("t", "alice");
	assert_int_equal(r.status, 500);
	assert_string_equal(err_code(&r), "SANDBOX_ERROR");
	done(&r);
}

/* ---- GET /api/knowledge/query ---- */

static struct handler_reply query(const char *q)
{
	char uri[900];

	if (q == NULL)
		snprintf(uri, sizeof(uri), "/api/knowledge/query?userId=alice");
	else
		snprintf(uri, sizeof(uri),
		    "/api/knowledge/query?userId=alice&query=%s", q);
	return call(handle_knowledge_query, "GET", uri, NULL);
}

/* The entity of the answer with this type and id, or NULL. */
static struct json_object *entity(struct handler_reply *r, const char *type,
    const char *id)
{
	struct json_object *a = get(r->json, "entities");

	for (size_t i = 0; i < json_object_array_length(a); i++) {
		struct json_object *e = json_object_array_get_idx(a, i);

		if (strcmp(str(e, "type"), type) == 0 &&
		    strcmp(str(e, "id"), id) == 0)
			return e;
	}
	return NULL;
}

static void workspace_with_stakeholders(void)
{
	put(".omni-system/entities.json", "{\"version\":1,\"entities\":["
	    "{\"id\":\"jane-doe\",\"type\":\"investor\",\"name\":\"Jane D.\","
	    "\"company\":null,\"path\":\"stakeholders/investors/jane-doe.json\","
	    "\"updated\":\"2025-03-01\"},"
	    "{\"id\":\"old-fund\",\"type\":\"investor\",\"name\":\"Old Fund\","
	    "\"company\":\"Old Fund LP\",\"path\":null,\"updated\":null},"
	    "{\"type\":\"investor\"}, 42]}");
	put("stakeholders/investors/jane-doe.json", "{\"id\":\"jane-doe\","
	    "\"name\":\"Jane Doe\",\"company\":\"Example Ventures\","
	    "\"notes\":[]}");
	put("stakeholders/customers/northwind.json", "{\"name\":\"Northwind\","
	    "\"company\":\"Northwind Traders\"}");
	put("stakeholders/customers/broken.json", "{not json");
	put("stakeholders/customers/README.md", "# Customers\n");
}

static void query_entities_from_both_sources(void **state)
{
	struct json_object *e;
	struct handler_reply r;

	(void)state;
	workspace_with_stakeholders();
	r = query(NULL);
	assert_int_equal(r.status, 200);
	assert_int_equal(json_object_array_length(get(r.json, "entities")), 3);
	e = entity(&r, "investor", "jane-doe");
	assert_non_null(e);
	/* The file's fields win over the index's. */
	assert_string_equal(str(e, "name"), "Jane Doe");
	assert_string_equal(str(e, "company"), "Example Ventures");
	assert_string_equal(str(e, "path"),
	    "stakeholders/investors/jane-doe.json");
	assert_int_equal(json_object_object_length(e), 5);
	e = entity(&r, "investor", "old-fund");
	assert_string_equal(str(e, "company"), "Old Fund LP");
	assert_null(get(e, "path"));
	/* A file without an id is named by its file. */
	e = entity(&r, "customer", "northwind");
	assert_non_null(e);
	assert_string_equal(str(e, "path"),
	    "stakeholders/customers/northwind.json");
	assert_string_equal(str(r.json, "query"), "");
	done(&r);
	/* Filtered on id, name or company, without case. */
	r = query("EXAMPLE");
	assert_int_equal(json_object_array_length(get(r.json, "entities")), 1);
	assert_non_null(entity(&r, "investor", "jane-doe"));
	assert_string_equal(str(r.json, "query"), "EXAMPLE");
	done(&r);
	r = query("northwind%20traders");
	assert_int_equal(json_object_array_length(get(r.json, "entities")), 1);
	done(&r);
}

static void put_result(const char *task, const char *json)
{
	struct json_object *o = NULL;

	assert_int_equal(json_parse_object(json, strlen(json), &o, NULL, 0),
	    JSON_OK);
	assert_int_equal(task_result_write(worker.sandbox, alice.id, task, o,
	    NULL), SBX_OK);
	json_object_put(o);
}

static void query_tasks_newest_first(void **state)
{
	struct json_object *t, *first;
	struct handler_reply r;

	(void)state;
	put_result("old", "{\"success\":true,\"result\":\"March update\","
	    "\"timestamp\":1700000000000,\"error\":null,\"files\":["
	    "{\"path\":\"updates/march.md\",\"content\":\"long text\"}]}");
	put_result("new", "{\"success\":false,\"result\":null,"
	    "\"timestamp\":\"2030-01-02T03:04:05.678Z\",\"error\":\"agent "
	    "failed\",\"files\":[]}");
	put_result("mid", "{\"success\":true,\"result\":{\"summary\":\"April "
	    "memo\"},\"timestamp\":1800000000000,\"files\":[\"memo.md\"]}");
	put(TASK_DIR "/damaged/result.json", "{broken");
	assert_int_equal(task_queued_write(worker.sandbox, alice.id, "queued",
	    "J", NULL), SBX_OK);
	r = query(NULL);
	t = get(r.json, "tasks");
	assert_int_equal(json_object_array_length(t), 3);
	assert_string_equal(str(json_object_array_get_idx(t, 0), "taskId"),
	    "new");
	assert_string_equal(str(json_object_array_get_idx(t, 1), "taskId"),
	    "mid");
	assert_string_equal(str(json_object_array_get_idx(t, 2), "taskId"),
	    "old");
	first = json_object_array_get_idx(t, 0);
	assert_int_equal(json_object_object_length(first), 5);
	assert_false(json_object_get_boolean(get(first, "success")));
	assert_string_equal(str(first, "error"), "agent failed");
	/* Paths only. */
	assert_string_equal(json_object_get_string(json_object_array_get_idx(
	    get(json_object_array_get_idx(t, 2), "files"), 0)),
	    "updates/march.md");
	assert_string_equal(json_object_get_string(json_object_array_get_idx(
	    get(json_object_array_get_idx(t, 1), "files"), 0)), "memo.md");
	done(&r);
	/* The query matches the task id or the result's text. */
	r = query("april");
	t = get(r.json, "tasks");
	assert_int_equal(json_object_array_length(t), 1);
	assert_string_equal(str(json_object_array_get_idx(t, 0), "taskId"),
	    "mid");
	done(&r);
	r = query("OLD");
	assert_int_equal(json_object_array_length(get(r.json, "tasks")), 1);
	done(&r);
}

static void query_patterns_with_line_numbers(void **state)
{
	struct json_object *p, *f, *m;
	struct handler_reply r;
	char *big;

	(void)state;
	put("metrics/current.json", "{\n  \"mrr\": 48000,\n  \"burn\": 30000\n}\n");
	put("updates/2025-04-02-march.md", "# March\r\nMRR grew to 48k.\r\n"
	    "Burn is flat.\r\nmrr again\r\n");
	put("context/deep/a/b/c/d/too-deep.md", "mrr\n");
	put("context/a/b/c/d/deep-enough.md", "mrr\n");
	put_bytes("profile/binary.bin", "mrr\0after", 9);
	put("profile/.hidden.md", "mrr\n");
	put("notes/outside.md", "mrr\n"); /* not a knowledge root */
	big = malloc(KQ_FILE_MAX + 2);
	memset(big, 'a', KQ_FILE_MAX + 1);
	memcpy(big, "mrr", 3);
	big[KQ_FILE_MAX + 1] = '\0';
	put("deliverables/huge.md", big);
	free(big);
	r = query("MRR");
	assert_int_equal(r.status, 200);
	p = get(r.json, "patterns");
	assert_int_equal(json_object_array_length(p), 3);
	/* The roots in their order: metrics, ..., updates, ..., context */
	f = json_object_array_get_idx(p, 0);
	assert_string_equal(str(f, "path"), "metrics/current.json");
	m = get(f, "matches");
	assert_int_equal(json_object_array_length(m), 1);
	assert_int_equal(json_object_get_int(get(json_object_array_get_idx(m,
	    0), "line")), 2);
	assert_string_equal(str(json_object_array_get_idx(m, 0), "text"),
	    "  \"mrr\": 48000,");
	f = json_object_array_get_idx(p, 1);
	assert_string_equal(str(f, "path"), "updates/2025-04-02-march.md");
	m = get(f, "matches");
	assert_int_equal(json_object_array_length(m), 2);
	assert_int_equal(json_object_get_int(get(json_object_array_get_idx(m,
	    0), "line")), 2);
	assert_string_equal(str(json_object_array_get_idx(m, 0), "text"),
	    "MRR grew to 48k.");
	assert_int_equal(json_object_get_int(get(json_object_array_get_idx(m,
	    1), "line")), 4);
	f = json_object_array_get_idx(p, 2);
	assert_string_equal(str(f, "path"), "context/a/b/c/d/deep-enough.md");
	done(&r);
}

/* Regex and shell characters are only ever themselves. */
static void query_is_a_literal(void **state)
{
	struct json_object *p;
	struct handler_reply r;

	(void)state;
	put("updates/a.md", "plain line\nprice is $(x) today\nwild .* card\n");
	put("updates/b.md", "nothing special here\n");
	r = query(".*");
	p = get(r.json, "patterns");
	assert_int_equal(json_object_array_length(p), 1);
	assert_string_equal(str(json_object_array_get_idx(p, 0), "path"),
	    "updates/a.md");
	assert_int_equal(json_object_get_int(get(json_object_array_get_idx(
	    get(json_object_array_get_idx(p, 0), "matches"), 0), "line")), 3);
	assert_string_equal(str(r.json, "query"), ".*");
	done(&r);
	r = query("%24(x)");
	p = get(r.json, "patterns");
	assert_int_equal(json_object_array_length(p), 1);
	assert_int_equal(json_object_get_int(get(json_object_array_get_idx(
	    get(json_object_array_get_idx(p, 0), "matches"), 0), "line")), 2);
	assert_string_equal(str(r.json, "query"), "$(x)");
	done(&r);
	r = query("%5Eplain"); /* "^plain": no anchor, no line holds it */
	assert_int_equal(json_object_array_length(get(r.json, "patterns")), 0);
	done(&r);
	r = query("%3B%20rm%20-rf%20%2F"); /* "; rm -rf /" */
	assert_int_equal(r.status, 200);
	assert_int_equal(json_object_array_length(get(r.json, "patterns")), 0);
	done(&r);
}

/* At most KQ_FILE_MATCHES matches a file; a line's text cut to
 * KQ_LINE_TEXT bytes on a UTF-8 boundary, a stray byte made U+FFFD. */
static void query_bounds_matches_and_line_text(void **state)
{
	struct json_object *m;
	const char *text;
	char file[4096];
	size_t o = 0;
	struct handler_reply r;

	(void)state;
	for (int i = 0; i < 8; i++)
		o += (size_t)snprintf(file + o, sizeof(file) - o,
		    "hit %d\n", i);
	o += (size_t)snprintf(file + o, sizeof(file) - o, "hit \xff");
	for (int i = 0; i < 200; i++)
		o += (size_t)snprintf(file + o, sizeof(file) - o, "\xc3\xa9");
	put("updates/many.md", file);
	put("updates/long.md", file + (strstr(file, "hit \xff") - file));
	r = query("hit");
	m = get(json_object_array_get_idx(get(r.json, "patterns"), 0),
	    "matches");
	assert_string_equal(str(json_object_array_get_idx(get(r.json,
	    "patterns"), 0), "path"), "updates/long.md");
	assert_int_equal(json_object_array_length(m), 1);
	text = str(json_object_array_get_idx(m, 0), "text");
	assert_true(strlen(text) <= KQ_LINE_TEXT);
	assert_true(strlen(text) > KQ_LINE_TEXT - 2);
	assert_int_equal(memcmp(text, "hit \xef\xbf\xbd\xc3\xa9", 9), 0);
	m = get(json_object_array_get_idx(get(r.json, "patterns"), 1),
	    "matches");
	assert_int_equal(json_object_array_length(m), KQ_FILE_MATCHES);
	assert_int_equal(json_object_get_int(get(json_object_array_get_idx(m,
	    KQ_FILE_MATCHES - 1), "line")), KQ_FILE_MATCHES);
	done(&r);
}

static void query_empty_lists_files(void **state)
{
	struct json_object *p, *f;
	struct handler_reply r;

	(void)state;
	put("metrics/current.json", "{}");
	put("profile/founder.md", "# Founder\n");
	r = query("");
	p = get(r.json, "patterns");
	assert_int_equal(json_object_array_length(p), 2);
	f = json_object_array_get_idx(p, 0);
	assert_string_equal(str(f, "path"), "metrics/current.json");
	assert_int_equal(json_object_get_int(get(f, "size")), 2);
	assert_null(get(f, "matches"));
	assert_string_equal(str(json_object_array_get_idx(p, 1), "path"),
	    "profile/founder.md");
	done(&r);
}

static void query_validation_and_states(void **state)
{
	char q[400];
	struct handler_reply r;

	(void)state;
	r = call(handle_knowledge_query, "GET", "/api/knowledge/query", NULL);
	assert_int_equal(r.status, 400);
	assert_string_equal(err_field(&r), "userId");
	done(&r);
	r = query("a%0Ab");
	assert_int_equal(r.status, 400);
	assert_string_equal(err_field(&r), "query");
	done(&r);
	r = query("%FF");
	assert_int_equal(r.status, 400);
	done(&r);
	memset(q, 'a', KQ_QUERY_MAX + 1);
	q[KQ_QUERY_MAX + 1] = '\0';
	r = query(q);
	assert_int_equal(r.status, 400);
	done(&r);
	q[KQ_QUERY_MAX] = '\0';
	r = query(q);
	assert_int_equal(r.status, 200);
	done(&r);
	cfg.auth = CFG_AUTH_JWT;
	subject = "bob";
	r = query("x");
	assert_int_equal(r.status, 403);
	done(&r);
	cfg.auth = CFG_AUTH_NONE;
	subject = NULL;
	set_state(&alice, "creating");
	r = query("x");
	assert_int_equal(r.status, 409);
	assert_string_equal(r.retry_after, "2");
	done(&r);
}

#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(process_validation_names_the_field),
		T(process_sends_the_event_and_marks_queued),
		T(process_passes_model_and_env),
		T(process_other_users_sandbox_is_404),
		T(process_creating_is_409),
		T(process_starts_a_stopped_sandbox),
		T(process_error_state_is_500),
		T(process_send_failure_is_503),
		T(process_jwt_user_must_be_the_subject),
		T(process_logs_no_user_text),
		T(results_validation),
		T(results_not_found_queued_running),
		T(results_found_is_the_stored_result),
		T(results_sandbox_states),
		T(query_entities_from_both_sources),
		T(query_tasks_newest_first),
		T(query_patterns_with_line_numbers),
		T(query_is_a_literal),
		T(query_bounds_matches_and_line_text),
		T(query_empty_lists_files),
		T(query_validation_and_states),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
