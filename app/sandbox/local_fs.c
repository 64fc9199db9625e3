/*
 * local_fs.c -- file access confined to a local sandbox's home.
 *
 * Paths are normalised as text first ('..' refused, absolute paths only
 * under SBX_LOCAL_HOME), then walked one component at a time with
 * openat(O_NOFOLLOW) from an fd on the home, so neither a symlink planted
 * by a command in the sandbox nor a race that swaps a directory for a
 * symlink can lead outside: every step is relative to a directory already
 * known to be inside.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "local_internal.h"
#include "sandbox_path.h"

enum sbx_err local_path_normalise(const char *path, char *rel,
    size_t rel_len)
{
	const size_t hl = strlen(SBX_LOCAL_HOME);
	const char *s = path, *e;
	size_t n = 0, clen;

	if (rel_len == 0)
		return SBX_EINVAL;
	rel[0] = '\0';
	if (path == NULL || path[0] == '\0')
		return SBX_OK;
	if (!sandbox_path_ok(path))
		return SBX_EINVAL;
	if (path[0] == '/') {
		if (strncmp(path, SBX_LOCAL_HOME, hl) != 0 ||
		    (path[hl] != '\0' && path[hl] != '/'))
			return SBX_EINVAL;
		s = path + hl;
	}
	while (*s != '\0') {
		while (*s == '/')
			s++;
		if (*s == '\0')
			break;
		e = strchr(s, '/');
		clen = e != NULL ? (size_t)(e - s) : strlen(s);
		if (clen == 1 && s[0] == '.') {
			s += clen;
			continue;
		}
		if ((clen == 2 && s[0] == '.' && s[1] == '.') ||
		    clen > NAME_MAX)
			return SBX_EINVAL;
		if (n + (n > 0) + clen + 1 > rel_len)
			return SBX_EINVAL;
		if (n > 0)
			rel[n++] = '/';
		memcpy(rel + n, s, clen);
		n += clen;
		rel[n] = '\0';
		s += clen;
	}
	return SBX_OK;
}

enum sbx_err local_open_dir(const struct local_impl *li, int homefd,
    const char *rel, int create, int *fd)
{
	char comp[NAME_MAX + 1];
	const char *s = rel, *e;
	size_t clen;
	int cur, next, err;

	*fd = -1;
	cur = openat(homefd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (cur < 0)
		return local_errno(errno);
	while (*s != '\0') {
		e = strchr(s, '/');
		clen = e != NULL ? (size_t)(e - s) : strlen(s);
		memcpy(comp, s, clen);
		comp[clen] = '\0';
		s += clen + (e != NULL);
		next = openat(cur, comp, O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
		    O_CLOEXEC);
		if (next < 0 && errno == ENOENT && create) {
			if (mkdirat(cur, comp, 0755) != 0 && errno != EEXIST) {
				err = errno;
				close(cur);
				return local_errno(err);
			}
			next = openat(cur, comp, O_RDONLY | O_DIRECTORY |
			    O_NOFOLLOW | O_CLOEXEC);
			if (next >= 0)
				local_give_to_sandbox(li, next);
		}
		if (next < 0) {
			err = errno;
			close(cur);
			return local_errno(err);
		}
		close(cur);
		cur = next;
	}
	*fd = cur;
	return SBX_OK;
}

/*
 * Split the normalised 'rel' into its parent directory (in 'dir') and its
 * last component (returned, pointing into 'rel').  NULL when 'rel' names
 * the home itself, which is not a file.
 */
static const char *split_last(char *rel, char *dir, size_t dir_len)
{
	char *slash = strrchr(rel, '/');

	if (rel[0] == '\0')
		return NULL;
	if (slash == NULL) {
		dir[0] = '\0';
		return rel;
	}
	snprintf(dir, dir_len, "%.*s", (int)(slash - rel), rel);
	return slash + 1;
}

static enum sbx_err write_all(int fd, const char *data, size_t len)
{
	ssize_t w;

	while (len > 0) {
		w = write(fd, data, len);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			return local_errno(errno);
		}
		data += w;
		len -= (size_t)w;
	}
	return SBX_OK;
}

/*
 * Open the directory that holds 'path' in the ready sandbox 'id' (made
 * first when 'create'), into '*dfd' (caller closes), and copy the last
 * component of 'path' into 'base'.  The home itself is not a file:
 * SBX_EINVAL.
 */
static enum sbx_err open_parent(struct local_impl *li, const char *id,
    const char *path, int create, int *dfd, char base[NAME_MAX + 1])
{
	char rel[PATH_MAX], dir[PATH_MAX];
	const char *last;
	enum sbx_err err;
	int homefd;

	*dfd = -1;
	if ((err = local_path_normalise(path, rel, sizeof(rel))) != SBX_OK)
		return err;
	if ((last = split_last(rel, dir, sizeof(dir))) == NULL)
		return SBX_EINVAL;
	/* local_path_normalise() refused components over NAME_MAX. */
	memcpy(base, last, strlen(last) + 1);
	if ((err = local_open_ready_home(li, id, &homefd)) != SBX_OK)
		return err;
	err = local_open_dir(li, homefd, dir, create, dfd);
	close(homefd);
	return err;
}

enum sbx_err local_write_file(struct sbx_provider *p, const char *id,
    const char *path, const void *data, size_t len, struct sbx_error *why)
{
	(void)why; /* nothing to add to the code (local_provider.c) */
	struct local_impl *li = local_impl_of(p);
	char base[NAME_MAX + 1], tmp[64];
	static unsigned counter;
	enum sbx_err err;
	int dfd, fd;

	if (id == NULL || path == NULL || (data == NULL && len > 0))
		return SBX_EINVAL;
	if ((long long)len > li->lim.file_bytes)
		return SBX_ETOOLARGE;
	if ((err = open_parent(li, id, path, 1, &dfd, base)) != SBX_OK)
		return err;
	/* Write beside the target and rename: readers (and a command in the
	 * sandbox) see the old file or the new one, never half of it. */
	snprintf(tmp, sizeof(tmp), ".omni-write-%ld-%u", (long)getpid(),
	    __atomic_fetch_add(&counter, 1, __ATOMIC_RELAXED));
	fd = openat(dfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW |
	    O_CLOEXEC, 0644);
	if (fd < 0) {
		err = local_errno(errno);
		close(dfd);
		return err;
	}
	/* The command that reads it may want to change it too. */
	local_give_to_sandbox(li, fd);
	err = write_all(fd, data, len);
	if (close(fd) != 0 && err == SBX_OK)
		err = SBX_EIO;
	if (err == SBX_OK && renameat(dfd, tmp, dfd, base) != 0)
		err = local_errno(errno);
	if (err != SBX_OK)
		unlinkat(dfd, tmp, 0);
	close(dfd);
	return err;
}

/*
 * Read 'fd' to its end into a new buffer (NUL-terminated), growing from
 * 'hint' bytes; SBX_ETOOLARGE once it passes 'max' (the file may have
 * grown since it was measured).
 */
static enum sbx_err read_all(int fd, size_t hint, size_t max, char **data,
    size_t *len)
{
	size_t got = 0, cap = (hint < max ? hint : max) + 1;
	char *buf, *grown;
	ssize_t r;

	if ((buf = malloc(cap + 1)) == NULL)
		return SBX_ENOMEM;
	for (;;) {
		if (got == cap) {
			cap = cap > max / 2 ? max + 1 : cap * 2;
			if ((grown = realloc(buf, cap + 1)) == NULL) {
				free(buf);
				return SBX_ENOMEM;
			}
			buf = grown;
		}
		r = read(fd, buf + got, cap - got);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			free(buf);
			return SBX_EIO;
		}
		if (r == 0)
			break;
		got += (size_t)r;
		if (got > max) {
			free(buf);
			return SBX_ETOOLARGE;
		}
	}
	buf[got] = '\0';
	*data = buf;
	*len = got;
	return SBX_OK;
}

enum sbx_err local_read_file(struct sbx_provider *p, const char *id,
    const char *path, size_t max, char **data, size_t *len,
    struct sbx_error *why)
{
	(void)why; /* nothing to add to the code (local_provider.c) */
	struct local_impl *li = local_impl_of(p);
	char base[NAME_MAX + 1];
	struct stat st;
	enum sbx_err err;
	int dfd, fd;

	if (id == NULL || path == NULL || data == NULL || len == NULL)
		return SBX_EINVAL;
	*data = NULL;
	*len = 0;
	if (max == 0 || max > (size_t)li->lim.file_bytes)
		max = (size_t)li->lim.file_bytes;
	if ((err = open_parent(li, id, path, 0, &dfd, base)) != SBX_OK)
		return err;
	/* O_NONBLOCK: a FIFO planted in the sandbox must not hang us. */
	fd = openat(dfd, base, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	err = fd < 0 ? local_errno(errno) : SBX_OK;
	close(dfd);
	if (err != SBX_OK)
		return err;
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode))
		err = SBX_EINVAL;
	else if ((unsigned long long)st.st_size > max)
		err = SBX_ETOOLARGE;
	else
		err = read_all(fd, (size_t)st.st_size, max, data, len);
	close(fd);
	return err;
}

static int entry_cmp(const void *a, const void *b)
{
	return strcmp(((const struct sbx_file_entry *)a)->name,
	    ((const struct sbx_file_entry *)b)->name);
}

enum sbx_err local_list_files(struct sbx_provider *p, const char *id,
    const char *path, struct sbx_file_list *out, struct sbx_error *why)
{
	(void)why; /* nothing to add to the code (local_provider.c) */
	struct local_impl *li = local_impl_of(p);
	struct sbx_file_list l = { NULL, 0 };
	struct sbx_file_entry *grown;
	char rel[PATH_MAX];
	struct dirent *de;
	struct stat st;
	enum sbx_err err;
	size_t cap = 0;
	int homefd, dfd;
	DIR *d;

	if (id == NULL || out == NULL)
		return SBX_EINVAL;
	if ((err = local_path_normalise(path, rel, sizeof(rel))) != SBX_OK)
		return err;
	if ((err = local_open_ready_home(li, id, &homefd)) != SBX_OK)
		return err;
	err = local_open_dir(li, homefd, rel, 0, &dfd);
	close(homefd);
	if (err != SBX_OK)
		return err;
	if ((d = fdopendir(dfd)) == NULL) {
		close(dfd);
		return SBX_EIO;
	}
	while ((de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 ||
		    strcmp(de->d_name, "..") == 0)
			continue;
		if (fstatat(dirfd(d), de->d_name, &st,
		    AT_SYMLINK_NOFOLLOW) != 0)
			continue; /* deleted while we listed */
		if (l.count == cap) {
			cap = cap ? cap * 2 : 16;
			grown = realloc(l.entries, cap * sizeof(*grown));
			if (grown == NULL)
				goto nomem;
			l.entries = grown;
		}
		if ((l.entries[l.count].name = strdup(de->d_name)) == NULL)
			goto nomem;
		l.entries[l.count].is_dir = S_ISDIR(st.st_mode);
		l.entries[l.count].size = (long long)st.st_size;
		l.entries[l.count].mtime = (long long)st.st_mtime;
		l.entries[l.count].mtime_ms = (long long)st.st_mtim.tv_sec *
		    1000 + st.st_mtim.tv_nsec / 1000000;
		l.count++;
	}
	closedir(d);
	if (l.count > 1)
		qsort(l.entries, l.count, sizeof(*l.entries), entry_cmp);
	*out = l;
	return SBX_OK;
nomem:
	closedir(d);
	sbx_file_list_free(&l);
	return SBX_ENOMEM;
}
