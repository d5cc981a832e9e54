/* Document deltas: RFC 7396 JSON Merge Patch, and which leaves two documents differ in.
 *
 * Merge patch: an object patch merges member by member, a null member deletes, anything
 * else (arrays included) replaces. Neither input is modified.
 *
 * Changed paths: objects are descended on both sides; every other value is a leaf, so a
 * changed array is one path. A leaf present on one side only counts as changed; an
 * object replaced by a scalar (or the reverse) lists the object's leaves and the scalar. */
#include <stdlib.h>

#include "config/config_internal.h"

json_t *cg_json_merge_patch(const json_t *target, const json_t *patch)
{
    if (!json_is_object(patch)) return json_deep_copy(patch);
    json_t *result = json_is_object(target) ? json_deep_copy(target) : json_object();
    const char *key;
    json_t *value;
    json_object_foreach((json_t *)patch, key, value)
    {
        if (json_is_null(value)) {
            json_object_del(result, key);
            continue;
        }
        json_object_set_new(result, key, cg_json_merge_patch(json_object_get(result, key), value));
    }
    return result;
}

static void list_leaves(const json_t *value, const char *path, json_t *out)
{
    if (!json_is_object(value) || json_object_size(value) == 0) {
        json_array_append_new(out, json_string(path));
        return;
    }
    const char *key;
    json_t *member;
    json_object_foreach((json_t *)value, key, member)
    {
        char *child = cg_config_path_join(path, key);
        list_leaves(member, child, out);
        free(child);
    }
}

void cg_json_changed_paths(const json_t *a, const json_t *b, const char *path, json_t *out)
{
    if (json_is_object(a) && json_is_object(b)) {
        const char *key;
        json_t *member;
        json_object_foreach((json_t *)a, key, member)
        {
            char *child = cg_config_path_join(path, key);
            cg_json_changed_paths(member, json_object_get(b, key), child, out);
            free(child);
        }
        json_object_foreach((json_t *)b, key, member)
        {
            if (json_object_get(a, key)) continue;
            char *child = cg_config_path_join(path, key);
            list_leaves(member, child, out);
            free(child);
        }
        return;
    }
    if (a && b && json_equal((json_t *)a, (json_t *)b)) return;
    if (a) list_leaves(a, path, out);
    if (b && !(a && !json_is_object(a) && !json_is_object(b))) list_leaves(b, path, out);
}
