/* String-keyed hash map. See strmap.h. The table doubles when live entries plus
 * tombstones pass 3/4 of it, so a probe always ends at an empty slot. */
#include "common/strmap.h"

#include <openssl/rand.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/util.h"

#define TOMBSTONE ((char *)1)

typedef struct slot {
    char *key; /* NULL: empty; TOMBSTONE: removed */
    void *value;
} slot;

struct cg_strmap {
    slot *slots;
    size_t cap;        /* a power of two */
    size_t live, used; /* used = live + tombstones */
    uint64_t seed;
};

static uint64_t hash(const cg_strmap *m, const char *key)
{
    uint64_t h = 0xcbf29ce484222325ull ^ m->seed;
    for (const unsigned char *p = (const unsigned char *)key; *p; p++) {
        h ^= *p;
        h *= 0x100000001b3ull;
    }
    return h ^ (h >> 29);
}

cg_strmap *cg_strmap_new(void)
{
    cg_strmap *m = cg_xcalloc(1, sizeof *m);
    m->cap = 16;
    m->slots = cg_xcalloc(m->cap, sizeof *m->slots);
    if (RAND_bytes((unsigned char *)&m->seed, sizeof m->seed) != 1) abort();
    return m;
}

void cg_strmap_free(cg_strmap *m)
{
    if (!m) return;
    for (size_t i = 0; i < m->cap; i++)
        if (m->slots[i].key && m->slots[i].key != TOMBSTONE) free(m->slots[i].key);
    free(m->slots);
    free(m);
}

/* The slot holding key, or NULL. */
static slot *find(const cg_strmap *m, const char *key)
{
    size_t mask = m->cap - 1;
    for (size_t i = hash(m, key) & mask;; i = (i + 1) & mask) {
        slot *s = &m->slots[i];
        if (!s->key) return NULL;
        if (s->key != TOMBSTONE && strcmp(s->key, key) == 0) return s;
    }
}

void *cg_strmap_get(const cg_strmap *m, const char *key)
{
    slot *s = find(m, key);
    return s ? s->value : NULL;
}

static void insert_new(cg_strmap *m, char *key, void *value)
{
    size_t mask = m->cap - 1;
    size_t i = hash(m, key) & mask;
    while (m->slots[i].key && m->slots[i].key != TOMBSTONE)
        i = (i + 1) & mask;
    if (!m->slots[i].key) m->used++;
    m->slots[i].key = key;
    m->slots[i].value = value;
    m->live++;
}

static void grow(cg_strmap *m)
{
    slot *old = m->slots;
    size_t old_cap = m->cap;
    if (m->live * 2 >= m->cap) m->cap *= 2; /* else same size: just drop the tombstones */
    m->slots = cg_xcalloc(m->cap, sizeof *m->slots);
    m->live = m->used = 0;
    for (size_t i = 0; i < old_cap; i++)
        if (old[i].key && old[i].key != TOMBSTONE) insert_new(m, old[i].key, old[i].value);
    free(old);
}

void cg_strmap_set(cg_strmap *m, const char *key, void *value)
{
    slot *s = find(m, key);
    if (s) {
        s->value = value;
        return;
    }
    if ((m->used + 1) * 4 > m->cap * 3) grow(m);
    insert_new(m, cg_strdup(key), value);
}

void *cg_strmap_remove(cg_strmap *m, const char *key)
{
    slot *s = find(m, key);
    if (!s) return NULL;
    void *value = s->value;
    free(s->key);
    s->key = TOMBSTONE;
    s->value = NULL;
    m->live--;
    return value;
}

size_t cg_strmap_size(const cg_strmap *m)
{
    return m->live;
}
