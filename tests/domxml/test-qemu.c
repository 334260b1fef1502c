/* Every golden case QEMU can run here is started with the argv we build
 * (-S, TCG), then checked over QMP (qemu-start.c): every -device id is in
 * /machine/peripheral, every disk is in query-block, every -chardev is in
 * query-chardev. A command line QEMU refuses fails the test. Cases use paths
 * under /var/lib/qvirt-test, which the test maps to a temp dir with real
 * images. */
#include <criterion/criterion.h>
#include <string.h>

#include "golden.h"
#include "qemu-start.h"

static void run_case(const char *dir, const char *name, GString *failures, int *ran)
{
    g_autofree char *xml_path = g_strdup_printf("%s/%s.xml", dir, name);
    g_autofree char *err_path = g_strdup_printf("%s/%s.err", dir, name);
    if (g_file_test(err_path, G_FILE_TEST_EXISTS))
        return;
    g_autofree char *xml = NULL;
    cr_assert(g_file_get_contents(xml_path, &xml, NULL, NULL));
    g_autofree char *tmp = qemu_start_fixture();
    g_autofree char *message = NULL;
    switch (qemu_start_check(name, xml, tmp, NULL, 0, failures, &message)) {
    case QEMU_START_OK:
        (*ran)++;
        break;
    case QEMU_START_SKIPPED:
        cr_log_info("skipping %s: %s", name, message);
        break;
    case QEMU_START_PARSE_FAILED:
        g_string_append_printf(failures, "%s: parse failed: %s\n", name, message);
        break;
    case QEMU_START_BUILD_FAILED:
        g_string_append_printf(failures, "%s: build failed: %s\n", name, message);
        break;
    }
    qemu_start_fixture_remove(tmp);
}

Test(domxml_qemu, golden_cases_start, .timeout = 600)
{
    if (!qemu_start_available())
        cr_skip_test("qemu-system-x86_64 or qemu-img is not installed");
    g_autofree char *dir = golden_cases_dir();
    g_autoptr(GPtrArray) cases = golden_list_cases(dir);
    const char *only = g_getenv("QVIRT_DOMXML_CASE");
    GString *failures = g_string_new(NULL);
    int ran = 0;
    for (guint i = 0; i < cases->len; i++) {
        const char *name = g_ptr_array_index(cases, i);
        if (only && strcmp(only, name))
            continue;
        run_case(dir, name, failures, &ran);
    }
    cr_log_info("%d cases started in QEMU", ran);
    cr_assert(failures->len == 0, "%s", failures->str);
    cr_assert(ran > 0, "no case was started");
    g_string_free(failures, TRUE);
}
