/* qvirt: device hotplug (Sys::Virt::Domain attach_device, detach_device,
 * update_device). Included by <qvirt/qvirt.h>; conventions as there. */
#pragma once

#include <qvirt/qvirt.h>

#ifdef __cplusplus
extern "C" {
#endif

/* virDomainDeviceModifyFlags. */
enum {
    QV_DOMAIN_DEVICE_MODIFY_CURRENT = 0,
    QV_DOMAIN_DEVICE_MODIFY_LIVE = 1 << 0,
    QV_DOMAIN_DEVICE_MODIFY_CONFIG = 1 << 1,
    QV_DOMAIN_DEVICE_MODIFY_FORCE = 1 << 2,   /* update_device: eject a locked tray */
};

/* Adds the device of xml (one <disk>, <interface>, <channel>, <input>, <rng>
 * or <watchdog> element) to the running domain (LIVE) and/or its persistent
 * config (CONFIG); CURRENT is LIVE when running, else CONFIG. A failed live
 * attach leaves nothing behind in QEMU. */
QV_PUBLIC int qv_domain_attach_device(qv_domain *dom, const char *xml, unsigned int flags,
                                      qv_error **err);
/* Removes the device xml names (by <alias name=...>, else by libvirt's keys:
 * disk target, interface MAC, channel name, ...). LIVE waits up to 10 s for
 * the guest to release it; when it does not, -ETIMEDOUT says the device is
 * still attached. */
QV_PUBLIC int qv_domain_detach_device(qv_domain *dom, const char *xml, unsigned int flags,
                                      qv_error **err);
/* Changes a device in place: the medium of a cdrom or floppy (a <source>
 * inserts or replaces it, none ejects it). FORCE opens a locked tray. */
QV_PUBLIC int qv_domain_update_device(qv_domain *dom, const char *xml, unsigned int flags,
                                      qv_error **err);

#ifdef __cplusplus
}
#endif
