/*
 * rrfw_arm.h — the arm's side of the firmware protocol (../PROTOCOL.md), over libzmq, for any hardware.
 *
 * rrfw_arm_run binds the state PUB, command SUB and control REP sockets, answers HELLO, CLAIM and the
 * control requests, checks every COMMAND in the order of §4 and hands the valid ones to the hardware,
 * runs the watchdog and the e-stop and fault latches, publishes STATE at the announced rate (and right
 * after each applied command), counts and logs every rejected frame, and holds the arm on its own when
 * no valid command arrives in time. What it needs from the joints it asks through rrfw_hw.h. The
 * reference arm (endpoint/rr_arm_endpoint.c) and the bridge template (bridge-template/) are each a
 * main() that parses options with rrfw_arm_parse_options and calls rrfw_arm_run with their hardware.
 *
 * Log lines go to stderr, prefixed with the program's name; the one "ready" line goes to stdout once the
 * sockets are bound. SIGTERM and SIGINT end rrfw_arm_run cleanly.
 */
#ifndef RRFW_ARM_H
#define RRFW_ARM_H

#include <stdio.h>

#include "rrfw_hw.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct rrfw_arm_config {
    const char *program;         /* the program's name: prefixes every log line and the ready line */
    const char *state_address;   /* ZeroMQ endpoint the state PUB binds (default tcp://127.0.0.1:5601) */
    const char *command_address; /* the command SUB (default tcp://127.0.0.1:5602) */
    const char *control_address; /* the control REP (default tcp://127.0.0.1:5603) */
    const char *echo_address;    /* a raw REP echo, the benchmarks' libzmq baseline; NULL: none */
    int rate_hz;                 /* state_rate_hz, 1..10000 (default 250) */
    int watchdog_ms;             /* watchdog_ms, 1..60000 (default 100) */
    int claim_lease_ms;          /* claim_lease_ms, 1..600000 (default 2000) */
    const char *key_path;        /* the shared secret: 64 hex digits in a file only its owner can read; required */
    const char *curve_path;      /* the arm's CURVE key pair (rr keygen --curve), or NULL for plain ZeroMQ */
    int quiet;                   /* 1: no log but the ready line and errors */
} rrfw_arm_config;

/* The defaults above, for a program called `program`. */
void rrfw_arm_config_defaults(rrfw_arm_config *config, const char *program);

/* A program's own option: `value` is the argument after `name`, or NULL when `name` is the last one.
 * Returns 1 when it took the option and its value, 2 when it took a flag (an option without a value:
 * `value` is left for the next option), 0 when `name` is not its option — and for one of its options
 * that needs a value when `value` is NULL (the parser then says the option is unknown or its value
 * missing) — and -1 for a bad value (the function has printed why, naming the option and what it
 * expects). */
typedef int (*rrfw_arm_option_fn)(void *context, const char *name, const char *value);

/* Parses argv: the options every arm program shares (--key, --state, --command, --control, --rate,
 * --watchdog-ms, --claim-lease-ms, --echo, --curve-keys, --quiet), then the program's own through
 * `option` (may be NULL); --help calls `usage` and exits 0. Returns 1, or 0 after printing what was
 * wrong (an unknown option, a missing or bad value, no --key). */
int rrfw_arm_parse_options(rrfw_arm_config *config, int argc, char **argv, rrfw_arm_option_fn option, void *context,
                           void (*usage)(void));

/* Prints the shared options' lines of a usage text. */
void rrfw_arm_print_options(FILE *out);

/* Parses an integer option value in [min, max]: 1, or 0 after printing
 * "<program>: <name> must be an integer from <min> to <max>, got '<text>'". */
int rrfw_arm_parse_int(const char *program, const char *name, const char *text, int min, int max, int *out);

/* Runs the arm until SIGTERM or SIGINT: loads the key (and CURVE keys), asks the hardware for its
 * description and checks it, binds the sockets, prints the ready line, serves the protocol. `ops` and
 * `hw` are the hardware (rrfw_hw.h); they are called from this thread only. Returns the process's exit
 * code: 0 after a clean stop, 1 when a socket cannot be bound or polling fails, 2 for a bad key file or a
 * description outside the protocol's domain (each said on stderr). */
int rrfw_arm_run(const rrfw_arm_config *config, const rrfw_hw_ops *ops, void *hw);

#ifdef __cplusplus
}
#endif
#endif
