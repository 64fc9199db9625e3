/*
 * local_exec.c -- running a command in a local sandbox: `/bin/sh -c
 * command` under bubblewrap, with resource limits, a wall-time limit and a
 * cap on captured output.
 *
 * Everything the child needs (argv, envp, limits, fds) is prepared before
 * fork(), because the worker is multi-threaded: between fork() and
 * execve() the child only makes async-signal-safe system calls.  Every fd
 * the worker opens here is O_CLOEXEC, and the child closes all others, so
 * no FastCGI socket or another thread's pipe leaks into a sandbox.
 *
 * The child starts a new session, so its process group is its pid; the
 * wall-time limit kills that whole group.  Under bwrap the command is also
 * in its own pid namespace whose init dies with bwrap, so nothing survives
 * the kill; without bwrap, processes that left the group can survive
 * (one reason the unsandboxed mode is for trusted machines only).
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/prctl.h>
#include <sys/pidfd.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "local_internal.h"
#include "timeutil.h"

#define ARGV_MAX 128            /* bwrap arguments; ~70 are used */
#define LINK_MAX_LEN 256        /* target of a /bin-style symlink */
#define DRAIN_MS 2000           /* output read after exit or kill */
#define TICK_MS 10              /* poll tick when pidfd is unavailable */
#define PROBE_TIMEOUT_S 10
#define OUTPUT_CAP_MAX ((size_t)256 << 20) /* whatever the caller asks */
#define SANDBOX_PATH "/usr/local/bin:/usr/bin:/bin"

/* Top-level directories of the host that commands see read-only: on a
 * merged-/usr system they are symlinks into /usr and are recreated as
 * such. */
static const char *const top_dirs[] = {
	"/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32",
};
#define NTOP (sizeof(top_dirs) / sizeof(top_dirs[0]))

/* The parts of /etc a shell and common tools need; nothing secret. */
static const char *const etc_files[] = {
	"/etc/alternatives", "/etc/ld.so.cache", "/etc/ld.so.conf",
	"/etc/ld.so.conf.d", "/etc/localtime", "/etc/passwd", "/etc/group",
	"/etc/nsswitch.conf", "/etc/hosts", "/etc/ssl", "/etc/ca-certificates",
	"/etc/mime.types",
};
#define NETC (sizeof(etc_files) / sizeof(etc_files[0]))

struct argv_buf {
	const char *v[ARGV_MAX + 1];
	int n;
	int overflow;
	char links[NTOP][LINK_MAX_LEN];
};

static void push(struct argv_buf *a, const char *s)
{
	if (a->n >= ARGV_MAX) {
		a->overflow = 1;
		return;
	}
	a->v[a->n++] = s;
	a->v[a->n] = NULL;
}

static void push3(struct argv_buf *a, const char *x, const char *y,
    const char *z)
{
	push(a, x);
	push(a, y);
	push(a, z);
}

/*
 * The bwrap command line: namespaces, read-only system, the sandbox's
 * home and tmp writable, then `/bin/sh -c command`.
 */
static int bwrap_argv(struct argv_buf *a, const char *bwrap,
    const char *home, const char *tmp, const char *cwd_inside,
    const char *command)
{
	struct stat st;
	ssize_t n;
	size_t i;

	memset(a, 0, sizeof(*a));
	push(a, bwrap);
	push(a, "--unshare-net");
	push(a, "--unshare-pid");
	push(a, "--unshare-ipc");
	push(a, "--unshare-uts");
	push(a, "--unshare-cgroup-try");
	push(a, "--die-with-parent");
	push(a, "--new-session");
	push(a, "--cap-drop");
	push(a, "ALL");
	push(a, "--hostname");
	push(a, "sandbox");
	push3(a, "--ro-bind", "/usr", "/usr");
	for (i = 0; i < NTOP; i++) {
		if (lstat(top_dirs[i], &st) != 0)
			continue;
		if (S_ISLNK(st.st_mode)) {
			n = readlink(top_dirs[i], a->links[i],
			    LINK_MAX_LEN - 1);
			if (n <= 0 || n >= LINK_MAX_LEN - 1)
				continue;
			a->links[i][n] = '\0';
			push3(a, "--symlink", a->links[i], top_dirs[i]);
		} else if (S_ISDIR(st.st_mode)) {
			push3(a, "--ro-bind", top_dirs[i], top_dirs[i]);
		}
	}
	for (i = 0; i < NETC; i++)
		push3(a, "--ro-bind-try", etc_files[i], etc_files[i]);
	push(a, "--proc");
	push(a, "/proc");
	push(a, "--dev");
	push(a, "/dev");
	push3(a, "--bind", home, SBX_LOCAL_HOME);
	push3(a, "--bind", tmp, "/tmp");
	/* The root and /dev are tmpfs made by bwrap: read-only too, so the
	 * binds above are the only writable places (no memory-backed files
	 * outside the limits). */
	push(a, "--remount-ro");
	push(a, "/dev");
	push(a, "--remount-ro");
	push(a, "/");
	push(a, "--chdir");
	push(a, cwd_inside);
	push(a, "--");
	push3(a, "/bin/sh", "-c", command);
	return a->overflow ? -1 : 0;
}

static int plain_argv(struct argv_buf *a, const char *command)
{
	memset(a, 0, sizeof(*a));
	push3(a, "/bin/sh", "-c", command);
	return 0;
}

/* Limits for the child, clamped to what we may set. */
struct child_limits {
	struct rlimit cpu, as, fsize, nproc, core;
	int open_max;
};

static void clamp(struct rlimit *r, int resource, rlim_t want)
{
	struct rlimit cur;

	r->rlim_cur = r->rlim_max = want;
	if (getrlimit(resource, &cur) == 0 && cur.rlim_max != RLIM_INFINITY &&
	    want > cur.rlim_max)
		r->rlim_cur = r->rlim_max = cur.rlim_max;
}

static void child_limits_of(const struct local_impl *li,
    struct child_limits *cl)
{
	long om = sysconf(_SC_OPEN_MAX);

	clamp(&cl->cpu, RLIMIT_CPU, (rlim_t)li->lim.cpu_s);
	/* SIGXCPU at the soft limit, SIGKILL a second later. */
	if (cl->cpu.rlim_max == (rlim_t)li->lim.cpu_s)
		cl->cpu.rlim_max = (rlim_t)li->lim.cpu_s + 1;
	clamp(&cl->as, RLIMIT_AS, (rlim_t)li->lim.mem_bytes);
	clamp(&cl->fsize, RLIMIT_FSIZE, (rlim_t)li->lim.file_bytes);
	clamp(&cl->nproc, RLIMIT_NPROC, (rlim_t)li->lim.nproc);
	cl->core.rlim_cur = cl->core.rlim_max = 0;
	cl->open_max = om > 0 && om < 65536 ? (int)om : 65536;
}

/*
 * In the child, after fork: async-signal-safe calls only.  'parent' is
 * the worker's pid.  The child dies with the worker (PR_SET_PDEATHSIG):
 * bwrap's --die-with-parent does the same for its own processes once it
 * runs, this also covers the moment before, and the shell itself when
 * running unsandboxed, so a crashed worker leaves no command running past
 * the wall-time limit it was enforcing.
 */
static void child_run(char *const argv[], char *const envp[], int devnull,
    int out, int cwdfd, const struct child_limits *cl, pid_t parent)
{
	struct sigaction sa;
	sigset_t none;
	int sig, fd;

	if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0 || getppid() != parent)
		_exit(126); /* the worker died before the prctl took */
	setsid();
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = SIG_DFL;
	for (sig = 1; sig < NSIG; sig++)
		if (sig != SIGKILL && sig != SIGSTOP)
			sigaction(sig, &sa, NULL);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	if (dup2(devnull, 0) < 0 || dup2(out, 1) < 0 || dup2(out, 2) < 0)
		_exit(126);
	if (cwdfd >= 0 && fchdir(cwdfd) != 0)
		_exit(126);
	if (setrlimit(RLIMIT_CPU, &cl->cpu) != 0 ||
	    setrlimit(RLIMIT_AS, &cl->as) != 0 ||
	    setrlimit(RLIMIT_FSIZE, &cl->fsize) != 0 ||
	    setrlimit(RLIMIT_NPROC, &cl->nproc) != 0 ||
	    setrlimit(RLIMIT_CORE, &cl->core) != 0)
		_exit(126);
	if (close_range(3, ~0U, 0) != 0)
		for (fd = 3; fd < cl->open_max; fd++)
			close(fd);
	execve(argv[0], argv, envp);
	_exit(127);
}

/* Captured output: kept up to 'cap' bytes, the rest counted and dropped. */
struct capture {
	char *buf;
	size_t len, alloc, cap;
	int truncated;
	int oom;
};

static void capture_add(struct capture *c, const char *data, size_t n)
{
	size_t keep = n, want;
	char *grown;

	if (c->len + keep > c->cap) {
		keep = c->cap - c->len;
		c->truncated = 1;
	}
	if (keep == 0)
		return;
	if (c->len + keep + 1 > c->alloc) {
		want = c->alloc ? c->alloc : 4096;
		while (want < c->len + keep + 1)
			want *= 2;
		if (want > c->cap + 1)
			want = c->cap + 1;
		if ((grown = realloc(c->buf, want)) == NULL) {
			c->oom = 1;
			return;
		}
		c->buf = grown;
		c->alloc = want;
	}
	memcpy(c->buf + c->len, data, keep);
	c->len += keep;
}

/* A running command as run() follows it. */
struct child {
	pid_t pid;        /* also its process group */
	int out;          /* read end of its output pipe, O_NONBLOCK */
	int pidfd;        /* readable when it exits; -1 if unsupported */
	int exited;       /* it exited (still a zombie unless 'lost') */
	int lost;         /* reaped by the kernel: status unknown */
	int eof;          /* the output pipe is closed */
	int timed_out;    /* killed at the wall-time limit */
};

/* Fork and exec 'argv' with stdin /dev/null and stdout+stderr on a pipe. */
static enum sbx_err spawn(const struct local_impl *li, char *const argv[],
    char *const envp[], int cwdfd, struct child *ch)
{
	struct child_limits cl;
	int pipefd[2], devnull;
	pid_t self = getpid();

	memset(ch, 0, sizeof(*ch));
	child_limits_of(li, &cl);
	devnull = open("/dev/null", O_RDONLY | O_CLOEXEC);
	if (devnull < 0)
		return SBX_EIO;
	if (pipe2(pipefd, O_CLOEXEC) != 0) {
		close(devnull);
		return SBX_EIO;
	}
	ch->pid = fork();
	if (ch->pid == 0)
		child_run(argv, envp, devnull, pipefd[1], cwdfd, &cl, self);
	close(devnull);
	close(pipefd[1]);
	if (ch->pid < 0) {
		close(pipefd[0]);
		return errno == ENOMEM ? SBX_ENOMEM : SBX_EIO;
	}
	ch->out = pipefd[0];
	fcntl(ch->out, F_SETFL, O_NONBLOCK);
	ch->pidfd = pidfd_open(ch->pid, 0);
	return SBX_OK;
}

/* Has the child exited?  Updates ch->exited and ch->lost. */
static void check_exit(struct child *ch)
{
	siginfo_t si;
	int rn;

	/* WNOWAIT: the pid stays ours (a zombie) while we kill its group,
	 * so the group id cannot be reused under us. */
	memset(&si, 0, sizeof(si));
	rn = waitid(P_PID, (id_t)ch->pid, &si, WEXITED | WNOHANG | WNOWAIT);
	if (rn == 0 && si.si_pid == ch->pid) {
		ch->exited = 1;
		kill(-ch->pid, SIGKILL); /* stragglers of its group */
	} else if (rn != 0 && errno == ECHILD) {
		/* SIGCHLD ignored: reaped by the kernel, status lost. */
		ch->exited = 1;
		ch->lost = 1;
	}
}

/*
 * Read the child's output into 'c' until it has exited and the pipe is
 * closed; at 'timeout_s' kill its process group.  After the exit (or the
 * kill) the pipe is drained for at most DRAIN_MS: a process that left the
 * group may hold it open.
 */
static void collect(struct child *ch, int timeout_s, struct capture *c)
{
	struct pollfd pfd[2];
	char chunk[16384];
	long long deadline, drain_end = 0, now, wait;
	nfds_t nfds;
	ssize_t r;

	deadline = time_mono_ms() + (long long)timeout_s * 1000;
	while (!(ch->eof && ch->exited)) {
		now = time_mono_ms();
		if (!ch->exited && !ch->timed_out && now >= deadline) {
			kill(-ch->pid, SIGKILL);
			ch->timed_out = 1;
		}
		if ((ch->exited || ch->timed_out) && drain_end == 0)
			drain_end = now + DRAIN_MS;
		if (drain_end != 0 && now >= drain_end)
			break;
		wait = drain_end != 0 ? drain_end - now : deadline - now;
		nfds = 0;
		if (!ch->eof) {
			pfd[nfds].fd = ch->out;
			pfd[nfds++].events = POLLIN;
		}
		if (!ch->exited && ch->pidfd >= 0) {
			pfd[nfds].fd = ch->pidfd;
			pfd[nfds++].events = POLLIN;
		}
		if (!ch->exited && ch->pidfd < 0 && wait > TICK_MS)
			wait = TICK_MS;
		if (poll(pfd, nfds, (int)(wait > 0 ? wait : 0)) < 0 &&
		    errno != EINTR)
			break;
		if (!ch->eof) {
			r = read(ch->out, chunk, sizeof(chunk));
			if (r > 0)
				capture_add(c, chunk, (size_t)r);
			else if (r == 0 || (errno != EAGAIN && errno != EINTR))
				ch->eof = 1;
		}
		if (!ch->exited)
			check_exit(ch);
	}
}

/* Reap the child (killing it first if it still runs); its exit code as
 * sbx_exec_result reports it. */
static int reap(struct child *ch)
{
	int status = 0;

	if (!ch->exited)
		kill(-ch->pid, SIGKILL);
	while (!ch->lost && waitpid(ch->pid, &status, 0) < 0) {
		if (errno != EINTR) {
			ch->lost = 1;
			break;
		}
	}
	if (ch->pidfd >= 0)
		close(ch->pidfd);
	close(ch->out);
	if (ch->lost)
		return -1;
	if (WIFEXITED(status))
		return WEXITSTATUS(status);
	if (WIFSIGNALED(status))
		return 128 + WTERMSIG(status);
	return -1;
}

/*
 * Fork, exec 'argv' and collect its output until it exits and the pipe is
 * closed, or the wall time 'timeout_s' passes (then the process group is
 * killed).  Fills 'out' on SBX_OK.
 */
static enum sbx_err run(const struct local_impl *li, char *const argv[],
    char *const envp[], int cwdfd, int timeout_s, size_t cap,
    struct sbx_exec_result *out)
{
	struct capture c = { NULL, 0, 0, cap, 0, 0 };
	struct child ch;
	enum sbx_err err;
	int code;

	if ((err = spawn(li, argv, envp, cwdfd, &ch)) != SBX_OK)
		return err;
	collect(&ch, timeout_s, &c);
	code = reap(&ch);
	if (c.oom || (c.buf == NULL && (c.buf = malloc(1)) == NULL)) {
		free(c.buf);
		return SBX_ENOMEM;
	}
	c.buf[c.len] = '\0';
	memset(out, 0, sizeof(*out));
	out->output = c.buf;
	out->output_len = c.len;
	out->truncated = c.truncated;
	out->timed_out = ch.timed_out;
	out->exit_code = code;
	return SBX_OK;
}

static int env_key_valid(const char *kv)
{
	const char *eq = strchr(kv, '=');
	const char *s;

	if (eq == NULL || eq == kv || (kv[0] >= '0' && kv[0] <= '9'))
		return 0;
	for (s = kv; s < eq; s++)
		if (!(*s == '_' || (*s >= 'A' && *s <= 'Z') ||
		    (*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9')))
			return 0;
	return 1;
}

/*
 * The child's environment: opts' "KEY=VALUE" strings, then PATH and HOME
 * unless given.  The array is malloc'd (caller frees it, not the strings
 * but 'path_kv'/'home_kv', which point into caller storage).
 */
static enum sbx_err build_env(const char *const *env, const char *path_kv,
    const char *home_kv, char ***out)
{
	size_t n = 0, i, k = 0;
	int has_path = 0, has_home = 0;
	char **envp;

	for (i = 0; env != NULL && env[i] != NULL; i++) {
		if (!env_key_valid(env[i]))
			return SBX_EINVAL;
		has_path |= strncmp(env[i], "PATH=", 5) == 0;
		has_home |= strncmp(env[i], "HOME=", 5) == 0;
		n++;
	}
	if ((envp = calloc(n + 3, sizeof(*envp))) == NULL)
		return SBX_ENOMEM;
	for (i = 0; i < n; i++)
		envp[k++] = (char *)(uintptr_t)env[i];
	if (!has_path)
		envp[k++] = (char *)(uintptr_t)path_kv;
	if (!has_home)
		envp[k++] = (char *)(uintptr_t)home_kv;
	envp[k] = NULL;
	*out = envp;
	return SBX_OK;
}

enum sbx_err local_exec(struct sbx_provider *p, const char *id,
    const char *command, const struct sbx_exec_opts *opts,
    struct sbx_exec_result *out)
{
	static const struct sbx_exec_opts no_opts;
	struct local_impl *li = local_impl_of(p);
	char rel[PATH_MAX], home[PATH_MAX], tmp[PATH_MAX], cwd[PATH_MAX];
	char home_kv[PATH_MAX + 8];
	struct argv_buf *a = NULL;
	char **envp = NULL;
	enum sbx_err err;
	int homefd = -1, cwdfd = -1, timeout;
	size_t cap;

	if (id == NULL || command == NULL || *command == '\0' || out == NULL)
		return SBX_EINVAL;
	if (opts == NULL)
		opts = &no_opts;
	if ((err = local_path_normalise(opts->cwd, rel, sizeof(rel))) != SBX_OK)
		return err;
	timeout = opts->timeout_s > 0 ? opts->timeout_s : li->lim.timeout_s;
	if (timeout > li->lim.max_timeout_s)
		timeout = li->lim.max_timeout_s;
	cap = opts->max_output > 0 ? opts->max_output : li->lim.max_output;
	if (cap > OUTPUT_CAP_MAX)
		cap = OUTPUT_CAP_MAX;
	if ((err = local_open_ready_home(li, id, &homefd)) != SBX_OK)
		return err;
	if ((err = local_open_dir(homefd, rel, 0, &cwdfd)) != SBX_OK)
		goto done;
	if (snprintf(home, sizeof(home), "%s/%s/home", li->root, id) >=
	    (int)sizeof(home) ||
	    snprintf(tmp, sizeof(tmp), "%s/%s/tmp", li->root, id) >=
	    (int)sizeof(tmp) ||
	    snprintf(cwd, sizeof(cwd), "%s%s%s", li->isolated ?
	    SBX_LOCAL_HOME : home, rel[0] != '\0' ? "/" : "", rel) >=
	    (int)sizeof(cwd) ||
	    snprintf(home_kv, sizeof(home_kv), "HOME=%s",
	    li->isolated ? SBX_LOCAL_HOME : home) >= (int)sizeof(home_kv)) {
		err = SBX_EINVAL;
		goto done;
	}
	if ((err = build_env(opts->env, "PATH=" SANDBOX_PATH, home_kv,
	    &envp)) != SBX_OK)
		goto done;
	if ((a = malloc(sizeof(*a))) == NULL) {
		err = SBX_ENOMEM;
		goto done;
	}
	if ((li->isolated ? bwrap_argv(a, li->bwrap, home, tmp, cwd, command) :
	    plain_argv(a, command)) != 0) {
		err = SBX_EINVAL;
		goto done;
	}
	err = run(li, (char *const *)(uintptr_t)a->v, envp, cwdfd, timeout,
	    cap, out);
done:
	free(a);
	free(envp);
	if (cwdfd >= 0)
		close(cwdfd);
	if (homefd >= 0)
		close(homefd);
	return err;
}

enum sbx_err local_probe_bwrap(struct local_impl *li, const char *bwrap,
    char *detail, size_t detail_len)
{
	static unsigned counter;
	struct sbx_exec_result r;
	char name[96], home[PATH_MAX], tmp[PATH_MAX];
	char *envp[] = { (char *)(uintptr_t)"PATH=" SANDBOX_PATH, NULL };
	struct argv_buf *a;
	enum sbx_err err;
	char *nl;
	int fd;

	snprintf(name, sizeof(name), ".new-probe-%ld-%u", (long)getpid(),
	    __atomic_fetch_add(&counter, 1, __ATOMIC_RELAXED));
	if (snprintf(home, sizeof(home), "%s/%s/home", li->root, name) >=
	    (int)sizeof(home) ||
	    snprintf(tmp, sizeof(tmp), "%s/%s/tmp", li->root, name) >=
	    (int)sizeof(tmp) || mkdirat(li->rootfd, name, 0700) != 0) {
		snprintf(detail, detail_len, "cannot write the data directory");
		return SBX_EIO;
	}
	fd = openat(li->rootfd, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0 || mkdirat(fd, "home", 0755) != 0 ||
	    mkdirat(fd, "tmp", 0700) != 0 || (a = malloc(sizeof(*a))) == NULL) {
		if (fd >= 0)
			close(fd);
		local_rm_tree(li->rootfd, name);
		snprintf(detail, detail_len, "cannot write the data directory");
		return SBX_EIO;
	}
	if (bwrap_argv(a, bwrap, home, tmp, SBX_LOCAL_HOME, "exit 0") != 0) {
		err = SBX_EISOLATION;
		snprintf(detail, detail_len, "bwrap command line too long");
	} else if ((err = run(li, (char *const *)(uintptr_t)a->v, envp, fd,
	    PROBE_TIMEOUT_S, 512, &r)) == SBX_OK) {
		if (r.exit_code != 0 || r.timed_out) {
			err = SBX_EISOLATION;
			if ((nl = strchr(r.output, '\n')) != NULL)
				*nl = '\0';
			snprintf(detail, detail_len,
			    "bubblewrap cannot start (exit %d%s): %s",
			    r.exit_code, r.timed_out ? ", timed out" : "",
			    r.output[0] != '\0' ? r.output : "no message");
		}
		sbx_exec_result_free(&r);
	} else {
		snprintf(detail, detail_len, "cannot run bubblewrap: %s",
		    sbx_strerror(err));
		err = SBX_EISOLATION;
	}
	free(a);
	close(fd);
	local_rm_tree(li->rootfd, name);
	return err;
}
