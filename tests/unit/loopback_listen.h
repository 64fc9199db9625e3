/*
 * loopback_listen.h -- a listening TCP socket on 127.0.0.1 with a port
 * the kernel picks, for the tests that need something to connect to.
 * Header-only, static inline: each test file gets its own copy.
 */
#ifndef OMNI_TEST_LOOPBACK_LISTEN_H
#define OMNI_TEST_LOOPBACK_LISTEN_H

#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* The socket (O_CLOEXEC, listening) with its port in '*port', or -1. */
static inline int listen_loopback(int *port)
{
	struct sockaddr_in a;
	socklen_t len = sizeof(a);
	int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (s < 0)
		return -1;
	memset(&a, 0, sizeof(a));
	a.sin_family = AF_INET;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (bind(s, (struct sockaddr *)&a, sizeof(a)) != 0 ||
	    listen(s, 8) != 0 ||
	    getsockname(s, (struct sockaddr *)&a, &len) != 0) {
		close(s);
		return -1;
	}
	*port = ntohs(a.sin_port);
	return s;
}

#endif
