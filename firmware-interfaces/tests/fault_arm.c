/*
 * rrfw-test-fault-arm — the reference arm's simulated joints behind rrfw_arm, with hardware trouble on
 * request, for the tests of what the protocol side makes of it (HardwareSeamTests in
 * tests/RobotRuntime.Transport.Tests). Lines on stdin, read whenever the arm is sampled:
 *   stop          the arm's own emergency stop is engaged (RRFW_HW_STOPPED in every sample) ...
 *   release       ... until released
 *   fault         the arm stops itself for a fault once (RRFW_HW_FAULT)
 *   fail CALL     the next call of CALL (brake, release_brake, reset, command_joint_positions,
 *                 command_joint_velocities, read_state) fails
 * Options: those of every arm program (rrfw_arm.h); 6 joints.
 */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "rrfw_arm.h"
#include "rrfw_sim_joints.h"

#define PROGRAM "rrfw-test-fault-arm"

typedef struct fault_arm {
    rrfw_sim_joints joints;
    int stop_engaged, fault_pending;
    char failing_call[64];  /* the call whose next invocation fails; "" for none */
    char error[128];
    char input[256];
    size_t input_length;
} fault_arm;

/* Takes in whatever complete lines stdin has, without waiting. */
static void read_requests(fault_arm *f)
{
    for (;;) {
        ssize_t n = read(STDIN_FILENO, f->input + f->input_length, sizeof f->input - 1 - f->input_length);
        if (n <= 0)
            break;
        f->input_length += (size_t)n;
        if (f->input_length == sizeof f->input - 1)
            break;
    }
    f->input[f->input_length] = '\0';
    char *line = f->input, *end;
    while ((end = strchr(line, '\n')) != NULL) {
        *end = '\0';
        if (strcmp(line, "stop") == 0) f->stop_engaged = 1;
        else if (strcmp(line, "release") == 0) f->stop_engaged = 0;
        else if (strcmp(line, "fault") == 0) f->fault_pending = 1;
        else if (strncmp(line, "fail ", 5) == 0) snprintf(f->failing_call, sizeof f->failing_call, "%s", line + 5);
        line = end + 1;
    }
    f->input_length = strlen(line);
    memmove(f->input, line, f->input_length + 1);
}

/* 1 if `call` is the one asked to fail (once). */
static int fails(fault_arm *f, const char *call)
{
    if (strcmp(f->failing_call, call) != 0)
        return 0;
    f->failing_call[0] = '\0';
    snprintf(f->error, sizeof f->error, "test: %s refused", call);
    return 1;
}

static int describe(void *hw, rrfw_description *d)
{
    return rrfw_sim_joints_ops.describe(&((fault_arm *)hw)->joints, d);
}

static int read_state(void *hw, uint64_t now_ns, rrfw_hw_sample *s)
{
    fault_arm *f = (fault_arm *)hw;
    read_requests(f);
    if (fails(f, "read_state"))
        return -1;
    rrfw_sim_joints_ops.read_state(&f->joints, now_ns, s);
    if (f->stop_engaged) {
        s->conditions |= RRFW_HW_STOPPED;
        snprintf(s->detail, sizeof s->detail, "test: stop button pressed");
    }
    if (f->fault_pending) {
        f->fault_pending = 0;
        s->conditions |= RRFW_HW_FAULT;
        snprintf(s->detail, sizeof s->detail, "test: collision reflex");
    }
    return 0;
}

static int command_joint_positions(void *hw, uint64_t now_ns, const double *values, double gripper)
{
    fault_arm *f = (fault_arm *)hw;
    return fails(f, "command_joint_positions") ? -1 : rrfw_sim_joints_ops.command_joint_positions(&f->joints, now_ns, values, gripper);
}

static int command_joint_velocities(void *hw, uint64_t now_ns, const double *values, double gripper)
{
    fault_arm *f = (fault_arm *)hw;
    return fails(f, "command_joint_velocities") ? -1 : rrfw_sim_joints_ops.command_joint_velocities(&f->joints, now_ns, values, gripper);
}

static int brake(void *hw, uint64_t now_ns, rrfw_hold_reason reason)
{
    fault_arm *f = (fault_arm *)hw;
    /* The joints stop whatever the answer: a failed brake is reported, not simulated as a runaway. */
    rrfw_sim_joints_ops.brake(&f->joints, now_ns, reason);
    return fails(f, "brake") ? -1 : 0;
}

static int release_brake(void *hw, uint64_t now_ns)
{
    fault_arm *f = (fault_arm *)hw;
    return fails(f, "release_brake") ? -1 : rrfw_sim_joints_ops.release_brake(&f->joints, now_ns);
}

static int reset(void *hw, uint64_t now_ns)
{
    fault_arm *f = (fault_arm *)hw;
    (void)now_ns;
    return fails(f, "reset") ? -1 : 0;
}

static const char *last_error(void *hw)
{
    return ((fault_arm *)hw)->error;
}

static const rrfw_hw_ops fault_arm_ops = {
    describe, read_state, command_joint_positions, command_joint_velocities, brake, release_brake, reset, last_error,
};

static void usage(void)
{
    fprintf(stderr, "usage: " PROGRAM " --key FILE [options]  (stdin: stop | release | fault | fail CALL)\n");
    rrfw_arm_print_options(stderr);
}

static int take_option(void *context, const char *name, const char *value)
{
    (void)context;
    /* The tests start every arm with --joints; this one has the reference arm's 6. */
    return strcmp(name, "--joints") == 0 && value != NULL && strcmp(value, "6") == 0 ? 1 : 0;
}

int main(int argc, char **argv)
{
    rrfw_arm_config config;
    rrfw_arm_config_defaults(&config, PROGRAM);
    if (!rrfw_arm_parse_options(&config, argc, argv, take_option, NULL, usage))
        return 2;
    if (fcntl(STDIN_FILENO, F_SETFL, fcntl(STDIN_FILENO, F_GETFL) | O_NONBLOCK) != 0) {
        fprintf(stderr, PROGRAM ": cannot make stdin non-blocking: %s\n", strerror(errno));
        return 2;
    }
    static fault_arm arm;
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    rrfw_sim_joints_init(&arm.joints, 6, NULL, (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec);
    return rrfw_arm_run(&config, &fault_arm_ops, &arm);
}
