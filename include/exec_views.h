/*
 * exec_views.h -- the local executor's pages: the runs it holds, as plain
 * HTML for a browser (no script, inline CSS, everything shown is escaped).
 * The JSON form of the same data is what the store hands over (exec_store.h);
 * these functions only render it.
 *
 * A run summary, one element of the array exec_view_runs_html() takes:
 *   {"run_id": str, "function_id": str, "event_name": str, "event_id": str,
 *    "status": "queued"|"running"|"completed"|"failed"|"cancelled",
 *    "started_at": epoch ms, "ended_at": epoch ms or null}
 *
 * A run, as exec_view_run_html() takes it: a summary plus
 *   "event": object, "output": any or null, "error": any or null,
 *   "parent_run_id": str or null,
 *   "calls": [ one per call request, in order:
 *     {"seq": int, "step": str ("step" for a call without a target,
 *      else the hashed step id), "step_name": str or null,
 *      "attempt": int, "started_at": epoch ms, "duration_ms": int,
 *      "http_status": int (0: no answer),
 *      "outcome": "ops"|"completed"|"retry"|"failed"|"network"|"cancelled",
 *      "ops": [ {"op": str, "id": str, "name": str or null} ],
 *      "error": str or null } ],
 *   "steps": [ memoized results, in stack order:
 *     {"id": str, "name": str or null, "data": any } or
 *     {"id": str, "name": str or null, "error": any } ],
 *   "waiting": [ {"id": str, "event": str, "if": str or null,
 *                 "until": epoch ms} ],
 *   "sleeping": [ {"id": str, "until": epoch ms} ]
 * Members may be missing or of the wrong type: the page shows what is
 * there and never fails for it.
 *
 * Ownership: inputs are borrowed.  The pages are malloc'd, NUL-terminated
 * (length in '*len' when 'len' is not NULL), freed by the caller; NULL
 * only when out of memory.
 */
#ifndef OMNI_EXEC_VIEWS_H
#define OMNI_EXEC_VIEWS_H

#include <stddef.h>

struct json_object;

/* The list page: a table of runs (id linking to /runs/<id>, function,
 * status, started, ended), newest first as given. */
char *exec_view_runs_html(struct json_object *runs, size_t *len);

/* One run: its summary, the event, a timeline of its call requests
 * (offset from the start, step, attempt, HTTP status, outcome, ops), the
 * memoized steps, what it waits for, and the output or error. */
char *exec_view_run_html(struct json_object *run, size_t *len);

/*
 * Whether a request wants the page rather than JSON: 'format' (the
 * ?format= query value, may be NULL) decides when it is "html" or
 * "json"; otherwise an Accept header (may be NULL) that names text/html
 * before any JSON type does.  1 html, 0 JSON.
 */
int exec_view_wants_html(const char *accept, const char *format);

#endif
