/*
 * knowledge.c -- the knowledge endpoints of the contract:
 *
 *   POST /api/knowledge/process {input,sandboxId,userId,taskId,model?,env?}
 *                                  -> 202 {jobId, accepted: true}
 *   GET  /api/knowledge/query?userId=&query=
 *                                  -> 200 {entities, tasks, patterns, query}
 *
 * process only checks and hands over: one <prefix>/process.knowledge
 * event carries the request to the durable function (ARCHITECTURE.md),
 * which runs the agent; no request waits for an agent.  The event is sent
 * before anything is written, so a request that fails leaves the sandbox
 * as it was, and the event's id is the jobId, so a client's retry of the
 * same send is one event for Inngest.
 *
 * The input and env values are user text and secrets: they go into the
 * event and nowhere else -- never into a log line or an error message.
 * The env names are checked here so that a request can neither reach the
 * loader or a shell (sbx_env_entry_valid), nor set Omni's own variables
 * (OMNI_*) or the agent's API key, which Omni alone gives the agent.
 *
 * query reads the user's sandbox through knowledge_query.h.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "config.h"
#include "config_values.h"
#include "handlers.h"
#include "inngest.h"
#include "inngest_event.h"
#include "json_util.h"
#include "knowledge_query.h"
#include "log.h"
#include "omni_worker.h"
#include "sandbox.h"
#include "tasks.h"
#include "timeutil.h"

#define ENV_VARS_MAX 32          /* variables a request may give */
#define MODEL_CHARS 64           /* longest model name (config_values.h) */
#define SEND_RETRY_S 5           /* Retry-After when Inngest is down */
#define RESERVED_ENV_PREFIX "OMNI_"

/* The fields of a process request once checked; all borrowed from the
 * request's JSON body. */
struct process_req {
	const char *input;
	const char *sandbox_id;
	const char *user_id;
	const char *task_id;
	char model[MODEL_CHARS + 1];
	struct json_object *env;     /* NULL when not given */
};

static int field_error(struct http_response *resp, const char *message,
    const char *field, const char *problem)
{
	http_response_field_error(resp, API_VALIDATION_ERROR, message, field,
	    problem);
	return -1;
}

/* Is the string member 'key' holding a NUL byte (a "\u0000" escape)? */
static int has_nul(struct json_object *o, const char *key)
{
	struct json_object *v;

	return json_object_object_get_ex(o, key, &v) &&
	    json_object_is_type(v, json_type_string) &&
	    (size_t)json_object_get_string_len(v) !=
	    strlen(json_object_get_string(v));
}

static int check_input(const struct http_request *req,
    struct http_response *resp, struct process_req *pr)
{
	size_t max = req->cfg != NULL && req->cfg->max_body > 0 ?
	    req->cfg->max_body : (size_t)-1;
	enum json_err je;

	if (has_nul(req->json, "input"))
		return field_error(resp, "input must not contain NUL "
		    "characters", "input", "contains a NUL character");
	je = json_get_string(req->json, "input", max, &pr->input);
	if (je != JSON_OK)
		return field_error(resp, "input must be a non-empty string "
		    "no longer than the body limit", "input",
		    json_strerror(je));
	return 0;
}

static int check_ids(const struct http_request *req,
    struct http_response *resp, struct process_req *pr)
{
	if (json_get_string(req->json, "sandboxId", SBX_ID_CHARS,
	    &pr->sandbox_id) != JSON_OK || !sbx_id_valid(pr->sandbox_id))
		return field_error(resp, "sandboxId must be 1 to "
		    HANDLER_STR(SBX_ID_CHARS) " characters of letters, "
		    "digits, '.', '_' and '-'", "sandboxId",
		    "is not a sandbox id");
	if (json_get_string(req->json, "userId", SBX_USER_CHARS,
	    &pr->user_id) != JSON_OK || !sbx_user_id_valid(pr->user_id))
		return field_error(resp, "userId must be 1 to "
		    HANDLER_STR(SBX_USER_CHARS) " characters of printable "
		    "ASCII without '/'", "userId", "is not a user id");
	if (json_get_string(req->json, "taskId", TASK_ID_CHARS,
	    &pr->task_id) != JSON_OK || !task_id_valid(pr->task_id))
		return field_error(resp, "taskId must be 1 to "
		    HANDLER_STR(TASK_ID_CHARS) " characters of letters, "
		    "digits, '_' and '-'", "taskId", "is not a task id");
	return 0;
}

static int check_model(const struct http_request *req,
    struct http_response *resp, struct process_req *pr)
{
	const char *models = req->cfg != NULL ? req->cfg->agent_models : NULL;
	const char *model = NULL;

	if (json_get_opt_string(req->json, "model", MODEL_CHARS, &model) !=
	    JSON_OK || (model != NULL && !cfgval_model_allowed(models, model)))
		return field_error(resp, "model must be one of the models "
		    "this service offers", "model", "is not an offered model");
	if (model != NULL)
		snprintf(pr->model, sizeof(pr->model), "%s", model);
	else
		cfgval_model_default(models, pr->model, sizeof(pr->model));
	if (pr->model[0] == '\0') {
		/* OMNI_AGENT_MODELS always holds one; a bare test config
		 * may not. */
		http_response_error(resp, API_SERVER_ERROR,
		    "no agent model is configured", NULL);
		return -1;
	}
	return 0;
}

/* Does 's' hold a control character other than tab? */
static int has_control(const char *s)
{
	for (; *s != '\0'; s++) {
		unsigned char c = (unsigned char)*s;

		if ((c < 0x20 && c != '\t') || c == 0x7f)
			return 1;
	}
	return 0;
}

/*
 * One env entry: NULL when acceptable, else the problem.  The name and
 * value are never quoted back: the value may be a secret.
 */
static const char *env_entry_problem(const struct omni_config *cfg,
    const char *name, struct json_object *val)
{
	const char *key = cfg != NULL ? cfg->agent_key_name : NULL;
	const char *v;
	size_t nl, vl;
	char *kv;
	int ok;

	if (!json_object_is_type(val, json_type_string))
		return "values must be strings";
	v = json_object_get_string(val);
	vl = (size_t)json_object_get_string_len(val);
	if (vl != strlen(v) || has_control(v))
		return "values must not contain control characters";
	if (strncmp(name, RESERVED_ENV_PREFIX,
	    strlen(RESERVED_ENV_PREFIX)) == 0)
		return "names starting with " RESERVED_ENV_PREFIX
		    " are reserved";
	if (key != NULL && key[0] != '\0' && strcmp(name, key) == 0)
		return "the agent's API key variable is set by the service";
	if ((nl = strlen(name)) > SBX_ENV_NAME_MAX || vl > SBX_ENV_VALUE_MAX)
		return "a name or value is too long";
	if ((kv = malloc(nl + vl + 2)) == NULL)
		return "could not be checked";
	memcpy(kv, name, nl);
	kv[nl] = '=';
	memcpy(kv + nl + 1, v, vl + 1);
	ok = sbx_env_entry_valid(kv);
	free(kv);
	return ok ? NULL : "names must be variable names ([A-Za-z_]"
	    "[A-Za-z0-9_]*) that no shell or loader reads";
}

static int check_env(const struct http_request *req,
    struct http_response *resp, struct process_req *pr)
{
	struct json_object *env;
	const char *problem;

	pr->env = NULL;
	if (!json_object_object_get_ex(req->json, "env", &env) || env == NULL)
		return 0;
	if (!json_object_is_type(env, json_type_object) ||
	    json_object_object_length(env) > ENV_VARS_MAX)
		return field_error(resp, "env must be an object of at most "
		    HANDLER_STR(ENV_VARS_MAX) " string values", "env",
		    "is not an object of at most "
		    HANDLER_STR(ENV_VARS_MAX) " values");
	json_object_object_foreach(env, name, val) {
		if ((problem = env_entry_problem(req->cfg, name, val)) != NULL)
			return field_error(resp, "env holds a variable that "
			    "is not allowed", "env", problem);
	}
	pr->env = env;
	return 0;
}

/* Every field of the body, each failure a 400 naming its field. */
static int check_request(const struct http_request *req,
    struct http_response *resp, struct process_req *pr)
{
	memset(pr, 0, sizeof(*pr));
	if (check_input(req, resp, pr) != 0 || check_ids(req, resp, pr) != 0 ||
	    check_model(req, resp, pr) != 0 || check_env(req, resp, pr) != 0)
		return -1;
	if (!sandbox_subject_is(req, pr->user_id)) {
		http_response_field_error(resp, API_FORBIDDEN,
		    "userId does not match the token's subject", "userId",
		    "is not the token's subject");
		return -1;
	}
	return 0;
}

/*
 * The sandbox of the request: it must be userId's (another user's is
 * answered as an unknown one, 404) and able to take a run: a stopped one
 * is started and the run goes on (its first step waits for it).  0, or
 * -1 with the response written.
 */
static int process_sandbox(struct http_request *req,
    struct http_response *resp, struct sbx_provider *p,
    const struct process_req *pr)
{
	struct sbx_info info;
	struct sbx_error why;
	enum sbx_err e;

	if (sandbox_get_owned(p, req, pr->sandbox_id, &info, resp,
	    "process") != 0)
		return -1;
	if (strcmp(info.user_id, pr->user_id) != 0) {
		sbx_error_clear(&why);
		why.code = SBX_ENOTFOUND;
		sandbox_error_response(req, resp, &why, "process");
		return -1;
	}
	switch (info.state) {
	case SBX_STATE_READY:
		return 0;
	case SBX_STATE_CREATING:
		handler_sandbox_not_ready(resp);
		return -1;
	case SBX_STATE_STOPPED:
		e = sbx_start(p, info.id, &why);
		/* CONFLICT: somebody else is starting it already. */
		if (e == SBX_OK || e == SBX_ECONFLICT)
			return 0;
		sandbox_error_response(req, resp, &why, "process");
		return -1;
	case SBX_STATE_ERROR:
	default:
		handler_sandbox_in_error(resp);
		return -1;
	}
}

/* The event {id: jobId, name, data}; NULL out of memory. */
static struct json_object *process_event(const struct omni_config *cfg,
    const struct process_req *pr, const char *job_id)
{
	struct json_object *ev = json_object_new_object();
	struct json_object *data = json_object_new_object();
	const char *prefix = cfg != NULL && cfg->event_prefix != NULL &&
	    cfg->event_prefix[0] != '\0' ? cfg->event_prefix : "omni";
	char name[128];

	if (ev == NULL || data == NULL) {
		json_object_put(ev);
		json_object_put(data);
		return NULL;
	}
	snprintf(name, sizeof(name), "%s/process.knowledge", prefix);
	json_object_object_add(data, "taskId",
	    json_object_new_string(pr->task_id));
	json_object_object_add(data, "sandboxId",
	    json_object_new_string(pr->sandbox_id));
	json_object_object_add(data, "userId",
	    json_object_new_string(pr->user_id));
	json_object_object_add(data, "input",
	    json_object_new_string(pr->input));
	json_object_object_add(data, "model",
	    json_object_new_string(pr->model));
	json_object_object_add(data, "jobId", json_object_new_string(job_id));
	if (pr->env != NULL)
		json_object_object_add(data, "env", json_object_get(pr->env));
	json_object_object_add(ev, "id", json_object_new_string(job_id));
	json_object_object_add(ev, "name", json_object_new_string(name));
	json_object_object_add(ev, "data", data);
	return ev;
}

/* Send the event: 0, or -1 with the 503 (or 500) written. */
static int send_event(struct omni_worker *w, struct http_response *resp,
    const struct process_req *pr, const char *job_id)
{
	struct json_object *ev = process_event(w->cfg, pr, job_id);
	enum ing_err e = ev == NULL ? ING_ENOMEM :
	    w->inngest == NULL ? ING_EINVAL :
	    ing_event_send(w->inngest, ev, NULL);
	struct json_object *d;
	char ra[24];

	json_object_put(ev);
	if (e == ING_OK)
		return 0;
	log_msg(LOG_WARN, "knowledge.event_failed", "job %s: %s", job_id,
	    w->inngest == NULL ? "no Inngest app" : ing_strerror(e));
	if (e == ING_ENOMEM) {
		http_response_error(resp, API_SERVER_ERROR, "out of memory",
		    NULL);
		return -1;
	}
	snprintf(ra, sizeof(ra), "%d", SEND_RETRY_S);
	http_response_set_header(resp, "Retry-After", ra);
	if ((d = json_object_new_object()) != NULL)
		json_object_object_add(d, "reason",
		    json_object_new_string("event_not_sent"));
	http_response_error(resp, API_SERVICE_UNAVAILABLE,
	    "the job could not be queued; retry later", d);
	return -1;
}

/* The run is on its way: mark it queued (a failure only costs the
 * "queued" status until its first message) and say so in the log. */
static void note_queued(struct sbx_provider *p, const struct process_req *pr,
    const char *job_id)
{
	struct json_object *line;
	struct sbx_error why;
	enum sbx_err e;

	e = task_queued_write(p, pr->sandbox_id, pr->task_id, job_id, &why);
	if ((line = log_begin(e == SBX_OK ? LOG_INFO : LOG_WARN,
	    "knowledge.accepted")) == NULL)
		return;
	json_object_object_add(line, "jobId", json_object_new_string(job_id));
	json_object_object_add(line, "taskId",
	    json_object_new_string(pr->task_id));
	json_object_object_add(line, "sandboxId",
	    json_object_new_string(pr->sandbox_id));
	if (e != SBX_OK)
		json_object_object_add(line, "queuedMarker",
		    json_object_new_string(sbx_strerror(e)));
	log_end(line);
}

void handle_knowledge_process(struct http_request *req,
    struct http_response *resp)
{
	struct omni_worker *w = omni_worker_of(req);
	struct process_req pr;
	struct json_object *o;
	char job_id[27];

	if (check_request(req, resp, &pr) != 0)
		return;
	if (w == NULL || w->sandbox == NULL) {
		http_response_error(resp, API_SERVICE_UNAVAILABLE,
		    "sandbox provider not initialised", NULL);
		return;
	}
	if (process_sandbox(req, resp, w->sandbox, &pr) != 0)
		return;
	if (ing_ulid(time_real_ms(), job_id) != 0) {
		http_response_error(resp, API_SERVER_ERROR,
		    "no randomness for a job id", NULL);
		return;
	}
	if (send_event(w, resp, &pr, job_id) != 0)
		return;
	note_queued(w->sandbox, &pr, job_id);
	if ((o = json_object_new_object()) != NULL) {
		json_object_object_add(o, "jobId",
		    json_object_new_string(job_id));
		json_object_object_add(o, "accepted",
		    json_object_new_boolean(1));
	}
	http_response_json(resp, 202, o);
}

void handle_knowledge_query(struct http_request *req,
    struct http_response *resp)
{
	const char *user_id, *query = http_param(req, "query");
	struct sbx_provider *p;
	struct kq_result r;
	struct sbx_info info;
	struct sbx_error why;
	struct json_object *o;

	if ((user_id = handler_user_param(req, resp)) == NULL)
		return;
	if (!kq_query_valid(query)) {
		http_response_field_error(resp, API_VALIDATION_ERROR,
		    "query must be at most " HANDLER_STR(KQ_QUERY_MAX)
		    " bytes of text without control characters", "query",
		    "is not an acceptable query");
		return;
	}
	if (handler_user_sandbox(req, resp, user_id, "knowledge_query", &p,
	    &info) != 0)
		return;
	if (kq_search(p, info.id, query, &r, &why) != SBX_OK) {
		sandbox_error_response(req, resp, &why, "knowledge_query");
		return;
	}
	if ((o = json_object_new_object()) == NULL) {
		kq_result_free(&r);
		http_response_json(resp, 200, NULL);
		return;
	}
	json_object_object_add(o, "entities", r.entities);
	json_object_object_add(o, "tasks", r.tasks);
	json_object_object_add(o, "patterns", r.patterns);
	json_object_object_add(o, "query", json_object_new_string(
	    query != NULL ? query : ""));
	http_response_json(resp, 200, o);
}
