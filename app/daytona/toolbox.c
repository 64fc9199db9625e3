/*
 * toolbox.c -- calls into a running sandbox through Daytona's toolbox
 * proxy: execute a command, upload, download and list files.
 *
 * The base of every call is "<toolbox proxy url>/<sandbox id>"; the proxy
 * URL comes from dt_toolbox_url() (cached per process).  The same bearer
 * key and organisation header as the control plane authenticate it.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include <json-c/json.h>
#include <openssl/evp.h>

#include "daytona.h"
#include "daytona_internal.h"
#include "hex.h"
#include "sandbox_path.h"
#include "shell_quote.h"

/* A command's timeout is capped at a day: a bound, not a policy. */
#define EXEC_MAX_TIMEOUT_S 86400

/*
 * "<proxy>/<id><op>[?path=<escaped>]" into '*out' (new string).  Fills
 * 'st' on failure.
 */
static enum dt_err toolbox_url(struct dt_client *c, const char *id,
    const char *op, const char *path, char **out, struct dt_status *st)
{
	char base[DT_URL_MAX], *eid = NULL, *epath = NULL;
	size_t n;
	enum dt_err err;

	*out = NULL;
	err = dt_toolbox_url(c, id, base, sizeof(base), st);
	if (err != DT_OK)
		return err;
	n = strlen(base);
	while (n > 0 && base[n - 1] == '/')
		base[--n] = '\0';
	eid = dt_url_escape(id);
	if (path != NULL)
		epath = dt_url_escape(path);
	if (eid == NULL || (path != NULL && epath == NULL) ||
	    asprintf(out, "%s/%s%s%s%s", base, eid, op,
	    epath != NULL ? "?path=" : "", epath != NULL ? epath : "") < 0) {
		*out = NULL;
		err = DT_ENOMEM;
	}
	free(eid);
	free(epath);
	return st->err = err;
}

/* dt_call_url() to a toolbox URL.  A network failure may mean the proxy
 * moved: look it up again next time. */
static enum dt_err tb_send(struct dt_client *c, struct dt_call *call,
    char *url, dt_decode_fn decode, void *arg, struct dt_status *st)
{
	enum dt_err err = dt_call_url(c, call, url, decode, arg, st);

	if (err == DT_ENETWORK)
		dt_client_tb_cache_set(c, NULL);
	return err;
}

/* daytona_internal.h: the shape of every call below and of session.c's. */
enum dt_err dt_tb_call(struct dt_client *c, const char *id,
    const char *op, const char *path, struct dt_call *call,
    dt_decode_fn decode, void *arg, struct dt_status *st)
{
	char *url;
	enum dt_err err;

	if ((err = toolbox_url(c, id, op, path, &url, st)) != DT_OK)
		return err;
	return tb_send(c, call, url, decode, arg, st);
}

/* The timeout sent: always bounded, since the daemon waits for ever when
 * none is given. */
static int exec_timeout(const struct dt_exec_params *p)
{
	int t = p->timeout_s > 0 ? p->timeout_s : DT_EXEC_DEFAULT_TIMEOUT_S;

	return t > EXEC_MAX_TIMEOUT_S ? EXEC_MAX_TIMEOUT_S : t;
}

/* A name sh accepts after "export": [A-Za-z_][A-Za-z0-9_]*. */
static int shell_name_ok(const char *s)
{
	size_t i;

	if (s == NULL || *s == '\0' || (*s >= '0' && *s <= '9'))
		return 0;
	for (i = 0; s[i] != '\0'; i++)
		if (!(s[i] == '_' || (s[i] >= '0' && s[i] <= '9') ||
		    (s[i] >= 'a' && s[i] <= 'z') ||
		    (s[i] >= 'A' && s[i] <= 'Z')))
			return 0;
	return 1;
}

/*
 * The script the sandbox's sh runs: "export KEY='value'" per variable,
 * then the command, into '*out' (new string).  DT_EINVAL on a bad key,
 * DT_ETOOLARGE past DT_EXEC_SCRIPT_MAX, DT_ENOMEM.
 */
static enum dt_err exec_script(const struct dt_exec_params *p, char **out)
{
	size_t i, n = strlen(p->command), len = 0;
	char *s;

	*out = NULL;
	for (i = 0; i < p->nenv && n <= DT_EXEC_SCRIPT_MAX; i++) {
		if (!shell_name_ok(p->env[i].key) || p->env[i].value == NULL)
			return DT_EINVAL;
		/* "export " KEY "=" 'VALUE' "\n" */
		n += 7 + strlen(p->env[i].key) + 1 +
		    shell_quote(NULL, p->env[i].value) + 1;
	}
	if (n > DT_EXEC_SCRIPT_MAX)
		return DT_ETOOLARGE;
	if ((s = malloc(n + 1)) == NULL)
		return DT_ENOMEM;
	for (i = 0; i < p->nenv; i++) {
		len += (size_t)sprintf(s + len, "export %s=", p->env[i].key);
		len += shell_quote(s + len, p->env[i].value);
		s[len++] = '\n';
	}
	memcpy(s + len, p->command, strlen(p->command) + 1);
	*out = s;
	return DT_OK;
}

/* The JSON body of an execute: the one line the daemon splits and runs
 * (daytona.h says why), cwd, timeout.  New string in '*out'. */
static enum dt_err exec_body(const struct dt_exec_params *p, char **out)
{
	struct json_object *root = NULL;
	char *script, *b64 = NULL, *cmd = NULL;
	const char *s;
	enum dt_err err;
	size_t len;

	*out = NULL;
	if (p == NULL || p->command == NULL || p->command[0] == '\0' ||
	    (p->nenv > 0 && p->env == NULL))
		return DT_EINVAL;
	if ((err = exec_script(p, &script)) != DT_OK)
		return err;
	err = DT_ENOMEM;
	len = strlen(script);
	if ((b64 = malloc(4 * ((len + 2) / 3) + 1)) == NULL)
		goto out;
	EVP_EncodeBlock((unsigned char *)b64, (const unsigned char *)script,
	    (int)len);
	if (asprintf(&cmd, "sh -c 'eval \"$(echo %s | base64 -d)\"'",
	    b64) < 0) {
		cmd = NULL;
		goto out;
	}
	if ((root = json_object_new_object()) == NULL ||
	    json_object_object_add(root, "command",
	    json_object_new_string(cmd)) != 0 ||
	    (p->cwd != NULL && *p->cwd != '\0' &&
	    json_object_object_add(root, "cwd",
	    json_object_new_string(p->cwd)) != 0) ||
	    json_object_object_add(root, "timeout",
	    json_object_new_int(exec_timeout(p))) != 0)
		goto out;
	s = json_object_to_json_string_ext(root, JSON_C_TO_STRING_PLAIN |
	    JSON_C_TO_STRING_NOSLASHESCAPE);
	if (s != NULL && (*out = strdup(s)) != NULL)
		err = DT_OK;
out:
	json_object_put(root);
	free(cmd);
	free(b64);
	free(script);
	return err;
}

char *dt_exec_body(const struct dt_exec_params *p)
{
	char *body;

	return exec_body(p, &body) == DT_OK ? body : NULL;
}

void dt_exec_result_free(struct dt_exec_result *r)
{
	if (r == NULL)
		return;
	free(r->output);
	r->output = NULL;
	r->output_len = 0;
}

struct exec_out {
	size_t max_output;
	struct dt_exec_result *out;
};

/* Decode ExecuteResponse {exitCode, result} (older daemons: "code") into
 * a struct exec_out; a dt_decode_fn. */
static enum dt_err decode_exec(struct dt_http_resp *resp, void *arg,
    struct dt_status *st)
{
	const char *body = resp->body;
	size_t len = resp->body_len, max_output;
	struct dt_exec_result *out;
	struct json_tokener *tok;
	struct json_object *root, *code = NULL, *result = NULL;
	const char *s;
	size_t n;
	enum dt_err err = DT_EPROTO;

	max_output = ((const struct exec_out *)arg)->max_output;
	out = ((const struct exec_out *)arg)->out;
	if (body == NULL || len == 0 || len > (size_t)INT32_MAX) {
		snprintf(st->message, sizeof(st->message), "empty answer");
		return DT_EPROTO;
	}
	tok = json_tokener_new_ex(16);
	if (tok == NULL)
		return DT_ENOMEM;
	root = json_tokener_parse_ex(tok, body, (int)len);
	json_tokener_free(tok);
	if (root == NULL || !json_object_is_type(root, json_type_object)) {
		snprintf(st->message, sizeof(st->message),
		    "execute answer is not a JSON object");
		goto out;
	}
	if (!json_object_object_get_ex(root, "exitCode", &code) ||
	    code == NULL)
		json_object_object_get_ex(root, "code", &code);
	if (code == NULL || !json_object_is_type(code, json_type_int)) {
		snprintf(st->message, sizeof(st->message),
		    "execute answer has no exitCode");
		goto out;
	}
	if (json_object_object_get_ex(root, "result", &result) &&
	    result != NULL && !json_object_is_type(result, json_type_string)) {
		snprintf(st->message, sizeof(st->message),
		    "execute answer's result is not a string");
		goto out;
	}
	s = result != NULL ? json_object_get_string(result) : "";
	n = result != NULL ? (size_t)json_object_get_string_len(result) : 0;
	memset(out, 0, sizeof(*out));
	if (n > max_output) {
		n = max_output;
		out->truncated = 1;
	}
	out->output = malloc(n + 1);
	if (out->output == NULL) {
		err = DT_ENOMEM;
		goto out;
	}
	memcpy(out->output, s, n);
	out->output[n] = '\0';
	out->output_len = n;
	/* The daemon says -1 when it could not wait for the process: not an
	 * exit code, so report the shell's "failed" 255 instead. */
	out->exit_code = json_object_get_int(code);
	if (out->exit_code < 0 || out->exit_code > 255)
		out->exit_code = 255;
	err = DT_OK;
out:
	json_object_put(root);
	return err;
}

enum dt_err dt_process_execute(struct dt_client *c, const char *id,
    const struct dt_exec_params *p, struct dt_exec_result *out,
    struct dt_status *st)
{
	struct dt_status local;
	struct dt_call call = {0};
	struct exec_out eo;
	char *url, *body;
	size_t max_output, cap;
	int timeout;
	enum dt_err err;

	st = dt_status_begin(st, &local);
	if (out != NULL)
		memset(out, 0, sizeof(*out));
	if (c == NULL || !dt_id_ok(id) || p == NULL || out == NULL ||
	    (p->cwd != NULL && *p->cwd != '\0' && !sandbox_path_ok(p->cwd)))
		return st->err = DT_EINVAL;
	if ((err = exec_body(p, &body)) != DT_OK)
		return st->err = err;
	/* Apart from the send: a 408 below must be the daemon's, not one
	 * from looking up the proxy. */
	err = toolbox_url(c, id, "/process/execute", NULL, &url, st);
	if (err != DT_OK) {
		free(body);
		return err;
	}
	timeout = exec_timeout(p);
	max_output = p->max_output > 0 ? p->max_output :
	    DT_EXEC_DEFAULT_MAX_OUTPUT;
	/* JSON may escape a byte as six ("\u0001"): room for that, then the
	 * decoded text is cut at max_output. */
	cap = max_output < (SIZE_MAX - 65536) / 6 ?
	    max_output * 6 + 65536 : SIZE_MAX / 2;
	call.method = DT_POST;
	call.body = body;
	call.body_len = strlen(body);
	call.idempotent = 0; /* a command may have run: never resend */
	/* Bounded by the command's own timeout plus a margin. */
	call.timeout_ms = (long)timeout * 1000 + dt_client_timeout(c, 1);
	call.max_response = cap;
	eo.max_output = max_output;
	eo.out = out;
	err = tb_send(c, &call, url, decode_exec, &eo, st);
	free(body);
	if (err == DT_ETIMEOUT && st->http_status == 408) {
		/* The daemon killed the command at its timeout. */
		out->timed_out = 1;
		out->exit_code = 137;
		out->output = strdup("");
		if (out->output == NULL)
			return st->err = DT_ENOMEM;
		st->message[0] = '\0';
		return st->err = DT_OK;
	}
	return err;
}

/* A boundary that does not occur in 'data'. */
static int make_boundary(char out[48], const void *data, size_t len)
{
	unsigned char rnd[16];
	int tries;

	for (tries = 0; tries < 8; tries++) {
		if (getrandom(rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd))
			return -1;
		memcpy(out, "omni-", 5);
		hex_encode(rnd, sizeof(rnd), out + 5, 0);
		if (len == 0 || memmem(data, len, out, 37) == NULL)
			return 0;
	}
	return -1;
}

enum dt_err dt_file_upload(struct dt_client *c, const char *id,
    const char *path, const void *data, size_t len, struct dt_status *st)
{
	struct dt_status local;
	struct dt_call call = {0};
	char boundary[48], fname[128], *ctype = NULL, *body;
	const char *base;
	size_t i, head_len, total;
	int n;
	enum dt_err err;
	char head[512];

	st = dt_status_begin(st, &local);
	if (c == NULL || !dt_id_ok(id) || !sandbox_path_ok(path) ||
	    (data == NULL && len > 0))
		return st->err = DT_EINVAL;
	if (make_boundary(boundary, data, len) != 0)
		return st->err = DT_ENOMEM;
	/* The part's filename is informative only; the daemon writes to
	 * 'path'.  Keep it to safe characters. */
	base = strrchr(path, '/');
	base = base != NULL ? base + 1 : path;
	for (i = 0; base[i] != '\0' && i + 1 < sizeof(fname); i++)
		fname[i] = (base[i] == '"' || base[i] == '\\') ? '_' : base[i];
	fname[i] = '\0';
	if (fname[0] == '\0')
		memcpy(fname, "file", 5);
	n = snprintf(head, sizeof(head), "--%s\r\nContent-Disposition: "
	    "form-data; name=\"file\"; filename=\"%s\"\r\nContent-Type: "
	    "application/octet-stream\r\n\r\n", boundary, fname);
	if (n < 0 || (size_t)n >= sizeof(head))
		return st->err = DT_EINVAL;
	head_len = (size_t)n;
	if (len > SIZE_MAX - head_len - 64)
		return st->err = DT_ETOOLARGE;
	total = head_len + len + strlen(boundary) + 8;
	body = malloc(total + 1);
	if (body == NULL)
		return st->err = DT_ENOMEM;
	memcpy(body, head, head_len);
	if (len > 0)
		memcpy(body + head_len, data, len);
	n = snprintf(body + head_len + len, total + 1 - head_len - len,
	    "\r\n--%s--\r\n", boundary);
	total = head_len + len + (size_t)n;
	if (asprintf(&ctype, "multipart/form-data; boundary=%s",
	    boundary) < 0) {
		free(body);
		return st->err = DT_ENOMEM;
	}
	call.method = DT_POST;
	call.body = body;
	call.body_len = total;
	call.content_type = ctype;
	/* Replacing a whole file with the same bytes twice leaves the same
	 * file: safe to repeat. */
	call.idempotent = 1;
	call.timeout_ms = dt_client_timeout(c, 0);
	err = dt_tb_call(c, id, "/files/upload", path, &call, NULL, NULL, st);
	free(body);
	free(ctype);
	return err;
}

struct download_out {
	char **data;
	size_t *len;
};

/* Keep the answer as it is (an empty one as ""); a dt_decode_fn. */
static enum dt_err take_body(struct dt_http_resp *resp, void *arg,
    struct dt_status *st)
{
	const struct download_out *dl = arg;

	(void)st;
	if (resp->body == NULL && (resp->body = strdup("")) == NULL)
		return DT_ENOMEM;
	*dl->data = resp->body;
	*dl->len = resp->body_len;
	resp->body = NULL;
	return DT_OK;
}

enum dt_err dt_file_download(struct dt_client *c, const char *id,
    const char *path, size_t max, char **data, size_t *len,
    struct dt_status *st)
{
	struct download_out dl = { data, len };
	struct dt_status local;
	struct dt_call call = {0};

	st = dt_status_begin(st, &local);
	if (data != NULL)
		*data = NULL;
	if (len != NULL)
		*len = 0;
	if (c == NULL || !dt_id_ok(id) || !sandbox_path_ok(path) || data == NULL ||
	    len == NULL || max == 0 || max == SIZE_MAX)
		return st->err = DT_EINVAL;
	call.method = DT_GET;
	call.idempotent = 1;
	call.max_response = max;
	return dt_tb_call(c, id, "/files/download", path, &call, take_body, &dl,
	    st);
}

void dt_file_info_free(struct dt_file_info *items, size_t count)
{
	size_t i;

	if (items == NULL)
		return;
	for (i = 0; i < count; i++)
		free(items[i].name);
	free(items);
}

/* One FileInfo {name, isDir, size, modTime, modifiedAt?}. */
static enum dt_err decode_file_info(struct json_object *o,
    struct dt_file_info *fi)
{
	struct json_object *v;
	const char *name;

	if (o == NULL || !json_object_is_type(o, json_type_object) ||
	    !json_object_object_get_ex(o, "name", &v) ||
	    !json_object_is_type(v, json_type_string))
		return DT_EPROTO;
	name = json_object_get_string(v);
	if (*name == '\0' || strlen(name) !=
	    (size_t)json_object_get_string_len(v) || strchr(name, '/') != NULL)
		return DT_EPROTO;
	fi->name = strdup(name);
	if (fi->name == NULL)
		return DT_ENOMEM;
	if (json_object_object_get_ex(o, "isDir", &v))
		fi->is_dir = json_object_get_boolean(v);
	if (json_object_object_get_ex(o, "size", &v) &&
	    (json_object_is_type(v, json_type_int) ||
	    json_object_is_type(v, json_type_double)))
		fi->size = (long long)json_object_get_int64(v);
	if (json_object_object_get_ex(o, "modifiedAt", &v) &&
	    json_object_is_type(v, json_type_string))
		fi->mtime_ms = dt_parse_time_ms(json_object_get_string(v));
	if (fi->mtime_ms == 0 && json_object_object_get_ex(o, "modTime", &v) &&
	    json_object_is_type(v, json_type_string))
		fi->mtime_ms = dt_parse_time_ms(json_object_get_string(v));
	fi->mtime = fi->mtime_ms / 1000;
	return DT_OK;
}

struct list_out {
	struct dt_file_info **items;
	size_t *count;
};

/* A JSON array of FileInfo into a struct list_out; a dt_decode_fn. */
static enum dt_err decode_file_list(struct dt_http_resp *resp, void *arg,
    struct dt_status *st)
{
	const struct list_out *lo = arg;
	struct json_tokener *tok;
	struct json_object *root = NULL;
	struct dt_file_info *list = NULL;
	size_t i, n = 0;
	enum dt_err err = DT_EPROTO;

	tok = json_tokener_new_ex(16);
	if (tok != NULL && resp->body != NULL && resp->body_len <= INT32_MAX)
		root = json_tokener_parse_ex(tok, resp->body,
		    (int)resp->body_len);
	json_tokener_free(tok);
	if (root == NULL || !json_object_is_type(root, json_type_array)) {
		snprintf(st->message, sizeof(st->message),
		    "file list answer is not an array");
		goto out;
	}
	n = json_object_array_length(root);
	if (n > 0 && (list = calloc(n, sizeof(*list))) == NULL) {
		err = DT_ENOMEM;
		goto out;
	}
	for (i = 0; i < n; i++) {
		err = decode_file_info(json_object_array_get_idx(root, i),
		    &list[i]);
		if (err != DT_OK) {
			snprintf(st->message, sizeof(st->message),
			    "file list entry %zu is not a FileInfo", i);
			goto out;
		}
	}
	*lo->items = list;
	*lo->count = n;
	list = NULL;
	err = DT_OK;
out:
	dt_file_info_free(list, n);
	json_object_put(root);
	return err;
}

enum dt_err dt_file_list(struct dt_client *c, const char *id, const char *path,
    struct dt_file_info **items, size_t *count, struct dt_status *st)
{
	struct list_out lo = { items, count };
	struct dt_status local;
	struct dt_call call = {0};

	st = dt_status_begin(st, &local);
	if (items != NULL)
		*items = NULL;
	if (count != NULL)
		*count = 0;
	if (c == NULL || !dt_id_ok(id) || !sandbox_path_ok(path) || items == NULL ||
	    count == NULL)
		return st->err = DT_EINVAL;
	call.method = DT_GET;
	call.idempotent = 1;
	return dt_tb_call(c, id, "/files", path, &call, decode_file_list, &lo,
	    st);
}
