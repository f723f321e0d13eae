/*
 * rr-arm-endpoint — the reference arm for the firmware protocol (../PROTOCOL.md), libzmq only.
 *
 * The protocol side (sockets, frames, authentication, claim, sequence numbers, watchdog, e-stop, the
 * counters) is rrfw_arm (src/rrfw_arm.c); the joints are the reference arm's simulated ones
 * (src/rrfw_sim_joints.c), reached through the hardware seam of include/rrfw_hw.h. This file is the
 * options and the wiring between them. A bridge to a real arm is the same wiring with another
 * hardware backend: bridge-template/.
 *
 * Usage: rr-arm-endpoint --key FILE [--state ADDR] [--command ADDR] [--control ADDR] [--joints N]
 *                        [--rate HZ] [--watchdog-ms MS] [--claim-lease-ms MS] [--echo ADDR]
 *                        [--curve-keys FILE] [--quiet]
 * Prints one "ready" line on stdout when bound; logs rejections and holds on stderr;
 * SIGTERM or SIGINT end it cleanly.
 */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "rrfw_arm.h"
#include "rrfw_sim_joints.h"

#define PROGRAM "rr-arm-endpoint"

static void usage(void)
{
    fprintf(stderr,
        "usage: " PROGRAM " --key FILE [--state ADDR] [--command ADDR] [--control ADDR] [--joints N]\n"
        "                       [--rate HZ] [--watchdog-ms MS] [--claim-lease-ms MS] [--echo ADDR] [--curve-keys FILE] [--quiet]\n"
        "The reference arm: joints of ±3 rad, 2 rad/s, 50 N·m, joint position and joint velocity commands.\n");
    rrfw_arm_print_options(stderr);
    fprintf(stderr, "  --joints N             joints, 1..16 (default 6)\n");
}

static int take_option(void *context, const char *name, const char *value)
{
    int *joints = (int *)context;
    if (strcmp(name, "--joints") == 0)
        return rrfw_arm_parse_int(PROGRAM, name, value, 1, RRFW_MAX_JOINTS, joints) ? 1 : -1;
    return 0;
}

int main(int argc, char **argv)
{
    rrfw_arm_config config;
    rrfw_arm_config_defaults(&config, PROGRAM);
    int joints = 6;
    if (!rrfw_arm_parse_options(&config, argc, argv, take_option, &joints, usage))
        return 2;

    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    static rrfw_sim_joints sim;
    rrfw_sim_joints_init(&sim, joints, NULL, (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec);
    return rrfw_arm_run(&config, &rrfw_sim_joints_ops, &sim);
}
