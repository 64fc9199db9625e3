/*
 * daytona.h -- REST client for the Daytona API and the sandbox toolbox.
 *
 * Follows the current Daytona API (the generated clients of the npm
 * packages @daytonaio/api-client and @daytonaio/toolbox-api-client):
 *
 *   control plane, under DAYTONA_API_URL (e.g. https://app.daytona.io/api)
 *     POST   /sandbox                       create (name, snapshot, env,
 *                                           labels, target, autoStopInterval)
 *     GET    /sandbox?labels={json}&limit=  list (filtered by labels)
 *     GET    /sandbox/{idOrName}            get by id or by name
 *     POST   /sandbox/{idOrName}/start      start (also restores archived)
 *     POST   /sandbox/{idOrName}/stop       stop
 *     DELETE /sandbox/{idOrName}            delete (frees the name at once)
 *     GET    /sandbox/{id}/toolbox-proxy-url  {url}
 *   toolbox, under <toolbox proxy url>/<sandbox id>
 *     POST   /process/execute               {command,cwd,timeout}
 *     POST   /files/upload?path=            multipart/form-data, part "file"
 *     GET    /files/download?path=          raw bytes
 *     GET    /files?path=                   [FileInfo]
 *     POST   /process/session               sessions: background
 *     GET    /process/session/{S}           commands (see "sessions"
 *     POST   /process/session/{S}/exec      below)
 *     DELETE /process/session/{S}
 *
 * Every request carries "Authorization: Bearer <key>" and, when an
 * organisation is configured, "X-Daytona-Organization-ID".
 *
 * The toolbox daemon runs no shell: it splits "command" at spaces (quotes
 * group words, there are no escapes) and executes the words, and the
 * request has no field for the environment.  dt_process_execute() so
 * sends one fixed line, sh -c 'eval "$(echo <base64> | base64 -d)"', where
 * the base64 text is the script: an "export KEY='value'" line per variable,
 * then the command.  No byte of the caller's reaches the daemon's splitter,
 * and the sandbox image needs only sh and base64.
 *
 * Transport: libcurl, one easy handle per thread, kept in thread-local
 * storage and reused so connections (and TLS sessions) stay open; it is
 * cleaned up when the thread exits (pthread key destructor) or by
 * dt_thread_cleanup().  NOSIGNAL, CONNECTTIMEOUT and TIMEOUT are always
 * set; a command's wait is bounded by its own timeout plus a margin.
 * Responses are read into a buffer with a cap; a larger answer fails with
 * DT_ETOOLARGE rather than growing without bound.
 *
 * Retries: only idempotent calls (GET, DELETE, start, stop, whole-file
 * upload, session create) are retried, on 429, 502, 503, 504 and network
 * errors, with jittered exponential back-off that honours Retry-After and
 * Retry-After-<throttler> (the longest wins).  The waits of one call are
 * bounded (retry_budget_ms): a hint past the budget ends the retries and
 * the error comes back with the hint in dt_status.  Create, execute and a
 * session's exec are sent once (client.c says why each is safe or not);
 * dt_ping() too.
 *
 * Keys: when the primary key gets 401 and a fallback key is configured,
 * the request is sent again with the fallback; a key that works is
 * remembered for the process so later calls go straight to it.  Keys are
 * never logged, never put in an error message, and wiped on free.
 *
 * Errors are values: every call returns an enum dt_err and fills a
 * struct dt_status with the HTTP status, the CURLcode, the attempts made,
 * the server's Retry-After hint and its error message (sanitised).
 *
 * Threads: a struct dt_client is shared by the threads of a worker; all
 * calls are thread safe.  dt_client_new() must run before the threads start
 * (it initialises libcurl once per process).
 *
 * Ownership: structs filled by calls are caller storage; heap results
 * (lists, exec output, downloads) are released with the matching free
 * function.  On error nothing needs freeing.
 */
#ifndef OMNI_DAYTONA_H
#define OMNI_DAYTONA_H

#include <stddef.h>

struct json_object;

enum dt_err {
	DT_OK = 0,         /* success */
	DT_EINVAL,         /* bad argument (empty id, NUL in path, ...) */
	DT_ENOMEM,         /* out of memory */
	DT_ENETWORK,       /* no HTTP answer: connect, DNS, reset, dropped */
	DT_ETIMEOUT,       /* our timeout passed, or 504 from Daytona */
	DT_EAUTH,          /* 401 with every key, or 403 (not a limit) */
	DT_ENOTFOUND,      /* 404 */
	DT_ECONFLICT,      /* 409: name taken, state change in progress */
	DT_EQUOTA,         /* organisation limit: CPU, memory, disk, count */
	DT_ERATELIMIT,     /* 429 after the retries allowed */
	DT_EUNAVAILABLE,   /* 503 after the retries allowed */
	DT_EUPSTREAM,      /* other 5xx, 502 */
	DT_EBADREQUEST,    /* 400/422 and other 4xx: Daytona refused */
	DT_ETOOLARGE,      /* answer over the cap, or 413; a command (with
	                    * its environment) over DT_EXEC_SCRIPT_MAX */
	DT_EPROTO,         /* 2xx with a body we cannot decode */
	DT__MAX
};

const char *dt_strerror(enum dt_err err);

/* What happened on the wire, kept with every error. */
struct dt_status {
	enum dt_err err;
	long http_status;      /* last HTTP status, 0 if none */
	int curl_code;         /* last CURLcode, 0 if none */
	int attempts;          /* requests sent, counting key fallback */
	long retry_after_ms;   /* server's hint on 429/503, -1 if none */
	int used_fallback;     /* the answer came with the fallback key */
	char message[256];     /* Daytona's error message, printable ASCII */
};

struct dt_client;

struct dt_client_opts {
	const char *api_url;        /* required, http(s)://host[/path] */
	const char *api_key;        /* required */
	const char *api_key_fallback; /* may be NULL */
	const char *org_id;         /* may be NULL */
	long connect_timeout_ms;    /* 0 = 5000 */
	long timeout_ms;            /* GET/DELETE/list; 0 = 20000 */
	long lifecycle_timeout_ms;  /* create/start/stop; 0 = 60000 (the
	                             * API itself waits up to 30 s) */
	long exec_margin_ms;        /* added to a command's timeout;
	                             * 0 = 15000 */
	size_t max_response;        /* JSON answers; 0 = 4 MiB */
	int max_attempts;           /* per idempotent call; 0 = 4 */
	long backoff_base_ms;       /* 0 = 250 */
	long backoff_max_ms;        /* one wait; 0 = 4000 */
	long retry_budget_ms;       /* all waits of a call; 0 = 10000 */
};

/*
 * Make a client.  Copies every string.  Returns NULL on a bad option or
 * out of memory, with the reason in '*err' (may be NULL).
 */
struct dt_client *dt_client_new(const struct dt_client_opts *opts,
    enum dt_err *err);
void dt_client_free(struct dt_client *c);

/*
 * Replace the keys (SIGHUP reload).  Copies them; resets the remembered
 * choice to the primary.  DT_EINVAL when 'api_key' is empty.
 */
enum dt_err dt_client_set_keys(struct dt_client *c, const char *api_key,
    const char *api_key_fallback);

/* Which key answers now: 0 primary, 1 fallback. */
int dt_client_key_in_use(struct dt_client *c);

/* Release the calling thread's curl handle now (it is also released when
 * the thread exits). */
void dt_thread_cleanup(void);

/* ---- sandboxes --------------------------------------------------------- */

#define DT_ID_MAX 128
#define DT_NAME_MAX 128
#define DT_STATE_MAX 32
#define DT_TIME_MAX 40
#define DT_LABELS_MAX 8
#define DT_LABEL_KEY_MAX 64
#define DT_LABEL_VALUE_MAX 256
#define DT_URL_MAX 512

struct dt_label {
	char key[DT_LABEL_KEY_MAX];
	char value[DT_LABEL_VALUE_MAX];
};

/* The fields of a Daytona Sandbox (or SandboxListItem) that Omni uses. */
struct dt_sandbox {
	char id[DT_ID_MAX];
	char name[DT_NAME_MAX];
	char state[DT_STATE_MAX];          /* "started", "stopped", ... or "" */
	char desired_state[DT_STATE_MAX];  /* or "" */
	char created_at[DT_TIME_MAX];      /* RFC 3339 or "" */
	char target[64];
	char error_reason[256];
	char toolbox_proxy_url[DT_URL_MAX]; /* or "" */
	size_t nlabels;                    /* labels past DT_LABELS_MAX, or
	                                    * too long, are dropped */
	struct dt_label labels[DT_LABELS_MAX];
};

/* Value of label 'key', or NULL.  Borrowed from 's'. */
const char *dt_sandbox_label(const struct dt_sandbox *s, const char *key);

struct dt_kv {
	const char *key;
	const char *value;
};

struct dt_create_params {
	const char *name;             /* required */
	const char *snapshot;         /* NULL = the organisation's default */
	const char *target;           /* NULL = default region */
	const struct dt_kv *env;      /* environment variables */
	size_t nenv;
	const struct dt_kv *labels;
	size_t nlabels;
	int auto_stop_minutes;        /* -1 = server default, 0 = never */
	int auto_archive_minutes;     /* -1 = server default */
	int auto_delete_minutes;      /* -1 = server default (never) */
};

/* Create.  Sent once, never retried: DT_ECONFLICT when the name exists. */
enum dt_err dt_sandbox_create(struct dt_client *c,
    const struct dt_create_params *p, struct dt_sandbox *out,
    struct dt_status *st);

/* Get by id or name.  DT_ENOTFOUND when none (or being destroyed). */
enum dt_err dt_sandbox_get(struct dt_client *c, const char *id_or_name,
    struct dt_sandbox *out, struct dt_status *st);

/*
 * First page (up to 'limit', 1..100) of the sandboxes carrying every label
 * of 'labels'.  On DT_OK '*items' (malloc'd, may be NULL when '*count' is
 * 0) is released with free().
 */
enum dt_err dt_sandbox_list(struct dt_client *c, const struct dt_kv *labels,
    size_t nlabels, int limit, struct dt_sandbox **items, size_t *count,
    struct dt_status *st);

/* Start / stop; 'out' (may be NULL) gets the sandbox as answered. */
enum dt_err dt_sandbox_start(struct dt_client *c, const char *id_or_name,
    struct dt_sandbox *out, struct dt_status *st);
enum dt_err dt_sandbox_stop(struct dt_client *c, const char *id_or_name,
    struct dt_sandbox *out, struct dt_status *st);
enum dt_err dt_sandbox_delete(struct dt_client *c, const char *id_or_name,
    struct dt_status *st);

/*
 * One GET /sandbox?limit=1, sent once with a 'timeout_ms' deadline and no
 * retry: proves the URL, the network and the key.  For /ready, which must
 * answer quickly whatever Daytona does.
 */
enum dt_err dt_ping(struct dt_client *c, long timeout_ms,
    struct dt_status *st);

/*
 * The toolbox proxy URL of sandbox 'id' into 'url' (DT_URL_MAX bytes).
 * Cached for the process: all of an organisation's sandboxes in one region
 * share it, and Omni creates every sandbox in one target.
 */
enum dt_err dt_toolbox_url(struct dt_client *c, const char *id, char *url,
    size_t url_len, struct dt_status *st);

/* ---- toolbox ----------------------------------------------------------- */

#define DT_EXEC_DEFAULT_TIMEOUT_S 60
#define DT_EXEC_DEFAULT_MAX_OUTPUT (1024 * 1024)
/* The script (exports and command) travels base64-encoded in one argv
 * string of the daemon's exec, which Linux caps at 128 KiB. */
#define DT_EXEC_SCRIPT_MAX (64 * 1024)

struct dt_exec_params {
	const char *command;        /* run by sh in the sandbox */
	const char *cwd;            /* NULL = home */
	int timeout_s;              /* 0 = DT_EXEC_DEFAULT_TIMEOUT_S */
	const struct dt_kv *env;    /* exported before the command; keys
	                             * are [A-Za-z_][A-Za-z0-9_]* */
	size_t nenv;
	size_t max_output;          /* 0 = DT_EXEC_DEFAULT_MAX_OUTPUT */
};

struct dt_exec_result {
	int exit_code;     /* as the daemon reports; 137 when timed out */
	int timed_out;     /* the daemon killed it at the timeout (408) */
	int truncated;     /* output cut at max_output */
	char *output;      /* NUL-terminated, malloc'd */
	size_t output_len;
};

/*
 * Execute once (never retried: a command is not idempotent).  DT_EINVAL for
 * an empty command or a bad environment key, DT_ETOOLARGE past
 * DT_EXEC_SCRIPT_MAX.  On DT_OK release 'out' with dt_exec_result_free().
 */
enum dt_err dt_process_execute(struct dt_client *c, const char *id,
    const struct dt_exec_params *p, struct dt_exec_result *out,
    struct dt_status *st);
void dt_exec_result_free(struct dt_exec_result *r);

enum dt_err dt_file_upload(struct dt_client *c, const char *id,
    const char *path, const void *data, size_t len, struct dt_status *st);

/* '*data' malloc'd and NUL-terminated; DT_ETOOLARGE past 'max' bytes. */
enum dt_err dt_file_download(struct dt_client *c, const char *id,
    const char *path, size_t max, char **data, size_t *len,
    struct dt_status *st);

struct dt_file_info {
	char *name;            /* malloc'd */
	int is_dir;
	long long size;
	long long mtime;       /* epoch seconds, 0 if unknown */
	long long mtime_ms;    /* the same in milliseconds */
};

/* On DT_OK release '*items' with dt_file_info_free(). */
enum dt_err dt_file_list(struct dt_client *c, const char *id,
    const char *path, struct dt_file_info **items, size_t *count,
    struct dt_status *st);
void dt_file_info_free(struct dt_file_info *items, size_t count);

/* ---- sessions: commands that outlive the request ----------------------- */

/*
 * A session is a shell the toolbox daemon keeps running in the sandbox;
 * a command exec'd into it asynchronously runs on after the request has
 * been answered, and the session remembers each command and, once it has
 * ended, its exit code.  Deleting the session kills its processes.  The
 * daemon keeps sessions in memory: a sandbox that stops or restarts has
 * none.  Routes, under the same toolbox base as the calls above:
 *
 *   POST   /process/session              {sessionId}  create
 *   GET    /process/session/{S}          {sessionId, commands: [Command]}
 *   POST   /process/session/{S}/exec     {command, runAsync, async}
 *                                        -> {cmdId}
 *   DELETE /process/session/{S}          delete, killing its processes
 *
 * where Command is {id, command, exitCode} and exitCode is absent or null
 * while the command runs.  The daemon stores and shows a command's text:
 * it must never carry a secret.
 *
 * A session id is what dt_id_ok() accepts; every call checks it (and the
 * sandbox id) before the wire, DT_EINVAL otherwise.
 */

#define DT_CMD_ID_MAX 128

/* What dt_session_get() says about a session: enough to tell whether a
 * command was started in it and whether that one still runs. */
struct dt_session_info {
	size_t ncommands;            /* commands exec'd into the session */
	size_t nrunning;             /* of which without an exit code */
	char first_id[DT_CMD_ID_MAX]; /* the first command's id, or "" */
	int first_has_exit;          /* 1 when the first one has ended */
	int first_exit_code;         /* its exit code then, else 0 */
};

/*
 * Create session 'session_id' in sandbox 'id'.  DT_ECONFLICT when one of
 * that name exists (409, or a 400 whose message says it exists: daemons
 * answer either).  Retried like the idempotent calls: an attempt whose
 * answer was lost makes the next one see DT_ECONFLICT, which callers
 * handle anyway.
 */
enum dt_err dt_session_create(struct dt_client *c, const char *id,
    const char *session_id, struct dt_status *st);

/* Describe session 'session_id' into '*out' (caller storage).
 * DT_ENOTFOUND when there is no such session; DT_EPROTO for an answer
 * that is not a Session. */
enum dt_err dt_session_get(struct dt_client *c, const char *id,
    const char *session_id, struct dt_session_info *out,
    struct dt_status *st);

/*
 * Run 'command' (one shell line, given to the session's shell as it is)
 * in session 'session_id' without waiting for it; the command's id goes
 * into 'cmd_id' ('cmd_id_len' bytes, DT_CMD_ID_MAX is enough; may be NULL).
 * Sent once, never retried: the command may have started.  DT_EINVAL for
 * an empty command, DT_ETOOLARGE past DT_EXEC_SCRIPT_MAX bytes.
 */
enum dt_err dt_session_exec_async(struct dt_client *c, const char *id,
    const char *session_id, const char *command, char *cmd_id,
    size_t cmd_id_len, struct dt_status *st);

/* Delete session 'session_id' and kill what runs in it.  DT_ENOTFOUND
 * when there is none (also when a retried attempt finds it deleted by the
 * one whose answer was lost: the caller decides what that means). */
enum dt_err dt_session_delete(struct dt_client *c, const char *id,
    const char *session_id, struct dt_status *st);

/* ---- exposed for unit tests and the module's own files ------------------ */

enum dt_method { DT_GET = 0, DT_POST, DT_PUT, DT_DELETE, DT_METHOD__MAX };

/* One HTTP exchange as the transport sees it. */
struct dt_http_req {
	enum dt_method method;
	const char *url;
	const char *const *headers;  /* "Name: value", NULL-terminated */
	const char *body;            /* NULL = no body */
	size_t body_len;
	long connect_timeout_ms;
	long timeout_ms;
	int idempotent;              /* 0: never let the transport resend */
	size_t max_response;         /* cap on a 2xx body; error bodies may
	                              * take up to 64 KiB whatever it is */
};

struct dt_http_resp {
	long status;           /* 0 when there was no answer */
	int curl_code;
	char *body;            /* malloc'd, NUL-terminated, may be NULL */
	size_t body_len;
	long retry_after_ms;   /* max over Retry-After*, -1 if none */
};

/*
 * The seam between the client and the network.  perform() returns DT_OK
 * when an HTTP answer (of any status) is in 'resp', else DT_ENETWORK,
 * DT_ETIMEOUT, DT_ETOOLARGE or DT_ENOMEM; 'resp->body' is freed by the
 * client.  sleep_ms() waits between retries.  rand01() returns [0,1) for
 * the jitter.  A NULL member keeps the default.
 */
struct dt_transport {
	enum dt_err (*perform)(void *ctx, const struct dt_http_req *req,
	    struct dt_http_resp *resp);
	void (*sleep_ms)(void *ctx, long ms);
	double (*rand01)(void *ctx);
	void *ctx;
};

/* One call as the sandbox and toolbox files hand it to the engine. */
struct dt_call {
	enum dt_method method;
	const char *url;             /* absolute */
	const char *body;            /* NULL = none */
	size_t body_len;
	const char *content_type;    /* NULL = application/json with a body */
	int idempotent;              /* may be retried (see client.c) */
	int max_attempts;            /* 0 = the client's; 1 = no retry */
	long timeout_ms;             /* 0 = the client's default */
	size_t max_response;         /* 0 = the client's default */
};

/*
 * Send 'call' with auth, key fallback and retries.  On DT_OK (a 2xx)
 * 'resp->body' holds the answer (malloc'd, NUL-terminated or NULL) for the
 * caller to free(); on error nothing needs freeing and '*st' says why.
 */
enum dt_err dt_call_do(struct dt_client *c, const struct dt_call *call,
    struct dt_http_resp *resp, struct dt_status *st);

/* A status with nothing in it yet (retry_after_ms -1). */
void dt_status_init(struct dt_status *st);

/* The API base URL without a trailing '/'; borrowed. */
const char *dt_client_api_url(const struct dt_client *c);
/* Timeouts chosen at dt_client_new: 0 lifecycle, 1 exec margin. */
long dt_client_timeout(const struct dt_client *c, int which);
/* The process cache of the toolbox proxy URL (dt_toolbox_url). */
int dt_client_tb_cache_get(struct dt_client *c, char *url, size_t len);
void dt_client_tb_cache_set(struct dt_client *c, const char *url);

/* Swap the transport (tests).  Not thread safe: before any call. */
void dt_client_set_transport(struct dt_client *c,
    const struct dt_transport *t);

/*
 * The retry decision for one answer: returns the wait in ms before the
 * next attempt, or -1 to stop.  'attempt' counts from 0 for the first
 * request; 'rc' is what perform() returned; 'jitter' is in [0,1).
 */
struct dt_retry_policy {
	int max_attempts;
	long base_ms;
	long max_ms;
};
long dt_retry_delay(const struct dt_retry_policy *pol, int idempotent,
    enum dt_err rc, long http_status, long retry_after_ms, int attempt,
    double jitter);

/*
 * Parse one header line; if it is Retry-After or Retry-After-<name>, store
 * its delay in ms in '*ms' and return 1 (HTTP dates are accepted).
 */
int dt_parse_retry_after(const char *line, size_t len, long now_epoch,
    long *ms);

/*
 * Map a final HTTP answer to an error: 'body' is Daytona's error JSON
 * ({statusCode,error,message}); its message goes into 'msg'.  Quota and
 * limit messages on 400/403 give DT_EQUOTA.
 */
enum dt_err dt_err_from_http(long status, const char *body, size_t len,
    char *msg, size_t msg_len);

/* Does Daytona's error 'message' describe an organisation limit? */
int dt_message_is_quota(const char *message);

/* JSON request bodies, for tests: new strings, free().  NULL on a bad
 * parameter or out of memory. */
char *dt_create_body(const struct dt_create_params *p);
char *dt_exec_body(const struct dt_exec_params *p);

/* Is 's' an id or name we put in a URL path (1..DT_ID_MAX-1 printable
 * ASCII bytes, no space)?  Everything else is DT_EINVAL before the wire. */
int dt_id_ok(const char *s);

/* Decode a Sandbox object.  DT_EPROTO with the field in 'why'. */
enum dt_err dt_sandbox_decode(struct json_object *obj,
    struct dt_sandbox *out, char *why, size_t why_len);

/* Decode a Session answer ({sessionId, commands}) into '*out'.
 * DT_EPROTO with the reason in 'why' for anything else. */
enum dt_err dt_session_decode(const char *body, size_t len,
    struct dt_session_info *out, char *why, size_t why_len);

/* Percent-encode 's' for a path segment or a query value: new string. */
char *dt_url_escape(const char *s);

/* "2024-05-01T12:00:00.123Z", "2024-05-01 12:00:00.5 +0000 UTC" -> epoch
 * seconds; 0 when it does not parse. */
long long dt_parse_time(const char *s);
/* The same in milliseconds (the fraction kept to the millisecond). */
long long dt_parse_time_ms(const char *s);

#endif
