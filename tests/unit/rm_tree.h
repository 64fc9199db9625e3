/*
 * rm_tree.h -- removing a test's temporary directory tree, depth first,
 * without following symlinks (a test may plant one that points outside).
 * Header-only, static: each test file that includes it gets its own copy.
 */
#ifndef OMNI_TEST_RM_TREE_H
#define OMNI_TEST_RM_TREE_H

#include <ftw.h>
#include <stdio.h>
#include <sys/stat.h>

static inline int rm_tree_entry(const char *path, const struct stat *st, int flag,
    struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

/* Remove 'dir' and everything under it; errors are ignored (cleanup). */
static inline void rm_tree(const char *dir)
{
	(void)nftw(dir, rm_tree_entry, 16, FTW_DEPTH | FTW_PHYS);
}

#endif
