/* Post-parse defaults: every decision that must survive a restart unchanged
 * (machine type, implicit controllers, PCI and drive addresses, USB ports,
 * MAC addresses, aliases) is made here once and then written into the XML,
 * the way libvirt keeps the guest ABI stable. */
#include <stdlib.h>
#include <string.h>

#include "domxml-priv.h"

#define DEFAULT_EMULATOR "/usr/bin/qemu-system-x86_64"

/* ---- helpers ---- */

/* "vdb" -> 1, "sdaa" -> 26: the index libvirt derives from a target name. */
static int disk_name_index(const char *name, const char *prefix_out[])
{
    static const char *const prefixes[] = { "vd", "sd", "hd", "fd", "xvd", "ubd", NULL };
    for (int i = 0; prefixes[i]; i++) {
        size_t l = strlen(prefixes[i]);
        if (strncmp(name, prefixes[i], l) != 0)
            continue;
        const char *p = name + l;
        if (!*p)
            return -1;
        /* Bijective base 26: a=1 ... z=26, aa=27. */
        long idx = 0;
        for (; *p; p++) {
            if (*p < 'a' || *p > 'z' || idx > 100000)
                return -1;
            idx = idx * 26 + (*p - 'a' + 1);
        }
        if (prefix_out)
            *prefix_out = prefixes[i];
        return (int)(idx - 1);
    }
    return -1;
}

static qv_domdef_controller *add_controller(qv_domdef *def, int type, unsigned int index,
                                            const char *model)
{
    qv_domdef_controller *c = g_new0(qv_domdef_controller, 1);
    c->type = type;
    c->index = index;
    c->model = g_strdup(model);
    c->ports = c->vectors = c->queues = -1;
    c->chassis = c->port = c->chassis_nr = c->busnr = c->numa_node = -1;
    c->master_startport = -1;
    g_ptr_array_add(def->controllers, c);
    return c;
}

static qv_domdef_controller *ensure_controller(qv_domdef *def, int type, unsigned int index,
                                               const char *model)
{
    qv_domdef_controller *c = qv_domdef_find_controller(def, type, index);
    return c ? c : add_controller(def, type, index, model);
}

/* ---- PCI slot allocation ---- */
typedef struct pci_alloc {
    guint32 used[256];        /* bit per slot, per bus; a slot with any function used is taken */
    guint8 fns[256][32];      /* bit per function of each slot */
    guint32 aggregate;        /* slots of bus 0 that hold only pcie-root-ports: more may join */
} pci_alloc;

static int pci_reserve(pci_alloc *pa, const qv_domdef_addr *a, qv_error **err)
{
    if (a->type != QV_ADDR_PCI)
        return 0;
    /* Multifunction devices share a slot, one function each; a slot the
     * chipset holds (no function bits) takes no function 0. */
    if ((a->function == 0 && (pa->used[a->bus] & (1u << a->slot)) && !pa->fns[a->bus][a->slot]) ||
        (pa->fns[a->bus][a->slot] & (1u << a->function)))
        return qv_error_set(err, -EINVAL, "PCI address %02x:%02x.%x is used by two devices.",
                            a->bus, a->slot, a->function);
    pa->used[a->bus] |= 1u << a->slot;
    pa->fns[a->bus][a->slot] |= (guint8)(1u << a->function);
    return 0;
}

static void pci_set(pci_alloc *pa, qv_domdef_addr *a, unsigned int bus, unsigned int slot,
                    unsigned int function)
{
    pa->used[bus] |= 1u << slot;
    pa->fns[bus][slot] |= (guint8)(1u << function);
    a->type = QV_ADDR_PCI;
    a->bus = bus;
    a->slot = slot;
    a->function = function;
}

static int pci_assign(pci_alloc *pa, qv_domdef_addr *a, const char *what, qv_error **err)
{
    if (a->type == QV_ADDR_PCI)
        return 0;
    if (a->type != QV_ADDR_NONE)
        return qv_error_set(err, -EINVAL, "The %s needs a PCI address, not another address type.", what);
    for (unsigned int slot = 1; slot < 32; slot++) {
        if (!(pa->used[0] & (1u << slot))) {
            pci_set(pa, a, 0, slot, 0);
            return 0;
        }
    }
    return qv_error_set(err, -ENOSPC, "No free PCI slot on bus 0 for the %s; add a pci-bridge controller and give addresses.", what);
}

static bool video_is_pci(const qv_domdef_video *v)
{
    return strcmp(v->model, "ramfb") && strcmp(v->model, "none");
}

static bool sound_is_pci(const qv_domdef_sound *s)
{
    return strcmp(s->model, "sb16") && strcmp(s->model, "usb");
}

static bool controller_is_pci(const qv_domdef *def, const qv_domdef_controller *c, bool q35)
{
    switch (c->type) {
    case QV_CTRL_PCI:
        return strcmp(c->model, "pci-root") && strcmp(c->model, "pcie-root");
    case QV_CTRL_USB:
        return strcmp(c->model, "none") != 0;
    case QV_CTRL_IDE:
        return false;
    case QV_CTRL_SATA:
        return !(q35 && c->index == 0);
    case QV_CTRL_FDC:
    case QV_CTRL_CCID:
        return false;
    default:
        return true;
    }
    (void)def;
}

/* ---- USB ports ---- */
typedef struct usb_alloc {
    unsigned int next_port[256];
    bool have_bus[256];
} usb_alloc;

static int usb_assign(usb_alloc *ua, qv_domdef_addr *a, const char *what, qv_error **err)
{
    if (a->type == QV_ADDR_NONE) {
        a->type = QV_ADDR_USB;
        a->bus = 0;
    }
    if (a->type != QV_ADDR_USB)
        return qv_error_set(err, -EINVAL, "The %s needs a USB address.", what);
    if (!ua->have_bus[a->bus])
        return qv_error_set(err, -EINVAL, "The %s needs USB controller %u, but the domain has no such controller.", what, a->bus);
    if (!a->usb_port)
        a->usb_port = qv_strdup_uint("", ++ua->next_port[a->bus]);
    return 0;
}

static void usb_reserve(usb_alloc *ua, const qv_domdef_addr *a)
{
    if (a->type == QV_ADDR_USB && a->usb_port && !strchr(a->usb_port, '.')) {
        unsigned int p = (unsigned int)atoi(a->usb_port);
        if (p > ua->next_port[a->bus])
            ua->next_port[a->bus] = p;
    }
}

static void set_alias(char **alias, char *value)
{
    if (*alias)
        g_free(value);
    else
        *alias = value;
}

static int post_parse_disks(qv_domdef *def, bool q35, qv_error **err)
{
    for (guint i = 0; i < def->disks->len; i++) {
        qv_domdef_disk *d = g_ptr_array_index(def->disks, i);
        const char *prefix = NULL;
        int idx = disk_name_index(d->target_dev, &prefix);
        if (idx < 0)
            return qv_error_set(err, -EINVAL, "/domain/devices/disk[%u]: invalid target device name '%s'.", i + 1, d->target_dev);
        if (!d->bus) {
            if (!strcmp(prefix, "vd")) d->bus = QV_DISK_BUS_VIRTIO;
            else if (!strcmp(prefix, "sd")) d->bus = QV_DISK_BUS_SCSI;
            else if (!strcmp(prefix, "hd")) d->bus = QV_DISK_BUS_IDE;
            else if (!strcmp(prefix, "fd")) d->bus = QV_DISK_BUS_FDC;
            else
                return qv_error_set(err, -EINVAL, "/domain/devices/disk[%u]: cannot infer a bus from '%s'; give <target bus=...>.", i + 1, d->target_dev);
        }
        for (guint j = 0; j < i; j++) {
            qv_domdef_disk *o = g_ptr_array_index(def->disks, j);
            if (!strcmp(o->target_dev, d->target_dev))
                return qv_error_set(err, -EINVAL, "/domain/devices/disk[%u]: target '%s' is used twice.", i + 1, d->target_dev);
        }
        if (d->bus == QV_DISK_BUS_IDE && q35)
            return qv_error_set(err, -EINVAL, "/domain/devices/disk[%u]: IDE is not available on q35 machines; use bus='sata'.", i + 1);
        if (d->device == QV_DISK_DEVICE_FLOPPY && d->bus != QV_DISK_BUS_FDC)
            return qv_error_set(err, -EINVAL, "/domain/devices/disk[%u]: a floppy must be on the fdc bus.", i + 1);
        if (d->bus == QV_DISK_BUS_FDC && d->device != QV_DISK_DEVICE_FLOPPY)
            return qv_error_set(err, -EINVAL, "/domain/devices/disk[%u]: only floppies go on the fdc bus.", i + 1);
        if (d->model && d->bus != QV_DISK_BUS_VIRTIO)
            return qv_error_set(err, -EINVAL, "/domain/devices/disk[%u]: disk model '%s' needs bus='virtio'.", i + 1, d->model);
        if (d->device == QV_DISK_DEVICE_CDROM && d->bus == QV_DISK_BUS_VIRTIO)
            return qv_error_set(err, -EINVAL, "/domain/devices/disk[%u]: a cdrom cannot be on the virtio bus; use sata, ide or scsi.", i + 1);
        if (d->device == QV_DISK_DEVICE_LUN && d->bus != QV_DISK_BUS_SCSI)
            return qv_error_set(err, -EINVAL, "/domain/devices/disk[%u]: a lun disk must be on the scsi bus.", i + 1);
        if (!d->driver_name)
            d->driver_name = g_strdup("qemu");
        if (!d->src.format && (d->src.path || d->src.type == QV_DISK_TYPE_NETWORK || d->src.type == QV_DISK_TYPE_NVME))
            d->src.format = g_strdup("raw");
        if (d->device == QV_DISK_DEVICE_CDROM)
            d->readonly = true;
        if (d->iothread && d->iothread > def->iothreads)
            return qv_error_set(err, -EINVAL, "/domain/devices/disk[%u]: iothread %u does not exist (the domain has %u).", i + 1, d->iothread, def->iothreads);

        if (d->addr.type == QV_ADDR_NONE) {
            switch (d->bus) {
            case QV_DISK_BUS_IDE:
                d->addr.type = QV_ADDR_DRIVE;
                d->addr.controller = idx / 4;
                d->addr.bus = (idx % 4) / 2;
                d->addr.unit = idx % 2;
                break;
            case QV_DISK_BUS_SATA:
                d->addr.type = QV_ADDR_DRIVE;
                d->addr.controller = idx / 6;
                d->addr.unit = idx % 6;
                break;
            case QV_DISK_BUS_SCSI:
                d->addr.type = QV_ADDR_DRIVE;
                d->addr.controller = idx / 7;
                d->addr.unit = idx % 7;
                break;
            case QV_DISK_BUS_FDC:
                d->addr.type = QV_ADDR_DRIVE;
                d->addr.unit = idx;
                if (idx > 1)
                    return qv_error_set(err, -EINVAL, "/domain/devices/disk[%u]: only fda and fdb exist.", i + 1);
                break;
            default:
                break;
            }
        }
        const char *bus_alias = NULL;
        switch (d->bus) {
        case QV_DISK_BUS_VIRTIO:
            set_alias(&d->alias, qv_strdup_int("virtio-disk", idx));
            break;
        case QV_DISK_BUS_IDE:
            set_alias(&d->alias, qv_strdup_uints("ide", '-', 3, (const unsigned int[]){ d->addr.controller, d->addr.bus, d->addr.unit }));
            break;
        case QV_DISK_BUS_SATA:
            set_alias(&d->alias, qv_strdup_uints("sata", '-', 3, (const unsigned int[]){ d->addr.controller, d->addr.bus, d->addr.unit }));
            break;
        case QV_DISK_BUS_SCSI:
            set_alias(&d->alias, qv_strdup_uints("scsi", '-', 4, (const unsigned int[]){ d->addr.controller, d->addr.bus, d->addr.target, d->addr.unit }));
            break;
        case QV_DISK_BUS_USB:
            set_alias(&d->alias, qv_strdup_int("usb-disk", idx));
            break;
        case QV_DISK_BUS_FDC:
            set_alias(&d->alias, qv_strdup_uint("fdc0-0-", d->addr.unit));
            break;
        }
        (void)bus_alias;
        if (d->addr.type == QV_ADDR_DRIVE) {
            /* The limit <address controller=...> has (parse-devices.c), for
             * a controller derived from a long target name ("sdzzz"). */
            if (d->addr.controller > 255)
                return qv_error_set(err, -EINVAL, "/domain/devices/disk[%u]: target '%s' needs drive controller %u, out of range (max 255).", i + 1, d->target_dev, d->addr.controller);
            if (d->bus == QV_DISK_BUS_IDE && (q35 || d->addr.controller > 0 || d->addr.bus > 1 || d->addr.unit > 1))
                return qv_error_set(err, -EINVAL, "/domain/devices/disk[%u]: IDE address out of range (one controller, buses 0-1, units 0-1).", i + 1);
            if (d->bus == QV_DISK_BUS_SATA && (d->addr.bus != 0 || d->addr.unit > 5))
                return qv_error_set(err, -EINVAL, "/domain/devices/disk[%u]: SATA address out of range (bus 0, units 0-5).", i + 1);
            if (d->bus == QV_DISK_BUS_IDE)
                ensure_controller(def, QV_CTRL_IDE, 0, NULL);
            else if (d->bus == QV_DISK_BUS_SATA)
                ensure_controller(def, QV_CTRL_SATA, d->addr.controller, NULL);
            else if (d->bus == QV_DISK_BUS_SCSI)
                ensure_controller(def, QV_CTRL_SCSI, d->addr.controller, "virtio-scsi");
        }
        for (guint j = 0; j < i; j++) {
            qv_domdef_disk *o = g_ptr_array_index(def->disks, j);
            if (o->bus == d->bus && o->addr.type == QV_ADDR_DRIVE && d->addr.type == QV_ADDR_DRIVE &&
                o->addr.controller == d->addr.controller && o->addr.bus == d->addr.bus &&
                o->addr.target == d->addr.target && o->addr.unit == d->addr.unit)
                return qv_error_set(err, -EINVAL, "/domain/devices/disk[%u]: drive address is already used by '%s'.", i + 1, o->target_dev);
        }
    }
    return 0;
}

static bool scsi_unit_used(const qv_domdef *def, const qv_domdef_hostdev *self, unsigned int ctrl,
                           unsigned int unit)
{
    for (guint i = 0; i < def->disks->len; i++) {
        const qv_domdef_disk *d = g_ptr_array_index(def->disks, i);
        if (d->bus == QV_DISK_BUS_SCSI && d->addr.type == QV_ADDR_DRIVE && d->addr.controller == ctrl &&
            d->addr.bus == 0 && d->addr.target == 0 && d->addr.unit == unit)
            return true;
    }
    for (guint i = 0; i < def->hostdevs->len; i++) {
        const qv_domdef_hostdev *h = g_ptr_array_index(def->hostdevs, i);
        if (h != self && h->addr.type == QV_ADDR_DRIVE && h->addr.controller == ctrl &&
            h->addr.bus == 0 && h->addr.target == 0 && h->addr.unit == unit)
            return true;
    }
    return false;
}

/* SCSI host devices sit on the guest's SCSI bus like disks: one without an
 * address takes the first free unit of target 0, seven to a controller
 * (libvirt's virDomainHostdevAssignAddress). */
static int post_parse_scsi_hostdevs(qv_domdef *def, qv_error **err)
{
    for (guint i = 0; i < def->hostdevs->len; i++) {
        qv_domdef_hostdev *h = g_ptr_array_index(def->hostdevs, i);
        if (!strcmp(h->type, "scsi")) {
            if (h->addr.type == QV_ADDR_NONE) {
                unsigned int n = 0;
                while (scsi_unit_used(def, h, n / 7, n % 7))
                    n++;
                h->addr.type = QV_ADDR_DRIVE;
                h->addr.controller = n / 7;
                h->addr.unit = n % 7;
            }
            if (h->addr.type != QV_ADDR_DRIVE)
                return qv_error_set(err, -EINVAL, "/domain/devices/hostdev[%u]: a SCSI host device needs a drive address.", i + 1);
            if (h->addr.controller > 255)
                return qv_error_set(err, -EINVAL, "/domain/devices/hostdev[%u]: no SCSI controller index is left.", i + 1);
            if (scsi_unit_used(def, h, h->addr.controller, h->addr.unit) && h->addr.bus == 0 && h->addr.target == 0)
                return qv_error_set(err, -EINVAL, "/domain/devices/hostdev[%u]: its drive address is already used.", i + 1);
            ensure_controller(def, QV_CTRL_SCSI, h->addr.controller, "virtio-scsi");
        } else if (!strcmp(h->type, "pci") || !strcmp(h->type, "mdev") || !strcmp(h->type, "scsi_host")) {
            if (h->addr.type != QV_ADDR_NONE && h->addr.type != QV_ADDR_PCI)
                return qv_error_set(err, -EINVAL, "/domain/devices/hostdev[%u]: a %s needs a PCI address.", i + 1,
                                    !strcmp(h->type, "pci") ? "PCI host device" : "mediated device");
        }
    }
    return 0;
}

static int post_parse_chrs(qv_domdef *def, qv_error **err)
{
    int nserial = 0, nparallel = 0, nchannel = 0, nconsole = 0;
    unsigned int vs_port = 1;
    bool need_vserial = false;
    qv_domdef_chr *serial0 = NULL;
    for (guint i = 0; i < def->chrs->len; i++) {
        qv_domdef_chr *c = g_ptr_array_index(def->chrs, i);
        if (c->kind == QV_CHR_SERIAL && (!serial0 || c->target_port == 0))
            serial0 = serial0 && c->target_port != 0 ? serial0 : c;
        if (c->kind == QV_CHR_CHANNEL && c->addr.type == QV_ADDR_VIRTIO_SERIAL && c->addr.port >= vs_port)
            vs_port = c->addr.port + 1;
    }
    /* A serial console on x86 is serial0; libvirt adds the serial port when
     * only the console is given. */
    for (guint i = 0; i < def->chrs->len; i++) {
        qv_domdef_chr *c = g_ptr_array_index(def->chrs, i);
        if (c->kind != QV_CHR_CONSOLE)
            continue;
        if (!c->target_type)
            c->target_type = g_strdup("serial");
        if (!strcmp(c->target_type, "serial") && !serial0) {
            qv_domdef_chr *s = g_new0(qv_domdef_chr, 1);
            s->kind = QV_CHR_SERIAL;
            s->src = c->src;
            s->src.path = g_strdup(c->src.path);
            s->src.host = g_strdup(c->src.host);
            s->src.service = g_strdup(c->src.service);
            s->src.bind_host = g_strdup(c->src.bind_host);
            s->src.bind_service = g_strdup(c->src.bind_service);
            s->src.log_file = g_strdup(c->src.log_file);
            s->src.channel = g_strdup(c->src.channel);
            s->src.mouse_mode = g_strdup(c->src.mouse_mode);
            s->target_port = 0;
            g_ptr_array_insert(def->chrs, i, s);
            serial0 = s;
            i++;
        }
    }
    for (guint i = 0; i < def->chrs->len; i++) {
        qv_domdef_chr *c = g_ptr_array_index(def->chrs, i);
        switch (c->kind) {
        case QV_CHR_SERIAL:
            if (!c->target_type)
                c->target_type = g_strdup("isa-serial");
            if (!c->target_model)
                c->target_model = g_strdup(!strcmp(c->target_type, "isa-serial") ? "isa-serial" :
                                           !strcmp(c->target_type, "pci-serial") ? "pci-serial" : "usb-serial");
            if (c->target_port < 0)
                c->target_port = nserial;
            if (!strcmp(c->target_type, "isa-serial") && c->target_port > 3)
                return qv_error_set(err, -EINVAL, "/domain/devices/serial[%d]: at most 4 ISA serial ports exist.", nserial + 1);
            set_alias(&c->alias, qv_strdup_int("serial", c->target_port));
            nserial++;
            break;
        case QV_CHR_PARALLEL:
            if (c->target_port < 0)
                c->target_port = nparallel;
            set_alias(&c->alias, qv_strdup_int("parallel", c->target_port));
            nparallel++;
            break;
        case QV_CHR_CONSOLE:
            if (c->target_port < 0)
                c->target_port = !strcmp(c->target_type, "serial") ? 0 : nconsole;
            if (!strcmp(c->target_type, "virtio")) {
                need_vserial = true;
                if (c->target_port == 0 && serial0)
                    c->target_port = nconsole ? nconsole : 1;
            }
            set_alias(&c->alias, qv_strdup_int(!strcmp(c->target_type, "serial") ? "serial" : "console",
                                               c->target_port));
            nconsole++;
            break;
        case QV_CHR_CHANNEL:
            if (!strcmp(c->target_type, "guestfwd")) {
                /* On a user-mode netdev of its own, not virtio-serial. */
                if (c->addr.type != QV_ADDR_NONE)
                    return qv_error_set(err, -EINVAL, "/domain/devices/channel[%d]: a guestfwd channel takes no address.", nchannel + 1);
                set_alias(&c->alias, qv_strdup_uint("channel", (unsigned int)nchannel));
                nchannel++;
                break;
            }
            need_vserial = true;
            if (c->addr.type == QV_ADDR_NONE) {
                c->addr.type = QV_ADDR_VIRTIO_SERIAL;
                c->addr.port = vs_port++;
                /* The limit <address type='virtio-serial' port=...> has
                 * (parse-devices.c), for a port counted past the last. */
                if (c->addr.port > 31)
                    return qv_error_set(err, -EINVAL, "/domain/devices/channel[%d]: the virtio-serial ports run out at 31; give the channel an <address> with a free port.", nchannel + 1);
            } else if (c->addr.type != QV_ADDR_VIRTIO_SERIAL) {
                return qv_error_set(err, -EINVAL, "/domain/devices/channel[%d]: a virtio channel needs a virtio-serial address.", nchannel + 1);
            }
            if (c->addr.port == 0)
                return qv_error_set(err, -EINVAL, "/domain/devices/channel[%d]: virtio-serial port 0 is reserved for consoles.", nchannel + 1);
            set_alias(&c->alias, qv_strdup_uint("channel", (unsigned int)nchannel));
            nchannel++;
            break;
        }
    }
    /* A clash names the second device by its XPath, as parse errors do. */
    static const char *const kind_names[] = { "serial", "console", "parallel", "channel" };
    for (guint i = 0; i < def->chrs->len; i++) {
        qv_domdef_chr *c = g_ptr_array_index(def->chrs, i);
        unsigned int nth = 1;
        for (guint j = 0; j < i; j++)
            nth += ((qv_domdef_chr *)g_ptr_array_index(def->chrs, j))->kind == c->kind;
        for (guint j = 0; j < i; j++) {
            qv_domdef_chr *o = g_ptr_array_index(def->chrs, j);
            if (o->kind == c->kind && o->target_port == c->target_port && c->kind != QV_CHR_CHANNEL)
                return qv_error_set(err, -EINVAL, "/domain/devices/%s[%u]/target: another %s already uses target port %d.",
                                    kind_names[c->kind], nth, kind_names[c->kind], c->target_port);
            if (c->kind == QV_CHR_CHANNEL && o->kind == QV_CHR_CHANNEL &&
                c->addr.type == QV_ADDR_VIRTIO_SERIAL && o->addr.type == QV_ADDR_VIRTIO_SERIAL &&
                o->addr.controller == c->addr.controller && o->addr.port == c->addr.port)
                return qv_error_set(err, -EINVAL, "/domain/devices/channel[%u]/address: another channel already uses virtio-serial port %u.",
                                    nth, c->addr.port);
        }
    }
    if (need_vserial)
        ensure_controller(def, QV_CTRL_VIRTIO_SERIAL, 0, NULL);
    bool spice = false;
    for (guint i = 0; i < def->graphics->len; i++)
        spice |= ((qv_domdef_graphics *)g_ptr_array_index(def->graphics, i))->type == QV_GFX_SPICE;
    for (guint i = 0; i < def->chrs->len && !spice; i++) {
        qv_domdef_chr *c = g_ptr_array_index(def->chrs, i);
        if (c->src.type == QV_CHR_SPICEPORT)
            return qv_error_set(err, -EINVAL, "The spiceport character device %s needs <graphics type='spice'>.", c->alias);
    }
    return 0;
}

/* libvirt's qemuDomainAddressFindNewBusNr: an expander bus without busNr
 * gets two below the lowest one given (the buses behind it count up
 * from there), the first 254. */
static int new_bus_nr(const qv_domdef *def)
{
    int lowest = 256;
    for (guint i = 0; i < def->controllers->len; i++) {
        const qv_domdef_controller *o = g_ptr_array_index(def->controllers, i);
        if (o->type == QV_CTRL_PCI && o->model && g_str_has_suffix(o->model, "-expander-bus") &&
            o->busnr >= 0 && o->busnr < lowest)
            lowest = o->busnr;
    }
    return lowest <= 2 ? -1 : lowest - 2;
}

/* Expander buses (pxb, pxb-pcie) and the root bus's 64-bit hole. */
static int check_pci_extras(qv_domdef *def, qv_domdef_controller *c, guint i, bool q35, qv_error **err)
{
    bool pxb = !strcmp(c->model, "pci-expander-bus"), pxbe = !strcmp(c->model, "pcie-expander-bus");
    if (pxb && q35)
        return qv_error_set(err, -EINVAL, "/domain/devices/controller[%u]: a pci-expander-bus needs a pc machine; q35 takes pcie-expander-bus.", i + 1);
    if (pxbe && !q35)
        return qv_error_set(err, -EINVAL, "/domain/devices/controller[%u]: a pcie-expander-bus needs a q35 machine.", i + 1);
    if (c->numa_node >= 0 && !pxb && !pxbe)
        return qv_error_set(err, -EINVAL, "/domain/devices/controller[%u]: only expander buses take a NUMA <node>.", i + 1);
    if (c->numa_node >= 0 && (!def->cpu.cells || (guint)c->numa_node >= def->cpu.cells->len))
        return qv_error_set(err, -EINVAL, "/domain/devices/controller[%u]: NUMA node %d is not one of the guest's <cpu><numa> cells.", i + 1, c->numa_node);
    if (pxb || pxbe) {
        if (c->busnr < 0 && (c->busnr = new_bus_nr(def)) < 0)
            return qv_error_set(err, -EINVAL, "/domain/devices/controller[%u]: no bus number is left for another expander bus; give <target busNr=...>.", i + 1);
        if (c->busnr < 1 || c->busnr > 254)
            return qv_error_set(err, -EINVAL, "/domain/devices/controller[%u]: busNr must be from 1 to 254.", i + 1);
    }
    if (c->has_pcihole64 && c->index != 0)
        return qv_error_set(err, -EINVAL, "/domain/devices/controller[%u]: only the root bus (index 0) has a pcihole64.", i + 1);
    return 0;
}

static int check_controllers(qv_domdef *def, bool q35, qv_error **err)
{
    for (guint i = 0; i < def->controllers->len; i++) {
        qv_domdef_controller *c = g_ptr_array_index(def->controllers, i);
        switch (c->type) {
        case QV_CTRL_PCI:
            if (!c->model)
                c->model = g_strdup(c->index == 0 ? (q35 ? "pcie-root" : "pci-root") :
                                    (q35 ? "pcie-root-port" : "pci-bridge"));
            if (c->index == 0 && strcmp(c->model, q35 ? "pcie-root" : "pci-root"))
                return qv_error_set(err, -EINVAL, "/domain/devices/controller[%u]: PCI controller 0 must be %s for this machine.", i + 1, q35 ? "pcie-root" : "pci-root");
            if (c->index != 0 && (!strcmp(c->model, "pci-root") || !strcmp(c->model, "pcie-root")))
                return qv_error_set(err, -EINVAL, "/domain/devices/controller[%u]: a root bus must have index 0.", i + 1);
            if (!strcmp(c->model, "pcie-root-port") && !q35)
                return qv_error_set(err, -EINVAL, "/domain/devices/controller[%u]: pcie-root-port needs a q35 machine.", i + 1);
            if (check_pci_extras(def, c, i, q35, err) < 0)
                return -EINVAL;
            set_alias(&c->alias, c->index == 0 && q35 ? g_strdup("pcie.0") : qv_strdup_uint("pci.", c->index));
            break;
        case QV_CTRL_USB:
            if (!c->model)
                c->model = g_strdup(q35 ? "qemu-xhci" : "piix3-uhci");
            set_alias(&c->alias, c->index == 0 ? g_strdup("usb") : qv_strdup_uint("usb", c->index));
            if (c->master_startport >= 0) {
                const qv_domdef_controller *m = NULL;
                for (guint j = 0; j < def->controllers->len && !m; j++) {
                    const qv_domdef_controller *o = g_ptr_array_index(def->controllers, j);
                    if (o->type == QV_CTRL_USB && o->index == c->index && o->master_startport < 0)
                        m = o;
                }
                if (!m || !m->model || (strcmp(m->model, "ich9-ehci1") && strcmp(m->model, "ehci")))
                    return qv_error_set(err, -EINVAL, "/domain/devices/controller[%u]: the USB companion %s needs an ich9-ehci1 controller with index %u as its master.", i + 1, c->model, c->index);
            }
            if (!strcmp(c->model, "piix3-uhci") && c->index == 0 && !q35 && c->addr.type == QV_ADDR_NONE) {
                c->addr.type = QV_ADDR_PCI;
                c->addr.slot = 1;
                c->addr.function = 2;
            }
            break;
        case QV_CTRL_IDE:
            if (q35)
                return qv_error_set(err, -EINVAL, "/domain/devices/controller[%u]: IDE controllers are not available on q35 machines.", i + 1);
            if (c->index != 0)
                return qv_error_set(err, -EINVAL, "/domain/devices/controller[%u]: only the built-in IDE controller (index 0) exists.", i + 1);
            set_alias(&c->alias, g_strdup("ide"));
            if (c->addr.type == QV_ADDR_NONE) {
                c->addr.type = QV_ADDR_PCI;
                c->addr.slot = 1;
                c->addr.function = 1;
            }
            break;
        case QV_CTRL_SATA:
            set_alias(&c->alias, q35 && c->index == 0 ? g_strdup("ide") : qv_strdup_uint("sata", c->index));
            if (q35 && c->index == 0 && c->addr.type == QV_ADDR_NONE) {
                c->addr.type = QV_ADDR_PCI;
                c->addr.slot = 0x1f;
                c->addr.function = 2;
            }
            break;
        case QV_CTRL_SCSI:
            if (!c->model)
                c->model = g_strdup("virtio-scsi");
            if (strcmp(c->model, "virtio-scsi") && strcmp(c->model, "lsilogic") &&
                !g_str_has_prefix(c->model, "virtio-") /* -transitional, -non-transitional */)
                return qv_error_set(err, -EINVAL, "/domain/devices/controller[%u]: unsupported SCSI model '%s'.", i + 1, c->model);
            set_alias(&c->alias, qv_strdup_uint("scsi", c->index));
            break;
        case QV_CTRL_VIRTIO_SERIAL:
            set_alias(&c->alias, qv_strdup_uint("virtio-serial", c->index));
            break;
        case QV_CTRL_CCID:
            set_alias(&c->alias, qv_strdup_uint("ccid", c->index));
            break;
        case QV_CTRL_FDC:
            set_alias(&c->alias, qv_strdup_uint("fdc", c->index));
            break;
        }
        if (c->iothread && c->iothread > def->iothreads)
            return qv_error_set(err, -EINVAL, "/domain/devices/controller[%u]: iothread %u does not exist.", i + 1, c->iothread);
    }
    return 0;
}

/* ---- q35: integrated devices, root ports and the PCI bridge ---- */

/* Where libvirt puts a device on q35 (qemuDomainDeviceCalculatePCIConnectFlags,
 * simplified): integrated into pcie.0, into a pcie-root-port of its own
 * (hotpluggable PCIe endpoints: virtio, xHCI, e1000e), or into a
 * conventional PCI slot of a pcie-to-pci-bridge. */
enum pci_conn { CONN_ROOT, CONN_PCIE, CONN_PCI };

static bool is_root_port(const qv_domdef_controller *c)
{
    return c->type == QV_CTRL_PCI && c->model && (!strcmp(c->model, "pcie-root-port") ||
                                                  !strcmp(c->model, "pcie-switch-downstream-port"));
}

static bool is_pci_bridge(const qv_domdef_controller *c)
{
    return c->type == QV_CTRL_PCI && c->model && (!strcmp(c->model, "pci-bridge") ||
                                                  !strcmp(c->model, "pcie-to-pci-bridge"));
}

static bool is_usb2_group(const qv_domdef_controller *c)
{
    return c->type == QV_CTRL_USB && c->model &&
           (!strcmp(c->model, "ich9-ehci1") || c->master_startport >= 0);
}

static int controller_conn(const qv_domdef_controller *c)
{
    switch (c->type) {
    case QV_CTRL_PCI:
        return !strcmp(c->model, "pcie-to-pci-bridge") || !strcmp(c->model, "pcie-switch-upstream-port")
               ? CONN_PCIE : CONN_ROOT;
    case QV_CTRL_USB:
        return !strcmp(c->model, "qemu-xhci") || !strcmp(c->model, "nec-xhci") ? CONN_PCIE :
               g_str_has_prefix(c->model, "ich9-") ? CONN_ROOT : CONN_PCI;
    case QV_CTRL_SCSI:
        return !strcmp(c->model, "lsilogic") || qv_virtio_transitional(c->model) ? CONN_PCI : CONN_PCIE;
    case QV_CTRL_VIRTIO_SERIAL:
        return qv_virtio_transitional(c->model) ? CONN_PCI : CONN_PCIE;
    default:
        return CONN_ROOT;
    }
}

/* Whether another process may map all guest RAM (vhost-user backends):
 * libvirt's qemuValidateDomainDefVhostUserRequireSharedMemory. */
static bool memory_shared(const qv_domdef *def)
{
    bool dflt = def->mb_access && !strcmp(def->mb_access, "shared");
    if (!def->cpu.cells || !def->cpu.cells->len)
        return dflt;
    for (guint i = 0; i < def->cpu.cells->len; i++) {
        const qv_domdef_numa_cell *c = g_ptr_array_index(def->cpu.cells, i);
        if (c->mem_access ? strcmp(c->mem_access, "shared") != 0 : !dflt)
            return false;
    }
    return true;
}

static int net_conn(const qv_domdef_net *n)
{
    if (n->type == QV_NET_HOSTDEV)
        return CONN_PCIE;   /* a VF, like a PCI <hostdev> */
    return (g_str_has_prefix(n->model, "virtio") && !qv_virtio_transitional(n->model)) ||
           !strcmp(n->model, "e1000e") ? CONN_PCIE : CONN_PCI;
}

/* One pass over the devices that still need a PCI address, in libvirt's
 * order (qemuDomainAssignDevicePCISlots): PCI controllers, filesystems,
 * interfaces, sound, other controllers, virtio disks, balloon, rng,
 * watchdog, the rest. With count set it only counts, per connection kind,
 * what would need a place, so the ports can be added first. */
typedef struct q35_pass {
    pci_alloc *pa;
    qv_domdef *def;
    bool flat;                /* i440fx: everything in the next free slot of bus 0 */
    bool dry_run;             /* only add the buses the devices will need */
    guint nctrl;              /* controllers present before the dry run */
    unsigned int free_ports, bridge_slots;
    unsigned int wanted;      /* devices the dry run found without an address */
} q35_pass;

/* The smallest PCI controller index from start on that no controller has. */
static unsigned int next_pci_index(const qv_domdef *def, unsigned int start)
{
    unsigned int idx = start;
    while (qv_domdef_find_controller(def, QV_CTRL_PCI, idx))
        idx++;
    return idx;
}

/* The dry run grows the topology the way libvirt's address set grows: a
 * PCIe device without a free root port adds one; a conventional device
 * without a free bridge slot adds a root port and a pcie-to-pci-bridge in
 * it. */
static int q35_grow(q35_pass *p, int conn, const char *what, qv_error **err)
{
    if (conn == CONN_PCIE && p->free_ports) {
        p->free_ports--;
        return 0;
    }
    if (conn == CONN_PCI && p->bridge_slots) {
        p->bridge_slots--;
        return 0;
    }
    /* The bridge takes the next free index after the port's, which is not
     * always idx + 1: the XML may have used that one already. */
    unsigned int idx = next_pci_index(p->def, 0);
    unsigned int bridge_idx = conn == CONN_PCI ? next_pci_index(p->def, idx + 1) : idx;
    if (bridge_idx > 255)
        return qv_error_set(err, -ENOSPC, "No PCI controller index is left for the bus the %s needs.", what);
    add_controller(p->def, QV_CTRL_PCI, idx, "pcie-root-port");
    if (conn == CONN_PCI) {
        add_controller(p->def, QV_CTRL_PCI, bridge_idx, "pcie-to-pci-bridge");
        p->bridge_slots = 30;
    }
    return 0;
}

static int q35_next_root_port(q35_pass *p, qv_domdef_addr *a)
{
    for (guint i = 0; i < p->def->controllers->len; i++) {
        qv_domdef_controller *c = g_ptr_array_index(p->def->controllers, i);
        if (is_root_port(c) && c->index && !p->pa->used[c->index]) {
            pci_set(p->pa, a, c->index, 0, 0);
            return 0;
        }
    }
    return -ENOSPC;
}

static int q35_next_bridge_slot(q35_pass *p, qv_domdef_addr *a)
{
    for (guint i = 0; i < p->def->controllers->len; i++) {
        qv_domdef_controller *c = g_ptr_array_index(p->def->controllers, i);
        if (!is_pci_bridge(c) || !c->index)
            continue;
        for (unsigned int slot = 1; slot < 32; slot++) {
            if (!(p->pa->used[c->index] & (1u << slot))) {
                pci_set(p->pa, a, c->index, slot, 0);
                return 0;
            }
        }
    }
    return -ENOSPC;
}

/* Root ports fill the eight functions of a slot before taking the next
 * one, as libvirt aggregates them. */
static int q35_root_port_slot(pci_alloc *pa, qv_domdef_addr *a)
{
    for (unsigned int slot = 1; slot < 32; slot++)
        if ((pa->aggregate & (1u << slot)) && pa->fns[0][slot] != 0xff) {
            unsigned int fn = 0;
            while (pa->fns[0][slot] & (1u << fn))
                fn++;
            pci_set(pa, a, 0, slot, fn);
            return 0;
        }
    for (unsigned int slot = 1; slot < 32; slot++)
        if (!(pa->used[0] & (1u << slot))) {
            pa->aggregate |= 1u << slot;
            pci_set(pa, a, 0, slot, 0);
            return 0;
        }
    return -ENOSPC;
}

static int q35_place(q35_pass *p, qv_domdef_addr *a, int conn, bool aggregate, const char *what,
                     qv_error **err)
{
    if (a->type == QV_ADDR_PCI)
        return 0;
    if (a->type != QV_ADDR_NONE)
        return qv_error_set(err, -EINVAL, "The %s needs a PCI address, not another address type.", what);
    if (p->flat)
        return pci_assign(p->pa, a, what, err);
    if (p->dry_run) {
        p->wanted++;
        return conn == CONN_ROOT ? 0 : q35_grow(p, conn, what, err);
    }
    int r = 0;
    if (conn == CONN_PCIE)
        r = q35_next_root_port(p, a);
    else if (conn == CONN_PCI)
        r = q35_next_bridge_slot(p, a);
    else if (aggregate)
        r = q35_root_port_slot(p->pa, a);
    else
        return pci_assign(p->pa, a, what, err);
    if (r < 0)
        return qv_error_set(err, -ENOSPC, "No free PCI address for the %s; add pcie-root-port controllers.", what);
    return 0;
}

/* ich9-ehci1 and its ich9-uhci companions share one slot, EHCI at function
 * 7 and UHCI1-3 at 0-2 (on q35, index 0 at 00:1d like real ICH9): the
 * layout libvirt gives them and guests' USB 2 drivers expect. */
static int assign_usb2_groups(qv_domdef *def, pci_alloc *pa, bool q35, qv_error **err)
{
    for (guint i = 0; i < def->controllers->len; i++) {
        qv_domdef_controller *c = g_ptr_array_index(def->controllers, i);
        if (!is_usb2_group(c) || c->addr.type != QV_ADDR_NONE)
            continue;
        /* The slot of an already placed member of the group, else a new one. */
        int slot = -1;
        for (guint j = 0; j < def->controllers->len && slot < 0; j++) {
            qv_domdef_controller *o = g_ptr_array_index(def->controllers, j);
            if (o != c && is_usb2_group(o) && o->index == c->index && o->addr.type == QV_ADDR_PCI && o->addr.bus == 0)
                slot = (int)o->addr.slot;
        }
        bool companions = false;
        for (guint j = 0; j < def->controllers->len; j++) {
            qv_domdef_controller *o = g_ptr_array_index(def->controllers, j);
            companions = companions || (o->type == QV_CTRL_USB && o->index == c->index && o->master_startport >= 0);
        }
        if (slot < 0 && q35 && c->index == 0 && companions && !(pa->used[0] & (1u << 0x1d)))
            slot = 0x1d;
        for (unsigned int s = 1; s < 32 && slot < 0; s++)
            if (!(pa->used[0] & (1u << s)))
                slot = (int)s;
        if (slot < 0)
            return qv_error_set(err, -ENOSPC, "No free PCI slot on bus 0 for the USB controller.");
        unsigned int fn = !strcmp(c->model, "ich9-ehci1") ? 7 : (unsigned int)(c->model[strlen(c->model) - 1] - '1');
        if (pa->fns[0][slot] & (1u << fn))
            return qv_error_set(err, -EINVAL, "/domain/devices/controller[%u]: two %s controllers share USB index %u.", i + 1, c->model, c->index);
        pci_set(pa, &c->addr, 0, (unsigned int)slot, fn);
    }
    return 0;
}

static int q35_pass_run(q35_pass *p, qv_error **err)
{
    qv_domdef *def = p->def;
#define PLACE(addr, conn, what)                                                \
    if (q35_place(p, (addr), (conn), false, (what), err) < 0)                  \
        return -EINVAL;
    guint nctrl = p->dry_run ? p->nctrl : def->controllers->len;
    for (guint i = 0; i < nctrl; i++) {
        qv_domdef_controller *c = g_ptr_array_index(def->controllers, i);
        if (c->type == QV_CTRL_PCI && controller_is_pci(def, c, !p->flat) &&
            q35_place(p, &c->addr, controller_conn(c), is_root_port(c) && !strcmp(c->model, "pcie-root-port"),
                      "PCI controller", err) < 0)
            return -EINVAL;
    }
    /* USB 2 groups after the root ports, which libvirt puts first. */
    if (!p->dry_run && !p->flat && assign_usb2_groups(def, p->pa, true, err) < 0)
        return -EINVAL;
    for (guint i = 0; i < def->filesystems->len; i++)
        {
        qv_domdef_fs *f = g_ptr_array_index(def->filesystems, i);
        PLACE(&f->addr, qv_virtio_transitional(f->model) ? CONN_PCI : CONN_PCIE, "filesystem")
    }
    for (guint i = 0; i < def->nets->len; i++) {
        qv_domdef_net *n = g_ptr_array_index(def->nets, i);
        PLACE(&n->addr, net_conn(n), "network interface")
    }
    for (guint i = 0; i < def->sounds->len; i++) {
        qv_domdef_sound *s = g_ptr_array_index(def->sounds, i);
        if (sound_is_pci(s))
            PLACE(&s->addr, !strcmp(s->model, "ich9") ? CONN_ROOT : CONN_PCI, "sound device")
    }
    if (p->flat && assign_usb2_groups(def, p->pa, false, err) < 0)
        return -EINVAL;
    for (guint i = 0; i < nctrl; i++) {
        qv_domdef_controller *c = g_ptr_array_index(def->controllers, i);
        if (c->type != QV_CTRL_PCI && controller_is_pci(def, c, !p->flat))
            PLACE(&c->addr, controller_conn(c), "controller")
    }
    for (guint i = 0; i < def->disks->len; i++) {
        qv_domdef_disk *d = g_ptr_array_index(def->disks, i);
        if (d->bus == QV_DISK_BUS_VIRTIO)
            PLACE(&d->addr, qv_virtio_transitional(d->model) ? CONN_PCI : CONN_PCIE, "virtio disk")
    }
    for (guint i = 0; i < def->hostdevs->len; i++) {
        qv_domdef_hostdev *h = g_ptr_array_index(def->hostdevs, i);
        if (!strcmp(h->type, "pci") || !strcmp(h->type, "mdev")) {
            PLACE(&h->addr, CONN_PCIE, "host device")
        } else if (!strcmp(h->type, "scsi_host")) {
            PLACE(&h->addr, qv_virtio_transitional(h->vhost_model) ? CONN_PCI : CONN_PCIE, "vhost-scsi host device")
        }
    }
    if (def->memballoon && strcmp(def->memballoon->model, "none"))
        PLACE(&def->memballoon->addr, qv_virtio_transitional(def->memballoon->model) ? CONN_PCI : CONN_PCIE,
              "memory balloon")
    for (guint i = 0; i < def->rngs->len; i++)
{
        qv_domdef_rng *r = g_ptr_array_index(def->rngs, i);
        PLACE(&r->addr, qv_virtio_transitional(r->model) ? CONN_PCI : CONN_PCIE, "random number generator")
    }
    for (guint i = 0; i < def->watchdogs->len; i++) {
        qv_domdef_watchdog *w = g_ptr_array_index(def->watchdogs, i);
        if (!strcmp(w->model, "i6300esb"))
            PLACE(&w->addr, CONN_PCI, "watchdog")
    }
    for (guint i = 0; i < def->videos->len; i++) {
        qv_domdef_video *v = g_ptr_array_index(def->videos, i);
        if (video_is_pci(v))
            PLACE(&v->addr, !strcmp(v->model, "virtio") ? CONN_PCIE : CONN_PCI, "video device")
    }
    for (guint i = 0; i < def->shmems->len; i++)
        PLACE(&((qv_domdef_shmem *)g_ptr_array_index(def->shmems, i))->addr, CONN_PCI, "shared memory device")
    for (guint i = 0; i < def->inputs->len; i++) {
        qv_domdef_input *in = g_ptr_array_index(def->inputs, i);
        if (in->bus && !strcmp(in->bus, "virtio"))
            PLACE(&in->addr, CONN_PCIE, "virtio input device")
    }
    for (guint i = 0; i < def->chrs->len; i++) {
        qv_domdef_chr *c = g_ptr_array_index(def->chrs, i);
        if (c->kind == QV_CHR_SERIAL && !strcmp(c->target_type, "pci-serial"))
            PLACE(&c->addr, CONN_PCI, "PCI serial port")
    }
    for (guint i = 0; i < def->panics->len; i++) {
        qv_domdef_panic *pn = g_ptr_array_index(def->panics, i);
        if (!strcmp(pn->model, "pvpanic"))
            PLACE(&pn->addr, CONN_PCI, "panic device")
    }
    if (def->vsock)
        PLACE(&def->vsock->addr, CONN_PCIE, "vsock device")
    for (guint i = 0; i < def->memdevs->len; i++) {
        qv_domdef_memdev *m = g_ptr_array_index(def->memdevs, i);
        if (g_str_has_prefix(m->model, "virtio-"))
            PLACE(&m->addr, CONN_PCIE, "virtio memory device")
    }
    if (def->iommu && !strcmp(def->iommu->model, "virtio"))
        PLACE(&def->iommu->addr, CONN_ROOT, "virtio IOMMU")
#undef PLACE
    return 0;
}

/* libvirt's q35 layout: the primary video at 00:01.0, ich9 sound at
 * 00:1b.0, every hotpluggable PCIe device in a pcie-root-port of its own
 * (adding root ports when the domain has too few, as
 * qemuDomainAssignPCIAddresses does), conventional PCI devices behind a
 * pcie-to-pci-bridge. */
static int assign_pci_q35(qv_domdef *def, pci_alloc *pa, qv_error **err)
{
    for (guint i = 0; i < def->videos->len; i++) {
        qv_domdef_video *v = g_ptr_array_index(def->videos, i);
        if (v->primary && video_is_pci(v) && pci_assign(pa, &v->addr, "video device", err) < 0)
            return -EINVAL;
    }
    for (guint i = 0; i < def->sounds->len; i++) {
        qv_domdef_sound *s = g_ptr_array_index(def->sounds, i);
        if (!strcmp(s->model, "ich9") && s->addr.type == QV_ADDR_NONE && !(pa->used[0] & (1u << 0x1b)))
            pci_set(pa, &s->addr, 0, 0x1b, 0);
    }
    for (guint i = 0; i < def->controllers->len; i++) {
        qv_domdef_controller *c = g_ptr_array_index(def->controllers, i);
        if (c->type == QV_CTRL_PCI && !strcmp(c->model, "dmi-to-pci-bridge") &&
            c->addr.type == QV_ADDR_NONE && !(pa->used[0] & (1u << 0x1e)))
            pci_set(pa, &c->addr, 0, 0x1e, 0);   /* where ICH9 has its DMI-to-PCI bridge */
    }

    q35_pass dry = { pa, def, false, true, def->controllers->len, 0, 0, 0 };
    bool only_root = true;
    for (guint i = 0; i < def->controllers->len; i++) {
        qv_domdef_controller *c = g_ptr_array_index(def->controllers, i);
        if (c->type == QV_CTRL_PCI && c->index)
            only_root = false;
        if (is_root_port(c) && c->index && !pa->used[c->index])
            dry.free_ports++;
        if (is_pci_bridge(c) && c->index)
            dry.bridge_slots += 31 - (unsigned int)__builtin_popcount(pa->used[c->index] & ~1u);
    }
    if (q35_pass_run(&dry, err) < 0)
        return -EINVAL;
    /* A new domain that came with no PCI controllers also gets one spare
     * root port, so that one device can be hotplugged (libvirt does the
     * same). Never for one whose devices all have addresses: that is a
     * defined or running domain, whose hardware must not change. */
    if (only_root && dry.wanted && q35_grow(&dry, CONN_PCIE, "hotplug", err) < 0)
        return -EINVAL;
    for (guint i = 0; i < def->controllers->len; i++) {
        qv_domdef_controller *c = g_ptr_array_index(def->controllers, i);
        if (c->type == QV_CTRL_PCI && !c->alias)
            set_alias(&c->alias, qv_strdup_uint("pci.", c->index));
    }

    q35_pass place = { pa, def, false, false, 0, 0, 0, 0 };
    return q35_pass_run(&place, err);
}

/* libvirt's finishing touches on assigned addresses: function 0 of a slot
 * with several functions says multifunction='on', and root ports get
 * chassis = index and port = slot * 8 + function, written into the XML so
 * they stay. */
static void finish_pci(qv_domdef *def, const pci_alloc *pa)
{
    for (guint i = 0; i < def->controllers->len; i++) {
        qv_domdef_controller *c = g_ptr_array_index(def->controllers, i);
        qv_domdef_addr *a = &c->addr;
        if (a->type != QV_ADDR_PCI)
            continue;
        if (a->function == 0 && a->multifunction == QV_TRI_ABSENT && (pa->fns[a->bus][a->slot] & 0xfe))
            a->multifunction = QV_TRI_ON;
        if (is_root_port(c)) {
            if (c->chassis < 0)
                c->chassis = (int)c->index;
            if (c->port < 0)
                c->port = (int)(a->slot << 3 | a->function);
        }
    }
}

static int assign_pci(qv_domdef *def, bool q35, qv_error **err)
{
    pci_alloc pa = { 0 };
    pa.used[0] |= 1u << 0;                 /* host bridge */
    if (q35)
        pa.used[0] |= 1u << 0x1f;          /* ICH9 LPC, SATA, SMBus */
    else
        pa.used[0] |= 1u << 1;             /* PIIX3: ISA, IDE, USB, PM */

#define RESERVE(list, type)                                              \
    for (guint i = 0; i < def->list->len; i++) {                          \
        type *x = g_ptr_array_index(def->list, i);                        \
        if (pci_reserve(&pa, &x->addr, err) < 0)                          \
            return -EINVAL;                                               \
    }
    for (guint i = 0; i < def->controllers->len; i++) {
        qv_domdef_controller *c = g_ptr_array_index(def->controllers, i);
        if (c->addr.type == QV_ADDR_PCI && c->addr.bus == 0 &&
            ((c->addr.slot == 1 && !q35) || (c->addr.slot == 0x1f && q35)))
            continue;   /* built into the chipset slot reserved above */
        if (pci_reserve(&pa, &c->addr, err) < 0)
            return -EINVAL;
    }
    RESERVE(disks, qv_domdef_disk)
    RESERVE(nets, qv_domdef_net)
    RESERVE(videos, qv_domdef_video)
    RESERVE(sounds, qv_domdef_sound)
    RESERVE(watchdogs, qv_domdef_watchdog)
    RESERVE(rngs, qv_domdef_rng)
    RESERVE(panics, qv_domdef_panic)
    RESERVE(shmems, qv_domdef_shmem)
    RESERVE(filesystems, qv_domdef_fs)
    RESERVE(memdevs, qv_domdef_memdev)
    RESERVE(inputs, qv_domdef_input)
    RESERVE(chrs, qv_domdef_chr)
    RESERVE(hostdevs, qv_domdef_hostdev)
#undef RESERVE
    if (def->memballoon && pci_reserve(&pa, &def->memballoon->addr, err) < 0)
        return -EINVAL;
    if (def->vsock && pci_reserve(&pa, &def->vsock->addr, err) < 0)
        return -EINVAL;
    for (guint i = 0; i < def->controllers->len; i++) {
        qv_domdef_controller *c = g_ptr_array_index(def->controllers, i);
        if (c->type == QV_CTRL_PCI && !strcmp(c->model, "pcie-root-port") &&
            c->addr.type == QV_ADDR_PCI && c->addr.bus == 0)
            pa.aggregate |= 1u << c->addr.slot;
    }
    if (q35) {
        if (assign_pci_q35(def, &pa, err) < 0)
            return -EINVAL;
        finish_pci(def, &pa);
        return 0;
    }

    /* The primary video card gets the first free slot (2 on i440fx, 1 on
     * q35), like libvirt, so guests see the VGA device where they expect. */
    for (guint i = 0; i < def->videos->len; i++) {
        qv_domdef_video *v = g_ptr_array_index(def->videos, i);
        if (v->primary && video_is_pci(v) && pci_assign(&pa, &v->addr, "video device", err) < 0)
            return -EINVAL;
    }
    /* Then libvirt's order (qemuDomainAssignDevicePCISlots), each device in
     * the next free slot of bus 0. */
    q35_pass flat = { &pa, def, true, false, 0, 0, 0, 0 };
    if (q35_pass_run(&flat, err) < 0)
        return -EINVAL;
    finish_pci(def, &pa);
    return 0;
}

static int assign_usb(qv_domdef *def, qv_error **err)
{
    usb_alloc ua = { 0 };
    for (guint i = 0; i < def->controllers->len; i++) {
        qv_domdef_controller *c = g_ptr_array_index(def->controllers, i);
        if (c->type == QV_CTRL_USB && strcmp(c->model, "none"))
            ua.have_bus[c->index] = true;
    }
#define USB_RESERVE(list, type)                                          \
    for (guint i = 0; i < def->list->len; i++) {                          \
        type *x = g_ptr_array_index(def->list, i);                        \
        usb_reserve(&ua, &x->addr);                                       \
    }
    USB_RESERVE(inputs, qv_domdef_input)
    USB_RESERVE(disks, qv_domdef_disk)
    USB_RESERVE(hubs, qv_domdef_hub)
    USB_RESERVE(redirdevs, qv_domdef_redirdev)
    USB_RESERVE(hostdevs, qv_domdef_hostdev)
    USB_RESERVE(sounds, qv_domdef_sound)
    USB_RESERVE(chrs, qv_domdef_chr)
#undef USB_RESERVE
    /* libvirt's order (qemuDomainAssignUSBAddresses: hubs, then
     * virDomainUSBDeviceDefForeach), so a domain defined from the same XML
     * gets the same ports under either: hubs, host devices, disks, smartcard
     * readers, inputs, serial ports, sound, redirection. */
    for (guint i = 0; i < def->hubs->len; i++) {
        qv_domdef_hub *h = g_ptr_array_index(def->hubs, i);
        if (usb_assign(&ua, &h->addr, "USB hub", err) < 0)
            return -EINVAL;
    }
    for (guint i = 0; i < def->hostdevs->len; i++) {
        qv_domdef_hostdev *h = g_ptr_array_index(def->hostdevs, i);
        if (!strcmp(h->type, "usb") && usb_assign(&ua, &h->addr, "USB host device", err) < 0)
            return -EINVAL;
    }
    for (guint i = 0; i < def->disks->len; i++) {
        qv_domdef_disk *d = g_ptr_array_index(def->disks, i);
        if (d->bus == QV_DISK_BUS_USB && usb_assign(&ua, &d->addr, "USB disk", err) < 0)
            return -EINVAL;
    }
    for (guint i = 0; i < def->controllers->len; i++) {
        qv_domdef_controller *c = g_ptr_array_index(def->controllers, i);
        if (c->type == QV_CTRL_CCID && usb_assign(&ua, &c->addr, "smartcard reader", err) < 0)
            return -EINVAL;
    }
    for (guint i = 0; i < def->inputs->len; i++) {
        qv_domdef_input *in = g_ptr_array_index(def->inputs, i);
        if (in->bus && !strcmp(in->bus, "usb") && usb_assign(&ua, &in->addr, "USB input device", err) < 0)
            return -EINVAL;
    }
    for (guint i = 0; i < def->chrs->len; i++) {
        qv_domdef_chr *c = g_ptr_array_index(def->chrs, i);
        if (c->kind == QV_CHR_SERIAL && !strcmp(c->target_type, "usb-serial") &&
            usb_assign(&ua, &c->addr, "USB serial port", err) < 0)
            return -EINVAL;
    }
    for (guint i = 0; i < def->sounds->len; i++) {
        qv_domdef_sound *s = g_ptr_array_index(def->sounds, i);
        if (!strcmp(s->model, "usb") && usb_assign(&ua, &s->addr, "USB audio device", err) < 0)
            return -EINVAL;
    }
    for (guint i = 0; i < def->redirdevs->len; i++) {
        qv_domdef_redirdev *r = g_ptr_array_index(def->redirdevs, i);
        if (usb_assign(&ua, &r->addr, "USB redirection device", err) < 0)
            return -EINVAL;
    }
    return 0;
}

/* libvirt's memory device aliases: a prefix per model, numbered per prefix
 * (dimm0, nvdimm0, virtiopmem0, virtiomem0). */
static char *memdev_alias(const qv_domdef *def, guint idx)
{
    const qv_domdef_memdev *m = g_ptr_array_index(def->memdevs, idx);
    const char *prefix = !strcmp(m->model, "virtio-pmem") ? "virtiopmem" :
                         !strcmp(m->model, "virtio-mem") ? "virtiomem" : m->model;
    unsigned int n = 0;
    for (guint i = 0; i < idx; i++)
        n += !strcmp(((qv_domdef_memdev *)g_ptr_array_index(def->memdevs, i))->model, m->model);
    return qv_strdup_uint(prefix, n);
}

/* <hugepages><page nodeset>: each node a guest NUMA cell, no node twice,
 * at most one page without a nodeset; not with anonymous memory. */
static int check_hugepages(const qv_domdef *def, qv_error **err)
{
    if (def->mb_hugepages && def->mb_source && !strcmp(def->mb_source, "anonymous"))
        return qv_error_set(err, -EINVAL, "/domain/memoryBacking/hugepages: hugepages cannot back anonymous memory (<source type='anonymous'>).");
    const GPtrArray *pages = def->rare ? def->rare->mb_pages : NULL;
    if (!pages || !pages->len)
        return 0;
    guint defaults = 0;
    g_autofree unsigned char *seen = g_malloc0(QV_CPUSET_MAX);
    for (guint i = 0; pages && i < pages->len; i++) {
        const qv_domdef_hugepage *h = g_ptr_array_index(pages, i);
        if (!h->nodeset && ++defaults > 1)
            return qv_error_set(err, -EINVAL, "/domain/memoryBacking/hugepages/page[%u]: only one page may leave out nodeset.", i + 1);
        g_auto(GStrv) parts = h->nodeset ? g_strsplit(h->nodeset, ",", -1) : NULL;
        for (char **p = parts; p && *p; p++) {
            unsigned int a = 0, b = 0;
            int k = sscanf(*p, "%u-%u", &a, &b);
            for (unsigned int n = a; k >= 1 && n <= (k == 2 ? b : a) && n < QV_CPUSET_MAX; n++) {
                bool exists = false;
                for (guint c = 0; c < def->cpu.cells->len; c++)
                    exists = exists || ((qv_domdef_numa_cell *)g_ptr_array_index(def->cpu.cells, c))->id == n;
                if (!exists)
                    return qv_error_set(err, -EINVAL, "/domain/memoryBacking/hugepages/page[%u]: guest NUMA node %u does not exist.", i + 1, n);
                if (seen[n]++)
                    return qv_error_set(err, -EINVAL, "/domain/memoryBacking/hugepages/page[%u]: guest NUMA node %u already has a page size.", i + 1, n);
            }
        }
    }
    return 0;
}

/* The next free "hostdevN": libvirt's qemuAssignDeviceHostdevAlias with
 * index -1, shared by host devices and interfaces of type hostdev. */
static char *next_hostdev_alias(const qv_domdef *def)
{
    unsigned int next = 0;
    for (guint i = 0; i < def->hostdevs->len + def->nets->len; i++) {
        const char *a = i < def->hostdevs->len ? ((qv_domdef_hostdev *)def->hostdevs->pdata[i])->alias
                                               : ((qv_domdef_net *)def->nets->pdata[i - def->hostdevs->len])->alias;
        char *end = NULL;
        if (!a || !g_str_has_prefix(a, "hostdev"))
            continue;
        unsigned long n = strtoul(a + 7, &end, 10);
        if (end != a + 7 && !*end && n + 1 > next)
            next = (unsigned int)n + 1;
    }
    return qv_strdup_uint("hostdev", next);
}

static void assign_aliases(qv_domdef *def)
{
    for (guint i = 0; i < def->nets->len; i++) {
        qv_domdef_net *n = g_ptr_array_index(def->nets, i);
        /* libvirt: an interface of type hostdev is named as a host device. */
        if (n->type == QV_NET_HOSTDEV)
            set_alias(&n->alias, next_hostdev_alias(def));
        else
            set_alias(&n->alias, qv_strdup_uint("net", i));
    }
    for (guint i = 0; i < def->videos->len; i++)
        set_alias(&((qv_domdef_video *)g_ptr_array_index(def->videos, i))->alias, qv_strdup_uint("video", i));
    for (guint i = 0; i < def->inputs->len; i++)
        set_alias(&((qv_domdef_input *)g_ptr_array_index(def->inputs, i))->alias, qv_strdup_uint("input", i));
    for (guint i = 0; i < def->sounds->len; i++)
        set_alias(&((qv_domdef_sound *)g_ptr_array_index(def->sounds, i))->alias, qv_strdup_uint("sound", i));
    for (guint i = 0; i < def->graphics->len; i++)
        set_alias(&((qv_domdef_graphics *)g_ptr_array_index(def->graphics, i))->alias, qv_strdup_uint("graphics", i));
    for (guint i = 0; i < def->watchdogs->len; i++)
        set_alias(&((qv_domdef_watchdog *)g_ptr_array_index(def->watchdogs, i))->alias, qv_strdup_uint("watchdog", i));
    for (guint i = 0; i < def->rngs->len; i++)
        set_alias(&((qv_domdef_rng *)g_ptr_array_index(def->rngs, i))->alias, qv_strdup_uint("rng", i));
    for (guint i = 0; i < def->panics->len; i++)
        set_alias(&((qv_domdef_panic *)g_ptr_array_index(def->panics, i))->alias, qv_strdup_uint("panic", i));
    for (guint i = 0; i < def->shmems->len; i++)
        set_alias(&((qv_domdef_shmem *)g_ptr_array_index(def->shmems, i))->alias, qv_strdup_uint("shmem", i));
    for (guint i = 0; i < def->tpms->len; i++)
        set_alias(&((qv_domdef_tpm *)g_ptr_array_index(def->tpms, i))->alias, qv_strdup_uint("tpm", i));
    for (guint i = 0; i < def->smartcards->len; i++)
        set_alias(&((qv_domdef_smartcard *)g_ptr_array_index(def->smartcards, i))->alias, qv_strdup_uint("smartcard", i));
    for (guint i = 0; i < def->redirdevs->len; i++)
        set_alias(&((qv_domdef_redirdev *)g_ptr_array_index(def->redirdevs, i))->alias, qv_strdup_uint("redir", i));
    for (guint i = 0; i < def->hubs->len; i++)
        set_alias(&((qv_domdef_hub *)g_ptr_array_index(def->hubs, i))->alias, qv_strdup_uint("hub", i));
    for (guint i = 0; i < def->hostdevs->len; i++) {
        qv_domdef_hostdev *h = g_ptr_array_index(def->hostdevs, i);
        if (!h->alias)
            h->alias = next_hostdev_alias(def);
    }
    for (guint i = 0; i < def->filesystems->len; i++)
        set_alias(&((qv_domdef_fs *)g_ptr_array_index(def->filesystems, i))->alias, qv_strdup_uint("fs", i));
    for (guint i = 0; i < def->memdevs->len; i++)
        set_alias(&((qv_domdef_memdev *)g_ptr_array_index(def->memdevs, i))->alias,
                  memdev_alias(def, i));
    if (def->memballoon)
        set_alias(&def->memballoon->alias, g_strdup("balloon0"));
    if (def->vsock)
        set_alias(&def->vsock->alias, g_strdup("vsock0"));
    if (def->iommu)
        set_alias(&def->iommu->alias, g_strdup("iommu0"));
}

static bool any_boot_order(const qv_domdef *def)
{
    for (guint i = 0; i < def->disks->len; i++)
        if (((qv_domdef_disk *)g_ptr_array_index(def->disks, i))->boot_order)
            return true;
    for (guint i = 0; i < def->nets->len; i++)
        if (((qv_domdef_net *)g_ptr_array_index(def->nets, i))->boot_order)
            return true;
    for (guint i = 0; i < def->hostdevs->len; i++)
        if (((qv_domdef_hostdev *)g_ptr_array_index(def->hostdevs, i))->boot_order)
            return true;
    return false;
}

int qv_domdef_post_parse(qv_domdef *def, qv_error **err)
{
    qv_domdef_os *os = &def->os;
    if (!os->arch)
        os->arch = g_strdup("x86_64");
    if (!os->machine || !strcmp(os->machine, "pc")) {
        g_free(os->machine);
        os->machine = g_strdup("pc-i440fx-7.2");
    } else if (!strcmp(os->machine, "q35")) {
        g_free(os->machine);
        os->machine = g_strdup("pc-q35-7.2");
    }
    bool q35 = qv_domdef_is_q35(def);
    if (!def->emulator)
        def->emulator = g_strdup(DEFAULT_EMULATOR);

    /* Memory. */
    if (def->cpu.cells->len) {
        unsigned long long sum = 0;
        for (guint i = 0; i < def->cpu.cells->len; i++)
            sum += ((qv_domdef_numa_cell *)g_ptr_array_index(def->cpu.cells, i))->memory_kib;
        def->memory_kib = sum;
    }
    /* QEMU wants whole MiB (like libvirt's alignment for QEMU guests). */
    def->memory_kib = (def->memory_kib + 1023) / 1024 * 1024;
    def->current_memory_kib = (def->current_memory_kib + 1023) / 1024 * 1024;
    def->max_memory_kib = (def->max_memory_kib + 1023) / 1024 * 1024;
    if (def->memory_kib == 0)
        return qv_error_set(err, -EINVAL, "/domain/memory: the memory size must be greater than 0.");
    /* QEMU on x86_64 addresses at most 2^52 bytes; keep well inside. */
    if (def->memory_kib > (1ULL << 42))
        return qv_error_set(err, -EINVAL, "/domain/memory: %llu KiB is more than the 4 PiB QEMU supports.", def->memory_kib);
    if (def->current_memory_kib == 0 || def->current_memory_kib > def->memory_kib)
        def->current_memory_kib = def->memory_kib;
    unsigned long long dimm_total = 0;
    for (guint i = 0; i < def->memdevs->len; i++)
        dimm_total += ((qv_domdef_memdev *)g_ptr_array_index(def->memdevs, i))->size_kib;
    if (def->max_memory_kib) {
        if (!def->max_memory_slots)
            return qv_error_set(err, -EINVAL, "/domain/maxMemory: memory hotplug needs slots > 0.");
        if (def->max_memory_kib < def->memory_kib)
            return qv_error_set(err, -EINVAL, "/domain/maxMemory: maximum memory is smaller than <memory>.");
        if (def->max_memory_kib > (1ULL << 42))
            return qv_error_set(err, -EINVAL, "/domain/maxMemory: %llu KiB is more than the 4 PiB QEMU supports.", def->max_memory_kib);
        /* Only DIMMs take slots; virtio memory devices sit on PCI. */
        guint dimms = 0;
        for (guint i = 0; i < def->memdevs->len; i++)
            dimms += g_str_has_suffix(((qv_domdef_memdev *)g_ptr_array_index(def->memdevs, i))->model, "dimm");
        if (dimms > def->max_memory_slots)
            return qv_error_set(err, -EINVAL, "/domain/devices/memory: %u memory modules but only %u slots.", dimms, def->max_memory_slots);
        if (def->memdevs->len && !def->features.acpi)
            return qv_error_set(err, -EINVAL, "/domain/devices/memory[1]: memory modules need ACPI (<features><acpi/></features>).");
    } else if (def->memdevs->len) {
        return qv_error_set(err, -EINVAL, "/domain/devices/memory[1]: memory modules need <maxMemory slots=...>.");
    }
    (void)dimm_total;
    if (check_hugepages(def, err) < 0)
        return -EINVAL;

    /* vCPUs. */
    if (!def->vcpus_current)
        def->vcpus_current = def->vcpus;
    qv_domdef_cpu *cpu = &def->cpu;
    if (cpu->sockets) {
        unsigned long long total = (unsigned long long)cpu->sockets * cpu->dies * cpu->cores * cpu->threads;
        if (total != def->vcpus)
            return qv_error_set(err, -EINVAL, "/domain/cpu/topology: sockets*dies*cores*threads is %llu but <vcpu> is %u.", total, def->vcpus);
    }
    for (guint i = 0; i < cpu->cells->len; i++) {
        qv_domdef_numa_cell *c = g_ptr_array_index(cpu->cells, i);
        if (c->id != i)
            return qv_error_set(err, -EINVAL, "/domain/cpu/numa/cell[%u]: cell ids must be 0, 1, 2... in order.", i + 1);
    }
    if (cpu->mode && !strcmp(cpu->mode, "custom") && !cpu->model && !cpu->sockets && !cpu->cells->len)
        g_clear_pointer(&cpu->mode, g_free);

    if (!def->clock_offset)
        def->clock_offset = g_strdup("utc");

    /* Boot order: libvirt forbids mixing <os><boot> with per-device order. */
    bool per_device = any_boot_order(def);
    if (per_device && os->boot_devs->len)
        return qv_error_set(err, -EINVAL, "/domain/os/boot: per-device boot elements cannot be used together with os/boot.");
    /* libvirt adds it with a <kernel> too (the kernel still boots first:
     * QEMU gives its loader bootindex 0). */
    if (!per_device && !os->boot_devs->len)
        g_ptr_array_add(os->boot_devs, g_strdup("hd"));

    /* Implicit controllers. */
    ensure_controller(def, QV_CTRL_PCI, 0, q35 ? "pcie-root" : "pci-root");
    bool has_usb = false;
    for (guint i = 0; i < def->controllers->len; i++)
        has_usb = has_usb || ((qv_domdef_controller *)g_ptr_array_index(def->controllers, i))->type == QV_CTRL_USB;
    if (!has_usb)
        add_controller(def, QV_CTRL_USB, 0, q35 ? "qemu-xhci" : "piix3-uhci");
    if (q35)
        ensure_controller(def, QV_CTRL_SATA, 0, NULL);
    else
        ensure_controller(def, QV_CTRL_IDE, 0, NULL);
    if (def->smartcards->len)
        ensure_controller(def, QV_CTRL_CCID, 0, NULL);

    if (post_parse_disks(def, q35, err) < 0 || post_parse_scsi_hostdevs(def, err) < 0 || post_parse_chrs(def, err) < 0)
        return -EINVAL;
    if (check_controllers(def, q35, err) < 0)
        return -EINVAL;

    /* Interfaces. */
    for (guint i = 0; i < def->nets->len; i++) {
        qv_domdef_net *n = g_ptr_array_index(def->nets, i);
        if (n->type == QV_NET_HOSTDEV) {
            /* A VF is the guest's NIC itself: no model, no QEMU backend. */
            if (n->model || n->queues || n->mtu || n->link_state || n->inbound.set || n->outbound.set)
                return qv_error_set(err, -EINVAL, "/domain/devices/interface[%u]: a hostdev interface (an SR-IOV VF) takes no model, queues, MTU, link state or bandwidth.", i + 1);
        } else if (!n->model) {
            n->model = g_strdup("rtl8139");
        }
        if (n->type == QV_NET_HOSTDEV) {
        } else if (n->queues > 1 && !g_str_has_prefix(n->model, "virtio"))
            return qv_error_set(err, -EINVAL, "/domain/devices/interface[%u]: multiqueue needs model virtio.", i + 1);
        /* With a tap the MTU is the tap's (lib/tap.c), whatever the model;
         * only virtio also tells the guest (host_mtu). User networking has
         * nothing but host_mtu. */
        if (n->mtu && strcmp(n->model, "virtio") && n->type == QV_NET_USER)
            return qv_error_set(err, -EINVAL, "/domain/devices/interface[%u]: the MTU of user networking needs model virtio.", i + 1);
        if ((n->type == QV_NET_VHOSTUSER || n->type == QV_NET_VDPA) && strcmp(n->model, "virtio"))
            return qv_error_set(err, -EINVAL, "/domain/devices/interface[%u]: a %s interface needs <model type='virtio'/>.", i + 1,
                                n->type == QV_NET_VHOSTUSER ? "vhostuser" : "vdpa");
        if (n->type == QV_NET_VHOSTUSER && !memory_shared(def))
            return qv_error_set(err, -EINVAL, "/domain/devices/interface[%u]: a vhostuser interface needs the guest's memory shared (<memoryBacking><access mode='shared'/>, or memAccess='shared' on every NUMA cell), as the backend maps it.", i + 1);
        for (guint j = 0; j < i; j++) {
            qv_domdef_net *o = g_ptr_array_index(def->nets, j);
            /* The two members of a failover pair share their MAC. */
            if (!memcmp(o->mac, n->mac, 6) && !(o->teaming_type && n->teaming_type))
                return qv_error_set(err, -EINVAL, "/domain/devices/interface[%u]: MAC address is used twice.", i + 1);
        }
    }

    /* Graphics imply a video card and PS/2 input like libvirt. */
    bool spice = false;
    for (guint i = 0; i < def->graphics->len; i++) {
        qv_domdef_graphics *g = g_ptr_array_index(def->graphics, i);
        spice = spice || g->type == QV_GFX_SPICE;
        if (g->type == QV_GFX_VNC || g->type == QV_GFX_SPICE) {
            if (g->listen_type && !strcmp(g->listen_type, "address") && !g->listen_address)
                g->listen_address = g_strdup("127.0.0.1");
        }
    }
    if (def->graphics->len) {
        if (!def->videos->len) {
            qv_domdef_video *v = g_new0(qv_domdef_video, 1);
            v->model = g_strdup(spice ? "qxl" : "vga");
            g_ptr_array_add(def->videos, v);
        }
        bool mouse = false, kbd = false;
        for (guint i = 0; i < def->inputs->len; i++) {
            qv_domdef_input *in = g_ptr_array_index(def->inputs, i);
            if (in->bus && !strcmp(in->bus, "ps2")) {
                mouse = mouse || !strcmp(in->type, "mouse");
                kbd = kbd || !strcmp(in->type, "keyboard");
            }
        }
        if (!mouse) {
            qv_domdef_input *in = g_new0(qv_domdef_input, 1);
            in->type = g_strdup("mouse");
            in->bus = g_strdup("ps2");
            g_ptr_array_add(def->inputs, in);
        }
        if (!kbd) {
            qv_domdef_input *in = g_new0(qv_domdef_input, 1);
            in->type = g_strdup("keyboard");
            in->bus = g_strdup("ps2");
            g_ptr_array_add(def->inputs, in);
        }
    }
    unsigned int nprimary = 0;
    for (guint i = 0; i < def->videos->len; i++) {
        qv_domdef_video *v = g_ptr_array_index(def->videos, i);
        if (v->primary)
            nprimary++;
        if (!strcmp(v->model, "none") && def->videos->len > 1)
            return qv_error_set(err, -EINVAL, "/domain/devices/video[%u]: model 'none' cannot be combined with other video devices.", i + 1);
        if (!v->heads && strcmp(v->model, "none"))
            v->heads = 1;
        if (!strcmp(v->model, "qxl")) {
            if (!v->ram) v->ram = 65536;
            if (!v->vram) v->vram = 65536;
            if (!v->vgamem) v->vgamem = 16384;
        } else if (!strcmp(v->model, "vga") || !strcmp(v->model, "cirrus") || !strcmp(v->model, "bochs")) {
            if (!v->vram) v->vram = 16384;
        }
    }
    if (nprimary > 1)
        return qv_error_set(err, -EINVAL, "/domain/devices/video: only one video device can be primary.");
    if (def->videos->len && !nprimary) {
        qv_domdef_video *v0 = g_ptr_array_index(def->videos, 0);
        if (strcmp(v0->model, "none"))
            v0->primary = true;
    }
    if (def->sounds->len && !def->audios->len) {
        qv_domdef_audio *a = g_new0(qv_domdef_audio, 1);
        a->id = 1;
        a->dsp_policy = -1;
        a->type = g_strdup(spice ? "spice" : "none");
        g_ptr_array_add(def->audios, a);
    }
    for (guint i = 0; i < def->audios->len; i++)
        for (guint j = 0; j < i; j++)
            if (((qv_domdef_audio *)g_ptr_array_index(def->audios, i))->id ==
                ((qv_domdef_audio *)g_ptr_array_index(def->audios, j))->id)
                return qv_error_set(err, -EINVAL, "/domain/devices/audio[%u]: audio id %u is already used.", i + 1,
                                    ((qv_domdef_audio *)g_ptr_array_index(def->audios, i))->id);
    for (guint i = 0; i < def->sounds->len; i++) {
        qv_domdef_sound *s = g_ptr_array_index(def->sounds, i);
        if (!s->audio_id)
            s->audio_id = ((qv_domdef_audio *)g_ptr_array_index(def->audios, 0))->id;
        bool found = false;
        for (guint j = 0; j < def->audios->len; j++)
            found = found || ((qv_domdef_audio *)g_ptr_array_index(def->audios, j))->id == s->audio_id;
        if (!found)
            return qv_error_set(err, -EINVAL, "/domain/devices/sound[%u]: audio backend %u does not exist.", i + 1, s->audio_id);
    }

    if (!def->memballoon) {
        def->memballoon = g_new0(qv_domdef_memballoon, 1);
        def->memballoon->model = g_strdup("virtio");
    }
    for (guint i = 0; i < def->memdevs->len; i++) {
        qv_domdef_memdev *m = g_ptr_array_index(def->memdevs, i);
        if (m->node < 0 && def->cpu.cells->len && strcmp(m->model, "virtio-pmem"))
            m->node = 0;
        if (m->node >= 0 && (guint)m->node >= MAX(def->cpu.cells->len, 1))
            return qv_error_set(err, -EINVAL, "/domain/devices/memory[%u]: NUMA node %d does not exist.", i + 1, m->node);
        bool dimm = g_str_has_suffix(m->model, "dimm");
        if (dimm && m->addr.type == QV_ADDR_NONE) {
            /* The lowest slot no other module has (libvirt's order). */
            unsigned int slot = 0;
            for (bool used = true; used; slot += used) {
                used = false;
                for (guint j = 0; j < def->memdevs->len; j++) {
                    qv_domdef_memdev *o = g_ptr_array_index(def->memdevs, j);
                    used = used || (o != m && o->addr.type == QV_ADDR_DIMM && o->addr.slot == slot);
                }
            }
            m->addr.type = QV_ADDR_DIMM;
            m->addr.slot = slot;
        }
        if (dimm && m->addr.type != QV_ADDR_DIMM)
            return qv_error_set(err, -EINVAL, "/domain/devices/memory[%u]: a %s takes a dimm address.", i + 1, m->model);
        if (!dimm && m->addr.type != QV_ADDR_NONE && m->addr.type != QV_ADDR_PCI)
            return qv_error_set(err, -EINVAL, "/domain/devices/memory[%u]: a %s takes a PCI address.", i + 1, m->model);

    }
    if (def->iommu && !strcmp(def->iommu->model, "intel") && !q35)
        return qv_error_set(err, -EINVAL, "/domain/devices/iommu: the intel IOMMU needs a q35 machine.");
    for (guint i = 0; i < def->watchdogs->len; i++) {
        qv_domdef_watchdog *w = g_ptr_array_index(def->watchdogs, i);
        if (!w->action)
            w->action = g_strdup("reset");
        if (!strcmp(w->model, "itco") && !q35)
            return qv_error_set(err, -EINVAL, "/domain/devices/watchdog[%u]: the itco watchdog needs a q35 machine.", i + 1);
    }
    for (guint i = 0; i < def->rngs->len; i++) {
        qv_domdef_rng *r = g_ptr_array_index(def->rngs, i);
        if (!strcmp(r->backend_model, "random") && !r->backend_path)
            r->backend_path = g_strdup("/dev/urandom");
    }
    for (guint i = 0; i < def->tpms->len; i++) {
        qv_domdef_tpm *t = g_ptr_array_index(def->tpms, i);
        if (!t->version && !strcmp(t->backend, "emulator"))
            t->version = g_strdup(!strcmp(t->model, "tpm-crb") ? "2.0" : "1.2");
        if (i > 0)
            return qv_error_set(err, -EINVAL, "/domain/devices/tpm[2]: only one TPM is supported.");
    }
    for (guint i = 0; i < def->filesystems->len; i++) {
        qv_domdef_fs *f = g_ptr_array_index(def->filesystems, i);
        if (!f->accessmode)
            f->accessmode = g_strdup("passthrough");
    }

    if (assign_pci(def, q35, err) < 0 ||
        assign_usb(def, err) < 0)
        return -EINVAL;
    assign_aliases(def);
    return 0;
}
