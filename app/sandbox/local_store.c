/*
 * local_store.c -- the local provider's on-disk store, below everything
 * else of the provider: sandbox ids, the state file, opening a sandbox
 * under its lock, handing files to the sandbox user, and removing trees.
 * local_provider.c (lifecycle), local_fs.c (files) and local_exec.c
 * (commands) all build on it; it calls none of them, so the provider's
 * arrows run one way.  Declarations in local_internal.h.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <json-c/json.h>

#include "local_internal.h"
#include "log.h"

#define STATE_FILE "state.json"
#define STATE_MAX 4096          /* a state file is ~200 bytes */
#define OPEN_ATTEMPTS 3         /* re-open when replaced under our lock */

static atomic_uint tmp_counter;

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
void local_unique_name(char *buf, size_t len, const char *prefix,
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
enum sbx_err local_read_state(int dirfd, const char *id,
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
enum sbx_err local_write_state(int dirfd, const struct sbx_info *info)
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
	local_unique_name(tmp, sizeof(tmp), ".state-", "tmp");
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
	local_read_state(dirfd, id, &info);
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

void local_give_to_sandbox(const struct local_impl *li, int fd)
{
	if (li->drop && fchown(fd, li->uid, li->gid) != 0)
		log_msg(LOG_WARN, "sandbox.local.chown",
		    "cannot hand a sandbox path to the sandbox user (errno "
		    "%d)", errno);
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
