/*
 * tasks.h -- a task's files in its user's sandbox: the one module that
 * knows their names and shapes.  process-knowledge (functions.h) writes
 * them; GET /api/task/results and GET /api/knowledge/query read them.
 * The sandbox filesystem is the shared truth (ARCHITECTURE.md): no worker
 * remembers a task.
 *
 *   .omni/tasks/<taskId>/queued.json     {taskId, jobId, queuedAt}: written
 *                                        by POST /api/knowledge/process
 *                                        once the event is sent
 *   .omni/tasks/<taskId>/messages.jsonl  progress, one JSON object a line:
 *                                        {type, jobId, ts, message}
 *   .omni/tasks/<taskId>/result.json     the outcome: {taskId, success,
 *                                        result, messages, files, error,
 *                                        timestamp}
 *
 * Every file is replaced whole (sbx write_file is atomic), so a reader sees
 * a complete file or none.  messages.jsonl is rewritten on each append: the
 * steps of the task's one run are its only writer, one at a time.  It keeps
 * the last TASK_MESSAGES_MAX messages.  A damaged file reads as missing
 * (results) or loses only its damaged lines (messages): nothing in a
 * user's sandbox can fail a request.
 *
 * Ownership: every struct json_object ** out parameter is a new reference
 * the caller puts; on error nothing is returned.  Errors are those of the
 * sandbox provider (sandbox.h); SBX_EINVAL for a bad task id.
 */
#ifndef OMNI_TASKS_H
#define OMNI_TASKS_H

#include <stddef.h>

#include "sandbox.h"

struct json_object;

#define TASK_DIR ".omni/tasks"
#define TASK_ID_CHARS 64            /* the API's limit on taskId */
#define TASK_MESSAGES_MAX 500       /* messages kept per task */
#define TASK_MESSAGE_CHARS 2048     /* longest message text kept */
#define TASK_RESULT_MAX (4u << 20)  /* largest result.json read back */

/* Is 'task_id' safe as a path component: 1..TASK_ID_CHARS of
 * [A-Za-z0-9_-] (no '.', '/' or anything else)? */
int task_id_valid(const char *task_id);

/* TASK_DIR/<task_id>/<file> into 'buf'; -1 if it does not fit. */
int task_path(char *buf, size_t len, const char *task_id, const char *file);

/* The message types of the contract. */
enum task_msg {
	TASK_MSG_LOG = 0,   /* a step's progress */
	TASK_MSG_RESULT,    /* the agent's result is stored */
	TASK_MSG_ERROR,     /* a step or the agent failed */
	TASK_MSG_DONE,      /* the run is over (last message) */
};
const char *task_msg_name(enum task_msg type);

/*
 * Append {type, jobId, ts (ms since the epoch), message} to the task's
 * messages.jsonl (making the task directory when needed).  'text' is cut
 * to TASK_MESSAGE_CHARS bytes at a UTF-8 boundary.
 */
enum sbx_err task_message_append(struct sbx_provider *p,
    const char *sandbox_id, const char *task_id, const char *job_id,
    enum task_msg type, const char *text, struct sbx_error *why);

/* The messages so far, oldest first, as a new array ([] when the file is
 * missing; lines that are not JSON objects are skipped). */
enum sbx_err task_messages_read(struct sbx_provider *p,
    const char *sandbox_id, const char *task_id, struct json_object **out,
    struct sbx_error *why);

/* Write 'result' (borrowed, an object) as result.json. */
enum sbx_err task_result_write(struct sbx_provider *p,
    const char *sandbox_id, const char *task_id,
    struct json_object *result, struct sbx_error *why);

/* The stored result, or SBX_ENOTFOUND while there is none (also for a
 * file that is not a JSON object). */
enum sbx_err task_result_read(struct sbx_provider *p,
    const char *sandbox_id, const char *task_id, struct json_object **out,
    struct sbx_error *why);

/* Write queued.json {taskId, jobId, queuedAt (ms)}. */
enum sbx_err task_queued_write(struct sbx_provider *p,
    const char *sandbox_id, const char *task_id, const char *job_id,
    struct sbx_error *why);

/* The queued marker, or SBX_ENOTFOUND. */
enum sbx_err task_queued_read(struct sbx_provider *p,
    const char *sandbox_id, const char *task_id, struct json_object **out,
    struct sbx_error *why);

#endif
