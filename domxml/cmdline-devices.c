/* Controllers, video, input, sound and the smaller devices (balloon,
 * watchdog, rng, panic, shmem, vsock, iommu, tpm, smartcard, redirdev, hub,
 * USB host devices, 9p filesystems, memory modules). */
#include <string.h>

#include "domxml-priv.h"

static int add_dev(qv_cmdline *cl, qv_jobj *dev, const qv_domdef_addr *addr, const char *what,
                   qv_error **err)
{
    if (qv_cmdline_set_address(cl, dev, addr, what, err) < 0) {
        qv_jobj_free(dev);
        return -EINVAL;
    }
    qv_cmdline_add_json(cl, "-device", dev);
    return 0;
}

/* ---- host devices ---- */
static int add_usb_hostdev(qv_cmdline *cl, const qv_domdef_hostdev *h, qv_error **err)
{
    qv_jobj *dev = qv_json_device(cl, "usb-host", h->alias);
    if (h->vendor) {
        qv_json_set_int(dev, "vendorid", h->vendor);
        qv_json_set_int(dev, "productid", h->product);
    }
    if (h->host_bus >= 0) {
        qv_json_set_int(dev, "hostbus", h->host_bus);
        qv_json_set_int(dev, "hostaddr", h->host_device);
    }
    if (h->boot_order)
        qv_json_set_int(dev, "bootindex", h->boot_order);
    return add_dev(cl, dev, &h->addr, "USB host device", err);
}

/* A PCI host device or a mediated device: vfio-pci, by host address or by
 * the mdev's sysfs node, as libvirt's qemuBuildPCIHostdevDevProps and
 * qemuBuildHostdevMediatedDevProps. */
static int add_vfio_hostdev(qv_cmdline *cl, const qv_domdef_hostdev *h, qv_error **err)
{
    /* ramfb is a property of the variant that cannot be hot-unplugged. */
    qv_jobj *dev = qv_json_device(cl, h->mdev_ramfb == QV_TRI_ON ? "vfio-pci-nohotplug" : "vfio-pci", h->alias);
    if (!strcmp(h->type, "pci")) {
        const qv_domdef_addr *a = &h->host_addr;
        g_autofree char *host = g_strdup_printf("%04x:%02x:%02x.%x", a->domain, a->bus, a->slot, a->function);
        qv_json_set_str(dev, "host", host);
    } else {
        g_autofree char *sysfs = qv_strcat2("/sys/bus/mdev/devices/", h->mdev_uuid);
        qv_json_set_str(dev, "sysfsdev", sysfs);
        if (h->mdev_display)
            qv_json_set_str(dev, "display", qv_tri_onoff(h->mdev_display));
        if (h->mdev_ramfb)
            qv_json_set_bool(dev, "ramfb", h->mdev_ramfb == QV_TRI_ON);
    }
    if (h->boot_order)
        qv_json_set_int(dev, "bootindex", h->boot_order);
    if (h->teaming_persistent)
        qv_json_set_str(dev, "failover_pair_id", h->teaming_persistent);
    if (h->rom_bar)
        qv_json_set_int(dev, "rombar", h->rom_bar == QV_TRI_ON);
    if (h->rom_file)
        qv_json_set_str(dev, "romfile", h->rom_file);
    return add_dev(cl, dev, &h->addr, "host device", err);
}

/* A SCSI host device: its /dev/sgN (found on the host by the caller) as a
 * host_device node under scsi-generic, or an iSCSI LUN's iscsi node, as
 * libvirt 9.0 does. */
static int add_scsi_hostdev(qv_cmdline *cl, const qv_domdef_hostdev *h, qv_error **err)
{
    const qv_build_ctx *ctx = cl->ctx;
    g_autofree char *node = g_strdup_printf("libvirt-%s-backend", h->alias);
    if (h->iscsi) {
        /* An iSCSI LUN: QEMU's initiator, scsi-generic on top as for a
         * host one (libvirt 9.0). */
        if (qv_cmdline_add_iscsi_backend(cl, h, node, err) < 0)
            return -EINVAL;
    } else if (!ctx || !ctx->scsi_generic) {
        return qv_error_set(err, -EINVAL, "SCSI host device %s (%s %u:%u:%u) needs its /dev/sg node, which only a host lookup finds.",
                            h->alias, h->scsi_adapter, h->scsi_bus, h->scsi_target, h->scsi_unit);
    } else {
        g_autofree char *sg = ctx->scsi_generic(ctx->scsi_data, h, err);
        if (!sg)
            return -ENODEV;
        g_autofree char *file = qv_cmdline_file(cl, sg, h->readonly ? O_RDONLY : O_RDWR, node, err);
        if (!file)
            return -EINVAL;
        qv_jobj *o = qv_jobj_new(cl);
        qv_json_set_str(o, "driver", "host_device");
        qv_json_set_str(o, "filename", file);
        qv_json_set_str(o, "node-name", node);
        if (h->readonly && !g_str_has_prefix(file, "/dev/fdset/"))
            qv_json_set_bool(o, "read-only", true);
        qv_cmdline_storage_access(o, file, !h->readonly);
        qv_cmdline_add_json(cl, "-blockdev", o);
    }
    qv_domdef_controller *c = qv_domdef_find_controller(cl->def, QV_CTRL_SCSI, h->addr.controller);
    if (!c)
        return qv_error_set(err, -EINVAL, "SCSI host device %s is on SCSI controller %u, which does not exist.", h->alias, h->addr.controller);
    qv_jobj *dev = qv_json_device(cl, "scsi-generic", h->alias);
    g_autofree char *bus = qv_strcat2(c->alias, ".0");
    qv_json_set_str(dev, "bus", bus);
    if (!strcmp(c->model, "lsilogic")) {
        qv_json_set_int(dev, "scsi-id", h->addr.unit);
    } else {
        qv_json_set_int(dev, "channel", h->addr.bus);
        qv_json_set_int(dev, "scsi-id", h->addr.target);
        qv_json_set_int(dev, "lun", h->addr.unit);
    }
    qv_json_set_str(dev, "drive", node);
    if (h->boot_order)
        qv_json_set_int(dev, "bootindex", h->boot_order);
    qv_cmdline_add_json(cl, "-device", dev);
    return 0;
}

/* A vhost-scsi target: vhost-scsi-pci with its WWPN and, as libvirt 9.0
 * passes it, /dev/vhost-scsi opened here as vhostfd (without an opener,
 * QEMU opens it itself). */
static int add_vhost_scsi_hostdev(qv_cmdline *cl, const qv_domdef_hostdev *h, qv_error **err)
{
    g_autofree char *driver = qv_virtio_device_name("vhost-scsi-pci", h->vhost_model);
    g_autofree char *fd = NULL;
    if (qv_cmdline_fd(cl, "/dev/vhost-scsi", O_RDWR, h->alias, &fd, err) < 0)
        return -ENODEV;
    qv_jobj *dev = qv_json_device(cl, driver, h->alias);
    qv_json_set_str(dev, "wwpn", h->vhost_wwpn);
    if (fd)
        qv_json_set_str(dev, "vhostfd", fd);
    if (h->boot_order)
        qv_json_set_int(dev, "bootindex", h->boot_order);
    return add_dev(cl, dev, &h->addr, "host device", err);
}

static int add_hostdev(qv_cmdline *cl, const qv_domdef_hostdev *h, qv_error **err)
{
    if (!strcmp(h->type, "scsi_host"))
        return add_vhost_scsi_hostdev(cl, h, err);
    if (!strcmp(h->type, "usb"))
        return add_usb_hostdev(cl, h, err);
    if (!strcmp(h->type, "scsi"))
        return add_scsi_hostdev(cl, h, err);
    return add_vfio_hostdev(cl, h, err);
}

/* ---- controllers ---- */
static int add_controller(qv_cmdline *cl, const qv_domdef_controller *c, qv_error **err)
{
    const char *driver = NULL;
    qv_jobj *dev;
    switch (c->type) {
    case QV_CTRL_PCI:
        if (!strcmp(c->model, "pci-root") || !strcmp(c->model, "pcie-root"))
            return 0;
        driver = !strcmp(c->model, "pci-bridge") ? "pci-bridge" :
                 !strcmp(c->model, "pcie-root-port") ? "pcie-root-port" :
                 !strcmp(c->model, "dmi-to-pci-bridge") ? "i82801b11-bridge" :
                 !strcmp(c->model, "pcie-switch-upstream-port") ? "x3130-upstream" :
                 !strcmp(c->model, "pcie-switch-downstream-port") ? "xio3130-downstream" :
                 !strcmp(c->model, "pci-expander-bus") ? "pxb" :
                 !strcmp(c->model, "pcie-expander-bus") ? "pxb-pcie" :
                 "pcie-pci-bridge";
        if (c->model_name)
            driver = c->model_name; /* ioh3420 for a pcie-root-port, else the same */
        dev = qv_json_device(cl, driver, c->alias);
        if (g_str_has_suffix(c->model, "-expander-bus")) {
            qv_json_set_int(dev, "bus_nr", c->busnr);
            if (c->numa_node >= 0)
                qv_json_set_int(dev, "numa_node", c->numa_node);
        }
        if (!strcmp(c->model, "pci-bridge"))
            qv_json_set_int(dev, "chassis_nr", c->chassis_nr >= 0 ? c->chassis_nr : (int)c->index);
        if (!strcmp(c->model, "pcie-root-port") || !strcmp(c->model, "pcie-switch-downstream-port")) {
            qv_json_set_int(dev, "port", c->port >= 0 ? c->port : (int)c->index + 0x7);
            qv_json_set_int(dev, "chassis", c->chassis >= 0 ? c->chassis : (int)c->index);
        }
        return add_dev(cl, dev, &c->addr, "PCI controller", err);
    case QV_CTRL_USB:
        if (!strcmp(c->model, "none"))
            return 0;
        static const struct { const char *model, *driver; } usb_map[] = {
            { "piix3-uhci", "piix3-usb-uhci" }, { "piix4-uhci", "piix4-usb-uhci" },
            { "ehci", "usb-ehci" }, { "ich9-ehci1", "ich9-usb-ehci1" },
            { "ich9-uhci1", "ich9-usb-uhci1" }, { "ich9-uhci2", "ich9-usb-uhci2" },
            { "ich9-uhci3", "ich9-usb-uhci3" }, { "nec-xhci", "nec-usb-xhci" },
            { "qemu-xhci", "qemu-xhci" },
        };
        for (size_t i = 0; i < G_N_ELEMENTS(usb_map); i++)
            if (!strcmp(usb_map[i].model, c->model))
                driver = usb_map[i].driver;
        if (c->master_startport >= 0) {
            /* A companion has no id of its own: it serves its master's bus. */
            const qv_domdef_controller *m = NULL;
            for (guint i = 0; i < cl->def->controllers->len && !m; i++) {
                const qv_domdef_controller *o = g_ptr_array_index(cl->def->controllers, i);
                if (o->type == QV_CTRL_USB && o->index == c->index && o->master_startport < 0)
                    m = o;
            }
            g_assert(m);   /* checked by post-parse */
            g_autofree char *masterbus = qv_strcat2(m->alias, ".0");
            dev = qv_json_device(cl, driver, NULL);
            qv_json_set_str(dev, "masterbus", masterbus);
            qv_json_set_int(dev, "firstport", c->master_startport);
            return add_dev(cl, dev, &c->addr, "USB controller", err);
        }
        dev = qv_json_device(cl, driver, c->alias);
        if (c->ports > 0 && (!strcmp(c->model, "qemu-xhci") || !strcmp(c->model, "nec-xhci"))) {
            qv_json_set_int(dev, "p2", c->ports);
            qv_json_set_int(dev, "p3", c->ports);
        }
        return add_dev(cl, dev, &c->addr, "USB controller", err);
    case QV_CTRL_SCSI:
        {
            g_autofree char *vscsi = qv_virtio_device_name("virtio-scsi-pci", c->model);
            dev = qv_json_device(cl, !strcmp(c->model, "lsilogic") ? "lsi" : vscsi, c->alias);
        }
        if (c->queues > 0)
            qv_json_set_int(dev, "num_queues", c->queues);
        if (c->iothread) {
            g_autofree char *io = g_strdup_printf("iothread%u", c->iothread);
            qv_json_set_str(dev, "iothread", io);
        }
        return add_dev(cl, dev, &c->addr, "SCSI controller", err);
    case QV_CTRL_VIRTIO_SERIAL:
        {
            g_autofree char *vser = qv_virtio_device_name("virtio-serial-pci", c->model);
            dev = qv_json_device(cl, vser, c->alias);
        }
        if (c->ports > 0)
            qv_json_set_int(dev, "max_ports", c->ports);
        if (c->vectors > 0)
            qv_json_set_int(dev, "vectors", c->vectors);
        return add_dev(cl, dev, &c->addr, "virtio-serial controller", err);
    case QV_CTRL_SATA:
        if (cl->q35 && c->index == 0)
            return 0;   /* the ICH9 AHCI built into q35 */
        dev = qv_json_device(cl, "ich9-ahci", c->alias);
        return add_dev(cl, dev, &c->addr, "SATA controller", err);
    case QV_CTRL_CCID:
        dev = qv_json_device(cl, "usb-ccid", c->alias);
        return add_dev(cl, dev, &c->addr, "smartcard reader", err);
    default:
        return 0;   /* IDE and FDC are built into the machine */
    }
}

static gint compare_controller_index(gconstpointer a, gconstpointer b)
{
    const qv_domdef_controller *x = *(qv_domdef_controller *const *)a;
    const qv_domdef_controller *y = *(qv_domdef_controller *const *)b;
    return (x->index > y->index) - (x->index < y->index);
}

int qv_cmdline_add_controllers(qv_cmdline *cl, qv_error **err)
{
    /* Buses before the devices on them: PCI controllers in index order
     * (indexes are unique, checked by the parser). */
    g_autoptr(GPtrArray) pci = g_ptr_array_new();
    for (guint i = 0; i < cl->def->controllers->len; i++) {
        qv_domdef_controller *c = g_ptr_array_index(cl->def->controllers, i);
        if (c->type == QV_CTRL_PCI && c->index < 256)
            g_ptr_array_add(pci, c);
    }
    g_ptr_array_sort(pci, compare_controller_index);
    for (guint i = 0; i < pci->len; i++)
        if (add_controller(cl, g_ptr_array_index(pci, i), err) < 0)
            return -EINVAL;
    for (guint i = 0; i < cl->def->controllers->len; i++) {
        qv_domdef_controller *c = g_ptr_array_index(cl->def->controllers, i);
        if (c->type != QV_CTRL_PCI && c->type != QV_CTRL_CCID && c->master_startport < 0 &&
            add_controller(cl, c, err) < 0)
            return -EINVAL;
    }
    /* USB companions after the EHCI controller whose bus they join. */
    for (guint i = 0; i < cl->def->controllers->len; i++) {
        qv_domdef_controller *c = g_ptr_array_index(cl->def->controllers, i);
        if (c->master_startport >= 0 && add_controller(cl, c, err) < 0)
            return -EINVAL;
    }
    /* USB hubs are buses too: before the devices plugged into them. */
    for (guint i = 0; i < cl->def->hubs->len; i++) {
        qv_domdef_hub *h = g_ptr_array_index(cl->def->hubs, i);
        if (add_dev(cl, qv_json_device(cl, "usb-hub", h->alias), &h->addr, "USB hub", err) < 0)
            return -EINVAL;
    }
    return 0;
}

/* ---- video, input, sound ---- */
static int add_video(qv_cmdline *cl, const qv_domdef_video *v, qv_error **err)
{
    const char *m = v->model;
    const char *driver;
    if (!strcmp(m, "none"))
        return 0;
    if (!strcmp(m, "vga"))
        driver = v->primary ? "VGA" : "secondary-vga";
    else if (!strcmp(m, "cirrus"))
        driver = "cirrus-vga";
    else if (!strcmp(m, "virtio"))
        driver = v->primary ? (v->accel3d == QV_TRI_ON ? "virtio-vga-gl" : "virtio-vga")
                            : (v->accel3d == QV_TRI_ON ? "virtio-gpu-gl-pci" : "virtio-gpu-pci");
    else if (!strcmp(m, "qxl"))
        driver = v->primary ? "qxl-vga" : "qxl";
    else if (!strcmp(m, "bochs"))
        driver = "bochs-display";
    else
        driver = "ramfb";
    qv_jobj *dev = qv_json_device(cl, driver, v->alias);
    if (!strcmp(m, "vga") && v->vram)
        qv_json_set_int(dev, "vgamem_mb", v->vram / 1024);
    else if (!strcmp(m, "bochs") && v->vram)
        qv_json_set_int(dev, "vgamem", (long long)v->vram * 1024);
    else if (!strcmp(m, "qxl")) {
        qv_json_set_int(dev, "ram_size", (long long)v->ram * 1024);
        qv_json_set_int(dev, "vram_size", (long long)v->vram * 1024);
        if (v->vram64)
            qv_json_set_int(dev, "vram64_size_mb", v->vram64 / 1024);
        qv_json_set_int(dev, "vgamem_mb", v->vgamem / 1024);
        if (v->heads > 1)
            qv_json_set_int(dev, "max_outputs", v->heads);
    } else if (!strcmp(m, "virtio") && v->heads > 1) {
        qv_json_set_int(dev, "max_outputs", v->heads);
    }
    if (!strcmp(m, "ramfb")) {
        qv_cmdline_add_json(cl, "-device", dev);
        return 0;
    }
    return add_dev(cl, dev, &v->addr, "video device", err);
}

int qv_cmdline_add_input(qv_cmdline *cl, const qv_domdef_input *in, qv_error **err)
{
    const char *t = in->type;
    if (in->bus && !strcmp(in->bus, "ps2"))
        return 0;   /* built into the i8042 */
    if (!strcmp(t, "evdev")) {
        qv_jobj *o = qv_jobj_new(cl);
        qv_json_set_str(o, "qom-type", "input-linux");
        qv_json_set_str(o, "id", in->alias);
        qv_json_set_str(o, "evdev", in->source_evdev);
        if (in->grab && !strcmp(in->grab, "all"))
            qv_json_set_bool(o, "grab_all", true);
        if (in->repeat)
            qv_json_set_bool(o, "repeat", !strcmp(in->repeat, "on"));
        if (in->grab_toggle)
            qv_json_set_str(o, "grab-toggle", in->grab_toggle);
        qv_cmdline_add_json(cl, "-object", o);
        return 0;
    }
    const char *driver;
    bool usb = in->bus && !strcmp(in->bus, "usb");
    if (!strcmp(t, "passthrough"))
        driver = "virtio-input-host-pci";
    else if (!strcmp(t, "tablet"))
        driver = usb ? "usb-tablet" : "virtio-tablet-pci";
    else if (!strcmp(t, "mouse"))
        driver = usb ? "usb-mouse" : "virtio-mouse-pci";
    else
        driver = usb ? "usb-kbd" : "virtio-keyboard-pci";
    qv_jobj *dev = qv_json_device(cl, driver, in->alias);
    if (!strcmp(t, "passthrough"))
        qv_json_set_str(dev, "evdev", in->source_evdev);
    return add_dev(cl, dev, &in->addr, "input device", err);
}

/* One direction ("in"/"out") of an -audiodev, as libvirt 9.0 builds it:
 * frequency, channels and format only with fixed settings. Nothing when
 * the direction sets nothing. */
static void add_audio_io(qv_jobj *o, const char *key, const qv_domdef_audio_io *io)
{
    bool fixed = io->fixed_settings == QV_TRI_ON;
    bool any = io->mixing_engine || io->fixed_settings || io->voices || io->buffer_length ||
               (fixed && (io->frequency || io->channels || io->format)) || io->dev ||
               io->buffer_count || io->try_poll || io->name || io->stream_name || io->latency ||
               io->server_name || io->client_name || io->connect_ports || io->exact_name;
    if (!any)
        return;
    qv_json_open(o, key);
    if (io->mixing_engine)
        qv_json_set_bool(o, "mixing-engine", io->mixing_engine == QV_TRI_ON);
    if (io->fixed_settings)
        qv_json_set_bool(o, "fixed-settings", fixed);
    if (io->voices)
        qv_json_set_int(o, "voices", io->voices);
    if (io->buffer_length)
        qv_json_set_int(o, "buffer-length", io->buffer_length);
    if (fixed && io->frequency)
        qv_json_set_int(o, "frequency", io->frequency);
    if (fixed && io->channels)
        qv_json_set_int(o, "channels", io->channels);
    if (fixed)
        qv_json_set_str(o, "format", io->format);
    qv_json_set_str(o, "dev", io->dev);
    if (io->buffer_count)
        qv_json_set_int(o, "buffer-count", io->buffer_count);
    if (io->try_poll)
        qv_json_set_bool(o, "try-poll", io->try_poll == QV_TRI_ON);
    qv_json_set_str(o, "name", io->name);
    qv_json_set_str(o, "stream-name", io->stream_name);
    if (io->latency)
        qv_json_set_int(o, "latency", io->latency);
    qv_json_set_str(o, "server-name", io->server_name);
    qv_json_set_str(o, "client-name", io->client_name);
    qv_json_set_str(o, "connect-ports", io->connect_ports);
    if (io->exact_name)
        qv_json_set_bool(o, "exact-name", io->exact_name == QV_TRI_ON);
    qv_json_close(o);
}

/* -audiodev as JSON, as libvirt 9.0 passes it: libvirt's type names are
 * QEMU's driver names but for pulseaudio ("pa") and file ("wav"). */
static void add_audiodev(qv_cmdline *cl, const qv_domdef_audio *a)
{
    g_autofree char *id = qv_strdup_uint("audio", a->id);
    const char *driver = !strcmp(a->type, "pulseaudio") ? "pa" : !strcmp(a->type, "file") ? "wav" : a->type;
    qv_jobj *o = qv_jobj_new(cl);
    qv_json_set_str(o, "id", id);
    qv_json_set_str(o, "driver", driver);
    if (a->timer_period)
        qv_json_set_int(o, "timer-period", a->timer_period);
    add_audio_io(o, "in", &a->in);
    add_audio_io(o, "out", &a->out);
    if (a->try_mmap)
        qv_json_set_bool(o, "try-mmap", a->try_mmap == QV_TRI_ON);
    if (a->exclusive)
        qv_json_set_bool(o, "exclusive", a->exclusive == QV_TRI_ON);
    if (a->dsp_policy >= 0)
        qv_json_set_int(o, "dsp-policy", a->dsp_policy);
    qv_json_set_str(o, "server", a->server_name);
    qv_json_set_str(o, "path", a->path);
    qv_cmdline_add_json(cl, "-audiodev", o);
}

static int add_sound(qv_cmdline *cl, const qv_domdef_sound *s, qv_error **err)
{
    g_autofree char *audiodev = g_strdup_printf("audio%u", s->audio_id);
    const char *m = s->model;
    if (!strcmp(m, "ich6") || !strcmp(m, "ich9")) {
        qv_jobj *dev = qv_json_device(cl, !strcmp(m, "ich6") ? "intel-hda" : "ich9-intel-hda", s->alias);
        if (add_dev(cl, dev, &s->addr, "sound device", err) < 0)
            return -EINVAL;
        guint n = MAX(s->codecs->len, 1);
        for (guint i = 0; i < n; i++) {
            const char *codec = s->codecs->len ? g_ptr_array_index(s->codecs, i) : "duplex";
            g_autofree char *id = g_strdup_printf("%s-codec%u", s->alias, i);
            g_autofree char *bus = qv_strcat2(s->alias, ".0");
            qv_jobj *c = qv_json_device(cl, !strcmp(codec, "micro") ? "hda-micro" :
                                            !strcmp(codec, "output") ? "hda-output" : "hda-duplex", id);
            qv_json_set_str(c, "bus", bus);
            qv_json_set_int(c, "cad", i);
            qv_json_set_str(c, "audiodev", audiodev);
            qv_cmdline_add_json(cl, "-device", c);
        }
        return 0;
    }
    const char *driver = !strcmp(m, "ac97") ? "AC97" : !strcmp(m, "es1370") ? "ES1370" :
                         !strcmp(m, "sb16") ? "sb16" : "usb-audio";
    qv_jobj *dev = qv_json_device(cl, driver, s->alias);
    qv_json_set_str(dev, "audiodev", audiodev);
    return add_dev(cl, dev, &s->addr, "sound device", err);
}

int qv_cmdline_add_video_input_sound(qv_cmdline *cl, qv_error **err)
{
    const qv_domdef *def = cl->def;
    for (guint i = 0; i < def->inputs->len; i++)
        if (qv_cmdline_add_input(cl, g_ptr_array_index(def->inputs, i), err) < 0)
            return -EINVAL;
    for (guint i = 0; i < def->audios->len; i++)
        add_audiodev(cl, g_ptr_array_index(def->audios, i));
    for (guint i = 0; i < def->sounds->len; i++)
        if (add_sound(cl, g_ptr_array_index(def->sounds, i), err) < 0)
            return -EINVAL;
    for (guint i = 0; i < def->videos->len; i++)
        if (add_video(cl, g_ptr_array_index(def->videos, i), err) < 0)
            return -EINVAL;
    return 0;
}

/* ---- the rest ---- */
int qv_cmdline_add_rng(qv_cmdline *cl, const qv_domdef_rng *r, qv_error **err)
{
    g_autofree char *obj = qv_strcat2("obj", r->alias);
    qv_jobj *o = qv_jobj_new(cl);
    if (!strcmp(r->backend_model, "random")) {
        qv_json_set_str(o, "qom-type", "rng-random");
        qv_json_set_str(o, "id", obj);
        qv_json_set_str(o, "filename", r->backend_path);
    } else if (!strcmp(r->backend_model, "builtin")) {
        qv_json_set_str(o, "qom-type", "rng-builtin");
        qv_json_set_str(o, "id", obj);
    } else {
        g_autofree char *chr = qv_strcat2("char", r->alias);
        if (qv_cmdline_add_chardev(cl, r->egd, chr, NULL, err) < 0) {
            qv_jobj_free(o);
            return -EINVAL;
        }
        qv_json_set_str(o, "qom-type", "rng-egd");
        qv_json_set_str(o, "id", obj);
        qv_json_set_str(o, "chardev", chr);
    }
    qv_cmdline_add_json(cl, "-object", o);
    g_autofree char *driver = qv_virtio_device_name("virtio-rng-pci", r->model);
    qv_jobj *dev = qv_json_device(cl, driver, r->alias);
    qv_json_set_str(dev, "rng", obj);
    if (r->rate_bytes) {
        qv_json_set_int(dev, "max-bytes", r->rate_bytes);
        qv_json_set_int(dev, "period", r->rate_period ? r->rate_period : 1000);
    }
    return add_dev(cl, dev, &r->addr, "random number generator", err);
}

static int add_tpm(qv_cmdline *cl, const qv_domdef_tpm *t, qv_error **err)
{
    g_autofree char *tpmdev = qv_strcat2("tpm-", t->alias);
    if (!strcmp(t->backend, "emulator")) {
        GString *c = g_string_new("socket,id=chrtpm");
        if (cl->ctx->tpm_channel) {
            int fd = cl->ctx->tpm_channel(cl->ctx->tpm_data, t, err);
            if (fd < 0) {
                g_string_free(c, TRUE);
                return fd;
            }
            g_string_append_printf(c, ",fd=%d", fd);
        } else {
            g_autofree char *sock = g_strdup_printf("%s/%s-swtpm.sock", cl->ctx->runtime_dir,
                                                    t->alias);
            qv_opt_append(c, "path", sock);
        }
        qv_cmdline_add(cl, "-chardev");
        g_ptr_array_add(cl->argv, g_string_free(c, FALSE));
        qv_cmdline_addf(cl, "-tpmdev", "emulator,id=%s,chardev=chrtpm", tpmdev);
    } else {
        GString *s = g_string_new("passthrough");
        qv_opt_append(s, "id", tpmdev);
        qv_opt_append(s, "path", t->path);
        qv_cmdline_add(cl, "-tpmdev");
        g_ptr_array_add(cl->argv, g_string_free(s, FALSE));
    }
    qv_jobj *dev = qv_json_device(cl, t->model, t->alias);
    qv_json_set_str(dev, "tpmdev", tpmdev);
    qv_cmdline_add_json(cl, "-device", dev);
    return 0;
}

static int add_spicevmc_chardev(qv_cmdline *cl, const qv_domdef_chr_source *src, const char *id,
                                const char *name, qv_error **err)
{
    if (src->type == QV_CHR_SPICEVMC) {
        qv_cmdline_addf(cl, "-chardev", "spicevmc,id=%s,name=%s", id, name);
        return 0;
    }
    return qv_cmdline_add_chardev(cl, src, id, NULL, err);
}

int qv_cmdline_add_watchdog(qv_cmdline *cl, const qv_domdef_watchdog *w, qv_error **err)
{
    const char *action = !strcmp(w->action, "dump") ? "pause" : w->action;
    if (!strcmp(w->model, "itco")) {
        if (cl->capture)
            return qv_error_set(err, -EOPNOTSUPP, "The itco watchdog is part of the q35 chipset and cannot be hotplugged.");
        qv_cmdline_add2(cl, "-global", "ICH9-LPC.noreboot=off");
    } else {
        qv_jobj *dev = qv_json_device(cl, w->model, w->alias);
        if (!strcmp(w->model, "ib700")) {
            qv_cmdline_add_json(cl, "-device", dev);
        } else if (add_dev(cl, dev, &w->addr, "watchdog", err) < 0) {
            return -EINVAL;
        }
    }
    if (cl->capture) {
        /* QMP's set-action takes the same key as the -action option. */
        qv_jobj *o = qv_jobj_new(cl);
        qv_json_set_str(o, "watchdog", action);
        qv_cmdline_add_json(cl, "-action", o);
    } else {
        qv_cmdline_addf(cl, "-action", "watchdog=%s", action);
    }
    return 0;
}

int qv_cmdline_add_misc(qv_cmdline *cl, qv_error **err)
{
    const qv_domdef *def = cl->def;
    /* CCID controllers come after the USB controllers they sit on. */
    for (guint i = 0; i < def->controllers->len; i++) {
        qv_domdef_controller *c = g_ptr_array_index(def->controllers, i);
        if (c->type == QV_CTRL_CCID && add_controller(cl, c, err) < 0)
            return -EINVAL;
    }
    for (guint i = 0; i < def->smartcards->len; i++) {
        qv_domdef_smartcard *s = g_ptr_array_index(def->smartcards, i);
        qv_jobj *dev;
        if (!strcmp(s->mode, "host")) {
            dev = qv_json_device(cl, "ccid-card-emulated", s->alias);
            qv_json_set_str(dev, "backend", "nss-emulated");
        } else {
            g_autofree char *chr = qv_strcat2("char", s->alias);
            if (add_spicevmc_chardev(cl, &s->src, chr, "smartcard", err) < 0)
                return -EINVAL;
            dev = qv_json_device(cl, "ccid-card-passthru", s->alias);
            qv_json_set_str(dev, "chardev", chr);
        }
        qv_json_set_str(dev, "bus", "ccid0.0");
        qv_cmdline_add_json(cl, "-device", dev);
    }
    for (guint i = 0; i < def->redirdevs->len; i++) {
        qv_domdef_redirdev *r = g_ptr_array_index(def->redirdevs, i);
        g_autofree char *chr = qv_strcat2("char", r->alias);
        if (add_spicevmc_chardev(cl, &r->src, chr, "usbredir", err) < 0)
            return -EINVAL;
        qv_jobj *dev = qv_json_device(cl, "usb-redir", r->alias);
        qv_json_set_str(dev, "chardev", chr);
        if (add_dev(cl, dev, &r->addr, "USB redirection device", err) < 0)
            return -EINVAL;
    }
    for (guint i = 0; i < def->hostdevs->len; i++) {
        if (add_hostdev(cl, g_ptr_array_index(def->hostdevs, i), err) < 0)
            return -EINVAL;
    }
    for (guint i = 0; i < def->filesystems->len; i++) {
        qv_domdef_fs *f = g_ptr_array_index(def->filesystems, i);
        g_autofree char *fsdev = qv_strcat2("fsdev-", f->alias);
        GString *s = g_string_new("local");
        qv_opt_append(s, "id", fsdev);
        qv_opt_append(s, "path", f->source);
        g_string_append_printf(s, ",security_model=%s", !strcmp(f->accessmode, "squash") ? "mapped-xattr" :
                               !strcmp(f->accessmode, "mapped") ? "mapped-xattr" : "passthrough");
        if (f->readonly)
            g_string_append(s, ",readonly=on");
        qv_cmdline_add(cl, "-fsdev");
        g_ptr_array_add(cl->argv, g_string_free(s, FALSE));
        g_autofree char *driver = qv_virtio_device_name("virtio-9p-pci", f->model);
        qv_jobj *dev = qv_json_device(cl, driver, f->alias);
        qv_json_set_str(dev, "fsdev", fsdev);
        qv_json_set_str(dev, "mount_tag", f->target);
        if (add_dev(cl, dev, &f->addr, "filesystem", err) < 0)
            return -EINVAL;
    }
    for (guint i = 0; i < def->watchdogs->len; i++)
        if (qv_cmdline_add_watchdog(cl, g_ptr_array_index(def->watchdogs, i), err) < 0)
            return -EINVAL;
    if (def->memballoon && strcmp(def->memballoon->model, "none")) {
        const qv_domdef_memballoon *b = def->memballoon;
        g_autofree char *driver = qv_virtio_device_name("virtio-balloon-pci", b->model);
        qv_jobj *dev = qv_json_device(cl, driver, b->alias);
        if (b->autodeflate)
            qv_json_set_bool(dev, "deflate-on-oom", b->autodeflate == QV_TRI_ON);
        if (b->free_page_reporting)
            qv_json_set_bool(dev, "free-page-reporting", b->free_page_reporting == QV_TRI_ON);
        /* The stats period is set with qom-set after start (lib/). */
        if (add_dev(cl, dev, &b->addr, "memory balloon", err) < 0)
            return -EINVAL;
    }
    for (guint i = 0; i < def->rngs->len; i++)
        if (qv_cmdline_add_rng(cl, g_ptr_array_index(def->rngs, i), err) < 0)
            return -EINVAL;
    for (guint i = 0; i < def->tpms->len; i++)
        if (add_tpm(cl, g_ptr_array_index(def->tpms, i), err) < 0)
            return -EINVAL;
    for (guint i = 0; i < def->panics->len; i++) {
        qv_domdef_panic *p = g_ptr_array_index(def->panics, i);
        if (!strcmp(p->model, "isa")) {
            qv_jobj *dev = qv_json_device(cl, "pvpanic", p->alias);
            if (p->addr.type == QV_ADDR_ISA)
                qv_json_set_int(dev, "ioport", p->addr.port);
            qv_cmdline_add_json(cl, "-device", dev);
        } else if (!strcmp(p->model, "pvpanic")) {
            if (add_dev(cl, qv_json_device(cl, "pvpanic-pci", p->alias), &p->addr, "panic device", err) < 0)
                return -EINVAL;
        }
    }
    for (guint i = 0; i < def->shmems->len; i++) {
        qv_domdef_shmem *s = g_ptr_array_index(def->shmems, i);
        g_autofree char *obj = qv_strcat2("shmmem-", s->alias);
        g_autofree char *path = g_strdup_printf("/dev/shm/%s", s->name);
        qv_jobj *o = qv_jobj_new(cl);
        qv_json_set_str(o, "qom-type", "memory-backend-file");
        qv_json_set_str(o, "id", obj);
        qv_json_set_str(o, "mem-path", path);
        qv_json_set_int(o, "size", (long long)(s->size_kib * 1024));
        qv_json_set_bool(o, "share", true);
        qv_cmdline_add_json(cl, "-object", o);
        qv_jobj *dev = qv_json_device(cl, "ivshmem-plain", s->alias);
        qv_json_set_str(dev, "memdev", obj);
        if (add_dev(cl, dev, &s->addr, "shared memory device", err) < 0)
            return -EINVAL;
    }
    for (guint i = 0; i < def->memdevs->len; i++) {
        qv_domdef_memdev *m = g_ptr_array_index(def->memdevs, i);
        g_autofree char *obj = qv_strcat2("mem", m->alias);
        if (qv_cmdline_add_mem_backend(cl, m, obj, err) < 0)
            return -EINVAL;
        bool dimm = !strcmp(m->model, "dimm"), nvdimm = !strcmp(m->model, "nvdimm");
        qv_jobj *dev = qv_json_device(cl, dimm ? "pc-dimm" : nvdimm ? "nvdimm" :
                                          !strcmp(m->model, "virtio-pmem") ? "virtio-pmem-pci" : "virtio-mem-pci",
                                      m->alias);
        if (m->node >= 0)
            qv_json_set_int(dev, "node", m->node);
        if (m->label_kib)
            qv_json_set_int(dev, "label-size", (long long)(m->label_kib * 1024));
        if (m->readonly)
            qv_json_set_bool(dev, "unarmed", true);
        if (m->block_kib) {
            qv_json_set_int(dev, "block-size", (long long)(m->block_kib * 1024));
            qv_json_set_int(dev, "requested-size", (long long)(m->requested_kib * 1024));
        }
        qv_json_set_str(dev, "memdev", obj);
        if (!dimm && !nvdimm) {
            if (add_dev(cl, dev, &m->addr, "memory device", err) < 0)
                return -EINVAL;
            continue;
        }
        qv_json_set_int(dev, "slot", m->addr.slot);
        if (m->addr.base)
            qv_json_set_int(dev, "addr", (long long)m->addr.base);
        qv_cmdline_add_json(cl, "-device", dev);
    }
    if (def->iommu) {
        const qv_domdef_iommu *io = def->iommu;
        if (!strcmp(io->model, "intel")) {
            qv_jobj *dev = qv_json_device(cl, "intel-iommu", io->alias);
            if (io->intremap)
                qv_json_set_str(dev, "intremap", io->intremap == QV_TRI_ON ? "on" : "off");
            if (io->caching_mode)
                qv_json_set_bool(dev, "caching-mode", io->caching_mode == QV_TRI_ON);
            if (io->eim)
                qv_json_set_str(dev, "eim", io->eim == QV_TRI_ON ? "on" : "off");
            if (io->iotlb)
                qv_json_set_bool(dev, "device-iotlb", io->iotlb == QV_TRI_ON);
            if (io->aw_bits)
                qv_json_set_int(dev, "aw-bits", io->aw_bits);
            qv_cmdline_add_json(cl, "-device", dev);
        } else if (add_dev(cl, qv_json_device(cl, "virtio-iommu-pci", io->alias), &io->addr, "IOMMU", err) < 0) {
            return -EINVAL;
        }
    }
    if (def->vsock) {
        const qv_domdef_vsock *v = def->vsock;
        g_autofree char *driver = qv_virtio_device_name("vhost-vsock-pci", v->model);
        qv_jobj *dev = qv_json_device(cl, driver, v->alias);
        /* An automatic CID is chosen by lib/ (needs /dev/vhost-vsock); 3 is a placeholder. */
        qv_json_set_int(dev, "guest-cid", v->cid ? v->cid : 3);
        if (add_dev(cl, dev, &v->addr, "vsock device", err) < 0)
            return -EINVAL;
    }
    return 0;
}
