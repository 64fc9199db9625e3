/*
 * pool.c -- the master: binds the socket, forks workers, supervises them.
 *
 * The master never serves a request.  It sleeps in poll(2) on two pipes:
 * a self-pipe its signal handlers write the signal number to (so all the
 * real work happens outside handler context), and a pipe every worker
 * writes its pid to once its threads accept.  After each event,
 * reconcile() compares what runs with what should run (cfg->workers
 * workers of the current generation) and takes one step towards it; a
 * reload bumps the generation, so the same loop that restarts crashed
 * workers also rolls the pool onto a new configuration, one worker at a
 * time, retiring an old worker only when its replacement is ready.
 */
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "build_info.h"
#include "config.h"
#include "log.h"
#include "pool.h"
#include "metrics.h"
#include "ratelimit.h"
#include "timeutil.h"
#include "worker.h"

#define LISTEN_BACKLOG 1024
#define BACKOFF_MIN_MS 100
#define BACKOFF_MAX_MS 30000
#define YOUNG_DEATH_S 5.0   /* a worker dying younger than this backs off */
#define KILL_GRACE_S 2.0    /* after the drain deadline, before SIGKILL */
#define START_TIMEOUT_S 60.0 /* a worker not accepting by then is killed */

struct child {
	pid_t pid;
	unsigned gen;       /* configuration generation it runs */
	int ready;          /* announced that its threads accept */
	int retiring;       /* sent SIGTERM on purpose */
	pid_t replaces;     /* old worker to retire once this one is ready */
	double started;
};

static struct {
	const struct pool_opts *opts;
	struct omni_config *cfg;
	struct rl_table *ratelimit; /* shared with every worker, or NULL */
	struct metrics *metrics;    /* shared with every worker (metrics.h) */
	pid_t master_pid;
	int listen_fd;
	char unix_path[108];
	int sig_pipe[2];
	int ready_pipe[2];
	struct child *kids;
	size_t nkids, cap;
	unsigned gen;
	int target;          /* workers wanted */
	int stopping;
	double deadline;     /* stopping: when to SIGKILL */
	int delaying;        /* SIGTERM seen, /ready says 503, still serving */
	int stop_sig;        /* the signal that began the stop */
	double delay_end;    /* delaying: when the drain proper begins */
	int young_deaths;    /* consecutive, for the backoff */
	double next_spawn;   /* not before this time */
} m;

/* ---- listening socket ---- */

static int listen_unix(const char *path, char *err, size_t errlen)
{
	struct sockaddr_un sa;
	struct stat st;
	int fd;

	if (strlen(path) >= sizeof(sa.sun_path)) {
		snprintf(err, errlen, "--listen: unix socket path too long");
		return -1;
	}
	if (lstat(path, &st) == 0) {
		if (!S_ISSOCK(st.st_mode)) {
			snprintf(err, errlen, "--listen: %s exists and is not "
			    "a socket", path);
			return -1;
		}
		unlink(path); /* left by a previous run */
	}
	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	strcpy(sa.sun_path, path);
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0 ||
	    bind(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0 ||
	    chmod(path, 0660) != 0 || listen(fd, LISTEN_BACKLOG) != 0) {
		snprintf(err, errlen, "--listen: unix:%s: %s", path,
		    strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	snprintf(m.unix_path, sizeof(m.unix_path), "%s", path);
	return fd;
}

static int listen_tcp(const char *spec, char *err, size_t errlen)
{
	char host[256];
	const char *colon = strrchr(spec, ':');
	struct addrinfo hints, *ai = NULL;
	int fd = -1, one = 1, rc;
	size_t hlen;

	if (colon == NULL || colon == spec || colon[1] == '\0') {
		snprintf(err, errlen, "--listen: expected unix:PATH or "
		    "HOST:PORT");
		return -1;
	}
	hlen = (size_t)(colon - spec);
	if (spec[0] == '[' && hlen >= 2 && spec[hlen - 1] == ']') {
		spec++;
		hlen -= 2;
	}
	if (hlen >= sizeof(host)) {
		snprintf(err, errlen, "--listen: host too long");
		return -1;
	}
	memcpy(host, spec, hlen);
	host[hlen] = '\0';
	memset(&hints, 0, sizeof(hints));
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
	if ((rc = getaddrinfo(host, colon + 1, &hints, &ai)) != 0) {
		snprintf(err, errlen, "--listen: %s: %s", spec,
		    gai_strerror(rc));
		return -1;
	}
	fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC,
	    ai->ai_protocol);
	if (fd < 0 ||
	    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0 ||
	    bind(fd, ai->ai_addr, ai->ai_addrlen) != 0 ||
	    listen(fd, LISTEN_BACKLOG) != 0) {
		snprintf(err, errlen, "--listen: %s: %s", spec,
		    strerror(errno));
		if (fd >= 0)
			close(fd);
		fd = -1;
	}
	freeaddrinfo(ai);
	return fd;
}

int pool_listen(const char *spec, char *err, size_t errlen)
{
	if (strncmp(spec, "unix:", 5) == 0)
		return listen_unix(spec + 5, err, errlen);
	return listen_tcp(spec, err, errlen);
}

/* ---- signals ---- */

static void on_signal(int sig)
{
	int saved = errno;
	unsigned char b = (unsigned char)sig;

	if (write(m.sig_pipe[1], &b, 1) < 0) {
		/* Pipe full: a signal of each kind is already queued. */
	}
	errno = saved;
}

static int install_signals(void)
{
	static const int sigs[] = { SIGTERM, SIGINT, SIGHUP, SIGCHLD };
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sa.sa_flags = SA_NOCLDSTOP;
	for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
		if (sigaction(sigs[i], &sa, NULL) != 0)
			return -1;
	signal(SIGPIPE, SIG_IGN);
	return 0;
}

/* ---- children ---- */

static struct child *find(pid_t pid)
{
	for (size_t i = 0; i < m.nkids; i++)
		if (m.kids[i].pid == pid)
			return &m.kids[i];
	return NULL;
}

static void log_child(enum log_level level, const char *event,
    const struct child *c, const char *key, long long value)
{
	struct json_object *line = log_begin(level, event);

	if (line == NULL)
		return;
	json_object_object_add(line, "worker_pid", json_object_new_int(c->pid));
	json_object_object_add(line, "generation",
	    json_object_new_int64(c->gen));
	if (key != NULL)
		json_object_object_add(line, key, json_object_new_int64(value));
	log_end(line);
}

/* The signals the master handles: held back while it forks. */
static void master_signals(sigset_t *set)
{
	sigemptyset(set);
	sigaddset(set, SIGTERM);
	sigaddset(set, SIGINT);
	sigaddset(set, SIGHUP);
	sigaddset(set, SIGCHLD);
}

/*
 * In the new worker.  spawn() forked with the master's signals blocked, so
 * none of them can run the master's handler here (which would write into
 * the master's signal pipe, a signal the master never got, and lose the
 * worker's): they stay pending until their dispositions are the worker's.
 */
static void child_main(void)
{
	struct sigaction sa;
	sigset_t stop;
	int status;

	if (worker_test_hook != NULL)
		worker_test_hook("pool_forked");
	memset(&sa, 0, sizeof(sa));
	sigemptyset(&sa.sa_mask);
	sa.sa_handler = SIG_DFL;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGCHLD, &sa, NULL);
	/* The master reloads, not the worker; a SIGHUP meant for the
	 * master's process group is dropped, pending one included. */
	sa.sa_handler = SIG_IGN;
	sigaction(SIGHUP, &sa, NULL);
	/* Only the stop signals stay blocked: a pending SIGTERM waits for
	 * worker_run's sigwait and drains the worker. */
	worker_stop_signals(&stop);
	sigprocmask(SIG_SETMASK, &stop, NULL);
	close(m.sig_pipe[0]);
	close(m.sig_pipe[1]);
	close(m.ready_pipe[0]);
	/* A master killed outright (SIGKILL, OOM) must not leave workers
	 * serving with nobody to supervise them: its death sends them the
	 * stop signal, which drains them.  Checked once more after the
	 * call, for a master that died before it. */
	prctl(PR_SET_PDEATHSIG, SIGTERM);
	if (getppid() != m.master_pid)
		kill(getpid(), SIGTERM);
	if (worker_test_hook != NULL)
		worker_test_hook("pool_child");
	status = worker_run(m.listen_fd, m.cfg, m.opts->service, m.ratelimit,
	    m.ready_pipe[1]);
	/* After a clean drain exit() runs the atexit handlers, which is
	 * where LeakSanitizer checks the worker; after a drain timeout
	 * threads still run, so leave without touching shared state. */
	if (status == 0)
		exit(0);
	_exit(status);
}

static int spawn(pid_t replaces)
{
	struct child *c;
	sigset_t held, old;
	pid_t pid;

	if (m.nkids == m.cap) {
		size_t cap = m.cap ? m.cap * 2 : 8;
		struct child *grown = realloc(m.kids, cap * sizeof(*grown));

		if (grown == NULL)
			return -1;
		m.kids = grown;
		m.cap = cap;
	}
	/* No window in which the child runs the master's handlers: it is
	 * born with the signals blocked (child_main). */
	master_signals(&held);
	sigprocmask(SIG_BLOCK, &held, &old);
	if ((pid = fork()) < 0) {
		int err = errno;

		sigprocmask(SIG_SETMASK, &old, NULL);
		log_msg(LOG_ERROR, "worker_fork_failed", "fork: %s",
		    strerror(err));
		return -1;
	}
	if (pid == 0)
		child_main();
	sigprocmask(SIG_SETMASK, &old, NULL);
	c = &m.kids[m.nkids++];
	metrics_set_workers_alive((int)m.nkids);
	memset(c, 0, sizeof(*c));
	c->pid = pid;
	c->gen = m.gen;
	c->replaces = replaces;
	c->started = time_mono_s();
	log_child(LOG_INFO, "worker_start", c, replaces ? "replaces" : NULL,
	    replaces);
	return 0;
}

static void retire(struct child *c)
{
	c->retiring = 1;
	kill(c->pid, SIGTERM);
	log_child(LOG_INFO, "worker_retire", c, NULL, 0);
}

/* Take one step towards target workers of the current generation. */
static void reconcile(void)
{
	struct child *old = NULL;
	int live = 0;

	for (size_t i = 0; i < m.nkids; i++) {
		struct child *c = &m.kids[i];

		if (c->retiring)
			continue;
		if (c->gen != m.gen) {
			if (old == NULL)
				old = c;
			continue;
		}
		if (!c->ready) {
			/* One start at a time: wait for it, but not for ever; a
			 * worker stuck in its set-up is killed and, like any
			 * death, replaced after the backoff. */
			if (time_mono_s() - c->started > START_TIMEOUT_S) {
				log_child(LOG_ERROR, "worker_start_timeout", c,
				    NULL, 0);
				kill(c->pid, SIGKILL);
			}
			return;
		}
		live++;
	}
	if (live < m.target) {
		/* Pair the new worker with an old one still serving, unless
		 * a starting worker already replaces it. */
		if (time_mono_s() >= m.next_spawn)
			spawn(old ? old->pid : 0);
		return;
	}
	if (old != NULL)
		retire(old); /* fewer workers wanted than before */
}

static void on_ready(pid_t pid)
{
	struct child *c = find(pid), *old;

	if (c == NULL)
		return;
	c->ready = 1;
	log_child(LOG_DEBUG, "worker_ready", c, NULL, 0);
	if (c->replaces && (old = find(c->replaces)) != NULL && !old->retiring)
		retire(old);
	c->replaces = 0;
}

static void reap(void)
{
	pid_t pid;
	int status;

	while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
		struct child *c = find(pid);
		double lived;
		int planned;

		if (c == NULL)
			continue;
		lived = time_mono_s() - c->started;
		planned = c->retiring || m.stopping;
		if (WIFSIGNALED(status))
			log_child(planned ? LOG_INFO : LOG_ERROR, "worker_exit",
			    c, "signal", WTERMSIG(status));
		else
			log_child(planned && WEXITSTATUS(status) == 0 ?
			    LOG_INFO : LOG_WARN, "worker_exit", c, "exit_code",
			    WEXITSTATUS(status));
		*c = m.kids[--m.nkids];
		metrics_set_workers_alive((int)m.nkids);
		if (planned)
			continue;
		metrics_count_worker_restart();
		/* An unplanned death: restart, backing off while workers keep
		 * dying young (a bad deploy must not fork-bomb the host). */
		m.young_deaths = lived < YOUNG_DEATH_S ? m.young_deaths + 1 : 0;
		if (m.young_deaths > 0) {
			int shift = m.young_deaths - 1 > 9 ? 9 :
			    m.young_deaths - 1;
			long delay = (long)BACKOFF_MIN_MS << shift;

			if (delay > BACKOFF_MAX_MS)
				delay = BACKOFF_MAX_MS;
			m.next_spawn = time_mono_s() + (double)delay / 1000.0;
			log_msg(LOG_WARN, "worker_restart",
			    "restarting a worker in %ld ms", delay);
		} else {
			m.next_spawn = 0;
			log_msg(LOG_WARN, "worker_restart",
			    "restarting a worker now");
		}
	}
}

/* ---- reload and stop ---- */

/*
 * The rate-limit counters live in shared memory that has to exist before
 * the workers using it are forked: it is made at start, or by the first
 * reload that turns limiting on, and then kept, counts and all, for the
 * master's lifetime -- restarted workers and new generations inherit it.
 */
static int ensure_ratelimit(const struct omni_config *cfg, char *err,
    size_t errlen)
{
	enum rl_err e;

	if (cfg->rate_limit_rpm <= 0 || m.ratelimit != NULL)
		return 0;
	if ((e = rl_table_create(0, &m.ratelimit)) != RL_OK) {
		snprintf(err, errlen, "RATE_LIMIT_RPM: %s", rl_strerror(e));
		return -1;
	}
	return 0;
}

int pool_metrics_open(const struct worker_service *svc,
    const struct omni_config *cfg, struct metrics **out, char *err,
    size_t errlen)
{
	enum metrics_err e = metrics_create(svc->routes, svc->nroutes, out);

	if (e != METRICS_OK) {
		snprintf(err, errlen, "metrics: %s", metrics_strerror(e));
		return -1;
	}
	metrics_set_enabled(*out, cfg->metrics);
	metrics_set_build(*out, omni_version, omni_revision);
	metrics_set_start_time(*out, time_real_ms() / 1000);
	metrics_install(*out);
	return 0;
}

static int effective_workers(const struct omni_config *cfg)
{
	long n;

	if (cfg->workers > 0)
		return cfg->workers;
	n = sysconf(_SC_NPROCESSORS_ONLN);
	return n > 0 ? (int)n : 1;
}

static void apply_overrides(struct omni_config *cfg)
{
	if (m.opts->workers > 0)
		cfg->workers = m.opts->workers;
	if (m.opts->threads > 0)
		cfg->threads = m.opts->threads;
}

static void reload(void)
{
	struct omni_config fresh;
	char err[512];
	struct json_object *line;

	if (m.stopping || m.delaying)
		return;
	if (cfg_load(&fresh, m.opts->env_file, err, sizeof(err)) != CFG_OK) {
		/* The message names the variable, never a secret value. */
		log_msg(LOG_ERROR, "reload_failed", "%s; keeping the running "
		    "configuration", err);
		return;
	}
	if (worker_service_preflight(m.opts->service, &fresh, err,
	    sizeof(err)) != 0 ||
	    ensure_ratelimit(&fresh, err, sizeof(err)) != 0) {
		log_msg(LOG_ERROR, "reload_failed", "%s; keeping the running "
		    "configuration", err);
		cfg_free(&fresh);
		return;
	}
	apply_overrides(&fresh);
	cfg_free(m.cfg);
	*m.cfg = fresh;
	metrics_set_enabled(m.metrics, m.cfg->metrics);
	log_set_level(m.cfg->log_level);
	m.gen++;
	m.target = effective_workers(m.cfg);
	m.young_deaths = 0;
	m.next_spawn = 0;
	if ((line = log_begin(LOG_INFO, "reload")) != NULL) {
		json_object_object_add(line, "generation",
		    json_object_new_int64(m.gen));
		json_object_object_add(line, "workers",
		    json_object_new_int(m.target));
		log_end(line);
	}
}

static void begin_drain(int sig)
{
	m.delaying = 0;
	m.stopping = 1;
	m.deadline = time_mono_s() + m.cfg->shutdown_timeout + KILL_GRACE_S;
	/* New connections now fail at once instead of queueing for workers
	 * that will not accept them. */
	if (m.unix_path[0] != '\0')
		unlink(m.unix_path);
	close(m.listen_fd);
	m.listen_fd = -1;
	log_msg(LOG_INFO, "drain", "signal %d: draining %zu workers", sig,
	    m.nkids);
	for (size_t i = 0; i < m.nkids; i++)
		kill(m.kids[i].pid, SIGTERM);
}

/*
 * SIGTERM or SIGINT.  With OMNI_DRAIN_DELAY the pool first keeps serving
 * for that long while /ready answers 503 (metrics_draining), so that a
 * load balancer takes the instance out before it stops accepting; a
 * second signal ends the delay at once.
 */
static void begin_stop(int sig)
{
	if (m.stopping)
		return;
	metrics_set_draining(1);
	if (!m.delaying && m.cfg->drain_delay > 0) {
		m.delaying = 1;
		m.stop_sig = sig;
		m.delay_end = time_mono_s() + m.cfg->drain_delay;
		log_msg(LOG_INFO, "drain_delay", "signal %d: /ready answers "
		    "503; draining in %d s", sig, m.cfg->drain_delay);
		return;
	}
	begin_drain(sig);
}

static void handle_signals(void)
{
	unsigned char sigs[64];
	ssize_t n = read(m.sig_pipe[0], sigs, sizeof(sigs));

	for (ssize_t i = 0; i < n; i++) {
		switch (sigs[i]) {
		case SIGTERM:
		case SIGINT:
			begin_stop(sigs[i]);
			break;
		case SIGHUP:
			reload();
			break;
		case SIGCHLD:
			reap();
			break;
		}
	}
}

static void read_ready_pids(void)
{
	int pids[64];
	ssize_t n = read(m.ready_pipe[0], pids, sizeof(pids));

	for (ssize_t i = 0; i + 1 <= n / (ssize_t)sizeof(int); i++)
		on_ready(pids[i]);
}

static int poll_timeout_ms(void)
{
	double t = 1.0, now = time_mono_s();

	if (m.stopping)
		t = m.deadline - now;
	else if (m.delaying)
		t = m.delay_end - now;
	else if (m.next_spawn > now)
		t = m.next_spawn - now;
	if (t < 0.01)
		t = 0.01;
	if (t > 1.0)
		t = 1.0;
	return (int)(t * 1000);
}

static void log_start(void)
{
	struct json_object *line = log_begin(LOG_INFO, "start");

	if (line == NULL)
		return;
	json_object_object_add(line, "listen",
	    json_object_new_string(m.opts->listen));
	json_object_object_add(line, "workers", json_object_new_int(m.target));
	json_object_object_add(line, "threads",
	    json_object_new_int(m.cfg->threads));
	json_object_object_add(line, "env",
	    json_object_new_string(cfg_env_name(m.cfg->env)));
	log_end(line);
}

int pool_run(const struct pool_opts *opts, struct omni_config *cfg)
{
	char err[512];
	struct pollfd pfd[2];
	int killed = 0;

	memset(&m, 0, sizeof(m));
	m.master_pid = getpid();
	m.opts = opts;
	m.cfg = cfg;
	apply_overrides(cfg);
	m.target = effective_workers(cfg);
	if ((m.listen_fd = pool_listen(opts->listen, err, sizeof(err))) < 0) {
		fprintf(stderr, "omni-fcgi: %s\n", err);
		return 1;
	}
	if (ensure_ratelimit(cfg, err, sizeof(err)) != 0 ||
	    pool_metrics_open(opts->service, cfg, &m.metrics, err,
	    sizeof(err)) != 0) {
		fprintf(stderr, "omni-fcgi: %s\n", err);
		return 1;
	}
	if (pipe2(m.sig_pipe, O_CLOEXEC | O_NONBLOCK) != 0 ||
	    pipe2(m.ready_pipe, O_CLOEXEC | O_NONBLOCK) != 0 ||
	    install_signals() != 0) {
		fprintf(stderr, "omni-fcgi: %s\n", strerror(errno));
		return 1;
	}
	log_start();
	cfg_log_summary(cfg);
	pfd[0] = (struct pollfd){ .fd = m.sig_pipe[0], .events = POLLIN };
	pfd[1] = (struct pollfd){ .fd = m.ready_pipe[0], .events = POLLIN };
	for (;;) {
		if (m.delaying && time_mono_s() >= m.delay_end)
			begin_drain(m.stop_sig);
		if (!m.stopping)
			reconcile();
		else if (m.nkids == 0)
			break;
		if (poll(pfd, 2, poll_timeout_ms()) > 0) {
			if (pfd[0].revents & POLLIN)
				handle_signals();
			if (pfd[1].revents & POLLIN)
				read_ready_pids();
		}
		if (m.stopping && !killed && time_mono_s() >= m.deadline) {
			log_msg(LOG_WARN, "drain_timeout", "killing %zu workers "
			    "still busy", m.nkids);
			for (size_t i = 0; i < m.nkids; i++)
				kill(m.kids[i].pid, SIGKILL);
			killed = 1;
		}
	}
	log_msg(LOG_INFO, "stop", "all workers exited");
	free(m.kids);
	rl_table_destroy(m.ratelimit);
	metrics_destroy(m.metrics);
	cfg_free(cfg);
	return killed ? 1 : 0;
}
