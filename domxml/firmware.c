/* Firmware autoselection, as libvirt 9.0's qemu_firmware.c does it: the
 * caller reads QEMU's firmware descriptors (this layer reads no files) and
 * hands them over in priority order; the first one that fits the domain
 * becomes its <loader> and <nvram template>. */
#include <errno.h>
#include <string.h>

#include "domdef.h"
#include "domxml-priv.h"

bool qv_domdef_firmware_autoselect(const qv_domdef *def)
{
    const qv_domdef_os *os = &def->os;
    if (os->loader)
        return false;
    if (os->firmware && !strcmp(os->firmware, "efi"))
        return true;
    return os->loader_type && !strcmp(os->loader_type, "pflash");
}

static bool machine_matches(const qv_firmware_desc *fw, const char *machine)
{
    for (const char *const *m = fw->machines; m && *m; m++)
        if (g_pattern_match_simple(*m, machine))
            return true;
    return false;
}

/* A wanted (QV_TRI_ON) or refused (QV_TRI_OFF) feature against the image. */
static bool feature_fits(int want, unsigned int features, unsigned int flag)
{
    return !want || (want == QV_TRI_ON) == !!(features & flag);
}

/* libvirt's qemuFirmwareMatchDomain, for the "uefi"/"flash" images the
 * caller kept. */
static bool firmware_fits(const qv_domdef *def, const qv_firmware_desc *fw)
{
    const qv_domdef_os *os = &def->os;
    const unsigned int f = fw->features;
    if (os->arch && strcmp(os->arch, "x86_64"))
        return false;
    if (!os->machine || !machine_matches(fw, os->machine))
        return false;
    if (os->loader_type && strcmp(os->loader_type, "pflash"))
        return false;   /* a ROM image: no descriptor of the x86 ones maps as memory */
    if (!feature_fits(os->fw_secure_boot, f, QV_FW_FEATURE_SECURE_BOOT) ||
        !feature_fits(os->fw_enrolled_keys, f, QV_FW_FEATURE_ENROLLED_KEYS))
        return false;
    if (def->pm_suspend_to_mem == QV_TRI_ON && !(f & QV_FW_FEATURE_ACPI_S3))
        return false;
    if (def->pm_suspend_to_disk == QV_TRI_ON && !(f & QV_FW_FEATURE_ACPI_S4))
        return false;
    /* <loader secure> is SMM-protected flash: the image must want it, or not. */
    if (os->loader_secure && !strcmp(os->loader_secure, "yes") &&
        !((f & QV_FW_FEATURE_REQUIRES_SMM) && (f & QV_FW_FEATURE_SECURE_BOOT)))
        return false;
    if (os->loader_secure && !strcmp(os->loader_secure, "no") && (f & QV_FW_FEATURE_REQUIRES_SMM))
        return false;
    if ((f & QV_FW_FEATURE_REQUIRES_SMM) && def->features.smm_set && def->features.smm == QV_TRI_OFF)
        return false;
    return true;
}

static void set_str(char **field, const char *value)
{
    g_free(*field);
    *field = g_strdup(value);
}

char *qv_domdef_nvram_path(const qv_domdef *def, const char *nvram_dir)
{
    const qv_domdef_os *os = &def->os;
    if (os->nvram)
        return g_strdup(os->nvram);
    if (!nvram_dir || !def->name || !qv_domdef_firmware_autoselect(def))
        return NULL;
    g_autofree char *file = g_strconcat(def->name, "_VARS.fd", NULL);
    return g_build_filename(nvram_dir, file, NULL);
}

int qv_domdef_fill_firmware(qv_domdef *def, const qv_firmware_desc *fw, unsigned int n_fw,
                            const char *nvram_dir, qv_error **err)
{
    if (!qv_domdef_firmware_autoselect(def))
        return 0;
    qv_domdef_os *os = &def->os;
    const char *what = os->firmware ? "<os firmware='efi'>" : "<loader type='pflash'> without a path";
    if (!n_fw)
        return qv_error_set(err, -ENOENT, "%s needs QEMU's UEFI firmware descriptors (/usr/share/qemu/firmware); install the ovmf package.", what);
    const qv_firmware_desc *pick = NULL;
    for (unsigned int i = 0; i < n_fw && !pick; i++)
        if (firmware_fits(def, &fw[i]))
            pick = &fw[i];
    if (!pick)
        return qv_error_set(err, -ENOENT, "/domain/os: unable to find any firmware to satisfy %s on machine '%s' with the requested features.", what, os->machine ? os->machine : "?");
    const unsigned int f = pick->features;
    if (f & QV_FW_FEATURE_REQUIRES_SMM) {
        set_str(&os->loader_secure, "yes");
        def->features.smm_set = true;
        def->features.smm = QV_TRI_ON;
    }
    /* The live XML records what the image has, as libvirt's does. */
    if (os->firmware) {
        os->fw_secure_boot = (f & QV_FW_FEATURE_SECURE_BOOT) ? QV_TRI_ON : QV_TRI_OFF;
        os->fw_enrolled_keys = (f & QV_FW_FEATURE_ENROLLED_KEYS) ? QV_TRI_ON : QV_TRI_OFF;
    }
    if (!os->nvram_template && pick->nvram_template)
        set_str(&os->nvram_template, pick->nvram_template);
    if (!os->nvram)
        os->nvram = qv_domdef_nvram_path(def, nvram_dir);
    set_str(&os->loader, pick->executable);
    set_str(&os->loader_type, "pflash");
    set_str(&os->loader_readonly, "yes");
    return 0;
}
