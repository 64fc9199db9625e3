/*
 * sandbox.h -- the sandbox provider interface: one long-lived sandbox per
 * user, whose filesystem is the user's knowledge base.
 *
 * Two providers implement it, chosen by SANDBOX_PROVIDER:
 *   daytona  app/sandbox/daytona_provider.c over the REST client (daytona.h)
 *   local    app/sandbox/local_provider.c: directories under OMNI_DATA_DIR,
 *            commands under bubblewrap
 *
 * A provider is stateless with respect to users: nothing about a user's
 * sandbox is remembered in memory.  The sandbox is found again by a name
 * derived from the userId (sbx_name_for_user) and a label carrying the
 * userId, so any thread of any worker of any replica finds the same one.
 *
 * Layering: providers implement the primitives in struct sbx_ops; the
 * per-user policy (find, create, start if stopped, replace if in error,
 * resolve concurrent creates) lives once in app/sandbox/policy.c
 * (sbx_ensure_for_user) on top of them.
 *
 * Threads: one struct sbx_provider per worker process, shared by its
 * threads; every op must be thread safe.  Per-thread resources (curl
 * handles) live in thread-local storage inside the provider.
 *
 * Ownership: structs filled by ops (sbx_info) are caller storage.  Results
 * that carry heap memory (sbx_exec_result, sbx_file_list, read buffers) are
 * released with the matching sbx_*_free(); on error nothing needs freeing.
 */
#ifndef OMNI_SANDBOX_H
#define OMNI_SANDBOX_H

#include <stddef.h>
#include <time.h>

struct omni_config;

/* The contract's states; providers map theirs onto these. */
enum sbx_state {
	SBX_STATE_CREATING = 0, /* being created or started, not usable yet */
	SBX_STATE_READY,        /* started, commands can run */
	SBX_STATE_STOPPED,      /* exists, must be started (also archived) */
	SBX_STATE_ERROR,        /* broken or destroyed; replace it */
	SBX_STATE__MAX
};

enum sbx_err {
	SBX_OK = 0,        /* success */
	SBX_ENOTFOUND,     /* no such sandbox (or file) */
	SBX_EINVAL,        /* bad argument: id, path, user id, size */
	SBX_ECONFLICT,     /* already exists / state does not allow it */
	SBX_EAUTH,         /* the provider refused our credentials */
	SBX_ERATELIMIT,    /* the provider throttled us (after retries) */
	SBX_EUNAVAILABLE,  /* provider down or overloaded (503) */
	SBX_ETIMEOUT,      /* deadline passed: HTTP wait or ready wait */
	SBX_EUPSTREAM,     /* provider answered something unusable (5xx,
	                    * junk, or refused a request as malformed) */
	SBX_ENETWORK,      /* could not reach the provider */
	SBX_EQUOTA,        /* organisation limit (sandbox count, disk, CPU) */
	SBX_EISOLATION,    /* local: bubblewrap cannot start, refusing */
	SBX_EIO,           /* local filesystem error */
	SBX_ENOMEM,        /* out of memory */
	SBX_ETOOLARGE,     /* file or output over the allowed size */
	SBX__MAX
};

/* The longest id and user id, in characters (the API's limits, which the
 * validation messages quote), and the buffers that hold them. */
#define SBX_ID_CHARS 127
#define SBX_USER_CHARS 127
#define SBX_ID_MAX (SBX_ID_CHARS + 1)
#define SBX_USER_MAX (SBX_USER_CHARS + 1)
#define SBX_TIME_MAX 40

struct sbx_info {
	char id[SBX_ID_MAX];           /* provider id of the sandbox */
	char user_id[SBX_USER_MAX];    /* owner, from the label */
	enum sbx_state state;
	char created_at[SBX_TIME_MAX]; /* RFC 3339, as the provider gives it */
};

struct sbx_exec_opts {
	const char *cwd;            /* inside the sandbox; NULL = its home */
	int timeout_s;              /* wall time limit; 0 = provider default */
	const char *const *env;     /* "KEY=VALUE" strings, NULL-terminated */
	size_t max_output;          /* cap on captured output; 0 = default */
};

struct sbx_exec_result {
	int exit_code;     /* process exit code; 128+signal if killed */
	int timed_out;     /* 1 if killed by the wall time limit */
	int truncated;     /* 1 if output was cut at max_output */
	char *output;      /* combined stdout+stderr, NUL-terminated, owned */
	size_t output_len;
};

struct sbx_file_entry {
	char *name;        /* entry name (not a path), owned */
	int is_dir;
	long long size;
	long long mtime;   /* seconds since the epoch, 0 if unknown */
	long long mtime_ms; /* the same in milliseconds (finer where the
	                    * provider knows it) */
};

struct sbx_file_list {
	struct sbx_file_entry *entries; /* owned */
	size_t count;
};

/*
 * Background jobs: a program started in the sandbox that outlives the call
 * that started it, and the worker too (an agent run takes minutes; no
 * HTTP request waits for one).  A job is named by its caller's 'job_id'
 * (sbx_job_id_valid) and keeps its files in the sandbox, under
 * SBX_JOB_DIR/<job_id>/:
 *
 *   input    written by the caller before job_start: the job's stdin
 *   stdout   the job's standard output, stderr its standard error
 *   exit     its exit code in decimal (128+signal when killed), written
 *            once it has ended and never before
 *
 * The job runs argv as it is -- no shell reads the caller's words -- in
 * the sandbox home, with PATH and HOME of the sandbox and spec->env.
 * job_start is idempotent per job_id: a job that was started before
 * (running or ended) is not started again, and *already says so.
 */
#define SBX_JOB_DIR ".omni/jobs"
#define SBX_JOB_ID_CHARS 64
#define SBX_JOB_ARGV_MAX 24

struct sbx_job_spec {
	const char *job_id;          /* sbx_job_id_valid() */
	const char *const *argv;     /* 1..SBX_JOB_ARGV_MAX words, NULL-ended;
	                              * argv[0] a program name or path */
	const char *const *env;      /* must pass sbx_env_valid() */
	int network;                 /* local provider: the job shares the
	                              * host's network (OMNI_AGENT_NETWORK,
	                              * development only); Daytona: its own
	                              * network policy decides */
};

enum sbx_job_state {
	SBX_JOB_RUNNING = 0,   /* started, has not ended */
	SBX_JOB_EXITED,        /* ended: exit_code is meaningful */
	SBX_JOB_LOST,          /* started, not running, no exit code: its
	                        * supervisor died (sandbox restarted, host
	                        * rebooted) */
};

struct sbx_job_status {
	enum sbx_job_state state;
	int exit_code;         /* SBX_JOB_EXITED only */
};

struct sbx_provider;

/*
 * What a failed operation has to say beyond its enum sbx_err, for the
 * caller to answer with: every operation that can fail takes a
 * struct sbx_error *why (NULL: not wanted) and fills it, so the detail
 * travels with the call that failed, on any thread, whichever provider
 * it was.  On success 'code' is SBX_OK and the rest is empty.
 */
struct sbx_error {
	enum sbx_err code;     /* the operation's own return value */
	int http_status;       /* the provider's HTTP answer, 0 if none */
	long retry_after_s;    /* the provider's Retry-After hint, -1 none */
	char message[256];     /* the provider's own words, printable, no
	                        * credentials; "" if it said nothing */
};

/* Empty 'why' (code SBX_OK, no status, no hint); NULL is a no-op. */
void sbx_error_clear(struct sbx_error *why);

/*
 * Primitives a provider implements.  'id' is the provider's sandbox id.
 * Each returns an sbx_err; output structs are filled only on SBX_OK.  A
 * provider fills 'why' with what it knows (Daytona: status, Retry-After,
 * its message); callers use the sbx_* wrappers below, which always leave
 * why->code equal to the return value.
 */
struct sbx_ops {
	const char *name; /* "daytona" or "local" */

	/* Find the sandbox of 'user_id' (by its derived name/label).
	 * SBX_ENOTFOUND when the user has none. */
	enum sbx_err (*find_for_user)(struct sbx_provider *p,
	    const char *user_id, struct sbx_info *out, struct sbx_error *why);
	/* Create the sandbox of 'user_id' under its derived name.
	 * SBX_ECONFLICT when one with that name already exists. */
	enum sbx_err (*create_for_user)(struct sbx_provider *p,
	    const char *user_id, struct sbx_info *out, struct sbx_error *why);
	enum sbx_err (*get)(struct sbx_provider *p, const char *id,
	    struct sbx_info *out, struct sbx_error *why);
	enum sbx_err (*start)(struct sbx_provider *p, const char *id,
	    struct sbx_error *why);
	enum sbx_err (*stop)(struct sbx_provider *p, const char *id,
	    struct sbx_error *why);
	enum sbx_err (*remove)(struct sbx_provider *p, const char *id,
	    struct sbx_error *why);
	/* 'command' is run by sh -c in the sandbox's home (or opts->cwd);
	 * opts->env must pass sbx_env_valid(), else SBX_EINVAL.  A command that runs and fails is SBX_OK with its
	 * exit code; on SBX_OK release 'out' with sbx_exec_result_free(). */
	enum sbx_err (*exec)(struct sbx_provider *p, const char *id,
	    const char *command, const struct sbx_exec_opts *opts,
	    struct sbx_exec_result *out, struct sbx_error *why);
	/* 'path' is relative to the sandbox home (or absolute inside it).
	 * The file is replaced whole: a reader sees the old content or the
	 * new, never a part (local: temp file + rename; Daytona: upload
	 * beside it + mv). */
	enum sbx_err (*write_file)(struct sbx_provider *p, const char *id,
	    const char *path, const void *data, size_t len,
	    struct sbx_error *why);
	/* '*data' is malloc'd, NUL-terminated, owned by the caller (free()).
	 * SBX_ETOOLARGE past 'max'; 'max' 0 is the provider's default cap
	 * (sandbox_local.h, sandbox_daytona.h). */
	enum sbx_err (*read_file)(struct sbx_provider *p, const char *id,
	    const char *path, size_t max, char **data, size_t *len,
	    struct sbx_error *why);
	enum sbx_err (*list_files)(struct sbx_provider *p, const char *id,
	    const char *path, struct sbx_file_list *out,
	    struct sbx_error *why);
	/* Start the background job 'spec' (see struct sbx_job_spec), or
	 * find it started: then '*already' = 1 and nothing is started.
	 * SBX_EINVAL for a bad spec; SBX_ENOTFOUND when 'input' is
	 * missing. */
	enum sbx_err (*job_start)(struct sbx_provider *p, const char *id,
	    const struct sbx_job_spec *spec, int *already,
	    struct sbx_error *why);
	/* Is the job still running (its supervisor alive, until 'exit' is
	 * written)?  '*running' 0 or 1; SBX_OK also for a job never
	 * started (0). */
	enum sbx_err (*job_running)(struct sbx_provider *p, const char *id,
	    const char *job_id, int *running, struct sbx_error *why);
	/* Kill the job and everything it started (SIGKILL); its 'exit'
	 * then says 137 (local) or stays missing (Daytona: the session is
	 * deleted).  SBX_OK also when it had ended already. */
	enum sbx_err (*job_kill)(struct sbx_provider *p, const char *id,
	    const char *job_id, struct sbx_error *why);
	/* Is the provider reachable and usable?  For /ready.  'detail' gets a
	 * short reason on failure (no secrets). */
	enum sbx_err (*check)(struct sbx_provider *p, char *detail,
	    size_t detail_len);
	/* Re-read rotating credentials (SIGHUP).  May be NULL. */
	void (*reload)(struct sbx_provider *p, const struct omni_config *cfg);
	void (*destroy)(struct sbx_provider *p);
};

struct sbx_provider {
	const struct sbx_ops *ops;
	const struct omni_config *cfg; /* borrowed, outlives the provider */
	void *impl;                    /* provider's own state */
};

/*
 * Create the provider chosen by cfg->provider.  On SBX_OK '*out' is owned
 * by the caller (sbx_provider_free).  Local: SBX_EISOLATION when the
 * isolation cannot be set up (bubblewrap cannot run and
 * OMNI_LOCAL_UNSANDBOXED is not set, no sandbox user, a cgroup that
 * fails).  'detail' (may be NULL) gets a one-line reason on failure when
 * the provider has one, else "".
 */
enum sbx_err sbx_provider_new(const struct omni_config *cfg,
    struct sbx_provider **out, char *detail, size_t detail_len);
void sbx_provider_free(struct sbx_provider *p);

/*
 * The per-user policy, once for both providers: find the user's sandbox;
 * create it when missing (a concurrent create that wins first is found
 * again, so two racing creates end with one sandbox); start it when stopped;
 * delete and recreate it when in error.  Does not wait for readiness: '*out'
 * may say creating.
 */
enum sbx_err sbx_ensure_for_user(struct sbx_provider *p, const char *user_id,
    struct sbx_info *out, struct sbx_error *why);

/*
 * Start 'id' if needed and poll until it is ready or 'deadline_ms' passes
 * (SBX_ETIMEOUT).  SBX_ECONFLICT if it went to error.
 */
enum sbx_err sbx_wait_ready(struct sbx_provider *p, const char *id,
    int deadline_ms, struct sbx_info *out, struct sbx_error *why);

/*
 * The operations of struct sbx_ops for callers: each calls the provider
 * and leaves 'why' (may be NULL) complete -- why->code is the return
 * value even when the provider added nothing.
 */
enum sbx_err sbx_get(struct sbx_provider *p, const char *id,
    struct sbx_info *out, struct sbx_error *why);
/* The sandbox of 'user_id' (SBX_ENOTFOUND when the user has none). */
enum sbx_err sbx_find_for_user(struct sbx_provider *p, const char *user_id,
    struct sbx_info *out, struct sbx_error *why);
enum sbx_err sbx_remove(struct sbx_provider *p, const char *id,
    struct sbx_error *why);
enum sbx_err sbx_exec(struct sbx_provider *p, const char *id,
    const char *command, const struct sbx_exec_opts *opts,
    struct sbx_exec_result *out, struct sbx_error *why);

enum sbx_err sbx_write_file(struct sbx_provider *p, const char *id,
    const char *path, const void *data, size_t len, struct sbx_error *why);
enum sbx_err sbx_read_file(struct sbx_provider *p, const char *id,
    const char *path, size_t max, char **data, size_t *len,
    struct sbx_error *why);
enum sbx_err sbx_list_files(struct sbx_provider *p, const char *id,
    const char *path, struct sbx_file_list *out, struct sbx_error *why);
/* Ask the provider to start 'id' (ops->start) and return at once: it may
 * still say creating afterwards (a Daytona start is asynchronous).
 * SBX_ECONFLICT when its state does not allow a start (already
 * starting). */
enum sbx_err sbx_start(struct sbx_provider *p, const char *id,
    struct sbx_error *why);

/*
 * Background jobs, for callers.  sbx_job_start() checks the spec (id,
 * argv count and words without NUL, env) before the provider sees it.
 * sbx_job_status() asks the provider whether the job runs, then reads its
 * 'exit' file: EXITED when the file holds a code, RUNNING when not but
 * the job runs, LOST when neither (SBX_ENOTFOUND when the job was never
 * started: no job directory).  sbx_job_kill() as the op.
 */
enum sbx_err sbx_job_start(struct sbx_provider *p, const char *id,
    const struct sbx_job_spec *spec, int *already, struct sbx_error *why);
enum sbx_err sbx_job_status(struct sbx_provider *p, const char *id,
    const char *job_id, struct sbx_job_status *out, struct sbx_error *why);
enum sbx_err sbx_job_kill(struct sbx_provider *p, const char *id,
    const char *job_id, struct sbx_error *why);

/* Is 'job_id' a job name: 1..SBX_JOB_ID_CHARS of [A-Za-z0-9_-]? */
int sbx_job_id_valid(const char *job_id);

/* The path of 'file' of job 'job_id' (SBX_JOB_DIR/<job_id>/<file>) into
 * 'buf'; -1 if it does not fit. */
int sbx_job_path(char *buf, size_t len, const char *job_id,
    const char *file);

/*
 * The deterministic sandbox name of a user: "omni-" + the first 32 hex
 * digits of SHA-256(user_id).  'out' must hold SBX_NAME_MAX bytes.
 */
#define SBX_NAME_MAX 40
void sbx_name_for_user(const char *user_id, char out[SBX_NAME_MAX]);

/* Is 'id' a sandbox id the API accepts: 1..SBX_ID_MAX-1 bytes of
 * [A-Za-z0-9._-] (Daytona UUIDs and names, local names), not made of dots
 * alone ("." and ".." would be URL path segments)? */
int sbx_id_valid(const char *id);

/* Is 'user_id' acceptable (1..SBX_USER_MAX-1 bytes, printable ASCII, no
 * '/')? */
int sbx_user_id_valid(const char *user_id);

/* Bounds on a command's environment (struct sbx_exec_opts.env). */
#define SBX_ENV_MAX 64            /* variables per command */
#define SBX_ENV_NAME_MAX 128      /* bytes of a name */
#define SBX_ENV_VALUE_MAX 32768   /* bytes of a value */

/*
 * Is "KEY=VALUE" acceptable in a command's environment?  KEY is a shell
 * name ([A-Za-z_][A-Za-z0-9_]*, at most SBX_ENV_NAME_MAX bytes), the value
 * at most SBX_ENV_VALUE_MAX bytes, and KEY is none the provider sets
 * itself (PATH, HOME) nor one the dynamic loader, libc or a shell reads
 * before the command's own code runs (LD_*, BASH_ENV, ENV, BASH_FUNC_*,
 * IFS, SHELLOPTS, GCONV_PATH, MALLOC_*, ...; the full list is in
 * app/sandbox/sandbox.c).  Such a name could turn a value into code.
 */
int sbx_env_entry_valid(const char *kv);

/* sbx_env_entry_valid for every entry, and at most SBX_ENV_MAX of them;
 * NULL is an empty environment. */
int sbx_env_valid(const char *const *env);

/* The label key that carries the userId. */
#define SBX_LABEL_USER "omni.user-id"

void sbx_exec_result_free(struct sbx_exec_result *r);
void sbx_file_list_free(struct sbx_file_list *l);

const char *sbx_state_name(enum sbx_state s);
const char *sbx_strerror(enum sbx_err err);

#endif
