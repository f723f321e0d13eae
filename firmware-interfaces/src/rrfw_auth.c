/* Protocol version 2's frame authentication: SHA-256 (FIPS 180-4), HMAC-SHA256 (RFC 2104), the
 * controller key and the 16-byte tag an authenticated frame carries at the end of its payload.
 * No allocation, no globals: portable to a microcontroller like the rest of the codec. */
#include "rrfw.h"

#include <string.h>

static const uint32_t K256[64] = {
    0x428a2f98u, 0x71374491u, 0xb5c0fbcfu, 0xe9b5dba5u, 0x3956c25bu, 0x59f111f1u, 0x923f82a4u, 0xab1c5ed5u,
    0xd807aa98u, 0x12835b01u, 0x243185beu, 0x550c7dc3u, 0x72be5d74u, 0x80deb1feu, 0x9bdc06a7u, 0xc19bf174u,
    0xe49b69c1u, 0xefbe4786u, 0x0fc19dc6u, 0x240ca1ccu, 0x2de92c6fu, 0x4a7484aau, 0x5cb0a9dcu, 0x76f988dau,
    0x983e5152u, 0xa831c66du, 0xb00327c8u, 0xbf597fc7u, 0xc6e00bf3u, 0xd5a79147u, 0x06ca6351u, 0x14292967u,
    0x27b70a85u, 0x2e1b2138u, 0x4d2c6dfcu, 0x53380d13u, 0x650a7354u, 0x766a0abbu, 0x81c2c92eu, 0x92722c85u,
    0xa2bfe8a1u, 0xa81a664bu, 0xc24b8b70u, 0xc76c51a3u, 0xd192e819u, 0xd6990624u, 0xf40e3585u, 0x106aa070u,
    0x19a4c116u, 0x1e376c08u, 0x2748774cu, 0x34b0bcb5u, 0x391c0cb3u, 0x4ed8aa4au, 0x5b9cca4fu, 0x682e6ff3u,
    0x748f82eeu, 0x78a5636fu, 0x84c87814u, 0x8cc70208u, 0x90befffau, 0xa4506cebu, 0xbef9a3f7u, 0xc67178f2u,
};

static uint32_t rotr(uint32_t x, unsigned n) { return (x >> n) | (x << (32u - n)); }

static void sha256_block(uint32_t h[8], const uint8_t *block)
{
    uint32_t w[64];
    for (unsigned i = 0; i < 16; i++)
        w[i] = (uint32_t)block[4 * i] << 24 | (uint32_t)block[4 * i + 1] << 16 | (uint32_t)block[4 * i + 2] << 8 | block[4 * i + 3];
    for (unsigned i = 16; i < 64; i++) {
        uint32_t s0 = rotr(w[i - 15], 7) ^ rotr(w[i - 15], 18) ^ (w[i - 15] >> 3);
        uint32_t s1 = rotr(w[i - 2], 17) ^ rotr(w[i - 2], 19) ^ (w[i - 2] >> 10);
        w[i] = w[i - 16] + s0 + w[i - 7] + s1;
    }
    uint32_t a = h[0], b = h[1], c = h[2], d = h[3], e = h[4], f = h[5], g = h[6], k = h[7];
    for (unsigned i = 0; i < 64; i++) {
        uint32_t t1 = k + (rotr(e, 6) ^ rotr(e, 11) ^ rotr(e, 25)) + ((e & f) ^ (~e & g)) + K256[i] + w[i];
        uint32_t t2 = (rotr(a, 2) ^ rotr(a, 13) ^ rotr(a, 22)) + ((a & b) ^ (a & c) ^ (b & c));
        k = g; g = f; f = e; e = d + t1; d = c; c = b; b = a; a = t1 + t2;
    }
    h[0] += a; h[1] += b; h[2] += c; h[3] += d; h[4] += e; h[5] += f; h[6] += g; h[7] += k;
}

typedef struct sha256_state {
    uint32_t h[8];
    uint8_t buffer[64];
    size_t used;
    uint64_t total;
} sha256_state;

static void sha256_init(sha256_state *s)
{
    static const uint32_t initial[8] = {
        0x6a09e667u, 0xbb67ae85u, 0x3c6ef372u, 0xa54ff53au, 0x510e527fu, 0x9b05688cu, 0x1f83d9abu, 0x5be0cd19u,
    };
    memcpy(s->h, initial, sizeof initial);
    s->used = 0;
    s->total = 0;
}

static void sha256_update(sha256_state *s, const uint8_t *data, size_t size)
{
    s->total += size;
    while (size > 0) {
        size_t take = 64 - s->used < size ? 64 - s->used : size;
        memcpy(s->buffer + s->used, data, take);
        s->used += take;
        data += take;
        size -= take;
        if (s->used == 64) {
            sha256_block(s->h, s->buffer);
            s->used = 0;
        }
    }
}

static void sha256_final(sha256_state *s, uint8_t out[32])
{
    uint64_t bits = s->total * 8;
    uint8_t pad = 0x80;
    sha256_update(s, &pad, 1);
    uint8_t zero = 0;
    while (s->used != 56)
        sha256_update(s, &zero, 1);
    uint8_t length[8];
    for (unsigned i = 0; i < 8; i++)
        length[i] = (uint8_t)(bits >> (56 - 8 * i));
    sha256_update(s, length, 8);
    for (unsigned i = 0; i < 8; i++) {
        out[4 * i] = (uint8_t)(s->h[i] >> 24);
        out[4 * i + 1] = (uint8_t)(s->h[i] >> 16);
        out[4 * i + 2] = (uint8_t)(s->h[i] >> 8);
        out[4 * i + 3] = (uint8_t)s->h[i];
    }
}

void rrfw_sha256(const void *data, size_t size, uint8_t out[32])
{
    sha256_state s;
    sha256_init(&s);
    sha256_update(&s, (const uint8_t *)data, size);
    sha256_final(&s, out);
}

void rrfw_hmac_sha256(const uint8_t *key, size_t key_size, const void *data, size_t size, uint8_t out[32])
{
    uint8_t block[64] = { 0 };
    if (key_size > 64)
        rrfw_sha256(key, key_size, block);
    else
        memcpy(block, key, key_size);
    uint8_t pad[64];
    for (unsigned i = 0; i < 64; i++)
        pad[i] = block[i] ^ 0x36;
    sha256_state s;
    sha256_init(&s);
    sha256_update(&s, pad, 64);
    sha256_update(&s, (const uint8_t *)data, size);
    uint8_t inner[32];
    sha256_final(&s, inner);
    for (unsigned i = 0; i < 64; i++)
        pad[i] = block[i] ^ 0x5c;
    sha256_init(&s);
    sha256_update(&s, pad, 64);
    sha256_update(&s, inner, 32);
    sha256_final(&s, out);
}

void rrfw_controller_key(const uint8_t secret[RRFW_KEY_SIZE], uint32_t arm_session, uint32_t client_id, uint8_t out[RRFW_KEY_SIZE])
{
    static const char label[] = "rrfw2 controller key"; /* 20 bytes, no terminator */
    uint8_t input[sizeof label - 1 + 8];
    memcpy(input, label, sizeof label - 1);
    uint8_t *p = input + sizeof label - 1;
    for (unsigned i = 0; i < 4; i++) {
        p[i] = (uint8_t)(arm_session >> (8 * i));
        p[4 + i] = (uint8_t)(client_id >> (8 * i));
    }
    rrfw_hmac_sha256(secret, RRFW_KEY_SIZE, input, sizeof input, out);
}

int rrfw_is_authenticated(uint16_t type)
{
    return type == RRFW_COMMAND || type == RRFW_CLAIM || type == RRFW_HEARTBEAT || type == RRFW_ENABLE ||
        type == RRFW_DISABLE || type == RRFW_RESET;
}

static void put_crc(uint8_t *frame, size_t size)
{
    uint32_t crc = rrfw_crc32c(frame, size - RRFW_TRAILER_SIZE);
    for (unsigned i = 0; i < 4; i++)
        frame[size - RRFW_TRAILER_SIZE + i] = (uint8_t)(crc >> (8 * i));
}

int rrfw_seal(uint8_t *frame, size_t size, const uint8_t key[RRFW_KEY_SIZE])
{
    if (size < RRFW_HEADER_SIZE + RRFW_TAG_SIZE + RRFW_TRAILER_SIZE)
        return 0;
    size_t covered = size - RRFW_TRAILER_SIZE - RRFW_TAG_SIZE;
    uint8_t mac[32];
    rrfw_hmac_sha256(key, RRFW_KEY_SIZE, frame, covered, mac);
    memcpy(frame + covered, mac, RRFW_TAG_SIZE);
    put_crc(frame, size);
    return 1;
}

size_t rrfw_encode_sealed(const rrfw_message *message, const uint8_t key[RRFW_KEY_SIZE], uint8_t *out, size_t capacity)
{
    size_t size = rrfw_encode(message, out, capacity);
    if (size == 0 || !rrfw_is_authenticated(message->header.type))
        return size;
    return rrfw_seal(out, size, key) ? size : 0;
}

int rrfw_tag_ok(const uint8_t *frame, size_t size, const uint8_t key[RRFW_KEY_SIZE])
{
    if (size < RRFW_HEADER_SIZE + RRFW_TAG_SIZE + RRFW_TRAILER_SIZE)
        return 0;
    size_t covered = size - RRFW_TRAILER_SIZE - RRFW_TAG_SIZE;
    uint8_t mac[32];
    rrfw_hmac_sha256(key, RRFW_KEY_SIZE, frame, covered, mac);
    uint8_t difference = 0;
    for (unsigned i = 0; i < RRFW_TAG_SIZE; i++)
        difference |= (uint8_t)(mac[i] ^ frame[covered + i]);
    return difference == 0;
}
