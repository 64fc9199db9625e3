/*
 * local_internal.h -- shared between the files of the local provider
 * (local_provider.c: lifecycle and state, local_fs.c: confined file
 * access, local_exec.c: commands under bubblewrap).  Not for other modules:
 * the public side is include/sandbox_local.h.
 */
#ifndef OMNI_LOCAL_INTERNAL_H
#define OMNI_LOCAL_INTERNAL_H

#include <stddef.h>

#include "sandbox.h"
#include "sandbox_local.h"

struct local_impl {
	char *root;       /* absolute DATA_DIR/sandboxes */
	int rootfd;       /* open O_DIRECTORY on root, for the *at() calls */
	char *bwrap;      /* absolute path of bwrap, NULL when not isolated */
	int isolated;     /* commands run under bwrap */
	int unsandboxed;  /* running without bwrap is allowed */
	struct sbx_local_limits lim; /* defaults applied */
};

static inline struct local_impl *local_impl_of(struct sbx_provider *p)
{
	return (struct local_impl *)p->impl;
}

/* Is 'id' the shape of a local sandbox id ("omni-" + 32 hex)? */
int local_id_valid(const char *id);

/*
 * Open the live sandbox 'id' and return its directory fd in '*dirfd'
 * (caller closes).  'lock' is 0, LOCK_SH or LOCK_EX: the lock is held on
 * the fd (released by close).  SBX_ENOTFOUND when it does not exist (or
 * was removed while we waited for the lock).
 */
enum sbx_err local_open(struct local_impl *li, const char *id, int lock,
    int *dirfd);

/*
 * Open 'id', check it is ready, and return an fd on its home/ directory
 * in '*homefd' (caller closes).  SBX_ECONFLICT when it is not ready.
 */
enum sbx_err local_open_ready_home(struct local_impl *li, const char *id,
    int *homefd);

/*
 * Resolve 'path' (relative to the home, or absolute under SBX_LOCAL_HOME)
 * into its components under 'homefd'.  Writes the normalised relative path
 * ("" for the home itself) into 'rel' (rel_len bytes).  SBX_EINVAL for
 * '..', absolute paths elsewhere, NUL-free but empty components are
 * skipped.
 */
enum sbx_err local_path_normalise(const char *path, char *rel,
    size_t rel_len);

/*
 * Open the directory 'rel' (normalised, "" = the home) under 'homefd'
 * without following any symlink.  With 'create' missing directories are
 * made.  Returns SBX_OK with '*fd' (caller closes), SBX_ENOTFOUND,
 * SBX_EINVAL (a component is a symlink or not a directory) or SBX_EIO.
 */
enum sbx_err local_open_dir(int homefd, const char *rel, int create,
    int *fd);

/* Map an errno of a confined open to an sbx_err. */
enum sbx_err local_errno(int e);

/* local_fs.c: the file primitives of struct sbx_ops. */
enum sbx_err local_write_file(struct sbx_provider *p, const char *id,
    const char *path, const void *data, size_t len);
enum sbx_err local_read_file(struct sbx_provider *p, const char *id,
    const char *path, size_t max, char **data, size_t *len);
enum sbx_err local_list_files(struct sbx_provider *p, const char *id,
    const char *path, struct sbx_file_list *out);

/* Remove the directory 'name' under 'dirfd' and everything below it,
 * never following a symlink.  0 or -1 (errno set). */
int local_rm_tree(int dirfd, const char *name);

/* local_exec.c */
enum sbx_err local_exec(struct sbx_provider *p, const char *id,
    const char *command, const struct sbx_exec_opts *opts,
    struct sbx_exec_result *out);

/*
 * Run `true` under bwrap with the same sandbox arguments as a command, in
 * a throw-away directory under the root.  SBX_OK if it exits 0; otherwise
 * SBX_EISOLATION with bwrap's own message in 'detail'.
 */
enum sbx_err local_probe_bwrap(struct local_impl *li, const char *bwrap,
    char *detail, size_t detail_len);

#endif
