/* Small questions the library asks of a domain definition. */
#include <string.h>

#include "domdef.h"
#include "internal.h"

char *qv_domdef_agent_socket(const qv_domdef *def, const char *runtime_dir)
{
    for (guint i = 0; def->chrs && i < def->chrs->len; i++) {
        const qv_domdef_chr *c = def->chrs->pdata[i];
        if (c->kind != QV_CHR_CHANNEL || !c->target_name ||
            strcmp(c->target_name, "org.qemu.guest_agent.0") || c->src.type != QV_CHR_UNIX)
            continue;
        if (c->src.path)
            return g_strdup(c->src.path);
        /* The builder's default place for a channel socket without a path. */
        return g_strdup_printf("%s/%s.sock", runtime_dir, c->target_name);
    }
    return NULL;
}

const char *qv_domdef_balloon_alias(const qv_domdef *def)
{
    if (!def->memballoon || !def->memballoon->model || strcmp(def->memballoon->model, "virtio"))
        return NULL;
    return def->memballoon->alias ? def->memballoon->alias : "balloon0";
}

GPtrArray *qv_domdef_display_socket_args(const qv_domdef *def, const char *runtime_dir)
{
    GPtrArray *args = g_ptr_array_new_with_free_func(g_free);
    for (guint i = 0; def->graphics && i < def->graphics->len; i++) {
        const qv_domdef_graphics *g = def->graphics->pdata[i];
        g_autofree char *path = qv_domdef_display_socket(g, runtime_dir);
        if (path)
            g_ptr_array_add(args, g_strdup_printf("--display-socket=%s:%s",
                                                  g->type == QV_GFX_VNC ? "vnc" : "spice", path));
    }
    return args;
}
