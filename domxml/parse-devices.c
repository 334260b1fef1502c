/* Device parsers: one function per device element of <devices>. */
#include <string.h>

#include "domxml-priv.h"

static inline bool name_is(const xmlNode *n, const char *name)
{
    return qv_streq((const char *)n->name, name);
}

#define FOR_EACH_CHILD(c, parent) \
    for (xmlNode *c = (parent)->children; c; c = c->next) \
        if (c->type == XML_ELEMENT_NODE)

void qv_parse_alias(const xmlNode *dev, unsigned int flags, char **alias)
{
    xmlNode *a = qv_xml_child(dev, "alias");
    if (!a)
        return;
    g_autofree char *name = qv_xml_prop(a, "name");
    /* User aliases (ua-*) are configuration; others are runtime facts. */
    if (name && ((flags & QV_DOMXML_PARSE_STATUS) || g_str_has_prefix(name, "ua-"))) {
        g_free(*alias);
        *alias = g_steal_pointer(&name);
    }
}

static int addr_field(const xmlNode *n, const char *name, unsigned int max, unsigned int *out,
                      qv_error **err)
{
    int r = qv_xml_prop_uint(n, name, out, err);
    if (r > 0 && *out > max)
        return qv_xml_attr_error(err, n, name, "%u is out of range (max %u)", *out, max);
    return r < 0 ? r : 0;
}

int qv_parse_address(const xmlNode *dev, qv_domdef_addr *addr, qv_error **err)
{
    xmlNode *a = qv_xml_child(dev, "address");
    if (!a)
        return 0;
    g_autofree char *type = qv_xml_prop(a, "type");
    if (!type)
        return qv_xml_error(err, a, "missing address type");
    if (!strcmp(type, "pci")) {
        addr->type = QV_ADDR_PCI;
        if (addr_field(a, "domain", 0, &addr->domain, err) < 0 ||
            addr_field(a, "bus", 255, &addr->bus, err) < 0 ||
            addr_field(a, "slot", 31, &addr->slot, err) < 0 ||
            addr_field(a, "function", 7, &addr->function, err) < 0 ||
            qv_xml_prop_tristate(a, "multifunction", &addr->multifunction, err) < 0)
            return -EINVAL;
    } else if (!strcmp(type, "drive")) {
        addr->type = QV_ADDR_DRIVE;
        if (addr_field(a, "controller", 255, &addr->controller, err) < 0 ||
            addr_field(a, "bus", 255, &addr->bus, err) < 0 ||
            addr_field(a, "target", 255, &addr->target, err) < 0 ||
            addr_field(a, "unit", 16383, &addr->unit, err) < 0)
            return -EINVAL;
    } else if (!strcmp(type, "virtio-serial")) {
        addr->type = QV_ADDR_VIRTIO_SERIAL;
        if (addr_field(a, "controller", 255, &addr->controller, err) < 0 ||
            addr_field(a, "bus", 0, &addr->bus, err) < 0 ||
            addr_field(a, "port", 31, &addr->port, err) < 0)
            return -EINVAL;
    } else if (!strcmp(type, "usb")) {
        addr->type = QV_ADDR_USB;
        if (addr_field(a, "bus", 255, &addr->bus, err) < 0)
            return -EINVAL;
        qv_set_str(&addr->usb_port, qv_xml_prop(a, "port"));
        if (addr->usb_port && (!*addr->usb_port ||
                               strspn(addr->usb_port, "0123456789.") != strlen(addr->usb_port)))
            return qv_xml_attr_error(err, a, "port", "'%s' is not a USB port path", addr->usb_port);
    } else if (!strcmp(type, "isa")) {
        addr->type = QV_ADDR_ISA;
        if (addr_field(a, "iobase", 65535, &addr->port, err) < 0 ||
            addr_field(a, "irq", 255, &addr->irq, err) < 0)
            return -EINVAL;
    } else if (!strcmp(type, "ccid")) {
        addr->type = QV_ADDR_CCID;
        if (addr_field(a, "controller", 255, &addr->controller, err) < 0 ||
            addr_field(a, "slot", 255, &addr->slot, err) < 0)
            return -EINVAL;
    } else if (!strcmp(type, "dimm")) {
        addr->type = QV_ADDR_DIMM;
        if (addr_field(a, "slot", 255, &addr->slot, err) < 0 ||
            qv_xml_prop_ull(a, "base", &addr->base, err) < 0)
            return -EINVAL;
    } else {
        return qv_xml_attr_error(err, a, "type", "unsupported address type '%s'", type);
    }
    return 0;
}

static int common_tail(const xmlNode *dev, unsigned int flags, qv_domdef_addr *addr, char **alias,
                       qv_error **err)
{
    if (addr && qv_parse_address(dev, addr, err) < 0)
        return -EINVAL;
    if (!addr && qv_xml_child(dev, "address"))
        return qv_xml_error(err, qv_xml_child(dev, "address"), "this device takes no address");
    if (alias)
        qv_parse_alias(dev, flags, alias);
    return 0;
}

static bool is_common(const xmlNode *c)
{
    return name_is(c, "address") || name_is(c, "alias");
}

/* ---- character device sources ---- */
int qv_parse_chr_source(const xmlNode *dev, qv_domdef_chr_source *src, const char *type,
                        qv_error **err)
{
    static const char *const types[] = { "pty", "file", "unix", "tcp", "udp", "null", "vc",
                                         "stdio", "pipe", "dev", "spicevmc", NULL };
    int t = -1;
    for (int i = 0; types[i]; i++)
        if (!strcmp(types[i], type))
            t = i;
    if (t < 0)
        return qv_xml_attr_error(err, dev, "type", "unsupported character device type '%s'", type);
    src->type = t;
    FOR_EACH_CHILD(c, dev) {
        if (name_is(c, "source")) {
            g_autofree char *mode = qv_xml_prop(c, "mode");
            if (mode && strcmp(mode, "bind") && strcmp(mode, "connect"))
                return qv_xml_attr_error(err, c, "mode", "unsupported mode '%s'", mode);
            bool bind = mode && !strcmp(mode, "bind");
            if (t == QV_CHR_UDP && bind) {
                qv_set_str(&src->bind_host, qv_xml_prop(c, "host"));
                qv_set_str(&src->bind_service, qv_xml_prop(c, "service"));
                continue;
            }
            if (t == QV_CHR_UNIX || t == QV_CHR_TCP)
                src->bind = mode ? bind : (t == QV_CHR_UNIX ? false : false);
            qv_set_str(&src->path, qv_xml_prop(c, "path"));
            qv_set_str(&src->host, qv_xml_prop(c, "host"));
            qv_set_str(&src->service, qv_xml_prop(c, "service"));
            if (qv_xml_prop_tristate(c, "append", &src->append, err) < 0)
                return -EINVAL;
            /* TLS on a TCP chardev needs x509 credentials qvirt does not
             * manage; refused rather than sent in the clear. */
            int tls = QV_TRI_ABSENT;
            if (qv_xml_prop_tristate(c, "tls", &tls, err) < 0)
                return -EINVAL;
            if (tls == QV_TRI_ON)
                return qv_xml_attr_error(err, c, "tls", "TLS for character devices is not supported (no x509 credentials)");
            xmlNode *rc = qv_xml_child(c, "reconnect");
            if (rc) {
                int en = QV_TRI_ABSENT;
                if (qv_xml_prop_tristate(rc, "enabled", &en, err) < 0 ||
                    qv_xml_prop_uint(rc, "timeout", &src->reconnect, err) < 0)
                    return -EINVAL;
                if (en != QV_TRI_ON)
                    src->reconnect = 0;
            }
        } else if (name_is(c, "protocol")) {
            g_autofree char *p = qv_xml_prop(c, "type");
            if (p && strcmp(p, "raw") && strcmp(p, "telnet"))
                return qv_xml_attr_error(err, c, "type", "unsupported protocol '%s'", p);
            src->telnet = p && !strcmp(p, "telnet");
        } else if (name_is(c, "log")) {
            qv_set_str(&src->log_file, qv_xml_prop(c, "file"));
            if (qv_xml_prop_tristate(c, "append", &src->log_append, err) < 0)
                return -EINVAL;
            if (!src->log_file)
                return qv_xml_error(err, c, "missing file attribute");
        }
    }
    if (t == QV_CHR_UNIX && !src->path)
        src->bind = true;   /* a generated socket in the runtime directory */
    switch (t) {
    case QV_CHR_FILE: case QV_CHR_PIPE: case QV_CHR_DEV:
        if (!src->path)
            return qv_xml_error(err, dev, "a '%s' character device needs <source path=...>", type);
        break;
    case QV_CHR_TCP:
        if (!src->service)
            return qv_xml_error(err, dev, "a tcp character device needs <source service=...>");
        break;
    case QV_CHR_UDP:
        if (!src->service)
            return qv_xml_error(err, dev, "a udp character device needs <source mode='connect' service=...>");
        break;
    case QV_CHR_PTY:
        break;
    default:
        break;
    }
    return 0;
}

/* ---- disks ---- */
static int parse_disk_source(const xmlNode *n, qv_domdef_disk_src *src, const xmlNode *owner,
                             qv_error **err)
{
    if (src->type == QV_DISK_TYPE_FILE) {
        qv_set_str(&src->path, qv_xml_prop(n, "file"));
    } else if (src->type == QV_DISK_TYPE_BLOCK) {
        qv_set_str(&src->path, qv_xml_prop(n, "dev"));
    } else {
        static const char *const protos[] = { "nbd", "http", "https", NULL };
        int r = qv_xml_prop_enum(n, "protocol", protos, &src->protocol, err);
        if (r < 0)
            return r;
        if (r == 0)
            return qv_xml_error(err, n, "a network disk needs a protocol (nbd, http, https)");
        qv_set_str(&src->name, qv_xml_prop(n, "name"));
        qv_set_str(&src->query, qv_xml_prop(n, "query"));
        xmlNode *h = qv_xml_child(n, "host");
        if (h) {
            qv_set_str(&src->host, qv_xml_prop(h, "name"));
            qv_set_str(&src->port, qv_xml_prop(h, "port"));
            qv_set_str(&src->transport, qv_xml_prop(h, "transport"));
            qv_set_str(&src->socket, qv_xml_prop(h, "socket"));
            if (src->transport && strcmp(src->transport, "tcp") && strcmp(src->transport, "unix"))
                return qv_xml_attr_error(err, h, "transport", "unsupported transport '%s'", src->transport);
            if (src->port && strspn(src->port, "0123456789") != strlen(src->port))
                return qv_xml_attr_error(err, h, "port", "'%s' is not a port number", src->port);
        }
        if (!src->host && !src->socket)
            return qv_xml_error(err, n, "a network disk needs <host name=...> or a unix socket");
        if (strcmp(src->protocol, "nbd") && !src->name)
            return qv_xml_error(err, n, "an %s disk needs a name (the URL path)", src->protocol);
        FOR_EACH_CHILD(c, n) {
            if (name_is(c, "auth") || name_is(c, "encryption") || name_is(c, "ssl") ||
                name_is(c, "cookies"))
                return qv_xml_error(err, c, "unsupported network disk source option");
        }
    }
    (void)owner;
    return 0;
}

static int disk_type_from(const xmlNode *n, const char *attr, int *out, qv_error **err)
{
    g_autofree char *type = qv_xml_prop(n, attr);
    if (!type || !strcmp(type, "file"))
        *out = QV_DISK_TYPE_FILE;
    else if (!strcmp(type, "block"))
        *out = QV_DISK_TYPE_BLOCK;
    else if (!strcmp(type, "network"))
        *out = QV_DISK_TYPE_NETWORK;
    else
        return qv_xml_attr_error(err, n, attr, "unsupported disk type '%s' (file, block, network)", type);
    return 0;
}

/* <metadata_cache><max_size unit>N</max_size></metadata_cache> under a
 * disk's <driver> or a backing store's <format>: qcow2's cache-size. */
static int parse_metadata_cache(const xmlNode *parent, qv_domdef_disk_src *s, qv_error **err)
{
    const xmlNode *mc = qv_xml_child(parent, "metadata_cache");
    if (!mc)
        return 0;
    FOR_EACH_CHILD(c, mc) {
        if (!name_is(c, "max_size"))
            return qv_xml_error(err, c, "unknown metadata cache element");
        if (qv_xml_scaled_bytes(c, "bytes", &s->metadata_cache, err) < 0)
            return -EINVAL;
    }
    if (s->metadata_cache && g_strcmp0(s->format, "qcow2"))
        return qv_xml_error(err, mc, "a metadata cache size needs the qcow2 format");
    return 0;
}

static int parse_backing(const xmlNode *n, qv_domdef_disk_src *parent, qv_error **err)
{
    parent->has_backing = true;
    if (parent->backing) {   /* a repeated <backingStore>: the later one wins */
        qv_domdef_disk_src_clear(parent->backing);
        g_clear_pointer(&parent->backing, g_free);
    }
    if (!n->children && !n->properties)
        return 0;   /* <backingStore/>: explicitly no backing image */
    qv_domdef_disk_src *b = g_new0(qv_domdef_disk_src, 1);
    parent->backing = b;
    if (disk_type_from(n, "type", &b->type, err) < 0)
        return -EINVAL;
    xmlNode *f = qv_xml_child(n, "format");
    if (f) {
        static const char *const fmts[] = { "raw", "qcow2", NULL };
        if (qv_xml_prop_enum(f, "type", fmts, &b->format, err) < 0 ||
            parse_metadata_cache(f, b, err) < 0)
            return -EINVAL;
    }
    xmlNode *s = qv_xml_child(n, "source");
    if (!s)
        return qv_xml_error(err, n, "a backing store needs a <source>");
    if (parse_disk_source(s, b, n, err) < 0)
        return -EINVAL;
    /* qvirt opens every image of the chain itself, so each needs its name
     * (the formatter writes no <source> without one). */
    if (b->type != QV_DISK_TYPE_NETWORK && !b->path)
        return qv_xml_error(err, s, "a backing store's <source> needs a %s attribute",
                            b->type == QV_DISK_TYPE_BLOCK ? "dev" : "file");
    xmlNode *next = qv_xml_child(n, "backingStore");
    if (next)
        return parse_backing(next, b, err);
    return 0;
}

static int parse_iotune(const xmlNode *n, qv_domdef_iotune *t, qv_error **err)
{
    static const struct { const char *name; size_t off; } fields[] = {
#define F(x) { #x, G_STRUCT_OFFSET(qv_domdef_iotune, x) }
        F(total_bytes_sec), F(read_bytes_sec), F(write_bytes_sec),
        F(total_iops_sec), F(read_iops_sec), F(write_iops_sec),
        F(total_bytes_sec_max), F(read_bytes_sec_max), F(write_bytes_sec_max),
        F(total_iops_sec_max), F(read_iops_sec_max), F(write_iops_sec_max),
        F(size_iops_sec),
#undef F
    };
    FOR_EACH_CHILD(c, n) {
        if (name_is(c, "group_name")) {
            qv_set_str(&t->group_name, qv_xml_text(c));
            continue;
        }
        bool found = false;
        for (size_t i = 0; i < G_N_ELEMENTS(fields); i++) {
            if (!name_is(c, fields[i].name))
                continue;
            g_autofree char *v = qv_xml_text(c);
            unsigned long long x;
            if (qv_parse_uint_str(v, 10, 1000000000000000ULL, &x) < 0)
                return qv_xml_error(err, c, "'%s' is not a valid limit", v);
            *(unsigned long long *)((char *)t + fields[i].off) = x;
            found = true;
        }
        if (!found)
            return qv_xml_error(err, c, "unsupported I/O tuning setting");
    }
    if ((t->total_bytes_sec && (t->read_bytes_sec || t->write_bytes_sec)) ||
        (t->total_iops_sec && (t->read_iops_sec || t->write_iops_sec)))
        return qv_xml_error(err, n, "total and read/write limits cannot be combined");
    return 0;
}

static int parse_disk(qv_domdef *def, xmlNode *dn, unsigned int flags, qv_error **err)
{
    qv_domdef_disk *d = g_new0(qv_domdef_disk, 1);
    g_ptr_array_add(def->disks, d);
    if (disk_type_from(dn, "type", &d->src.type, err) < 0)
        return -EINVAL;
    g_autofree char *device = qv_xml_prop(dn, "device");
    if (!device || !strcmp(device, "disk"))
        d->device = QV_DISK_DEVICE_DISK;
    else if (!strcmp(device, "cdrom"))
        d->device = QV_DISK_DEVICE_CDROM;
    else if (!strcmp(device, "floppy"))
        d->device = QV_DISK_DEVICE_FLOPPY;
    else if (!strcmp(device, "lun"))
        d->device = QV_DISK_DEVICE_LUN;
    else
        return qv_xml_attr_error(err, dn, "device", "unsupported disk device '%s'", device);

    xmlNode *src_node = NULL;
    FOR_EACH_CHILD(c, dn) {
        if (name_is(c, "driver")) {
            static const char *const names[] = { "qemu", NULL };
            static const char *const types[] = { "raw", "qcow2", NULL };
            static const char *const caches[] = { "default", "none", "writethrough", "writeback",
                                                  "directsync", "unsafe", NULL };
            static const char *const ios[] = { "threads", "native", "io_uring", NULL };
            static const char *const discards[] = { "ignore", "unmap", NULL };
            static const char *const dz[] = { "off", "on", "unmap", NULL };
            static const char *const ep[] = { "stop", "report", "ignore", "enospace", NULL };
            if (qv_xml_prop_enum(c, "name", names, &d->driver_name, err) < 0 ||
                qv_xml_prop_enum(c, "type", types, &d->src.format, err) < 0 ||
                qv_xml_prop_enum(c, "cache", caches, &d->cache, err) < 0 ||
                qv_xml_prop_enum(c, "io", ios, &d->io, err) < 0 ||
                qv_xml_prop_enum(c, "discard", discards, &d->discard, err) < 0 ||
                qv_xml_prop_enum(c, "detect_zeroes", dz, &d->detect_zeroes, err) < 0 ||
                qv_xml_prop_enum(c, "error_policy", ep, &d->error_policy, err) < 0 ||
                qv_xml_prop_uint(c, "iothread", &d->iothread, err) < 0 ||
                qv_xml_prop_uint(c, "queues", &d->queues, err) < 0 ||
                parse_metadata_cache(c, &d->src, err) < 0)
                return -EINVAL;
            if (d->cache && !strcmp(d->cache, "default"))
                g_clear_pointer(&d->cache, g_free);
        } else if (name_is(c, "source")) {
            src_node = c;
            if (parse_disk_source(c, &d->src, dn, err) < 0)
                return -EINVAL;
            static const char *const sp[] = { "mandatory", "requisite", "optional", NULL };
            if (qv_xml_prop_enum(c, "startupPolicy", sp, &d->startup_policy, err) < 0)
                return -EINVAL;
        } else if (name_is(c, "backingStore")) {
            if (parse_backing(c, &d->src, err) < 0)
                return -EINVAL;
        } else if (name_is(c, "target")) {
            qv_set_str(&d->target_dev, qv_xml_prop(c, "dev"));
            g_autofree char *bus = qv_xml_prop(c, "bus");
            static const char *const buses[] = { "", "virtio", "sata", "ide", "scsi", "usb", "fdc", NULL };
            if (bus) {
                d->bus = -1;
                for (int i = 1; buses[i]; i++)
                    if (!strcmp(bus, buses[i]))
                        d->bus = i;
                if (d->bus < 0)
                    return qv_xml_attr_error(err, c, "bus", "unsupported disk bus '%s'", bus);
            }
            static const char *const trays[] = { "open", "closed", NULL };
            if (qv_xml_prop_enum(c, "tray", trays, &d->tray, err) < 0 ||
                qv_xml_prop_tristate(c, "removable", &d->removable, err) < 0 ||
                qv_xml_prop_uint(c, "rotation_rate", &d->rotation_rate, err) < 0)
                return -EINVAL;
            /* As libvirt validates them: QEMU has the properties only there. */
            if (d->removable && d->bus && d->bus != QV_DISK_BUS_USB && d->bus != QV_DISK_BUS_SCSI)
                return qv_xml_attr_error(err, c, "removable", "only USB and SCSI disks can be removable");
            if (d->rotation_rate && d->bus && d->bus != QV_DISK_BUS_SCSI && d->bus != QV_DISK_BUS_IDE &&
                d->bus != QV_DISK_BUS_SATA)
                return qv_xml_attr_error(err, c, "rotation_rate", "only SCSI, IDE and SATA disks have a rotation rate");
            if (d->rotation_rate > 65534)
                return qv_xml_attr_error(err, c, "rotation_rate", "must be 1 (no rotation) or an RPM below 65535");
        } else if (name_is(c, "readonly")) {
            d->readonly = true;
        } else if (name_is(c, "shareable")) {
            d->shareable = true;
        } else if (name_is(c, "transient")) {
            d->transient = true;
        } else if (name_is(c, "serial")) {
            qv_set_str(&d->serial, qv_xml_text(c));
            if (strspn(d->serial, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_ .+-") != strlen(d->serial))
                return qv_xml_error(err, c, "disk serial '%s' has characters other than letters, digits, '_', ' ', '.', '+', '-'", d->serial);
        } else if (name_is(c, "wwn")) {
            qv_set_str(&d->wwn, qv_xml_text(c));
            if (strlen(d->wwn) != 16 || strspn(d->wwn, "0123456789abcdefABCDEF") != 16)
                return qv_xml_error(err, c, "'%s' is not a 16-digit hexadecimal WWN", d->wwn);
        } else if (name_is(c, "vendor")) {
            qv_set_str(&d->vendor, qv_xml_text(c));
        } else if (name_is(c, "product")) {
            qv_set_str(&d->product, qv_xml_text(c));
        } else if (name_is(c, "boot")) {
            if (qv_xml_prop_uint(c, "order", &d->boot_order, err) < 0)
                return -EINVAL;
            if (!d->boot_order)
                return qv_xml_error(err, c, "boot order must be at least 1");
        } else if (name_is(c, "iotune")) {
            d->has_iotune = true;
            if (parse_iotune(c, &d->iotune, err) < 0)
                return -EINVAL;
        } else if (name_is(c, "blockio")) {
            if (qv_xml_prop_uint(c, "logical_block_size", &d->logical_block_size, err) < 0 ||
                qv_xml_prop_uint(c, "physical_block_size", &d->physical_block_size, err) < 0)
                return -EINVAL;
        } else if (is_common(c)) {
        } else if (name_is(c, "geometry") || name_is(c, "encryption") || name_is(c, "auth") ||
                   name_is(c, "mirror") || name_is(c, "throttlefilters")) {
            return qv_xml_error(err, c, "unsupported disk element");
        } else {
            return qv_xml_error(err, c, "unknown disk element");
        }
    }
    if (!d->target_dev || !*d->target_dev)
        return qv_xml_error(err, dn, "missing <target dev=...>");
    if (d->src.type == QV_DISK_TYPE_NETWORK && !src_node)
        return qv_xml_error(err, dn, "a network disk needs a <source>");
    if (!d->src.path && d->src.type != QV_DISK_TYPE_NETWORK &&
        d->device != QV_DISK_DEVICE_CDROM && d->device != QV_DISK_DEVICE_FLOPPY)
        return qv_xml_error(err, dn, "only cdrom and floppy disks may be empty; give <source>");
    if (d->device == QV_DISK_DEVICE_LUN && d->src.type != QV_DISK_TYPE_BLOCK)
        return qv_xml_error(err, dn, "a lun disk needs type='block'");
    if (d->transient && d->shareable)
        return qv_xml_error(err, dn, "a disk cannot be both transient and shareable");
    return common_tail(dn, flags, &d->addr, &d->alias, err);
}

/* ---- controllers ---- */
/* A PCI controller's <model name>: the QEMU device behind its model. Old
 * libvirt q35 domains keep ioh3420 root ports (Intel's, guest-visibly
 * different from QEMU's pcie-root-port), so the name is kept and used. */
static int parse_pci_model_name(qv_domdef_controller *c, xmlNode *m, qv_error **err)
{
    static const char *const names[][2] = {
        { "pci-bridge", "pci-bridge" },           { "pcie-root-port", "pcie-root-port" },
        { "pcie-root-port", "ioh3420" },          { "dmi-to-pci-bridge", "i82801b11-bridge" },
        { "pcie-switch-upstream-port", "x3130-upstream" },
        { "pcie-switch-downstream-port", "xio3130-downstream" },
        { "pcie-to-pci-bridge", "pcie-pci-bridge" },
    };
    g_autofree char *name = qv_xml_prop(m, "name");
    if (!name)
        return 0;
    if (c->type != QV_CTRL_PCI)
        return qv_xml_attr_error(err, m, "name", "only PCI controllers name a model device");
    for (size_t i = 0; i < G_N_ELEMENTS(names); i++) {
        if (strcmp(names[i][1], name) || (c->model && strcmp(c->model, names[i][0])))
            continue;
        if (!c->model)
            c->model = g_strdup(names[i][0]);
        qv_set_str(&c->model_name, g_steal_pointer(&name));
        return 0;
    }
    return qv_xml_attr_error(err, m, "name", "'%s' is not a device for a %s controller", name,
                             c->model ? c->model : "pci");
}

static int parse_controller(qv_domdef *def, xmlNode *cn, unsigned int flags, qv_error **err)
{
    static const char *const types[] = { "pci", "usb", "scsi", "virtio-serial", "sata", "ide",
                                         "ccid", "fdc", NULL };
    qv_domdef_controller *c = g_new0(qv_domdef_controller, 1);
    g_ptr_array_add(def->controllers, c);
    c->ports = c->vectors = c->queues = -1;
    c->chassis = c->port = c->chassis_nr = c->busnr = -1;
    g_autofree char *type = qv_xml_prop(cn, "type");
    c->type = -1;
    for (int i = 0; type && types[i]; i++)
        if (!strcmp(type, types[i]))
            c->type = i;
    if (c->type < 0)
        return qv_xml_attr_error(err, cn, "type", "unsupported controller type '%s'", type ? type : "(none)");
    c->master_startport = -1;
    if (!xmlHasProp(cn, BAD_CAST "index"))
        c->index = QV_CTRL_INDEX_UNSET;
    else if (qv_xml_prop_uint(cn, "index", &c->index, err) < 0)
        return -EINVAL;
    else if (c->index > 255)
        return qv_xml_attr_error(err, cn, "index", "must be at most 255");
    static const char *const pci_models[] = { "pci-root", "pcie-root", "pci-bridge", "pcie-root-port",
                                              "dmi-to-pci-bridge", "pcie-switch-upstream-port",
                                              "pcie-switch-downstream-port", "pcie-to-pci-bridge", NULL };
    static const char *const usb_models[] = { "piix3-uhci", "piix4-uhci", "ehci", "ich9-ehci1",
                                              "ich9-uhci1", "ich9-uhci2", "ich9-uhci3", "nec-xhci",
                                              "qemu-xhci", "none", NULL };
    static const char *const scsi_models[] = { "virtio-scsi", "lsilogic", "virtio-transitional",
                                               "virtio-non-transitional", NULL };
    static const char *const none[] = { NULL };
    static const char *const sata_models[] = { "ahci", NULL };
    static const char *const ide_models[] = { "piix3", "piix4", "ich6", NULL };
    const char *const *models[] = { pci_models, usb_models, scsi_models, none, sata_models,
                                    ide_models, none, none };
    if (qv_xml_prop_enum(cn, "model", models[c->type], &c->model, err) < 0)
        return -EINVAL;
    if (qv_xml_prop_int(cn, "ports", &c->ports, err) < 0 ||
        qv_xml_prop_int(cn, "vectors", &c->vectors, err) < 0)
        return -EINVAL;
    FOR_EACH_CHILD(ch, cn) {
        if (name_is(ch, "driver")) {
            if (qv_xml_prop_int(ch, "queues", &c->queues, err) < 0 ||
                qv_xml_prop_uint(ch, "iothread", &c->iothread, err) < 0)
                return -EINVAL;
        } else if (name_is(ch, "target")) {
            if (qv_xml_prop_int(ch, "chassis", &c->chassis, err) < 0 ||
                qv_xml_prop_int(ch, "port", &c->port, err) < 0 ||
                qv_xml_prop_int(ch, "chassisNr", &c->chassis_nr, err) < 0 ||
                qv_xml_prop_int(ch, "busNr", &c->busnr, err) < 0)
                return -EINVAL;
        } else if (name_is(ch, "model")) {
            if (parse_pci_model_name(c, ch, err) < 0)
                return -EINVAL;
        } else if (name_is(ch, "master")) {
            if (c->type != QV_CTRL_USB || !c->model || !g_str_has_prefix(c->model, "ich9-uhci"))
                return qv_xml_error(err, ch, "only ich9-uhci1, ich9-uhci2 and ich9-uhci3 controllers can be USB companions");
            unsigned int sp = 0;
            if (qv_xml_prop_uint(ch, "startport", &sp, err) < 0)
                return -EINVAL;
            if (sp > 4)
                return qv_xml_attr_error(err, ch, "startport", "must be 0, 2 or 4");
            c->master_startport = (int)sp;
        } else if (!is_common(ch)) {
            return qv_xml_error(err, ch, "unknown controller element");
        }
    }
    return common_tail(cn, flags, &c->addr, &c->alias, err);
}

/* Controllers written without an index get, in document order, the
 * smallest index no controller of their type has (libvirt's
 * virDomainControllerFindUnusedIndex); a USB companion without one joins
 * the controller it follows. Then every index is unique per type, except
 * that ich9-uhci companions share their master's. */
static int number_controllers(qv_domdef *def, qv_error **err)
{
    static const char *const types[] = { "pci", "usb", "scsi", "virtio-serial", "sata", "ide",
                                         "ccid", "fdc" };
    for (guint i = 0; i < def->controllers->len; i++) {
        qv_domdef_controller *c = g_ptr_array_index(def->controllers, i);
        if (c->index != QV_CTRL_INDEX_UNSET)
            continue;
        if (c->master_startport >= 0) {
            qv_domdef_controller *master = NULL;
            for (guint j = i; j-- > 0 && !master;) {
                qv_domdef_controller *o = g_ptr_array_index(def->controllers, j);
                if (o->type == QV_CTRL_USB && o->master_startport < 0)
                    master = o;
            }
            if (master) {
                c->index = master->index;
                continue;
            }
        }
        unsigned int idx = 0;
        while (qv_domdef_find_controller(def, c->type, idx))
            idx++;
        if (idx > 255)
            return qv_error_set(err, -EINVAL, "/domain/devices/controller[%u]: no free %s controller index is left.", i + 1, types[c->type]);
        c->index = idx;
    }
    for (guint i = 0; i < def->controllers->len; i++) {
        qv_domdef_controller *c = g_ptr_array_index(def->controllers, i);
        for (guint j = 0; j < i; j++) {
            qv_domdef_controller *o = g_ptr_array_index(def->controllers, j);
            if (o->type != c->type || o->index != c->index)
                continue;
            if (c->type == QV_CTRL_USB && (c->master_startport >= 0 || o->master_startport >= 0) &&
                !(c->master_startport >= 0 && o->master_startport >= 0 && !g_strcmp0(c->model, o->model)))
                continue;   /* a master and its companions */
            return qv_error_set(err, -EINVAL, "/domain/devices/controller[%u]: duplicate %s controller index %u.", i + 1, types[c->type], c->index);
        }
    }
    return 0;
}

/* ---- network interfaces ---- */
/* Exactly six two-digit hex bytes separated by colons, like libvirt (no
 * signs or spaces, which sscanf's %x let through). */
static int parse_mac(const char *s, unsigned char mac[6])
{
    if (strlen(s) != 17)
        return -EINVAL;
    for (int i = 0; i < 6; i++) {
        const char *p = s + 3 * i;
        int hi = g_ascii_xdigit_value(p[0]), lo = g_ascii_xdigit_value(p[1]);
        if (hi < 0 || lo < 0 || (i < 5 && p[2] != ':'))
            return -EINVAL;
        mac[i] = (unsigned char)(hi << 4 | lo);
    }
    return 0;
}

static int parse_bandwidth_dir(const xmlNode *n, qv_domdef_bandwidth_dir *d, qv_error **err)
{
    d->set = true;
    if (qv_xml_prop_ull(n, "average", &d->average, err) < 0 ||
        qv_xml_prop_ull(n, "peak", &d->peak, err) < 0 ||
        qv_xml_prop_ull(n, "burst", &d->burst, err) < 0 ||
        qv_xml_prop_ull(n, "floor", &d->floor, err) < 0)
        return -EINVAL;
    return 0;
}

/* A virtio ring size: QEMU takes powers of two from 256 to 1024. */
static int parse_ring_size(xmlNode *d, const char *attr, unsigned int *out, qv_error **err)
{
    if (qv_xml_prop_uint(d, attr, out, err) < 0)
        return -EINVAL;
    if (*out && (*out < 256 || *out > 1024 || (*out & (*out - 1))))
        return qv_xml_attr_error(err, d, attr, "must be a power of two from 256 to 1024");
    return 0;
}

/* <driver txmode ioeventfd event_idx rx_queue_size tx_queue_size> and its
 * <host>/<guest> offloads: virtio-net-pci properties (cmdline-net.c). */
static int parse_net_driver_tuning(qv_domdef_net *n, xmlNode *d, qv_error **err)
{
    static const char *const txmodes[] = { "iothread", "timer", NULL };
    if (qv_xml_prop_enum(d, "txmode", txmodes, &n->txmode, err) < 0 ||
        qv_xml_prop_tristate(d, "ioeventfd", &n->ioeventfd, err) < 0 ||
        qv_xml_prop_tristate(d, "event_idx", &n->event_idx, err) < 0 ||
        parse_ring_size(d, "rx_queue_size", &n->rx_queue_size, err) < 0 ||
        parse_ring_size(d, "tx_queue_size", &n->tx_queue_size, err) < 0)
        return -EINVAL;
    FOR_EACH_CHILD(c, d) {
        bool known = false;
        for (int i = 0; i < QV_NET_N_OFFLOADS; i++) {
            if (!name_is(c, qv_net_offloads[i].elem))
                continue;
            known = true;
            if (qv_xml_prop_tristate(c, qv_net_offloads[i].attr, &n->offloads[i], err) < 0)
                return -EINVAL;
        }
        if (!known)
            return qv_xml_error(err, c, "unknown interface driver element");
    }
    /* Unknown attributes of <host>/<guest> would be dropped in silence. */
    FOR_EACH_CHILD(c, d) {
        for (xmlAttr *a = c->properties; a; a = a->next) {
            bool known = false;
            for (int i = 0; i < QV_NET_N_OFFLOADS; i++)
                known |= name_is(c, qv_net_offloads[i].elem) && !strcmp((const char *)a->name, qv_net_offloads[i].attr);
            if (!known)
                return qv_xml_attr_error(err, c, (const char *)a->name, "unsupported offload");
        }
    }
    return 0;
}

static bool net_driver_tuned(const qv_domdef_net *n)
{
    bool any = n->txmode || n->ioeventfd || n->event_idx || n->rx_queue_size || n->tx_queue_size;
    for (int i = 0; i < QV_NET_N_OFFLOADS; i++)
        any |= n->offloads[i] != QV_TRI_ABSENT;
    return any;
}

static int parse_interface(qv_domdef *def, xmlNode *in, unsigned int flags, qv_error **err)
{
    qv_domdef_net *n = g_new0(qv_domdef_net, 1);
    g_ptr_array_add(def->nets, n);
    g_autofree char *type = qv_xml_prop(in, "type");
    if (!type)
        return qv_xml_error(err, in, "missing interface type");
    if (!strcmp(type, "user"))
        n->type = QV_NET_USER;
    else if (!strcmp(type, "ethernet"))
        n->type = QV_NET_ETHERNET;
    else if (!strcmp(type, "bridge"))
        n->type = QV_NET_BRIDGE;
    else if (!strcmp(type, "network"))
        n->type = QV_NET_NETWORK;   /* resolved to a bridge or user networking when the argv is built */
    else if (!strcmp(type, "hostdev"))
        return qv_xml_error(err, in, "PCI passthrough needs VFIO, not available");
    else
        return qv_xml_attr_error(err, in, "type", "unsupported interface type '%s' (user, ethernet, bridge, network)", type);
    bool have_mac = false;
    FOR_EACH_CHILD(c, in) {
        if (name_is(c, "mac")) {
            g_autofree char *a = qv_xml_prop(c, "address");
            if (!a || parse_mac(a, n->mac) < 0)
                return qv_xml_attr_error(err, c, "address", "'%s' is not a MAC address", a ? a : "");
            if (n->mac[0] & 1)
                return qv_xml_attr_error(err, c, "address", "'%s' is a multicast address", a);
            have_mac = true;
        } else if (name_is(c, "model")) {
            static const char *const models[] = { "virtio", "e1000", "e1000e", "rtl8139", "vmxnet3",
                                                  "ne2k_pci", "pcnet", "i82559er", NULL };
            if (qv_xml_prop_enum(c, "type", models, &n->model, err) < 0)
                return -EINVAL;
        } else if (name_is(c, "source")) {
            qv_set_str(&n->source_bridge, qv_xml_prop(c, "bridge"));
            qv_set_str(&n->source_network, qv_xml_prop(c, "network"));
        } else if (name_is(c, "target")) {
            qv_set_str(&n->target_dev, qv_xml_prop(c, "dev"));
            if (n->target_dev && (strlen(n->target_dev) >= 16 || strchr(n->target_dev, '/')))
                return qv_xml_attr_error(err, c, "dev", "'%s' is not a valid interface name", n->target_dev);
        } else if (name_is(c, "script")) {
            qv_set_str(&n->script, qv_xml_prop(c, "path"));
        } else if (name_is(c, "downscript")) {
            qv_set_str(&n->downscript, qv_xml_prop(c, "path"));
        } else if (name_is(c, "mtu")) {
            if (qv_xml_prop_uint(c, "size", &n->mtu, err) < 0)
                return -EINVAL;
            if (n->mtu < 68 || n->mtu > 65535)
                return qv_xml_attr_error(err, c, "size", "MTU must be between 68 and 65535");
        } else if (name_is(c, "bandwidth")) {
            xmlNode *i = qv_xml_child(c, "inbound"), *o = qv_xml_child(c, "outbound");
            if ((i && parse_bandwidth_dir(i, &n->inbound, err) < 0) ||
                (o && parse_bandwidth_dir(o, &n->outbound, err) < 0))
                return -EINVAL;
        } else if (name_is(c, "link")) {
            static const char *const st[] = { "up", "down", NULL };
            if (qv_xml_prop_enum(c, "state", st, &n->link_state, err) < 0)
                return -EINVAL;
        } else if (name_is(c, "driver")) {
            static const char *const dn[] = { "qemu", "vhost", NULL };
            if (qv_xml_prop_enum(c, "name", dn, &n->driver_name, err) < 0 ||
                qv_xml_prop_uint(c, "queues", &n->queues, err) < 0)
                return -EINVAL;
            if (n->queues > 256)
                return qv_xml_attr_error(err, c, "queues", "at most 256 queues are supported");
            if (parse_net_driver_tuning(n, c, err) < 0)
                return -EINVAL;
        } else if (name_is(c, "boot")) {
            if (qv_xml_prop_uint(c, "order", &n->boot_order, err) < 0)
                return -EINVAL;
            if (!n->boot_order)
                return qv_xml_error(err, c, "boot order must be at least 1");
        } else if (name_is(c, "rom")) {
            if (qv_xml_prop_tristate(c, "bar", &n->rom_bar, err) < 0)
                return -EINVAL;
            int en = QV_TRI_ABSENT;
            if (qv_xml_prop_tristate(c, "enabled", &en, err) < 0)
                return -EINVAL;
            if (en == QV_TRI_OFF)
                qv_set_str(&n->rom_file, g_strdup(""));
            else
                qv_set_str(&n->rom_file, qv_xml_prop(c, "file"));
        } else if (is_common(c)) {
        } else if (name_is(c, "filterref") || name_is(c, "virtualport") || name_is(c, "vlan") ||
                   name_is(c, "ip") || name_is(c, "route") || name_is(c, "portForward") ||
                   name_is(c, "backend") || name_is(c, "coalesce") || name_is(c, "teaming")) {
            return qv_xml_error(err, c, "unsupported interface element");
        } else {
            return qv_xml_error(err, c, "unknown interface element");
        }
    }
    if (!have_mac) {
        n->mac[0] = 0x52; n->mac[1] = 0x54; n->mac[2] = 0x00;
        guint32 r = g_random_int();
        n->mac[3] = r & 0xff; n->mac[4] = (r >> 8) & 0xff; n->mac[5] = (r >> 16) & 0xff;
    }
    if (n->type == QV_NET_BRIDGE && !n->source_bridge)
        return qv_xml_error(err, in, "a bridge interface needs <source bridge=...>");
    if (n->type == QV_NET_NETWORK && (!n->source_network || !*n->source_network))
        return qv_xml_error(err, in, "a network interface needs <source network=...>");
    if (n->type != QV_NET_NETWORK)
        g_clear_pointer(&n->source_network, g_free);
    else
        g_clear_pointer(&n->source_bridge, g_free);   /* live XML's resolved bridge: resolved again at start */
    if (n->type != QV_NET_ETHERNET && (n->script || n->downscript))
        return qv_xml_error(err, in, "scripts are only supported for type='ethernet'");
    if (net_driver_tuned(n) && g_strcmp0(n->model, "virtio"))
        return qv_xml_error(err, qv_xml_child(in, "driver"), "txmode, ioeventfd, event_idx, ring sizes and offloads need model virtio");
    return common_tail(in, flags, &n->addr, &n->alias, err);
}

/* ---- serial, console, parallel, channel ---- */
static int parse_chr(qv_domdef *def, xmlNode *cn, int kind, unsigned int flags, qv_error **err)
{
    qv_domdef_chr *c = g_new0(qv_domdef_chr, 1);
    g_ptr_array_add(def->chrs, c);
    c->kind = kind;
    c->target_port = -1;
    g_autofree char *type = qv_xml_prop(cn, "type");
    if (qv_parse_chr_source(cn, &c->src, type ? type : "pty", err) < 0)
        return -EINVAL;
    FOR_EACH_CHILD(ch, cn) {
        if (name_is(ch, "target")) {
            qv_set_str(&c->target_type, qv_xml_prop(ch, "type"));
            qv_set_str(&c->target_name, qv_xml_prop(ch, "name"));
            if (qv_xml_prop_int(ch, "port", &c->target_port, err) < 0)
                return -EINVAL;
            xmlNode *m = qv_xml_child(ch, "model");
            if (m)
                qv_set_str(&c->target_model, qv_xml_prop(m, "name"));
        } else if (name_is(ch, "source") || name_is(ch, "protocol") || name_is(ch, "log") ||
                   is_common(ch)) {
        } else {
            return qv_xml_error(err, ch, "unknown character device element");
        }
    }
    const char *tt = c->target_type;
    switch (kind) {
    case QV_CHR_SERIAL:
        if (tt && strcmp(tt, "isa-serial") && strcmp(tt, "pci-serial") && strcmp(tt, "usb-serial"))
            return qv_xml_error(err, cn, "unsupported serial target type '%s'", tt);
        break;
    case QV_CHR_CONSOLE:
        if (tt && strcmp(tt, "serial") && strcmp(tt, "virtio"))
            return qv_xml_error(err, cn, "unsupported console target type '%s' (serial, virtio)", tt);
        break;
    case QV_CHR_PARALLEL:
        if (tt)
            return qv_xml_error(err, cn, "parallel ports take no target type");
        break;
    case QV_CHR_CHANNEL:
        if (!tt)
            return qv_xml_error(err, cn, "a channel needs <target type='virtio' name=...>");
        if (!strcmp(tt, "guestfwd"))
            return qv_xml_error(err, cn, "guestfwd channels are not supported");
        if (strcmp(tt, "virtio"))
            return qv_xml_error(err, cn, "unsupported channel target type '%s'", tt);
        if (!c->target_name && c->src.type != QV_CHR_SPICEVMC)
            return qv_xml_error(err, cn, "a virtio channel needs a target name");
        if (c->target_name && (strchr(c->target_name, '/') || !*c->target_name))
            return qv_xml_error(err, cn, "invalid channel name '%s'", c->target_name);
        break;
    }
    if (c->src.type == QV_CHR_SPICEVMC && kind != QV_CHR_CHANNEL)
        return qv_xml_error(err, cn, "spicevmc is only supported for channels");
    return common_tail(cn, flags, &c->addr, &c->alias, err);
}

/* ---- graphics ---- */
/* A SPICE child element: its channel modes, compression and client options,
 * which become -spice options (cmdline-graphics.c). Returns 1 when c is one
 * of them, 0 when it is not, negative on a bad value (*err set). */
static int parse_spice_child(qv_domdef_graphics *g, xmlNode *c, qv_error **err)
{
    static const char *const image[] = { "auto_glz", "auto_lz", "quic", "glz", "lz", "off", NULL };
    static const char *const wan[] = { "auto", "never", "always", NULL };
    static const char *const streaming[] = { "filter", "all", "off", NULL };
    static const char *const mouse[] = { "server", "client", NULL };
    if (name_is(c, "channel")) {
        static const char *const names[] = { "main", "display", "inputs", "cursor", "playback",
                                             "record", "smartcard", "usbredir", NULL };
        static const char *const modes[] = { "any", "secure", "insecure", NULL };
        g_autofree char *name = NULL, *mode = NULL;
        if (qv_xml_prop_enum(c, "name", names, &name, err) < 0 ||
            qv_xml_prop_enum(c, "mode", modes, &mode, err) < 0)
            return -EINVAL;
        if (!name || !mode)
            return qv_xml_error(err, c, "a SPICE channel needs a name and a mode");
        /* As libvirt: TLS needs a port of its own (and QEMU's x509 folder). */
        if (!strcmp(mode, "secure") && g->tls_port <= 0)
            return qv_xml_error(err, c, "a secure SPICE channel needs a tlsPort on <graphics>");
        if (!g->spice_channels)
            g->spice_channels = g_ptr_array_new_with_free_func(g_free);
        g_ptr_array_add(g->spice_channels, g_strdup_printf("%s=%s", name, mode));
        return 1;
    }
    if (name_is(c, "image"))
        return qv_xml_prop_enum(c, "compression", image, &g->spice_image, err) < 0 ? -EINVAL : 1;
    if (name_is(c, "jpeg"))
        return qv_xml_prop_enum(c, "compression", wan, &g->spice_jpeg, err) < 0 ? -EINVAL : 1;
    if (name_is(c, "zlib"))
        return qv_xml_prop_enum(c, "compression", wan, &g->spice_zlib, err) < 0 ? -EINVAL : 1;
    if (name_is(c, "playback"))
        return qv_xml_prop_tristate(c, "compression", &g->spice_playback, err) < 0 ? -EINVAL : 1;
    if (name_is(c, "streaming"))
        return qv_xml_prop_enum(c, "mode", streaming, &g->spice_streaming, err) < 0 ? -EINVAL : 1;
    if (name_is(c, "clipboard"))
        return qv_xml_prop_tristate(c, "copypaste", &g->spice_copypaste, err) < 0 ? -EINVAL : 1;
    if (name_is(c, "mouse"))
        return qv_xml_prop_enum(c, "mode", mouse, &g->spice_mouse, err) < 0 ? -EINVAL : 1;
    if (name_is(c, "filetransfer"))
        return qv_xml_prop_tristate(c, "enable", &g->spice_filetransfer, err) < 0 ? -EINVAL : 1;
    return 0;
}

static int parse_graphics(qv_domdef *def, xmlNode *gn, unsigned int flags, qv_error **err)
{
    qv_domdef_graphics *g = g_new0(qv_domdef_graphics, 1);
    g_ptr_array_add(def->graphics, g);
    g->port = -1;
    g->tls_port = -1;
    g_autofree char *type = qv_xml_prop(gn, "type");
    if (!type)
        return qv_xml_error(err, gn, "missing graphics type");
    if (!strcmp(type, "vnc"))
        g->type = QV_GFX_VNC;
    else if (!strcmp(type, "spice"))
        g->type = QV_GFX_SPICE;
    else if (!strcmp(type, "egl-headless"))
        g->type = QV_GFX_EGL_HEADLESS;
    else if (!strcmp(type, "sdl"))
        g->type = QV_GFX_SDL;
    else
        return qv_xml_attr_error(err, gn, "type", "unsupported graphics type '%s' (vnc, spice, egl-headless, sdl)", type);
    int autoport = QV_TRI_ABSENT;
    if (qv_xml_prop_int(gn, "port", &g->port, err) < 0 ||
        qv_xml_prop_int(gn, "tlsPort", &g->tls_port, err) < 0 ||
        qv_xml_prop_int(gn, "websocket", &g->websocket, err) < 0 ||
        qv_xml_prop_tristate(gn, "autoport", &autoport, err) < 0)
        return -EINVAL;
    if (g->port != -1 && (g->port < 5900 || g->port > 65535) && !(flags & QV_DOMXML_PARSE_STATUS))
        return qv_xml_attr_error(err, gn, "port", "%d is not a port between 5900 and 65535 (or -1 for automatic)", g->port);
    g->autoport = autoport == QV_TRI_ON || (autoport == QV_TRI_ABSENT && g->port == -1);
    if (g->autoport && !(flags & QV_DOMXML_PARSE_STATUS))
        g->port = -1;
    qv_set_str(&g->passwd, qv_xml_prop(gn, "passwd"));
    qv_set_str(&g->passwd_valid_to, qv_xml_prop(gn, "passwdValidTo"));
    static const char *const conn_kinds[] = { "keep", "disconnect", "fail", NULL };
    if (qv_xml_prop_enum(gn, "connected", conn_kinds, &g->connected, err) < 0)
        return -EINVAL;
    if (g->passwd_valid_to && qv_domdef_passwd_expiry(g) < 0)
        return qv_xml_attr_error(err, gn, "passwdValidTo",
                                 "'%s' is not a UTC time of the form 2024-01-31T12:00:00",
                                 g->passwd_valid_to);
    qv_set_str(&g->keymap, qv_xml_prop(gn, "keymap"));
    qv_set_str(&g->share_policy, qv_xml_prop(gn, "sharePolicy"));
    qv_set_str(&g->socket, qv_xml_prop(gn, "socket"));
    qv_set_str(&g->default_mode, qv_xml_prop(gn, "defaultMode"));
    g_autofree char *listen_attr = qv_xml_prop(gn, "listen");
    if (g->keymap && strspn(g->keymap, "abcdefghijklmnopqrstuvwxyz-_") != strlen(g->keymap))
        return qv_xml_attr_error(err, gn, "keymap", "'%s' is not a keymap name", g->keymap);
    int spice;
    FOR_EACH_CHILD(c, gn) {
        if (name_is(c, "listen")) {
            static const char *const lt[] = { "address", "socket", "none", "network", NULL };
            if (qv_xml_prop_enum(c, "type", lt, &g->listen_type, err) < 0)
                return -EINVAL;
            if (g->listen_type && !strcmp(g->listen_type, "network"))
                return qv_xml_error(err, c, "listen type 'network' needs libvirt's network service; use type='address'");
            qv_set_str(&g->listen_address, qv_xml_prop(c, "address"));
            char *s = qv_xml_prop(c, "socket");
            if (s) {
                g_free(g->socket);
                g->socket = s;
            }
        } else if (name_is(c, "gl")) {
            qv_set_str(&g->rendernode, qv_xml_prop(c, "rendernode"));
            if (g->type == QV_GFX_SPICE && qv_xml_prop_tristate(c, "enable", &g->gl, err) < 0)
                return -EINVAL;
        } else if (g->type == QV_GFX_SPICE && (spice = parse_spice_child(g, c, err)) != 0) {
            if (spice < 0)
                return -EINVAL;
        } else if (name_is(c, "audio")) {
            /* <audio id> names an <audio> backend; the SPICE one is implied. */
        } else if (!is_common(c)) {
            return qv_xml_error(err, c, "unknown graphics element");
        }
    }
    if (!g->listen_address && listen_attr)
        g->listen_address = g_steal_pointer(&listen_attr);
    if (!g->listen_type)
        qv_set_str(&g->listen_type, g_strdup(g->socket ? "socket" : "address"));
    if (g->type == QV_GFX_VNC && g->passwd && strlen(g->passwd) > 8)
        return qv_xml_attr_error(err, gn, "passwd", "VNC passwords are at most 8 characters");
    return common_tail(gn, flags, NULL, &g->alias, err);
}

static int parse_video(qv_domdef *def, xmlNode *vn, unsigned int flags, qv_error **err)
{
    qv_domdef_video *v = g_new0(qv_domdef_video, 1);
    g_ptr_array_add(def->videos, v);
    xmlNode *m = qv_xml_child(vn, "model");
    if (m) {
        static const char *const models[] = { "vga", "cirrus", "virtio", "qxl", "bochs", "ramfb",
                                              "none", NULL };
        if (qv_xml_prop_enum(m, "type", models, &v->model, err) < 0 ||
            qv_xml_prop_uint(m, "vram", &v->vram, err) < 0 ||
            qv_xml_prop_uint(m, "ram", &v->ram, err) < 0 ||
            qv_xml_prop_uint(m, "vram64", &v->vram64, err) < 0 ||
            qv_xml_prop_uint(m, "vgamem", &v->vgamem, err) < 0 ||
            qv_xml_prop_uint(m, "heads", &v->heads, err) < 0)
            return -EINVAL;
        int primary = QV_TRI_ABSENT;
        if (qv_xml_prop_tristate(m, "primary", &primary, err) < 0)
            return -EINVAL;
        v->primary = primary == QV_TRI_ON;
        xmlNode *acc = qv_xml_child(m, "acceleration");
        if (acc && qv_xml_prop_tristate(acc, "accel3d", &v->accel3d, err) < 0)
            return -EINVAL;
    }
    if (!v->model)
        qv_set_str(&v->model, g_strdup("vga"));
    FOR_EACH_CHILD(c, vn) {
        if (!name_is(c, "model") && !name_is(c, "driver") && !is_common(c))
            return qv_xml_error(err, c, "unknown video element");
    }
    return common_tail(vn, flags, &v->addr, &v->alias, err);
}

static int parse_input(qv_domdef *def, xmlNode *in, unsigned int flags, qv_error **err)
{
    qv_domdef_input *i = g_new0(qv_domdef_input, 1);
    g_ptr_array_add(def->inputs, i);
    static const char *const types[] = { "tablet", "mouse", "keyboard", "passthrough", "evdev", NULL };
    static const char *const buses[] = { "ps2", "usb", "virtio", NULL };
    if (qv_xml_prop_enum(in, "type", types, &i->type, err) < 0 ||
        qv_xml_prop_enum(in, "bus", buses, &i->bus, err) < 0)
        return -EINVAL;
    if (!i->type)
        return qv_xml_error(err, in, "missing input type");
    xmlNode *s = qv_xml_child(in, "source");
    if (s) {
        qv_set_str(&i->source_evdev, qv_xml_prop(s, !strcmp(i->type, "evdev") ? "dev" : "evdev"));
        qv_set_str(&i->grab, qv_xml_prop(s, "grab"));
        qv_set_str(&i->grab_toggle, qv_xml_prop(s, "grabToggle"));
        qv_set_str(&i->repeat, qv_xml_prop(s, "repeat"));
    }
    if (!i->bus)
        i->bus = g_strdup(!strcmp(i->type, "tablet") ? "usb" :
                          !strcmp(i->type, "passthrough") ? "virtio" :
                          !strcmp(i->type, "evdev") ? "" : "ps2");
    if (!*i->bus)
        g_clear_pointer(&i->bus, g_free);
    if (!strcmp(i->type, "tablet") && i->bus && !strcmp(i->bus, "ps2"))
        return qv_xml_error(err, in, "a tablet cannot be on the ps2 bus");
    if ((!strcmp(i->type, "passthrough") || !strcmp(i->type, "evdev")) && !i->source_evdev)
        return qv_xml_error(err, in, "a %s input needs a source device", i->type);
    return common_tail(in, flags, &i->addr, &i->alias, err);
}

static int parse_sound(qv_domdef *def, xmlNode *sn, unsigned int flags, qv_error **err)
{
    qv_domdef_sound *s = g_new0(qv_domdef_sound, 1);
    g_ptr_array_add(def->sounds, s);
    s->codecs = g_ptr_array_new_with_free_func(g_free);
    static const char *const models[] = { "ich6", "ich9", "ac97", "es1370", "sb16", "usb", NULL };
    if (qv_xml_prop_enum(sn, "model", models, &s->model, err) < 0)
        return -EINVAL;
    if (!s->model)
        return qv_xml_error(err, sn, "missing sound model");
    FOR_EACH_CHILD(c, sn) {
        if (name_is(c, "codec")) {
            static const char *const ct[] = { "duplex", "micro", "output", NULL };
            char *t = NULL;
            if (qv_xml_prop_enum(c, "type", ct, &t, err) < 0)
                return -EINVAL;
            g_ptr_array_add(s->codecs, t ? t : g_strdup("duplex"));
        } else if (name_is(c, "audio")) {
            if (qv_xml_prop_uint(c, "id", &s->audio_id, err) < 0)
                return -EINVAL;
        } else if (!is_common(c)) {
            return qv_xml_error(err, c, "unknown sound element");
        }
    }
    return common_tail(sn, flags, &s->addr, &s->alias, err);
}

static int parse_audio(qv_domdef *def, xmlNode *an, qv_error **err)
{
    qv_domdef_audio *a = g_new0(qv_domdef_audio, 1);
    g_ptr_array_add(def->audios, a);
    static const char *const types[] = { "none", "spice", NULL };
    if (qv_xml_prop_enum(an, "type", types, &a->type, err) < 0 ||
        qv_xml_prop_uint(an, "id", &a->id, err) < 0)
        return -EINVAL;
    if (!a->type)
        return qv_xml_error(err, an, "missing audio backend type");
    if (!a->id)
        a->id = def->audios->len;
    return 0;
}

static int parse_memballoon(qv_domdef *def, xmlNode *mn, unsigned int flags, qv_error **err)
{
    if (def->memballoon)
        return qv_xml_error(err, mn, "only one memballoon is supported");
    qv_domdef_memballoon *b = g_new0(qv_domdef_memballoon, 1);
    def->memballoon = b;
    static const char *const models[] = { "virtio", "virtio-transitional", "virtio-non-transitional",
                                          "none", NULL };
    if (qv_xml_prop_enum(mn, "model", models, &b->model, err) < 0 ||
        qv_xml_prop_tristate(mn, "autodeflate", &b->autodeflate, err) < 0 ||
        qv_xml_prop_tristate(mn, "freePageReporting", &b->free_page_reporting, err) < 0)
        return -EINVAL;
    if (!b->model)
        return qv_xml_error(err, mn, "missing memballoon model");
    FOR_EACH_CHILD(c, mn) {
        if (name_is(c, "stats")) {
            if (qv_xml_prop_uint(c, "period", &b->stats_period, err) < 0)
                return -EINVAL;
        } else if (!name_is(c, "driver") && !is_common(c)) {
            return qv_xml_error(err, c, "unknown memballoon element");
        }
    }
    return common_tail(mn, flags, &b->addr, &b->alias, err);
}

static int parse_watchdog(qv_domdef *def, xmlNode *wn, unsigned int flags, qv_error **err)
{
    qv_domdef_watchdog *w = g_new0(qv_domdef_watchdog, 1);
    g_ptr_array_add(def->watchdogs, w);
    static const char *const models[] = { "i6300esb", "ib700", "itco", NULL };
    static const char *const actions[] = { "reset", "shutdown", "poweroff", "pause", "none",
                                           "dump", "inject-nmi", NULL };
    if (qv_xml_prop_enum(wn, "model", models, &w->model, err) < 0 ||
        qv_xml_prop_enum(wn, "action", actions, &w->action, err) < 0)
        return -EINVAL;
    if (!w->model)
        return qv_xml_error(err, wn, "missing watchdog model");
    return common_tail(wn, flags, &w->addr, &w->alias, err);
}

static int parse_rng(qv_domdef *def, xmlNode *rn, unsigned int flags, qv_error **err)
{
    qv_domdef_rng *r = g_new0(qv_domdef_rng, 1);
    g_ptr_array_add(def->rngs, r);
    static const char *const models[] = { "virtio", "virtio-transitional", "virtio-non-transitional", NULL };
    if (qv_xml_prop_enum(rn, "model", models, &r->model, err) < 0)
        return -EINVAL;
    if (!r->model)
        return qv_xml_error(err, rn, "missing rng model");
    xmlNode *b = qv_xml_child(rn, "backend");
    if (!b)
        return qv_xml_error(err, rn, "missing <backend>");
    static const char *const bm[] = { "random", "builtin", "egd", NULL };
    if (qv_xml_prop_enum(b, "model", bm, &r->backend_model, err) < 0)
        return -EINVAL;
    if (!r->backend_model)
        return qv_xml_error(err, b, "missing backend model");
    if (!strcmp(r->backend_model, "random")) {
        qv_set_str(&r->backend_path, qv_xml_text(b));
        if (!*r->backend_path)
            g_clear_pointer(&r->backend_path, g_free);
    } else if (!strcmp(r->backend_model, "egd")) {
        g_autofree char *t = qv_xml_prop(b, "type");
        r->egd = g_new0(qv_domdef_chr_source, 1);
        if (qv_parse_chr_source(b, r->egd, t ? t : "tcp", err) < 0)
            return -EINVAL;
    }
    xmlNode *rate = qv_xml_child(rn, "rate");
    if (rate && (qv_xml_prop_uint(rate, "bytes", &r->rate_bytes, err) < 0 ||
                 qv_xml_prop_uint(rate, "period", &r->rate_period, err) < 0))
        return -EINVAL;
    return common_tail(rn, flags, &r->addr, &r->alias, err);
}

static int parse_panic(qv_domdef *def, xmlNode *pn, unsigned int flags, qv_error **err)
{
    qv_domdef_panic *p = g_new0(qv_domdef_panic, 1);
    g_ptr_array_add(def->panics, p);
    static const char *const models[] = { "isa", "pvpanic", "hyperv", NULL };
    if (qv_xml_prop_enum(pn, "model", models, &p->model, err) < 0)
        return -EINVAL;
    if (!p->model)
        qv_set_str(&p->model, g_strdup("isa"));
    return common_tail(pn, flags, &p->addr, &p->alias, err);
}

static int parse_shmem(qv_domdef *def, xmlNode *sn, unsigned int flags, qv_error **err)
{
    qv_domdef_shmem *s = g_new0(qv_domdef_shmem, 1);
    g_ptr_array_add(def->shmems, s);
    qv_set_str(&s->name, qv_xml_prop(sn, "name"));
    if (!s->name || !*s->name || strchr(s->name, '/') || s->name[0] == '.')
        return qv_xml_attr_error(err, sn, "name", "missing or invalid shared memory name");
    xmlNode *m = qv_xml_child(sn, "model");
    static const char *const models[] = { "ivshmem-plain", "ivshmem-doorbell", "ivshmem", NULL };
    if (m && qv_xml_prop_enum(m, "type", models, &s->model, err) < 0)
        return -EINVAL;
    if (!s->model)
        qv_set_str(&s->model, g_strdup("ivshmem-plain"));
    if (strcmp(s->model, "ivshmem-plain"))
        return qv_xml_error(err, sn, "only the ivshmem-plain model is supported");
    xmlNode *sz = qv_xml_child(sn, "size");
    if (sz && qv_xml_scaled_kib(sz, "M", &s->size_kib, err) < 0)
        return -EINVAL;
    if (!s->size_kib)
        s->size_kib = 4096;
    if (s->size_kib & (s->size_kib - 1))
        return qv_xml_error(err, sn, "the shared memory size must be a power of two");
    if (qv_xml_child(sn, "server") || qv_xml_child(sn, "msi"))
        return qv_xml_error(err, sn, "ivshmem servers and MSI are not supported");
    return common_tail(sn, flags, &s->addr, &s->alias, err);
}

static int parse_vsock(qv_domdef *def, xmlNode *vn, unsigned int flags, qv_error **err)
{
    if (def->vsock)
        return qv_xml_error(err, vn, "only one vsock device is supported");
    qv_domdef_vsock *v = g_new0(qv_domdef_vsock, 1);
    def->vsock = v;
    g_autofree char *model = qv_xml_prop(vn, "model");
    if (model && strcmp(model, "virtio"))
        return qv_xml_attr_error(err, vn, "model", "unsupported vsock model '%s'", model);
    xmlNode *cid = qv_xml_child(vn, "cid");
    if (cid) {
        int a = QV_TRI_ABSENT;
        if (qv_xml_prop_tristate(cid, "auto", &a, err) < 0 ||
            qv_xml_prop_uint(cid, "address", &v->cid, err) < 0)
            return -EINVAL;
        v->auto_cid = a == QV_TRI_ON;
        if (!v->auto_cid && v->cid < 3)
            return qv_xml_attr_error(err, cid, "address", "guest CIDs start at 3");
    } else {
        v->auto_cid = true;
    }
    return common_tail(vn, flags, &v->addr, &v->alias, err);
}

static int parse_iommu(qv_domdef *def, xmlNode *in, unsigned int flags, qv_error **err)
{
    if (def->iommu)
        return qv_xml_error(err, in, "only one IOMMU is supported");
    qv_domdef_iommu *i = g_new0(qv_domdef_iommu, 1);
    def->iommu = i;
    static const char *const models[] = { "intel", "virtio", NULL };
    if (qv_xml_prop_enum(in, "model", models, &i->model, err) < 0)
        return -EINVAL;
    if (!i->model)
        return qv_xml_error(err, in, "missing IOMMU model");
    xmlNode *d = qv_xml_child(in, "driver");
    if (d && (qv_xml_prop_tristate(d, "intremap", &i->intremap, err) < 0 ||
              qv_xml_prop_tristate(d, "caching_mode", &i->caching_mode, err) < 0 ||
              qv_xml_prop_tristate(d, "eim", &i->eim, err) < 0 ||
              qv_xml_prop_tristate(d, "iotlb", &i->iotlb, err) < 0 ||
              qv_xml_prop_uint(d, "aw_bits", &i->aw_bits, err) < 0))
        return -EINVAL;
    return common_tail(in, flags, &i->addr, &i->alias, err);
}

static int parse_tpm(qv_domdef *def, xmlNode *tn, unsigned int flags, qv_error **err)
{
    qv_domdef_tpm *t = g_new0(qv_domdef_tpm, 1);
    g_ptr_array_add(def->tpms, t);
    static const char *const models[] = { "tpm-tis", "tpm-crb", NULL };
    if (qv_xml_prop_enum(tn, "model", models, &t->model, err) < 0)
        return -EINVAL;
    if (!t->model)
        qv_set_str(&t->model, g_strdup("tpm-tis"));
    xmlNode *b = qv_xml_child(tn, "backend");
    if (!b)
        return qv_xml_error(err, tn, "missing <backend>");
    static const char *const bt[] = { "emulator", "passthrough", NULL };
    static const char *const vers[] = { "1.2", "2.0", NULL };
    if (qv_xml_prop_enum(b, "type", bt, &t->backend, err) < 0 ||
        qv_xml_prop_enum(b, "version", vers, &t->version, err) < 0)
        return -EINVAL;
    if (!t->backend)
        return qv_xml_error(err, b, "missing backend type");
    FOR_EACH_CHILD(c, b) {
        if (name_is(c, "device")) {
            qv_set_str(&t->path, qv_xml_prop(c, "path"));
        } else if (name_is(c, "active_pcr_banks")) {
            /* swtpm_setup --pcr-banks (lib/tpm.c), in libvirt's order. */
            static const char *const banks[] = { "sha1", "sha256", "sha384", "sha512", NULL };
            g_autoptr(GString) list = g_string_new(NULL);
            for (size_t i = 0; banks[i]; i++) {
                if (qv_xml_child(c, banks[i]))
                    g_string_append_printf(list, "%s%s", list->len ? "," : "", banks[i]);
            }
            FOR_EACH_CHILD(bank, c) {
                if (!g_strv_contains(banks, (const char *)bank->name))
                    return qv_xml_error(err, bank, "unknown PCR bank (sha1, sha256, sha384, sha512)");
            }
            if (!strcmp(t->backend, "emulator") && t->version && !strcmp(t->version, "1.2"))
                return qv_xml_error(err, c, "PCR banks need a TPM 2.0");
            if (list->len)
                qv_set_str(&t->pcr_banks, g_string_free(g_steal_pointer(&list), FALSE));
        } else if (name_is(c, "encryption")) {
            return qv_xml_error(err, c, "an encrypted TPM state needs a secret store qvirt does not have");
        } else {
            return qv_xml_error(err, c, "unsupported TPM backend element");
        }
    }
    if (!strcmp(t->backend, "passthrough") && !t->path)
        qv_set_str(&t->path, g_strdup("/dev/tpm0"));
    return common_tail(tn, flags, NULL, &t->alias, err);
}

static int parse_smartcard(qv_domdef *def, xmlNode *sn, unsigned int flags, qv_error **err)
{
    qv_domdef_smartcard *s = g_new0(qv_domdef_smartcard, 1);
    g_ptr_array_add(def->smartcards, s);
    static const char *const modes[] = { "host", "passthrough", NULL };
    if (qv_xml_prop_enum(sn, "mode", modes, &s->mode, err) < 0)
        return -EINVAL;
    if (!s->mode)
        return qv_xml_error(err, sn, "missing smartcard mode (host, passthrough)");
    if (!strcmp(s->mode, "passthrough")) {
        g_autofree char *t = qv_xml_prop(sn, "type");
        if (qv_parse_chr_source(sn, &s->src, t ? t : "spicevmc", err) < 0)
            return -EINVAL;
    }
    return common_tail(sn, flags, &s->addr, &s->alias, err);
}

static int parse_redirdev(qv_domdef *def, xmlNode *rn, unsigned int flags, qv_error **err)
{
    qv_domdef_redirdev *r = g_new0(qv_domdef_redirdev, 1);
    g_ptr_array_add(def->redirdevs, r);
    static const char *const buses[] = { "usb", NULL };
    if (qv_xml_prop_enum(rn, "bus", buses, &r->bus, err) < 0)
        return -EINVAL;
    if (!r->bus)
        qv_set_str(&r->bus, g_strdup("usb"));
    g_autofree char *t = qv_xml_prop(rn, "type");
    if (!t || (strcmp(t, "spicevmc") && strcmp(t, "tcp")))
        return qv_xml_attr_error(err, rn, "type", "unsupported redirection type (spicevmc, tcp)");
    if (qv_parse_chr_source(rn, &r->src, t, err) < 0)
        return -EINVAL;
    return common_tail(rn, flags, &r->addr, &r->alias, err);
}

static int parse_hub(qv_domdef *def, xmlNode *hn, unsigned int flags, qv_error **err)
{
    qv_domdef_hub *h = g_new0(qv_domdef_hub, 1);
    g_ptr_array_add(def->hubs, h);
    static const char *const types[] = { "usb", NULL };
    if (qv_xml_prop_enum(hn, "type", types, &h->type, err) < 0)
        return -EINVAL;
    if (!h->type)
        return qv_xml_error(err, hn, "missing hub type");
    return common_tail(hn, flags, &h->addr, &h->alias, err);
}

static int parse_hostdev(qv_domdef *def, xmlNode *hn, unsigned int flags, qv_error **err)
{
    g_autofree char *mode = qv_xml_prop(hn, "mode");
    g_autofree char *type = qv_xml_prop(hn, "type");
    if (mode && strcmp(mode, "subsystem"))
        return qv_xml_error(err, hn, "capabilities-mode host devices are only for containers");
    if (type && !strcmp(type, "pci"))
        return qv_xml_error(err, hn, "PCI passthrough needs VFIO, not available");
    if (type && (!strcmp(type, "mdev")))
        return qv_xml_error(err, hn, "mediated devices need VFIO, not available");
    if (!type || strcmp(type, "usb"))
        return qv_xml_error(err, hn, "unsupported host device type '%s' (only usb)", type ? type : "");
    qv_domdef_hostdev *h = g_new0(qv_domdef_hostdev, 1);
    g_ptr_array_add(def->hostdevs, h);
    qv_set_str(&h->type, g_strdup(type));
    h->host_bus = h->host_device = -1;
    xmlNode *src = qv_xml_child(hn, "source");
    if (!src)
        return qv_xml_error(err, hn, "missing <source>");
    xmlNode *v = qv_xml_child(src, "vendor"), *p = qv_xml_child(src, "product");
    xmlNode *a = qv_xml_child(src, "address");
    if (v && qv_xml_prop_uint(v, "id", &h->vendor, err) < 0)
        return -EINVAL;
    if (p && qv_xml_prop_uint(p, "id", &h->product, err) < 0)
        return -EINVAL;
    if (a && (qv_xml_prop_int(a, "bus", &h->host_bus, err) < 0 ||
              qv_xml_prop_int(a, "device", &h->host_device, err) < 0))
        return -EINVAL;
    if (!h->vendor && h->host_bus < 0)
        return qv_xml_error(err, src, "a USB host device needs a vendor/product or a bus/device address");
    if (h->vendor > 0xffff || h->product > 0xffff)
        return qv_xml_error(err, src, "USB vendor and product ids are 16-bit");
    xmlNode *boot = qv_xml_child(hn, "boot");
    if (boot && qv_xml_prop_uint(boot, "order", &h->boot_order, err) < 0)
        return -EINVAL;
    return common_tail(hn, flags, &h->addr, &h->alias, err);
}

static int parse_filesystem(qv_domdef *def, xmlNode *fn, unsigned int flags, qv_error **err)
{
    qv_domdef_fs *f = g_new0(qv_domdef_fs, 1);
    g_ptr_array_add(def->filesystems, f);
    static const char *const types[] = { "mount", NULL };
    static const char *const am[] = { "passthrough", "mapped", "squash", NULL };
    if (qv_xml_prop_enum(fn, "type", types, &f->type, err) < 0 ||
        qv_xml_prop_enum(fn, "accessmode", am, &f->accessmode, err) < 0)
        return -EINVAL;
    if (!f->type)
        qv_set_str(&f->type, g_strdup("mount"));
    xmlNode *d = qv_xml_child(fn, "driver");
    if (d) {
        qv_set_str(&f->driver, qv_xml_prop(d, "type"));
        if (f->driver && !strcmp(f->driver, "virtiofs"))
            return qv_xml_error(err, d, "virtiofs needs virtiofsd and shared memory, not supported; use the 9p 'path' driver");
        if (f->driver && strcmp(f->driver, "path"))
            return qv_xml_attr_error(err, d, "type", "unsupported filesystem driver '%s' (path)", f->driver);
    }
    xmlNode *s = qv_xml_child(fn, "source"), *t = qv_xml_child(fn, "target");
    if (s)
        qv_set_str(&f->source, qv_xml_prop(s, "dir"));
    if (t)
        qv_set_str(&f->target, qv_xml_prop(t, "dir"));
    if (!f->source || !f->target)
        return qv_xml_error(err, fn, "a filesystem needs <source dir=...> and <target dir=...>");
    if (strlen(f->target) > 31)
        return qv_xml_error(err, fn, "the mount tag '%s' is longer than 31 characters", f->target);
    f->readonly = qv_xml_child(fn, "readonly") != NULL;
    return common_tail(fn, flags, &f->addr, &f->alias, err);
}

static int parse_memdev(qv_domdef *def, xmlNode *mn, unsigned int flags, qv_error **err)
{
    qv_domdef_memdev *m = g_new0(qv_domdef_memdev, 1);
    g_ptr_array_add(def->memdevs, m);
    m->node = -1;
    static const char *const models[] = { "dimm", NULL };
    if (qv_xml_prop_enum(mn, "model", models, &m->model, err) < 0)
        return -EINVAL;
    if (!m->model)
        return qv_xml_error(err, mn, "unsupported memory model (dimm)");
    xmlNode *t = qv_xml_child(mn, "target");
    xmlNode *sz = t ? qv_xml_child(t, "size") : NULL;
    if (!sz)
        return qv_xml_error(err, mn, "missing <target><size>");
    if (qv_xml_scaled_kib(sz, "KiB", &m->size_kib, err) < 0)
        return -EINVAL;
    xmlNode *node = qv_xml_child(t, "node");
    if (node) {
        g_autofree char *nv = qv_xml_text(node);
        unsigned long long x;
        if (qv_parse_uint_str(nv, 10, 255, &x) < 0)
            return qv_xml_error(err, node, "'%s' is not a NUMA node", nv);
        m->node = (int)x;
    }
    if (m->size_kib == 0 || m->size_kib % 1024)
        return qv_xml_error(err, mn, "a memory module size must be a non-zero multiple of 1 MiB");
    return common_tail(mn, flags, &m->addr, &m->alias, err);
}

int qv_parse_devices(qv_domdef *def, xmlNode *devices, unsigned int flags, qv_error **err)
{
    FOR_EACH_CHILD(c, devices) {
        int r;
        if (name_is(c, "emulator")) {
            qv_set_str(&def->emulator, qv_xml_text(c));
            if (!g_path_is_absolute(def->emulator))
                return qv_xml_error(err, c, "the emulator must be an absolute path");
            r = 0;
        } else if (name_is(c, "disk"))
            r = parse_disk(def, c, flags, err);
        else if (name_is(c, "controller"))
            r = parse_controller(def, c, flags, err);
        else if (name_is(c, "interface"))
            r = parse_interface(def, c, flags, err);
        else if (name_is(c, "serial"))
            r = parse_chr(def, c, QV_CHR_SERIAL, flags, err);
        else if (name_is(c, "console"))
            r = parse_chr(def, c, QV_CHR_CONSOLE, flags, err);
        else if (name_is(c, "parallel"))
            r = parse_chr(def, c, QV_CHR_PARALLEL, flags, err);
        else if (name_is(c, "channel"))
            r = parse_chr(def, c, QV_CHR_CHANNEL, flags, err);
        else if (name_is(c, "input"))
            r = parse_input(def, c, flags, err);
        else if (name_is(c, "graphics"))
            r = parse_graphics(def, c, flags, err);
        else if (name_is(c, "video"))
            r = parse_video(def, c, flags, err);
        else if (name_is(c, "sound"))
            r = parse_sound(def, c, flags, err);
        else if (name_is(c, "audio"))
            r = parse_audio(def, c, err);
        else if (name_is(c, "memballoon"))
            r = parse_memballoon(def, c, flags, err);
        else if (name_is(c, "watchdog"))
            r = parse_watchdog(def, c, flags, err);
        else if (name_is(c, "rng"))
            r = parse_rng(def, c, flags, err);
        else if (name_is(c, "panic"))
            r = parse_panic(def, c, flags, err);
        else if (name_is(c, "shmem"))
            r = parse_shmem(def, c, flags, err);
        else if (name_is(c, "vsock"))
            r = parse_vsock(def, c, flags, err);
        else if (name_is(c, "iommu"))
            r = parse_iommu(def, c, flags, err);
        else if (name_is(c, "tpm"))
            r = parse_tpm(def, c, flags, err);
        else if (name_is(c, "smartcard"))
            r = parse_smartcard(def, c, flags, err);
        else if (name_is(c, "redirdev"))
            r = parse_redirdev(def, c, flags, err);
        else if (name_is(c, "hub"))
            r = parse_hub(def, c, flags, err);
        else if (name_is(c, "hostdev"))
            r = parse_hostdev(def, c, flags, err);
        else if (name_is(c, "filesystem"))
            r = parse_filesystem(def, c, flags, err);
        else if (name_is(c, "memory"))
            r = parse_memdev(def, c, flags, err);
        else if (name_is(c, "lease") || name_is(c, "redirfilter") || name_is(c, "nvram") ||
                 name_is(c, "crypto") || name_is(c, "pstore"))
            r = qv_xml_error(err, c, "device not supported by qvirt");
        else
            r = qv_xml_error(err, c, "unknown device");
        if (r < 0)
            return r;
    }
    return number_controllers(def, err);
}
