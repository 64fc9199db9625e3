/*
 * exec_api.h -- the local executor's routes, as the exec_http_handler the
 * HTTP server (exec_http.h) calls for every request:
 *
 *   POST /e/{event key}   events (executor_events)
 *   POST /fn/register     app sync (executor_register)
 *   GET  /runs            recent runs: JSON, or HTML for a browser
 *   GET  /runs/{id}       one run: JSON, or HTML (exec_views.h)
 *   GET  /health          {"status": "ok"}
 *   GET  /                redirects to /runs
 * Anything else is 404, a known path with another method 405 with Allow.
 * 'ud' is the struct executor.
 */
#ifndef OMNI_EXEC_API_H
#define OMNI_EXEC_API_H

#include "exec_http.h"

void exec_api_handle(void *ud, const struct exec_http_request *req,
    struct exec_http_response *resp);

#endif
