/*
 * test_worker_signals.c -- stop signals and the worker's threads.
 *
 * A SIGTERM that reaches a worker at any point of its start-up must be held
 * and then drain it (exit 0), never be lost nor run the master's handler;
 * serving threads must have SIGTERM and SIGINT blocked, and a request in
 * flight when the signal comes must still be answered.
 *
 * The tests run the real master (pool_run) and worker (worker_run) in
 * forked processes, with worker_test_hook, which the code calls at each
 * start-up point, sending the signal exactly there.  Every process is
 * waited for with a deadline and, past it, killed by its pid.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "config.h"
#include "rm_tree.h"
#include "handlers.h"
#include "pool.h"
#include "timeutil.h"
#include "worker.h"

#define WAIT_S 20.0

static const char *const points[] = {
	"pool_forked", "pool_child", "worker_begin", "worker_setup",
	"worker_handlers", "worker_threads", "worker_ready",
};

/* Shared with the forked master and workers. */
struct shared {
	atomic_int fired;       /* the hook sent its signal */
	atomic_int held;        /* ... and saw it pending, not delivered */
	atomic_int worker_pid;  /* the worker the hook ran in */
	atomic_int serving_blocked; /* serving thread: 1 blocked, -1 not */
};

static struct shared *sh;
static const char *target;  /* the start-up point to signal at */
static char dir[64], sock_path[100], log_path[100];

/* ---- helpers ---- */

/* Wait up to 5 s for 'sig' to be pending (held by the mask). */
static int wait_pending(int sig)
{
	double until = time_mono_s() + 5.0;
	sigset_t p;

	while (time_mono_s() < until) {
		if (sigpending(&p) == 0 && sigismember(&p, sig))
			return 1;
		time_sleep_ms(1);
	}
	return 0;
}

static void fire(const char *point, pid_t whom)
{
	if (strcmp(point, target) != 0 || atomic_exchange(&sh->fired, 1))
		return;
	atomic_store(&sh->worker_pid, (int)getpid());
	kill(whom, SIGTERM);
	atomic_store(&sh->held, wait_pending(SIGTERM));
}

/* The master is told to stop while this worker starts: it passes the
 * SIGTERM on to the worker, which must hold it. */
static void hook_stop_master(const char *point)
{
	fire(point, getppid());
}

/* Someone signals the starting worker itself: it must drain, and the
 * master replace it. */
static void hook_stop_self(const char *point)
{
	fire(point, getpid());
}

static int load_config(struct omni_config *cfg, const char *threads)
{
	char err[512], path[4096];
	const char *p = getenv("PATH");

	/* Only in a forked child: a known environment, whatever OMNI_*
	 * variables the shell that runs the tests has. */
	snprintf(path, sizeof(path), "%s", p != NULL ? p : "/usr/bin:/bin");
	clearenv();
	setenv("PATH", path, 1);
	setenv("OMNI_ENV", "development", 1);
	setenv("OMNI_DEBUG_ROUTES", "1", 1);
	setenv("OMNI_WORKERS", "1", 1);
	setenv("OMNI_THREADS", threads, 1);
	setenv("OMNI_SHUTDOWN_TIMEOUT", "5", 1);
	setenv("OMNI_DATA_DIR", dir, 1);
	setenv("LOG_LEVEL", "info", 1);
	if (cfg_load(cfg, NULL, err, sizeof(err)) != CFG_OK) {
		fprintf(stderr, "cfg_load: %s\n", err);
		return -1;
	}
	if (worker_service_preflight(&omni_service, cfg, err,
	    sizeof(err)) != 0) {
		fprintf(stderr, "preflight: %s\n", err);
		cfg_free(cfg);
		return -1;
	}
	return 0;
}

/* Wait for 'pid' up to WAIT_S; past it kill it (by pid) and fail. */
static int wait_exit(pid_t pid)
{
	double until = time_mono_s() + WAIT_S;
	int status;

	while (time_mono_s() < until) {
		pid_t r = waitpid(pid, &status, WNOHANG);

		if (r == pid)
			return status;
		if (r < 0)
			return -1;
		time_sleep_ms(10);
	}
	kill(pid, SIGKILL);
	waitpid(pid, &status, 0);
	return -1;
}

static void kill_worker(void)
{
	int w = atomic_load(&sh->worker_pid);

	if (w > 0)
		kill(w, SIGKILL); /* a lost signal left it running */
}

static char *read_log(void)
{
	FILE *f = fopen(log_path, "r");
	char *buf = calloc(1, 1 << 20);
	size_t n;

	assert_non_null(buf);
	if (f == NULL)
		return buf; /* not created yet: empty */
	n = fread(buf, 1, (1 << 20) - 1, f);
	buf[n] = '\0';
	fclose(f);
	return buf;
}

static int count(const char *hay, const char *needle)
{
	int n = 0;

	for (const char *p = hay; (p = strstr(p, needle)) != NULL; p++)
		n++;
	return n;
}

/* Fork a master running pool_run, its stderr (and its workers') on the
 * log file. */
static pid_t start_master(void (*hook)(const char *))
{
	pid_t pid = fork();

	assert_true(pid >= 0);
	if (pid == 0) {
		struct pool_opts opts = { .service = &omni_service,
		    .listen = NULL };
		struct omni_config cfg;
		char listen[160];
		int fd = open(log_path, O_WRONLY | O_CREAT | O_TRUNC |
		    O_APPEND, 0600);

		if (fd < 0 || dup2(fd, 2) < 0 || load_config(&cfg, "2") != 0)
			_exit(90);
		snprintf(listen, sizeof(listen), "unix:%s", sock_path);
		opts.listen = listen;
		worker_test_hook = hook;
		_exit(pool_run(&opts, &cfg));
	}
	return pid;
}

static void reset_shared(const char *point)
{
	target = point;
	atomic_store(&sh->fired, 0);
	atomic_store(&sh->held, 0);
	atomic_store(&sh->worker_pid, 0);
	atomic_store(&sh->serving_blocked, 0);
	/* Else the previous run's lines could be read before the new
	 * process truncates the file. */
	unlink(log_path);
}

/* Every worker that exited did so with status 0, having drained. */
static void assert_workers_drained(const char *log, const char *point,
    int exits)
{
	if (count(log, "\"event\":\"worker_exit\"") != exits ||
	    count(log, "\"exit_code\":0") != exits ||
	    count(log, "\"event\":\"worker_drained\"") != exits) {
		fprintf(stderr, "point %s, log:\n%s\n", point, log);
		fail();
	}
}

/* ---- tests ---- */

/* SIGTERM to the master while its worker is at each start-up point: the
 * master forwards it, the worker holds it, drains, exits 0; the master
 * exits 0 without killing anything. */
static void test_master_stop_at_each_startup_point(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(points) / sizeof(points[0]); i++) {
		pid_t master;
		int status;
		char *log;

		reset_shared(points[i]);
		master = start_master(hook_stop_master);
		status = wait_exit(master);
		if (status < 0)
			kill_worker();
		log = read_log();
		if (status != 0 || !atomic_load(&sh->fired) ||
		    !atomic_load(&sh->held))
			fprintf(stderr, "point %s: status %d fired %d held %d\n%s\n",
			    points[i], status, atomic_load(&sh->fired),
			    atomic_load(&sh->held), log);
		assert_int_equal(status, 0);
		assert_true(atomic_load(&sh->fired));
		assert_true(atomic_load(&sh->held));
		assert_workers_drained(log, points[i], 1);
		assert_int_equal(count(log, "\"event\":\"stop\""), 1);
		assert_int_equal(count(log, "\"event\":\"drain_timeout\""), 0);
		free(log);
	}
}

/* SIGTERM to the worker alone at each start-up point: it drains and exits
 * 0, the master replaces it with a worker that comes up, and then stops
 * cleanly on its own SIGTERM. */
static void test_worker_stop_at_each_startup_point(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(points) / sizeof(points[0]); i++) {
		double until = time_mono_s() + WAIT_S;
		pid_t master;
		int status, replaced = 0;
		char *log = NULL;

		reset_shared(points[i]);
		master = start_master(hook_stop_self);
		while (!replaced && time_mono_s() < until) {
			const char *exit_at;

			free(log);
			log = read_log();
			exit_at = strstr(log, "\"event\":\"worker_exit\"");
			replaced = exit_at != NULL &&
			    strstr(exit_at, "\"event\":\"worker_ready\"") != NULL;
			if (!replaced)
				time_sleep_ms(20);
		}
		kill(master, SIGTERM);
		status = wait_exit(master);
		if (status < 0)
			kill_worker();
		free(log);
		log = read_log();
		if (!replaced || status != 0 || !atomic_load(&sh->held))
			fprintf(stderr, "point %s: replaced %d status %d held %d\n"
			    "%s\n", points[i], replaced, status,
			    atomic_load(&sh->held), log);
		assert_true(replaced);
		assert_int_equal(status, 0);
		assert_true(atomic_load(&sh->held));
		/* The signalled worker, then its replacement at the stop. */
		assert_workers_drained(log, points[i], 2);
		assert_int_equal(count(log, "\"event\":\"worker_start\""), 2);
		free(log);
	}
}

/* Does /proc/<path>/status show SIGTERM and SIGINT blocked? 1, 0, or -1
 * when it cannot be read. */
static int sigs_blocked(const char *status_path)
{
	FILE *f = fopen(status_path, "r");
	char line[256];
	int r = -1;

	if (f == NULL)
		return -1;
	while (fgets(line, sizeof(line), f) != NULL) {
		unsigned long long mask;

		if (sscanf(line, "SigBlk: %llx", &mask) == 1) {
			r = (mask & (1ULL << (SIGTERM - 1))) &&
			    (mask & (1ULL << (SIGINT - 1)));
			break;
		}
	}
	fclose(f);
	return r;
}

/* On the serving thread, as a request starts: record the thread's mask
 * and ask the worker to stop while the request is in flight. */
static void hook_serving(const char *point)
{
	if (strcmp(point, "serving") != 0 || atomic_exchange(&sh->fired, 1))
		return;
	atomic_store(&sh->serving_blocked,
	    sigs_blocked("/proc/thread-self/status") == 1 ? 1 : -1);
	/* Process-directed, as the master sends it; the main thread takes
	 * it while this request runs. */
	kill(getpid(), SIGTERM);
}

static void put_record(char *buf, size_t *len, int type, const void *data,
    size_t n)
{
	unsigned char h[8] = { 1, (unsigned char)type, 0, 1,
	    (unsigned char)(n >> 8), (unsigned char)n, 0, 0 };

	memcpy(buf + *len, h, 8);
	memcpy(buf + *len + 8, data, n);
	*len += 8 + n;
}

static void put_param(char *buf, size_t *len, const char *k, const char *v)
{
	size_t kl = strlen(k), vl = strlen(v);

	buf[(*len)++] = (char)kl;
	buf[(*len)++] = (char)vl;
	memcpy(buf + *len, k, kl);
	memcpy(buf + *len + kl, v, vl);
	*len += kl + vl;
}

/* One GET over FastCGI; returns the raw reply records (malloc'd). */
static char *fcgi_get(const char *uri, size_t *out_len)
{
	static const unsigned char begin[8] = { 0, 1, 0, 0, 0, 0, 0, 0 };
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	char params[1024], msg[2048], *reply = malloc(65536);
	size_t plen = 0, mlen = 0, rlen = 0;
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct pollfd p = { .fd = fd, .events = POLLIN };
	double until = time_mono_s() + WAIT_S;

	assert_non_null(reply);
	assert_true(fd >= 0);
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", sock_path);
	assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	put_param(params, &plen, "REQUEST_METHOD", "GET");
	put_param(params, &plen, "REQUEST_URI", uri);
	put_param(params, &plen, "DOCUMENT_URI", "/debug/sleep");
	put_param(params, &plen, "SCRIPT_NAME", "/debug/sleep");
	put_param(params, &plen, "QUERY_STRING", strchr(uri, '?') + 1);
	put_param(params, &plen, "SERVER_PROTOCOL", "HTTP/1.1");
	put_param(params, &plen, "GATEWAY_INTERFACE", "CGI/1.1");
	put_param(params, &plen, "REMOTE_ADDR", "127.0.0.1");
	put_record(msg, &mlen, 1, begin, sizeof(begin)); /* BEGIN_REQUEST */
	put_record(msg, &mlen, 4, params, plen);          /* PARAMS */
	put_record(msg, &mlen, 4, "", 0);
	put_record(msg, &mlen, 5, "", 0);                 /* STDIN, empty */
	assert_int_equal(write(fd, msg, mlen), (ssize_t)mlen);
	while (time_mono_s() < until && rlen < 65535) {
		ssize_t n;

		if (poll(&p, 1, 100) <= 0)
			continue;
		if ((n = read(fd, reply + rlen, 65535 - rlen)) <= 0)
			break;
		rlen += (size_t)n;
	}
	close(fd);
	reply[rlen] = '\0';
	*out_len = rlen;
	return reply;
}

/* A worker run alone (as under spawn-fcgi, nothing blocked beforehand):
 * once it is ready every thread has SIGTERM and SIGINT blocked; a
 * SIGTERM while a request is being served lets that request finish and
 * then the worker exits 0. */
static void test_serving_threads_block_and_inflight_completes(void **state)
{
	char err[256], task[300], *reply, *log;
	int ready[2], wpid = 0, status, tasks = 0, unblocked = 0, ok200, body;
	size_t rlen;
	struct pollfd p;
	pid_t pid;
	DIR *d;
	struct dirent *e;
	int lfd;

	(void)state;
	reset_shared("serving");
	snprintf(task, sizeof(task), "unix:%s", sock_path);
	unlink(sock_path);
	lfd = pool_listen(task, err, sizeof(err));
	assert_true(lfd >= 0);
	assert_int_equal(pipe(ready), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct omni_config cfg;
		int fd = open(log_path, O_WRONLY | O_CREAT | O_TRUNC |
		    O_APPEND, 0600);

		close(ready[0]);
		if (fd < 0 || dup2(fd, 2) < 0 || load_config(&cfg, "3") != 0)
			_exit(90);
		worker_test_hook = hook_serving;
		_exit(worker_run(lfd, &cfg, &omni_service, NULL, ready[1]));
	}
	close(ready[1]);
	close(lfd);
	p = (struct pollfd){ .fd = ready[0], .events = POLLIN };
	assert_int_equal(poll(&p, 1, (int)(WAIT_S * 1000)), 1);
	assert_int_equal(read(ready[0], &wpid, sizeof(wpid)),
	    (ssize_t)sizeof(wpid));
	close(ready[0]);
	assert_int_equal(wpid, pid);

	/* The three serving threads.  The main thread is left out: it sits
	 * in sigwait, during which the kernel shows the awaited signals as
	 * unblocked. */
	snprintf(task, sizeof(task), "/proc/%d/task", (int)pid);
	if ((d = opendir(task)) != NULL) {
		while ((e = readdir(d)) != NULL) {
			char path[300];

			if (e->d_name[0] == '.' || atoi(e->d_name) == pid)
				continue;
			snprintf(path, sizeof(path), "/proc/%d/task/%s/status",
			    (int)pid, e->d_name);
			tasks++;
			if (sigs_blocked(path) != 1)
				unblocked++;
		}
		closedir(d);
	}
	if (tasks != 3 || unblocked != 0) {
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
		fprintf(stderr, "%d serving threads, %d with signals unblocked\n",
		    tasks, unblocked);
		fail();
	}

	reply = fcgi_get("/debug/sleep?ms=300", &rlen);
	status = wait_exit(pid);
	log = read_log();
	/* The reply is FastCGI records: binary, NULs in the headers. */
	ok200 = memmem(reply, rlen, "Status: 200", 11) != NULL;
	body = memmem(reply, rlen, "{\"slept_ms\":300}", 16) != NULL;
	if (!ok200 || !body || status != 0)
		fprintf(stderr, "status %d, reply %zu bytes\nlog:\n%s\n",
		    status, rlen, log);
	assert_true(atomic_load(&sh->fired));
	assert_int_equal(atomic_load(&sh->serving_blocked), 1);
	assert_true(ok200);
	assert_true(body);
	assert_int_equal(status, 0);
	assert_int_equal(count(log, "\"event\":\"worker_drained\""), 1);
	free(reply);
	free(log);
}

/* ---- fixture ---- */

static int group_setup(void **state)
{
	(void)state;
	sh = mmap(NULL, sizeof(*sh), PROT_READ | PROT_WRITE,
	    MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (sh == MAP_FAILED)
		return -1;
	snprintf(dir, sizeof(dir), "/tmp/omni-sig-XXXXXX");
	if (mkdtemp(dir) == NULL)
		return -1;
	snprintf(sock_path, sizeof(sock_path), "%s/omni.sock", dir);
	snprintf(log_path, sizeof(log_path), "%s/log", dir);
	return 0;
}

static int group_teardown(void **state)
{
	(void)state;
	rm_tree(dir); /* the socket, the log, the sandboxes directory */
	munmap(sh, sizeof(*sh));
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_master_stop_at_each_startup_point),
		cmocka_unit_test(test_worker_stop_at_each_startup_point),
		cmocka_unit_test(
		    test_serving_threads_block_and_inflight_completes),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
