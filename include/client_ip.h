/*
 * client_ip.h -- which client a request comes from, for rate limiting.
 *
 * What the front server passes: REMOTE_ADDR is the address of the TCP peer
 * of the front server itself (nginx's $remote_addr, Caddy's remote IP),
 * whatever socket carries FastCGI -- over Omni's unix socket there is no
 * other address to see.  With the shipped configurations the front is the
 * edge, so REMOTE_ADDR already is the client.  Only when REMOTE_ADDR is a
 * trusted proxy (OMNI_TRUSTED_PROXIES: a load balancer in front of the
 * front server, or anything on loopback by default) does X-Forwarded-For
 * count: it is read from the right, skipping trusted addresses, and the
 * first untrusted one is the client (the entries to its left were written
 * by whoever that client is, so they prove nothing).  An entry that is not
 * an address stops the walk at the last good one; when every entry is
 * trusted the leftmost is the client.  X-Real-IP is never read: no shipped
 * front sets it, so it would only ever carry what a client made up.
 *
 * A missing or unparseable REMOTE_ADDR (a front that does not send it)
 * gives the "unknown" client: all such requests share one budget, so a
 * misconfigured front limits too much rather than not at all.
 *
 * Keys: an IPv4 client is its address; an IPv6 client is its /64 (one
 * subscriber usually holds a whole /64 and could rotate through it);
 * IPv4-mapped IPv6 addresses count as IPv4.
 *
 * Nothing here allocates; everything is thread safe.
 */
#ifndef OMNI_CLIENT_IP_H
#define OMNI_CLIENT_IP_H

#include <stddef.h>

#define CLIENT_IP_TRUST_MAX 32   /* entries in OMNI_TRUSTED_PROXIES */
#define CLIENT_IP_KEY_MAX 9      /* family byte + at most 8 address bytes */
#define CLIENT_IP_TEXT_MAX 64    /* formatted key, "2001:db8::/64" */
#define CLIENT_IP_XFF_MAX 32     /* X-Forwarded-For entries examined */

struct client_ip {
	int family;              /* AF_INET, AF_INET6, or 0: unknown */
	unsigned char addr[16];  /* IPv4 in the first 4 bytes */
};

struct client_ip_net {
	int family;
	unsigned char addr[16];
	unsigned bits;           /* prefix length */
};

struct client_ip_trust {
	struct client_ip_net nets[CLIENT_IP_TRUST_MAX];
	size_t n;
};

/*
 * Parse one address: IPv4, IPv6 (optionally in brackets, with a zone
 * "%eth0" ignored), either optionally followed by ":port" (IPv6 only in
 * brackets), blanks around it ignored.  0, or -1 when it is not one.
 */
int client_ip_parse(const char *s, size_t len, struct client_ip *out);

/*
 * Parse a comma-separated list of addresses and CIDR prefixes
 * ("127.0.0.1, ::1, 10.0.0.0/8") into '*out'.  "" or NULL is the empty
 * list.  Returns NULL, or a static phrase saying what is wrong (the
 * cfgval_check_fn convention of config_values.h).
 */
const char *client_ip_trust_parse(const char *list,
    struct client_ip_trust *out);

/* cfgval_check_fn for OMNI_TRUSTED_PROXIES: the list above, unchanged. */
const char *client_ip_check_list(char *value);

/* Is 'a' inside one of the prefixes of 't'? */
int client_ip_trusted(const struct client_ip_trust *t,
    const struct client_ip *a);

/*
 * The client of a request: 'remote_addr' (REMOTE_ADDR, may be NULL) and
 * 'xff' (the X-Forwarded-For value, may be NULL) under 't', as described
 * at the top.  Always fills '*out' (family 0 for unknown).
 */
void client_ip_resolve(const char *remote_addr, const char *xff,
    const struct client_ip_trust *t, struct client_ip *out);

/* The bytes a client is counted under (see Keys above).  Returns their
 * number, at most CLIENT_IP_KEY_MAX. */
size_t client_ip_key(const struct client_ip *a,
    unsigned char out[CLIENT_IP_KEY_MAX]);

/* The key as text for logs: "192.0.2.7", "2001:db8:1:2::/64", "unknown". */
void client_ip_format(const struct client_ip *a, char *buf, size_t len);

#endif
