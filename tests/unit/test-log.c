/* common/log.c: levels, rotation to PATH.1. Criterion runs each test
 * in its own process, so each sets the environment before the first log
 * call (the log reads it once). */
#include <criterion/criterion.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "qv-log.h"

static char *dir, *path;

static void setup(void)
{
    dir = g_dir_make_tmp("qvlog-XXXXXX", NULL);
    cr_assert_not_null(dir);
    path = g_build_filename(dir, "log", NULL);
    setenv("QVIRT_LOG_FILE", path, 1);
}

static void teardown(void)
{
    g_autofree char *old = g_strconcat(path, ".1", NULL);
    unlink(path);
    unlink(old);
    rmdir(dir);
    g_free(path);
    g_free(dir);
}

static char *slurp(const char *p)
{
    char *s = NULL;
    if (!g_file_get_contents(p, &s, NULL, NULL))
        return NULL;
    return s;
}

TestSuite(log, .init = setup, .fini = teardown);

Test(log, level_filters)
{
    setenv("QVIRT_DEBUG", "3", 1);
    cr_assert_not(qv_log_enabled(QV_LOG_INFO));
    cr_assert(qv_log_enabled(QV_LOG_WARNING));
    qv_log(QV_LOG_DEBUG, "hidden %d", 1);
    qv_log(QV_LOG_INFO, "hidden %d", 2);
    qv_log(QV_LOG_WARNING, "shown %d", 3);
    g_autofree char *s = slurp(path);
    cr_assert_not_null(s);
    cr_assert_null(strstr(s, "hidden"));
    cr_assert(strstr(s, ": warning: shown 3\n"), "%s", s);
}

Test(log, zero_is_off_even_with_a_file)
{
    setenv("QVIRT_DEBUG", "0", 1);
    qv_log(QV_LOG_ERROR, "nothing");
    cr_assert_not(qv_log_enabled(QV_LOG_ERROR));
    cr_assert(access(path, F_OK) < 0);
}

Test(log, rotates_once_past_the_cap)
{
    unsetenv("QVIRT_DEBUG"); /* the file alone means level 1 */
    qv_log(QV_LOG_DEBUG, "first");
    int fd = open(path, O_WRONLY);
    cr_assert_geq(fd, 0);
    cr_assert_eq(ftruncate(fd, QV_LOG_FILE_MAX + 1), 0); /* sparse: cheap */
    close(fd);
    qv_log(QV_LOG_DEBUG, "second");
    g_autofree char *old = g_strconcat(path, ".1", NULL);
    g_autofree char *cur = slurp(path);
    cr_assert_not_null(cur);
    cr_assert(g_str_has_suffix(cur, ": debug: second\n"), "%s", cur);
    cr_assert_lt(strlen(cur), 200);
    cr_assert(access(old, F_OK) == 0, "no %s", old);
}
