/*
 * rrfw_sim_joints.h — the reference arm's simulated joints, as an rrfw_hw.h backend.
 *
 * An exact kinematic model, no physics: in joint position mode each joint moves towards its target at
 * up to its velocity_max; in joint velocity mode it moves at exactly the commanded speed and stops at
 * the end of its range (reported as RRFW_HW_AT_JOINT_LIMIT); a brake sets every speed to exactly 0 at
 * once and holds the joints there. The gripper moves at 2 per second towards its target while the arm
 * follows commands; a model set up without a gripper (has_gripper 0) ignores gripper targets and reads
 * its gripper as 0. The end-effector pose is that of a planar chain of 0.2 m links about z (a stand-in
 * for real kinematics); efforts are 2 N·m per rad/s of speed, so no effort fault ever happens.
 *
 * rr-arm-endpoint runs it behind the protocol; the bridge template's loopback backend uses it as the
 * arm it pretends to drive, so the template runs, and passes the protocol's behaviour suite, before any
 * vendor code is written. The model reads no clock of its own: it advances to the now_ns it is given.
 */
#ifndef RRFW_SIM_JOINTS_H
#define RRFW_SIM_JOINTS_H

#include <stdint.h>

#include "rrfw_hw.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct rrfw_sim_joints {
    int joint_count;
    rrfw_joint_limits limits[RRFW_MAX_JOINTS];
    double positions[RRFW_MAX_JOINTS], velocities[RRFW_MAX_JOINTS], efforts[RRFW_MAX_JOINTS];
    double targets[RRFW_MAX_JOINTS]; /* position targets or velocities, by mode */
    uint8_t mode;                    /* RRFW_MODE_JOINT_POSITION or RRFW_MODE_JOINT_VELOCITY: how the joints follow targets */
    int following;                   /* 1: released, following commands (the gripper moves); 0: braked, holding the targets */
    int has_gripper;                 /* 1 (rrfw_sim_joints_init's default): a gripper; 0: none, announced without
                                      * RRFW_CAPABILITY_GRIPPER (set it after init, before rrfw_arm_run) */
    double gripper, gripper_target;
    uint64_t last_step_ns;
    uint32_t conditions;             /* RRFW_HW_* seen since the last read_state */
} rrfw_sim_joints;

/* The reference arm's limits for every joint: ±3 rad, 2 rad/s, 50 N·m. */
extern const rrfw_joint_limits rrfw_sim_default_limits;

/* Sets up joint_count joints (1..16) at 0 rad, at rest, braked, with limits[j] for joint j (NULL: the
 * reference arm's for every joint), and a gripper, open; the model's clock starts at now_ns. */
void rrfw_sim_joints_init(rrfw_sim_joints *sim, int joint_count, const rrfw_joint_limits *limits, uint64_t now_ns);

/* The rrfw_hw.h functions of the model: pass a rrfw_sim_joints as their hw. It offers joint position
 * and joint velocity commands, and announces its gripper if has_gripper; no call fails. */
extern const rrfw_hw_ops rrfw_sim_joints_ops;

#ifdef __cplusplus
}
#endif
#endif
