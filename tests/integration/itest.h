/* Shared helpers of the integration tests: a private embed connection per
 * test, the test guest's domain XML, and waits with deadlines. */
#pragma once

#include <criterion/criterion.h>
#include <glib.h>
#include <json-c/json.h>
#include <qvirt/qvirt.h>

typedef struct itest {
    char *root;     /* temp folder, the connection root */
    char *uri;
    char *console;  /* serial console log of the test domain */
    char *kernel, *initrd;
} itest;

/* Skips the test (with the reason) when the test guest is not built. */
void itest_setup(itest *t);
void itest_teardown(itest *t);
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
/* Reads a field of the domain's status.json (white-box, for pids). */
long long itest_status_field(const itest *t, const char *name, const char *field);

#define itest_ok(expr, err)                                                                        \
    cr_assert_geq((expr), 0, "%s failed: %s", #expr, (err) ? qv_error_message(err) : "?")
