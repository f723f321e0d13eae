/* Replays every file in the folders given (golden vectors, fuzz regressions) through the decoder
 * invariants: a quick CTest that keeps what fuzzing found fixed. */
#include <dirent.h>
#include <stdio.h>

#include "../tests/vector_io.h"
#include "decode_invariants.h"

int main(int argc, char **argv)
{
    size_t replayed = 0;
    for (int i = 1; i < argc; i++) {
        DIR *d = opendir(argv[i]);
        if (!d) {
            fprintf(stderr, "replay: cannot open folder %s\n", argv[i]);
            return 1;
        }
        struct dirent *e;
        while ((e = readdir(d)) != NULL) {
            if (e->d_name[0] == '.')
                continue;
            char path[4096];
            snprintf(path, sizeof path, "%s/%s", argv[i], e->d_name);
            size_t size = 0;
            unsigned char *bytes = read_whole_file(path, &size);
            if (!bytes) {
                closedir(d);
                return 1;
            }
            rrfw_check_input(bytes, size);
            free(bytes);
            replayed++;
        }
        closedir(d);
    }
    if (replayed == 0) {
        fprintf(stderr, "replay: no inputs found\n");
        return 1;
    }
    printf("replay: %zu inputs, all invariants hold\n", replayed);
    return 0;
}
