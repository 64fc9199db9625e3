/*
 * local_internal.h -- shared between the files of the local provider
 * (local_provider.c: lifecycle, local_fs.c: confined file access,
 * local_exec.c: commands under bubblewrap, local_job.c: background jobs,
 * local_cgroup.c: bounds, and
 * local_store.c below them all: ids, the state file, locks).  Not for
 * other modules: the public side is include/sandbox_local.h.
 *
 * The convention for every module's internal header: it lives beside the
 * module's files (app/<module>/<module>_internal.h, or include/ when tests
 * need it, as inngest_internal.h), says which files share it, and is
 * included by those files and their unit tests only.  Calls run one way:
 * local_provider.c -> local_exec.c -> local_fs.c, local_cgroup.c ->
 * local_store.c; nothing below calls back up.
 */
#ifndef OMNI_LOCAL_INTERNAL_H
#define OMNI_LOCAL_INTERNAL_H

#include <limits.h>
#include <stddef.h>
#include <sys/resource.h>
#include <sys/types.h>

#include "sandbox.h"
#include "sandbox_local.h"

/* local_cgroup.c: the bound of a whole sandbox (see that file). */
enum local_cg_kind { LOCAL_CG_NONE, LOCAL_CG_V2, LOCAL_CG_V1 };
#define LOCAL_CG_MAXFD 2  /* v1: pids and memory hierarchies */

struct local_cgroup {
	enum local_cg_kind kind;
	int nbase;                       /* directories in base[] */
	char base[LOCAL_CG_MAXFD][PATH_MAX]; /* v2: one; v1: pids, memory */
	long long pids_max, mem_max;
	char tag[17];                    /* leaf prefix: the data directory */
};

struct local_impl {
	char *root;       /* absolute DATA_DIR/sandboxes */
	int rootfd;       /* open O_DIRECTORY on root, for the *at() calls */
	char *bwrap;      /* absolute path of bwrap, NULL when not isolated */
	int isolated;     /* commands run under bwrap */
	int unsandboxed;  /* running without bwrap is allowed */
	int disable_userns; /* this bwrap has --disable-userns */
	int drop;         /* Omni is root: commands run as uid/gid below */
	uid_t uid;        /* the sandbox user (OMNI_SANDBOX_USER) */
	gid_t gid;
	struct local_cgroup cg;
	struct sbx_local_limits lim; /* defaults applied */
	int templatefd;   /* the workspace template directory, -1 none */
};

static inline struct local_impl *local_impl_of(struct sbx_provider *p)
{
	return (struct local_impl *)p->impl;
}

/* ---- local_template.c: the workspace laid into new homes ---- */

/*
 * Open and check the template at 'path' (NULL or "": none, '*out' -1):
 * only directories and regular files, bounded in depth, count and size.
 * 0, or -1 with one line in 'why' naming OMNI_WORKSPACE_TEMPLATE.
 */
int local_template_open(const char *path, int *out, char *why, size_t len);

/* Copy the template into the open home 'homefd', handed to the sandbox
 * user.  SBX_OK (also with no template) or SBX_EIO (logged). */
enum sbx_err local_template_lay(const struct local_impl *li, int homefd);

/* ---- local_store.c: the on-disk store, below every other file ---- */

/* Is 'id' the shape of a local sandbox id ("omni-" + 32 hex)? */
int local_id_valid(const char *id);

/* A name unique across the threads and processes of this machine:
 * "<prefix><base>.<pid>.<n>" into 'buf'. */
void local_unique_name(char *buf, size_t len, const char *prefix,
    const char *base);

/* Read the state of the sandbox open at 'dirfd' into '*out' (a damaged
 * or missing state file reads as state error, not as a failure), and
 * replace it atomically (temp file + rename). */
enum sbx_err local_read_state(int dirfd, const char *id,
    struct sbx_info *out);
enum sbx_err local_write_state(int dirfd, const struct sbx_info *info);

/*
 * Open the live sandbox 'id' and return its directory fd in '*dirfd'
 * (caller closes).  'lock' is 0, LOCK_SH or LOCK_EX: the lock is held on
 * the fd (released by close).  SBX_ENOTFOUND when it does not exist (or
 * was removed while we waited for the lock).
 */
enum sbx_err local_open(struct local_impl *li, const char *id, int lock,
    int *dirfd);

/*
 * Open 'id', check it is ready, and return an fd on its home/ directory
 * in '*homefd' (caller closes).  SBX_ECONFLICT when it is not ready.
 */
enum sbx_err local_open_ready_home(struct local_impl *li, const char *id,
    int *homefd);

/*
 * Resolve 'path' (relative to the home, or absolute under SBX_LOCAL_HOME)
 * into its components under 'homefd'.  Writes the normalised relative path
 * ("" for the home itself) into 'rel' (rel_len bytes).  SBX_EINVAL for
 * '..', absolute paths elsewhere, NUL-free but empty components are
 * skipped.
 */
enum sbx_err local_path_normalise(const char *path, char *rel,
    size_t rel_len);

/*
 * Open the directory 'rel' (normalised, "" = the home) under 'homefd'
 * without following any symlink.  With 'create' missing directories are
 * made (and given to the sandbox user, see local_give_to_sandbox).
 * Returns SBX_OK with '*fd' (caller closes), SBX_ENOTFOUND, SBX_EINVAL
 * (a component is a symlink or not a directory) or SBX_EIO.
 */
enum sbx_err local_open_dir(const struct local_impl *li, int homefd,
    const char *rel, int create, int *fd);

/* Map an errno of a confined open to an sbx_err. */
enum sbx_err local_errno(int e);

/* ---- local_fs.c: the file primitives of struct sbx_ops ---- */
enum sbx_err local_write_file(struct sbx_provider *p, const char *id,
    const char *path, const void *data, size_t len, struct sbx_error *why);
enum sbx_err local_read_file(struct sbx_provider *p, const char *id,
    const char *path, size_t max, char **data, size_t *len,
    struct sbx_error *why);
enum sbx_err local_list_files(struct sbx_provider *p, const char *id,
    const char *path, struct sbx_file_list *out, struct sbx_error *why);

/* Remove the directory 'name' under 'dirfd' and everything below it,
 * never following a symlink.  0 or -1 (errno set). */
int local_rm_tree(int dirfd, const char *name);

/*
 * Find the cgroup support for 'mode' (OMNI_SANDBOX_CGROUP: "auto", "off"
 * or an absolute cgroup v2 directory) under 'fs_root' (NULL:
 * /sys/fs/cgroup; tests pass a fake tree) and make the base directory.
 * 'owner' (the sandboxes' root path) tags the leaves as this provider's.
 * SBX_OK with cg->kind LOCAL_CG_NONE when there is none to use (auto,
 * or off); SBX_EISOLATION when a hierarchy exists or was named but cannot
 * be set up; SBX_EINVAL for a bad mode.  'detail' says which, one line.
 */
enum sbx_err local_cgroup_init(struct local_cgroup *cg, const char *mode,
    const char *fs_root, const char *owner, long long pids_max,
    long long mem_max, char *detail, size_t len);

/*
 * Make (or reuse) the leaf of sandbox 'id', write its limits and open its
 * cgroup.procs file(s) into 'procs' (-1 where unused; O_CLOEXEC; close
 * with local_cgroup_close).  SBX_EISOLATION if any step fails: a command
 * never runs unbounded when a bound was set up.
 */
enum sbx_err local_cgroup_prepare(const struct local_cgroup *cg,
    const char *id, int procs[LOCAL_CG_MAXFD]);
void local_cgroup_close(int procs[LOCAL_CG_MAXFD]);

/* Remove the leaf of 'id' (best effort: busy while a command runs). */
void local_cgroup_remove(const struct local_cgroup *cg, const char *id);

/* Remove this data directory's leaves whose sandbox no longer exists
 * under 'rootfd' (best effort, at start-up). */
void local_cgroup_sweep(const struct local_cgroup *cg, int rootfd);

/* "cgroup v2", "cgroup v1" or "rlimits only". */
const char *local_cgroup_kind_name(enum local_cg_kind kind);

/* Give 'fd' (a directory or file Omni made as root) to the sandbox user,
 * when commands run as one (li->drop); otherwise nothing. */
void local_give_to_sandbox(const struct local_impl *li, int fd);

/* local_exec.c */

/* What a command line is made of (local_bwrap_argv). */
struct local_bwrap_args {
	const char *bwrap;        /* absolute path */
	int disable_userns;       /* add --disable-userns */
	const char *home, *tmp;   /* host paths bound as the home and /tmp */
	const char *cwd;          /* inside */
	const char *command;      /* for /bin/sh -c (when argv is NULL) */
	const char *const *argv;  /* run as it is instead (jobs); or NULL */
	int share_net;            /* keep the host network (jobs with
	                           * OMNI_AGENT_NETWORK) */
	const char *const *env;   /* validated "KEY=VALUE", NULL-terminated */
};

#define LOCAL_ARGV_MAX (112 + 3 * (SBX_ENV_MAX + 2))
#define LOCAL_LINK_MAX 256
#define LOCAL_NTOP 6

/* A command line and its environment, with the storage they point into
 * (besides the caller's strings). */
struct local_cmdline {
	const char *v[LOCAL_ARGV_MAX + 1];    /* argv, NULL-terminated */
	int n;
	int overflow;
	char links[LOCAL_NTOP][LOCAL_LINK_MAX];
	char names[SBX_ENV_MAX][SBX_ENV_NAME_MAX + 1]; /* --setenv names */
	const char *envp[SBX_ENV_MAX + 3];    /* of argv[0] itself */
	char home_kv[PATH_MAX + 8];
};

/* The bwrap argv for 'b' into 'a'; -1 if it does not fit. */
int local_bwrap_argv(struct local_cmdline *a,
    const struct local_bwrap_args *b);

/*
 * The command line of 'command' for 'li' into 'c': under bwrap, bwrap's
 * argv with the variables passed by --setenv and bwrap's own environment
 * empty (it is a host process: nothing of a request may reach it); without
 * bwrap, `/bin/sh -c command` with PATH, HOME=home and 'env'.  SBX_EINVAL
 * for an environment sbx_env_valid() refuses or a line too long.
 */
enum sbx_err local_cmdline_build(struct local_cmdline *c,
    const struct local_impl *li, const char *home, const char *tmp,
    const char *cwd, const char *command, const char *const *env);

/* The same for 'argv' run as it is when not NULL (a job; 'command' is
 * then unused), with the host network when 'share_net'. */
enum sbx_err local_cmdline_build_argv(struct local_cmdline *c,
    const struct local_impl *li, const char *home, const char *tmp,
    const char *cwd, const char *command, const char *const *argv,
    int share_net, const char *const *env);

/* Limits for a child, clamped to what we may set. */
struct local_child_limits {
	struct rlimit cpu, as, fsize, nproc, core;
	int open_max;
};

/*
 * What a child does between fork() and execve(), all decided before
 * fork: its three standard fds, cgroup files to join, the user to become,
 * the mounts to stage.
 */
struct local_launch {
	char *const *argv;
	char *const *envp;
	int in, out, err, cwdfd;
	int cg_procs[LOCAL_CG_MAXFD]; /* -1 when unused */
	int drop;                     /* become uid/gid */
	uid_t uid;
	gid_t gid;
	const char *stage_home;       /* host paths to stage; NULL: none */
	const char *stage_tmp;
	struct local_child_limits cl;
	pid_t parent;                 /* the child dies with this process */
};

void local_child_limits(const struct local_impl *li,
    struct local_child_limits *cl);

/* The launch of 'c' for sandbox 'id' (cgroup leaf 'id' when bounded):
 * on SBX_OK close l->cg_procs with local_cgroup_close.  The caller sets
 * l->in/out/err, l->cl and l->parent. */
enum sbx_err local_launch_of(const struct local_impl *li, const char *id,
    const struct local_cmdline *c, const char *home, const char *tmp,
    int cwdfd, struct local_launch *l);

/* In a forked child of a serving thread: every signal to its default
 * disposition and none blocked (async-signal-safe). */
void local_reset_signals(void);

/* In a forked child: async-signal-safe set-up, then execve(l->argv);
 * never returns.  Dies with l->parent. */
void local_child_run(const struct local_launch *l) __attribute__((noreturn));

/* Hand the directory 'name' under 'dirfd' to the sandbox user when it is
 * not theirs yet (dropped commands write their home and tmp). */
void local_hand_over(const struct local_impl *li, int dirfd,
    const char *name);

enum sbx_err local_exec(struct sbx_provider *p, const char *id,
    const char *command, const struct sbx_exec_opts *opts,
    struct sbx_exec_result *out, struct sbx_error *why);

/* local_job.c: background jobs (the ops of sandbox.h; see that file) */
enum sbx_err local_job_start(struct sbx_provider *p, const char *id,
    const struct sbx_job_spec *spec, int *already, struct sbx_error *why);
enum sbx_err local_job_running(struct sbx_provider *p, const char *id,
    const char *job_id, int *running, struct sbx_error *why);
enum sbx_err local_job_kill(struct sbx_provider *p, const char *id,
    const char *job_id, struct sbx_error *why);

/*
 * Run `true` under bwrap with the same sandbox arguments as a command, in
 * a throw-away directory under the root.  SBX_OK if it exits 0; otherwise
 * SBX_EISOLATION with bwrap's own message in 'detail'.
 */
enum sbx_err local_probe_bwrap(struct local_impl *li, const char *bwrap,
    char *detail, size_t detail_len);

#endif
