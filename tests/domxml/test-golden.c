/* Golden tests of the domain XML layer: cases/<case>.xml gives
 * <case>.out.xml (inactive XML) and <case>.args (argv, one element per line),
 * or <case>.err with the exact error message. QVIRT_REGENERATE=1 rewrites
 * the expected files; review them as a diff. */
#include <criterion/criterion.h>
#include <string.h>

#include "domdef.h"
#include "golden.h"

static bool regenerate(void)
{
    const char *v = g_getenv("QVIRT_REGENERATE");
    return v && *v && strcmp(v, "0");
}

static bool check_file(const char *path, const char *actual, GString *failures)
{
    if (regenerate()) {
        g_file_set_contents(path, actual, -1, NULL);
        return true;
    }
    g_autofree char *expected = NULL;
    if (!g_file_get_contents(path, &expected, NULL, NULL)) {
        g_string_append_printf(failures, "%s: missing (run with QVIRT_REGENERATE=1)\n", path);
        return false;
    }
    if (strcmp(expected, actual)) {
        g_string_append_printf(failures, "%s differs; got:\n%s\n", path, actual);
        return false;
    }
    return true;
}

/* Checks one case, adding what is wrong to failures. */
static void run_case(const char *dir, const char *name, GString *failures)
{
    g_autofree char *xml_path = g_strdup_printf("%s/%s.xml", dir, name);
    g_autofree char *err_path = g_strdup_printf("%s/%s.err", dir, name);
    g_autofree char *out_path = g_strdup_printf("%s/%s.out.xml", dir, name);
    g_autofree char *args_path = g_strdup_printf("%s/%s.args", dir, name);
    g_autofree char *xml = NULL;
    cr_assert(g_file_get_contents(xml_path, &xml, NULL, NULL), "cannot read %s", xml_path);
    bool expect_err = g_file_test(err_path, G_FILE_TEST_EXISTS);

    g_autoptr(qv_domdef) def = NULL;
    g_autoptr(qv_error) err = NULL;
    int r = qv_domxml_parse(xml, 0, &def, &err);
    if (r == 0) {
        /* Files get fd numbers as domxml-to-native shows them: from 100. */
        int next_fd = 100;
        qv_file_opener files = QV_FILE_OPENER_PLACEHOLDER(&next_fd);
        qv_build_ctx ctx = { NULL, GOLDEN_MONITOR_FD, GOLDEN_EVENT_FD, GOLDEN_RUNTIME_DIR, NULL, 0,
                         golden_networks, golden_n_networks, golden_firmware, golden_n_firmware,
                         GOLDEN_NVRAM_DIR, &files, .display_sockets_by_caller = true,
                         .scsi_generic = golden_scsi_generic, .volume_path = golden_volume_path,
                         .secret_file = golden_secret_file, .secret_data = &next_fd,
                         .spice_tls = golden_spice_tls(name) };
        g_auto(GStrv) argv = NULL;
        r = qv_domxml_build_argv(def, &ctx, &argv, &err);
        if (r == 0 && !expect_err) {
            g_autofree char *out = qv_domxml_format(def, QV_DOMXML_FORMAT_INACTIVE | QV_DOMXML_FORMAT_SECURE);
            g_autofree char *args = golden_argv_text(argv);
            check_file(out_path, out, failures);
            check_file(args_path, args, failures);
            /* Stability: the formatted XML parses back to the same XML and argv. */
            g_autoptr(qv_domdef) def2 = NULL;
            g_autoptr(qv_error) err2 = NULL;
            if (qv_domxml_parse(out, 0, &def2, &err2) < 0) {
                g_string_append_printf(failures, "%s: formatted XML does not parse: %s\n", name,
                                       qv_error_message(err2));
            } else {
                g_autofree char *out2 = qv_domxml_format(def2, QV_DOMXML_FORMAT_INACTIVE | QV_DOMXML_FORMAT_SECURE);
                g_auto(GStrv) argv2 = NULL;
                if (strcmp(out, out2))
                    g_string_append_printf(failures, "%s: format is not stable:\n%s\n", name, out2);
                next_fd = 100;
                if (qv_domxml_build_argv(def2, &ctx, &argv2, NULL) < 0)
                    g_string_append_printf(failures, "%s: re-parsed XML does not build\n", name);
                else {
                    g_autofree char *args2 = golden_argv_text(argv2);
                    if (strcmp(args, args2))
                        g_string_append_printf(failures, "%s: argv changed after a round trip:\n%s\n", name, args2);
                }
            }
            return;
        }
    }
    if (expect_err) {
        if (r == 0) {
            g_string_append_printf(failures, "%s: expected an error, got success\n", name);
            return;
        }
        g_autofree char *msg = g_strdup_printf("%s\n", qv_error_message(err));
        check_file(err_path, msg, failures);
        return;
    }
    g_string_append_printf(failures, "%s: unexpected error: %s\n", name, qv_error_message(err));
}

Test(domxml_golden, all_cases)
{
    g_autofree char *dir = golden_cases_dir();
    g_autoptr(GPtrArray) cases = golden_list_cases(dir);
    cr_assert(cases->len > 0, "no golden cases in %s", dir);
    GString *failures = g_string_new(NULL);
    for (guint i = 0; i < cases->len; i++)
        run_case(dir, g_ptr_array_index(cases, i), failures);
    cr_assert(failures->len == 0, "%s", failures->str);
    g_string_free(failures, TRUE);
}

Test(domxml_golden, case_count)
{
    g_autofree char *dir = golden_cases_dir();
    g_autoptr(GPtrArray) cases = golden_list_cases(dir);
    cr_expect(cases->len >= 20, "only %u golden cases", cases->len);
}

/* Every case's migratable XML (what older libvirt adds by itself left out)
 * defines the same guest again: the same QEMU devices, addresses and ids. */
Test(domxml_golden, migratable_defines_the_same_guest)
{
    g_autofree char *dir = golden_cases_dir();
    g_autoptr(GPtrArray) cases = golden_list_cases(dir);
    GString *failures = g_string_new(NULL);
    unsigned int checked = 0, shorter = 0;
    qv_build_ctx ctx = { NULL, GOLDEN_MONITOR_FD, GOLDEN_EVENT_FD, GOLDEN_RUNTIME_DIR, NULL, 0,
                         golden_networks, golden_n_networks, golden_firmware, golden_n_firmware,
                         GOLDEN_NVRAM_DIR, .scsi_generic = golden_scsi_generic, .volume_path = golden_volume_path,
                         .secret_file = golden_secret_file };
    for (guint i = 0; i < cases->len; i++) {
        const char *name = g_ptr_array_index(cases, i);
        g_autofree char *xml_path = g_strdup_printf("%s/%s.xml", dir, name);
        g_autofree char *xml = NULL;
        cr_assert(g_file_get_contents(xml_path, &xml, NULL, NULL), "cannot read %s", xml_path);
        g_autoptr(qv_domdef) def = NULL;
        g_auto(GStrv) argv = NULL;
        ctx.spice_tls = golden_spice_tls(name);
        if (qv_domxml_parse(xml, 0, &def, NULL) < 0 || qv_domxml_build_argv(def, &ctx, &argv, NULL) < 0)
            continue;   /* an error case */
        const unsigned int f = QV_DOMXML_FORMAT_INACTIVE | QV_DOMXML_FORMAT_SECURE;
        g_autofree char *full = qv_domxml_format(def, f);
        g_autofree char *mig = qv_domxml_format(def, f | QV_DOMXML_FORMAT_MIGRATABLE);
        shorter += strlen(mig) < strlen(full);
        g_autoptr(qv_domdef) back = NULL;
        g_autoptr(qv_error) err = NULL;
        g_auto(GStrv) argv2 = NULL;
        if (qv_domxml_parse(mig, 0, &back, &err) < 0 || qv_domxml_build_argv(back, &ctx, &argv2, &err) < 0) {
            g_string_append_printf(failures, "%s: migratable XML does not define: %s\n", name,
                                   qv_error_message(err));
            continue;
        }
        g_autofree char *a = golden_sorted_argv(argv), *b = golden_sorted_argv(argv2);
        if (strcmp(a, b))
            g_string_append_printf(failures, "%s: another guest after a migratable round trip:\n%s\n",
                                   name, mig);
        checked++;
    }
    cr_assert(failures->len == 0, "%s", failures->str);
    g_string_free(failures, TRUE);
    cr_expect(checked >= 20 && shorter >= 20, "%u cases checked, %u shortened", checked, shorter);
}
