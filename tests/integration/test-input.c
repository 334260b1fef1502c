/* send_key, screenshot and inject_nmi against the test guest: the PNG QEMU
 * writes, keys typed through send_key arriving at the guest's keyboard
 * (read from /dev/input/eventN through the guest agent), the guest kernel
 * seeing the NMI, and clear errors for shut off domains and bad screens. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "itest.h"
#include "qmp.h"

static itest T;
static void setup(void) { itest_setup(&T); }
static void teardown(void) { itest_teardown(&T); }

TestSuite(input, .init = setup, .fini = teardown, .timeout = 180);

/* itest_domain_xml already leaves out USB. */
#define NOUSB ""

static qv_domain *define(qv_conn *conn, const char *name, const char *extra)
{
    g_autofree char *xml = itest_domain_xml(&T, name, extra);
    qv_domain *dom = NULL;
    qv_error *err = NULL;
    int r = qv_conn_define_domain(conn, xml, 0, &dom, &err);
    cr_assert_eq(r, 0, "define: %s", err ? qv_error_message(err) : "?");
    return dom;
}

/* ---- the guest agent ------------------------------------------------------ */





/* The /dev/input node of the guest's PS/2 keyboard, from /proc/bus/input/devices. */
static char *guest_keyboard_node(qv_qmp *ga)
{
    int code;
    g_autofree char *devices = itest_guest_run(ga, "cat /proc/bus/input/devices", &code);
    cr_assert_eq(code, 0, "cat /proc/bus/input/devices failed");
    g_auto(GStrv) blocks = g_strsplit(devices, "\n\n", -1);
    for (char **b = blocks; *b; b++) {
        if (!strstr(*b, "AT Translated Set 2 keyboard"))
            continue;
        const char *h = strstr(*b, "H: Handlers=");
        const char *ev = h ? strstr(h, "event") : NULL;
        cr_assert_not_null(ev, "no event handler for the keyboard:\n%s", *b);
        size_t n = strspn(ev + 5, "0123456789");
        return g_strdup_printf("/dev/input/%.*s", (int)(5 + n), ev);
    }
    cr_assert_fail("the guest has no PS/2 keyboard:\n%s", devices);
    return NULL;
}

/* struct input_event on x86_64: timeval (16 bytes), u16 type, u16 code, s32 value. */
#define EV_SIZE 24
#define EV_KEY 1

typedef struct key_seen { bool pressed, released; } key_seen;

static key_seen find_key(GBytes *events, unsigned int want)
{
    key_seen k = { false, false };
    gsize len;
    const unsigned char *p = g_bytes_get_data(events, &len);
    for (gsize off = 0; p && off + EV_SIZE <= len; off += EV_SIZE) {
        uint16_t type, code;
        int32_t value;
        memcpy(&type, p + off + 16, 2);
        memcpy(&code, p + off + 18, 2);
        memcpy(&value, p + off + 20, 4);
        if (type == EV_KEY && code == want) {
            k.pressed = k.pressed || value == 1;
            k.released = k.released || value == 0;
        }
    }
    return k;
}

/* Opens the keyboard in the guest, sends the keys once the reader is
 * listening, and returns what the reader saw (press and release of one key:
 * at most 6 events of EV_MSC, EV_KEY and EV_SYN). */
static GBytes *type_and_read(qv_domain *dom, qv_qmp *ga, const char *node, unsigned int codeset,
                             unsigned int holdtime, const unsigned int *keys, int nkeys)
{
    static int round;
    g_autofree char *marker = g_strdup_printf("/tmp/kbd-open-%d", ++round);
    g_autofree char *script = g_strdup_printf(
        "exec 3<%s || exit 9; : > %s; exec timeout 30 head -c %d <&3", node, marker, 6 * EV_SIZE);
    int64_t pid = itest_guest_spawn(ga, script);
    g_autofree char *test_cmd = g_strdup_printf("test -e %s", marker);
    gint64 deadline = g_get_monotonic_time() + 20 * G_USEC_PER_SEC;
    int code = 1;
    while (code != 0 && g_get_monotonic_time() < deadline) {
        g_free(itest_guest_run(ga, test_cmd, &code));
        if (code != 0)
            poll(NULL, 0, 50);
    }
    cr_assert_eq(code, 0, "the reader in the guest did not open %s", node);
    qv_error *err = NULL;
    itest_ok(qv_domain_send_key(dom, codeset, holdtime, keys, nkeys, 0, &err), err);
    GBytes *out = NULL;
    int rc = itest_guest_wait(ga, pid, 30000, &out);
    cr_assert_eq(rc, 0, "reading %s in the guest: exit code %d", node, rc);
    return out;
}

/* ---- PNG ---------------------------------------------------------------- */

static uint32_t be32(const unsigned char *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static void assert_png(int fd, uint32_t *width, uint32_t *height)
{
    unsigned char buf[24];
    cr_assert_eq(pread(fd, buf, sizeof buf, 0), (ssize_t)sizeof buf, "screenshot too short");
    static const unsigned char sig[8] = { 0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n' };
    cr_assert_eq(memcmp(buf, sig, 8), 0, "no PNG signature");
    cr_assert_eq(be32(buf + 8), 13, "IHDR length");
    cr_assert_eq(memcmp(buf + 12, "IHDR", 4), 0, "first chunk is not IHDR");
    *width = be32(buf + 16);
    *height = be32(buf + 20);
}

static int temp_fd(void)
{
    int fd = open(T.root, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
    cr_assert_geq(fd, 0, "O_TMPFILE in %s: %s", T.root, strerror(errno));
    return fd;
}

static bool runtime_dir_has_screenshots(const char *name)
{
    g_autofree char *dir = g_build_filename(T.root, "run", "domains", name, NULL);
    GDir *d = g_dir_open(dir, 0, NULL);
    cr_assert_not_null(d, "no runtime folder %s", dir);
    bool found = false;
    const char *n;
    while ((n = g_dir_read_name(d)))
        found = found || g_str_has_prefix(n, "screenshot-");
    g_dir_close(d);
    return found;
}

/* ---- tests --------------------------------------------------------------- */

Test(input, shut_off_domain_is_refused)
{
    qv_conn *conn = itest_open(&T);
    qv_domain *dom = define(conn, "off", NULL);
    qv_error *err = NULL;
    cr_assert_eq(qv_domain_inject_nmi(dom, 0, &err), -EINVAL);
    cr_assert(strstr(qv_error_message(err), "'off' is not running"), "%s", qv_error_message(err));
    qv_error_freep(&err);
    unsigned int a = 30;
    cr_assert_eq(qv_domain_send_key(dom, QV_KEYCODE_SET_LINUX, 0, &a, 1, 0, &err), -EINVAL);
    cr_assert(strstr(qv_error_message(err), "not running"), "%s", qv_error_message(err));
    qv_error_freep(&err);
    char *mime = NULL;
    int fd = temp_fd();
    cr_assert_eq(qv_domain_screenshot(dom, fd, 0, 0, &mime, &err), -EINVAL);
    cr_assert(strstr(qv_error_message(err), "not running"), "%s", qv_error_message(err));
    cr_assert_null(mime);
    qv_error_freep(&err);
    close(fd);
    qv_domain_free(dom);
    qv_conn_close(conn);
}

Test(input, screenshot_without_display_reports_qemu_error)
{
    /* Paused at start: QEMU's devices exist, no guest boot needed. */
    qv_conn *conn = itest_open(&T);
    qv_domain *dom = define(conn, "nodisplay", NOUSB);
    qv_error *err = NULL;
    itest_ok(qv_domain_create(dom, QV_DOMAIN_START_PAUSED, &err), err);
    char *mime = NULL;
    int fd = temp_fd();
    int r = qv_domain_screenshot(dom, fd, 0, 0, &mime, &err);
    cr_assert_lt(r, 0, "a screenshot of a domain without video succeeded");
    cr_assert_not_null(qv_error_qmp_desc(err), "not QEMU's error: %s", qv_error_message(err));
    cr_assert(strstr(qv_error_message(err), "nodisplay") && strstr(qv_error_message(err), "screendump"),
              "%s", qv_error_message(err));
    cr_assert_null(mime);
    qv_error_freep(&err);
    cr_assert_not(runtime_dir_has_screenshots("nodisplay"), "the temp file was left behind");
    /* A screen that does not exist is refused before QEMU is asked. */
    cr_assert_eq(qv_domain_screenshot(dom, fd, 1, 0, &mime, &err), -EINVAL);
    cr_assert(strstr(qv_error_message(err), "no screen 1"), "%s", qv_error_message(err));
    qv_error_freep(&err);
    close(fd);
    itest_ok(qv_domain_destroy(dom, 0, &err), err);
    qv_domain_free(dom);
    qv_conn_close(conn);
}

Test(input, screenshot_keys_and_nmi_on_a_running_guest)
{
    qv_conn *conn = itest_open(&T);
    qv_domain *dom = define(conn, "input", NOUSB "    <video><model type='vga'/></video>\n"
                                           "    <input type='keyboard' bus='ps2'/>\n");
    qv_error *err = NULL;
    itest_ok(qv_domain_create(dom, 0, &err), err);
    cr_assert(itest_wait_console(&T, "QVIRT-GUEST-READY", 60000), "the guest did not boot");

    /* Screenshot: a PNG of the VGA text console. */
    int fd = temp_fd();
    char *mime = NULL;
    itest_ok(qv_domain_screenshot(dom, fd, 0, 0, &mime, &err), err);
    cr_assert_str_eq(mime, "image/png");
    free(mime);
    mime = NULL;
    uint32_t w = 0, h = 0;
    assert_png(fd, &w, &h);
    cr_assert((w == 720 && h == 400) || (w == 640 && h == 480) || (w == 1024 && h == 768),
              "unexpected screen size %ux%u", w, h);
    off_t size = lseek(fd, 0, SEEK_CUR);
    cr_assert_gt(size, 100, "the PNG has only %lld bytes", (long long)size);
    close(fd);
    cr_assert_not(runtime_dir_has_screenshots("input"), "the temp file was left behind");
    /* One VGA head: screen 1 does not exist. */
    fd = temp_fd();
    cr_assert_eq(qv_domain_screenshot(dom, fd, 1, 0, &mime, &err), -EINVAL);
    cr_assert(strstr(qv_error_message(err), "no screen 1"), "%s", qv_error_message(err));
    qv_error_freep(&err);
    close(fd);

    /* Keys reach the guest's keyboard device. */
    qv_qmp *ga = itest_agent_open(&T, "input");
    g_autofree char *node = guest_keyboard_node(ga);

    /* USB usage 4 is the A key: KEY_A (30) in the guest. */
    unsigned int usb_a = 4;
    GBytes *ev = type_and_read(dom, ga, node, QV_KEYCODE_SET_USB, 0, &usb_a, 1);
    key_seen k = find_key(ev, 30);
    cr_assert(k.pressed && k.released, "KEY_A not pressed and released in the guest (%zu bytes)",
              g_bytes_get_size(ev));
    g_bytes_unref(ev);

    /* A name from the win32 set, held for a while: KEY_ENTER (28). */
    int vk_return = qv_keycode_from_name(QV_KEYCODE_SET_WIN32, "VK_RETURN", &err);
    itest_ok(vk_return, err);
    unsigned int enter = (unsigned int)vk_return;
    ev = type_and_read(dom, ga, node, QV_KEYCODE_SET_WIN32, 300, &enter, 1);
    k = find_key(ev, 28);
    cr_assert(k.pressed && k.released, "KEY_ENTER not pressed and released in the guest");
    g_bytes_unref(ev);
    qv_qmp_free(ga);

    /* Several keys at once, including one QEMU only takes as a number. */
    unsigned int combo[3] = { 29, 56, 85 }; /* ctrl, alt, KEY_ZENKAKUHANKAKU */
    itest_ok(qv_domain_send_key(dom, QV_KEYCODE_SET_LINUX, 0, combo, 3, 0, &err), err);

    /* The NMI reaches the guest kernel, which says so on the console. */
    itest_ok(qv_domain_inject_nmi(dom, 0, &err), err);
    cr_assert(itest_wait_console(&T, "NMI received", 20000), "the guest did not report the NMI");
    int state = -1;
    itest_ok(qv_domain_get_state(dom, &state, NULL, &err), err);
    cr_assert_eq(state, QV_DOMAIN_RUNNING);

    itest_ok(qv_domain_destroy(dom, 0, &err), err);
    cr_assert_eq(qv_domain_inject_nmi(dom, 0, &err), -EINVAL);
    cr_assert(strstr(qv_error_message(err), "not running"), "%s", qv_error_message(err));
    qv_error_freep(&err);
    qv_domain_free(dom);
    qv_conn_close(conn);
}
