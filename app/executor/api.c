/*
 * api.c -- the local executor's routes (exec_api.h): method and path to
 * the executor's entry points, and their JSON or HTML to the response.
 */
#include <json-c/json.h>
#include <stdlib.h>
#include <string.h>

#include "exec_api.h"
#include "exec_views.h"
#include "executor.h"
#include "json_util.h"

#define RUN_ID_MAX 64

static void json_answer(struct exec_http_response *resp, int status,
    struct json_object *o)
{
	const char *text = o != NULL ? json_compact(o) : NULL;

	resp->status = status;
	resp->content_type = "application/json";
	if (text != NULL) {
		resp->body = strdup(text);
		resp->body_len = resp->body != NULL ? strlen(resp->body) : 0;
	}
	json_object_put(o);
}

static void error_answer(struct exec_http_response *resp, int status,
    const char *msg)
{
	struct json_object *o = json_object_new_object();

	json_object_object_add(o, "error", json_object_new_string(msg));
	json_answer(resp, status, o);
}

static int method_is(const struct exec_http_request *req, const char *m,
    struct exec_http_response *resp)
{
	if (strcmp(req->method, m) == 0)
		return 1;
	resp->header_names[0] = "Allow";
	resp->header_values[0] = m;
	error_answer(resp, 405, "method not allowed");
	return 0;
}

/* GET /runs and /runs/{id}, as JSON or as the page. */
static void runs_answer(struct executor *ex,
    const struct exec_http_request *req, const char *id,
    struct exec_http_response *resp)
{
	struct json_object *o = NULL;
	int status, html;
	char *page;

	if (id != NULL && (strlen(id) == 0 || strlen(id) > RUN_ID_MAX)) {
		error_answer(resp, 404, "no run with that id");
		return;
	}
	status = id != NULL ? executor_run(ex, id, &o) :
	    executor_runs(ex, &o);
	html = exec_view_wants_html(req->accept, exec_http_query(req,
	    "format"));
	if (!html || status != 200) {
		json_answer(resp, status, o);
		return;
	}
	page = id != NULL ? exec_view_run_html(o, &resp->body_len) :
	    exec_view_runs_html(o, &resp->body_len);
	json_object_put(o);
	if (page == NULL) {
		error_answer(resp, 500, "out of memory");
		return;
	}
	resp->status = 200;
	resp->content_type = "text/html; charset=utf-8";
	resp->body = page;
}

void exec_api_handle(void *ud, const struct exec_http_request *req,
    struct exec_http_response *resp)
{
	struct executor *ex = ud;
	struct json_object *o = NULL;
	const char *p = req->path;
	int status;

	if (strncmp(p, "/e/", 3) == 0) {
		if (method_is(req, "POST", resp)) {
			status = executor_events(ex, p + 3, req->body,
			    req->body_len, &o);
			json_answer(resp, status, o);
		}
	} else if (strcmp(p, "/fn/register") == 0) {
		if (method_is(req, "POST", resp)) {
			status = executor_register(ex, req->authorization,
			    req->body, req->body_len, &o);
			json_answer(resp, status, o);
		}
	} else if (strcmp(p, "/runs") == 0 || strcmp(p, "/runs/") == 0) {
		if (method_is(req, "GET", resp))
			runs_answer(ex, req, NULL, resp);
	} else if (strncmp(p, "/runs/", 6) == 0 && strchr(p + 6, '/') == NULL) {
		if (method_is(req, "GET", resp))
			runs_answer(ex, req, p + 6, resp);
	} else if (strcmp(p, "/health") == 0) {
		if (method_is(req, "GET", resp)) {
			o = json_object_new_object();
			json_object_object_add(o, "status",
			    json_object_new_string("ok"));
			json_answer(resp, 200, o);
		}
	} else if (strcmp(p, "/") == 0) {
		resp->status = 302;
		resp->header_names[0] = "Location";
		resp->header_values[0] = "/runs";
	} else
		error_answer(resp, 404, "not found");
}
