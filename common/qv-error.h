/* Internal error helpers shared by every layer (qmp/, domxml/, cgroups/, lib/).
 *
 * A qv_error carries a negative errno, one sentence, and for QMP failures the
 * QMP error class and description. Errors are returned through an out
 * parameter only: there is no global or thread-local "last error". */
#pragma once

#include <stdarg.h>
#include <glib.h>

#include "qvirt/qvirt-error.h"

struct qv_error {
    int code;            /* negative errno */
    char *message;       /* one sentence, no trailing newline */
    char *qmp_class;     /* QMP error class, or NULL */
    char *qmp_desc;      /* QMP error description, or NULL */
};

/* Sets *err (when err is not NULL and *err is NULL) and returns code, so
 * callers can write `return qv_error_set(err, -EINVAL, "...")`. A second
 * error never overwrites the first: the first cause is the one users need.
 * A non-negative code (a bug) is taken as -EIO, here and in the setters
 * below, so an error is never returned as a success. */
int qv_error_set(qv_error **err, int code, const char *fmt, ...) G_GNUC_PRINTF(3, 4);
int qv_error_setv(qv_error **err, int code, const char *fmt, va_list ap) G_GNUC_PRINTF(3, 0);
int qv_error_set_qmp(qv_error **err, int code, const char *qmp_class, const char *qmp_desc,
                     const char *fmt, ...) G_GNUC_PRINTF(5, 6);
/* Sets from errno-style code with strerror appended: "<msg>: <strerror>". */
int qv_error_set_errno(qv_error **err, int code, const char *fmt, ...) G_GNUC_PRINTF(3, 4);
/* Moves src into *dst (if dst is NULL, src is freed). Returns src's code;
 * src NULL (a lost error) sets -EIO with a message saying so and returns it. */
int qv_error_propagate(qv_error **dst, qv_error *src);
/* Prefixes the message of an existing error: "<prefix>: <old message>". */
void qv_error_prefix(qv_error *err, const char *fmt, ...) G_GNUC_PRINTF(2, 3);

G_DEFINE_AUTOPTR_CLEANUP_FUNC(qv_error, qv_error_free)
