/*
 * bridge_hw.h — the bridge's hardware backend: the one file a vendor integrator fills in.
 *
 * Two backends behind one rrfw_hw_ops table (../include/rrfw_hw.h):
 *   loopback  no arm: the reference arm's simulated joints (../src/rrfw_sim_joints.c) stand in for it,
 *             so the bridge builds, runs and passes the protocol's behaviour suite before any vendor
 *             code exists (tests: BridgeTemplateProtocolTests);
 *   vendor    the real arm through its SDK: every place a vendor call goes is marked VENDOR in
 *             bridge_hw.c. It refuses to start until those places are filled in.
 * bridge_hw.c compiles as C and as C++ (the SDKs of UR and Franka are C++): rename it .cpp when you add
 * the SDK's calls.
 */
#ifndef BRIDGE_HW_H
#define BRIDGE_HW_H

#include "rrfw_hw.h"
#include "rrfw_sim_joints.h"

#ifdef __cplusplus
extern "C" {
#endif

/* What the bridge's own options chose (bridge_main.c parses them). */
typedef struct bridge_options {
    const char *backend;   /* "loopback" (default) or "vendor" */
    int joints;            /* loopback: how many joints to simulate, 1..16 (default 6) */
    double velocity_scale; /* (0, 1]: every velocity_max announced is the arm's times this (default 1); a first
                            * power-on runs at 0.1 or less. The arm side rejects faster commands, and the
                            * runtime's safety filter clips to the announced limits. */
    const char *robot;     /* vendor: the arm controller's address (e.g. 192.168.1.10); NULL if not given */
    int gripper;           /* 1 (default): the arm has a gripper the bridge drives (loopback: the simulated one);
                            * 0 (--no-gripper): none, and the description says so (PROTOCOL.md §3.2) */
} bridge_options;

typedef struct bridge_hw {
    int loopback;                              /* 1: no arm, the simulated joints below */
    rrfw_sim_joints loopback_joints;           /* the loopback's arm */
    int joint_count;
    rrfw_joint_limits limits[RRFW_MAX_JOINTS]; /* as announced: the arm's, velocities scaled */
    int gripper;                               /* the arm has a gripper the bridge drives: announced in describe */
    const char *robot;
    int vendor_stop_triggered;                 /* the vendor's own stop was triggered by an ESTOP and not yet cleared */
    char error[256];                           /* why the last call failed */
    /* VENDOR: the SDK's objects and what the bridge shares with the SDK's real-time loop go here, e.g.
     *   UR (ur_rtde, C++): an RTDEControlInterface, an RTDEReceiveInterface, a DashboardClient; the 500 Hz
     *     thread that streams the newest target with servoJ or speedJ; the target and its mode, under a mutex
     *     or in a lock-free single-writer slot;
     *   Franka (libfranka, C++): a franka::Robot (and a franka::Gripper); the thread that runs robot.control
     *     with the 1 kHz callback; the newest target and the newest franka::RobotState the callback saw. */
} bridge_hw;

/* Connects the chosen backend (setup only). 0, or -1 with the reason in hw->error. */
int bridge_hw_open(bridge_hw *hw, const bridge_options *options);

/* Leaves the arm held and disconnects. */
void bridge_hw_close(bridge_hw *hw);

/* The backend's rrfw_hw_ops: pass a bridge_hw opened with bridge_hw_open as their hw. */
extern const rrfw_hw_ops bridge_hw_ops;

#ifdef __cplusplus
}
#endif
#endif
