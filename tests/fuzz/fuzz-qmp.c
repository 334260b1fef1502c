/* libFuzzer target for the QMP framing and parser.
 *
 * Input: the first byte picks the mode (bit 0: guest agent) and the size of
 * the pieces the rest is fed in ((byte >> 1) + 1 bytes), so the fuzzer also
 * explores message boundaries that fall anywhere. Two commands are pending
 * (QMP ids 1 and 2), so replies have something to match. */
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <unistd.h>

#include "qmp-internal.h"
#include "qmp.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    qv_qmp_mode mode = (data[0] & 1) ? QV_QMP_MODE_AGENT : QV_QMP_MODE_QMP;
    size_t piece = (size_t)(data[0] >> 1) + 1;
    data++;
    size--;

    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
        return 0;
    qv_qmp *qmp = NULL;
    if (qv_qmp_new(sv[0], mode, &qmp, NULL) < 0) {
        close(sv[0]);
        close(sv[1]);
        return 0;
    }
    qv_qmp_send_async(qmp, "query-status", NULL, -1, 60000, NULL, NULL, NULL);
    qv_qmp_send_async(qmp, "stop", NULL, -1, 60000, NULL, NULL, NULL);
    for (size_t off = 0; off < size; off += piece) {
        size_t n = size - off < piece ? size - off : piece;
        if (qv_qmp_feed(qmp, data + off, n, NULL) < 0)
            break;
    }
    qv_qmp_event *ev;
    while ((ev = qv_qmp_pop_event(qmp)))
        qv_qmp_event_free(ev);
    (void)qv_qmp_get_greeting(qmp);
    (void)qv_qmp_is_busy(qmp);
    qv_qmp_free(qmp);
    close(sv[1]);
    return 0;
}
