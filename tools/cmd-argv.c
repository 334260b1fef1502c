/* qvirt domxml-to-argv: the QEMU command line a domain XML turns into.
 *
 * The one command that goes around the public API: it calls the domxml layer
 * directly, because printing an argv is a developer's tool with no place in
 * the library's contract. Nothing is started and no connection is opened. */
#include <string.h>

#include "domdef.h"
#define CLI_HAVE_QV_ERROR_AUTOPTR 1
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
    g_autoptr(qv_domdef) def = NULL;
    g_autoptr(qv_error) err = NULL;
    if (qv_domxml_parse(xml, 0, &def, &err) < 0) {
        cli_error_qv(err, "invalid domain XML");
        return false;
    }
    /* The same layout the library gives a running domain: the monitor socket
     * is passed as fd 3 and generated sockets go under the runtime folder. */
    g_autofree char *runtime_dir = g_strdup_printf("/run/qvirt/domains/%s", def->name);
    qv_build_ctx bctx = {
        .emulator = NULL,
        .monitor_fd = 3,
        .event_monitor_fd = -1,
        .runtime_dir = runtime_dir,
    };
    g_auto(GStrv) argv = NULL;
    if (qv_domxml_build_argv(def, &bctx, &argv, &err) < 0) {
        cli_error_qv(err, "cannot build the QEMU command line");
        return false;
    }
    if (ctx->json) {
        json_object *arr = json_object_new_array();
        for (char **a = argv; *a; a++)
            json_object_array_add(arr, json_object_new_string(*a));
        fputs(json_object_to_json_string_ext(arr, CLI_JSON_PLAIN), stdout);
        fputc('\n', stdout);
        json_object_put(arr);
    } else {
        g_autofree char *line = qv_argv_to_shell((const char *const *)argv);
        printf("%s\n", line);
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
