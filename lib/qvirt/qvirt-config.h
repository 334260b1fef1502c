/* qvirt: the configuration of domains: XML, metadata, autostart
 * (Sys::Virt::Domain get_xml_description, get/set_metadata,
 * get/set_autostart, is_updated). Its calls live in lib/config.c. Included
 * by <qvirt/qvirt.h>; conventions as there. */
#pragma once

#include <qvirt/qvirt.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- XML and metadata -------------------------------------------------- */
/* *ret receives the XML; the caller frees it with free(). */
QV_PUBLIC int qv_domain_get_xml_description(qv_domain *dom, unsigned int flags, char **ret,
                                            qv_error **err);
/* type: QV_DOMAIN_METADATA_*; for ELEMENT, uri names the namespace. *ret is
 * freed with free(). -ENOENT when there is no such metadata. */
QV_PUBLIC int qv_domain_get_metadata(qv_domain *dom, int type, const char *uri,
                                     unsigned int flags, char **ret, qv_error **err);
/* value NULL removes. For ELEMENT, key is the namespace prefix and uri the
 * namespace; value is one XML element. */
QV_PUBLIC int qv_domain_set_metadata(qv_domain *dom, int type, const char *value,
                                     const char *key, const char *uri, unsigned int flags,
                                     qv_error **err);

/* ---- autostart ----------------------------------------------------------- */
QV_PUBLIC int qv_domain_get_autostart(qv_domain *dom, int *autostart, qv_error **err);
QV_PUBLIC int qv_domain_set_autostart(qv_domain *dom, int autostart, qv_error **err);
/* 1 when the persistent config differs from the running definition. */
QV_PUBLIC int qv_domain_is_updated(qv_domain *dom, qv_error **err);

#ifdef __cplusplus
}
#endif
