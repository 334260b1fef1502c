/* Graphics: VNC, SPICE, egl-headless and SDL displays, or -display none. */
#include <string.h>

#include "domxml-priv.h"

char *qv_domdef_display_socket(const qv_domdef_graphics *g, const char *runtime_dir)
{
    if ((g->type != QV_GFX_VNC && g->type != QV_GFX_SPICE) || !g->listen_type ||
        strcmp(g->listen_type, "socket"))
        return NULL;
    return g->socket ? g_strdup(g->socket)
                     : g_strdup_printf("%s/%s.sock", runtime_dir,
                                       g->type == QV_GFX_VNC ? "vnc" : "spice");
}

static int add_vnc(qv_cmdline *cl, const qv_domdef_graphics *g, qv_error **err)
{
    GString *s = g_string_new(NULL);
    if (!strcmp(g->listen_type, "socket") && cl->ctx->display_sockets_by_caller) {
        g_string_append(s, "none"); /* clients arrive with add_client */
    } else if (!strcmp(g->listen_type, "socket")) {
        g_autofree char *path = qv_domdef_display_socket(g, cl->ctx->runtime_dir);
        g_autofree char *e = qv_qemu_opt_escape(path);
        g_string_append_printf(s, "unix:%s", e);
    } else if (!strcmp(g->listen_type, "none")) {
        g_string_append(s, "none");
    } else {
        const char *addr = g->listen_address ? g->listen_address : "127.0.0.1";
        g_autofree char *e = qv_qemu_opt_escape(addr);
        bool v6 = strchr(addr, ':') != NULL;
        /* autoport: QEMU itself tries displays 0..99 (ports 5900-5999) and
         * lib/ reads the chosen one back with query-vnc. */
        if (g->autoport)
            g_string_append_printf(s, v6 ? "[%s]:0,to=99" : "%s:0,to=99", e);
        else
            g_string_append_printf(s, v6 ? "[%s]:%d" : "%s:%d", e, g->port - 5900);
        if (g->websocket > 0)
            g_string_append_printf(s, ",websocket=%d", g->websocket);
        else if (g->websocket < 0)
            g_string_append(s, ",websocket=on");
    }
    if (g->share_policy) {
        const char *sp = !strcmp(g->share_policy, "allow-exclusive") ? "allow-exclusive" :
                         !strcmp(g->share_policy, "force-shared") ? "force-shared" :
                         !strcmp(g->share_policy, "ignore") ? "ignore" : NULL;
        if (!sp) {
            g_string_free(s, TRUE);
            return qv_error_set(err, -EINVAL, "/domain/devices/graphics: unsupported sharePolicy '%s'.", g->share_policy);
        }
        g_string_append_printf(s, ",share=%s", sp);
    }
    /* The password is set over QMP (set_password) after start. */
    if (g->passwd)
        g_string_append(s, ",password=on");
    qv_cmdline_add(cl, "-vnc");
    g_ptr_array_add(cl->argv, g_string_free(s, FALSE));
    if (g->keymap)
        qv_cmdline_add2(cl, "-k", g->keymap);
    return 0;
}

static void add_spice(qv_cmdline *cl, const qv_domdef_graphics *g)
{
    GString *s = g_string_new(NULL);
    if (!strcmp(g->listen_type, "socket") && cl->ctx->display_sockets_by_caller) {
        g_string_append(s, "port=0"); /* clients arrive with add_client */
    } else if (!strcmp(g->listen_type, "socket")) {
        g_autofree char *path = qv_domdef_display_socket(g, cl->ctx->runtime_dir);
        g_string_append(s, "unix=on");
        qv_opt_append(s, "addr", path);
    } else if (!strcmp(g->listen_type, "address")) {
        g_string_append_printf(s, "port=%d", g->autoport || g->port < 0 ? 5900 : g->port);
        if (g->tls_port > 0)
            g_string_append_printf(s, ",tls-port=%d", g->tls_port);
        qv_opt_append(s, "addr", g->listen_address ? g->listen_address : "127.0.0.1");
    } else {
        g_string_append(s, "port=0");
    }
    if (!g->passwd)
        g_string_append(s, ",disable-ticketing=on");
    /* As libvirt's qemuBuildGraphicsSPICECommandLine writes them. */
    for (guint i = 0; g->spice_channels && i < g->spice_channels->len; i++) {
        const char *nm = g_ptr_array_index(g->spice_channels, i);
        const char *eq = strchr(nm, '=');
        if (!strcmp(eq + 1, "any"))
            continue;
        g_string_append_printf(s, ",%s-channel=%.*s", !strcmp(eq + 1, "secure") ? "tls" : "plaintext",
                               (int)(eq - nm), nm);
    }
    if (g->spice_image)
        g_string_append_printf(s, ",image-compression=%s", g->spice_image);
    if (g->spice_jpeg)
        g_string_append_printf(s, ",jpeg-wan-compression=%s", g->spice_jpeg);
    if (g->spice_zlib)
        g_string_append_printf(s, ",zlib-glz-wan-compression=%s", g->spice_zlib);
    if (g->spice_playback)
        g_string_append_printf(s, ",playback-compression=%s", g->spice_playback == QV_TRI_ON ? "on" : "off");
    if (g->spice_streaming)
        g_string_append_printf(s, ",streaming-video=%s", g->spice_streaming);
    if (g->spice_mouse)
        g_string_append_printf(s, ",agent-mouse=%s", !strcmp(g->spice_mouse, "client") ? "on" : "off");
    if (g->spice_copypaste == QV_TRI_OFF)
        g_string_append(s, ",disable-copy-paste=on");
    if (g->spice_filetransfer == QV_TRI_OFF)
        g_string_append(s, ",disable-agent-file-xfer=on");
    if (g->gl == QV_TRI_ON) {
        g_string_append(s, ",gl=on");
        if (g->rendernode)
            qv_opt_append(s, "rendernode", g->rendernode);
    }
    g_string_append(s, ",seamless-migration=on");
    qv_cmdline_add(cl, "-spice");
    g_ptr_array_add(cl->argv, g_string_free(s, FALSE));
}

int qv_cmdline_add_graphics(qv_cmdline *cl, qv_error **err)
{
    const qv_domdef *def = cl->def;
    bool have_display = false;
    for (guint i = 0; i < def->graphics->len; i++) {
        qv_domdef_graphics *g = g_ptr_array_index(def->graphics, i);
        switch (g->type) {
        case QV_GFX_VNC:
            if (add_vnc(cl, g, err) < 0)
                return -EINVAL;
            break;
        case QV_GFX_SPICE:
            add_spice(cl, g);
            break;
        case QV_GFX_EGL_HEADLESS: {
            GString *s = g_string_new("egl-headless");
            if (g->rendernode)
                qv_opt_append(s, "rendernode", g->rendernode);
            qv_cmdline_add(cl, "-display");
            g_ptr_array_add(cl->argv, g_string_free(s, FALSE));
            have_display = true;
            break;
        }
        case QV_GFX_SDL:
            qv_cmdline_add2(cl, "-display", "sdl");
            have_display = true;
            break;
        case QV_GFX_DBUS: {
            /* libvirt 9.0's qemuBuildGraphicsDBusCommandLine. */
            GString *s = g_string_new("dbus");
            if (g->dbus_p2p == QV_TRI_ON)
                g_string_append(s, ",p2p=on");
            else
                qv_opt_append(s, "addr", g->dbus_address);
            if (g->gl == QV_TRI_ON) {
                g_string_append(s, ",gl=on");
                if (g->rendernode)
                    qv_opt_append(s, "rendernode", g->rendernode);
            }
            qv_cmdline_add(cl, "-display");
            g_ptr_array_add(cl->argv, g_string_free(s, FALSE));
            have_display = true;
            break;
        }
        }
    }
    if (!have_display)
        qv_cmdline_add2(cl, "-display", "none");
    return 0;
}
