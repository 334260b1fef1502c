/* The formatted XML of every accepted golden case validates against
 * libvirt's domain schema (virt-xml-validate from libvirt-clients). */
#include <criterion/criterion.h>
#include <fcntl.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "golden.h"
#include "qv-process.h"

/* Accepted by newer libvirt than the schema Debian 12 ships (9.0). */
static const struct { const char *name, *reason; } skip_list[] = {
    { "watchdog-itco", "the itco watchdog is in libvirt >= 9.1 schemas" },
    { "panic-pvpanic", "the pvpanic panic model is in libvirt >= 9.1 schemas" },
    { "features-hyperv-9.1", "tlbflush direct/extended, emsr_bitmap and xmm_input are in libvirt >= 9.1 schemas" },
    { "disk-network-ssh", "9.0's schema has no ssh network disks (its parser takes them)" },
    { "disk-blockio-discard-granularity", "blockio discard_granularity is in schemas newer than 9.0's" },
};

static const char *skip_reason(const char *name)
{
    for (size_t i = 0; i < G_N_ELEMENTS(skip_list); i++)
        if (!strcmp(skip_list[i].name, name))
            return skip_list[i].reason;
    return NULL;
}

Test(domxml_validate, formatted_xml_matches_libvirt_schema, .timeout = 300)
{
    g_autofree char *tool = g_find_program_in_path("virt-xml-validate");
    if (!tool || !g_file_test("/usr/share/libvirt/schemas/domain.rng", G_FILE_TEST_EXISTS))
        cr_skip_test("virt-xml-validate or libvirt's schemas are missing (apt-get install libvirt-clients)");
    g_autofree char *dir = golden_cases_dir();
    g_autoptr(GPtrArray) cases = golden_list_cases(dir);
    g_autofree char *tmp = g_dir_make_tmp("qvirt-validate-XXXXXX", NULL);
    g_autofree char *log_path = g_build_filename(tmp, "out.log", NULL);
    GString *failures = g_string_new(NULL);
    int checked = 0;
    for (guint i = 0; i < cases->len; i++) {
        const char *name = g_ptr_array_index(cases, i);
        g_autofree char *out = g_strdup_printf("%s/%s.out.xml", dir, name);
        if (!g_file_test(out, G_FILE_TEST_EXISTS))
            continue;
        if (skip_reason(name)) {
            cr_log_info("not validating %s: %s", name, skip_reason(name));
            continue;
        }
        int logfd = open(log_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        qv_spawn_opts o;
        qv_spawn_opts_init(&o);
        const char *argv[] = { tool, out, "domain", NULL };
        o.argv = argv;
        o.stdout_fd = logfd;
        o.stderr_fd = logfd;
        g_autoptr(qv_process) p = NULL;
        int status = -1;
        cr_assert(qv_process_spawn(&o, &p, NULL) == 0);
        close(logfd);
        cr_assert(qv_process_wait(p, 60000, &status, NULL) == 0);
        if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
            g_autofree char *log = NULL;
            g_file_get_contents(log_path, &log, NULL, NULL);
            g_string_append_printf(failures, "%s: %s\n", name, log ? log : "");
        }
        checked++;
    }
    unlink(log_path);
    rmdir(tmp);
    cr_assert(checked > 0, "no formatted golden output found");
    cr_assert(failures->len == 0, "%s", failures->str);
    g_string_free(failures, TRUE);
}
