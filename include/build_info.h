/*
 * build_info.h -- which build this is: the version (the repository's
 * VERSION file) and the git revision it was built from, both fixed at
 * compile time by the Makefile (OMNI_VERSION, OMNI_REVISION; a build
 * outside a git checkout, such as the image's, is given the revision as
 * a make variable).  Reported by --version and omni_build_info.
 */
#ifndef OMNI_BUILD_INFO_H
#define OMNI_BUILD_INFO_H

extern const char omni_version[];
extern const char omni_revision[];

#endif
