/* A model classic minitalk client: client [flags] PID MESSAGE.
 *   --pace US        self-paced: sleep US microseconds after each bit
 *   --catch SIGS     self-paced: catch none (default), usr1, usr2 or both
 *   --exit-on SIG    exit 0 on the first usr1 (or usr2) received
 *   --wait KIND      wait for an acknowledgement after each bit (catches both):
 *       bit   SIGUSR1 per bit; SIGUSR2 before the end is an error
 *       done  SIGUSR1 per bit; exits 0 on the first SIGUSR2 ("done"), and
 *             after the last bit waits for it
 *       echo  the signal it sent, per bit
 * plus the wire flags of wire.h. Exit 1 when no acknowledgement comes in 2 s. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <unistd.h>
#include <time.h>
#include "wire.h"

static volatile sig_atomic_t g_usr1;
static volatile sig_atomic_t g_usr2;
static int g_exit_on;

static void handler(int sig, siginfo_t *info, void *ctx)
{
	(void)info;
	(void)ctx;
	if (sig == SIGUSR1)
		g_usr1++;
	else
		g_usr2++;
	if (sig == g_exit_on)
		_exit(0);
}

static void sleep_us(long us)
{
	struct timespec ts = {us / 1000000, (us % 1000000) * 1000};

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

static struct wire g_w;
static int g_wait; /* 0, 'b' bit, 'd' done, 'e' echo */
static long g_pace = -1;
static pid_t g_server;

/* Waits until `cond` holds, 2 s at most. */
#define WAIT_FOR(cond)                                            \
	do {                                                      \
		long waited = 0;                                  \
		while (!(cond)) {                                 \
			if (waited >= 2000000) {                  \
				fprintf(stderr, "no acknowledgement\n"); \
				exit(1);                          \
			}                                         \
			usleep(20);                               \
			waited += 20;                             \
		}                                                 \
	} while (0)

static void send_bit(int bit, int last)
{
	int sig = bit ? g_w.one : wire_zero(&g_w);
	sig_atomic_t u1 = g_usr1, u2 = g_usr2;

	if (g_server <= 0)
		exit(2);
	if (kill(g_server, sig) < 0) {
		perror("kill");
		exit(1);
	}
	if (!g_wait) {
		sleep_us(g_pace);
		return;
	}
	if (g_wait == 'e') {
		if (sig == SIGUSR1)
			WAIT_FOR(g_usr1 != u1);
		else
			WAIT_FOR(g_usr2 != u2);
		return;
	}
	if (g_wait == 'd') {
		if (last)
			WAIT_FOR(g_usr2 != u2);
		else
			WAIT_FOR(g_usr1 != u1 || g_usr2 != u2);
		if (g_usr2 != u2)
			exit(0); /* done */
		return;
	}
	WAIT_FOR(g_usr1 != u1 || g_usr2 != u2);
	if (g_usr2 != u2 && !last) {
		fprintf(stderr, "server error\n");
		exit(1);
	}
}

static void send_value(unsigned long long v, int bits, int last)
{
	int i;

	for (i = 0; i < bits; i++) {
		int shift = g_w.lsb ? i : bits - 1 - i;

		send_bit((int)((v >> shift) & 1), last && i == bits - 1);
	}
}

int main(int argc, char **argv)
{
	struct sigaction sa;
	const char *msg;
	size_t len, i;
	int catch1 = 0, catch2 = 0, a;

	wire_init(&g_w);
	for (a = 1; a < argc; a++) {
		if (wire_flag(&g_w, argv[a]))
			continue;
		if (!strcmp(argv[a], "--pace") && a + 1 < argc)
			g_pace = atol(argv[++a]);
		else if (!strcmp(argv[a], "--catch") && a + 1 < argc) {
			a++;
			catch1 = !strcmp(argv[a], "usr1") || !strcmp(argv[a], "both");
			catch2 = !strcmp(argv[a], "usr2") || !strcmp(argv[a], "both");
		} else if (!strcmp(argv[a], "--exit-on") && a + 1 < argc) {
			a++;
			g_exit_on = !strcmp(argv[a], "usr1") ? SIGUSR1 : SIGUSR2;
		} else if (!strcmp(argv[a], "--wait") && a + 1 < argc) {
			g_wait = argv[++a][0];
		} else
			break;
	}
	if (argc - a != 2 || (g_pace < 0 && !g_wait)) {
		fprintf(stderr, "usage: client (--pace US [--catch S] | --wait bit|done|echo) [wire flags] PID MESSAGE\n");
		return 2;
	}
	g_server = atoi(argv[a]);
	if (g_server <= 0) {
		fprintf(stderr, "bad PID\n");
		return 2;
	}
	msg = argv[a + 1];
	if (g_wait)
		catch1 = catch2 = 1;
	if (g_exit_on == SIGUSR1)
		catch1 = 1;
	if (g_exit_on == SIGUSR2)
		catch2 = 1;
	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = handler;
	sa.sa_flags = SA_SIGINFO | SA_RESTART;
	sigemptyset(&sa.sa_mask);
	if (catch1)
		sigaction(SIGUSR1, &sa, NULL);
	if (catch2)
		sigaction(SIGUSR2, &sa, NULL);
	len = strlen(msg);
	if (g_w.hdr_bits)
		send_value(len, g_w.hdr_bits, len == 0 && !g_w.nul);
	for (i = 0; i < len; i++)
		send_value((unsigned char)msg[i], 8, i + 1 == len && !g_w.nul);
	if (g_w.nul)
		send_value(0, 8, 1);
	return 0;
}
