/* libvirt's secret store, read for QEMU (see secret.h). */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include <libxml/parser.h>
#include <libxml/tree.h>

#include "secret.h"
#include "qv-fd.h"

#define QV_LIBVIRT_SECRET_DIR "/etc/libvirt/secrets"

static xmlNode *child(xmlNode *node, const char *name)
{
    for (xmlNode *c = node ? node->children : NULL; c; c = c->next)
        if (c->type == XML_ELEMENT_NODE && !strcmp((const char *)c->name, name))
            return c;
    return NULL;
}

/* Whether the secret definition in file has usage type and name: the
 * element naming it is <name> (ceph, tls, vtpm), <target> (iscsi) or
 * <volume> (volume). */
static bool usage_matches(const char *file, const char *type, const char *name)
{
    xmlDoc *doc = xmlReadFile(file, NULL, XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
    if (!doc)
        return false;
    xmlNode *usage = child(xmlDocGetRootElement(doc), "usage");
    xmlChar *t = usage ? xmlGetProp(usage, (const xmlChar *)"type") : NULL;
    const char *key = !g_strcmp0((const char *)t, "iscsi") ? "target"
                    : !g_strcmp0((const char *)t, "volume") ? "volume" : "name";
    xmlNode *n = child(usage, key);
    xmlChar *v = n ? xmlNodeGetContent(n) : NULL;
    g_autofree char *value = v ? g_strstrip(g_strdup((const char *)v)) : NULL;
    bool match = t && !strcmp((const char *)t, type) && value && !strcmp(value, name);
    xmlFree(t);
    xmlFree(v);
    xmlFreeDoc(doc);
    return match;
}

char *qv_secret_lookup(const char *dir, const char *usage_type, const char *usage,
                       const char *uuid, qv_error **err)
{
    if (!dir)
        dir = QV_LIBVIRT_SECRET_DIR;
    g_autofree char *found = NULL;
    if (uuid) {
        found = g_strdup(uuid);
    } else {
        g_autoptr(GDir) d = g_dir_open(dir, 0, NULL);
        const char *n;
        while (d && !found && (n = g_dir_read_name(d))) {
            if (!g_str_has_suffix(n, ".xml"))
                continue;
            g_autofree char *file = g_build_filename(dir, n, NULL);
            if (usage_matches(file, usage_type, usage))
                found = g_strndup(n, strlen(n) - 4);
        }
        if (!found) {
            qv_error_set(err, -ENOENT, "No %s secret '%s' is in libvirt's secret store (%s); define it with virsh secret-define and secret-set-value.",
                         usage_type, usage, dir);
            return NULL;
        }
    }
    g_autofree char *name = g_strconcat(found, ".base64", NULL);
    g_autofree char *path = g_build_filename(dir, name, NULL);
    char *value = NULL;
    if (strchr(found, '/') || !g_file_get_contents(path, &value, NULL, NULL)) {
        qv_error_set(err, -ENOENT, "Secret %s has no value in libvirt's secret store (%s).", found, path);
        return NULL;
    }
    g_strstrip(value);
    if (!*value || strspn(value, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=") != strlen(value)) {
        g_free(value);
        qv_error_set(err, -EINVAL, "Secret %s's value in %s is not base64.", found, path);
        return NULL;
    }
    return value;
}

/* A memfd holding len bytes of data, sealed: the reader can change
 * nothing. -errno on failure. */
static int sealed_memfd(const void *data, size_t len, qv_error **err)
{
    int fd = memfd_create("qvirt-secret", MFD_CLOEXEC | MFD_ALLOW_SEALING);
    if (fd < 0)
        return qv_error_set_errno(err, -errno, "cannot make a memfd for a secret");
    errno = 0;
    if (write(fd, data, len) != (ssize_t)len ||
        fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE | F_SEAL_SEAL) < 0 ||
        lseek(fd, 0, SEEK_SET) != 0) {   /* a reader of the fd itself starts at the value */
        int e = errno ? errno : EIO;
        close(fd);
        return qv_error_set_errno(err, -e, "cannot write a secret into its memfd");
    }
    return fd;
}

char *qv_secret_file(void *data, const char *usage_type, const char *usage, const char *uuid,
                     qv_error **err)
{
    qv_secret_source *src = data;
    g_autofree char *value = qv_secret_lookup(src->dir, usage_type, usage, uuid, err);
    if (!value)
        return NULL;
    size_t len = strlen(value);
    int fd = sealed_memfd(value, len, err);
    memset(value, 0, len);
    if (fd < 0)
        return NULL;
    if (src->files && src->files->fds)
        g_array_append_val(src->files->fds, fd);
    return g_strdup_printf("/proc/self/fd/%d", fd);
}

int qv_secret_value_fd(const char *dir, const char *usage_type, const char *uuid, qv_error **err)
{
    g_autofree char *value = qv_secret_lookup(dir, usage_type, NULL, uuid, err);
    if (!value)
        return err && *err ? (*err)->code : -ENOENT;
    gsize len = 0;
    guchar *raw = g_base64_decode(value, &len);
    memset(value, 0, strlen(value));
    int fd = len ? sealed_memfd(raw, len, err)
                 : qv_error_set(err, -EINVAL, "Secret %s's value is empty.", uuid);
    memset(raw, 0, len);
    g_free(raw);
    return fd;
}

char *qv_secret_file_placeholder(void *data, const char *usage_type, const char *usage,
                                 const char *uuid, qv_error **err)
{
    (void)usage_type;
    (void)usage;
    (void)uuid;
    (void)err;
    int *next_fd = data;
    return g_strdup_printf("/proc/self/fd/%d", (*next_fd)++);
}
