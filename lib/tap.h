/* Tap devices for a domain's interfaces, made by qvirt: an unprivileged
 * QEMU can neither create a tap (CAP_NET_ADMIN) nor run the setuid bridge
 * helper (no_new_privs). Each tap is joined to its bridge and brought up
 * here, and QEMU gets its fds (and vhost-net's, for vhost=on). */
#pragma once

#include <glib.h>

#include "domxml.h"
#include "network.h"

typedef struct qv_taps qv_taps;

/* Makes the taps of def's interfaces that need one (ethernet, bridge,
 * networks that are bridges, and direct interfaces' macvtaps, joining Open
 * vSwitch bridges with ovs-vsctl), or of the one interface only when given,
 * and records their names as the interfaces' target devices. fds: where
 * the fds go (a start passes them to QEMU); each fd reaches QEMU by
 * number, or with getfd_names (a hotplug) by the name it is to be given
 * with getfd ("tap-ALIAS-N", "vhost-ALIAS-N"). dir: the run's folder,
 * where the macvtaps and OVS ports made are recorded for the run's end
 * to remove (netlink.h). */
int qv_taps_make(qv_domdef *def, const qv_domdef_net *only, const qv_networks *nets,
                 const char *dir, bool getfd_names, GArray *fds, qv_taps **ret, qv_error **err);
/* Refuses, in one sentence naming the interface, a virtualport that a host
 * agent must associate (802.1Qbg through lldpad, 802.1Qbh through the
 * NIC's port profile, midonet through the MidoNet agent): qvirt talks to
 * none of them, and a port left unassociated passes no traffic. */
int qv_net_check_virtualport(const qv_domdef_net *n, qv_error **err);
/* The table for qv_build_ctx.taps (valid while t lives). */
const qv_tap_fds *qv_taps_get(const qv_taps *t, unsigned int *count);
/* getfd_names: the name each fd of fds is to be given, in the same order. */
const char *qv_taps_fd_name(const qv_taps *t, guint i);
void qv_taps_free(qv_taps *t);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(qv_taps, qv_taps_free)
