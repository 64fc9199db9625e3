/*
 * local_cgroup.c -- the process and memory bound of a whole local sandbox:
 * one cgroup per sandbox, whatever number of commands run in it at once.
 *
 * cgroup v2 (a unified hierarchy with the pids and memory controllers):
 * BASE/<tag>.<sandbox id>/ (the tag names the data directory) with pids.max, memory.max and memory.swap.max = 0.
 * Without it, the v1 pids and memory hierarchies (pids.max,
 * memory.limit_in_bytes and, with swap accounting, memory.memsw.*) give
 * the same bound.  Without either, commands get the rlimit fallback that
 * local_exec.c always sets (see include/sandbox_local.h for what that does
 * not cover).
 *
 * The worker prepares the leaf and opens its cgroup.procs before fork();
 * the child writes "0" (itself) into it before it drops privileges and
 * execs bubblewrap, so every process of the command is born inside.  The
 * sandbox user cannot leave it: moving a process needs write access to
 * the common ancestor's cgroup.procs, which is root's.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "local_internal.h"
#include "hex.h"

#define CG_DEFAULT_ROOT "/sys/fs/cgroup"
#define CG_BASE_NAME "omni-sandboxes"

static int path_exists(const char *dir, const char *name)
{
	char p[PATH_MAX];

	if (snprintf(p, sizeof(p), "%s/%s", dir, name) >= (int)sizeof(p))
		return 0;
	return access(p, F_OK) == 0;
}

/* Write 'value' into the control file dir/name.  0 or an errno. */
static int cg_write(const char *dir, const char *name, const char *value)
{
	char p[PATH_MAX];
	size_t len = strlen(value);
	ssize_t w;
	int fd, e = 0;

	if (snprintf(p, sizeof(p), "%s/%s", dir, name) >= (int)sizeof(p))
		return ENAMETOOLONG;
	fd = open(p, O_WRONLY | O_TRUNC | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return errno;
	w = write(fd, value, len);
	if (w < 0)
		e = errno;
	else if ((size_t)w != len)
		e = EIO;
	close(fd);
	return e;
}

/* Does the v2 controller list in dir/cgroup.controllers name both? */
static int has_v2_controllers(const char *dir)
{
	char p[PATH_MAX], buf[512];
	const char *words[] = { "pids", "memory" };
	ssize_t n;
	size_t i, wl;
	int fd, found;
	char *s;

	if (snprintf(p, sizeof(p), "%s/cgroup.controllers", dir) >=
	    (int)sizeof(p) ||
	    (fd = open(p, O_RDONLY | O_CLOEXEC)) < 0)
		return 0;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return 0;
	buf[n] = '\0';
	for (i = 0; i < 2; i++) {
		wl = strlen(words[i]);
		found = 0;
		for (s = strstr(buf, words[i]); s != NULL && !found;
		    s = strstr(s + 1, words[i]))
			found = (s == buf || s[-1] == ' ') &&
			    (s[wl] == ' ' || s[wl] == '\n' || s[wl] == '\0');
		if (!found)
			return 0;
	}
	return 1;
}

static int make_dir(const char *path)
{
	if (mkdir(path, 0755) != 0 && errno != EEXIST)
		return errno;
	return 0;
}

static enum sbx_err fail(char *detail, size_t len, const char *what,
    const char *path, int e)
{
	snprintf(detail, len, "cgroup: cannot %s %s: %s", what, path,
	    strerror(e));
	return SBX_EISOLATION;
}

/* A v2 directory Omni manages: the controllers enabled for its leaves. */
static enum sbx_err init_v2(struct local_cgroup *cg, const char *base,
    char *detail, size_t len)
{
	int e;

	if ((e = make_dir(base)) != 0)
		return fail(detail, len, "create", base, e);
	if (!has_v2_controllers(base))
		return fail(detail, len, "find the pids and memory controllers "
		    "in", base, ENOTSUP);
	if ((e = cg_write(base, "cgroup.subtree_control", "+pids +memory")) != 0)
		return fail(detail, len, "enable pids and memory below", base,
		    e);
	cg->kind = LOCAL_CG_V2;
	cg->nbase = 1;
	snprintf(cg->base[0], sizeof(cg->base[0]), "%s", base);
	return SBX_OK;
}

static enum sbx_err init_v1(struct local_cgroup *cg, const char *root,
    char *detail, size_t len)
{
	static const char *const ctl[2] = { "pids", "memory" };
	char p[PATH_MAX];
	int i, e;

	for (i = 0; i < 2; i++) {
		if (snprintf(p, sizeof(p), "%s/%s/%s", root, ctl[i],
		    CG_BASE_NAME) >= (int)sizeof(p))
			return fail(detail, len, "use", root, ENAMETOOLONG);
		if ((e = make_dir(p)) != 0)
			return fail(detail, len, "create", p, e);
		snprintf(cg->base[i], sizeof(cg->base[i]), "%s", p);
	}
	cg->kind = LOCAL_CG_V1;
	cg->nbase = 2;
	return SBX_OK;
}

/* FNV-1a of 'owner' as 16 hex digits: two data directories on one
 * machine (two deployments, or tests) have sandboxes of the same id. */
static void make_tag(char tag[17], const char *owner)
{
	unsigned long long h = 0xcbf29ce484222325ULL;
	unsigned char be[8];
	int i;

	for (; owner != NULL && *owner != '\0'; owner++)
		h = (h ^ (unsigned char)*owner) * 0x100000001b3ULL;
	for (i = 7; i >= 0; i--, h >>= 8)
		be[i] = (unsigned char)(h & 0xff);
	hex_encode(be, sizeof(be), tag, 0);
}

enum sbx_err local_cgroup_init(struct local_cgroup *cg, const char *mode,
    const char *fs_root, const char *owner, long long pids_max,
    long long mem_max, char *detail, size_t len)
{
	char p[PATH_MAX], v1[PATH_MAX];
	const char *root = fs_root != NULL ? fs_root : CG_DEFAULT_ROOT;

	memset(cg, 0, sizeof(*cg));
	make_tag(cg->tag, owner);
	cg->pids_max = pids_max;
	cg->mem_max = mem_max;
	if (mode == NULL || mode[0] == '\0')
		mode = "auto";
	if (strcmp(mode, "off") == 0) {
		snprintf(detail, len, "cgroup: off (OMNI_SANDBOX_CGROUP=off)");
		return SBX_OK;
	}
	if (mode[0] == '/') {
		if (!has_v2_controllers(mode))
			return fail(detail, len, "use (not a cgroup v2 "
			    "directory with pids and memory)", mode, ENOTSUP);
		return init_v2(cg, mode, detail, len);
	}
	if (strcmp(mode, "auto") != 0) {
		snprintf(detail, len, "OMNI_SANDBOX_CGROUP: expected auto, off "
		    "or an absolute path (got '%s')", mode);
		return SBX_EINVAL;
	}
	/* Only root may create cgroups at the top of the hierarchy; an
	 * unprivileged Omni names a delegated directory instead. */
	if (geteuid() != 0 && fs_root == NULL) {
		snprintf(detail, len, "cgroup: none (not root and no delegated "
		    "OMNI_SANDBOX_CGROUP): rlimit fallback");
		return SBX_OK;
	}
	if (has_v2_controllers(root)) {
		/* Refused or already on: init_v2 checks what the base
		 * really offers. */
		(void)cg_write(root, "cgroup.subtree_control",
		    "+pids +memory");
		if (snprintf(p, sizeof(p), "%s/%s", root, CG_BASE_NAME) >=
		    (int)sizeof(p))
			return fail(detail, len, "use", root, ENAMETOOLONG);
		return init_v2(cg, p, detail, len);
	}
	if (snprintf(v1, sizeof(v1), "%s/memory", root) < (int)sizeof(v1) &&
	    path_exists(v1, "memory.limit_in_bytes") &&
	    snprintf(p, sizeof(p), "%s/pids", root) < (int)sizeof(p) &&
	    path_exists(p, "cgroup.procs"))
		return init_v1(cg, root, detail, len);
	snprintf(detail, len, "cgroup: none (no pids and memory controllers "
	    "under %s): rlimit fallback", root);
	return SBX_OK;
}

/* The decimal text of 'v' into buf (at least 24 bytes). */
static const char *num(char *buf, size_t len, long long v)
{
	snprintf(buf, len, "%lld", v);
	return buf;
}

enum sbx_err local_cgroup_prepare(const struct local_cgroup *cg,
    const char *id, int procs[LOCAL_CG_MAXFD])
{
	char leaf[PATH_MAX], p[PATH_MAX], n[32];
	int i, e;

	for (i = 0; i < LOCAL_CG_MAXFD; i++)
		procs[i] = -1;
	for (i = 0; i < cg->nbase; i++) {
		if (snprintf(leaf, sizeof(leaf), "%s/%s.%s", cg->base[i],
		    cg->tag, id) >= (int)sizeof(leaf) || make_dir(leaf) != 0)
			goto fail;
		/* Written every time: a changed setting applies to the next
		 * command, and a leaf made by an older Omni gets it too. */
		if (cg->kind == LOCAL_CG_V2) {
			if (cg_write(leaf, "pids.max", num(n, sizeof(n),
			    cg->pids_max)) != 0 ||
			    cg_write(leaf, "memory.max", num(n, sizeof(n),
			    cg->mem_max)) != 0)
				goto fail;
			/* Absent without swap accounting: nothing to bound. */
			e = cg_write(leaf, "memory.swap.max", "0");
			if (e != 0 && e != ENOENT)
				goto fail;
		} else if (i == 0) {
			if (cg_write(leaf, "pids.max", num(n, sizeof(n),
			    cg->pids_max)) != 0)
				goto fail;
		} else {
			/* v1 keeps memsw >= limit at every step: raise memsw
			 * first, lower it last (EINVAL in between is the
			 * other order's half). */
			num(n, sizeof(n), cg->mem_max);
			(void)cg_write(leaf, "memory.memsw.limit_in_bytes", n);
			if (cg_write(leaf, "memory.limit_in_bytes", n) != 0)
				goto fail;
			e = cg_write(leaf, "memory.memsw.limit_in_bytes", n);
			if (e != 0 && e != ENOENT)
				goto fail;
		}
		if (snprintf(p, sizeof(p), "%s/cgroup.procs", leaf) >=
		    (int)sizeof(p) ||
		    (procs[i] = open(p, O_WRONLY | O_CLOEXEC)) < 0)
			goto fail;
	}
	return SBX_OK;
fail:
	local_cgroup_close(procs);
	return SBX_EISOLATION;
}

void local_cgroup_close(int procs[LOCAL_CG_MAXFD])
{
	int i;

	for (i = 0; i < LOCAL_CG_MAXFD; i++) {
		if (procs[i] >= 0)
			close(procs[i]);
		procs[i] = -1;
	}
}

void local_cgroup_remove(const struct local_cgroup *cg, const char *id)
{
	char leaf[PATH_MAX];
	int i;

	/* EBUSY while a command still runs: the leaf stays, harmlessly,
	 * and is reused by a sandbox of the same id. */
	for (i = 0; i < cg->nbase; i++)
		if (snprintf(leaf, sizeof(leaf), "%s/%s.%s", cg->base[i],
		    cg->tag, id) < (int)sizeof(leaf))
			rmdir(leaf);
}

const char *local_cgroup_kind_name(enum local_cg_kind kind)
{
	switch (kind) {
	case LOCAL_CG_V2:
		return "cgroup v2";
	case LOCAL_CG_V1:
		return "cgroup v1";
	case LOCAL_CG_NONE:
		break;
	}
	return "rlimits only";
}

void local_cgroup_sweep(const struct local_cgroup *cg, int rootfd)
{
	char leaf[PATH_MAX];
	size_t tl = strlen(cg->tag);
	struct dirent *de;
	const char *id;
	DIR *d;
	int i;

	/* Leaves of this data directory whose sandbox is gone (removed
	 * while a command still ran, or by an older Omni). */
	for (i = 0; i < cg->nbase; i++) {
		if ((d = opendir(cg->base[i])) == NULL)
			continue;
		while ((de = readdir(d)) != NULL) {
			if (strncmp(de->d_name, cg->tag, tl) != 0 ||
			    de->d_name[tl] != '.')
				continue;
			id = de->d_name + tl + 1;
			if (strcmp(id, "probe") == 0 || (local_id_valid(id) &&
			    faccessat(rootfd, id, F_OK, AT_SYMLINK_NOFOLLOW) ==
			    0))
				continue;
			if (snprintf(leaf, sizeof(leaf), "%s/%s", cg->base[i],
			    de->d_name) < (int)sizeof(leaf))
				rmdir(leaf);
		}
		closedir(d);
	}
}
