/* QEMU-specific calls (qvirt-qemu.h), as libvirt-qemu.h has them: the raw
 * monitor (virsh qemu-monitor-command). */
#include <errno.h>
#include <string.h>

#include "internal.h"
#include "remote.h"

int qv_domain_qemu_monitor_command(qv_domain *dom, const char *cmd, char **ret,
                                   unsigned int flags, qv_error **err)
{
    QV_REMOTE_DOMAIN(dom, qv_remote__qv_domain_qemu_monitor_command(dom, cmd, ret, flags, err));
    if (!dom || !cmd || !ret)
        return qv_error_set(err, -EINVAL,
                            "qv_domain_qemu_monitor_command: dom, cmd and ret are required");
    if (flags)
        return qv_error_set(err, -EINVAL,
                            "qv_domain_qemu_monitor_command: only QMP (flags 0) is supported; "
                            "use {\"execute\": \"human-monitor-command\"} for HMP");
    g_autoptr(json_object) req = json_tokener_parse(cmd);
    json_object *exec, *args = NULL;
    if (!req || !json_object_is_type(req, json_type_object) ||
        !json_object_object_get_ex(req, "execute", &exec) ||
        !json_object_is_type(exec, json_type_string))
        return qv_error_set(err, -EINVAL,
                            "the monitor command must be a JSON object with an \"execute\" "
                            "string, as in {\"execute\": \"query-status\"}");
    qv_active act;
    int r = qv_domain_require_active(dom, &act, err);
    if (r < 0)
        return r;
    if (json_object_object_get_ex(req, "arguments", &args))
        json_object_get(args);
    g_autoptr(json_object) result = NULL;
    qv_error *lerr = NULL;
    r = qv_domain_qmp_call(dom, json_object_get_string(exec), args, &result, &lerr);
    g_autoptr(json_object) reply = json_object_new_object();
    if (r < 0) {
        if (!qv_error_qmp_class(lerr))
            return qv_error_propagate(err, lerr);
        /* QEMU's own error reply is a result, as virsh shows it. */
        json_object *e = json_object_new_object();
        json_object_object_add(e, "class", json_object_new_string(qv_error_qmp_class(lerr)));
        json_object_object_add(e, "desc", json_object_new_string(
                                              qv_error_qmp_desc(lerr) ? qv_error_qmp_desc(lerr) : ""));
        json_object_object_add(reply, "error", e);
        qv_error_free(lerr);
    } else {
        json_object_object_add(reply, "return", result ? json_object_get(result) : json_object_new_object());
    }
    *ret = strdup(json_object_to_json_string_ext(reply, JSON_C_TO_STRING_PLAIN));
    return 0;
}
