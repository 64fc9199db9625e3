/*
 * sandbox.c -- the sandbox endpoints of the contract:
 *
 *   POST   /api/sandbox/create  {userId}
 *                                  -> 200 {sandboxId,status,createdAt,userId}
 *   GET    /api/sandbox/status?id=        -> 200 {sandboxId,status,createdAt}
 *   DELETE /api/sandbox?id=               -> 200 {sandboxId,deleted:true}
 *
 * and the provider check behind /ready.  The worker's one provider is made
 * by sandbox_handlers_init() into the worker context after fork and shared
 * by its threads; no
 * handler keeps anything about a user between requests (the provider finds
 * the user's sandbox again by its derived name).
 *
 * With OMNI_AUTH=jwt a user reaches only their own sandbox: create takes
 * only the token's subject as userId (403 otherwise), and status and
 * delete answer another user's sandbox as an unknown one (404), through
 * sandbox_get_owned(), which the debug exec endpoint uses too.
 *
 * Every provider failure goes through sandbox_error_response() -- the one
 * mapping from enum sbx_err to the contract's error model, also used by
 * the other handlers that reach a sandbox -- so a provider that is down,
 * slow or out of quota never turns into an HTML page or a bare 500.
 */
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "config.h"
#include "handlers.h"
#include "json_util.h"
#include "log.h"
#include "omni_worker.h"
#include "sandbox.h"
#include "timeutil.h"

#define READY_CACHE_MS 3000 /* /ready asks the provider at most this often */

int sandbox_handlers_init(struct omni_worker *w, char *err, size_t errlen)
{
	const struct omni_config *cfg = w->cfg;
	char detail[512] = "";
	enum sbx_err e;
	const char *name = cfg != NULL && cfg->provider == CFG_PROVIDER_DAYTONA ?
	    "daytona" : "local";

	if (w->sandbox != NULL)
		return 0;
	e = sbx_provider_new(cfg, &w->sandbox, detail, sizeof(detail));
	if (e == SBX_OK)
		return 0;
	w->sandbox = NULL;
	/* The provider's own one-line reason when it has one: which of
	 * bubblewrap, the sandbox user or the cgroup failed. */
	if (err != NULL && detail[0] != '\0')
		snprintf(err, errlen, "SANDBOX_PROVIDER=%s: %s", name, detail);
	else if (err != NULL)
		snprintf(err, errlen, "SANDBOX_PROVIDER=%s: %s%s", name,
		    sbx_strerror(e),
		    e == SBX_EISOLATION ? " (install bubblewrap, or set "
		    "OMNI_LOCAL_UNSANDBOXED=1 on a trusted machine)" :
		    e == SBX_EIO ? " (check OMNI_DATA_DIR)" :
		    e == SBX_EINVAL ? " (check OMNI_DATA_DIR, or "
		    "DAYTONA_API_URL and DAYTONA_API_KEY)" : "");
	return -1;
}

void sandbox_handlers_fini(struct omni_worker *w)
{
	sbx_provider_free(w->sandbox);
	w->sandbox = NULL;
	pthread_mutex_lock(&w->ready.mu);
	w->ready.checked_ms = 0;
	w->ready.checking = 0;
	pthread_mutex_unlock(&w->ready.mu);
}

static int provider_probe(void *ctx, char *buf, size_t len)
{
	struct sbx_provider *provider = ctx;
	enum sbx_err e = provider->ops->check(provider, buf, len);

	if (e != SBX_OK && buf[0] == '\0')
		snprintf(buf, len, "%s", sbx_strerror(e));
	return e == SBX_OK;
}

int sandbox_ready_check(struct omni_worker *w, char *detail, size_t len)
{
	if (w == NULL || w->sandbox == NULL) {
		snprintf(detail, len, "sandbox provider not initialised");
		return 0;
	}
	return omni_ready_cached(&w->ready, READY_CACHE_MS, provider_probe,
	    w->sandbox, detail, len);
}

/*
 * The one mapping from a provider error to the contract's error model:
 * API error, safe message, and a machine-readable reason in details.
 */
static const struct {
	enum api_err api;
	const char *reason;
	const char *message;
} error_map[SBX__MAX] = {
	[SBX_OK] = { API_SERVER_ERROR, "internal",
	    "unexpected success reported as an error" },
	[SBX_ENOTFOUND] = { API_SANDBOX_NOT_FOUND, "not_found",
	    "sandbox not found" },
	[SBX_EINVAL] = { API_VALIDATION_ERROR, "invalid",
	    "invalid sandbox id, path or argument" },
	[SBX_ECONFLICT] = { API_CONFLICT, "conflict",
	    "the sandbox changed state concurrently; retry" },
	[SBX_EAUTH] = { API_UPSTREAM_ERROR, "auth",
	    "the sandbox provider rejected Omni's credentials" },
	[SBX_ERATELIMIT] = { API_SERVICE_UNAVAILABLE, "rate_limited",
	    "the sandbox provider is throttling requests; "
	    "retry later" },
	[SBX_EUNAVAILABLE] = { API_SERVICE_UNAVAILABLE, "unavailable",
	    "the sandbox provider is unavailable; retry later" },
	[SBX_ETIMEOUT] = { API_UPSTREAM_TIMEOUT, "timeout",
	    "the sandbox provider did not answer in time" },
	[SBX_EUPSTREAM] = { API_UPSTREAM_ERROR, "upstream",
	    "the sandbox provider answered with an error" },
	[SBX_ENETWORK] = { API_SERVICE_UNAVAILABLE, "network",
	    "the sandbox provider cannot be reached" },
	[SBX_EQUOTA] = { API_SERVICE_UNAVAILABLE, "quota",
	    "the sandbox provider's organisation limit is reached "
	    "(sandbox count, disk or CPU); free resources or raise "
	    "the limit" },
	[SBX_EISOLATION] = { API_SERVICE_UNAVAILABLE, "isolation",
	    "sandbox isolation (bubblewrap) cannot start on this "
	    "machine" },
	[SBX_EIO] = { API_SANDBOX_ERROR, "io",
	    "the sandbox storage failed" },
	[SBX_ENOMEM] = { API_SERVER_ERROR, "nomem", "out of memory" },
	[SBX_ETOOLARGE] = { API_PAYLOAD_TOO_LARGE, "too_large",
	    "the sandbox file or output is too large" },
};

/* See handlers.h: the map above, the provider's Retry-After hint, and
 * Daytona's own words for an organisation limit. */
void sandbox_error_response(const struct http_request *req,
    struct http_response *resp, const struct sbx_error *why, const char *op)
{
	const struct omni_worker *w = omni_worker_of(req);
	const struct sbx_provider *provider = w != NULL ? w->sandbox : NULL;
	struct json_object *details, *line;
	int e = why != NULL ? (int)why->code : SBX_OK;
	unsigned i = (unsigned)e < SBX__MAX ? (unsigned)e : SBX_OK;
	long retry_after = 5;
	char ra[24];

	if ((line = log_begin(e == SBX_ENOTFOUND ? LOG_INFO : LOG_WARN,
	    "sandbox.error")) != NULL) {
		json_object_object_add(line, "op", json_object_new_string(op));
		json_object_object_add(line, "provider",
		    json_object_new_string(provider != NULL ?
		    provider->ops->name : "none"));
		json_object_object_add(line, "error",
		    json_object_new_string(sbx_strerror(e)));
		log_end(line);
	}
	details = json_object_new_object();
	if (details != NULL) {
		json_object_object_add(details, "reason",
		    json_object_new_string(error_map[i].reason));
		if (provider != NULL)
			json_object_object_add(details, "provider",
			    json_object_new_string(provider->ops->name));
	}
	if (why != NULL) {
		if (why->retry_after_s > 0)
			retry_after = why->retry_after_s;
		/* An organisation limit: the provider's own words say
		 * which. */
		if (e == SBX_EQUOTA && details != NULL &&
		    why->message[0] != '\0')
			json_object_object_add(details, "providerMessage",
			    json_object_new_string(why->message));
	}
	if (e == SBX_ERATELIMIT || e == SBX_EUNAVAILABLE ||
	    e == SBX_ENETWORK) {
		snprintf(ra, sizeof(ra), "%ld", retry_after);
		http_response_set_header(resp, "Retry-After", ra);
	}
	http_response_error(resp, error_map[i].api, error_map[i].message, details);
}

int sandbox_owner_enforced(const struct http_request *req)
{
	return req->cfg != NULL && req->cfg->auth == CFG_AUTH_JWT;
}

int sandbox_subject_is(const struct http_request *req, const char *user_id)
{
	if (!sandbox_owner_enforced(req))
		return 1;
	/* The router refuses a token without a subject; should a request
	 * reach here without one anyway, it owns nothing. */
	return req->auth_subject[0] != '\0' && user_id != NULL &&
	    strcmp(req->auth_subject, user_id) == 0;
}

int sandbox_get_owned(struct sbx_provider *p, const struct http_request *req,
    const char *id, struct sbx_info *info, struct http_response *resp,
    const char *op)
{
	struct json_object *line;
	struct sbx_error why;

	memset(info, 0, sizeof(*info));
	if (sbx_get(p, id, info, &why) != SBX_OK) {
		sandbox_error_response(req, resp, &why, op);
		return -1;
	}
	if (sandbox_subject_is(req, info->user_id))
		return 0;
	/* For the operator: a user tried another user's sandbox.  Neither
	 * user id is logged, only the sandbox. */
	if ((line = log_begin(LOG_WARN, "sandbox.not_owner")) != NULL) {
		json_object_object_add(line, "op", json_object_new_string(op));
		json_object_object_add(line, "sandboxId",
		    json_object_new_string(id));
		log_end(line);
	}
	memset(info, 0, sizeof(*info));
	sbx_error_clear(&why);
	why.code = SBX_ENOTFOUND;
	sandbox_error_response(req, resp, &why, op);
	return -1;
}

/* The id query parameter, or a 400 already written (NULL). */
static const char *id_param(struct http_request *req,
    struct http_response *resp)
{
	const char *id = http_param(req, "id");

	if (id == NULL || id[0] == '\0') {
		http_response_field_error(resp, API_VALIDATION_ERROR,
		    "query parameter id is required", "id", "is required");
		return NULL;
	}
	if (!sbx_id_valid(id)) {
		http_response_field_error(resp, API_VALIDATION_ERROR,
		    "id must be 1 to " HANDLER_STR(SBX_ID_CHARS)
		    " characters of letters, digits, "
		    "'.', '_' and '-'", "id", "is not a sandbox id");
		return NULL;
	}
	return id;
}

/* The worker's provider, or NULL with a 503 already written. */
static struct sbx_provider *provider_of(const struct http_request *req,
    struct http_response *resp)
{
	struct omni_worker *w = omni_worker_of(req);

	if (w != NULL && w->sandbox != NULL)
		return w->sandbox;
	http_response_error(resp, API_SERVICE_UNAVAILABLE,
	    "sandbox provider not initialised", NULL);
	return NULL;
}

static struct json_object *info_json(const struct sbx_info *info)
{
	struct json_object *o = json_object_new_object();

	if (o == NULL)
		return NULL;
	json_object_object_add(o, "sandboxId",
	    json_object_new_string(info->id));
	json_object_object_add(o, "status",
	    json_object_new_string(sbx_state_name(info->state)));
	json_object_object_add(o, "createdAt", info->created_at[0] != '\0' ?
	    json_object_new_string(info->created_at) : NULL);
	return o;
}

static void log_done(const struct sbx_provider *provider, const char *event,
    const struct sbx_info *info, const char *id, long long started)
{
	struct json_object *line = log_begin(LOG_INFO, event);

	if (line == NULL)
		return;
	json_object_object_add(line, "sandboxId",
	    json_object_new_string(info != NULL ? info->id : id));
	if (info != NULL)
		json_object_object_add(line, "status",
		    json_object_new_string(sbx_state_name(info->state)));
	json_object_object_add(line, "provider",
	    json_object_new_string(provider->ops->name));
	json_object_object_add(line, "ms",
	    json_object_new_int64(time_mono_ms() - started));
	log_end(line);
}

void handle_sandbox_create(struct http_request *req,
    struct http_response *resp)
{
	struct sbx_info info;
	struct json_object *o;
	const char *user_id = NULL;
	long long started = time_mono_ms();
	struct sbx_provider *provider;
	enum json_err je;
	struct sbx_error why;

	je = json_get_string(req->json, "userId", SBX_USER_MAX - 1, &user_id);
	if (je != JSON_OK) {
		http_response_field_error(resp, API_VALIDATION_ERROR,
		    "userId must be a string of 1 to "
		    HANDLER_STR(SBX_USER_CHARS) " characters",
		    "userId", json_strerror(je));
		return;
	}
	if (!sbx_user_id_valid(user_id)) {
		http_response_field_error(resp, API_VALIDATION_ERROR,
		    "userId must be printable ASCII without '/'", "userId",
		    "has characters that are not allowed");
		return;
	}
	if (!sandbox_subject_is(req, user_id)) {
		http_response_field_error(resp, API_FORBIDDEN,
		    "userId does not match the token's subject", "userId",
		    "is not the token's subject");
		return;
	}
	if ((provider = provider_of(req, resp)) == NULL)
		return;
	memset(&info, 0, sizeof(info));
	if (sbx_ensure_for_user(provider, user_id, &info, &why) != SBX_OK) {
		sandbox_error_response(req, resp, &why, "create");
		return;
	}
	log_done(provider, "sandbox.create", &info, NULL, started);
	if ((o = info_json(&info)) != NULL)
		json_object_object_add(o, "userId",
		    json_object_new_string(user_id));
	http_response_json(resp, 200, o);
}

void handle_sandbox_status(struct http_request *req,
    struct http_response *resp)
{
	struct sbx_provider *provider;
	struct sbx_info info;
	const char *id;

	if ((id = id_param(req, resp)) == NULL ||
	    (provider = provider_of(req, resp)) == NULL)
		return;
	if (sandbox_get_owned(provider, req, id, &info, resp, "status") != 0)
		return;
	http_response_json(resp, 200, info_json(&info));
}

void handle_sandbox_delete(struct http_request *req,
    struct http_response *resp)
{
	struct sbx_info info;
	struct json_object *o;
	long long started = time_mono_ms();
	struct sbx_provider *provider;
	const char *id;
	struct sbx_error why;

	if ((id = id_param(req, resp)) == NULL ||
	    (provider = provider_of(req, resp)) == NULL)
		return;
	/* The owner is checked before anything is removed. */
	if (sandbox_owner_enforced(req) &&
	    sandbox_get_owned(provider, req, id, &info, resp, "delete") != 0)
		return;
	if (sbx_remove(provider, id, &why) != SBX_OK) {
		sandbox_error_response(req, resp, &why, "delete");
		return;
	}
	log_done(provider, "sandbox.delete", NULL, id, started);
	if ((o = json_object_new_object()) != NULL) {
		json_object_object_add(o, "sandboxId",
		    json_object_new_string(id));
		json_object_object_add(o, "deleted",
		    json_object_new_boolean(1));
	}
	http_response_json(resp, 200, o);
}
