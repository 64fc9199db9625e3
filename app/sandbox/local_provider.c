/*
 * local_provider.c -- the local provider's lifecycle: sandboxes as
 * directories under DATA_DIR/sandboxes shared by every process, with the
 * state in a small JSON file (see include/sandbox_local.h for the layout
 * and the locking rules).  Commands are in local_exec.c, files in
 * local_fs.c, the store they share (ids, state file, locks) in
 * local_store.c.  The local provider fills no struct sbx_error detail:
 * its enum sbx_err says all it knows, and the sbx_* wrappers
 * (policy.c) set the code.
 *
 * Every operation goes to the filesystem: two workers, or two processes,
 * see the same sandboxes, and nothing needs invalidating.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pwd.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <dirent.h>

#include <json-c/json.h>

#include "config.h"
#include "local_internal.h"
#include "log.h"
#include "timeutil.h"

#define STALE_STAGING_S 600     /* staging/trash older than this is swept */

static atomic_int warned_unsandboxed;

static enum sbx_err local_get(struct sbx_provider *p, const char *id,
    struct sbx_info *out, struct sbx_error *why)
{
	(void)why; /* nothing to add to the code (local_provider.c) */
	char own[SBX_ID_MAX];
	enum sbx_err err;
	int dirfd;

	if (id == NULL || out == NULL || strlen(id) >= sizeof(own))
		return id == NULL || out == NULL ? SBX_EINVAL : SBX_ENOTFOUND;
	/* 'id' may point into 'out' (get(p, info.id, &info)). */
	memcpy(own, id, strlen(id) + 1);
	if ((err = local_open(local_impl_of(p), own, 0, &dirfd)) != SBX_OK)
		return err;
	err = local_read_state(dirfd, own, out);
	close(dirfd);
	return err;
}

static enum sbx_err local_find_for_user(struct sbx_provider *p,
    const char *user_id, struct sbx_info *out, struct sbx_error *why)
{
	(void)why; /* nothing to add to the code (local_provider.c) */
	char name[SBX_NAME_MAX];
	enum sbx_err err;

	if (!sbx_user_id_valid(user_id) || out == NULL)
		return SBX_EINVAL;
	sbx_name_for_user(user_id, name);
	if ((err = local_get(p, name, out, why)) != SBX_OK)
		return err;
	/* The name is a 128-bit hash of the userId: another user's sandbox
	 * under it means a damaged store, not something to overwrite. */
	if (out->user_id[0] != '\0' && strcmp(out->user_id, user_id) != 0) {
		log_msg(LOG_ERROR, "sandbox.local.owner_mismatch",
		    "sandbox %s belongs to another user", name);
		return SBX_ECONFLICT;
	}
	if (out->user_id[0] == '\0')
		snprintf(out->user_id, sizeof(out->user_id), "%s", user_id);
	return SBX_OK;
}


/* mkdirat + hand over: the sandbox user's own directory. */
static int make_sandbox_dir(const struct local_impl *li, int dirfd,
    const char *name, mode_t mode)
{
	int fd;

	if (mkdirat(dirfd, name, mode) != 0)
		return -1;
	fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
	    O_CLOEXEC);
	if (fd < 0)
		return -1;
	local_give_to_sandbox(li, fd);
	close(fd);
	return 0;
}

/* The workspace template into the staging home, before it appears. */
static enum sbx_err lay_workspace(const struct local_impl *li, int dirfd)
{
	enum sbx_err err;
	int home;

	if (li->templatefd < 0)
		return SBX_OK;
	home = openat(dirfd, "home", O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
	    O_CLOEXEC);
	if (home < 0)
		return local_errno(errno);
	err = local_template_lay(li, home);
	close(home);
	return err;
}

static enum sbx_err make_staging(struct local_impl *li, const char *staging,
    const struct sbx_info *info)
{
	enum sbx_err err;
	int fd;

	/* The sandbox directory stays root's (0700): the sandbox user owns
	 * only home/ and tmp/ below it, so it can never rename them away
	 * or reach state.json. */
	if (mkdirat(li->rootfd, staging, 0700) != 0)
		return local_errno(errno);
	fd = openat(li->rootfd, staging, O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
	    O_CLOEXEC);
	if (fd < 0)
		return local_errno(errno);
	if (make_sandbox_dir(li, fd, "home", 0755) != 0 ||
	    make_sandbox_dir(li, fd, "tmp", 0700) != 0)
		err = local_errno(errno);
	else if ((err = lay_workspace(li, fd)) == SBX_OK)
		err = local_write_state(fd, info);
	close(fd);
	return err;
}

static enum sbx_err local_create_for_user(struct sbx_provider *p,
    const char *user_id, struct sbx_info *out, struct sbx_error *why)
{
	(void)why; /* nothing to add to the code (local_provider.c) */
	struct local_impl *li = local_impl_of(p);
	struct sbx_info info;
	char staging[128];
	enum sbx_err err;
	int rc, e;

	if (!sbx_user_id_valid(user_id) || out == NULL)
		return SBX_EINVAL;
	memset(&info, 0, sizeof(info));
	sbx_name_for_user(user_id, info.id);
	snprintf(info.user_id, sizeof(info.user_id), "%s", user_id);
	info.state = SBX_STATE_READY;
	time_rfc3339_now(info.created_at, sizeof(info.created_at));
	if (faccessat(li->rootfd, info.id, F_OK, AT_SYMLINK_NOFOLLOW) == 0)
		return SBX_ECONFLICT;
	local_unique_name(staging, sizeof(staging), ".new-", info.id);
	if ((err = make_staging(li, staging, &info)) != SBX_OK) {
		local_rm_tree(li->rootfd, staging);
		return err;
	}
	/* The atomic step: appear whole, never over an existing one. */
	rc = renameat2(li->rootfd, staging, li->rootfd, info.id,
	    RENAME_NOREPLACE);
	if (rc != 0 && errno == EINVAL) /* filesystem without NOREPLACE */
		rc = renameat(li->rootfd, staging, li->rootfd, info.id);
	if (rc != 0) {
		e = errno;
		local_rm_tree(li->rootfd, staging);
		if (e == EEXIST || e == ENOTEMPTY)
			return SBX_ECONFLICT;
		return local_errno(e);
	}
	*out = info;
	return SBX_OK;
}

static enum sbx_err set_state(struct sbx_provider *p, const char *id,
    enum sbx_state to)
{
	struct sbx_info info;
	enum sbx_err err;
	int dirfd;

	if (id == NULL)
		return SBX_EINVAL;
	err = local_open(local_impl_of(p), id, LOCK_EX, &dirfd);
	if (err != SBX_OK)
		return err;
	local_read_state(dirfd, id, &info);
	if (info.state == SBX_STATE_ERROR)
		err = SBX_ECONFLICT; /* broken: only removal helps */
	else if (info.state != to) {
		info.state = to;
		err = local_write_state(dirfd, &info);
	}
	close(dirfd);
	return err;
}

static enum sbx_err local_start(struct sbx_provider *p, const char *id,
    struct sbx_error *why)
{
	(void)why; /* nothing to add to the code (local_provider.c) */
	return set_state(p, id, SBX_STATE_READY);
}

static enum sbx_err local_stop(struct sbx_provider *p, const char *id,
    struct sbx_error *why)
{
	(void)why; /* nothing to add to the code (local_provider.c) */
	return set_state(p, id, SBX_STATE_STOPPED);
}

static enum sbx_err local_remove(struct sbx_provider *p, const char *id,
    struct sbx_error *why)
{
	(void)why; /* nothing to add to the code (local_provider.c) */
	struct local_impl *li = local_impl_of(p);
	char trash[128];
	enum sbx_err err;
	int dirfd;

	if (id == NULL)
		return SBX_EINVAL;
	if ((err = local_open(li, id, LOCK_EX, &dirfd)) != SBX_OK)
		return err;
	/* Out of sight first: from here on it is not found, whatever the
	 * deletion below takes. */
	local_unique_name(trash, sizeof(trash), ".trash-", id);
	if (renameat(li->rootfd, id, li->rootfd, trash) != 0) {
		err = local_errno(errno);
		close(dirfd);
		return err;
	}
	close(dirfd);
	local_cgroup_remove(&li->cg, id);
	if (local_rm_tree(li->rootfd, trash) != 0)
		log_msg(LOG_WARN, "sandbox.local.remove_incomplete",
		    "could not delete all of %s (errno %d); swept at the "
		    "next start", trash, errno);
	return SBX_OK;
}


/* Delete staging and trash directories left by crashed processes. */
static void sweep_stale(struct local_impl *li)
{
	struct dirent *de;
	struct stat st;
	time_t now = time(NULL);
	DIR *d;
	int fd;

	fd = openat(li->rootfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0 || (d = fdopendir(fd)) == NULL) {
		if (fd >= 0)
			close(fd);
		return;
	}
	while ((de = readdir(d)) != NULL) {
		if (strncmp(de->d_name, ".new-", 5) != 0 &&
		    strncmp(de->d_name, ".trash-", 7) != 0)
			continue;
		if (fstatat(dirfd(d), de->d_name, &st,
		    AT_SYMLINK_NOFOLLOW) == 0 &&
		    now - st.st_mtime > STALE_STAGING_S)
			local_rm_tree(dirfd(d), de->d_name);
	}
	closedir(d);
}

static enum sbx_err local_check(struct sbx_provider *p, char *detail,
    size_t detail_len)
{
	struct local_impl *li = local_impl_of(p);
	char buf[256];
	enum sbx_err err;

	if (faccessat(li->rootfd, ".", W_OK, 0) != 0) {
		if (detail != NULL)
			snprintf(detail, detail_len,
			    "data directory not writable");
		return SBX_EIO;
	}
	if (li->isolated) {
		err = local_probe_bwrap(li, li->bwrap, buf, sizeof(buf));
		if (err != SBX_OK) {
			if (detail != NULL)
				snprintf(detail, detail_len, "%s", buf);
			return err;
		}
		if (detail != NULL)
			snprintf(detail, detail_len, "local, bubblewrap");
		return SBX_OK;
	}
	if (detail != NULL)
		snprintf(detail, detail_len,
		    "local, unsandboxed (OMNI_LOCAL_UNSANDBOXED=1)");
	return SBX_OK;
}

static void local_destroy(struct sbx_provider *p)
{
	struct local_impl *li;

	if (p == NULL)
		return;
	li = p->impl;
	if (li != NULL) {
		if (li->rootfd >= 0)
			close(li->rootfd);
		if (li->templatefd >= 0)
			close(li->templatefd);
		free(li->root);
		free(li->bwrap);
		free(li);
	}
	free(p);
}

static const struct sbx_ops local_ops = {
	.name = "local",
	.find_for_user = local_find_for_user,
	.create_for_user = local_create_for_user,
	.get = local_get,
	.start = local_start,
	.stop = local_stop,
	.remove = local_remove,
	.exec = local_exec,
	.job_start = local_job_start,
	.job_running = local_job_running,
	.job_kill = local_job_kill,
	.write_file = local_write_file,
	.read_file = local_read_file,
	.list_files = local_list_files,
	.check = local_check,
	.reload = NULL,
	.destroy = local_destroy,
};

/* mkdir -p for the data directory (made by us: private to Omni). */
static int mkdir_p(const char *path)
{
	char buf[PATH_MAX];
	size_t i, n = strlen(path);

	if (n == 0 || n >= sizeof(buf))
		return -1;
	memcpy(buf, path, n + 1);
	for (i = 1; i <= n; i++) {
		if (buf[i] != '/' && buf[i] != '\0')
			continue;
		buf[i] = '\0';
		if (mkdir(buf, 0700) != 0 && errno != EEXIST)
			return -1;
		buf[i] = path[i];
	}
	return 0;
}

/* The absolute path of an executable 'name' on PATH (malloc'd) or NULL. */
static char *find_in_path(const char *name)
{
	const char *path = getenv("PATH");
	const char *s, *e;
	char buf[PATH_MAX];

	if (strchr(name, '/') != NULL)
		return access(name, X_OK) == 0 ? strdup(name) : NULL;
	if (path == NULL || *path == '\0')
		path = "/usr/local/bin:/usr/bin:/bin";
	for (s = path; *s != '\0'; s = *e ? e + 1 : e) {
		e = strchr(s, ':');
		if (e == NULL)
			e = s + strlen(s);
		if (e > s && snprintf(buf, sizeof(buf), "%.*s/%s",
		    (int)(e - s), s, name) < (int)sizeof(buf) &&
		    buf[0] == '/' && access(buf, X_OK) == 0)
			return strdup(buf);
	}
	return NULL;
}

static void apply_defaults(struct sbx_local_limits *l)
{
	if (l->cpu_s <= 0)
		l->cpu_s = SBX_LOCAL_DEFAULT_CPU_S;
	if (l->mem_bytes <= 0)
		l->mem_bytes = SBX_LOCAL_DEFAULT_MEM_BYTES;
	if (l->file_bytes <= 0)
		l->file_bytes = SBX_LOCAL_DEFAULT_FILE_BYTES;
	if (l->nproc <= 0)
		l->nproc = SBX_LOCAL_DEFAULT_NPROC;
	if (l->max_timeout_s <= 0)
		l->max_timeout_s = SBX_LOCAL_DEFAULT_MAX_TIMEOUT_S;
	if (l->timeout_s <= 0)
		l->timeout_s = SBX_LOCAL_DEFAULT_TIMEOUT_S;
	if (l->timeout_s > l->max_timeout_s)
		l->timeout_s = l->max_timeout_s;
	if (l->max_output == 0)
		l->max_output = SBX_LOCAL_DEFAULT_MAX_OUTPUT;
}

static void set_detail(char *detail, size_t len, const char *fmt,
    const char *arg)
{
	if (detail != NULL && len > 0)
		snprintf(detail, len, fmt, arg);
}

/*
 * When Omni runs as root, commands run as the sandbox user: resolve it.
 * A user namespace alone would not do: one made by root maps its users
 * back to host root.
 */
static enum sbx_err choose_user(struct local_impl *li,
    const struct sbx_local_opts *o, char *detail, size_t detail_len)
{
	const char *name = o->sandbox_user != NULL && o->sandbox_user[0] ?
	    o->sandbox_user : SBX_LOCAL_DEFAULT_USER;
	struct passwd pw, *res = NULL;
	char buf[4096], why[256];

	if (geteuid() != 0)
		return SBX_OK;
	if (getpwnam_r(name, &pw, buf, sizeof(buf), &res) != 0 || res == NULL)
		snprintf(why, sizeof(why), "OMNI_SANDBOX_USER: user '%s' does "
		    "not exist (make deps creates it); Omni runs as root and "
		    "will not run sandbox commands as root", name);
	else if (pw.pw_uid == 0 || pw.pw_gid == 0)
		snprintf(why, sizeof(why), "OMNI_SANDBOX_USER: user '%s' has "
		    "uid or gid 0", name);
	else {
		li->drop = 1;
		li->uid = pw.pw_uid;
		li->gid = pw.pw_gid;
		return SBX_OK;
	}
	log_msg(LOG_ERROR, "sandbox.local.user", "%s", why);
	set_detail(detail, detail_len, "%s", why);
	return SBX_EISOLATION;
}

/* The bound of a whole sandbox: a cgroup, or the documented rlimits. */
static enum sbx_err choose_cgroup(struct local_impl *li,
    const struct sbx_local_opts *o, char *detail, size_t detail_len)
{
	long long pids = o->sandbox_pids > 0 ? o->sandbox_pids :
	    SBX_LOCAL_DEFAULT_PIDS;
	long long mem = o->sandbox_memory > 0 ? o->sandbox_memory :
	    li->lim.mem_bytes;
	char why[PATH_MAX + 128];
	enum sbx_err err;

	err = local_cgroup_init(&li->cg, o->cgroup, o->cgroup_fs_root,
	    li->root, pids, mem, why, sizeof(why));
	if (err != SBX_OK) {
		log_msg(LOG_ERROR, "sandbox.local.cgroup", "%s", why);
		set_detail(detail, detail_len, "%s", why);
		return err == SBX_EINVAL ? SBX_EINVAL : SBX_EISOLATION;
	}
	li->lim.mem_bytes = mem;
	/* Without a cgroup, the sandbox user's RLIMIT_NPROC is the only
	 * process bound (for all sandboxes together); an unprivileged Omni
	 * keeps its own, larger one, since it counts Omni's threads too. */
	if (li->cg.kind == LOCAL_CG_NONE && li->drop)
		li->lim.nproc = (int)pids;
	local_cgroup_sweep(&li->cg, li->rootfd);
	if (li->cg.kind == LOCAL_CG_NONE)
		log_msg(LOG_WARN, "sandbox.local.cgroup", "%s; a sandbox's "
		    "processes are bounded by RLIMIT_NPROC of its user and "
		    "its memory per process only (RLIMIT_AS)", why);
	else
		log_msg(LOG_INFO, "sandbox.local.cgroup", "sandboxes bounded "
		    "by %s: %lld processes, %lld bytes each",
		    local_cgroup_kind_name(li->cg.kind), pids, mem);
	return SBX_OK;
}

/* Decide whether commands run under bwrap; fills li->bwrap/isolated. */
static enum sbx_err choose_isolation(struct local_impl *li,
    const struct sbx_local_opts *o, char *detail, size_t detail_len)
{
	char why[256];
	char *bwrap;
	enum sbx_err err;

	bwrap = find_in_path(o->bwrap != NULL ? o->bwrap : "bwrap");
	if (bwrap == NULL) {
		snprintf(why, sizeof(why), "bubblewrap (bwrap) not found; "
		    "install the bubblewrap package");
		err = SBX_EISOLATION;
	} else {
		err = local_probe_bwrap(li, bwrap, why, sizeof(why));
	}
	if (err == SBX_OK) {
		li->bwrap = bwrap;
		li->isolated = 1;
		set_detail(detail, detail_len, "commands run under %s", bwrap);
		return SBX_OK;
	}
	free(bwrap);
	if (err != SBX_EISOLATION || !o->unsandboxed) {
		log_msg(LOG_ERROR, "sandbox.local.isolation",
		    "%s; refusing to run commands unsandboxed (set "
		    "OMNI_LOCAL_UNSANDBOXED=1 to allow it on a trusted "
		    "machine)", why);
		set_detail(detail, detail_len, "%s (OMNI_LOCAL_UNSANDBOXED=1 "
		    "allows running unsandboxed on a trusted machine)", why);
		return err;
	}
	if (atomic_exchange(&warned_unsandboxed, 1) == 0)
		log_msg(LOG_WARN, "sandbox.local.unsandboxed",
		    "%s; OMNI_LOCAL_UNSANDBOXED=1: commands run WITHOUT "
		    "isolation (no network or filesystem confinement)", why);
	set_detail(detail, detail_len, "commands run unsandboxed: %s", why);
	return SBX_OK;
}

enum sbx_err sbx_local_new_opts(const struct sbx_local_opts *o,
    struct sbx_provider **out, char *detail, size_t detail_len)
{
	struct sbx_provider *p = NULL;
	struct local_impl *li = NULL;
	char path[PATH_MAX], real[PATH_MAX], why[256];
	enum sbx_err err;

	if (out == NULL)
		return SBX_EINVAL;
	*out = NULL;
	if (o == NULL || o->data_dir == NULL || o->data_dir[0] == '\0') {
		set_detail(detail, detail_len, "%s",
		    "OMNI_DATA_DIR is not set");
		return SBX_EINVAL;
	}
	if (snprintf(path, sizeof(path), "%s/sandboxes", o->data_dir) >=
	    (int)sizeof(path) || mkdir_p(path) != 0 ||
	    realpath(path, real) == NULL) {
		set_detail(detail, detail_len, "OMNI_DATA_DIR: cannot create %s",
		    path);
		log_msg(LOG_ERROR, "sandbox.local.data_dir",
		    "cannot create %s: %s", path, strerror(errno));
		return SBX_EIO;
	}
	if ((p = calloc(1, sizeof(*p))) == NULL ||
	    (li = calloc(1, sizeof(*li))) == NULL ||
	    (li->root = strdup(real)) == NULL) {
		free(p);
		if (li != NULL)
			free(li->root);
		free(li);
		return SBX_ENOMEM;
	}
	li->rootfd = open(real, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	li->templatefd = -1;
	li->lim = o->limits;
	li->unsandboxed = o->unsandboxed;
	apply_defaults(&li->lim);
	p->ops = &local_ops;
	p->impl = li;
	if (li->rootfd < 0) {
		set_detail(detail, detail_len, "cannot open %s", real);
		local_destroy(p);
		return SBX_EIO;
	}
	sweep_stale(li);
	if (local_template_open(o->workspace_template, &li->templatefd, why,
	    sizeof(why)) != 0) {
		set_detail(detail, detail_len, "%s", why);
		log_msg(LOG_ERROR, "sandbox.local.template", "%s", why);
		local_destroy(p);
		return SBX_EINVAL;
	}
	if ((err = choose_user(li, o, detail, detail_len)) != SBX_OK ||
	    (err = choose_cgroup(li, o, detail, detail_len)) != SBX_OK ||
	    (err = choose_isolation(li, o, detail, detail_len)) != SBX_OK) {
		local_destroy(p);
		return err;
	}
	*out = p;
	return SBX_OK;
}

enum sbx_err sbx_local_new(const struct omni_config *cfg,
    struct sbx_provider **out, char *detail, size_t detail_len)
{
	struct sbx_local_opts o;
	enum sbx_err err;

	if (out == NULL)
		return SBX_EINVAL;
	*out = NULL;
	if (cfg == NULL)
		return SBX_EINVAL;
	memset(&o, 0, sizeof(o));
	o.data_dir = cfg->data_dir;
	o.unsandboxed = cfg->local_unsandboxed;
	o.sandbox_user = cfg->sandbox_user;
	o.cgroup = cfg->sandbox_cgroup;
	o.sandbox_pids = cfg->sandbox_pids;
	o.sandbox_memory = (long long)cfg->sandbox_memory;
	o.workspace_template = cfg->workspace_template;
	err = sbx_local_new_opts(&o, out, detail, detail_len);
	if (err == SBX_OK)
		(*out)->cfg = cfg;
	return err;
}

int sbx_local_isolated(const struct sbx_provider *p)
{
	if (p == NULL || p->ops != &local_ops || p->impl == NULL)
		return 0;
	return ((const struct local_impl *)p->impl)->isolated;
}
