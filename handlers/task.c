/*
 * task.c -- GET /api/task/results?taskId=&userId=, and the steps every
 * handler that reads a user's sandbox shares (handlers.h): the userId
 * parameter and its owner rule, and the user's sandbox brought to a
 * state its files can be read in.
 *
 * The answer is read from the sandbox on each request (tasks.h): a
 * stored result, else the progress so far.  No worker remembers a task,
 * so any worker answers for a run another one queued.
 */
#include <stdio.h>
#include <string.h>

#include <json-c/json.h>

#include "handlers.h"
#include "omni_worker.h"
#include "sandbox.h"
#include "tasks.h"

void handler_sandbox_not_ready(struct http_response *resp)
{
	char ra[24];

	snprintf(ra, sizeof(ra), "%d", HANDLER_NOT_READY_RETRY_S);
	http_response_set_header(resp, "Retry-After", ra);
	http_response_error(resp, API_SANDBOX_NOT_READY,
	    "the sandbox is starting; retry shortly", NULL);
}

void handler_sandbox_in_error(struct http_response *resp)
{
	struct json_object *d = json_object_new_object();

	if (d != NULL)
		json_object_object_add(d, "reason",
		    json_object_new_string("sandbox_error"));
	http_response_error(resp, API_SANDBOX_ERROR,
	    "the sandbox is in error; POST /api/sandbox/create replaces it", d);
}

/* The query parameter 'name' when 'valid' takes it; otherwise NULL with
 * the 400 written ('rule' says what a valid one is). */
static const char *checked_param(struct http_request *req,
    struct http_response *resp, const char *name, int (*valid)(const char *),
    const char *rule, const char *problem)
{
	const char *v = http_param(req, name);
	char msg[160];

	if (v == NULL || v[0] == '\0') {
		snprintf(msg, sizeof(msg), "query parameter %s is required",
		    name);
		http_response_field_error(resp, API_VALIDATION_ERROR, msg, name,
		    "is required");
		return NULL;
	}
	if (!valid(v)) {
		snprintf(msg, sizeof(msg), "%s must be %s", name, rule);
		http_response_field_error(resp, API_VALIDATION_ERROR, msg, name,
		    problem);
		return NULL;
	}
	return v;
}

const char *handler_user_param(struct http_request *req,
    struct http_response *resp)
{
	const char *user_id = checked_param(req, resp, "userId",
	    sbx_user_id_valid, "1 to " HANDLER_STR(SBX_USER_CHARS)
	    " characters of printable ASCII without '/'", "is not a user id");

	if (user_id != NULL && !sandbox_subject_is(req, user_id)) {
		http_response_field_error(resp, API_FORBIDDEN,
		    "userId does not match the token's subject", "userId",
		    "is not the token's subject");
		return NULL;
	}
	return user_id;
}

/* A stopped sandbox: started and waited for, bounded. */
static int start_and_wait(struct http_request *req,
    struct http_response *resp, struct sbx_provider *p,
    struct sbx_info *info, const char *op)
{
	struct sbx_info ready;
	struct sbx_error why;
	enum sbx_err e;

	memset(&ready, 0, sizeof(ready));
	e = sbx_wait_ready(p, info->id, HANDLER_START_WAIT_MS, &ready, &why);
	if (e == SBX_OK) {
		*info = ready;
		return 0;
	}
	if (e == SBX_ETIMEOUT)
		handler_sandbox_not_ready(resp);
	else if (e == SBX_ECONFLICT)
		handler_sandbox_in_error(resp); /* it went to error */
	else
		sandbox_error_response(req, resp, &why, op);
	return -1;
}

int handler_user_sandbox(struct http_request *req,
    struct http_response *resp, const char *user_id, const char *op,
    struct sbx_provider **p, struct sbx_info *info)
{
	struct omni_worker *w = omni_worker_of(req);
	struct sbx_error why;

	memset(info, 0, sizeof(*info));
	if (w == NULL || (*p = w->sandbox) == NULL) {
		http_response_error(resp, API_SERVICE_UNAVAILABLE,
		    "sandbox provider not initialised", NULL);
		return -1;
	}
	if (sbx_find_for_user(*p, user_id, info, &why) != SBX_OK) {
		sandbox_error_response(req, resp, &why, op);
		return -1;
	}
	switch (info->state) {
	case SBX_STATE_READY:
		return 0;
	case SBX_STATE_STOPPED:
		return start_and_wait(req, resp, *p, info, op);
	case SBX_STATE_CREATING:
		handler_sandbox_not_ready(resp);
		return -1;
	case SBX_STATE_ERROR:
	default:
		handler_sandbox_in_error(resp);
		return -1;
	}
}

/* The taskId query parameter, or NULL with a 400 written. */
static const char *task_param(struct http_request *req,
    struct http_response *resp)
{
	return checked_param(req, resp, "taskId", task_id_valid, "1 to "
	    HANDLER_STR(TASK_ID_CHARS) " characters of letters, digits, '_' "
	    "and '-'", "is not a task id");
}

/* {found: true} and every field of the stored result ('found' is
 * ours; the task id the request's when the result has none). */
static struct json_object *found_answer(const char *task_id,
    struct json_object *result)
{
	struct json_object *o = json_object_new_object();

	if (o == NULL)
		return NULL;
	json_object_object_add(o, "found", json_object_new_boolean(1));
	json_object_object_foreach(result, key, val) {
		if (strcmp(key, "found") != 0)
			json_object_object_add(o, key, json_object_get(val));
	}
	if (!json_object_object_get_ex(o, "taskId", NULL))
		json_object_object_add(o, "taskId",
		    json_object_new_string(task_id));
	return o;
}

/*
 * {found: false, taskId} and where the task stands: running with its
 * messages once it has any, queued when only the marker is there,
 * nothing more for a task never heard of.  0, or -1 with the provider's
 * error in 'why'.
 */
static int pending_answer(struct sbx_provider *p, const char *sandbox_id,
    const char *task_id, struct json_object **out, struct sbx_error *why)
{
	struct json_object *o, *msgs = NULL, *queued = NULL;
	const char *status = NULL;
	enum sbx_err e;

	*out = NULL;
	if (task_messages_read(p, sandbox_id, task_id, &msgs, why) != SBX_OK)
		return -1;
	if (json_object_array_length(msgs) > 0)
		status = "running";
	else if ((e = task_queued_read(p, sandbox_id, task_id, &queued,
	    why)) == SBX_OK)
		status = "queued";
	else if (e != SBX_ENOTFOUND) {
		json_object_put(msgs);
		return -1;
	}
	json_object_put(queued);
	if ((o = json_object_new_object()) == NULL) {
		json_object_put(msgs);
		return 0; /* http_response_json answers 500 for NULL */
	}
	json_object_object_add(o, "found", json_object_new_boolean(0));
	json_object_object_add(o, "taskId", json_object_new_string(task_id));
	if (status != NULL) {
		json_object_object_add(o, "status",
		    json_object_new_string(status));
		json_object_object_add(o, "messages", msgs);
	} else
		json_object_put(msgs);
	*out = o;
	return 0;
}

void handle_task_results(struct http_request *req,
    struct http_response *resp)
{
	struct json_object *result = NULL, *answer = NULL;
	const char *task_id, *user_id;
	struct sbx_provider *p;
	struct sbx_info info;
	struct sbx_error why;
	enum sbx_err e;

	if ((task_id = task_param(req, resp)) == NULL ||
	    (user_id = handler_user_param(req, resp)) == NULL ||
	    handler_user_sandbox(req, resp, user_id, "task_results", &p,
	    &info) != 0)
		return;
	e = task_result_read(p, info.id, task_id, &result, &why);
	if (e == SBX_OK) {
		answer = found_answer(task_id, result);
		json_object_put(result);
	} else if (e != SBX_ENOTFOUND ||
	    pending_answer(p, info.id, task_id, &answer, &why) != 0) {
		sandbox_error_response(req, resp, &why, "task_results");
		return;
	}
	http_response_json(resp, 200, answer);
}
