/* The guest agent channel of a domain: one command at a time under
 * agent.lock, on a fresh connection to the channel's socket. */
#include <errno.h>

#include "internal.h"

/* agent.lock: another process's guest-agent command. */
#define QV_AGENT_LOCK_MS 30000

/* The socket of the guest agent channel, from the live definition. */
int qv_domain_agent_call(qv_domain *dom, const char *cmd, json_object *args, int timeout_ms,
                      json_object **ret, qv_error **err)
{
    const qv_domdef *def;
    int r = qv_domain_get_def(dom, &def, err);
    if (r < 0) {
        json_object_put(args);
        return r;
    }
    g_autofree char *dir = qv_rt_domain_dir(&dom->conn->paths, dom->name);
    g_autofree char *path = qv_domdef_agent_socket(def, dir);
    if (!path) {
        json_object_put(args);
        return qv_error_set(err, -ENOTSUP,
                            "domain '%s' has no guest agent channel "
                            "(<channel type='unix'><target type='virtio' "
                            "name='org.qemu.guest_agent.0'/></channel>)", dom->name);
    }
    g_autofree char *lock_path = qv_domain_file(dom, QV_RT_RUN_AGENT_LOCK);
    int lock = qv_rt_lock(lock_path, QV_AGENT_LOCK_MS, err);
    if (lock < 0) {
        json_object_put(args);
        return lock == -ETIMEDOUT
                   ? qv_error_set(err, -EBUSY, "domain '%s': the guest agent is busy", dom->name)
                   : lock;
    }
    qv_qmp *ga = NULL;
    qv_error *lerr = NULL;
    r = qv_qmp_connect_path(path, QV_QMP_MODE_AGENT, timeout_ms, &ga, &lerr);
    if (r < 0) {
        qv_rt_unlock(lock);
        json_object_put(args);
        r = qv_error_set(err, r == -ETIMEDOUT ? -ETIMEDOUT : -ENOTCONN,
                         r == -ETIMEDOUT ? "domain '%s': the guest agent is not responding"
                                         : "domain '%s': the guest agent is not connected (%s)",
                         dom->name, qv_error_message(lerr));
        qv_error_free(lerr);
        return r;
    }
    r = qv_qmp_call(ga, cmd, args, timeout_ms, ret, &lerr);
    qv_qmp_free(ga);
    qv_rt_unlock(lock);
    if (r == -ETIMEDOUT) {
        qv_error_free(lerr);
        return qv_error_set(err, -ETIMEDOUT, "domain '%s': the guest agent is not responding",
                            dom->name);
    }
    if (r < 0)
        return qv_error_propagate(err, lerr);
    return r;
}
