/* <disk type='volume'>: qvirt has no storage pools of its own, so a
 * volume is found where the host's libvirt pool definition puts it. */
#pragma once

#include <stdbool.h>

#include "internal.h"
#include "qv-error.h"

/* Where libvirt keeps what qvirt reads of it: [libvirt] storage= (pool
 * definitions, /etc/libvirt/storage) and secrets= (the secret store,
 * /etc/libvirt/secrets) of the connection's qvirt.conf, else the default.
 * g_free(). */
char *qv_conn_libvirt_dir(qv_conn *conn, const char *key);

/* qv_build_ctx.volume_path. data: the folder of libvirt's pool
 * definitions (a const char *; NULL: /etc/libvirt/storage), holding
 * NAME.xml per pool. A dir, fs or netfs pool's volume is the file
 * <target><path>/VOLUME, a logical pool's the block device there; other
 * pool types, and a pool with no definition, are refused by name. */
char *qv_pool_volume_path(void *data, const char *pool, const char *volume, bool *block,
                          qv_error **err);
