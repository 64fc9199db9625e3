/*
 * fuzz_util.h -- what every libFuzzer harness of tests/fuzz/ needs:
 * check(), which aborts (so libFuzzer saves the input) when an invariant
 * breaks, and an unpadded base64url encoder for harnesses that build
 * tokens.  Header-only, static inline: each harness gets its own copy.
 */
#ifndef OMNI_FUZZ_UTIL_H
#define OMNI_FUZZ_UTIL_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static inline void
check(int ok, const char *what)
{
	if (!ok) {
		fprintf(stderr, "invariant broken: %s\n", what);
		abort();
	}
}

/* Unpadded base64url of 'n' bytes of 'in' into 'out' (room for
 * 4 * n / 3 + 3 bytes), NUL-terminated; returns the length. */
static inline size_t
b64url_encode(const unsigned char *in, size_t n, char *out)
{
	static const char a[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
	size_t o = 0;
	uint32_t acc = 0;
	int bits = 0;

	for (size_t i = 0; i < n; i++) {
		acc = ((acc << 8) | in[i]) & 0xffffu;
		bits += 8;
		while (bits >= 6) {
			bits -= 6;
			out[o++] = a[(acc >> bits) & 63];
		}
	}
	if (bits > 0)
		out[o++] = a[(acc << (6 - bits)) & 63];
	out[o] = '\0';
	return o;
}

/*
 * Split 'data' at its first '\n' into a C string '*head' (what comes
 * before; all of it without a '\n') and the raw bytes after it, '*body'
 * of '*blen' bytes, each in its own allocation so ASan sees an over-read.
 * The caller frees both.  -1 when out of memory (nothing to free).
 */
static inline int
fuzz_split_line(const uint8_t *data, size_t size, char **head, char **body,
    size_t *blen)
{
	const uint8_t *nl = memchr(data, '\n', size);
	size_t hlen = nl != NULL ? (size_t)(nl - data) : size;

	*blen = nl != NULL ? size - hlen - 1 : 0;
	*head = malloc(hlen + 1);
	*body = malloc(*blen > 0 ? *blen : 1);
	if (*head == NULL || *body == NULL) {
		free(*head);
		free(*body);
		return -1;
	}
	memcpy(*head, data, hlen);
	(*head)[hlen] = '\0';
	if (*blen > 0)
		memcpy(*body, nl + 1, *blen);
	return 0;
}

#endif
