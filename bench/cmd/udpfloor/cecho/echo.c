/* The C echo server of udpfloor (see main.go): prints its UDP port, then answers every
   datagram with SIZE (argv[1], default 1100) bytes until its stdin closes. Blocking
   recvfrom/sendto in one thread: the least any agent's UDP path can cost. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

static int fd;
static size_t size = 1100;

static void *serve(void *unused) {
	static char buf[65536], answer[65536];
	struct sockaddr_in from;
	for (;;) {
		socklen_t len = sizeof from;
		if (recvfrom(fd, buf, sizeof buf, 0, (struct sockaddr *)&from, &len) < 0)
			continue;
		sendto(fd, answer, size, 0, (struct sockaddr *)&from, len);
	}
	return unused;
}

int main(int argc, char **argv) {
	struct sockaddr_in a = {0};
	socklen_t len = sizeof a;
	pthread_t t;
	char c;
	if (argc > 1 && (size = (size_t)atol(argv[1])) > 65536)
		size = 65536;
	a.sin_family = AF_INET;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if ((fd = socket(AF_INET, SOCK_DGRAM, 0)) < 0 || bind(fd, (struct sockaddr *)&a, sizeof a) < 0 ||
	    getsockname(fd, (struct sockaddr *)&a, &len) < 0) {
		perror("udpfloor echo");
		return 1;
	}
	printf("%d\n", ntohs(a.sin_port));
	fflush(stdout);
	pthread_create(&t, NULL, serve, NULL);
	while (read(0, &c, 1) > 0) /* until stdin closes */
		;
	return 0;
}
