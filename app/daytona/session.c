/*
 * session.c -- the toolbox's process sessions (daytona.h, "sessions"):
 * create one, look at its commands, exec a command into it without
 * waiting, delete it.  Background jobs (the Daytona provider) are built on
 * these: a command exec'd into a session outlives the request, and the
 * session says whether it still runs.
 *
 * Every call goes through dt_tb_call() (toolbox.c): the same base URL,
 * auth, retries and error mapping as the other toolbox calls.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <json-c/json.h>

#include "daytona.h"
#include "daytona_internal.h"
#include "json_util.h"

/*
 * "/process/session[/<escaped session id>[<suffix>]]" into '*op' (new
 * string).  The id is escaped although dt_id_ok() ids need little: a '/'
 * or '?' in one must not change the route.
 */
static enum dt_err session_op(const char *session_id, const char *suffix,
    char **op)
{
	char *esc;
	int n;

	*op = NULL;
	if ((esc = dt_url_escape(session_id)) == NULL)
		return DT_ENOMEM;
	n = asprintf(op, "/process/session/%s%s", esc, suffix);
	free(esc);
	if (n < 0) {
		*op = NULL;
		return DT_ENOMEM;
	}
	return DT_OK;
}

/* A JSON object as a new string, or NULL when out of memory. */
static char *json_take_string(struct json_object *root)
{
	const char *s = NULL;
	char *out = NULL;

	if (root != NULL)
		s = json_object_to_json_string_ext(root,
		    JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
	if (s != NULL)
		out = strdup(s);
	json_object_put(root);
	return out;
}

static int valid_args(struct dt_client *c, const char *id,
    const char *session_id)
{
	return c != NULL && dt_id_ok(id) && dt_id_ok(session_id);
}

enum dt_err dt_session_create(struct dt_client *c, const char *id,
    const char *session_id, struct dt_status *st)
{
	struct dt_status local;
	struct dt_call call = {0};
	struct json_object *root;
	char *body = NULL;
	enum dt_err err;

	st = dt_status_begin(st, &local);
	if (!valid_args(c, id, session_id))
		return st->err = DT_EINVAL;
	root = json_object_new_object();
	if (root != NULL && json_object_object_add(root, "sessionId",
	    json_object_new_string(session_id)) == 0)
		body = json_take_string(root);
	else
		json_object_put(root);
	if (body == NULL)
		return st->err = DT_ENOMEM;
	call.method = DT_POST;
	call.body = body;
	call.body_len = strlen(body);
	/* A repeat after a lost answer finds the session made and says
	 * "exists", which every caller treats as a possible earlier
	 * attempt of its own: safe to retry. */
	call.idempotent = 1;
	err = dt_tb_call(c, id, "/process/session", NULL, &call, NULL, NULL,
	    st);
	free(body);
	/* Some daemons refuse a taken id with 400 rather than 409. */
	if (err == DT_EBADREQUEST && strcasestr(st->message, "exist") != NULL)
		err = DT_ECONFLICT;
	return st->err = err;
}

/* One Command {id, command, exitCode?} into the counts of '*out'. */
static enum dt_err decode_command(struct json_object *cmd, size_t index,
    struct dt_session_info *out, char *why, size_t why_len)
{
	struct json_object *v = NULL;
	const char *cid;
	int has_exit;

	if (!json_object_is_type(cmd, json_type_object)) {
		snprintf(why, why_len, "command %zu is not an object", index);
		return DT_EPROTO;
	}
	if (json_get_string(cmd, "id", DT_CMD_ID_MAX - 1, &cid) != JSON_OK) {
		snprintf(why, why_len, "command %zu has no usable id", index);
		return DT_EPROTO;
	}
	has_exit = json_object_object_get_ex(cmd, "exitCode", &v) &&
	    v != NULL;
	if (has_exit && !json_object_is_type(v, json_type_int)) {
		snprintf(why, why_len, "command %zu: exitCode is not a number",
		    index);
		return DT_EPROTO;
	}
	out->ncommands++;
	if (!has_exit)
		out->nrunning++;
	if (index == 0) {
		snprintf(out->first_id, sizeof(out->first_id), "%s", cid);
		out->first_has_exit = has_exit;
		out->first_exit_code = has_exit ? json_object_get_int(v) : 0;
	}
	return DT_OK;
}

enum dt_err dt_session_decode(const char *body, size_t len,
    struct dt_session_info *out, char *why, size_t why_len)
{
	struct json_object *root = NULL, *cmds = NULL;
	char local[64];
	size_t i, n;
	enum dt_err err = DT_OK;

	if (why == NULL || why_len == 0) {
		why = local;
		why_len = sizeof(local);
	}
	why[0] = '\0';
	if (out == NULL)
		return DT_EINVAL;
	memset(out, 0, sizeof(*out));
	if (body == NULL || json_parse_object(body, len, &root, NULL, 0) !=
	    JSON_OK) {
		snprintf(why, why_len, "session answer is not a JSON object");
		return DT_EPROTO;
	}
	/* "commands" is null in a new session (an empty list, to Go). */
	if (json_object_object_get_ex(root, "commands", &cmds) &&
	    cmds != NULL && !json_object_is_type(cmds, json_type_array)) {
		snprintf(why, why_len, "session's commands is not a list");
		err = DT_EPROTO;
	}
	n = cmds != NULL && err == DT_OK ? json_object_array_length(cmds) : 0;
	for (i = 0; i < n && err == DT_OK; i++)
		err = decode_command(json_object_array_get_idx(cmds, i), i,
		    out, why, why_len);
	json_object_put(root);
	if (err != DT_OK)
		memset(out, 0, sizeof(*out));
	return err;
}

/* dt_session_decode() as a dt_decode_fn. */
static enum dt_err decode_session(struct dt_http_resp *resp, void *arg,
    struct dt_status *st)
{
	return dt_session_decode(resp->body, resp->body_len, arg, st->message,
	    sizeof(st->message));
}

enum dt_err dt_session_get(struct dt_client *c, const char *id,
    const char *session_id, struct dt_session_info *out,
    struct dt_status *st)
{
	struct dt_status local;
	struct dt_call call = {0};
	char *op;
	enum dt_err err;

	st = dt_status_begin(st, &local);
	if (out != NULL)
		memset(out, 0, sizeof(*out));
	if (!valid_args(c, id, session_id) || out == NULL)
		return st->err = DT_EINVAL;
	if ((err = session_op(session_id, "", &op)) != DT_OK)
		return st->err = err;
	call.method = DT_GET;
	call.idempotent = 1;
	err = dt_tb_call(c, id, op, NULL, &call, decode_session, out, st);
	free(op);
	return err;
}

struct exec_async_out {
	char *cmd_id;
	size_t len;
};

/* ExecuteResponse {cmdId, ...} into a struct exec_async_out. */
static enum dt_err decode_exec_async(struct dt_http_resp *resp, void *arg,
    struct dt_status *st)
{
	struct exec_async_out *eo = arg;
	struct json_object *root = NULL;
	const char *cid;
	enum dt_err err = DT_OK;

	if (resp->body == NULL || json_parse_object(resp->body,
	    resp->body_len, &root, NULL, 0) != JSON_OK ||
	    json_get_string(root, "cmdId", DT_CMD_ID_MAX - 1, &cid) !=
	    JSON_OK) {
		/* The command may well run: say so rather than guess. */
		snprintf(st->message, sizeof(st->message),
		    "session exec answer has no cmdId");
		err = DT_EPROTO;
	} else if (eo->cmd_id != NULL) {
		snprintf(eo->cmd_id, eo->len, "%s", cid);
	}
	json_object_put(root);
	return err;
}

/* {"command": C, "runAsync": true, "async": true}: the daemons of the
 * current API read runAsync, older ones async. */
static char *exec_async_body(const char *command)
{
	struct json_object *root = json_object_new_object();

	if (root == NULL || json_object_object_add(root, "command",
	    json_object_new_string(command)) != 0 ||
	    json_object_object_add(root, "runAsync",
	    json_object_new_boolean(1)) != 0 ||
	    json_object_object_add(root, "async",
	    json_object_new_boolean(1)) != 0) {
		json_object_put(root);
		return NULL;
	}
	return json_take_string(root);
}

enum dt_err dt_session_exec_async(struct dt_client *c, const char *id,
    const char *session_id, const char *command, char *cmd_id,
    size_t cmd_id_len, struct dt_status *st)
{
	struct exec_async_out eo = { cmd_id, cmd_id_len };
	struct dt_status local;
	struct dt_call call = {0};
	char *op = NULL, *body = NULL;
	enum dt_err err;

	st = dt_status_begin(st, &local);
	if (cmd_id != NULL && cmd_id_len > 0)
		cmd_id[0] = '\0';
	if (!valid_args(c, id, session_id) || command == NULL ||
	    *command == '\0' || (cmd_id != NULL && cmd_id_len == 0))
		return st->err = DT_EINVAL;
	if (strlen(command) > DT_EXEC_SCRIPT_MAX)
		return st->err = DT_ETOOLARGE;
	if ((err = session_op(session_id, "/exec", &op)) != DT_OK)
		return st->err = err;
	if ((body = exec_async_body(command)) == NULL) {
		free(op);
		return st->err = DT_ENOMEM;
	}
	call.method = DT_POST;
	call.body = body;
	call.body_len = strlen(body);
	call.idempotent = 0; /* a second send could start it twice */
	err = dt_tb_call(c, id, op, NULL, &call, decode_exec_async, &eo, st);
	free(body);
	free(op);
	return err;
}

enum dt_err dt_session_delete(struct dt_client *c, const char *id,
    const char *session_id, struct dt_status *st)
{
	struct dt_status local;
	struct dt_call call = {0};
	char *op;
	enum dt_err err;

	st = dt_status_begin(st, &local);
	if (!valid_args(c, id, session_id))
		return st->err = DT_EINVAL;
	if ((err = session_op(session_id, "", &op)) != DT_OK)
		return st->err = err;
	call.method = DT_DELETE;
	call.idempotent = 1;
	err = dt_tb_call(c, id, op, NULL, &call, NULL, NULL, st);
	free(op);
	return err;
}
