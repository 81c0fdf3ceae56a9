/* SPDX-License-Identifier: MIT */
/* CLIP's byte-level BPE tokenizer, as OpenAI's simple_tokenizer.py and Hugging Face's
 * CLIPTokenizer encode: clean-up, lower-casing, the pre-tokenisation regex, byte->unicode
 * mapping, BPE merges by rank with "</w>" word ends, start/end tokens. Without ftfy (we have
 * none); see gh_clip_tokenize below for what the clean-up does and does not do. */
#include "gh/clip.h"

#include "gh/alloc.h"
#include "gh/file.h"

#include "unicode_data.h"

#include <jansson.h>
#include <zlib.h>

#include <errno.h>
#include <stdint.h>
#include <string.h>

/* Word pieces longer than this (bytes) are cut: BPE is quadratic in a word's length and a
 * pre-token this long (4 KB of letters with no space, punctuation or digit) is not text. */
#define WORD_MAX 4096
/* Vocabulary files: the real ones are 1.3-2.6 MB. */
#define FILE_MAX ((size_t)64 << 20)
/* simple_tokenizer: merges = lines[1 : 49152 - 256 - 2 + 1] */
#define GZ_MERGES (49152 - 256 - 2)

#define NO_RANK INT32_MAX

struct pair_slot {
    uint64_t key; /* (first id << 32) | second id; EMPTY_KEY when unused */
    int32_t rank;
    int32_t id; /* the merged symbol */
};

#define EMPTY_KEY UINT64_MAX

struct gh_clip_tokenizer {
    int32_t byte_id[256];     /* the byte's symbol inside a word */
    int32_t byte_eow_id[256]; /* the byte's symbol ending a word ("x</w>") */
    int32_t sot, eot;
    struct pair_slot *pairs; /* open addressing, pairs_cap a power of two */
    size_t pairs_cap;
};

/* ---- Unicode ---- */

static int in_ranges(const uint32_t (*r)[2], size_t n, uint32_t cp)
{
    size_t lo = 0, hi = n;

    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;

        if (cp < r[mid][0])
            hi = mid;
        else if (cp > r[mid][1])
            lo = mid + 1;
        else
            return 1;
    }
    return 0;
}

#define IN(table, cp) in_ranges(table, sizeof table / sizeof table[0], cp)

static int is_letter(uint32_t cp)
{
    return IN(uc_letter, cp);
}

static int is_number(uint32_t cp)
{
    return IN(uc_number, cp);
}

static int is_space(uint32_t cp)
{
    return IN(uc_space, cp);
}

/* Python's str.lower() for one code point that maps to one code point. */
static uint32_t lower1(uint32_t cp)
{
    size_t lo = 0, hi = sizeof uc_lower / sizeof uc_lower[0];

    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        const int32_t *r = uc_lower[mid];

        if (cp < (uint32_t)r[0])
            hi = mid;
        else if (cp > (uint32_t)r[1])
            lo = mid + 1;
        else
            return (cp - (uint32_t)r[0]) % (uint32_t)r[2] == 0 ? (uint32_t)((int32_t)cp + r[3])
                                                               : cp;
    }
    return cp;
}

/* One code point of s[*pos..len) as Python's bytes.decode("utf-8", "replace") reads it: each
 * maximal ill-formed subpart becomes one U+FFFD (Unicode 15, 3.9 "best practice"). */
static uint32_t utf8_next(const uint8_t *s, size_t len, size_t *pos)
{
    size_t i = *pos;
    uint32_t c = s[i], cp;
    int need;
    uint8_t lo = 0x80, hi = 0xbf;

    if (c < 0x80) {
        *pos = i + 1;
        return c;
    }
    if (c >= 0xc2 && c <= 0xdf) {
        need = 1;
        cp = c & 0x1f;
    } else if (c >= 0xe0 && c <= 0xef) {
        need = 2;
        cp = c & 0x0f;
        lo = c == 0xe0 ? 0xa0 : 0x80;
        hi = c == 0xed ? 0x9f : 0xbf;
    } else if (c >= 0xf0 && c <= 0xf4) {
        need = 3;
        cp = c & 0x07;
        lo = c == 0xf0 ? 0x90 : 0x80;
        hi = c == 0xf4 ? 0x8f : 0xbf;
    } else {
        *pos = i + 1;
        return 0xfffd;
    }
    i++;
    for (int k = 0; k < need; k++, i++) {
        if (i >= len || s[i] < lo || s[i] > hi) {
            *pos = i;
            return 0xfffd;
        }
        cp = (cp << 6) | (s[i] & 0x3fu);
        lo = 0x80;
        hi = 0xbf;
    }
    *pos = i;
    return cp;
}

static size_t utf8_put(uint32_t cp, uint8_t *out)
{
    if (cp < 0x80) {
        out[0] = (uint8_t)cp;
        return 1;
    }
    if (cp < 0x800) {
        out[0] = (uint8_t)(0xc0 | (cp >> 6));
        out[1] = (uint8_t)(0x80 | (cp & 0x3f));
        return 2;
    }
    if (cp < 0x10000) {
        out[0] = (uint8_t)(0xe0 | (cp >> 12));
        out[1] = (uint8_t)(0x80 | ((cp >> 6) & 0x3f));
        out[2] = (uint8_t)(0x80 | (cp & 0x3f));
        return 3;
    }
    out[0] = (uint8_t)(0xf0 | (cp >> 18));
    out[1] = (uint8_t)(0x80 | ((cp >> 12) & 0x3f));
    out[2] = (uint8_t)(0x80 | ((cp >> 6) & 0x3f));
    out[3] = (uint8_t)(0x80 | (cp & 0x3f));
    return 4;
}

/* The lower-cased text as a stream of code points with a little look-ahead, so encoding needs
 * no heap and no copy of the text. */
struct lstream {
    const uint8_t *s;
    size_t len, pos;
    int prev_cased; /* Final_Sigma: the last code point that is not case-ignorable was cased */
    uint32_t ring[32];
    unsigned head, count;
};

/* Python lowers U+03A3 to final sigma when a cased letter precedes it and none follows
 * (skipping case-ignorable code points both ways; CPython's handle_capital_sigma). */
static uint32_t lower_sigma(const struct lstream *ls)
{
    size_t p = ls->pos;

    if (!ls->prev_cased)
        return 0x3c3;
    while (p < ls->len) {
        uint32_t c = utf8_next(ls->s, ls->len, &p);

        if (!IN(uc_case_ignorable, c))
            return IN(uc_cased, c) ? 0x3c3 : 0x3c2;
    }
    return 0x3c2;
}

static void ls_push(struct lstream *ls, uint32_t cp)
{
    ls->ring[(ls->head + ls->count++) % 32] = cp;
}

/* The k-th code point ahead (k < 30), or -1 past the end. */
static int64_t ls_peek(struct lstream *ls, unsigned k)
{
    while (ls->count <= k && ls->pos < ls->len) {
        uint32_t cp = utf8_next(ls->s, ls->len, &ls->pos);

        if (cp == 0x130) { /* the one lower case of two code points: "i" + combining dot */
            ls_push(ls, 'i');
            ls_push(ls, 0x307);
        } else {
            ls_push(ls, cp == 0x3a3 ? lower_sigma(ls) : lower1(cp));
        }
        if (!IN(uc_case_ignorable, cp))
            ls->prev_cased = IN(uc_cased, cp);
    }
    return k < ls->count ? (int64_t)ls->ring[(ls->head + k) % 32] : -1;
}

static void ls_drop(struct lstream *ls, unsigned k)
{
    ls->head = (ls->head + k) % 32;
    ls->count -= k;
}

/* Whether the text ahead is lit as the pattern (IGNORECASE) sees it: 0 no, 1 exactly, 2 with
 * U+017F (long s, which case-folds to "s") standing for an "s". */
static int ls_match(struct lstream *ls, const char *lit)
{
    int how = 1;

    for (unsigned k = 0; lit[k]; k++) {
        int64_t c = ls_peek(ls, k);

        if (c == 0x17f && lit[k] == 's')
            how = 2;
        else if (c != (unsigned char)lit[k])
            return 0;
    }
    return how;
}

/* Moves k code points from ls into word as UTF-8. */
static void take(struct lstream *ls, unsigned k, uint8_t *word, size_t *m)
{
    for (unsigned i = 0; i < k; i++)
        *m += utf8_put((uint32_t)ls_peek(ls, 0), word + *m), ls_drop(ls, 1);
}

/* ---- BPE ---- */

static uint64_t pair_key(int32_t a, int32_t b)
{
    return (uint64_t)(uint32_t)a << 32 | (uint32_t)b;
}

static size_t pair_hash(uint64_t k)
{
    k ^= k >> 33;
    k *= 0xff51afd7ed558ccdULL;
    k ^= k >> 33;
    return (size_t)k;
}

static const struct pair_slot *pair_find(const struct gh_clip_tokenizer *t, int32_t a, int32_t b)
{
    uint64_t key = pair_key(a, b);
    size_t mask = t->pairs_cap - 1;

    if (a < 0 || b < 0)
        return NULL;
    for (size_t i = pair_hash(key) & mask;; i = (i + 1) & mask) {
        if (t->pairs[i].key == key)
            return &t->pairs[i];
        if (t->pairs[i].key == EMPTY_KEY)
            return NULL;
    }
}

static int32_t pair_rank(const struct gh_clip_tokenizer *t, int32_t a, int32_t b)
{
    const struct pair_slot *s = pair_find(t, a, b);

    return s ? s->rank : NO_RANK;
}

struct bpe_work {
    int32_t sym[WORD_MAX];
    int32_t rank[WORD_MAX]; /* rank[i]: of the pair (sym[i], sym[i + 1]) */
    uint8_t fresh[WORD_MAX];
};

/* simple_tokenizer's bpe(): repeatedly merge every occurrence (left to right) of the adjacent
 * pair with the lowest rank. Only pairs next to a new symbol need a new rank look-up. Returns
 * the number of symbols in w->sym. */
static size_t bpe(const struct gh_clip_tokenizer *t, const uint8_t *word, size_t m,
                  struct bpe_work *w)
{
    size_t n = m;

    for (size_t i = 0; i < m; i++)
        w->sym[i] = i + 1 < m ? t->byte_id[word[i]] : t->byte_eow_id[word[i]];
    for (size_t i = 0; i + 1 < n; i++)
        w->rank[i] = pair_rank(t, w->sym[i], w->sym[i + 1]);
    while (n > 1) {
        int32_t best = NO_RANK, a, b, merged;
        size_t bi = 0, j = 0;

        for (size_t i = 0; i + 1 < n; i++)
            if (w->rank[i] < best) {
                best = w->rank[i];
                bi = i;
            }
        if (best == NO_RANK)
            break;
        a = w->sym[bi];
        b = w->sym[bi + 1];
        merged = pair_find(t, a, b)->id;
        for (size_t i = 0; i < n; j++) {
            if (i + 1 < n && w->sym[i] == a && w->sym[i + 1] == b) {
                w->sym[j] = merged;
                w->fresh[j] = 1;
                i += 2;
            } else {
                /* j <= i: the old rank of (i, i + 1) still holds for (j, j + 1) when neither
                 * symbol is new */
                w->sym[j] = w->sym[i];
                w->rank[j] = i + 1 < n ? w->rank[i] : NO_RANK;
                w->fresh[j] = 0;
                i++;
            }
        }
        n = j;
        for (size_t i = 0; i + 1 < n; i++)
            if (w->fresh[i] || w->fresh[i + 1])
                w->rank[i] = pair_rank(t, w->sym[i], w->sym[i + 1]);
    }
    return n;
}

/* ---- encoding ---- */

struct emit {
    int32_t *ids;
    size_t n, limit; /* limit: ids before the end token */
};

static void emit_id(struct emit *e, int32_t id)
{
    if (e->n < e->limit)
        e->ids[e->n++] = id;
}

static void emit_word(const struct gh_clip_tokenizer *t, const uint8_t *word, size_t m,
                      struct bpe_work *w, struct emit *e)
{
    size_t n;

    if (m == 0)
        return;
    n = bpe(t, word, m, w);
    for (size_t i = 0; i < n; i++)
        emit_id(e, w->sym[i] >= 0 ? w->sym[i] : t->eot); /* unknown: CLIPTokenizer's unk */
}

/* The next pre-token's code points are taken from ls into word (UTF-8, cut at WORD_MAX);
 * returns 0 at the end. Mirrors findall() of
 * <\|startoftext\|>|<\|endoftext\|>|'s|'t|'re|'ve|'m|'ll|'d|[\p{L}]+|[\p{N}]|[^\s\p{L}\p{N}]+
 * special is set to the id of a special token instead. */
static int next_piece(const struct gh_clip_tokenizer *t, struct lstream *ls, uint8_t *word,
                      size_t *m, int32_t *special)
{
    int64_t c;

    *m = 0;
    *special = -1;
    while ((c = ls_peek(ls, 0)) >= 0 && is_space((uint32_t)c))
        ls_drop(ls, 1);
    if (c < 0)
        return 0;
    if (c == '<') {
        int sot = ls_match(ls, "<|startoftext|>"), eot = sot ? 0 : ls_match(ls, "<|endoftext|>");

        if (sot == 1 || eot == 1) { /* simple_tokenizer's cache maps these to their ids */
            ls_drop(ls, sot ? 15 : 13);
            *special = sot ? t->sot : t->eot;
            return 1;
        }
        if (sot || eot) { /* "<|ſtartoftext|>": the pattern matches it, but as plain text */
            take(ls, sot ? 15 : 13, word, m);
            return 1;
        }
    }
    if (c == '\'') {
        static const char *const contractions[] = {"'s", "'t", "'re", "'ve", "'m", "'ll", "'d"};

        for (size_t k = 0; k < sizeof contractions / sizeof contractions[0]; k++)
            if (ls_match(ls, contractions[k])) {
                take(ls, (unsigned)strlen(contractions[k]), word, m);
                return 1;
            }
    }
    if (is_number((uint32_t)c)) {
        *m = utf8_put((uint32_t)c, word);
        ls_drop(ls, 1);
        return 1;
    }
    /* a run of letters, or a run of neither letters, numbers nor spaces */
    for (int letters = is_letter((uint32_t)c);;) {
        uint32_t u = (uint32_t)c;

        if (letters ? !is_letter(u) : (is_space(u) || is_letter(u) || is_number(u)))
            break;
        if (*m + 4 <= WORD_MAX)
            *m += utf8_put(u, word + *m);
        ls_drop(ls, 1);
        if ((c = ls_peek(ls, 0)) < 0)
            break;
    }
    return 1;
}

/* Clean-up: Hugging Face's CLIPTokenizer without ftfy collapses whitespace and strips; both
 * are implicit here because the pre-tokeniser never puts whitespace in a token. We do not
 * html-unescape (simple_tokenizer does; CLIPTokenizer does not) and do not NFC-normalise
 * (CLIPTokenizerFast does): text is taken as given. Invalid UTF-8 is read as U+FFFD. */
int gh_clip_tokenize(const struct gh_clip_tokenizer *t, const char *text, int32_t *ids, size_t cap,
                     size_t *n, struct gh_err *err)
{
    struct lstream ls;
    struct emit e;
    struct bpe_work w; /* ~40 KB of stack: tokenizing allocates nothing */
    uint8_t word[WORD_MAX];
    size_t m;
    int32_t special;

    *n = 0;
    if (cap < 2)
        return gh_err_set(err, GH_EINVAL, "a token buffer needs room for at least 2 tokens");
    if (cap > GH_CLIP_CONTEXT)
        cap = GH_CLIP_CONTEXT;
    memset(&ls, 0, sizeof ls);
    ls.s = (const uint8_t *)text;
    ls.len = strlen(text);
    e.ids = ids;
    e.n = 0;
    e.limit = cap - 1;
    emit_id(&e, t->sot);
    while (e.n < e.limit && next_piece(t, &ls, word, &m, &special)) {
        if (special >= 0)
            emit_id(&e, special);
        else
            emit_word(t, word, m, &w, &e);
    }
    ids[e.n++] = t->eot;
    *n = e.n;
    return GH_OK;
}

int32_t gh_clip_tokenizer_eot(const struct gh_clip_tokenizer *t)
{
    return t->eot;
}

int32_t gh_clip_tokenizer_sot(const struct gh_clip_tokenizer *t)
{
    return t->sot;
}

void gh_clip_tokenizer_free(struct gh_clip_tokenizer *t)
{
    if (!t)
        return;
    gh_free(t->pairs);
    gh_free(t);
}

/* ---- loading ---- */

/* A string -> id map used while loading (vocabulary strings are not needed afterwards). */
struct vslot {
    size_t off, len; /* in pool; len == SIZE_MAX: empty */
    int32_t id;
};

struct vmap {
    struct vslot *slots;
    size_t cap, n;
    char *pool;
    size_t pool_len, pool_cap;
};

static size_t str_hash(const char *s, size_t len)
{
    uint64_t h = 0xcbf29ce484222325ULL; /* FNV-1a */

    for (size_t i = 0; i < len; i++)
        h = (h ^ (uint8_t)s[i]) * 0x100000001b3ULL;
    return (size_t)h;
}

static int vmap_init(struct vmap *m, size_t expect)
{
    memset(m, 0, sizeof *m);
    m->cap = 1024;
    while (m->cap < expect * 2)
        m->cap *= 2;
    m->slots = gh_malloc_array(m->cap, sizeof *m->slots);
    if (!m->slots)
        return GH_ENOMEM;
    for (size_t i = 0; i < m->cap; i++)
        m->slots[i].len = SIZE_MAX;
    return GH_OK;
}

static void vmap_fini(struct vmap *m)
{
    gh_free(m->slots);
    gh_free(m->pool);
}

static struct vslot *vmap_slot(const struct vmap *m, const char *s, size_t len)
{
    size_t mask = m->cap - 1;

    for (size_t i = str_hash(s, len) & mask;; i = (i + 1) & mask) {
        struct vslot *v = &m->slots[i];

        if (v->len == SIZE_MAX || (v->len == len && memcmp(m->pool + v->off, s, len) == 0))
            return v;
    }
}

static int32_t vmap_get(const struct vmap *m, const char *s, size_t len)
{
    const struct vslot *v = vmap_slot(m, s, len);

    return v->len == SIZE_MAX ? -1 : v->id;
}

/* Adds or replaces s -> id (a JSON object cannot repeat keys; the .gz vocabulary can). */
static int vmap_put(struct vmap *m, const char *s, size_t len, int32_t id)
{
    struct vslot *v;

    if (m->n * 2 >= m->cap) {
        struct vmap bigger = *m;

        bigger.cap = m->cap * 2;
        bigger.n = 0;
        bigger.slots = gh_malloc_array(bigger.cap, sizeof *bigger.slots);
        if (!bigger.slots)
            return GH_ENOMEM;
        for (size_t i = 0; i < bigger.cap; i++)
            bigger.slots[i].len = SIZE_MAX;
        for (size_t i = 0; i < m->cap; i++)
            if (m->slots[i].len != SIZE_MAX) {
                *vmap_slot(&bigger, m->pool + m->slots[i].off, m->slots[i].len) = m->slots[i];
                bigger.n++;
            }
        gh_free(m->slots);
        *m = bigger;
    }
    v = vmap_slot(m, s, len);
    if (v->len == SIZE_MAX) {
        if (m->pool_len + len > m->pool_cap) {
            size_t ncap = m->pool_cap ? m->pool_cap * 2 : 1 << 16;
            char *p;

            while (ncap < m->pool_len + len)
                ncap *= 2;
            p = gh_realloc(m->pool, ncap);
            if (!p)
                return GH_ENOMEM;
            m->pool = p;
            m->pool_cap = ncap;
        }
        memcpy(m->pool + m->pool_len, s, len);
        v->off = m->pool_len;
        v->len = len;
        m->pool_len += len;
        m->n++;
    }
    v->id = id;
    return GH_OK;
}

/* GPT-2's bytes_to_unicode(): printable Latin-1 bytes stand for themselves, the others for
 * U+0100 onwards in byte order. order[] lists bytes in the order of the dict's values, which
 * is the order simple_tokenizer builds its vocabulary in. */
static void byte_chars(uint32_t cp[256], uint8_t order[256])
{
    int n = 0, extra = 0;

    for (int b = 0; b < 256; b++)
        if ((b >= '!' && b <= '~') || (b >= 0xa1 && b <= 0xac) || (b >= 0xae && b <= 0xff)) {
            cp[b] = (uint32_t)b;
            order[n++] = (uint8_t)b;
        }
    for (int b = 0; b < 256; b++)
        if (!((b >= '!' && b <= '~') || (b >= 0xa1 && b <= 0xac) || (b >= 0xae && b <= 0xff))) {
            cp[b] = (uint32_t)(256 + extra++);
            order[n++] = (uint8_t)b;
        }
}

struct slice {
    const char *p;
    size_t len;
};

/* Byte symbols, merges and special tokens from the vocabulary map into t. */
static int build(struct gh_clip_tokenizer *t, const struct vmap *v, const struct slice *merges,
                 size_t n_merges, const char *what, struct gh_err *err)
{
    uint32_t cp[256];
    uint8_t order[256], buf[16];
    char *joined = NULL;
    int rc = GH_OK;

    byte_chars(cp, order);
    for (int b = 0; b < 256; b++) {
        size_t k = utf8_put(cp[b], buf);

        t->byte_id[b] = vmap_get(v, (const char *)buf, k);
        memcpy(buf + k, "</w>", 4);
        t->byte_eow_id[b] = vmap_get(v, (const char *)buf, k + 4);
    }
    t->sot = vmap_get(v, "<|startoftext|>", 15);
    t->eot = vmap_get(v, "<|endoftext|>", 13);
    if (t->sot < 0 || t->eot < 0)
        return gh_err_set(err, GH_EINVAL,
                          "%s: the vocabulary has no <|startoftext|> or "
                          "<|endoftext|>",
                          what);
    t->pairs_cap = 1024;
    while (t->pairs_cap < n_merges * 2)
        t->pairs_cap *= 2;
    t->pairs = gh_malloc_array(t->pairs_cap, sizeof *t->pairs);
    joined = gh_malloc(WORD_MAX * 2);
    if (!t->pairs || !joined) {
        rc = gh_err_set(err, GH_ENOMEM, "out of memory loading the CLIP tokenizer");
        goto out;
    }
    for (size_t i = 0; i < t->pairs_cap; i++)
        t->pairs[i].key = EMPTY_KEY;
    for (size_t r = 0; r < n_merges; r++) {
        const char *p = merges[r].p, *sp = memchr(p, ' ', merges[r].len);
        size_t la = sp ? (size_t)(sp - p) : 0, lb = sp ? merges[r].len - la - 1 : 0;
        int32_t a, b, ab;
        size_t mask = t->pairs_cap - 1, i;

        if (!sp || la == 0 || lb == 0 || memchr(sp + 1, ' ', lb) || la + lb > WORD_MAX * 2) {
            rc = gh_err_set(err, GH_EINVAL, "%s: merge %zu is not two symbols", what, r + 1);
            goto out;
        }
        memcpy(joined, p, la);
        memcpy(joined + la, sp + 1, lb);
        a = vmap_get(v, p, la);
        b = vmap_get(v, sp + 1, lb);
        ab = vmap_get(v, joined, la + lb);
        if (a < 0 || b < 0 || ab < 0) {
            rc = gh_err_set(err, GH_EINVAL, "%s: merge %zu uses a symbol not in the vocabulary",
                            what, r + 1);
            goto out;
        }
        /* a later duplicate replaces the rank, as dict(zip(merges, range(...))) does */
        for (i = pair_hash(pair_key(a, b)) & mask; t->pairs[i].key != EMPTY_KEY; i = (i + 1) & mask)
            if (t->pairs[i].key == pair_key(a, b))
                break;
        t->pairs[i].key = pair_key(a, b);
        t->pairs[i].rank = (int32_t)r;
        t->pairs[i].id = ab;
    }
out:
    gh_free(joined);
    return rc;
}

/* Splits text into lines (without "\n" or a trailing "\r"). */
static int split_lines(const char *text, size_t len, struct slice **out, size_t *n)
{
    size_t count = 1, k = 0;
    struct slice *s;

    for (size_t i = 0; i < len; i++)
        count += text[i] == '\n';
    s = gh_malloc_array(count, sizeof *s);
    if (!s)
        return GH_ENOMEM;
    for (size_t start = 0; start <= len;) {
        const char *nl = memchr(text + start, '\n', len - start);
        size_t end = nl ? (size_t)(nl - text) : len, l = end - start;

        if (l > 0 && text[start + l - 1] == '\r')
            l--;
        s[k].p = text + start;
        s[k++].len = l;
        start = end + 1;
    }
    *out = s;
    *n = k;
    return GH_OK;
}

static struct gh_clip_tokenizer *tok_new(void)
{
    struct gh_clip_tokenizer *t = gh_malloc(sizeof *t);

    if (t)
        memset(t, 0, sizeof *t);
    return t;
}

/* gh_file_read, its message naming the file: the loader reads two, and a caller must learn
 * which one is missing. */
static int read_named(const char *path, uint8_t **out, size_t *len, struct gh_err *err)
{
    struct gh_err e = {0};
    int rc = gh_file_read(path, FILE_MAX, out, len, &e);

    return rc ? gh_err_set(err, rc, "%s: %s", path, e.msg) : GH_OK;
}

int gh_clip_tokenizer_load(const char *vocab_json_path, const char *merges_path,
                           struct gh_clip_tokenizer **out, struct gh_err *err)
{
    struct gh_clip_tokenizer *t = NULL;
    uint8_t *vtext = NULL, *mtext = NULL;
    size_t vlen, mlen, n_lines = 0, first = 0, n_merges;
    struct slice *lines = NULL;
    struct vmap v = {0};
    json_t *root = NULL, *val;
    const char *key;
    int rc;

    *out = NULL;
    if ((rc = read_named(vocab_json_path, &vtext, &vlen, err)) ||
        (rc = read_named(merges_path, &mtext, &mlen, err)))
        goto out;
    root = json_loadb((const char *)vtext, vlen, JSON_REJECT_DUPLICATES, NULL);
    if (!json_is_object(root)) {
        rc = gh_err_set(err, GH_EINVAL, "%s is not a JSON object", vocab_json_path);
        goto out;
    }
    if (vmap_init(&v, json_object_size(root)) != GH_OK ||
        split_lines((const char *)mtext, mlen, &lines, &n_lines) != GH_OK || !(t = tok_new())) {
        rc = gh_err_set(err, GH_ENOMEM, "out of memory loading the CLIP tokenizer");
        goto out;
    }
    json_object_foreach(root, key, val)
    {
        json_int_t id = json_is_integer(val) ? json_integer_value(val) : -1;

        if (id < 0 || id >= INT32_MAX) {
            rc = gh_err_set(err, GH_EINVAL, "%s: a token's id is not a non-negative integer",
                            vocab_json_path);
            goto out;
        }
        if (vmap_put(&v, key, strlen(key), (int32_t)id) != GH_OK) {
            rc = gh_err_set(err, GH_ENOMEM, "out of memory loading the CLIP tokenizer");
            goto out;
        }
    }
    if (n_lines > 0 && lines[0].len >= 8 && memcmp(lines[0].p, "#version", 8) == 0)
        first = 1;
    n_merges = n_lines - first;
    while (n_merges > 0 && lines[first + n_merges - 1].len == 0) /* trailing newline(s) */
        n_merges--;
    rc = build(t, &v, lines + first, n_merges, merges_path, err);
out:
    if (rc == GH_OK) {
        *out = t;
        t = NULL;
    }
    gh_clip_tokenizer_free(t);
    json_decref(root);
    vmap_fini(&v);
    gh_free(lines);
    gh_free(vtext);
    gh_free(mtext);
    return rc;
}

static int gz_read(const char *path, uint8_t **out, size_t *out_len, struct gh_err *err)
{
    gzFile f = gzopen(path, "rb");
    uint8_t *buf = NULL;
    size_t len = 0, cap = 0;
    int rc = GH_OK;

    if (!f)
        return gh_err_set(err, GH_EIO, "cannot open %s: %s", path,
                          errno ? strerror(errno) : "out of memory");
    for (;;) {
        int got;

        if (len == cap) {
            uint8_t *p;

            if (cap >= FILE_MAX) {
                rc = gh_err_set(err, GH_ETOOBIG, "%s is over %zu bytes uncompressed", path,
                                FILE_MAX);
                break;
            }
            cap = cap ? cap * 2 : 1 << 20;
            p = gh_realloc(buf, cap);
            if (!p) {
                rc = gh_err_set(err, GH_ENOMEM, "out of memory reading %s", path);
                break;
            }
            buf = p;
        }
        got = gzread(f, buf + len, (unsigned)(cap - len));
        if (got < 0) {
            int zerr;

            rc = gh_err_set(err, GH_EIO, "cannot read %s: %s", path, gzerror(f, &zerr));
            break;
        }
        if (got == 0)
            break;
        len += (size_t)got;
    }
    gzclose(f);
    if (rc) {
        gh_free(buf);
        return rc;
    }
    *out = buf;
    *out_len = len;
    return GH_OK;
}

int gh_clip_tokenizer_load_bpe_gz(const char *path, struct gh_clip_tokenizer **out,
                                  struct gh_err *err)
{
    struct gh_clip_tokenizer *t = NULL;
    struct slice *lines = NULL, *merges;
    uint8_t *text = NULL, buf[16], order[256];
    uint32_t cp[256];
    size_t len = 0, n_lines = 0, n_merges;
    struct vmap v = {0};
    int32_t id = 0;
    int rc;

    *out = NULL;
    rc = gz_read(path, &text, &len, err);
    if (rc)
        return rc;
    if (vmap_init(&v, 65536) != GH_OK ||
        split_lines((const char *)text, len, &lines, &n_lines) != GH_OK || !(t = tok_new())) {
        rc = gh_err_set(err, GH_ENOMEM, "out of memory loading the CLIP tokenizer");
        goto out;
    }
    /* merges = lines[1 : 49152 - 256 - 2 + 1] */
    merges = lines + (n_lines > 1 ? 1 : n_lines);
    n_merges = n_lines > 1 ? n_lines - 1 : 0;
    if (n_merges > GZ_MERGES)
        n_merges = GZ_MERGES;
    if (n_merges > 0 && merges[n_merges - 1].len == 0)
        n_merges--; /* a file shorter than the slice ends with a newline */
    /* vocab = bytes, bytes + "</w>", merges joined, the two special tokens */
    byte_chars(cp, order);
    rc = GH_OK;
    for (int pass = 0; pass < 2 && rc == GH_OK; pass++)
        for (int i = 0; i < 256 && rc == GH_OK; i++) {
            size_t k = utf8_put(cp[order[i]], buf);

            if (pass)
                memcpy(buf + k, "</w>", 4);
            rc = vmap_put(&v, (const char *)buf, pass ? k + 4 : k, id++);
        }
    for (size_t r = 0; r < n_merges && rc == GH_OK; r++) {
        const char *p = merges[r].p, *sp = memchr(p, ' ', merges[r].len);
        char joined[2 * WORD_MAX];
        size_t la = sp ? (size_t)(sp - p) : 0, lb = sp ? merges[r].len - la - 1 : 0;

        if (!sp || la + lb > sizeof joined) {
            rc = gh_err_set(err, GH_EINVAL, "%s: merge %zu is not two symbols", path, r + 1);
            goto out;
        }
        memcpy(joined, p, la);
        memcpy(joined + la, sp + 1, lb);
        rc = vmap_put(&v, joined, la + lb, id++);
    }
    if (rc == GH_OK)
        rc = vmap_put(&v, "<|startoftext|>", 15, id++);
    if (rc == GH_OK)
        rc = vmap_put(&v, "<|endoftext|>", 13, id++);
    if (rc) {
        rc = gh_err_set(err, GH_ENOMEM, "out of memory loading the CLIP tokenizer");
        goto out;
    }
    rc = build(t, &v, merges, n_merges, path, err);
out:
    if (rc == GH_OK) {
        *out = t;
        t = NULL;
    }
    gh_clip_tokenizer_free(t);
    vmap_fini(&v);
    gh_free(lines);
    gh_free(text);
    return rc;
}
