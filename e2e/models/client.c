/* A model classic minitalk client: client [flags] PID MESSAGE.
 *   --pace US        self-paced: sleep US microseconds after each bit
 *   --catch SIGS     self-paced: catch none (default), usr1, usr2 or both
 *   --exit-on SIG    exit 0 on the first usr1 (or usr2) received
 *   --wait KIND      wait for an acknowledgement after each bit (catches both):
 *       bit   SIGUSR1 per bit; SIGUSR2 before the end is an error
 *       done  SIGUSR1 per bit; exits 0 on the first SIGUSR2 ("done"), and
 *             after the last bit waits for it
 *       echo  the signal it sent, per bit
 *   --give-up US     wait at most US microseconds (of the clock) for each
 *                    acknowledgement, then exit 1 (default: 2 s counted in
 *                    20 us sleeps)
 *   --usr2-fails     (catches SIGUSR2) any SIGUSR2 means failure: after the transfer it takes
 *                    100 ms to exit (it prints, cleans up), and exits 1 if a
 *                    SIGUSR2 came at any time
 *   --spin-usr2      (catches SIGUSR2) after the transfer, spin at 100% CPU until a SIGUSR2
 *                    comes (exit 0); left spinning 10 s, exit 3
 *   --lead           a NUL first, then the message, a newline and the NUL
 *                    (a client of a server that needs a leading NUL)
 *   --per-byte       (catches both) self-paced bits (--pace), then wait 100 ms for a
 *                    SIGUSR1 per byte, resending the byte (5 tries at most,
 *                    then exit 1); after the NUL, wait 2 s for SIGUSR2
 * plus the wire flags of wire.h. Exit 1 when no acknowledgement comes in time. */
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
static long g_give_up; /* 0: the default wait */
static int g_usr2_fails, g_spin_usr2, g_per_byte, g_lead;
static pid_t g_server;

/* Microseconds since `t0`. */
static long since_us(const struct timespec *t0)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (t.tv_sec - t0->tv_sec) * 1000000L + (t.tv_nsec - t0->tv_nsec) / 1000;
}

/* Waits until `cond` holds: g_give_up microseconds of the clock with
 * --give-up, else 2 s counted in 20 us sleeps (longer on a loaded machine). */
#define WAIT_FOR(cond)                                            \
	do {                                                      \
		long waited = 0;                                  \
		struct timespec t0;                               \
		clock_gettime(CLOCK_MONOTONIC, &t0);              \
		while (!(cond)) {                                 \
			if (g_give_up ? since_us(&t0) >= g_give_up \
				      : waited >= 2000000) {      \
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

/* --per-byte: a byte's bits at the client's pace, then its acknowledgement
 * (any SIGUSR1 since the byte began), or the byte again. */
static void send_byte_acked(unsigned char c)
{
	int try;

	for (try = 0; try < 5; try++) {
		sig_atomic_t u1 = g_usr1;
		long waited = 0;

		send_value(c, 8, 0);
		while (g_usr1 == u1 && waited < 100000) {
			usleep(100);
			waited += 100;
		}
		if (g_usr1 != u1)
			return;
	}
	fprintf(stderr, "byte never acknowledged\n");
	exit(1);
}

/* After the transfer, as --usr2-fails and --spin-usr2 say. */
static int finish(void)
{
	if (g_spin_usr2) {
		struct timespec t0, t;

		clock_gettime(CLOCK_MONOTONIC, &t0);
		while (!g_usr2) {
			clock_gettime(CLOCK_MONOTONIC, &t);
			if (t.tv_sec - t0.tv_sec >= 10) {
				fprintf(stderr, "left spinning\n");
				return 3;
			}
		}
	}
	if (g_usr2_fails) {
		sleep_us(100000);
		if (g_usr2) {
			fprintf(stderr, "error: the server sent SIGUSR2\n");
			return 1;
		}
	}
	return 0;
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
		} else if (!strcmp(argv[a], "--give-up") && a + 1 < argc) {
			g_give_up = atol(argv[++a]);
		} else if (!strcmp(argv[a], "--usr2-fails")) {
			g_usr2_fails = 1;
		} else if (!strcmp(argv[a], "--spin-usr2")) {
			g_spin_usr2 = 1;
		} else if (!strcmp(argv[a], "--per-byte")) {
			g_per_byte = 1;
		} else if (!strcmp(argv[a], "--lead")) {
			g_lead = 1;
		} else
			break;
	}
	if (argc - a != 2 || (g_pace < 0 && !g_wait)) {
		fprintf(stderr, "usage: client (--pace US [--catch S] | --wait bit|done|echo) [--give-up US] [--usr2-fails] [--spin-usr2] [--per-byte] [--lead] [wire flags] PID MESSAGE\n");
		return 2;
	}
	g_server = atoi(argv[a]);
	if (g_server <= 0) {
		fprintf(stderr, "bad PID\n");
		return 2;
	}
	msg = argv[a + 1];
	if (g_wait || g_per_byte)
		catch1 = catch2 = 1;
	if (g_usr2_fails || g_spin_usr2)
		catch2 = 1;
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
	if (g_per_byte) {
		sig_atomic_t u2 = g_usr2;
		long waited = 0;

		for (i = 0; i < len; i++)
			send_byte_acked((unsigned char)msg[i]);
		send_value(0, 8, 1);
		while (g_usr2 == u2 && waited < 2000000) {
			usleep(100);
			waited += 100;
		}
		if (g_usr2 == u2) {
			fprintf(stderr, "no SIGUSR2 after the NUL\n");
			return 1;
		}
		return 0;
	}
	if (g_w.hdr_bits)
		send_value(len, g_w.hdr_bits, len == 0 && !g_w.nul);
	if (g_lead)
		send_value(0, 8, 0);
	for (i = 0; i < len; i++)
		send_value((unsigned char)msg[i], 8, i + 1 == len && !g_w.nul && !g_lead);
	if (g_lead)
		send_value('\n', 8, !g_w.nul);
	if (g_w.nul)
		send_value(0, 8, 1);
	return finish();
}
