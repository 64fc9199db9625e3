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
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/pidfd.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "local_internal.h"
#include "timeutil.h"

#define ARGV_MAX LOCAL_ARGV_MAX /* ~90 besides --setenv are used */
#define LINK_MAX_LEN LOCAL_LINK_MAX /* target of a /bin-style symlink */
#define DRAIN_MS 2000           /* output read after exit or kill */
#define TICK_MS 10              /* poll tick when pidfd is unavailable */
#define PROBE_TIMEOUT_S 10
#define OUTPUT_CAP_MAX ((size_t)256 << 20) /* whatever the caller asks */
#define SANDBOX_PATH "/usr/local/bin:/usr/bin:/bin"

/*
 * Where a dropped launcher shows bwrap the sandbox's home and tmp.  bwrap
 * resolves its bind sources by path as the sandbox user, who may not be
 * able to search the data directory's parents (a clone under /root, say).
 * So the child, still root, makes a private mount namespace, puts a small
 * tmpfs (root's, mode 0755) on /tmp there and binds the two directories
 * into it; nothing of this is visible to the host.
 */
#define STAGE_DIR "/tmp"
#define STAGE_HOME STAGE_DIR "/home"
#define STAGE_TMP STAGE_DIR "/tmp"

/* Top-level directories of the host that commands see read-only: on a
 * merged-/usr system they are symlinks into /usr and are recreated as
 * such. */
static const char *const top_dirs[] = {
	"/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32",
};
#define NTOP (sizeof(top_dirs) / sizeof(top_dirs[0]))
_Static_assert(NTOP == LOCAL_NTOP, "links[] holds one per top dir");

/* The parts of /etc a shell and common tools need: nothing secret, and
 * of /etc/ssl only the public certificates (its private/ is root's).  A
 * path that is not world-readable is skipped as well. */
static const char *const etc_files[] = {
	"/etc/alternatives", "/etc/ld.so.cache", "/etc/ld.so.conf",
	"/etc/ld.so.conf.d", "/etc/localtime", "/etc/passwd", "/etc/group",
	"/etc/nsswitch.conf", "/etc/hosts", "/etc/ssl/certs",
	"/etc/ssl/openssl.cnf", "/etc/ca-certificates",
	"/etc/ca-certificates.conf", "/etc/mime.types",
};
#define NETC (sizeof(etc_files) / sizeof(etc_files[0]))

/*
 * The parts of /proc through which a process can change host state,
 * bound read-only over the sandbox's own /proc explicitly (bubblewrap's
 * own cover of them depends on whether the directory is writable).
 * /proc/sys must exist; the others are optional.
 */
static const char *const proc_ro[] = {
	"/proc/sysrq-trigger", "/proc/irq", "/proc/bus", "/proc/fs",
	"/proc/acpi", "/proc/scsi", "/proc/driver", "/proc/tty",
};
#define NPROC_RO (sizeof(proc_ro) / sizeof(proc_ro[0]))


static void push(struct local_cmdline *a, const char *s)
{
	if (a->n >= ARGV_MAX) {
		a->overflow = 1;
		return;
	}
	a->v[a->n++] = s;
	a->v[a->n] = NULL;
}

static void push3(struct local_cmdline *a, const char *x, const char *y,
    const char *z)
{
	push(a, x);
	push(a, y);
	push(a, z);
}

static int world_readable(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 && (st.st_mode & S_IROTH) != 0;
}

/* --setenv for each of 'env' (already validated), names copied apart. */
static void push_env(struct local_cmdline *a, const char *const *env)
{
	size_t i, n;
	const char *eq;

	for (i = 0; env != NULL && env[i] != NULL && i < SBX_ENV_MAX; i++) {
		eq = strchr(env[i], '=');
		n = (size_t)(eq - env[i]);
		memcpy(a->names[i], env[i], n);
		a->names[i][n] = '\0';
		push3(a, "--setenv", a->names[i], eq + 1);
	}
}

/* What runs inside: the words of 'argv' as they are when given (a job),
 * else `/bin/sh -c command`. */
static void push_command(struct local_cmdline *a, const char *command,
    const char *const *argv)
{
	if (argv == NULL) {
		push3(a, "/bin/sh", "-c", command);
		return;
	}
	for (size_t i = 0; argv[i] != NULL; i++)
		push(a, argv[i]);
}

int local_bwrap_argv(struct local_cmdline *a,
    const struct local_bwrap_args *b)
{
	struct stat st;
	ssize_t n;
	size_t i;

	memset(a, 0, sizeof(*a));
	push(a, b->bwrap);
	/* A user namespace on top of the dropped user: inside, even the
	 * sandbox user's own uid has no capability over the host. */
	push(a, "--unshare-user");
	if (b->disable_userns)
		push(a, "--disable-userns");
	if (!b->share_net)
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
	/* bwrap itself runs with an empty environment (it is a host
	 * process); the command's variables are set inside. */
	push(a, "--clearenv");
	push3(a, "--setenv", "PATH", SANDBOX_PATH);
	push3(a, "--setenv", "HOME", SBX_LOCAL_HOME);
	push_env(a, b->env);
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
		if (world_readable(etc_files[i]))
			push3(a, "--ro-bind", etc_files[i], etc_files[i]);
	push(a, "--proc");
	push(a, "/proc");
	push3(a, "--ro-bind", "/proc/sys", "/proc/sys");
	for (i = 0; i < NPROC_RO; i++)
		push3(a, "--ro-bind-try", proc_ro[i], proc_ro[i]);
	push(a, "--dev");
	push(a, "/dev");
	push3(a, "--bind", b->home, SBX_LOCAL_HOME);
	push3(a, "--bind", b->tmp, "/tmp");
	/* The root and /dev are tmpfs made by bwrap: read-only too, so the
	 * binds above are the only writable places (no memory-backed files
	 * outside the limits). */
	push(a, "--remount-ro");
	push(a, "/dev");
	push(a, "--remount-ro");
	push(a, "/");
	push(a, "--chdir");
	push(a, b->cwd);
	push(a, "--");
	push_command(a, b->command, b->argv);
	return a->overflow ? -1 : 0;
}

static int plain_argv(struct local_cmdline *a, const char *command,
    const char *const *argv)
{
	memset(a, 0, sizeof(*a));
	push_command(a, command, argv);
	return a->overflow ? -1 : 0;
}


static void clamp(struct rlimit *r, int resource, rlim_t want)
{
	struct rlimit cur;

	r->rlim_cur = r->rlim_max = want;
	if (getrlimit(resource, &cur) == 0 && cur.rlim_max != RLIM_INFINITY &&
	    want > cur.rlim_max)
		r->rlim_cur = r->rlim_max = cur.rlim_max;
}

void local_child_limits(const struct local_impl *li,
    struct local_child_limits *cl)
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


/* Async-signal-safe: a message on the output pipe, then exit 126. */
static void child_fail(const char *msg)
{
	size_t n = strlen(msg);

	if (write(2, msg, n) < 0 || write(2, "\n", 1) < 0) {
		/* nothing more to do: the exit code says it */
	}
	_exit(126);
}

/* "/proc/self/fd/N" into buf (32 bytes), async-signal-safe. */
static const char *fd_path(char buf[32], int fd)
{
	static const char pre[] = "/proc/self/fd/";
	char digits[12];
	int n = 0;

	memcpy(buf, pre, sizeof(pre) - 1);
	do
		digits[n++] = (char)('0' + fd % 10);
	while ((fd /= 10) > 0 && n < (int)sizeof(digits));
	for (int i = 0; i < n; i++)
		buf[sizeof(pre) - 1 + i] = digits[n - 1 - i];
	buf[sizeof(pre) - 1 + n] = '\0';
	return buf;
}

/*
 * The private mount namespace of a dropped launcher (see STAGE_DIR).  The
 * directories are opened after unshare(), so their fds belong to the new
 * namespace and can be bind sources, and before the tmpfs hides /tmp (the
 * data directory may live under it).
 */
static void stage_mounts(const struct local_launch *l)
{
	char hp[32], tp[32];
	int hfd, tfd;

	if (unshare(CLONE_NEWNS) != 0)
		child_fail("omni: cannot make a mount namespace for the "
		    "sandbox");
	if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0)
		child_fail("omni: cannot make the sandbox mounts private");
	hfd = open(l->stage_home, O_PATH | O_DIRECTORY | O_NOFOLLOW |
	    O_CLOEXEC);
	tfd = open(l->stage_tmp, O_PATH | O_DIRECTORY | O_NOFOLLOW |
	    O_CLOEXEC);
	if (hfd < 0 || tfd < 0)
		child_fail("omni: cannot open the sandbox directories");
	if (mount("omni-stage", STAGE_DIR, "tmpfs", MS_NOSUID | MS_NODEV |
	    MS_NOEXEC, "mode=0755,size=16k") != 0 ||
	    mkdir(STAGE_HOME, 0755) != 0 || mkdir(STAGE_TMP, 0755) != 0 ||
	    mount(fd_path(hp, hfd), STAGE_HOME, NULL, MS_BIND, NULL) != 0 ||
	    mount(fd_path(tp, tfd), STAGE_TMP, NULL, MS_BIND, NULL) != 0)
		child_fail("omni: cannot stage the sandbox directories");
	close(hfd);
	close(tfd);
}

/* Become the sandbox user for good: groups, gid, uid, in that order. */
static void drop_privileges(const struct local_launch *l)
{
	gid_t groups[1] = { l->gid };

	/* Raw system calls: in the child of a threaded process, only this
	 * thread exists, and it is the only one whose credentials change. */
	if (syscall(SYS_setgroups, 1, groups) != 0 ||
	    syscall(SYS_setresgid, l->gid, l->gid, l->gid) != 0 ||
	    syscall(SYS_setresuid, l->uid, l->uid, l->uid) != 0 ||
	    getuid() != l->uid || geteuid() != l->uid || getegid() != l->gid)
		child_fail("omni: cannot switch to the sandbox user");
	/* Changing credentials clears the parent-death signal. */
	if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0 ||
	    getppid() != l->parent)
		_exit(126);
}

/*
 * In the child, after fork: async-signal-safe calls only.  The child dies
 * with the worker (PR_SET_PDEATHSIG): bwrap's --die-with-parent does the
 * same for its own processes once it runs, this also covers the moment
 * before, and the shell itself when running unsandboxed, so a crashed
 * worker leaves no command running past the wall-time limit it was
 * enforcing.
 */
void local_reset_signals(void)
{
	struct sigaction sa;
	sigset_t none;
	int sig;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = SIG_DFL;
	for (sig = 1; sig < NSIG; sig++)
		if (sig != SIGKILL && sig != SIGSTOP)
			sigaction(sig, &sa, NULL);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
}

void local_child_run(const struct local_launch *l)
{
	const struct local_child_limits *cl = &l->cl;
	int fd, i;

	if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0 || getppid() != l->parent)
		_exit(126); /* the worker died before the prctl took */
	setsid();
	/* The command must not inherit the worker's signal state: it was
	 * forked from a serving thread, with SIGTERM and SIGINT blocked
	 * (worker.h) and SIGPIPE and SIGHUP ignored, and both the mask and
	 * ignored dispositions survive execve.  The worker installs no
	 * handler, so none can run before this point. */
	local_reset_signals();
	if (dup2(l->in, 0) < 0 || dup2(l->out, 1) < 0 ||
	    dup2(l->err, 2) < 0)
		_exit(126);
	/* Into the sandbox's cgroup first: everything below is born in
	 * it, bwrap included. */
	for (i = 0; i < LOCAL_CG_MAXFD; i++)
		if (l->cg_procs[i] >= 0 && write(l->cg_procs[i], "0", 1) != 1)
			child_fail("omni: cannot join the sandbox cgroup");
	if (l->stage_home != NULL) {
		stage_mounts(l);
		if (chdir("/") != 0)
			_exit(126);
	} else if (l->cwdfd >= 0 && fchdir(l->cwdfd) != 0) {
		_exit(126);
	}
	if (setrlimit(RLIMIT_CPU, &cl->cpu) != 0 ||
	    setrlimit(RLIMIT_AS, &cl->as) != 0 ||
	    setrlimit(RLIMIT_FSIZE, &cl->fsize) != 0 ||
	    setrlimit(RLIMIT_NPROC, &cl->nproc) != 0 ||
	    setrlimit(RLIMIT_CORE, &cl->core) != 0)
		_exit(126);
	if (l->drop)
		drop_privileges(l);
	if (close_range(3, ~0U, 0) != 0)
		for (fd = 3; fd < cl->open_max; fd++)
			close(fd);
	execve(l->argv[0], l->argv, l->envp);
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

/* Fork and run 'l' with stdin /dev/null and stdout+stderr on a pipe. */
static enum sbx_err spawn(const struct local_impl *li, struct local_launch *l,
    struct child *ch)
{
	int pipefd[2], fork_errno;

	memset(ch, 0, sizeof(*ch));
	local_child_limits(li, &l->cl);
	l->parent = getpid();
	l->in = open("/dev/null", O_RDONLY | O_CLOEXEC);
	if (l->in < 0)
		return SBX_EIO;
	if (pipe2(pipefd, O_CLOEXEC) != 0) {
		close(l->in);
		return SBX_EIO;
	}
	l->out = l->err = pipefd[1];
	ch->pid = fork();
	if (ch->pid == 0)
		local_child_run(l);
	/* fork's errno, before the closes below can change it. */
	fork_errno = ch->pid < 0 ? errno : 0;
	close(l->in);
	close(pipefd[1]);
	if (ch->pid < 0) {
		close(pipefd[0]);
		return fork_errno == ENOMEM ? SBX_ENOMEM : SBX_EIO;
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
 * Fork, run 'l' and collect its output until it exits and the pipe is
 * closed, or the wall time 'timeout_s' passes (then the process group is
 * killed).  Fills 'out' on SBX_OK.
 */
static enum sbx_err run(const struct local_impl *li, struct local_launch *l,
    int timeout_s, size_t cap, struct sbx_exec_result *out)
{
	struct capture c = { NULL, 0, 0, cap, 0, 0 };
	struct child ch;
	enum sbx_err err;
	int code;

	if ((err = spawn(li, l, &ch)) != SBX_OK)
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

enum sbx_err local_cmdline_build(struct local_cmdline *c,
    const struct local_impl *li, const char *home, const char *tmp,
    const char *cwd, const char *command, const char *const *env)
{
	return local_cmdline_build_argv(c, li, home, tmp, cwd, command, NULL,
	    0, env);
}

enum sbx_err local_cmdline_build_argv(struct local_cmdline *c,
    const struct local_impl *li, const char *home, const char *tmp,
    const char *cwd, const char *command, const char *const *argv,
    int share_net, const char *const *env)
{
	struct local_bwrap_args b;
	size_t i, k = 0;

	if (!sbx_env_valid(env))
		return SBX_EINVAL;
	if (li->isolated) {
		b.bwrap = li->bwrap;
		b.disable_userns = li->disable_userns;
		/* A dropped launcher shows bwrap the staged paths. */
		b.home = li->drop ? STAGE_HOME : home;
		b.tmp = li->drop ? STAGE_TMP : tmp;
		b.cwd = cwd;
		b.command = command;
		b.argv = argv;
		b.share_net = share_net;
		b.env = env;
		if (local_bwrap_argv(c, &b) != 0)
			return SBX_EINVAL;
		c->envp[0] = NULL; /* bwrap's own: empty */
		return SBX_OK;
	}
	if (plain_argv(c, command, argv) != 0)
		return SBX_EINVAL;
	if (snprintf(c->home_kv, sizeof(c->home_kv), "HOME=%s", home) >=
	    (int)sizeof(c->home_kv))
		return SBX_EINVAL;
	c->envp[k++] = "PATH=" SANDBOX_PATH;
	c->envp[k++] = c->home_kv;
	for (i = 0; env != NULL && env[i] != NULL; i++)
		c->envp[k++] = env[i];
	c->envp[k] = NULL;
	return SBX_OK;
}

/* The launch of 'c' for sandbox 'id' (cgroup leaf 'id' when bounded):
 * on SBX_OK close l->cg_procs with local_cgroup_close. */
enum sbx_err local_launch_of(const struct local_impl *li, const char *id,
    const struct local_cmdline *c, const char *home, const char *tmp,
    int cwdfd, struct local_launch *l)
{
	enum sbx_err err;
	int i;

	memset(l, 0, sizeof(*l));
	for (i = 0; i < LOCAL_CG_MAXFD; i++)
		l->cg_procs[i] = -1;
	l->argv = (char *const *)(uintptr_t)c->v;
	l->envp = (char *const *)(uintptr_t)c->envp;
	l->cwdfd = cwdfd;
	l->drop = li->drop;
	l->uid = li->uid;
	l->gid = li->gid;
	if (li->drop && li->isolated) {
		l->stage_home = home;
		l->stage_tmp = tmp;
	}
	if (li->cg.kind != LOCAL_CG_NONE &&
	    (err = local_cgroup_prepare(&li->cg, id, l->cg_procs)) != SBX_OK)
		return err;
	return SBX_OK;
}

/* Dropped commands write their home and tmp as the sandbox user; a
 * directory made earlier (or by an older Omni) as root is handed over. */
void local_hand_over(const struct local_impl *li, int dirfd,
    const char *name)
{
	struct stat st;
	int fd;

	fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
	    O_CLOEXEC);
	if (fd < 0)
		return;
	if (fstat(fd, &st) == 0 && st.st_uid != li->uid)
		local_give_to_sandbox(li, fd);
	close(fd);
}

enum sbx_err local_exec(struct sbx_provider *p, const char *id,
    const char *command, const struct sbx_exec_opts *opts,
    struct sbx_exec_result *out, struct sbx_error *why)
{
	(void)why; /* nothing to add to the code (local_provider.c) */
	static const struct sbx_exec_opts no_opts;
	struct local_impl *li = local_impl_of(p);
	char rel[PATH_MAX], home[PATH_MAX], tmp[PATH_MAX], cwd[PATH_MAX];
	struct local_cmdline *c = NULL;
	struct local_launch l;
	enum sbx_err err;
	int homefd = -1, cwdfd = -1, timeout;
	size_t cap;

	if (id == NULL || command == NULL || *command == '\0' || out == NULL)
		return SBX_EINVAL;
	if (opts == NULL)
		opts = &no_opts;
	if (!sbx_env_valid(opts->env))
		return SBX_EINVAL;
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
	if ((err = local_open_dir(li, homefd, rel, 0, &cwdfd)) != SBX_OK)
		goto done;
	if (snprintf(home, sizeof(home), "%s/%s/home", li->root, id) >=
	    (int)sizeof(home) ||
	    snprintf(tmp, sizeof(tmp), "%s/%s/tmp", li->root, id) >=
	    (int)sizeof(tmp) ||
	    snprintf(cwd, sizeof(cwd), "%s%s%s", li->isolated ?
	    SBX_LOCAL_HOME : home, rel[0] != '\0' ? "/" : "", rel) >=
	    (int)sizeof(cwd)) {
		err = SBX_EINVAL;
		goto done;
	}
	if ((c = malloc(sizeof(*c))) == NULL) {
		err = SBX_ENOMEM;
		goto done;
	}
	if ((err = local_cmdline_build(c, li, home, tmp, cwd, command,
	    opts->env)) != SBX_OK)
		goto done;
	if (li->drop) {
		local_hand_over(li, homefd, ".");
		local_hand_over(li, homefd, "../tmp");
	}
	if ((err = local_launch_of(li, id, c, home, tmp, cwdfd, &l)) != SBX_OK)
		goto done;
	err = run(li, &l, timeout, cap, out);
	local_cgroup_close(l.cg_procs);
done:
	free(c);
	if (cwdfd >= 0)
		close(cwdfd);
	if (homefd >= 0)
		close(homefd);
	return err;
}

/* Does this bwrap know --disable-userns (0.8.0 and later)? */
static int bwrap_has_disable_userns(const struct local_impl *li,
    const char *bwrap)
{
	struct local_cmdline *c;
	struct sbx_exec_result r;
	struct local_launch l;
	char *envp[] = { NULL };
	int has = 0, i;

	if ((c = malloc(sizeof(*c))) == NULL)
		return 0;
	memset(c, 0, sizeof(*c));
	c->v[0] = bwrap;
	c->v[1] = "--help";
	memset(&l, 0, sizeof(l));
	for (i = 0; i < LOCAL_CG_MAXFD; i++)
		l.cg_procs[i] = -1;
	l.argv = (char *const *)(uintptr_t)c->v;
	l.envp = envp;
	l.cwdfd = -1;
	l.drop = li->drop;
	l.uid = li->uid;
	l.gid = li->gid;
	if (run(li, &l, PROBE_TIMEOUT_S, 16384, &r) == SBX_OK) {
		has = strstr(r.output, "--disable-userns") != NULL;
		sbx_exec_result_free(&r);
	}
	free(c);
	return has;
}

enum sbx_err local_probe_bwrap(struct local_impl *li, const char *bwrap,
    char *detail, size_t detail_len)
{
	static unsigned counter;
	struct sbx_exec_result r;
	char name[96], home[PATH_MAX], tmp[PATH_MAX];
	struct local_cmdline *c = NULL;
	struct local_impl probe;
	struct local_launch l;
	enum sbx_err err;
	char *nl;
	int fd;

	memset(&l, 0, sizeof(l));
	for (int i = 0; i < LOCAL_CG_MAXFD; i++)
		l.cg_procs[i] = -1;
	li->disable_userns = bwrap_has_disable_userns(li, bwrap);
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
	    mkdirat(fd, "tmp", 0700) != 0 || (c = malloc(sizeof(*c))) == NULL) {
		if (fd >= 0)
			close(fd);
		local_rm_tree(li->rootfd, name);
		snprintf(detail, detail_len, "cannot write the data directory");
		return SBX_EIO;
	}
	local_hand_over(li, fd, "home");
	local_hand_over(li, fd, "tmp");
	/* The probe runs exactly as a command would, under this bwrap. */
	probe = *li;
	probe.bwrap = (char *)(uintptr_t)bwrap;
	probe.isolated = 1;
	if ((err = local_cmdline_build(c, &probe, home, tmp, SBX_LOCAL_HOME,
	    "exit 0", NULL)) != SBX_OK) {
		err = SBX_EISOLATION;
		snprintf(detail, detail_len, "bwrap command line too long");
	} else if ((err = local_launch_of(&probe, "probe", c, home, tmp, fd, &l)) !=
	    SBX_OK) {
		snprintf(detail, detail_len, "cannot set up the sandbox's "
		    "cgroup (%s)", local_cgroup_kind_name(li->cg.kind));
	} else if ((err = run(&probe, &l, PROBE_TIMEOUT_S, 512, &r)) ==
	    SBX_OK) {
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
	/* The probe's leaf ("probe" is no sandbox id) stays for the next
	 * probe: removing it would race with a sibling worker's probe. */
	local_cgroup_close(l.cg_procs);
	free(c);
	close(fd);
	local_rm_tree(li->rootfd, name);
	return err;
}
