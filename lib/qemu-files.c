/* The files QEMU uses, opened by qvirt (qemu-files.h). */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "qv-fd.h"

#include "qemu-files.h"
#include "qv-socket.h"

static int open_for_qemu(void *data, const char *path, int flags, qv_error **err)
{
    qv_qemu_files *f = data;
    int fd = open(path, flags | O_CLOEXEC | O_NOCTTY, 0600);
    if (fd < 0) {
        int acc = flags & O_ACCMODE;
        return qv_error_set_errno(err, -errno, "cannot open %s for %s", path,
                                  acc == O_RDONLY ? "reading" : acc == O_WRONLY ? "writing"
                                                                                : "reading and writing");
    }
    if (f->fds)
        g_array_append_val(f->fds, fd);
    return fd;
}

static int listen_for_qemu(void *data, const char *path, qv_error **err)
{
    qv_qemu_files *f = data;
    int fd = qv_unix_listen(path, err);
    if (fd >= 0 && f->fds)
        g_array_append_val(f->fds, fd);
    return fd;
}

static int connect_for_qemu(void *data, const char *path, qv_error **err)
{
    qv_qemu_files *f = data;
    int fd = qv_unix_connect(path, err);
    if (fd >= 0 && f->fds)
        g_array_append_val(f->fds, fd);
    return fd;
}

void qv_qemu_files_init(qv_qemu_files *f, unsigned int first_fdset, bool keep)
{
    memset(f, 0, sizeof *f);
    f->opener.open = open_for_qemu;
    f->opener.listen = listen_for_qemu;
    f->opener.connect = connect_for_qemu;
    f->opener.data = f;
    f->opener.first_fdset = first_fdset;
    f->fds = keep ? g_array_new(FALSE, FALSE, sizeof(int)) : NULL;
}

void qv_qemu_files_clear(qv_qemu_files *f)
{
    if (!f->fds)
        return;
    for (guint i = 0; i < f->fds->len; i++)
        close(g_array_index(f->fds, int, i));
    g_array_free(f->fds, TRUE);
    f->fds = NULL;
}

unsigned int qv_qmp_next_fdset(qv_qmp *qmp)
{
    g_autoptr(json_object) sets = NULL;
    long long max = 0;
    if (qv_qmp_call(qmp, "query-fdsets", NULL, 0, &sets, NULL) == 0)
        for (size_t i = 0; json_object_is_type(sets, json_type_array) &&
                           i < json_object_array_length(sets); i++) {
            json_object *id;
            if (json_object_object_get_ex(json_object_array_get_idx(sets, i), "fdset-id", &id))
                max = MAX(max, json_object_get_int64(id));
        }
    return (unsigned int)max + 1;
}

int qv_domain_qmp_write_file(qv_domain *dom, const char *cmd, json_object *args, const char *key,
                             int fd, bool via_proc, qv_error **err)
{
    g_autoptr(json_object) owned = args;
    qv_active act;
    int r = qv_domain_require_active(dom, &act, err);
    if (r < 0)
        return r;
    struct stat st;
    g_autofree char *proc = g_strdup_printf("/proc/%d", (int)act.status.qemu_pid);
    if (via_proc && (stat(proc, &st) < 0 || fchown(fd, st.st_uid, st.st_gid) < 0))
        return qv_error_set_errno(err, -errno, "domain '%s': cannot give QEMU (pid %d) the file "
                                  "for its %s", dom->name, (int)act.status.qemu_pid, cmd);
    qv_qmp *qmp = NULL;
    int lock = -1;
    if ((r = qv_domain_qmp_open(dom, &qmp, &lock, err)) < 0)
        return r;
    unsigned int set = qv_qmp_next_fdset(qmp);
    json_object *add = json_object_new_object();
    json_object_object_add(add, "fdset-id", json_object_new_int64(set));
    json_object_object_add(add, "opaque", json_object_new_string(cmd));
    g_autoptr(json_object) added = NULL;
    r = qv_qmp_call_with_fd(qmp, "add-fd", add, fd, 0, &added, err);
    if (r >= 0) {
        g_autofree char *name = via_proc
            ? g_strdup_printf("/proc/self/fd/%lld", (long long)qv_json_get_int(added, "fd", -1))
            : g_strdup_printf("/dev/fdset/%u", set);
        json_object_object_add(owned, key, json_object_new_string(name));
        r = qv_qmp_call(qmp, cmd, g_steal_pointer(&owned), 0, NULL, err);
        json_object *rm = json_object_new_object();
        json_object_object_add(rm, "fdset-id", json_object_new_int64(set));
        qv_qmp_call(qmp, "remove-fd", rm, 0, NULL, NULL);
    }
    qv_domain_qmp_close(qmp, lock);
    if (r < 0 && err && *err)
        qv_error_prefix(*err, "domain '%s'", dom->name);
    return r;
}

/* The qcow2 header fields the chain needs (big-endian on disk). */
#define QCOW2_MAGIC 0x514649fbU
#define QCOW2_EXT_BACKING_FORMAT 0xe2792acaU
#define QCOW2_MAX_CHAIN 16

static guint32 be32(const unsigned char *p)
{
    return (guint32)p[0] << 24 | (guint32)p[1] << 16 | (guint32)p[2] << 8 | p[3];
}

static guint64 be64(const unsigned char *p)
{
    return (guint64)be32(p) << 32 | be32(p + 4);
}

/* The backing file name and format in image path's qcow2 header; *name
 * NULL when it has none. */
static int qcow2_backing(const char *path, char **name, char **format, qv_error **err)
{
    *name = *format = NULL;
    qv_autoclose int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return qv_error_set_errno(err, -errno, "cannot read the disk image %s", path);
    unsigned char h[112];
    ssize_t n = pread(fd, h, sizeof h, 0);
    if (n < 72 || be32(h) != QCOW2_MAGIC)
        return qv_error_set(err, -EINVAL, "%s is not a qcow2 image, as its disk's format says",
                            path);
    guint32 version = be32(h + 4);
    guint64 off = be64(h + 8);
    guint32 len = be32(h + 16);
    if (!off)
        return 0;
    if (len == 0 || len > 1023)
        return qv_error_set(err, -EINVAL, "the qcow2 image %s names a backing file of %u bytes",
                            path, len);
    char buf[1024];
    if (pread(fd, buf, len, (off_t)off) != (ssize_t)len || memchr(buf, 0, len))
        return qv_error_set(err, -EINVAL, "cannot read the backing file name of qcow2 image %s",
                            path);
    *name = g_strndup(buf, len);
    /* The header extensions follow the header (72 bytes in version 2,
     * header_length in version 3) and end before the backing file name. */
    guint64 pos = version >= 3 && n >= 104 ? be32(h + 100) : 72;
    while (pos + 8 <= off) {
        unsigned char e[8];
        if (pread(fd, e, 8, (off_t)pos) != 8 || !be32(e))
            break;
        guint32 elen = be32(e + 4);
        if (be32(e) == QCOW2_EXT_BACKING_FORMAT && elen > 0 && elen < 32) {
            char f[32];
            if (pread(fd, f, elen, (off_t)pos + 8) == (ssize_t)elen)
                *format = g_strndup(f, elen);
            break;
        }
        pos += 8 + ((guint64)elen + 7) / 8 * 8;
    }
    return 0;
}

int qv_disk_fill_backing_chain(qv_domdef_disk *d, qv_error **err)
{
    qv_domdef_disk_src *cur = &d->src;
    for (int depth = 0;; depth++) {
        if ((cur->type != QV_DISK_TYPE_FILE && cur->type != QV_DISK_TYPE_BLOCK) || !cur->path ||
            cur->has_backing || g_strcmp0(cur->format, "qcow2"))
            return 0;
        if (depth >= QCOW2_MAX_CHAIN)
            return qv_error_set(err, -EINVAL, "the backing chain of disk %s is deeper than %d "
                                "images", d->target_dev, QCOW2_MAX_CHAIN);
        g_autofree char *name = NULL, *format = NULL;
        int r = qcow2_backing(cur->path, &name, &format, err);
        if (r < 0)
            return r;
        if (!name) {
            cur->has_backing = true; /* explicitly none */
            return 0;
        }
        if (strstr(name, "://") || g_str_has_prefix(name, "json:"))
            return 0; /* not a local file: QEMU opens it */
        if (!format)
            return qv_error_set(err, -EINVAL, "the format of backing image '%s' of image '%s' "
                                "is not in the image: recreate it with qemu-img -F, or list the "
                                "chain in <backingStore>", name, cur->path);
        g_autofree char *dir = g_path_get_dirname(cur->path);
        char *path = g_path_is_absolute(name) ? g_strdup(name) : g_build_filename(dir, name, NULL);
        struct stat st;
        qv_domdef_disk_src *b = g_new0(qv_domdef_disk_src, 1);
        b->type = stat(path, &st) == 0 && S_ISBLK(st.st_mode) ? QV_DISK_TYPE_BLOCK
                                                                : QV_DISK_TYPE_FILE;
        b->path = path;
        b->format = g_steal_pointer(&format);
        cur->backing = b;
        cur->has_backing = true;
        cur = b;
    }
}

int qv_domdef_fill_backing_chains(qv_domdef *def, qv_error **err)
{
    for (guint i = 0; i < def->disks->len; i++) {
        int r = qv_disk_fill_backing_chain(def->disks->pdata[i], err);
        if (r < 0)
            return r;
    }
    return 0;
}
