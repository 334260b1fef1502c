/* qvirt: keyboard input, screenshots and NMIs for running domains
 * (Sys::Virt::Domain send_key, screenshot, inject_nmi). Included by
 * <qvirt/qvirt.h>; conventions as there. */
#pragma once

#include <qvirt/qvirt.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- key code sets (virKeycodeSet) -------------------------------------- */
enum {
    QV_KEYCODE_SET_LINUX = 0,   /* Linux input event codes; names KEY_A, ... */
    QV_KEYCODE_SET_XT = 1,      /* same as ATSET1 (as in libvirt) */
    QV_KEYCODE_SET_ATSET1 = 2,  /* AT set 1 scancodes, 0xe0 prefix as 0xe0XX */
    QV_KEYCODE_SET_ATSET2 = 3,
    QV_KEYCODE_SET_ATSET3 = 4,
    QV_KEYCODE_SET_OSX = 5,     /* OS X virtual key codes; names ANSI_A, ... */
    QV_KEYCODE_SET_XT_KBD = 6,  /* Linux kbd driver: 0xe0 prefix as 0x100 */
    QV_KEYCODE_SET_USB = 7,     /* USB HID usage codes */
    QV_KEYCODE_SET_WIN32 = 8,   /* Windows virtual keys; names VK_A, ... */
    QV_KEYCODE_SET_QNUM = 9,    /* QEMU's numbers: 0xe0 prefix as bit 7 */
    QV_KEYCODE_SET_RFB = 9,     /* the same as QNUM */
    QV_KEYCODE_SET_LAST = 10,
};
enum { QV_DOMAIN_SEND_KEY_MAX_KEYS = 16 };

/* The set virsh calls name ("linux", "xt", "atset1", "atset2", "atset3",
 * "os_x", "xt_kbd", "usb", "win32", "qnum" or "rfb"; case-insensitive), as a
 * QV_KEYCODE_SET_* value, or -EINVAL. */
QV_PUBLIC int qv_keycode_set_from_string(const char *name, qv_error **err);
/* virsh's name of a set ("rfb" is reported as "qnum"), or NULL. */
QV_PUBLIC const char *qv_keycode_set_to_string(unsigned int codeset);
/* The code of a key name in codeset: KEY_A in linux, ANSI_A in os_x, VK_A in
 * win32 (the sets with names). -ENOENT for an unknown name, -EINVAL for a
 * set without names. */
QV_PUBLIC int qv_keycode_from_name(unsigned int codeset, const char *name, qv_error **err);
/* The code of the same key in another set, or -ENOENT when the key is not
 * in one of them. */
QV_PUBLIC int qv_keycode_translate(unsigned int from_codeset, unsigned int to_codeset,
                                   unsigned int keycode, qv_error **err);

/* ---- running domains ----------------------------------------------------- */
/* Presses the keys (1 to QV_DOMAIN_SEND_KEY_MAX_KEYS codes of codeset, all
 * at once, e.g. ctrl+alt+delete) and releases them after holdtime ms (0:
 * QEMU's default of 100 ms). flags must be 0. */
QV_PUBLIC int qv_domain_send_key(qv_domain *dom, unsigned int codeset, unsigned int holdtime,
                                 const unsigned int *keycodes, int nkeycodes, unsigned int flags,
                                 qv_error **err);
/* Writes a PNG of the screen to fd (the whole image; the fd's offset moves
 * on) and sets *mimetype to "image/png" (free with free()). screen counts
 * the heads of the domain's video devices in order; 0 is the primary
 * display. flags must be 0. */
QV_PUBLIC int qv_domain_screenshot(qv_domain *dom, int fd, unsigned int screen,
                                   unsigned int flags, char **mimetype, qv_error **err);
/* Sends a non-maskable interrupt to the guest. flags must be 0. */
QV_PUBLIC int qv_domain_inject_nmi(qv_domain *dom, unsigned int flags, qv_error **err);

#ifdef __cplusplus
}
#endif
