/*
 * Runs a fuzz target over files without libFuzzer: the committed seed
 * corpus replays in every build (gcc, clang, the sanitizer build), so a
 * seed that once crashed stays fixed.
 *
 *   replay_TARGET FILE-OR-FOLDER...
 */
#define _POSIX_C_SOURCE 200809L

#include <dirent.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int replayed;

static int replay_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    unsigned char *data;
    long size;

    if (!f || fseek(f, 0, SEEK_END) != 0 || (size = ftell(f)) < 0 ||
        fseek(f, 0, SEEK_SET) != 0) {
        fprintf(stderr, "replay: cannot read %s\n", path);
        return 1;
    }
    data = malloc((size_t)size + 1);
    if (!data || fread(data, 1, (size_t)size, f) != (size_t)size) {
        fprintf(stderr, "replay: cannot read %s\n", path);
        return 1;
    }
    fclose(f);
    LLVMFuzzerTestOneInput(data, (size_t)size);
    free(data);
    replayed++;
    return 0;
}

/* A folder: every file in it. */
static int replay(const char *path)
{
    DIR *dir = opendir(path);
    struct dirent *e;
    int rc = 0;

    if (!dir)
        return replay_file(path);
    while (rc == 0 && (e = readdir(dir)) != NULL) {
        char *child;
        if (e->d_name[0] == '.')
            continue;
        child = malloc(strlen(path) + strlen(e->d_name) + 2);
        if (!child)
            return 1;
        sprintf(child, "%s/%s", path, e->d_name);
        rc = replay_file(child);
        free(child);
    }
    closedir(dir);
    return rc;
}

int main(int argc, char **argv)
{
    int i;

    for (i = 1; i < argc; i++)
        if (replay(argv[i]) != 0)
            return 1;
    printf("replayed %d inputs\n", replayed);
    return replayed > 0 ? 0 : 1;
}
