/* qvirt: QEMU-specific calls, as libvirt-qemu.h has them (Sys::Virt::Domain
 * qemu_monitor_command). Its calls live in lib/qemu.c. Included by
 * <qvirt/qvirt.h>; conventions as there. */
#pragma once

#include <qvirt/qvirt.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- raw monitor access (virsh qemu-monitor-command) ------------------ */
/* cmd is a QMP command as JSON text; *ret receives the reply as JSON text. */
QV_PUBLIC int qv_domain_qemu_monitor_command(qv_domain *dom, const char *cmd, char **ret,
                                             unsigned int flags, qv_error **err);

#ifdef __cplusplus
}
#endif
