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

/* A secret object QEMU reads from the file the caller made (never the
 * value on the command line); *id is its QOM id, "<alias>-<what>-secret".
 * owner names the device in messages ("Disk vda"). */
static int add_secret(qv_cmdline *cl, const char *alias, const char *owner, const char *what,
                      const char *usage_type, const char *usage, const char *uuid, char **id,
                      qv_error **err)
{
    const qv_build_ctx *ctx = cl->ctx;
    if (!ctx || !ctx->secret_file)
        return qv_error_set(err, -EOPNOTSUPP, "%s needs its %s secret, which qvirt passes to QEMU only when the domain starts.",
                            owner, what);
    g_autofree char *file = ctx->secret_file(ctx->secret_data, usage_type, usage, uuid, err);
    if (!file)
        return -ENOENT;
    *id = g_strdup_printf("%s-%s-secret", alias, what);
    qv_jobj *o = qv_jobj_new(cl);
    qv_json_set_str(o, "qom-type", "secret");
    qv_json_set_str(o, "id", *id);
    qv_json_set_str(o, "format", "base64");
    qv_json_set_str(o, "file", file);
    qv_cmdline_add_json(cl, "-object", o);
    return 0;
}

/* The port a network disk's host uses when <host> names none: libvirt's
 * virStorageSourceNetworkDefaultPort (none for rbd: Ceph picks its own). */
static const char *default_port(const char *protocol)
{
    static const char *const ports[][2] = {
        { "nbd", "10809" }, { "iscsi", "3260" }, { "gluster", "24007" }, { "ssh", "22" },
        { "http", "80" }, { "https", "443" }, { "ftp", "21" }, { "ftps", "990" }, { "rbd", "0" },
    };
    for (size_t i = 0; i < G_N_ELEMENTS(ports); i++)
        if (!strcmp(ports[i][0], protocol))
            return ports[i][1];
    return NULL;
}

/* A SocketAddress (with "type": nbd, gluster) or an InetSocketAddressBase
 * (rbd, ssh) member of the open object or list item. */
static void add_server(qv_jobj *o, const char *protocol, const char *host, const char *port,
                       const char *transport, const char *socket, bool typed)
{
    if (socket || (transport && !strcmp(transport, "unix"))) {
        qv_json_set_str(o, "type", "unix");
        qv_json_set_str(o, "path", socket);
        return;
    }
    if (typed)
        qv_json_set_str(o, "type", "inet");
    qv_json_set_str(o, "host", host);
    qv_json_set_str(o, "port", port ? port : default_port(protocol));
}

static void add_server_list(qv_jobj *o, const qv_domdef_disk_src *src, bool typed)
{
    qv_json_open_list(o, "server");
    if (src->host || src->socket) {
        qv_json_open_item(o);
        add_server(o, src->protocol, src->host, src->port, src->transport, src->socket, typed);
        qv_json_close(o);
    }
    for (guint i = 0; src->more_hosts && i < src->more_hosts->len; i++) {
        const qv_domdef_disk_host *h = g_ptr_array_index(src->more_hosts, i);
        qv_json_open_item(o);
        add_server(o, src->protocol, h->name, h->port, h->transport, h->socket, typed);
        qv_json_close(o);
    }
    qv_json_close_list(o);
}

/* The members of an iSCSI node (a network disk's or an iSCSI host
 * device's), as libvirt 9.0's qemuBlockStorageSourceGetISCSIProps. */
static void iscsi_members(qv_jobj *o, const qv_domdef_disk_src *src, const char *auth_secret)
{
    g_autofree char *target = g_strdup(src->name);
    char *lun = strchr(target, '/');
    if (lun)
        *lun++ = '\0';
    const char *port = src->port ? src->port : default_port("iscsi");
    g_autofree char *portal = strchr(src->host, ':') ? g_strdup_printf("[%s]:%s", src->host, port)
                                                     : g_strdup_printf("%s:%s", src->host, port);
    qv_json_set_str(o, "portal", portal);
    qv_json_set_str(o, "target", target);
    qv_json_set_int(o, "lun", lun ? g_ascii_strtoll(lun, NULL, 10) : 0);
    qv_json_set_str(o, "transport", "tcp");
    if (auth_secret) {
        qv_json_set_str(o, "user", src->auth_username);
        qv_json_set_str(o, "password-secret", auth_secret);
    }
    qv_json_set_str(o, "initiator-name", src->initiator_iqn);
}

int qv_cmdline_add_iscsi_backend(qv_cmdline *cl, const qv_domdef_hostdev *h, const char *node,
                                 qv_error **err)
{
    const qv_domdef_disk_src *src = h->iscsi;
    g_autofree char *auth_secret = NULL;
    g_autofree char *owner = g_strdup_printf("Host device %s", h->alias);
    if (src->auth_username &&
        add_secret(cl, h->alias, owner, "auth", src->auth_type, src->auth_usage, src->auth_uuid,
                   &auth_secret, err) < 0)
        return -EINVAL;
    qv_jobj *o = qv_jobj_new(cl);
    qv_json_set_str(o, "driver", "iscsi");
    iscsi_members(o, src, auth_secret);
    qv_json_set_str(o, "node-name", node);
    qv_json_set_bool(o, "read-only", h->readonly);
    qv_cmdline_add_json(cl, "-blockdev", o);
    return 0;
}

/* The protocol members of a network disk's storage node, as libvirt 9.0's
 * qemuBlockStorageSourceGet*Props write them. */
static int network_node(qv_jobj *o, const qv_domdef_disk *d, const qv_domdef_disk_src *src,
                        const char *auth_secret, qv_error **err)
{
    const char *p = src->protocol;
    qv_json_set_str(o, "driver", p);
    if (!strcmp(p, "nbd")) {
        bool unix_socket = src->socket || (src->transport && !strcmp(src->transport, "unix"));
        if (unix_socket && !src->socket)
            return qv_error_set(err, -EINVAL, "The NBD disk %s uses unix transport without a socket.", d->target_dev);
        qv_json_open(o, "server");
        add_server(o, p, src->host, src->port, src->transport, src->socket, true);
        qv_json_close(o);
        qv_json_set_str(o, "export", src->name);
    } else if (!strcmp(p, "iscsi")) {
        iscsi_members(o, src, auth_secret);
    } else if (!strcmp(p, "rbd") || !strcmp(p, "gluster")) {
        g_autofree char *first = g_strdup(src->name);
        char *rest = strchr(first, '/');
        *rest++ = '\0';
        if (!strcmp(p, "rbd")) {
            qv_json_set_str(o, "pool", first);
            qv_json_set_str(o, "image", rest);
            qv_json_set_str(o, "snapshot", src->snapshot);
            qv_json_set_str(o, "conf", src->config_file);
            if (src->host)
                add_server_list(o, src, false);
            if (auth_secret) {
                /* libvirt 9.0's auth modes: cephx, falling back to none. */
                static const char *const modes[] = { "cephx", "none" };
                qv_json_set_str(o, "user", src->auth_username);
                qv_json_set_str_list(o, "auth-client-required", modes, 2);
                qv_json_set_str(o, "key-secret", auth_secret);
            }
        } else {
            qv_json_set_str(o, "volume", first);
            qv_json_set_str(o, "path", rest);
            add_server_list(o, src, true);
        }
    } else if (!strcmp(p, "nfs")) {
        qv_json_open(o, "server");
        qv_json_set_str(o, "host", src->host);
        qv_json_set_str(o, "type", "inet");
        qv_json_close(o);
        qv_json_set_str(o, "path", src->name);
        if (src->nfs_user)
            qv_json_set_int(o, "user", g_ascii_strtoll(src->nfs_user + (src->nfs_user[0] == '+'), NULL, 10));
        if (src->nfs_group)
            qv_json_set_int(o, "group", g_ascii_strtoll(src->nfs_group + (src->nfs_group[0] == '+'), NULL, 10));
    } else if (!strcmp(p, "ssh")) {
        qv_json_set_str(o, "path", src->name);
        qv_json_open(o, "server");
        add_server(o, p, src->host, src->port, NULL, NULL, false);
        qv_json_close(o);
    } else {
        /* curl: http, https, ftp, ftps */
        const char *port = src->port ? src->port : default_port(p);
        bool v6 = strchr(src->host, ':') != NULL;
        g_autofree char *url = g_strdup_printf("%s://%s%s%s:%s%s%s%s%s", p, v6 ? "[" : "", src->host,
                                               v6 ? "]" : "", port, src->name[0] == '/' ? "" : "/",
                                               src->name, src->query ? "?" : "",
                                               src->query ? src->query : "");
        qv_json_set_str(o, "url", url);
        if (auth_secret) {
            qv_json_set_str(o, "username", src->auth_username);
            qv_json_set_str(o, "password-secret", auth_secret);
        }
        if (src->ssl_verify)
            qv_json_set_bool(o, "sslverify", src->ssl_verify == QV_TRI_ON);
        if (src->timeout)
            qv_json_set_int(o, "timeout", (long long)src->timeout);
        if (src->readahead)
            qv_json_set_int(o, "readahead", (long long)src->readahead);
    }
    return 0;
}

static int storage_node(qv_cmdline *cl, const qv_domdef_disk *d, const qv_domdef_disk_src *src,
                        const char *node_name, bool top, qv_error **err)
{
    g_autofree char *file = NULL, *volume = NULL;
    /* QEMU writes only the top image of a writable disk. */
    bool writes = top && !d->readonly;
    bool block = src->type == QV_DISK_TYPE_BLOCK;
    const char *path = src->path;
    if (src->type == QV_DISK_TYPE_VOLUME) {
        const qv_build_ctx *ctx = cl->ctx;
        if (!ctx || !ctx->volume_path)
            return qv_error_set(err, -EINVAL, "Disk %s: volume '%s' of storage pool '%s' needs the host's storage pool definitions to find it.",
                                d->target_dev, src->volume, src->pool);
        if (!(volume = ctx->volume_path(ctx->volume_data, src->pool, src->volume, &block, err)))
            return -ENOENT;
        path = volume;
    }
    if (src->type == QV_DISK_TYPE_FILE || src->type == QV_DISK_TYPE_BLOCK || volume) {
        if (!(file = qv_cmdline_file(cl, path, writes ? O_RDWR : O_RDONLY, node_name, err)))
            return -EINVAL;
    }
    g_autofree char *auth_secret = NULL;
    g_autofree char *owner = g_strdup_printf("Disk %s", d->target_dev);
    if (src->auth_username &&
        add_secret(cl, d->alias, owner, "auth", src->auth_type, src->auth_usage, src->auth_uuid,
                   &auth_secret, err) < 0)
        return -EINVAL;
    qv_jobj *o = qv_jobj_new(cl);
    g_autoptr(qv_jobj) guard = o;
    if (file) {
        qv_json_set_str(o, "driver", block ? "host_device" : "file");
        qv_json_set_str(o, "filename", file);
        if (top && d->io && strcmp(d->io, "threads"))
            qv_json_set_str(o, "aio", d->io);
    } else if (src->type == QV_DISK_TYPE_DIR) {
        /* vvfat reads the folder by name: QEMU needs rights on it. */
        qv_json_set_str(o, "driver", "vvfat");
        qv_json_set_str(o, "dir", src->path);
        qv_json_set_bool(o, "floppy", d->device == QV_DISK_DEVICE_FLOPPY);
        qv_json_set_bool(o, "rw", !d->readonly);
    } else if (src->type == QV_DISK_TYPE_NVME) {
        const qv_domdef_addr *a = &src->nvme_addr;
        g_autofree char *dev = g_strdup_printf("%04x:%02x:%02x.%x", a->domain, a->bus, a->slot, a->function);
        qv_json_set_str(o, "driver", "nvme");
        qv_json_set_str(o, "device", dev);
        qv_json_set_int(o, "namespace", src->nvme_namespace);
    } else if (network_node(o, d, src, auth_secret, err) < 0) {
        return -EINVAL;
    }
    qv_json_set_str(o, "node-name", node_name);
    qv_cmdline_storage_access(o, file, writes);
    qv_json_set_str(o, "discard", top && d->discard && !strcmp(d->discard, "unmap") ? "unmap" : "ignore");
    if (top)
        set_cache(o, d);
    qv_cmdline_add_json(cl, "-blockdev", g_steal_pointer(&guard));
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
    /* LUKS: qcow2's own encryption, or the luks format in place of raw,
     * as libvirt 9.0 builds them. */
    g_autofree char *luks = NULL;
    g_autofree char *owner = g_strdup_printf("Disk %s", d->target_dev);
    if (src->enc_format &&
        add_secret(cl, d->alias, owner, "luks", "volume", src->enc_usage, src->enc_uuid, &luks, err) < 0)
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
    /* A dir disk's fat layer is vvfat itself: raw goes on top. */
    const char *format = src->format && strcmp(src->format, "fat") ? src->format : "raw";
    bool raw_luks = luks && !strcmp(format, "raw");
    qv_json_set_str(o, "driver", raw_luks ? "luks" : format);
    if (raw_luks)
        qv_json_set_str(o, "key-secret", luks);
    if (luks && !raw_luks) {
        qv_json_open(o, "encrypt");
        qv_json_set_str(o, "format", "luks");
        qv_json_set_str(o, "key-secret", luks);
        qv_json_close(o);
    }
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
    bool empty = !d->src.path && (d->src.type < QV_DISK_TYPE_NETWORK || d->src.type == QV_DISK_TYPE_DIR);
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
    g_autofree char *virtio_driver = qv_virtio_device_name("virtio-blk-pci", d->model);
    switch (d->bus) {
    case QV_DISK_BUS_VIRTIO:
        driver = virtio_driver;
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
    if (d->discard_granularity)
        qv_json_set_int(dev, "discard_granularity", d->discard_granularity);
    if (d->geo_cyls) {
        qv_json_set_int(dev, "cyls", d->geo_cyls);
        qv_json_set_int(dev, "heads", d->geo_heads);
        qv_json_set_int(dev, "secs", d->geo_secs);
    }
    if (d->geo_trans)
        qv_json_set_str(dev, "bios-chs-trans", d->geo_trans);
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
