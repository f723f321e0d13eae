/*
 * rrfw_sim_joints.c — the reference arm's simulated joints (see include/rrfw_sim_joints.h).
 */
#include "rrfw_sim_joints.h"

#include <math.h>
#include <string.h>

#define LINK_LENGTH_M 0.2
#define GRIPPER_SPEED_PER_S 2.0
#define EFFORT_PER_VELOCITY 2.0

const rrfw_joint_limits rrfw_sim_default_limits = { -3.0, 3.0, 2.0, 50.0 };

void rrfw_sim_joints_init(rrfw_sim_joints *sim, int joint_count, const rrfw_joint_limits *limits, uint64_t now_ns)
{
    memset(sim, 0, sizeof *sim);
    sim->joint_count = joint_count;
    for (int j = 0; j < joint_count; j++)
        sim->limits[j] = limits ? limits[j] : rrfw_sim_default_limits;
    sim->mode = RRFW_MODE_JOINT_POSITION;
    sim->has_gripper = 1;
    sim->last_step_ns = now_ns;
}

/* Advances the joints from the last step to now. */
static void step(rrfw_sim_joints *sim, uint64_t now_ns)
{
    if (now_ns <= sim->last_step_ns)
        return;
    double dt = (double)(now_ns - sim->last_step_ns) * 1e-9;
    sim->last_step_ns = now_ns;
    for (int j = 0; j < sim->joint_count; j++) {
        const rrfw_joint_limits *l = &sim->limits[j];
        double v;
        if (sim->following && sim->mode == RRFW_MODE_JOINT_VELOCITY) {
            v = sim->targets[j];
        } else {
            /* Position mode, and braked (the target is where the joint was when the brake came on). */
            double err = sim->targets[j] - sim->positions[j];
            double max_step = l->velocity_max * dt;
            double s = err > max_step ? max_step : err < -max_step ? -max_step : err;
            v = s / dt;
        }
        double p = sim->positions[j] + v * dt;
        if (p < l->position_min || p > l->position_max) {
            p = p < l->position_min ? l->position_min : l->position_max;
            v = 0.0;
            sim->conditions |= RRFW_HW_AT_JOINT_LIMIT;
        }
        sim->positions[j] = p;
        sim->velocities[j] = v;
        sim->efforts[j] = EFFORT_PER_VELOCITY * v;
    }
    if (sim->following) {
        double err = sim->gripper_target - sim->gripper, max_step = GRIPPER_SPEED_PER_S * dt;
        sim->gripper += err > max_step ? max_step : err < -max_step ? -max_step : err;
    }
}

static int sim_describe(void *hw, rrfw_description *d)
{
    const rrfw_sim_joints *sim = (const rrfw_sim_joints *)hw;
    d->joint_count = (uint8_t)sim->joint_count;
    d->capabilities = RRFW_CAPABILITY_MODE(RRFW_MODE_JOINT_POSITION) | RRFW_CAPABILITY_MODE(RRFW_MODE_JOINT_VELOCITY)
        | (sim->has_gripper ? RRFW_CAPABILITY_GRIPPER : 0u);
    d->ee_max_translation_m = 0.0; /* end-effector deltas are not offered */
    d->ee_max_rotation_rad = 0.0;
    for (int j = 0; j < sim->joint_count; j++)
        d->joints[j] = sim->limits[j];
    return 0;
}

static int sim_read_state(void *hw, uint64_t now_ns, rrfw_hw_sample *s)
{
    rrfw_sim_joints *sim = (rrfw_sim_joints *)hw;
    step(sim, now_ns);
    memset(s, 0, sizeof *s);
    s->gripper_position = sim->gripper;
    s->gripper_effort = 10.0 * sim->gripper;
    /* Planar chain of equal links about z: a stand-in for forward kinematics. */
    double angle = 0.0, x = 0.0, y = 0.0;
    for (int j = 0; j < sim->joint_count; j++) {
        angle += sim->positions[j];
        x += LINK_LENGTH_M * cos(angle);
        y += LINK_LENGTH_M * sin(angle);
        s->positions[j] = sim->positions[j];
        s->velocities[j] = sim->velocities[j];
        s->efforts[j] = sim->efforts[j];
    }
    s->ee_pose[0] = x;
    s->ee_pose[1] = y;
    s->ee_pose[2] = 0.3;
    s->ee_pose[3] = cos(angle / 2);
    s->ee_pose[6] = sin(angle / 2);
    s->conditions = sim->conditions;
    sim->conditions = 0;
    return 0;
}

static void follow(rrfw_sim_joints *sim, uint64_t now_ns, uint8_t mode, const double *values, double gripper_target)
{
    step(sim, now_ns);
    sim->mode = mode;
    for (int j = 0; j < sim->joint_count; j++)
        sim->targets[j] = values[j];
    if (sim->has_gripper)
        sim->gripper_target = gripper_target; /* without a gripper: ignored (PROTOCOL.md §3.2) */
    sim->following = 1;
}

static int sim_command_joint_positions(void *hw, uint64_t now_ns, const double *positions, double gripper_target)
{
    follow((rrfw_sim_joints *)hw, now_ns, RRFW_MODE_JOINT_POSITION, positions, gripper_target);
    return 0;
}

static int sim_command_joint_velocities(void *hw, uint64_t now_ns, const double *velocities, double gripper_target)
{
    follow((rrfw_sim_joints *)hw, now_ns, RRFW_MODE_JOINT_VELOCITY, velocities, gripper_target);
    return 0;
}

/* Holds the joints where they are, every speed 0 at once; following says whether commands (and the
 * gripper) move it again before the next command. */
static void hold_here(rrfw_sim_joints *sim, uint64_t now_ns, int following)
{
    step(sim, now_ns);
    for (int j = 0; j < sim->joint_count; j++) {
        sim->velocities[j] = 0.0;
        sim->targets[j] = sim->positions[j];
    }
    sim->mode = RRFW_MODE_JOINT_POSITION;
    sim->following = following;
}

static int sim_brake(void *hw, uint64_t now_ns, rrfw_hold_reason reason)
{
    (void)reason;
    hold_here((rrfw_sim_joints *)hw, now_ns, 0);
    return 0;
}

static int sim_release_brake(void *hw, uint64_t now_ns)
{
    hold_here((rrfw_sim_joints *)hw, now_ns, 1);
    return 0;
}

static int sim_reset(void *hw, uint64_t now_ns)
{
    (void)hw;
    (void)now_ns;
    return 0; /* nothing of its own to clear */
}

static const char *sim_last_error(void *hw)
{
    (void)hw;
    return "";
}

const rrfw_hw_ops rrfw_sim_joints_ops = {
    sim_describe,
    sim_read_state,
    sim_command_joint_positions,
    sim_command_joint_velocities,
    sim_brake,
    sim_release_brake,
    sim_reset,
    sim_last_error,
};
