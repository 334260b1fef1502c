#include <errno.h>
#include <string.h>

#include "qv-error.h"

const char *qv_error_message(const qv_error *err) { return err ? err->message : NULL; }
int qv_error_code(const qv_error *err) { return err ? err->code : 0; }
const char *qv_error_qmp_class(const qv_error *err) { return err ? err->qmp_class : NULL; }
const char *qv_error_qmp_desc(const qv_error *err) { return err ? err->qmp_desc : NULL; }

void qv_error_free(qv_error *err)
{
    if (!err)
        return;
    g_free(err->message);
    g_free(err->qmp_class);
    g_free(err->qmp_desc);
    g_free(err);
}

void qv_error_freep(qv_error **err)
{
    if (err) {
        qv_error_free(*err);
        *err = NULL;
    }
}

/* An error's code is negative by definition: a non-negative one is a
 * caller's bug, and passing it on would turn the failure into a success
 * (and asserting on it would abort the caller's process). It becomes -EIO;
 * the message still says what failed. */
static int error_code(int code)
{
    return code < 0 ? code : -EIO;
}

static qv_error *error_new(int code, char *message)
{
    qv_error *e = g_new0(qv_error, 1);
    e->code = error_code(code);
    e->message = message;
    return e;
}

int qv_error_setv(qv_error **err, int code, const char *fmt, va_list ap)
{
    code = error_code(code);
    if (err && !*err)
        *err = error_new(code, g_strdup_vprintf(fmt, ap));
    return code;
}

int qv_error_set(qv_error **err, int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    code = qv_error_setv(err, code, fmt, ap);
    va_end(ap);
    return code;
}

int qv_error_set_errno(qv_error **err, int code, const char *fmt, ...)
{
    code = error_code(code);
    if (err && !*err) {
        va_list ap;
        va_start(ap, fmt);
        g_autofree char *msg = g_strdup_vprintf(fmt, ap);
        va_end(ap);
        *err = error_new(code, g_strdup_printf("%s: %s", msg, g_strerror(-code)));
    }
    return code;
}

int qv_error_set_qmp(qv_error **err, int code, const char *qmp_class, const char *qmp_desc,
                     const char *fmt, ...)
{
    code = error_code(code);
    if (err && !*err) {
        va_list ap;
        va_start(ap, fmt);
        *err = error_new(code, g_strdup_vprintf(fmt, ap));
        va_end(ap);
        (*err)->qmp_class = g_strdup(qmp_class);
        (*err)->qmp_desc = g_strdup(qmp_desc);
    }
    return code;
}

/* A failing path that lost its error (src NULL) still fails: returning 0
 * there would turn the failure into a success. */
int qv_error_propagate(qv_error **dst, qv_error *src)
{
    if (!src)
        return qv_error_set(dst, -EIO, "an internal error lost its description");
    int code = src->code;
    if (dst && !*dst)
        *dst = src;
    else
        qv_error_free(src);
    return code;
}

void qv_error_prefix(qv_error *err, const char *fmt, ...)
{
    if (!err)
        return;
    va_list ap;
    va_start(ap, fmt);
    g_autofree char *prefix = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    char *msg = g_strdup_printf("%s: %s", prefix, err->message);
    g_free(err->message);
    err->message = msg;
}
