/*
 * bridge_hw.c — the bridge's hardware backend (see bridge_hw.h).
 *
 * Each function below serves the loopback (the reference arm's simulated joints) first; the rest of it
 * is the vendor backend, with a VENDOR comment where the SDK's call goes. Fill those places in, set
 * vendor_backend_written to 1, and run `--backend vendor`. What the protocol side has already done
 * before a function here is called, and what each must do, is in ../include/rrfw_hw.h; who is
 * responsible for what, and how UR's ur_rtde and Franka's libfranka map onto these functions, is in
 * docs/bridges.md.
 *
 * Every function runs on the protocol loop's thread and must return promptly (no waiting for the arm):
 * a vendor SDK with its own real-time loop (UR: a 500 Hz servo thread; Franka: the 1 kHz control
 * callback) is fed set points through memory shared with that loop, and read back the same way.
 */
#include "bridge_hw.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

/* VENDOR: set to 1 once every VENDOR place below is filled in; until then --backend vendor refuses to start. */
static const int vendor_backend_written = 0;

/* VENDOR: the arm's joints, one line each, from the arm's datasheet and its controller's safety
 * configuration: ranges no wider and speeds no higher than the vendor controller's own, so that the
 * runtime's safety filter (which clips to these) and this bridge (which rejects beyond them) act before
 * the vendor's protective stop does. Keep each velocity_max within what brake() can stop in time
 * (docs/bridges.md, "The e-stop bound limits the speed"). Joint count: the number of lines (UR: 6,
 * Franka: 7). */
static const rrfw_joint_limits vendor_limits[] = {
    /* position_min (rad), position_max (rad), velocity_max (rad/s), effort_max (N·m) */
    { 0.0, 0.0, 0.0, 0.0 }, /* VENDOR: joint 0 */
};

static uint64_t monotonic_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* A place not filled in yet: fails with a message naming it. */
static int vendor_missing(bridge_hw *hw, const char *place)
{
    snprintf(hw->error, sizeof hw->error, "%s: the vendor backend is not written yet (bridge_hw.c, VENDOR)", place);
    return -1;
}

int bridge_hw_open(bridge_hw *hw, const bridge_options *o)
{
    memset(hw, 0, sizeof *hw);
    hw->robot = o->robot;
    hw->gripper = o->gripper;
    if (!(o->velocity_scale > 0.0 && o->velocity_scale <= 1.0)) {
        snprintf(hw->error, sizeof hw->error, "--velocity-scale must be in (0, 1], got %g", o->velocity_scale);
        return -1;
    }
    if (strcmp(o->backend, "loopback") == 0) {
        hw->loopback = 1;
        hw->joint_count = o->joints;
        for (int j = 0; j < hw->joint_count; j++) {
            hw->limits[j] = rrfw_sim_default_limits;
            hw->limits[j].velocity_max *= o->velocity_scale;
        }
        /* The simulated joints keep the announced (scaled) limits: they move no faster than announced. */
        rrfw_sim_joints_init(&hw->loopback_joints, hw->joint_count, hw->limits, monotonic_ns());
        hw->loopback_joints.has_gripper = hw->gripper;
        return 0;
    }
    if (strcmp(o->backend, "vendor") != 0) {
        snprintf(hw->error, sizeof hw->error, "--backend must be loopback or vendor, got '%s'", o->backend);
        return -1;
    }
    if (!vendor_backend_written) {
        snprintf(hw->error, sizeof hw->error,
            "--backend vendor: the vendor backend is not written yet: fill in the VENDOR places of bridge_hw.c and set "
            "vendor_backend_written to 1 (docs/bridges.md)");
        return -1;
    }
    hw->joint_count = (int)(sizeof vendor_limits / sizeof vendor_limits[0]);
    for (int j = 0; j < hw->joint_count; j++) {
        hw->limits[j] = vendor_limits[j];
        hw->limits[j].velocity_max *= o->velocity_scale;
    }
    /* VENDOR: connect to the arm at hw->robot and start its real-time loop, holding where the arm is:
     *   UR (ur_rtde): construct an RTDEReceiveInterface and an RTDEControlInterface for the robot's address
     *     (the control interface uploads its control script and runs at 500 Hz on an e-Series, 125 Hz on a
     *     CB3), a DashboardClient (connect()); setWatchdog(min_frequency) and kick it from the servo thread, so
     *     that the arm stops if this process dies; start the servo thread (initPeriod(), servoJ or speedJ,
     *     waitPeriod() per cycle) with its target set to getActualQ().
     *   Franka (libfranka): construct a franka::Robot for the robot's address (and a franka::Gripper); set the
     *     collision behaviour (setCollisionBehavior) to thresholds you have chosen; start the thread that runs
     *     robot.control(callback, ...) with its target set to readOnce().q. */
    return vendor_missing(hw, "bridge_hw_open");
}

void bridge_hw_close(bridge_hw *hw)
{
    if (hw->loopback)
        return;
    /* VENDOR: stop the real-time loop holding the arm where it is, then disconnect:
     *   UR: servoStop() or speedStop(), stopScript(), then the interfaces' disconnect().
     *   Franka: end the control callback with franka::MotionFinished, join its thread. */
}

static int hw_describe(void *self, rrfw_description *d)
{
    bridge_hw *hw = (bridge_hw *)self;
    if (hw->loopback) {
        /* The simulated joints describe themselves; their limits are the announced ones. */
        return rrfw_sim_joints_ops.describe(&hw->loopback_joints, d);
    }
    d->joint_count = (uint8_t)hw->joint_count;
    for (int j = 0; j < hw->joint_count; j++)
        d->joints[j] = hw->limits[j];
    /* VENDOR: the modes the arm takes: joint position (UR servoJ, Franka JointPositions), joint velocity (UR
     * speedJ, Franka JointVelocities). Offer only what you have tested on the arm. */
    d->capabilities = RRFW_CAPABILITY_MODE(RRFW_MODE_JOINT_POSITION) | RRFW_CAPABILITY_MODE(RRFW_MODE_JOINT_VELOCITY);
    /* VENDOR: the gripper bit, if and only if this bridge drives a gripper on the arm (Franka: the Franka Hand
     * through franka::Gripper; UR: a gripper on the tool flange through its own interface, e.g. ur_rtde's
     * RobotiqGripper). Without it the runtime refuses policies that command a gripper, rrfw_arm reports the
     * gripper as 0 and the command functions below ignore gripper_target. --no-gripper clears hw->gripper. */
    if (hw->gripper)
        d->capabilities |= RRFW_CAPABILITY_GRIPPER;
    return 0;
}

static int hw_read_state(void *self, uint64_t now_ns, rrfw_hw_sample *s)
{
    bridge_hw *hw = (bridge_hw *)self;
    if (hw->loopback)
        return rrfw_sim_joints_ops.read_state(&hw->loopback_joints, now_ns, s);
    /* VENDOR: copy the newest measurement the SDK holds (never wait for a new one) into s:
     *   UR (RTDEReceiveInterface): getActualQ() -> positions, getActualQd() -> velocities, efforts in N·m
     *     (getActualCurrent() is in A: convert it with the joints' torque constants, or report getTargetMoment()),
     *     getActualTCPPose() (x, y, z, then a rotation vector) -> ee_pose (position, then the rotation vector
     *     as a quaternion); isEmergencyStopped() -> RRFW_HW_STOPPED; isProtectiveStopped() -> RRFW_HW_FAULT,
     *     unless this bridge triggered it for an ESTOP (hw->vendor_stop_triggered: the e-stop is already latched).
     *   Franka: the franka::RobotState the control callback saw last: q, dq, tau_J, O_T_EE (4x4, column-major:
     *     translation in elements 12..14, rotation as a quaternion) -> ee_pose; robot_mode kUserStopped ->
     *     RRFW_HW_STOPPED; kReflex, or the control loop ended by a franka::ControlException -> RRFW_HW_FAULT, with
     *     the exception's what() in s->detail.
     *   Gripper (hw->gripper): its opening as 0 open .. 1 closed, and its force in N; without one, leave them 0.
     * A joint at the end of its range -> RRFW_HW_AT_JOINT_LIMIT. */
    (void)now_ns;
    (void)s;
    return vendor_missing(hw, "read_state");
}

static int hw_command_joint_positions(void *self, uint64_t now_ns, const double *positions, double gripper_target)
{
    bridge_hw *hw = (bridge_hw *)self;
    if (hw->loopback)
        return rrfw_sim_joints_ops.command_joint_positions(&hw->loopback_joints, now_ns, positions, gripper_target);
    /* VENDOR: make `positions` the set point the real-time loop tracks from now on (do not move here):
     *   UR: the servo thread calls servoJ(target, 0, 0, 0.002, lookahead_time, gain) every 2 ms (speed and
     *     acceleration are unused by servoJ; lookahead_time 0.03..0.2 s, gain 100..2000);
     *   Franka: the 1 kHz callback returns franka::JointPositions stepping towards the target within the arm's
     *     velocity, acceleration and jerk limits (franka::limitRate, or control(..., limit_rate = true)): a jump
     *     to a target 1/30 s away is a discontinuity the arm refuses with a reflex.
     * gripper_target (0 open .. 1 closed): hand it to the gripper's own thread (its calls take long); ignore it
     * when !hw->gripper. */
    (void)now_ns;
    (void)positions;
    (void)gripper_target;
    return vendor_missing(hw, "command_joint_positions");
}

static int hw_command_joint_velocities(void *self, uint64_t now_ns, const double *velocities, double gripper_target)
{
    bridge_hw *hw = (bridge_hw *)self;
    if (hw->loopback)
        return rrfw_sim_joints_ops.command_joint_velocities(&hw->loopback_joints, now_ns, velocities, gripper_target);
    /* VENDOR: hold these joint velocities from now on:
     *   UR: the servo thread calls speedJ(velocities, acceleration, 0.002) every 2 ms;
     *   Franka: the callback returns franka::JointVelocities ramping towards them within the limits.
     * Stop a joint at the end of its range and report RRFW_HW_AT_JOINT_LIMIT. */
    (void)now_ns;
    (void)velocities;
    (void)gripper_target;
    return vendor_missing(hw, "command_joint_velocities");
}

static int hw_brake(void *self, uint64_t now_ns, rrfw_hold_reason reason)
{
    bridge_hw *hw = (bridge_hw *)self;
    if (hw->loopback)
        return rrfw_sim_joints_ops.brake(&hw->loopback_joints, now_ns, reason);
    /* VENDOR: stop now and keep every joint where it stops; return once the stop is commanded. The ESTOP's
     * reply follows at once, and the arm must be at rest within 50 ms of it and move no joint more than
     * 0.01 rad after it (PROTOCOL.md §5.3): measure this on the arm (docs/bridges.md, first power-on).
     *   UR: the servo thread's target becomes the measured joints and its mode joint position (servoJ then
     *     holds them), or speedStop(deceleration) after speedJ;
     *   Franka: the callback's target becomes the measured q, reached within the rate limits.
     * For reason RRFW_HOLD_ESTOP also the vendor's own stop, once (hw->vendor_stop_triggered):
     *   UR: triggerProtectiveStop() (RESET then needs unlockProtectiveStop(), refused within 5 s of the stop);
     *   Franka: robot.stop() (it ends the running control loop with a franka::ControlException; RESET
     *     restarts the loop).
     * Called again while already braked (a DISABLE after an ESTOP): harmless. */
    (void)now_ns;
    if (reason == RRFW_HOLD_ESTOP && !hw->vendor_stop_triggered) {
        /* VENDOR: the vendor's own stop here. */
        hw->vendor_stop_triggered = 1;
    }
    return vendor_missing(hw, "brake");
}

static int hw_release_brake(void *self, uint64_t now_ns)
{
    bridge_hw *hw = (bridge_hw *)self;
    if (hw->loopback)
        return rrfw_sim_joints_ops.release_brake(&hw->loopback_joints, now_ns);
    /* VENDOR: ENABLE: from now on follow commands; until the first one, hold where the arm is (target = the
     * measured joints). If the arm's own state forbids motion (not powered, brakes engaged, a protective stop
     * not unlocked), fail with the reason in hw->error: the protocol side then reports a fault and refuses
     * the ENABLE (ACK 3). Powering the arm and releasing its brakes is the operator's job on the pendant, not
     * a side effect of ENABLE. */
    (void)now_ns;
    return vendor_missing(hw, "release_brake");
}

static int hw_reset(void *self, uint64_t now_ns)
{
    bridge_hw *hw = (bridge_hw *)self;
    if (hw->loopback)
        return rrfw_sim_joints_ops.reset(&hw->loopback_joints, now_ns);
    /* VENDOR: RESET: clear what software may clear, leave the arm held:
     *   UR: after a protective stop, DashboardClient unlockProtectiveStop() (and closeSafetyPopup()); it is
     *     refused within 5 s of the stop: fail with that reason, and the operator resets again. An emergency
     *     stop (isEmergencyStopped()) is released on the button, never from here.
     *   Franka: automaticErrorRecovery() after a reflex, then restart the control loop holding where the arm is.
     * Clear hw->vendor_stop_triggered once the vendor's stop is cleared. */
    (void)now_ns;
    return vendor_missing(hw, "reset");
}

static const char *hw_last_error(void *self)
{
    return ((bridge_hw *)self)->error;
}

const rrfw_hw_ops bridge_hw_ops = {
    hw_describe,
    hw_read_state,
    hw_command_joint_positions,
    hw_command_joint_velocities,
    hw_brake,
    hw_release_brake,
    hw_reset,
    hw_last_error,
};
