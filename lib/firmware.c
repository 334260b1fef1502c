/* UEFI firmware, the way libvirt 9.0 finds it: QEMU's firmware descriptors
 * (docs/interop/firmware.json, shipped by Debian's ovmf package) in
 *   1. $XDG_CONFIG_HOME/qemu/firmware, 2. /etc/qemu/firmware,
 *   3. /usr/share/qemu/firmware,
 * a file name in an earlier folder hiding the same name in a later one, and
 * the priority given by file name order. domxml/firmware.c picks one; here
 * the files are read and the per-domain NVRAM is made from its template:
 * <config dir>/nvram/NAME_VARS.fd where libvirt has
 * /var/lib/libvirt/qemu/nvram/NAME_VARS.fd. */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <glib/gstdio.h>
#include <json-c/json.h>

#include "firmware.h"
#include "internal.h"
#include "qv-json.h"
#include "qv-log.h"

/* Descriptors are a few hundred bytes; anything much bigger is not one. */
#define QV_FIRMWARE_DESC_MAX_BYTES (64 * 1024)

struct qv_firmware_list {
    GArray *descs;          /* qv_firmware_desc */
    GPtrArray *strings;     /* what descs points into (g_free) */
    GPtrArray *strvs;       /* the machine lists (g_strfreev) */
};

void qv_firmware_list_free(qv_firmware_list *l)
{
    if (!l)
        return;
    g_array_unref(l->descs);
    g_ptr_array_unref(l->strings);
    g_ptr_array_unref(l->strvs);
    g_free(l);
}

const qv_firmware_desc *qv_firmware_get(const qv_firmware_list *l, unsigned int *count)
{
    *count = l ? l->descs->len : 0;
    return l ? (const qv_firmware_desc *)(void *)l->descs->data : NULL;
}

static const char *json_str(json_object *o, const char *key)
{
    json_object *v;
    return json_object_object_get_ex(o, key, &v) && json_object_is_type(v, json_type_string)
               ? json_object_get_string(v) : NULL;
}

static json_object *json_member(json_object *o, const char *key, json_type type)
{
    json_object *v;
    return json_object_object_get_ex(o, key, &v) && json_object_is_type(v, type) ? v : NULL;
}

static bool json_array_has(json_object *arr, const char *s)
{
    for (size_t i = 0; arr && i < json_object_array_length(arr); i++) {
        const char *v = json_object_get_string(json_object_array_get_idx(arr, i));
        if (v && !strcmp(v, s))
            return true;
    }
    return false;
}

static char *keep(qv_firmware_list *l, const char *s)
{
    char *c = g_strdup(s);
    if (c)
        g_ptr_array_add(l->strings, c);
    return c;
}

/* One descriptor; false when it is not a usable x86_64 UEFI flash image
 * (libvirt skips those for a UEFI domain too). */
static bool add_descriptor(qv_firmware_list *l, const char *name, json_object *o)
{
    json_object *mapping = json_member(o, "mapping", json_type_object);
    if (!json_array_has(json_member(o, "interface-types", json_type_array), "uefi") || !mapping)
        return false;
    const char *device = json_str(mapping, "device");
    const char *mode = json_str(mapping, "mode");
    if (!device || strcmp(device, "flash") || (mode && strcmp(mode, "split")))
        return false;
    json_object *exe = json_member(mapping, "executable", json_type_object);
    json_object *tpl = json_member(mapping, "nvram-template", json_type_object);
    const char *exe_fmt = exe ? json_str(exe, "format") : NULL;
    const char *tpl_fmt = tpl ? json_str(tpl, "format") : NULL;
    if (!exe || !json_str(exe, "filename") || (exe_fmt && strcmp(exe_fmt, "raw")) ||
        (tpl_fmt && strcmp(tpl_fmt, "raw")))
        return false;
    json_object *targets = json_member(o, "targets", json_type_array);
    GPtrArray *machines = g_ptr_array_new();
    for (size_t i = 0; targets && i < json_object_array_length(targets); i++) {
        json_object *t = json_object_array_get_idx(targets, i);
        const char *arch = json_str(t, "architecture");
        json_object *ms = json_member(t, "machines", json_type_array);
        if (!arch || strcmp(arch, "x86_64") || !ms)
            continue;
        for (size_t j = 0; j < json_object_array_length(ms); j++)
            g_ptr_array_add(machines, g_strdup(json_object_get_string(json_object_array_get_idx(ms, j))));
    }
    if (!machines->len) {
        g_ptr_array_free(machines, TRUE);
        return false;
    }
    g_ptr_array_add(machines, NULL);
    char **strv = (char **)g_ptr_array_free(machines, FALSE);
    g_ptr_array_add(l->strvs, strv);
    static const struct { const char *name; unsigned int flag; } feats[] = {
        { "secure-boot", QV_FW_FEATURE_SECURE_BOOT }, { "enrolled-keys", QV_FW_FEATURE_ENROLLED_KEYS },
        { "requires-smm", QV_FW_FEATURE_REQUIRES_SMM }, { "acpi-s3", QV_FW_FEATURE_ACPI_S3 },
        { "acpi-s4", QV_FW_FEATURE_ACPI_S4 },
    };
    json_object *fa = json_member(o, "features", json_type_array);
    qv_firmware_desc d = {
        .name = keep(l, name),
        .executable = keep(l, json_str(exe, "filename")),
        .nvram_template = tpl ? keep(l, json_str(tpl, "filename")) : NULL,
        .machines = (const char *const *)strv,
    };
    for (size_t i = 0; i < G_N_ELEMENTS(feats); i++)
        if (json_array_has(fa, feats[i].name))
            d.features |= feats[i].flag;
    g_array_append_val(l->descs, d);
    return true;
}

static int name_cmp(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

int qv_firmware_load(const char *const *dirs, size_t n_dirs, qv_firmware_list **ret,
                     qv_error **err)
{
    /* file name -> path of the folder that wins for it */
    g_autoptr(GHashTable) winner = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
    for (size_t i = n_dirs; i-- > 0;) {
        g_autoptr(GDir) d = g_dir_open(dirs[i], 0, NULL);
        const char *f;
        while (d && (f = g_dir_read_name(d)))
            if (g_str_has_suffix(f, ".json"))
                g_hash_table_replace(winner, g_strdup(f), g_build_filename(dirs[i], f, NULL));
    }
    g_autofree const char **names = (const char **)g_hash_table_get_keys_as_array(winner, NULL);
    qsort(names, g_hash_table_size(winner), sizeof *names, name_cmp);
    qv_firmware_list *l = g_new0(qv_firmware_list, 1);
    l->descs = g_array_new(FALSE, TRUE, sizeof(qv_firmware_desc));
    l->strings = g_ptr_array_new_with_free_func(g_free);
    l->strvs = g_ptr_array_new_with_free_func((GDestroyNotify)g_strfreev);
    for (const char **n = names; *n; n++) {
        const char *path = g_hash_table_lookup(winner, *n);
        g_autofree char *text = NULL;
        gsize len = 0;
        if (!g_file_get_contents(path, &text, &len, NULL) || len == 0 ||
            len > QV_FIRMWARE_DESC_MAX_BYTES)
            continue;   /* an empty file hides a descriptor, as in libvirt */
        g_autoptr(json_object) o = json_tokener_parse(text);
        if (!o || !json_object_is_type(o, json_type_object) || !add_descriptor(l, *n, o))
            qv_log(QV_LOG_DEBUG, "firmware: skipping %s", path);
    }
    (void)err;
    *ret = l;
    return 0;
}

int qv_firmware_load_host(qv_firmware_list **ret, qv_error **err)
{
    g_autofree char *user = g_build_filename(g_get_user_config_dir(), "qemu", "firmware", NULL);
    const char *const dirs[] = { user, "/etc/qemu/firmware", "/usr/share/qemu/firmware" };
    return qv_firmware_load(dirs, G_N_ELEMENTS(dirs), ret, err);
}

char *qv_conn_nvram_dir(qv_conn *conn)
{
    return g_build_filename(conn->paths.config_dir, "nvram", NULL);
}

/* The template copied to path through a temporary file, mode 0600. */
static int copy_template(const char *template, const char *path, qv_error **err)
{
    g_autofree char *data = NULL;
    gsize len = 0;
    g_autoptr(GError) gerr = NULL;
    if (!g_file_get_contents(template, &data, &len, &gerr))
        return qv_error_set(err, -ENOENT, "cannot read the NVRAM template %s: %s", template, gerr->message);
    g_autofree char *dir = g_path_get_dirname(path);
    if (g_mkdir_with_parents(dir, 0700) < 0)
        return qv_error_set_errno(err, -errno, "cannot create %s", dir);
    g_autofree char *tmp = g_strconcat(path, ".new", NULL);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0)
        return qv_error_set_errno(err, -errno, "cannot create %s", tmp);
    ssize_t w = 0;
    for (gsize off = 0; off < len && w >= 0; off += (gsize)w)
        w = write(fd, data + off, len - off);
    int r = (w < 0 || fsync(fd) < 0) ? -errno : 0;
    close(fd);
    if (r == 0 && rename(tmp, path) < 0)
        r = -errno;
    if (r < 0) {
        unlink(tmp);
        return qv_error_set_errno(err, r, "cannot write the NVRAM file %s", path);
    }
    return 0;
}

int qv_conn_prepare_firmware(qv_conn *conn, qv_domdef *def, bool reset, qv_error **err)
{
    g_autofree char *nvram_dir = qv_conn_nvram_dir(conn);
    if (qv_domdef_firmware_autoselect(def)) {
        g_autoptr(qv_firmware_list) fw = NULL;
        int r = qv_firmware_load_host(&fw, err);
        if (r < 0)
            return r;
        unsigned int n = 0;
        const qv_firmware_desc *d = qv_firmware_get(fw, &n);
        if ((r = qv_domdef_fill_firmware(def, d, n, nvram_dir, err)) < 0)
            return r;
        qv_log(QV_LOG_DEBUG, "firmware: %s, NVRAM %s", def->os.loader, def->os.nvram);
    }
    const qv_domdef_os *os = &def->os;
    if (!os->nvram || !os->nvram_template)
        return 0;
    if (!reset && g_file_test(os->nvram, G_FILE_TEST_EXISTS))
        return 0;
    return copy_template(os->nvram_template, os->nvram, err);
}

int qv_conn_undefine_nvram_check(qv_conn *conn, const char *name, bool remove, bool keep,
                                 char **remove_path, qv_error **err)
{
    *remove_path = NULL;
    g_autoptr(qv_domdef) def = NULL;
    if (qv_domain_load_config(conn, name, &def, NULL) < 0)
        return 0;   /* no config: the caller says so */
    g_autofree char *nvram_dir = qv_conn_nvram_dir(conn);
    g_autofree char *path = qv_domdef_nvram_path(def, nvram_dir);
    if (!path || !g_file_test(path, G_FILE_TEST_EXISTS))
        return 0;
    if (remove)
        *remove_path = g_steal_pointer(&path);
    else if (!keep)
        return qv_error_set(err, -EPERM, "cannot undefine domain with nvram (%s): pass UNDEFINE_NVRAM to remove it or UNDEFINE_KEEP_NVRAM to keep it", path);
    return 0;
}
