/* What must hold for any input to the decoder; shared by the libFuzzer target and the corpus
 * replay test. Aborts (so the fuzzer records the input) when an invariant breaks. */
#ifndef RRFW_DECODE_INVARIANTS_H
#define RRFW_DECODE_INVARIANTS_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rrfw.h"

static inline void rrfw_check_decode_invariants(const uint8_t *data, size_t size)
{
    rrfw_message m;
    rrfw_status st = rrfw_decode(data, size, &m);
    if ((unsigned)st >= RRFW_STATUS_COUNT) {
        fprintf(stderr, "decoder returned status %d outside the enum\n", (int)st);
        abort();
    }
    if (st != RRFW_OK)
        return;
    /* Accepted: the trailer must be the CRC32C of everything before it... */
    size_t covered = size - RRFW_TRAILER_SIZE;
    uint32_t trailer = (uint32_t)data[covered] | ((uint32_t)data[covered + 1] << 8)
        | ((uint32_t)data[covered + 2] << 16) | ((uint32_t)data[covered + 3] << 24);
    if (trailer != rrfw_crc32c(data, covered)) {
        fprintf(stderr, "decoder accepted a frame whose CRC does not match\n");
        abort();
    }
    /* ...and the encoding is canonical: encoding what was decoded gives the same bytes. */
    uint8_t again[RRFW_MAX_FRAME];
    size_t n = rrfw_encode(&m, again, sizeof again);
    if (n != size || memcmp(again, data, size) != 0) {
        fprintf(stderr, "decoded %s frame does not re-encode to the same %zu bytes\n", rrfw_type_name(m.header.type), size);
        abort();
    }
}

/* Checks the input as it is, then again with its payload_length and CRC made consistent, so that
 * the fuzzer reaches the per-type field checks behind the CRC instead of stopping at it. */
static inline void rrfw_check_input(const uint8_t *data, size_t size)
{
    rrfw_check_decode_invariants(data, size);
    if (size < RRFW_HEADER_SIZE + RRFW_TRAILER_SIZE || size > RRFW_MAX_FRAME)
        return;
    uint8_t copy[RRFW_MAX_FRAME];
    memcpy(copy, data, size);
    size_t payload = size - RRFW_HEADER_SIZE - RRFW_TRAILER_SIZE;
    copy[0] = 'R'; copy[1] = 'R'; copy[2] = 'F'; copy[3] = 'W';
    copy[4] = RRFW_VERSION; copy[5] = 0;
    copy[12] = (uint8_t)payload; copy[13] = (uint8_t)(payload >> 8); copy[14] = 0; copy[15] = 0;
    uint32_t crc = rrfw_crc32c(copy, size - RRFW_TRAILER_SIZE);
    uint8_t *t = copy + size - RRFW_TRAILER_SIZE;
    t[0] = (uint8_t)crc; t[1] = (uint8_t)(crc >> 8); t[2] = (uint8_t)(crc >> 16); t[3] = (uint8_t)(crc >> 24);
    rrfw_check_decode_invariants(copy, size);
}

#endif
