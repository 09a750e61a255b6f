/*
 * tests/fuzz/replay.c — run a fuzz target over files, without libFuzzer.
 *
 * `make check` links every fuzz target with this driver and replays the
 * seed corpus (and any crash reproducers saved there), so the targets keep
 * compiling and yesterday's crashes stay fixed.  `make fuzz` builds the same
 * targets with clang's libFuzzer for real fuzzing.
 */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int run_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return -1;
    static uint8_t buf[1 << 22];
    size_t n = fread(buf, 1, sizeof buf, f);
    fclose(f);
    /* copy to an exact-size allocation so ASan sees overreads */
    uint8_t *p = malloc(n ? n : 1);
    memcpy(p, buf, n);
    LLVMFuzzerTestOneInput(p, n);
    free(p);
    return 0;
}

int main(int argc, char **argv)
{
    int files = 0;
    for (int i = 1; i < argc; i++) {
        struct stat st;
        if (stat(argv[i], &st))
            continue;
        if (S_ISDIR(st.st_mode)) {
            DIR *d = opendir(argv[i]);
            struct dirent *e;
            while (d && (e = readdir(d))) {
                if (e->d_name[0] == '.')
                    continue;
                char path[4096];
                snprintf(path, sizeof path, "%s/%s", argv[i], e->d_name);
                files += run_file(path) == 0;
            }
            if (d)
                closedir(d);
        } else {
            files += run_file(argv[i]) == 0;
        }
    }
    /* also a few inputs every target must survive */
    static const uint8_t edge[][8] = { {0}, {0xff, 0xff, 0xff, 0xff}, {0x92, 0xc4, 0x01}, {0xdf, 0xff, 0xff, 0xff, 0xff} };
    for (size_t i = 0; i < sizeof edge / sizeof edge[0]; i++)
        for (size_t n = 0; n <= 8; n++)
            LLVMFuzzerTestOneInput(edge[i], n);
    printf("replayed %d corpus files\n", files);
    return 0;
}
