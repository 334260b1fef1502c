/* TPM emulators for <tpm><backend type='emulator'/>: each domain's TPM
 * state lives in <config dir>/swtpm/<uuid>/tpm2 (libvirt keeps it in
 * /var/lib/libvirt/swtpm/<uuid>/tpm2), made with swtpm_setup on the first
 * start and owned by QEMU's user. swtpm runs under the domain's
 * supervisor, started before QEMU, as QEMU's user with the same
 * confinement; it talks to QEMU over a socket pair and ends with it. With
 * <encryption secret>, the vtpm secret's value (libvirt's secret store) is
 * the passphrase of the state, given to swtpm_setup and swtpm as fds. */
#pragma once

#include <glib.h>

#include "internal.h"
#include "qemu-user.h"

typedef struct qv_tpms qv_tpms;

/* Makes (or reuses) the state of def's emulated TPMs for user. qemu_fds:
 * where the fds QEMU gets go (qv_tpm_channel adds to it). */
int qv_tpms_prepare(qv_conn *conn, const qv_domdef *def, const qv_qemu_user *user,
                    GArray *qemu_fds, qv_tpms **ret, qv_error **err);
/* qv_build_ctx.tpm_channel; data is the qv_tpms. */
int qv_tpm_channel(void *data, const struct qv_domdef_tpm *tpm, qv_error **err);
/* qvirt-monitor's --swtpm arguments, and the fds they name (to pass). */
void qv_tpms_monitor_args(const qv_tpms *t, GPtrArray *argv, GArray *pass);
void qv_tpms_free(qv_tpms *t);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(qv_tpms, qv_tpms_free)

/* The folder of a domain's TPM state (<config>/swtpm/<uuid>). */
char *qv_conn_tpm_dir(qv_conn *conn, const unsigned char uuid[16]);
