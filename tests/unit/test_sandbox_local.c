/*
 * test_sandbox_local.c -- the local provider in a temporary data
 * directory: lifecycle and state files, races between threads and between
 * processes, commands (exit codes, output cap, wall time, limits,
 * environment, cwd), confinement by bubblewrap (network, writes outside the
 * sandbox) and of the file operations (.., absolute paths, symlinks), and
 * the refusal when bubblewrap cannot start.
 *
 * The isolation tests need a working `bwrap` (Debian package bubblewrap);
 * each has a control run without bwrap showing the same command does
 * escape there, so the assertion can fail.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "sandbox.h"
#include "sandbox_local.h"
#include "loopback_listen.h"
#include "rm_tree.h"

struct fixture {
	char dir[64];
	char root[128];         /* dir/sandboxes */
	struct sbx_provider *p; /* isolated by bwrap */
	struct sbx_provider *u; /* unsandboxed (bwrap missing, allowed) */
};


static struct sbx_local_limits test_limits(void)
{
	struct sbx_local_limits l;

	memset(&l, 0, sizeof(l));
	l.timeout_s = 10;
	l.max_output = 64 * 1024;
	l.file_bytes = 4 << 20;
	return l;
}

static enum sbx_err make(struct fixture *fx, const char *bwrap,
    int unsandboxed, struct sbx_local_limits lim, struct sbx_provider **out)
{
	struct sbx_local_opts o;
	char detail[256];

	memset(&o, 0, sizeof(o));
	o.data_dir = fx->dir;
	o.unsandboxed = unsandboxed;
	o.bwrap = bwrap;
	o.limits = lim;
	return sbx_local_new_opts(&o, out, detail, sizeof(detail));
}

static int setup(void **state)
{
	struct fixture *fx = calloc(1, sizeof(*fx));

	if (fx == NULL)
		return -1;
	snprintf(fx->dir, sizeof(fx->dir), "/tmp/omni-sbx-test-XXXXXX");
	if (mkdtemp(fx->dir) == NULL)
		return -1;
	snprintf(fx->root, sizeof(fx->root), "%s/sandboxes", fx->dir);
	*state = fx;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *fx = *state;

	sbx_provider_free(fx->p);
	sbx_provider_free(fx->u);
	rm_tree(fx->dir);
	free(fx);
	return 0;
}

#define FX ((struct fixture *)*state)

/* The bwrap provider; fails the test when bwrap cannot run here. */
static struct sbx_provider *iso(void **state)
{
	if (FX->p == NULL) {
		enum sbx_err e = make(FX, NULL, 0, test_limits(), &FX->p);

		if (e != SBX_OK)
			fail_msg("bubblewrap does not work on this machine "
			    "(%s): install the bubblewrap package",
			    sbx_strerror(e));
		assert_true(sbx_local_isolated(FX->p));
	}
	return FX->p;
}

/* The unsandboxed provider (bwrap deliberately missing). */
static struct sbx_provider *unsb(void **state)
{
	if (FX->u == NULL) {
		assert_int_equal(make(FX, "/nonexistent/bwrap", 1,
		    test_limits(), &FX->u), SBX_OK);
		assert_false(sbx_local_isolated(FX->u));
	}
	return FX->u;
}

static void ensure(struct sbx_provider *p, const char *user,
    struct sbx_info *info)
{
	assert_int_equal(sbx_ensure_for_user(p, user, info, NULL), SBX_OK);
}

/* Run 'cmd' in 'id'; the result must be freed by the caller. */
static struct sbx_exec_result run(struct sbx_provider *p, const char *id,
    const char *cmd, const struct sbx_exec_opts *o)
{
	struct sbx_exec_result r;
	enum sbx_err e = p->ops->exec(p, id, cmd, o, &r, NULL);

	if (e != SBX_OK)
		fail_msg("exec '%s': %s", cmd, sbx_strerror(e));
	return r;
}

static int count_sandboxes(const char *root, int *staging)
{
	struct dirent *de;
	DIR *d = opendir(root);
	int n = 0;

	*staging = 0;
	if (d == NULL)
		return -1;
	while ((de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 ||
		    strcmp(de->d_name, "..") == 0)
			continue;
		if (de->d_name[0] == '.')
			(*staging)++;
		else
			n++;
	}
	closedir(d);
	return n;
}

static long long ms_since(const struct timespec *t0)
{
	struct timespec t1;

	clock_gettime(CLOCK_MONOTONIC, &t1);
	return (t1.tv_sec - t0->tv_sec) * 1000LL +
	    (t1.tv_nsec - t0->tv_nsec) / 1000000;
}

/* ---- lifecycle ---- */

static void create_gives_ready_sandbox_named_after_user(void **state)
{
	struct sbx_provider *p = unsb(state);
	char name[SBX_NAME_MAX], path[256];
	struct sbx_info info, got;
	struct stat st;

	assert_int_equal(p->ops->create_for_user(p, "alice", &info, NULL), SBX_OK);
	sbx_name_for_user("alice", name);
	assert_string_equal(info.id, name);
	assert_string_equal(info.user_id, "alice");
	assert_int_equal(info.state, SBX_STATE_READY);
	assert_int_equal(strlen(info.created_at), 24); /* ...T..:..:..mmmZ */
	assert_int_equal(p->ops->get(p, info.id, &got, NULL), SBX_OK);
	assert_string_equal(got.created_at, info.created_at);
	assert_string_equal(got.user_id, "alice");
	snprintf(path, sizeof(path), "%s/%s/home", FX->root, name);
	assert_int_equal(stat(path, &st), 0);
	assert_true(S_ISDIR(st.st_mode));
}

static void create_twice_conflicts(void **state)
{
	struct sbx_provider *p = unsb(state);
	struct sbx_info a, b;

	assert_int_equal(p->ops->create_for_user(p, "alice", &a, NULL), SBX_OK);
	assert_int_equal(p->ops->create_for_user(p, "alice", &b, NULL),
	    SBX_ECONFLICT);
}

static void find_for_user(void **state)
{
	struct sbx_provider *p = unsb(state);
	struct sbx_info a, b;

	assert_int_equal(p->ops->find_for_user(p, "alice", &a, NULL),
	    SBX_ENOTFOUND);
	assert_int_equal(p->ops->create_for_user(p, "alice", &a, NULL), SBX_OK);
	assert_int_equal(p->ops->find_for_user(p, "alice", &b, NULL), SBX_OK);
	assert_string_equal(a.id, b.id);
	assert_int_equal(p->ops->find_for_user(p, "bob", &b, NULL), SBX_ENOTFOUND);
}

static void get_unknown_or_malformed_id_is_not_found(void **state)
{
	struct sbx_provider *p = unsb(state);
	struct sbx_info info;

	assert_int_equal(p->ops->get(p, "omni-00000000000000000000000000000000",
	    &info, NULL), SBX_ENOTFOUND);
	assert_int_equal(p->ops->get(p, "../../etc", &info, NULL), SBX_ENOTFOUND);
	assert_int_equal(p->ops->get(p, ".", &info, NULL), SBX_ENOTFOUND);
	assert_int_equal(p->ops->get(p, "omni-ZZ", &info, NULL), SBX_ENOTFOUND);
	assert_int_equal(p->ops->remove(p, "..", NULL), SBX_ENOTFOUND);
}

static void stop_then_start(void **state)
{
	struct sbx_provider *p = unsb(state);
	struct sbx_info info, got;

	ensure(p, "alice", &info);
	assert_int_equal(p->ops->stop(p, info.id, NULL), SBX_OK);
	assert_int_equal(p->ops->get(p, info.id, &got, NULL), SBX_OK);
	assert_int_equal(got.state, SBX_STATE_STOPPED);
	assert_int_equal(p->ops->stop(p, info.id, NULL), SBX_OK); /* idempotent */
	assert_int_equal(p->ops->start(p, info.id, NULL), SBX_OK);
	assert_int_equal(p->ops->get(p, info.id, &got, NULL), SBX_OK);
	assert_int_equal(got.state, SBX_STATE_READY);
	assert_string_equal(got.created_at, info.created_at);
}

static void stopped_sandbox_refuses_exec_and_files(void **state)
{
	struct sbx_provider *p = unsb(state);
	struct sbx_exec_result r;
	struct sbx_file_list l;
	struct sbx_info info;
	size_t n;
	char *d;

	ensure(p, "alice", &info);
	assert_int_equal(p->ops->stop(p, info.id, NULL), SBX_OK);
	assert_int_equal(p->ops->exec(p, info.id, "true", NULL, &r, NULL),
	    SBX_ECONFLICT);
	assert_int_equal(p->ops->write_file(p, info.id, "a", "x", 1, NULL),
	    SBX_ECONFLICT);
	assert_int_equal(p->ops->read_file(p, info.id, "a", 10, &d, &n, NULL),
	    SBX_ECONFLICT);
	assert_int_equal(p->ops->list_files(p, info.id, "", &l, NULL),
	    SBX_ECONFLICT);
}

static void ensure_restarts_stopped_sandbox(void **state)
{
	struct sbx_provider *p = unsb(state);
	struct sbx_info a, b;

	ensure(p, "alice", &a);
	assert_int_equal(p->ops->write_file(p, a.id, "keep.txt", "k", 1, NULL),
	    SBX_OK);
	assert_int_equal(p->ops->stop(p, a.id, NULL), SBX_OK);
	ensure(p, "alice", &b);
	assert_string_equal(a.id, b.id);
	assert_int_equal(b.state, SBX_STATE_READY);
	assert_string_equal(a.created_at, b.created_at); /* same sandbox */
}

static void remove_deletes_everything(void **state)
{
	struct sbx_provider *p = unsb(state);
	struct sbx_info info;
	int staging;

	ensure(p, "alice", &info);
	assert_int_equal(p->ops->write_file(p, info.id, "a/b/c.txt", "x", 1, NULL),
	    SBX_OK);
	assert_int_equal(p->ops->remove(p, info.id, NULL), SBX_OK);
	assert_int_equal(p->ops->get(p, info.id, &info, NULL), SBX_ENOTFOUND);
	assert_int_equal(p->ops->remove(p, info.id, NULL), SBX_ENOTFOUND);
	assert_int_equal(count_sandboxes(FX->root, &staging), 0);
	assert_int_equal(staging, 0);
}

static void damaged_state_reads_error_and_is_replaced(void **state)
{
	struct sbx_provider *p = unsb(state);
	struct sbx_info a, b;
	char path[1024];
	size_t n;
	char *d;
	FILE *f;

	ensure(p, "alice", &a);
	assert_int_equal(p->ops->write_file(p, a.id, "old.txt", "x", 1, NULL),
	    SBX_OK);
	snprintf(path, sizeof(path), "%s/%s/state.json", FX->root, a.id);
	assert_non_null(f = fopen(path, "w"));
	fputs("{not json", f);
	fclose(f);
	assert_int_equal(p->ops->get(p, a.id, &b, NULL), SBX_OK);
	assert_int_equal(b.state, SBX_STATE_ERROR);
	ensure(p, "alice", &b);
	assert_int_equal(b.state, SBX_STATE_READY);
	assert_int_equal(p->ops->read_file(p, b.id, "old.txt", 10, &d, &n, NULL),
	    SBX_ENOTFOUND); /* a new, empty sandbox */
}

/* Whatever sits at state.json -- a FIFO, a directory, a huge or binary
 * file, JSON of the wrong shape -- reads as a broken sandbox, quickly,
 * and the policy replaces it. */
static void any_state_file_reads_error_without_blocking(void **state)
{
	static const char *const junk[] = {
		"", "[]", "null", "{\"state\":7}", "{\"state\":\"bogus\"}",
		"\x00\xff{\"state\":\"ready\"}", "{\"state\":\"ready\"",
	};
	struct sbx_provider *p = unsb(state);
	struct sbx_info a, b;
	struct timespec t0;
	char path[1024], big[8192];
	size_t i;
	FILE *f;

	ensure(p, "alice", &a);
	snprintf(path, sizeof(path), "%s/%s/state.json", FX->root, a.id);
	for (i = 0; i < sizeof(junk) / sizeof(junk[0]); i++) {
		assert_non_null(f = fopen(path, "w"));
		fwrite(junk[i], 1, strlen(junk[i]) + (i == 5 ? 20 : 0), f);
		fclose(f);
		assert_int_equal(p->ops->get(p, a.id, &b, NULL), SBX_OK);
		assert_int_equal(b.state, SBX_STATE_ERROR);
	}
	/* valid JSON, but past the size a state file may have */
	memset(big, ' ', sizeof(big));
	memcpy(big, "{\"state\":\"ready\"}", 17);
	assert_non_null(f = fopen(path, "w"));
	fwrite(big, 1, sizeof(big), f);
	fclose(f);
	assert_int_equal(p->ops->get(p, a.id, &b, NULL), SBX_OK);
	assert_int_equal(b.state, SBX_STATE_ERROR);
	/* a FIFO: opening it for reading would block without a writer */
	assert_int_equal(unlink(path), 0);
	assert_int_equal(mkfifo(path, 0600), 0);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	assert_int_equal(p->ops->get(p, a.id, &b, NULL), SBX_OK);
	assert_int_equal(b.state, SBX_STATE_ERROR);
	assert_true(ms_since(&t0) < 1000);
	/* a directory */
	assert_int_equal(unlink(path), 0);
	assert_int_equal(mkdir(path, 0700), 0);
	assert_int_equal(p->ops->get(p, a.id, &b, NULL), SBX_OK);
	assert_int_equal(b.state, SBX_STATE_ERROR);
	ensure(p, "alice", &b);
	assert_int_equal(b.state, SBX_STATE_READY);
}

struct race_arg {
	struct sbx_provider *p;
	struct sbx_info info;
	enum sbx_err err;
};

static void *race_thread(void *v)
{
	struct race_arg *a = v;

	a->err = sbx_ensure_for_user(a->p, "racer", &a->info, NULL);
	return NULL;
}

static void concurrent_creates_in_threads_end_with_one(void **state)
{
	struct sbx_provider *p = unsb(state);
	struct race_arg args[8];
	pthread_t t[8];
	int i, staging;

	for (i = 0; i < 8; i++) {
		args[i].p = p;
		assert_int_equal(pthread_create(&t[i], NULL, race_thread,
		    &args[i]), 0);
	}
	for (i = 0; i < 8; i++)
		pthread_join(t[i], NULL);
	for (i = 0; i < 8; i++) {
		assert_int_equal(args[i].err, SBX_OK);
		assert_string_equal(args[i].info.id, args[0].info.id);
		assert_string_equal(args[i].info.created_at,
		    args[0].info.created_at);
	}
	assert_int_equal(count_sandboxes(FX->root, &staging), 1);
	assert_int_equal(staging, 0);
}

static void concurrent_creates_in_processes_end_with_one(void **state)
{
	struct sbx_provider *p = unsb(state);
	struct sbx_info info, mine;
	pid_t pids[6];
	int i, st, staging;

	for (i = 0; i < 6; i++) {
		pids[i] = fork();
		assert_true(pids[i] >= 0);
		if (pids[i] == 0) {
			/* Each process with its own provider, as workers. */
			struct sbx_provider *q = NULL;

			if (make(FX, "/nonexistent/bwrap", 1, test_limits(),
			    &q) != SBX_OK)
				_exit(2);
			_exit(sbx_ensure_for_user(q, "racer", &mine, NULL) ==
			    SBX_OK ? 0 : 1);
		}
	}
	for (i = 0; i < 6; i++) {
		assert_int_equal(waitpid(pids[i], &st, 0), pids[i]);
		assert_true(WIFEXITED(st));
		assert_int_equal(WEXITSTATUS(st), 0);
	}
	assert_int_equal(count_sandboxes(FX->root, &staging), 1);
	assert_int_equal(staging, 0);
	assert_int_equal(p->ops->find_for_user(p, "racer", &info, NULL), SBX_OK);
}

/* ---- exec ---- */

static void exec_returns_exit_code_and_output(void **state)
{
	struct sbx_provider *p = iso(state);
	struct sbx_exec_result r;
	struct sbx_info info;

	ensure(p, "alice", &info);
	r = run(p, info.id, "echo out; echo err >&2; exit 3", NULL);
	assert_int_equal(r.exit_code, 3);
	assert_int_equal(r.timed_out, 0);
	assert_int_equal(r.truncated, 0);
	assert_string_equal(r.output, "out\nerr\n");
	assert_int_equal(r.output_len, 8);
	sbx_exec_result_free(&r);
}

static void exec_signal_exit_is_128_plus_signal(void **state)
{
	struct sbx_provider *p = iso(state);
	struct sbx_exec_result r;
	struct sbx_info info;

	ensure(p, "alice", &info);
	r = run(p, info.id, "kill -TERM $$", NULL);
	assert_int_equal(r.exit_code, 128 + 15);
	sbx_exec_result_free(&r);
}

static void exec_caps_output(void **state)
{
	struct sbx_provider *p = iso(state);
	struct sbx_exec_opts o = { NULL, 0, NULL, 1000 };
	struct sbx_exec_result r;
	struct sbx_info info;

	ensure(p, "alice", &info);
	r = run(p, info.id, "head -c 500000 /dev/zero | tr '\\0' a; exit 4",
	    &o);
	assert_int_equal(r.truncated, 1);
	assert_int_equal(r.output_len, 1000);
	assert_int_equal(r.output[999], 'a');
	assert_int_equal(r.output[1000], '\0');
	assert_int_equal(r.exit_code, 4); /* ran to the end */
	sbx_exec_result_free(&r);
}

static void exec_wall_timeout_kills_everything(void **state)
{
	struct sbx_provider *p = iso(state);
	struct sbx_exec_opts o = { NULL, 1, NULL, 0 };
	struct sbx_exec_result r;
	struct sbx_info info;
	struct timespec t0;
	long long ms;

	ensure(p, "alice", &info);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	r = run(p, info.id, "echo started; (sleep 30 &); sleep 30", &o);
	ms = ms_since(&t0);
	assert_int_equal(r.timed_out, 1);
	assert_string_equal(r.output, "started\n");
	assert_true(ms >= 900);
	assert_true(ms < 5000);
	sbx_exec_result_free(&r);
}

static void exec_cpu_limit(void **state)
{
	struct sbx_local_limits lim = test_limits();
	struct sbx_exec_result r;
	struct sbx_info info;
	struct timespec t0;

	lim.cpu_s = 1;
	assert_int_equal(make(FX, NULL, 0, lim, &FX->p), SBX_OK);
	ensure(FX->p, "alice", &info);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	r = run(FX->p, info.id, "while :; do :; done", NULL);
	assert_int_equal(r.timed_out, 0);
	assert_true(r.exit_code == 128 + 24 || r.exit_code == 128 + 9);
	assert_true(ms_since(&t0) < 8000);
	sbx_exec_result_free(&r);
}

static void exec_memory_and_file_size_limits(void **state)
{
	struct sbx_local_limits lim = test_limits();
	struct sbx_exec_result r;
	struct sbx_info info;
	struct stat st;
	char path[1024];

	lim.mem_bytes = 64LL << 20;
	lim.file_bytes = 1LL << 20;
	assert_int_equal(make(FX, NULL, 0, lim, &FX->p), SBX_OK);
	ensure(FX->p, "alice", &info);
	/* dd needs a 200 MiB buffer: refused under a 64 MiB address space */
	r = run(FX->p, info.id, "dd if=/dev/zero of=/dev/null bs=200M count=1",
	    NULL);
	assert_int_not_equal(r.exit_code, 0);
	sbx_exec_result_free(&r);
	r = run(FX->p, info.id, "head -c 3000000 /dev/zero > big", NULL);
	assert_int_not_equal(r.exit_code, 0);
	sbx_exec_result_free(&r);
	snprintf(path, sizeof(path), "%s/%s/home/big", FX->root, info.id);
	assert_int_equal(stat(path, &st), 0);
	assert_true(st.st_size <= (1 << 20));
}

static void exec_environment_is_only_what_is_given(void **state)
{
	struct sbx_provider *p = iso(state);
	const char *env[] = { "FOO=bar baz", NULL };
	struct sbx_exec_opts o = { NULL, 0, env, 0 };
	struct sbx_exec_result r;
	struct sbx_info info;

	setenv("OMNI_TEST_LEAK", "leaked", 1);
	ensure(p, "alice", &info);
	r = run(p, info.id, "echo \"$FOO|$HOME|${OMNI_TEST_LEAK:-none}|$PWD\"",
	    &o);
	assert_string_equal(r.output, "bar baz|" SBX_LOCAL_HOME "|none|"
	    SBX_LOCAL_HOME "\n");
	sbx_exec_result_free(&r);
	unsetenv("OMNI_TEST_LEAK");
}

static void exec_rejects_bad_env_and_command(void **state)
{
	struct sbx_provider *p = iso(state);
	const char *env[] = { "NOEQUALS", NULL };
	const char *env2[] = { "BAD-KEY=1", NULL };
	struct sbx_exec_opts o = { NULL, 0, env, 0 };
	struct sbx_exec_result r;
	struct sbx_info info;

	ensure(p, "alice", &info);
	assert_int_equal(p->ops->exec(p, info.id, "true", &o, &r, NULL), SBX_EINVAL);
	o.env = env2;
	assert_int_equal(p->ops->exec(p, info.id, "true", &o, &r, NULL), SBX_EINVAL);
	assert_int_equal(p->ops->exec(p, info.id, "", NULL, &r, NULL), SBX_EINVAL);
	assert_int_equal(p->ops->exec(p, info.id, NULL, NULL, &r, NULL), SBX_EINVAL);
	assert_int_equal(p->ops->exec(p, "omni-nope", "true", NULL, &r, NULL),
	    SBX_ENOTFOUND);
}

static void exec_cwd_is_confined(void **state)
{
	struct sbx_provider *p = iso(state);
	struct sbx_exec_opts o = { "sub/dir", 0, NULL, 0 };
	struct sbx_exec_result r;
	struct sbx_info info;

	ensure(p, "alice", &info);
	assert_int_equal(p->ops->write_file(p, info.id, "sub/dir/f", "x", 1, NULL),
	    SBX_OK);
	r = run(p, info.id, "pwd; ls", &o);
	assert_string_equal(r.output, SBX_LOCAL_HOME "/sub/dir\nf\n");
	sbx_exec_result_free(&r);
	o.cwd = SBX_LOCAL_HOME "/sub";
	r = run(p, info.id, "pwd", &o);
	assert_string_equal(r.output, SBX_LOCAL_HOME "/sub\n");
	sbx_exec_result_free(&r);
	o.cwd = "../..";
	assert_int_equal(p->ops->exec(p, info.id, "pwd", &o, &r, NULL), SBX_EINVAL);
	o.cwd = "/etc";
	assert_int_equal(p->ops->exec(p, info.id, "pwd", &o, &r, NULL), SBX_EINVAL);
	o.cwd = "missing";
	assert_int_equal(p->ops->exec(p, info.id, "pwd", &o, &r, NULL),
	    SBX_ENOTFOUND);
}

static void exec_waits_for_exit_after_output_closes(void **state)
{
	struct sbx_provider *p = iso(state);
	struct sbx_exec_result r;
	struct sbx_info info;

	ensure(p, "alice", &info);
	r = run(p, info.id, "echo early; exec >&- 2>&-; sleep 0.3; exit 5",
	    NULL);
	assert_int_equal(r.exit_code, 5);
	assert_string_equal(r.output, "early\n");
	sbx_exec_result_free(&r);
}

static void unsandboxed_background_holder_does_not_hang(void **state)
{
	struct sbx_provider *p = unsb(state);
	struct sbx_exec_result r;
	struct sbx_info info;
	struct timespec t0;

	ensure(p, "alice", &info);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	/* The background sleep keeps the output pipe open. */
	r = run(p, info.id, "sleep 20 & echo $! > bg.pid; echo done", NULL);
	assert_int_equal(r.exit_code, 0);
	assert_int_equal(r.timed_out, 0);
	assert_string_equal(r.output, "done\n");
	assert_true(ms_since(&t0) < 5000);
	sbx_exec_result_free(&r);
	/* ... and was killed with the command's process group. */
	{
		char *d, stat_path[64], buf[256];
		size_t n;
		int i, alive = 1;
		FILE *f;

		assert_int_equal(p->ops->read_file(p, info.id, "bg.pid", 64,
		    &d, &n, NULL), SBX_OK);
		snprintf(stat_path, sizeof(stat_path), "/proc/%d/stat",
		    atoi(d));
		free(d);
		for (i = 0; i < 100 && alive; i++) {
			f = fopen(stat_path, "r");
			alive = f != NULL && fgets(buf, sizeof(buf), f) &&
			    strstr(buf, ") Z") == NULL;
			if (f != NULL)
				fclose(f);
			if (alive)
				usleep(10000);
		}
		assert_false(alive);
	}
}

static void exec_with_sigchld_ignored_does_not_hang(void **state)
{
	struct sbx_provider *p = iso(state);
	struct sbx_exec_result r;
	struct sbx_info info;
	struct timespec t0;

	ensure(p, "alice", &info);
	signal(SIGCHLD, SIG_IGN);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	r = run(p, info.id, "echo x; exit 3", NULL);
	signal(SIGCHLD, SIG_DFL);
	assert_string_equal(r.output, "x\n");
	assert_int_equal(r.exit_code, -1); /* status lost, said so */
	assert_true(ms_since(&t0) < 5000);
	sbx_exec_result_free(&r);
}

/* Is a process with 'marker' in its command line still running? */
static int marked_process_alive(const char *marker)
{
	char path[300], buf[512], stat_buf[256];
	struct dirent *de;
	size_t n, i;
	int alive = 0;
	DIR *d = opendir("/proc");
	FILE *f;

	assert_non_null(d);
	while (!alive && (de = readdir(d)) != NULL) {
		if (de->d_name[0] < '1' || de->d_name[0] > '9')
			continue;
		snprintf(path, sizeof(path), "/proc/%s/cmdline", de->d_name);
		if ((f = fopen(path, "r")) == NULL)
			continue;
		n = fread(buf, 1, sizeof(buf) - 1, f);
		fclose(f);
		for (i = 0; i < n; i++)
			if (buf[i] == '\0')
				buf[i] = ' ';
		buf[n] = '\0';
		if (strstr(buf, marker) == NULL)
			continue;
		snprintf(path, sizeof(path), "/proc/%s/stat", de->d_name);
		if ((f = fopen(path, "r")) == NULL)
			continue;
		alive = fgets(stat_buf, sizeof(stat_buf), f) != NULL &&
		    strstr(stat_buf, ") Z") == NULL;
		fclose(f);
	}
	closedir(d);
	return alive;
}

/*
 * A worker that dies in the middle of a command takes the command with it:
 * nothing is left running past the wall-time limit the worker enforced.
 */
static void command_dies_with_its_worker(void **state, int isolated)
{
	struct sbx_exec_result r;
	struct sbx_info info;
	struct timespec t0;
	char marker[32], cmd[128], path[1024];
	pid_t worker;
	int i, status;

	snprintf(marker, sizeof(marker), "%d.%d", 40 + isolated,
	    (int)getpid());
	snprintf(cmd, sizeof(cmd), "echo > started; exec sleep %s", marker);
	ensure(isolated ? iso(state) : unsb(state), "alice", &info);
	snprintf(path, sizeof(path), "%s/%s/home/started", FX->root, info.id);
	worker = fork();
	assert_true(worker >= 0);
	if (worker == 0) {
		struct sbx_provider *p = isolated ? FX->p : FX->u;

		p->ops->exec(p, info.id, cmd, NULL, &r, NULL);
		_exit(0);
	}
	clock_gettime(CLOCK_MONOTONIC, &t0);
	while (access(path, F_OK) != 0 && ms_since(&t0) < 5000)
		usleep(10000);
	for (i = 0; i < 100 && !marked_process_alive(marker); i++)
		usleep(10000);
	assert_true(marked_process_alive(marker));
	kill(worker, SIGKILL);
	assert_int_equal(waitpid(worker, &status, 0), worker);
	for (i = 0; i < 300 && marked_process_alive(marker); i++)
		usleep(10000);
	assert_false(marked_process_alive(marker));
}

static void command_dies_with_its_worker_unsandboxed(void **state)
{
	command_dies_with_its_worker(state, 0);
}

static void command_dies_with_its_worker_under_bwrap(void **state)
{
	command_dies_with_its_worker(state, 1);
}

/* ---- isolation ---- */

static void network_is_unreachable_under_bwrap(void **state)
{
	struct sbx_exec_result r;
	struct sbx_info a, b;
	char cmd[256];
	int port = 0, s = listen_loopback(&port);

	assert_true(s >= 0);
	snprintf(cmd, sizeof(cmd), "bash -c 'echo hi > /dev/tcp/127.0.0.1/%d' "
	    "2>/dev/null && echo CONNECTED || echo REFUSED; "
	    "grep -c : /proc/net/dev", port);
	/* Control: without bwrap the host's listener is reachable. */
	ensure(unsb(state), "control", &b);
	r = run(FX->u, b.id, cmd, NULL);
	assert_non_null(strstr(r.output, "CONNECTED"));
	sbx_exec_result_free(&r);
	ensure(iso(state), "alice", &a);
	r = run(FX->p, a.id, cmd, NULL);
	/* Refused, and the only interface is loopback. */
	assert_string_equal(r.output, "REFUSED\n1\n");
	sbx_exec_result_free(&r);
	close(s);
}

static void writes_outside_the_sandbox_fail_under_bwrap(void **state)
{
	struct sbx_exec_result r;
	struct sbx_info a, b;
	char cmd[4096], host_file[1024], other[1024];
	struct stat st;

	ensure(iso(state), "alice", &a);
	ensure(unsb(state), "bob", &b);
	/* A file of another sandbox, and a file beside the sandboxes, in a
	 * directory anyone may write (commands run as the sandbox user when
	 * the test runs as root), so that only bwrap stops the write. */
	snprintf(other, sizeof(other), "%s/%s/home/secret", FX->root, b.id);
	snprintf(host_file, sizeof(host_file), "%s/open", FX->dir);
	assert_int_equal(chmod(FX->dir, 0711), 0);
	assert_int_equal(mkdir(host_file, 01777), 0);
	assert_int_equal(chmod(host_file, 01777), 0);
	snprintf(host_file, sizeof(host_file), "%s/open/escape", FX->dir);
	snprintf(cmd, sizeof(cmd), "for f in %s %s /usr/escape /escape "
	    "/etc/escape /home/escape /proc/escape; do "
	    "(echo x > $f) 2>/dev/null && echo WROTE $f; done; "
	    "ls %s 2>/dev/null || echo NOSEE; echo ok > /tmp/t && echo TMP; "
	    "echo ok > ~/h && echo HOME", host_file, other, FX->root);
	r = run(FX->p, a.id, cmd, NULL);
	assert_string_equal(r.output, "NOSEE\nTMP\nHOME\n");
	sbx_exec_result_free(&r);
	assert_int_not_equal(stat(host_file, &st), 0);
	assert_int_not_equal(stat(other, &st), 0);
	assert_int_not_equal(stat("/usr/escape", &st), 0);
	/* Control: without bwrap the host file is writable. */
	snprintf(cmd, sizeof(cmd), "echo x > %s && echo WROTE", host_file);
	r = run(FX->u, b.id, cmd, NULL);
	assert_non_null(strstr(r.output, "WROTE"));
	sbx_exec_result_free(&r);
	assert_int_equal(stat(host_file, &st), 0);
}

static void commands_see_no_other_processes(void **state)
{
	struct sbx_exec_result r;
	struct sbx_info a;

	ensure(iso(state), "alice", &a);
	r = run(FX->p, a.id, "ls /proc | grep -c '^[0-9]'", NULL);
	/* bwrap's init, sh, ls, grep: a handful, not the host's. */
	assert_true(atoi(r.output) <= 5);
	sbx_exec_result_free(&r);
}

static void missing_bwrap_refuses_without_flag(void **state)
{
	struct sbx_provider *p = NULL;

	assert_int_equal(make(FX, "/nonexistent/bwrap", 0, test_limits(), &p),
	    SBX_EISOLATION);
	assert_null(p);
}

/* ---- the workspace template ---------------------------------------- */

static void write_at(const char *dir, const char *rel, const char *text)
{
	char path[512];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, rel);
	f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

/* A template: a file at the top, one in a hidden folder, an empty
 * folder; 'tpl' gets its path. */
static void make_template(void **state, char *tpl, size_t len)
{
	char path[512];

	snprintf(tpl, len, "%s/template", FX->dir);
	assert_int_equal(mkdir(tpl, 0700), 0);
	snprintf(path, sizeof(path), "%s/.omni-system", tpl);
	assert_int_equal(mkdir(path, 0700), 0);
	snprintf(path, sizeof(path), "%s/metrics", tpl);
	assert_int_equal(mkdir(path, 0700), 0);
	write_at(tpl, "README.md", "read me first\n");
	write_at(tpl, ".omni-system/entities.json", "{\"entities\": []}\n");
	assert_int_equal(chmod(path, 0700), 0);
}

static enum sbx_err make_with_template(void **state, const char *tpl,
    struct sbx_provider **out, char *detail, size_t len)
{
	struct sbx_local_opts o;

	memset(&o, 0, sizeof(o));
	o.data_dir = FX->dir;
	o.limits = test_limits();
	o.workspace_template = tpl;
	return sbx_local_new_opts(&o, out, detail, len);
}

/* Every new home starts as a copy of the template: the files and their
 * content, hidden folders, empty folders; 0644 and 0755 whatever the
 * template's modes, owned by the sandbox user; seen from inside too. */
static void workspace_template_is_laid_into_new_homes(void **state)
{
	char tpl[256], path[512], detail[256], *data = NULL;
	struct sbx_info info;
	struct sbx_exec_result r;
	struct stat st;
	size_t len = 0;

	make_template(state, tpl, sizeof(tpl));
	assert_int_equal(make_with_template(state, tpl, &FX->p, detail,
	    sizeof(detail)), SBX_OK);
	ensure(FX->p, "alice", &info);
	assert_int_equal(FX->p->ops->read_file(FX->p, info.id,
	    ".omni-system/entities.json", 0, &data, &len, NULL), SBX_OK);
	assert_string_equal(data, "{\"entities\": []}\n");
	free(data);
	snprintf(path, sizeof(path), "%s/%s/home/metrics", FX->root, info.id);
	assert_int_equal(stat(path, &st), 0);
	assert_true(S_ISDIR(st.st_mode));
	assert_int_equal(st.st_mode & 07777, 0755);
	snprintf(path, sizeof(path), "%s/%s/home/README.md", FX->root,
	    info.id);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0644);
	if (getuid() == 0)
		assert_int_not_equal(st.st_uid, 0);
	r = run(FX->p, info.id, "cat README.md", NULL);
	assert_int_equal(r.exit_code, 0);
	assert_string_equal(r.output, "read me first\n");
	sbx_exec_result_free(&r);
	/* Each sandbox has its own copy. */
	ensure(FX->p, "bob", &info);
	assert_int_equal(FX->p->ops->read_file(FX->p, info.id, "README.md",
	    0, &data, &len, NULL), SBX_OK);
	free(data);
}

/* A symlink (or anything but files and folders) in the template stops
 * the provider at start, naming the setting; so does a missing one. */
static void workspace_template_with_a_symlink_is_refused(void **state)
{
	char tpl[256], path[512], detail[256] = "";
	struct sbx_provider *p = NULL;

	make_template(state, tpl, sizeof(tpl));
	snprintf(path, sizeof(path), "%s/.omni-system/escape", tpl);
	assert_int_equal(symlink("/etc", path), 0);
	assert_int_equal(make_with_template(state, tpl, &p, detail,
	    sizeof(detail)), SBX_EINVAL);
	assert_null(p);
	assert_non_null(strstr(detail, "OMNI_WORKSPACE_TEMPLATE"));
	assert_non_null(strstr(detail, "escape"));
	snprintf(path, sizeof(path), "%s/none", FX->dir);
	assert_int_equal(make_with_template(state, path, &p, detail,
	    sizeof(detail)), SBX_EINVAL);
	assert_non_null(strstr(detail, "cannot open"));
}

static void broken_bwrap_refuses_without_flag(void **state)
{
	struct sbx_local_opts o;
	struct sbx_provider *p = NULL;
	char detail[256];

	memset(&o, 0, sizeof(o));
	o.data_dir = FX->dir;
	o.bwrap = "/bin/false"; /* starts, but fails like a refused userns */
	assert_int_equal(sbx_local_new_opts(&o, &p, detail, sizeof(detail)),
	    SBX_EISOLATION);
	assert_null(p);
	assert_non_null(strstr(detail, "bubblewrap cannot start"));
}

static void unsandboxed_runs_in_the_real_home(void **state)
{
	struct sbx_provider *p = unsb(state);
	struct sbx_exec_result r;
	struct sbx_info info;
	char want[1024];
	char detail[128];

	ensure(p, "alice", &info);
	r = run(p, info.id, "pwd; echo $HOME", NULL);
	snprintf(want, sizeof(want), "%s/%s/home\n%s/%s/home\n", FX->root,
	    info.id, FX->root, info.id);
	assert_string_equal(r.output, want);
	sbx_exec_result_free(&r);
	assert_int_equal(p->ops->check(p, detail, sizeof(detail)), SBX_OK);
	assert_non_null(strstr(detail, "unsandboxed"));
}

static void check_reports_ok(void **state)
{
	struct sbx_provider *p = iso(state);
	char detail[128];

	assert_int_equal(p->ops->check(p, detail, sizeof(detail)), SBX_OK);
	assert_non_null(strstr(detail, "bubblewrap"));
}

/* ---- files ---- */

static void write_read_list_round_trip(void **state)
{
	struct sbx_provider *p = unsb(state);
	struct sbx_file_list l;
	struct sbx_info info;
	size_t n;
	char *d;

	ensure(p, "alice", &info);
	assert_int_equal(p->ops->write_file(p, info.id, ".omni/t1/result.json",
	    "{\"a\":1}", 7, NULL), SBX_OK);
	assert_int_equal(p->ops->write_file(p, info.id,
	    SBX_LOCAL_HOME "/notes.md", "# hi", 4, NULL), SBX_OK);
	assert_int_equal(p->ops->read_file(p, info.id,
	    "./.omni//t1/result.json", 100, &d, &n, NULL), SBX_OK);
	assert_int_equal(n, 7);
	assert_string_equal(d, "{\"a\":1}");
	free(d);
	assert_int_equal(p->ops->list_files(p, info.id, NULL, &l, NULL), SBX_OK);
	assert_int_equal(l.count, 2);
	assert_string_equal(l.entries[0].name, ".omni");
	assert_int_equal(l.entries[0].is_dir, 1);
	assert_string_equal(l.entries[1].name, "notes.md");
	assert_int_equal(l.entries[1].is_dir, 0);
	assert_int_equal(l.entries[1].size, 4);
	assert_true(l.entries[1].mtime > 0);
	sbx_file_list_free(&l);
	/* overwrite replaces */
	assert_int_equal(p->ops->write_file(p, info.id, "notes.md", "", 0, NULL),
	    SBX_OK);
	assert_int_equal(p->ops->read_file(p, info.id, "notes.md", 100, &d,
	    &n, NULL), SBX_OK);
	assert_int_equal(n, 0);
	free(d);
}

static void read_limits_and_missing(void **state)
{
	struct sbx_provider *p = unsb(state);
	struct sbx_info info;
	size_t n;
	char *d = (char *)1;

	ensure(p, "alice", &info);
	assert_int_equal(p->ops->write_file(p, info.id, "f", "0123456789", 10, NULL),
	    SBX_OK);
	assert_int_equal(p->ops->read_file(p, info.id, "f", 9, &d, &n, NULL),
	    SBX_ETOOLARGE);
	assert_null(d);
	assert_int_equal(p->ops->read_file(p, info.id, "nope", 9, &d, &n, NULL),
	    SBX_ENOTFOUND);
	assert_int_equal(p->ops->read_file(p, info.id, "f", 10, &d, &n, NULL),
	    SBX_OK);
	free(d);
	/* any cap above the file size reads it whole (SIZE_MAX included) */
	assert_int_equal(p->ops->read_file(p, info.id, "f", SIZE_MAX, &d, &n, NULL),
	    SBX_OK);
	assert_int_equal(n, 10);
	assert_string_equal(d, "0123456789");
	free(d);
	assert_int_equal(p->ops->read_file(p, info.id, "f", 0, &d, &n, NULL),
	    SBX_OK);
	assert_int_equal(n, 10);
	free(d);
	/* a directory is not a file */
	assert_int_equal(p->ops->write_file(p, info.id, "dir/x", "1", 1, NULL),
	    SBX_OK);
	assert_int_equal(p->ops->read_file(p, info.id, "dir", 10, &d, &n, NULL),
	    SBX_EINVAL);
	assert_int_equal(p->ops->write_file(p, info.id, "dir", "1", 1, NULL),
	    SBX_EINVAL);
	/* too large to write */
	assert_int_equal(p->ops->write_file(p, info.id, "huge", "",
	    (size_t)(8 << 20), NULL), SBX_ETOOLARGE);
}

static void paths_cannot_escape(void **state)
{
	struct sbx_provider *p = unsb(state);
	struct sbx_file_list l;
	struct sbx_info info;
	size_t n;
	char *d;

	ensure(p, "alice", &info);
	assert_int_equal(p->ops->write_file(p, info.id, "../escape", "x", 1, NULL),
	    SBX_EINVAL);
	assert_int_equal(p->ops->write_file(p, info.id, "a/../../escape", "x",
	    1, NULL), SBX_EINVAL);
	assert_int_equal(p->ops->write_file(p, info.id, "/etc/escape", "x", 1, NULL),
	    SBX_EINVAL);
	assert_int_equal(p->ops->write_file(p, info.id,
	    SBX_LOCAL_HOME "x/escape", "x", 1, NULL), SBX_EINVAL);
	assert_int_equal(p->ops->write_file(p, info.id, "", "x", 1, NULL),
	    SBX_EINVAL);
	assert_int_equal(p->ops->read_file(p, info.id, "/etc/passwd", 1 << 20,
	    &d, &n, NULL), SBX_EINVAL);
	assert_int_equal(p->ops->read_file(p, info.id, "../state.json", 1 << 20,
	    &d, &n, NULL), SBX_EINVAL);
	assert_int_equal(p->ops->list_files(p, info.id, "..", &l, NULL), SBX_EINVAL);
	assert_int_equal(p->ops->list_files(p, info.id, "/", &l, NULL), SBX_EINVAL);
}

static void symlinks_are_not_followed(void **state)
{
	struct sbx_provider *p = unsb(state);
	struct sbx_exec_result r;
	struct sbx_file_list l;
	struct sbx_info info;
	char path[1024];
	struct stat st;
	size_t n;
	char *d;

	ensure(p, "alice", &info);
	/* A command in the sandbox plants links to the outside. */
	snprintf(path, sizeof(path), "ln -s /etc etc; ln -s /etc/passwd pw; "
	    "ln -s %s root; mkdir real; ln -s real inside", FX->dir);
	r = run(p, info.id, path, NULL);
	assert_int_equal(r.exit_code, 0);
	sbx_exec_result_free(&r);
	assert_int_equal(p->ops->read_file(p, info.id, "pw", 1 << 20, &d, &n, NULL),
	    SBX_EINVAL);
	assert_int_equal(p->ops->read_file(p, info.id, "etc/passwd", 1 << 20,
	    &d, &n, NULL), SBX_EINVAL);
	assert_int_equal(p->ops->write_file(p, info.id, "root/escape", "x", 1, NULL),
	    SBX_EINVAL);
	assert_int_equal(p->ops->list_files(p, info.id, "etc", &l, NULL), SBX_EINVAL);
	/* even one pointing inside: only real directories are walked */
	assert_int_equal(p->ops->write_file(p, info.id, "inside/f", "x", 1, NULL),
	    SBX_EINVAL);
	snprintf(path, sizeof(path), "%s/escape", FX->dir);
	assert_int_not_equal(stat(path, &st), 0);
	/* writing over the link replaces the link, not its target */
	assert_int_equal(p->ops->write_file(p, info.id, "pw", "x", 1, NULL), SBX_OK);
	assert_int_equal(stat("/etc/passwd", &st), 0);
	assert_true(st.st_size > 1);
}

#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(create_gives_ready_sandbox_named_after_user),
		T(workspace_template_is_laid_into_new_homes),
		T(workspace_template_with_a_symlink_is_refused),
		T(create_twice_conflicts),
		T(find_for_user),
		T(get_unknown_or_malformed_id_is_not_found),
		T(stop_then_start),
		T(stopped_sandbox_refuses_exec_and_files),
		T(ensure_restarts_stopped_sandbox),
		T(remove_deletes_everything),
		T(damaged_state_reads_error_and_is_replaced),
		T(any_state_file_reads_error_without_blocking),
		T(concurrent_creates_in_threads_end_with_one),
		T(concurrent_creates_in_processes_end_with_one),
		T(exec_returns_exit_code_and_output),
		T(exec_signal_exit_is_128_plus_signal),
		T(exec_caps_output),
		T(exec_wall_timeout_kills_everything),
		T(exec_cpu_limit),
		T(exec_memory_and_file_size_limits),
		T(exec_environment_is_only_what_is_given),
		T(exec_rejects_bad_env_and_command),
		T(exec_cwd_is_confined),
		T(exec_waits_for_exit_after_output_closes),
		T(unsandboxed_background_holder_does_not_hang),
		T(exec_with_sigchld_ignored_does_not_hang),
		T(command_dies_with_its_worker_unsandboxed),
		T(command_dies_with_its_worker_under_bwrap),
		T(network_is_unreachable_under_bwrap),
		T(writes_outside_the_sandbox_fail_under_bwrap),
		T(commands_see_no_other_processes),
		T(missing_bwrap_refuses_without_flag),
		T(broken_bwrap_refuses_without_flag),
		T(unsandboxed_runs_in_the_real_home),
		T(check_reports_ok),
		T(write_read_list_round_trip),
		T(read_limits_and_missing),
		T(paths_cannot_escape),
		T(symlinks_are_not_followed),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
