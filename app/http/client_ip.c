/*
 * client_ip.c -- the client address of a request (client_ip.h).
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "client_ip.h"

#define ADDR_TEXT_MAX 64 /* longer than any address with port and zone */

static int blank(char c)
{
	return c == ' ' || c == '\t';
}

/* Trim blanks from both ends of s[0..*len). */
static const char *trim(const char *s, size_t *len)
{
	while (*len > 0 && blank(*s)) {
		s++;
		(*len)--;
	}
	while (*len > 0 && blank(s[*len - 1]))
		(*len)--;
	return s;
}

static int all_digits(const char *s, size_t len)
{
	if (len == 0)
		return 0;
	for (size_t i = 0; i < len; i++)
		if (s[i] < '0' || s[i] > '9')
			return 0;
	return 1;
}

static void set_v4(struct client_ip *out, const unsigned char *b)
{
	memset(out, 0, sizeof(*out));
	out->family = AF_INET;
	memcpy(out->addr, b, 4);
}

/* The text of one address, without brackets, port or zone, into 'buf'. */
static int strip(const char *s, size_t len, char *buf, size_t size)
{
	const char *colon, *pct;

	if (len > 0 && s[0] == '[') {
		const char *close = memchr(s, ']', len);
		size_t rest;

		if (close == NULL)
			return -1;
		rest = len - (size_t)(close + 1 - s);
		if (rest > 0 && (close[1] != ':' ||
		    !all_digits(close + 2, rest - 1)))
			return -1;
		s++;
		len = (size_t)(close - s);
	} else if ((colon = memchr(s, ':', len)) != NULL &&
	    memchr(colon + 1, ':', len - (size_t)(colon + 1 - s)) == NULL) {
		/* One colon: "a.b.c.d:port" (IPv6 has at least two). */
		if (!all_digits(colon + 1, len - (size_t)(colon + 1 - s)))
			return -1;
		len = (size_t)(colon - s);
	}
	if ((pct = memchr(s, '%', len)) != NULL)
		len = (size_t)(pct - s);
	if (len == 0 || len >= size)
		return -1;
	memcpy(buf, s, len);
	buf[len] = '\0';
	return 0;
}

int client_ip_parse(const char *s, size_t len, struct client_ip *out)
{
	static const unsigned char mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0,
	    0, 0xff, 0xff };
	char buf[ADDR_TEXT_MAX];
	unsigned char b[16];

	if (s == NULL)
		return -1;
	s = trim(s, &len);
	if (strip(s, len, buf, sizeof(buf)) != 0)
		return -1;
	if (inet_pton(AF_INET, buf, b) == 1) {
		set_v4(out, b);
		return 0;
	}
	if (inet_pton(AF_INET6, buf, b) != 1)
		return -1;
	if (memcmp(b, mapped, sizeof(mapped)) == 0) {
		set_v4(out, b + 12);
		return 0;
	}
	memset(out, 0, sizeof(*out));
	out->family = AF_INET6;
	memcpy(out->addr, b, 16);
	return 0;
}

/* One list entry, "addr" or "addr/bits". */
static const char *parse_net(const char *s, size_t len,
    struct client_ip_net *net)
{
	const char *slash = memchr(s, '/', len);
	struct client_ip a;
	unsigned bits = 0, max;
	size_t alen = slash ? (size_t)(slash - s) : len;

	if (client_ip_parse(s, alen, &a) != 0)
		return "must be a comma-separated list of IP addresses or "
		    "CIDR prefixes (such as 127.0.0.1, ::1, 10.0.0.0/8)";
	max = a.family == AF_INET ? 32 : 128;
	bits = max;
	if (slash != NULL) {
		size_t blen = len - alen - 1;

		if (!all_digits(slash + 1, blen) || blen > 3)
			return "has a prefix length that is not a number";
		bits = 0;
		for (size_t i = 0; i < blen; i++)
			bits = bits * 10 + (unsigned)(slash[1 + i] - '0');
		if (bits > max)
			return "has a prefix length beyond the address size";
	}
	net->family = a.family;
	memcpy(net->addr, a.addr, sizeof(net->addr));
	net->bits = bits;
	return NULL;
}

const char *client_ip_trust_parse(const char *list,
    struct client_ip_trust *out)
{
	const char *p = list;

	out->n = 0;
	if (list == NULL)
		return NULL;
	while (*p != '\0') {
		size_t len = strcspn(p, ",");
		const char *item = p, *why;

		p += len;
		if (*p == ',')
			p++;
		item = trim(item, &len);
		if (len == 0)
			continue; /* "a,,b" and a trailing comma: tolerated */
		if (out->n == CLIENT_IP_TRUST_MAX)
			return "must list at most 32 addresses or prefixes";
		if ((why = parse_net(item, len, &out->nets[out->n])) != NULL)
			return why;
		out->n++;
	}
	return NULL;
}

const char *client_ip_check_list(char *value)
{
	struct client_ip_trust t;

	if (value == NULL)
		return "must be a comma-separated list of IP addresses or "
		    "CIDR prefixes";
	return client_ip_trust_parse(value, &t);
}

static int in_net(const struct client_ip_net *n, const struct client_ip *a)
{
	unsigned whole = n->bits / 8, rest = n->bits % 8;

	if (n->family != a->family)
		return 0;
	if (memcmp(n->addr, a->addr, whole) != 0)
		return 0;
	if (rest == 0)
		return 1;
	return ((n->addr[whole] ^ a->addr[whole]) &
	    (unsigned char)(0xff << (8 - rest))) == 0;
}

int client_ip_trusted(const struct client_ip_trust *t,
    const struct client_ip *a)
{
	if (t == NULL || a->family == 0)
		return 0;
	for (size_t i = 0; i < t->n; i++)
		if (in_net(&t->nets[i], a))
			return 1;
	return 0;
}

void client_ip_resolve(const char *remote_addr, const char *xff,
    const struct client_ip_trust *t, struct client_ip *out)
{
	struct client_ip cur;
	size_t end;

	memset(out, 0, sizeof(*out));
	if (remote_addr == NULL ||
	    client_ip_parse(remote_addr, strlen(remote_addr), &cur) != 0)
		return; /* unknown */
	*out = cur;
	if (xff == NULL || !client_ip_trusted(t, &cur))
		return;
	/* From the right: each hop appended the address it saw. */
	end = strlen(xff);
	for (int n = 0; n < CLIENT_IP_XFF_MAX && end > 0; n++) {
		size_t start = end;
		struct client_ip e;

		while (start > 0 && xff[start - 1] != ',')
			start--;
		if (client_ip_parse(xff + start, end - start, &e) != 0)
			break;
		*out = e;
		if (!client_ip_trusted(t, &e))
			break;
		end = start > 0 ? start - 1 : 0;
	}
}

size_t client_ip_key(const struct client_ip *a,
    unsigned char out[CLIENT_IP_KEY_MAX])
{
	out[0] = (unsigned char)(a->family == AF_INET ? 4 :
	    a->family == AF_INET6 ? 6 : 0);
	if (a->family == AF_INET) {
		memcpy(out + 1, a->addr, 4);
		return 5;
	}
	if (a->family == AF_INET6) {
		memcpy(out + 1, a->addr, 8); /* the /64 */
		return 9;
	}
	return 1;
}

void client_ip_format(const struct client_ip *a, char *buf, size_t len)
{
	unsigned char b[16];
	char text[INET6_ADDRSTRLEN];

	if (len == 0)
		return;
	if (a->family == AF_INET &&
	    inet_ntop(AF_INET, a->addr, text, sizeof(text)) != NULL) {
		snprintf(buf, len, "%s", text);
		return;
	}
	if (a->family == AF_INET6) {
		memset(b, 0, sizeof(b));
		memcpy(b, a->addr, 8);
		if (inet_ntop(AF_INET6, b, text, sizeof(text)) != NULL) {
			snprintf(buf, len, "%s/64", text);
			return;
		}
	}
	snprintf(buf, len, "unknown");
}
