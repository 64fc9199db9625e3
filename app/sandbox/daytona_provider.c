/*
 * daytona_provider.c -- struct sbx_ops on Daytona (sandbox_daytona.h).
 *
 * Each op is a few REST calls (daytona.h): the owner check, then one or
 * two for the op itself (a write uploads and renames; a job start claims
 * its session, checks the input, uploads the environment, execs).  The
 * per-user policy that strings them together lives in sandbox.c.  The
 * provider keeps the client, the creation parameters and nothing about
 * users or jobs: a job's state is its session's and its files'.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "config.h"
#include "daytona.h"
#include "hex.h"
#include "log.h"
#include "sandbox.h"
#include "sandbox_daytona.h"
#include "shell_quote.h"
#include "sandbox_path.h"

struct dt_provider {
	struct sbx_provider base;   /* first: the handle we hand out */
	struct dt_client *client;
	char *snapshot;             /* NULL = organisation default */
	char *target;               /* NULL = default region */
};


static struct dt_provider *impl(struct sbx_provider *p)
{
	return p != NULL ? p->impl : NULL;
}

/* ---- states and errors ------------------------------------------------- */

enum sbx_state sbx_daytona_state(const char *state, const char *desired)
{
	static const char *const stopped[] = {
		"stopped", "archived", "archiving", "paused",
	};
	static const char *const broken[] = {
		"error", "build_failed", "destroyed", "destroying",
	};
	size_t i;

	if (state == NULL)
		state = "";
	if (desired == NULL)
		desired = "";
	for (i = 0; i < sizeof(broken) / sizeof(broken[0]); i++)
		if (strcmp(state, broken[i]) == 0)
			return SBX_STATE_ERROR;
	/* On its way out: replace it rather than use it. */
	if (strcmp(desired, "destroyed") == 0)
		return SBX_STATE_ERROR;
	if (strcmp(state, "started") == 0)
		return desired[0] == '\0' || strcmp(desired, "started") == 0 ?
		    SBX_STATE_READY : SBX_STATE_CREATING; /* stopping */
	for (i = 0; i < sizeof(stopped) / sizeof(stopped[0]); i++)
		if (strcmp(state, stopped[i]) == 0)
			return strcmp(desired, "started") == 0 ?
			    SBX_STATE_CREATING : SBX_STATE_STOPPED;
	/* creating, starting, stopping, restoring, pending_build,
	 * building_snapshot, pulling_snapshot, resizing, snapshotting,
	 * forking, pausing, resuming, unknown, and states newer than this
	 * code: not usable yet, not broken either. */
	return SBX_STATE_CREATING;
}

enum sbx_err sbx_daytona_err(enum dt_err err)
{
	switch (err) {
	case DT_OK:
		return SBX_OK;
	case DT_EINVAL:
		return SBX_EINVAL;
	case DT_ENOMEM:
		return SBX_ENOMEM;
	case DT_ENETWORK:
		return SBX_ENETWORK;
	case DT_ETIMEOUT:
		return SBX_ETIMEOUT;
	case DT_EAUTH:
		return SBX_EAUTH;
	case DT_ENOTFOUND:
		return SBX_ENOTFOUND;
	case DT_ECONFLICT:
		return SBX_ECONFLICT;
	case DT_EQUOTA:
		return SBX_EQUOTA;
	case DT_ERATELIMIT:
		return SBX_ERATELIMIT;
	case DT_EUNAVAILABLE:
		return SBX_EUNAVAILABLE;
	case DT_ETOOLARGE:
		return SBX_ETOOLARGE;
	case DT_EUPSTREAM:
	case DT_EBADREQUEST:
	case DT_EPROTO:
	default:
		return SBX_EUPSTREAM;
	}
}

/*
 * Record the outcome of op 'op' in 'why' (may be NULL) and the log, and
 * return its sbx_err.  Expected outcomes (not found, conflict) are
 * not worth a warning: the policy handles them.
 */
static enum sbx_err outcome(struct sbx_error *why, const char *op,
    enum dt_err err, const struct dt_status *st)
{
	struct json_object *line;
	enum log_level level;

	sbx_error_clear(why);
	if (err == DT_OK)
		return SBX_OK;
	if (why != NULL) {
		why->code = sbx_daytona_err(err);
		if (st != NULL) {
			why->http_status = (int)st->http_status;
			why->retry_after_s = st->retry_after_ms >= 0 ?
			    (st->retry_after_ms + 999) / 1000 : -1;
			snprintf(why->message, sizeof(why->message), "%s",
			    st->message);
		}
	}
	switch (err) {
	case DT_ENOTFOUND:
	case DT_ECONFLICT:
	case DT_EINVAL:
		level = LOG_DEBUG;
		break;
	case DT_EQUOTA:
	case DT_EAUTH:
		level = LOG_ERROR;
		break;
	default:
		level = LOG_WARN;
		break;
	}
	line = log_begin(level, err == DT_EQUOTA ? "daytona_quota" :
	    "daytona_error");
	if (line != NULL) {
		json_object_object_add(line, "op", json_object_new_string(op));
		json_object_object_add(line, "error",
		    json_object_new_string(dt_strerror(err)));
		json_object_object_add(line, "http_status",
		    json_object_new_int64(st != NULL ? st->http_status : 0));
		if (st != NULL) {
			json_object_object_add(line, "attempts",
			    json_object_new_int(st->attempts));
			if (st->message[0] != '\0')
				json_object_object_add(line, "daytona_message",
				    json_object_new_string(st->message));
		}
		if (err == DT_EQUOTA)
			json_object_object_add(line, "msg",
			    json_object_new_string("Daytona organisation limit "
			    "reached: delete or archive sandboxes, or raise "
			    "the organisation's limits"));
		log_end(line);
	}
	return sbx_daytona_err(err);
}

/* ---- helpers ------------------------------------------------------------ */

static void copy_str(char *dst, size_t len, const char *src)
{
	size_t n = src != NULL ? strlen(src) : 0;

	if (n >= len)
		n = len - 1;
	if (n > 0)
		memcpy(dst, src, n);
	dst[n] = '\0';
}

static void fill_info(const struct dt_sandbox *s, const char *user_id,
    struct sbx_info *out)
{
	const char *label = dt_sandbox_label(s, SBX_LABEL_USER);

	memset(out, 0, sizeof(*out));
	copy_str(out->id, sizeof(out->id), s->id);
	copy_str(out->user_id, sizeof(out->user_id),
	    user_id != NULL ? user_id : label);
	out->state = sbx_daytona_state(s->state, s->desired_state);
	copy_str(out->created_at, sizeof(out->created_at), s->created_at);
}

/* ---- ops ----------------------------------------------------------------- */

static enum sbx_err op_find_for_user(struct sbx_provider *p,
    const char *user_id, struct sbx_info *out, struct sbx_error *why)
{
	struct dt_provider *dp = impl(p);
	struct dt_sandbox s;
	struct dt_status st;
	char name[SBX_NAME_MAX];
	const char *label;
	enum dt_err err;

	if (dp == NULL || out == NULL || !sbx_user_id_valid(user_id))
		return outcome(why, "find", DT_EINVAL, NULL);
	sbx_name_for_user(user_id, name);
	err = dt_sandbox_get(dp->client, name, &s, &st);
	if (err != DT_OK)
		return outcome(why, "find", err, &st);
	label = dt_sandbox_label(&s, SBX_LABEL_USER);
	if (label != NULL && strcmp(label, user_id) != 0) {
		/* Another user's label under this user's name: never hand
		 * it out. */
		log_msg(LOG_ERROR, "daytona_name_clash",
		    "sandbox %s carries another user's label", s.id);
		return outcome(why, "find", DT_ECONFLICT, NULL);
	}
	fill_info(&s, user_id, out);
	return outcome(why, "find", DT_OK, NULL);
}

static enum sbx_err op_create_for_user(struct sbx_provider *p,
    const char *user_id, struct sbx_info *out, struct sbx_error *why)
{
	struct dt_provider *dp = impl(p);
	struct dt_create_params cp;
	struct dt_sandbox s, probe;
	struct dt_status st, pst;
	char name[SBX_NAME_MAX];
	struct dt_kv labels[2], env[1];
	enum dt_err err;

	if (dp == NULL || out == NULL || !sbx_user_id_valid(user_id))
		return outcome(why, "create", DT_EINVAL, NULL);
	sbx_name_for_user(user_id, name);
	labels[0].key = SBX_LABEL_USER;
	labels[0].value = user_id;
	labels[1].key = SBX_DAYTONA_LABEL_MANAGED;
	labels[1].value = "true";
	env[0].key = "OMNI_USER_ID";
	env[0].value = user_id;
	memset(&cp, 0, sizeof(cp));
	cp.name = name;
	cp.snapshot = dp->snapshot;
	cp.target = dp->target;
	cp.env = env;
	cp.nenv = 1;
	cp.labels = labels;
	cp.nlabels = 2;
	cp.auto_stop_minutes = SBX_DAYTONA_AUTO_STOP_MIN;
	cp.auto_archive_minutes = -1;
	cp.auto_delete_minutes = -1;
	err = dt_sandbox_create(dp->client, &cp, &s, &st);
	if (err == DT_ENETWORK || err == DT_ETIMEOUT || err == DT_EUPSTREAM ||
	    err == DT_EUNAVAILABLE || err == DT_EPROTO) {
		/* The answer was lost or garbled: the sandbox may exist.
		 * Look (a read is safe to repeat) instead of sending the
		 * create again; if it is there, the policy finds it. */
		if (dt_sandbox_get(dp->client, name, &probe, &pst) == DT_OK) {
			log_msg(LOG_INFO, "daytona_create_recovered",
			    "create of %s failed (%s) but the sandbox exists",
			    name, dt_strerror(err));
			return outcome(why, "create", DT_ECONFLICT, NULL);
		}
	}
	if (err != DT_OK)
		return outcome(why, "create", err, &st);
	fill_info(&s, user_id, out);
	return outcome(why, "create", DT_OK, NULL);
}

/* Get 'id' and check it is one of Omni's. */
static enum dt_err get_owned(struct dt_provider *dp, const char *id,
    struct dt_sandbox *s, struct dt_status *st)
{
	enum dt_err err;

	err = dt_sandbox_get(dp->client, id, s, st);
	if (err == DT_OK && dt_sandbox_label(s, SBX_LABEL_USER) == NULL) {
		snprintf(st->message, sizeof(st->message),
		    "not a sandbox of this service");
		return DT_ENOTFOUND;
	}
	return err;
}

/*
 * Every operation on one sandbox goes through the owner check first, as
 * get and remove do: an id of the organisation's other sandboxes (made by
 * someone else, without Omni's user label) is SBX_ENOTFOUND whatever the
 * auth setting, so no caller can run a command or touch files in one.
 * It costs one GET, next to an exec or a transfer.
 */
static enum dt_err check_owned(struct dt_provider *dp, const char *id,
    struct dt_status *st)
{
	struct dt_sandbox s;

	return get_owned(dp, id, &s, st);
}

static enum sbx_err op_get(struct sbx_provider *p, const char *id,
    struct sbx_info *out, struct sbx_error *why)
{
	struct dt_provider *dp = impl(p);
	struct dt_sandbox s;
	struct dt_status st;
	enum dt_err err;

	if (dp == NULL || out == NULL || !sbx_id_valid(id))
		return outcome(why, "get", DT_EINVAL, NULL);
	err = get_owned(dp, id, &s, &st);
	if (err != DT_OK)
		return outcome(why, "get", err, &st);
	fill_info(&s, NULL, out);
	return outcome(why, "get", DT_OK, NULL);
}

static enum sbx_err op_start(struct sbx_provider *p, const char *id,
    struct sbx_error *why)
{
	struct dt_provider *dp = impl(p);
	struct dt_status st;
	enum dt_err err;

	if (dp == NULL || !sbx_id_valid(id))
		return outcome(why, "start", DT_EINVAL, NULL);
	/* 409 (a transition is under way) stays SBX_ECONFLICT: the
	 * policy looks again and sees it starting. */
	err = dt_sandbox_start(dp->client, id, NULL, &st);
	return outcome(why, "start", err, &st);
}

static enum sbx_err op_stop(struct sbx_provider *p, const char *id,
    struct sbx_error *why)
{
	struct dt_provider *dp = impl(p);
	struct dt_sandbox s;
	struct dt_status st, gst;
	enum dt_err err;

	if (dp == NULL || !sbx_id_valid(id))
		return outcome(why, "stop", DT_EINVAL, NULL);
	err = dt_sandbox_stop(dp->client, id, NULL, &st);
	if (err == DT_ECONFLICT || err == DT_EBADREQUEST) {
		/* Daytona refuses to stop what is stopped or stopping (also
		 * after our own retried stop): that is success. */
		if (dt_sandbox_get(dp->client, id, &s, &gst) == DT_OK &&
		    (sbx_daytona_state(s.state, s.desired_state) ==
		    SBX_STATE_STOPPED || strcmp(s.desired_state,
		    "stopped") == 0))
			err = DT_OK;
	}
	return outcome(why, "stop", err, &st);
}

static enum sbx_err op_remove(struct sbx_provider *p, const char *id,
    struct sbx_error *why)
{
	struct dt_provider *dp = impl(p);
	struct dt_sandbox s;
	struct dt_status st;
	char sid[DT_ID_MAX];
	enum dt_err err;

	if (dp == NULL || !sbx_id_valid(id))
		return outcome(why, "remove", DT_EINVAL, NULL);
	err = get_owned(dp, id, &s, &st);
	if (err != DT_OK)
		return outcome(why, "remove", err, &st);
	memcpy(sid, s.id, sizeof(sid));
	/* Delete by id: the name is freed the moment Daytona accepts. */
	err = dt_sandbox_delete(dp->client, sid, &st);
	if (err == DT_ENOTFOUND && st.attempts > 1)
		err = DT_OK; /* our first attempt did it, its answer was lost */
	if (err == DT_ECONFLICT) {
		struct dt_status gst;
		enum dt_err gerr;

		/* 409: a state change is in progress; if it is our own
		 * deletion (or it is gone), the job is done. */
		gerr = dt_sandbox_get(dp->client, sid, &s, &gst);
		if (gerr == DT_ENOTFOUND || (gerr == DT_OK &&
		    strcmp(s.desired_state, "destroyed") == 0))
			err = DT_OK;
	}
	return outcome(why, "remove", err, &st);
}

/* "KEY=VALUE" strings -> dt_kv pairs; keys are copied into '*keys'. */
static enum dt_err split_env(const char *const *env, struct dt_kv **kv,
    char ***keys, size_t *n)
{
	size_t i, count = 0;

	*kv = NULL;
	*keys = NULL;
	*n = 0;
	if (env == NULL)
		return DT_OK;
	while (env[count] != NULL)
		count++;
	if (count == 0)
		return DT_OK;
	if (count > 1024)
		return DT_EINVAL;
	*kv = calloc(count, sizeof(**kv));
	*keys = calloc(count, sizeof(**keys));
	if (*kv == NULL || *keys == NULL)
		return DT_ENOMEM;
	for (i = 0; i < count; i++) {
		const char *eq = strchr(env[i], '=');

		if (eq == NULL || eq == env[i])
			return DT_EINVAL;
		(*keys)[i] = strndup(env[i], (size_t)(eq - env[i]));
		if ((*keys)[i] == NULL)
			return DT_ENOMEM;
		(*kv)[i].key = (*keys)[i];
		(*kv)[i].value = eq + 1;
		*n = i + 1;
	}
	return DT_OK;
}

static void free_env(struct dt_kv *kv, char **keys, size_t n)
{
	size_t i;

	if (keys != NULL)
		for (i = 0; i < n; i++)
			free(keys[i]);
	free(keys);
	free(kv);
}

static enum sbx_err op_exec(struct sbx_provider *p, const char *id,
    const char *command, const struct sbx_exec_opts *opts,
    struct sbx_exec_result *out, struct sbx_error *why)
{
	struct dt_provider *dp = impl(p);
	struct dt_exec_params ep;
	struct dt_exec_result r;
	struct dt_status st;
	struct dt_kv *kv = NULL;
	char **keys = NULL;
	size_t nkv = 0;
	enum dt_err err;

	if (dp == NULL || out == NULL || !sbx_id_valid(id) || command == NULL ||
	    *command == '\0' || (opts != NULL && opts->cwd != NULL &&
	    !sandbox_path_ok(opts->cwd)))
		return outcome(why, "exec", DT_EINVAL, NULL);
	memset(out, 0, sizeof(*out));
	/* The same rules as the local provider: a name the shell or the
	 * loader reads would turn a value into code. */
	if (opts != NULL && !sbx_env_valid(opts->env))
		return outcome(why, "exec", DT_EINVAL, NULL);
	if ((err = check_owned(dp, id, &st)) != DT_OK)
		return outcome(why, "exec", err, &st);
	err = split_env(opts != NULL ? opts->env : NULL, &kv, &keys, &nkv);
	if (err != DT_OK) {
		free_env(kv, keys, nkv);
		return outcome(why, "exec", err, NULL);
	}
	memset(&ep, 0, sizeof(ep));
	ep.command = command;
	ep.cwd = opts != NULL ? opts->cwd : NULL;
	ep.timeout_s = opts != NULL && opts->timeout_s > 0 ? opts->timeout_s :
	    0;
	ep.env = kv;
	ep.nenv = nkv;
	ep.max_output = opts != NULL ? opts->max_output : 0;
	err = dt_process_execute(dp->client, id, &ep, &r, &st);
	free_env(kv, keys, nkv);
	if (err != DT_OK)
		return outcome(why, "exec", err, &st);
	out->exit_code = r.exit_code;
	out->timed_out = r.timed_out;
	out->truncated = r.truncated;
	out->output = r.output;
	out->output_len = r.output_len;
	return outcome(why, "exec", DT_OK, NULL);
}

/* ---- atomic file writes ------------------------------------------------- */

/* The longest name part of a temporary file kept from the target's name:
 * with ".", ".tmp-" and the hex it stays under NAME_MAX (255). */
#define TEMP_BASE_MAX 200

/*
 * The temporary name beside 'path' into 'out': the same directory,
 * ".<name>.tmp-<16 random hex digits>".  -1 when 'path' names no file
 * (ends in '/', ".", "..") or the result is not a sandbox path.
 */
static int temp_path_for(const char *path, char *out, size_t len)
{
	const char *base = strrchr(path, '/');
	unsigned char rnd[8];
	char hex[2 * sizeof(rnd) + 1];
	size_t dir_len, base_len;
	int n;

	base = base != NULL ? base + 1 : path;
	dir_len = (size_t)(base - path);
	base_len = strlen(base);
	if (base_len == 0 || strcmp(base, ".") == 0 || strcmp(base, "..") == 0)
		return -1;
	if (getrandom(rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd))
		return -1;
	hex_encode(rnd, sizeof(rnd), hex, 0);
	if (base_len > TEMP_BASE_MAX)
		base_len = TEMP_BASE_MAX;
	n = snprintf(out, len, "%.*s.%.*s.tmp-%s", (int)dir_len, path,
	    (int)base_len, base, hex);
	if (n < 0 || (size_t)n >= len || !sandbox_path_ok(out))
		return -1;
	return 0;
}

/* "<verb> -- 'a' ['b']" into a new string: the paths quoted, "--" so a
 * name that starts with '-' stays a name. */
static char *path_command(const char *verb, const char *a, const char *b)
{
	size_t n = strlen(verb) + 4 + shell_quote(NULL, a) +
	    (b != NULL ? 1 + shell_quote(NULL, b) : 0);
	char *cmd = malloc(n + 1);
	size_t at;

	if (cmd == NULL)
		return NULL;
	at = (size_t)sprintf(cmd, "%s -- ", verb);
	at += shell_quote(cmd + at, a);
	if (b != NULL) {
		cmd[at++] = ' ';
		shell_quote(cmd + at, b);
	}
	return cmd;
}

/* Run a one-line file command in the sandbox's home; DT_OK with its
 * result in '*r' (dt_exec_result_free) when it ran. */
static enum dt_err run_file_command(struct dt_provider *dp, const char *id,
    const char *cmd, struct dt_exec_result *r, struct dt_status *st)
{
	struct dt_exec_params ep;

	memset(&ep, 0, sizeof(ep));
	ep.command = cmd;
	ep.timeout_s = 30;     /* a rename or an unlink: seconds at most */
	ep.max_output = 1024;  /* an error message, if anything */
	return dt_process_execute(dp->client, id, &ep, r, st);
}

/* The mv refused: SBX_EIO with what it said, logged like other
 * failures. */
static enum sbx_err rename_failed(struct sbx_error *why,
    const struct dt_exec_result *r)
{
	size_t n = r->output_len;

	while (n > 0 && (r->output[n - 1] == '\n' || r->output[n - 1] == '\r'))
		n--;
	log_msg(LOG_WARN, "daytona_write_rename",
	    "mv of an uploaded file failed (exit %d)", r->exit_code);
	sbx_error_clear(why);
	if (why != NULL) {
		why->code = SBX_EIO;
		snprintf(why->message, sizeof(why->message),
		    "mv: exit %d: %.*s", r->exit_code,
		    (int)(n < 200 ? n : 200), r->output);
		/* keep the message printable, as the provider's are */
		for (n = 0; why->message[n] != '\0'; n++)
			if ((unsigned char)why->message[n] < 0x20 ||
			    (unsigned char)why->message[n] == 0x7f)
				why->message[n] = ' ';
	}
	return SBX_EIO;
}

/* Remove the temporary file of a failed write; nothing to report. */
static void remove_temp(struct dt_provider *dp, const char *id,
    const char *tmp)
{
	struct dt_exec_result r;
	struct dt_status st;
	char *cmd = path_command("rm -f", tmp, NULL);

	if (cmd != NULL && run_file_command(dp, id, cmd, &r, &st) == DT_OK)
		dt_exec_result_free(&r);
	free(cmd);
}

static enum sbx_err op_write_file(struct sbx_provider *p, const char *id,
    const char *path, const void *data, size_t len, struct sbx_error *why)
{
	struct dt_provider *dp = impl(p);
	struct dt_exec_result r;
	struct dt_status st;
	char tmp[SANDBOX_PATH_MAX], *cmd;
	enum sbx_err rc;
	enum dt_err err;

	if (dp == NULL || !sbx_id_valid(id) || !sandbox_path_ok(path) ||
	    (data == NULL && len > 0) || temp_path_for(path, tmp,
	    sizeof(tmp)) != 0)
		return outcome(why, "write_file", DT_EINVAL, NULL);
	if ((err = check_owned(dp, id, &st)) != DT_OK)
		return outcome(why, "write_file", err, &st);
	/* Whole file beside the target, then one rename: a reader never
	 * sees a file being uploaded. */
	err = dt_file_upload(dp->client, id, tmp, data, len, &st);
	if (err != DT_OK)
		return outcome(why, "write_file", err, &st);
	if ((cmd = path_command("mv -f", tmp, path)) == NULL)
		return outcome(why, "write_file", DT_ENOMEM, NULL);
	err = run_file_command(dp, id, cmd, &r, &st);
	free(cmd);
	/* An answer that did not come leaves the rename unknown: say so,
	 * and touch nothing. */
	if (err != DT_OK)
		return outcome(why, "write_file", err, &st);
	if (r.exit_code == 0) {
		dt_exec_result_free(&r);
		return outcome(why, "write_file", DT_OK, NULL);
	}
	rc = rename_failed(why, &r);
	dt_exec_result_free(&r);
	remove_temp(dp, id, tmp);
	return rc;
}

static enum sbx_err op_read_file(struct sbx_provider *p, const char *id,
    const char *path, size_t max, char **data, size_t *len,
    struct sbx_error *why)
{
	struct dt_provider *dp = impl(p);
	struct dt_status st;
	enum dt_err err;

	if (data != NULL)
		*data = NULL;
	if (len != NULL)
		*len = 0;
	if (dp == NULL || !sbx_id_valid(id) || !sandbox_path_ok(path) ||
	    data == NULL || len == NULL)
		return outcome(why, "read_file", DT_EINVAL, NULL);
	if ((err = check_owned(dp, id, &st)) != DT_OK)
		return outcome(why, "read_file", err, &st);
	if (max == 0)
		max = SBX_DAYTONA_READ_DEFAULT;
	if (max == SIZE_MAX)
		max--; /* the client keeps room for the NUL */
	return outcome(why, "read_file", dt_file_download(dp->client, id, path,
	    max, data, len, &st), &st);
}

static enum sbx_err op_list_files(struct sbx_provider *p, const char *id,
    const char *path, struct sbx_file_list *out, struct sbx_error *why)
{
	struct dt_provider *dp = impl(p);
	struct dt_file_info *items = NULL;
	struct dt_status st;
	size_t i, n = 0;
	enum dt_err err;

	if (dp == NULL || out == NULL || !sbx_id_valid(id) ||
	    !sandbox_path_ok(path))
		return outcome(why, "list_files", DT_EINVAL, NULL);
	memset(out, 0, sizeof(*out));
	if ((err = check_owned(dp, id, &st)) != DT_OK)
		return outcome(why, "list_files", err, &st);
	err = dt_file_list(dp->client, id, path, &items, &n, &st);
	if (err != DT_OK)
		return outcome(why, "list_files", err, &st);
	if (n > 0) {
		out->entries = calloc(n, sizeof(*out->entries));
		if (out->entries == NULL) {
			dt_file_info_free(items, n);
			return outcome(why, "list_files", DT_ENOMEM, NULL);
		}
		/* Same fields: move the names over. */
		for (i = 0; i < n; i++) {
			out->entries[i].name = items[i].name;
			items[i].name = NULL;
			out->entries[i].is_dir = items[i].is_dir;
			out->entries[i].size = items[i].size;
			out->entries[i].mtime = items[i].mtime;
			out->entries[i].mtime_ms = items[i].mtime_ms;
		}
		out->count = n;
	}
	dt_file_info_free(items, n);
	return outcome(why, "list_files", DT_OK, NULL);
}

/* ---- background jobs ---------------------------------------------------- */

/* Appends for a string built in two passes: the first (dst NULL) counts,
 * the second writes; each returns the new length. */
static size_t put(char *dst, size_t at, const char *s)
{
	size_t n = strlen(s);

	if (dst != NULL)
		memcpy(dst + at, s, n + 1);
	return at + n;
}

static size_t put_quoted(char *dst, size_t at, const char *s)
{
	return at + shell_quote(dst != NULL ? dst + at : NULL, s);
}

/* The paths of a job's files (SBX_JOB_DIR/<job_id>/...). */
struct job_paths {
	char env[128], input[128], out[128], err[128], tmp[128], exit[128];
};

static int job_paths(const char *job_id, struct job_paths *jp)
{
	return sbx_job_path(jp->env, sizeof(jp->env), job_id, "env") ||
	    sbx_job_path(jp->input, sizeof(jp->input), job_id, "input") ||
	    sbx_job_path(jp->out, sizeof(jp->out), job_id, "stdout") ||
	    sbx_job_path(jp->err, sizeof(jp->err), job_id, "stderr") ||
	    sbx_job_path(jp->tmp, sizeof(jp->tmp), job_id, "exit.tmp") ||
	    sbx_job_path(jp->exit, sizeof(jp->exit), job_id, "exit") ? -1 : 0;
}

/* The job line (sandbox_daytona.h) into 'dst', or its length when 'dst'
 * is NULL.  The paths are made of SBX_JOB_DIR and a valid job id only:
 * nothing in them for the shell to read. */
static size_t job_line(char *dst, const struct job_paths *jp,
    const char *const *argv)
{
	size_t at = 0, i;

	at = put(dst, at, "cd \"$HOME\" && { [ -f ");
	at = put(dst, at, jp->env);
	at = put(dst, at, " ] && . ./");
	at = put(dst, at, jp->env);
	at = put(dst, at, "; rm -f ");
	at = put(dst, at, jp->env);
	at = put(dst, at, ";");
	for (i = 0; argv[i] != NULL; i++) {
		at = put(dst, at, " ");
		at = put_quoted(dst, at, argv[i]);
	}
	at = put(dst, at, " < ");
	at = put(dst, at, jp->input);
	at = put(dst, at, " > ");
	at = put(dst, at, jp->out);
	at = put(dst, at, " 2> ");
	at = put(dst, at, jp->err);
	at = put(dst, at, "; echo $? > ");
	at = put(dst, at, jp->tmp);
	at = put(dst, at, " && mv -f ");
	at = put(dst, at, jp->tmp);
	at = put(dst, at, " ");
	at = put(dst, at, jp->exit);
	at = put(dst, at, "; }");
	return at;
}

/* 1..SBX_JOB_ARGV_MAX words, argv[0] not empty, no word breaking the
 * line. */
static int job_argv_ok(const char *const *argv)
{
	size_t i;

	if (argv == NULL || argv[0] == NULL || argv[0][0] == '\0')
		return 0;
	for (i = 0; argv[i] != NULL; i++)
		if (i >= SBX_JOB_ARGV_MAX || strpbrk(argv[i], "\n\r") != NULL)
			return 0;
	return 1;
}

enum sbx_err sbx_daytona_job_command(const char *job_id,
    const char *const *argv, char **out)
{
	struct job_paths jp;
	size_t n;

	if (out != NULL)
		*out = NULL;
	if (out == NULL || !sbx_job_id_valid(job_id) || !job_argv_ok(argv) ||
	    job_paths(job_id, &jp) != 0)
		return SBX_EINVAL;
	n = job_line(NULL, &jp, argv);
	if (n > SBX_DAYTONA_JOB_COMMAND_MAX)
		return SBX_ETOOLARGE;
	if ((*out = malloc(n + 1)) == NULL)
		return SBX_ENOMEM;
	job_line(*out, &jp, argv);
	return SBX_OK;
}

/* The env file (sandbox_daytona.h) into 'dst', or its length. */
static size_t env_script(char *dst, const char *const *env)
{
	size_t at = 0, i, klen;
	const char *eq;

	for (i = 0; env != NULL && env[i] != NULL; i++) {
		eq = strchr(env[i], '=');
		klen = (size_t)(eq - env[i]);
		at = put(dst, at, "export ");
		if (dst != NULL)
			memcpy(dst + at, env[i], klen + 1); /* "NAME=" */
		at += klen + 1;
		at = put_quoted(dst, at, eq + 1);
		at = put(dst, at, "\n");
	}
	return at;
}

enum sbx_err sbx_daytona_job_env(const char *const *env, char **out,
    size_t *len)
{
	size_t n;

	if (out != NULL)
		*out = NULL;
	if (len != NULL)
		*len = 0;
	/* sbx_env_valid: every entry has a '=' after a shell name. */
	if (out == NULL || len == NULL || !sbx_env_valid(env))
		return SBX_EINVAL;
	n = env_script(NULL, env);
	if ((*out = malloc(n + 1)) == NULL)
		return SBX_ENOMEM;
	(*out)[0] = '\0';
	env_script(*out, env);
	*len = n;
	return SBX_OK;
}

/* The session of job 'job_id' into 'sid' (DT_ID_MAX bytes). */
static void job_session(const char *job_id, char sid[DT_ID_MAX])
{
	snprintf(sid, DT_ID_MAX, SBX_DAYTONA_JOB_SESSION "%s", job_id);
}

/*
 * What the job's directory says, in one listing: '*started' = 1 when the
 * job ran there before (its stdout, stderr or exit exists: the command's
 * redirections make them as it starts), which a lost session -- the
 * daemon keeps them in memory, a restarted sandbox has none -- cannot
 * tell.  Otherwise DT_ENOTFOUND when 'input' (or the directory) is
 * missing.
 */
static enum dt_err job_dir_state(struct dt_provider *dp, const char *id,
    const char *job_id, int *started, struct dt_status *st)
{
	struct dt_file_info *items = NULL;
	char dir[128];
	size_t i, n = 0;
	int input = 0;
	enum dt_err err;

	*started = 0;
	snprintf(dir, sizeof(dir), SBX_JOB_DIR "/%s", job_id);
	err = dt_file_list(dp->client, id, dir, &items, &n, st);
	if (err != DT_OK)
		return err;
	for (i = 0; i < n; i++) {
		if (items[i].is_dir)
			continue;
		if (strcmp(items[i].name, "input") == 0)
			input = 1;
		else if (strcmp(items[i].name, "stdout") == 0 ||
		    strcmp(items[i].name, "stderr") == 0 ||
		    strcmp(items[i].name, "exit") == 0)
			*started = 1;
	}
	dt_file_info_free(items, n);
	if (!input && !*started) {
		snprintf(st->message, sizeof(st->message),
		    "the job has no input file");
		return st->err = DT_ENOTFOUND;
	}
	return DT_OK;
}

/*
 * Claim the job's session: DT_OK with '*created' 1 when made now, or 0
 * when an empty one was there (a start that died before its exec);
 * '*already' = 1 (DT_OK) when the session has a command: the job started
 * before.
 */
static enum dt_err job_claim(struct dt_provider *dp, const char *id,
    const char *sid, int *created, int *already, struct dt_status *st)
{
	struct dt_session_info info;
	enum dt_err err;

	*created = 0;
	err = dt_session_create(dp->client, id, sid, st);
	if (err == DT_OK) {
		*created = 1;
		return DT_OK;
	}
	if (err != DT_ECONFLICT)
		return err;
	if ((err = dt_session_get(dp->client, id, sid, &info, st)) != DT_OK)
		return err;
	if (info.ncommands > 0)
		*already = 1;
	return DT_OK;
}

/* Upload the job's environment file when it has one. */
static enum dt_err job_upload_env(struct dt_provider *dp, const char *id,
    const struct job_paths *jp, const char *script, size_t len,
    struct dt_status *st)
{
	if (len == 0)
		return DT_OK;
	return dt_file_upload(dp->client, id, jp->env, script, len, st);
}

/* What job_start prepares before any call: the command and the env
 * file.  Freed with job_prep_free. */
struct job_prep {
	struct job_paths paths;
	char *command;
	char *env;
	size_t env_len;
};

static void job_prep_free(struct job_prep *jp)
{
	free(jp->command);
	if (jp->env != NULL) {
		/* values may be keys: do not leave them in freed memory */
		explicit_bzero(jp->env, jp->env_len);
		free(jp->env);
	}
}

static enum sbx_err job_prepare(const struct sbx_job_spec *spec,
    struct job_prep *jp)
{
	enum sbx_err rc;

	memset(jp, 0, sizeof(*jp));
	if (job_paths(spec->job_id, &jp->paths) != 0)
		return SBX_EINVAL;
	rc = sbx_daytona_job_command(spec->job_id, spec->argv, &jp->command);
	if (rc == SBX_OK)
		rc = sbx_daytona_job_env(spec->env, &jp->env, &jp->env_len);
	return rc;
}

/* The sbx_err of a failure found before any call, in 'why'. */
static enum sbx_err local_failure(struct sbx_error *why, const char *op,
    enum sbx_err rc)
{
	sbx_error_clear(why);
	if (why != NULL)
		why->code = rc;
	if (rc != SBX_EINVAL)
		log_msg(LOG_WARN, "daytona_error", "%s: %s", op,
		    sbx_strerror(rc));
	return rc;
}

static enum sbx_err op_job_start(struct sbx_provider *p, const char *id,
    const struct sbx_job_spec *spec, int *already, struct sbx_error *why)
{
	struct dt_provider *dp = impl(p);
	struct job_prep prep;
	struct dt_status st, dst;
	char sid[DT_ID_MAX];
	int created = 0, started = 0, dummy = 0;
	enum sbx_err rc;
	enum dt_err err;

	if (already == NULL)
		already = &dummy;
	*already = 0;
	if (dp == NULL || !sbx_id_valid(id) || spec == NULL ||
	    !sbx_job_id_valid(spec->job_id))
		return outcome(why, "job_start", DT_EINVAL, NULL);
	if ((rc = job_prepare(spec, &prep)) != SBX_OK) {
		job_prep_free(&prep);
		return local_failure(why, "job_start", rc);
	}
	job_session(spec->job_id, sid);
	if ((err = check_owned(dp, id, &st)) != DT_OK)
		goto out;
	err = job_claim(dp, id, sid, &created, already, &st);
	if (err != DT_OK || *already)
		goto out;
	err = job_dir_state(dp, id, spec->job_id, &started, &st);
	if (err != DT_OK || started) {
		/* Leave no empty session of ours behind; one found empty
		 * may be another start's, between its create and exec. */
		if (created)
			dt_session_delete(dp->client, id, sid, &dst);
		*already = err == DT_OK;
		goto out;
	}
	err = job_upload_env(dp, id, &prep.paths, prep.env, prep.env_len,
	    &st);
	if (err == DT_OK)
		err = dt_session_exec_async(dp->client, id, sid, prep.command,
		    NULL, 0, &st);
out:
	job_prep_free(&prep);
	return outcome(why, "job_start", err, &st);
}

static enum sbx_err op_job_running(struct sbx_provider *p, const char *id,
    const char *job_id, int *running, struct sbx_error *why)
{
	struct dt_provider *dp = impl(p);
	struct dt_session_info info;
	struct dt_status st;
	char sid[DT_ID_MAX];
	enum dt_err err;

	if (running != NULL)
		*running = 0;
	if (dp == NULL || !sbx_id_valid(id) || !sbx_job_id_valid(job_id) ||
	    running == NULL)
		return outcome(why, "job_running", DT_EINVAL, NULL);
	if ((err = check_owned(dp, id, &st)) != DT_OK)
		return outcome(why, "job_running", err, &st);
	job_session(job_id, sid);
	err = dt_session_get(dp->client, id, sid, &info, &st);
	/* No session: never started, killed, or gone with a restart. */
	if (err == DT_ENOTFOUND)
		return outcome(why, "job_running", DT_OK, NULL);
	if (err != DT_OK)
		return outcome(why, "job_running", err, &st);
	*running = info.nrunning > 0;
	return outcome(why, "job_running", DT_OK, NULL);
}

static enum sbx_err op_job_kill(struct sbx_provider *p, const char *id,
    const char *job_id, struct sbx_error *why)
{
	struct dt_provider *dp = impl(p);
	struct dt_status st;
	char sid[DT_ID_MAX];
	enum dt_err err;

	if (dp == NULL || !sbx_id_valid(id) || !sbx_job_id_valid(job_id))
		return outcome(why, "job_kill", DT_EINVAL, NULL);
	if ((err = check_owned(dp, id, &st)) != DT_OK)
		return outcome(why, "job_kill", err, &st);
	job_session(job_id, sid);
	err = dt_session_delete(dp->client, id, sid, &st);
	/* Gone already (ended and killed before, or a restart): done. */
	if (err == DT_ENOTFOUND)
		err = DT_OK;
	return outcome(why, "job_kill", err, &st);
}

static enum sbx_err op_check(struct sbx_provider *p, char *detail,
    size_t detail_len)
{
	struct dt_provider *dp = impl(p);
	struct dt_status st;
	enum dt_err err;

	if (dp == NULL)
		return SBX_EINVAL;
	/* One quick call, never retried: /ready must answer in time even
	 * when Daytona hangs, and a failed probe says enough. */
	err = dt_ping(dp->client, SBX_DAYTONA_CHECK_TIMEOUT_MS, &st);
	if (err != DT_OK && detail != NULL && detail_len > 0) {
		if (st.http_status != 0)
			snprintf(detail, detail_len, "daytona: %s (HTTP %ld)",
			    dt_strerror(err), st.http_status);
		else
			snprintf(detail, detail_len, "daytona: %s",
			    dt_strerror(err));
	}
	return outcome(NULL, "check", err, &st);
}

static void op_reload(struct sbx_provider *p, const struct omni_config *cfg)
{
	struct dt_provider *dp = impl(p);

	if (dp == NULL || cfg == NULL || cfg->daytona_api_key == NULL)
		return;
	/* Only the keys rotate in place; everything else changes with the
	 * fresh workers the master starts on SIGHUP. */
	if (dt_client_set_keys(dp->client, cfg->daytona_api_key,
	    cfg->daytona_api_key_fallback) == DT_OK)
		log_msg(LOG_INFO, "daytona_keys_reloaded",
		    "Daytona API keys reloaded (fallback %s)",
		    cfg->daytona_api_key_fallback != NULL ? "set" : "unset");
}

static void op_destroy(struct sbx_provider *p)
{
	struct dt_provider *dp = impl(p);

	if (dp == NULL)
		return;
	dt_client_free(dp->client);
	free(dp->snapshot);
	free(dp->target);
	free(dp);
}

static const struct sbx_ops daytona_ops = {
	.name = "daytona",
	.find_for_user = op_find_for_user,
	.create_for_user = op_create_for_user,
	.get = op_get,
	.start = op_start,
	.stop = op_stop,
	.remove = op_remove,
	.exec = op_exec,
	.write_file = op_write_file,
	.read_file = op_read_file,
	.list_files = op_list_files,
	.job_start = op_job_start,
	.job_running = op_job_running,
	.job_kill = op_job_kill,
	.check = op_check,
	.reload = op_reload,
	.destroy = op_destroy,
};

enum sbx_err sbx_daytona_new_with_client(const struct omni_config *cfg,
    struct dt_client *client, struct sbx_provider **out)
{
	struct dt_provider *dp;

	if (out != NULL)
		*out = NULL;
	if (cfg == NULL || client == NULL || out == NULL) {
		dt_client_free(client);
		return SBX_EINVAL;
	}
	dp = calloc(1, sizeof(*dp));
	if (dp == NULL) {
		dt_client_free(client);
		return SBX_ENOMEM;
	}
	dp->client = client;
	if ((cfg->daytona_snapshot != NULL && *cfg->daytona_snapshot &&
	    (dp->snapshot = strdup(cfg->daytona_snapshot)) == NULL) ||
	    (cfg->daytona_target != NULL && *cfg->daytona_target &&
	    (dp->target = strdup(cfg->daytona_target)) == NULL)) {
		dp->base.impl = dp;
		op_destroy(&dp->base);
		return SBX_ENOMEM;
	}
	dp->base.ops = &daytona_ops;
	dp->base.cfg = cfg;
	dp->base.impl = dp;
	*out = &dp->base;
	return SBX_OK;
}

enum sbx_err sbx_daytona_new(const struct omni_config *cfg,
    struct sbx_provider **out)
{
	struct dt_client_opts o;
	struct dt_client *c;
	enum dt_err err;

	if (out != NULL)
		*out = NULL;
	if (cfg == NULL || out == NULL || cfg->daytona_api_url == NULL ||
	    cfg->daytona_api_key == NULL || cfg->daytona_api_key[0] == '\0')
		return SBX_EINVAL;
	memset(&o, 0, sizeof(o));
	o.api_url = cfg->daytona_api_url;
	o.api_key = cfg->daytona_api_key;
	o.api_key_fallback = cfg->daytona_api_key_fallback;
	o.org_id = cfg->daytona_org_id;
	c = dt_client_new(&o, &err);
	if (c == NULL) {
		log_msg(LOG_ERROR, "daytona_client",
		    "cannot make the Daytona client: %s", dt_strerror(err));
		return sbx_daytona_err(err);
	}
	return sbx_daytona_new_with_client(cfg, c, out);
}

struct dt_client *sbx_daytona_client(struct sbx_provider *p)
{
	if (p == NULL || p->ops != &daytona_ops)
		return NULL;
	return impl(p)->client;
}
