/* One device at a time, for a running domain: parse a single device element
 * in the context of a definition (defaults, alias, address as the full
 * post-parse would give them), find the device a detach request names, and
 * turn a device into the QMP steps that add it. The steps come from the
 * same per-device builders as the command line (qv_cmdline in capture
 * mode), so hotplug and cold boot cannot drift apart. */
#include <string.h>
#include <unistd.h>
#include <libxml/parser.h>

#include "domxml-priv.h"


void qv_hotplug_item_free(void *p)
{
    qv_hotplug_item *it = p;
    if (!it)
        return;
    g_free(it->opt);
    json_object_put(it->args);
    if (it->fd >= 0)
        close(it->fd);
    g_free(it);
}

static GPtrArray *class_list(const qv_domdef *def, int cls)
{
    switch (cls) {
    case QV_DEVCLASS_DISK: return def->disks;
    case QV_DEVCLASS_NET: return def->nets;
    case QV_DEVCLASS_CHR: return def->chrs;
    case QV_DEVCLASS_INPUT: return def->inputs;
    case QV_DEVCLASS_RNG: return def->rngs;
    case QV_DEVCLASS_WATCHDOG: return def->watchdogs;
    default: return NULL;
    }
}

static int class_of(const char *name)
{
    static const struct { const char *name; int cls; } map[] = {
        { "disk", QV_DEVCLASS_DISK }, { "interface", QV_DEVCLASS_NET },
        { "channel", QV_DEVCLASS_CHR }, { "input", QV_DEVCLASS_INPUT },
        { "rng", QV_DEVCLASS_RNG }, { "watchdog", QV_DEVCLASS_WATCHDOG },
    };
    for (size_t i = 0; i < G_N_ELEMENTS(map); i++)
        if (!strcmp(name, map[i].name))
            return map[i].cls;
    return QV_DEVCLASS_NONE;
}

static qv_domdef_addr *device_addr(const qv_domdef_devref *d)
{
    switch (d->cls) {
    case QV_DEVCLASS_DISK: return &((qv_domdef_disk *)d->dev)->addr;
    case QV_DEVCLASS_NET: return &((qv_domdef_net *)d->dev)->addr;
    case QV_DEVCLASS_CHR: return &((qv_domdef_chr *)d->dev)->addr;
    case QV_DEVCLASS_INPUT: return &((qv_domdef_input *)d->dev)->addr;
    case QV_DEVCLASS_RNG: return &((qv_domdef_rng *)d->dev)->addr;
    case QV_DEVCLASS_WATCHDOG: return &((qv_domdef_watchdog *)d->dev)->addr;
    default: return NULL;
    }
}

static char **device_alias_ptr(const qv_domdef_devref *d)
{
    switch (d->cls) {
    case QV_DEVCLASS_DISK: return &((qv_domdef_disk *)d->dev)->alias;
    case QV_DEVCLASS_NET: return &((qv_domdef_net *)d->dev)->alias;
    case QV_DEVCLASS_CHR: return &((qv_domdef_chr *)d->dev)->alias;
    case QV_DEVCLASS_INPUT: return &((qv_domdef_input *)d->dev)->alias;
    case QV_DEVCLASS_RNG: return &((qv_domdef_rng *)d->dev)->alias;
    case QV_DEVCLASS_WATCHDOG: return &((qv_domdef_watchdog *)d->dev)->alias;
    default: return NULL;
    }
}

const char *qv_domdef_device_alias(const qv_domdef_devref *dev)
{
    char **p = device_alias_ptr(dev);
    return p ? *p : NULL;
}

/* Reads one device element into a fresh <devices> wrapper, so the full
 * parser's device code handles it. */
static int read_device(const char *xml, xmlDoc **ret_doc, xmlNode **ret_devices, int *ret_cls,
                       qv_error **err)
{
    g_autoptr(xmlDoc) doc = NULL;
    int r = qv_xml_read(xml, "device", &doc, err);
    if (r < 0)
        return r;
    xmlNode *root = xmlDocGetRootElement(doc);
    if (!root || root->ns)
        return qv_error_set(err, -EINVAL, "The device XML has no device element.");
    int cls = class_of((const char *)root->name);
    if (!cls)
        return qv_error_set(err, -EOPNOTSUPP, "Device <%s> cannot be hotplugged by qvirt (disk, interface, "
                            "channel, input, rng and watchdog can).", (const char *)root->name);
    xmlNode *devices = xmlNewDocNode(doc, NULL, (const xmlChar *)"devices", NULL);
    xmlUnlinkNode(root);
    xmlDocSetRootElement(doc, devices);
    xmlAddChild(devices, root);
    *ret_doc = g_steal_pointer(&doc);
    *ret_devices = devices;
    *ret_cls = cls;
    return 0;
}

static bool addr_bus_used(const qv_domdef *def, unsigned int bus)
{
#define CHECK(list, T)                                                        \
    for (guint i = 0; i < def->list->len; i++) {                               \
        const T *x = g_ptr_array_index(def->list, i);                          \
        if (x->addr.type == QV_ADDR_PCI && x->addr.bus == bus)                 \
            return true;                                                       \
    }
    CHECK(disks, qv_domdef_disk) CHECK(nets, qv_domdef_net) CHECK(chrs, qv_domdef_chr)
    CHECK(inputs, qv_domdef_input) CHECK(rngs, qv_domdef_rng) CHECK(watchdogs, qv_domdef_watchdog)
    CHECK(videos, qv_domdef_video) CHECK(sounds, qv_domdef_sound) CHECK(shmems, qv_domdef_shmem)
    CHECK(filesystems, qv_domdef_fs) CHECK(controllers, qv_domdef_controller)
    CHECK(panics, qv_domdef_panic)
#undef CHECK
    if (def->memballoon && def->memballoon->addr.type == QV_ADDR_PCI && def->memballoon->addr.bus == bus)
        return true;
    if (def->vsock && def->vsock->addr.type == QV_ADDR_PCI && def->vsock->addr.bus == bus)
        return true;
    return false;
}

/* q35's pcie.0 takes no hotplug: a PCI device goes into an empty
 * pcie-root-port instead, like libvirt does. */
static int q35_root_port(const qv_domdef *def, qv_domdef_addr *addr, qv_error **err)
{
    for (guint i = 0; i < def->controllers->len; i++) {
        const qv_domdef_controller *c = g_ptr_array_index(def->controllers, i);
        if (c->type != QV_CTRL_PCI || !c->model || strcmp(c->model, "pcie-root-port"))
            continue;
        if (addr_bus_used(def, c->index))
            continue;
        addr->bus = c->index;
        addr->slot = 0;
        addr->function = 0;
        return 0;
    }
    return qv_error_set(err, -ENOSPC, "There is no free pcie-root-port to hotplug the device into on this "
                        "q35 domain; add <controller type='pci' model='pcie-root-port'/> to its definition.");
}

/* A freshly numbered alias that another device of the class already uses
 * (after an earlier detach) moves on to the next free number. */
static void unique_alias(const qv_domdef *def, const qv_domdef_devref *d)
{
    char **ap = device_alias_ptr(d);
    GPtrArray *list = class_list(def, d->cls);
    if (!*ap)
        return;
    g_autofree char *prefix = g_strdup(*ap);
    char *end = prefix + strlen(prefix);
    while (end > prefix && g_ascii_isdigit(end[-1]))
        end--;
    *end = '\0';
    for (unsigned int n = 0;; n++) {
        bool clash = false;
        for (guint i = 0; i < list->len && !clash; i++) {
            qv_domdef_devref o = { d->cls, g_ptr_array_index(list, i) };
            const char *oa = qv_domdef_device_alias(&o);
            clash = o.dev != d->dev && oa && !strcmp(oa, *ap);
        }
        if (!clash)
            return;
        g_free(*ap);
        *ap = g_strdup_printf("%s%u", prefix, n);
    }
}

int qv_domxml_parse_device(const char *xml, const qv_domdef *def, qv_domdef **ret_def,
                           qv_domdef_devref *ret_dev, qv_error **err)
{
    g_autoptr(xmlDoc) doc = NULL;
    xmlNode *devices = NULL;
    int cls = 0;
    int r = read_device(xml, &doc, &devices, &cls, err);
    if (r < 0)
        return r;
    g_autoptr(qv_domdef) copy = qv_domdef_copy(def);
    if (!copy)
        return qv_error_set(err, -EINVAL, "The domain definition cannot be copied.");
    GPtrArray *list = class_list(copy, cls);
    guint before = list->len, nctrl = copy->controllers->len;
    if (qv_parse_devices(copy, devices, 0, err) < 0)
        return -EINVAL;
    if (list->len != before + 1)
        return qv_error_set(err, -EINVAL, "The device XML must hold exactly one device.");
    qv_domdef_devref d = { cls, g_ptr_array_index(list, before) };
    bool had_addr = device_addr(&d)->type != QV_ADDR_NONE;
    if (qv_domdef_post_parse(copy, err) < 0)
        return -EINVAL;
    if (copy->controllers->len != nctrl && qv_domdef_is_q35(copy))
        return qv_error_set(err, -ENOSPC, "There is no free pcie-root-port to hotplug the device into on this "
                            "q35 domain; add <controller type='pci' model='pcie-root-port'/> to its definition.");
    if (copy->controllers->len != nctrl)
        return qv_error_set(err, -EOPNOTSUPP, "The device needs a controller the domain does not have "
                            "(hotplugging controllers is not supported); add it to the definition first.");
    qv_domdef_addr *a = device_addr(&d);
    if (qv_domdef_is_q35(copy) && !had_addr && a->type == QV_ADDR_PCI && a->bus == 0 &&
        q35_root_port(copy, a, err) < 0)
        return -ENOSPC;
    unique_alias(copy, &d);
    *ret_def = g_steal_pointer(&copy);
    *ret_dev = d;
    return 0;
}

int qv_domxml_parse_device_match(const char *xml, qv_domdef **ret_holder, qv_domdef_devref *ret_dev,
                                 qv_error **err)
{
    g_autoptr(xmlDoc) doc = NULL;
    xmlNode *devices = NULL;
    int cls = 0;
    int r = read_device(xml, &doc, &devices, &cls, err);
    if (r < 0)
        return r;
    g_autoptr(qv_domdef) holder = qv_domdef_new();
    if (qv_parse_devices(holder, devices, QV_DOMXML_PARSE_STATUS, err) < 0)
        return -EINVAL;
    GPtrArray *list = class_list(holder, cls);
    if (list->len != 1)
        return qv_error_set(err, -EINVAL, "The device XML must hold exactly one device.");
    ret_dev->cls = cls;
    ret_dev->dev = g_ptr_array_index(list, 0);
    *ret_holder = g_steal_pointer(&holder);
    return 0;
}

static bool str_eq(const char *a, const char *b)
{
    return a && b && !strcmp(a, b);
}

static bool keys_match(const qv_domdef_devref *m, const void *dev)
{
    static const unsigned char zero_mac[6];
    switch (m->cls) {
    case QV_DEVCLASS_DISK:
        return str_eq(((const qv_domdef_disk *)m->dev)->target_dev, ((const qv_domdef_disk *)dev)->target_dev);
    case QV_DEVCLASS_NET: {
        const qv_domdef_net *a = m->dev, *b = dev;
        return memcmp(a->mac, zero_mac, 6) && !memcmp(a->mac, b->mac, 6);
    }
    case QV_DEVCLASS_CHR: {
        const qv_domdef_chr *a = m->dev, *b = dev;
        if (a->kind != b->kind)
            return false;
        if (a->target_name || b->target_name)
            return str_eq(a->target_name, b->target_name);
        return a->target_port == b->target_port;
    }
    case QV_DEVCLASS_INPUT: {
        const qv_domdef_input *a = m->dev, *b = dev;
        return str_eq(a->type, b->type) && (!a->bus || str_eq(a->bus, b->bus));
    }
    case QV_DEVCLASS_RNG: {
        const qv_domdef_rng *a = m->dev, *b = dev;
        return str_eq(a->model, b->model) && (!a->backend_model || str_eq(a->backend_model, b->backend_model));
    }
    case QV_DEVCLASS_WATCHDOG:
        return str_eq(((const qv_domdef_watchdog *)m->dev)->model, ((const qv_domdef_watchdog *)dev)->model);
    default:
        return false;
    }
}

static const char *class_name(int cls)
{
    static const char *const names[] = { "device", "disk", "interface", "channel", "input device",
                                         "random number generator", "watchdog" };
    return cls >= 0 && cls < (int)G_N_ELEMENTS(names) ? names[cls] : "device";
}

int qv_domdef_find_device(const qv_domdef *def, const qv_domdef_devref *match,
                          qv_domdef_devref *found, qv_error **err)
{
    GPtrArray *list = class_list(def, match->cls);
    const char *alias = qv_domdef_device_alias(match);
    for (guint i = 0; list && i < list->len; i++) {
        qv_domdef_devref o = { match->cls, g_ptr_array_index(list, i) };
        if (alias ? str_eq(alias, qv_domdef_device_alias(&o)) : keys_match(match, o.dev)) {
            *found = o;
            return 0;
        }
    }
    if (alias)
        return qv_error_set(err, -ENODEV, "The domain has no %s with alias '%s'.", class_name(match->cls), alias);
    if (match->cls == QV_DEVCLASS_DISK)
        return qv_error_set(err, -ENODEV, "The domain has no disk with target '%s'.",
                            ((const qv_domdef_disk *)match->dev)->target_dev);
    return qv_error_set(err, -ENODEV, "The domain has no %s matching the device XML.", class_name(match->cls));
}

void qv_domdef_remove_device(qv_domdef *def, const qv_domdef_devref *dev)
{
    GPtrArray *list = class_list(def, dev->cls);
    if (list)
        g_ptr_array_remove(list, dev->dev);
}

int qv_domxml_build_hotplug(const qv_domdef *def, const qv_domdef_devref *dev,
                            const qv_build_ctx *base, GPtrArray **ret, qv_error **err)
{
    qv_build_ctx ctx = *base;
    ctx.monitor_fd = -1;
    ctx.event_monitor_fd = -1;
    ctx.lane_fds = NULL;
    ctx.n_lanes = 0;
    g_autoptr(GPtrArray) items = g_ptr_array_new_with_free_func(qv_hotplug_item_free);
    g_autoptr(GPtrArray) argv = g_ptr_array_new_with_free_func(g_free);
    qv_cmdline cl = {
        .argv = argv,
        .def = def,
        .ctx = &ctx,
        .q35 = qv_domdef_is_q35(def),
        .kvm = def->virt_type == QV_DOMDEF_VIRT_KVM,
        .capture = items,
    };
    int r = -EOPNOTSUPP;
    switch (dev->cls) {
    case QV_DEVCLASS_DISK: r = qv_cmdline_add_disk(&cl, dev->dev, err); break;
    case QV_DEVCLASS_NET: r = qv_cmdline_add_net(&cl, dev->dev, err); break;
    case QV_DEVCLASS_CHR:
        if (((qv_domdef_chr *)dev->dev)->kind != QV_CHR_CHANNEL)
            return qv_error_set(err, -EOPNOTSUPP, "Only channels can be hotplugged among character devices.");
        r = qv_cmdline_add_chr(&cl, dev->dev, err);
        break;
    case QV_DEVCLASS_INPUT: {
        const qv_domdef_input *in = dev->dev;
        if (in->bus && !strcmp(in->bus, "ps2"))
            return qv_error_set(err, -EOPNOTSUPP, "A PS/2 %s is built into the machine and cannot be hotplugged.", in->type);
        r = qv_cmdline_add_input(&cl, in, err);
        break;
    }
    case QV_DEVCLASS_RNG: r = qv_cmdline_add_rng(&cl, dev->dev, err); break;
    case QV_DEVCLASS_WATCHDOG: r = qv_cmdline_add_watchdog(&cl, dev->dev, err); break;
    default:
        return qv_error_set(err, -EOPNOTSUPP, "This device class cannot be hotplugged.");
    }
    if (r < 0)
        return r;
    if (argv->len)
        return qv_error_set(err, -EOPNOTSUPP, "The %s needs the command-line option %s, which has no QMP "
                            "equivalent; it cannot be hotplugged.", class_name(dev->cls),
                            (const char *)g_ptr_array_index(argv, 0));
    *ret = g_steal_pointer(&items);
    return 0;
}
