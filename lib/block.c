/* Disks and network interfaces of domains (qvirt-block.h): statistics,
 * sizes, raw reads of disks and guest memory, resizing, I/O limits and I/O
 * errors; interface counters and bandwidth (see "network interfaces" below).
 *
 * The domxml builder names each disk's nodes after its alias (virtio-disk1):
 * "<alias>-storage" (file), "<alias>-format" (raw/qcow2), and, for a disk
 * started with <iotune>, a "<alias>-throttle" filter in the throttle-group
 * object "throttle-<group_name or alias>". The guest device's qdev id is the
 * alias, which is how QEMU's block queries name the disk's BlockBackend. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "internal.h"
#include "remote.h"
#include "blockjob.h"
#include "qemu-files.h"
#include "qv-process.h"

/* ---- shared helpers --------------------------------------------------------- */

/* Checks a call's AFFECT flags, then loads what it works from: begin for a
 * change (change true), look for a query. */
static int blk_call(qv_domain *dom, unsigned int flags, bool change, const char *what, qv_call *c,
                    qv_error **err)
{
    const unsigned int affect = QV_DOMAIN_AFFECT_LIVE | QV_DOMAIN_AFFECT_CONFIG;
    if (flags & ~affect)
        return qv_error_set(err, -EINVAL, "%s: unsupported flags 0x%x", what, flags & ~affect);
    if (!change && (flags & affect) == affect)
        return qv_error_set(err, -EINVAL, "%s: choose either the live or the config "
                            "definition, not both", what);
    return change ? qv_domain_begin(dom, flags, c, err) : qv_domain_look(dom, flags, c, err);
}

static bool qv_blk_entry_is(json_object *entry, const char *alias)
{
    const char *qdev = qv_json_get_str(entry, "qdev");
    if (!qdev || !alias)
        return false;
    if (!strcmp(qdev, alias))
        return true;
    /* -device ... id=alias: QEMU reports the device's QOM path. */
    g_autofree char *prefix = g_strdup_printf("/machine/peripheral/%s", alias);
    size_t n = strlen(prefix);
    return !strncmp(qdev, prefix, n) && (qdev[n] == '\0' || qdev[n] == '/');
}

/* libvirt's virDomainDiskByName: the target (vda) or the source path. */
static const qv_domdef_disk *find_disk(qv_domain *dom, const qv_domdef *def, const char *name,
                                       qv_error **err)
{
    for (guint i = 0; i < def->disks->len; i++) {
        const qv_domdef_disk *d = g_ptr_array_index(def->disks, i);
        if (d->target_dev && !strcmp(d->target_dev, name))
            return d;
    }
    for (guint i = 0; i < def->disks->len; i++) {
        const qv_domdef_disk *d = g_ptr_array_index(def->disks, i);
        if (d->src.path && !strcmp(d->src.path, name))
            return d;
    }
    qv_error_set(err, -ENOENT, "domain '%s' has no disk '%s' (name a disk by its target, e.g. "
                 "vda, or its source path)", dom->name, name);
    return NULL;
}

static int check_disk_arg(const char *what, qv_domain *dom, const char *disk, qv_error **err)
{
    if (!dom || !disk || !*disk)
        return qv_error_set(err, -EINVAL, "%s: dom and a disk name are required", what);
    return 0;
}

/* The query-block (or query-blockstats) entry of a disk. Borrowed from list. */
static json_object *find_entry(json_object *list, const char *alias)
{
    size_t n = json_object_is_type(list, json_type_array) ? json_object_array_length(list) : 0;
    for (size_t i = 0; i < n; i++) {
        json_object *e = json_object_array_get_idx(list, i);
        if (qv_blk_entry_is(e, alias))
            return e;
    }
    return NULL;
}

static int no_entry(qv_domain *dom, const qv_domdef_disk *d, const char *query, qv_error **err)
{
    return qv_error_set(err, -EIO, "domain '%s': QEMU's %s has no entry for disk %s (device %s)",
                        dom->name, query, d->target_dev, d->alias ? d->alias : "?");
}

int qv_disk_root_node(qv_domain *dom, const qv_domdef_disk *d, char **node, qv_error **err)
{
    g_autoptr(json_object) list = NULL;
    int r = qv_domain_qmp_call(dom, "query-block", NULL, &list, err);
    if (r < 0)
        return r;
    json_object *e = find_entry(list, d->alias);
    if (!e)
        return no_entry(dom, d, "query-block", err);
    const char *name = qv_json_get_str(qv_json_get(e, "inserted"), "node-name");
    if (!name)
        return qv_error_set(err, -EINVAL, "disk %s of domain '%s' has no medium",
                            d->target_dev, dom->name);
    *node = g_strdup(name);
    return 0;
}

/* ---- block_stats ---------------------------------------------------------- */

static void add_stat(long long *sum, long long v)
{
    if (v < 0)
        return;
    *sum = *sum < 0 ? v : *sum + v;
}

static void stats_add(qv_block_stats *s, json_object *st)
{
    add_stat(&s->rd_req, qv_json_get_int(st, "rd_operations", -1));
    add_stat(&s->rd_bytes, qv_json_get_int(st, "rd_bytes", -1));
    add_stat(&s->wr_req, qv_json_get_int(st, "wr_operations", -1));
    add_stat(&s->wr_bytes, qv_json_get_int(st, "wr_bytes", -1));
    long long failed = -1;
    add_stat(&failed, qv_json_get_int(st, "failed_rd_operations", -1));
    add_stat(&failed, qv_json_get_int(st, "failed_wr_operations", -1));
    add_stat(&failed, qv_json_get_int(st, "failed_flush_operations", -1));
    add_stat(&s->errs, failed);
    add_stat(&s->flush_operations, qv_json_get_int(st, "flush_operations", -1));
    add_stat(&s->rd_total_times, qv_json_get_int(st, "rd_total_time_ns", -1));
    add_stat(&s->wr_total_times, qv_json_get_int(st, "wr_total_time_ns", -1));
    add_stat(&s->flush_total_times, qv_json_get_int(st, "flush_total_time_ns", -1));
}

int qv_domain_block_stats(qv_domain *dom, const char *disk, qv_block_stats *stats,
                          unsigned int flags, qv_error **err)
{
    QV_REMOTE_DOMAIN(dom, qv_remote__qv_domain_block_stats(dom, disk, stats, flags, err));
    if (!dom || !stats)
        return qv_error_set(err, -EINVAL, "qv_domain_block_stats: dom and stats are required");
    if (flags & ~(unsigned)QV_TYPED_PARAM_STRING_OKAY)
        return qv_error_set(err, -EINVAL, "qv_domain_block_stats: unsupported flags 0x%x", flags);
    int r = qv_domain_require_active(dom, NULL, err);
    const qv_domdef *def;
    if (r < 0 || (r = qv_domain_get_def(dom, &def, err)) < 0)
        return r;
    const qv_domdef_disk *only = NULL;
    if (disk && *disk && !(only = find_disk(dom, def, disk, err)))
        return -ENOENT;
    g_autoptr(json_object) list = NULL;
    if ((r = qv_domain_qmp_call(dom, "query-blockstats", NULL, &list, err)) < 0)
        return r;
    qv_block_stats s = { -1, -1, -1, -1, -1, -1, -1, -1, -1 };
    for (guint i = 0; i < def->disks->len; i++) {
        const qv_domdef_disk *d = g_ptr_array_index(def->disks, i);
        if (only && d != only)
            continue;
        json_object *e = find_entry(list, d->alias);
        if (!e) {
            if (only)
                return no_entry(dom, d, "query-blockstats", err);
            continue;
        }
        stats_add(&s, qv_json_get(e, "stats"));
    }
    *stats = s;
    return 0;
}

/* ---- get_block_info ------------------------------------------------------- */

/* The virtual size in a qcow2 header (big-endian u64 at byte 24). */
static int qcow2_virtual_size(int fd, const char *path, unsigned long long *size, qv_error **err)
{
    unsigned char h[32];
    if (pread(fd, h, sizeof h, 0) != (ssize_t)sizeof h || memcmp(h, "QFI\xfb", 4))
        return qv_error_set(err, -EINVAL, "%s is not a qcow2 image", path);
    unsigned long long v = 0;
    for (int i = 24; i < 32; i++)
        v = (v << 8) | h[i];
    *size = v;
    return 0;
}

int qv_domain_get_block_info(qv_domain *dom, const char *disk, qv_block_info *info,
                             unsigned int flags, qv_error **err)
{
    QV_REMOTE_DOMAIN(dom, qv_remote__qv_domain_get_block_info(dom, disk, info, flags, err));
    int r = check_disk_arg("qv_domain_get_block_info", dom, disk, err);
    if (r < 0)
        return r;
    if (!info)
        return qv_error_set(err, -EINVAL, "qv_domain_get_block_info: info is required");
    if (flags)
        return qv_error_set(err, -EINVAL, "qv_domain_get_block_info: flags must be 0");
    const qv_domdef *def;
    if ((r = qv_domain_get_def(dom, &def, err)) < 0)
        return r;
    const qv_domdef_disk *d = find_disk(dom, def, disk, err);
    if (!d)
        return -ENOENT;
    if (!qv_domdef_disk_src_present(&d->src))
        return qv_error_set(err, -EINVAL, "disk %s of domain '%s' has no medium", d->target_dev,
                            dom->name);
    int active = qv_domain_is_active(dom, err);
    if (active < 0)
        return active;
    qv_block_info bi = { 0 };
    bool have_capacity = false;
    if (active) {
        /* QEMU knows the size the guest sees, including after a resize. */
        g_autoptr(json_object) list = NULL;
        if ((r = qv_domain_qmp_call(dom, "query-block", NULL, &list, err)) < 0)
            return r;
        json_object *e = find_entry(list, d->alias);
        if (!e)
            return no_entry(dom, d, "query-block", err);
        json_object *image = qv_json_get(qv_json_get(e, "inserted"), "image");
        long long vs = qv_json_get_int(image, "virtual-size", -1);
        if (vs >= 0) {
            bi.capacity = (unsigned long long)vs;
            have_capacity = true;
        }
    }
    if (d->src.type == QV_DISK_TYPE_NETWORK || !d->src.path || d->src.type == QV_DISK_TYPE_DIR) {
        if (!have_capacity)
            return qv_error_set(err, -EOPNOTSUPP, "disk %s of domain '%s' is not a local image "
                                "file: its size is known only while the domain runs", d->target_dev,
                                dom->name);
        *info = bi;
        return 0;
    }
    int fd = open(d->src.path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return qv_error_set_errno(err, -errno, "cannot open %s, the source of disk %s",
                                  d->src.path, d->target_dev);
    struct stat st;
    if (fstat(fd, &st) < 0) {
        r = qv_error_set_errno(err, -errno, "cannot stat %s", d->src.path);
    } else if (S_ISBLK(st.st_mode)) {
        off_t end = lseek(fd, 0, SEEK_END);
        if (end < 0)
            r = qv_error_set_errno(err, -errno, "cannot find the size of %s", d->src.path);
        else
            bi.physical = bi.allocation = (unsigned long long)end;
    } else {
        bi.physical = (unsigned long long)st.st_size;
        bi.allocation = (unsigned long long)st.st_blocks * 512;
    }
    if (r >= 0 && !have_capacity) {
        const char *fmt = d->src.format ? d->src.format : "raw";
        if (!strcmp(fmt, "raw"))
            bi.capacity = bi.physical;
        else if (!strcmp(fmt, "qcow2"))
            r = qcow2_virtual_size(fd, d->src.path, &bi.capacity, err);
        else
            r = qv_error_set(err, -EOPNOTSUPP, "cannot read the size of a %s image (disk %s) "
                             "while the domain is shut off", fmt, d->target_dev);
    }
    close(fd);
    if (r < 0)
        return r;
    *info = bi;
    return 0;
}

/* ---- block_peek ------------------------------------------------------------- */

int qv_domain_block_peek(qv_domain *dom, const char *disk, unsigned long long offset, size_t size,
                         void *buffer, unsigned int flags, qv_error **err)
{
    QV_REMOTE_DOMAIN(dom,
                     qv_remote__qv_domain_block_peek(dom, disk, offset, size, buffer, flags, err));
    int r = check_disk_arg("qv_domain_block_peek", dom, disk, err);
    if (r < 0)
        return r;
    if (!buffer && size)
        return qv_error_set(err, -EINVAL, "qv_domain_block_peek: buffer is required");
    if (flags)
        return qv_error_set(err, -EINVAL, "qv_domain_block_peek: flags must be 0");
    if (size > QV_DOMAIN_PEEK_MAX)
        return qv_error_set(err, -EINVAL, "block_peek reads at most %d bytes at once, not %zu",
                            QV_DOMAIN_PEEK_MAX, size);
    const qv_domdef *def;
    if ((r = qv_domain_get_def(dom, &def, err)) < 0)
        return r;
    const qv_domdef_disk *d = find_disk(dom, def, disk, err);
    if (!d)
        return -ENOENT;
    if (d->src.type == QV_DISK_TYPE_NETWORK || d->src.type == QV_DISK_TYPE_DIR || !d->src.path)
        return qv_error_set(err, -EOPNOTSUPP, "disk %s of domain '%s' has no local source "
                            "file to read", d->target_dev, dom->name);
    if (d->src.format && strcmp(d->src.format, "raw"))
        return qv_error_set(err, -EOPNOTSUPP, "peeking is only supported for raw disks; disk "
                            "%s of domain '%s' is %s", d->target_dev, dom->name, d->src.format);
    int fd = open(d->src.path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return qv_error_set_errno(err, -errno, "cannot open %s, the source of disk %s",
                                  d->src.path, d->target_dev);
    off_t end = lseek(fd, 0, SEEK_END);
    if (end < 0) {
        r = qv_error_set_errno(err, -errno, "cannot find the size of %s", d->src.path);
    } else if (offset > (unsigned long long)end || size > (unsigned long long)end - offset) {
        r = qv_error_set(err, -EINVAL, "block_peek: %zu bytes at offset %llu are beyond the "
                         "end of disk %s (%lld bytes)", size, offset, d->target_dev,
                         (long long)end);
    }
    for (size_t done = 0; r >= 0 && done < size;) {
        ssize_t n = pread(fd, (char *)buffer + done, size - done, (off_t)(offset + done));
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            r = qv_error_set_errno(err, -errno, "cannot read %s", d->src.path);
        else if (n == 0)
            r = qv_error_set(err, -EIO, "%s ended while reading it", d->src.path);
        else
            done += (size_t)n;
    }
    close(fd);
    return r < 0 ? r : 0;
}

/* ---- memory_peek ------------------------------------------------------------ */

int qv_domain_memory_peek(qv_domain *dom, unsigned long long start, size_t size, void *buffer,
                          unsigned int flags, qv_error **err)
{
    QV_REMOTE_DOMAIN(dom, qv_remote__qv_domain_memory_peek(dom, start, size, buffer, flags, err));
    if (!dom || (!buffer && size))
        return qv_error_set(err, -EINVAL, "qv_domain_memory_peek: dom and buffer are required");
    if (flags != QV_MEMORY_VIRTUAL && flags != QV_MEMORY_PHYSICAL)
        return qv_error_set(err, -EINVAL, "memory_peek: flags must be exactly one of "
                            "MEMORY_VIRTUAL and MEMORY_PHYSICAL");
    if (size > QV_DOMAIN_PEEK_MAX)
        return qv_error_set(err, -EINVAL, "memory_peek reads at most %d bytes at once, not %zu",
                            QV_DOMAIN_PEEK_MAX, size);
    if (size && start > ULLONG_MAX - (size - 1))
        return qv_error_set(err, -EINVAL, "memory_peek: %zu bytes at 0x%llx wrap around the "
                            "address space", size, start);
    int r = qv_domain_require_active(dom, NULL, err);
    if (r < 0 || size == 0)
        return r;
    /* QEMU writes the bytes to a file it names by path: a private file
     * of the domain's runtime folder, unlinked at once, handed to QEMU as
     * an fd, and read back here. */
    g_autofree char *dir = qv_rt_domain_dir(&dom->conn->paths, dom->name);
    g_autofree char *path = g_strdup_printf("%s/memory-XXXXXX", dir);
    int tmp = mkostemp(path, O_CLOEXEC);
    if (tmp < 0)
        return qv_error_set_errno(err, -errno, "domain '%s': cannot create a file for the "
                                  "memory contents in %s", dom->name, dir);
    unlink(path);
    json_object *args = json_object_new_object();
    /* QMP's val is an int64: addresses above 2^63 (kernel virtual addresses)
     * travel as their two's complement, which QEMU reads back unchanged. */
    json_object_object_add(args, "val", json_object_new_int64((int64_t)start));
    json_object_object_add(args, "size", json_object_new_int64((int64_t)size));
    if (flags == QV_MEMORY_VIRTUAL)
        json_object_object_add(args, "cpu-index", json_object_new_int(0));
    r = qv_domain_qmp_write_file(dom, flags == QV_MEMORY_VIRTUAL ? "memsave" : "pmemsave", args,
                                 "filename", tmp, true, err);
    for (size_t done = 0; r >= 0 && done < size;) {
        ssize_t n = pread(tmp, (char *)buffer + done, size - done, (off_t)done);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            r = qv_error_set_errno(err, -errno, "cannot read the memory contents back");
        else if (n == 0)
            r = qv_error_set(err, -EIO, "domain '%s': QEMU wrote %zu of %zu bytes of memory",
                             dom->name, done, size);
        else
            done += (size_t)n;
    }
    close(tmp);
    return r < 0 ? r : 0;
}

/* ---- block_resize ----------------------------------------------------------- */

int qv_domain_block_resize(qv_domain *dom, const char *disk, unsigned long long size,
                           unsigned int flags, qv_error **err)
{
    QV_REMOTE_DOMAIN(dom, qv_remote__qv_domain_block_resize(dom, disk, size, flags, err));
    int r = check_disk_arg("qv_domain_block_resize", dom, disk, err);
    if (r < 0)
        return r;
    if (flags & ~(unsigned)QV_DOMAIN_BLOCK_RESIZE_BYTES)
        return qv_error_set(err, -EINVAL, "qv_domain_block_resize: unsupported flags 0x%x",
                            flags);
    if (!(flags & QV_DOMAIN_BLOCK_RESIZE_BYTES)) {
        if (size > (unsigned long long)INT64_MAX / 1024)
            return qv_error_set(err, -EOVERFLOW, "block_resize: %llu KiB is too large", size);
        size *= 1024;
    }
    if (size > (unsigned long long)INT64_MAX - 511)
        return qv_error_set(err, -EOVERFLOW, "block_resize: %llu bytes is too large", size);
    if ((r = qv_domain_require_active(dom, NULL, err)) < 0)
        return r;
    const qv_domdef *def;
    if ((r = qv_domain_get_def(dom, &def, err)) < 0)
        return r;
    const qv_domdef_disk *d = find_disk(dom, def, disk, err);
    if (!d)
        return -ENOENT;
    if (!qv_domdef_disk_src_present(&d->src))
        return qv_error_set(err, -EINVAL, "disk %s of domain '%s' has no medium to resize",
                            d->target_dev, dom->name);
    if (d->readonly || d->device == QV_DISK_DEVICE_CDROM)
        return qv_error_set(err, -EINVAL, "disk %s of domain '%s' is read-only and cannot be "
                            "resized", d->target_dev, dom->name);
    /* qcow2 images grow in whole sectors (libvirt rounds up the same way). */
    if (d->src.format && !strcmp(d->src.format, "qcow2"))
        size = (size + 511) / 512 * 512;
    /* The root node: the throttle filter of a disk started with <iotune>
     * (QEMU 7.2 does not update a filter's size when the node below it
     * grows), else the top image's format node. */
    g_autofree char *node = NULL;
    if ((r = qv_disk_root_node(dom, d, &node, err)) < 0)
        return r;
    json_object *args = json_object_new_object();
    json_object_object_add(args, "node-name", json_object_new_string(node));
    json_object_object_add(args, "size", json_object_new_int64((int64_t)size));
    return qv_domain_qmp_call(dom, "block_resize", args, NULL, err) < 0 ? -EIO : 0;
}

/* ---- iotune ----------------------------------------------------------------- */

/* One row per limit: the struct member, its bit, QEMU's block_set_io_throttle
 * and query-block name, and its throttle-group "limits" name. */
typedef struct iotune_field {
    const char *name;        /* libvirt's parameter name */
    size_t off;              /* in qv_block_iotune */
    ssize_t domdef_off;      /* in qv_domdef_iotune; -1: not in the XML model */
    const char *qmp, *group;
} iotune_field;

#define F(n, q, g) { #n, offsetof(qv_block_iotune, n), offsetof(qv_domdef_iotune, n), q, g }
#define FL(n, q, g) { #n, offsetof(qv_block_iotune, n), -1, q, g }
static const iotune_field iotune_fields[] = {
    F(total_bytes_sec, "bps", "bps-total"),
    F(read_bytes_sec, "bps_rd", "bps-read"),
    F(write_bytes_sec, "bps_wr", "bps-write"),
    F(total_iops_sec, "iops", "iops-total"),
    F(read_iops_sec, "iops_rd", "iops-read"),
    F(write_iops_sec, "iops_wr", "iops-write"),
    F(total_bytes_sec_max, "bps_max", "bps-total-max"),
    F(read_bytes_sec_max, "bps_rd_max", "bps-read-max"),
    F(write_bytes_sec_max, "bps_wr_max", "bps-write-max"),
    F(total_iops_sec_max, "iops_max", "iops-total-max"),
    F(read_iops_sec_max, "iops_rd_max", "iops-read-max"),
    F(write_iops_sec_max, "iops_wr_max", "iops-write-max"),
    FL(total_bytes_sec_max_length, "bps_max_length", "bps-total-max-length"),
    FL(read_bytes_sec_max_length, "bps_rd_max_length", "bps-read-max-length"),
    FL(write_bytes_sec_max_length, "bps_wr_max_length", "bps-write-max-length"),
    FL(total_iops_sec_max_length, "iops_max_length", "iops-total-max-length"),
    FL(read_iops_sec_max_length, "iops_rd_max_length", "iops-read-max-length"),
    FL(write_iops_sec_max_length, "iops_wr_max_length", "iops-write-max-length"),
    F(size_iops_sec, "iops_size", "iops-size"),
};
#undef F
#undef FL
G_STATIC_ASSERT(G_N_ELEMENTS(iotune_fields) == 19);

static unsigned long long *tune_val(qv_block_iotune *t, size_t i)
{
    return (unsigned long long *)((char *)t + iotune_fields[i].off);
}

static unsigned long long tune_get(const qv_block_iotune *t, size_t i)
{
    return *(const unsigned long long *)((const char *)t + iotune_fields[i].off);
}

void qv_block_iotune_clear(qv_block_iotune *tune)
{
    if (!tune)
        return;
    free(tune->group_name);
    memset(tune, 0, sizeof *tune);
}

static void tune_from_domdef(qv_block_iotune *t, const qv_domdef_disk *d)
{
    memset(t, 0, sizeof *t);
    t->fields = QV_BLOCK_IOTUNE_ALL;
    if (!d->has_iotune)
        return;
    for (size_t i = 0; i < G_N_ELEMENTS(iotune_fields); i++)
        if (iotune_fields[i].domdef_off >= 0)
            *tune_val(t, i) = *(const unsigned long long *)((const char *)&d->iotune +
                                                            iotune_fields[i].domdef_off);
    if (d->iotune.group_name)
        t->group_name = strdup(d->iotune.group_name);
}

static void tune_to_domdef(qv_domdef_disk *d, const qv_block_iotune *t)
{
    bool any = t->group_name != NULL;
    for (size_t i = 0; i < G_N_ELEMENTS(iotune_fields); i++) {
        if (iotune_fields[i].domdef_off < 0)
            continue;
        unsigned long long v = tune_get(t, i);
        *(unsigned long long *)((char *)&d->iotune + iotune_fields[i].domdef_off) = v;
        any = any || v;
    }
    g_free(d->iotune.group_name);
    d->iotune.group_name = g_strdup(t->group_name);
    d->has_iotune = any;
}

/* How a running disk is throttled: a disk started with <iotune> sits under a
 * throttle filter whose group object holds the limits; any other disk is
 * throttled on its BlockBackend with block_set_io_throttle. */
typedef struct live_throttle {
    bool group;              /* the throttle-group object path */
    char *object;            /* its QOM id */
    json_object *inserted;   /* the query-block "inserted" member (BlockBackend path) */
    const char *qdev;        /* the device as QEMU names it (virtio-blk: its backend's path) */
    json_object *list;       /* owns inserted */
} live_throttle;

static void live_throttle_clear(live_throttle *lt)
{
    g_free(lt->object);
    json_object_put(lt->list);
}

static int live_throttle_find(qv_domain *dom, const qv_domdef_disk *d, live_throttle *lt,
                              qv_error **err)
{
    memset(lt, 0, sizeof *lt);
    int r = qv_domain_qmp_call(dom, "query-block", NULL, &lt->list, err);
    if (r < 0)
        return r;
    json_object *e = find_entry(lt->list, d->alias);
    if (!e)
        return no_entry(dom, d, "query-block", err);
    lt->inserted = qv_json_get(e, "inserted");
    lt->qdev = qv_json_get_str(e, "qdev");
    if (!lt->inserted)
        return qv_error_set(err, -EINVAL, "disk %s of domain '%s' has no medium to throttle",
                            d->target_dev, dom->name);
    g_autofree char *filter = g_strdup_printf("%s-throttle", d->alias);
    const char *top = qv_json_get_str(lt->inserted, "node-name");
    if (top && !strcmp(top, filter)) {
        lt->group = true;
        lt->object = g_strdup_printf("throttle-%s", d->iotune.group_name ? d->iotune.group_name
                                                                         : d->alias);
    }
    return 0;
}

/* The *_max_length members are rows 12 to 17, each the length of row - 6. */
static bool is_length(size_t i)
{
    return i >= 12 && i < 18;
}

/* QEMU reports a burst length of 1 s even without a burst rate: 0 there, as
 * nothing was set. */
static void drop_idle_lengths(qv_block_iotune *t)
{
    for (size_t i = 12; i < 18; i++)
        if (!tune_get(t, i - 6))
            *tune_val(t, i) = 0;
}

static int live_get_iotune(qv_domain *dom, const qv_domdef_disk *d, qv_block_iotune *t,
                           qv_error **err)
{
    live_throttle lt;
    int r = live_throttle_find(dom, d, &lt, err);
    memset(t, 0, sizeof *t);
    t->fields = QV_BLOCK_IOTUNE_ALL;
    if (r >= 0 && lt.group) {
        json_object *args = json_object_new_object();
        g_autofree char *path = g_strdup_printf("/objects/%s", lt.object);
        json_object_object_add(args, "path", json_object_new_string(path));
        json_object_object_add(args, "property", json_object_new_string("limits"));
        g_autoptr(json_object) lim = NULL;
        if ((r = qv_domain_qmp_call(dom, "qom-get", args, &lim, err)) >= 0) {
            for (size_t i = 0; i < G_N_ELEMENTS(iotune_fields); i++)
                *tune_val(t, i) = (unsigned long long)qv_json_get_int(lim, iotune_fields[i].group, 0);
            if (d->iotune.group_name)
                t->group_name = strdup(d->iotune.group_name);
        }
    } else if (r >= 0) {
        for (size_t i = 0; i < G_N_ELEMENTS(iotune_fields); i++)
            *tune_val(t, i) = (unsigned long long)qv_json_get_int(lt.inserted, iotune_fields[i].qmp, 0);
        const char *g = qv_json_get_str(lt.inserted, "group");
        if (g)
            t->group_name = strdup(g);
    }
    live_throttle_clear(&lt);
    drop_idle_lengths(t);
    return r;
}

static int live_set_iotune(qv_domain *dom, const qv_domdef_disk *d, const qv_block_iotune *t,
                           qv_error **err)
{
    live_throttle lt;
    int r = live_throttle_find(dom, d, &lt, err);
    if (r >= 0 && lt.group) {
        const char *cur = d->iotune.group_name;
        if (g_strcmp0(t->group_name, cur)) {
            r = qv_error_set(err, -EOPNOTSUPP, "disk %s of domain '%s' was started in throttle "
                             "group '%s' and cannot change groups while it runs",
                             d->target_dev, dom->name, cur ? cur : d->alias);
        } else {
            json_object *lim = json_object_new_object();
            for (size_t i = 0; i < G_N_ELEMENTS(iotune_fields); i++) {
                unsigned long long v = tune_get(t, i);
                /* qom-set keeps members it is not given, so all are given;
                 * a burst length of 0 is QEMU's default of 1 s. */
                if (is_length(i) && !v)
                    v = 1;
                json_object_object_add(lim, iotune_fields[i].group,
                                       json_object_new_int64((int64_t)v));
            }
            json_object *args = json_object_new_object();
            g_autofree char *path = g_strdup_printf("/objects/%s", lt.object);
            json_object_object_add(args, "path", json_object_new_string(path));
            json_object_object_add(args, "property", json_object_new_string("limits"));
            json_object_object_add(args, "value", lim);
            r = qv_domain_qmp_call(dom, "qom-set", args, NULL, err);
        }
    } else if (r >= 0) {
        json_object *args = json_object_new_object();
        json_object_object_add(args, "id", json_object_new_string(lt.qdev ? lt.qdev : d->alias));
        for (size_t i = 0; i < G_N_ELEMENTS(iotune_fields); i++)
            if (!is_length(i) || tune_get(t, i))
                json_object_object_add(args, iotune_fields[i].qmp,
                                       json_object_new_int64((int64_t)tune_get(t, i)));
        if (t->group_name)
            json_object_object_add(args, "group", json_object_new_string(t->group_name));
        r = qv_domain_qmp_call(dom, "block_set_io_throttle", args, NULL, err);
    }
    live_throttle_clear(&lt);
    return r;
}

int qv_domain_get_block_iotune(qv_domain *dom, const char *disk, qv_block_iotune *ret,
                               unsigned int flags, qv_error **err)
{
    QV_REMOTE_DOMAIN(dom, qv_remote__qv_domain_get_block_iotune(dom, disk, ret, flags, err));
    int r = check_disk_arg("qv_domain_get_block_iotune", dom, disk, err);
    if (r < 0)
        return r;
    if (!ret)
        return qv_error_set(err, -EINVAL, "qv_domain_get_block_iotune: ret is required");
    g_auto(qv_call) c = QV_CALL_INIT;
    if ((r = blk_call(dom, flags, false, "get_block_iotune", &c, err)) < 0)
        return r;
    const qv_domdef_disk *d = find_disk(dom, c.cfg ? c.cfg : c.live, disk, err);
    if (!d)
        return -ENOENT;
    if (c.cfg) {
        tune_from_domdef(ret, d);
        return 0;
    }
    return live_get_iotune(dom, d, ret, err);
}

/* libvirt's rules for a partial change: a total limit replaces the read and
 * write ones (and back), and both at once make no sense. */
static int merge_iotune(const char *target, qv_block_iotune *cur, const qv_block_iotune *p,
                        qv_error **err)
{
    for (size_t base = 0; base < 18; base += 3) {
        unsigned int tb = 1u << base, rb = 1u << (base + 1), wb = 1u << (base + 2);
        if ((p->fields & tb) && (p->fields & (rb | wb)))
            return qv_error_set(err, -EINVAL, "disk %s: %s and %s/%s cannot be set at the same "
                                "time", target, iotune_fields[base].name,
                                iotune_fields[base + 1].name, iotune_fields[base + 2].name);
        if (p->fields & tb)
            *tune_val(cur, base + 1) = *tune_val(cur, base + 2) = 0;
        if (p->fields & (rb | wb))
            *tune_val(cur, base) = 0;
    }
    for (size_t i = 0; i < G_N_ELEMENTS(iotune_fields); i++)
        if (p->fields & (1u << i))
            *tune_val(cur, i) = tune_get(p, i);
    if (p->fields & QV_BLOCK_IOTUNE_GROUP_NAME) {
        free(cur->group_name);
        cur->group_name = p->group_name && *p->group_name ? strdup(p->group_name) : NULL;
    }
    /* A burst rate needs the base rate it bursts above, and a burst length
     * its burst rate (QEMU's rules, checked here for the config too). */
    for (size_t i = 0; i < 6; i++) {
        if (tune_get(cur, i + 6) && !tune_get(cur, i))
            return qv_error_set(err, -EINVAL, "disk %s: %s needs %s to be set", target,
                                iotune_fields[i + 6].name, iotune_fields[i].name);
        if (tune_get(cur, i + 12) && !tune_get(cur, i + 6))
            return qv_error_set(err, -EINVAL, "disk %s: %s needs %s to be set", target,
                                iotune_fields[i + 12].name, iotune_fields[i + 6].name);
    }
    return 0;
}

int qv_domain_set_block_iotune(qv_domain *dom, const char *disk, const qv_block_iotune *params,
                               unsigned int flags, qv_error **err)
{
    QV_REMOTE_DOMAIN(dom, qv_remote__qv_domain_set_block_iotune(dom, disk, params, flags, err));
    int r = check_disk_arg("qv_domain_set_block_iotune", dom, disk, err);
    if (r < 0)
        return r;
    if (!params)
        return qv_error_set(err, -EINVAL, "qv_domain_set_block_iotune: params are required");
    if (params->fields & ~QV_BLOCK_IOTUNE_ALL)
        return qv_error_set(err, -EINVAL, "set_block_iotune: unknown field bits 0x%x",
                            params->fields & ~QV_BLOCK_IOTUNE_ALL);
    for (size_t i = 0; i < G_N_ELEMENTS(iotune_fields); i++)
        if ((params->fields & (1u << i)) && tune_get(params, i) > (unsigned long long)INT64_MAX)
            return qv_error_set(err, -EINVAL, "set_block_iotune: %s %llu is too large",
                                iotune_fields[i].name, tune_get(params, i));
    g_auto(qv_call) c = QV_CALL_INIT;
    r = blk_call(dom, flags, true, "set_block_iotune", &c, err);
    qv_domdef *live = c.live, *cfg = c.cfg;
    qv_domdef_disk *ld = NULL, *cd = NULL;
    qv_block_iotune lt = { 0 }, ct = { 0 };
    /* Check every requested change before applying any. */
    if (r >= 0 && live) {
        ld = (qv_domdef_disk *)find_disk(dom, live, disk, err);
        if (!ld)
            r = -ENOENT;
        else if ((r = live_get_iotune(dom, ld, &lt, err)) >= 0)
            r = merge_iotune(ld->target_dev, &lt, params, err);
    }
    if (r >= 0 && cfg) {
        cd = (qv_domdef_disk *)find_disk(dom, cfg, disk, err);
        if (!cd) {
            r = -ENOENT;
        } else {
            tune_from_domdef(&ct, cd);
            r = merge_iotune(cd->target_dev, &ct, params, err);
            for (size_t i = 12; r >= 0 && i < 18; i++)
                if (tune_get(&ct, i))
                    r = qv_error_set(err, -EOPNOTSUPP, "disk %s: %s cannot be saved in the "
                                     "config (qvirt's domain XML has no place for it); set it "
                                     "live only", cd->target_dev, iotune_fields[i].name);
        }
    }
    if (r >= 0 && live && (r = live_set_iotune(dom, ld, &lt, err)) >= 0) {
        tune_to_domdef(ld, &lt);
        r = qv_domain_save_live(dom, live, err);
    }
    if (r >= 0 && cfg) {
        tune_to_domdef(cd, &ct);
        r = qv_domain_save_config(dom->conn, cfg, err);
    }
    qv_block_iotune_clear(&lt);
    qv_block_iotune_clear(&ct);
    return r < 0 ? r : 0;
}

/* ---- disk errors -------------------------------------------------------------- */

static int io_status_error(const char *s)
{
    if (!s || !strcmp(s, "ok"))
        return QV_DOMAIN_DISK_ERROR_NONE;
    return !strcmp(s, "nospace") ? QV_DOMAIN_DISK_ERROR_NO_SPACE : QV_DOMAIN_DISK_ERROR_UNSPEC;
}

static bool alias_matches(const char *name, const char *alias)
{
    size_t n = strlen(alias);
    return name && !strncmp(name, alias, n) && (name[n] == '\0' || name[n] == '-');
}

/* The worst error the journal recorded per disk since the domain started:
 * disks with error_policy 'report' (QEMU's default) keep no I/O status. */
static void journal_errors(qv_domain *dom, const qv_domdef *def, long long since_us, int *errs)
{
    g_autofree char *path = qv_rt_journal_path(&dom->conn->paths);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    FILE *f = fd >= 0 ? fdopen(fd, "r") : NULL;
    if (!f) {
        if (fd >= 0)
            close(fd);
        return;
    }
    char *line = NULL;
    size_t cap = 0;
    while (getline(&line, &cap, f) > 0) {
        if (!strstr(line, "\"dev_alias\""))
            continue;
        g_autoptr(json_object) o = json_tokener_parse(line);
        if (!o || qv_json_get_int(o, "event_id", -1) != QV_DOMAIN_EVENT_ID_IO_ERROR_REASON ||
            g_strcmp0(qv_json_get_str(o, "domain"), dom->name) || qv_json_get_int(o, "ts", 0) < since_us)
            continue;
        const char *alias = qv_json_get_str(o, "dev_alias");
        const char *reason = qv_json_get_str(o, "reason");
        int e = reason && !strcmp(reason, "enospc") ? QV_DOMAIN_DISK_ERROR_NO_SPACE
                                                    : QV_DOMAIN_DISK_ERROR_UNSPEC;
        for (guint i = 0; i < def->disks->len; i++) {
            const qv_domdef_disk *d = g_ptr_array_index(def->disks, i);
            if (d->alias && alias_matches(alias, d->alias) && errs[i] != QV_DOMAIN_DISK_ERROR_NO_SPACE)
                errs[i] = e;
        }
    }
    free(line);
    fclose(f);
}

int qv_domain_get_disk_errors(qv_domain *dom, qv_disk_error *errors,
                              unsigned int maxerrors, unsigned int flags, qv_error **err)
{
    QV_REMOTE_DOMAIN(dom,
                     qv_remote__qv_domain_get_disk_errors(dom, errors, maxerrors, flags, err));
    if (!dom || (!errors && maxerrors))
        return qv_error_set(err, -EINVAL, "qv_domain_get_disk_errors: dom and errors are "
                            "required");
    if (flags)
        return qv_error_set(err, -EINVAL, "qv_domain_get_disk_errors: flags must be 0");
    qv_active act;
    int r = qv_domain_observe(dom, &act, err);
    if (r < 0)
        return r;
    if (!act.active)
        return qv_error_set(err, -EINVAL, "domain '%s' is not running", dom->name);
    const qv_domdef *def;
    if ((r = qv_domain_get_def(dom, &def, err)) < 0)
        return r;
    if (!errors)
        return (int)def->disks->len;
    g_autoptr(json_object) list = NULL;
    if ((r = qv_domain_qmp_call(dom, "query-block", NULL, &list, err)) < 0)
        return r;
    g_autofree int *errs = g_new0(int, def->disks->len + 1);
    journal_errors(dom, def, act.status.started_us, errs);
    unsigned int n = 0;
    for (guint i = 0; i < def->disks->len && n < maxerrors; i++) {
        const qv_domdef_disk *d = g_ptr_array_index(def->disks, i);
        json_object *e = find_entry(list, d->alias);
        int status = io_status_error(qv_json_get_str(e, "io-status"));
        if (status == QV_DOMAIN_DISK_ERROR_NONE)
            status = errs[i];
        if (status == QV_DOMAIN_DISK_ERROR_NONE)
            continue;
        errors[n].disk = strdup(d->target_dev);
        errors[n].error = status;
        n++;
    }
    return (int)n;
}

/* ==== network interfaces ==================================================== */

/* Network interfaces of domains: traffic counters and bandwidth limits.
 *
 * Both need the interface's host device: the tap QEMU opened for an
 * <interface type='ethernet'> under its <target dev> name. The counters come
 * from the tap's sysfs statistics, and limits are tc rules on the tap, the
 * ones libvirt's virNetDevBandwidthSet installs: traffic to the guest leaves
 * the host through the tap (an HTB class shapes it), traffic from the guest
 * enters the host there (an ingress policer drops what is over the rate). */
#define TC_TIMEOUT_MS 10000
/* SIGTERM to SIGKILL for a tc that overran TC_TIMEOUT_MS. */
#define TC_KILL_GRACE_MS 1000

static const char *const net_type_names[] = { "user-mode networking", "an ethernet (tap) "
                                              "device", "a bridge", "a libvirt network",
                                              "a socket client", "a socket server",
                                              "a multicast socket", "a UDP socket",
                                              "a vhost-user socket", "a vDPA device" };

static void format_mac(const unsigned char m[6], char out[18])
{
    g_snprintf(out, 18, "%02x:%02x:%02x:%02x:%02x:%02x", m[0], m[1], m[2], m[3], m[4], m[5]);
}

/* By host device name, MAC address or alias. */
static qv_domdef_net *find_net(qv_domain *dom, const qv_domdef *def, const char *name,
                               qv_error **err)
{
    for (guint i = 0; i < def->nets->len; i++) {
        qv_domdef_net *n = g_ptr_array_index(def->nets, i);
        char mac[18];
        format_mac(n->mac, mac);
        if ((n->target_dev && !strcmp(n->target_dev, name)) || !g_ascii_strcasecmp(mac, name) ||
            (n->alias && !strcmp(n->alias, name)))
            return n;
    }
    qv_error_set(err, -ENOENT, "domain '%s' has no interface '%s' (name it by its host device, "
                 "MAC address or alias)", dom->name, name);
    return NULL;
}

static const char *net_label(const qv_domdef_net *n)
{
    return n->alias ? n->alias : n->target_dev ? n->target_dev : "?";
}

/* The host device of an interface of a running domain. */
static int host_device(qv_domain *dom, const qv_domdef_net *n, const char *what,
                       qv_error **err)
{
    if (n->type == QV_NET_USER)
        return qv_error_set(err, -EOPNOTSUPP, "interface %s uses user-mode networking, which "
                            "has no host device to %s", net_label(n), what);
    if (!n->target_dev)
        return qv_error_set(err, -EOPNOTSUPP, "interface %s of domain '%s' is %s without a "
                            "known host device name (give <target dev='...'/>), so there is "
                            "nothing to %s", net_label(n), dom->name,
                            net_type_names[n->type], what);
    return 0;
}

static int check_args(const char *what, qv_domain *dom, const char *device, const void *p,
                      qv_error **err)
{
    if (!dom || !device || !*device || !p)
        return qv_error_set(err, -EINVAL, "%s: dom, an interface name and the result are "
                            "required", what);
    return 0;
}

/* ---- interface_stats -------------------------------------------------------- */

static int read_counter(const char *dev, const char *name, long long *out, qv_error **err)
{
    g_autofree char *path = g_strdup_printf("/sys/class/net/%s/statistics/%s", dev, name);
    g_autofree char *text = NULL;
    int r = qv_read_file(path, 64, &text, NULL, err);
    if (r < 0)
        return r;
    char *end = NULL;
    errno = 0;
    long long v = strtoll(text, &end, 10);
    if (errno || end == text)
        return qv_error_set(err, -EIO, "%s does not hold a number", path);
    *out = v;
    return 0;
}

int qv_domain_interface_stats(qv_domain *dom, const char *device, qv_interface_stats *stats,
                              qv_error **err)
{
    QV_REMOTE_DOMAIN(dom, qv_remote__qv_domain_interface_stats(dom, device, stats, err));
    int r = check_args("qv_domain_interface_stats", dom, device, stats, err);
    const qv_domdef *def;
    if (r < 0 || (r = qv_domain_require_active(dom, NULL, err)) < 0 ||
        (r = qv_domain_get_def(dom, &def, err)) < 0)
        return r;
    const qv_domdef_net *n = find_net(dom, def, device, err);
    if (!n)
        return -ENOENT;
    if ((r = host_device(dom, n, "read statistics from", err)) < 0)
        return r;
    g_autofree char *dir = g_strdup_printf("/sys/class/net/%s", n->target_dev);
    if (access(dir, F_OK) < 0)
        return qv_error_set(err, -ENODEV, "interface %s of domain '%s': the host device %s "
                            "does not exist", net_label(n), dom->name, n->target_dev);
    /* The tap's receive side is what the guest sent: swap, as libvirt does. */
    static const struct { const char *file; size_t off; } map[] = {
        { "tx_bytes", offsetof(qv_interface_stats, rx_bytes) },
        { "tx_packets", offsetof(qv_interface_stats, rx_packets) },
        { "tx_errors", offsetof(qv_interface_stats, rx_errs) },
        { "tx_dropped", offsetof(qv_interface_stats, rx_drop) },
        { "rx_bytes", offsetof(qv_interface_stats, tx_bytes) },
        { "rx_packets", offsetof(qv_interface_stats, tx_packets) },
        { "rx_errors", offsetof(qv_interface_stats, tx_errs) },
        { "rx_dropped", offsetof(qv_interface_stats, tx_drop) },
    };
    qv_interface_stats s;
    for (size_t i = 0; i < G_N_ELEMENTS(map); i++)
        if ((r = read_counter(n->target_dev, map[i].file,
                              (long long *)((char *)&s + map[i].off), err)) < 0)
            return r;
    *stats = s;
    return 0;
}

/* ---- bandwidth: the model -------------------------------------------------- */

static void bw_from_domdef(qv_interface_bandwidth *b, const qv_domdef_net *n)
{
    memset(b, 0, sizeof *b);
    b->fields = QV_INTERFACE_BANDWIDTH_ALL;
    if (n->inbound.set) {
        b->inbound_average = n->inbound.average;
        b->inbound_peak = n->inbound.peak;
        b->inbound_burst = n->inbound.burst;
        b->inbound_floor = n->inbound.floor;
    }
    if (n->outbound.set) {
        b->outbound_average = n->outbound.average;
        b->outbound_peak = n->outbound.peak;
        b->outbound_burst = n->outbound.burst;
    }
}

static void bw_to_domdef(qv_domdef_net *n, const qv_interface_bandwidth *b)
{
    n->inbound = (qv_domdef_bandwidth_dir){
        .set = b->inbound_average != 0, .average = b->inbound_average,
        .peak = b->inbound_average ? b->inbound_peak : 0,
        .burst = b->inbound_average ? b->inbound_burst : 0,
    };
    n->outbound = (qv_domdef_bandwidth_dir){
        .set = b->outbound_average != 0, .average = b->outbound_average,
        .peak = b->outbound_average ? b->outbound_peak : 0,
        .burst = b->outbound_average ? b->outbound_burst : 0,
    };
}

static int bw_merge(const qv_domdef_net *n, qv_interface_bandwidth *cur,
                    const qv_interface_bandwidth *p, qv_error **err)
{
    const unsigned int f = p->fields;
    if (f & ~QV_INTERFACE_BANDWIDTH_ALL)
        return qv_error_set(err, -EINVAL, "set_interface_parameters: unknown field bits 0x%x",
                            f & ~QV_INTERFACE_BANDWIDTH_ALL);
    if ((f & QV_INTERFACE_BANDWIDTH_IN_FLOOR) && p->inbound_floor)
        return qv_error_set(err, -EOPNOTSUPP, "interface %s: inbound.floor needs an interface "
                            "on a libvirt network, which qvirt does not have", net_label(n));
#define M(bit, field) if (f & (bit)) cur->field = p->field;
    M(QV_INTERFACE_BANDWIDTH_IN_AVERAGE, inbound_average)
    M(QV_INTERFACE_BANDWIDTH_IN_PEAK, inbound_peak)
    M(QV_INTERFACE_BANDWIDTH_IN_BURST, inbound_burst)
    M(QV_INTERFACE_BANDWIDTH_OUT_AVERAGE, outbound_average)
    M(QV_INTERFACE_BANDWIDTH_OUT_PEAK, outbound_peak)
    M(QV_INTERFACE_BANDWIDTH_OUT_BURST, outbound_burst)
#undef M
    cur->inbound_floor = 0;
    if (!cur->inbound_average && (cur->inbound_peak || cur->inbound_burst) &&
        !(f & QV_INTERFACE_BANDWIDTH_IN_AVERAGE))
        return qv_error_set(err, -EINVAL, "interface %s: inbound peak and burst need an "
                            "inbound average", net_label(n));
    if (!cur->outbound_average && (cur->outbound_peak || cur->outbound_burst) &&
        !(f & QV_INTERFACE_BANDWIDTH_OUT_AVERAGE))
        return qv_error_set(err, -EINVAL, "interface %s: outbound peak and burst need an "
                            "outbound average", net_label(n));
    /* An average of 0 removes the whole direction. */
    if (!cur->inbound_average)
        cur->inbound_peak = cur->inbound_burst = 0;
    if (!cur->outbound_average)
        cur->outbound_peak = cur->outbound_burst = 0;
    const unsigned long long max = 1ULL << 32;  /* tc's rates are 32-bit KiB/s */
    if (cur->inbound_average > max || cur->inbound_peak > max || cur->inbound_burst > max ||
        cur->outbound_average > max || cur->outbound_peak > max || cur->outbound_burst > max)
        return qv_error_set(err, -EINVAL, "interface %s: bandwidth values are limited to %llu",
                            net_label(n), max);
    return 0;
}

/* ---- bandwidth: tc ------------------------------------------------------------ */

static const char *tc_binary(void)
{
    static const char *const candidates[] = { "/usr/sbin/tc", "/sbin/tc", "/usr/bin/tc" };
    for (size_t i = 0; i < G_N_ELEMENTS(candidates); i++)
        if (access(candidates[i], X_OK) == 0)
            return candidates[i];
    return "tc";
}

/* Runs tc with argv (without the program name); its stderr becomes the
 * error message. With may_fail, a failure is not an error (removing rules
 * that are not there). */
static int run_tc(const char *const *args, bool may_fail, qv_error **err)
{
    const char *argv[32] = { tc_binary() };
    size_t n = 1;
    for (; args[n - 1]; n++) {
        g_assert(n + 1 < G_N_ELEMENTS(argv));
        argv[n] = args[n - 1];
    }
    argv[n] = NULL;
    qv_autoclose int out = memfd_create("tc-stderr", MFD_CLOEXEC);
    if (out < 0)
        return qv_error_set_errno(err, -errno, "cannot create a buffer for tc's output");
    qv_spawn_opts o;
    qv_spawn_opts_init(&o);
    o.argv = argv;
    o.stderr_fd = out;
    o.stdout_fd = out;
    g_autoptr(qv_process) p = NULL;
    qv_error *lerr = NULL;
    int status = 0;
    g_autofree char *cmdline = g_strjoinv(" ", (char **)argv);
    int r = qv_process_spawn(&o, &p, &lerr);
    if (r < 0) {
        if (r == -ENOENT) {
            qv_error_free(lerr);
            return qv_error_set(err, -ENOENT, "cannot run tc (from iproute2) to set bandwidth "
                                "limits: it is not installed");
        }
        return qv_error_propagate(err, lerr);
    }
    r = qv_process_wait(p, TC_TIMEOUT_MS, &status, &lerr);
    if (r == -ETIMEDOUT) {
        qv_error_free(lerr);
        lerr = NULL;
        qv_process_terminate(p, TC_KILL_GRACE_MS, &status, NULL);
        return qv_error_set(err, -ETIMEDOUT, "'%s' did not finish in %d s", cmdline,
                            TC_TIMEOUT_MS / 1000);
    }
    if (r < 0)
        return qv_error_propagate(err, lerr);
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
        return 0;
    char msg[512] = "";
    ssize_t len = pread(out, msg, sizeof msg - 1, 0);
    if (may_fail)
        return 0;
    msg[len > 0 ? len : 0] = '\0';
    g_strstrip(msg);
    char *nl = strchr(msg, '\n');
    if (nl)
        *nl = '\0';
    return qv_error_set(err, -EIO, "'%s' failed%s%s", cmdline, *msg ? ": " : "", msg);
}

#define TC(...) run_tc((const char *const[]){ __VA_ARGS__, NULL }, false, err)

/* libvirt's virNetDevBandwidthSet: clear, then HTB for inbound and an
 * ingress policer for outbound. tc's "kbps" and "kb" are KiB units. */
static void tc_clear(const char *dev)
{
    run_tc((const char *const[]){ "qdisc", "del", "dev", dev, "root", NULL }, true, NULL);
    run_tc((const char *const[]){ "qdisc", "del", "dev", dev, "ingress", NULL }, true, NULL);
}

static int tc_install(const char *dev, const qv_interface_bandwidth *b, qv_error **err)
{
    int r = 0;
    if (b->inbound_average) {
        g_autofree char *rate = g_strdup_printf("%llukbps", b->inbound_average);
        g_autofree char *ceil = g_strdup_printf("%llukbps", b->inbound_peak ? b->inbound_peak
                                                                             : b->inbound_average);
        g_autofree char *burst = g_strdup_printf("%llukb", b->inbound_burst);
        if ((r = TC("qdisc", "add", "dev", dev, "root", "handle", "1:", "htb", "default", "1")) < 0)
            return r;
        if (b->inbound_burst)
            r = TC("class", "add", "dev", dev, "parent", "1:", "classid", "1:1", "htb", "rate",
                   rate, "ceil", ceil, "burst", burst);
        else
            r = TC("class", "add", "dev", dev, "parent", "1:", "classid", "1:1", "htb", "rate",
                   rate, "ceil", ceil);
        if (r < 0)
            return r;
        /* SFQ keeps flows fair inside the class, and libvirt's fw filter
         * classifies marked packets; "default 1" already sends everything
         * through the class, so a kernel without sch_sfq or cls_fw still
         * shapes (with the class's FIFO). */
        run_tc((const char *const[]){ "qdisc", "add", "dev", dev, "parent", "1:1", "handle", "2:",
                                      "sfq", "perturb", "10", NULL }, true, NULL);
        run_tc((const char *const[]){ "filter", "add", "dev", dev, "parent", "1:0", "protocol",
                                      "all", "prio", "1", "handle", "1", "fw", "flowid", "1",
                                      NULL }, true, NULL);
    }
    if (b->outbound_average) {
        g_autofree char *rate = g_strdup_printf("%llukbps", b->outbound_average);
        g_autofree char *burst = g_strdup_printf("%llukb", b->outbound_burst ? b->outbound_burst
                                                                             : b->outbound_average);
        if ((r = TC("qdisc", "add", "dev", dev, "ingress")) < 0 ||
            (r = TC("filter", "add", "dev", dev, "parent", "ffff:", "protocol", "all", "u32",
                    "match", "u32", "0", "0", "police", "rate", rate, "burst", burst, "mtu",
                    "64kb", "drop", "flowid", ":1")) < 0)
            return r;
    }
    return 0;
}

/* Replaces the rules of old with those of b; when that fails half-way, the
 * old rules are put back (best effort), so the tap keeps matching the live
 * XML. */
static int tc_apply(const char *dev, const qv_interface_bandwidth *b,
                    const qv_interface_bandwidth *old, qv_error **err)
{
    tc_clear(dev);
    int r = tc_install(dev, b, err);
    if (r < 0) {
        tc_clear(dev);
        tc_install(dev, old, NULL);
    }
    return r;
}

/* ---- get/set_interface_parameters ------------------------------------------- */

int qv_domain_get_interface_parameters(qv_domain *dom, const char *device,
                                       qv_interface_bandwidth *ret, unsigned int flags,
                                       qv_error **err)
{
    QV_REMOTE_DOMAIN(dom,
                     qv_remote__qv_domain_get_interface_parameters(dom, device, ret, flags, err));
    int r = check_args("qv_domain_get_interface_parameters", dom, device, ret, err);
    g_auto(qv_call) c = QV_CALL_INIT;
    if (r < 0 || (r = blk_call(dom, flags, false, "get_interface_parameters", &c, err)) < 0)
        return r;
    const qv_domdef_net *n = find_net(dom, c.cfg ? c.cfg : c.live, device, err);
    if (!n)
        return -ENOENT;
    bw_from_domdef(ret, n);
    return 0;
}

int qv_domain_set_interface_parameters(qv_domain *dom, const char *device,
                                       const qv_interface_bandwidth *params, unsigned int flags,
                                       qv_error **err)
{
    QV_REMOTE_DOMAIN(dom,
                     qv_remote__qv_domain_set_interface_parameters(dom, device, params, flags, err));
    int r = check_args("qv_domain_set_interface_parameters", dom, device, params, err);
    if (r < 0)
        return r;
    g_auto(qv_call) c = QV_CALL_INIT;
    r = blk_call(dom, flags, true, "set_interface_parameters", &c, err);
    qv_domdef *live = c.live, *cfg = c.cfg;
    qv_domdef_net *ln = NULL, *cn = NULL;
    qv_interface_bandwidth lb, lb_old, cb;
    /* Check every requested change before applying any. */
    if (r >= 0 && live) {
        if (!(ln = find_net(dom, live, device, err)))
            r = -ENOENT;
        else if ((r = host_device(dom, ln, "set bandwidth limits on", err)) >= 0) {
            bw_from_domdef(&lb, ln);
            lb_old = lb;
            r = bw_merge(ln, &lb, params, err);
        }
    }
    if (r >= 0 && cfg) {
        if (!(cn = find_net(dom, cfg, device, err))) {
            r = -ENOENT;
        } else {
            bw_from_domdef(&cb, cn);
            r = bw_merge(cn, &cb, params, err);
        }
    }
    if (r >= 0 && live && (r = tc_apply(ln->target_dev, &lb, &lb_old, err)) >= 0) {
        bw_to_domdef(ln, &lb);
        r = qv_domain_save_live(dom, live, err);
    }
    if (r >= 0 && cfg) {
        bw_to_domdef(cn, &cb);
        r = qv_domain_save_config(dom->conn, cfg, err);
    }
    return r < 0 ? r : 0;
}
