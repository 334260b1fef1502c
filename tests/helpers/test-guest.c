/* The test guest and its boot helper: the guest boots under TCG, answers on
 * the serial console and through qemu-ga, has the virtio drivers loaded and
 * powers off on the ACPI power button. */
#include <errno.h>
#include <string.h>
#include <sys/wait.h>
#include <criterion/criterion.h>

#include "guest.h"

static void skip_without_guest(void)
{
    g_autofree char *reason = NULL;
    if (!qv_test_guest_available(&reason))
        cr_skip_test("%s", reason);
}

static qv_test_guest *boot_or_fail(const qv_test_guest_opts *opts)
{
    qv_test_guest *g = NULL;
    g_autoptr(qv_error) err = NULL;
    gint64 start = g_get_monotonic_time();
    int r = qv_test_guest_boot(opts, &g, &err);
    cr_assert_eq(r, 0, "boot failed (%d): %s", r, qv_error_message(err));
    cr_log_info("test guest ready after %.1f s",
                (g_get_monotonic_time() - start) / 1e6);
    return g;
}

Test(guest, console_agent_and_drivers, .timeout = 120)
{
    skip_without_guest();
    g_autoptr(qv_test_guest) g = boot_or_fail(NULL);
    g_autoptr(qv_error) err = NULL;

    cr_assert_not_null(strstr(qv_test_guest_console(g), QV_TEST_GUEST_READY_LINE));

    g_autofree char *out = NULL;
    int rc = qv_test_guest_run(g, "cat /proc/sys/kernel/hostname", 20000, &out, &err);
    cr_assert_eq(rc, 0, "command failed (%d): %s", rc, qv_error_message(err));
    cr_assert_str_eq(out, "qvirt-guest\n");

    /* Exit statuses come back, and output of several lines keeps its shape. */
    rc = qv_test_guest_run(g, "false", 20000, NULL, &err);
    cr_assert_eq(rc, 1, "false gave %d: %s", rc, qv_error_message(err));
    g_clear_pointer(&out, g_free);
    rc = qv_test_guest_run(g, "printf 'a\\nb\\n'", 20000, &out, &err);
    cr_assert_eq(rc, 0, "%s", qv_error_message(err));
    cr_assert_str_eq(out, "a\nb\n");

    rc = qv_test_guest_run(g, "test -d /sys/bus/virtio/drivers/virtio_balloon", 20000, NULL, &err);
    cr_assert_eq(rc, 0, "virtio_balloon is not loaded (%d): %s", rc, qv_error_message(err));
    g_clear_pointer(&out, g_free);
    rc = qv_test_guest_run(g, "ls /sys/bus/virtio/drivers/virtio_balloon | grep -c virtio", 20000,
                           &out, &err);
    cr_assert_eq(rc, 0, "the balloon device is not bound to virtio_balloon: %s",
                 qv_error_message(err));
    cr_assert_str_eq(out, "1\n");

    /* qemu-ga answers on the virtio-serial port. */
    const char *agent = qv_test_guest_agent_path(g);
    cr_assert_not_null(agent);
    json_object *ret = NULL;
    rc = qv_test_json_call(agent, false, "guest-ping", NULL, 20000, &ret, &err);
    cr_assert_eq(rc, 0, "guest-ping failed (%d): %s", rc, qv_error_message(err));
    cr_assert(json_object_is_type(ret, json_type_object));
    json_object_put(ret);
    ret = NULL;
    rc = qv_test_json_call(agent, false, "guest-get-host-name", NULL, 20000, &ret, &err);
    cr_assert_eq(rc, 0, "guest-get-host-name failed (%d): %s", rc, qv_error_message(err));
    json_object *name = NULL;
    cr_assert(json_object_object_get_ex(ret, "host-name", &name));
    cr_assert_str_eq(json_object_get_string(name), "qvirt-guest");
    json_object_put(ret);

    /* An unknown agent command is an error with the agent's class. */
    rc = qv_test_json_call(agent, false, "guest-no-such-command", NULL, 20000, NULL, &err);
    cr_assert_eq(rc, -EIO);
    cr_assert_str_eq(qv_error_qmp_class(err), "CommandNotFound");
}

Test(guest, power_button_powers_off, .timeout = 120)
{
    skip_without_guest();
    g_autoptr(qv_test_guest) g = boot_or_fail(NULL);
    g_autoptr(qv_error) err = NULL;

    /* acpid only sees the button once it has opened the input devices; the
     * ready line is printed after it started. */
    json_object *ret = NULL;
    int rc = qv_test_json_call(qv_test_guest_qmp_path(g), true, "system_powerdown", NULL, 10000,
                               &ret, &err);
    cr_assert_eq(rc, 0, "system_powerdown failed (%d): %s", rc, qv_error_message(err));
    json_object_put(ret);

    int status = -1;
    rc = qv_test_guest_wait_exit(g, 20000, &status, &err);
    cr_assert_eq(rc, 0, "the guest ignored the power button: %s", qv_error_message(err));
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "QEMU ended with status 0x%x", status);
    cr_assert_not_null(strstr(qv_test_guest_console(g), "power button pressed"));
}

Test(guest, qmp_reports_running, .timeout = 60)
{
    skip_without_guest();
    qv_test_guest_opts opts = { .no_wait = true, .no_agent = true };
    g_autoptr(qv_test_guest) g = boot_or_fail(&opts);
    g_autoptr(qv_error) err = NULL;

    cr_assert_null(qv_test_guest_agent_path(g));
    json_object *ret = NULL;
    int rc = qv_test_json_call(qv_test_guest_qmp_path(g), true, "query-status", NULL, 10000,
                               &ret, &err);
    cr_assert_eq(rc, 0, "query-status failed (%d): %s", rc, qv_error_message(err));
    json_object *running = NULL;
    cr_assert(json_object_object_get_ex(ret, "running", &running));
    cr_assert(json_object_get_boolean(running));
    json_object_put(ret);

    /* A QMP error reply carries its class. */
    rc = qv_test_json_call(qv_test_guest_qmp_path(g), true, "no-such-command", NULL, 10000,
                           NULL, &err);
    cr_assert_eq(rc, -EIO);
    cr_assert_str_eq(qv_error_qmp_class(err), "CommandNotFound");
}

Test(guest, boot_failure_says_why, .timeout = 60)
{
    skip_without_guest();
    const char *bad[] = { "-device", "no-such-device-model", NULL };
    qv_test_guest_opts opts = { .extra_args = bad };
    qv_test_guest *g = NULL;
    g_autoptr(qv_error) err = NULL;

    int rc = qv_test_guest_boot(&opts, &g, &err);
    cr_assert_eq(rc, -ECHILD, "boot gave %d: %s", rc, qv_error_message(err));
    cr_assert_null(g);
    /* QEMU's own complaint reaches the message. */
    cr_assert_not_null(strstr(qv_error_message(err), "no-such-device-model"), "%s",
                       qv_error_message(err));
}

Test(guest, boot_timeout_shows_console, .timeout = 60)
{
    skip_without_guest();
    qv_test_guest_opts opts = { .boot_timeout_ms = 300 };
    qv_test_guest *g = NULL;
    g_autoptr(qv_error) err = NULL;

    int rc = qv_test_guest_boot(&opts, &g, &err);
    cr_assert_eq(rc, -ETIMEDOUT, "boot gave %d: %s", rc, qv_error_message(err));
    cr_assert_null(g);
    cr_assert_not_null(strstr(qv_error_message(err), QV_TEST_GUEST_READY_LINE), "%s",
                       qv_error_message(err));
}
