/* Device hotplug: attach, detach and update devices of a running domain and
 * of its persistent config. The QMP steps of an attach come from the domxml
 * layer (the same JSON as the command line); this file runs them, undoes
 * them when one fails, waits for the guest to release detached devices, and
 * keeps live.xml and the config in step. */
#include <errno.h>
#include <string.h>

#include "internal.h"
#include "qemu-user.h"
#include "remote.h"
#include "blockjob.h"
#include "network.h"
#include "hostdev.h"
#include "pool.h"
#include "qemu-files.h"
#include "tap.h"
#include "netlink.h"

#define DETACH_TIMEOUT_MS 10000
/* One wait for DEVICE_DELETED before the detach looks again. */
#define DETACH_POLL_MS 250

enum {
    MODIFY_ALL = QV_DOMAIN_DEVICE_MODIFY_LIVE | QV_DOMAIN_DEVICE_MODIFY_CONFIG,
};

G_STATIC_ASSERT((int)QV_DOMAIN_DEVICE_MODIFY_LIVE == (int)QV_DOMAIN_AFFECT_LIVE);
G_STATIC_ASSERT((int)QV_DOMAIN_DEVICE_MODIFY_CONFIG == (int)QV_DOMAIN_AFFECT_CONFIG);

static const char *qmp_command_of(const char *opt)
{
    if (!strcmp(opt, "-blockdev")) return "blockdev-add";
    if (!strcmp(opt, "-device")) return "device_add";
    if (!strcmp(opt, "-netdev")) return "netdev_add";
    if (!strcmp(opt, "-object")) return "object-add";
    if (!strcmp(opt, "-chardev")) return "chardev-add";
    if (!strcmp(opt, "-action")) return "set-action";
    if (!strcmp(opt, "-add-fd")) return "add-fd";
    if (!strcmp(opt, "-getfd")) return "getfd";
    return NULL;
}

static json_object *id_args(const char *key, const char *value)
{
    json_object *a = json_object_new_object();
    json_object_object_add(a, key, json_object_new_string(value));
    return a;
}

/* Best-effort undo of one applied step (errors are dropped: the step's own
 * failure is what the caller reports). */
static void undo_item(qv_qmp *qmp, const qv_hotplug_item *it)
{
    const char *cmd = NULL, *key = "id", *id = qv_json_get_str(it->args, "id");
    if (!strcmp(it->opt, "-blockdev")) {
        cmd = "blockdev-del";
        key = "node-name";
        id = qv_json_get_str(it->args, "node-name");
    } else if (!strcmp(it->opt, "-device")) {
        cmd = "device_del";
    } else if (!strcmp(it->opt, "-netdev")) {
        cmd = "netdev_del";
    } else if (!strcmp(it->opt, "-object")) {
        cmd = "object-del";
    } else if (!strcmp(it->opt, "-chardev")) {
        cmd = "chardev-remove";
    } else if (!strcmp(it->opt, "-getfd")) {
        cmd = "closefd";
        key = "fdname";
        id = qv_json_get_str(it->args, "fdname");
    } else if (!strcmp(it->opt, "-add-fd")) {
        json_object *set;
        if (json_object_object_get_ex(it->args, "fdset-id", &set)) {
            json_object *a = json_object_new_object();
            json_object_object_add(a, "fdset-id", json_object_get(set));
            qv_qmp_call(qmp, "remove-fd", a, 0, NULL, NULL);
        }
        return;
    }
    if (!cmd || !id)
        return;
    qv_qmp_call(qmp, cmd, id_args(key, id), 0, NULL, NULL);
}

/* Runs the steps in order; on a failure undoes the applied ones in reverse
 * so no half-added node, netdev, chardev or object stays in QEMU. */
static int apply_items(qv_qmp *qmp, GPtrArray *items, qv_error **err)
{
    for (guint i = 0; i < items->len; i++) {
        const qv_hotplug_item *it = g_ptr_array_index(items, i);
        const char *cmd = qmp_command_of(it->opt);
        int r = !cmd ? qv_error_set(err, -EOPNOTSUPP, "no QMP command for %s", it->opt)
                : it->fd >= 0 ? qv_qmp_call_with_fd(qmp, cmd, json_object_get(it->args), it->fd, 0,
                                                    NULL, err)
                              : qv_qmp_call(qmp, cmd, json_object_get(it->args), 0, NULL, err);
        if (r < 0) {
            for (guint j = i; j-- > 0;)
                undo_item(qmp, g_ptr_array_index(items, j));
            return r;
        }
    }
    return 0;
}

/* Removes the fdsets whose fds carry one of these opaque names (the node
 * names of a disk's storage), once the nodes that used them are gone. */
static void remove_fdsets(qv_qmp *qmp, GPtrArray *opaques)
{
    g_autoptr(json_object) sets = NULL;
    if (qv_qmp_call(qmp, "query-fdsets", NULL, 0, &sets, NULL) < 0)
        return;
    for (size_t i = 0; json_object_is_type(sets, json_type_array) &&
                       i < json_object_array_length(sets); i++) {
        json_object *set = json_object_array_get_idx(sets, i), *id, *fds;
        if (!json_object_object_get_ex(set, "fdset-id", &id) ||
            !json_object_object_get_ex(set, "fds", &fds))
            continue;
        bool ours = false;
        for (size_t k = 0; !ours && json_object_is_type(fds, json_type_array) &&
                           k < json_object_array_length(fds); k++) {
            const char *op = qv_json_get_str(json_object_array_get_idx(fds, k), "opaque");
            for (guint n = 0; !ours && op && n < opaques->len; n++)
                ours = !strcmp(op, g_ptr_array_index(opaques, n));
        }
        if (ours) {
            json_object *a = json_object_new_object();
            json_object_object_add(a, "fdset-id", json_object_get(id));
            qv_qmp_call(qmp, "remove-fd", a, 0, NULL, NULL);
        }
    }
}

/* A hotplugged interface's tap (and vhost) fds, given to QEMU under the
 * names its netdev_add uses; closed here either way. */
static int give_fds(qv_qmp *qmp, const qv_taps *taps, GArray *fds, qv_error **err)
{
    int r = 0;
    for (guint i = 0; i < fds->len; i++) {
        int fd = g_array_index(fds, int, i);
        if (r >= 0)
            r = qv_qmp_call_with_fd(qmp, "getfd", id_args("fdname", qv_taps_fd_name(taps, i)), fd,
                                    0, NULL, err);
        close(fd);
    }
    return r;
}

/* Undoes give_fds after a failed attach (QEMU keeps getfd'd fds). */
static void take_fds_back(qv_qmp *qmp, const qv_taps *taps, guint n)
{
    for (guint i = 0; i < n; i++)
        qv_qmp_call(qmp, "closefd", id_args("fdname", qv_taps_fd_name(taps, i)), 0, NULL, NULL);
}

static int check_flags(const char *what, unsigned int flags, unsigned int allowed, qv_error **err)
{
    if (flags & ~allowed)
        return qv_error_set(err, -EINVAL, "%s: unsupported flags 0x%x", what, flags & ~allowed);
    return 0;
}

static char *runtime_dir(qv_domain *dom)
{
    return qv_rt_domain_dir(&dom->conn->paths, dom->name);
}

static const char *what_of(const qv_domdef_devref *d)
{
    switch (d->cls) {
    case QV_DEVCLASS_DISK: return ((qv_domdef_disk *)d->dev)->target_dev;
    default: return qv_domdef_device_alias(d);
    }
}

int qv_domain_attach_device(qv_domain *dom, const char *xml, unsigned int flags, qv_error **err)
{
    QV_REMOTE_DOMAIN(dom, qv_remote__qv_domain_attach_device(dom, xml, flags, err));
    if (!dom || !xml)
        return qv_error_set(err, -EINVAL, "qv_domain_attach_device: dom and xml are required");
    int r = check_flags("qv_domain_attach_device", flags, MODIFY_ALL, err);
    if (r < 0)
        return r;
    g_auto(qv_call) c = QV_CALL_INIT;
    g_autoptr(qv_domdef) newlive = NULL, newcfg = NULL;
    qv_domdef_devref ldev = { 0 }, cdev = { 0 };
    g_autoptr(GPtrArray) items = NULL;
    g_autoptr(qv_networks) nets = NULL;
    /* Parse against both definitions first: nothing changes unless both
     * accept the device. */
    r = qv_domain_begin(dom, flags & MODIFY_ALL, &c, err);
    if (r >= 0 && c.cfg)
        r = qv_domxml_parse_device(xml, c.cfg, &newcfg, &cdev, err);
    if (r >= 0 && c.live && (r = qv_domxml_parse_device(xml, c.live, &newlive, &ldev, err)) >= 0)
        r = qv_conn_resolve_networks(dom->conn, newlive, &nets, err);
    if (r >= 0 && newlive) {
        qv_qmp *qmp = NULL;
        int qlock = -1;
        if ((r = qv_domain_qmp_open(dom, &qmp, &qlock, err)) >= 0) {
            /* The device's files go to QEMU as fds, in fdsets it has not
             * used yet, and an interface's tap is made here. */
            g_autofree char *dir = runtime_dir(dom);
            g_auto(qv_qemu_files) files = { 0 };
            qv_qemu_files_init(&files, qv_qmp_next_fdset(qmp), false);
            g_autofree char *pool_dir = qv_conn_libvirt_dir(dom->conn, "storage");
            qv_build_ctx ctx = { .runtime_dir = dir, .files = &files.opener,
                                 .scsi_generic = qv_hostdev_scsi_generic,
                                 .volume_path = qv_pool_volume_path, .volume_data = pool_dir };
            ctx.networks = qv_networks_get(nets, &ctx.n_networks);
            g_auto(qv_qemu_tls) tls = { 0 };
            if (r >= 0)
                r = qv_conn_qemu_tls(dom->conn, &ctx, &tls, err);
            g_autoptr(GArray) tapfds = g_array_new(FALSE, FALSE, sizeof(int));
            g_autoptr(qv_taps) taps = NULL;
            if (r >= 0 && ldev.cls == QV_DEVCLASS_NET &&
                (r = qv_taps_make(newlive, ldev.dev, nets, dir, true, tapfds, &taps, err)) >= 0)
                r = give_fds(qmp, taps, tapfds, err);
            if (r >= 0 && ldev.cls == QV_DEVCLASS_DISK)
                r = qv_disk_fill_backing_chain(ldev.dev, err);
            ctx.taps = qv_taps_get(taps, &ctx.n_taps);
            if (r >= 0 && (r = qv_domxml_build_hotplug(newlive, &ldev, &ctx, &items, err)) >= 0)
                r = apply_items(qmp, items, err);
            if (r < 0 && taps)
                take_fds_back(qmp, taps, tapfds->len);
            qv_domain_qmp_close(qmp, qlock);
            if (r < 0 && err && *err)
                qv_error_prefix(*err, "attaching %s to domain '%s' failed", what_of(&ldev), dom->name);
        }
        if (r >= 0)
            r = qv_domain_save_live(dom, newlive, err);
    }
    if (r >= 0 && newcfg)
        r = qv_domain_save_config(dom->conn, newcfg, err);
    return r < 0 ? r : 0;
}

/* True while QEMU still has a device with this id under /machine/peripheral. */
static int still_present(qv_qmp *qmp, const char *id, qv_error **err)
{
    g_autoptr(json_object) ret = NULL;
    int r = qv_qmp_call(qmp, "qom-list", id_args("path", "/machine/peripheral"), 0, &ret, err);
    if (r < 0)
        return r;
    for (size_t i = 0; json_object_is_type(ret, json_type_array) && i < json_object_array_length(ret); i++) {
        const char *n = qv_json_get_str(json_object_array_get_idx(ret, i), "name");
        if (n && !strcmp(n, id))
            return 1;
    }
    return 0;
}

/* device_del, then wait for DEVICE_DELETED (or the id leaving the QOM tree)
 * with a deadline: the guest has to cooperate for PCI devices. */
static int unplug_device(qv_qmp *qmp, const char *id, qv_error **err)
{
    int r = qv_qmp_call(qmp, "device_del", id_args("id", id), 0, NULL, err);
    if (r < 0)
        return r;
    gint64 deadline = g_get_monotonic_time() + DETACH_TIMEOUT_MS * 1000LL;
    for (;;) {
        g_autoptr(qv_qmp_event) ev = NULL;
        qv_error *lerr = NULL;
        r = qv_qmp_wait_event(qmp, "DEVICE_DELETED", DETACH_POLL_MS, &ev, &lerr);
        qv_error_free(lerr);
        if (r >= 0 && ev->data) {
            const char *dev = qv_json_get_str(ev->data, "device");
            if (dev && !strcmp(dev, id))
                return 0;
        }
        if (r < 0 && r != -ETIMEDOUT)
            return qv_error_set(err, r, "lost the monitor while waiting for device %s to be released", id);
        if ((r = still_present(qmp, id, err)) <= 0)
            return r;
        if (g_get_monotonic_time() > deadline)
            return qv_error_set(err, -ETIMEDOUT, "device %s was not released by the guest within %d s; "
                                "it is still attached", id, DETACH_TIMEOUT_MS / 1000);
    }
}

/* The block nodes a disk's medium uses, top first (see cmdline-disk.c);
 * with dom, the names a block job gave a changed chain (blockjob.h). */
static void disk_nodes(qv_domain *dom, const qv_domdef_disk *d, GPtrArray *out)
{
    if (!qv_domdef_disk_src_present(&d->src))
        return;
    if (d->has_iotune)
        g_ptr_array_add(out, g_strdup_printf("%s-throttle", d->alias));
    if (dom && d->src.path) {
        qv_disk_node_names(dom, d, out);
        return;
    }
    g_ptr_array_add(out, g_strdup_printf("%s-format", d->alias));
    g_ptr_array_add(out, g_strdup_printf("%s-storage", d->alias));
    unsigned int depth = 1;
    for (const qv_domdef_disk_src *b = d->src.backing; b; b = b->backing, depth++) {
        g_ptr_array_add(out, g_strdup_printf("%s-b%u-format", d->alias, depth));
        g_ptr_array_add(out, g_strdup_printf("%s-b%u-storage", d->alias, depth));
    }
}

static void del_nodes(qv_qmp *qmp, GPtrArray *nodes)
{
    for (guint i = 0; i < nodes->len; i++)
        qv_qmp_call(qmp, "blockdev-del", id_args("node-name", g_ptr_array_index(nodes, i)), 0, NULL, NULL);
}

/* What the device brought along besides itself, removed once it is gone. */
static void release_backends(qv_domain *dom, qv_qmp *qmp, const qv_domdef_devref *d)
{
    const char *alias = qv_domdef_device_alias(d);
    g_autofree char *id = NULL;
    switch (d->cls) {
    case QV_DEVCLASS_DISK: {
        g_autoptr(GPtrArray) nodes = g_ptr_array_new_with_free_func(g_free);
        const qv_domdef_disk *disk = d->dev;
        disk_nodes(dom, disk, nodes);
        del_nodes(qmp, nodes);
        remove_fdsets(qmp, nodes);
        if (disk->has_iotune && !disk->iotune.group_name) {
            id = g_strdup_printf("throttle-%s", alias);
            qv_qmp_call(qmp, "object-del", id_args("id", id), 0, NULL, NULL);
        }
        break;
    }
    case QV_DEVCLASS_NET: {
        id = g_strdup_printf("host%s", alias);
        qv_qmp_call(qmp, "netdev_del", id_args("id", id), 0, NULL, NULL);
        /* A macvtap or an OVS port outlives QEMU's fds: removed here. */
        const qv_domdef_net *n = d->dev;
        g_autofree char *dir = runtime_dir(dom);
        qv_rt_host_link_release(dir, "macvtap", n->type == QV_NET_DIRECT ? n->target_dev : NULL);
        qv_rt_host_link_release(dir, "ovs", n->vport_type ? n->target_dev : NULL);
        break;
    }
    case QV_DEVCLASS_CHR:
        id = g_strdup_printf("char%s", alias);
        qv_qmp_call(qmp, "chardev-remove", id_args("id", id), 0, NULL, NULL);
        break;
    case QV_DEVCLASS_RNG: {
        id = g_strdup_printf("obj%s", alias);
        qv_qmp_call(qmp, "object-del", id_args("id", id), 0, NULL, NULL);
        if (((const qv_domdef_rng *)d->dev)->egd) {
            g_autofree char *chr = g_strdup_printf("char%s", alias);
            qv_qmp_call(qmp, "chardev-remove", id_args("id", chr), 0, NULL, NULL);
        }
        break;
    }
    default:
        break;
    }
}

int qv_domain_detach_device(qv_domain *dom, const char *xml, unsigned int flags, qv_error **err)
{
    QV_REMOTE_DOMAIN(dom, qv_remote__qv_domain_detach_device(dom, xml, flags, err));
    if (!dom || !xml)
        return qv_error_set(err, -EINVAL, "qv_domain_detach_device: dom and xml are required");
    int r = check_flags("qv_domain_detach_device", flags, MODIFY_ALL, err);
    if (r < 0)
        return r;
    g_autoptr(qv_domdef) holder = NULL;
    qv_domdef_devref match = { 0 };
    if ((r = qv_domxml_parse_device_match(xml, &holder, &match, err)) < 0)
        return r;
    g_auto(qv_call) c = QV_CALL_INIT;
    qv_domdef_devref ldev = { 0 }, cdev = { 0 };
    r = qv_domain_begin(dom, flags & MODIFY_ALL, &c, err);
    if (r >= 0 && c.cfg)
        r = qv_domdef_find_device(c.cfg, &match, &cdev, err);
    if (r >= 0 && c.live)
        r = qv_domdef_find_device(c.live, &match, &ldev, err);
    if (r >= 0 && c.live) {
        const char *alias = qv_domdef_device_alias(&ldev);
        qv_qmp *qmp = NULL;
        int qlock = -1;
        if (ldev.cls == QV_DEVCLASS_INPUT && ((qv_domdef_input *)ldev.dev)->bus &&
            !strcmp(((qv_domdef_input *)ldev.dev)->bus, "ps2"))
            r = qv_error_set(err, -EOPNOTSUPP, "A PS/2 input device is built into the machine and cannot be detached.");
        else if (!alias)
            r = qv_error_set(err, -EINVAL, "The device to detach has no alias in the live definition.");
        else if ((r = qv_domain_qmp_open(dom, &qmp, &qlock, err)) >= 0) {
            r = unplug_device(qmp, alias, err);
            if (r >= 0)
                release_backends(dom, qmp, &ldev);
            qv_domain_qmp_close(qmp, qlock);
        }
        if (r >= 0)
            qv_domdef_remove_device(c.live, &ldev);
    }
    if (r >= 0 && c.cfg)
        qv_domdef_remove_device(c.cfg, &cdev);
    if (r >= 0)
        r = qv_call_save(&c, err);
    return r < 0 ? r : 0;
}

static bool src_same(const qv_domdef_disk_src *a, const qv_domdef_disk_src *b)
{
    return a->type == b->type && g_strcmp0(a->path, b->path) == 0 && g_strcmp0(a->name, b->name) == 0 &&
           g_strcmp0(a->host, b->host) == 0 && g_strcmp0(a->pool, b->pool) == 0 &&
           g_strcmp0(a->volume, b->volume) == 0;
}

/* Moves the new medium's source into disk d (the rest of d stays). */
static void take_source(qv_domdef_disk *d, qv_domdef_disk *from)
{
    qv_domdef_disk_src_clear(&d->src);
    d->src = from->src;
    memset(&from->src, 0, sizeof from->src);
    if (!d->src.format && (d->src.path || d->src.type == QV_DISK_TYPE_NETWORK))
        d->src.format = g_strdup("raw");
}

/* Swaps the medium of a removable disk in QEMU: open the tray, take the old
 * medium out and drop its nodes, then add the new nodes (built like at
 * start), insert them and close the tray. */
static int change_medium(qv_qmp *qmp, const qv_domdef *newdef, const qv_domdef_disk *old,
                         const qv_domdef_devref *newdev, const char *rundir, const char *pool_dir,
                         bool force, qv_error **err)
{
    const qv_domdef_disk *nd = newdev->dev;
    json_object *a = id_args("id", old->alias);
    json_object_object_add(a, "force", json_object_new_boolean(force));
    int r = qv_qmp_call(qmp, "blockdev-open-tray", a, 0, NULL, err);
    if (r < 0)
        return r;
    if ((r = qv_qmp_call(qmp, "blockdev-remove-medium", id_args("id", old->alias), 0, NULL, err)) < 0)
        return r;
    g_autoptr(GPtrArray) nodes = g_ptr_array_new_with_free_func(g_free);
    disk_nodes(NULL, old, nodes);
    del_nodes(qmp, nodes);
    remove_fdsets(qmp, nodes);
    if (qv_domdef_disk_src_present(&nd->src)) {
        g_autoptr(GPtrArray) items = NULL;
        g_auto(qv_qemu_files) files = { 0 };
        qv_qemu_files_init(&files, qv_qmp_next_fdset(qmp), false);
        qv_build_ctx ctx = { .runtime_dir = rundir, .files = &files.opener,
                             .volume_path = qv_pool_volume_path, .volume_data = (void *)pool_dir };
        if ((r = qv_domxml_build_hotplug(newdef, newdev, &ctx, &items, err)) < 0)
            return r;
        /* Only the medium (its files and block nodes): the drive stays. */
        g_autoptr(GPtrArray) blk = g_ptr_array_new();
        for (guint i = 0; i < items->len; i++) {
            qv_hotplug_item *it = g_ptr_array_index(items, i);
            if (!strcmp(it->opt, "-add-fd") || !strcmp(it->opt, "-blockdev") ||
                !strcmp(it->opt, "-object"))
                g_ptr_array_add(blk, it);
        }
        if ((r = apply_items(qmp, blk, err)) < 0)
            return r;
        g_autofree char *top = nd->has_iotune ? g_strdup_printf("%s-throttle", nd->alias)
                                              : g_strdup_printf("%s-format", nd->alias);
        json_object *ins = id_args("id", nd->alias);
        json_object_object_add(ins, "node-name", json_object_new_string(top));
        if ((r = qv_qmp_call(qmp, "blockdev-insert-medium", ins, 0, NULL, err)) < 0) {
            for (guint j = blk->len; j-- > 0;)
                undo_item(qmp, g_ptr_array_index(blk, j));
            return r;
        }
        return qv_qmp_call(qmp, "blockdev-close-tray", id_args("id", nd->alias), 0, NULL, err);
    }
    return 0;
}

static int check_update(const qv_domdef_disk *cur, const char *what, qv_error **err)
{
    if (cur->device != QV_DISK_DEVICE_CDROM && cur->device != QV_DISK_DEVICE_FLOPPY)
        return qv_error_set(err, -EOPNOTSUPP, "disk %s is not a cdrom or floppy: only the medium of "
                            "removable disks can be updated (%s)", cur->target_dev, what);
    return 0;
}

int qv_domain_update_device(qv_domain *dom, const char *xml, unsigned int flags, qv_error **err)
{
    QV_REMOTE_DOMAIN(dom, qv_remote__qv_domain_update_device(dom, xml, flags, err));
    if (!dom || !xml)
        return qv_error_set(err, -EINVAL, "qv_domain_update_device: dom and xml are required");
    int r = check_flags("qv_domain_update_device", flags, MODIFY_ALL | QV_DOMAIN_DEVICE_MODIFY_FORCE, err);
    if (r < 0)
        return r;
    g_autoptr(qv_domdef) holder = NULL;
    qv_domdef_devref match = { 0 };
    if ((r = qv_domxml_parse_device_match(xml, &holder, &match, err)) < 0)
        return r;
    if (match.cls != QV_DEVCLASS_DISK)
        return qv_error_set(err, -EOPNOTSUPP, "update_device supports cdrom and floppy disks only "
                            "(changing their medium)");
    bool force = flags & QV_DOMAIN_DEVICE_MODIFY_FORCE;
    g_auto(qv_call) c = QV_CALL_INIT;
    qv_domdef_devref ldev = { 0 }, cdev = { 0 };
    r = qv_domain_begin(dom, flags & MODIFY_ALL, &c, err);
    if (r >= 0 && c.cfg && (r = qv_domdef_find_device(c.cfg, &match, &cdev, err)) >= 0)
        r = check_update(cdev.dev, "config", err);
    if (r >= 0 && c.live && (r = qv_domdef_find_device(c.live, &match, &ldev, err)) >= 0)
        r = check_update(ldev.dev, "live", err);
    if (r >= 0 && c.live) {
        qv_domdef_disk *cur = ldev.dev;
        if (!src_same(&cur->src, &((qv_domdef_disk *)match.dev)->src)) {
            /* The new medium as its own disk of a copy, to build its nodes. */
            g_autoptr(qv_domdef) newlive = qv_domdef_copy(c.live);
            qv_domdef_devref nd = { 0 };
            qv_domdef_find_device(newlive, &match, &nd, NULL);
            g_autoptr(qv_domdef) h2 = NULL;
            qv_domdef_devref m2 = { 0 };
            qv_domxml_parse_device_match(xml, &h2, &m2, NULL);
            take_source(nd.dev, m2.dev);
            qv_qmp *qmp = NULL;
            int qlock = -1;
            g_autofree char *dir = runtime_dir(dom);
            g_autofree char *pool_dir = qv_conn_libvirt_dir(dom->conn, "storage");
            if ((r = qv_domain_qmp_open(dom, &qmp, &qlock, err)) >= 0) {
                r = change_medium(qmp, newlive, cur, &nd, dir, pool_dir, force, err);
                qv_domain_qmp_close(qmp, qlock);
                if (r < 0 && err && *err)
                    qv_error_prefix(*err, "changing the medium of %s in domain '%s' failed",
                                    cur->target_dev, dom->name);
            }
            if (r >= 0)
                r = qv_domain_save_live(dom, newlive, err);
        }
    }
    if (r >= 0 && c.cfg) {
        g_autoptr(qv_domdef) h3 = NULL;
        qv_domdef_devref m3 = { 0 };
        if ((r = qv_domxml_parse_device_match(xml, &h3, &m3, err)) >= 0) {
            take_source(cdev.dev, m3.dev);
            r = qv_domain_save_config(dom->conn, c.cfg, err);
        }
    }
    return r < 0 ? r : 0;
}
