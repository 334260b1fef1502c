/* Shared helpers of the integration tests: a private embed connection per
 * test, the test guest's domain XML, and waits with deadlines. */
#pragma once

#include <criterion/criterion.h>
#include <glib.h>
#include <json-c/json.h>
#include <qvirt/qvirt.h>

#include "cli-run.h"

/* The built qvirt binary on the test's connection (cli_run_words):
 * ITEST_CLI(&T, &status, "dominfo", "x") returns stdout (with stderr after
 * it on failure); ITEST_CLI_OK asserts success and returns stdout. */
#define ITEST_CLI(t, status, ...)                                                                  \
    cli_run_words((t)->uri, (status), (const char *const[]){ __VA_ARGS__, NULL })
#define ITEST_CLI_OK(t, ...)                                                                       \
    ({                                                                                             \
        int st_;                                                                                   \
        char *o_ = ITEST_CLI((t), &st_, __VA_ARGS__);                                              \
        cr_assert_eq(st_, 0, "qvirt %s failed: %s", #__VA_ARGS__, o_);                             \
        o_;                                                                                        \
    })

typedef struct itest {
    char *root;     /* temp folder, the connection root */
    char *uri;
    char *console;  /* serial console log of the test domain */
    char *kernel, *initrd;
} itest;

/* Skips the test (with the reason) when the test guest is not built. */
void itest_setup(itest *t);
void itest_teardown(itest *t);
/* Expects that no cgroup of the domains of connection root `root` is left
 * (qvt_cgroup_leftovers): call once they are shut off. Nothing to check
 * on hosts without a cgroup2 mount. */
void itest_expect_no_cgroups(const char *root);
/* The same for a suite's .fini, whose assertions Criterion does not count:
 * with left (qvt_cgroup_leftovers) non-NULL, logs it and aborts, which
 * fails the test. itest_teardown checks t->root's once its runs ended. */
void itest_fini_fail_on_cgroups(const char *left);
/* Domain XML for the test guest; extra is inserted into <devices>. */
char *itest_domain_xml(const itest *t, const char *name, const char *extra_devices);
qv_conn *itest_open(const itest *t);
/* Polls get_state until it reports want_state (or the deadline passes). */
int itest_wait_state(qv_domain *dom, int want_state, int timeout_ms, int *reason);
/* Waits until the console log holds text (at least count times). The log
 * may hold NUL bytes: QEMU keeps its own file offset. */
bool itest_wait_console(const itest *t, const char *text, int timeout_ms);
bool itest_wait_console_n(const itest *t, const char *text, int count, int timeout_ms);
int itest_console_count(const itest *t, const char *text);
/* Waits until pid has exited (a zombie counts); false after timeout_ms. */
bool itest_wait_pid_gone(pid_t pid, int timeout_ms);
/* Reads a field of the domain's status.json (white-box, for pids). */
long long itest_status_field(const itest *t, const char *name, const char *field);

#define itest_ok(expr, err)                                                                        \
    cr_assert_geq((expr), 0, "%s failed: %s", #expr, (err) ? qv_error_message(err) : "?")

/* ---- the guest agent, for checks from inside the guest ------------------ */
#include "qmp.h"
#define ITEST_AGENT_TIMEOUT_MS 15000
/* Connects to the agent channel of running domain `name` (asserts). */
qv_qmp *itest_agent_open(const itest *t, const char *name);
/* Starts `sh -c script` in the guest with guest-exec; returns its pid. */
int64_t itest_guest_spawn(qv_qmp *ga, const char *script);
/* Waits for a guest-exec'd process: its exit code and (out, may be NULL)
 * its stdout; -1 when it did not exit within timeout_ms. */
int itest_guest_wait(qv_qmp *ga, int64_t pid, int timeout_ms, GBytes **out);
/* Runs `sh -c script` and returns its stdout (g_free), *code its exit code;
 * asserts that it finished. */
char *itest_guest_run(qv_qmp *ga, const char *script, int *code);

/* ---- qvirt+ssh:// to another network namespace --------------------------- */
/* Two network namespaces joined by a veth pair (no route out); an sshd
 * listens in the destination's ("the remote host", on dst_ip:port), with a
 * key of its own in dir and dir/qvirt-remote, this build's qvirt with the
 * test's settings; this process moves into the source's namespace. Skips
 * (with the reason) when not root or sshd, ssh or ip is missing. */
typedef struct itest_netns {
    char *src, *dst;          /* namespace names */
    char *dir;                /* keys, sshd's config, the remote wrapper */
    char *dst_ip;
    GPid sshd;
    int port;
} itest_netns;
void itest_netns_up(const itest *t, itest_netns *n);
void itest_netns_down(itest_netns *n);
/* qvirt+ssh://root@DST/embed?root=ROOT with the key, no host key check and
 * command (NULL: the wrapper). */
char *itest_netns_uri(const itest_netns *n, const char *root, const char *command);
