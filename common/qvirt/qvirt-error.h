/* qvirt error objects. Every fallible call returns an int (>= 0 on success,
 * a negative errno on failure) and takes `qv_error **err` last; err may be
 * NULL. On failure *err, when not NULL, receives an error the caller frees
 * with qv_error_free(). */
#pragma once

#ifdef __cplusplus
extern "C" {
#endif

#ifndef QV_PUBLIC
#define QV_PUBLIC __attribute__((visibility("default")))
#endif

typedef struct qv_error qv_error;

/* One sentence saying what went wrong and where. Never NULL for a set error. */
QV_PUBLIC const char *qv_error_message(const qv_error *err);
/* The negative errno of the failure. */
QV_PUBLIC int qv_error_code(const qv_error *err);
/* For failures reported by QEMU: the QMP error class ("GenericError", ...)
 * and description; NULL otherwise. */
QV_PUBLIC const char *qv_error_qmp_class(const qv_error *err);
QV_PUBLIC const char *qv_error_qmp_desc(const qv_error *err);
QV_PUBLIC void qv_error_free(qv_error *err);
QV_PUBLIC void qv_error_freep(qv_error **err);

#ifdef __cplusplus
}
#endif
