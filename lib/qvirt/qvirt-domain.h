/* qvirt: domain handles, their identity, state and info (Sys::Virt::Domain
 * get_name, get_id, get_uuid, get_os_type, get_state, get_info, is_active,
 * is_persistent, get_control_info). Its calls live in lib/domain.c. Included
 * by <qvirt/qvirt.h>; conventions as there. */
#pragma once

#include <qvirt/qvirt.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- domain: handles and identity -------------------------------------- */
QV_PUBLIC void qv_domain_free(qv_domain *dom);
QV_PUBLIC void qv_domain_freep(qv_domain **dom);
QV_PUBLIC const char *qv_domain_get_name(const qv_domain *dom);
/* The id of a running domain, -1 when inactive. */
QV_PUBLIC int qv_domain_get_id(qv_domain *dom);
QV_PUBLIC int qv_domain_get_uuid(qv_domain *dom, unsigned char uuid[16], qv_error **err);
/* buf must hold 37 bytes. */
QV_PUBLIC int qv_domain_get_uuid_string(qv_domain *dom, char buf[37], qv_error **err);
/* *ret receives a string the caller frees with free(). */
QV_PUBLIC int qv_domain_get_os_type(qv_domain *dom, char **ret, qv_error **err);

/* ---- state and info ----------------------------------------------------- */
QV_PUBLIC int qv_domain_get_state(qv_domain *dom, int *state, int *reason, qv_error **err);
typedef struct qv_domain_info {
    int state;                    /* QV_DOMAIN_STATE_* */
    unsigned long long max_mem;   /* KiB */
    unsigned long long memory;    /* KiB */
    unsigned int nr_virt_cpu;
    unsigned long long cpu_time;  /* ns */
} qv_domain_info;
QV_PUBLIC int qv_domain_get_info(qv_domain *dom, qv_domain_info *info, qv_error **err);
/* 1 when true, 0 when false, negative errno on failure. */
QV_PUBLIC int qv_domain_is_active(qv_domain *dom, qv_error **err);
QV_PUBLIC int qv_domain_is_persistent(qv_domain *dom, qv_error **err);
typedef struct qv_domain_control_info {
    unsigned int state;      /* QV_DOMAIN_CONTROL_* */
    unsigned int details;    /* QV_DOMAIN_CONTROL_ERROR_REASON_* when state is ERROR */
    unsigned long long state_time; /* ms spent in the current state (0 for OK) */
} qv_domain_control_info;
QV_PUBLIC int qv_domain_get_control_info(qv_domain *dom, qv_domain_control_info *info,
                                         unsigned int flags, qv_error **err);

#ifdef __cplusplus
}
#endif
