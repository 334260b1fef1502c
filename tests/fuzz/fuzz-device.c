/* libFuzzer target for device XML (domxml/hotplug.c), the input of
 * attach-device, detach-device and update-device. Each input is one device
 * element, tried against two domains (pc, and q35 with a free
 * pcie-root-port) as attach does it: parse it into the definition, format
 * the result (which must parse back), build the QMP hotplug steps, and find
 * it again by its alias; and as detach does it: parse it alone
 * (parse_device_match), look it up in the domain and remove it. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "domdef.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const base_xml[] = {
    "<domain type='qemu'><name>pc</name><uuid>00000000-0000-4000-8000-0000000000f1</uuid>"
    "<memory unit='MiB'>128</memory><vcpu>1</vcpu>"
    "<os><type arch='x86_64' machine='pc'>hvm</type></os><devices>"
    "<disk type='file' device='disk'><source file='/var/lib/qvirt/a.qcow2'/>"
    "<target dev='vda' bus='virtio'/></disk>"
    "<interface type='user'><mac address='52:54:00:aa:00:01'/><model type='virtio'/></interface>"
    "<channel type='unix'><target type='virtio' name='org.qemu.guest_agent.0'/></channel>"
    "<input type='tablet' bus='usb'/>"
    "</devices></domain>",
    "<domain type='qemu'><name>q35</name><uuid>00000000-0000-4000-8000-0000000000f2</uuid>"
    "<memory unit='MiB'>128</memory><vcpu>1</vcpu>"
    "<os><type arch='x86_64' machine='q35'>hvm</type></os><devices>"
    "<controller type='pci' index='0' model='pcie-root'/>"
    "<controller type='pci' index='1' model='pcie-root-port'/>"
    "<controller type='pci' index='2' model='pcie-root-port'/>"
    "<disk type='file' device='cdrom'><source file='/var/lib/qvirt/cd.iso'/>"
    "<target dev='sda' bus='sata'/><readonly/></disk>"
    "<rng model='virtio'><backend model='random'>/dev/urandom</backend></rng>"
    "<watchdog model='i6300esb' action='reset'/>"
    "</devices></domain>",
};

/* <interface type='network'> names the caller (lib/network.c) resolved. */
static const qv_network_resolution networks[] = {
    { "default", QV_NETWORK_USER, NULL },
    { "lan", QV_NETWORK_BRIDGE, "br0" },
};

static void attach(const char *xml, const qv_domdef *base)
{
    g_autoptr(qv_domdef) def = NULL;
    qv_domdef_devref dev = { 0 };
    if (qv_domxml_parse_device(xml, base, &def, &dev, NULL) < 0)
        return;
    /* the device got an alias, so it is found again by it */
    qv_domdef_devref found = { 0 };
    if (!qv_domdef_device_alias(&dev) || qv_domdef_find_device(def, &dev, &found, NULL) < 0 ||
        found.dev != dev.dev)
        abort();
    g_autofree char *inactive = qv_domxml_format(def, QV_DOMXML_FORMAT_INACTIVE | QV_DOMXML_FORMAT_SECURE);
    g_autofree char *live = qv_domxml_format(def, QV_DOMXML_FORMAT_SECURE);
    g_autoptr(qv_domdef) again = NULL;
    if (qv_domxml_parse(inactive, 0, &again, NULL) < 0)
        abort();   /* formatted XML must always parse back */
    g_autoptr(qv_domdef) status = NULL;
    if (qv_domxml_parse(live, QV_DOMXML_PARSE_STATUS, &status, NULL) < 0)
        abort();   /* and so must the live (status) XML */
    g_autoptr(GPtrArray) items = NULL;
    /* No opener: captured items would own (and close) its fds. */
    qv_build_ctx ctx = { .runtime_dir = "/run/qvirt/fuzz", .networks = networks,
                         .n_networks = G_N_ELEMENTS(networks) };
    qv_domxml_build_hotplug(def, &dev, &ctx, &items, NULL);
}

static void detach(const char *xml, const qv_domdef *base)
{
    g_autoptr(qv_domdef) holder = NULL;
    qv_domdef_devref match = { 0 };
    if (qv_domxml_parse_device_match(xml, &holder, &match, NULL) < 0)
        return;
    g_autoptr(qv_domdef) def = qv_domdef_copy(base);
    qv_domdef_devref found = { 0 };
    if (qv_domdef_find_device(def, &match, &found, NULL) == 0) {
        (void)qv_domdef_device_alias(&found);
        qv_domdef_remove_device(def, &found);
        g_free(qv_domxml_format(def, QV_DOMXML_FORMAT_INACTIVE));
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static qv_domdef *bases[G_N_ELEMENTS(base_xml)];
    if (!bases[0]) {
        for (size_t i = 0; i < G_N_ELEMENTS(base_xml); i++)
            if (qv_domxml_parse(base_xml[i], 0, &bases[i], NULL) < 0)
                abort();
    }
    g_autofree char *xml = g_malloc(size + 1);
    memcpy(xml, data, size);
    xml[size] = '\0';
    for (size_t i = 0; i < G_N_ELEMENTS(bases); i++) {
        attach(xml, bases[i]);
        detach(xml, bases[i]);
    }
    return 0;
}
