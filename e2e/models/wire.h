/* The classic 42 wire, shared by the model client and server: which signal
 * means 1, the bit order, how a message ends. Parsed from the command line:
 *   --lsb        least significant bit first (default: most significant)
 *   --usr1       SIGUSR1 means 1 (default: SIGUSR2)
 *   --none       no NUL after the message (default: a NUL ends it)
 *   --len32      the length in bytes first, 32 bits, in the data's bit order
 *   --len64      the same, 64 bits
 * A model of what learners write, kept correct: never signals a PID <= 0. */
#ifndef WIRE_H
#define WIRE_H

#include <string.h>
#include <signal.h>

struct wire {
	int lsb;
	int one;      /* the signal that means 1 */
	int nul;      /* a NUL ends the message (after the length, if any) */
	int hdr_bits; /* 0, 32 or 64 */
};

/* Returns 1 if arg is a wire flag (and applies it). */
static inline int wire_flag(struct wire *w, const char *arg)
{
	if (!strcmp(arg, "--lsb"))
		w->lsb = 1;
	else if (!strcmp(arg, "--usr1"))
		w->one = SIGUSR1;
	else if (!strcmp(arg, "--none"))
		w->nul = 0;
	else if (!strcmp(arg, "--len32"))
		w->hdr_bits = 32;
	else if (!strcmp(arg, "--len64"))
		w->hdr_bits = 64;
	else
		return 0;
	return 1;
}

static inline void wire_init(struct wire *w)
{
	w->lsb = 0;
	w->one = SIGUSR2;
	w->nul = 1;
	w->hdr_bits = 0;
}

static inline int wire_zero(const struct wire *w)
{
	return w->one == SIGUSR2 ? SIGUSR1 : SIGUSR2;
}

#endif
