/* rrfw.c — encode/decode for the firmware wire protocol (rrfw.h, ../PROTOCOL.md). */
#include "rrfw.h"

#include <math.h>
#include <string.h>

/* ---- CRC32C ------------------------------------------------------------------------------ */

static uint32_t crc_table[256];
static int crc_table_ready;

static void crc_build_table(void)
{
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = i;
        for (int k = 0; k < 8; k++)
            c = (c & 1u) ? (c >> 1) ^ 0x82F63B78u : c >> 1;
        crc_table[i] = c;
    }
    crc_table_ready = 1;
}

uint32_t rrfw_crc32c(const void *data, size_t size)
{
    /* Building the table twice from two threads writes the same values: harmless. */
    if (!crc_table_ready)
        crc_build_table();
    const uint8_t *p = (const uint8_t *)data;
    uint32_t c = 0xFFFFFFFFu;
    for (size_t i = 0; i < size; i++)
        c = crc_table[(c ^ p[i]) & 0xFFu] ^ (c >> 8);
    return c ^ 0xFFFFFFFFu;
}

/* ---- little-endian field access ------------------------------------------------------------ */

static uint16_t get_u16(const uint8_t *p) { return (uint16_t)(p[0] | (p[1] << 8)); }
static uint32_t get_u32(const uint8_t *p)
{
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
}
static uint64_t get_u64(const uint8_t *p) { return (uint64_t)get_u32(p) | ((uint64_t)get_u32(p + 4) << 32); }
static double get_f64(const uint8_t *p)
{
    uint64_t bits = get_u64(p);
    double d;
    memcpy(&d, &bits, sizeof d);
    return d;
}
static void put_u16(uint8_t *p, uint16_t v) { p[0] = (uint8_t)v; p[1] = (uint8_t)(v >> 8); }
static void put_u32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v; p[1] = (uint8_t)(v >> 8); p[2] = (uint8_t)(v >> 16); p[3] = (uint8_t)(v >> 24);
}
static void put_u64(uint8_t *p, uint64_t v) { put_u32(p, (uint32_t)v); put_u32(p + 4, (uint32_t)(v >> 32)); }
static void put_f64(uint8_t *p, double d)
{
    uint64_t bits;
    memcpy(&bits, &d, sizeof bits);
    put_u64(p, bits);
}

/* ---- sizes ----------------------------------------------------------------------------------- */

#define HELLO_SIZE 8u
#define DESCRIPTION_FIXED 28u
#define DESCRIPTION_PER_JOINT 32u
#define DESCRIPTION_TAIL 16u /* claim_lease_ms, last_command_sequence, last_control_sequence, claimed_by */
#define STATE_FIXED 96u
#define STATE_PER_JOINT 24u
#define COMMAND_FIXED 24u
#define SESSION_REQUEST_SIZE 4u
#define TAG RRFW_TAG_SIZE
#define CLAIM_SIZE (12u + TAG)
#define ACK_SIZE 20u
#define FAULT_QUERY_SIZE 0u
#define FAULT_REPORT_SIZE (28u + 4u * RRFW_STATUS_COUNT)

static int joint_count_ok(unsigned n) { return n >= 1 && n <= RRFW_MAX_JOINTS; }

/* The bits PROTOCOL.md defines; a receiver rejects any other bit as bad_payload (§3). */
#define DEFINED_STATUS_FLAGS (RRFW_STATUS_ENABLED | RRFW_STATUS_HOLDING | RRFW_STATUS_ESTOP | RRFW_STATUS_FAULT | RRFW_STATUS_MOVING)
#define DEFINED_FAULT_FLAGS (RRFW_FAULT_JOINT_LIMIT | RRFW_FAULT_OVER_EFFORT | RRFW_FAULT_WATCHDOG | RRFW_FAULT_BAD_FRAMES)

static int command_count_ok(unsigned mode, unsigned n)
{
    if (mode == RRFW_MODE_EE_DELTA)
        return n == 6;
    if (mode == RRFW_MODE_JOINT_POSITION || mode == RRFW_MODE_JOINT_VELOCITY)
        return joint_count_ok(n);
    return 0;
}

size_t rrfw_payload_size(const rrfw_message *m)
{
    switch (m->header.type) {
    case RRFW_HELLO: return HELLO_SIZE;
    case RRFW_DESCRIPTION:
        return joint_count_ok(m->body.description.joint_count)
            ? DESCRIPTION_FIXED + DESCRIPTION_PER_JOINT * m->body.description.joint_count + DESCRIPTION_TAIL : 0;
    case RRFW_STATE:
        return joint_count_ok(m->body.state.joint_count)
            ? STATE_FIXED + STATE_PER_JOINT * m->body.state.joint_count : 0;
    case RRFW_COMMAND:
        return command_count_ok(m->body.command.mode, m->body.command.value_count)
            ? COMMAND_FIXED + 8u * m->body.command.value_count + TAG : 0;
    case RRFW_HEARTBEAT: case RRFW_ENABLE: case RRFW_DISABLE: case RRFW_RESET:
        return SESSION_REQUEST_SIZE + TAG;
    case RRFW_ESTOP:
        return SESSION_REQUEST_SIZE;
    case RRFW_CLAIM: return CLAIM_SIZE;
    case RRFW_ACK: return ACK_SIZE;
    case RRFW_FAULT_QUERY: return FAULT_QUERY_SIZE;
    case RRFW_FAULT_REPORT: return FAULT_REPORT_SIZE;
    default: return 0;
    }
}

static int type_known(uint16_t type) { return type >= RRFW_HELLO && type <= RRFW_CLAIM; }

/* ---- frame check ----------------------------------------------------------------------------- */

rrfw_status rrfw_check_frame(const uint8_t *frame, size_t size, rrfw_header *h)
{
    if (size < RRFW_HEADER_SIZE + RRFW_TRAILER_SIZE)
        return RRFW_TRUNCATED;
    if (size > RRFW_MAX_FRAME)
        return RRFW_OVERSIZED;
    h->magic = get_u32(frame);
    h->version = get_u16(frame + 4);
    h->type = get_u16(frame + 6);
    h->sequence = get_u32(frame + 8);
    h->payload_length = get_u32(frame + 12);
    h->timestamp_ns = get_u64(frame + 16);
    if (h->magic != RRFW_MAGIC)
        return RRFW_BAD_MAGIC;
    if (h->version != RRFW_VERSION)
        return RRFW_UNSUPPORTED_VERSION;
    if (h->payload_length > RRFW_MAX_PAYLOAD)
        return RRFW_OVERSIZED;
    size_t expected = RRFW_HEADER_SIZE + (size_t)h->payload_length + RRFW_TRAILER_SIZE;
    if (size < expected)
        return RRFW_TRUNCATED;
    if (size > expected)
        return RRFW_LENGTH_MISMATCH;
    size_t covered = RRFW_HEADER_SIZE + h->payload_length;
    if (rrfw_crc32c(frame, covered) != get_u32(frame + covered))
        return RRFW_BAD_CRC;
    if (!type_known(h->type))
        return RRFW_UNKNOWN_TYPE;
    return RRFW_OK;
}

/* ---- decode ---------------------------------------------------------------------------------- */

static int all_finite(const double *v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!isfinite(v[i]))
            return 0;
    return 1;
}

static rrfw_status decode_description(const uint8_t *p, uint32_t len, rrfw_description *d)
{
    if (len < DESCRIPTION_FIXED)
        return RRFW_LENGTH_MISMATCH;
    d->session = get_u32(p);
    d->version = get_u16(p + 4);
    d->joint_count = p[6];
    d->capabilities = p[7];
    d->state_rate_hz = get_u16(p + 8);
    d->watchdog_ms = get_u16(p + 10);
    d->ee_max_translation_m = get_f64(p + 12);
    d->ee_max_rotation_rad = get_f64(p + 20);
    if (!joint_count_ok(d->joint_count))
        return RRFW_BAD_PAYLOAD;
    if (len != DESCRIPTION_FIXED + DESCRIPTION_PER_JOINT * d->joint_count + DESCRIPTION_TAIL)
        return RRFW_LENGTH_MISMATCH;
    const uint8_t *tail = p + DESCRIPTION_FIXED + DESCRIPTION_PER_JOINT * d->joint_count;
    d->claim_lease_ms = get_u32(tail);
    d->last_command_sequence = get_u32(tail + 4);
    d->last_control_sequence = get_u32(tail + 8);
    d->claimed_by = get_u32(tail + 12);
    if (d->session == 0 || d->version == 0 || (d->capabilities & RRFW_CAPABILITY_MODES) == 0
        || (d->capabilities & ~(RRFW_CAPABILITY_MODES | RRFW_CAPABILITY_GRIPPER)) != 0
        || d->state_rate_hz == 0 || d->watchdog_ms == 0 || d->claim_lease_ms == 0)
        return RRFW_BAD_PAYLOAD;
    if (!isfinite(d->ee_max_translation_m) || !isfinite(d->ee_max_rotation_rad)
        || d->ee_max_translation_m < 0 || d->ee_max_rotation_rad < 0)
        return RRFW_BAD_PAYLOAD;
    for (unsigned j = 0; j < d->joint_count; j++) {
        const uint8_t *q = p + DESCRIPTION_FIXED + DESCRIPTION_PER_JOINT * j;
        rrfw_joint_limits *l = &d->joints[j];
        l->position_min = get_f64(q);
        l->position_max = get_f64(q + 8);
        l->velocity_max = get_f64(q + 16);
        l->effort_max = get_f64(q + 24);
        if (!all_finite(&l->position_min, 1) || !all_finite(&l->position_max, 1) || !all_finite(&l->velocity_max, 1)
            || !all_finite(&l->effort_max, 1) || l->position_min > l->position_max || !(l->velocity_max > 0)
            || !(l->effort_max > 0))
            return RRFW_BAD_PAYLOAD;
    }
    return RRFW_OK;
}

static rrfw_status decode_state(const uint8_t *p, uint32_t len, rrfw_state *s)
{
    if (len < STATE_FIXED)
        return RRFW_LENGTH_MISMATCH;
    s->session = get_u32(p);
    s->last_command_sequence = get_u32(p + 4);
    s->status_flags = get_u32(p + 8);
    s->fault_flags = get_u32(p + 12);
    s->hold_reason = get_u16(p + 16);
    s->joint_count = p[18];
    s->active_mode = p[19];
    s->commands_rejected = get_u32(p + 20);
    if (!joint_count_ok(s->joint_count))
        return RRFW_BAD_PAYLOAD;
    if (len != STATE_FIXED + STATE_PER_JOINT * s->joint_count)
        return RRFW_LENGTH_MISMATCH;
    if (s->session == 0 || s->active_mode > RRFW_MODE_EE_DELTA || s->hold_reason > RRFW_HOLD_FAULT
        || (s->status_flags & ~DEFINED_STATUS_FLAGS) != 0 || (s->fault_flags & ~DEFINED_FAULT_FLAGS) != 0)
        return RRFW_BAD_PAYLOAD;
    s->gripper_position = get_f64(p + 24);
    s->gripper_effort = get_f64(p + 32);
    for (int i = 0; i < 7; i++)
        s->ee_pose[i] = get_f64(p + 40 + 8 * i);
    unsigned n = s->joint_count;
    for (unsigned j = 0; j < n; j++) {
        s->positions[j] = get_f64(p + STATE_FIXED + 8 * j);
        s->velocities[j] = get_f64(p + STATE_FIXED + 8 * (n + j));
        s->efforts[j] = get_f64(p + STATE_FIXED + 8 * (2 * n + j));
    }
    if (!all_finite(&s->gripper_position, 1) || !all_finite(&s->gripper_effort, 1) || !all_finite(s->ee_pose, 7)
        || !all_finite(s->positions, n) || !all_finite(s->velocities, n) || !all_finite(s->efforts, n))
        return RRFW_BAD_PAYLOAD;
    return RRFW_OK;
}

static rrfw_status decode_command(const uint8_t *p, uint32_t len, rrfw_command *c)
{
    if (len < COMMAND_FIXED)
        return RRFW_LENGTH_MISMATCH;
    c->session = get_u32(p);
    c->mode = p[4];
    c->value_count = p[5];
    uint16_t reserved = get_u16(p + 6);
    c->expires_at_ns = get_u64(p + 8);
    c->gripper_target = get_f64(p + 16);
    if (!command_count_ok(c->mode, c->value_count))
        return RRFW_BAD_PAYLOAD;
    if (len != COMMAND_FIXED + 8u * c->value_count + TAG)
        return RRFW_LENGTH_MISMATCH;
    if (reserved != 0 || c->session == 0 || !all_finite(&c->gripper_target, 1))
        return RRFW_BAD_PAYLOAD;
    for (unsigned i = 0; i < c->value_count; i++)
        c->values[i] = get_f64(p + COMMAND_FIXED + 8 * i);
    if (!all_finite(c->values, c->value_count))
        return RRFW_BAD_PAYLOAD;
    return RRFW_OK;
}

static rrfw_status decode_body(const uint8_t *frame, size_t size, rrfw_message *m);

rrfw_status rrfw_decode(const uint8_t *frame, size_t size, rrfw_message *m)
{
    rrfw_status st = decode_body(frame, size, m);
    if (st == RRFW_OK && rrfw_is_authenticated(m->header.type))
        memcpy(m->tag, frame + RRFW_HEADER_SIZE + m->header.payload_length - TAG, TAG);
    return st;
}

static rrfw_status decode_body(const uint8_t *frame, size_t size, rrfw_message *m)
{
    rrfw_status st = rrfw_check_frame(frame, size, &m->header);
    if (st != RRFW_OK)
        return st;
    const uint8_t *p = frame + RRFW_HEADER_SIZE;
    uint32_t len = m->header.payload_length;
    switch (m->header.type) {
    case RRFW_HELLO:
        if (len != HELLO_SIZE)
            return RRFW_LENGTH_MISMATCH;
        m->body.hello.min_version = get_u16(p);
        m->body.hello.max_version = get_u16(p + 2);
        m->body.hello.client_id = get_u32(p + 4);
        if (m->body.hello.min_version == 0 || m->body.hello.min_version > m->body.hello.max_version)
            return RRFW_BAD_PAYLOAD;
        return RRFW_OK;
    case RRFW_DESCRIPTION:
        return decode_description(p, len, &m->body.description);
    case RRFW_STATE:
        return decode_state(p, len, &m->body.state);
    case RRFW_COMMAND:
        return decode_command(p, len, &m->body.command);
    case RRFW_HEARTBEAT: case RRFW_ENABLE: case RRFW_DISABLE: case RRFW_ESTOP: case RRFW_RESET:
        if (len != SESSION_REQUEST_SIZE + (m->header.type == RRFW_ESTOP ? 0u : TAG))
            return RRFW_LENGTH_MISMATCH;
        m->body.session_request.session = get_u32(p);
        return RRFW_OK;
    case RRFW_CLAIM:
        if (len != CLAIM_SIZE)
            return RRFW_LENGTH_MISMATCH;
        m->body.claim.session = get_u32(p);
        m->body.claim.client_id = get_u32(p + 4);
        m->body.claim.flags = get_u32(p + 8);
        if (m->body.claim.session == 0 || m->body.claim.client_id == 0
            || (m->body.claim.flags & ~(RRFW_CLAIM_TAKEOVER | RRFW_CLAIM_RELEASE)) != 0
            || m->body.claim.flags == (RRFW_CLAIM_TAKEOVER | RRFW_CLAIM_RELEASE))
            return RRFW_BAD_PAYLOAD;
        return RRFW_OK;
    case RRFW_ACK: {
        if (len != ACK_SIZE)
            return RRFW_LENGTH_MISMATCH;
        rrfw_ack *a = &m->body.ack;
        a->session = get_u32(p);
        a->request_sequence = get_u32(p + 4);
        a->request_type = get_u16(p + 8);
        a->result = get_u16(p + 10);
        a->reason = get_u16(p + 12);
        a->reserved = get_u16(p + 14);
        a->status_flags = get_u32(p + 16);
        if (a->reserved != 0 || a->result > RRFW_ACK_CLAIMED || a->reason >= RRFW_STATUS_COUNT
            || (a->status_flags & ~DEFINED_STATUS_FLAGS) != 0)
            return RRFW_BAD_PAYLOAD;
        return RRFW_OK;
    }
    case RRFW_FAULT_QUERY:
        return len == FAULT_QUERY_SIZE ? RRFW_OK : RRFW_LENGTH_MISMATCH;
    case RRFW_FAULT_REPORT: {
        if (len != FAULT_REPORT_SIZE)
            return RRFW_LENGTH_MISMATCH;
        rrfw_fault_report *f = &m->body.fault_report;
        f->session = get_u32(p);
        f->status_flags = get_u32(p + 4);
        f->fault_flags = get_u32(p + 8);
        f->hold_reason = get_u16(p + 12);
        f->reserved = get_u16(p + 14);
        f->watchdog_trips = get_u32(p + 16);
        f->commands_applied = get_u32(p + 20);
        f->last_command_sequence = get_u32(p + 24);
        for (unsigned i = 0; i < RRFW_STATUS_COUNT; i++)
            f->rejected[i] = get_u32(p + 28 + 4 * i);
        if (f->reserved != 0 || f->hold_reason > RRFW_HOLD_FAULT || (f->status_flags & ~DEFINED_STATUS_FLAGS) != 0
            || (f->fault_flags & ~DEFINED_FAULT_FLAGS) != 0)
            return RRFW_BAD_PAYLOAD;
        return RRFW_OK;
    }
    default:
        return RRFW_UNKNOWN_TYPE;
    }
}

/* ---- encode ---------------------------------------------------------------------------------- */

static void encode_payload(const rrfw_message *m, uint8_t *p)
{
    switch (m->header.type) {
    case RRFW_HELLO:
        put_u16(p, m->body.hello.min_version);
        put_u16(p + 2, m->body.hello.max_version);
        put_u32(p + 4, m->body.hello.client_id);
        break;
    case RRFW_DESCRIPTION: {
        const rrfw_description *d = &m->body.description;
        put_u32(p, d->session);
        put_u16(p + 4, d->version);
        p[6] = d->joint_count;
        p[7] = d->capabilities;
        put_u16(p + 8, d->state_rate_hz);
        put_u16(p + 10, d->watchdog_ms);
        put_f64(p + 12, d->ee_max_translation_m);
        put_f64(p + 20, d->ee_max_rotation_rad);
        for (unsigned j = 0; j < d->joint_count; j++) {
            uint8_t *q = p + DESCRIPTION_FIXED + DESCRIPTION_PER_JOINT * j;
            put_f64(q, d->joints[j].position_min);
            put_f64(q + 8, d->joints[j].position_max);
            put_f64(q + 16, d->joints[j].velocity_max);
            put_f64(q + 24, d->joints[j].effort_max);
        }
        uint8_t *tail = p + DESCRIPTION_FIXED + DESCRIPTION_PER_JOINT * d->joint_count;
        put_u32(tail, d->claim_lease_ms);
        put_u32(tail + 4, d->last_command_sequence);
        put_u32(tail + 8, d->last_control_sequence);
        put_u32(tail + 12, d->claimed_by);
        break;
    }
    case RRFW_STATE: {
        const rrfw_state *s = &m->body.state;
        unsigned n = s->joint_count;
        put_u32(p, s->session);
        put_u32(p + 4, s->last_command_sequence);
        put_u32(p + 8, s->status_flags);
        put_u32(p + 12, s->fault_flags);
        put_u16(p + 16, s->hold_reason);
        p[18] = s->joint_count;
        p[19] = s->active_mode;
        put_u32(p + 20, s->commands_rejected);
        put_f64(p + 24, s->gripper_position);
        put_f64(p + 32, s->gripper_effort);
        for (int i = 0; i < 7; i++)
            put_f64(p + 40 + 8 * i, s->ee_pose[i]);
        for (unsigned j = 0; j < n; j++) {
            put_f64(p + STATE_FIXED + 8 * j, s->positions[j]);
            put_f64(p + STATE_FIXED + 8 * (n + j), s->velocities[j]);
            put_f64(p + STATE_FIXED + 8 * (2 * n + j), s->efforts[j]);
        }
        break;
    }
    case RRFW_COMMAND: {
        const rrfw_command *c = &m->body.command;
        put_u32(p, c->session);
        p[4] = c->mode;
        p[5] = c->value_count;
        put_u16(p + 6, 0);
        put_u64(p + 8, c->expires_at_ns);
        put_f64(p + 16, c->gripper_target);
        for (unsigned i = 0; i < c->value_count; i++)
            put_f64(p + COMMAND_FIXED + 8 * i, c->values[i]);
        memcpy(p + COMMAND_FIXED + 8 * c->value_count, m->tag, TAG);
        break;
    }
    case RRFW_HEARTBEAT: case RRFW_ENABLE: case RRFW_DISABLE: case RRFW_ESTOP: case RRFW_RESET:
        put_u32(p, m->body.session_request.session);
        if (m->header.type != RRFW_ESTOP)
            memcpy(p + SESSION_REQUEST_SIZE, m->tag, TAG);
        break;
    case RRFW_CLAIM:
        put_u32(p, m->body.claim.session);
        put_u32(p + 4, m->body.claim.client_id);
        put_u32(p + 8, m->body.claim.flags);
        memcpy(p + 12, m->tag, TAG);
        break;
    case RRFW_ACK: {
        const rrfw_ack *a = &m->body.ack;
        put_u32(p, a->session);
        put_u32(p + 4, a->request_sequence);
        put_u16(p + 8, a->request_type);
        put_u16(p + 10, a->result);
        put_u16(p + 12, a->reason);
        put_u16(p + 14, 0);
        put_u32(p + 16, a->status_flags);
        break;
    }
    case RRFW_FAULT_REPORT: {
        const rrfw_fault_report *f = &m->body.fault_report;
        put_u32(p, f->session);
        put_u32(p + 4, f->status_flags);
        put_u32(p + 8, f->fault_flags);
        put_u16(p + 12, f->hold_reason);
        put_u16(p + 14, 0);
        put_u32(p + 16, f->watchdog_trips);
        put_u32(p + 20, f->commands_applied);
        put_u32(p + 24, f->last_command_sequence);
        for (unsigned i = 0; i < RRFW_STATUS_COUNT; i++)
            put_u32(p + 28 + 4 * i, f->rejected[i]);
        break;
    }
    default:
        break;
    }
}

size_t rrfw_encode(const rrfw_message *m, uint8_t *out, size_t capacity)
{
    if (!type_known(m->header.type))
        return 0;
    size_t payload = rrfw_payload_size(m);
    if (payload == 0 && m->header.type != RRFW_FAULT_QUERY)
        return 0;
    size_t total = RRFW_HEADER_SIZE + payload + RRFW_TRAILER_SIZE;
    if (total > capacity)
        return 0;
    put_u32(out, RRFW_MAGIC);
    put_u16(out + 4, RRFW_VERSION);
    put_u16(out + 6, m->header.type);
    put_u32(out + 8, m->header.sequence);
    put_u32(out + 12, (uint32_t)payload);
    put_u64(out + 16, m->header.timestamp_ns);
    encode_payload(m, out + RRFW_HEADER_SIZE);
    put_u32(out + RRFW_HEADER_SIZE + payload, rrfw_crc32c(out, RRFW_HEADER_SIZE + payload));
    return total;
}

/* ---- names ----------------------------------------------------------------------------------- */

const char *rrfw_status_name(rrfw_status s)
{
    static const char *const names[RRFW_STATUS_COUNT] = {
        "ok", "truncated", "bad_magic", "unsupported_version", "oversized", "length_mismatch", "bad_crc",
        "unknown_type", "bad_payload", "sequence_repeat", "sequence_backwards", "wrong_session", "expired",
        "not_enabled", "unexpected_type", "out_of_limits", "bad_auth",
    };
    return (unsigned)s < RRFW_STATUS_COUNT ? names[s] : "unknown";
}

const char *rrfw_type_name(uint16_t t)
{
    static const char *const names[] = {
        "unknown", "hello", "description", "state", "command", "heartbeat", "enable", "disable", "estop",
        "reset", "ack", "fault_query", "fault_report", "claim",
    };
    return type_known(t) ? names[t] : names[0];
}

const char *rrfw_hold_reason_name(uint16_t r)
{
    static const char *const names[] = { "none", "disabled", "watchdog", "estop", "fault" };
    return r <= RRFW_HOLD_FAULT ? names[r] : "unknown";
}
