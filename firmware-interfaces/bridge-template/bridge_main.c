/*
 * rr-bridge-template — a bridge from the firmware protocol (../PROTOCOL.md) to a vendor's arm.
 *
 * Copy this folder, fill in bridge_hw.c's VENDOR places, rename the program. Everything protocol
 * (sockets, frames, authentication, claim, sequence numbers, watchdog, e-stop and fault latches,
 * counters, logs) is the same code the reference arm runs (rrfw_arm, ../src/rrfw_arm.c); this file is
 * the options and the wiring, bridge_hw.c the arm. docs/bridges.md says who does what and how to power
 * a real arm on for the first time.
 *
 * Usage: rr-bridge-template --key FILE [--backend loopback|vendor] [--robot ADDRESS] [--joints N]
 *                           [--velocity-scale F] [--no-gripper] [the reference arm's socket and timing options]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bridge_hw.h"
#include "rrfw_arm.h"

#define PROGRAM "rr-bridge-template"

static void usage(void)
{
    fprintf(stderr,
        "usage: " PROGRAM " --key FILE [--backend loopback|vendor] [--robot ADDRESS] [--joints N] [--velocity-scale F]\n"
        "                          [--no-gripper] [--state ADDR] [--command ADDR] [--control ADDR] [--rate HZ]\n"
        "                          [--watchdog-ms MS] [--claim-lease-ms MS] [--curve-keys FILE] [--quiet]\n"
        "A bridge from the RobotRuntime firmware protocol to an arm (docs/bridges.md).\n");
    rrfw_arm_print_options(stderr);
    fprintf(stderr,
        "  --backend NAME         loopback (default: no arm, the reference arm's simulated joints) or vendor (the arm,\n"
        "                         through bridge_hw.c's VENDOR code)\n"
        "  --robot ADDRESS        vendor: the arm controller's address\n"
        "  --joints N             loopback: joints to simulate, 1..16 (default 6)\n"
        "  --velocity-scale F     announce every joint's velocity limit times F, 0 < F <= 1 (default 1; 0.1 or less for a\n"
        "                         first power-on): the runtime clips to it and this bridge rejects faster commands\n"
        "  --no-gripper           the arm has no gripper (or none this bridge drives): the description says so, gripper\n"
        "                         targets are ignored and the gripper reads 0\n");
}

static int take_option(void *context, const char *name, const char *value)
{
    bridge_options *o = (bridge_options *)context;
    if (strcmp(name, "--no-gripper") == 0) {
        o->gripper = 0;
        return 2; /* a flag: takes no value */
    }
    if (value == NULL)
        return 0; /* every other option of this bridge takes a value */
    if (strcmp(name, "--backend") == 0) {
        if (strcmp(value, "loopback") != 0 && strcmp(value, "vendor") != 0) {
            fprintf(stderr, PROGRAM ": --backend must be loopback or vendor, got '%s'\n", value);
            return -1;
        }
        o->backend = value;
        return 1;
    }
    if (strcmp(name, "--robot") == 0) {
        o->robot = value;
        return 1;
    }
    if (strcmp(name, "--joints") == 0)
        return rrfw_arm_parse_int(PROGRAM, name, value, 1, RRFW_MAX_JOINTS, &o->joints) ? 1 : -1;
    if (strcmp(name, "--velocity-scale") == 0) {
        char *end = NULL;
        double f = strtod(value, &end);
        if (end == value || *end != '\0' || !(f > 0.0 && f <= 1.0)) {
            fprintf(stderr, PROGRAM ": --velocity-scale must be a number in (0, 1], got '%s'\n", value);
            return -1;
        }
        o->velocity_scale = f;
        return 1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    rrfw_arm_config config;
    rrfw_arm_config_defaults(&config, PROGRAM);
    bridge_options options = { "loopback", 6, 1.0, NULL, 1 };
    if (!rrfw_arm_parse_options(&config, argc, argv, take_option, &options, usage))
        return 2;

    static bridge_hw hw;
    if (bridge_hw_open(&hw, &options) != 0) {
        fprintf(stderr, PROGRAM ": %s\n", hw.error);
        return 2;
    }
    if (!config.quiet)
        fprintf(stderr, PROGRAM ": backend %s%s, velocity limits x%g, %s\n", options.backend,
            hw.loopback ? " (no arm: the reference arm's simulated joints)" : "", options.velocity_scale,
            options.gripper ? "gripper" : "no gripper");
    int status = rrfw_arm_run(&config, &bridge_hw_ops, &hw);
    bridge_hw_close(&hw);
    return status;
}
