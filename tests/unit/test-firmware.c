/* lib/firmware.c's descriptor reader, on the host's own ovmf descriptors
 * and on a temp folder that overrides them by file name. */
#include <string.h>
#include <criterion/criterion.h>
#include <glib.h>
#include <glib/gstdio.h>

#include "domdef.h"
#include "firmware.h"

#define SHARE "/usr/share/qemu/firmware"

static void need_ovmf(void)
{
    if (!g_file_test(SHARE "/60-edk2-x86_64.json", G_FILE_TEST_EXISTS))
        cr_skip_test("the ovmf package is not installed (no " SHARE "/60-edk2-x86_64.json)");
}

static int pick(const qv_firmware_list *l, const char *xml, qv_domdef **out, qv_error **err)
{
    qv_domdef *def = NULL;
    cr_assert_eq(qv_domxml_parse(xml, 0, &def, NULL), 0);
    unsigned int n = 0;
    const qv_firmware_desc *d = qv_firmware_get(l, &n);
    int r = qv_domdef_fill_firmware(def, d, n, "/nv", err);
    *out = def;
    return r;
}

#define DOM(machine, extra) \
    "<domain type='qemu'><name>d</name><memory>131072</memory><os firmware='efi'>" \
    "<type arch='x86_64' machine='" machine "'>hvm</type>" extra "</os><devices/></domain>"

Test(firmware, host_descriptors_in_priority_order)
{
    need_ovmf();
    const char *const dirs[] = { SHARE };
    g_autoptr(qv_firmware_list) l = NULL;
    cr_assert_eq(qv_firmware_load(dirs, 1, &l, NULL), 0);
    unsigned int n = 0;
    const qv_firmware_desc *d = qv_firmware_get(l, &n);
    cr_assert_geq(n, 3);
    for (unsigned int i = 1; i < n; i++)
        cr_assert_lt(strcmp(d[i - 1].name, d[i].name), 0, "not in file name order");
    cr_assert_str_eq(d[0].name, "40-edk2-x86_64-secure-enrolled.json");
    cr_assert_str_eq(d[0].executable, "/usr/share/OVMF/OVMF_CODE_4M.ms.fd");
    cr_assert_str_eq(d[0].nvram_template, "/usr/share/OVMF/OVMF_VARS_4M.ms.fd");
    cr_assert_eq(d[0].features & (QV_FW_FEATURE_SECURE_BOOT | QV_FW_FEATURE_ENROLLED_KEYS | QV_FW_FEATURE_REQUIRES_SMM),
                 QV_FW_FEATURE_SECURE_BOOT | QV_FW_FEATURE_ENROLLED_KEYS | QV_FW_FEATURE_REQUIRES_SMM);
    cr_assert_str_eq(d[0].machines[0], "pc-q35-*");
    for (unsigned int i = 0; i < n; i++)
        cr_assert(g_file_test(d[i].executable, G_FILE_TEST_EXISTS), "%s: %s missing", d[i].name, d[i].executable);
}

Test(firmware, selection_on_host_descriptors)
{
    need_ovmf();
    const char *const dirs[] = { SHARE };
    g_autoptr(qv_firmware_list) l = NULL;
    cr_assert_eq(qv_firmware_load(dirs, 1, &l, NULL), 0);
    g_autoptr(qv_domdef) q35 = NULL, pc = NULL, plain = NULL, nosmm = NULL;
    cr_assert_eq(pick(l, DOM("q35", ""), &q35, NULL), 0);
    cr_assert_str_eq(q35->os.loader, "/usr/share/OVMF/OVMF_CODE_4M.ms.fd");
    cr_assert_str_eq(q35->os.loader_secure, "yes");
    cr_assert_str_eq(q35->os.nvram, "/nv/d_VARS.fd");
    cr_assert(q35->features.smm_set && q35->features.smm == QV_TRI_ON);
    cr_assert_eq(pick(l, DOM("pc", ""), &pc, NULL), 0);
    cr_assert_str_eq(pc->os.loader, "/usr/share/OVMF/OVMF_CODE_4M.fd");
    cr_assert_str_eq(pc->os.nvram_template, "/usr/share/OVMF/OVMF_VARS_4M.fd");
    cr_assert_null(pc->os.loader_secure);
    cr_assert_eq(pick(l, DOM("q35", "<firmware><feature enabled='yes' name='secure-boot'/>"
                                    "<feature enabled='no' name='enrolled-keys'/></firmware>"), &plain, NULL), 0);
    cr_assert_str_eq(plain->os.loader, "/usr/share/OVMF/OVMF_CODE_4M.secboot.fd");
    g_autoptr(qv_error) err = NULL;
    const char *smm_off =
        "<domain type='qemu'><name>d</name><memory>131072</memory><os firmware='efi'>"
        "<type arch='x86_64' machine='q35'>hvm</type><firmware><feature enabled='yes' name='secure-boot'/>"
        "</firmware></os><features><smm state='off'/></features><devices/></domain>";
    cr_assert_lt(pick(l, smm_off, &nosmm, &err), 0, "secure boot without SMM was accepted");
}

Test(firmware, override_by_file_name_and_empty_file_hides)
{
    need_ovmf();
    g_autofree char *etc = g_dir_make_tmp("qvirt-fw-XXXXXX", NULL);
    g_autofree char *hide = g_build_filename(etc, "40-edk2-x86_64-secure-enrolled.json", NULL);
    cr_assert(g_file_set_contents(hide, "", 0, NULL));
    g_autofree char *mine = g_build_filename(etc, "10-mine.json", NULL);
    cr_assert(g_file_set_contents(mine,
        "{\"interface-types\":[\"uefi\"],\"mapping\":{\"device\":\"flash\","
        "\"executable\":{\"filename\":\"/opt/CODE.fd\",\"format\":\"raw\"},"
        "\"nvram-template\":{\"filename\":\"/opt/VARS.fd\",\"format\":\"raw\"}},"
        "\"targets\":[{\"architecture\":\"x86_64\",\"machines\":[\"pc-i440fx-*\"]}],\"features\":[]}", -1, NULL));
    g_autofree char *bios = g_build_filename(etc, "20-bios.json", NULL);
    cr_assert(g_file_set_contents(bios, "{\"interface-types\":[\"bios\"],\"mapping\":{\"device\":\"memory\"}}", -1, NULL));
    const char *const dirs[] = { etc, SHARE };
    g_autoptr(qv_firmware_list) l = NULL;
    cr_assert_eq(qv_firmware_load(dirs, 2, &l, NULL), 0);
    unsigned int n = 0;
    const qv_firmware_desc *d = qv_firmware_get(l, &n);
    cr_assert_str_eq(d[0].name, "10-mine.json");
    for (unsigned int i = 0; i < n; i++) {
        cr_assert_str_neq(d[i].name, "40-edk2-x86_64-secure-enrolled.json", "the empty file did not hide it");
        cr_assert_str_neq(d[i].name, "20-bios.json");
    }
    g_autoptr(qv_domdef) pc = NULL;
    cr_assert_eq(pick(l, DOM("pc", ""), &pc, NULL), 0);
    cr_assert_str_eq(pc->os.loader, "/opt/CODE.fd");
    g_unlink(hide); g_unlink(mine); g_unlink(bios); g_rmdir(etc);
}

Test(firmware, no_descriptors_names_the_package)
{
    g_autoptr(qv_domdef) def = NULL;
    g_autoptr(qv_error) err = NULL;
    cr_assert_eq(qv_domxml_parse(DOM("q35", ""), 0, &def, NULL), 0);
    cr_assert_lt(qv_domdef_fill_firmware(def, NULL, 0, "/nv", &err), 0);
    cr_assert(strstr(qv_error_message(err), "<os firmware='efi'>") && strstr(qv_error_message(err), "ovmf"),
              "%s", qv_error_message(err));
}
