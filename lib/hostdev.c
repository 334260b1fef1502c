/* Start-time checks of host devices (see hostdev.h). Everything here reads
 * sysfs and /dev only; nothing is rebound or reset: a PCI device must
 * already be bound to vfio-pci (qvirt does not detach host drivers, even
 * with managed='yes'). */
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "hostdev.h"
#include "tap.h"
#include "netlink.h"

static char *at_root(const char *root, const char *path)
{
    return g_strconcat(root ? root : "", path, NULL);
}

static bool exists(const char *root, const char *path)
{
    g_autofree char *p = at_root(root, path);
    return access(p, F_OK) == 0;
}

static char *pci_name(const qv_domdef_addr *a)
{
    return g_strdup_printf("%04x:%02x:%02x.%x", a->domain, a->bus, a->slot, a->function);
}

/* The basename a sysfs link points at (a driver, an IOMMU group), or NULL. */
static char *link_name(const char *root, const char *path)
{
    g_autofree char *p = at_root(root, path);
    g_autofree char *target = g_file_read_link(p, NULL);
    return target ? g_path_get_basename(target) : NULL;
}

static int need_vfio(const char *root, const char *what, qv_error **err)
{
    if (exists(root, "/dev/vfio/vfio"))
        return 0;
    return qv_error_set(err, -ENODEV, "%s needs VFIO, and this host has no /dev/vfio/vfio (load the vfio-pci module).", what);
}

static int check_pci(const char *root, const qv_domdef_addr *addr, const char *what, qv_error **err)
{
    g_autofree char *name = pci_name(addr);
    g_autofree char *dev = g_strdup_printf("/sys/bus/pci/devices/%s", name);
    if (!exists(root, dev))
        return qv_error_set(err, -ENODEV, "The host has no PCI device %s for %s.", name, what);
    g_autofree char *w = g_strdup_printf("%s (host PCI device %s)", what, name);
    int r = need_vfio(root, w, err);
    if (r < 0)
        return r;
    g_autofree char *drv_link = g_strconcat(dev, "/driver", NULL);
    g_autofree char *driver = link_name(root, drv_link);
    if (!driver || strcmp(driver, "vfio-pci"))
        return qv_error_set(err, -EBUSY, "Host PCI device %s for %s is bound to %s, not to vfio-pci; qvirt does not rebind host devices, so bind it to vfio-pci first.",
                            name, what, driver ? driver : "no driver");
    return 0;
}

static char *scsi_sysfs_dir(const qv_domdef_hostdev *h)
{
    /* <adapter name='scsi_hostN'>: SCSI host N (checked by the parser). */
    return g_strdup_printf("/sys/bus/scsi/devices/%s:%u:%u:%u/scsi_generic", h->scsi_adapter + 9,
                           h->scsi_bus, h->scsi_target, h->scsi_unit);
}

char *qv_hostdev_scsi_generic(void *data, const struct qv_domdef_hostdev *h, qv_error **err)
{
    const char *root = data;
    g_autofree char *dir = scsi_sysfs_dir(h);
    g_autofree char *full = at_root(root, dir);
    g_autoptr(GDir) d = g_dir_open(full, 0, NULL);
    const char *sg = d ? g_dir_read_name(d) : NULL;
    if (!sg) {
        qv_error_set(err, -ENODEV, "The host has no SCSI device %s %u:%u:%u (with a generic node) for %s.",
                     h->scsi_adapter, h->scsi_bus, h->scsi_target, h->scsi_unit, h->alias);
        return NULL;
    }
    g_autofree char *node = g_strconcat("/dev/", sg, NULL);
    return at_root(root, node);
}

int qv_hostdevs_check(const qv_domdef *def, const char *root, qv_error **err)
{
    int r;
    for (guint i = 0; i < def->hostdevs->len; i++) {
        const qv_domdef_hostdev *h = g_ptr_array_index(def->hostdevs, i);
        if (!strcmp(h->type, "pci")) {
            g_autofree char *what = g_strdup_printf("host device %s", h->alias);
            if ((r = check_pci(root, &h->host_addr, what, err)) < 0)
                return r;
        } else if (!strcmp(h->type, "mdev")) {
            g_autofree char *dev = g_strconcat("/sys/bus/mdev/devices/", h->mdev_uuid, NULL);
            if (!exists(root, dev))
                return qv_error_set(err, -ENODEV, "The host has no mediated device %s for %s.", h->mdev_uuid, h->alias);
            g_autofree char *what = g_strdup_printf("Mediated device %s (%s)", h->mdev_uuid, h->alias);
            if ((r = need_vfio(root, what, err)) < 0)
                return r;
        } else if (!strcmp(h->type, "scsi_host")) {
            if (!exists(root, "/dev/vhost-scsi"))
                return qv_error_set(err, -ENODEV, "The host has no /dev/vhost-scsi (the vhost_scsi module) for vhost-scsi host device %s (%s).",
                                    h->alias, h->vhost_wwpn);
        } else if (!strcmp(h->type, "scsi") && !h->iscsi) {   /* an iSCSI LUN is QEMU's to reach */
            g_autofree char *sg = qv_hostdev_scsi_generic((void *)root, h, err);
            if (!sg)
                return -ENODEV;
        }
    }
    for (guint i = 0; i < def->disks->len; i++) {
        const qv_domdef_disk *d = g_ptr_array_index(def->disks, i);
        if (d->src.type != QV_DISK_TYPE_NVME)
            continue;
        g_autofree char *what = g_strdup_printf("NVMe disk %s", d->target_dev);
        if ((r = check_pci(root, &d->src.nvme_addr, what, err)) < 0)
            return r;
    }
    for (guint i = 0; i < def->nets->len; i++) {
        const qv_domdef_net *n = g_ptr_array_index(def->nets, i);
        if (n->type == QV_NET_VDPA && !exists(root, n->source_dev))
            return qv_error_set(err, -ENODEV, "The host has no vDPA device %s for interface %s.", n->source_dev, n->alias);
        if (n->type == QV_NET_HOSTDEV) {
            g_autofree char *what = g_strdup_printf("interface %s", n->alias);
            g_autofree char *name = pci_name(&n->host_addr);
            g_autofree char *physfn = g_strdup_printf("/sys/bus/pci/devices/%s/physfn", name);
            if ((r = check_pci(root, &n->host_addr, what, err)) < 0)
                return r;
            if (!exists(root, physfn))
                return qv_error_set(err, -EINVAL, "Host PCI device %s of interface %s is not an SR-IOV virtual function; pass it with <hostdev type='pci'>.", name, n->alias);
        }
    }
    return 0;
}

static void add_name(GPtrArray *names, char *name)
{
    for (guint i = 0; i < names->len; i++) {
        if (!strcmp(names->pdata[i], name)) {
            g_free(name);
            return;
        }
    }
    g_ptr_array_add(names, name);
}

static void add_group(const char *root, const char *sysfs_dev, GPtrArray *names)
{
    g_autofree char *link = g_strconcat(sysfs_dev, "/iommu_group", NULL);
    g_autofree char *group = link_name(root, link);
    add_name(names, g_strdup("/dev/vfio/vfio"));
    if (group)
        add_name(names, g_strconcat("/dev/vfio/", group, NULL));
}

void qv_hostdevs_vfio_nodes(const qv_domdef *def, const char *root, GPtrArray *names)
{
    for (guint i = 0; def->hostdevs && i < def->hostdevs->len; i++) {
        const qv_domdef_hostdev *h = g_ptr_array_index(def->hostdevs, i);
        g_autofree char *dev = NULL;
        if (!strcmp(h->type, "pci")) {
            g_autofree char *name = pci_name(&h->host_addr);
            dev = g_strconcat("/sys/bus/pci/devices/", name, NULL);
        } else if (!strcmp(h->type, "mdev")) {
            dev = g_strconcat("/sys/bus/mdev/devices/", h->mdev_uuid, NULL);
        }
        if (dev)
            add_group(root, dev, names);
    }
    for (guint i = 0; def->nets && i < def->nets->len; i++) {
        const qv_domdef_net *n = g_ptr_array_index(def->nets, i);
        if (n->type != QV_NET_HOSTDEV)
            continue;
        g_autofree char *name = pci_name(&n->host_addr);
        g_autofree char *dev = g_strconcat("/sys/bus/pci/devices/", name, NULL);
        add_group(root, dev, names);
    }
    for (guint i = 0; def->disks && i < def->disks->len; i++) {
        const qv_domdef_disk *d = g_ptr_array_index(def->disks, i);
        if (d->src.type != QV_DISK_TYPE_NVME)
            continue;
        g_autofree char *name = pci_name(&d->src.nvme_addr);
        g_autofree char *dev = g_strconcat("/sys/bus/pci/devices/", name, NULL);
        add_group(root, dev, names);
    }
}

/* The PF's network link and the VF's index of SR-IOV VF dev (a sysfs PCI
 * device folder below root): from physfn/net/ and physfn/virtfnN. */
static int vf_of(const char *root, const char *dev, char **pf, int *vf)
{
    g_autofree char *netdir = g_strdup_printf("%s%s/physfn/net", root, dev);
    g_autoptr(GDir) d = g_dir_open(netdir, 0, NULL);
    const char *first = d ? g_dir_read_name(d) : NULL;
    if (!first)
        return -ENODEV;
    g_autofree char *self = g_path_get_basename(dev);
    for (int i = 0; i < 4096; i++) {
        g_autofree char *link = g_strdup_printf("%s/physfn/virtfn%d", dev, i);
        g_autofree char *target = link_name(root, link);
        if (!target)
            break;
        if (!strcmp(target, self)) {
            *pf = g_strdup(first);
            *vf = i;
            return 0;
        }
    }
    return -ENODEV;
}

int qv_hostdev_nets_set_mac(const qv_domdef *def, const char *root, qv_error **err)
{
    for (guint i = 0; i < def->nets->len; i++) {
        const qv_domdef_net *n = g_ptr_array_index(def->nets, i);
        if (n->type != QV_NET_HOSTDEV)
            continue;
        if (qv_net_check_virtualport(n, err) < 0)
            return -EOPNOTSUPP;
        g_autofree char *name = pci_name(&n->host_addr);
        g_autofree char *dev = g_strconcat("/sys/bus/pci/devices/", name, NULL);
        g_autofree char *pf = NULL;
        int vf = -1;
        if (vf_of(root, dev, &pf, &vf) < 0)
            return qv_error_set(err, -ENODEV, "Interface %s: cannot find the SR-IOV physical function and index of virtual function %s.", n->alias, name);
        int r = qv_nl_vf_set_mac(pf, vf, n->mac, err);
        if (r < 0) {
            if (err && *err)
                qv_error_prefix(*err, "interface %s", n->alias);
            return r;
        }
    }
    return 0;
}
