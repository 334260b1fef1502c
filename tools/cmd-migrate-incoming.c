/* qvirt migrate-incoming: the destination's half of a migration from
 * another host, run there over ssh by the source (a qvirt+ssh:// URI); it
 * speaks the library's line protocol on stdin and stdout
 * (qv_conn_migrate_incoming), so it is for qvirt itself, not for people. */
#include <unistd.h>

#include "cli.h"

static bool cmd_migrate_incoming(cli_ctx *ctx, const cli_args *args)
{
    qv_conn *conn = cli_conn(ctx);
    if (!conn)
        return false;
    g_autoptr(qv_error) err = NULL;
    if (qv_conn_migrate_incoming(conn, STDIN_FILENO, STDOUT_FILENO, 0, &err) < 0) {
        cli_error_qv(err, "incoming migration failed");
        return false;
    }
    return true;
}

static const cli_opt opts_migrate_incoming[] = {
    { NULL },
};

const cli_cmd cli_migrate_incoming_cmds[] = {
    { "migrate-incoming", cmd_migrate_incoming, opts_migrate_incoming,
      "(internal) the destination of a migration from another host, driven over ssh", false },
    { NULL },
};
