/* Checks the C codec against the golden vectors: usage codec_test VECTORS_FOLDER. */
#include <stdio.h>
#include <string.h>

#include "golden.h"
#include "vector_io.h"

static int failures;
#define CHECK(cond, ...) do { if (!(cond)) { failures++; fprintf(stderr, "FAIL %s:%d: ", __FILE__, __LINE__); \
    fprintf(stderr, __VA_ARGS__); fputc('\n', stderr); } } while (0)

static rrfw_status status_by_name(const char *name)
{
    for (int s = 0; s < RRFW_STATUS_COUNT; s++)
        if (strcmp(rrfw_status_name((rrfw_status)s), name) == 0)
            return (rrfw_status)s;
    return RRFW_STATUS_COUNT;
}

static void crc_matches_the_castagnoli_check_value(void)
{
    CHECK(rrfw_crc32c("123456789", 9) == 0xE3069283u, "crc32c(123456789) = %08X", rrfw_crc32c("123456789", 9));
    CHECK(rrfw_crc32c("", 0) == 0, "crc32c(empty) must be 0");
}

static void every_manifest_vector_decodes_to_its_expected_status(const char *dir)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/manifest.txt", dir);
    FILE *m = fopen(path, "r");
    CHECK(m != NULL, "no manifest at %s", path);
    if (!m)
        return;
    char line[512];
    int count = 0;
    while (fgets(line, sizeof line, m)) {
        char file[256], expected[64], type[64];
        if (line[0] == '#' || sscanf(line, "%255s %63s %63s", file, expected, type) != 3)
            continue;
        snprintf(path, sizeof path, "%s/%s", dir, file);
        size_t size = 0;
        unsigned char *bytes = read_whole_file(path, &size);
        CHECK(bytes != NULL, "cannot read %s", path);
        if (!bytes)
            continue;
        rrfw_message msg;
        rrfw_status want = status_by_name(expected);
        rrfw_status got = rrfw_decode(bytes, size, &msg);
        CHECK(want != RRFW_STATUS_COUNT, "%s: unknown status name %s in manifest", file, expected);
        CHECK(got == want, "%s: decoded as %s, manifest says %s", file, rrfw_status_name(got), expected);
        if (got == RRFW_OK) {
            CHECK(strcmp(rrfw_type_name(msg.header.type), type) == 0, "%s: type %s, manifest says %s", file,
                rrfw_type_name(msg.header.type), type);
            uint8_t again[RRFW_MAX_FRAME];
            size_t n = rrfw_encode(&msg, again, sizeof again);
            CHECK(n == size && memcmp(again, bytes, size) == 0, "%s: decode then encode does not give the same bytes", file);
        }
        free(bytes);
        count++;
    }
    fclose(m);
    CHECK(count >= 20, "manifest lists %d vectors, expected at least 20", count);
}

static void golden_messages_encode_to_the_committed_bytes(const char *dir)
{
    for (size_t i = 0; i < GOLDEN_VECTOR_COUNT; i++) {
        char path[4096];
        snprintf(path, sizeof path, "%s/%s", dir, golden_vectors[i].file);
        size_t size = 0;
        unsigned char *bytes = read_whole_file(path, &size);
        CHECK(bytes != NULL, "cannot read %s", path);
        if (!bytes)
            continue;
        rrfw_message m = golden_vectors[i].make();
        uint8_t out[RRFW_MAX_FRAME], key[RRFW_KEY_SIZE];
        golden_controller_key(key);
        size_t n = rrfw_encode_sealed(&m, key, out, sizeof out);
        CHECK(n == size && memcmp(out, bytes, size) == 0, "%s: encoding differs from the committed vector", golden_vectors[i].file);
        free(bytes);
    }
}

static void decoded_state_has_the_golden_values(const char *dir)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/state_6dof.bin", dir);
    size_t size = 0;
    unsigned char *bytes = read_whole_file(path, &size);
    CHECK(bytes != NULL, "cannot read %s", path);
    if (!bytes)
        return;
    rrfw_message m;
    CHECK(rrfw_decode(bytes, size, &m) == RRFW_OK, "state_6dof.bin does not decode");
    CHECK(size == 24 + 96 + 24 * 6 + 4, "state_6dof.bin is %zu bytes, expected 268", size);
    CHECK(m.header.sequence == 42 && m.header.timestamp_ns == GOLDEN_STATE_TIME, "header fields");
    CHECK(m.body.state.session == GOLDEN_SESSION && m.body.state.last_command_sequence == 41, "session / last command");
    CHECK(m.body.state.positions[5] == 0.375 && m.body.state.velocities[3] == 0.1875 && m.body.state.efforts[0] == -1.5,
        "joint arrays");
    CHECK(m.body.state.ee_pose[2] == 0.75 && m.body.state.gripper_position == 0.25, "pose / gripper");
    free(bytes);
}

/* Capabilities bit 3 (PROTOCOL.md §3.2): description_6dof's arm has a gripper, the _no_gripper one has none (an arm
 * built before the bit was defined sends the same 0x3); both offer joint position and joint velocity. */
static void decoded_descriptions_say_whether_the_arm_has_a_gripper(const char *dir)
{
    const char *files[] = { "description_6dof.bin", "description_6dof_no_gripper.bin" };
    for (int i = 0; i < 2; i++) {
        char path[4096];
        snprintf(path, sizeof path, "%s/%s", dir, files[i]);
        size_t size = 0;
        unsigned char *bytes = read_whole_file(path, &size);
        CHECK(bytes != NULL, "cannot read %s", path);
        if (!bytes)
            continue;
        rrfw_message m;
        CHECK(rrfw_decode(bytes, size, &m) == RRFW_OK, "%s does not decode", files[i]);
        uint8_t caps = m.body.description.capabilities;
        CHECK((caps & RRFW_CAPABILITY_MODES) == 0x3, "%s: command modes 0x%X, expected 0x3", files[i], caps & RRFW_CAPABILITY_MODES);
        CHECK(((caps & RRFW_CAPABILITY_GRIPPER) != 0) == (i == 0), "%s: capabilities 0x%X say %s gripper", files[i], caps,
            (caps & RRFW_CAPABILITY_GRIPPER) ? "a" : "no");
        free(bytes);
    }
}

static void encoder_refuses_what_it_cannot_frame(void)
{
    uint8_t out[RRFW_MAX_FRAME];
    rrfw_message m = golden_state();
    CHECK(rrfw_encode(&m, out, 100) == 0, "state encoded into a 100-byte buffer");
    m.body.state.joint_count = 17;
    CHECK(rrfw_encode(&m, out, sizeof out) == 0, "state with 17 joints encoded");
    m = golden_command_ee_delta();
    m.body.command.value_count = 4;
    CHECK(rrfw_encode(&m, out, sizeof out) == 0, "end-effector delta with 4 values encoded");
    m.header.type = 0x40;
    CHECK(rrfw_encode(&m, out, sizeof out) == 0, "unknown type encoded");
}

static void every_single_bit_flip_is_caught(void)
{
    rrfw_message m = golden_command_joint_position();
    uint8_t frame[RRFW_MAX_FRAME], copy[RRFW_MAX_FRAME];
    size_t n = rrfw_encode(&m, frame, sizeof frame);
    rrfw_message out;
    for (size_t bit = 0; bit < n * 8; bit++) {
        memcpy(copy, frame, n);
        copy[bit / 8] ^= (uint8_t)(1u << (bit % 8));
        CHECK(rrfw_decode(copy, n, &out) != RRFW_OK, "flipping bit %zu of a command still decodes", bit);
    }
}

static void hex(const uint8_t *bytes, size_t n, char *out)
{
    for (size_t i = 0; i < n; i++)
        sprintf(out + 2 * i, "%02x", bytes[i]);
}

/* Reference values: FIPS 180-4 (SHA-256 of "abc" and of the 448-bit message) and RFC 4231 test
 * cases 1, 2 and 6 (HMAC-SHA256; case 6 has a 131-byte key, hashed first). */
static void sha256_and_hmac_match_their_published_test_vectors(void)
{
    uint8_t out[32];
    char text[65];
    rrfw_sha256("abc", 3, out); hex(out, 32, text);
    CHECK(strcmp(text, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad") == 0, "sha256(abc) = %s", text);
    const char *two_blocks = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
    rrfw_sha256(two_blocks, strlen(two_blocks), out); hex(out, 32, text);
    CHECK(strcmp(text, "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1") == 0, "sha256(448 bits) = %s", text);
    uint8_t key1[20];
    memset(key1, 0x0b, sizeof key1);
    rrfw_hmac_sha256(key1, sizeof key1, "Hi There", 8, out); hex(out, 32, text);
    CHECK(strcmp(text, "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7") == 0, "RFC 4231 case 1 = %s", text);
    rrfw_hmac_sha256((const uint8_t *)"Jefe", 4, "what do ya want for nothing?", 28, out); hex(out, 32, text);
    CHECK(strcmp(text, "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843") == 0, "RFC 4231 case 2 = %s", text);
    uint8_t key6[131];
    memset(key6, 0xaa, sizeof key6);
    const char *msg6 = "Test Using Larger Than Block-Size Key - Hash Key First";
    rrfw_hmac_sha256(key6, sizeof key6, msg6, strlen(msg6), out); hex(out, 32, text);
    CHECK(strcmp(text, "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54") == 0, "RFC 4231 case 6 = %s", text);
}

static void tags_verify_with_the_claimants_key_only(const char *dir)
{
    uint8_t key[RRFW_KEY_SIZE], other[RRFW_KEY_SIZE], secret[RRFW_KEY_SIZE];
    golden_controller_key(key);
    golden_secret(secret);
    rrfw_controller_key(secret, GOLDEN_SESSION, GOLDEN_CLIENT + 1, other); /* same secret, another controller */
    const char *sealed[] = { "claim.bin", "command_joint_position.bin", "command_ee_delta.bin", "enable.bin" };
    for (size_t i = 0; i < sizeof sealed / sizeof sealed[0]; i++) {
        char path[4096];
        snprintf(path, sizeof path, "%s/%s", dir, sealed[i]);
        size_t size = 0;
        unsigned char *bytes = read_whole_file(path, &size);
        CHECK(bytes != NULL, "cannot read %s", path);
        if (!bytes)
            continue;
        CHECK(rrfw_tag_ok(bytes, size, key), "%s: the golden controller key does not verify its tag", sealed[i]);
        CHECK(!rrfw_tag_ok(bytes, size, other), "%s: another controller's key verifies its tag", sealed[i]);
        free(bytes);
    }
    char path[4096];
    snprintf(path, sizeof path, "%s/command_wrong_key.bin", dir);
    size_t size = 0;
    unsigned char *bytes = read_whole_file(path, &size);
    CHECK(bytes != NULL && !rrfw_tag_ok(bytes, size, key), "command_wrong_key.bin verifies with the golden key");
    free(bytes);
    CHECK(rrfw_is_authenticated(RRFW_COMMAND) && rrfw_is_authenticated(RRFW_CLAIM) && !rrfw_is_authenticated(RRFW_ESTOP)
        && !rrfw_is_authenticated(RRFW_HELLO) && !rrfw_is_authenticated(RRFW_STATE), "which types are authenticated");
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: codec_test VECTORS_FOLDER\n");
        return 2;
    }
    crc_matches_the_castagnoli_check_value();
    sha256_and_hmac_match_their_published_test_vectors();
    tags_verify_with_the_claimants_key_only(argv[1]);
    every_manifest_vector_decodes_to_its_expected_status(argv[1]);
    golden_messages_encode_to_the_committed_bytes(argv[1]);
    decoded_state_has_the_golden_values(argv[1]);
    decoded_descriptions_say_whether_the_arm_has_a_gripper(argv[1]);
    encoder_refuses_what_it_cannot_frame();
    every_single_bit_flip_is_caught();
    if (failures) {
        fprintf(stderr, "codec_test: %d failures\n", failures);
        return 1;
    }
    printf("codec_test: all checks passed\n");
    return 0;
}
