/*
 * rrfw.h — the RobotRuntime firmware wire protocol, version 2 (see ../PROTOCOL.md).
 *
 * A frame is: a 24-byte header, a payload, a 4-byte CRC32C trailer. Every field is
 * little-endian and at a fixed offset; the codec reads and writes bytes one by one, so it
 * does not depend on the host's byte order or on struct packing, and never reads past the
 * size it is given. No allocation, no global state: safe from any thread and in an ISR.
 */
#ifndef RRFW_H
#define RRFW_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define RRFW_MAGIC 0x57465252u /* the bytes 'R' 'R' 'F' 'W' read as a little-endian u32 */
#define RRFW_VERSION 2u
#define RRFW_HEADER_SIZE 24u
#define RRFW_TRAILER_SIZE 4u
#define RRFW_MAX_JOINTS 16u
#define RRFW_KEY_SIZE 32u  /* the shared secret, and a controller key derived from it */
#define RRFW_TAG_SIZE 16u  /* the authentication tag at the end of an authenticated payload */
#define RRFW_MAX_PAYLOAD 1024u
#define RRFW_MAX_FRAME (RRFW_HEADER_SIZE + RRFW_MAX_PAYLOAD + RRFW_TRAILER_SIZE)
/* Sockets facing the peer set ZMQ_MAXMSGSIZE to this: frames a little over RRFW_MAX_FRAME are
 * still delivered (and rejected as oversized, counted); far larger ones drop the connection. */
#define RRFW_SOCKET_MAX_MESSAGE (2 * RRFW_MAX_FRAME)

/* Message types (header offset 6). */
typedef enum rrfw_type {
    RRFW_HELLO = 0x01,        /* control request: protocol versions the runtime speaks */
    RRFW_DESCRIPTION = 0x02,  /* control reply to HELLO: the arm's description */
    RRFW_STATE = 0x03,        /* state channel: the arm's state */
    RRFW_COMMAND = 0x04,      /* command channel: what the arm should do next */
    RRFW_HEARTBEAT = 0x05,    /* control request: liveness check, no effect */
    RRFW_ENABLE = 0x06,       /* control request: allow motion */
    RRFW_DISABLE = 0x07,      /* control request: stop and refuse motion */
    RRFW_ESTOP = 0x08,        /* control request: emergency stop, latched */
    RRFW_RESET = 0x09,        /* control request: clear e-stop latch and faults (arm stays disabled) */
    RRFW_ACK = 0x0A,          /* control reply to HEARTBEAT/ENABLE/DISABLE/ESTOP/RESET or to a bad request */
    RRFW_FAULT_QUERY = 0x0B,  /* control request: ask for the fault report */
    RRFW_FAULT_REPORT = 0x0C, /* control reply to FAULT_QUERY */
    RRFW_CLAIM = 0x0D,        /* control request (authenticated): make this controller the arm's only one */
} rrfw_type;

/* Result of decoding or checking a frame, and the reason a frame was rejected. The numbers are
 * part of the protocol: FAULT_REPORT counts rejections by these codes. */
typedef enum rrfw_status {
    RRFW_OK = 0,
    RRFW_TRUNCATED = 1,           /* fewer bytes than a header + trailer, or than the header announces */
    RRFW_BAD_MAGIC = 2,           /* first four bytes are not 'RRFW' */
    RRFW_UNSUPPORTED_VERSION = 3, /* header version is not one this side speaks */
    RRFW_OVERSIZED = 4,           /* frame longer than RRFW_MAX_FRAME or payload_length > RRFW_MAX_PAYLOAD */
    RRFW_LENGTH_MISMATCH = 5,     /* bytes after the trailer, or payload length wrong for the type */
    RRFW_BAD_CRC = 6,             /* CRC32C trailer does not match header + payload */
    RRFW_UNKNOWN_TYPE = 7,        /* type not in rrfw_type */
    RRFW_BAD_PAYLOAD = 8,         /* field out of its domain: count > 16, unknown mode, reserved != 0, undefined bit or value, NaN/Inf */
    RRFW_SEQUENCE_REPEAT = 9,     /* same sequence number as the last one recorded on this channel */
    RRFW_SEQUENCE_BACKWARDS = 10, /* lower sequence number than the last one recorded on this channel */
    RRFW_WRONG_SESSION = 11,      /* command or request addressed to another arm session */
    RRFW_EXPIRED = 12,            /* command arrived after its expiry time */
    RRFW_NOT_ENABLED = 13,        /* command while the arm is disabled, e-stopped or faulted (RRFW_FAULT_OVER_EFFORT) */
    RRFW_UNEXPECTED_TYPE = 14,    /* valid frame of a type this channel does not carry */
    RRFW_OUT_OF_LIMITS = 15,      /* command value outside the limits in the arm's description */
    RRFW_BAD_AUTH = 16,           /* authenticated type whose tag is not the claimant's (no key, another controller, no claim) */
    RRFW_STATUS_COUNT = 17
} rrfw_status;

/* Command modes (COMMAND offset 4); DESCRIPTION advertises them as capability bits RRFW_CAPABILITY_MODE(mode). */
typedef enum rrfw_mode {
    RRFW_MODE_JOINT_POSITION = 1, /* values: target joint positions, rad (or m for prismatic joints) */
    RRFW_MODE_JOINT_VELOCITY = 2, /* values: joint velocities, rad/s (or m/s) */
    RRFW_MODE_EE_DELTA = 3,       /* values: end-effector delta dx dy dz (m), drx dry drz (rad, axis-angle) in the base frame */
} rrfw_mode;

/* DESCRIPTION capabilities (offset 7, PROTOCOL.md §3.2): a bit per command mode the arm accepts (at least
 * one), and the gripper bit; no other bit. */
#define RRFW_CAPABILITY_MODE(mode) (1u << ((mode) - 1)) /* the arm accepts COMMANDs in this rrfw_mode */
#define RRFW_CAPABILITY_MODES 0x7u                     /* every command-mode bit */
#define RRFW_CAPABILITY_GRIPPER 0x8u /* the arm has a gripper: gripper_target moves it, STATE's gripper fields measure it.
                                      * Clear: it ignores gripper_target (still accepted in [0, 1]) and reports 0 */

/* STATE status flags. */
#define RRFW_STATUS_ENABLED 0x1u       /* motion allowed */
#define RRFW_STATUS_HOLDING 0x2u       /* holding position; hold_reason says why */
#define RRFW_STATUS_ESTOP 0x4u         /* e-stop latched; RESET clears it */
#define RRFW_STATUS_FAULT 0x8u         /* RRFW_FAULT_OVER_EFFORT is latched and stops motion; RESET clears it */
#define RRFW_STATUS_MOVING 0x10u       /* at least one joint velocity is non-zero */

/* STATE fault flags (sticky until RESET). Only RRFW_FAULT_OVER_EFFORT stops motion; the others are records
 * that never refuse ENABLE or a COMMAND. */
#define RRFW_FAULT_JOINT_LIMIT 0x1u    /* a joint reached a position limit (record) */
#define RRFW_FAULT_OVER_EFFORT 0x2u    /* an effort limit was exceeded (fault: stops motion) */
#define RRFW_FAULT_WATCHDOG 0x4u       /* the command watchdog tripped since the last RESET (record) */
#define RRFW_FAULT_BAD_FRAMES 0x8u     /* frames were rejected, on either channel, since the last RESET (record) */

/* STATE hold reasons. */
typedef enum rrfw_hold_reason {
    RRFW_HOLD_NONE = 0,
    RRFW_HOLD_DISABLED = 1,  /* not enabled */
    RRFW_HOLD_WATCHDOG = 2,  /* enabled, but no valid command within the watchdog time */
    RRFW_HOLD_ESTOP = 3,     /* e-stop latched */
    RRFW_HOLD_FAULT = 4,     /* a fault stops motion */
} rrfw_hold_reason;

/* ACK results. */
typedef enum rrfw_ack_result {
    RRFW_ACK_OK = 0,
    RRFW_ACK_WRONG_SESSION = 1,       /* request named another arm session: HELLO again */
    RRFW_ACK_REFUSED_ESTOP = 2,       /* ENABLE while the e-stop is latched */
    RRFW_ACK_REFUSED_FAULT = 3,       /* ENABLE while a fault stops motion */
    RRFW_ACK_BAD_REQUEST = 4,         /* the request frame was rejected; reason says why */
    RRFW_ACK_UNSUPPORTED_VERSION = 5, /* HELLO named no version the arm speaks */
    RRFW_ACK_CLAIMED = 6,             /* CLAIM refused: another controller holds the arm (its lease is live) */
} rrfw_ack_result;

typedef struct rrfw_header {
    uint32_t magic;          /* offset 0: RRFW_MAGIC */
    uint16_t version;        /* offset 4: RRFW_VERSION */
    uint16_t type;           /* offset 6: rrfw_type */
    uint32_t sequence;       /* offset 8: per sender and channel, +1 per frame, first is 1 */
    uint32_t payload_length; /* offset 12: bytes between header and trailer */
    uint64_t timestamp_ns;   /* offset 16: sender's monotonic clock when sent, ns */
} rrfw_header;

typedef struct rrfw_hello {
    uint16_t min_version;
    uint16_t max_version;
    uint32_t client_id; /* chosen by the runtime per start; the arm logs it */
} rrfw_hello;

typedef struct rrfw_joint_limits {
    double position_min; /* rad or m */
    double position_max;
    double velocity_max; /* rad/s or m/s, > 0 */
    double effort_max;   /* N·m or N, > 0 */
} rrfw_joint_limits;

typedef struct rrfw_description {
    uint32_t session;         /* non-zero, new each time the arm firmware starts */
    uint16_t version;         /* protocol version chosen */
    uint8_t joint_count;      /* 1..16 */
    uint8_t capabilities;     /* RRFW_CAPABILITY_MODE(m) for each rrfw_mode m accepted, | RRFW_CAPABILITY_GRIPPER if it has one */
    uint16_t state_rate_hz;   /* minimum STATE rate */
    uint16_t watchdog_ms;     /* hold when no valid command arrives within this */
    double ee_max_translation_m;  /* largest accepted EE_DELTA translation per command */
    double ee_max_rotation_rad;   /* largest accepted EE_DELTA rotation per command */
    rrfw_joint_limits joints[RRFW_MAX_JOINTS];
    /* After the joints (version 2): */
    uint32_t claim_lease_ms;          /* a claim lapses after this long without a valid authenticated frame from its holder */
    uint32_t last_command_sequence;   /* highest COMMAND sequence recorded this arm session (from any controller); 0 if none */
    uint32_t last_control_sequence;   /* highest control request sequence recorded this arm session; 0 if none */
    uint32_t claimed_by;              /* client_id of the live claim, 0 if none */
} rrfw_description;

typedef struct rrfw_state {
    uint32_t session;
    uint32_t last_command_sequence; /* sequence of the last COMMAND applied; 0 if none this session */
    uint32_t status_flags;
    uint32_t fault_flags;
    uint16_t hold_reason;
    uint8_t joint_count;
    uint8_t active_mode;            /* rrfw_mode of the last applied command, 0 if none; a hold does not change it */
    uint32_t commands_rejected;     /* frames rejected on the command channel this session (not the control channel's) */
    double gripper_position;        /* 0 = open .. 1 = closed */
    double gripper_effort;          /* N */
    double ee_pose[7];              /* x y z (m), qw qx qy qz, base frame */
    double positions[RRFW_MAX_JOINTS];
    double velocities[RRFW_MAX_JOINTS];
    double efforts[RRFW_MAX_JOINTS];
} rrfw_state;

typedef struct rrfw_command {
    uint32_t session;        /* the arm session it is meant for (from STATE or DESCRIPTION) */
    uint8_t mode;            /* rrfw_mode */
    uint8_t value_count;     /* joint_count for joint modes, 6 for EE_DELTA */
    uint64_t expires_at_ns;  /* arm's monotonic clock: do not apply at or after this */
    double gripper_target;   /* 0 = open .. 1 = closed */
    double values[RRFW_MAX_JOINTS];
} rrfw_command;

#define RRFW_CLAIM_TAKEOVER 0x1u /* CLAIM flags: take the arm even from a live claim (an operator's deliberate takeover) */
#define RRFW_CLAIM_RELEASE 0x2u  /* CLAIM flags: the holder gives the arm up (its clean exit); the arm is then unclaimed */

typedef struct rrfw_claim {
    uint32_t session;   /* the arm session */
    uint32_t client_id; /* this controller's id for this start, non-zero; part of its controller key */
    uint32_t flags;     /* RRFW_CLAIM_TAKEOVER or RRFW_CLAIM_RELEASE (not both); other bits 0 */
} rrfw_claim;

typedef struct rrfw_session_request { /* HEARTBEAT, ENABLE, DISABLE, ESTOP, RESET */
    uint32_t session;
} rrfw_session_request;

typedef struct rrfw_ack {
    uint32_t session;
    uint32_t request_sequence; /* header sequence of the request answered (0 if rejected as truncated, bad_magic or oversized) */
    uint16_t request_type;     /* header type of the request answered, as received (0 when request_sequence is) */
    uint16_t result;           /* rrfw_ack_result */
    uint16_t reason;           /* RRFW_WRONG_SESSION for result 1, the rrfw_status of a rejected request for result 4, else 0 */
    uint16_t reserved;         /* 0 */
    uint32_t status_flags;     /* arm's status after the request */
} rrfw_ack;

typedef struct rrfw_fault_report {
    uint32_t session;
    uint32_t status_flags;
    uint32_t fault_flags;
    uint16_t hold_reason;
    uint16_t reserved;              /* 0 */
    uint32_t watchdog_trips;        /* times the watchdog put the arm in hold this session */
    uint32_t commands_applied;
    uint32_t last_command_sequence;
    uint32_t rejected[RRFW_STATUS_COUNT]; /* frames rejected this session on both channels, by rrfw_status; [0] unused */
} rrfw_fault_report;

typedef struct rrfw_message {
    rrfw_header header;
    union {
        rrfw_hello hello;
        rrfw_description description;
        rrfw_state state;
        rrfw_command command;
        rrfw_session_request session_request;
        rrfw_ack ack;
        rrfw_fault_report fault_report;
        rrfw_claim claim;
    } body;
    /* Authenticated types (version 2): the tag at the end of the payload, as decoded; rrfw_encode
     * writes it as given (rrfw_encode_sealed computes it). */
    uint8_t tag[RRFW_TAG_SIZE];
} rrfw_message;

/* CRC32C (Castagnoli, reflected polynomial 0x82F63B78, initial value and final XOR 0xFFFFFFFF).
 * rrfw_crc32c("123456789", 9) == 0xE3069283. */
uint32_t rrfw_crc32c(const void *data, size_t size);

/* Payload size of a message; 0 if the type is unknown or the counts are out of range. */
size_t rrfw_payload_size(const rrfw_message *message);

/* Checks everything that does not depend on the type's payload: size, magic, version, length,
 * CRC, known type. Fills *header when the header could be read (status other than TRUNCATED
 * or OVERSIZED from the size alone). */
rrfw_status rrfw_check_frame(const uint8_t *frame, size_t size, rrfw_header *header);

/* Checks the frame and decodes its payload into *message. On any status other than RRFW_OK,
 * *message must not be used (it may be partly written). */
rrfw_status rrfw_decode(const uint8_t *frame, size_t size, rrfw_message *message);

/* Encodes message (header.type, header.sequence and header.timestamp_ns are used; magic, version
 * and payload_length are filled in) into out. Returns the frame size, or 0 if out is too small
 * or the message is not encodable (unknown type, counts out of range). */
size_t rrfw_encode(const rrfw_message *message, uint8_t *out, size_t capacity);

/* ---- version 2 authentication (src/rrfw_auth.c) ----
 * The arm and its operator share a secret of RRFW_KEY_SIZE bytes. A controller's key is
 * HMAC-SHA256(secret, "rrfw2 controller key" || arm_session (u32 LE) || client_id (u32 LE)): bound to
 * one arm start and one controller start. An authenticated frame (rrfw_is_authenticated) ends its
 * payload with RRFW_TAG_SIZE bytes: the first 16 bytes of HMAC-SHA256(controller key, the frame from
 * its first byte up to the tag). */
void rrfw_sha256(const void *data, size_t size, uint8_t out[32]);
void rrfw_hmac_sha256(const uint8_t *key, size_t key_size, const void *data, size_t size, uint8_t out[32]);
void rrfw_controller_key(const uint8_t secret[RRFW_KEY_SIZE], uint32_t arm_session, uint32_t client_id, uint8_t out[RRFW_KEY_SIZE]);
/* 1 for CLAIM, COMMAND, HEARTBEAT, ENABLE, DISABLE, RESET; 0 otherwise (ESTOP is obeyed from anyone). */
int rrfw_is_authenticated(uint16_t type);
/* Writes the tag of an encoded authenticated frame and its CRC anew; 0 if the frame is too short. */
int rrfw_seal(uint8_t *frame, size_t size, const uint8_t key[RRFW_KEY_SIZE]);
/* rrfw_encode, then rrfw_seal for an authenticated type. */
size_t rrfw_encode_sealed(const rrfw_message *message, const uint8_t key[RRFW_KEY_SIZE], uint8_t *out, size_t capacity);
/* 1 if a frame (already checked by rrfw_decode) carries the tag of key; compares in constant time. */
int rrfw_tag_ok(const uint8_t *frame, size_t size, const uint8_t key[RRFW_KEY_SIZE]);

/* A short lower-case name for a status ("bad_crc"), type ("state") or hold reason ("watchdog");
 * "unknown" for values outside the enums. */
const char *rrfw_status_name(rrfw_status status);
const char *rrfw_type_name(uint16_t type);
const char *rrfw_hold_reason_name(uint16_t reason);

#ifdef __cplusplus
}
#endif
#endif
