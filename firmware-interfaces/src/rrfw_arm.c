/*
 * rrfw_arm.c — the arm's side of the firmware protocol over libzmq (see include/rrfw_arm.h).
 *
 * Everything here is protocol: frames, authentication, the claim, sequence numbers, the watchdog, the
 * e-stop and fault latches, the counters. The joints are behind rrfw_hw_ops (include/rrfw_hw.h).
 */
#define _POSIX_C_SOURCE 200809L
#include "rrfw_arm.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

typedef struct arm {
    const rrfw_arm_config *opt;
    const rrfw_hw_ops *ops;
    void *hw;
    rrfw_description description;
    uint32_t session;
    int joints;
    rrfw_hw_sample sample; /* the hardware's newest measurement */
    uint8_t applied_mode;  /* mode of the last applied command this session, 0 if none: STATE's active_mode (a hold keeps it) */
    /* safety state */
    int enabled, estop;
    uint32_t fault_flags;
    uint16_t hold_reason;
    uint64_t last_valid_command_ns;
    /* the controller that holds the arm (protocol version 2): its client id, its key, and when its
     * last valid authenticated frame arrived */
    uint8_t secret[RRFW_KEY_SIZE];
    uint32_t claimant;
    uint8_t claim_key[RRFW_KEY_SIZE];
    uint64_t claim_last_ns;
    uint32_t last_control_sequence; /* highest control request sequence recorded this arm session (PROTOCOL.md §4) */
    /* sequence tracking of the command channel (this arm session, whoever sends) */
    int have_command_sequence;
    uint32_t last_command_sequence_recorded;
    uint32_t last_command_sequence_applied;
    /* counters for FAULT_REPORT */
    uint32_t rejected[RRFW_STATUS_COUNT];
    uint32_t commands_rejected, commands_applied, watchdog_trips;
    uint32_t state_sequence, reply_sequence;
    uint32_t hardware_failures; /* failed rrfw_hw_ops calls, for the log's rate limit */
} arm;

static volatile sig_atomic_t stop_requested;

static void on_signal(int sig) { (void)sig; stop_requested = 1; }

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void log_line(const arm *a, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void log_line(const arm *a, const char *fmt, ...)
{
    va_list args;
    va_start(args, fmt);
    fprintf(stderr, "%s: ", a->opt->program);
    vfprintf(stderr, fmt, args);
    fputc('\n', stderr);
    va_end(args);
}

/* The first 20 of a count, then every power of two: a flood of the same event cannot flood the log. */
static int worth_logging(uint32_t n) { return n <= 20 || (n & (n - 1)) == 0; }

/* ---- options ---------------------------------------------------------------------------------- */

void rrfw_arm_config_defaults(rrfw_arm_config *o, const char *program)
{
    memset(o, 0, sizeof *o);
    o->program = program;
    o->state_address = "tcp://127.0.0.1:5601";
    o->command_address = "tcp://127.0.0.1:5602";
    o->control_address = "tcp://127.0.0.1:5603";
    o->rate_hz = 250;
    o->watchdog_ms = 100;
    o->claim_lease_ms = 2000;
}

void rrfw_arm_print_options(FILE *out)
{
    fprintf(out,
        "  --key FILE             the secret shared with the operator's runtime (rr keygen makes one): 64 hex digits in\n"
        "                         a file only its owner may read; required\n"
        "  --state ADDR           state PUB endpoint it binds (default tcp://127.0.0.1:5601)\n"
        "  --command ADDR         command SUB endpoint (default tcp://127.0.0.1:5602)\n"
        "  --control ADDR         control REP endpoint (default tcp://127.0.0.1:5603)\n"
        "  --rate HZ              STATE rate, 1..10000 (default 250)\n"
        "  --watchdog-ms MS       hold when no valid command arrives for this long, 1..60000 (default 100)\n"
        "  --claim-lease-ms MS    a claim lapses after this long without a valid frame from its holder (default 2000)\n"
        "  --curve-keys FILE      the arm's CURVE key pair (rr keygen --curve): every socket encrypts, and a runtime needs\n"
        "                         the pair's public key (arm.curve_public_key); for an arm reached over a network\n"
        "  --echo ADDR            a raw REP echo (the benchmarks' libzmq baseline)\n"
        "  --quiet                no log but the ready line and errors\n");
}

int rrfw_arm_parse_int(const char *program, const char *name, const char *text, int min, int max, int *out)
{
    char *end = NULL;
    errno = 0;
    long v = strtol(text, &end, 10);
    if (errno != 0 || end == text || *end != '\0' || v < min || v > max) {
        fprintf(stderr, "%s: %s must be an integer from %d to %d, got '%s'\n", program, name, min, max, text);
        return 0;
    }
    *out = (int)v;
    return 1;
}

int rrfw_arm_parse_options(rrfw_arm_config *o, int argc, char **argv, rrfw_arm_option_fn option, void *context,
                           void (*usage)(void))
{
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--quiet") == 0) {
            o->quiet = 1;
            continue;
        }
        if (strcmp(a, "--help") == 0) {
            usage();
            exit(0);
        }
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        int shared = strcmp(a, "--state") == 0 || strcmp(a, "--command") == 0 || strcmp(a, "--control") == 0
            || strcmp(a, "--echo") == 0 || strcmp(a, "--rate") == 0 || strcmp(a, "--watchdog-ms") == 0
            || strcmp(a, "--claim-lease-ms") == 0 || strcmp(a, "--key") == 0 || strcmp(a, "--curve-keys") == 0;
        if (!shared) {
            /* The program's own: an option with its value (1), a flag (2), or not its option (0). */
            int taken = option ? option(context, a, v) : 0;
            if (taken < 0)
                return 0;
            if (taken == 0) {
                fprintf(stderr, v ? "%s: unknown option '%s'\n" : "%s: unknown option or missing value: '%s'\n", o->program, a);
                usage();
                return 0;
            }
            if (taken == 1)
                i++;
            continue;
        }
        if (v == NULL) {
            fprintf(stderr, "%s: unknown option or missing value: '%s'\n", o->program, a);
            usage();
            return 0;
        }
        i++;
        if (strcmp(a, "--state") == 0) o->state_address = v;
        else if (strcmp(a, "--command") == 0) o->command_address = v;
        else if (strcmp(a, "--control") == 0) o->control_address = v;
        else if (strcmp(a, "--echo") == 0) o->echo_address = v;
        else if (strcmp(a, "--rate") == 0) { if (!rrfw_arm_parse_int(o->program, a, v, 1, 10000, &o->rate_hz)) return 0; }
        else if (strcmp(a, "--watchdog-ms") == 0) { if (!rrfw_arm_parse_int(o->program, a, v, 1, 60000, &o->watchdog_ms)) return 0; }
        else if (strcmp(a, "--claim-lease-ms") == 0) { if (!rrfw_arm_parse_int(o->program, a, v, 1, 600000, &o->claim_lease_ms)) return 0; }
        else if (strcmp(a, "--key") == 0) o->key_path = v;
        else if (strcmp(a, "--curve-keys") == 0) o->curve_path = v;
    }
    if (o->key_path == NULL) {
        fprintf(stderr, "%s: --key FILE is required: protocol version %u accepts commands only from the "
                        "controller holding the shared secret (make one with `rr keygen --out FILE`)\n", o->program, RRFW_VERSION);
        return 0;
    }
    return 1;
}

/* Reads the shared secret: 64 hex digits (whitespace around them allowed) from a regular file that
 * neither its group nor others may read or write. */
static int load_key(const char *program, const char *path, uint8_t out[RRFW_KEY_SIZE])
{
    struct stat st;
    if (stat(path, &st) != 0) {
        fprintf(stderr, "%s: --key %s: %s\n", program, path, strerror(errno));
        return 0;
    }
    if (!S_ISREG(st.st_mode) || (st.st_mode & 077) != 0) {
        fprintf(stderr, "%s: --key %s: must be a regular file only its owner can read (mode 600), is %03o\n",
            program, path, (unsigned)(st.st_mode & 0777));
        return 0;
    }
    FILE *f = fopen(path, "r");
    if (!f) {
        fprintf(stderr, "%s: --key %s: %s\n", program, path, strerror(errno));
        return 0;
    }
    char text[256];
    size_t n = fread(text, 1, sizeof text - 1, f);
    fclose(f);
    text[n] = '\0';
    const char *p = text;
    while (*p == ' ' || *p == '\n' || *p == '\r' || *p == '\t') p++;
    for (unsigned i = 0; i < RRFW_KEY_SIZE; i++) {
        unsigned byte;
        if (sscanf(p + 2 * i, "%2x", &byte) != 1 || !isxdigit((unsigned char)p[2 * i]) || !isxdigit((unsigned char)p[2 * i + 1])) {
            fprintf(stderr, "%s: --key %s: expected 64 hex digits (a %u-byte secret)\n", program, path, RRFW_KEY_SIZE);
            return 0;
        }
        out[i] = (uint8_t)byte;
    }
    p += 2 * RRFW_KEY_SIZE;
    while (*p == ' ' || *p == '\n' || *p == '\r' || *p == '\t') p++;
    if (*p != '\0') {
        fprintf(stderr, "%s: --key %s: expected 64 hex digits and nothing else\n", program, path);
        return 0;
    }
    return 1;
}

/* The secret key of a CURVE key pair file written by rr keygen --curve ("secret <40 Z85 characters>"). */
static int load_curve_secret(const char *program, const char *path, char secret[41])
{
    FILE *f = fopen(path, "r");
    if (!f) {
        fprintf(stderr, "%s: --curve-keys %s: %s\n", program, path, strerror(errno));
        return 0;
    }
    char line[256];
    int found = 0;
    while (fgets(line, sizeof line, f)) {
        if (strncmp(line, "secret ", 7) == 0 && strlen(line) >= 47) {
            memcpy(secret, line + 7, 40);
            secret[40] = '\0';
            found = 1;
        }
    }
    fclose(f);
    char public_key[41];
    if (!found || zmq_curve_public(public_key, secret) != 0) {
        fprintf(stderr, "%s: --curve-keys %s: expected a 'secret' line with a 40-character Z85 CURVE key (rr keygen --curve)\n", program, path);
        return 0;
    }
    if (!zmq_has("curve")) {
        fprintf(stderr, "%s: --curve-keys: this libzmq was built without CURVE\n", program);
        return 0;
    }
    return 1;
}

/* ---- the arm's session, its description and the hardware's ---------------------------------- */

static uint32_t new_session(void)
{
    uint32_t s = 0;
    int fd = open("/dev/urandom", O_RDONLY);
    if (fd >= 0) {
        if (read(fd, &s, sizeof s) != (ssize_t)sizeof s)
            s = 0;
        close(fd);
    }
    if (s == 0)
        s = (uint32_t)now_ns() ^ ((uint32_t)getpid() << 16);
    return s ? s : 1;
}

/* The hardware's part of the description, checked against the protocol's domain (§3.2) and against
 * what this implementation offers. 0 after printing what is wrong. */
static int check_description(const arm *a, const rrfw_description *d)
{
    const char *program = a->opt->program;
    if (d->joint_count < 1 || d->joint_count > RRFW_MAX_JOINTS) {
        fprintf(stderr, "%s: the hardware describes %u joints; the protocol allows 1 to %u\n", program, d->joint_count, RRFW_MAX_JOINTS);
        return 0;
    }
    const uint8_t position = RRFW_CAPABILITY_MODE(RRFW_MODE_JOINT_POSITION);
    const uint8_t velocity = RRFW_CAPABILITY_MODE(RRFW_MODE_JOINT_VELOCITY);
    const uint8_t modes = d->capabilities & RRFW_CAPABILITY_MODES;
    if (modes == 0 || (modes & ~(position | velocity)) != 0) {
        fprintf(stderr, "%s: the hardware offers command modes 0x%X; this implementation serves joint position (0x1) and "
                        "joint velocity (0x2), at least one (end-effector deltas, 0x4, are not implemented)\n", program, modes);
        return 0;
    }
    if ((d->capabilities & ~(RRFW_CAPABILITY_MODES | RRFW_CAPABILITY_GRIPPER)) != 0) {
        fprintf(stderr, "%s: the hardware describes capabilities 0x%X; the protocol defines the command modes (0x7) and the "
                        "gripper (0x8) only\n", program, d->capabilities);
        return 0;
    }
    if ((d->capabilities & position) && a->ops->command_joint_positions == NULL) {
        fprintf(stderr, "%s: the hardware offers joint position commands but has no command_joint_positions\n", program);
        return 0;
    }
    if ((d->capabilities & velocity) && a->ops->command_joint_velocities == NULL) {
        fprintf(stderr, "%s: the hardware offers joint velocity commands but has no command_joint_velocities\n", program);
        return 0;
    }
    for (int j = 0; j < d->joint_count; j++) {
        const rrfw_joint_limits *l = &d->joints[j];
        const char *wrong = NULL;
        if (!isfinite(l->position_min) || !isfinite(l->position_max) || !isfinite(l->velocity_max) || !isfinite(l->effort_max))
            wrong = "every limit must be a finite number";
        else if (l->position_min > l->position_max)
            wrong = "position_min must not exceed position_max";
        else if (!(l->velocity_max > 0))
            wrong = "velocity_max must be > 0";
        else if (!(l->effort_max > 0))
            wrong = "effort_max must be > 0";
        if (wrong) {
            fprintf(stderr, "%s: the hardware describes joint %d as [%g, %g] rad, %g per s, %g N·m: %s\n", program, j,
                l->position_min, l->position_max, l->velocity_max, l->effort_max, wrong);
            return 0;
        }
    }
    return 1;
}

static int arm_init(arm *a, const rrfw_arm_config *o, const rrfw_hw_ops *ops, void *hw)
{
    memset(a, 0, sizeof *a);
    a->opt = o;
    a->ops = ops;
    a->hw = hw;
    if (!ops || !ops->describe || !ops->read_state || !ops->brake || !ops->release_brake) {
        fprintf(stderr, "%s: the hardware lacks describe, read_state, brake or release_brake\n", o->program);
        return 0;
    }
    rrfw_description *d = &a->description;
    if (ops->describe(hw, d) != 0) {
        const char *why = ops->last_error ? ops->last_error(hw) : NULL;
        fprintf(stderr, "%s: the hardware could not describe itself: %s\n", o->program, why && *why ? why : "no detail");
        return 0;
    }
    if (!check_description(a, d))
        return 0;
    a->session = new_session();
    a->joints = d->joint_count;
    d->session = a->session;
    d->version = RRFW_VERSION;
    d->state_rate_hz = (uint16_t)(o->rate_hz > 65535 ? 65535 : o->rate_hz);
    d->watchdog_ms = (uint16_t)o->watchdog_ms;
    d->ee_max_translation_m = 0.0; /* end-effector deltas are not implemented here */
    d->ee_max_rotation_rad = 0.0;
    d->claim_lease_ms = (uint32_t)o->claim_lease_ms;
    d->last_command_sequence = d->last_control_sequence = d->claimed_by = 0;
    a->hold_reason = RRFW_HOLD_DISABLED;
    return 1;
}

static int claim_live(const arm *a, uint64_t now)
{
    return a->claimant != 0 && now - a->claim_last_ns <= (uint64_t)a->opt->claim_lease_ms * 1000000ull;
}

static const char *status_detail(rrfw_status st)
{
    switch (st) {
    case RRFW_TRUNCATED: return "fewer bytes than a header + trailer or than payload_length announces";
    case RRFW_BAD_MAGIC: return "first four bytes are not 'RRFW'";
    case RRFW_UNSUPPORTED_VERSION: return "protocol version is not 2";
    case RRFW_OVERSIZED: return "frame or payload_length larger than the protocol maximum (1052 / 1024 bytes)";
    case RRFW_LENGTH_MISMATCH: return "payload_length does not match the frame or the message type";
    case RRFW_BAD_CRC: return "CRC32C trailer does not match header + payload";
    case RRFW_UNKNOWN_TYPE: return "message type is not defined by the protocol";
    case RRFW_BAD_PAYLOAD: return "a field is outside its domain (count, mode, reserved, NaN/Inf)";
    case RRFW_SEQUENCE_REPEAT: return "sequence number equal to the last one recorded on this channel";
    case RRFW_SEQUENCE_BACKWARDS: return "sequence number lower than the last one recorded on this channel";
    case RRFW_WRONG_SESSION: return "addressed to another arm session";
    case RRFW_EXPIRED: return "arrived at or after its expiry time";
    case RRFW_NOT_ENABLED: return "arm is disabled, e-stopped or faulted";
    case RRFW_UNEXPECTED_TYPE: return "valid frame of a type this channel does not carry";
    case RRFW_OUT_OF_LIMITS: return "a value is outside the limits in the arm's description";
    case RRFW_BAD_AUTH: return "not authenticated by the controller holding the arm (no shared secret, another controller, or no claim)";
    default: return "";
    }
}

/* Counts and logs a rejected frame. */
static void reject(arm *a, const char *channel, rrfw_status st, uint32_t sequence, size_t size, const char *extra)
{
    a->rejected[st]++;
    a->fault_flags |= RRFW_FAULT_BAD_FRAMES;
    uint32_t n = a->rejected[st];
    if (a->opt->quiet || !worth_logging(n))
        return;
    log_line(a, "rejected %s frame (%zu bytes, sequence %u): %s: %s%s%s [%u so far]", channel, size, sequence,
        rrfw_status_name(st), status_detail(st), extra ? "; " : "", extra ? extra : "", n);
}

/* ---- the hardware, through rrfw_hw_ops --------------------------------------------------------- */

static void hold(arm *a, uint64_t now, uint16_t reason);

/* A hardware call failed: the arm is faulted (fault flag 0x2 stops motion until RESET), disabled and,
 * unless it was the brake that failed, braked. Logged with the backend's reason. */
static void hardware_failed(arm *a, uint64_t now, const char *call, int brake)
{
    const char *why = a->ops->last_error ? a->ops->last_error(a->hw) : NULL;
    a->hardware_failures++;
    if (!a->opt->quiet && worth_logging(a->hardware_failures))
        log_line(a, "hardware: %s failed: %s; fault latched, holding, disabled; RESET then ENABLE to move again [%u so far]",
            call, why && *why ? why : "no detail", a->hardware_failures);
    a->fault_flags |= RRFW_FAULT_OVER_EFFORT;
    a->enabled = 0;
    if (brake)
        hold(a, now, a->estop ? RRFW_HOLD_ESTOP : RRFW_HOLD_FAULT);
    else
        a->hold_reason = a->estop ? RRFW_HOLD_ESTOP : RRFW_HOLD_FAULT;
}

/* Holds the arm where it is (the hardware brakes at once) for `reason`. The reported active_mode stays
 * that of the last applied command. */
static void hold(arm *a, uint64_t now, uint16_t reason)
{
    a->hold_reason = reason;
    if (a->ops->brake(a->hw, now, (rrfw_hold_reason)reason) != 0)
        hardware_failed(a, now, "brake", 0);
}

/* Latches what the hardware reports (rrfw_hw.h's conditions). 1 if that put the arm in a hold. */
static int take_conditions(arm *a, uint64_t now, uint32_t conditions, const char *detail)
{
    int held = 0;
    const char *sep = detail && *detail ? ": " : "";
    if (!detail)
        detail = "";
    if (conditions & RRFW_HW_AT_JOINT_LIMIT)
        a->fault_flags |= RRFW_FAULT_JOINT_LIMIT;
    if ((conditions & RRFW_HW_STOPPED) && !a->estop) {
        a->estop = 1;
        a->enabled = 0;
        hold(a, now, RRFW_HOLD_ESTOP);
        held = 1;
        if (!a->opt->quiet)
            log_line(a, "e-stop: the arm's own stop is engaged%s%s; latched, holding; RESET then ENABLE to move again", sep, detail);
    }
    if ((conditions & RRFW_HW_FAULT) && !(a->fault_flags & RRFW_FAULT_OVER_EFFORT)) {
        a->fault_flags |= RRFW_FAULT_OVER_EFFORT;
        a->enabled = 0;
        /* The reported reason stays the gravest that holds: an e-stop before a fault. */
        hold(a, now, a->estop ? RRFW_HOLD_ESTOP : RRFW_HOLD_FAULT);
        held = 1;
        if (!a->opt->quiet)
            log_line(a, "fault: the arm stopped itself%s%s; holding, disabled; RESET then ENABLE to move again", sep, detail);
    }
    return held;
}

/* Takes the hardware's newest measurement into a->sample and latches its conditions; when they put the
 * arm in a hold, measures again so that the sample shows the brake. A failed read keeps the previous
 * sample and faults the arm. */
static void refresh(arm *a, uint64_t now)
{
    for (int pass = 0; pass < 2; pass++) {
        rrfw_hw_sample s;
        memset(&s, 0, sizeof s);
        if (a->ops->read_state(a->hw, now, &s) != 0) {
            hardware_failed(a, now, "read_state", 1);
            return;
        }
        s.detail[sizeof s.detail - 1] = '\0';
        a->sample = s;
        if (!take_conditions(a, now, s.conditions, s.detail))
            return;
    }
}

static uint32_t status_flags(const arm *a)
{
    uint32_t f = 0;
    if (a->enabled) f |= RRFW_STATUS_ENABLED;
    if (a->hold_reason != RRFW_HOLD_NONE) f |= RRFW_STATUS_HOLDING;
    if (a->estop) f |= RRFW_STATUS_ESTOP;
    if (a->fault_flags & RRFW_FAULT_OVER_EFFORT) f |= RRFW_STATUS_FAULT;
    for (int j = 0; j < a->joints; j++)
        if (a->sample.velocities[j] != 0.0) {
            f |= RRFW_STATUS_MOVING;
            break;
        }
    return f;
}

static void fill_state(const arm *a, rrfw_state *s)
{
    memset(s, 0, sizeof *s);
    s->session = a->session;
    s->last_command_sequence = a->last_command_sequence_applied;
    s->status_flags = status_flags(a);
    s->fault_flags = a->fault_flags;
    s->hold_reason = a->hold_reason;
    s->joint_count = (uint8_t)a->joints;
    s->active_mode = a->applied_mode;
    s->commands_rejected = a->commands_rejected;
    if (a->description.capabilities & RRFW_CAPABILITY_GRIPPER) {
        s->gripper_position = a->sample.gripper_position;
        s->gripper_effort = a->sample.gripper_effort;
    } /* else 0, whatever the hardware reads: an arm without a gripper reports none (PROTOCOL.md §3.2) */
    memcpy(s->ee_pose, a->sample.ee_pose, sizeof s->ee_pose);
    for (int j = 0; j < a->joints; j++) {
        s->positions[j] = a->sample.positions[j];
        s->velocities[j] = a->sample.velocities[j];
        s->efforts[j] = a->sample.efforts[j];
    }
}

/* ---- channels -------------------------------------------------------------------------------- */

static int send_frame(void *socket, const rrfw_message *m)
{
    uint8_t buf[RRFW_MAX_FRAME];
    size_t n = rrfw_encode(m, buf, sizeof buf);
    if (n == 0)
        return -1;
    for (;;) {
        int rc = zmq_send(socket, buf, n, ZMQ_DONTWAIT);
        if (rc >= 0 || errno != EINTR)
            return rc;
    }
}

static void publish_state(arm *a, void *pub, uint64_t now)
{
    refresh(a, now);
    rrfw_message m;
    m.header.type = RRFW_STATE;
    m.header.sequence = ++a->state_sequence;
    m.header.timestamp_ns = now_ns();
    fill_state(a, &m.body.state);
    /* EAGAIN (no subscriber room) is fine: state is latest-only. */
    (void)send_frame(pub, &m);
}

static void handle_command(arm *a, const uint8_t *frame, size_t size, uint64_t now)
{
    rrfw_message m;
    memset(&m, 0, sizeof m);
    rrfw_status st = rrfw_decode(frame, size, &m);
    uint32_t seq = (st == RRFW_OK || size >= RRFW_HEADER_SIZE) ? m.header.sequence : 0;
    if (st == RRFW_OK && m.header.type != RRFW_COMMAND)
        st = RRFW_UNEXPECTED_TYPE;
    if (st != RRFW_OK) {
        a->commands_rejected++;
        reject(a, "command", st, seq, size, NULL);
        return;
    }
    /* Only the claimant's commands count, before anything else about them does: a frame from a
     * process without the secret cannot even move the sequence numbers on. */
    if (a->claimant == 0 || !rrfw_tag_ok(frame, size, a->claim_key)) {
        a->commands_rejected++;
        reject(a, "command", RRFW_BAD_AUTH, seq, size, a->claimant == 0 ? "no controller has claimed the arm" : NULL);
        return;
    }
    if (a->have_command_sequence && seq <= a->last_command_sequence_recorded) {
        a->commands_rejected++;
        char extra[64];
        snprintf(extra, sizeof extra, "last recorded %u", a->last_command_sequence_recorded);
        reject(a, "command", seq == a->last_command_sequence_recorded ? RRFW_SEQUENCE_REPEAT : RRFW_SEQUENCE_BACKWARDS,
            seq, size, extra);
        return;
    }
    /* Recorded: whatever the checks below decide, this number is used up (a replay is a repeat). */
    a->have_command_sequence = 1;
    a->last_command_sequence_recorded = seq;

    const rrfw_command *c = &m.body.command;
    rrfw_status verdict = RRFW_OK;
    char extra[96] = "";
    if (c->session != a->session) {
        verdict = RRFW_WRONG_SESSION;
        snprintf(extra, sizeof extra, "session %08X, this arm is %08X", c->session, a->session);
    } else if (now >= c->expires_at_ns) {
        verdict = RRFW_EXPIRED;
        snprintf(extra, sizeof extra, "%.3f ms late", (double)(now - c->expires_at_ns) * 1e-6);
    } else if (!a->enabled || a->estop || (a->fault_flags & RRFW_FAULT_OVER_EFFORT)) {
        verdict = RRFW_NOT_ENABLED;
    } else if (!(a->description.capabilities & RRFW_CAPABILITY_MODE(c->mode))) {
        verdict = RRFW_BAD_PAYLOAD;
        snprintf(extra, sizeof extra, "mode %u is not supported by this arm", c->mode);
    } else if (c->value_count != a->joints) {
        verdict = RRFW_BAD_PAYLOAD;
        snprintf(extra, sizeof extra, "%u values, this arm has %d joints", c->value_count, a->joints);
    } else if (!(c->gripper_target >= 0.0 && c->gripper_target <= 1.0)) {
        verdict = RRFW_OUT_OF_LIMITS;
        snprintf(extra, sizeof extra, "gripper target %g outside [0, 1]", c->gripper_target);
    } else {
        /* The limits the arm announced are enforced here again, whatever the runtime clipped to. */
        for (int j = 0; j < a->joints && verdict == RRFW_OK; j++) {
            const rrfw_joint_limits *l = &a->description.joints[j];
            double v = c->values[j];
            int ok = c->mode == RRFW_MODE_JOINT_POSITION ? (v >= l->position_min && v <= l->position_max)
                                                         : (fabs(v) <= l->velocity_max);
            if (!ok) {
                verdict = RRFW_OUT_OF_LIMITS;
                snprintf(extra, sizeof extra, "joint %d value %g", j, v);
            }
        }
    }
    if (verdict != RRFW_OK) {
        a->commands_rejected++;
        reject(a, "command", verdict, seq, size, extra);
        return;
    }
    a->claim_last_ns = now; /* a valid authenticated frame from the holder renews its lease */
    int failed = c->mode == RRFW_MODE_JOINT_POSITION
        ? a->ops->command_joint_positions(a->hw, now, c->values, c->gripper_target)
        : a->ops->command_joint_velocities(a->hw, now, c->values, c->gripper_target);
    if (failed) {
        hardware_failed(a, now, c->mode == RRFW_MODE_JOINT_POSITION ? "command_joint_positions" : "command_joint_velocities", 1);
        return;
    }
    if (a->hold_reason == RRFW_HOLD_WATCHDOG && !a->opt->quiet)
        log_line(a, "watchdog: valid command %u arrived, leaving hold", seq);
    a->applied_mode = c->mode;
    a->hold_reason = RRFW_HOLD_NONE;
    a->last_valid_command_ns = now;
    a->last_command_sequence_applied = seq;
    a->commands_applied++;
}

static void reply_ack(arm *a, void *rep, const rrfw_header *request, uint16_t result, uint16_t reason, uint64_t now)
{
    refresh(a, now);
    rrfw_message m;
    memset(&m, 0, sizeof m);
    m.header.type = RRFW_ACK;
    m.header.sequence = ++a->reply_sequence;
    m.header.timestamp_ns = now_ns();
    m.body.ack.session = a->session;
    m.body.ack.request_sequence = request ? request->sequence : 0;
    m.body.ack.request_type = request ? request->type : 0;
    m.body.ack.result = result;
    m.body.ack.reason = reason;
    m.body.ack.status_flags = status_flags(a);
    send_frame(rep, &m);
}

static void handle_control(arm *a, void *rep, const uint8_t *frame, size_t size, uint64_t now)
{
    rrfw_message m;
    memset(&m, 0, sizeof m);
    rrfw_status st = rrfw_decode(frame, size, &m);
    int header_readable = st != RRFW_TRUNCATED && st != RRFW_OVERSIZED && st != RRFW_BAD_MAGIC;
    if (st == RRFW_OK && (m.header.type == RRFW_STATE || m.header.type == RRFW_COMMAND || m.header.type == RRFW_ACK
                          || m.header.type == RRFW_DESCRIPTION || m.header.type == RRFW_FAULT_REPORT))
        st = RRFW_UNEXPECTED_TYPE;
    if (st != RRFW_OK) {
        reject(a, "control", st, header_readable ? m.header.sequence : 0, size, NULL);
        reply_ack(a, rep, header_readable ? &m.header : NULL, RRFW_ACK_BAD_REQUEST, (uint16_t)st, now);
        return;
    }
    uint16_t type = m.header.type;
    if (type == RRFW_HELLO) {
        if (m.body.hello.min_version > RRFW_VERSION || m.body.hello.max_version < RRFW_VERSION) {
            if (!a->opt->quiet)
                log_line(a, "hello from client %08X refused: it speaks versions %u..%u, this arm speaks %u",
                    m.body.hello.client_id, m.body.hello.min_version, m.body.hello.max_version, RRFW_VERSION);
            reply_ack(a, rep, &m.header, RRFW_ACK_UNSUPPORTED_VERSION, 0, now);
            return;
        }
        /* Version 2: HELLO changes nothing; the description says where the sequences and the claim stand. */
        if (!a->opt->quiet)
            log_line(a, "hello from client %08X: version %u, session %08X", m.body.hello.client_id, RRFW_VERSION, a->session);
        rrfw_message r;
        memset(&r, 0, sizeof r);
        r.header.type = RRFW_DESCRIPTION;
        r.header.sequence = ++a->reply_sequence;
        r.header.timestamp_ns = now_ns();
        r.body.description = a->description;
        r.body.description.last_command_sequence = a->have_command_sequence ? a->last_command_sequence_recorded : 0;
        r.body.description.last_control_sequence = a->last_control_sequence;
        r.body.description.claimed_by = claim_live(a, now) ? a->claimant : 0;
        send_frame(rep, &r);
        return;
    }
    if (type == RRFW_FAULT_QUERY) {
        refresh(a, now);
        rrfw_message r;
        memset(&r, 0, sizeof r);
        r.header.type = RRFW_FAULT_REPORT;
        r.header.sequence = ++a->reply_sequence;
        r.header.timestamp_ns = now_ns();
        rrfw_fault_report *f = &r.body.fault_report;
        f->session = a->session;
        f->status_flags = status_flags(a);
        f->fault_flags = a->fault_flags;
        f->hold_reason = a->hold_reason;
        f->watchdog_trips = a->watchdog_trips;
        f->commands_applied = a->commands_applied;
        f->last_command_sequence = a->last_command_sequence_applied;
        memcpy(f->rejected, a->rejected, sizeof f->rejected);
        send_frame(rep, &r);
        return;
    }
    /* ESTOP is obeyed whatever session it names: stopping is always allowed. The stop is commanded
     * before the reply goes out (PROTOCOL.md §5.3). */
    if (type == RRFW_ESTOP) {
        a->estop = 1;
        a->enabled = 0;
        hold(a, now, RRFW_HOLD_ESTOP);
        if (!a->opt->quiet)
            log_line(a, "e-stop: latched, holding; RESET then ENABLE to move again");
        reply_ack(a, rep, &m.header, RRFW_ACK_OK, 0, now);
        return;
    }
    uint32_t named_session = type == RRFW_CLAIM ? m.body.claim.session : m.body.session_request.session;
    if (named_session != a->session) {
        reject(a, "control", RRFW_WRONG_SESSION, m.header.sequence, size, NULL);
        reply_ack(a, rep, &m.header, RRFW_ACK_WRONG_SESSION, RRFW_WRONG_SESSION, now);
        return;
    }
    /* Authenticated: a CLAIM by the key of the client it names; everything else by the claimant's. */
    uint8_t claim_key[RRFW_KEY_SIZE];
    if (type == RRFW_CLAIM)
        rrfw_controller_key(a->secret, a->session, m.body.claim.client_id, claim_key);
    const uint8_t *key = type == RRFW_CLAIM ? claim_key : a->claim_key;
    if ((type != RRFW_CLAIM && a->claimant == 0) || !rrfw_tag_ok(frame, size, key)) {
        reject(a, "control", RRFW_BAD_AUTH, m.header.sequence, size, type != RRFW_CLAIM && a->claimant == 0 ? "no controller has claimed the arm" : NULL);
        reply_ack(a, rep, &m.header, RRFW_ACK_BAD_REQUEST, RRFW_BAD_AUTH, now);
        return;
    }
    if (m.header.sequence <= a->last_control_sequence) {
        rrfw_status order = m.header.sequence == a->last_control_sequence ? RRFW_SEQUENCE_REPEAT : RRFW_SEQUENCE_BACKWARDS;
        reject(a, "control", order, m.header.sequence, size, NULL);
        reply_ack(a, rep, &m.header, RRFW_ACK_BAD_REQUEST, (uint16_t)order, now);
        return;
    }
    /* Recorded: past session, authentication and sequence, the number is used up whatever the answer
     * (ACK 0, 2, 3 or 6). */
    a->last_control_sequence = m.header.sequence;
    if (type == RRFW_CLAIM && (m.body.claim.flags & RRFW_CLAIM_RELEASE)) {
        /* The holder gives the arm up (a clean exit): the next controller need not wait for the lease. */
        if (a->claimant == m.body.claim.client_id) {
            a->claimant = 0;
            memset(a->claim_key, 0, sizeof a->claim_key);
            if (!a->opt->quiet)
                log_line(a, "released by client %08X", m.body.claim.client_id);
        }
        reply_ack(a, rep, &m.header, RRFW_ACK_OK, 0, now);
        return;
    }
    if (type == RRFW_CLAIM) {
        uint32_t client = m.body.claim.client_id;
        if (claim_live(a, now) && a->claimant != client && !(m.body.claim.flags & RRFW_CLAIM_TAKEOVER)) {
            if (!a->opt->quiet)
                log_line(a, "claim by client %08X refused: client %08X holds the arm", client, a->claimant);
            reply_ack(a, rep, &m.header, RRFW_ACK_CLAIMED, 0, now);
            return;
        }
        if (a->claimant != client) {
            /* A new controller starts from a disabled arm: it enables it when it is ready. */
            if (a->enabled) {
                a->enabled = 0;
                hold(a, now, a->estop ? RRFW_HOLD_ESTOP : RRFW_HOLD_DISABLED);
            }
            if (!a->opt->quiet)
                log_line(a, "claimed by client %08X%s", client, a->claimant ? " (taken over)" : "");
        }
        a->claimant = client;
        memcpy(a->claim_key, claim_key, sizeof claim_key);
    }
    a->claim_last_ns = now;
    switch (type) {
    case RRFW_CLAIM:
        reply_ack(a, rep, &m.header, RRFW_ACK_OK, 0, now);
        return;
    case RRFW_HEARTBEAT:
        reply_ack(a, rep, &m.header, RRFW_ACK_OK, 0, now);
        return;
    case RRFW_ENABLE:
        if (a->estop) {
            reply_ack(a, rep, &m.header, RRFW_ACK_REFUSED_ESTOP, 0, now);
            return;
        }
        if (a->fault_flags & RRFW_FAULT_OVER_EFFORT) {
            reply_ack(a, rep, &m.header, RRFW_ACK_REFUSED_FAULT, 0, now);
            return;
        }
        if (!a->enabled) {
            a->enabled = 1;
            a->hold_reason = RRFW_HOLD_NONE; /* enabled, holding where it is until the first command */
            if (a->ops->release_brake(a->hw, now) != 0) {
                hardware_failed(a, now, "release_brake", 1);
                reply_ack(a, rep, &m.header, RRFW_ACK_REFUSED_FAULT, 0, now);
                return;
            }
            a->last_valid_command_ns = now; /* the watchdog counts from enabling */
            if (!a->opt->quiet)
                log_line(a, "enabled; watchdog %d ms", a->opt->watchdog_ms);
        }
        reply_ack(a, rep, &m.header, RRFW_ACK_OK, 0, now);
        return;
    case RRFW_DISABLE:
        /* The reported reason stays the gravest that holds: e-stop, then fault, then disabled. */
        a->enabled = 0;
        hold(a, now, a->estop ? RRFW_HOLD_ESTOP : (a->fault_flags & RRFW_FAULT_OVER_EFFORT) ? RRFW_HOLD_FAULT : RRFW_HOLD_DISABLED);
        reply_ack(a, rep, &m.header, RRFW_ACK_OK, 0, now);
        return;
    case RRFW_RESET: {
        /* The hardware clears its own latches first; what it cannot clear its next sample reports again. */
        int failed = a->ops->reset ? a->ops->reset(a->hw, now) : 0;
        a->estop = 0;
        a->enabled = 0;
        a->fault_flags = 0;
        hold(a, now, RRFW_HOLD_DISABLED);
        if (failed) {
            hardware_failed(a, now, "reset", 0);
        } else {
            refresh(a, now); /* a stop or fault the arm still reports is latched again at once (and logged) */
            if (!a->opt->quiet)
                log_line(a, a->estop || (a->fault_flags & RRFW_FAULT_OVER_EFFORT)
                    ? "reset: the arm still reports its own stop or fault: latched again, disabled"
                    : "reset: e-stop and faults cleared, disabled");
        }
        reply_ack(a, rep, &m.header, RRFW_ACK_OK, 0, now);
        return;
    }
    default:
        reply_ack(a, rep, &m.header, RRFW_ACK_BAD_REQUEST, RRFW_UNEXPECTED_TYPE, now);
        return;
    }
}

/* The watchdog runs while the arm is enabled and moving on commands (not holding for any reason). */
static int watchdog_running(const arm *a)
{
    return a->enabled && !a->estop && a->hold_reason == RRFW_HOLD_NONE;
}

static void check_watchdog(arm *a, uint64_t now)
{
    if (!watchdog_running(a))
        return;
    uint64_t limit = (uint64_t)a->opt->watchdog_ms * 1000000ull;
    if (now - a->last_valid_command_ns <= limit)
        return;
    hold(a, now, RRFW_HOLD_WATCHDOG);
    a->watchdog_trips++;
    a->fault_flags |= RRFW_FAULT_WATCHDOG;
    if (!a->opt->quiet)
        log_line(a, "watchdog: no valid command for %.1f ms (limit %d ms); holding at the current position",
            (double)(now - a->last_valid_command_ns) * 1e-6, a->opt->watchdog_ms);
}

/* ---- sockets --------------------------------------------------------------------------------- */

static void *open_socket(const arm *a, void *ctx, int type, const char *address, int conflate, int limit_size,
                         const char *curve_secret)
{
    void *s = zmq_socket(ctx, type);
    if (!s)
        return NULL;
    int zero = 0, one = 1;
    if (curve_secret) {
        zmq_setsockopt(s, ZMQ_CURVE_SERVER, &one, sizeof one);
        zmq_setsockopt(s, ZMQ_CURVE_SECRETKEY, curve_secret, 40);
    }
    int64_t max_message = RRFW_SOCKET_MAX_MESSAGE;
    zmq_setsockopt(s, ZMQ_LINGER, &zero, sizeof zero);
    if (conflate)
        zmq_setsockopt(s, ZMQ_CONFLATE, &one, sizeof one);
    if (limit_size)
        zmq_setsockopt(s, ZMQ_MAXMSGSIZE, &max_message, sizeof max_message);
    if (type == ZMQ_SUB)
        zmq_setsockopt(s, ZMQ_SUBSCRIBE, "", 0);
    if (zmq_bind(s, address) != 0) {
        fprintf(stderr, "%s: cannot bind %s: %s\n", a->opt->program, address, zmq_strerror(zmq_errno()));
        zmq_close(s);
        return NULL;
    }
    return s;
}

/* Receives one message without waiting; returns its size, or -1 when there is none. */
static int receive(void *socket, zmq_msg_t *msg)
{
    for (;;) {
        int rc = zmq_msg_recv(msg, socket, ZMQ_DONTWAIT);
        if (rc >= 0 || errno != EINTR)
            return rc;
    }
}

int rrfw_arm_run(const rrfw_arm_config *opt, const rrfw_hw_ops *ops, void *hw)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);

    static arm a;
    if (!arm_init(&a, opt, ops, hw))
        return 2;
    if (!load_key(opt->program, opt->key_path, a.secret))
        return 2;
    static char curve_key[41];
    const char *curve_secret = NULL;
    if (opt->curve_path) {
        if (!load_curve_secret(opt->program, opt->curve_path, curve_key))
            return 2;
        curve_secret = curve_key;
    }
    /* Disabled from the start: the hardware holds where it is, and the first STATE says where that is. */
    uint64_t start = now_ns();
    hold(&a, start, RRFW_HOLD_DISABLED);
    refresh(&a, start);
    /* What it announces and where it starts, joint by joint: for comparing with the arm's datasheet and its
     * own readout before anything moves (order, sign, zero and units of every joint). */
    if (!opt->quiet)
        for (int j = 0; j < a.joints; j++) {
            const rrfw_joint_limits *l = &a.description.joints[j];
            log_line(&a, "joint %d: at %.4f; announced range [%g, %g], velocity_max %g per s, effort_max %g", j,
                a.sample.positions[j], l->position_min, l->position_max, l->velocity_max, l->effort_max);
        }

    void *ctx = zmq_ctx_new();
    void *state_pub = open_socket(&a, ctx, ZMQ_PUB, opt->state_address, 1, 0, curve_secret);
    void *command_sub = state_pub ? open_socket(&a, ctx, ZMQ_SUB, opt->command_address, 1, 1, curve_secret) : NULL;
    void *control_rep = command_sub ? open_socket(&a, ctx, ZMQ_REP, opt->control_address, 0, 1, curve_secret) : NULL;
    void *echo_rep = NULL;
    if (control_rep && opt->echo_address)
        echo_rep = open_socket(&a, ctx, ZMQ_REP, opt->echo_address, 0, 1, curve_secret);
    if (!control_rep || (opt->echo_address && !echo_rep)) {
        if (state_pub) zmq_close(state_pub);
        if (command_sub) zmq_close(command_sub);
        if (control_rep) zmq_close(control_rep);
        zmq_ctx_term(ctx);
        return 1;
    }
    printf("%s: ready session=%08X joints=%d gripper=%s rate=%d watchdog-ms=%d claim-lease-ms=%d state=%s command=%s control=%s\n",
        opt->program, a.session, a.joints, (a.description.capabilities & RRFW_CAPABILITY_GRIPPER) ? "yes" : "no",
        opt->rate_hz, opt->watchdog_ms, opt->claim_lease_ms, opt->state_address,
        opt->command_address, opt->control_address);
    fflush(stdout);

    uint64_t period = 1000000000ull / (uint64_t)opt->rate_hz;
    uint64_t next_state = now_ns();
    zmq_msg_t msg;
    zmq_msg_init(&msg);
    zmq_pollitem_t items[3] = {
        { command_sub, 0, ZMQ_POLLIN, 0 },
        { control_rep, 0, ZMQ_POLLIN, 0 },
        { echo_rep, 0, ZMQ_POLLIN, 0 },
    };
    int item_count = echo_rep ? 3 : 2;
    int status = 0;

    while (!stop_requested) {
        uint64_t now = now_ns();
        long timeout_ms = next_state > now ? (long)((next_state - now + 999999) / 1000000) : 0;
        if (watchdog_running(&a)) {
            /* Wake for the watchdog's deadline too, whatever the state rate (PROTOCOL.md §5.3: the hold
             * begins no later than watchdog_ms + 1 ms). zmq_poll counts whole milliseconds on a clock
             * that may lag by one, so it can oversleep by a millisecond: it sleeps only to 2 ms short of
             * the deadline; the rest passes in naps of at most 100 us between polls that do not wait. */
            uint64_t deadline = a.last_valid_command_ns + (uint64_t)opt->watchdog_ms * 1000000ull;
            uint64_t remaining = deadline > now ? deadline - now : 0;
            if (remaining >= 3000000ull) {
                long until_near = (long)((remaining - 2000000ull) / 1000000ull);
                if (until_near < timeout_ms)
                    timeout_ms = until_near;
            } else {
                timeout_ms = 0;
                if (remaining > 0) {
                    struct timespec nap = { 0, (long)(remaining < 100000ull ? remaining : 100000ull) };
                    nanosleep(&nap, NULL);
                }
            }
        }
        int rc = zmq_poll(items, item_count, timeout_ms);
        if (rc < 0) {
            if (errno == EINTR)
                continue;
            fprintf(stderr, "%s: zmq_poll failed: %s\n", opt->program, zmq_strerror(errno));
            status = 1;
            break;
        }
        now = now_ns();
        refresh(&a, now);
        int applied_before = (int)a.commands_applied;
        if (items[0].revents & ZMQ_POLLIN) {
            int n;
            while ((n = receive(command_sub, &msg)) >= 0)
                handle_command(&a, (const uint8_t *)zmq_msg_data(&msg), (size_t)n, now);
        }
        if (items[1].revents & ZMQ_POLLIN) {
            int n = receive(control_rep, &msg);
            if (n >= 0)
                handle_control(&a, control_rep, (const uint8_t *)zmq_msg_data(&msg), (size_t)n, now);
        }
        if (item_count == 3 && (items[2].revents & ZMQ_POLLIN)) {
            int n = receive(echo_rep, &msg);
            if (n >= 0)
                while (zmq_msg_send(&msg, echo_rep, 0) < 0 && errno == EINTR) { }
        }
        check_watchdog(&a, now);
        if (now >= next_state || (int)a.commands_applied != applied_before) {
            publish_state(&a, state_pub, now);
            if (now >= next_state)
                next_state = now - next_state > period ? now + period : next_state + period;
        }
    }

    zmq_msg_close(&msg);
    zmq_close(state_pub);
    zmq_close(command_sub);
    zmq_close(control_rep);
    if (echo_rep)
        zmq_close(echo_rep);
    zmq_ctx_term(ctx);
    /* Leave the hardware held: nothing commands it any more. */
    hold(&a, now_ns(), a.estop ? RRFW_HOLD_ESTOP : RRFW_HOLD_DISABLED);
    if (!opt->quiet)
        log_line(&a, "stopped: %u commands applied, %u rejected, %u watchdog trips", a.commands_applied,
            a.commands_rejected, a.watchdog_trips);
    return status;
}
