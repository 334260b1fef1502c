/* Private entry points of the QMP client, for its unit tests and the fuzz
 * target only. Not part of any API other layers may use. */
#pragma once

#include <stddef.h>

#include "qmp.h"

/* Feeds bytes as if they had been read from the socket: frames and parses
 * them, runs callbacks. Returns 0, or a negative errno once the connection
 * is broken (the same value qv_qmp_dispatch() would return). */
int qv_qmp_feed(qv_qmp *qmp, const void *buf, size_t len, qv_error **err);

/* Lowers the message size cap (QV_QMP_MAX_MESSAGE by default) so tests can
 * exercise it without sending megabytes. */
void qv_qmp_set_max_message(qv_qmp *qmp, size_t max);
