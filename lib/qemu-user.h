/* Who QEMU runs as. A root caller's QEMU runs as an unprivileged user:
 * the [qemu] user= of <config dir>/qvirt.conf, by default qvirt-qemu (a
 * system user scripts/deps.sh creates, in group kvm), with that user's
 * groups; user=root keeps QEMU root, an explicit choice. Anyone else's QEMU
 * runs as that caller. In every case QEMU has no capabilities. */
#pragma once

#include <sys/types.h>

#include "internal.h"

#define QV_QEMU_DEFAULT_USER "qvirt-qemu"

typedef struct qv_qemu_user {
    uid_t uid;       /* (uid_t)-1: the caller's */
    gid_t gid;
    gid_t *groups;   /* g_free */
    size_t n_groups;
    char *name;      /* g_free; for messages */
    /* A mount namespace with a private /dev: [qemu] namespaces=mount, the
     * default for a root caller (libvirt's namespaces = ["mount"]);
     * namespaces= (empty) turns it off for hosts that cannot. */
    bool private_dev;
} qv_qemu_user;

int qv_conn_qemu_user(qv_conn *conn, qv_qemu_user *ret, qv_error **err);
void qv_qemu_user_clear(qv_qemu_user *u);
/* QEMU's TLS settings, from [qemu] of qvirt.conf with the names and
 * defaults of libvirt's qemu.conf, the one reader of them: chardev_tls=
 * (TLS for TCP character devices without tls=; default no),
 * chardev_tls_x509_verify= (a listening one checks its clients'
 * certificates; default yes), spice_tls= (SPICE displays may have a TLS
 * port; default no), and the folders of x509 credentials
 * chardev_tls_x509_cert_dir= and spice_tls_x509_cert_dir=, each by default
 * /etc/pki/libvirt-chardev or /etc/pki/libvirt-spice where it exists, else
 * default_tls_x509_cert_dir= (default /etc/pki/qemu). Sets ctx's fields,
 * whose folders point into *out (qv_qemu_tls_clear). */
typedef struct qv_qemu_tls {
    char *chardev_dir;
    char *spice_dir;
} qv_qemu_tls;
void qv_qemu_tls_clear(qv_qemu_tls *t);
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC(qv_qemu_tls, qv_qemu_tls_clear)
int qv_conn_qemu_tls(qv_conn *conn, qv_build_ctx *ctx, qv_qemu_tls *out, qv_error **err);
/* The same from the file conf (missing: the defaults), with pki_root in
 * place of /etc/pki for the libvirt-<service> folders (for tests). */
int qv_qemu_tls_read(const char *conf, const char *pki_root, qv_build_ctx *ctx, qv_qemu_tls *out,
                     qv_error **err);
/* What QEMU must open by path itself: the <kernel>, <initrd> and <dtb>
 * (through its own fd, so no folder on the way matters) and the sockets it
 * reconnects to. One its user cannot read (or write, for a socket) is
 * given to that user for the run and back afterwards
 * (qv_rt_chown_for_run, in the run folder dir). */
int qv_qemu_user_grant_files(const qv_qemu_user *u, const qv_domdef *def, const char *dir,
                             qv_error **err);
/* The host device nodes a domain's QEMU needs in its private /dev beyond
 * the basic ones (names below /dev, g_strfreev): /dev/kvm for KVM, a
 * render node, host serial devices, an rng's device, a passed-through
 * TPM. */
char **qv_qemu_devices(const qv_domdef *def);
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC(qv_qemu_user, qv_qemu_user_clear)
