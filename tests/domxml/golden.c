#include <errno.h>
#include <string.h>

#include "domdef.h"
#include "golden.h"

bool golden_spice_tls(const char *name)
{
    return g_str_has_prefix(name, "graphics-spice-tls");
}

char *golden_cases_dir(void)
{
    const char *root = g_getenv("QVIRT_SOURCE_ROOT");
    return g_build_filename(root ? root : ".", "tests", "domxml", "cases", NULL);
}

static gint cmp_str(gconstpointer a, gconstpointer b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

GPtrArray *golden_list_cases(const char *dir)
{
    GPtrArray *names = g_ptr_array_new_with_free_func(g_free);
    GDir *d = g_dir_open(dir, 0, NULL);
    if (!d)
        return names;
    const char *n;
    while ((n = g_dir_read_name(d))) {
        if (g_str_has_suffix(n, ".xml") && !g_str_has_suffix(n, ".out.xml"))
            g_ptr_array_add(names, g_strndup(n, strlen(n) - 4));
    }
    g_dir_close(d);
    g_ptr_array_sort(names, cmp_str);
    return names;
}

char *golden_argv_text(char **argv)
{
    GString *s = g_string_new(NULL);
    for (size_t i = 0; argv[i]; i++) {
        g_string_append(s, argv[i]);
        g_string_append_c(s, '\n');
    }
    return g_string_free(s, FALSE);
}

static gint str_ptr_cmp(gconstpointer a, gconstpointer b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

char *golden_sorted_argv(char **argv)
{
    g_autoptr(GPtrArray) pairs = g_ptr_array_new_with_free_func(g_free);
    for (char **a = argv + 1; *a; a++) {
        if (**a == '-' && a[1] && a[1][0] != '-') {
            g_ptr_array_add(pairs, g_strdup_printf("%s %s", a[0], a[1]));
            a++;
        } else {
            g_ptr_array_add(pairs, g_strdup(*a));
        }
    }
    g_ptr_array_sort(pairs, str_ptr_cmp);
    GString *s = g_string_new(NULL);
    for (guint i = 0; i < pairs->len; i++)
        g_string_append_printf(s, "%s\n", (char *)g_ptr_array_index(pairs, i));
    return g_string_free(s, FALSE);
}

const qv_network_resolution golden_networks[] = {
    { "default", QV_NETWORK_BRIDGE, "virbr0" },
    { "slirp", QV_NETWORK_USER, NULL },
};
const unsigned int golden_n_networks = G_N_ELEMENTS(golden_networks);

/* Debian 12's ovmf descriptors, in their file name order. */
static const char *const golden_fw_q35[] = { "pc-q35-*", NULL };
static const char *const golden_fw_any[] = { "pc-i440fx-*", "pc-q35-*", NULL };
const qv_firmware_desc golden_firmware[] = {
    { "40-edk2-x86_64-secure-enrolled.json", "/usr/share/OVMF/OVMF_CODE_4M.ms.fd",
      "/usr/share/OVMF/OVMF_VARS_4M.ms.fd", golden_fw_q35,
      QV_FW_FEATURE_ACPI_S3 | QV_FW_FEATURE_ENROLLED_KEYS | QV_FW_FEATURE_REQUIRES_SMM |
          QV_FW_FEATURE_SECURE_BOOT },
    { "50-edk2-x86_64-secure.json", "/usr/share/OVMF/OVMF_CODE_4M.secboot.fd",
      "/usr/share/OVMF/OVMF_VARS_4M.fd", golden_fw_q35,
      QV_FW_FEATURE_ACPI_S3 | QV_FW_FEATURE_REQUIRES_SMM | QV_FW_FEATURE_SECURE_BOOT },
    { "60-edk2-x86_64.json", "/usr/share/OVMF/OVMF_CODE_4M.fd", "/usr/share/OVMF/OVMF_VARS_4M.fd",
      golden_fw_any, QV_FW_FEATURE_ACPI_S3 },
};
const unsigned int golden_n_firmware = G_N_ELEMENTS(golden_firmware);

char *golden_scsi_generic(void *data, const struct qv_domdef_hostdev *hostdev, qv_error **err)
{
    (void)data;
    (void)err;
    return g_strdup_printf("/dev/sg%u", hostdev->scsi_unit);
}

char *golden_volume_path(void *data, const char *pool, const char *volume, bool *block,
                         qv_error **err)
{
    *block = false;
    if (strcmp(pool, "default")) {
        qv_error_set(err, -ENOENT, "Storage pool '%s' has no libvirt definition on the golden host.", pool);
        return NULL;
    }
    return g_build_filename(data ? (const char *)data : "/var/lib/libvirt/images", volume, NULL);
}

char *golden_secret_file(void *data, const char *usage_type, const char *usage, const char *uuid,
                         qv_error **err)
{
    static const char *const known[] = { "client.admin secret", "libvirtiscsi",
                                         "0a81f5b2-8403-7b23-c8d6-21ccc2f80d6f", NULL };
    const char *key = uuid ? uuid : usage;
    bool found = false;
    for (int i = 0; known[i]; i++)
        found |= !strcmp(known[i], key);
    if (!found) {
        qv_error_set(err, -ENOENT, "The golden host has no %s secret '%s'.", usage_type, key);
        return NULL;
    }
    int *next_fd = data;
    return g_strdup_printf("/proc/self/fd/%d", next_fd ? (*next_fd)++ : 100);
}
