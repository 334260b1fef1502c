/* qvirt+ssh:// URIs (lib/uri.c): what ssh gets and what the remote qvirt
 * connects to; malformed ones refused in one sentence. */
#include <criterion/criterion.h>
#include <errno.h>
#include <string.h>

#include "uri.h"

Test(ssh_uri, parts)
{
    g_auto(qv_ssh_uri) u = { 0 };
    g_autoptr(qv_error) err = NULL;
    cr_assert_eq(qv_ssh_uri_parse("qvirt+ssh://alice@host.example:2200/system?keyfile=/k%20ey"
                                  "&no_verify=1&command=/opt/qvirt", &u, &err), 1);
    cr_assert_str_eq(u.user, "alice");
    cr_assert_str_eq(u.host, "host.example");
    cr_assert_eq(u.port, 2200);
    cr_assert_str_eq(u.remote_uri, "qvirt:///system");
    cr_assert_str_eq(u.keyfile, "/k ey");
    cr_assert(u.no_verify);
    cr_assert_str_eq(u.command, "/opt/qvirt");
}

Test(ssh_uri, embed_keeps_its_root_and_defaults)
{
    g_auto(qv_ssh_uri) u = { 0 };
    g_autoptr(qv_error) err = NULL;
    cr_assert_eq(qv_ssh_uri_parse("qvirt+ssh://h/embed?root=/srv/vms", &u, &err), 1,
                 "%s", err ? qv_error_message(err) : "");
    cr_assert_null(u.user);
    cr_assert_eq(u.port, 0);
    cr_assert_str_eq(u.remote_uri, "qvirt:///embed?root=/srv/vms");
    cr_assert_str_eq(u.command, "qvirt");
    cr_assert(!u.no_verify);
}

Test(ssh_uri, other_schemes_are_not_ssh)
{
    g_auto(qv_ssh_uri) u = { 0 };
    cr_assert_eq(qv_ssh_uri_parse("qvirt:///system", &u, NULL), 0);
    cr_assert_null(u.host);
}

Test(ssh_uri, refusals)
{
    const char *bad[] = {
        "qvirt+ssh:///system",                      /* no host */
        "qvirt+ssh://-oProxyCommand=x/system",      /* a host ssh reads as an option */
        "qvirt+ssh://h/nowhere",                    /* no such remote connection */
        "qvirt+ssh://h/system?no_verify=yes",
        "qvirt+ssh://h/embed?root=relative",
        "qvirt+ssh://h/system?command=",
    };
    for (size_t i = 0; i < G_N_ELEMENTS(bad); i++) {
        g_auto(qv_ssh_uri) u = { 0 };
        g_autoptr(qv_error) err = NULL;
        cr_assert_eq(qv_ssh_uri_parse(bad[i], &u, &err), -EINVAL, "%s accepted", bad[i]);
        cr_assert_not_null(err);
        cr_assert(strstr(qv_error_message(err), "URI"), "%s: %s", bad[i], qv_error_message(err));
        cr_assert_null(u.host, "%s left parts behind", bad[i]);
    }
}
