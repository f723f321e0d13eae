/* The messages behind the golden vectors in ../vectors (values listed in ../vectors/README.md).
 * Every number is exactly representable in binary, so C and C# compare bit for bit. */
#ifndef RRFW_GOLDEN_H
#define RRFW_GOLDEN_H

#include <string.h>

#include "rrfw.h"

#define GOLDEN_SESSION 0x5E551001u
#define GOLDEN_STATE_TIME 123456789012ull
#define GOLDEN_CLIENT 0xC0FFEE01u

/* The shared secret behind the golden vectors: bytes 0x00, 0x01, ..., 0x1F. */
static inline void golden_secret(uint8_t out[RRFW_KEY_SIZE])
{
    for (unsigned i = 0; i < RRFW_KEY_SIZE; i++)
        out[i] = (uint8_t)i;
}

/* The controller key of GOLDEN_CLIENT on the arm session GOLDEN_SESSION: what seals the golden
 * vectors of authenticated types. */
static inline void golden_controller_key(uint8_t out[RRFW_KEY_SIZE])
{
    uint8_t secret[RRFW_KEY_SIZE];
    golden_secret(secret);
    rrfw_controller_key(secret, GOLDEN_SESSION, GOLDEN_CLIENT, out);
}

static inline rrfw_message golden_hello(void)
{
    rrfw_message m;
    memset(&m, 0, sizeof m);
    m.header.type = RRFW_HELLO;
    m.header.sequence = 1;
    m.header.timestamp_ns = 1000;
    m.body.hello.min_version = 2;
    m.body.hello.max_version = 2;
    m.body.hello.client_id = GOLDEN_CLIENT;
    return m;
}

static inline rrfw_message golden_description(void)
{
    rrfw_message m;
    memset(&m, 0, sizeof m);
    m.header.type = RRFW_DESCRIPTION;
    m.header.sequence = 1;
    m.header.timestamp_ns = 2000000;
    rrfw_description *d = &m.body.description;
    d->session = GOLDEN_SESSION;
    d->version = 2;
    d->joint_count = 6;
    d->capabilities = 0x3 | RRFW_CAPABILITY_GRIPPER; /* joint position and joint velocity, and a gripper */
    d->state_rate_hz = 250;
    d->watchdog_ms = 100;
    d->ee_max_translation_m = 0.0625;
    d->ee_max_rotation_rad = 0.25;
    for (int j = 0; j < 6; j++) {
        d->joints[j].position_min = -(2.5 + 0.125 * j);
        d->joints[j].position_max = 2.5 + 0.125 * j;
        d->joints[j].velocity_max = 1.5 + 0.25 * j;
        d->joints[j].effort_max = 40.0 - 5.0 * j;
    }
    d->claim_lease_ms = 2000;
    d->last_command_sequence = 41;
    d->last_control_sequence = 9;
    d->claimed_by = GOLDEN_CLIENT;
    return m;
}

/* The same arm without a gripper: capabilities 0x3 (what an arm built before the gripper bit sends, too). */
static inline rrfw_message golden_description_no_gripper(void)
{
    rrfw_message m = golden_description();
    m.body.description.capabilities = 0x3;
    return m;
}

static inline rrfw_message golden_state(void)
{
    rrfw_message m;
    memset(&m, 0, sizeof m);
    m.header.type = RRFW_STATE;
    m.header.sequence = 42;
    m.header.timestamp_ns = GOLDEN_STATE_TIME;
    rrfw_state *s = &m.body.state;
    s->session = GOLDEN_SESSION;
    s->last_command_sequence = 41;
    s->status_flags = RRFW_STATUS_ENABLED | RRFW_STATUS_MOVING;
    s->fault_flags = 0;
    s->hold_reason = RRFW_HOLD_NONE;
    s->joint_count = 6;
    s->active_mode = RRFW_MODE_JOINT_POSITION;
    s->commands_rejected = 3;
    s->gripper_position = 0.25;
    s->gripper_effort = 2.5;
    const double pose[7] = { 0.5, -0.25, 0.75, 1.0, 0.0, 0.0, 0.0 };
    memcpy(s->ee_pose, pose, sizeof pose);
    for (int j = 0; j < 6; j++) {
        s->positions[j] = 0.125 * j - 0.25;
        s->velocities[j] = 0.0625 * j;
        s->efforts[j] = -1.5 + j;
    }
    return m;
}

static inline rrfw_message golden_command_joint_position(void)
{
    rrfw_message m;
    memset(&m, 0, sizeof m);
    m.header.type = RRFW_COMMAND;
    m.header.sequence = 7;
    m.header.timestamp_ns = 5000;
    rrfw_command *c = &m.body.command;
    c->session = GOLDEN_SESSION;
    c->mode = RRFW_MODE_JOINT_POSITION;
    c->value_count = 6;
    c->expires_at_ns = GOLDEN_STATE_TIME + 50000000ull;
    c->gripper_target = 0.5;
    for (int j = 0; j < 6; j++)
        c->values[j] = 0.125 * (j + 1);
    return m;
}

static inline rrfw_message golden_command_ee_delta(void)
{
    rrfw_message m;
    memset(&m, 0, sizeof m);
    m.header.type = RRFW_COMMAND;
    m.header.sequence = 8;
    m.header.timestamp_ns = 6000;
    rrfw_command *c = &m.body.command;
    c->session = GOLDEN_SESSION;
    c->mode = RRFW_MODE_EE_DELTA;
    c->value_count = 6;
    c->expires_at_ns = 200;
    c->gripper_target = 1.0;
    const double delta[6] = { 0.015625, -0.03125, 0.0078125, 0.0, 0.0, 0.0625 };
    memcpy(c->values, delta, sizeof delta);
    return m;
}

static inline rrfw_message golden_session_request(uint16_t type, uint32_t sequence)
{
    rrfw_message m;
    memset(&m, 0, sizeof m);
    m.header.type = type;
    m.header.sequence = sequence;
    m.header.timestamp_ns = 77;
    m.body.session_request.session = GOLDEN_SESSION;
    return m;
}

static inline rrfw_message golden_ack(void)
{
    rrfw_message m;
    memset(&m, 0, sizeof m);
    m.header.type = RRFW_ACK;
    m.header.sequence = 3;
    m.header.timestamp_ns = 3000000;
    m.body.ack.session = GOLDEN_SESSION;
    m.body.ack.request_sequence = 3;
    m.body.ack.request_type = RRFW_ENABLE;
    m.body.ack.result = RRFW_ACK_OK;
    m.body.ack.status_flags = RRFW_STATUS_ENABLED;
    return m;
}

static inline rrfw_message golden_fault_query(void)
{
    rrfw_message m;
    memset(&m, 0, sizeof m);
    m.header.type = RRFW_FAULT_QUERY;
    m.header.sequence = 5;
    m.header.timestamp_ns = 88;
    return m;
}

static inline rrfw_message golden_fault_report(void)
{
    rrfw_message m;
    memset(&m, 0, sizeof m);
    m.header.type = RRFW_FAULT_REPORT;
    m.header.sequence = 5;
    m.header.timestamp_ns = 4000000;
    rrfw_fault_report *f = &m.body.fault_report;
    f->session = GOLDEN_SESSION;
    f->status_flags = RRFW_STATUS_ENABLED | RRFW_STATUS_HOLDING;
    f->fault_flags = RRFW_FAULT_WATCHDOG | RRFW_FAULT_BAD_FRAMES;
    f->hold_reason = RRFW_HOLD_WATCHDOG;
    f->watchdog_trips = 1;
    f->commands_applied = 40;
    f->last_command_sequence = 41;
    f->rejected[RRFW_BAD_CRC] = 2;
    f->rejected[RRFW_BAD_MAGIC] = 1;
    return m;
}

static inline rrfw_message golden_claim(void)
{
    rrfw_message m;
    memset(&m, 0, sizeof m);
    m.header.type = RRFW_CLAIM;
    m.header.sequence = 2;
    m.header.timestamp_ns = 66;
    m.body.claim.session = GOLDEN_SESSION;
    m.body.claim.client_id = GOLDEN_CLIENT;
    m.body.claim.flags = 0;
    return m;
}

/* The valid golden vectors: file name and message. */
typedef struct golden_vector {
    const char *file;
    rrfw_message (*make)(void);
} golden_vector;

static inline rrfw_message golden_enable(void) { return golden_session_request(RRFW_ENABLE, 3); }
static inline rrfw_message golden_estop(void) { return golden_session_request(RRFW_ESTOP, 4); }

static const golden_vector golden_vectors[] = {
    { "hello.bin", golden_hello },
    { "claim.bin", golden_claim },
    { "description_6dof.bin", golden_description },
    { "state_6dof.bin", golden_state },
    { "command_joint_position.bin", golden_command_joint_position },
    { "command_ee_delta.bin", golden_command_ee_delta },
    { "enable.bin", golden_enable },
    { "estop.bin", golden_estop },
    { "ack.bin", golden_ack },
    { "fault_query.bin", golden_fault_query },
    { "fault_report.bin", golden_fault_report },
    { "description_6dof_no_gripper.bin", golden_description_no_gripper },
};
#define GOLDEN_VECTOR_COUNT (sizeof golden_vectors / sizeof golden_vectors[0])

#endif
