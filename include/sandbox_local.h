/*
 * sandbox_local.h -- the local sandbox provider: the embedded stand-in for
 * Daytona on one machine with no account (refused in production by the
 * configuration).
 *
 * Sandboxes are directories under OMNI_DATA_DIR, shared by every worker and
 * process of the machine; nothing is kept in memory:
 *
 *   DATA_DIR/sandboxes/<name>/state.json  {id,userId,state,createdAt}
 *   DATA_DIR/sandboxes/<name>/home/       the sandbox filesystem
 *   DATA_DIR/sandboxes/<name>/tmp/        the sandbox's /tmp
 *
 * <name> is sbx_name_for_user(userId) and is also the sandbox id.  A
 * sandbox is created in a staging directory and renamed into place with
 * RENAME_NOREPLACE, so it appears whole or not at all and two processes
 * creating one for the same user end with one (the loser gets
 * SBX_ECONFLICT).  state.json is replaced by write-to-temp + rename; state
 * changes hold flock(LOCK_EX) on the sandbox directory and check, once
 * locked, that the directory is still the live one.  Removal renames the
 * directory out of the way first, then deletes it.  A state.json that is
 * missing, unreadable, not a regular file (read without blocking), over
 * 4 KiB or not the expected JSON reads as state "error", so the per-user
 * policy replaces the sandbox; no content of it can fail a call.
 *
 * Start and stop only flip the state; a sandbox that is not ready refuses
 * exec and file operations with SBX_ECONFLICT.
 *
 * Commands run as `/bin/sh -c command` under bubblewrap (bwrap): new
 * user (with --disable-userns where bwrap has it), network (loopback
 * only), pid, ipc and uts namespaces, all capabilities dropped, a new
 * session, killed with its parent; read-only /usr (and the /bin, /lib*
 * links), a few world-readable files of /etc (of /etc/ssl only certs/ and
 * openssl.cnf), a private /proc with /proc/sys, /proc/sysrq-trigger and
 * the other host-writing parts of /proc bound read-only over it, and a
 * minimal /dev; bwrap's own root and /dev are remounted read-only, so the
 * sandbox's home (seen as SBX_LOCAL_HOME) and tmp/ (seen as /tmp) are the
 * only writable paths.
 *
 * Who runs it.  When Omni runs as root, the child drops to the sandbox
 * user (OMNI_SANDBOX_USER, default "omni-sandbox", made by `make deps` and
 * the Dockerfile; its uid and gid must not be 0) before it execs bwrap: a
 * user namespace made by root would map back to host root.  home/ and
 * tmp/ belong to that user (files Omni writes there too); the sandbox
 * directory above them and state.json stay root's.  As bwrap resolves its
 * bind sources by path as that user, the child first stages the two
 * directories in a private mount namespace (see local_exec.c).  A missing
 * user refuses the provider (SBX_EISOLATION), even unsandboxed.  When
 * Omni is not root, commands run as Omni's own user.
 *
 * Bounds.  Per process: RLIMIT_CPU, RLIMIT_AS (OMNI_SANDBOX_MEMORY),
 * RLIMIT_FSIZE, RLIMIT_CORE 0.  Per sandbox, whatever number of commands
 * run in it: a cgroup (local_cgroup.c) with pids.max = OMNI_SANDBOX_PIDS
 * and a memory limit of OMNI_SANDBOX_MEMORY (swap included), on cgroup v2
 * where the machine offers it, else on the v1 pids and memory
 * hierarchies; OMNI_SANDBOX_CGROUP names a delegated v2 directory for an
 * unprivileged Omni, or "off".  The fallback without any cgroup: the
 * sandbox user's RLIMIT_NPROC = OMNI_SANDBOX_PIDS bounds the processes of
 * all sandboxes of the machine together (not each), and memory is bounded
 * per process only; an unprivileged Omni keeps RLIMIT_NPROC = nproc (1024
 * by default), counted over all of its user's processes.  A cgroup that
 * exists but cannot be set up refuses the provider.
 *
 * The child dies with its worker (PR_SET_PDEATHSIG, set again after the
 * privilege drop, which clears it; bwrap's --die-with-parent carries it
 * into the sandbox); the wall time limit kills the whole process group
 * (timed_out = 1); output beyond the cap (at most 256 MiB) is read and
 * discarded (truncated = 1), so the exit code stays meaningful.
 * exit_code is -1 if the status was lost (SIGCHLD ignored by the
 * process).
 *
 * Environment.  bwrap itself (a host process, before any namespace) runs
 * with an empty environment; the command gets PATH, HOME and opts->env
 * through --setenv after --clearenv.  opts->env must pass sbx_env_valid()
 * (no PATH/HOME overrides, no name the loader or a shell reads), else
 * SBX_EINVAL.  stdin is /dev/null.  The command string comes from Omni's
 * code or configuration, never from a user.  Not limited: disk use of the
 * home as a whole (only per file, RLIMIT_FSIZE).
 *
 * read_file with max 0 (or more than file_bytes) means the file_bytes
 * limit; the buffer grows with the file, not with 'max'.
 *
 * If bwrap cannot start (missing, or user namespaces refused) the provider
 * is refused with SBX_EISOLATION and a logged reason, unless
 * OMNI_LOCAL_UNSANDBOXED=1: then commands run without bwrap (still with
 * the limits, cwd in the sandbox home, HOME the real home path) and a
 * warning is logged once per process.  The flag is a fallback: when bwrap
 * works it is used regardless.
 *
 * File operations take paths relative to the home, or absolute under
 * SBX_LOCAL_HOME.  Every component is opened with O_NOFOLLOW under the
 * home, so '..', absolute paths elsewhere and symlinks are refused
 * (SBX_EINVAL), even symlinks that point inside the home.
 */
#ifndef OMNI_SANDBOX_LOCAL_H
#define OMNI_SANDBOX_LOCAL_H

#include <stddef.h>

#include "sandbox.h"

/* Where the sandbox home is mounted for commands run under bwrap. */
#define SBX_LOCAL_HOME "/home/omni"

/* Limits on commands; a zero field takes the default below. */
struct sbx_local_limits {
	int cpu_s;              /* RLIMIT_CPU per process, seconds */
	long long mem_bytes;    /* RLIMIT_AS per process */
	long long file_bytes;   /* RLIMIT_FSIZE; also the write_file cap */
	int nproc;              /* RLIMIT_NPROC */
	int timeout_s;          /* wall time when opts->timeout_s is 0 */
	int max_timeout_s;      /* opts->timeout_s is clamped to this */
	size_t max_output;      /* output cap when opts->max_output is 0 */
};

#define SBX_LOCAL_DEFAULT_CPU_S 600
#define SBX_LOCAL_DEFAULT_MEM_BYTES (4LL << 30)
#define SBX_LOCAL_DEFAULT_FILE_BYTES (1LL << 30)
#define SBX_LOCAL_DEFAULT_NPROC 1024
#define SBX_LOCAL_DEFAULT_TIMEOUT_S 300
#define SBX_LOCAL_DEFAULT_MAX_TIMEOUT_S 3600
#define SBX_LOCAL_DEFAULT_MAX_OUTPUT ((size_t)1 << 20)

#define SBX_LOCAL_DEFAULT_USER "omni-sandbox"
#define SBX_LOCAL_DEFAULT_PIDS 512

struct sbx_local_opts {
	const char *data_dir;   /* required; sandboxes/ is made inside */
	int unsandboxed;        /* allow running without bwrap */
	const char *bwrap;      /* bwrap binary; NULL = search PATH */
	const char *sandbox_user; /* NULL: SBX_LOCAL_DEFAULT_USER (root only) */
	const char *cgroup;     /* "auto" (NULL), "off", or a v2 directory */
	const char *cgroup_fs_root; /* NULL: /sys/fs/cgroup (tests: a fake) */
	long long sandbox_pids; /* processes per sandbox; 0: default */
	long long sandbox_memory; /* bytes per sandbox; 0: mem_bytes default */
	const char *workspace_template; /* directory copied into every new
	                          * home (OMNI_WORKSPACE_TEMPLATE); NULL none */
	struct sbx_local_limits limits;
};

/*
 * The provider for 'cfg' (data_dir, local_unsandboxed), default limits.
 * On SBX_OK '*out' is owned by the caller (sbx_provider_free).  Errors:
 * SBX_EINVAL (no data_dir), SBX_EIO (cannot make DATA_DIR/sandboxes),
 * SBX_EISOLATION (bwrap cannot start and unsandboxed is not allowed, the
 * sandbox user is missing, or a cgroup cannot be set up; the reason is
 * logged and, when 'detail' is not NULL, written there as one line),
 * SBX_ENOMEM.
 */
enum sbx_err sbx_local_new(const struct omni_config *cfg,
    struct sbx_provider **out, char *detail, size_t detail_len);

/*
 * The same from explicit options (tests, tools).  'detail' (may be NULL)
 * gets a one-line reason on failure and, on success, says whether commands
 * run under bwrap.  The provider copies what it needs from 'o'; its cfg
 * pointer is NULL.
 */
enum sbx_err sbx_local_new_opts(const struct sbx_local_opts *o,
    struct sbx_provider **out, char *detail, size_t detail_len);

/* 1 if commands of this local provider run under bwrap, 0 if not. */
int sbx_local_isolated(const struct sbx_provider *p);

#endif
