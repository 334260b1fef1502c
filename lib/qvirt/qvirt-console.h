/* qvirt: consoles, channels, graphics clients, the guest agent's small calls
 * and the remaining small domain calls (Sys::Virt::Domain open_console,
 * open_channel, open_graphics, open_graphics_fd, get_hostname, fs_trim,
 * pm_suspend_for_duration, pm_wakeup, get_security_label(_list),
 * get_scheduler_type, send_process_signal). Included by <qvirt/qvirt.h>;
 * conventions as there. */
#pragma once

#include <qvirt/qvirt.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- flags (libvirt's names and values) --------------------------------- */
enum { QV_DOMAIN_CONSOLE_FORCE = 1 << 0, QV_DOMAIN_CONSOLE_SAFE = 1 << 1 };
/* Sys::Virt spells them OPEN_CONSOLE_*. */
enum { QV_DOMAIN_OPEN_CONSOLE_FORCE = 1 << 0, QV_DOMAIN_OPEN_CONSOLE_SAFE = 1 << 1 };
enum { QV_DOMAIN_CHANNEL_FORCE = 1 << 0, QV_DOMAIN_OPEN_CHANNEL_FORCE = 1 << 0 };
enum { QV_DOMAIN_OPEN_GRAPHICS_SKIPAUTH = 1 << 0 };
enum { QV_DOMAIN_GET_HOSTNAME_LEASE = 1 << 0, QV_DOMAIN_GET_HOSTNAME_AGENT = 1 << 1 };
enum {
    QV_NODE_SUSPEND_TARGET_MEM = 0, QV_NODE_SUSPEND_TARGET_DISK = 1,
    QV_NODE_SUSPEND_TARGET_HYBRID = 2,
};
/* qvirt's own: flags of qv_domain_get_display_uri. */
enum { QV_DOMAIN_DISPLAY_INCLUDE_PASSWORD = 1 << 0 };

/* ---- consoles and channels ---------------------------------------------------- */
/* Returns in *fd_out a connected, blocking, close-on-exec fd to a character
 * device: dev_name is a console, serial or parallel alias ("serial0",
 * "console1"); NULL picks the first console, else the first serial port.
 * pty devices are opened (raw mode) and unix socket devices connected.
 *
 * One session at a time: a pty session holds a flock on its own fd (it ends
 * when the caller closes every copy of the fd); a socket session is the one
 * client QEMU has accepted. A second open gives -EBUSY. With
 * QV_DOMAIN_CONSOLE_FORCE the device gets a fresh backend through QMP
 * chardev-change (a new pty, recorded in the live XML, or a new listening
 * socket at the same path): QEMU closes the old one, so the old session
 * reads EOF. When QEMU's device model cannot swap backends at that moment
 * (e.g. a virtio-serial port the guest has not opened), FORCE gives
 * -ENOTSUP. QV_DOMAIN_CONSOLE_SAFE is
 * accepted: sessions are always detected. */
QV_PUBLIC int qv_domain_open_console(qv_domain *dom, const char *dev_name, int *fd_out,
                                     unsigned int flags, qv_error **err);
/* The same for a channel, named by its alias ("channel0") or its target
 * name ("org.qemu.guest_agent.0"). Flags: QV_DOMAIN_CHANNEL_FORCE. */
QV_PUBLIC int qv_domain_open_channel(qv_domain *dom, const char *name, int *fd_out,
                                     unsigned int flags, qv_error **err);

/* ---- graphics ------------------------------------------------------------------ */
/* Hands fd (a connected stream socket; the caller keeps its copy) to the
 * idx-th <graphics> (VNC or SPICE) as a new client, through QMP getfd and
 * add_client. Flags: QV_DOMAIN_OPEN_GRAPHICS_SKIPAUTH. */
QV_PUBLIC int qv_domain_open_graphics(qv_domain *dom, unsigned int idx, int fd,
                                      unsigned int flags, qv_error **err);
/* Like open_graphics with one end of a fresh socketpair; the other end is
 * returned in *fd_out (close-on-exec). */
QV_PUBLIC int qv_domain_open_graphics_fd(qv_domain *dom, unsigned int idx, unsigned int flags,
                                         int *fd_out, qv_error **err);
/* virsh domdisplay's URI of a running domain's display: "vnc://HOST:DISPLAY",
 * "spice://HOST:PORT[?tls-port=N]" or "vnc+unix:///path"; type "vnc",
 * "spice" or NULL (the first VNC, else SPICE display). The port is QEMU's
 * actual one. -ENOENT when there is no such display. Free *ret with free(). */
QV_PUBLIC int qv_domain_get_display_uri(qv_domain *dom, const char *type, unsigned int flags,
                                        char **ret, qv_error **err);

/* ---- guest agent and power management --------------------------------------- */
/* The guest's hostname, from the guest agent (flags 0 or GET_HOSTNAME_AGENT).
 * GET_HOSTNAME_LEASE needs a libvirt network's DHCP leases: -ENOTSUP.
 * Agent errors: -ENOTSUP no agent channel, -ENOTCONN agent not connected,
 * -ETIMEDOUT agent not responding. Free *ret with free(). */
QV_PUBLIC int qv_domain_get_hostname(qv_domain *dom, unsigned int flags, char **ret,
                                     qv_error **err);
/* Trims the guest's filesystems (agent guest-fstrim); minimum is in bytes
 * (0: the agent's default). mountpoint must be NULL, as in libvirt's QEMU
 * driver (the agent trims every filesystem). Fails with the agent's own
 * message when it could trim none of the filesystems it lists (listing none,
 * as with only virtual filesystems, is success). flags must be 0. */
QV_PUBLIC int qv_domain_fs_trim(qv_domain *dom, const char *mountpoint,
                                unsigned long long minimum, unsigned int flags, qv_error **err);
/* Suspends the guest through the agent to RAM, disk or both
 * (QV_NODE_SUSPEND_TARGET_*); duration must be 0. Waits until QEMU
 * reports the guest suspended (RAM, hybrid) or gone (disk). flags must be 0. */
QV_PUBLIC int qv_domain_pm_suspend_for_duration(qv_domain *dom, unsigned int target,
                                                unsigned long long duration, unsigned int flags,
                                                qv_error **err);
/* Wakes a guest suspended to RAM (QMP system_wakeup). flags must be 0. */
QV_PUBLIC int qv_domain_pm_wakeup(qv_domain *dom, unsigned int flags, qv_error **err);

/* ---- security, scheduler, signals -------------------------------------------- */
enum { QV_SECURITY_LABEL_BUFLEN = 4097, QV_SECURITY_MODEL_BUFLEN = 257 };
typedef struct qv_security_label {
    char label[QV_SECURITY_LABEL_BUFLEN];   /* "" : none */
    char model[QV_SECURITY_MODEL_BUFLEN];   /* "none" */
    int enforcing;                          /* 0 */
} qv_security_label;
/* qvirt runs QEMU under no security driver (no SELinux/AppArmor/DAC
 * relabelling): the label is empty, the model "none", not enforcing. */
QV_PUBLIC int qv_domain_get_security_label(qv_domain *dom, qv_security_label *label,
                                           qv_error **err);
/* One label, as get_security_label; returns the count (1). Free *labels with
 * free(). */
QV_PUBLIC int qv_domain_get_security_label_list(qv_domain *dom, qv_security_label **labels,
                                                qv_error **err);
/* "posix" and (nparams) the 9 parameters libvirt's QEMU driver reports with
 * cgroup v2. Free *ret with free(). */
QV_PUBLIC int qv_domain_get_scheduler_type(qv_domain *dom, int *nparams, char **ret,
                                           qv_error **err);
/* Signals a process inside the guest: QEMU has no such operation (it is for
 * container drivers), so this is always -ENOTSUP. */
QV_PUBLIC int qv_domain_send_process_signal(qv_domain *dom, long long pid_value,
                                            unsigned int signum, unsigned int flags,
                                            qv_error **err);

#ifdef __cplusplus
}
#endif
