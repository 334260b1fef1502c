/* Issue #13's guest-visible check: a q35 guest defined from virt-install-
 * style XML (no controller indexes, no addresses, USB2 with its UHCI
 * companions, firmware='efi' autoselect, an emulated TPM 2.0 on CRB with
 * the SHA-256 and SHA-384 PCR banks) boots
 * under TCG through OVMF and, from inside, sees UEFI, its TPM and the
 * companion controllers. The test guest's kernel (Debian's) has tpm_crb,
 * tpm_tis and EFI built in; OVMF boots it directly from <kernel>/<initrd>.
 * Also: a TPM whose state is encrypted with a vtpm secret's value. */
#include <string.h>

#include "itest.h"

static itest T;
static void setup(void) { itest_setup(&T); }
static void teardown(void) { itest_teardown(&T); }

/* OVMF under TCG takes tens of seconds to reach the kernel on a busy host. */
#define UEFI_BOOT_TIMEOUT_MS 240000

TestSuite(uefi_tpm, .init = setup, .fini = teardown, .timeout = 400);

static char *guest_sh(const char *name, const char *script, int *code)
{
    qv_qmp *ga = itest_agent_open(&T, name);
    char *out = itest_guest_run(ga, script, code);
    qv_qmp_free(ga);
    return g_strstrip(out);
}

Test(uefi_tpm, virtinst_style_q35_boots_uefi_and_sees_tpm)
{
    g_autofree char *swtpm = g_find_program_in_path("swtpm");
    if (!swtpm || !g_file_test("/usr/share/qemu/firmware/60-edk2-x86_64.json", G_FILE_TEST_EXISTS))
        cr_skip_test("needs swtpm and the ovmf package (scripts/deps.sh)");
    /* What virt-install --boot uefi --tpm ... --controller usb2 writes, with
     * the test guest's direct kernel boot: nothing numbered, nothing
     * addressed; qvirt fills in what libvirt would. Secure boot is off so
     * OVMF starts the Debian kernel without shim. */
    g_autofree char *xml = g_strdup_printf(
        "<domain type='qemu'>\n"
        "  <name>uefi-tpm</name>\n"
        "  <memory unit='MiB'>512</memory>\n"
        "  <vcpu>1</vcpu>\n"
        "  <os firmware='efi'>\n"
        "    <type arch='x86_64' machine='q35'>hvm</type>\n"
        "    <firmware><feature enabled='no' name='secure-boot'/></firmware>\n"
        "    <kernel>%s</kernel><initrd>%s</initrd>\n"
        "    <cmdline>console=ttyS0 panic=-1 quiet</cmdline>\n"
        "  </os>\n"
        "  <features><acpi/><apic/></features>\n"
        "  <devices>\n"
        "    <serial type='file'><source path='%s'/></serial>\n"
        "    <channel type='unix'><target type='virtio' name='org.qemu.guest_agent.0'/></channel>\n"
        "    <controller type='usb' model='ich9-ehci1'/>\n"
        "    <controller type='usb' model='ich9-uhci1'><master startport='0'/></controller>\n"
        "    <controller type='usb' model='ich9-uhci2'><master startport='2'/></controller>\n"
        "    <controller type='usb' model='ich9-uhci3'><master startport='4'/></controller>\n"
        "    <input type='tablet' bus='usb'/>\n"
        "    <tpm model='tpm-crb'><backend type='emulator' version='2.0'>\n"
        "      <active_pcr_banks><sha256/><sha384/></active_pcr_banks>\n"
        "    </backend></tpm>\n"
        "    <rng model='virtio'><backend model='random'>/dev/urandom</backend></rng>\n"
        "    <memballoon model='virtio'/>\n"
        "  </devices>\n"
        "</domain>\n",
        T.kernel, T.initrd, T.console);
    qv_conn *conn = itest_open(&T);
    qv_domain *dom = NULL;
    qv_error *err = NULL;
    itest_ok(qv_conn_define_domain(conn, xml, 0, &dom, &err), err);
    gint64 t0 = g_get_monotonic_time();
    itest_ok(qv_domain_create(dom, 0, &err), err);
    cr_assert(itest_wait_console(&T, "QVIRT-GUEST-READY", UEFI_BOOT_TIMEOUT_MS),
              "the guest did not boot through OVMF within %d s", UEFI_BOOT_TIMEOUT_MS / 1000);
    cr_log_info("OVMF + kernel reached the ready line in %.1f s",
                (double)(g_get_monotonic_time() - t0) / G_USEC_PER_SEC);

    int code;
    /* Booted through UEFI: the kernel found EFI system tables. */
    g_autofree char *efi = guest_sh("uefi-tpm", "test -d /sys/firmware/efi && echo uefi", &code);
    cr_assert_str_eq(efi, "uefi", "no /sys/firmware/efi: not a UEFI boot (%d)", code);

    /* The TPM: a TPM 2.0 the kernel bound to tpm_crb, with its device nodes. */
    g_autofree char *major = guest_sh("uefi-tpm", "cat /sys/class/tpm/tpm0/tpm_version_major", &code);
    cr_assert_str_eq(major, "2", "no TPM 2.0 in the guest (%d): %s", code, major);
    g_autofree char *drv = guest_sh("uefi-tpm", "basename $(readlink /sys/class/tpm/tpm0/device/driver)", &code);
    cr_assert_str_eq(drv, "tpm_crb", "the TPM is not on CRB: %s", drv);
    g_autofree char *nodes = guest_sh("uefi-tpm", "test -c /dev/tpm0 && test -c /dev/tpmrm0 && echo ok", &code);
    cr_assert_str_eq(nodes, "ok", "no /dev/tpm0 or /dev/tpmrm0");
    /* swtpm answers: TPM2_GetRandom(8) on /dev/tpm0 returns TPM_RC_SUCCESS
     * (header 80 01, size 0x14, rc 0) with 8 bytes. */
    g_autofree char *rnd = guest_sh("uefi-tpm",
        "exec 3<>/dev/tpm0; printf '\\200\\001\\000\\000\\000\\014\\000\\000\\001\\173\\000\\010' >&3; "
        "dd bs=64 count=1 <&3 2>/dev/null | od -An -tx1 | tr -d ' \\n'", &code);
    cr_assert(g_str_has_prefix(rnd, "80010000001400000000"), "TPM2_GetRandom failed: %s", rnd);
    /* OVMF measured the boot into the TPM: PCR 0 is no longer all zeros. */
    g_autofree char *pcr0 = guest_sh("uefi-tpm", "cat /sys/class/tpm/tpm0/pcr-sha256/0", &code);
    cr_assert_eq(code, 0, "no PCR bank: %s", pcr0);
    cr_assert(strspn(pcr0, "0") != strlen(pcr0), "PCR 0 is all zeros: the firmware measured nothing");
    /* <active_pcr_banks> reached swtpm_setup: SHA-384 is active, SHA-1 not. */
    g_autofree char *banks = guest_sh("uefi-tpm", "cd /sys/class/tpm/tpm0 && ls -d pcr-*", &code);
    cr_assert_str_eq(banks, "pcr-sha256\npcr-sha384", "active PCR banks: %s", banks);

    /* USB2: the EHCI controller (class 0c0320) and its three UHCI
     * companions (0c0300), as libvirt lays them out. */
    g_autofree char *usb = guest_sh("uefi-tpm",
        "cat /sys/bus/pci/devices/*/class | grep -c '^0x0c0320$'; "
        "cat /sys/bus/pci/devices/*/class | grep -c '^0x0c0300$'", &code);
    cr_assert_str_eq(usb, "1\n3", "EHCI and UHCI companions: %s", usb);

    itest_ok(qv_domain_destroy(dom, 0, &err), err);
    cr_log_info("whole test: %.1f s", (double)(g_get_monotonic_time() - t0) / G_USEC_PER_SEC);
    qv_domain_free(dom);
    qv_conn_close(conn);
}

/* The flags of a swtpm state blob's header (swtpm_nvstore.c: version,
 * min_version, hdrsize, then flags, big-endian): bit 0 says encrypted. */
static int state_flags(const char *root, const char *uuid)
{
    g_autofree char *path = g_build_filename(root, "config", "swtpm", uuid, "tpm2", "tpm2-00.permall", NULL);
    g_autofree char *blob = NULL;
    gsize len = 0;
    if (!g_file_get_contents(path, &blob, &len, NULL) || len < 6)
        return -1;
    return ((unsigned char)blob[4] << 8) | (unsigned char)blob[5];
}

/* <encryption secret> on an emulated TPM (libvirt's formatdomain example):
 * the vtpm secret's value, from libvirt's secret store ([libvirt]
 * secrets= here), is the passphrase swtpm_setup and swtpm get by fd. The
 * state is written encrypted, the guest's TPM answers, a second start
 * reads the state back, and one whose secret has another value fails. */
Test(uefi_tpm, encrypted_state)
{
    if (!g_find_program_in_path("swtpm") || !g_find_program_in_path("swtpm_setup"))
        cr_skip_test("needs swtpm and swtpm_setup (scripts/deps.sh)");
    static const char uuid[] = "6dd3e4a5-1d76-44ce-961f-f119f5aad935";
    static const char dom_uuid[] = "00000000-0000-4000-8000-0000000001b7";
    g_autofree char *secrets = g_build_filename(T.root, "secrets", NULL);
    g_autofree char *config = g_build_filename(T.root, "config", NULL);
    cr_assert_eq(g_mkdir_with_parents(secrets, 0700), 0);
    cr_assert_eq(g_mkdir_with_parents(config, 0700), 0);
    g_autofree char *conf = g_strdup_printf("[libvirt]\nsecrets=%s\n", secrets);
    g_autofree char *conf_path = g_build_filename(config, "qvirt.conf", NULL);
    g_autofree char *sxml = g_strdup_printf("<secret ephemeral='no' private='yes'><uuid>%s</uuid>"
                                            "<usage type='vtpm'><name>VTPM_example</name></usage></secret>\n", uuid);
    g_autofree char *sxml_path = g_strdup_printf("%s/%s.xml", secrets, uuid);
    g_autofree char *sval_path = g_strdup_printf("%s/%s.base64", secrets, uuid);
    g_autofree char *value = g_base64_encode((const guchar *)"qvirt-tpm-passphrase", 20);
    cr_assert(g_file_set_contents(conf_path, conf, -1, NULL));
    cr_assert(g_file_set_contents(sxml_path, sxml, -1, NULL));
    cr_assert(g_file_set_contents(sval_path, value, -1, NULL));

    g_autofree char *xml = itest_domain_xml(&T, "tpm-encrypted",
        "    <tpm model='tpm-tis'><backend type='emulator' version='2.0'>\n"
        "      <encryption secret='6dd3e4a5-1d76-44ce-961f-f119f5aad935'/>\n"
        "    </backend></tpm>\n");
    /* A fixed UUID, so the state's folder is known. */
    g_autoptr(GString) x = g_string_new(xml);
    g_string_replace(x, "<name>tpm-encrypted</name>", "<name>tpm-encrypted</name><uuid>00000000-0000-4000-8000-0000000001b7</uuid>", 1);
    qv_conn *conn = itest_open(&T);
    qv_domain *dom = NULL;
    qv_error *err = NULL;
    itest_ok(qv_conn_define_domain(conn, x->str, 0, &dom, &err), err);
    for (int run = 0; run < 2; run++) {
        itest_ok(qv_domain_create(dom, 0, &err), err);
        cr_assert(itest_wait_console(&T, "QVIRT-GUEST-READY", 120000), "the guest did not boot (run %d)", run);
        int code;
        g_autofree char *rnd = guest_sh("tpm-encrypted",
            "exec 3<>/dev/tpm0; printf '\\200\\001\\000\\000\\000\\014\\000\\000\\001\\173\\000\\010' >&3; "
            "dd bs=64 count=1 <&3 2>/dev/null | od -An -tx1 | tr -d ' \\n'", &code);
        cr_assert(g_str_has_prefix(rnd, "80010000001400000000"), "run %d: TPM2_GetRandom failed: %s", run, rnd);
        itest_ok(qv_domain_destroy(dom, 0, &err), err);
        int flags = state_flags(T.root, dom_uuid);
        cr_assert(flags >= 0 && (flags & 1), "run %d: the TPM state is not encrypted (header flags %#x)", run, flags);
    }
    /* Another passphrase: swtpm cannot decrypt the state (its HMAC
     * fails), QEMU's TPM init fails and so does the start, saying why. */
    g_autofree char *other = g_base64_encode((const guchar *)"not-the-passphrase", 18);
    cr_assert(g_file_set_contents(sval_path, other, -1, NULL));
    int r = qv_domain_create(dom, 0, &err);
    if (r >= 0)
        qv_domain_destroy(dom, 0, NULL);
    cr_assert_lt(r, 0, "a start with another passphrase for the TPM state worked");
    cr_log_info("with another passphrase: %s", qv_error_message(err));
    cr_expect(strstr(qv_error_message(err), "TPM"), "the error does not say the TPM failed: %s", qv_error_message(err));
    qv_error_free(err);
    qv_domain_free(dom);
    qv_conn_close(conn);
}
