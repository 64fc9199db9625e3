/*
 * build_info.c -- the only file compiled with the version and revision
 * (build_info.h), so that a new commit rebuilds this file alone.
 */
#include "build_info.h"

#ifndef OMNI_VERSION
#define OMNI_VERSION "0.0.0"
#endif
#ifndef OMNI_REVISION
#define OMNI_REVISION "unknown"
#endif

const char omni_version[] = OMNI_VERSION;
const char omni_revision[] = OMNI_REVISION;
