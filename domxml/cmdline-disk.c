/* Disks: a storage node (file, host_device, nbd, http) plus a format node per
 * image as -blockdev JSON, then the guest device as -device JSON. Node names
 * derive from the disk alias so QMP operations find them. */
#include <string.h>

#include "domxml-priv.h"

/* Boot index from <boot order>, or from os/boot dev order for the first
 * device of that class, like libvirt's translation to bootindex. */
static unsigned int disk_bootindex(const qv_domdef *def, const qv_domdef_disk *d)
{
    if (d->boot_order)
        return d->boot_order;
    const char *cls = d->device == QV_DISK_DEVICE_CDROM ? "cdrom" :
                      d->device == QV_DISK_DEVICE_FLOPPY ? "fd" : "hd";
    for (guint i = 0; i < def->os.boot_devs->len; i++) {
        if (strcmp(g_ptr_array_index(def->os.boot_devs, i), cls))
            continue;
        for (guint j = 0; j < def->disks->len; j++) {
            qv_domdef_disk *o = g_ptr_array_index(def->disks, j);
            int ocls = o->device == QV_DISK_DEVICE_LUN ? QV_DISK_DEVICE_DISK : o->device;
            int dcls = d->device == QV_DISK_DEVICE_LUN ? QV_DISK_DEVICE_DISK : d->device;
            if (ocls == dcls)
                return o == d ? i + 1 : 0;
        }
    }
    return 0;
}

static void set_cache(qv_jobj *node, const qv_domdef_disk *d)
{
    if (!d->cache)
        return;
    bool direct = !strcmp(d->cache, "none") || !strcmp(d->cache, "directsync");
    bool noflush = !strcmp(d->cache, "unsafe");
    qv_json_open(node, "cache");
    qv_json_set_bool(node, "direct", direct);
    qv_json_set_bool(node, "no-flush", noflush);
    qv_json_close(node);
}

static int storage_node(qv_cmdline *cl, const qv_domdef_disk *d, const qv_domdef_disk_src *src,
                        const char *node_name, bool top, qv_error **err)
{
    g_autofree char *file = NULL;
    /* QEMU writes only the top image of a writable disk. */
    bool writes = top && !d->readonly;
    if (src->type == QV_DISK_TYPE_FILE || src->type == QV_DISK_TYPE_BLOCK) {
        if (!(file = qv_cmdline_file(cl, src->path, writes ? O_RDWR : O_RDONLY, node_name, err)))
            return -EINVAL;
    }
    qv_jobj *o = qv_jobj_new(cl);
    if (file) {
        qv_json_set_str(o, "driver", src->type == QV_DISK_TYPE_FILE ? "file" : "host_device");
        qv_json_set_str(o, "filename", file);
        if (top && d->io && strcmp(d->io, "threads"))
            qv_json_set_str(o, "aio", d->io);
    } else if (!strcmp(src->protocol, "nbd")) {
        bool unix_socket = src->socket || (src->transport && !strcmp(src->transport, "unix"));
        if (unix_socket && !src->socket) {
            qv_jobj_free(o);
            return qv_error_set(err, -EINVAL, "The NBD disk %s uses unix transport without a socket.", d->target_dev);
        }
        qv_json_set_str(o, "driver", "nbd");
        qv_json_open(o, "server");
        if (unix_socket) {
            qv_json_set_str(o, "type", "unix");
            qv_json_set_str(o, "path", src->socket);
        } else {
            qv_json_set_str(o, "type", "inet");
            qv_json_set_str(o, "host", src->host);
            qv_json_set_str(o, "port", src->port ? src->port : "10809");
        }
        qv_json_close(o);
        qv_json_set_str(o, "export", src->name);
    } else {
        qv_json_set_str(o, "driver", src->protocol);
        g_autofree char *url = g_strdup_printf("%s://%s%s%s%s%s%s%s", src->protocol, src->host,
                                               src->port ? ":" : "", src->port ? src->port : "",
                                               src->name[0] == '/' ? "" : "/", src->name,
                                               src->query ? "?" : "", src->query ? src->query : "");
        qv_json_set_str(o, "url", url);
    }
    qv_json_set_str(o, "node-name", node_name);
    qv_cmdline_storage_access(o, file, writes);
    qv_json_set_str(o, "discard", top && d->discard && !strcmp(d->discard, "unmap") ? "unmap" : "ignore");
    if (top)
        set_cache(o, d);
    qv_cmdline_add_json(cl, "-blockdev", o);
    return 0;
}

/* Builds the node chain bottom-up (backing images first) and returns the
 * format node name of src. */
static int add_chain(qv_cmdline *cl, const qv_domdef_disk *d, const qv_domdef_disk_src *src,
                     unsigned int depth, char **fmt_name, qv_error **err)
{
    g_autofree char *backing_fmt = NULL;
    if (src->backing) {
        if (depth > 16)
            return qv_error_set(err, -EINVAL, "The backing chain of disk %s is deeper than 16 images.", d->target_dev);
        if (add_chain(cl, d, src->backing, depth + 1, &backing_fmt, err) < 0)
            return -EINVAL;
    }
    g_autofree char *st = depth ? g_strdup_printf("%s-b%u-storage", d->alias, depth)
                                : qv_strcat2(d->alias, "-storage");
    g_autofree char *fm = depth ? g_strdup_printf("%s-b%u-format", d->alias, depth)
                                : qv_strcat2(d->alias, "-format");
    if (strlen(fm) > 31)
        return qv_error_set(err, -EINVAL, "The alias of disk %s is too long for a QEMU node name.", d->target_dev);
    if (storage_node(cl, d, src, st, depth == 0, err) < 0)
        return -EINVAL;
    qv_jobj *o = qv_jobj_new(cl);
    qv_json_set_str(o, "node-name", fm);
    qv_json_set_bool(o, "read-only", depth > 0 || d->readonly);
    if (depth == 0) {
        qv_json_set_str(o, "discard", d->discard && !strcmp(d->discard, "unmap") ? "unmap" : "ignore");
        if (d->detect_zeroes && strcmp(d->detect_zeroes, "off"))
            qv_json_set_str(o, "detect-zeroes", d->detect_zeroes);
        set_cache(o, d);
    }
    const char *format = src->format ? src->format : "raw";
    qv_json_set_str(o, "driver", format);
    qv_json_set_str(o, "file", st);
    if (src->metadata_cache) /* the L2 and refcount caches together, as libvirt */
        qv_json_set_int(o, "cache-size", (long long)src->metadata_cache);
    if (backing_fmt)
        qv_json_set_str(o, "backing", backing_fmt);
    else if (src->has_backing && !strcmp(format, "qcow2"))
        qv_json_set_null(o, "backing");
    qv_cmdline_add_json(cl, "-blockdev", o);
    *fmt_name = g_steal_pointer(&fm);
    return 0;
}

static void add_iotune(qv_cmdline *cl, const qv_domdef_disk *d, const char *fmt)
{
    /* QEMU 7.2: throttling is a throttle-group object plus a throttle
     * filter node on top of the format node. */
    const qv_domdef_iotune *t = &d->iotune;
    g_autofree char *group = qv_strcat2("throttle-", t->group_name ? t->group_name : d->alias);
    qv_jobj *o = qv_jobj_new(cl);
    qv_json_set_str(o, "qom-type", "throttle-group");
    qv_json_set_str(o, "id", group);
    qv_json_open(o, "limits");
#define L(field, key) if (t->field) qv_json_set_int(o, key, (long long)t->field);
    L(total_bytes_sec, "bps-total") L(read_bytes_sec, "bps-read") L(write_bytes_sec, "bps-write")
    L(total_iops_sec, "iops-total") L(read_iops_sec, "iops-read") L(write_iops_sec, "iops-write")
    L(total_bytes_sec_max, "bps-total-max") L(read_bytes_sec_max, "bps-read-max")
    L(write_bytes_sec_max, "bps-write-max") L(total_iops_sec_max, "iops-total-max")
    L(read_iops_sec_max, "iops-read-max") L(write_iops_sec_max, "iops-write-max")
    L(size_iops_sec, "iops-size")
#undef L
    qv_json_close(o);
    qv_cmdline_add_json(cl, "-object", o);
    qv_jobj *f = qv_jobj_new(cl);
    g_autofree char *node = qv_strcat2(d->alias, "-throttle");
    qv_json_set_str(f, "driver", "throttle");
    qv_json_set_str(f, "node-name", node);
    qv_json_set_str(f, "throttle-group", group);
    qv_json_set_str(f, "file", fmt);
    qv_cmdline_add_json(cl, "-blockdev", f);
}

int qv_cmdline_add_disk(qv_cmdline *cl, const qv_domdef_disk *d, qv_error **err)
{
    const qv_domdef *def = cl->def;
    g_autofree char *top = NULL;
    bool empty = !d->src.path && d->src.type != QV_DISK_TYPE_NETWORK;
    if (d->transient)
        return qv_error_set(err, -EOPNOTSUPP, "Disk %s: transient disks are not supported by qvirt.", d->target_dev);
    if (!empty) {
        if (add_chain(cl, d, &d->src, 0, &top, err) < 0)
            return -EINVAL;
        if (d->has_iotune) {
            add_iotune(cl, d, top);
            g_free(top);
            top = qv_strcat2(d->alias, "-throttle");
        }
    }
    const char *driver = NULL;
    bool cd = d->device == QV_DISK_DEVICE_CDROM;
    switch (d->bus) {
    case QV_DISK_BUS_VIRTIO:
        driver = "virtio-blk-pci";
        break;
    case QV_DISK_BUS_IDE:
    case QV_DISK_BUS_SATA:
        driver = cd ? "ide-cd" : "ide-hd";
        break;
    case QV_DISK_BUS_SCSI:
        driver = d->device == QV_DISK_DEVICE_LUN ? "scsi-block" : cd ? "scsi-cd" : "scsi-hd";
        break;
    case QV_DISK_BUS_USB:
        driver = "usb-storage";
        break;
    case QV_DISK_BUS_FDC:
        driver = "floppy";
        break;
    }
    qv_jobj *dev = qv_json_device(cl, driver, d->alias);
    g_autoptr(qv_jobj) guard = dev;
    if (d->bus == QV_DISK_BUS_VIRTIO) {
        if (qv_cmdline_set_address(cl, dev, &d->addr, "disk", err) < 0)
            return -EINVAL;
        if (d->queues)
            qv_json_set_int(dev, "num-queues", d->queues);
        if (d->iothread) {
            g_autofree char *io = qv_strdup_uint("iothread", d->iothread);
            qv_json_set_str(dev, "iothread", io);
        }
    } else if (d->bus == QV_DISK_BUS_IDE) {
        g_autofree char *b = qv_strdup_uint("ide.", d->addr.bus);
        qv_json_set_str(dev, "bus", b);
        qv_json_set_int(dev, "unit", d->addr.unit);
    } else if (d->bus == QV_DISK_BUS_SATA) {
        qv_domdef_controller *c = qv_domdef_find_controller(def, QV_CTRL_SATA, d->addr.controller);
        if (!c)
            return qv_error_set(err, -EINVAL, "Disk %s is on SATA controller %u, which does not exist.", d->target_dev, d->addr.controller);
        g_autofree char *b = g_strdup_printf("%s.%u", c->alias, d->addr.unit);
        qv_json_set_str(dev, "bus", b);
    } else if (d->bus == QV_DISK_BUS_SCSI) {
        qv_domdef_controller *c = qv_domdef_find_controller(def, QV_CTRL_SCSI, d->addr.controller);
        if (!c)
            return qv_error_set(err, -EINVAL, "Disk %s is on SCSI controller %u, which does not exist.", d->target_dev, d->addr.controller);
        g_autofree char *b = qv_strcat2(c->alias, ".0");
        qv_json_set_str(dev, "bus", b);
        if (!strcmp(c->model, "lsilogic")) {
            qv_json_set_int(dev, "scsi-id", d->addr.unit);
        } else {
            qv_json_set_int(dev, "channel", d->addr.bus);
            qv_json_set_int(dev, "scsi-id", d->addr.target);
            qv_json_set_int(dev, "lun", d->addr.unit);
        }
        /* As libvirt: the VPD page 0x83 identifier the guest saw when disks
         * were -drive drive-<alias>, so a guest moved from libvirt (or
         * Windows, which keys disks on it) sees the same disk. */
        if (d->device != QV_DISK_DEVICE_LUN) {
            g_autofree char *id = qv_strcat2("drive-", d->alias);
            qv_json_set_str(dev, "device_id", id);
        }
        if (d->vendor)
            qv_json_set_str(dev, "vendor", d->vendor);
        if (d->product)
            qv_json_set_str(dev, "product", d->product);
    } else if (d->bus == QV_DISK_BUS_USB) {
        if (qv_cmdline_set_address(cl, dev, &d->addr, "disk", err) < 0)
            return -EINVAL;
        if (cd)
            return qv_error_set(err, -EINVAL, "Disk %s: a USB cdrom is not supported; use sata or scsi.", d->target_dev);
    } else if (d->bus == QV_DISK_BUS_FDC) {
        qv_json_set_int(dev, "unit", d->addr.unit);
    }
    if (top)
        qv_json_set_str(dev, "drive", top);
    /* The bus may come from the target's name: checked here as well. */
    bool usb_or_scsi = d->bus == QV_DISK_BUS_USB || d->bus == QV_DISK_BUS_SCSI;
    if (d->removable && !usb_or_scsi)
        return qv_error_set(err, -EINVAL, "Disk %s: only USB and SCSI disks can be removable.", d->target_dev);
    if (d->rotation_rate && !usb_or_scsi && d->bus != QV_DISK_BUS_IDE && d->bus != QV_DISK_BUS_SATA)
        return qv_error_set(err, -EINVAL, "Disk %s: only SCSI, IDE and SATA disks have a rotation rate.", d->target_dev);
    if (d->rotation_rate && d->bus == QV_DISK_BUS_USB)
        return qv_error_set(err, -EINVAL, "Disk %s: only SCSI, IDE and SATA disks have a rotation rate.", d->target_dev);
    if (d->removable && d->device == QV_DISK_DEVICE_DISK)
        qv_json_set_bool(dev, "removable", d->removable == QV_TRI_ON);
    if (d->rotation_rate && d->device == QV_DISK_DEVICE_DISK)
        qv_json_set_int(dev, "rotation_rate", d->rotation_rate);
    if (d->shareable)
        qv_json_set_bool(dev, "share-rw", true);
    if (d->serial && d->device != QV_DISK_DEVICE_LUN)
        qv_json_set_str(dev, "serial", d->serial);
    if (d->wwn && (d->bus == QV_DISK_BUS_SCSI || d->bus == QV_DISK_BUS_IDE || d->bus == QV_DISK_BUS_SATA)) {
        g_autofree char *w = g_strdup_printf("0x%s", d->wwn);
        qv_json_set_int(dev, "wwn", (long long)g_ascii_strtoull(w, NULL, 16));
    }
    unsigned int boot = disk_bootindex(def, d);
    if (boot)
        qv_json_set_int(dev, "bootindex", boot);
    if (d->logical_block_size)
        qv_json_set_int(dev, "logical_block_size", d->logical_block_size);
    if (d->physical_block_size)
        qv_json_set_int(dev, "physical_block_size", d->physical_block_size);
    if (d->cache && !cd && d->bus != QV_DISK_BUS_FDC && d->device != QV_DISK_DEVICE_LUN) {
        bool wc = strcmp(d->cache, "writethrough") && strcmp(d->cache, "directsync");
        qv_json_set_str(dev, "write-cache", wc ? "on" : "off");
    }
    if (d->error_policy && d->bus != QV_DISK_BUS_FDC && d->bus != QV_DISK_BUS_USB) {
        /* libvirt spells QEMU's "enospc" as "enospace"; reads have no
         * such policy and report instead. */
        bool enospc = !strcmp(d->error_policy, "enospace");
        qv_json_set_str(dev, "werror", enospc ? "enospc" : d->error_policy);
        qv_json_set_str(dev, "rerror", enospc ? "report" : d->error_policy);
    }
    if (d->startup_policy && !strcmp(d->startup_policy, "optional") && d->device != QV_DISK_DEVICE_CDROM &&
        d->device != QV_DISK_DEVICE_FLOPPY)
        return qv_error_set(err, -EINVAL, "Disk %s: startupPolicy 'optional' is only for cdrom and floppy.", d->target_dev);
    qv_cmdline_add_json(cl, "-device", g_steal_pointer(&guard));
    return 0;
}

int qv_cmdline_add_disks(qv_cmdline *cl, qv_error **err)
{
    bool fdc = false;
    for (guint i = 0; i < cl->def->disks->len; i++) {
        qv_domdef_disk *d = g_ptr_array_index(cl->def->disks, i);
        if (d->bus == QV_DISK_BUS_FDC && cl->q35 && !fdc) {
            /* q35 has no built-in floppy controller. */
            qv_cmdline_add_json(cl, "-device", qv_json_device(cl, "isa-fdc", "fdc0"));
            fdc = true;
        }
        if (qv_cmdline_add_disk(cl, d, err) < 0)
            return -EINVAL;
    }
    return 0;
}
