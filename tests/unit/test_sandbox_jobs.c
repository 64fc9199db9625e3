/*
 * test_sandbox_jobs.c -- background jobs of the local provider
 * (app/sandbox/local_job.c) through the wrappers of app/sandbox/jobs.c:
 * argv run as it is with the input on stdin, output and exit code in the
 * job's files, one start per job id, kill, survival of the process that
 * started it, and no fd of the starter held by the keeper.  Each runs
 * under bubblewrap and unsandboxed.
 */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "loopback_listen.h"
#include "rm_tree.h"
#include "sandbox.h"
#include "sandbox_local.h"

struct fixture {
	char dir[64];
	struct sbx_provider *p;
	struct sbx_info info;
};

static int make(void **state, int isolated)
{
	struct fixture *fx = calloc(1, sizeof(*fx));
	struct sbx_local_opts o;
	char detail[256];

	if (fx == NULL)
		return -1;
	snprintf(fx->dir, sizeof(fx->dir), "/tmp/omni-job-test-XXXXXX");
	if (mkdtemp(fx->dir) == NULL)
		return -1;
	memset(&o, 0, sizeof(o));
	o.data_dir = fx->dir;
	o.unsandboxed = !isolated;
	o.bwrap = isolated ? NULL : "/nonexistent/bwrap";
	o.limits.timeout_s = 10;
	if (sbx_local_new_opts(&o, &fx->p, detail, sizeof(detail)) != SBX_OK) {
		fprintf(stderr, "local provider: %s\n", detail);
		return -1;
	}
	if (sbx_ensure_for_user(fx->p, "job-user", &fx->info, NULL) != SBX_OK)
		return -1;
	*state = fx;
	return 0;
}

static int setup_iso(void **state)
{
	return make(state, 1);
}

static int setup_unsb(void **state)
{
	return make(state, 0);
}

static int teardown(void **state)
{
	struct fixture *fx = *state;

	sbx_provider_free(fx->p);
	rm_tree(fx->dir);
	free(fx);
	return 0;
}

#define FX ((struct fixture *)*state)

static void put_input(void **state, const char *job, const char *data,
    size_t len)
{
	char path[128];

	assert_int_equal(sbx_job_path(path, sizeof(path), job, "input"), 0);
	assert_int_equal(sbx_write_file(FX->p, FX->info.id, path, data, len,
	    NULL), SBX_OK);
}

static enum sbx_err start(void **state, const char *job,
    const char *const *argv, const char *const *env, int *already)
{
	struct sbx_job_spec spec = { job, argv, env, 0 };

	return sbx_job_start(FX->p, FX->info.id, &spec, already, NULL);
}

/* Poll until the job is no longer running (at most 'ms'). */
static struct sbx_job_status wait_end(void **state, const char *job, int ms)
{
	struct sbx_job_status st;
	struct timespec tick = { 0, 20 * 1000 * 1000 };

	for (int waited = 0;; waited += 20) {
		assert_int_equal(sbx_job_status(FX->p, FX->info.id, job, &st,
		    NULL), SBX_OK);
		if (st.state != SBX_JOB_RUNNING || waited >= ms)
			return st;
		nanosleep(&tick, NULL);
	}
}

static char *job_file(void **state, const char *job, const char *file,
    size_t *len)
{
	char path[128], *data = NULL;

	assert_int_equal(sbx_job_path(path, sizeof(path), job, file), 0);
	assert_int_equal(sbx_read_file(FX->p, FX->info.id, path, 0, &data, len,
	    NULL), SBX_OK);
	return data;
}

static const char hostile[] = "it's \"quoted\" $(touch pwned) `id` $HOME\n"
    "line two \\ with a backslash\n-starts with a dash\n\xc3\xa9t\xc3\xa9 "
    "\xe2\x82\xac 12\n";

static void argv_runs_as_is_with_input_on_stdin(void **state)
{
	const char *const argv[] = { "/bin/sh", "-c",
	    "cat; printf 'err %s' \"$1\" >&2; exit 3", "sh", "a b $(c)",
	    NULL };
	struct sbx_job_status st;
	size_t len;
	char *out;
	int already = -1;

	put_input(state, "j1", hostile, sizeof(hostile) - 1);
	assert_int_equal(start(state, "j1", argv, NULL, &already), SBX_OK);
	assert_int_equal(already, 0);
	st = wait_end(state, "j1", 10000);
	assert_int_equal(st.state, SBX_JOB_EXITED);
	assert_int_equal(st.exit_code, 3);
	out = job_file(state, "j1", "stdout", &len);
	assert_int_equal(len, sizeof(hostile) - 1);
	assert_memory_equal(out, hostile, len);
	free(out);
	out = job_file(state, "j1", "stderr", &len);
	assert_string_equal(out, "err a b $(c)");
	free(out);
	/* Nothing in the input ran. */
	out = NULL;
	assert_int_equal(sbx_read_file(FX->p, FX->info.id, "pwned", 0, &out,
	    &len, NULL), SBX_ENOTFOUND);
}

static void second_start_starts_nothing(void **state)
{
	const char *const argv[] = { "/bin/sh", "-c",
	    "echo run >> runs.txt; cat > /dev/null", NULL };
	struct sbx_job_status st;
	size_t len;
	char *out = NULL;
	int already = -1;

	put_input(state, "j2", "x", 1);
	assert_int_equal(start(state, "j2", argv, NULL, &already), SBX_OK);
	assert_int_equal(already, 0);
	assert_int_equal(start(state, "j2", argv, NULL, &already), SBX_OK);
	assert_int_equal(already, 1);
	st = wait_end(state, "j2", 10000);
	assert_int_equal(st.state, SBX_JOB_EXITED);
	assert_int_equal(start(state, "j2", argv, NULL, &already), SBX_OK);
	assert_int_equal(already, 1);
	assert_int_equal(sbx_read_file(FX->p, FX->info.id, "runs.txt", 0, &out,
	    &len, NULL), SBX_OK);
	assert_string_equal(out, "run\n");
	free(out);
}

static void kill_ends_a_running_job(void **state)
{
	const char *const argv[] = { "/bin/sleep", "30", NULL };
	struct sbx_job_status st;

	put_input(state, "j3", "", 0);
	assert_int_equal(start(state, "j3", argv, NULL, NULL), SBX_OK);
	assert_int_equal(sbx_job_status(FX->p, FX->info.id, "j3", &st, NULL),
	    SBX_OK);
	assert_int_equal(st.state, SBX_JOB_RUNNING);
	assert_int_equal(sbx_job_kill(FX->p, FX->info.id, "j3", NULL), SBX_OK);
	st = wait_end(state, "j3", 20000);
	assert_int_equal(st.state, SBX_JOB_EXITED);
	assert_int_equal(st.exit_code, 128 + SIGKILL);
	/* Killing an ended job is not an error. */
	assert_int_equal(sbx_job_kill(FX->p, FX->info.id, "j3", NULL), SBX_OK);
}

/* The process that starts a job exits (a worker restarted): the job goes
 * on and its end is recorded. */
static void job_outlives_its_starter(void **state)
{
	const char *const argv[] = { "/bin/sh", "-c", "sleep 1; echo done",
	    NULL };
	struct sbx_job_status st;
	int status;
	size_t len;
	char *out;
	pid_t pid;

	put_input(state, "j4", "", 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0)
		_exit(start(state, "j4", argv, NULL, NULL) == SBX_OK ? 0 : 1);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	assert_int_equal(sbx_job_status(FX->p, FX->info.id, "j4", &st, NULL),
	    SBX_OK);
	assert_int_equal(st.state, SBX_JOB_RUNNING);
	st = wait_end(state, "j4", 10000);
	assert_int_equal(st.state, SBX_JOB_EXITED);
	assert_int_equal(st.exit_code, 0);
	out = job_file(state, "j4", "stdout", &len);
	assert_string_equal(out, "done\n");
	free(out);
}

/* The keeper never execs, so it must close what the starter had open: a
 * pipe the starter holds (as a FastCGI socket would be) sees EOF once the
 * starter closes its end, while the job still runs. */
static void keeper_holds_no_fd_of_the_starter(void **state)
{
	const char *const argv[] = { "/bin/sleep", "30", NULL };
	struct pollfd pf;
	int fds[2];
	char c;

	assert_int_equal(pipe(fds), 0); /* no O_CLOEXEC on purpose */
	put_input(state, "j5", "", 0);
	assert_int_equal(start(state, "j5", argv, NULL, NULL), SBX_OK);
	close(fds[1]);
	pf.fd = fds[0];
	pf.events = POLLIN;
	assert_int_equal(poll(&pf, 1, 2000), 1);
	assert_int_equal(read(fds[0], &c, 1), 0);
	close(fds[0]);
	assert_int_equal(sbx_job_kill(FX->p, FX->info.id, "j5", NULL), SBX_OK);
	assert_int_equal(wait_end(state, "j5", 20000).state, SBX_JOB_EXITED);
}

static void environment_reaches_the_job(void **state)
{
	const char *const argv[] = { "/bin/sh", "-c",
	    "printf '%s|%s' \"$AGENT_KEY\" \"$HOME\"", NULL };
	const char *const env[] = { "AGENT_KEY=it's a 'secret' $(x)", NULL };
	size_t len;
	char *out;

	put_input(state, "j6", "", 0);
	assert_int_equal(start(state, "j6", argv, env, NULL), SBX_OK);
	assert_int_equal(wait_end(state, "j6", 10000).state, SBX_JOB_EXITED);
	out = job_file(state, "j6", "stdout", &len);
	assert_non_null(strstr(out, "it's a 'secret' $(x)|"));
	free(out);
}

static void job_never_runs_as_root(void **state)
{
	const char *const argv[] = { "/usr/bin/id", "-u", NULL };
	size_t len;
	char *out;

	put_input(state, "j7", "", 0);
	assert_int_equal(start(state, "j7", argv, NULL, NULL), SBX_OK);
	assert_int_equal(wait_end(state, "j7", 10000).state, SBX_JOB_EXITED);
	out = job_file(state, "j7", "stdout", &len);
	if (geteuid() == 0)
		assert_string_not_equal(out, "0\n");
	free(out);
}

static void bad_specs_and_unknown_jobs(void **state)
{
	const char *const argv[] = { "/bin/true", NULL };
	const char *const empty[] = { NULL };
	const char *const badenv[] = { "LD_PRELOAD=/x.so", NULL };
	struct sbx_job_status st;

	assert_int_equal(start(state, "../x", argv, NULL, NULL), SBX_EINVAL);
	assert_int_equal(start(state, "", argv, NULL, NULL), SBX_EINVAL);
	assert_int_equal(start(state, "a.b", argv, NULL, NULL), SBX_EINVAL);
	assert_int_equal(start(state, "ok", empty, NULL, NULL), SBX_EINVAL);
	assert_int_equal(start(state, "ok", argv, badenv, NULL), SBX_EINVAL);
	/* No input written: nothing to start. */
	assert_int_equal(start(state, "noinput", argv, NULL, NULL),
	    SBX_ENOTFOUND);
	assert_int_equal(sbx_job_status(FX->p, FX->info.id, "never", &st,
	    NULL), SBX_ENOTFOUND);
	assert_int_equal(sbx_job_kill(FX->p, FX->info.id, "never", NULL),
	    SBX_OK);
}

/* A missing program: the job ends with the exec failure's code. */
static void missing_program_ends_with_127(void **state)
{
	const char *const argv[] = { "/nonexistent/agent", NULL };
	struct sbx_job_status st;

	put_input(state, "j8", "", 0);
	assert_int_equal(start(state, "j8", argv, NULL, NULL), SBX_OK);
	st = wait_end(state, "j8", 10000);
	assert_int_equal(st.state, SBX_JOB_EXITED);
	assert_true(st.exit_code == 127 || st.exit_code == 1);
}

/* Under bwrap a job has no network unless the spec asks for the host's
 * (OMNI_AGENT_NETWORK): a listener on the host's loopback is reached only
 * then. */
static void network_only_when_asked(void **state)
{
	char script[160], job[8];
	const char *const argv[] = { "/bin/bash", "-c", script, NULL };
	struct sbx_job_spec spec = { job, argv, NULL, 0 };
	int port = 0, s = listen_loopback(&port);
	size_t len;
	char *out;

	assert_true(s >= 0);
	snprintf(script, sizeof(script), "echo hi > /dev/tcp/127.0.0.1/%d "
	    "2>/dev/null && echo CONNECTED || echo REFUSED", port);
	for (int net = 0; net <= 1; net++) {
		snprintf(job, sizeof(job), "net%d", net);
		spec.network = net;
		put_input(state, job, "", 0);
		assert_int_equal(sbx_job_start(FX->p, FX->info.id, &spec, NULL,
		    NULL), SBX_OK);
		assert_int_equal(wait_end(state, job, 10000).state,
		    SBX_JOB_EXITED);
		out = job_file(state, job, "stdout", &len);
		assert_string_equal(out, net ? "CONNECTED\n" : "REFUSED\n");
		free(out);
	}
	close(s);
}

#define BOTH(f) \
	cmocka_unit_test_setup_teardown(f, setup_iso, teardown), \
	cmocka_unit_test_setup_teardown(f, setup_unsb, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		BOTH(argv_runs_as_is_with_input_on_stdin),
		BOTH(second_start_starts_nothing),
		BOTH(kill_ends_a_running_job),
		BOTH(job_outlives_its_starter),
		BOTH(keeper_holds_no_fd_of_the_starter),
		BOTH(environment_reaches_the_job),
		BOTH(job_never_runs_as_root),
		BOTH(bad_specs_and_unknown_jobs),
		BOTH(missing_program_ends_with_127),
		cmocka_unit_test_setup_teardown(network_only_when_asked,
		    setup_iso, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
