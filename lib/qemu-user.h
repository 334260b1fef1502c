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
} qv_qemu_user;

int qv_conn_qemu_user(qv_conn *conn, qv_qemu_user *ret, qv_error **err);
void qv_qemu_user_clear(qv_qemu_user *u);
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC(qv_qemu_user, qv_qemu_user_clear)
