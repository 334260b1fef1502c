/* qvirt: the lifecycle of domains (Sys::Virt::Domain create, suspend,
 * resume, destroy, shutdown, reboot, reset, undefine). Its calls live in
 * lib/lifecycle.c. Included by <qvirt/qvirt.h>; conventions as there. */
#pragma once

#include <qvirt/qvirt.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- lifecycle --------------------------------------------------------- */
QV_PUBLIC int qv_domain_create(qv_domain *dom, unsigned int flags, qv_error **err);
QV_PUBLIC int qv_domain_create_with_files(qv_domain *dom, const int *fds, unsigned int nfds,
                                          unsigned int flags, qv_error **err);
QV_PUBLIC int qv_domain_suspend(qv_domain *dom, qv_error **err);
QV_PUBLIC int qv_domain_resume(qv_domain *dom, qv_error **err);
QV_PUBLIC int qv_domain_destroy(qv_domain *dom, unsigned int flags, qv_error **err);
QV_PUBLIC int qv_domain_shutdown(qv_domain *dom, unsigned int flags, qv_error **err);
QV_PUBLIC int qv_domain_reboot(qv_domain *dom, unsigned int flags, qv_error **err);
QV_PUBLIC int qv_domain_reset(qv_domain *dom, unsigned int flags, qv_error **err);
QV_PUBLIC int qv_domain_undefine(qv_domain *dom, unsigned int flags, qv_error **err);

#ifdef __cplusplus
}
#endif
