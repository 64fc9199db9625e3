/*
 * local_job.c -- background jobs of the local provider (sandbox.h): an
 * agent run that outlives the request, the step and the worker that
 * started it.
 *
 * Three processes.  The worker forks a launcher, which starts a new
 * session, forks the keeper and exits at once, so the keeper belongs to
 * init and not to a worker that may be restarted.  The keeper forks the job
 * itself -- the same child as a command (local_child_run: cgroup, limits,
 * the sandbox user, bubblewrap) with the job's files as its stdin, stdout
 * and stderr -- then drops to the sandbox user, waits for it and writes its
 * exit code.  The job dies with the keeper (PR_SET_PDEATHSIG, bwrap's
 * --die-with-parent), so a job never runs without someone to record how it
 * ended.
 *
 * Files, in SBX_JOB_DIR/<job_id>/ of the home (sandbox.h):
 *   pid     "<keeper pid> <keeper start> <job pid> <job start>\n", start
 *           times from /proc/<pid>/stat, so a pid the kernel reused is not
 *           mistaken for ours.  Made empty with O_EXCL under the job
 *           directory's lock: it is the start marker, so a second start
 *           finds it and starts nothing.
 *   exit    written by the keeper (temp file + rename) when the job ends.
 *
 * Running means the keeper is alive.  While 'pid' is still empty, the
 * starting worker holds flock(LOCK_EX) on the job directory; a status
 * check that can take the lock knows the start died half-way (lost).
 *
 * Everything between fork() and execve() or _exit() is async-signal-safe:
 * the worker is multi-threaded.
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
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "local_internal.h"
#include "timeutil.h"

#define READY_WAIT_MS 5000   /* the keeper reports the job's pid in time */
#define PID_FILE_MAX 128

/* ---- async-signal-safe helpers (keeper and launcher) ---------------- */

/* Decimal of 'v' at the end of buf[0..len), returns its start. */
static char *fmt_ull(char *buf, size_t len, unsigned long long v)
{
	char *p = buf + len;

	*--p = '\0';
	do
		*--p = (char)('0' + v % 10);
	while ((v /= 10) > 0 && p > buf);
	return p;
}

/* Field 22 of /proc/<pid>/stat (start time in clock ticks), or 0.  The
 * command name (field 2) may hold spaces and ')': count from the last
 * ')'. */
static unsigned long long proc_start(pid_t pid)
{
	char path[48], num[24], buf[1024];
	unsigned long long v = 0;
	ssize_t n;
	char *p, *end;
	int fd, field;

	memcpy(path, "/proc/", 6);
	p = fmt_ull(num, sizeof(num), (unsigned long long)pid);
	n = (ssize_t)strlen(p);
	memcpy(path + 6, p, (size_t)n);
	memcpy(path + 6 + n, "/stat", 6);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return 0;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return 0;
	buf[n] = '\0';
	end = buf + n;
	for (p = end; p > buf && p[-1] != ')'; p--)
		;
	if (p == buf)
		return 0;
	/* After ") " come fields 3, 4, ...: skip to field 22. */
	for (field = 2; p < end && field < 22; p++)
		if (*p == ' ')
			field++;
	while (p < end && *p >= '0' && *p <= '9')
		v = v * 10 + (unsigned long long)(*p++ - '0');
	return v;
}

static int write_all(int fd, const char *s, size_t n)
{
	while (n > 0) {
		ssize_t w = write(fd, s, n);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		s += w;
		n -= (size_t)w;
	}
	return 0;
}

/* "<a> <b> <c> <d>\n" into 'fd'. */
static int write_pids(int fd, unsigned long long v[4])
{
	char num[24];
	const char *p;

	for (int i = 0; i < 4; i++) {
		p = fmt_ull(num, sizeof(num), v[i]);
		if (write_all(fd, p, strlen(p)) != 0 ||
		    write_all(fd, i < 3 ? " " : "\n", 1) != 0)
			return -1;
	}
	return 0;
}

/* The exit code as sbx_exec_result reports it. */
static int code_of(int status)
{
	if (WIFEXITED(status))
		return WEXITSTATUS(status);
	if (WIFSIGNALED(status))
		return 128 + WTERMSIG(status);
	return 255;
}

/* exit.tmp then rename to exit, under 'dirfd'.  The job's own user could
 * have put anything at these names: O_EXCL and O_NOFOLLOW refuse to
 * follow, and rename replaces a name, never what it points to. */
static void write_exit(int dirfd, int code)
{
	char num[24];
	const char *p = fmt_ull(num, sizeof(num), (unsigned long long)code);
	int fd;

	unlinkat(dirfd, "exit.tmp", 0);
	fd = openat(dirfd, "exit.tmp", O_WRONLY | O_CREAT | O_EXCL |
	    O_NOFOLLOW | O_CLOEXEC, 0644);
	if (fd < 0)
		return;
	if (write_all(fd, p, strlen(p)) == 0 && write_all(fd, "\n", 1) == 0 &&
	    fsync(fd) == 0) {
		close(fd);
		renameat(dirfd, "exit.tmp", dirfd, "exit");
		return;
	}
	close(fd);
}

/* Become the sandbox user (the keeper has no use for root once the job
 * runs). */
static void keeper_drop(const struct local_launch *l)
{
	gid_t groups[1] = { l->gid };

	if (!l->drop)
		return;
	if (syscall(SYS_setgroups, 1, groups) != 0 ||
	    syscall(SYS_setresgid, l->gid, l->gid, l->gid) != 0 ||
	    syscall(SYS_setresuid, l->uid, l->uid, l->uid) != 0)
		_exit(126);
}

/* Everything the keeper needs, prepared by the worker before fork. */
struct keeper {
	struct local_launch l;   /* the job's child */
	int jobfd;               /* the job directory (the locked fd) */
	int pidfd;               /* the empty 'pid' file */
	int report;              /* write end: one byte once 'pid' is full */
};

/*
 * The keeper: fork the job, record the pids, tell the worker, wait, write
 * the exit code.  Its own fd on the job directory is a new open file, so
 * closing the worker's locked one lets the lock go with the worker's.
 */
static void __attribute__((noreturn)) keeper_run(struct keeper *k)
{
	unsigned long long v[4];
	int dirfd, status = 0;
	pid_t job;

	/* Signals are at their defaults (launcher_run), SIGCHLD included,
	 * so the job's status can be waited for. */
	dirfd = openat(k->jobfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dirfd < 0)
		_exit(126);
	k->l.parent = getpid();
	job = fork();
	if (job < 0)
		_exit(126);
	if (job == 0)
		local_child_run(&k->l);
	v[0] = (unsigned long long)getpid();
	v[1] = proc_start(getpid());
	v[2] = (unsigned long long)job;
	v[3] = proc_start(job);
	/* No fsync: after a crash of the host no pid in it means anything
	 * (start times differ), while the start waits for this write. */
	if (write_pids(k->pidfd, v) != 0)
		kill(job, SIGKILL);
	close(k->pidfd);
	close(k->jobfd);
	close(k->l.in);
	close(k->l.out);
	close(k->l.err);
	if (k->l.cwdfd >= 0)
		close(k->l.cwdfd);
	for (int i = 0; i < LOCAL_CG_MAXFD; i++)
		if (k->l.cg_procs[i] >= 0)
			close(k->l.cg_procs[i]);
	if (write_all(k->report, "1", 1) != 0) {
		/* the worker is gone: the job goes on regardless */
	}
	close(k->report);
	keeper_drop(&k->l);
	while (waitpid(job, &status, 0) < 0)
		if (errno != EINTR)
			_exit(126);
	write_exit(dirfd, code_of(status));
	_exit(0);
}

/*
 * Close every fd above 2 but the keeper's own.  The keeper never execs, so
 * O_CLOEXEC does not help it: without this it would hold the worker's
 * FastCGI socket and connections open for as long as the job runs.
 */
static void close_except(struct keeper *k)
{
	int keep[7 + LOCAL_CG_MAXFD], n = 0, i, j, t;
	unsigned lo = 3;

	keep[n++] = k->jobfd;
	keep[n++] = k->pidfd;
	keep[n++] = k->report;
	keep[n++] = k->l.in;
	keep[n++] = k->l.out;
	keep[n++] = k->l.err;
	keep[n++] = k->l.cwdfd;
	for (i = 0; i < LOCAL_CG_MAXFD; i++)
		keep[n++] = k->l.cg_procs[i];
	for (i = 1; i < n; i++)
		for (j = i; j > 0 && keep[j - 1] > keep[j]; j--) {
			t = keep[j];
			keep[j] = keep[j - 1];
			keep[j - 1] = t;
		}
	for (i = 0; i < n; i++) {
		if (keep[i] < (int)lo)
			continue;
		if ((unsigned)keep[i] > lo &&
		    close_range(lo, (unsigned)keep[i] - 1, 0) != 0)
			_exit(126);
		lo = (unsigned)keep[i] + 1;
	}
	if (close_range(lo, ~0U, 0) != 0)
		_exit(126);
}

/* The launcher: out of the worker's session, then hand the keeper to
 * init. */
static void __attribute__((noreturn)) launcher_run(struct keeper *k)
{
	pid_t pid;

	/* No signal state of the serving thread carries over (see
	 * local_child_run): the keeper waits minutes. */
	local_reset_signals();
	prctl(PR_SET_PDEATHSIG, 0);
	close_except(k);
	if (setsid() < 0)
		_exit(126);
	pid = fork();
	if (pid == 0)
		keeper_run(k);
	_exit(pid < 0 ? 126 : 0);
}

/* ---- the worker's side ---------------------------------------------- */

/* Open 'name' under 'dirfd' for the job, handed to the sandbox user. */
static int open_output(const struct local_impl *li, int dirfd,
    const char *name)
{
	int fd = openat(dirfd, name, O_WRONLY | O_CREAT | O_TRUNC |
	    O_NOFOLLOW | O_CLOEXEC, 0644);

	if (fd >= 0)
		local_give_to_sandbox(li, fd);
	return fd;
}

/* Wait for the keeper's byte on 'rfd' (or EOF: it died). */
static int wait_report(int rfd)
{
	struct pollfd pf = { rfd, POLLIN, 0 };
	long long end = time_mono_ms() + READY_WAIT_MS, now;
	char c;

	while ((now = time_mono_ms()) < end) {
		int r = poll(&pf, 1, (int)(end - now));

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return -1;
		return read(rfd, &c, 1) == 1 ? 0 : -1;
	}
	return -1;
}

/* The host paths of the sandbox's home and tmp, and the job's cwd as the
 * command sees it. */
static enum sbx_err job_paths(const struct local_impl *li, const char *id,
    char home[PATH_MAX], char tmp[PATH_MAX], char cwd[PATH_MAX])
{
	if (snprintf(home, PATH_MAX, "%s/%s/home", li->root, id) >= PATH_MAX ||
	    snprintf(tmp, PATH_MAX, "%s/%s/tmp", li->root, id) >= PATH_MAX ||
	    snprintf(cwd, PATH_MAX, "%s", li->isolated ? SBX_LOCAL_HOME :
	    home) >= PATH_MAX)
		return SBX_EINVAL;
	return SBX_OK;
}

/* Fork the launcher and wait for the keeper's report.  'k' is filled but
 * for the fds the caller owns. */
static enum sbx_err launch(struct keeper *k)
{
	int pipefd[2], status;
	pid_t pid;
	enum sbx_err err = SBX_OK;

	if (pipe2(pipefd, O_CLOEXEC) != 0)
		return SBX_EIO;
	k->report = pipefd[1];
	pid = fork();
	if (pid == 0)
		launcher_run(k);
	close(pipefd[1]);
	if (pid < 0) {
		close(pipefd[0]);
		return errno == ENOMEM ? SBX_ENOMEM : SBX_EIO;
	}
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	if (wait_report(pipefd[0]) != 0)
		err = SBX_EIO;
	close(pipefd[0]);
	return err;
}

/*
 * The job's fds and launch, then the launch itself.  Under the job
 * directory's lock (held on 'jobfd' by the caller) with 'pidfd' the new,
 * empty start marker.
 */
static enum sbx_err start_locked(struct local_impl *li, const char *id,
    int homefd, int jobfd, int pidfd, const struct sbx_job_spec *spec,
    int *launched)
{
	char home[PATH_MAX], tmp[PATH_MAX], cwd[PATH_MAX];
	struct local_cmdline *c;
	struct keeper k;
	enum sbx_err err;

	memset(&k, 0, sizeof(k));
	k.l.in = k.l.out = k.l.err = -1;
	if ((err = job_paths(li, id, home, tmp, cwd)) != SBX_OK)
		return err;
	if ((c = malloc(sizeof(*c))) == NULL)
		return SBX_ENOMEM;
	err = local_cmdline_build_argv(c, li, home, tmp, cwd, NULL,
	    spec->argv, spec->network, spec->env);
	if (err == SBX_OK && li->drop) {
		local_hand_over(li, homefd, ".");
		local_hand_over(li, homefd, "../tmp");
	}
	if (err == SBX_OK)
		err = local_launch_of(li, id, c, home, tmp, homefd, &k.l);
	if (err != SBX_OK) {
		free(c);
		return err;
	}
	k.l.in = openat(jobfd, "input", O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	k.l.out = open_output(li, jobfd, "stdout");
	k.l.err = open_output(li, jobfd, "stderr");
	if (k.l.in < 0)
		err = errno == ENOENT ? SBX_ENOTFOUND : SBX_EIO;
	else if (k.l.out < 0 || k.l.err < 0)
		err = SBX_EIO;
	if (err == SBX_OK) {
		local_child_limits(li, &k.l.cl);
		k.jobfd = jobfd;
		k.pidfd = pidfd;
		*launched = 1;
		err = launch(&k);
	}
	if (k.l.in >= 0)
		close(k.l.in);
	if (k.l.out >= 0)
		close(k.l.out);
	if (k.l.err >= 0)
		close(k.l.err);
	local_cgroup_close(k.l.cg_procs);
	free(c);
	return err;
}

/* Open the job directory of 'job_id' under the ready home of 'id'. */
static enum sbx_err open_job(struct local_impl *li, const char *id,
    const char *job_id, int *homefd, int *jobfd)
{
	char rel[PATH_MAX];
	enum sbx_err err;

	*homefd = *jobfd = -1;
	if (snprintf(rel, sizeof(rel), SBX_JOB_DIR "/%s", job_id) >=
	    (int)sizeof(rel))
		return SBX_EINVAL;
	if ((err = local_open_ready_home(li, id, homefd)) != SBX_OK)
		return err;
	if ((err = local_open_dir(li, *homefd, rel, 0, jobfd)) != SBX_OK) {
		close(*homefd);
		*homefd = -1;
	}
	return err;
}

enum sbx_err local_job_start(struct sbx_provider *p, const char *id,
    const struct sbx_job_spec *spec, int *already, struct sbx_error *why)
{
	struct local_impl *li = local_impl_of(p);
	int homefd, jobfd, pidfd, launched = 0;
	enum sbx_err err;

	(void)why;
	*already = 0;
	if ((err = open_job(li, id, spec->job_id, &homefd, &jobfd)) != SBX_OK)
		return err;
	if (flock(jobfd, LOCK_EX) != 0) {
		err = SBX_EIO;
		goto out;
	}
	/* The start marker: whoever makes it starts the job. */
	pidfd = openat(jobfd, "pid", O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW |
	    O_CLOEXEC, 0644);
	if (pidfd < 0) {
		if (errno == EEXIST)
			*already = 1;
		else
			err = local_errno(errno);
		goto out;
	}
	err = start_locked(li, id, homefd, jobfd, pidfd, spec, &launched);
	close(pidfd);
	/* A start that failed before anything was forked leaves no marker,
	 * so a retry starts the job.  Once forked, the job may run: the
	 * marker stays and the status tells (running, or lost). */
	if (err != SBX_OK && !launched)
		unlinkat(jobfd, "pid", 0);
out:
	close(jobfd);
	close(homefd);
	return err;
}

/* The four numbers of the 'pid' file under 'jobfd': 1 read, 0 empty or
 * missing, -1 junk. */
static int read_pids(int jobfd, unsigned long long v[4])
{
	char buf[PID_FILE_MAX];
	ssize_t n;
	int fd, k = 0;
	char *p, *end;

	fd = openat(jobfd, "pid", O_RDONLY | O_NOFOLLOW | O_NONBLOCK |
	    O_CLOEXEC);
	if (fd < 0)
		return 0;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return 0;
	buf[n] = '\0';
	for (p = buf; k < 4; k++, p = end) {
		v[k] = strtoull(p, &end, 10);
		if (end == p)
			return -1;
	}
	return 1;
}

/* Is 'pid' the process that started at 'start'? */
static int same_process(unsigned long long pid, unsigned long long start)
{
	return pid > 0 && pid <= INT_MAX && start != 0 &&
	    proc_start((pid_t)pid) == start;
}

enum sbx_err local_job_running(struct sbx_provider *p, const char *id,
    const char *job_id, int *running, struct sbx_error *why)
{
	struct local_impl *li = local_impl_of(p);
	unsigned long long v[4];
	int homefd, jobfd, r;
	enum sbx_err err;

	(void)why;
	*running = 0;
	err = open_job(li, id, job_id, &homefd, &jobfd);
	if (err == SBX_ENOTFOUND)
		return SBX_OK;
	if (err != SBX_OK)
		return err;
	r = read_pids(jobfd, v);
	if (r > 0) {
		*running = same_process(v[0], v[1]);
	} else if (r == 0 && faccessat(jobfd, "pid", F_OK,
	    AT_SYMLINK_NOFOLLOW) == 0) {
		/* Marked but not filled: running while its starter holds
		 * the lock, lost once the lock is free. */
		if (flock(jobfd, LOCK_SH | LOCK_NB) != 0)
			*running = errno == EWOULDBLOCK;
	}
	close(jobfd);
	close(homefd);
	return SBX_OK;
}

enum sbx_err local_job_kill(struct sbx_provider *p, const char *id,
    const char *job_id, struct sbx_error *why)
{
	struct local_impl *li = local_impl_of(p);
	unsigned long long v[4];
	int homefd, jobfd;
	enum sbx_err err;

	(void)why;
	err = open_job(li, id, job_id, &homefd, &jobfd);
	if (err == SBX_ENOTFOUND)
		return SBX_OK;
	if (err != SBX_OK)
		return err;
	/* The job leads its own process group (local_child_run: setsid);
	 * under bwrap its pid namespace dies with it.  The process itself
	 * too: a kill right after the start can come before its setsid(),
	 * when the group does not exist yet. */
	if (read_pids(jobfd, v) > 0 && same_process(v[2], v[3])) {
		kill((pid_t)v[2], SIGKILL);
		kill(-(pid_t)v[2], SIGKILL);
	}
	close(jobfd);
	close(homefd);
	return SBX_OK;
}
