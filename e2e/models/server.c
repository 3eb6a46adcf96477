/* A model classic minitalk server. Prints "PID: <pid>" first, then each
 * message followed by '\n'. Decodes in the signal handler, as learners do;
 * the main loop prints, and ends a message after 100 ms of silence when the
 * wire has neither NUL nor length.
 *
 * --ack KIND, the acknowledgement variants of the shared survey:
 *   none     nothing
 *   end      one SIGUSR1 at the end of each message
 *   first    one SIGUSR2 at the first bit of each new client
 *   bit      SIGUSR1 for every bit
 *   then     SIGUSR1 for every bit, SIGUSR2 instead of the last one
 *   plus     SIGUSR1 for every bit, then SIGUSR2 after the last
 *   echo     the signal received, for every bit
 *   usr2bit  SIGUSR2 for every bit, then SIGUSR1 at the end
 *   first2   two SIGUSR2 at the first bit of each new client
 *   reject   SIGUSR2 for every bit, and decodes nothing: a server busy
 *            with another client, turning this one away
 * --slow KIND, what slow learners' servers do in the handler, per byte or bit:
 *   join     the message joined a byte at a time: a new buffer, the whole
 *            message copied, the old one freed (printed at its end)
 *   write    a write(2) per byte
 *   printf   a printf on stderr per bit
 * --lead     the message begins after a NUL: bytes before one are dropped
 *            (a server that needs a leading NUL; a client that sends none
 *            gets nothing printed)
 * --gaps prints, on stderr at the end of each message, the longest time
 * between two signals of it (for choosing a silence timeout).
 * plus the wire flags of wire.h. */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <unistd.h>
#include <time.h>
#include "wire.h"

enum ack { NONE, END, FIRST, BIT, THEN, PLUS, ECHO, USR2BIT, FIRST2, REJECT };
enum slow { FAST, JOIN, WRITE, PRINTF };

static struct wire g_w;
static enum ack g_ack;
static enum slow g_slow;
static int g_lead;          /* --lead */
static int g_started;       /* --lead: the leading NUL came */
static char *g_joined;      /* --slow join: the message so far */
static unsigned long g_joined_len;

#define OUT_SIZE (1 << 22)
static volatile unsigned char g_out[OUT_SIZE];
static volatile unsigned long g_head; /* written by the handler */
static unsigned long g_tail;          /* read by main */

/* decoder state, touched by the handler (and by main with signals blocked) */
static unsigned long long g_acc;
static int g_nbits;
static int g_in_header;
static unsigned long long g_left; /* bytes left, with a header */
static int g_trailing;            /* expecting the NUL after the length */
static unsigned long g_msg_bytes;
static volatile pid_t g_client;
static pid_t g_last_client;
static volatile unsigned long long g_last_ns;
static int g_gaps;
static volatile unsigned long long g_max_gap_ns;
static volatile int g_gap_ready;

static unsigned long long now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (unsigned long long)ts.tv_sec * 1000000000ull + ts.tv_nsec;
}

static void send_sig(pid_t pid, int sig)
{
	if (pid > 0)
		kill(pid, sig);
}

static void put(unsigned char c)
{
	g_out[g_head % OUT_SIZE] = c;
	g_head = g_head + 1;
}

static void start_message(void)
{
	g_in_header = g_w.hdr_bits > 0;
	g_msg_bytes = 0;
	g_acc = 0;
	g_nbits = 0;
}

/* --slow join: a new buffer one byte longer, the whole message copied. */
static void join(unsigned char c)
{
	char *n = malloc(g_joined_len + 2);

	if (!n)
		return;
	if (g_joined)
		memcpy(n, g_joined, g_joined_len);
	n[g_joined_len++] = (char)c;
	n[g_joined_len] = 0;
	free(g_joined);
	g_joined = n;
}

/* A byte of the message, as --slow says. */
static void take_byte(unsigned char c)
{
	if (g_slow == JOIN)
		join(c);
	else if (g_slow == WRITE)
		(void)!write(1, &c, 1);
	else
		put(c);
}

static void end_message(void)
{
	unsigned long i;

	if (g_gaps)
		g_gap_ready = 1;
	for (i = 0; i < g_joined_len; i++)
		put((unsigned char)g_joined[i]);
	free(g_joined);
	g_joined = NULL;
	g_joined_len = 0;
	if (g_slow == WRITE)
		(void)!write(1, "\n", 1);
	else
		put('\n');
	g_started = 0;
	g_trailing = g_w.hdr_bits > 0 && g_w.nul;
	start_message();
}

/* Takes one bit; returns 1 if it ended a message. */
static int take_bit(int bit)
{
	unsigned long long v;
	int width = g_in_header ? g_w.hdr_bits : 8;

	if (g_w.lsb)
		g_acc |= (unsigned long long)bit << g_nbits;
	else
		g_acc = (g_acc << 1) | (unsigned long long)bit;
	g_nbits++;
	if (g_nbits < width)
		return 0;
	v = g_acc;
	g_acc = 0;
	g_nbits = 0;
	if (g_trailing) {
		g_trailing = 0;
		if (v == 0)
			return 0; /* the NUL after the length */
	}
	if (g_in_header) {
		g_in_header = 0;
		g_left = v;
		if (g_left == 0) {
			end_message();
			return 1;
		}
		return 0;
	}
	if (g_lead && !g_started) {
		g_started = v == 0;
		return 0;
	}
	if (g_w.hdr_bits == 0 && g_w.nul && v == 0) {
		end_message();
		return 1;
	}
	take_byte((unsigned char)v);
	g_msg_bytes++;
	if (g_w.hdr_bits > 0 && --g_left == 0) {
		end_message();
		return 1;
	}
	return 0;
}

static void handler(int sig, siginfo_t *info, void *ctx)
{
	pid_t pid = info->si_pid;
	int ended;

	(void)ctx;
	{
		unsigned long long t = now_ns();

		if (g_last_ns && !g_gap_ready && t - g_last_ns > g_max_gap_ns
		    && (g_msg_bytes > 0 || g_nbits > 0 || g_in_header))
			g_max_gap_ns = t - g_last_ns;
		g_last_ns = t;
	}
	if (pid > 0)
		g_client = pid;
	if (g_ack == REJECT) {
		send_sig(pid, SIGUSR2);
		return;
	}
	if (g_slow == PRINTF)
		fprintf(stderr, "bit %d\n", sig == g_w.one);
	ended = take_bit(sig == g_w.one);
	if (pid <= 0)
		return;
	switch (g_ack) {
	case NONE:
		break;
	case END:
		if (ended)
			send_sig(pid, SIGUSR1);
		break;
	case FIRST:
		if (pid != g_last_client)
			send_sig(pid, SIGUSR2);
		break;
	case FIRST2:
		if (pid != g_last_client) {
			send_sig(pid, SIGUSR2);
			send_sig(pid, SIGUSR2);
		}
		break;
	case REJECT:
		break;
	case BIT:
		send_sig(pid, SIGUSR1);
		break;
	case THEN:
		send_sig(pid, ended ? SIGUSR2 : SIGUSR1);
		break;
	case PLUS:
		send_sig(pid, SIGUSR1);
		if (ended)
			send_sig(pid, SIGUSR2);
		break;
	case ECHO:
		send_sig(pid, sig);
		break;
	case USR2BIT:
		send_sig(pid, SIGUSR2);
		if (ended)
			send_sig(pid, SIGUSR1);
		break;
	}
	g_last_client = pid;
}

static enum ack parse_ack(const char *s)
{
	static const char *names[] = {"none", "end", "first", "bit", "then", "plus", "echo", "usr2bit", "first2", "reject"};
	int i;

	for (i = 0; i < 10; i++)
		if (!strcmp(s, names[i]))
			return (enum ack)i;
	fprintf(stderr, "unknown --ack %s\n", s);
	exit(2);
}

int main(int argc, char **argv)
{
	struct sigaction sa;
	sigset_t both, old;
	int i;

	wire_init(&g_w);
	g_ack = NONE;
	for (i = 1; i < argc; i++) {
		if (wire_flag(&g_w, argv[i]))
			continue;
		if (!strcmp(argv[i], "--gaps"))
			g_gaps = 1;
		else if (!strcmp(argv[i], "--ack") && i + 1 < argc)
			g_ack = parse_ack(argv[++i]);
		else if (!strcmp(argv[i], "--lead"))
			g_lead = 1;
		else if (!strcmp(argv[i], "--slow") && i + 1 < argc) {
			i++;
			if (!strcmp(argv[i], "join"))
				g_slow = JOIN;
			else if (!strcmp(argv[i], "write"))
				g_slow = WRITE;
			else if (!strcmp(argv[i], "printf"))
				g_slow = PRINTF;
			else {
				fprintf(stderr, "unknown --slow %s\n", argv[i]);
				return 2;
			}
		}
		else {
			fprintf(stderr, "usage: server [--ack KIND] [--slow KIND] [--lead] [--lsb] [--usr1] [--none] [--len32|--len64]\n");
			return 2;
		}
	}
	start_message();
	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = handler;
	sa.sa_flags = SA_SIGINFO | SA_RESTART;
	sigemptyset(&sa.sa_mask);
	sigaddset(&sa.sa_mask, SIGUSR1);
	sigaddset(&sa.sa_mask, SIGUSR2);
	sigaction(SIGUSR1, &sa, NULL);
	sigaction(SIGUSR2, &sa, NULL);
	both = sa.sa_mask;
	printf("PID: %d\n", getpid());
	fflush(stdout);
	for (;;) {
		usleep(2000);
		/* Signals are blocked only to end a message by silence: blocked
		 * longer, two equal signals would merge into one. */
		if (g_w.hdr_bits == 0 && !g_w.nul && g_last_ns
		    && now_ns() - g_last_ns > 100000000ull) {
			sigprocmask(SIG_BLOCK, &both, &old);
			if (now_ns() - g_last_ns > 100000000ull
			    && (g_msg_bytes > 0 || g_nbits > 0)) {
				end_message();
				if (g_ack == END)
					send_sig(g_client, SIGUSR1);
			}
			sigprocmask(SIG_SETMASK, &old, NULL);
		}
		if (g_gap_ready) {
			fprintf(stderr, "max gap %llu us\n", g_max_gap_ns / 1000);
			g_max_gap_ns = 0;
			g_gap_ready = 0;
		}
		while (g_tail != g_head) {
			unsigned long n = 0;
			static char buf[4096];

			while (g_tail != g_head && n < sizeof(buf))
				buf[n++] = g_out[g_tail++ % OUT_SIZE];
			if (write(1, buf, n) < 0)
				return 1;
		}
	}
}
