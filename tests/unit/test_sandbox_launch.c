/*
 * test_sandbox_launch.c -- how a local sandbox command is launched,
 * without running it: the bwrap argv and bwrap's own environment for a
 * request's variables (none reaches bwrap, the host process; loader and
 * shell names are refused), and the cgroup set-up against a fake
 * /sys/fs/cgroup tree for both v2 and v1 (this machine's kernel offers
 * v1 only, so the v2 writes are checked here, on files).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "sandbox.h"
#include "../../app/sandbox/local_internal.h"
#include "rm_tree.h"

static const char *const ID = "omni-0123456789abcdef0123456789abcdef";

/* The index of 'arg' in argv from 'from', or -1. */
static int find_arg(const struct local_cmdline *c, int from, const char *arg)
{
	for (int i = from; c->v[i] != NULL; i++)
		if (strcmp(c->v[i], arg) == 0)
			return i;
	return -1;
}

/* Does argv hold "opt a b" somewhere? */
static int has_triple(const struct local_cmdline *c, const char *opt,
    const char *a, const char *b)
{
	for (int i = 0; c->v[i] != NULL && c->v[i + 1] != NULL &&
	    c->v[i + 2] != NULL; i++)
		if (strcmp(c->v[i], opt) == 0 && strcmp(c->v[i + 1], a) == 0 &&
		    strcmp(c->v[i + 2], b) == 0)
			return 1;
	return 0;
}

static void isolated_impl(struct local_impl *li, int drop)
{
	memset(li, 0, sizeof(*li));
	li->bwrap = (char *)(uintptr_t)"/usr/bin/bwrap";
	li->isolated = 1;
	li->disable_userns = 1;
	li->drop = drop;
	li->uid = 995;
	li->gid = 994;
}

static void request_env_goes_inside_never_to_bwrap(void **state)
{
	static const char *const env[] = { "ANTHROPIC_API_KEY=sk-x",
		"TASK_ID=t1", NULL };
	struct local_cmdline *c = malloc(sizeof(*c));
	struct local_impl li;
	int dd;

	(void)state;
	isolated_impl(&li, 0);
	assert_int_equal(local_cmdline_build(c, &li, "/data/s/home",
	    "/data/s/tmp", "/home/omni", "echo hi", env), SBX_OK);
	/* bwrap itself gets nothing */
	assert_null(c->envp[0]);
	/* the command gets them, set by bwrap inside, after --clearenv */
	assert_true(find_arg(c, 0, "--clearenv") > 0);
	assert_true(find_arg(c, 0, "--clearenv") <
	    find_arg(c, 0, "--setenv"));
	assert_true(has_triple(c, "--setenv", "ANTHROPIC_API_KEY", "sk-x"));
	assert_true(has_triple(c, "--setenv", "TASK_ID", "t1"));
	assert_true(has_triple(c, "--setenv", "PATH",
	    "/usr/local/bin:/usr/bin:/bin"));
	assert_true(has_triple(c, "--setenv", "HOME", "/home/omni"));
	/* every --setenv is before the "--" that ends bwrap's options */
	dd = find_arg(c, 0, "--");
	assert_true(dd > 0);
	assert_int_equal(find_arg(c, dd, "--setenv"), -1);
	assert_string_equal(c->v[dd + 1], "/bin/sh");
	assert_string_equal(c->v[dd + 3], "echo hi");
	free(c);
}

static void user_namespace_and_proc_binds(void **state)
{
	struct local_cmdline *c = malloc(sizeof(*c));
	struct local_impl li;

	(void)state;
	isolated_impl(&li, 0);
	assert_int_equal(local_cmdline_build(c, &li, "/data/s/home",
	    "/data/s/tmp", "/home/omni", "true", NULL), SBX_OK);
	assert_string_equal(c->v[0], "/usr/bin/bwrap");
	assert_true(find_arg(c, 0, "--unshare-user") > 0);
	assert_true(find_arg(c, 0, "--disable-userns") > 0);
	/* /proc/sys read-only by an explicit bind, after the new /proc */
	assert_true(has_triple(c, "--ro-bind", "/proc/sys", "/proc/sys"));
	assert_true(find_arg(c, 0, "--proc") < find_arg(c, 0, "/proc/sys"));
	assert_true(has_triple(c, "--ro-bind-try", "/proc/sysrq-trigger",
	    "/proc/sysrq-trigger"));
	/* not root-dropped: the real paths are bound */
	assert_true(has_triple(c, "--bind", "/data/s/home", "/home/omni"));
	/* nothing of /etc/ssl but the public part */
	assert_false(has_triple(c, "--ro-bind", "/etc/ssl", "/etc/ssl"));
	for (int i = 0; c->v[i] != NULL; i++)
		assert_null(strstr(c->v[i], "/etc/ssl/private"));
	li.disable_userns = 0;
	assert_int_equal(local_cmdline_build(c, &li, "/h", "/t", "/home/omni",
	    "true", NULL), SBX_OK);
	assert_int_equal(find_arg(c, 0, "--disable-userns"), -1);
	assert_true(find_arg(c, 0, "--unshare-user") > 0);
	free(c);
}

static void dropped_launcher_binds_the_staged_paths(void **state)
{
	struct local_cmdline *c = malloc(sizeof(*c));
	struct local_impl li;

	(void)state;
	isolated_impl(&li, 1);
	assert_int_equal(local_cmdline_build(c, &li, "/root/x/data/s/home",
	    "/root/x/data/s/tmp", "/home/omni", "true", NULL), SBX_OK);
	assert_true(has_triple(c, "--bind", "/tmp/home", "/home/omni"));
	assert_true(has_triple(c, "--bind", "/tmp/tmp", "/tmp"));
	for (int i = 0; c->v[i] != NULL; i++)
		assert_null(strstr(c->v[i], "/root/x"));
	free(c);
}

static void loader_and_shell_names_are_refused(void **state)
{
	static const char *const bad[] = {
		"LD_PRELOAD=/home/omni/x.so", "LD_LIBRARY_PATH=/home/omni",
		"LD_AUDIT=x", "BASH_ENV=/home/omni/rc", "ENV=/home/omni/rc",
		"PATH=/home/omni/bin", "HOME=/", "IFS=x", "SHELLOPTS=xtrace",
		"BASH_FUNC_ls%%=() { :; }", "GCONV_PATH=/home/omni",
		"MALLOC_CHECK_=3", "PS4=$(id)", "1X=y", "=v", "NOEQUALS",
		"A-B=c", NULL,
	};
	struct local_cmdline *c = malloc(sizeof(*c));
	struct local_impl li;
	const char *one[2] = { NULL, NULL };

	(void)state;
	for (int drop = 0; drop < 2; drop++) {
		for (size_t i = 0; bad[i] != NULL; i++) {
			one[0] = bad[i];
			assert_false(sbx_env_entry_valid(bad[i]));
			isolated_impl(&li, drop);
			assert_int_equal(local_cmdline_build(c, &li, "/h", "/t",
			    "/home/omni", "true", one), SBX_EINVAL);
			/* unsandboxed: the same names reach the shell's
			 * own environment, so the same refusal */
			li.isolated = 0;
			assert_int_equal(local_cmdline_build(c, &li, "/h", "/t",
			    "/h", "true", one), SBX_EINVAL);
		}
	}
	assert_true(sbx_env_entry_valid("LDAP_URI=x")); /* not LD_ */
	assert_true(sbx_env_entry_valid("ENVIRONMENT=prod"));
	assert_true(sbx_env_entry_valid("_X="));
	free(c);
}

static void environment_is_bounded(void **state)
{
	char *big = malloc(SBX_ENV_VALUE_MAX + 8);
	const char *env[SBX_ENV_MAX + 2];
	char names[SBX_ENV_MAX + 1][16];

	(void)state;
	memcpy(big, "V=", 2);
	memset(big + 2, 'x', SBX_ENV_VALUE_MAX);
	big[SBX_ENV_VALUE_MAX + 2] = '\0';
	assert_true(sbx_env_entry_valid(big));
	big[SBX_ENV_VALUE_MAX + 2] = 'x';
	big[SBX_ENV_VALUE_MAX + 3] = '\0';
	assert_false(sbx_env_entry_valid(big));
	free(big);
	for (int i = 0; i <= SBX_ENV_MAX; i++) {
		snprintf(names[i], sizeof(names[i]), "V%d=1", i);
		env[i] = names[i];
	}
	env[SBX_ENV_MAX] = NULL;
	assert_true(sbx_env_valid(env));
	env[SBX_ENV_MAX] = names[SBX_ENV_MAX];
	env[SBX_ENV_MAX + 1] = NULL;
	assert_false(sbx_env_valid(env));
}

static void unsandboxed_env_is_path_home_and_the_request(void **state)
{
	static const char *const env[] = { "TASK_ID=t1", NULL };
	struct local_cmdline *c = malloc(sizeof(*c));
	struct local_impl li;

	(void)state;
	memset(&li, 0, sizeof(li));
	assert_int_equal(local_cmdline_build(c, &li, "/data/s/home",
	    "/data/s/tmp", "/data/s/home", "echo hi", env), SBX_OK);
	assert_string_equal(c->v[0], "/bin/sh");
	assert_string_equal(c->envp[0], "PATH=/usr/local/bin:/usr/bin:/bin");
	assert_string_equal(c->envp[1], "HOME=/data/s/home");
	assert_string_equal(c->envp[2], "TASK_ID=t1");
	assert_null(c->envp[3]);
	free(c);
}

/* ---- cgroups, on a fake tree ---- */


static void put(const char *dir, const char *name, const char *text)
{
	char p[512];
	FILE *f;

	snprintf(p, sizeof(p), "%s/%s", dir, name);
	assert_non_null(f = fopen(p, "w"));
	fputs(text, f);
	fclose(f);
}

static void get(const char *dir, const char *name, char *buf, size_t len)
{
	char p[512];
	FILE *f;
	size_t n;

	snprintf(p, sizeof(p), "%s/%s", dir, name);
	assert_non_null(f = fopen(p, "r"));
	n = fread(buf, 1, len - 1, f);
	buf[n] = '\0';
	fclose(f);
}

/* A leaf as the kernel would show it once made: its control files. */
static void fake_leaf(const char *leaf, int v2)
{
	assert_int_equal(mkdir(leaf, 0755), 0);
	put(leaf, "cgroup.procs", "");
	put(leaf, "pids.max", "max");
	if (v2) {
		put(leaf, "memory.max", "max");
		put(leaf, "memory.swap.max", "max");
	} else {
		put(leaf, "memory.limit_in_bytes", "9223372036854771712");
	}
}

static void cgroup_v2_writes_limits_per_sandbox(void **state)
{
	char root[] = "/tmp/omni-cg-test-XXXXXX", base[256], leaf[512];
	char buf[128], detail[512];
	struct local_cgroup cg;
	int procs[LOCAL_CG_MAXFD];

	(void)state;
	assert_non_null(mkdtemp(root));
	put(root, "cgroup.controllers", "cpuset cpu io memory hugetlb pids\n");
	put(root, "cgroup.subtree_control", "");
	snprintf(base, sizeof(base), "%s/omni-sandboxes", root);
	assert_int_equal(mkdir(base, 0755), 0);
	put(base, "cgroup.controllers", "memory pids\n");
	put(base, "cgroup.subtree_control", "");
	assert_int_equal(local_cgroup_init(&cg, "auto", root, "/data/a",
	    100, 64LL << 20, detail, sizeof(detail)), SBX_OK);
	assert_int_equal(cg.kind, LOCAL_CG_V2);
	get(root, "cgroup.subtree_control", buf, sizeof(buf));
	assert_string_equal(buf, "+pids +memory");
	get(base, "cgroup.subtree_control", buf, sizeof(buf));
	assert_string_equal(buf, "+pids +memory");
	snprintf(leaf, sizeof(leaf), "%s/%s.%s", base, cg.tag, ID);
	fake_leaf(leaf, 1);
	assert_int_equal(local_cgroup_prepare(&cg, ID, procs), SBX_OK);
	assert_true(procs[0] >= 0);
	assert_int_equal(procs[1], -1);
	get(leaf, "pids.max", buf, sizeof(buf));
	assert_string_equal(buf, "100");
	get(leaf, "memory.max", buf, sizeof(buf));
	assert_string_equal(buf, "67108864");
	get(leaf, "memory.swap.max", buf, sizeof(buf));
	assert_string_equal(buf, "0");
	/* what the child writes goes to this leaf's cgroup.procs */
	assert_int_equal(write(procs[0], "0", 1), 1);
	local_cgroup_close(procs);
	get(leaf, "cgroup.procs", buf, sizeof(buf));
	assert_string_equal(buf, "0");
	/* another data directory: another leaf for the same sandbox id */
	{
		struct local_cgroup other;

		assert_int_equal(local_cgroup_init(&other, "auto", root,
		    "/data/b", 100, 64LL << 20, detail, sizeof(detail)),
		    SBX_OK);
		assert_string_not_equal(other.tag, cg.tag);
	}
	rm_tree(root);
}

static void cgroup_v2_leaf_missing_files_is_an_isolation_error(void **state)
{
	char root[] = "/tmp/omni-cg-test-XXXXXX", base[256], detail[512];
	struct local_cgroup cg;
	int procs[LOCAL_CG_MAXFD];

	(void)state;
	assert_non_null(mkdtemp(root));
	put(root, "cgroup.controllers", "memory pids\n");
	put(root, "cgroup.subtree_control", "");
	snprintf(base, sizeof(base), "%s/omni-sandboxes", root);
	assert_int_equal(mkdir(base, 0755), 0);
	put(base, "cgroup.controllers", "memory pids\n");
	put(base, "cgroup.subtree_control", "");
	assert_int_equal(local_cgroup_init(&cg, "auto", root, "/d", 100,
	    1 << 26, detail, sizeof(detail)), SBX_OK);
	/* the leaf is made, but has no pids.max: never run unbounded */
	assert_int_equal(local_cgroup_prepare(&cg, ID, procs), SBX_EISOLATION);
	assert_int_equal(procs[0], -1);
	rm_tree(root);
}

static void cgroup_v2_without_controllers_is_refused(void **state)
{
	char root[] = "/tmp/omni-cg-test-XXXXXX", base[256], detail[512];
	struct local_cgroup cg;

	(void)state;
	assert_non_null(mkdtemp(root));
	put(root, "cgroup.controllers", "memory pids\n");
	put(root, "cgroup.subtree_control", "");
	snprintf(base, sizeof(base), "%s/omni-sandboxes", root);
	assert_int_equal(mkdir(base, 0755), 0);
	put(base, "cgroup.controllers", "cpu\n"); /* pids not delegated */
	assert_int_equal(local_cgroup_init(&cg, "auto", root, "/d", 100,
	    1 << 26, detail, sizeof(detail)), SBX_EISOLATION);
	assert_non_null(strstr(detail, "pids and memory"));
	/* a named directory that is no v2 cgroup is refused too */
	assert_int_equal(local_cgroup_init(&cg, root, NULL, "/d", 100,
	    1 << 26, detail, sizeof(detail)), SBX_OK);
	assert_int_equal(cg.kind, LOCAL_CG_V2);
	assert_int_equal(local_cgroup_init(&cg, base, NULL, "/d", 100,
	    1 << 26, detail, sizeof(detail)), SBX_EISOLATION);
	assert_int_equal(local_cgroup_init(&cg, "sometimes", root, "/d", 100,
	    1 << 26, detail, sizeof(detail)), SBX_EINVAL);
	rm_tree(root);
}

static void cgroup_v1_uses_pids_and_memory_hierarchies(void **state)
{
	char root[] = "/tmp/omni-cg-test-XXXXXX", d[256], leaf[512];
	char buf[128], detail[512];
	struct local_cgroup cg;
	int procs[LOCAL_CG_MAXFD];

	(void)state;
	assert_non_null(mkdtemp(root));
	snprintf(d, sizeof(d), "%s/pids", root);
	assert_int_equal(mkdir(d, 0755), 0);
	put(d, "cgroup.procs", "");
	snprintf(d, sizeof(d), "%s/memory", root);
	assert_int_equal(mkdir(d, 0755), 0);
	put(d, "cgroup.procs", "");
	put(d, "memory.limit_in_bytes", "9223372036854771712");
	assert_int_equal(local_cgroup_init(&cg, "auto", root, "/data/a", 64,
	    1 << 26, detail, sizeof(detail)), SBX_OK);
	assert_int_equal(cg.kind, LOCAL_CG_V1);
	snprintf(leaf, sizeof(leaf), "%s/pids/omni-sandboxes/%s.%s", root,
	    cg.tag, ID);
	fake_leaf(leaf, 0);
	snprintf(leaf, sizeof(leaf), "%s/memory/omni-sandboxes/%s.%s", root,
	    cg.tag, ID);
	fake_leaf(leaf, 0);
	assert_int_equal(local_cgroup_prepare(&cg, ID, procs), SBX_OK);
	assert_true(procs[0] >= 0 && procs[1] >= 0);
	local_cgroup_close(procs);
	get(leaf, "memory.limit_in_bytes", buf, sizeof(buf));
	assert_string_equal(buf, "67108864");
	snprintf(leaf, sizeof(leaf), "%s/pids/omni-sandboxes/%s.%s", root,
	    cg.tag, ID);
	get(leaf, "pids.max", buf, sizeof(buf));
	assert_string_equal(buf, "64");
	rm_tree(root);
}

static void cgroup_none_and_off(void **state)
{
	char root[] = "/tmp/omni-cg-test-XXXXXX", detail[512];
	struct local_cgroup cg;
	int procs[LOCAL_CG_MAXFD];

	(void)state;
	assert_non_null(mkdtemp(root));
	assert_int_equal(local_cgroup_init(&cg, "auto", root, "/d", 64,
	    1 << 26, detail, sizeof(detail)), SBX_OK);
	assert_int_equal(cg.kind, LOCAL_CG_NONE);
	assert_non_null(strstr(detail, "rlimit fallback"));
	assert_int_equal(local_cgroup_prepare(&cg, ID, procs), SBX_OK);
	assert_int_equal(procs[0], -1);
	assert_int_equal(local_cgroup_init(&cg, "off", NULL, "/d", 64,
	    1 << 26, detail, sizeof(detail)), SBX_OK);
	assert_int_equal(cg.kind, LOCAL_CG_NONE);
	rmdir(root);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(request_env_goes_inside_never_to_bwrap),
		cmocka_unit_test(user_namespace_and_proc_binds),
		cmocka_unit_test(dropped_launcher_binds_the_staged_paths),
		cmocka_unit_test(loader_and_shell_names_are_refused),
		cmocka_unit_test(environment_is_bounded),
		cmocka_unit_test(unsandboxed_env_is_path_home_and_the_request),
		cmocka_unit_test(cgroup_v2_writes_limits_per_sandbox),
		cmocka_unit_test(
		    cgroup_v2_leaf_missing_files_is_an_isolation_error),
		cmocka_unit_test(cgroup_v2_without_controllers_is_refused),
		cmocka_unit_test(cgroup_v1_uses_pids_and_memory_hierarchies),
		cmocka_unit_test(cgroup_none_and_off),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
