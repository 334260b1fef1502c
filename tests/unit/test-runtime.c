/* Unit tests for the run state word (lib/runtime.c, qv_rt_statemap): what
 * every process maps to learn an active domain's state without a syscall. */
#include <criterion/criterion.h>

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <glib.h>
#include <glib/gstdio.h>

#include "qvirt/qvirt.h"
#include "runtime.h"

static char *dir;

static void setup(void)
{
    dir = g_dir_make_tmp("qv-rt-XXXXXX", NULL);
    cr_assert_not_null(dir);
}

static void teardown(void)
{
    qv_rt_remove_tree(dir);
    g_free(dir);
}

TestSuite(runtime, .init = setup, .fini = teardown);

static char *state_path(void)
{
    return g_build_filename(dir, "state", NULL);
}

Test(runtime, state_round_trip_between_mappings)
{
    g_autofree char *path = state_path();
    long long t0 = 1795400000000000LL; /* 2026, in us */
    qv_rt_state st = { QV_DOMAIN_PAUSED, QV_DOMAIN_PAUSED_STARTING_UP, t0 };
    cr_assert_eq(qv_rt_statemap_create(path, &st, NULL), 0);
    qv_rt_statemap *a, *b;
    cr_assert_eq(qv_rt_statemap_open(path, &a), 0);
    cr_assert_eq(qv_rt_statemap_open(path, &b), 0);
    qv_rt_state got;
    cr_assert(qv_rt_statemap_load(b, &got));
    cr_assert_eq(got.state, QV_DOMAIN_PAUSED);
    cr_assert_eq(got.reason, QV_DOMAIN_PAUSED_STARTING_UP);
    cr_assert_eq(got.since_us, t0);

    /* A store through one mapping is what the other loads next, every
     * field, with the time kept to the microsecond 70 years on. */
    long long later = t0 + 70LL * 365 * 24 * 3600 * G_USEC_PER_SEC + 7;
    st = (qv_rt_state){ QV_DOMAIN_PMSUSPENDED, 255, later };
    cr_assert_eq(qv_rt_statemap_store(a, &st), 0);
    cr_assert(qv_rt_statemap_load(b, &got));
    cr_assert_eq(got.state, QV_DOMAIN_PMSUSPENDED);
    cr_assert_eq(got.reason, 255);
    cr_assert_eq(got.since_us, later);

    /* and when a stop or cont took qmp.lock */
    cr_assert_eq(qv_rt_statemap_lock_since(b), 0);
    qv_rt_statemap_set_lock_since(a, later);
    cr_assert_eq(qv_rt_statemap_lock_since(b), later);

    /* and a process of its own sees it too (MAP_SHARED, not a copy) */
    pid_t child = fork();
    if (child == 0) {
        qv_rt_state c;
        _exit(qv_rt_state_load(path, &c) == 0 && c.state == QV_DOMAIN_PMSUSPENDED &&
                      qv_rt_state_store(path, &(qv_rt_state){ QV_DOMAIN_RUNNING, 1, t0 }) == 0
                  ? 0
                  : 1);
    }
    int ws;
    cr_assert_eq(waitpid(child, &ws, 0), child);
    cr_assert(WIFEXITED(ws) && WEXITSTATUS(ws) == 0);
    cr_assert(qv_rt_statemap_load(a, &got));
    cr_assert_eq(got.state, QV_DOMAIN_RUNNING);
    cr_assert_eq(got.reason, 1);
    qv_rt_statemap_free(a);
    qv_rt_statemap_free(b);
}

Test(runtime, retired_run_stays_retired)
{
    g_autofree char *path = state_path();
    qv_rt_state st = { QV_DOMAIN_RUNNING, QV_DOMAIN_RUNNING_BOOTED, g_get_real_time() };
    cr_assert_eq(qv_rt_statemap_create(path, &st, NULL), 0);
    qv_rt_statemap *m;
    cr_assert_eq(qv_rt_statemap_open(path, &m), 0);
    /* The run ends: the directory goes, the mapping stays readable and
     * says so. */
    qv_rt_remove_run_dir(dir);
    cr_assert_not(g_file_test(dir, G_FILE_TEST_EXISTS));
    qv_rt_state got;
    cr_assert_not(qv_rt_statemap_load(m, &got));
    /* a late writer cannot bring it back */
    st.state = QV_DOMAIN_PAUSED;
    cr_assert_eq(qv_rt_statemap_store(m, &st), -ESTALE);
    cr_assert_not(qv_rt_statemap_load(m, &got));
    cr_assert_eq(got.state, QV_DOMAIN_RUNNING, "the last state before the end is kept");
    qv_rt_statemap_free(m);
    g_mkdir(dir, 0700); /* for teardown */
}

Test(runtime, other_files_are_not_state)
{
    g_autofree char *path = state_path();
    qv_rt_statemap *m = NULL;
    cr_assert_eq(qv_rt_statemap_open(path, &m), -ENOENT);
    /* what older versions wrote there, and a file of the right size that
     * is something else */
    const char *json = "{\"state\":1,\"reason\":1,\"since\":1795400000000000}";
    cr_assert(g_file_set_contents(path, json, -1, NULL));
    cr_assert_eq(qv_rt_statemap_open(path, &m), -EINVAL);
    char junk[32]; /* the size of a state file */
    memset(junk, 'x', sizeof junk);
    cr_assert(g_file_set_contents(path, junk, sizeof junk, NULL));
    cr_assert_eq(qv_rt_statemap_open(path, &m), -EINVAL);
    cr_assert_null(m);
    qv_rt_state st;
    cr_assert_eq(qv_rt_state_load(path, &st), -EINVAL);
}
