/* Golden tests of the snapshot XML (domxml/snapshot.c): snapshot-cases/
 * <case>.xml gives <case>.out.xml (the formatted snapshot) or <case>.err
 * (the exact error). Cases named create-* are parsed as a request for a new
 * snapshot (read-only fields dropped), the others as stored metadata
 * (REDEFINE). Every formatted result must parse back to the same text.
 * QVIRT_REGENERATE=1 rewrites the expected files; review them as a diff. */
#include <criterion/criterion.h>
#include <string.h>

#include "domdef.h"
#include "snapshot.h"

static bool regenerate(void)
{
    const char *v = g_getenv("QVIRT_REGENERATE");
    return v && *v && strcmp(v, "0");
}

static char *cases_dir(void)
{
    const char *src = g_getenv("QVIRT_SOURCE_ROOT");
    return g_build_filename(src ? src : ".", "tests", "domxml", "snapshot-cases", NULL);
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

static void run_case(const char *dir, const char *name, GString *failures)
{
    g_autofree char *xml_path = g_strdup_printf("%s/%s.xml", dir, name);
    g_autofree char *err_path = g_strdup_printf("%s/%s.err", dir, name);
    g_autofree char *out_path = g_strdup_printf("%s/%s.out.xml", dir, name);
    g_autofree char *xml = NULL;
    cr_assert(g_file_get_contents(xml_path, &xml, NULL, NULL), "cannot read %s", xml_path);
    unsigned int flags = g_str_has_prefix(name, "create-") ? 0 : QV_SNAPXML_PARSE_REDEFINE;
    bool expect_err = g_file_test(err_path, G_FILE_TEST_EXISTS);
    g_autoptr(qv_snapdef) def = NULL;
    g_autoptr(qv_error) err = NULL;
    if (qv_snapxml_parse(xml, flags, &def, &err) < 0) {
        g_autofree char *msg = g_strconcat(qv_error_message(err), "\n", NULL);
        if (!expect_err && !regenerate())
            g_string_append_printf(failures, "%s: unexpected error: %s", name, msg);
        else
            check_file(err_path, msg, failures);
        return;
    }
    if (expect_err && !regenerate()) {
        g_string_append_printf(failures, "%s: parsed, but %s expects an error\n", name, err_path);
        return;
    }
    g_autofree char *out = qv_snapxml_format(def, QV_SNAPXML_FORMAT_SECURE);
    check_file(out_path, out, failures);
    /* What the formatter writes, the parser takes back unchanged. */
    g_autoptr(qv_snapdef) again = NULL;
    g_autoptr(qv_error) err2 = NULL;
    if (qv_snapxml_parse(out, QV_SNAPXML_PARSE_REDEFINE, &again, &err2) < 0) {
        g_string_append_printf(failures, "%s: formatted XML does not parse: %s\n", name,
                               qv_error_message(err2));
        return;
    }
    g_autofree char *out2 = qv_snapxml_format(again, QV_SNAPXML_FORMAT_SECURE);
    if (strcmp(out, out2))
        g_string_append_printf(failures, "%s: formatting is not stable:\n%s\n", name, out2);
}

Test(snapshot_golden, cases)
{
    g_autofree char *dir = cases_dir();
    g_autoptr(GDir) d = g_dir_open(dir, 0, NULL);
    cr_assert_not_null(d, "cannot open %s", dir);
    g_autoptr(GPtrArray) names = g_ptr_array_new_with_free_func(g_free);
    const char *ent;
    while ((ent = g_dir_read_name(d)))
        if (g_str_has_suffix(ent, ".xml") && !g_str_has_suffix(ent, ".out.xml"))
            g_ptr_array_add(names, g_strndup(ent, strlen(ent) - 4));
    cr_assert_gt(names->len, 5, "too few cases in %s", dir);
    g_autoptr(GString) failures = g_string_new(NULL);
    for (guint i = 0; i < names->len; i++)
        run_case(dir, g_ptr_array_index(names, i), failures);
    cr_assert_eq(failures->len, 0, "%s", failures->str);
}

Test(snapshot_golden, names)
{
    cr_expect(qv_snapshot_name_valid("s1"));
    cr_expect(qv_snapshot_name_valid("before upgrade"));
    cr_expect_not(qv_snapshot_name_valid(""));
    cr_expect_not(qv_snapshot_name_valid("."));
    cr_expect_not(qv_snapshot_name_valid(".."));
    cr_expect_not(qv_snapshot_name_valid("a/b"));
    cr_expect_not(qv_snapshot_name_valid("a\nb"));
}
