/* Reading vector and corpus files for the C tests. */
#ifndef RRFW_VECTOR_IO_H
#define RRFW_VECTOR_IO_H

#include <stdio.h>
#include <stdlib.h>

/* Reads a whole file into a malloc'd buffer; NULL (and a message) if it cannot. */
static inline unsigned char *read_whole_file(const char *path, size_t *size)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "cannot open %s\n", path);
        return NULL;
    }
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *data = malloc(n > 0 ? (size_t)n : 1);
    if (!data || (n > 0 && fread(data, 1, (size_t)n, f) != (size_t)n)) {
        fprintf(stderr, "cannot read %s\n", path);
        fclose(f);
        free(data);
        return NULL;
    }
    fclose(f);
    *size = (size_t)n;
    return data;
}

#endif
