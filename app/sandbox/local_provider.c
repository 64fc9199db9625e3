/*
 * local_provider.c -- the local provider's lifecycle: sandboxes as
 * directories under DATA_DIR/sandboxes shared by every process, with the
 * state in a small JSON file (see include/sandbox_local.h for the layout
 * and the locking rules).  Commands are in local_exec.c, files in
 * local_fs.c.
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

#define STATE_FILE "state.json"
#define STATE_MAX 4096          /* a state file is ~200 bytes */
#define STALE_STAGING_S 600     /* staging/trash older than this is swept */
#define OPEN_ATTEMPTS 3         /* re-open when replaced under our lock */

static atomic_uint tmp_counter;
static atomic_int warned_unsandboxed;

int local_id_valid(const char *id)
{
	size_t i;

	if (id == NULL || strncmp(id, "omni-", 5) != 0)
		return 0;
	for (i = 5; i < 37; i++)
		if (!((id[i] >= '0' && id[i] <= '9') ||
		    (id[i] >= 'a' && id[i] <= 'f')))
			return 0;
	return id[37] == '\0';
}

enum sbx_err local_errno(int e)
{
	switch (e) {
	case ENOENT:
		return SBX_ENOTFOUND;
	case ELOOP:     /* a symlink where O_NOFOLLOW forbids one */
	case ENOTDIR:
	case EISDIR:
	case ENAMETOOLONG:
	case EINVAL:
		return SBX_EINVAL;
	case ENOMEM:
		return SBX_ENOMEM;
	case EFBIG:
		return SBX_ETOOLARGE;
	default:
		return SBX_EIO;
	}
}

/* A name unique across the threads and processes of this machine. */
static void unique_name(char *buf, size_t len, const char *prefix,
    const char *base)
{
	snprintf(buf, len, "%.8s%.40s-%ld-%u", prefix, base, (long)getpid(),
	    atomic_fetch_add(&tmp_counter, 1));
}

static enum sbx_state state_parse(const char *s)
{
	int i;

	for (i = 0; i < SBX_STATE__MAX; i++)
		if (strcmp(s, sbx_state_name((enum sbx_state)i)) == 0)
			return (enum sbx_state)i;
	return SBX_STATE_ERROR;
}

static void copy_field(struct json_object *o, const char *key, char *dst,
    size_t len)
{
	struct json_object *v;

	if (json_object_object_get_ex(o, key, &v) &&
	    json_object_is_type(v, json_type_string))
		snprintf(dst, len, "%s", json_object_get_string(v));
}

/*
 * The bytes of state.json into 'buf' (NUL-terminated), or -1.  Only a
 * regular file of at most STATE_MAX bytes counts: O_NONBLOCK and the
 * fstat keep a FIFO or a device planted in its place from blocking us.
 */
static ssize_t read_state_file(int dirfd, char buf[STATE_MAX + 1])
{
	struct stat st;
	size_t got = 0;
	ssize_t r = -1;
	int fd;

	fd = openat(dirfd, STATE_FILE, O_RDONLY | O_NOFOLLOW | O_NONBLOCK |
	    O_CLOEXEC);
	if (fd < 0)
		return -1;
	if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) &&
	    st.st_size <= STATE_MAX) {
		for (;;) {
			r = read(fd, buf + got, STATE_MAX + 1 - got);
			if (r < 0 && errno == EINTR)
				continue;
			if (r <= 0)
				break;
			got += (size_t)r;
			if (got > STATE_MAX)
				break;
		}
	}
	close(fd);
	if (r < 0 || got == 0 || got > STATE_MAX)
		return -1;
	buf[got] = '\0';
	return (ssize_t)got;
}

/*
 * Read the state of the sandbox open at 'dirfd'.  A missing or damaged
 * state file, or a missing home, is a broken sandbox: state error (the
 * policy replaces it), not a failure of the call.
 */
static enum sbx_err read_state(int dirfd, const char *id,
    struct sbx_info *out)
{
	char buf[STATE_MAX + 1];
	struct json_object *o, *v;
	struct stat st;

	memset(out, 0, sizeof(*out));
	snprintf(out->id, sizeof(out->id), "%s", id);
	out->state = SBX_STATE_ERROR;
	if (read_state_file(dirfd, buf) < 0 ||
	    (o = json_tokener_parse(buf)) == NULL)
		return SBX_OK;
	if (json_object_is_type(o, json_type_object)) {
		copy_field(o, "userId", out->user_id, sizeof(out->user_id));
		copy_field(o, "createdAt", out->created_at,
		    sizeof(out->created_at));
		if (json_object_object_get_ex(o, "state", &v) &&
		    json_object_is_type(v, json_type_string))
			out->state = state_parse(json_object_get_string(v));
	}
	json_object_put(o);
	if (fstatat(dirfd, "home", &st, AT_SYMLINK_NOFOLLOW) != 0 ||
	    !S_ISDIR(st.st_mode))
		out->state = SBX_STATE_ERROR;
	return SBX_OK;
}

/* Replace state.json in 'dirfd' atomically (temp file + rename). */
static enum sbx_err write_state(int dirfd, const struct sbx_info *info)
{
	struct json_object *o = json_object_new_object();
	const char *text;
	char tmp[96];
	size_t len;
	ssize_t w;
	int fd, e;

	if (o == NULL)
		return SBX_ENOMEM;
	json_object_object_add(o, "id", json_object_new_string(info->id));
	json_object_object_add(o, "userId",
	    json_object_new_string(info->user_id));
	json_object_object_add(o, "state",
	    json_object_new_string(sbx_state_name(info->state)));
	json_object_object_add(o, "createdAt",
	    json_object_new_string(info->created_at));
	text = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN);
	if (text == NULL) {
		json_object_put(o);
		return SBX_ENOMEM;
	}
	len = strlen(text);
	unique_name(tmp, sizeof(tmp), ".state-", "tmp");
	fd = openat(dirfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW |
	    O_CLOEXEC, 0600);
	if (fd < 0) {
		e = errno;
		json_object_put(o);
		return local_errno(e);
	}
	w = write(fd, text, len);
	e = errno;
	json_object_put(o);
	/* fsync: the state must survive a crash as a whole file. */
	if (w != (ssize_t)len || fsync(fd) != 0) {
		close(fd);
		unlinkat(dirfd, tmp, 0);
		return w < 0 ? local_errno(e) : SBX_EIO;
	}
	close(fd);
	if (renameat(dirfd, tmp, dirfd, STATE_FILE) != 0) {
		e = errno;
		unlinkat(dirfd, tmp, 0);
		return local_errno(e);
	}
	return SBX_OK;
}

enum sbx_err local_open(struct local_impl *li, const char *id, int lock,
    int *dirfd)
{
	struct stat a, b;
	int attempt, fd;

	*dirfd = -1;
	if (!local_id_valid(id))
		return SBX_ENOTFOUND; /* no sandbox can have that id */
	for (attempt = 0; attempt < OPEN_ATTEMPTS; attempt++) {
		fd = openat(li->rootfd, id, O_RDONLY | O_DIRECTORY |
		    O_NOFOLLOW | O_CLOEXEC);
		if (fd < 0)
			return errno == ENOENT ? SBX_ENOTFOUND :
			    local_errno(errno);
		if (lock == 0) {
			*dirfd = fd;
			return SBX_OK;
		}
		while (flock(fd, lock) != 0) {
			if (errno != EINTR) {
				close(fd);
				return SBX_EIO;
			}
		}
		/* Removed or replaced while we waited for the lock? */
		if (fstat(fd, &a) == 0 &&
		    fstatat(li->rootfd, id, &b, AT_SYMLINK_NOFOLLOW) == 0 &&
		    a.st_dev == b.st_dev && a.st_ino == b.st_ino) {
			*dirfd = fd;
			return SBX_OK;
		}
		close(fd);
	}
	return SBX_ENOTFOUND;
}

enum sbx_err local_open_ready_home(struct local_impl *li, const char *id,
    int *homefd)
{
	struct sbx_info info;
	enum sbx_err err;
	int dirfd;

	*homefd = -1;
	if ((err = local_open(li, id, LOCK_SH, &dirfd)) != SBX_OK)
		return err;
	read_state(dirfd, id, &info);
	if (info.state != SBX_STATE_READY) {
		close(dirfd);
		return SBX_ECONFLICT;
	}
	*homefd = openat(dirfd, "home", O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
	    O_CLOEXEC);
	err = *homefd < 0 ? SBX_EIO : SBX_OK;
	close(dirfd);
	return err;
}

static enum sbx_err local_get(struct sbx_provider *p, const char *id,
    struct sbx_info *out)
{
	char own[SBX_ID_MAX];
	enum sbx_err err;
	int dirfd;

	if (id == NULL || out == NULL || strlen(id) >= sizeof(own))
		return id == NULL || out == NULL ? SBX_EINVAL : SBX_ENOTFOUND;
	/* 'id' may point into 'out' (get(p, info.id, &info)). */
	memcpy(own, id, strlen(id) + 1);
	if ((err = local_open(local_impl_of(p), own, 0, &dirfd)) != SBX_OK)
		return err;
	err = read_state(dirfd, own, out);
	close(dirfd);
	return err;
}

static enum sbx_err local_find_for_user(struct sbx_provider *p,
    const char *user_id, struct sbx_info *out)
{
	char name[SBX_NAME_MAX];
	enum sbx_err err;

	if (!sbx_user_id_valid(user_id) || out == NULL)
		return SBX_EINVAL;
	sbx_name_for_user(user_id, name);
	if ((err = local_get(p, name, out)) != SBX_OK)
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

void local_give_to_sandbox(const struct local_impl *li, int fd)
{
	if (li->drop && fchown(fd, li->uid, li->gid) != 0)
		log_msg(LOG_WARN, "sandbox.local.chown",
		    "cannot hand a sandbox path to the sandbox user (errno "
		    "%d)", errno);
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
	else
		err = write_state(fd, info);
	close(fd);
	return err;
}

static enum sbx_err local_create_for_user(struct sbx_provider *p,
    const char *user_id, struct sbx_info *out)
{
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
	unique_name(staging, sizeof(staging), ".new-", info.id);
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
	read_state(dirfd, id, &info);
	if (info.state == SBX_STATE_ERROR)
		err = SBX_ECONFLICT; /* broken: only removal helps */
	else if (info.state != to) {
		info.state = to;
		err = write_state(dirfd, &info);
	}
	close(dirfd);
	return err;
}

static enum sbx_err local_start(struct sbx_provider *p, const char *id)
{
	return set_state(p, id, SBX_STATE_READY);
}

static enum sbx_err local_stop(struct sbx_provider *p, const char *id)
{
	return set_state(p, id, SBX_STATE_STOPPED);
}

static enum sbx_err local_remove(struct sbx_provider *p, const char *id)
{
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
	unique_name(trash, sizeof(trash), ".trash-", id);
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

static int rm_tree_at(int parent, const char *name, int depth)
{
	struct dirent *de;
	DIR *d;
	int fd, pass, found;

	if (unlinkat(parent, name, 0) == 0 || errno == ENOENT)
		return 0;
	if (errno != EISDIR && errno != EPERM)
		return -1;
	if (depth > 256) {
		errno = ELOOP;
		return -1;
	}
	for (pass = 0; pass < 3; pass++) {
		fd = openat(parent, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
		    O_CLOEXEC);
		if (fd < 0)
			return -1;
		if ((d = fdopendir(fd)) == NULL) {
			close(fd);
			return -1;
		}
		found = 0;
		while ((de = readdir(d)) != NULL) {
			if (strcmp(de->d_name, ".") == 0 ||
			    strcmp(de->d_name, "..") == 0)
				continue;
			found = 1;
			rm_tree_at(dirfd(d), de->d_name, depth + 1);
		}
		closedir(d);
		if (unlinkat(parent, name, AT_REMOVEDIR) == 0)
			return 0;
		if (errno != ENOTEMPTY && errno != EEXIST)
			return -1;
		if (!found)
			break;
	}
	return -1;
}

int local_rm_tree(int dirfd, const char *name)
{
	return rm_tree_at(dirfd, name, 0);
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
	char path[PATH_MAX], real[PATH_MAX];
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
