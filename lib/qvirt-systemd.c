/* qvirt-systemd: the library's one contact with systemd's bus (GIO), run
 * only on hosts systemd runs (see systemd.h):
 *
 *   qvirt-systemd scope|user-scope UNIT SLICE DESCRIPTION PID
 *       makes transient scope UNIT in SLICE (Delegate=yes) holding PID, of
 *       the system's manager or (user-scope) the caller's own, and prints
 *       its cgroup path ("/machine.slice/UNIT");
 *   qvirt-systemd register MACHINE UUID LEADER
 *       registers the machine with systemd-machined (the leader's scope).
 *
 * Errors: one sentence on stderr, exit 1; usage errors exit 2. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <glib.h>

#include "qv-error.h"
#include "systemd.h"

static bool parse_pid(const char *s, pid_t *pid)
{
    char *end = NULL;
    long v = strtol(s, &end, 10);
    if (!*s || *end || v <= 0 || v > G_MAXINT)
        return false;
    *pid = (pid_t)v;
    return true;
}

/* "0123...-..." into 16 bytes. */
static bool parse_uuid(const char *s, unsigned char out[16])
{
    size_t k = 0;
    for (const char *p = s; *p && k < 16; p++) {
        if (*p == '-')
            continue;
        if (!g_ascii_isxdigit(p[0]) || !g_ascii_isxdigit(p[1]))
            return false;
        out[k++] = (unsigned char)(g_ascii_xdigit_value(p[0]) * 16 + g_ascii_xdigit_value(p[1]));
        p++;
    }
    return k == 16;
}

int main(int argc, char **argv)
{
    pid_t pid;
    g_autoptr(qv_error) err = NULL;
    if (argc == 6 && (!strcmp(argv[1], "scope") || !strcmp(argv[1], "user-scope")) &&
        parse_pid(argv[5], &pid)) {
        g_autofree char *cgroup = NULL;
        if (qv_systemd_start_scope(!strcmp(argv[1], "user-scope"), argv[2], argv[3], argv[4], pid,
                                   &cgroup, &err) < 0) {
            fprintf(stderr, "%s\n", qv_error_message(err));
            return 1;
        }
        printf("%s\n", cgroup);
        return 0;
    }
    unsigned char uuid[16];
    if (argc == 5 && !strcmp(argv[1], "register") && parse_uuid(argv[3], uuid) &&
        parse_pid(argv[4], &pid)) {
        if (qv_systemd_register_machine(argv[2], uuid, pid, &err) < 0) {
            fprintf(stderr, "%s\n", qv_error_message(err));
            return 1;
        }
        return 0;
    }
    fprintf(stderr, "usage: qvirt-systemd scope|user-scope UNIT SLICE DESCRIPTION PID | "
                    "register MACHINE UUID LEADER\n");
    return 2;
}
