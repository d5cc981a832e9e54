/* A hash map from strings to pointers (open addressing, linear probing, tombstones,
 * FNV-1a seeded per map from the CSPRNG so keys a peer chooses cannot be made to
 * collide). Keys are copied; values are borrowed. */
#ifndef CG_COMMON_STRMAP_H
#define CG_COMMON_STRMAP_H

#include <stddef.h>

typedef struct cg_strmap cg_strmap;

cg_strmap *cg_strmap_new(void);
void cg_strmap_free(cg_strmap *m);
void *cg_strmap_get(const cg_strmap *m, const char *key);
/* Inserts or replaces. */
void cg_strmap_set(cg_strmap *m, const char *key, void *value);
/* Removes and returns the value (NULL when absent). */
void *cg_strmap_remove(cg_strmap *m, const char *key);
size_t cg_strmap_size(const cg_strmap *m);

#endif
