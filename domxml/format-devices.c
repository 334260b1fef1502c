/* Device formatters, in libvirt's device order. */
#include <string.h>

#include "domxml-priv.h"

#define A(name, value) qv_fmt_attr(buf, name, value)
#define IND(d) qv_fmt_indent(buf, d)
#define P(...) g_string_append_printf(buf, __VA_ARGS__)
#define S(s) g_string_append(buf, s)

void qv_fmt_address(GString *buf, int depth, const qv_domdef_addr *a)
{
    switch (a->type) {
    case QV_ADDR_PCI:
        IND(depth);
        P("<address type='pci' domain='0x%04x' bus='0x%02x' slot='0x%02x' function='0x%x'",
          a->domain, a->bus, a->slot, a->function);
        A("multifunction", qv_tri_onoff(a->multifunction));
        S("/>\n");
        break;
    case QV_ADDR_DRIVE:
        IND(depth);
        P("<address type='drive' controller='%u' bus='%u' target='%u' unit='%u'/>\n",
          a->controller, a->bus, a->target, a->unit);
        break;
    case QV_ADDR_VIRTIO_SERIAL:
        IND(depth);
        P("<address type='virtio-serial' controller='%u' bus='%u' port='%u'/>\n",
          a->controller, a->bus, a->port);
        break;
    case QV_ADDR_USB:
        IND(depth);
        P("<address type='usb' bus='%u'", a->bus);
        A("port", a->usb_port);
        S("/>\n");
        break;
    case QV_ADDR_ISA:
        IND(depth);
        P("<address type='isa' iobase='0x%x'", a->port);
        if (a->irq)
            P(" irq='0x%x'", a->irq);
        S("/>\n");
        break;
    case QV_ADDR_CCID:
        IND(depth);
        P("<address type='ccid' controller='%u' slot='%u'/>\n", a->controller, a->slot);
        break;
    case QV_ADDR_DIMM:
        IND(depth);
        P("<address type='dimm' slot='%u'", a->slot);
        if (a->base)
            P(" base='0x%llx'", a->base);
        S("/>\n");
        break;
    default:
        break;
    }
}

void qv_fmt_alias(GString *buf, int depth, const char *alias, unsigned int flags)
{
    if (!alias)
        return;
    if ((flags & QV_DOMXML_FORMAT_INACTIVE) && !g_str_has_prefix(alias, "ua-"))
        return;
    IND(depth);
    S("<alias");
    A("name", alias);
    S("/>\n");
}

static const char *const chr_type_names[] = { "pty", "file", "unix", "tcp", "udp", "null", "vc",
                                              "stdio", "pipe", "dev", "spicevmc", "spiceport",
                                              "qemu-vdagent" };

void qv_fmt_chr_source(GString *buf, int depth, const qv_domdef_chr_source *s, unsigned int flags)
{
    switch (s->type) {
    case QV_CHR_PTY:
        if (s->path && !(flags & QV_DOMXML_FORMAT_INACTIVE)) {
            IND(depth); S("<source"); A("path", s->path); S("/>\n");
        }
        break;
    case QV_CHR_FILE: case QV_CHR_PIPE: case QV_CHR_DEV:
        IND(depth); S("<source"); A("path", s->path);
        A("append", qv_tri_onoff(s->append));
        S("/>\n");
        break;
    case QV_CHR_UNIX:
        IND(depth); S("<source");
        A("mode", s->bind ? "bind" : "connect");
        A("path", s->path);
        if (s->reconnect) {
            P(">\n");
            IND(depth + 1);
            P("<reconnect enabled='yes' timeout='%u'/>\n", s->reconnect);
            IND(depth);
            S("</source>\n");
        } else {
            S("/>\n");
        }
        break;
    case QV_CHR_TCP:
        IND(depth); S("<source");
        A("mode", s->bind ? "bind" : "connect");
        A("host", s->host);
        A("service", s->service);
        if (s->tls)
            A("tls", qv_tri_yesno(s->tls));
        if (s->reconnect) {
            P(">\n");
            IND(depth + 1);
            P("<reconnect enabled='yes' timeout='%u'/>\n", s->reconnect);
            IND(depth);
            S("</source>\n");
        } else {
            S("/>\n");
        }
        IND(depth);
        P("<protocol type='%s'/>\n", s->telnet ? "telnet" : "raw");
        break;
    case QV_CHR_SPICEPORT:
        IND(depth); S("<source"); A("channel", s->channel); S("/>\n");
        break;
    case QV_CHR_QEMU_VDAGENT:
        if (s->clipboard || s->mouse_mode) {
            IND(depth); S("<source>\n");
            if (s->clipboard) {
                IND(depth + 1); S("<clipboard"); A("copypaste", qv_tri_yesno(s->clipboard)); S("/>\n");
            }
            if (s->mouse_mode) {
                IND(depth + 1); S("<mouse"); A("mode", s->mouse_mode); S("/>\n");
            }
            IND(depth); S("</source>\n");
        }
        break;
    case QV_CHR_UDP:
        if (s->bind_host || s->bind_service) {
            IND(depth); S("<source mode='bind'"); A("host", s->bind_host); A("service", s->bind_service);
            S("/>\n");
        }
        IND(depth); S("<source mode='connect'"); A("host", s->host); A("service", s->service);
        S("/>\n");
        break;
    default:
        break;
    }
    if (s->log_file) {
        IND(depth); S("<log"); A("file", s->log_file); A("append", qv_tri_onoff(s->log_append));
        S("/>\n");
    }
}

static const char *disk_type_name(int t)
{
    static const char *const names[] = { "file", "block", "network", "dir", "volume", "nvme" };
    return names[t];
}

static void fmt_disk_host(GString *buf, int depth, const char *name, const char *port,
                          const char *transport, const char *socket)
{
    IND(depth); S("<host"); A("name", name); A("port", port);
    A("transport", transport); A("socket", socket); S("/>\n");
}

static void fmt_disk_auth(GString *buf, int depth, const qv_domdef_disk_src *s)
{
    IND(depth); S("<auth"); A("username", s->auth_username); S(">\n");
    IND(depth + 1); S("<secret"); A("type", s->auth_type); A("usage", s->auth_usage);
    A("uuid", s->auth_uuid); S("/>\n");
    IND(depth); S("</auth>\n");
}

static void fmt_disk_encryption(GString *buf, int depth, const qv_domdef_disk_src *s)
{
    IND(depth); S("<encryption"); A("format", s->enc_format); A("engine", s->enc_engine); S(">\n");
    IND(depth + 1); S("<secret type='passphrase'"); A("usage", s->enc_usage); A("uuid", s->enc_uuid);
    S("/>\n");
    IND(depth); S("</encryption>\n");
}

/* What a <source> holds after its own children: <auth> and <encryption>
 * when they were given there. */
static void fmt_source_secrets(GString *buf, int depth, const qv_domdef_disk_src *s)
{
    if (s->auth_username && !s->auth_in_disk)
        fmt_disk_auth(buf, depth, s);
    if (s->enc_format && !s->enc_in_disk)
        fmt_disk_encryption(buf, depth, s);
}

static void fmt_disk_source(GString *buf, int depth, const qv_domdef_disk_src *s,
                            const char *startup_policy)
{
    if (s->type == QV_DISK_TYPE_NETWORK) {
        IND(depth); S("<source"); A("protocol", s->protocol); A("name", s->name); A("query", s->query);
        S(">\n");
        if (s->host || s->socket)
            fmt_disk_host(buf, depth + 1, s->host, s->port, s->transport, s->socket);
        for (guint i = 0; s->more_hosts && i < s->more_hosts->len; i++) {
            const qv_domdef_disk_host *h = g_ptr_array_index(s->more_hosts, i);
            fmt_disk_host(buf, depth + 1, h->name, h->port, h->transport, h->socket);
        }
        if (s->ssl_verify) {
            IND(depth + 1); S("<ssl"); A("verify", qv_tri_yesno(s->ssl_verify)); S("/>\n");
        }
        if (s->readahead) {
            IND(depth + 1); P("<readahead size='%llu'/>\n", s->readahead);
        }
        if (s->timeout) {
            IND(depth + 1); P("<timeout seconds='%llu'/>\n", s->timeout);
        }
        if (s->snapshot) {
            IND(depth + 1); S("<snapshot"); A("name", s->snapshot); S("/>\n");
        }
        if (s->config_file) {
            IND(depth + 1); S("<config"); A("file", s->config_file); S("/>\n");
        }
        if (s->nfs_user || s->nfs_group) {
            IND(depth + 1); S("<identity"); A("user", s->nfs_user); A("group", s->nfs_group); S("/>\n");
        }
        if (s->initiator_iqn) {
            IND(depth + 1); S("<initiator>\n");
            IND(depth + 2); S("<iqn"); A("name", s->initiator_iqn); S("/>\n");
            IND(depth + 1); S("</initiator>\n");
        }
        fmt_source_secrets(buf, depth + 1, s);
        IND(depth); S("</source>\n");
        return;
    }
    if (s->type == QV_DISK_TYPE_VOLUME) {
        IND(depth); S("<source"); A("pool", s->pool); A("volume", s->volume);
        A("mode", s->volume_mode); A("startupPolicy", startup_policy);
        if (s->enc_format && !s->enc_in_disk) {
            S(">\n");
            fmt_source_secrets(buf, depth + 1, s);
            IND(depth); S("</source>\n");
        } else {
            S("/>\n");
        }
        return;
    }
    if (s->type == QV_DISK_TYPE_NVME) {
        const qv_domdef_addr *a = &s->nvme_addr;
        IND(depth); S("<source"); A("type", s->nvme_type); A("managed", qv_tri_yesno(s->nvme_managed));
        P(" namespace='%u'>\n", s->nvme_namespace);
        IND(depth + 1);
        P("<address domain='0x%04x' bus='0x%02x' slot='0x%02x' function='0x%x'/>\n", a->domain, a->bus,
          a->slot, a->function);
        IND(depth); S("</source>\n");
        return;
    }
    if (!s->path && !startup_policy)
        return;
    IND(depth); S("<source");
    A(s->type == QV_DISK_TYPE_BLOCK ? "dev" : s->type == QV_DISK_TYPE_DIR ? "dir" : "file", s->path);
    A("startupPolicy", startup_policy);
    if (s->enc_format && !s->enc_in_disk) {
        S(">\n");
        fmt_source_secrets(buf, depth + 1, s);
        IND(depth); S("</source>\n");
    } else {
        S("/>\n");
    }
}

static void fmt_metadata_cache(GString *buf, int depth, const qv_domdef_disk_src *s)
{
    IND(depth); S("<metadata_cache>\n");
    IND(depth + 1); P("<max_size unit='bytes'>%llu</max_size>\n", s->metadata_cache);
    IND(depth); S("</metadata_cache>\n");
}

static void fmt_backing(GString *buf, int depth, const qv_domdef_disk_src *s)
{
    if (!s->has_backing)
        return;
    if (!s->backing) {
        IND(depth); S("<backingStore/>\n");
        return;
    }
    const qv_domdef_disk_src *b = s->backing;
    IND(depth); P("<backingStore type='%s'>\n", disk_type_name(b->type));
    if (b->format && b->metadata_cache) {
        IND(depth + 1); P("<format type='%s'>\n", b->format);
        fmt_metadata_cache(buf, depth + 2, b);
        IND(depth + 1); S("</format>\n");
    } else if (b->format) {
        IND(depth + 1); P("<format type='%s'/>\n", b->format);
    }
    fmt_disk_source(buf, depth + 1, b, NULL);
    fmt_backing(buf, depth + 1, b);
    IND(depth); S("</backingStore>\n");
}

static void fmt_disk(GString *buf, const qv_domdef_disk *d, unsigned int flags)
{
    static const char *const devices[] = { "disk", "cdrom", "floppy", "lun" };
    static const char *const buses[] = { NULL, "virtio", "sata", "ide", "scsi", "usb", "fdc" };
    P("    <disk type='%s' device='%s'", disk_type_name(d->src.type), devices[d->device]);
    A("model", d->model);
    S(">\n");
    S("      <driver"); A("name", d->driver_name); A("type", d->src.format); A("cache", d->cache);
    A("error_policy", d->error_policy);
    A("io", d->io);
    if (d->iothread)
        qv_fmt_attr_uint(buf, "iothread", d->iothread);
    A("discard", d->discard); A("detect_zeroes", d->detect_zeroes);
    if (d->queues)
        qv_fmt_attr_uint(buf, "queues", d->queues);
    if (d->src.metadata_cache) {
        S(">\n");
        fmt_metadata_cache(buf, 4, &d->src);
        S("      </driver>\n");
    } else {
        S("/>\n");
    }
    if (d->src.auth_username && d->src.auth_in_disk)
        fmt_disk_auth(buf, 3, &d->src);
    fmt_disk_source(buf, 3, &d->src, d->startup_policy);
    fmt_backing(buf, 3, &d->src);
    if (d->geo_cyls) {
        P("      <geometry cyls='%u' heads='%u' secs='%u'", d->geo_cyls, d->geo_heads, d->geo_secs);
        A("trans", d->geo_trans); S("/>\n");
    }
    if (d->logical_block_size || d->physical_block_size || d->discard_granularity) {
        S("      <blockio");
        if (d->logical_block_size)
            qv_fmt_attr_uint(buf, "logical_block_size", d->logical_block_size);
        if (d->physical_block_size)
            qv_fmt_attr_uint(buf, "physical_block_size", d->physical_block_size);
        if (d->discard_granularity)
            qv_fmt_attr_uint(buf, "discard_granularity", d->discard_granularity);
        S("/>\n");
    }
    S("      <target"); A("dev", d->target_dev); A("bus", buses[d->bus]); A("tray", d->tray);
    A("removable", qv_tri_onoff(d->removable));
    if (d->rotation_rate)
        qv_fmt_attr_uint(buf, "rotation_rate", d->rotation_rate);
    S("/>\n");
    if (d->has_iotune) {
        const qv_domdef_iotune *t = &d->iotune;
        S("      <iotune>\n");
#define IOT(x) if (t->x) P("        <" #x ">%llu</" #x ">\n", t->x);
        IOT(total_bytes_sec) IOT(read_bytes_sec) IOT(write_bytes_sec)
        IOT(total_iops_sec) IOT(read_iops_sec) IOT(write_iops_sec)
        IOT(total_bytes_sec_max) IOT(read_bytes_sec_max) IOT(write_bytes_sec_max)
        IOT(total_iops_sec_max) IOT(read_iops_sec_max) IOT(write_iops_sec_max)
        IOT(size_iops_sec)
#undef IOT
        qv_fmt_text_elem(buf, 4, "group_name", t->group_name);
        S("      </iotune>\n");
    }
    if (d->boot_order)
        P("      <boot order='%u'/>\n", d->boot_order);
    if (d->readonly)
        S("      <readonly/>\n");
    if (d->shareable)
        S("      <shareable/>\n");
    if (d->transient)
        S("      <transient/>\n");
    qv_fmt_text_elem(buf, 3, "serial", d->serial);
    qv_fmt_text_elem(buf, 3, "wwn", d->wwn);
    qv_fmt_text_elem(buf, 3, "vendor", d->vendor);
    qv_fmt_text_elem(buf, 3, "product", d->product);
    if (d->src.enc_format && d->src.enc_in_disk)
        fmt_disk_encryption(buf, 3, &d->src);
    qv_fmt_alias(buf, 3, d->alias, flags);
    qv_fmt_address(buf, 3, &d->addr);
    S("    </disk>\n");
}

static void fmt_controller(GString *buf, const qv_domdef_controller *c, unsigned int flags)
{
    static const char *const types[] = { "pci", "usb", "scsi", "virtio-serial", "sata", "ide",
                                         "ccid", "fdc" };
    P("    <controller type='%s' index='%u'", types[c->type], c->index);
    A("model", c->model);
    if (c->ports >= 0)
        P(" ports='%d'", c->ports);
    if (c->vectors >= 0)
        P(" vectors='%d'", c->vectors);
    GString *inner = g_string_new(NULL);
    {
        GString *b2 = buf;
        buf = inner;
        if (c->model_name) {
            S("      <model"); A("name", c->model_name); S("/>\n");
        }
        if (c->queues >= 0 || c->iothread) {
            S("      <driver");
            if (c->queues >= 0)
                P(" queues='%d'", c->queues);
            if (c->iothread)
                P(" iothread='%u'", c->iothread);
            S("/>\n");
        }
        if (c->chassis >= 0 || c->port >= 0 || c->chassis_nr >= 0 || c->busnr >= 0 || c->numa_node >= 0) {
            S("      <target");
            if (c->chassis_nr >= 0) P(" chassisNr='%d'", c->chassis_nr);
            if (c->chassis >= 0) P(" chassis='%d'", c->chassis);
            if (c->port >= 0) P(" port='0x%x'", c->port);
            if (c->busnr >= 0) P(" busNr='%d'", c->busnr);
            if (c->numa_node >= 0)
                P(">\n        <node>%d</node>\n      </target>\n", c->numa_node);
            else
                S("/>\n");
        }
        if (c->has_pcihole64)
            P("      <pcihole64 unit='KiB'>%llu</pcihole64>\n", c->pcihole64_kib);
        if (c->master_startport >= 0)
            P("      <master startport='%d'/>\n", c->master_startport);
        qv_fmt_alias(buf, 3, c->alias, flags);
        if (!(c->type == QV_CTRL_PCI && (!strcmp(c->model, "pci-root") || !strcmp(c->model, "pcie-root"))))
            qv_fmt_address(buf, 3, &c->addr);
        buf = b2;
    }
    if (inner->len) {
        S(">\n");
        g_string_append(buf, inner->str);
        S("    </controller>\n");
    } else {
        S("/>\n");
    }
    g_string_free(inner, TRUE);
}

static void fmt_bandwidth_dir(GString *buf, const char *name, const qv_domdef_bandwidth_dir *d)
{
    if (!d->set)
        return;
    P("        <%s", name);
    if (d->average) P(" average='%llu'", d->average);
    if (d->peak) P(" peak='%llu'", d->peak);
    if (d->floor) P(" floor='%llu'", d->floor);
    if (d->burst) P(" burst='%llu'", d->burst);
    S("/>\n");
}

/* <host .../> or <guest .../> of a NIC's <driver>; with buf NULL, only
 * whether it has anything to write. */
static bool fmt_net_offloads(GString *buf, const qv_domdef_net *n, const char *elem)
{
    bool any = false;
    for (int i = 0; i < QV_NET_N_OFFLOADS; i++) {
        if (strcmp(qv_net_offloads[i].elem, elem) || !n->offloads[i])
            continue;
        if (!buf)
            return true;
        if (!any)
            P("        <%s", elem);
        any = true;
        A(qv_net_offloads[i].attr, qv_tri_onoff(n->offloads[i]));
    }
    if (any)
        S("/>\n");
    return any;
}

static void fmt_net(GString *buf, const qv_domdef_net *n, unsigned int flags)
{
    static const char *const types[] = { "user", "ethernet", "bridge", "network", "client", "server",
                                         "mcast", "udp", "vhostuser", "vdpa", "direct", "hostdev" };
    P("    <interface type='%s'", types[n->type]);
    if (n->type == QV_NET_HOSTDEV)
        A("managed", n->managed == QV_TRI_ON ? "yes" : "no");
    A("trustGuestRxFilters", qv_tri_yesno(n->trust_guest_rx));
    S(">\n");
    P("      <mac address='%02x:%02x:%02x:%02x:%02x:%02x'/>\n",
      n->mac[0], n->mac[1], n->mac[2], n->mac[3], n->mac[4], n->mac[5]);
    if (n->source_bridge || n->source_network) {
        S("      <source"); A("network", n->source_network); A("portgroup", n->source_portgroup);
        A("bridge", n->source_bridge); S("/>\n");
    } else if (n->source_port) {
        S("      <source"); A("address", n->source_address); P(" port='%u'", n->source_port);
        if (n->local_address) {
            S(">\n        <local"); A("address", n->local_address); P(" port='%u'/>\n", n->local_port);
            S("      </source>\n");
        } else {
            S("/>\n");
        }
    } else if (n->source_path) {
        S("      <source type='unix'"); A("path", n->source_path); A("mode", n->source_mode);
        if (n->reconnect)
            P(">\n        <reconnect enabled='yes' timeout='%u'/>\n      </source>\n", n->reconnect);
        else
            S("/>\n");
    } else if (n->source_dev) {
        S("      <source"); A("dev", n->source_dev); A("mode", n->direct_mode); S("/>\n");
    } else if (n->type == QV_NET_HOSTDEV) {
        const qv_domdef_addr *a = &n->host_addr;
        P("      <source>\n        <address type='pci' domain='0x%04x' bus='0x%02x' slot='0x%02x' function='0x%x'/>\n      </source>\n",
          a->domain, a->bus, a->slot, a->function);
    }
    if (n->vport) {
        S("      <virtualport"); A("type", n->vport_type);
        if (n->vport_interfaceid || n->vport_profileid || n->vport_instanceid || n->vport_managerid ||
            n->vport_typeid || n->vport_typeidversion) {
            /* libvirt's order: virNetDevVPortProfileFormat */
            S(">\n        <parameters"); A("managerid", n->vport_managerid); A("typeid", n->vport_typeid);
            A("typeidversion", n->vport_typeidversion); A("instanceid", n->vport_instanceid);
            A("interfaceid", n->vport_interfaceid); A("profileid", n->vport_profileid);
            S("/>\n      </virtualport>\n");
        } else {
            S("/>\n");
        }
    }
    if (n->ip4_address) {
        S("      <ip address='"); qv_xml_escape_append(buf, n->ip4_address); S("' family='ipv4'");
        if (n->ip4_prefix)
            P(" prefix='%u'", n->ip4_prefix);
        S("/>\n");
    }
    if (n->ip6_address) {
        S("      <ip address='"); qv_xml_escape_append(buf, n->ip6_address); S("' family='ipv6'");
        if (n->ip6_prefix)
            P(" prefix='%u'", n->ip6_prefix);
        S("/>\n");
    }
    if (n->inbound.set || n->outbound.set) {
        S("      <bandwidth>\n");
        fmt_bandwidth_dir(buf, "inbound", &n->inbound);
        fmt_bandwidth_dir(buf, "outbound", &n->outbound);
        S("      </bandwidth>\n");
    }
    if (n->port_isolated)
        P("      <port isolated='%s'/>\n", qv_tri_yesno(n->port_isolated));
    if (n->script) {
        S("      <script"); A("path", n->script); S("/>\n");
    }
    if (n->downscript) {
        S("      <downscript"); A("path", n->downscript); S("/>\n");
    }
    if (n->backend_domain) {
        S("      <backenddomain"); A("name", n->backend_domain); S("/>\n");
    }
    if (n->target_dev) {
        S("      <target"); A("dev", n->target_dev); S("/>\n");
    }
    if (n->guest_dev) {
        S("      <guest"); A("dev", n->guest_dev); S("/>\n");
    }
    if (n->model) {
        S("      <model"); A("type", n->model); S("/>\n");
    }
    if (n->driver_name || n->queues || n->txmode || n->ioeventfd || n->event_idx ||
        n->rx_queue_size || n->tx_queue_size || fmt_net_offloads(NULL, n, "host") ||
        fmt_net_offloads(NULL, n, "guest")) {
        S("      <driver"); A("name", n->driver_name); A("txmode", n->txmode);
        A("ioeventfd", qv_tri_onoff(n->ioeventfd)); A("event_idx", qv_tri_onoff(n->event_idx));
        if (n->queues)
            P(" queues='%u'", n->queues);
        if (n->rx_queue_size)
            P(" rx_queue_size='%u'", n->rx_queue_size);
        if (n->tx_queue_size)
            P(" tx_queue_size='%u'", n->tx_queue_size);
        if (fmt_net_offloads(NULL, n, "host") || fmt_net_offloads(NULL, n, "guest")) {
            S(">\n");
            fmt_net_offloads(buf, n, "host");
            fmt_net_offloads(buf, n, "guest");
            S("      </driver>\n");
        } else {
            S("/>\n");
        }
    }
    if (n->backend_tap || n->backend_vhost) {
        S("      <backend"); A("tap", n->backend_tap); A("vhost", n->backend_vhost); S("/>\n");
    }
    if (n->sndbuf_set)
        P("      <tune>\n        <sndbuf>%llu</sndbuf>\n      </tune>\n", n->sndbuf);
    if (n->teaming_type) {
        S("      <teaming"); A("type", n->teaming_type); A("persistent", n->teaming_persistent);
        S("/>\n");
    }
    if (n->boot_order)
        P("      <boot order='%u'/>\n", n->boot_order);
    if (n->rom_bar || n->rom_file) {
        S("      <rom");
        A("bar", qv_tri_onoff(n->rom_bar));
        if (n->rom_file && !*n->rom_file)
            S(" enabled='no'");
        else
            A("file", n->rom_file);
        S("/>\n");
    }
    if (n->link_state)
        P("      <link state='%s'/>\n", n->link_state);
    if (n->mtu)
        P("      <mtu size='%u'/>\n", n->mtu);
    if (n->coalesce_set)
        P("      <coalesce>\n        <rx>\n          <frames max='%u'/>\n        </rx>\n      </coalesce>\n",
          n->coalesce_rx_frames);
    qv_fmt_alias(buf, 3, n->alias, flags);
    if (n->acpi_index)
        P("      <acpi index='%u'/>\n", n->acpi_index);
    qv_fmt_address(buf, 3, &n->addr);
    S("    </interface>\n");
}

static void fmt_chr(GString *buf, const qv_domdef_chr *c, unsigned int flags)
{
    static const char *const kinds[] = { "serial", "console", "parallel", "channel" };
    const char *kind = kinds[c->kind];
    P("    <%s type='%s'>\n", kind, chr_type_names[c->src.type]);
    qv_fmt_chr_source(buf, 3, &c->src, flags);
    S("      <target");
    A("type", c->target_type);
    A("name", c->target_name);
    A("address", c->target_address);
    if ((c->kind != QV_CHR_CHANNEL || c->target_address) && c->target_port >= 0)
        P(" port='%d'", c->target_port);
    if (c->kind == QV_CHR_SERIAL && c->target_model) {
        S(">\n        <model"); A("name", c->target_model); S("/>\n      </target>\n");
    } else {
        S("/>\n");
    }
    qv_fmt_alias(buf, 3, c->alias, flags);
    qv_fmt_address(buf, 3, &c->addr);
    P("    </%s>\n", kind);
}

/* libvirt's order: channels, image, jpeg, zlib, playback, streaming,
 * clipboard, mouse, filetransfer, gl. */
static void fmt_spice_children(GString *buf, const qv_domdef_graphics *g)
{
    for (guint i = 0; g->spice_channels && i < g->spice_channels->len; i++) {
        const char *nm = g_ptr_array_index(g->spice_channels, i);
        const char *eq = strchr(nm, '=');
        g_autofree char *name = g_strndup(nm, (gsize)(eq - nm));
        S("      <channel"); A("name", name); A("mode", eq + 1); S("/>\n");
    }
    if (g->spice_image) { S("      <image"); A("compression", g->spice_image); S("/>\n"); }
    if (g->spice_jpeg) { S("      <jpeg"); A("compression", g->spice_jpeg); S("/>\n"); }
    if (g->spice_zlib) { S("      <zlib"); A("compression", g->spice_zlib); S("/>\n"); }
    if (g->spice_playback)
        P("      <playback compression='%s'/>\n", g->spice_playback == QV_TRI_ON ? "on" : "off");
    if (g->spice_streaming) { S("      <streaming"); A("mode", g->spice_streaming); S("/>\n"); }
    if (g->spice_copypaste)
        P("      <clipboard copypaste='%s'/>\n", g->spice_copypaste == QV_TRI_ON ? "yes" : "no");
    if (g->spice_mouse) { S("      <mouse"); A("mode", g->spice_mouse); S("/>\n"); }
    if (g->spice_filetransfer)
        P("      <filetransfer enable='%s'/>\n", g->spice_filetransfer == QV_TRI_ON ? "yes" : "no");
    if (g->gl || g->rendernode) {
        S("      <gl");
        if (g->gl)
            P(" enable='%s'", g->gl == QV_TRI_ON ? "yes" : "no");
        A("rendernode", g->rendernode);
        S("/>\n");
    }
}

static void fmt_graphics(GString *buf, const qv_domdef_graphics *g, unsigned int flags)
{
    static const char *const types[] = { "vnc", "spice", "egl-headless", "sdl", "dbus" };
    P("    <graphics type='%s'", types[g->type]);
    if (g->type == QV_GFX_DBUS) {
        A("address", g->dbus_address); A("p2p", qv_tri_yesno(g->dbus_p2p));
        if (!g->gl) {
            S("/>\n");
            return;
        }
        S(">\n      <gl"); A("enable", qv_tri_yesno(g->gl)); A("rendernode", g->rendernode);
        S("/>\n    </graphics>\n");
        return;
    }
    bool live = !(flags & QV_DOMXML_FORMAT_INACTIVE);
    if (g->type == QV_GFX_VNC || g->type == QV_GFX_SPICE) {
        if (g->listen_type && !strcmp(g->listen_type, "socket")) {
            A("socket", g->socket);
        } else if (g->listen_type && !strcmp(g->listen_type, "address")) {
            if (!g->autoport || (live && g->port > 0))
                P(" port='%d'", g->port);
            else
                S(" port='-1'");
            if (g->type == QV_GFX_SPICE && ((g->tls_port > 0 && (!g->autoport || live)) ||
                                            g->tls_port == -1))
                P(" tlsPort='%d'", g->tls_port);
            A("autoport", g->autoport ? "yes" : "no");
            if (g->websocket)
                P(" websocket='%d'", g->websocket);
            A("listen", g->listen_address);
        }
        A("keymap", g->keymap);
        A("sharePolicy", g->share_policy);
        A("defaultMode", g->default_mode);
        if (g->passwd && (flags & QV_DOMXML_FORMAT_SECURE))
            A("passwd", g->passwd);
        A("passwdValidTo", g->passwd_valid_to);
        A("connected", g->connected);
        S(">\n");
        if (g->listen_type && !strcmp(g->listen_type, "socket")) {
            S("      <listen type='socket'"); A("socket", g->socket); S("/>\n");
        } else if (g->listen_type && !strcmp(g->listen_type, "none")) {
            S("      <listen type='none'/>\n");
        } else {
            S("      <listen type='address'"); A("address", g->listen_address); S("/>\n");
        }
        if (g->type == QV_GFX_SPICE)
            fmt_spice_children(buf, g);
        qv_fmt_alias(buf, 3, NULL, flags);
        S("    </graphics>\n");
    } else if (g->type == QV_GFX_EGL_HEADLESS && g->rendernode) {
        S(">\n      <gl"); A("rendernode", g->rendernode); S("/>\n    </graphics>\n");
    } else {
        S("/>\n");
    }
}

static void fmt_video(GString *buf, const qv_domdef_video *v, unsigned int flags)
{
    S("    <video>\n      <model"); A("type", v->model);
    if (v->ram) P(" ram='%u'", v->ram);
    if (v->vram) P(" vram='%u'", v->vram);
    if (v->vram64) P(" vram64='%u'", v->vram64);
    if (v->vgamem) P(" vgamem='%u'", v->vgamem);
    if (v->heads) P(" heads='%u'", v->heads);
    if (v->primary) S(" primary='yes'");
    if (v->accel3d) {
        S(">\n        <acceleration"); A("accel3d", qv_tri_yesno(v->accel3d)); S("/>\n      </model>\n");
    } else {
        S("/>\n");
    }
    qv_fmt_alias(buf, 3, v->alias, flags);
    qv_fmt_address(buf, 3, &v->addr);
    S("    </video>\n");
}

static void fmt_input(GString *buf, const qv_domdef_input *in, unsigned int flags)
{
    S("    <input"); A("type", in->type); A("bus", in->bus); A("model", in->model);
    GString *inner = g_string_new(NULL);
    if (in->source_evdev) {
        g_string_append(inner, "      <source");
        qv_fmt_attr(inner, !strcmp(in->type, "evdev") ? "dev" : "evdev", in->source_evdev);
        qv_fmt_attr(inner, "grab", in->grab);
        qv_fmt_attr(inner, "grabToggle", in->grab_toggle);
        qv_fmt_attr(inner, "repeat", in->repeat);
        g_string_append(inner, "/>\n");
    }
    qv_fmt_alias(inner, 3, in->alias, flags);
    qv_fmt_address(inner, 3, &in->addr);
    if (inner->len) {
        S(">\n"); g_string_append(buf, inner->str); S("    </input>\n");
    } else {
        S("/>\n");
    }
    g_string_free(inner, TRUE);
}

/* libvirt's virDomainHostdevDefFormat: managed on every subsystem device,
 * then the source, then boot, alias, rom and address. */
static void fmt_hostdev(GString *buf, const qv_domdef_hostdev *h, unsigned int flags)
{
    S("    <hostdev mode='subsystem'"); A("type", h->type);
    A("managed", h->managed == QV_TRI_ON ? "yes" : "no");
    A("sgio", h->sgio); A("rawio", h->rawio);
    A("model", h->mdev_model ? h->mdev_model : h->vhost_model); A("display", qv_tri_onoff(h->mdev_display));
    A("ramfb", qv_tri_onoff(h->mdev_ramfb));
    S(">\n");
    if (h->driver_name) {
        S("      <driver"); A("name", h->driver_name); S("/>\n");
    }
    if (h->vhost_wwpn) {
        S("      <source protocol='vhost'"); A("wwpn", h->vhost_wwpn); S("/>\n");
    } else if (h->iscsi) {
        /* virDomainHostdevDefFormatSubsysSCSI: host, auth, initiator. */
        const qv_domdef_disk_src *i = h->iscsi;
        S("      <source protocol='iscsi'"); A("name", i->name); S(">\n");
        fmt_disk_host(buf, 4, i->host, i->port, i->transport, i->socket);
        if (i->auth_username)
            fmt_disk_auth(buf, 4, i);
        if (i->initiator_iqn) {
            S("        <initiator>\n          <iqn"); A("name", i->initiator_iqn); S("/>\n        </initiator>\n");
        }
        S("      </source>\n");
    } else {
    S("      <source>\n");
    if (!strcmp(h->type, "usb")) {
        if (h->vendor)
            P("        <vendor id='0x%04x'/>\n", h->vendor);
        if (h->product)
            P("        <product id='0x%04x'/>\n", h->product);
        if (h->host_bus >= 0)
            P("        <address bus='%d' device='%d'/>\n", h->host_bus, h->host_device);
    } else if (!strcmp(h->type, "pci")) {
        const qv_domdef_addr *a = &h->host_addr;
        P("        <address domain='0x%04x' bus='0x%02x' slot='0x%02x' function='0x%x'/>\n",
          a->domain, a->bus, a->slot, a->function);
    } else if (!strcmp(h->type, "scsi")) {
        S("        <adapter"); A("name", h->scsi_adapter); S("/>\n");
        P("        <address bus='%u' target='%u' unit='%u'/>\n", h->scsi_bus, h->scsi_target, h->scsi_unit);
    } else {
        S("        <address"); A("uuid", h->mdev_uuid); S("/>\n");
    }
    S("      </source>\n");
    }
    if (h->readonly)
        S("      <readonly/>\n");
    if (h->shareable)
        S("      <shareable/>\n");
    if (h->teaming_persistent) {
        S("      <teaming type='transient'"); A("persistent", h->teaming_persistent); S("/>\n");
    }
    if (h->boot_order)
        P("      <boot order='%u'/>\n", h->boot_order);
    qv_fmt_alias(buf, 3, h->alias, flags);
    if (h->rom_bar || h->rom_file) {
        S("      <rom"); A("bar", qv_tri_onoff(h->rom_bar)); A("file", h->rom_file); S("/>\n");
    }
    qv_fmt_address(buf, 3, &h->addr);
    S("    </hostdev>\n");
}

static void fmt_simple_tail(GString *buf, const char *elem, const qv_domdef_addr *addr,
                            const char *alias, unsigned int flags, const char *inner_extra)
{
    GString *inner = g_string_new(inner_extra);
    qv_fmt_alias(inner, 3, alias, flags);
    if (addr)
        qv_fmt_address(inner, 3, addr);
    if (inner->len) {
        S(">\n"); g_string_append(buf, inner->str); P("    </%s>\n", elem);
    } else {
        S("/>\n");
    }
    g_string_free(inner, TRUE);
}

/* ---- VIR_DOMAIN_XML_MIGRATABLE ------------------------------------------ */

static bool user_alias(const char *alias)
{
    return alias && g_str_has_prefix(alias, "ua-");
}

static bool is_i440fx_x86(const qv_domdef *def)
{
    const char *arch = def->os.arch, *m = def->os.machine;
    bool x86 = !arch || !strcmp(arch, "x86_64") || !strcmp(arch, "i686");
    return x86 && m && (g_str_has_prefix(m, "pc-i440fx") || !strcmp(m, "pc"));
}

/* The only controller of a type, or NULL when there are none or several. */
static const qv_domdef_controller *only_controller(const qv_domdef *def, int type)
{
    const qv_domdef_controller *found = NULL;
    for (guint i = 0; i < def->controllers->len; i++) {
        const qv_domdef_controller *c = g_ptr_array_index(def->controllers, i);
        if (c->type != type)
            continue;
        if (found)
            return NULL;
        found = c;
    }
    return found;
}

/* The devices a migratable XML leaves out. libvirt's QEMU driver
 * (qemuDomainDefFormatBufInternal, and virDomainInputDefFormat for the
 * keyboard) drops what older libvirt added by itself and may not accept in
 * the XML, so the domain can be defined there too:
 *  - the only USB controller when it is the i440fx default (index 0, model
 *    piix3-uhci): libvirt <= 0.9.4 had no USB controller element;
 *  - the only PCI controller when it is pci-root index 0 (pcie-root stays:
 *    q35 arrived after controllers were in the XML);
 *  - the PS/2 keyboard.
 * The rest of libvirt's list does not arise here: s390/pseries panics,
 * serial target types of other architectures, generated channel socket
 * paths (qvirt stores none) and a CPU updated by QEMU. IDE, SATA and FDC
 * controllers and <audio> stay, as they do in libvirt.
 *
 * Deliberate differences: a device is only dropped when qvirt's own
 * parser brings it back unchanged, so the migratable XML defines the same
 * guest (same devices, addresses, MACs and QEMU ids): the USB controller
 * must sit at its default 00:01.2 without extra options, and the keyboard
 * is kept without graphics (only graphics imply it here) or when it is not
 * the last input (re-adding it last would renumber the inputs' ids). As in
 * libvirt the flag implies neither INACTIVE nor SECURE: live migratable XML
 * keeps the id, aliases and other runtime facts. */
typedef struct migratable_skip {
    const void *usb, *pci, *keyboard;
} migratable_skip;

static migratable_skip migratable_omitted(const qv_domdef *def, unsigned int flags)
{
    migratable_skip m = { NULL, NULL, NULL };
    if (!(flags & QV_DOMXML_FORMAT_MIGRATABLE))
        return m;
    const qv_domdef_controller *usb = only_controller(def, QV_CTRL_USB);
    if (usb && is_i440fx_x86(def) && usb->index == 0 && (!usb->model || !strcmp(usb->model, "piix3-uhci")) &&
        !user_alias(usb->alias) && usb->ports < 0 &&
        (usb->addr.type == QV_ADDR_NONE ||
         (usb->addr.type == QV_ADDR_PCI && usb->addr.domain == 0 && usb->addr.bus == 0 &&
          usb->addr.slot == 1 && usb->addr.function == 2 && !usb->addr.multifunction)))
        m.usb = usb;
    const qv_domdef_controller *pci = only_controller(def, QV_CTRL_PCI);
    if (pci && pci->index == 0 && pci->model && !strcmp(pci->model, "pci-root") && !user_alias(pci->alias) &&
        !pci->has_pcihole64)
        m.pci = pci;
    if (def->graphics->len && def->inputs->len) {
        const qv_domdef_input *in = g_ptr_array_index(def->inputs, def->inputs->len - 1);
        if (in->type && !strcmp(in->type, "keyboard") && in->bus && !strcmp(in->bus, "ps2") &&
            !user_alias(in->alias))
            m.keyboard = in;
    }
    return m;
}

/* One direction of an audio backend, in libvirt's attribute order; nothing
 * when no attribute is set. */
static void fmt_audio_io(GString *buf, const char *name, const qv_domdef_audio_io *io)
{
    GString *b = g_string_new(NULL);
    qv_fmt_attr(b, "mixingEngine", qv_tri_yesno(io->mixing_engine));
    qv_fmt_attr(b, "fixedSettings", qv_tri_yesno(io->fixed_settings));
    if (io->voices)
        qv_fmt_attr_uint(b, "voices", io->voices);
    if (io->buffer_length)
        qv_fmt_attr_uint(b, "bufferLength", io->buffer_length);
    qv_fmt_attr(b, "dev", io->dev);
    if (io->buffer_count)
        qv_fmt_attr_uint(b, "bufferCount", io->buffer_count);
    qv_fmt_attr(b, "tryPoll", qv_tri_yesno(io->try_poll));
    qv_fmt_attr(b, "name", io->name);
    qv_fmt_attr(b, "streamName", io->stream_name);
    if (io->latency)
        qv_fmt_attr_uint(b, "latency", io->latency);
    qv_fmt_attr(b, "serverName", io->server_name);
    qv_fmt_attr(b, "clientName", io->client_name);
    qv_fmt_attr(b, "connectPorts", io->connect_ports);
    qv_fmt_attr(b, "exactName", qv_tri_yesno(io->exact_name));
    bool settings = io->frequency || io->channels || io->format;
    if (b->len || settings) {
        P("      <%s%s", name, b->str);
        if (settings) {
            S(">\n        <settings");
            if (io->frequency)
                qv_fmt_attr_uint(buf, "frequency", io->frequency);
            if (io->channels)
                qv_fmt_attr_uint(buf, "channels", io->channels);
            A("format", io->format);
            P("/>\n      </%s>\n", name);
        } else {
            S("/>\n");
        }
    }
    g_string_free(b, TRUE);
}

static void fmt_audio(GString *buf, const qv_domdef_audio *a)
{
    P("    <audio id='%u'", a->id);
    A("type", a->type);
    if (a->timer_period)
        qv_fmt_attr_uint(buf, "timerPeriod", a->timer_period);
    A("tryMMap", qv_tri_yesno(a->try_mmap));
    A("exclusive", qv_tri_yesno(a->exclusive));
    if (a->dsp_policy >= 0)
        qv_fmt_attr_uint(buf, "dspPolicy", (unsigned)a->dsp_policy);
    A("serverName", a->server_name);
    A("driver", a->sdl_driver);
    A("path", a->path);
    size_t head = buf->len;
    fmt_audio_io(buf, "input", &a->in);
    fmt_audio_io(buf, "output", &a->out);
    if (buf->len == head) {
        S("/>\n");
        return;
    }
    g_string_insert(buf, (gssize)head, ">\n");
    S("    </audio>\n");
}

void qv_format_devices(GString *buf, const qv_domdef *def, unsigned int flags)
{
    const migratable_skip skip = migratable_omitted(def, flags);
    S("  <devices>\n");
    qv_fmt_text_elem(buf, 2, "emulator", def->emulator);
    for (guint i = 0; i < def->disks->len; i++)
        fmt_disk(buf, g_ptr_array_index(def->disks, i), flags);
    for (guint i = 0; i < def->controllers->len; i++) {
        const qv_domdef_controller *c = g_ptr_array_index(def->controllers, i);
        if (c != skip.usb && c != skip.pci)
            fmt_controller(buf, c, flags);
    }
    for (guint i = 0; i < def->filesystems->len; i++) {
        qv_domdef_fs *f = g_ptr_array_index(def->filesystems, i);
        S("    <filesystem"); A("type", f->type); A("accessmode", f->accessmode); A("model", f->model); S(">\n");
        if (f->driver) {
            S("      <driver"); A("type", f->driver); S("/>\n");
        }
        S("      <source"); A("dir", f->source); S("/>\n");
        S("      <target"); A("dir", f->target); S("/>\n");
        if (f->readonly)
            S("      <readonly/>\n");
        qv_fmt_alias(buf, 3, f->alias, flags);
        qv_fmt_address(buf, 3, &f->addr);
        S("    </filesystem>\n");
    }
    for (guint i = 0; i < def->nets->len; i++)
        fmt_net(buf, g_ptr_array_index(def->nets, i), flags);
    for (guint i = 0; i < def->smartcards->len; i++) {
        qv_domdef_smartcard *s = g_ptr_array_index(def->smartcards, i);
        S("    <smartcard"); A("mode", s->mode);
        if (!strcmp(s->mode, "passthrough"))
            A("type", chr_type_names[s->src.type]);
        GString *inner = g_string_new(NULL);
        qv_fmt_chr_source(inner, 3, &s->src, flags);
        g_autofree char *extra = g_string_free(inner, FALSE);
        fmt_simple_tail(buf, "smartcard", &s->addr, s->alias, flags, extra);
    }
    static const int kinds[] = { QV_CHR_SERIAL, QV_CHR_PARALLEL, QV_CHR_CONSOLE, QV_CHR_CHANNEL };
    for (size_t k = 0; k < G_N_ELEMENTS(kinds); k++)
        for (guint i = 0; i < def->chrs->len; i++) {
            qv_domdef_chr *c = g_ptr_array_index(def->chrs, i);
            if (c->kind == kinds[k])
                fmt_chr(buf, c, flags);
        }
    for (guint i = 0; i < def->inputs->len; i++) {
        const qv_domdef_input *in = g_ptr_array_index(def->inputs, i);
        if (in != skip.keyboard)
            fmt_input(buf, in, flags);
    }
    for (guint i = 0; i < def->tpms->len; i++) {
        qv_domdef_tpm *t = g_ptr_array_index(def->tpms, i);
        S("    <tpm"); A("model", t->model); S(">\n      <backend"); A("type", t->backend);
        A("version", t->version);
        if (t->path || t->pcr_banks || t->secret_uuid) {
            S(">\n");
            if (t->path) {
                S("        <device"); A("path", t->path); S("/>\n");
            }
            if (t->secret_uuid) {
                S("        <encryption"); A("secret", t->secret_uuid); S("/>\n");
            }
            if (t->pcr_banks) {
                g_auto(GStrv) banks = g_strsplit(t->pcr_banks, ",", -1);
                S("        <active_pcr_banks>\n");
                for (char **b = banks; *b; b++)
                    P("          <%s/>\n", *b);
                S("        </active_pcr_banks>\n");
            }
            S("      </backend>\n");
        } else {
            S("/>\n");
        }
        qv_fmt_alias(buf, 3, t->alias, flags);
        S("    </tpm>\n");
    }
    for (guint i = 0; i < def->graphics->len; i++)
        fmt_graphics(buf, g_ptr_array_index(def->graphics, i), flags);
    for (guint i = 0; i < def->sounds->len; i++) {
        qv_domdef_sound *s = g_ptr_array_index(def->sounds, i);
        S("    <sound"); A("model", s->model); S(">\n");
        for (guint j = 0; j < s->codecs->len; j++)
            P("      <codec type='%s'/>\n", (char *)g_ptr_array_index(s->codecs, j));
        if (s->audio_id)
            P("      <audio id='%u'/>\n", s->audio_id);
        qv_fmt_alias(buf, 3, s->alias, flags);
        qv_fmt_address(buf, 3, &s->addr);
        S("    </sound>\n");
    }
    for (guint i = 0; i < def->audios->len; i++)
        fmt_audio(buf, g_ptr_array_index(def->audios, i));
    for (guint i = 0; i < def->videos->len; i++)
        fmt_video(buf, g_ptr_array_index(def->videos, i), flags);
    for (guint i = 0; i < def->hostdevs->len; i++)
        fmt_hostdev(buf, g_ptr_array_index(def->hostdevs, i), flags);
    for (guint i = 0; i < def->redirdevs->len; i++) {
        qv_domdef_redirdev *r = g_ptr_array_index(def->redirdevs, i);
        S("    <redirdev"); A("bus", r->bus); A("type", chr_type_names[r->src.type]);
        GString *inner = g_string_new(NULL);
        qv_fmt_chr_source(inner, 3, &r->src, flags);
        g_autofree char *extra = g_string_free(inner, FALSE);
        fmt_simple_tail(buf, "redirdev", &r->addr, r->alias, flags, extra);
    }
    for (guint i = 0; i < def->hubs->len; i++) {
        qv_domdef_hub *h = g_ptr_array_index(def->hubs, i);
        S("    <hub"); A("type", h->type);
        fmt_simple_tail(buf, "hub", &h->addr, h->alias, flags, NULL);
    }
    for (guint i = 0; i < def->watchdogs->len; i++) {
        qv_domdef_watchdog *w = g_ptr_array_index(def->watchdogs, i);
        S("    <watchdog"); A("model", w->model); A("action", w->action);
        fmt_simple_tail(buf, "watchdog", &w->addr, w->alias, flags, NULL);
    }
    if (def->memballoon) {
        const qv_domdef_memballoon *b = def->memballoon;
        S("    <memballoon"); A("model", b->model);
        A("autodeflate", qv_tri_onoff(b->autodeflate));
        A("freePageReporting", qv_tri_onoff(b->free_page_reporting));
        g_autofree char *extra = b->stats_period ?
            g_strdup_printf("      <stats period='%u'/>\n", b->stats_period) : NULL;
        fmt_simple_tail(buf, "memballoon", &b->addr, strcmp(b->model, "none") ? b->alias : NULL,
                        flags, extra);
    }
    for (guint i = 0; i < def->rngs->len; i++) {
        qv_domdef_rng *r = g_ptr_array_index(def->rngs, i);
        S("    <rng"); A("model", r->model); S(">\n");
        if (r->rate_bytes) {
            P("      <rate bytes='%u'", r->rate_bytes);
            if (r->rate_period)
                P(" period='%u'", r->rate_period);
            S("/>\n");
        }
        if (!strcmp(r->backend_model, "random")) {
            S("      <backend model='random'>"); qv_xml_escape_append(buf, r->backend_path); S("</backend>\n");
        } else if (!strcmp(r->backend_model, "egd")) {
            S("      <backend model='egd'"); A("type", chr_type_names[r->egd->type]); S(">\n");
            qv_fmt_chr_source(buf, 4, r->egd, flags);
            S("      </backend>\n");
        } else {
            S("      <backend model='builtin'/>\n");
        }
        qv_fmt_alias(buf, 3, r->alias, flags);
        qv_fmt_address(buf, 3, &r->addr);
        S("    </rng>\n");
    }
    for (guint i = 0; i < def->panics->len; i++) {
        qv_domdef_panic *p = g_ptr_array_index(def->panics, i);
        S("    <panic"); A("model", p->model);
        fmt_simple_tail(buf, "panic", &p->addr, p->alias, flags, NULL);
    }
    for (guint i = 0; i < def->shmems->len; i++) {
        qv_domdef_shmem *s = g_ptr_array_index(def->shmems, i);
        S("    <shmem"); A("name", s->name); S(">\n");
        P("      <model type='%s'/>\n      <size unit='KiB'>%llu</size>\n", s->model, s->size_kib);
        qv_fmt_alias(buf, 3, s->alias, flags);
        qv_fmt_address(buf, 3, &s->addr);
        S("    </shmem>\n");
    }
    for (guint i = 0; i < def->memdevs->len; i++) {
        qv_domdef_memdev *m = g_ptr_array_index(def->memdevs, i);
        S("    <memory"); A("model", m->model); A("access", m->access); A("discard", m->discard); S(">\n");
        if (m->source_nodemask || m->pagesize_kib || m->source_path) {
            S("      <source>\n");
            if (m->source_nodemask)
                P("        <nodemask>%s</nodemask>\n", m->source_nodemask);
            if (m->pagesize_kib)
                P("        <pagesize unit='KiB'>%llu</pagesize>\n", m->pagesize_kib);
            qv_fmt_text_elem(buf, 4, "path", m->source_path);
            if (m->alignsize_kib)
                P("        <alignsize unit='KiB'>%llu</alignsize>\n", m->alignsize_kib);
            if (m->source_pmem)
                S("        <pmem/>\n");
            S("      </source>\n");
        }
        S("      <target>\n");
        P("        <size unit='KiB'>%llu</size>\n", m->size_kib);
        if (m->node >= 0)
            P("        <node>%d</node>\n", m->node);
        if (m->label_kib)
            P("        <label>\n          <size unit='KiB'>%llu</size>\n        </label>\n", m->label_kib);
        if (m->readonly)
            S("        <readonly/>\n");
        if (m->block_kib) {
            P("        <block unit='KiB'>%llu</block>\n", m->block_kib);
            P("        <requested unit='KiB'>%llu</requested>\n", m->requested_kib);
        }
        S("      </target>\n");
        qv_fmt_alias(buf, 3, m->alias, flags);
        qv_fmt_address(buf, 3, &m->addr);
        S("    </memory>\n");
    }
    if (def->iommu) {
        const qv_domdef_iommu *io = def->iommu;
        S("    <iommu"); A("model", io->model);
        GString *d = g_string_new(NULL);
        if (io->intremap || io->caching_mode || io->eim || io->iotlb || io->aw_bits) {
            g_string_append(d, "      <driver");
            qv_fmt_attr(d, "intremap", qv_tri_onoff(io->intremap));
            qv_fmt_attr(d, "caching_mode", qv_tri_onoff(io->caching_mode));
            qv_fmt_attr(d, "eim", qv_tri_onoff(io->eim));
            qv_fmt_attr(d, "iotlb", qv_tri_onoff(io->iotlb));
            if (io->aw_bits)
                g_string_append_printf(d, " aw_bits='%u'", io->aw_bits);
            g_string_append(d, "/>\n");
        }
        g_autofree char *extra = g_string_free(d, FALSE);
        fmt_simple_tail(buf, "iommu", &io->addr, io->alias, flags, extra);
    }
    if (def->vsock) {
        const qv_domdef_vsock *v = def->vsock;
        P("    <vsock model='%s'", v->model ? v->model : "virtio");
        g_autofree char *extra = v->auto_cid && !(v->cid && !(flags & QV_DOMXML_FORMAT_INACTIVE)) ?
            g_strdup("      <cid auto='yes'/>\n") :
            g_strdup_printf("      <cid auto='%s' address='%u'/>\n", v->auto_cid ? "yes" : "no", v->cid);
        fmt_simple_tail(buf, "vsock", &v->addr, v->alias, flags, extra);
    }
    S("  </devices>\n");
}
