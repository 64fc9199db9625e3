/*
 * create_task.c -- the durable function create-task, on <prefix>/
 * create.task {task: {id, ...}, userId, prompt, model?}: the flow the web
 * frontend starts by sending that event to Inngest.
 *
 *   ensure-sandbox      the user's sandbox, made or started as needed
 *                       (sbx_ensure_for_user) and waited for; the task is
 *                       marked queued in it
 *   trigger-processing  sends <prefix>/process.knowledge for the task, with
 *                       the run's id as jobId and event id, so a retried
 *                       send is the same event (Inngest drops the repeat)
 *
 * Returns {taskId, sandboxId, jobId}.
 */
#include <stdio.h>
#include <string.h>

#include <json-c/json.h>

#include "config.h"
#include "config_values.h"
#include "functions.h"
#include "inngest_step.h"
#include "json_util.h"
#include "omni_worker.h"
#include "sandbox.h"
#include "tasks.h"

#define READY_WAIT_MS 60000

struct ct {
	struct sbx_provider *p;
	const struct omni_config *cfg;
	const char *task_id, *user_id, *prompt, *model;
	char job_id[SBX_JOB_ID_CHARS + 1];
};

/* The run id as a job id: Inngest's are ULIDs; anything else is reduced
 * to the characters a job id may hold. */
static void job_id_of(const char *run_id, char out[SBX_JOB_ID_CHARS + 1])
{
	size_t n = 0;

	for (; run_id != NULL && *run_id != '\0' && n < SBX_JOB_ID_CHARS;
	    run_id++)
		if (strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
		    "0123456789_-", *run_id) != NULL)
			out[n++] = *run_id;
	out[n] = '\0';
}

static int parse_event(struct ing_ctx *ctx, struct ct *c, char *why,
    size_t len)
{
	struct omni_worker *w = ing_ctx_app_data(ctx);
	struct json_object *data = NULL, *task = NULL, *v;

	if (w == NULL || w->sandbox == NULL) {
		snprintf(why, len, "no sandbox provider in this worker");
		return -1;
	}
	c->p = w->sandbox;
	c->cfg = w->cfg;
	json_object_object_get_ex(ing_ctx_event(ctx), "data", &data);
	if (data != NULL)
		json_object_object_get_ex(data, "task", &task);
	c->task_id = json_str_member(task, "id");
	c->user_id = json_str_member(data, "userId");
	c->prompt = json_str_member(data, "prompt");
	c->model = json_str_member(data, "model");
	if (c->model == NULL)
		c->model = json_str_member(task, "model");
	job_id_of(ing_ctx_run_id(ctx), c->job_id);
	if (!task_id_valid(c->task_id))
		snprintf(why, len, "data.task.id is missing or not a safe id");
	else if (c->user_id == NULL || !sbx_user_id_valid(c->user_id))
		snprintf(why, len, "data.userId is missing or invalid");
	else if (c->prompt == NULL || c->prompt[0] == '\0' ||
	    !json_object_object_get_ex(data, "prompt", &v) ||
	    (size_t)json_object_get_string_len(v) != strlen(c->prompt))
		snprintf(why, len, "data.prompt must be a non-empty string "
		    "without NUL bytes");
	else if (c->model != NULL &&
	    !cfgval_model_allowed(c->cfg->agent_models, c->model))
		snprintf(why, len, "data.model is not one of "
		    "OMNI_AGENT_MODELS");
	else if (c->job_id[0] == '\0')
		snprintf(why, len, "the run has no usable id");
	else
		return 0;
	return -1;
}

static enum ing_rc step_ensure(struct ing_ctx *ctx, void *arg,
    struct json_object **out)
{
	struct ct *c = arg;
	struct sbx_info info;
	struct sbx_error why;
	enum sbx_err e;

	e = sbx_ensure_for_user(c->p, c->user_id, &info, &why);
	if (e == SBX_OK && info.state != SBX_STATE_READY)
		e = sbx_wait_ready(c->p, info.id, READY_WAIT_MS, &info, &why);
	if (e != SBX_OK) {
		if (why.retry_after_s > 0)
			return ing_fail_retry_after(ctx, why.retry_after_s,
			    "ensure-sandbox: %s", sbx_strerror(e));
		return ing_fail(ctx, e == SBX_EINVAL ? ING_RC_NO_RETRY :
		    ING_RC_RETRY, "SandboxError", "ensure-sandbox: %s",
		    sbx_strerror(e));
	}
	/* Queued from now on: the run sends the event durably. */
	task_queued_write(c->p, info.id, c->task_id, c->job_id, NULL);
	if ((*out = json_object_new_object()) == NULL)
		return ing_fail(ctx, ING_RC_RETRY, NULL, "out of memory");
	json_object_object_add(*out, "sandboxId",
	    json_object_new_string(info.id));
	json_object_object_add(*out, "status",
	    json_object_new_string(sbx_state_name(info.state)));
	return ING_RC_OK;
}

static enum ing_rc create_task(struct ing_ctx *ctx,
    struct json_object **result)
{
	struct json_object *sbx, *ev, *data, *out;
	const char *sid, *model;
	char why[160], name[96], first[72];
	struct ct c;

	memset(&c, 0, sizeof(c));
	if (parse_event(ctx, &c, why, sizeof(why)) != 0)
		return ing_fail(ctx, ING_RC_NO_RETRY, "InvalidEvent", "%s",
		    why);
	ING_TRY(ing_step_run(ctx, "ensure-sandbox", step_ensure, &c, &sbx));
	sid = json_str_member(sbx, "sandboxId");
	cfgval_model_default(c.cfg->agent_models, first, sizeof(first));
	model = c.model != NULL ? c.model : first;
	if (sid == NULL || model == NULL)
		return ing_fail(ctx, ING_RC_RETRY, NULL, "out of memory");
	snprintf(name, sizeof(name), "%s/process.knowledge",
	    c.cfg->event_prefix);
	ev = ing_ctx_keep(ctx, json_object_new_object());
	data = json_object_new_object();
	if (ev == NULL || data == NULL) {
		json_object_put(data);
		return ing_fail(ctx, ING_RC_RETRY, NULL, "out of memory");
	}
	json_object_object_add(ev, "id", json_object_new_string(
	    ing_ctx_printf(ctx, "process-%s", c.job_id)));
	json_object_object_add(ev, "name", json_object_new_string(name));
	json_object_object_add(data, "taskId",
	    json_object_new_string(c.task_id));
	json_object_object_add(data, "sandboxId", json_object_new_string(sid));
	json_object_object_add(data, "userId",
	    json_object_new_string(c.user_id));
	json_object_object_add(data, "input",
	    json_object_new_string(c.prompt));
	json_object_object_add(data, "model", json_object_new_string(model));
	json_object_object_add(data, "jobId", json_object_new_string(c.job_id));
	json_object_object_add(ev, "data", data);
	ING_TRY(ing_step_send_event(ctx, "trigger-processing", ev, NULL));
	if ((out = json_object_new_object()) == NULL)
		return ing_fail(ctx, ING_RC_RETRY, NULL, "out of memory");
	json_object_object_add(out, "taskId",
	    json_object_new_string(c.task_id));
	json_object_object_add(out, "sandboxId", json_object_new_string(sid));
	json_object_object_add(out, "jobId", json_object_new_string(c.job_id));
	*result = out;
	return ING_RC_OK;
}

static struct ing_function create_task_fn = {
	.id = "create-task",
	.name = "Create task",
	.handler = create_task,
	.has_retries = 1,
	.retries = 4,
};

enum ing_err functions_register_create_task(struct ing_app *app,
    const struct omni_config *cfg)
{
	static char event[96];

	snprintf(event, sizeof(event), "%s/create.task", cfg->event_prefix);
	create_task_fn.triggers[0].event = event;
	return ing_app_register(app, &create_task_fn);
}
