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
#include "internal.h"
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
    char junk[40]; /* the sizes of the two layouts */
    memset(junk, 'x', sizeof junk);
    for (size_t n = 32; n <= 40; n += 8) {
        cr_assert(g_file_set_contents(path, junk, (gssize)n, NULL));
        cr_assert_eq(qv_rt_statemap_open(path, &m), -EINVAL, "junk of %zu bytes", n);
    }
    /* a magic with the other layout's size (a short or a mislabelled file) */
    memcpy(junk, "qvstate2", 8);
    cr_assert(g_file_set_contents(path, junk, 32, NULL));
    cr_assert_eq(qv_rt_statemap_open(path, &m), -EINVAL);
    memcpy(junk, "qvstate1", 8);
    cr_assert(g_file_set_contents(path, junk, 40, NULL));
    cr_assert_eq(qv_rt_statemap_open(path, &m), -EINVAL);
    cr_assert_null(m);
    qv_rt_state st;
    cr_assert_eq(qv_rt_state_load(path, &st), -EINVAL);
}

/* ---- the balloon word ----------------------------------------------------- */

Test(runtime, balloon_round_trip_between_mappings)
{
    g_autofree char *path = state_path();
    qv_rt_state st = { QV_DOMAIN_RUNNING, QV_DOMAIN_RUNNING_BOOTED, g_get_real_time() };
    cr_assert_eq(qv_rt_statemap_create(path, &st, NULL), 0);
    qv_rt_statemap *a, *b;
    cr_assert_eq(qv_rt_statemap_open(path, &a), 0);
    cr_assert_eq(qv_rt_statemap_open(path, &b), 0);
    cr_assert_eq(qv_rt_statemap_balloon(b), 0, "unknown until the supervisor learns it");
    cr_assert_eq(qv_rt_statemap_set_balloon(a, 1048576), 0);
    cr_assert_eq(qv_rt_statemap_balloon(b), 1048576);
    /* the full 64 bits, and the state word is left alone */
    cr_assert_eq(qv_rt_statemap_set_balloon(a, 1ull << 40), 0);
    cr_assert_eq(qv_rt_statemap_balloon(b), 1ull << 40);
    qv_rt_state got;
    cr_assert(qv_rt_statemap_load(b, &got));
    cr_assert_eq(got.state, QV_DOMAIN_RUNNING);
    cr_assert_eq(got.reason, QV_DOMAIN_RUNNING_BOOTED);
    /* a state store leaves the balloon alone */
    st.state = QV_DOMAIN_PAUSED;
    cr_assert_eq(qv_rt_statemap_store(b, &st), 0);
    cr_assert_eq(qv_rt_statemap_balloon(a), 1ull << 40);
    /* back to unknown */
    cr_assert_eq(qv_rt_statemap_set_balloon(b, 0), 0);
    cr_assert_eq(qv_rt_statemap_balloon(a), 0);
    qv_rt_statemap_free(a);
    qv_rt_statemap_free(b);
}

Test(runtime, retired_run_has_no_balloon)
{
    g_autofree char *path = state_path();
    qv_rt_state st = { QV_DOMAIN_RUNNING, QV_DOMAIN_RUNNING_BOOTED, g_get_real_time() };
    cr_assert_eq(qv_rt_statemap_create(path, &st, NULL), 0);
    qv_rt_statemap *a, *b;
    cr_assert_eq(qv_rt_statemap_open(path, &a), 0);
    cr_assert_eq(qv_rt_statemap_open(path, &b), 0);
    cr_assert_eq(qv_rt_statemap_set_balloon(a, 524288), 0);
    qv_rt_statemap_retire(b);
    /* the run is over: its balloon reads unknown, and a late event cannot
     * write one */
    cr_assert_eq(qv_rt_statemap_balloon(a), 0);
    cr_assert_eq(qv_rt_statemap_balloon(b), 0);
    cr_assert_eq(qv_rt_statemap_set_balloon(a, 262144), -ESTALE);
    cr_assert_eq(qv_rt_statemap_balloon(b), 0);
    qv_rt_statemap_free(a);
    qv_rt_statemap_free(b);
}

/* A run started by a build from before the balloon word (32 bytes,
 * "qvstate1") is still read: its state as before, its balloon unknown. */
Test(runtime, older_layout_is_still_read)
{
    g_autofree char *path = state_path();
    long long t0 = 1795400000000000LL;
    struct {
        char magic[8];
        int64_t base_us;
        uint64_t word;
        int64_t lock_since_us;
    } v1 = { .base_us = t0, .lock_since_us = t0 + 5 };
    memcpy(v1.magic, "qvstate1", 8);
    /* running (1), booted (1), 3 us after the base */
    v1.word = 1u | 1u << 4 | 3ull << 13;
    cr_assert_eq(sizeof v1, 32);
    cr_assert(g_file_set_contents(path, (const char *)&v1, sizeof v1, NULL));
    qv_rt_statemap *m = NULL;
    cr_assert_eq(qv_rt_statemap_open(path, &m), 0);
    qv_rt_state got;
    cr_assert(qv_rt_statemap_load(m, &got));
    cr_assert_eq(got.state, QV_DOMAIN_RUNNING);
    cr_assert_eq(got.reason, QV_DOMAIN_RUNNING_BOOTED);
    cr_assert_eq(got.since_us, t0 + 3);
    cr_assert_eq(qv_rt_statemap_lock_since(m), t0 + 5);
    cr_assert_eq(qv_rt_statemap_balloon(m), 0);
    cr_assert_eq(qv_rt_statemap_set_balloon(m, 1024), -EOPNOTSUPP);
    cr_assert_eq(qv_rt_statemap_balloon(m), 0);
    /* its state is still written as before */
    qv_rt_state st = { QV_DOMAIN_PAUSED, QV_DOMAIN_PAUSED_USER, t0 + 9 };
    cr_assert_eq(qv_rt_statemap_store(m, &st), 0);
    cr_assert(qv_rt_statemap_load(m, &got));
    cr_assert_eq(got.state, QV_DOMAIN_PAUSED);
    cr_assert_eq(got.since_us, t0 + 9);
    qv_rt_statemap_free(m);
    /* and the file kept its size: nothing wrote past its end */
    GStatBuf sb;
    cr_assert_eq(g_stat(path, &sb), 0);
    cr_assert_eq(sb.st_size, 32);
}

/* ---- the event journal across rotations -------------------------------- */

typedef struct journal_seen {
    GArray *seqs; /* the "detail" of each event delivered, in order */
} journal_seen;

static void journal_seen_cb(qv_conn *conn, const qv_event *ev, void *opaque)
{
    journal_seen *s = opaque;
    g_array_append_val(s->seqs, ev->detail);
}

/* Lines a little over 1/8 of the rotation size: a generation then holds 8
 * of them, and the journal rotates after every 8th line. */
#define JOURNAL_LINES_PER_GEN 8

static void journal_append_big(const qv_rt_paths *p, qv_rt_journal_writer *w, int seq)
{
    static char *pad;
    if (!pad) {
        pad = g_malloc(QV_RT_JOURNAL_MAX_BYTES / JOURNAL_LINES_PER_GEN + 1);
        memset(pad, 'x', QV_RT_JOURNAL_MAX_BYTES / JOURNAL_LINES_PER_GEN);
        pad[QV_RT_JOURNAL_MAX_BYTES / JOURNAL_LINES_PER_GEN] = '\0';
    }
    json_object *obj = json_object_new_object();
    json_object_object_add(obj, "pad", json_object_new_string(pad));
    cr_assert_eq(qv_rt_emit_with(p, w, "big", NULL, QV_DOMAIN_EVENT_ID_LIFECYCLE,
                                 QV_DOMAIN_EVENT_DEFINED, seq, obj), 0);
}

static qv_conn *journal_listener(journal_seen *s)
{
    g_autofree char *uri = g_strdup_printf("qvirt:///embed?root=%s", dir);
    qv_conn *conn = NULL;
    qv_error *err = NULL;
    cr_assert_eq(qv_conn_open(uri, &conn, &err), 0, "%s", err ? qv_error_message(err) : "");
    s->seqs = g_array_new(FALSE, FALSE, sizeof(int));
    cr_assert_gt(qv_conn_domain_event_register_any(conn, NULL, -1, journal_seen_cb, s, NULL), 0);
    return conn;
}

/* A listener that does not dispatch while the journal rotates as many
 * times as it keeps generations, under two appenders that each keep the
 * journal open (so each finds its file rotated away by the other), then
 * dispatches: every event arrives, once, in order. (Before generations
 * were numbered, every rotated file was events.1: a listener two rotations
 * behind skipped the middle one.) */
Test(runtime, slow_listener_loses_nothing_across_rotations, .timeout = 60)
{
    journal_seen s = { 0 };
    qv_conn *conn = journal_listener(&s);
    const qv_rt_paths *p = &conn->paths;
    qv_rt_journal_writer w[2] = { QV_RT_JOURNAL_WRITER_INIT, QV_RT_JOURNAL_WRITER_INIT };
    int total = QV_RT_JOURNAL_KEEP * JOURNAL_LINES_PER_GEN + 2;
    for (int i = 0; i < total; i++)
        journal_append_big(p, &w[i % 2], i);

    qv_error *err = NULL;
    int n = qv_conn_event_dispatch(conn, &err);
    cr_assert_eq(n, total, "%d of %d events arrived (%s)", n, total,
                 err ? qv_error_message(err) : "no error");
    cr_assert_eq((int)s.seqs->len, total);
    for (int i = 0; i < total; i++)
        cr_assert_eq(g_array_index(s.seqs, int, i), i, "event %d arrived as the %dth",
                     g_array_index(s.seqs, int, i), i);

    /* It rotated that often, and no generation was dropped. */
    unsigned long long oldest, newest;
    cr_assert_eq(qv_rt_journal_generations(p, &oldest, &newest), 0);
    cr_assert_eq(newest, QV_RT_JOURNAL_KEEP, "the journal rotated %llu times", newest);
    cr_assert_eq(oldest, 1);

    /* Following the live file afterwards: the next line, and only it. */
    journal_append_big(p, &w[0], total);
    cr_assert_eq(qv_conn_event_dispatch(conn, &err), 1);
    cr_assert_eq(g_array_index(s.seqs, int, total), total);
    cr_assert_eq(qv_conn_event_dispatch(conn, &err), 0);

    qv_rt_journal_writer_close(&w[0]);
    qv_rt_journal_writer_close(&w[1]);
    g_array_unref(s.seqs);
    qv_conn_close(conn);
}

/* The journal is bounded: more rotations than it keeps delete generations
 * a slow listener has not read. It gets what is left, in order, and is told
 * that events were lost (once), then carries on. */
Test(runtime, too_slow_listener_is_told_it_lost_events, .timeout = 60)
{
    journal_seen s = { 0 };
    qv_conn *conn = journal_listener(&s);
    const qv_rt_paths *p = &conn->paths;
    qv_rt_journal_writer w = QV_RT_JOURNAL_WRITER_INIT;
    /* Generation 1 (open in the listener) and 2 are deleted; 2 is lost. */
    int rotations = QV_RT_JOURNAL_KEEP + 2;
    int total = rotations * JOURNAL_LINES_PER_GEN + 1;
    for (int i = 0; i < total; i++)
        journal_append_big(p, &w, i);
    unsigned long long oldest, newest;
    cr_assert_eq(qv_rt_journal_generations(p, &oldest, &newest), 0);
    cr_assert_eq(newest, (unsigned long long)rotations);
    cr_assert_eq(oldest, newest - QV_RT_JOURNAL_KEEP + 1, "the journal kept %llu..%llu",
                 oldest, newest);

    qv_error *err = NULL;
    cr_assert_eq(qv_conn_event_dispatch(conn, &err), -ENOBUFS);
    cr_assert(strstr(qv_error_message(err), "lost"), "%s", qv_error_message(err));
    qv_error_freep(&err);
    /* What was left arrived in order: all of generation 1 (still open),
     * none of 2, all of the rest. */
    int expect = total - JOURNAL_LINES_PER_GEN;
    cr_assert_eq((int)s.seqs->len, expect, "%u events arrived, not %d", s.seqs->len, expect);
    for (int i = 0, seq = 0; i < expect; i++, seq++) {
        if (seq == JOURNAL_LINES_PER_GEN)
            seq += JOURNAL_LINES_PER_GEN;
        cr_assert_eq(g_array_index(s.seqs, int, i), seq);
    }
    /* Reported once; the listener goes on. */
    cr_assert_eq(qv_conn_event_dispatch(conn, &err), 0);
    journal_append_big(p, &w, total);
    cr_assert_eq(qv_conn_event_dispatch(conn, &err), 1);

    qv_rt_journal_writer_close(&w);
    g_array_unref(s.seqs);
    qv_conn_close(conn);
}

/* An appender killed in its write() can leave part of a line with no
 * newline (the kernel may stop a write at a page's end). The next event
 * starts on a line of its own, so it arrives; the fragment is skipped. */
Test(runtime, a_torn_line_does_not_swallow_the_next_event)
{
    journal_seen s = { 0 };
    qv_conn *conn = journal_listener(&s);
    const qv_rt_paths *p = &conn->paths;
    qv_rt_journal_writer w = QV_RT_JOURNAL_WRITER_INIT;
    cr_assert_eq(qv_rt_emit_with(p, &w, "torn", NULL, QV_DOMAIN_EVENT_ID_LIFECYCLE,
                                 QV_DOMAIN_EVENT_DEFINED, 1, NULL), 0);
    g_autofree char *path = qv_rt_journal_path(p);
    FILE *f = fopen(path, "a");
    cr_assert_not_null(f);
    fputs("{\"domain\":\"torn\",\"event_id\":0,\"det", f);
    fclose(f);
    qv_rt_journal_writer other = QV_RT_JOURNAL_WRITER_INIT;
    cr_assert_eq(qv_rt_emit_with(p, &other, "torn", NULL, QV_DOMAIN_EVENT_ID_LIFECYCLE,
                                 QV_DOMAIN_EVENT_DEFINED, 2, NULL), 0);
    qv_error *err = NULL;
    cr_assert_eq(qv_conn_event_dispatch(conn, &err), 2, "%s", err ? qv_error_message(err) : "");
    cr_assert_eq(g_array_index(s.seqs, int, 0), 1);
    cr_assert_eq(g_array_index(s.seqs, int, 1), 2, "the event after the torn line was lost");
    g_autofree char *text = NULL;
    cr_assert(g_file_get_contents(path, &text, NULL, NULL));
    cr_assert(strstr(text, "\"det\n{"), "the fragment does not stand alone: %s", text);
    qv_rt_journal_writer_close(&w);
    qv_rt_journal_writer_close(&other);
    g_array_unref(s.seqs);
    qv_conn_close(conn);
}
