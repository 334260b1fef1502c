/* qvirt remote-serve: the remote side of a qvirt+ssh:// connection, run on
 * this host over ssh by the client's qv_conn_open for as long as that
 * connection is open; it speaks the library's line protocol on stdin and
 * stdout (qv_conn_remote_serve), so it is for qvirt itself, not for people. */
#include <signal.h>
#include <unistd.h>

#include "cli.h"

static bool cmd_remote_serve(cli_ctx *ctx, const cli_args *args)
{
    (void)args;
    /* A client gone mid-call must not kill the calls still running here
     * (a save, a migration) nor skip the connection's close: its writes
     * fail instead, and the end of its input ends the serving. */
    signal(SIGPIPE, SIG_IGN);
    qv_conn *conn = cli_conn(ctx);
    if (!conn)
        return false;
    g_autoptr(qv_error) err = NULL;
    if (qv_conn_remote_serve(conn, STDIN_FILENO, STDOUT_FILENO, 0, &err) < 0) {
        cli_error_qv(err, "serving a remote connection failed");
        return false;
    }
    return true;
}

static const cli_opt opts_remote_serve[] = {
    { NULL },
};

const cli_cmd cli_remote_serve_cmds[] = {
    { "remote-serve", cmd_remote_serve, opts_remote_serve,
      "(internal) the remote side of a qvirt+ssh:// connection, run over ssh", false },
    { NULL },
};
