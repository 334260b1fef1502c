/* Test helper: boots the qvirt test guest (scripts/make-test-guest) directly
 * with qemu-system-x86_64 under TCG, without going through the library, so
 * tests of any layer can check guest-visible behaviour.
 *
 * The helper owns a private temp folder, a serial console on a socketpair
 * (QEMU gets one end as a connected fd), a QMP monitor and the guest-agent
 * virtio-serial port, both listening unix sockets created here and passed to
 * QEMU as fds, so they can be connected at any time without retries.
 *
 * Typical use in a Criterion test:
 *
 *     g_autofree char *reason = NULL;
 *     if (!qv_test_guest_available(&reason))
 *         cr_skip_test("%s", reason);
 *     g_autoptr(qv_test_guest) g = NULL;
 *     g_autoptr(qv_error) err = NULL;
 *     cr_assert_eq(qv_test_guest_boot(NULL, &g, &err), 0, "%s", qv_error_message(err));
 *     g_autofree char *out = NULL;
 *     cr_assert_eq(qv_test_guest_run(g, "cat /proc/sys/kernel/hostname", 10000, &out, &err), 0);
 */
#pragma once

#include <stdbool.h>
#include <sys/types.h>
#include <json-c/json.h>

#include "qv-error.h"

#define QV_TEST_GUEST_READY_LINE "QVIRT-GUEST-READY"
#define QV_TEST_GUEST_CMDLINE "console=ttyS0 panic=-1 quiet"
#define QV_TEST_GUEST_BOOT_TIMEOUT_MS 60000

/* Finds the built guest: $QVIRT_TEST_GUEST, else $QVIRT_BUILD_ROOT/test-guest,
 * else <build root>/test-guest. On success returns true and the two paths
 * (either out pointer may be NULL); otherwise false and *reason says what is
 * missing and how to build it. */
bool qv_test_guest_paths(char **kernel, char **initrd, char **reason);
/* The guest exists and qemu-system-x86_64 is runnable; *reason otherwise. */
bool qv_test_guest_available(char **reason);
/* The one domain XML of the test guest for the library and the CLI: 256 MiB,
 * one vCPU, direct kernel boot of kernel and initrd with
 * QV_TEST_GUEST_CMDLINE; devices is the whole <devices> content. */
char *qv_test_guest_domain_xml(const char *name, const char *kernel, const char *initrd,
                               const char *devices);

typedef struct qv_test_guest_opts {
    int boot_timeout_ms;        /* 0: QV_TEST_GUEST_BOOT_TIMEOUT_MS */
    int memory_mib;             /* 0: 256 */
    bool no_agent;              /* leave out the virtio-serial agent port */
    bool no_wait;               /* return once QEMU runs, before the ready line */
    const char *const *extra_args; /* more QEMU arguments, NULL-terminated */
} qv_test_guest_opts;

typedef struct qv_test_guest qv_test_guest;

/* Starts QEMU and (unless opts->no_wait) waits for the ready line. A failure
 * message includes QEMU's stderr and the last console lines. */
int qv_test_guest_boot(const qv_test_guest_opts *opts, qv_test_guest **ret, qv_error **err);
/* Kills QEMU if it still runs (SIGTERM, then SIGKILL) and removes the temp folder. */
void qv_test_guest_free(qv_test_guest *g);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(qv_test_guest, qv_test_guest_free)

/* Waits until the console shows text (anywhere after position `from`, a byte
 * offset in the console log; 0 for the start). */
int qv_test_guest_expect(qv_test_guest *g, const char *text, size_t from, int timeout_ms,
                         qv_error **err);
/* Runs one shell command line on the serial console and returns its exit
 * status (>= 0); *output (may be NULL) gets what it printed, with \n line
 * ends. Negative errno when the command did not finish in time. */
int qv_test_guest_run(qv_test_guest *g, const char *command, int timeout_ms, char **output,
                      qv_error **err);
/* Everything the console printed so far, and its last n lines (for messages). */
const char *qv_test_guest_console(const qv_test_guest *g);
size_t qv_test_guest_console_len(const qv_test_guest *g);
char *qv_test_guest_console_tail(const qv_test_guest *g, unsigned n);

const char *qv_test_guest_dir(const qv_test_guest *g);      /* the private temp folder */
const char *qv_test_guest_qmp_path(const qv_test_guest *g); /* QMP monitor socket */
const char *qv_test_guest_agent_path(const qv_test_guest *g); /* NULL with no_agent */
pid_t qv_test_guest_pid(const qv_test_guest *g);

/* Waits up to timeout_ms for QEMU to exit: 0 and *status (waitpid status,
 * may be NULL), or -ETIMEDOUT. Reads the console meanwhile. */
int qv_test_guest_wait_exit(qv_test_guest *g, int timeout_ms, int *status, qv_error **err);

/* Minimal blocking JSON exchange for tests, independent of qmp/: connects to
 * a unix socket, skips a QMP greeting when expect_greeting is set (and sends
 * qmp_capabilities), sends {"execute": command, "arguments": args} (args is
 * consumed, may be NULL) and returns the first reply that is not an event.
 * *reply gets the "return" value; an "error" reply gives -EIO with its desc. */
int qv_test_json_call(const char *socket_path, bool expect_greeting, const char *command,
                      json_object *args, int timeout_ms, json_object **reply, qv_error **err);
