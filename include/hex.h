/*
 * hex.h -- bytes as hexadecimal text, for Omni's ids (request ids,
 * sandbox names, multipart boundaries, cgroup tags) and percent-encoding.
 * (The Inngest SDK, which depends on nothing of Omni's, has its own.)
 */
#ifndef OMNI_HEX_H
#define OMNI_HEX_H

#include <stddef.h>

/* Write the 2*n hex digits of 'in' to 'out' and a NUL ('out' holds
 * 2*n + 1 bytes); lower case, or upper case when 'upper'. */
void hex_encode(const unsigned char *in, size_t n, char *out, int upper);

#endif
