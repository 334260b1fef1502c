/* Whether two definitions describe the same guest-visible machine
 * (libvirt's virDomainDefCheckABIStability, for what qvirt models): a
 * migration's destination XML may change host-side details (disk paths,
 * bridges, graphics listen addresses, tunables), never what the guest
 * sees, or the incoming state would not fit the devices QEMU made. */
#include <errno.h>
#include <string.h>

#include "domdef.h"
#include "domxml.h"

static bool same_str(const char *a, const char *b)
{
    return !g_strcmp0(a ? a : "", b ? b : "");
}

static int differ(qv_error **err, const char *what)
{
    return qv_error_set(err, -EINVAL, "the destination XML changes the guest's %s, which a "
                        "migration must keep", what);
}

/* An address left out on one side is one the other was given at start:
 * only two given addresses must agree. */
static bool same_addr(const qv_domdef_addr *a, const qv_domdef_addr *b)
{
    if (a->type == QV_ADDR_NONE || b->type == QV_ADDR_NONE)
        return true;
    return a->type == b->type && a->domain == b->domain && a->bus == b->bus &&
           a->slot == b->slot && a->function == b->function &&
           a->controller == b->controller && a->target == b->target && a->unit == b->unit &&
           a->port == b->port && a->base == b->base && same_str(a->usb_port, b->usb_port);
}

int qv_domdef_check_abi(const qv_domdef *src, const qv_domdef *dst, qv_error **err)
{
    if (memcmp(src->uuid, dst->uuid, 16))
        return differ(err, "UUID");
    if (src->virt_type != dst->virt_type)
        return differ(err, "domain type");
    if (!same_str(src->os.machine, dst->os.machine) || !same_str(src->os.arch, dst->os.arch))
        return differ(err, "machine type (<os><type>)");
    if (src->memory_kib != dst->memory_kib || src->max_memory_kib != dst->max_memory_kib ||
        src->max_memory_slots != dst->max_memory_slots)
        return differ(err, "memory size (<memory>, <maxMemory>)");
    if (src->vcpus != dst->vcpus)
        return differ(err, "vCPU count (<vcpu>)");
    if (src->disks->len != dst->disks->len)
        return differ(err, "disk count");
    for (guint i = 0; i < src->disks->len; i++) {
        const qv_domdef_disk *a = src->disks->pdata[i], *b = dst->disks->pdata[i];
        if (a->device != b->device || a->bus != b->bus || !same_str(a->target_dev, b->target_dev) ||
            !same_addr(&a->addr, &b->addr) || !same_str(a->serial, b->serial))
            return differ(err, "disks (<disk> device, target, bus, address or serial)");
    }
    if (src->nets->len != dst->nets->len)
        return differ(err, "network interface count");
    for (guint i = 0; i < src->nets->len; i++) {
        const qv_domdef_net *a = src->nets->pdata[i], *b = dst->nets->pdata[i];
        if (memcmp(a->mac, b->mac, 6) || !same_str(a->model, b->model) ||
            !same_addr(&a->addr, &b->addr))
            return differ(err, "network interfaces (<interface> MAC, model or address)");
    }
    if (src->controllers->len != dst->controllers->len)
        return differ(err, "controller count");
    /* Implicit controllers may be listed in another order: match them by
     * type and index. */
    for (guint i = 0; i < src->controllers->len; i++) {
        const qv_domdef_controller *a = src->controllers->pdata[i], *b = NULL;
        for (guint k = 0; k < dst->controllers->len && !b; k++) {
            const qv_domdef_controller *c = dst->controllers->pdata[k];
            if (c->type == a->type && c->index == a->index)
                b = c;
        }
        if (!b || !same_str(a->model, b->model) || !same_addr(&a->addr, &b->addr))
            return qv_error_set(err, -EINVAL, "the destination XML changes the guest's %s "
                                "controller %u (its model or address), which a migration must "
                                "keep", a->model ? a->model : "", a->index);
    }
    const struct { const GPtrArray *a, *b; const char *what; } lists[] = {
        { src->chrs, dst->chrs, "serial ports, consoles and channels" },
        { src->inputs, dst->inputs, "input devices" },
        { src->videos, dst->videos, "video devices" },
        { src->sounds, dst->sounds, "sound devices" },
        { src->watchdogs, dst->watchdogs, "watchdogs" },
        { src->rngs, dst->rngs, "RNG devices" },
        { src->tpms, dst->tpms, "TPMs" },
        { src->hostdevs, dst->hostdevs, "host devices" },
        { src->filesystems, dst->filesystems, "filesystems" },
        { src->memdevs, dst->memdevs, "memory devices" },
        { src->shmems, dst->shmems, "shared memory devices" },
    };
    for (size_t i = 0; i < G_N_ELEMENTS(lists); i++)
        if ((lists[i].a ? lists[i].a->len : 0) != (lists[i].b ? lists[i].b->len : 0))
            return differ(err, lists[i].what);
    if (!same_str(src->memballoon ? src->memballoon->model : NULL,
                  dst->memballoon ? dst->memballoon->model : NULL))
        return differ(err, "memory balloon model");
    return 0;
}
