/* The generated key code tables (lib/keycodes.c) and the public lookups:
 * known keys in each of libvirt's ten code sets, names, translation between
 * sets, and codes that no set knows. */
#include <errno.h>
#include <string.h>

#include <criterion/criterion.h>

#include "keycodes.h"
#include "qvirt/qvirt.h"

static void assert_qcode(unsigned int set, unsigned int code, const char *qcode,
                         unsigned int linux_code)
{
    const qv_keycode_key *k = qv_keycode_lookup(set, code);
    cr_assert_not_null(k, "set %s: code 0x%x not found", qv_keycode_set_to_string(set), code);
    cr_assert_not_null(k->qcode, "set %s: code 0x%x has no qcode", qv_keycode_set_to_string(set),
                       code);
    cr_assert_str_eq(k->qcode, qcode, "set %s: code 0x%x is %s, expected %s",
                     qv_keycode_set_to_string(set), code, k->qcode, qcode);
    cr_assert_eq(k->linux_code, linux_code, "set %s: code 0x%x is Linux key %u, expected %u",
                 qv_keycode_set_to_string(set), code, k->linux_code, linux_code);
}

Test(keycodes, linux)
{
    assert_qcode(QV_KEYCODE_SET_LINUX, 30, "a", 30);
    assert_qcode(QV_KEYCODE_SET_LINUX, 28, "ret", 28);
    assert_qcode(QV_KEYCODE_SET_LINUX, 125, "meta_l", 125);
    assert_qcode(QV_KEYCODE_SET_LINUX, 97, "ctrl_r", 97);
    assert_qcode(QV_KEYCODE_SET_LINUX, 1, "esc", 1);
    /* Rows that name one key twice: QEMU's own choice wins. */
    assert_qcode(QV_KEYCODE_SET_LINUX, 55, "kp_multiply", 55);
    assert_qcode(QV_KEYCODE_SET_LINUX, 99, "sysrq", 99);
    assert_qcode(QV_KEYCODE_SET_LINUX, 111, "delete", 111);
}

Test(keycodes, xt_and_atset1)
{
    assert_qcode(QV_KEYCODE_SET_XT, 0x1e, "a", 30);
    assert_qcode(QV_KEYCODE_SET_ATSET1, 0x1e, "a", 30);
    assert_qcode(QV_KEYCODE_SET_ATSET1, 0x1c, "ret", 28);
    /* Extended keys keep their 0xe0 prefix. */
    assert_qcode(QV_KEYCODE_SET_ATSET1, 0xe01d, "ctrl_r", 97);
    assert_qcode(QV_KEYCODE_SET_XT, 0xe05b, "meta_l", 125);
    cr_assert_null(qv_keycode_lookup(QV_KEYCODE_SET_ATSET1, 0x9d));
}

Test(keycodes, atset2_atset3)
{
    assert_qcode(QV_KEYCODE_SET_ATSET2, 0x1c, "a", 30);
    assert_qcode(QV_KEYCODE_SET_ATSET2, 0x5a, "ret", 28);
    assert_qcode(QV_KEYCODE_SET_ATSET2, 0xe014, "ctrl_r", 97);
    assert_qcode(QV_KEYCODE_SET_ATSET3, 0x1c, "a", 30);
    assert_qcode(QV_KEYCODE_SET_ATSET3, 0x58, "ctrl_r", 97);
    assert_qcode(QV_KEYCODE_SET_ATSET3, 0x08, "esc", 1);
}

Test(keycodes, osx)
{
    /* 0 is a real key here: ANSI_A. */
    assert_qcode(QV_KEYCODE_SET_OSX, 0x00, "a", 30);
    assert_qcode(QV_KEYCODE_SET_OSX, 0x24, "ret", 28);
    assert_qcode(QV_KEYCODE_SET_OSX, 0x37, "meta_l", 125);
}

Test(keycodes, xt_kbd)
{
    assert_qcode(QV_KEYCODE_SET_XT_KBD, 0x1e, "a", 30);
    /* The Linux kbd driver spells the 0xe0 prefix as 0x100. */
    assert_qcode(QV_KEYCODE_SET_XT_KBD, 0x11d, "ctrl_r", 97);
    assert_qcode(QV_KEYCODE_SET_XT_KBD, 0x15b, "meta_l", 125);
}

Test(keycodes, usb)
{
    assert_qcode(QV_KEYCODE_SET_USB, 4, "a", 30);
    assert_qcode(QV_KEYCODE_SET_USB, 40, "ret", 28);
    assert_qcode(QV_KEYCODE_SET_USB, 228, "ctrl_r", 97);
}

Test(keycodes, win32)
{
    assert_qcode(QV_KEYCODE_SET_WIN32, 0x41, "a", 30);
    assert_qcode(QV_KEYCODE_SET_WIN32, 0x0d, "ret", 28);
    assert_qcode(QV_KEYCODE_SET_WIN32, 0x5b, "meta_l", 125);
}

Test(keycodes, qnum_and_rfb)
{
    cr_assert_eq(QV_KEYCODE_SET_RFB, QV_KEYCODE_SET_QNUM);
    assert_qcode(QV_KEYCODE_SET_QNUM, 0x1e, "a", 30);
    /* The 0xe0 prefix becomes bit 7. */
    assert_qcode(QV_KEYCODE_SET_QNUM, 0x9d, "ctrl_r", 97);
    assert_qcode(QV_KEYCODE_SET_RFB, 0xdb, "meta_l", 125);
    assert_qcode(QV_KEYCODE_SET_QNUM, 0xc6, "pause", 119);
}

Test(keycodes, qnum_of_every_key_matches_its_atset1_code)
{
    /* Keys QEMU has no name for are sent by number: the number must be the
     * key's atset1 code with the 0xe0 prefix folded into bit 7. */
    for (size_t i = 0; i < qv_keycode_nkeys; i++) {
        const qv_keycode_key *k = &qv_keycode_keys[i];
        if (!k->qnum)
            continue;
        const qv_keycode_key *back = qv_keycode_lookup(QV_KEYCODE_SET_QNUM, k->qnum);
        cr_assert_not_null(back, "qnum 0x%x of Linux key %u is not in the qnum set", k->qnum,
                           k->linux_code);
        cr_assert_eq(back->qnum, k->qnum);
    }
    /* KEY_ZENKAKUHANKAKU has no QKeyCode name in QEMU 7.2, but a number. */
    const qv_keycode_key *k = qv_keycode_lookup(QV_KEYCODE_SET_LINUX, 85);
    cr_assert_not_null(k);
    cr_assert_null(k->qcode);
    cr_assert_eq(k->qnum, 0x76);
}

Test(keycodes, tables_are_sorted)
{
    for (unsigned int s = 0; s < QV_KEYCODE_NSETS; s++) {
        const qv_keycode_set *set = &qv_keycode_sets[s];
        cr_assert_gt(set->ncodes, 100, "set %s has only %zu codes", set->name, set->ncodes);
        for (size_t i = 1; i < set->ncodes; i++)
            cr_assert_lt(set->codes[i - 1].code, set->codes[i].code, "set %s: codes unsorted",
                         set->name);
        for (size_t i = 1; i < set->nnames; i++)
            cr_assert_lt(strcmp(set->names[i - 1].name, set->names[i].name), 0,
                         "set %s: names unsorted at %s", set->name, set->names[i].name);
    }
}

Test(keycodes, names)
{
    cr_assert_eq(qv_keycode_from_name(QV_KEYCODE_SET_LINUX, "KEY_A", NULL), 30);
    cr_assert_eq(qv_keycode_from_name(QV_KEYCODE_SET_LINUX, "KEY_LEFTMETA", NULL), 125);
    /* Aliases of one key. */
    cr_assert_eq(qv_keycode_from_name(QV_KEYCODE_SET_LINUX, "KEY_SHIFT", NULL), 42);
    cr_assert_eq(qv_keycode_from_name(QV_KEYCODE_SET_LINUX, "KEY_LEFTSHIFT", NULL), 42);
    cr_assert_eq(qv_keycode_from_name(QV_KEYCODE_SET_OSX, "ANSI_A", NULL), 0);
    cr_assert_eq(qv_keycode_from_name(QV_KEYCODE_SET_OSX, "Return", NULL), 0x24);
    cr_assert_eq(qv_keycode_from_name(QV_KEYCODE_SET_WIN32, "VK_A", NULL), 0x41);
    cr_assert_eq(qv_keycode_from_name(QV_KEYCODE_SET_WIN32, "VK_CONTROL", NULL), 0x11);
    cr_assert_eq(qv_keycode_from_name(QV_KEYCODE_SET_WIN32, "VK_LCONTROL", NULL), 0xa2);

    qv_error *err = NULL;
    cr_assert_eq(qv_keycode_from_name(QV_KEYCODE_SET_LINUX, "KEY_NOPE", &err), -ENOENT);
    cr_assert(strstr(qv_error_message(err), "KEY_NOPE") && strstr(qv_error_message(err), "linux"),
              "%s", qv_error_message(err));
    qv_error_freep(&err);
    /* Names are case-sensitive, as in libvirt. */
    cr_assert_eq(qv_keycode_from_name(QV_KEYCODE_SET_LINUX, "key_a", NULL), -ENOENT);
    cr_assert_eq(qv_keycode_from_name(QV_KEYCODE_SET_ATSET1, "KEY_A", &err), -EINVAL);
    cr_assert(strstr(qv_error_message(err), "atset1"), "%s", qv_error_message(err));
    qv_error_freep(&err);
    cr_assert_eq(qv_keycode_from_name(QV_KEYCODE_SET_LAST, "KEY_A", NULL), -EINVAL);
    cr_assert_eq(qv_keycode_from_name(QV_KEYCODE_SET_LINUX, NULL, NULL), -EINVAL);
}

Test(keycodes, set_names)
{
    static const char *const names[] = { "linux", "xt", "atset1", "atset2", "atset3",
                                         "os_x", "xt_kbd", "usb", "win32", "qnum" };
    for (int i = 0; i < QV_KEYCODE_SET_LAST; i++) {
        cr_assert_str_eq(qv_keycode_set_to_string((unsigned)i), names[i]);
        cr_assert_eq(qv_keycode_set_from_string(names[i], NULL), i);
    }
    cr_assert_eq(qv_keycode_set_from_string("rfb", NULL), QV_KEYCODE_SET_RFB);
    cr_assert_eq(qv_keycode_set_from_string("USB", NULL), QV_KEYCODE_SET_USB);
    cr_assert_null(qv_keycode_set_to_string(QV_KEYCODE_SET_LAST));
    qv_error *err = NULL;
    cr_assert_eq(qv_keycode_set_from_string("ebcdic", &err), -EINVAL);
    cr_assert(strstr(qv_error_message(err), "ebcdic"), "%s", qv_error_message(err));
    qv_error_freep(&err);
}

Test(keycodes, translate)
{
    cr_assert_eq(qv_keycode_translate(QV_KEYCODE_SET_LINUX, QV_KEYCODE_SET_USB, 30, NULL), 4);
    cr_assert_eq(qv_keycode_translate(QV_KEYCODE_SET_ATSET1, QV_KEYCODE_SET_LINUX, 0xe01d, NULL),
                 97);
    cr_assert_eq(qv_keycode_translate(QV_KEYCODE_SET_WIN32, QV_KEYCODE_SET_QNUM, 0x41, NULL),
                 0x1e);
    cr_assert_eq(qv_keycode_translate(QV_KEYCODE_SET_USB, QV_KEYCODE_SET_XT_KBD, 228, NULL),
                 0x11d);
    cr_assert_eq(qv_keycode_translate(QV_KEYCODE_SET_OSX, QV_KEYCODE_SET_ATSET2, 0x00, NULL),
                 0x1c);
    qv_error *err = NULL;
    cr_assert_eq(qv_keycode_translate(QV_KEYCODE_SET_LINUX, QV_KEYCODE_SET_USB, 0xffff, &err),
                 -ENOENT);
    cr_assert(strstr(qv_error_message(err), "65535") && strstr(qv_error_message(err), "linux"),
              "%s", qv_error_message(err));
    qv_error_freep(&err);
    cr_assert_eq(qv_keycode_translate(11, QV_KEYCODE_SET_USB, 30, NULL), -EINVAL);
}

Test(keycodes, unknown_codes)
{
    cr_assert_null(qv_keycode_lookup(QV_KEYCODE_SET_LINUX, 0xffff));
    cr_assert_null(qv_keycode_lookup(QV_KEYCODE_SET_LINUX, 0x300));
    cr_assert_null(qv_keycode_lookup(QV_KEYCODE_SET_USB, 0x10000));
    cr_assert_null(qv_keycode_lookup(QV_KEYCODE_SET_QNUM, 0xe01d));
    cr_assert_null(qv_keycode_lookup(QV_KEYCODE_SET_LAST, 30));
    cr_assert_null(qv_keycode_lookup(1000, 30));
}

Test(keycodes, send_key_checks_arguments_before_the_domain)
{
    /* Argument errors come before anything looks at a domain, so a NULL
     * domain reports its own problem and the others are reached with a
     * stand-in pointer that is never dereferenced. */
    qv_domain *fake = (qv_domain *)(void *)&fake;
    unsigned int keys[QV_DOMAIN_SEND_KEY_MAX_KEYS + 1] = { 30 };
    qv_error *err = NULL;
    cr_assert_eq(qv_domain_send_key(NULL, 0, 0, keys, 1, 0, &err), -EINVAL);
    qv_error_freep(&err);
    cr_assert_eq(qv_domain_send_key(fake, 0, 0, keys, 0, 0, &err), -EINVAL);
    cr_assert(strstr(qv_error_message(err), "1 to 16"), "%s", qv_error_message(err));
    qv_error_freep(&err);
    cr_assert_eq(qv_domain_send_key(fake, 0, 0, keys, QV_DOMAIN_SEND_KEY_MAX_KEYS + 1, 0, &err),
                 -EINVAL);
    qv_error_freep(&err);
    cr_assert_eq(qv_domain_send_key(fake, 0, 0, keys, 1, 1, &err), -EINVAL);
    qv_error_freep(&err);
    cr_assert_eq(qv_domain_send_key(fake, 10, 0, keys, 1, 0, &err), -EINVAL);
    qv_error_freep(&err);
    unsigned int bad[2] = { 30, 0x1e0 };
    cr_assert_eq(qv_domain_send_key(fake, QV_KEYCODE_SET_ATSET2, 0, bad, 2, 0, &err), -EINVAL);
    cr_assert(strstr(qv_error_message(err), "0x1e0") && strstr(qv_error_message(err), "atset2"),
              "%s", qv_error_message(err));
    qv_error_freep(&err);
    /* KEY_RESERVED is a key of the linux set, but nothing QEMU can press. */
    unsigned int reserved = 0;
    cr_assert_eq(qv_domain_send_key(fake, QV_KEYCODE_SET_LINUX, 0, &reserved, 1, 0, &err),
                 -EINVAL);
    cr_assert(strstr(qv_error_message(err), "cannot send"), "%s", qv_error_message(err));
    qv_error_freep(&err);
}
