/*
 * test_client_ip.c -- unit tests for app/http/client_ip.c: parsing
 * addresses and OMNI_TRUSTED_PROXIES, and which address X-Forwarded-For
 * may name depending on who sent it.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "client_ip.h"

static void
fmt(const struct client_ip *a, char *buf, size_t len)
{
	client_ip_format(a, buf, len);
}

/* Parse 's' and return its formatted key ("" when it does not parse). */
static const char *
parsed(const char *s)
{
	static char buf[CLIENT_IP_TEXT_MAX];
	struct client_ip a;

	if (client_ip_parse(s, strlen(s), &a) != 0)
		return "";
	fmt(&a, buf, sizeof(buf));
	return buf;
}

static void
test_parse_forms(void **state)
{
	(void)state;
	assert_string_equal(parsed("192.0.2.7"), "192.0.2.7");
	assert_string_equal(parsed("  192.0.2.7\t"), "192.0.2.7");
	assert_string_equal(parsed("192.0.2.7:51234"), "192.0.2.7");
	assert_string_equal(parsed("::ffff:192.0.2.7"), "192.0.2.7");
	assert_string_equal(parsed("2001:db8:1:2:3:4:5:6"),
	    "2001:db8:1:2::/64");
	assert_string_equal(parsed("[2001:db8:1:2::9]"), "2001:db8:1:2::/64");
	assert_string_equal(parsed("[2001:db8:1:2::9]:443"),
	    "2001:db8:1:2::/64");
	assert_string_equal(parsed("fe80::1%eth0"), "fe80::/64");
	assert_string_equal(parsed("::1"), "::/64");
}

static void
test_parse_rejects_garbage(void **state)
{
	static const char *const bad[] = { "", " ", "unknown", "192.0.2",
	    "192.0.2.256", "192.0.2.7:", "192.0.2.7:80x", "[::1", "[::1]x",
	    "[::1]:", "10.0.0.0/8", "1.2.3.4 5.6.7.8", "::1::2" };
	char longer[80];
	struct client_ip a;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(client_ip_parse(bad[i], strlen(bad[i]), &a),
		    -1);
	/* Longer than any address: refused, not cut to something valid. */
	memset(longer, '1', sizeof(longer));
	memcpy(longer, "1.2.3.4", 7);
	assert_int_equal(client_ip_parse(longer, sizeof(longer), &a), -1);
	assert_int_equal(client_ip_parse(NULL, 0, &a), -1);
}

static void
test_trust_list_parses_and_matches(void **state)
{
	struct client_ip_trust t;
	struct client_ip a;

	(void)state;
	assert_null(client_ip_trust_parse("127.0.0.1,::1", &t));
	assert_int_equal(t.n, 2);
	assert_null(client_ip_trust_parse(" 10.0.0.0/8 , 2001:db8::/32,",
	    &t));
	assert_int_equal(t.n, 2);
	assert_int_equal(client_ip_parse("10.200.3.4", 10, &a), 0);
	assert_true(client_ip_trusted(&t, &a));
	assert_int_equal(client_ip_parse("11.0.0.1", 8, &a), 0);
	assert_false(client_ip_trusted(&t, &a));
	assert_int_equal(client_ip_parse("2001:db8:ffff::1", 16, &a), 0);
	assert_true(client_ip_trusted(&t, &a));
	assert_int_equal(client_ip_parse("2001:db9::1", 11, &a), 0);
	assert_false(client_ip_trusted(&t, &a));
	/* Prefix lengths that are not a byte multiple. */
	assert_null(client_ip_trust_parse("192.0.2.64/26", &t));
	assert_int_equal(client_ip_parse("192.0.2.127", 11, &a), 0);
	assert_true(client_ip_trusted(&t, &a));
	assert_int_equal(client_ip_parse("192.0.2.128", 11, &a), 0);
	assert_false(client_ip_trusted(&t, &a));
	/* A v4 prefix never matches a v6 address and the other way. */
	assert_null(client_ip_trust_parse("0.0.0.0/0", &t));
	assert_int_equal(client_ip_parse("::2", 3, &a), 0);
	assert_false(client_ip_trusted(&t, &a));
	/* Empty: nobody is trusted. */
	assert_null(client_ip_trust_parse("", &t));
	assert_int_equal(t.n, 0);
	assert_false(client_ip_trusted(&t, &a));
}

static void
test_trust_list_rejects_bad_entries(void **state)
{
	static const char *const bad[] = { "localhost", "10.0.0.0/33",
	    "::/129", "10.0.0.0/x", "10.0.0.0/", "10.0.0.0/0008",
	    "127.0.0.1,nope" };
	char many[33 * 12 + 1] = "";
	struct client_ip_trust t;
	char copy[64];

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_non_null(client_ip_trust_parse(bad[i], &t));
	for (int i = 0; i < 33; i++)
		snprintf(many + strlen(many), sizeof(many) - strlen(many),
		    "10.0.0.%d,", i);
	assert_non_null(client_ip_trust_parse(many, &t));
	/* The config check has the same verdicts and leaves the text. */
	snprintf(copy, sizeof(copy), "127.0.0.1, ::1");
	assert_null(client_ip_check_list(copy));
	assert_string_equal(copy, "127.0.0.1, ::1");
	snprintf(copy, sizeof(copy), "10.0.0.0/33");
	assert_non_null(client_ip_check_list(copy));
	assert_non_null(client_ip_check_list(NULL));
}

/* The client resolved for REMOTE_ADDR 'ra', X-Forwarded-For 'xff' under
 * trust list 'list', formatted. */
static const char *
client(const char *list, const char *ra, const char *xff)
{
	static char buf[CLIENT_IP_TEXT_MAX];
	struct client_ip_trust t;
	struct client_ip a;

	assert_null(client_ip_trust_parse(list, &t));
	client_ip_resolve(ra, xff, &t, &a);
	fmt(&a, buf, sizeof(buf));
	return buf;
}

static void
test_forwarded_for_ignored_untrusted(void **state)
{
	(void)state;
	/* The usual production case: nginx is the edge, REMOTE_ADDR is the
	 * client, and whatever it wrote in X-Forwarded-For is ignored. */
	assert_string_equal(client("127.0.0.1,::1", "198.51.100.4",
	    "203.0.113.9"), "198.51.100.4");
	assert_string_equal(client("127.0.0.1,::1", "198.51.100.4", NULL),
	    "198.51.100.4");
	/* With no trusted proxy even loopback is taken at its word. */
	assert_string_equal(client("", "127.0.0.1", "203.0.113.9"),
	    "127.0.0.1");
}

static void
test_forwarded_for_from_trusted_peer(void **state)
{
	const char *lb = "127.0.0.1,10.0.0.0/8";

	(void)state;
	assert_string_equal(client(lb, "10.0.0.2", "203.0.113.9"),
	    "203.0.113.9");
	/* Trusted hops on the right are skipped. */
	assert_string_equal(client(lb, "127.0.0.1",
	    "203.0.113.9, 10.0.0.3, 10.0.0.2"), "203.0.113.9");
	/* What the client wrote left of the first untrusted hop is its own
	 * invention: the rightmost untrusted address wins. */
	assert_string_equal(client(lb, "10.0.0.2",
	    "192.0.2.1, 192.0.2.2, 203.0.113.9"), "203.0.113.9");
	/* Garbage stops the walk at the last address a trusted hop gave. */
	assert_string_equal(client(lb, "10.0.0.2", "bogus, 10.0.0.7"),
	    "10.0.0.7");
	assert_string_equal(client(lb, "10.0.0.2", "203.0.113.9,,"),
	    "10.0.0.2");
	/* Every hop trusted: the leftmost is as far as we can see. */
	assert_string_equal(client(lb, "127.0.0.1", "10.1.1.1, 127.0.0.1"),
	    "10.1.1.1");
	/* Trusted peer, no header: the peer. */
	assert_string_equal(client(lb, "10.0.0.2", NULL), "10.0.0.2");
	assert_string_equal(client(lb, "10.0.0.2", ""), "10.0.0.2");
	/* Ports and IPv6 in the header. */
	assert_string_equal(client(lb, "10.0.0.2", "[2001:db8::1]:1234"),
	    "2001:db8::/64");
}

static void
test_missing_remote_addr_is_unknown(void **state)
{
	(void)state;
	/* No REMOTE_ADDR (a front that does not send it): one shared
	 * "unknown" client, and the header cannot pick another. */
	assert_string_equal(client("127.0.0.1", "", "203.0.113.9"), "unknown");
	assert_string_equal(client("127.0.0.1", NULL, "203.0.113.9"),
	    "unknown");
	assert_string_equal(client("127.0.0.1", "garbage", NULL), "unknown");
}

static void
test_keys(void **state)
{
	unsigned char k1[CLIENT_IP_KEY_MAX], k2[CLIENT_IP_KEY_MAX];
	struct client_ip a, b;
	size_t n1, n2;

	(void)state;
	/* Two addresses of one /64 are one client ... */
	assert_int_equal(client_ip_parse("2001:db8:1:2::1", 15, &a), 0);
	assert_int_equal(client_ip_parse("2001:db8:1:2:ffff::9", 20, &b), 0);
	n1 = client_ip_key(&a, k1);
	n2 = client_ip_key(&b, k2);
	assert_int_equal(n1, 9);
	assert_memory_equal(k1, k2, n1);
	assert_int_equal(n1, n2);
	/* ... the next /64 is another. */
	assert_int_equal(client_ip_parse("2001:db8:1:3::1", 15, &b), 0);
	client_ip_key(&b, k2);
	assert_memory_not_equal(k1, k2, n1);
	/* An IPv4-mapped address is the IPv4 client. */
	assert_int_equal(client_ip_parse("192.0.2.7", 9, &a), 0);
	assert_int_equal(client_ip_parse("::ffff:192.0.2.7", 16, &b), 0);
	n1 = client_ip_key(&a, k1);
	n2 = client_ip_key(&b, k2);
	assert_int_equal(n1, 5);
	assert_int_equal(n2, 5);
	assert_memory_equal(k1, k2, n1);
	/* Unknown is a key of its own, not an empty one. */
	memset(&a, 0, sizeof(a));
	assert_int_equal(client_ip_key(&a, k1), 1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_forms),
		cmocka_unit_test(test_parse_rejects_garbage),
		cmocka_unit_test(test_trust_list_parses_and_matches),
		cmocka_unit_test(test_trust_list_rejects_bad_entries),
		cmocka_unit_test(test_forwarded_for_ignored_untrusted),
		cmocka_unit_test(test_forwarded_for_from_trusted_peer),
		cmocka_unit_test(test_missing_remote_addr_is_unknown),
		cmocka_unit_test(test_keys),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
