/* Host devices a domain takes over (PCI and mediated devices through VFIO,
 * SCSI devices through their /dev/sgN, NVMe controllers through QEMU's
 * userspace VFIO driver): the argv names them whatever the host has, and
 * here, when the domain starts, the host is checked for each, so a missing
 * device is one clear sentence rather than QEMU's. root is "" for the real
 * host, or a folder standing in for / (tests). */
#pragma once

#include <glib.h>

#include "domdef.h"
#include "qv-error.h"

/* 0 when the host has every device def takes over (PCI, mediated and SCSI
 * host devices, NVMe disks, vDPA interfaces; and VFIO where one needs it),
 * else -ENODEV (or -EBUSY for a PCI device bound to another
 * driver) with *err naming the device. */
int qv_hostdevs_check(const qv_domdef *def, const char *root, qv_error **err);

/* qv_build_ctx.scsi_generic: the /dev/sgN of a SCSI host device, found in
 * sysfs; data is the root (a const char *, NULL for ""). */
char *qv_hostdev_scsi_generic(void *data, const struct qv_domdef_hostdev *h, qv_error **err);

/* Adds the VFIO nodes (/dev/vfio/vfio, /dev/vfio/<group>) def's PCI and
 * mediated host devices and NVMe disks need to names (char *, each once). */
void qv_hostdevs_vfio_nodes(const qv_domdef *def, const char *root, GPtrArray *names);
/* Sets each hostdev interface's MAC on its SR-IOV VF, through the PF
 * (IFLA_VF_MAC), as libvirt does before QEMU starts; root: the sysfs root. */
int qv_hostdev_nets_set_mac(const qv_domdef *def, const char *root, qv_error **err);
