/* libFuzzer target for the C decoder; built and run by fuzz/run-fuzz. */
#include "decode_invariants.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    rrfw_check_input(data, size);
    return 0;
}
