/* QEMU's TLS settings from [qemu] of qvirt.conf (lib/qemu-user.c), with
 * the names and defaults of libvirt's qemu.conf, on a temp folder standing
 * for /etc/pki. */
#include <errno.h>
#include <criterion/criterion.h>
#include <glib.h>
#include <glib/gstdio.h>
#include <string.h>

#include "qemu-user.h"

static char *dir, *conf, *pki;

static void setup(void)
{
    dir = g_dir_make_tmp("qvtls-XXXXXX", NULL);
    conf = g_build_filename(dir, "qvirt.conf", NULL);
    pki = g_build_filename(dir, "pki", NULL);
    g_mkdir(pki, 0700);
}

static void teardown(void)
{
    const char *argv[] = { "rm", "-rf", dir, NULL };
    g_spawn_sync(NULL, (char **)argv, NULL, G_SPAWN_SEARCH_PATH, NULL, NULL, NULL, NULL, NULL, NULL);
    g_free(dir);
    g_free(conf);
    g_free(pki);
}

TestSuite(qemu_tls, .init = setup, .fini = teardown);

/* No qvirt.conf: libvirt's defaults, TLS off and /etc/pki/qemu. */
Test(qemu_tls, defaults_without_a_file)
{
    qv_build_ctx ctx = { 0 };
    g_auto(qv_qemu_tls) tls = { 0 };
    cr_assert_eq(qv_qemu_tls_read(conf, pki, &ctx, &tls, NULL), 0);
    cr_assert_not(ctx.spice_tls);
    cr_assert_not(ctx.chardev_tls);
    cr_assert_not(ctx.chardev_tls_no_verify);
    cr_assert_str_eq(ctx.spice_tls_x509_dir, "/etc/pki/qemu");
    cr_assert_str_eq(ctx.chardev_tls_x509_dir, "/etc/pki/qemu");
}

/* The service's own folder where it exists, else default_tls_x509_cert_dir. */
Test(qemu_tls, service_folder_then_default_folder)
{
    g_autofree char *spice = g_build_filename(pki, "libvirt-spice", NULL);
    g_mkdir(spice, 0700);
    cr_assert(g_file_set_contents(conf, "[qemu]\nspice_tls=1\ndefault_tls_x509_cert_dir=/srv/pki\n",
                                  -1, NULL));
    qv_build_ctx ctx = { 0 };
    g_auto(qv_qemu_tls) tls = { 0 };
    cr_assert_eq(qv_qemu_tls_read(conf, pki, &ctx, &tls, NULL), 0);
    cr_assert(ctx.spice_tls);
    cr_assert_str_eq(ctx.spice_tls_x509_dir, spice);
    cr_assert_str_eq(ctx.chardev_tls_x509_dir, "/srv/pki");
}

/* A folder named in the file wins over both; a blank one is unset. */
Test(qemu_tls, named_folders_win)
{
    g_autofree char *spice = g_build_filename(pki, "libvirt-spice", NULL);
    g_mkdir(spice, 0700);
    cr_assert(g_file_set_contents(conf, "[qemu]\nspice_tls = 0\nspice_tls_x509_cert_dir = /a,b\n"
                                  "chardev_tls_x509_cert_dir =  \nchardev_tls_x509_verify=0\n",
                                  -1, NULL));
    qv_build_ctx ctx = { 0 };
    g_auto(qv_qemu_tls) tls = { 0 };
    cr_assert_eq(qv_qemu_tls_read(conf, pki, &ctx, &tls, NULL), 0);
    cr_assert_not(ctx.spice_tls);
    cr_assert_str_eq(ctx.spice_tls_x509_dir, "/a,b");
    cr_assert_str_eq(ctx.chardev_tls_x509_dir, "/etc/pki/qemu");
    cr_assert(ctx.chardev_tls_no_verify);
}

Test(qemu_tls, bad_flag_is_refused_by_name)
{
    cr_assert(g_file_set_contents(conf, "[qemu]\nspice_tls=maybe\n", -1, NULL));
    qv_build_ctx ctx = { 0 };
    g_auto(qv_qemu_tls) tls = { 0 };
    g_autoptr(qv_error) err = NULL;
    cr_assert_eq(qv_qemu_tls_read(conf, pki, &ctx, &tls, &err), -EINVAL);
    cr_assert(strstr(qv_error_message(err), "[qemu] spice_tls= must be 1 or 0."),
              "%s", qv_error_message(err));
}
