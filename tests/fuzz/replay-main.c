/* Runs libFuzzer inputs through a target without libFuzzer, so the seed
 * corpus (and any crash reproducer) runs in the normal test suite and in
 * sanitizer builds. Arguments: files or directories of inputs. Shared by
 * every fuzz target in this directory. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include <glib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int replay_file(const char *path)
{
    g_autofree char *buf = NULL;
    gsize len = 0;
    g_autoptr(GError) error = NULL;
    if (!g_file_get_contents(path, &buf, &len, &error)) {
        fprintf(stderr, "cannot read %s: %s\n", path, error->message);
        return -1;
    }
    /* an exact-size copy, so a sanitizer sees reads past the end */
    g_autofree uint8_t *copy = g_memdup2(buf, len);
    LLVMFuzzerTestOneInput(copy, len);
    return 0;
}

int main(int argc, char **argv)
{
    unsigned ok = 0, failed = 0;
    for (int i = 1; i < argc; i++) {
        if (!g_file_test(argv[i], G_FILE_TEST_IS_DIR)) {
            replay_file(argv[i]) == 0 ? ok++ : failed++;
            continue;
        }
        g_autoptr(GDir) dir = g_dir_open(argv[i], 0, NULL);
        if (!dir) {
            fprintf(stderr, "cannot open corpus directory %s\n", argv[i]);
            failed++;
            continue;
        }
        g_autoptr(GPtrArray) names = g_ptr_array_new_with_free_func(g_free);
        const char *name;
        while ((name = g_dir_read_name(dir)))
            g_ptr_array_add(names, g_build_filename(argv[i], name, NULL));
        g_ptr_array_sort(names, (GCompareFunc)g_strcmp0);
        for (guint j = 0; j < names->len; j++)
            replay_file(names->pdata[j]) == 0 ? ok++ : failed++;
    }
    if (ok + failed == 0) {
        fprintf(stderr, "no inputs given\n");
        return 1;
    }
    printf("replayed %u inputs, %u unreadable\n", ok, failed);
    return failed ? 1 : 0;
}
