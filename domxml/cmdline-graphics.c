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

/* The SPICE channel names in libvirt's order, which is the order of its
 * -spice tls-channel= and plaintext-channel= options. */
static const char *const spice_channel_names[] = { "main", "display", "inputs", "cursor", "playback",
                                                   "record", "smartcard", "usbredir" };

/* The mode of SPICE channel name: the last <channel> naming it, or "any". */
static const char *spice_channel_mode(const qv_domdef_graphics *g, const char *name)
{
    const char *mode = "any";
    size_t n = strlen(name);
    for (guint i = 0; g->spice_channels && i < g->spice_channels->len; i++) {
        const char *nm = g_ptr_array_index(g->spice_channels, i);
        if (!strncmp(nm, name, n) && nm[n] == '=')
            mode = nm + n + 1;
    }
    return mode;
}

void qv_domdef_spice_autoports(const qv_domdef_graphics *g, bool spice_tls, bool *port, bool *tls)
{
    *port = *tls = false;
    for (size_t i = 0; i < G_N_ELEMENTS(spice_channel_names); i++) {
        const char *mode = spice_channel_mode(g, spice_channel_names[i]);
        *tls |= !strcmp(mode, "secure");
        *port |= !strcmp(mode, "insecure");
    }
    const char *dm = g->default_mode ? g->default_mode : "any";
    *tls |= !strcmp(dm, "secure") || (!strcmp(dm, "any") && spice_tls);
    *port |= strcmp(dm, "secure") != 0;
}

/* The ports of a SPICE display on an address, as libvirt's
 * qemuProcessSPICEAllocatePorts settles them: with autoport those
 * qv_domdef_spice_autoports names, the ones lib/ picked at start (free
 * ones, as libvirt's) or else 5900 and, for TLS, the port after the plain
 * one (what domxml-to-argv shows); tlsPort='-1' asks for a TLS port too,
 * and a TLS port needs spice_tls. */
static int spice_ports(const qv_cmdline *cl, const qv_domdef_graphics *g, int *port, int *tls_port,
                       qv_error **err)
{
    bool spice_tls = cl->ctx->spice_tls;
    *port = g->port;
    *tls_port = g->tls_port;
    if (g->autoport) {
        bool need_port, need_tls;
        qv_domdef_spice_autoports(g, spice_tls, &need_port, &need_tls);
        *port = need_port ? (g->port > 0 ? g->port : 5900) : 0;
        *tls_port = need_tls ? (g->tls_port > 0 ? g->tls_port : -1) : 0;
    } else if (*port < 0) {
        *port = 5900;
    }
    if (*tls_port == -1) {
        if (!spice_tls)
            return qv_error_set(err, -EINVAL, "/domain/devices/graphics: Auto allocation of "
                                "spice TLS port requested but spice TLS is disabled in qemu.conf ([qemu] spice_tls= of qvirt.conf).");
        *tls_port = *port > 0 ? *port + 1 : 5900;
    } else if (*tls_port > 0 && !spice_tls) {
        return qv_error_set(err, -EINVAL, "/domain/devices/graphics: spice TLS port set in XML "
                            "configuration, but TLS is disabled in qemu.conf ([qemu] spice_tls= of qvirt.conf).");
    }
    return 0;
}

/* As libvirt 9.0's qemuBuildGraphicsSPICECommandLine: TLS where there is a
 * TLS port, with QEMU's x509 credentials from spice_tls_x509_cert_dir, and
 * a secure (or insecure) channel or defaultMode only where its kind of
 * connection is available. */
static int add_spice(qv_cmdline *cl, const qv_domdef_graphics *g, qv_error **err)
{
    g_autoptr(GString) s = g_string_new(NULL);
    bool secure = false, insecure = true;
    if (!strcmp(g->listen_type, "socket") && cl->ctx->display_sockets_by_caller) {
        g_string_append(s, "port=0"); /* clients arrive with add_client */
    } else if (!strcmp(g->listen_type, "socket")) {
        g_autofree char *path = qv_domdef_display_socket(g, cl->ctx->runtime_dir);
        g_string_append(s, "unix=on");
        qv_opt_append(s, "addr", path);
    } else if (!strcmp(g->listen_type, "address")) {
        int port, tls_port;
        if (spice_ports(cl, g, &port, &tls_port, err) < 0)
            return -EINVAL;
        insecure = port > 0;
        secure = tls_port > 0;
        if (insecure)
            g_string_append_printf(s, "port=%d", port);
        if (secure)
            g_string_append_printf(s, "%stls-port=%d", insecure ? "," : "", tls_port);
        qv_opt_append(s, "addr", g->listen_address ? g->listen_address : "127.0.0.1");
    } else {
        g_string_append(s, "port=0");
    }
    if (!g->passwd)
        g_string_append(s, ",disable-ticketing=on");
    if (secure)
        qv_opt_append(s, "x509-dir", cl->ctx->spice_tls_x509_dir ? cl->ctx->spice_tls_x509_dir
                                                                  : "/etc/pki/qemu");
    const char *dm = g->default_mode ? g->default_mode : "any";
    if (!strcmp(dm, "secure") && !secure)
        return qv_error_set(err, -EINVAL, "/domain/devices/graphics: spice defaultMode secure "
                            "requested in XML configuration, but TLS connection is not available.");
    if (!strcmp(dm, "insecure") && !insecure)
        return qv_error_set(err, -EINVAL, "/domain/devices/graphics: spice defaultMode insecure "
                            "requested in XML configuration, but plaintext connection is not available.");
    if (strcmp(dm, "any"))
        g_string_append_printf(s, ",%s-channel=default", !strcmp(dm, "secure") ? "tls" : "plaintext");
    for (size_t i = 0; i < G_N_ELEMENTS(spice_channel_names); i++) {
        const char *mode = spice_channel_mode(g, spice_channel_names[i]);
        if (!strcmp(mode, "secure") && !secure)
            return qv_error_set(err, -EINVAL, "/domain/devices/graphics: spice secure channels set "
                                "in XML configuration, but TLS connection is not available.");
        if (!strcmp(mode, "insecure") && !insecure)
            return qv_error_set(err, -EINVAL, "/domain/devices/graphics: spice insecure channels "
                                "set in XML configuration, but plaintext connection is not available.");
        if (strcmp(mode, "any"))
            g_string_append_printf(s, ",%s-channel=%s", !strcmp(mode, "secure") ? "tls" : "plaintext",
                                   spice_channel_names[i]);
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
    g_ptr_array_add(cl->argv, g_string_free(g_steal_pointer(&s), FALSE));
    return 0;
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
            if (add_spice(cl, g, err) < 0)
                return -EINVAL;
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
