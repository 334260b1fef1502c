/* Keys, screens and NMIs: send-key, screenshot, inject-nmi. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"

#define OPT_DOMAIN { "domain", CLI_OPT_STRING, true, true, "domain name, id or uuid" }

/* A key is a number (decimal, 0x hex, 0 octal) or a name of the code set. */
static bool parse_key(const char *text, unsigned int codeset, unsigned int *code)
{
    char *end;
    errno = 0;
    unsigned long v = strtoul(text, &end, 0);
    if (*text && !*end && !errno && v <= 0xffff) {
        *code = (unsigned int)v;
        return true;
    }
    g_autoptr(qv_error) err = NULL;
    int r = qv_keycode_from_name(codeset, text, &err);
    if (r < 0) {
        cli_error_qv(err, "invalid keycode");
        return false;
    }
    *code = (unsigned int)r;
    return true;
}

static bool cmd_send_key(cli_ctx *ctx, const cli_args *args)
{
    unsigned int codeset = QV_KEYCODE_SET_LINUX, holdtime = 0;
    if (cli_has(args, "codeset")) {
        g_autoptr(qv_error) err = NULL;
        int r = qv_keycode_set_from_string(cli_str(args, "codeset"), &err);
        if (r < 0) {
            cli_error_qv(err, "unknown codeset");
            return false;
        }
        codeset = (unsigned int)r;
    }
    if (cli_has(args, "holdtime")) {
        long h = strtol(cli_str(args, "holdtime"), NULL, 10);
        if (h < 0) {
            cli_error("invalid value of --holdtime");
            return false;
        }
        holdtime = (unsigned int)h;
    }
    if (!args->argv || args->argv->len == 0) {
        cli_error("command 'send-key' requires at least one keycode");
        return false;
    }
    if (args->argv->len > QV_DOMAIN_SEND_KEY_MAX_KEYS) {
        cli_error("too many keycodes: at most %d can be sent at once", QV_DOMAIN_SEND_KEY_MAX_KEYS);
        return false;
    }
    unsigned int codes[QV_DOMAIN_SEND_KEY_MAX_KEYS];
    for (guint i = 0; i < args->argv->len; i++)
        if (!parse_key(args->argv->pdata[i], codeset, &codes[i]))
            return false;
    g_autoptr(qv_domain) dom = cli_domain_arg(ctx, args);
    if (!dom)
        return false;
    g_autoptr(qv_error) err = NULL;
    if (qv_domain_send_key(dom, codeset, holdtime, codes, (int)args->argv->len, 0, &err) < 0) {
        cli_error_qv(err, "failed to send key");
        return false;
    }
    return true;
}

static bool cmd_screenshot(cli_ctx *ctx, const cli_args *args)
{
    g_autoptr(qv_domain) dom = cli_domain_arg(ctx, args);
    if (!dom)
        return false;
    unsigned int screen = 0;
    if (cli_has(args, "screen"))
        screen = (unsigned int)strtoul(cli_str(args, "screen"), NULL, 10);
    g_autofree char *file = g_strdup(cli_str(args, "file"));
    bool generated = !file;
    if (generated) {
        /* virsh's default: DOMAIN-YYYY-MM-DD-HH:MM:SS.png in the current dir. */
        char stamp[64];
        time_t now = time(NULL);
        strftime(stamp, sizeof stamp, "%Y-%m-%d-%H:%M:%S", localtime(&now));
        file = g_strdup_printf("%s-%s.png", qv_domain_get_name(dom), stamp);
    }
    int fd = open(file, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
    if (fd < 0) {
        cli_error("cannot create file %s: %s", file, g_strerror(errno));
        return false;
    }
    g_autoptr(qv_error) err = NULL;
    char *mime = NULL;
    int r = qv_domain_screenshot(dom, fd, screen, 0, &mime, &err);
    close(fd);
    if (r < 0) {
        unlink(file);
        cli_error_qv(err, "could not take a screenshot");
        return false;
    }
    cli_info(ctx, "Screenshot saved to %s, with type of %s\n", file, mime);
    free(mime);
    return true;
}

static bool cmd_inject_nmi(cli_ctx *ctx, const cli_args *args)
{
    g_autoptr(qv_domain) dom = cli_domain_arg(ctx, args);
    if (!dom)
        return false;
    g_autoptr(qv_error) err = NULL;
    if (qv_domain_inject_nmi(dom, 0, &err) < 0) {
        cli_error_qv(err, "failed to inject NMI");
        return false;
    }
    return true;
}

static const cli_opt opts_send_key[] = {
    OPT_DOMAIN,
    { "codeset", CLI_OPT_STRING, false, false, "the codeset of keycodes, default:linux" },
    { "holdtime", CLI_OPT_INT, false, false, "the time (in milliseconds) how long the keys will be held" },
    { "keycode", CLI_OPT_ARGV, true, true, "the key code" },
    { NULL },
};
static const cli_opt opts_screenshot[] = {
    OPT_DOMAIN,
    { "file", CLI_OPT_STRING, true, false, "where to store the screenshot" },
    { "screen", CLI_OPT_INT, false, false, "ID of a screen to take screenshot of" },
    { NULL },
};
static const cli_opt opts_nmi[] = { OPT_DOMAIN, { NULL } };

const cli_cmd cli_input_cmds[] = {
    { "inject-nmi", cmd_inject_nmi, opts_nmi, "Inject NMI to the guest", false },
    { "screenshot", cmd_screenshot, opts_screenshot, "take a screenshot of a current domain console and store it into a file", false },
    { "send-key", cmd_send_key, opts_send_key, "Send keycodes to the guest", false },
    { NULL },
};
