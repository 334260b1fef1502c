/* Unit tests for the error helpers (common/error.c): whatever a caller
 * gets wrong, an error stays an error (a negative code) and never aborts. */
#include <criterion/criterion.h>

#include <errno.h>
#include <string.h>

#include "qv-error.h"

Test(error, set_keeps_the_first_error_and_returns_its_code)
{
    qv_error *err = NULL;
    cr_assert_eq(qv_error_set(&err, -ENOENT, "no domain named %s", "a"), -ENOENT);
    cr_assert_eq(qv_error_set(&err, -EINVAL, "second"), -EINVAL);
    cr_assert_eq(qv_error_code(err), -ENOENT);
    cr_assert_str_eq(qv_error_message(err), "no domain named a");
    qv_error_freep(&err);
    cr_assert_null(err);
    cr_assert_eq(qv_error_set(NULL, -EPERM, "nobody listens"), -EPERM);
}

Test(error, propagate_moves_the_error)
{
    qv_error *src = NULL, *dst = NULL;
    qv_error_set(&src, -EBUSY, "busy");
    cr_assert_eq(qv_error_propagate(&dst, src), -EBUSY);
    cr_assert_eq(dst, src);
    /* dst already set (or NULL): src is freed, its code still returned. */
    qv_error *other = NULL;
    qv_error_set(&other, -EAGAIN, "again");
    cr_assert_eq(qv_error_propagate(&dst, other), -EAGAIN);
    cr_assert_str_eq(qv_error_message(dst), "busy");
    other = NULL;
    qv_error_set(&other, -EAGAIN, "again");
    cr_assert_eq(qv_error_propagate(NULL, other), -EAGAIN);
    qv_error_freep(&dst);
}

/* A path that fails but lost its error must not turn into a success. */
Test(error, propagate_of_no_error_is_a_failure)
{
    qv_error *dst = NULL;
    cr_assert_eq(qv_error_propagate(&dst, NULL), -EIO);
    cr_assert_not_null(dst, "the lost error left no error behind");
    cr_assert_eq(qv_error_code(dst), -EIO);
    cr_assert(strstr(qv_error_message(dst), "lost"), "%s", qv_error_message(dst));
    qv_error_freep(&dst);
    cr_assert_eq(qv_error_propagate(NULL, NULL), -EIO);
    /* An earlier error is kept. */
    qv_error_set(&dst, -ENOSPC, "full");
    cr_assert_eq(qv_error_propagate(&dst, NULL), -EIO);
    cr_assert_eq(qv_error_code(dst), -ENOSPC);
    qv_error_freep(&dst);
}

/* A non-negative code is a caller's bug: it becomes -EIO (the process
 * survives, and the caller still sees a failure) and the message stays. */
Test(error, non_negative_codes_become_eio)
{
    qv_error *err = NULL;
    cr_assert_eq(qv_error_set(&err, 0, "zero %d", 0), -EIO);
    cr_assert_eq(qv_error_code(err), -EIO);
    cr_assert_str_eq(qv_error_message(err), "zero 0");
    qv_error_freep(&err);
    cr_assert_eq(qv_error_set(&err, EINVAL, "positive"), -EIO);
    cr_assert_eq(qv_error_code(err), -EIO);
    cr_assert_str_eq(qv_error_message(err), "positive");
    qv_error_freep(&err);
    cr_assert_eq(qv_error_set(NULL, 0, "unseen"), -EIO);
    cr_assert_eq(qv_error_set_errno(&err, 0, "cannot read %s", "x"), -EIO);
    cr_assert_eq(qv_error_code(err), -EIO);
    cr_assert(g_str_has_prefix(qv_error_message(err), "cannot read x: "), "%s",
              qv_error_message(err));
    qv_error_freep(&err);
    cr_assert_eq(qv_error_set_qmp(&err, 1, "GenericError", "desc", "qmp failed"), -EIO);
    cr_assert_eq(qv_error_code(err), -EIO);
    cr_assert_str_eq(qv_error_message(err), "qmp failed");
    cr_assert_str_eq(qv_error_qmp_class(err), "GenericError");
    qv_error_freep(&err);
}
