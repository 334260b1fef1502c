/* <interface type='network'> names resolved for the argv builder
 * (lib/network.c says where they are looked up). */
#pragma once

#include "domxml.h"
#include "qv-error.h"

typedef struct qv_conn qv_conn;
typedef struct qv_networks qv_networks;

/* Every <interface type='network'> of def, resolved; an unknown name is
 * one sentence naming it. */
int qv_conn_resolve_networks(qv_conn *conn, const qv_domdef *def, qv_networks **ret,
                             qv_error **err);
/* The table for qv_build_ctx.networks (valid while n lives). */
const qv_network_resolution *qv_networks_get(const qv_networks *n, unsigned int *count);
void qv_networks_free(qv_networks *n);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(qv_networks, qv_networks_free)

/* One name: libvirt's definitions in libvirt_dirs (NAME.xml), then the
 * GKeyFile conf. *bridge (g_free) is set for QV_NETWORK_BRIDGE. */
int qv_network_lookup(const char *const *libvirt_dirs, size_t n_dirs, const char *conf,
                      const char *name, qv_network_kind *kind, char **bridge, qv_error **err);
