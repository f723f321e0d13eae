/*
 * rrfw_hw.h — the seam between the arm side of the firmware protocol and the arm's hardware.
 *
 * rrfw_arm.h runs the protocol: sockets, frames, authentication, the claim, sequence numbers, the
 * watchdog, the e-stop and fault latches, what STATE, ACK and FAULT_REPORT say. It never touches a
 * joint: it asks the hardware through this table of functions. Two implementations ship with the
 * project: the reference arm's simulated joints (rrfw_sim_joints.h, used by rr-arm-endpoint and by the
 * bridge template's loopback backend) and the bridge template's vendor backend
 * (bridge-template/bridge_hw.c, with VENDOR places for a vendor SDK's calls).
 *
 * Threading: rrfw_arm_run calls every function from its own thread, one at a time, never
 * concurrently. A backend whose vendor SDK runs its own real-time loop (a 500 Hz servo thread, a
 * 1 kHz callback) hands set points to that loop and reads its newest measurement back; the functions
 * here must return promptly (well under a millisecond): the watchdog's bound (watchdog_ms + 1 ms) and
 * the e-stop's (at rest within 50 ms of the reply) are met only if they do (PROTOCOL.md §5.3).
 *
 * Every function returns 0 on success and non-zero on failure; last_error then says why. A failure is
 * reported by the protocol side as the arm's fault: fault flag 0x2 (the one fault that stops motion,
 * PROTOCOL.md §3.3), hold_reason 4, ENABLE refused until RESET, and a log line naming the function and
 * the error.
 *
 * Units: rad or m for positions (prismatic joints in m), per second for velocities, N·m or N for
 * efforts; times are the arm's monotonic clock (CLOCK_MONOTONIC), ns.
 */
#ifndef RRFW_HW_H
#define RRFW_HW_H

#include <stdint.h>

#include "rrfw.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Conditions a backend reports in a sample (rrfw_hw_sample.conditions). The protocol side latches
 * each one until the operator's RESET; a condition still reported after RESET is latched again. */
#define RRFW_HW_AT_JOINT_LIMIT 0x1u /* a joint reached the end of its range: fault flag 0x1 (a record, stops nothing) */
#define RRFW_HW_FAULT 0x2u          /* the arm stopped itself for a fault (an effort limit, a vendor's collision reflex or
                                     * protective stop): fault flag 0x2, disabled, hold_reason 4, ENABLE refused (ACK 3) */
#define RRFW_HW_STOPPED 0x4u        /* the arm's own emergency stop is engaged (its button, its safety circuit): latched as
                                     * the protocol's e-stop (status 0x4, hold_reason 3, ENABLE refused with ACK 2) */

/* One measurement of the arm, as the newest the hardware has. */
typedef struct rrfw_hw_sample {
    double positions[RRFW_MAX_JOINTS];  /* measured joint positions, rad or m */
    double velocities[RRFW_MAX_JOINTS]; /* measured joint velocities, per s; status 0x10 (moving) is set while one is not 0 */
    double efforts[RRFW_MAX_JOINTS];    /* measured joint efforts, N·m or N */
    double gripper_position;            /* 0 open .. 1 closed; not reported (STATE says 0) unless describe announced a gripper */
    double gripper_effort;              /* N; likewise */
    double ee_pose[7];                  /* end effector in the base frame: x, y, z (m), then the unit quaternion qw, qx, qy, qz */
    uint32_t conditions;                /* RRFW_HW_* in force, or seen since the previous sample */
    char detail[96];                    /* when conditions are set: the hardware's own words for them, for the log; else "" */
} rrfw_hw_sample;

/*
 * What the protocol side asks of the hardware. Every `hw` is the backend's own object, given to
 * rrfw_arm_run with the table. Commands reach these functions only after every check of PROTOCOL.md §4
 * has passed: authenticated by the claimant, in sequence, for this session, not expired, the arm enabled
 * and not e-stopped or faulted, in a mode the description offers, every value inside the description's
 * limits (the arm side enforces the limits it announced; the backend may clip further, never less).
 */
typedef struct rrfw_hw_ops {
    /* Setup only, once before the sockets are bound: what the arm is. Fill joint_count (1..16),
     * capabilities and joints[0 .. joint_count-1] (position_min <= position_max, velocity_max > 0,
     * effort_max > 0). capabilities: RRFW_CAPABILITY_MODE(RRFW_MODE_JOINT_POSITION) and/or
     * RRFW_CAPABILITY_MODE(RRFW_MODE_JOINT_VELOCITY) (end-effector deltas are not implemented by rrfw_arm),
     * and RRFW_CAPABILITY_GRIPPER if and only if the arm has a gripper this backend drives. Without it the
     * protocol side reports gripper position and effort 0 whatever the samples say, and the backend ignores
     * the gripper_target it is still handed (PROTOCOL.md §3.2: any target in [0, 1] is accepted). The
     * protocol side fills the rest (session, version, rates, lease, sequences) and refuses to start,
     * naming the field, if a value is outside its domain. Announce limits at or inside
     * the vendor controller's own: they are what the runtime's safety filter clips to and what the arm
     * side rejects beyond. */
    int (*describe)(void *hw, rrfw_description *description);

    /* The newest measurement, taken at each wake of the protocol loop and before every STATE and reply.
     * Must not block. A backend with a simulated model advances it to now_ns here. */
    int (*read_state)(void *hw, uint64_t now_ns, rrfw_hw_sample *sample);

    /* A joint position set point to follow from now on (mode 1), and the gripper's target (0 open .. 1
     * closed; ignored by an arm that announced no gripper). Each joint moves towards its target no faster
     * than the velocity_max it announced. */
    int (*command_joint_positions)(void *hw, uint64_t now_ns, const double *positions, double gripper_target);

    /* Joint velocities to hold from now on (mode 2), and the gripper's target. NULL if the arm does not
     * offer joint velocities (then describe must not announce bit 1). A joint reaching the end of its
     * range stops there and is reported with RRFW_HW_AT_JOINT_LIMIT. */
    int (*command_joint_velocities)(void *hw, uint64_t now_ns, const double *velocities, double gripper_target);

    /* Stop now and keep every joint where it stops, until release_brake or the next command: the watchdog
     * (reason 2), DISABLE and RESET (1), a change of claimant (1), a fault (4) and ESTOP (3). Return only
     * once the stop has been commanded: the ESTOP's reply follows at once, and the arm must then be at
     * rest within 50 ms and move no joint more than 0.01 rad (PROTOCOL.md §5.3). For reason 3 a bridge
     * also triggers the vendor's own stop. Called again while already braked (a DISABLE after an ESTOP):
     * must be harmless. Engaging mechanical brakes is the backend's choice; a hold keeps the servos on
     * so that a gravity-loaded joint does not move. */
    int (*brake)(void *hw, uint64_t now_ns, rrfw_hold_reason reason);

    /* ENABLE: from now on the arm follows commands; until the first one it holds where it is. */
    int (*release_brake)(void *hw, uint64_t now_ns);

    /* RESET: clear the arm's own latches where the vendor allows it from software (a protective stop, a
     * collision reflex). The arm stays braked. An emergency stop that cannot be cleared from software
     * (a pressed button) is reported again by the next sample, and latched again. NULL: nothing to clear. */
    int (*reset)(void *hw, uint64_t now_ns);

    /* Why the last failed call failed, for the log; NULL or "" when the backend cannot say. */
    const char *(*last_error)(void *hw);
} rrfw_hw_ops;

#ifdef __cplusplus
}
#endif
#endif
