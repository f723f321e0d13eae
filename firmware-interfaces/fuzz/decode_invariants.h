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

#endif
