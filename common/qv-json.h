/* json-c helpers shared by every layer that speaks JSON (qmp/, domxml/,
 * lib/): the one autoptr definition for json_object and the one set of
 * member getters. Header-only, so a user needs json-c and nothing more. */
#pragma once
#include <glib.h>
#include <json-c/json.h>

G_DEFINE_AUTOPTR_CLEANUP_FUNC(json_object, json_object_put)

/* The member key of o, or NULL (o may be NULL). */
static inline json_object *qv_json_get(json_object *o, const char *key)
{
    json_object *v;
    return o && json_object_object_get_ex(o, key, &v) ? v : NULL;
}

/* The member key of o when it is a string, else NULL (o may be NULL). */
static inline const char *qv_json_get_str(json_object *o, const char *key)
{
    json_object *v = qv_json_get(o, key);
    return v && json_object_is_type(v, json_type_string) ? json_object_get_string(v) : NULL;
}

/* The member key of o as an integer, or dflt when o has no such member
 * (or it is null). */
static inline long long qv_json_get_int(json_object *o, const char *key, long long dflt)
{
    json_object *v = qv_json_get(o, key);
    return v ? (long long)json_object_get_int64(v) : dflt;
}
