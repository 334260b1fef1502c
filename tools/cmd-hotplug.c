/* qvirt device hotplug commands: attach-device, detach-device,
 * update-device and change-media, with virsh's options and messages
 * (tools/virsh-domain.c in libvirt 9). */
#include <errno.h>
#include <string.h>
#include <libxml/parser.h>
#include <libxml/xpath.h>

#include "cli.h"

/* --live/--config/--current, plus virsh's --persistent: the config, and the
 * running domain too when it runs. */
static bool modify_flags(const cli_args *args, qv_domain *dom, bool with_force, unsigned int *flags)
{
    if (!cli_affect_flags(args, flags))
        return false;
    if (cli_has(args, "persistent")) {
        if (cli_has(args, "current")) {
            cli_error("Options --current and --persistent are mutually exclusive");
            return false;
        }
        *flags |= QV_DOMAIN_DEVICE_MODIFY_CONFIG;
        if (qv_domain_is_active(dom, NULL) > 0)
            *flags |= QV_DOMAIN_DEVICE_MODIFY_LIVE;
    }
    if (with_force && cli_has(args, "force"))
        *flags |= QV_DOMAIN_DEVICE_MODIFY_FORCE;
    return true;
}

typedef int (*device_fn)(qv_domain *, const char *, unsigned int, qv_error **);

static bool run_device_cmd(cli_ctx *ctx, const cli_args *args, device_fn fn, bool with_force,
                           const char *failed, const char *done)
{
    g_autoptr(qv_domain) dom = cli_domain_arg(ctx, args);
    if (!dom)
        return false;
    unsigned int flags;
    if (!modify_flags(args, dom, with_force, &flags))
        return false;
    const char *file = cli_str(args, "file");
    g_autofree char *xml = NULL;
    g_autoptr(GError) gerr = NULL;
    if (!g_file_get_contents(file, &xml, NULL, &gerr)) {
        cli_error("Failed to read file '%s' to %s: %s", file, failed, gerr->message);
        return false;
    }
    g_autoptr(qv_error) err = NULL;
    if (fn(dom, xml, flags, &err) < 0) {
        g_autofree char *fallback = g_strdup_printf("Failed to %s from %s", failed, file);
        cli_error_qv(err, fallback);
        return false;
    }
    cli_info(ctx, "%s\n", done);
    return true;
}

static bool cmd_attach_device(cli_ctx *ctx, const cli_args *args)
{
    return run_device_cmd(ctx, args, qv_domain_attach_device, false, "attach device", "Device attached successfully");
}

static bool cmd_detach_device(cli_ctx *ctx, const cli_args *args)
{
    return run_device_cmd(ctx, args, qv_domain_detach_device, false, "detach device", "Device detached successfully");
}

static bool cmd_update_device(cli_ctx *ctx, const cli_args *args)
{
    return run_device_cmd(ctx, args, qv_domain_update_device, true, "update device", "Device updated successfully");
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC(xmlXPathContext, xmlXPathFreeContext)
G_DEFINE_AUTOPTR_CLEANUP_FUNC(xmlXPathObject, xmlXPathFreeObject)

/* The <disk> element whose target or source file is path, serialised with
 * its <source> replaced by source (NULL: no medium), like virsh builds the
 * update XML from the domain's own disk. */
static char *media_xml(const char *domxml, const char *path, const char *source, bool *found_source)
{
    g_autoptr(xmlDoc) doc = xmlReadMemory(domxml, (int)strlen(domxml), "domain.xml", NULL,
                                          XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
    if (!doc)
        return NULL;
    g_autoptr(xmlXPathContext) xp = xmlXPathNewContext(doc);
    xmlNode *disk = NULL;
    g_autoptr(xmlXPathObject) res = xmlXPathEvalExpression((const xmlChar *)"/domain/devices/disk", xp);
    for (int i = 0; res && res->nodesetval && i < res->nodesetval->nodeNr && !disk; i++) {
        xmlNode *d = res->nodesetval->nodeTab[i];
        for (xmlNode *c = d->children; c; c = c->next) {
            if (c->type != XML_ELEMENT_NODE)
                continue;
            const char *attr = !strcmp((const char *)c->name, "target") ? "dev"
                             : !strcmp((const char *)c->name, "source") ? "file" : NULL;
            g_autofree xmlChar *v = attr ? xmlGetProp(c, (const xmlChar *)attr) : NULL;
            if (v && !strcmp((const char *)v, path))
                disk = d;
        }
    }
    if (!disk)
        return NULL;
    *found_source = false;
    for (xmlNode *c = disk->children, *next; c; c = next) {
        next = c->next;
        if (c->type == XML_ELEMENT_NODE && !strcmp((const char *)c->name, "source")) {
            *found_source = true;
            xmlUnlinkNode(c);
            xmlFreeNode(c);
        }
    }
    if (source) {
        xmlNode *s = xmlNewChild(disk, NULL, (const xmlChar *)"source", NULL);
        xmlSetProp(s, (const xmlChar *)"file", (const xmlChar *)source);
        xmlSetProp(disk, (const xmlChar *)"type", (const xmlChar *)"file");
    }
    xmlBuffer *buf = xmlBufferCreate();
    xmlNodeDump(buf, doc, disk, 0, 0);
    char *out = g_strdup((const char *)xmlBufferContent(buf));
    xmlBufferFree(buf);
    return out;
}

static bool cmd_change_media(cli_ctx *ctx, const cli_args *args)
{
    bool eject = cli_has(args, "eject"), insert = cli_has(args, "insert"), update = cli_has(args, "update");
    if (eject + insert + update > 1) {
        cli_error("Options --eject, --insert and --update are mutually exclusive");
        return false;
    }
    const char *path = cli_str(args, "path"), *source = cli_str(args, "source");
    if (!eject && !insert && !update)
        update = true;
    if (eject && source) {
        cli_error("Source is not allowed with --eject");
        return false;
    }
    if (insert && !source) {
        cli_error("No source is specified for inserting media");
        return false;
    }
    if (update && !source)
        eject = true, update = false;
    g_autoptr(qv_domain) dom = cli_domain_arg(ctx, args);
    if (!dom)
        return false;
    unsigned int flags;
    if (!modify_flags(args, dom, true, &flags))
        return false;
    g_autoptr(qv_error) err = NULL;
    g_autofree char *domxml = NULL;
    unsigned int xflags = (flags & QV_DOMAIN_DEVICE_MODIFY_CONFIG) && !(flags & QV_DOMAIN_DEVICE_MODIFY_LIVE)
                          ? QV_DOMAIN_XML_INACTIVE : 0;
    if (qv_domain_get_xml_description(dom, xflags, &domxml, &err) < 0) {
        cli_error_qv(err, "Failed to get domain XML");
        return false;
    }
    bool had = false;
    g_autofree char *xml = media_xml(domxml, path, eject ? NULL : source, &had);
    if (!xml) {
        cli_error("No disk found whose source path or target is %s", path);
        return false;
    }
    if (eject && !had) {
        cli_error("The disk device '%s' doesn't have media", path);
        return false;
    }
    if (insert && had) {
        cli_error("The disk device '%s' already has media", path);
        return false;
    }
    if (qv_domain_update_device(dom, xml, flags, &err) < 0) {
        cli_error_qv(err, eject ? "Failed to complete action eject on media"
                            : insert ? "Failed to complete action insert on media"
                                     : "Failed to complete action update on media");
        return false;
    }
    cli_info(ctx, "%s\n", eject ? "Successfully ejected media." : insert ? "Successfully inserted media."
                                                                  : "Successfully updated media.");
    return true;
}

#define OPT_DOMAIN { "domain", CLI_OPT_STRING, true, true, "domain name, id or uuid" }
#define OPT_MODIFY \
    { "persistent", CLI_OPT_BOOL, false, false, "make live change persistent" }, \
    { "config", CLI_OPT_BOOL, false, false, "affect next boot" }, \
    { "live", CLI_OPT_BOOL, false, false, "affect running domain" }, \
    { "current", CLI_OPT_BOOL, false, false, "affect current domain" }

static const cli_opt opts_attach[] = {
    OPT_DOMAIN,
    { "file", CLI_OPT_STRING, true, true, "XML file" },
    OPT_MODIFY,
    { NULL },
};
static const cli_opt opts_update[] = {
    OPT_DOMAIN,
    { "file", CLI_OPT_STRING, true, true, "XML file" },
    OPT_MODIFY,
    { "force", CLI_OPT_BOOL, false, false, "force device update" },
    { NULL },
};
static const cli_opt opts_change_media[] = {
    OPT_DOMAIN,
    { "path", CLI_OPT_STRING, true, true, "Fully-qualified path or target of disk device" },
    { "source", CLI_OPT_STRING, true, false, "source of the media" },
    { "eject", CLI_OPT_BOOL, false, false, "Eject the media" },
    { "insert", CLI_OPT_BOOL, false, false, "Insert the media" },
    { "update", CLI_OPT_BOOL, false, false, "Update the media" },
    { "force", CLI_OPT_BOOL, false, false, "force media changing" },
    OPT_MODIFY,
    { NULL },
};

const cli_cmd cli_hotplug_cmds[] = {
    { "attach-device", cmd_attach_device, opts_attach, "attach device from an XML file", false },
    { "change-media", cmd_change_media, opts_change_media, "Change media of CD or floppy drive", false },
    { "detach-device", cmd_detach_device, opts_attach, "detach device from an XML file", false },
    { "update-device", cmd_update_device, opts_update, "update device from an XML file", false },
    { NULL },
};
