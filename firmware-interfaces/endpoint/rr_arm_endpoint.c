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
 *                        [--no-gripper] [--rate HZ] [--watchdog-ms MS] [--claim-lease-ms MS] [--echo ADDR]
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
        "usage: " PROGRAM " --key FILE [--state ADDR] [--command ADDR] [--control ADDR] [--joints N] [--no-gripper]\n"
        "                       [--rate HZ] [--watchdog-ms MS] [--claim-lease-ms MS] [--echo ADDR] [--curve-keys FILE] [--quiet]\n"
        "The reference arm: joints of ±3 rad, 2 rad/s, 50 N·m, joint position and joint velocity commands, a gripper.\n");
    rrfw_arm_print_options(stderr);
    fprintf(stderr,
        "  --joints N             joints, 1..16 (default 6)\n"
        "  --no-gripper           an arm without a gripper: its description says so, it ignores gripper targets and\n"
        "                         reports the gripper as 0\n");
}

typedef struct endpoint_options {
    int joints;
    int gripper;
} endpoint_options;

static int take_option(void *context, const char *name, const char *value)
{
    endpoint_options *o = (endpoint_options *)context;
    if (strcmp(name, "--no-gripper") == 0) {
        o->gripper = 0;
        return 2;
    }
    if (value == NULL)
        return 0;
    if (strcmp(name, "--joints") == 0)
        return rrfw_arm_parse_int(PROGRAM, name, value, 1, RRFW_MAX_JOINTS, &o->joints) ? 1 : -1;
    return 0;
}

int main(int argc, char **argv)
{
    rrfw_arm_config config;
    rrfw_arm_config_defaults(&config, PROGRAM);
    endpoint_options options = { 6, 1 };
    if (!rrfw_arm_parse_options(&config, argc, argv, take_option, &options, usage))
        return 2;

    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    static rrfw_sim_joints sim;
    rrfw_sim_joints_init(&sim, options.joints, NULL, (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec);
    sim.has_gripper = options.gripper;
    return rrfw_arm_run(&config, &rrfw_sim_joints_ops, &sim);
}
