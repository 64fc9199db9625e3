/*
 * local_template.c -- the founder workspace laid into every new local
 * sandbox home (OMNI_WORKSPACE_TEMPLATE, normally sandbox-image/workspace/).
 *
 * The template is checked once, when the provider starts: only
 * directories and regular files, at most TEMPLATE_MAX_DEPTH deep,
 * TEMPLATE_MAX_ENTRIES entries and TEMPLATE_MAX_BYTES in all, so that a
 * symlink or a device in it can never become part of a sandbox and a huge
 * tree cannot slow every create.  Each create then copies it into the
 * staging home before the sandbox appears (local_provider.c), the copies
 * owned by the sandbox user, directories 0755 and files 0644 whatever the
 * template's modes.  Every path is opened with O_NOFOLLOW relative to its
 * parent: a template changed between the check and a copy is refused
 * rather than followed.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "local_internal.h"
#include "log.h"

#define TEMPLATE_MAX_DEPTH   8
#define TEMPLATE_MAX_ENTRIES 2000
#define TEMPLATE_MAX_BYTES   (16L << 20)

struct walk {
	long entries;
	long long bytes;
	char why[160];
};

static int open_dir_at(int parent, const char *name)
{
	return openat(parent, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
	    O_CLOEXEC);
}

/* One entry of a template directory: 0, or -1 with 'w->why' set. */
static int check_entry(int dirfd, const char *name, int depth,
    struct walk *w);

static int check_dir(int fd, int depth, struct walk *w)
{
	struct dirent *de;
	DIR *d = fdopendir(fd);
	int rc = 0;

	if (d == NULL) {
		close(fd);
		snprintf(w->why, sizeof(w->why), "cannot read a directory");
		return -1;
	}
	while (rc == 0 && (de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		rc = check_entry(dirfd(d), de->d_name, depth, w);
	}
	closedir(d);
	return rc;
}

static int check_entry(int dirfd, const char *name, int depth,
    struct walk *w)
{
	struct stat st;
	int fd;

	if (++w->entries > TEMPLATE_MAX_ENTRIES) {
		snprintf(w->why, sizeof(w->why), "more than %d entries",
		    TEMPLATE_MAX_ENTRIES);
		return -1;
	}
	if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) != 0) {
		snprintf(w->why, sizeof(w->why), "cannot stat %.80s", name);
		return -1;
	}
	if (S_ISREG(st.st_mode)) {
		w->bytes += st.st_size;
		if (w->bytes > TEMPLATE_MAX_BYTES) {
			snprintf(w->why, sizeof(w->why), "more than %ld bytes",
			    TEMPLATE_MAX_BYTES);
			return -1;
		}
		return 0;
	}
	if (!S_ISDIR(st.st_mode)) {
		snprintf(w->why, sizeof(w->why), "%.80s is not a regular file "
		    "or a directory (symlinks are refused)", name);
		return -1;
	}
	if (depth + 1 > TEMPLATE_MAX_DEPTH) {
		snprintf(w->why, sizeof(w->why), "deeper than %d levels",
		    TEMPLATE_MAX_DEPTH);
		return -1;
	}
	if ((fd = open_dir_at(dirfd, name)) < 0) {
		snprintf(w->why, sizeof(w->why), "cannot open %.80s", name);
		return -1;
	}
	return check_dir(fd, depth + 1, w);
}

int local_template_open(const char *path, int *out, char *why, size_t len)
{
	struct walk w = { 0 };
	int fd, dup_fd;

	*out = -1;
	if (path == NULL || path[0] == '\0')
		return 0;
	fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0) {
		snprintf(why, len, "OMNI_WORKSPACE_TEMPLATE: cannot open %s as "
		    "a directory: %s", path, strerror(errno));
		return -1;
	}
	/* check_dir() consumes its descriptor: walk another one. */
	dup_fd = openat(fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dup_fd < 0 || check_dir(dup_fd, 0, &w) != 0) {
		snprintf(why, len, "OMNI_WORKSPACE_TEMPLATE: %s: %s", path,
		    dup_fd < 0 ? "out of descriptors" : w.why);
		close(fd);
		return -1;
	}
	*out = fd;
	return 0;
}

/* Copy one regular file 'name' from 'src' into 'dst' (0644). */
static int copy_file(const struct local_impl *li, int src, int dst,
    const char *name)
{
	char buf[16384];
	ssize_t n = 0;
	int in, outfd, rc = 0;

	in = openat(src, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (in < 0)
		return -1;
	outfd = openat(dst, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW |
	    O_CLOEXEC, 0644);
	if (outfd < 0) {
		close(in);
		return -1;
	}
	while (rc == 0 && (n = read(in, buf, sizeof(buf))) > 0)
		for (ssize_t off = 0; rc == 0 && off < n;) {
			ssize_t w = write(outfd, buf + off, (size_t)(n - off));

			if (w < 0 && errno == EINTR)
				continue;
			if (w <= 0)
				rc = -1;
			else
				off += w;
		}
	if (n < 0)
		rc = -1;
	if (rc == 0)
		local_give_to_sandbox(li, outfd);
	close(in);
	if (close(outfd) != 0)
		rc = -1;
	return rc;
}

static int copy_dir(const struct local_impl *li, int src, int dst,
    int depth)
{
	struct dirent *de;
	struct stat st;
	DIR *d;
	int sfd, dfd, rc = 0;

	/* A new open file description, not a dup: creates on other threads
	 * read the same template, and a dup would share its offset. */
	if (depth > TEMPLATE_MAX_DEPTH ||
	    (sfd = openat(src, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
		return -1;
	if ((d = fdopendir(sfd)) == NULL) {
		close(sfd);
		return -1;
	}
	while (rc == 0 && (de = readdir(d)) != NULL) {
		const char *name = de->d_name;

		if (strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
			continue;
		if (fstatat(dirfd(d), name, &st, AT_SYMLINK_NOFOLLOW) != 0)
			rc = -1;
		else if (S_ISREG(st.st_mode))
			rc = copy_file(li, dirfd(d), dst, name);
		else if (!S_ISDIR(st.st_mode) || mkdirat(dst, name, 0755) != 0)
			rc = -1;   /* changed since the check: refuse */
		else if ((dfd = open_dir_at(dst, name)) < 0)
			rc = -1;
		else {
			int child = open_dir_at(dirfd(d), name);

			local_give_to_sandbox(li, dfd);
			rc = child < 0 ? -1 : copy_dir(li, child, dfd,
			    depth + 1);
			if (child >= 0)
				close(child);
			close(dfd);
		}
	}
	closedir(d);
	return rc;
}

enum sbx_err local_template_lay(const struct local_impl *li, int homefd)
{
	if (li->templatefd < 0)
		return SBX_OK;
	if (copy_dir(li, li->templatefd, homefd, 0) != 0) {
		log_msg(LOG_ERROR, "sandbox.local.template",
		    "cannot lay the workspace template into a new sandbox "
		    "(errno %d)", errno);
		return SBX_EIO;
	}
	return SBX_OK;
}
