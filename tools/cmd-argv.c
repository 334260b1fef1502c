/* qvirt domxml-to-argv: the QEMU command line a domain XML turns into
 * (virsh's domxml-to-native qemu-argv). Nothing is defined or started; the
 * library builds the line for the connection's layout. */
#include <string.h>

#include "cli.h"

static bool cmd_domxml_to_argv(cli_ctx *ctx, const cli_args *args)
{
    const char *file = cli_str(args, "file");
    g_autofree char *xml = NULL;
    g_autoptr(GError) gerr = NULL;
    if (!g_file_get_contents(file, &xml, NULL, &gerr)) {
        cli_error("cannot read %s: %s", file, gerr->message);
        return false;
    }
    qv_conn *conn = cli_conn(ctx);
    if (!conn)
        return false;
    /* --json wants the words, not a line to split again: the library has a
     * format for that, so no shell quoting has to be undone here. */
    char *native = NULL;
    g_autoptr(qv_error) err = NULL;
    if (qv_conn_domain_xml_to_native(conn, ctx->json ? "qemu-argv-json" : "qemu-argv", xml, 0,
                                     &native, &err) < 0) {
        cli_error_qv(err, "cannot build the QEMU command line");
        return false;
    }
    if (ctx->json) {
        g_autoptr(json_object) arr = json_tokener_parse(native);
        free(native);
        if (!arr) {
            cli_error("the library returned an unreadable argv");
            return false;
        }
        fputs(json_object_to_json_string_ext(arr, CLI_JSON_PLAIN), stdout);
        fputc('\n', stdout);
    } else {
        printf("%s\n", native);
        free(native);
    }
    return true;
}

static const cli_opt opts_domxml_to_argv[] = {
    { "file", CLI_OPT_STRING, true, true, "file containing an XML domain description" },
    { NULL },
};

const cli_cmd cli_argv_cmds[] = {
    { "domxml-to-argv", cmd_domxml_to_argv, opts_domxml_to_argv,
      "print the QEMU command line of a domain XML", true },
    { NULL },
};
