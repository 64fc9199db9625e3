/*
 * handlers.h -- the HTTP handlers, one file per resource in handlers/,
 * Omni's route table (handlers/routes.c) and the wiring of the worker
 * context (handlers/worker_ctx.c, omni_worker.h).
 *
 * Handlers are called by router_dispatch() (router.h) after the shared
 * checks: they see a parsed request (req->json on JSON routes) and fill the
 * response.  They hold no per-user state and no globals: the per-process
 * resources (the sandbox provider, the Inngest app) are in the worker
 * context, omni_worker_of(req).
 *
 * Layering: this is the top of the program below main.c.  Handlers call
 * down into the app libraries (sandbox.h, inngest.h, http.h); nothing
 * below includes this header.
 */
#ifndef OMNI_HANDLERS_H
#define OMNI_HANDLERS_H

#include <stddef.h>

#include "http.h"
#include "router.h"

struct omni_config;
struct omni_ready_cache;
struct omni_worker;
struct worker_service;
struct sbx_error;
struct sbx_info;
struct sbx_provider;

/* A numeric limit as a string literal, so that the validation messages
 * quote the constant the check uses and cannot drift from it: "up to "
 * HANDLER_STR(DEBUG_EXEC_COMMAND_MAX) " bytes".  The argument must be a
 * plain literal macro. */
#define HANDLER_STR_(x) #x
#define HANDLER_STR(x) HANDLER_STR_(x)

/* Omni's route table: every endpoint of the contract. */
extern const struct route omni_routes[];
extern const size_t omni_routes_count;
/* Omni as the process model runs it (worker.h): the table above and the
 * worker context (omni_worker.h). */
extern const struct worker_service omni_service;

/* health.c */
void handle_root(struct http_request *req, struct http_response *resp);
void handle_ready(struct http_request *req, struct http_response *resp);

/*
 * The answer of one slow /ready check: 'probe' (given 'ctx', it writes a
 * reason into 'buf' on failure and returns 1 ok / 0 not) runs when the
 * cached answer is older than 'ttl_ms'; one thread at a time runs it,
 * outside the lock, and the others answer with the last result
 * meanwhile, so a slow dependency holds up one /ready, not every thread.
 */
int omni_ready_cached(struct omni_ready_cache *rc, long long ttl_ms,
    int (*probe)(void *ctx, char *buf, size_t len), void *ctx,
    char *detail, size_t len);

/* metrics.c: GET /metrics (metrics.h), loopback only unless
 * OMNI_METRICS_TOKEN is set */
void handle_metrics(struct http_request *req, struct http_response *resp);

/* debug.c: only with OMNI_DEBUG_ROUTES=1, never in production */
void handle_debug_sleep(struct http_request *req, struct http_response *resp);
void handle_debug_echo(struct http_request *req, struct http_response *resp);
/* POST /debug/sandbox/exec: a command in a sandbox of the worker's provider */
void handle_debug_sandbox_exec(struct http_request *req,
    struct http_response *resp);

/* sandbox.c */
/* Make the provider chosen by cfg->provider into w->sandbox, and release
 * it.  0, or -1 with one line in 'err'. */
int sandbox_handlers_init(struct omni_worker *w, char *err, size_t errlen);
void sandbox_handlers_fini(struct omni_worker *w);
/* /ready: 1 if the provider answers, 0 with a reason in 'detail'.  The
 * answer is cached for a few seconds in w->ready; one thread at a time
 * refreshes it.  'w' may be NULL (no provider: 0). */
int sandbox_ready_check(struct omni_worker *w, char *detail, size_t len);
/*
 * The one mapping from a failed provider call, 'why' (sandbox.h: its code,
 * the provider's Retry-After and words), to the contract's error model,
 * written into 'resp': 404 SANDBOX_NOT_FOUND, 409 CONFLICT, 502/503/504
 * for provider failures (with Retry-After when waiting helps), 413, 500
 * SANDBOX_ERROR; details.reason names the cause and
 * details.providerMessage carries the provider's words on a quota error.
 * 'op' (a fixed string such as "create") goes to the log only.  Names no
 * provider: what it says comes from 'why' alone.
 */
void sandbox_error_response(const struct http_request *req,
    struct http_response *resp, const struct sbx_error *why, const char *op);
/*
 * The owner rule.  With OMNI_AUTH=jwt a user reaches only their own
 * sandbox: the one whose owner (sbx_info.user_id, from its label) is the
 * request's req->auth_subject.  Without jwt auth everyone may reach every
 * sandbox, as before.
 *
 * sandbox_owner_enforced(): is the rule on for 'req' (OMNI_AUTH=jwt)?
 *
 * sandbox_subject_is(): may 'req' act for 'user_id'?  1 when the rule is
 * off or 'user_id' is the (non-empty) subject, else 0.
 *
 * sandbox_get_owned(): get sandbox 'id' from 'p' into '*info' and apply
 * the rule.  0 on success.  Otherwise -1 with the response written: the
 * provider's error (sandbox_error_response), or, for another user's
 * sandbox, exactly the 404 SANDBOX_NOT_FOUND an unknown id gets, so ids
 * of other users' sandboxes are not confirmed.  'op' as for
 * sandbox_error_response.  Every handler that takes a sandbox id calls it
 * before it touches the sandbox; without the rule, those that need no
 * sandbox state (delete, exec) skip it and save a provider call.
 */
int sandbox_owner_enforced(const struct http_request *req);
int sandbox_subject_is(const struct http_request *req, const char *user_id);
int sandbox_get_owned(struct sbx_provider *p, const struct http_request *req,
    const char *id, struct sbx_info *info, struct http_response *resp,
    const char *op);
void handle_sandbox_create(struct http_request *req,
    struct http_response *resp);
void handle_sandbox_status(struct http_request *req,
    struct http_response *resp);
void handle_sandbox_delete(struct http_request *req,
    struct http_response *resp);

/* task.c */
/*
 * GET /api/task/results?taskId=&userId=: the task's stored result, or
 * where it stands (queued, running with its messages so far), read from
 * the user's sandbox (tasks.h).
 */
void handle_task_results(struct http_request *req,
    struct http_response *resp);
/*
 * Shared by the GET handlers that read a user's sandbox (task.c,
 * knowledge.c).
 *
 * handler_user_param(): the userId query parameter, valid
 * (sbx_user_id_valid) and, with OMNI_AUTH=jwt, the token's subject; or
 * NULL with the 400 VALIDATION_ERROR or 403 FORBIDDEN written.  Borrowed
 * from 'req'.
 *
 * handler_user_sandbox(): the sandbox of 'user_id' made ready to read:
 * '*p' the worker's provider and '*info' the sandbox.  A stopped one is
 * started and waited for up to HANDLER_START_WAIT_MS.  0, or -1 with the
 * response written: 404 SANDBOX_NOT_FOUND when the user has none, 409
 * SANDBOX_NOT_READY (Retry-After) while it is creating or did not start
 * in time, 500 SANDBOX_ERROR when it is in error, 503 without a
 * provider, and the provider's own errors (sandbox_error_response).
 * 'op' names the caller in the log.
 */
#define HANDLER_START_WAIT_MS 15000
const char *handler_user_param(struct http_request *req,
    struct http_response *resp);
int handler_user_sandbox(struct http_request *req,
    struct http_response *resp, const char *user_id, const char *op,
    struct sbx_provider **p, struct sbx_info *info);
/*
 * The answers of a sandbox that exists but cannot serve the request
 * (shared with POST /api/knowledge/process): 409 SANDBOX_NOT_READY with
 * Retry-After HANDLER_NOT_READY_RETRY_S, and 500 SANDBOX_ERROR for one in
 * error.
 */
#define HANDLER_NOT_READY_RETRY_S 2
void handler_sandbox_not_ready(struct http_response *resp);
void handler_sandbox_in_error(struct http_response *resp);

/* knowledge.c */
/*
 * POST /api/knowledge/process {input,sandboxId,userId,taskId,model?,env?}
 * -> 202 {jobId, accepted: true}: checks the request and the sandbox,
 * sends one <prefix>/process.knowledge event (the durable function does
 * the work) and marks the task queued.  503 when the event cannot be
 * sent (nothing is written then).  Never logs the input or env values.
 */
void handle_knowledge_process(struct http_request *req,
    struct http_response *resp);
/* GET /api/knowledge/query?userId=&query= -> 200 {entities, tasks,
 * patterns, query} (knowledge_query.h). */
void handle_knowledge_query(struct http_request *req,
    struct http_response *resp);

/* inngest.c */
/* Make the Inngest app with Omni's functions into w->inngest, and
 * release it.  0, or -1 with one line in 'err'. */
int inngest_handlers_init(struct omni_worker *w, char *err, size_t errlen);
void inngest_handlers_fini(struct omni_worker *w);
void handle_inngest(struct http_request *req, struct http_response *resp);

#endif
