/*
 * process_knowledge.c -- the durable function process-knowledge, on
 * <prefix>/process.knowledge {taskId, sandboxId, userId, input, model,
 * jobId, env?}: the founder's notes go to the agent CLI in the founder's
 * own sandbox, and what it wrote comes back as the task's stored result.
 *
 *   preflight      the sandbox is the user's and ready (started when
 *                  stopped), the workspace, the agent CLI and its API key
 *                  are there
 *   start-agent    the input as the job's stdin file, the agent started in
 *                  the background as sandbox job <jobId> (sandbox.h): a
 *                  retried start finds the job and starts nothing
 *   check-agent    one status look, then step.sleep, until the agent ends
 *                  or OMNI_AGENT_DEADLINE passes (then it is killed)
 *   collect-files  the documents the run created or changed
 *   store-result   .omni/tasks/<taskId>/result.json (tasks.h)
 *
 * No HTTP request waits for the agent: each call request does one short
 * step, and the run's state is Inngest's (or the local executor's), so a
 * restart of the pool, the executor or the front server only delays it.
 * Every way a run can end -- a failed preflight, an agent that fails,
 * times out or is lost, a step that fails for good -- ends in a stored
 * result that says so, unless the sandbox is not the user's (then nothing
 * is written to it) or gone.  Progress goes to messages.jsonl as it
 * happens.  Nothing of the user's text is logged.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "agent.h"
#include "config.h"
#include "config_values.h"
#include "functions.h"
#include "inngest_step.h"
#include "json_util.h"
#include "omni_worker.h"
#include "sandbox.h"
#include "shell_quote.h"
#include "tasks.h"
#include "timeutil.h"

#define READY_WAIT_MS 60000       /* a stopped sandbox starting */
#define PREFLIGHT_TIMEOUT_S 30
#define MAX_CHECKS 400            /* check-agent steps in one run: with
                                   * the sleeps, within the 1000 steps
                                   * Inngest allows a run */
#define NAP_GROWTH 10             /* a nap is at least 1/10 of the time
                                   * the agent has run */
#define STDOUT_MAX (1u << 20)     /* the agent's answer read back */
#define RESULT_TEXT_MAX (256u << 10)
#define STDERR_TAIL 2000

/* Preflight's exit codes for what is missing. */
#define NO_WORKSPACE 10
#define NO_CLI 11
#define NO_KEY 12

struct pk {
	struct sbx_provider *p;
	const struct omni_config *cfg;
	const char *task_id, *sandbox_id, *user_id, *input, *model, *job_id;
	size_t input_len;
	struct json_object *env;  /* borrowed from the event, or NULL */
	long long started_ms;     /* wall clock, from start-agent's output */
	long long deadline_ms;
	int last_check;           /* the run's last allowed check-agent */
	long long since_ms;       /* the input's mtime (sandbox clock) */
};

/* How the agent's part ended, for store-result. */
struct outcome {
	const char *error;        /* NULL: the agent ended by itself */
	int started;              /* start-agent succeeded */
	int exited, exit_code;
	struct json_object *files; /* borrowed */
};

/* ---- helpers -------------------------------------------------------- */

static long long member_int(struct json_object *o, const char *key)
{
	struct json_object *v;

	if (json_object_object_get_ex(o, key, &v) &&
	    json_object_is_type(v, json_type_int))
		return json_object_get_int64(v);
	return 0;
}

static int member_bool(struct json_object *o, const char *key)
{
	struct json_object *v;

	return json_object_object_get_ex(o, key, &v) &&
	    json_object_is_type(v, json_type_boolean) &&
	    json_object_get_boolean(v);
}

/* Progress for a client following the task; best effort: a message that
 * cannot be written loses nothing of the run. */
static void say(const struct pk *k, enum task_msg type, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void say(const struct pk *k, enum task_msg type, const char *fmt, ...)
{
	char text[TASK_MESSAGE_CHARS];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	task_message_append(k->p, k->sandbox_id, k->task_id, k->job_id, type,
	    text, NULL);
}

/* A provider failure inside a step: retried by the server, with the
 * provider's hint when it gave one. */
static enum ing_rc provider_retry(struct ing_ctx *ctx,
    const struct sbx_error *why, const char *what)
{
	if (why->retry_after_s > 0)
		return ing_fail_retry_after(ctx, why->retry_after_s, "%s: %s",
		    what, sbx_strerror(why->code));
	return ing_fail(ctx, ING_RC_RETRY, "SandboxError", "%s: %s", what,
	    sbx_strerror(why->code));
}

static enum ing_rc oom(struct ing_ctx *ctx)
{
	return ing_fail(ctx, ING_RC_RETRY, NULL, "out of memory");
}

/* ---- the event ---------------------------------------------------------- */

static int parse_event(struct ing_ctx *ctx, struct pk *k, char *why,
    size_t len)
{
	struct json_object *data, *v;
	struct omni_worker *w = ing_ctx_app_data(ctx);

	if (w == NULL || w->sandbox == NULL) {
		snprintf(why, len, "no sandbox provider in this worker");
		return -1;
	}
	k->p = w->sandbox;
	k->cfg = w->cfg;
	if (!json_object_object_get_ex(ing_ctx_event(ctx), "data", &data) ||
	    !json_object_is_type(data, json_type_object)) {
		snprintf(why, len, "event.data must be an object");
		return -1;
	}
	k->task_id = json_str_member(data, "taskId");
	k->sandbox_id = json_str_member(data, "sandboxId");
	k->user_id = json_str_member(data, "userId");
	k->model = json_str_member(data, "model");
	k->job_id = json_str_member(data, "jobId");
	if (json_object_object_get_ex(data, "input", &v) &&
	    json_object_is_type(v, json_type_string)) {
		k->input = json_object_get_string(v);
		k->input_len = (size_t)json_object_get_string_len(v);
	}
	if (json_object_object_get_ex(data, "env", &v) &&
	    json_object_is_type(v, json_type_object))
		k->env = v;
	if (!task_id_valid(k->task_id))
		snprintf(why, len, "data.taskId is missing or not a safe id");
	else if (k->sandbox_id == NULL || !sbx_id_valid(k->sandbox_id))
		snprintf(why, len, "data.sandboxId is missing or invalid");
	else if (k->user_id == NULL || !sbx_user_id_valid(k->user_id))
		snprintf(why, len, "data.userId is missing or invalid");
	else if (!sbx_job_id_valid(k->job_id))
		snprintf(why, len, "data.jobId is missing or not a safe id");
	else if (k->input == NULL || k->input_len == 0 ||
	    strlen(k->input) != k->input_len)
		snprintf(why, len, "data.input must be a non-empty string "
		    "without NUL bytes");
	else if (k->model == NULL ||
	    !cfgval_model_allowed(k->cfg->agent_models, k->model))
		snprintf(why, len, "data.model is not one of "
		    "OMNI_AGENT_MODELS");
	else
		return 0;
	return -1;
}

/* ---- preflight ------------------------------------------------------ */

/* {ok, store, error}: 'store' says whether a result may be written to
 * the sandbox at all. */
static enum ing_rc verdict(struct ing_ctx *ctx, struct json_object **out,
    int ok, int store, const char *error)
{
	if ((*out = json_object_new_object()) == NULL)
		return oom(ctx);
	json_object_object_add(*out, "ok", json_object_new_boolean(ok));
	json_object_object_add(*out, "store", json_object_new_boolean(store));
	json_object_object_add(*out, "error", error != NULL ?
	    json_object_new_string(error) : NULL);
	return ING_RC_OK;
}

/* One command checks the three things, each with its own exit code. */
static char *preflight_script(const struct pk *k)
{
	struct agent_argv a;
	char *prog, *script = NULL;
	const char *key = k->cfg->agent_key_name;
	int need_key = key != NULL && key[0] != '\0' &&
	    k->cfg->agent_key == NULL;

	if (agent_argv_build(&a, k->cfg->agent_cmd, k->model) != 0 ||
	    (prog = shell_quote_dup(a.v[0])) == NULL)
		return NULL;
	/* 'key' passed cfgval_check_env_name: a plain variable name. */
	if (asprintf(&script, "[ -f .omni-system/README.md ] || exit %d; "
	    "command -v %s >/dev/null 2>&1 || exit %d; %s%s%s%s exit 0",
	    NO_WORKSPACE, prog, NO_CLI, need_key ? "[ -n \"${" : "",
	    need_key ? key : "", need_key ? ":-}\" ] || exit " : "",
	    need_key ? "12;" : "") < 0)
		script = NULL;
	free(prog);
	return script;
}

static enum ing_rc step_preflight(struct ing_ctx *ctx, void *arg,
    struct json_object **out)
{
	struct pk *k = arg;
	struct sbx_exec_opts opts = { NULL, PREFLIGHT_TIMEOUT_S, NULL, 4096 };
	struct sbx_exec_result r;
	struct sbx_info info;
	struct sbx_error why;
	char msg[512];
	char *script;
	enum sbx_err e;

	e = sbx_get(k->p, k->sandbox_id, &info, &why);
	if (e == SBX_ENOTFOUND)
		return verdict(ctx, out, 0, 0, "the sandbox does not exist");
	if (e != SBX_OK)
		return provider_retry(ctx, &why, "preflight: the sandbox");
	/* Never touch another user's sandbox, not even to say so. */
	if (strcmp(info.user_id, k->user_id) != 0)
		return verdict(ctx, out, 0, 0, "the sandbox is not this "
		    "user's");
	if (info.state == SBX_STATE_ERROR)
		return verdict(ctx, out, 0, 0, "the sandbox is in error");
	if (info.state != SBX_STATE_READY &&
	    sbx_wait_ready(k->p, k->sandbox_id, READY_WAIT_MS, &info, &why) !=
	    SBX_OK)
		return provider_retry(ctx, &why, "preflight: starting the "
		    "sandbox");
	say(k, TASK_MSG_LOG, "preflight: checking the workspace and the "
	    "agent");
	if ((script = preflight_script(k)) == NULL)
		return oom(ctx);
	e = sbx_exec(k->p, k->sandbox_id, script, &opts, &r, &why);
	free(script);
	if (e != SBX_OK)
		return provider_retry(ctx, &why, "preflight: checking");
	msg[0] = '\0';
	if (r.exit_code == NO_WORKSPACE)
		snprintf(msg, sizeof(msg), "the workspace is missing: no "
		    ".omni-system/README.md in the sandbox home (make the "
		    "sandbox from the workspace template or snapshot)");
	else if (r.exit_code == NO_CLI)
		snprintf(msg, sizeof(msg), "the agent CLI is not installed in "
		    "the sandbox (OMNI_AGENT_CMD)");
	else if (r.exit_code == NO_KEY)
		snprintf(msg, sizeof(msg), "the agent's API key is missing: "
		    "%s is not set in the sandbox (set OMNI_AGENT_KEY, or give "
		    "the sandbox %s)", k->cfg->agent_key_name,
		    k->cfg->agent_key_name);
	else if (r.exit_code != 0)
		snprintf(msg, sizeof(msg), "the preflight check failed "
		    "(exit %d)", r.exit_code);
	sbx_exec_result_free(&r);
	if (msg[0] != '\0')
		return verdict(ctx, out, 0, 1, msg); /* store-result says it */
	return verdict(ctx, out, 1, 1, NULL);
}

/* ---- start-agent ---------------------------------------------------- */

/* The job's environment: the request's variables, then the agent's key
 * when Omni holds it.  Strings live in 'ctx'. */
static const char **job_env(struct ing_ctx *ctx, const struct pk *k)
{
	const char **env = calloc(SBX_ENV_MAX + 1, sizeof(*env));
	size_t n = 0;

	if (env == NULL || ing_ctx_defer(ctx, free, env) != 0)
		return NULL;
	if (k->env != NULL) {
		json_object_object_foreach(k->env, name, val) {
			if (n >= SBX_ENV_MAX - 1 ||
			    !json_object_is_type(val, json_type_string))
				continue;
			env[n++] = ing_ctx_printf(ctx, "%s=%s", name,
			    json_object_get_string(val));
		}
	}
	if (k->cfg->agent_key != NULL)
		env[n++] = ing_ctx_printf(ctx, "%s=%s", k->cfg->agent_key_name,
		    k->cfg->agent_key);
	for (size_t i = 0; i < n; i++)
		if (env[i] == NULL)
			return NULL;
	return env;
}

/* The mtime of the job's input file by the sandbox's clock: files the
 * agent writes are at least as new. */
static long long input_mtime(const struct pk *k)
{
	struct sbx_file_list list;
	char dir[128];
	long long t = 0;

	snprintf(dir, sizeof(dir), SBX_JOB_DIR "/%s", k->job_id);
	if (sbx_list_files(k->p, k->sandbox_id, dir, &list, NULL) != SBX_OK)
		return 0;
	for (size_t i = 0; i < list.count; i++)
		if (strcmp(list.entries[i].name, "input") == 0)
			t = list.entries[i].mtime_ms;
	sbx_file_list_free(&list);
	return t;
}

static enum ing_rc step_start(struct ing_ctx *ctx, void *arg,
    struct json_object **out)
{
	struct pk *k = arg;
	struct agent_argv a;
	struct sbx_job_status st;
	struct sbx_job_spec spec;
	struct sbx_error why;
	char path[128];
	const char **env;
	int already = 0;
	enum sbx_err e;

	if (agent_argv_build(&a, k->cfg->agent_cmd, k->model) != 0)
		return ing_fail(ctx, ING_RC_NO_RETRY, "ConfigError",
		    "OMNI_AGENT_CMD has too many words");
	if ((env = job_env(ctx, k)) == NULL)
		return oom(ctx);
	e = sbx_job_status(k->p, k->sandbox_id, k->job_id, &st, &why);
	if (e == SBX_OK) {
		already = 1;
	} else if (e != SBX_ENOTFOUND) {
		return provider_retry(ctx, &why, "start-agent: the job");
	} else {
		sbx_job_path(path, sizeof(path), k->job_id, "input");
		e = sbx_write_file(k->p, k->sandbox_id, path, k->input,
		    k->input_len, &why);
		if (e != SBX_OK)
			return provider_retry(ctx, &why, "start-agent: the "
			    "input");
		spec.job_id = k->job_id;
		spec.argv = a.v;
		spec.env = env;
		spec.network = k->cfg->agent_network;
		e = sbx_job_start(k->p, k->sandbox_id, &spec, &already, &why);
		if (e == SBX_EINVAL)
			return ing_fail(ctx, ING_RC_NO_RETRY, "InvalidAgent",
			    "the agent's command or environment was refused");
		if (e != SBX_OK)
			return provider_retry(ctx, &why, "start-agent");
	}
	say(k, TASK_MSG_LOG, already ? "the agent was already started" :
	    "the agent started (model %s)", k->model);
	if ((*out = json_object_new_object()) == NULL)
		return oom(ctx);
	json_object_object_add(*out, "startedAt",
	    json_object_new_int64(time_real_ms()));
	json_object_object_add(*out, "since",
	    json_object_new_int64(input_mtime(k)));
	json_object_object_add(*out, "already",
	    json_object_new_boolean(already));
	return ING_RC_OK;
}

/* ---- check-agent ---------------------------------------------------- */

static enum ing_rc state_out(struct ing_ctx *ctx, struct json_object **out,
    const char *state, int code)
{
	if ((*out = json_object_new_object()) == NULL)
		return oom(ctx);
	json_object_object_add(*out, "state", json_object_new_string(state));
	/* When it looked: the next nap depends on it, and a replay must
	 * compute the same one. */
	json_object_object_add(*out, "at", json_object_new_int64(
	    time_real_ms()));
	if (strcmp(state, "exited") == 0)
		json_object_object_add(*out, "exitCode",
		    json_object_new_int(code));
	return ING_RC_OK;
}

static enum ing_rc step_check(struct ing_ctx *ctx, void *arg,
    struct json_object **out)
{
	struct pk *k = arg;
	struct sbx_job_status st;
	struct sbx_error why;
	enum sbx_err e;

	e = sbx_job_status(k->p, k->sandbox_id, k->job_id, &st, &why);
	if (e == SBX_ENOTFOUND)
		return state_out(ctx, out, "lost", 0);
	if (e != SBX_OK)
		return provider_retry(ctx, &why, "check-agent");
	if (st.state == SBX_JOB_EXITED)
		return state_out(ctx, out, "exited", st.exit_code);
	if (st.state == SBX_JOB_LOST)
		return state_out(ctx, out, "lost", 0);
	if (time_real_ms() < k->deadline_ms && !k->last_check)
		return state_out(ctx, out, "running", 0);
	if ((e = sbx_job_kill(k->p, k->sandbox_id, k->job_id, &why)) !=
	    SBX_OK)
		return provider_retry(ctx, &why, "check-agent: killing the "
		    "agent");
	say(k, TASK_MSG_ERROR, "the agent did not finish within %d s and was "
	    "killed", k->cfg->agent_deadline_s);
	return state_out(ctx, out, "timeout", 0);
}

/* ---- collect-files and store-result --------------------------------- */

static enum ing_rc step_collect(struct ing_ctx *ctx, void *arg,
    struct json_object **out)
{
	struct pk *k = arg;
	struct sbx_error why;
	enum sbx_err e;

	e = agent_collect_files(k->p, k->sandbox_id, k->since_ms, out, &why);
	if (e != SBX_OK)
		return provider_retry(ctx, &why, "collect-files");
	say(k, TASK_MSG_LOG, "collected %zu files",
	    json_object_array_length(*out));
	return ING_RC_OK;
}

/* A job file, whole up to 'max' (NULL when missing or larger). */
static char *job_file(const struct pk *k, const char *name, size_t max,
    size_t *len, int *too_large)
{
	char path[128], *data = NULL;
	enum sbx_err e;

	*len = 0;
	*too_large = 0;
	sbx_job_path(path, sizeof(path), k->job_id, name);
	e = sbx_read_file(k->p, k->sandbox_id, path, max, &data, len, NULL);
	*too_large = e == SBX_ETOOLARGE;
	return e == SBX_OK ? data : NULL;
}

/* The agent's answer and, when it failed, why: into 'res'. */
static void add_answer(struct ing_ctx *ctx, const struct pk *k,
    const struct outcome *o, struct json_object *res, int *success)
{
	size_t len, elen;
	int big, ebig, is_error = 0;
	char *out = job_file(k, "stdout", STDOUT_MAX, &len, &big);
	char *err = job_file(k, "stderr", STDOUT_MAX, &elen, &ebig);
	struct json_object *answer, *tail;
	const char *error = o->error;

	if (out != NULL)
		answer = agent_parse_output(out, len, RESULT_TEXT_MAX,
		    &is_error);
	else
		answer = json_object_new_string(big ? "(the agent's output "
		    "is larger than 1 MiB)" : "");
	json_object_object_add(res, "result", answer);
	*success = error == NULL && o->exited && o->exit_code == 0 &&
	    !is_error;
	if (error == NULL && o->exited && o->exit_code != 0) {
		tail = agent_tail(err != NULL ? err : "", elen, STDERR_TAIL);
		error = ing_ctx_printf(ctx, "the agent exited with code %d%s%s",
		    o->exit_code, json_object_get_string_len(tail) > 0 ?
		    ": " : "", json_object_get_string(tail));
		json_object_object_add(res, "exitCode",
		    json_object_new_int(o->exit_code));
		json_object_object_add(res, "stderr", tail);
	} else if (error == NULL && is_error) {
		error = "the agent reported an error";
	}
	json_object_object_add(res, "error", *success ? NULL :
	    json_object_new_string(error != NULL ? error : "failed"));
	free(out);
	free(err);
}

struct store_arg {
	struct pk *k;
	const struct outcome *o;
};

static enum ing_rc step_store(struct ing_ctx *ctx, void *arg,
    struct json_object **out)
{
	struct store_arg *sa = arg;
	struct pk *k = sa->k;
	struct json_object *res, *msgs = NULL, *err;
	struct sbx_error why;
	int success = 0;
	enum sbx_err e;

	if ((res = ing_ctx_keep(ctx, json_object_new_object())) == NULL)
		return oom(ctx);
	json_object_object_add(res, "taskId",
	    json_object_new_string(k->task_id));
	json_object_object_add(res, "jobId", json_object_new_string(k->job_id));
	json_object_object_add(res, "success", NULL); /* keeps the order */
	add_answer(ctx, k, sa->o, res, &success);
	json_object_object_add(res, "success",
	    json_object_new_boolean(success));
	json_object_object_add(res, "files", sa->o->files != NULL ?
	    json_object_get(sa->o->files) : json_object_new_array());
	json_object_object_get_ex(res, "error", &err);
	if (success)
		say(k, TASK_MSG_RESULT, "the result is stored");
	else
		say(k, TASK_MSG_ERROR, "%s", json_object_get_string(err));
	say(k, TASK_MSG_DONE, "done");
	if (task_messages_read(k->p, k->sandbox_id, k->task_id, &msgs, &why) !=
	    SBX_OK)
		msgs = json_object_new_array();
	json_object_object_add(res, "messages", msgs);
	json_object_object_add(res, "timestamp",
	    json_object_new_int64(time_real_ms()));
	e = task_result_write(k->p, k->sandbox_id, k->task_id, res, &why);
	if (e != SBX_OK)
		return provider_retry(ctx, &why, "store-result");
	/* What the run returns: the files without their text. */
	if ((*out = json_object_new_object()) == NULL)
		return oom(ctx);
	json_object_object_add(*out, "success",
	    json_object_new_boolean(success));
	json_object_object_add(*out, "result", json_object_get(
	    json_object_object_get(res, "result")));
	json_object_object_add(*out, "error", json_object_get(err));
	json_object_object_add(*out, "files", json_object_new_array());
	if (sa->o->files != NULL) {
		struct json_object *list = json_object_object_get(*out, "files");

		for (size_t i = 0; i < json_object_array_length(sa->o->files);
		    i++) {
			struct json_object *f = json_object_array_get_idx(
			    sa->o->files, i), *path;

			if (json_object_object_get_ex(f, "path", &path))
				json_object_array_add(list,
				    json_object_get(path));
		}
	}
	return ING_RC_OK;
}

/* ---- the function ----------------------------------------------------- */

/* The message of the step that failed for good. */
static const char *step_failure(struct ing_ctx *ctx, const char *step)
{
	const struct ing_step_error *se = ing_step_error(ctx);

	return ing_ctx_printf(ctx, "step %s failed: %s", step,
	    se != NULL ? se->message : "unknown error");
}

/*
 * The nap after a check at 'at_ms': OMNI_AGENT_POLL while the agent is
 * young, then a tenth of the time it has run, up to a cap -- a minute, or
 * more when the deadline is so long that MAX_CHECKS would not cover it.  A
 * quick agent is seen soon after it ends; a long one costs few steps.
 */
static int nap_seconds(const struct pk *k, long long at_ms)
{
	const struct omni_config *cfg = k->cfg;
	long long ran_s = (at_ms - k->started_ms) / 1000;
	long long nap = ran_s / NAP_GROWTH;
	int cap = cfg->agent_deadline_s / (MAX_CHECKS / 2) + 1;

	long long left_s = (k->deadline_ms - at_ms + 999) / 1000;

	if (cap < 60)
		cap = 60;
	if (nap > cap)
		nap = cap;
	if (nap < cfg->agent_poll_s)
		nap = cfg->agent_poll_s;
	/* Wake at the deadline, not a nap after it. */
	if (nap > left_s)
		nap = left_s > 1 ? left_s : 1;
	return (int)nap;
}

/* start-agent, then check-agent and sleep until it ends: 'o' says how.
 * Returns what the SDK must see (yield...), else ING_RC_OK. */
static enum ing_rc run_agent(struct ing_ctx *ctx, struct pk *k,
    struct outcome *o)
{
	struct json_object *started, *check;
	const char *state = NULL, *nap;
	enum ing_rc rc;
	int i;

	rc = ing_step_run(ctx, "start-agent", step_start, k, &started);
	if (rc == ING_RC_STEP_FAILED) {
		o->error = step_failure(ctx, "start-agent");
		return ING_RC_OK;
	}
	ING_TRY(rc);
	o->started = 1;
	k->started_ms = member_int(started, "startedAt");
	k->deadline_ms = k->started_ms +
	    (long long)k->cfg->agent_deadline_s * 1000;
	k->since_ms = member_int(started, "since");
	for (i = 0; i < MAX_CHECKS; i++) {
		/* The last check ends the agent whatever its deadline says. */
		k->last_check = i == MAX_CHECKS - 1;
		rc = ing_step_run(ctx, "check-agent", step_check, k, &check);
		if (rc == ING_RC_STEP_FAILED) {
			o->error = step_failure(ctx, "check-agent");
			return ING_RC_OK;
		}
		ING_TRY(rc);
		state = json_str_member(check, "state");
		if (state == NULL || strcmp(state, "running") != 0)
			break;
		nap = ing_ctx_printf(ctx, "%ds", nap_seconds(k,
		    member_int(check, "at")));
		if (nap == NULL)
			return oom(ctx);
		ING_TRY(ing_step_sleep(ctx, "wait-agent", nap));
	}
	if (state != NULL && strcmp(state, "exited") == 0) {
		o->exited = 1;
		o->exit_code = (int)member_int(check, "exitCode");
	} else if (state != NULL && strcmp(state, "lost") == 0) {
		o->error = "the agent's process was lost before it ended "
		    "(was the sandbox restarted?)";
	} else {
		o->error = ing_ctx_printf(ctx, "the agent did not finish "
		    "within %d s and was killed", k->cfg->agent_deadline_s);
	}
	return ING_RC_OK;
}

static enum ing_rc process_knowledge(struct ing_ctx *ctx,
    struct json_object **result)
{
	struct outcome o = { 0 };
	struct store_arg sa = { NULL, &o };
	struct json_object *pre, *stored;
	struct pk k;
	char why[160];
	enum ing_rc rc;

	memset(&k, 0, sizeof(k));
	if (parse_event(ctx, &k, why, sizeof(why)) != 0)
		return ing_fail(ctx, ING_RC_NO_RETRY, "InvalidEvent", "%s",
		    why);
	sa.k = &k;
	rc = ing_step_run(ctx, "preflight", step_preflight, &k, &pre);
	if (rc == ING_RC_STEP_FAILED) {
		o.error = step_failure(ctx, "preflight");
	} else {
		ING_TRY(rc);
		if (!member_bool(pre, "store"))
			return ing_fail(ctx, ING_RC_NO_RETRY, "SandboxError",
			    "%s", json_str_member(pre, "error"));
		if (!member_bool(pre, "ok"))
			o.error = json_str_member(pre, "error");
	}
	if (o.error == NULL)
		ING_TRY(run_agent(ctx, &k, &o));
	if (o.started) {
		/* Also after a timeout: what it wrote so far is the user's. */
		rc = ing_step_run(ctx, "collect-files", step_collect, &k,
		    &o.files);
		if (rc == ING_RC_STEP_FAILED)
			o.files = NULL; /* the answer matters more */
		else
			ING_TRY(rc);
	}
	ING_TRY(ing_step_run(ctx, "store-result", step_store, &sa, &stored));
	*result = json_object_get(stored);
	return ING_RC_OK;
}

/*
 * Ten retries: a call that cannot reach Omni (the front server or the pool
 * restarting) counts as a failed attempt, and with the server's doubling
 * backoff ten of them span minutes (the local executor's defaults: about
 * 17), so a deploy never fails a run that is waiting for its agent.
 */
static struct ing_function process_knowledge_fn = {
	.id = "process-knowledge",
	.name = "Process knowledge",
	.handler = process_knowledge,
	.has_retries = 1,
	.retries = 10,
};

enum ing_err functions_register_process_knowledge(struct ing_app *app,
    const struct omni_config *cfg)
{
	static char event[96];

	snprintf(event, sizeof(event), "%s/process.knowledge",
	    cfg->event_prefix);
	process_knowledge_fn.triggers[0].event = event;
	return ing_app_register(app, &process_knowledge_fn);
}
