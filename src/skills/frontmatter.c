/* SKILL.md front matter parser (see frontmatter.h for the YAML subset).
 *
 * Design: the front matter is cut into lines once (indent, text, line number); a small
 * recursive descent then walks them: a mapping is the run of `key: value` lines at one
 * indent, a list the run of `- item` lines at one indent, and a value is either inline
 * (scalar, quoted string, flow collection, block scalar header) or the more-indented
 * block that follows an empty one. A list item that starts a mapping (`- id: x`) is
 * handled by shifting that line's indent and text to the key, so the mapping parser
 * sees an ordinary line. Flow collections are gathered across lines (brackets counted
 * outside quotes) and handed to jansson after trailing commas are removed.
 *
 * Everything is bounded: the input by CG_SKILL_FILE_MAX_BYTES, nesting by
 * CG_SKILL_FRONTMATTER_MAX_DEPTH (jansson bounds flow nesting itself), and every error
 * stops the walk at once. No I/O, no globals: the function is safe to fuzz. */
#include "skills/frontmatter.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/util.h"

typedef struct fm_line {
    const char *raw;  /* start of the line */
    size_t rawlen;    /* without the line break and a trailing \r */
    const char *text; /* after the indentation */
    size_t len;       /* of text, trailing whitespace removed */
    int indent;       /* leading spaces */
    int no;           /* 1-based line number in the file */
    bool empty;       /* nothing but whitespace */
    bool skip;        /* empty or a comment: no structure */
} fm_line;

typedef struct fm_parser {
    fm_line *lines;
    size_t n, pos;
    int depth;
    bool failed;
    char *err;
    size_t errlen;
} fm_parser;

static json_t *fail(fm_parser *p, int no, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static json_t *fail(fm_parser *p, int no, const char *fmt, ...)
{
    if (p->failed) return NULL;
    p->failed = true;
    int n = snprintf(p->err, p->errlen, "line %d: ", no);
    if (n < 0 || (size_t)n >= p->errlen) return NULL;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(p->err + n, p->errlen - (size_t)n, fmt, ap);
    va_end(ap);
    return NULL;
}

static bool is_ws(char c)
{
    return c == ' ' || c == '\t';
}

static void skip_blank(fm_parser *p)
{
    while (p->pos < p->n && p->lines[p->pos].skip)
        p->pos++;
}

static bool is_list_item(const char *s, size_t len)
{
    return len > 0 && s[0] == '-' && (len == 1 || s[1] == ' ');
}

/* Removes a trailing comment (a # after whitespace) and the whitespace before it. */
static size_t without_comment(const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++)
        if (s[i] == '#' && (i == 0 || is_ws(s[i - 1]))) {
            len = i;
            break;
        }
    while (len > 0 && is_ws(s[len - 1]))
        len--;
    return len;
}

/* The offset of the colon ending a mapping key ("key:" then a space or the end), or -1.
 * Quoted keys are skipped over whole. */
static long key_colon(const char *s, size_t len)
{
    size_t i = 0;
    if (len == 0 || strchr("{[|>&*!%@`#", s[0]) != NULL || is_list_item(s, len)) return -1;
    if (s[0] == '"' || s[0] == '\'') {
        char q = s[0];
        for (i = 1; i < len && s[i] != q; i++)
            if (q == '"' && s[i] == '\\') i++;
        if (i >= len) return -1;
        i++;
        return i < len && s[i] == ':' && (i + 1 == len || is_ws(s[i + 1])) ? (long)i : -1;
    }
    for (; i < len; i++) {
        if (s[i] == '#' && i > 0 && is_ws(s[i - 1])) return -1;
        if (s[i] == ':' && (i + 1 == len || is_ws(s[i + 1]))) return (long)i;
    }
    return -1;
}

static json_t *string_value(fm_parser *p, int no, const char *s, size_t len)
{
    json_t *v = json_stringn(s, len);
    return v ? v : fail(p, no, "invalid UTF-8");
}

/* A plain scalar: a string at the top level, typed below it. */
static json_t *plain_value(fm_parser *p, int no, const char *s, size_t len, bool top)
{
    if (!top) {
        char buf[64];
        if (len < sizeof buf) {
            memcpy(buf, s, len);
            buf[len] = 0;
            if (!strcmp(buf, "true") || !strcmp(buf, "True") || !strcmp(buf, "TRUE"))
                return json_true();
            if (!strcmp(buf, "false") || !strcmp(buf, "False") || !strcmp(buf, "FALSE"))
                return json_false();
            if (!strcmp(buf, "null") || !strcmp(buf, "Null") || !strcmp(buf, "NULL") ||
                !strcmp(buf, "~"))
                return json_null();
            if (len > 0 &&
                (isdigit((unsigned char)buf[0]) ||
                 ((buf[0] == '-' || buf[0] == '+') && len > 1 && isdigit((unsigned char)buf[1])))) {
                char *end;
                errno = 0;
                long long ll = strtoll(buf, &end, 10);
                if (!*end && !errno) return json_integer(ll);
                double d = strtod(buf, &end);
                if (!*end && !errno) return json_real(d);
            }
        }
    }
    return string_value(p, no, s, len);
}

static void put_utf8(cg_buf *b, unsigned long cp)
{
    char out[4];
    size_t n;
    if (cp < 0x80) {
        out[0] = (char)cp;
        n = 1;
    } else if (cp < 0x800) {
        out[0] = (char)(0xC0 | (cp >> 6));
        out[1] = (char)(0x80 | (cp & 0x3F));
        n = 2;
    } else if (cp < 0x10000) {
        out[0] = (char)(0xE0 | (cp >> 12));
        out[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        out[2] = (char)(0x80 | (cp & 0x3F));
        n = 3;
    } else {
        out[0] = (char)(0xF0 | (cp >> 18));
        out[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
        out[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
        out[3] = (char)(0x80 | (cp & 0x3F));
        n = 4;
    }
    cg_buf_append(b, out, n);
}

/* A quoted string on one line; anything but a comment after it is refused. */
static json_t *quoted_value(fm_parser *p, int no, const char *s, size_t len)
{
    char q = s[0];
    cg_buf b = {0};
    size_t i = 1;
    bool closed = false;
    for (; i < len; i++) {
        char c = s[i];
        if (q == '\'') {
            if (c == '\'') {
                if (i + 1 < len && s[i + 1] == '\'') {
                    cg_buf_append(&b, "'", 1);
                    i++;
                    continue;
                }
                closed = true;
                break;
            }
            cg_buf_append(&b, &c, 1);
            continue;
        }
        if (c == '"') {
            closed = true;
            break;
        }
        if (c != '\\') {
            cg_buf_append(&b, &c, 1);
            continue;
        }
        if (++i >= len) break;
        static const char escapes[] = "\"\\/nrtb0fe ";
        static const char decoded[] = "\"\\/\n\r\t\b\0\f\x1b ";
        const char *simple = s[i] ? strchr(escapes, s[i]) : NULL;
        if (simple) {
            cg_buf_append(&b, &decoded[simple - escapes], 1);
            continue;
        }
        int digits = s[i] == 'x' ? 2 : s[i] == 'u' ? 4 : s[i] == 'U' ? 8 : 0;
        if (!digits || i + (size_t)digits >= len) {
            cg_buf_reset(&b);
            return fail(p, no, "invalid escape in quoted string");
        }
        unsigned long cp = 0;
        for (int k = 1; k <= digits; k++) {
            char h = s[i + (size_t)k];
            if (!isxdigit((unsigned char)h)) {
                cg_buf_reset(&b);
                return fail(p, no, "invalid escape in quoted string");
            }
            cp = cp * 16 +
                 (unsigned long)(isdigit((unsigned char)h) ? h - '0' : (tolower(h) - 'a' + 10));
        }
        if (cp == 0 || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) {
            cg_buf_reset(&b);
            return fail(p, no, "invalid escape in quoted string");
        }
        put_utf8(&b, cp);
        i += (size_t)digits;
    }
    if (!closed) {
        cg_buf_reset(&b);
        return fail(p, no, "unterminated quoted string");
    }
    if (without_comment(s + i + 1, len - i - 1) != 0) {
        cg_buf_reset(&b);
        return fail(p, no, "unexpected text after quoted string");
    }
    json_t *v = string_value(p, no, b.data ? b.data : "", b.len);
    cg_buf_reset(&b);
    return v;
}

static json_t *flow_load(const char *text, size_t len, json_error_t *je)
{
    char *buf = cg_xmalloc(len + 1);
    size_t o = 0;
    bool in_string = false;
    for (size_t i = 0; i < len; i++) {
        char c = text[i];
        if (in_string) {
            buf[o++] = c;
            if (c == '\\' && i + 1 < len)
                buf[o++] = text[++i];
            else if (c == '"')
                in_string = false;
            continue;
        }
        if (c == '"') {
            in_string = true;
        } else if (c == ',') {
            size_t j = i + 1;
            while (j < len && isspace((unsigned char)text[j]))
                j++;
            if (j < len && (text[j] == '}' || text[j] == ']')) continue;
        }
        buf[o++] = c;
    }
    json_t *v = json_loadb(buf, o, JSON_REJECT_DUPLICATES, je);
    free(buf);
    return v;
}

json_t *cg_skill_flow_parse(const char *text, size_t len, char *err, size_t errlen)
{
    json_error_t je;
    json_t *v = flow_load(text, len, &je);
    if (!v) snprintf(err, errlen, "%s (line %d, column %d)", je.text, je.line, je.column);
    return v;
}

/* A flow collection starting at s (the rest of line `no`), continued on the following
 * lines until its brackets balance. */
static json_t *flow_value(fm_parser *p, int no, const char *s, size_t len)
{
    cg_buf b = {0};
    int depth = 0;
    char quote = 0;
    const char *cur = s;
    size_t curlen = len;
    for (;;) {
        size_t end = curlen;
        for (size_t i = 0; i < curlen; i++) {
            char c = cur[i];
            if (quote) {
                if (quote == '"' && c == '\\')
                    i++;
                else if (c == quote)
                    quote = 0;
                continue;
            }
            if (c == '"' || c == '\'')
                quote = c;
            else if (c == '{' || c == '[')
                depth++;
            else if (c == '}' || c == ']') {
                if (--depth == 0) {
                    end = i + 1;
                    break;
                }
            } else if (c == '#' && (i == 0 || is_ws(cur[i - 1]))) {
                end = i; /* a comment ends the line's part */
                break;
            }
        }
        cg_buf_append(&b, cur, end);
        if (depth == 0) {
            if (without_comment(cur + end, curlen - end) != 0) {
                cg_buf_reset(&b);
                return fail(p, no, "unexpected text after flow collection");
            }
            break;
        }
        if (quote == '\'' || quote == '"') quote = 0; /* no multi-line quoted scalars */
        if (p->pos >= p->n) {
            cg_buf_reset(&b);
            return fail(p, no, "unterminated flow collection");
        }
        fm_line *l = &p->lines[p->pos++];
        cg_buf_append(&b, "\n", 1);
        cur = l->text;
        curlen = l->len;
    }
    json_error_t je;
    json_t *v = flow_load(b.data, b.len, &je);
    cg_buf_reset(&b);
    if (!v) return fail(p, no + je.line - 1, "invalid flow collection: %s", je.text);
    return v;
}

/* A block scalar: header s ("|", ">-", "|2+", ...) on line `no`, content the following
 * lines indented deeper than `ind`. */
static json_t *block_scalar(fm_parser *p, int no, const char *s, size_t len, int ind)
{
    bool folded = s[0] == '>';
    char chomp = 'c';
    int explicit_indent = 0;
    size_t i = 1;
    for (; i < len; i++) {
        if ((s[i] == '-' || s[i] == '+') && chomp == 'c')
            chomp = s[i];
        else if (s[i] >= '1' && s[i] <= '9' && !explicit_indent)
            explicit_indent = s[i] - '0';
        else
            break;
    }
    if (without_comment(s + i, len - i) != 0) return fail(p, no, "invalid block scalar header");

    int content = explicit_indent ? ind + explicit_indent : -1;
    if (content < 0) {
        for (size_t k = p->pos; k < p->n; k++)
            if (!p->lines[k].empty) {
                content = p->lines[k].indent;
                break;
            }
    }
    cg_buf b = {0};
    size_t trailing = 0; /* empty lines not yet written */
    bool any = false, prev_more = false;
    while (content > ind && p->pos < p->n) {
        fm_line *l = &p->lines[p->pos];
        if (!l->empty && l->indent < content) break;
        p->pos++;
        if (l->empty) {
            trailing++;
            continue;
        }
        const char *t = l->raw + content;
        size_t tl = l->rawlen - (size_t)content;
        bool more = tl > 0 && is_ws(t[0]);
        if (any) {
            if (!folded || more || prev_more) {
                for (size_t k = 0; k <= trailing; k++)
                    cg_buf_append(&b, "\n", 1);
            } else if (trailing) {
                for (size_t k = 0; k < trailing; k++)
                    cg_buf_append(&b, "\n", 1);
            } else {
                cg_buf_append(&b, " ", 1);
            }
        } else {
            for (size_t k = 0; k < trailing; k++)
                cg_buf_append(&b, "\n", 1);
        }
        trailing = 0;
        cg_buf_append(&b, t, tl);
        any = true;
        prev_more = more;
    }
    if (any && chomp != '-') cg_buf_append(&b, "\n", 1);
    if (chomp == '+')
        for (size_t k = 0; k < trailing; k++)
            cg_buf_append(&b, "\n", 1);
    json_t *v = string_value(p, no, b.data ? b.data : "", b.len);
    cg_buf_reset(&b);
    return v;
}

static json_t *parse_map(fm_parser *p, int ind, bool top);
static json_t *parse_list(fm_parser *p, int ind);
static json_t *parse_nested(fm_parser *p, int ind, bool top);

/* The value written after "key:" or "- " on line `no` (already consumed); `ind` is the
 * indent of that key or dash. */
static json_t *parse_inline(fm_parser *p, int no, const char *s, size_t len, int ind, bool top)
{
    if (len == 0 || s[0] == '#') return parse_nested(p, ind, top);
    switch (s[0]) {
    case '"':
    case '\'':
        return quoted_value(p, no, s, len);
    case '{':
    case '[':
        return flow_value(p, no, s, len);
    case '|':
    case '>':
        return block_scalar(p, no, s, len, ind);
    case '&':
    case '*':
    case '!':
        return fail(p, no, "anchors, aliases and tags are not supported");
    default:
        break;
    }
    len = without_comment(s, len);
    /* A plain scalar continues on more-indented lines, folded with spaces. */
    cg_buf b = {0};
    cg_buf_append(&b, s, len);
    while (p->pos < p->n) {
        fm_line *l = &p->lines[p->pos];
        if (l->skip || l->indent <= ind) break;
        if (key_colon(l->text, l->len) >= 0) { /* YAML: no mapping inside a plain scalar */
            cg_buf_reset(&b);
            return fail(p, l->no, "unexpected indentation");
        }
        cg_buf_append(&b, " ", 1);
        cg_buf_append(&b, l->text, without_comment(l->text, l->len));
        p->pos++;
    }
    json_t *v = plain_value(p, no, b.data, b.len, top);
    cg_buf_reset(&b);
    return v;
}

/* The block after an empty value: deeper lines, or a list at the key's own indent. */
static json_t *parse_nested(fm_parser *p, int ind, bool top)
{
    skip_blank(p);
    if (p->pos >= p->n) return json_null();
    fm_line *l = &p->lines[p->pos];
    if (l->indent > ind) {
        if (is_list_item(l->text, l->len)) return parse_list(p, l->indent);
        if (key_colon(l->text, l->len) >= 0) return parse_map(p, l->indent, false);
        p->pos++;
        return parse_inline(p, l->no, l->text, l->len, ind, top);
    }
    if (l->indent == ind && is_list_item(l->text, l->len)) return parse_list(p, ind);
    return json_null();
}

static bool enter(fm_parser *p, int no)
{
    if (++p->depth > CG_SKILL_FRONTMATTER_MAX_DEPTH) {
        fail(p, no, "nested deeper than %d levels", CG_SKILL_FRONTMATTER_MAX_DEPTH);
        return false;
    }
    return true;
}

static json_t *parse_map(fm_parser *p, int ind, bool top)
{
    if (!enter(p, p->lines[p->pos].no)) return NULL;
    json_t *obj = json_object();
    for (;;) {
        skip_blank(p);
        if (p->pos >= p->n) break;
        fm_line *l = &p->lines[p->pos];
        if (l->indent < ind) break;
        if (l->indent > ind) {
            json_decref(obj);
            return fail(p, l->no, "unexpected indentation");
        }
        long colon = key_colon(l->text, l->len);
        if (colon < 0) {
            json_decref(obj);
            if (is_list_item(l->text, l->len)) return fail(p, l->no, "unexpected list item");
            return fail(p, l->no, "expected 'key: value'");
        }
        const char *k = l->text;
        size_t klen = (size_t)colon;
        while (klen > 0 && is_ws(k[klen - 1]))
            klen--;
        json_t *key = NULL;
        if (klen > 0 && (k[0] == '"' || k[0] == '\''))
            key = quoted_value(p, l->no, k, klen);
        else if (klen > 0)
            key = string_value(p, l->no, k, klen);
        if (!key || !json_string_length(key)) {
            json_decref(key);
            json_decref(obj);
            return fail(p, l->no, "empty key");
        }
        const char *name = json_string_value(key);
        if (strlen(name) != json_string_length(key) || json_object_get(obj, name)) {
            json_t *e = fail(p, l->no, "duplicate or invalid key '%s'", name);
            json_decref(key);
            json_decref(obj);
            return e;
        }
        const char *rest = l->text + colon + 1;
        size_t restlen = l->len - (size_t)colon - 1;
        while (restlen > 0 && is_ws(*rest)) {
            rest++;
            restlen--;
        }
        int no = l->no;
        p->pos++;
        json_t *v = parse_inline(p, no, rest, restlen, ind, top);
        if (!v) {
            json_decref(key);
            json_decref(obj);
            return NULL;
        }
        if (top && json_is_null(v))
            json_decref(v); /* an empty top-level value is no value (as OpenClaw reads it) */
        else
            json_object_set_new(obj, name, v);
        json_decref(key);
    }
    p->depth--;
    return obj;
}

static json_t *parse_list(fm_parser *p, int ind)
{
    if (!enter(p, p->lines[p->pos].no)) return NULL;
    json_t *arr = json_array();
    for (;;) {
        skip_blank(p);
        if (p->pos >= p->n) break;
        fm_line *l = &p->lines[p->pos];
        if (l->indent < ind) break;
        if (l->indent > ind) {
            json_decref(arr);
            return fail(p, l->no, "unexpected indentation");
        }
        if (!is_list_item(l->text, l->len)) break;
        size_t off = 1;
        while (off < l->len && is_ws(l->text[off]))
            off++;
        const char *rest = l->text + off;
        size_t restlen = l->len - off;
        json_t *v;
        if (restlen > 0 && key_colon(rest, restlen) >= 0) {
            /* "- key: value": a mapping whose keys sit where this one does. */
            l->indent = ind + (int)off;
            l->text = rest;
            l->len = restlen;
            v = parse_map(p, l->indent, false);
        } else {
            p->pos++;
            v = parse_inline(p, l->no, rest, restlen, ind, false);
        }
        if (!v) {
            json_decref(arr);
            return NULL;
        }
        json_array_append_new(arr, v);
    }
    p->depth--;
    return arr;
}

/* Whether the line is a delimiter: the marker, then only whitespace. */
static bool is_delimiter(const char *s, size_t len, const char *marker)
{
    if (len < 3 || memcmp(s, marker, 3) != 0) return false;
    for (size_t i = 3; i < len; i++)
        if (!isspace((unsigned char)s[i])) return false;
    return true;
}

json_t *cg_skill_frontmatter_parse(const char *buf, size_t len, char *err, size_t errlen)
{
    if (len > CG_SKILL_FILE_MAX_BYTES) {
        snprintf(err, errlen, "file is larger than %u bytes", CG_SKILL_FILE_MAX_BYTES);
        return NULL;
    }
    if (len >= 3 && !memcmp(buf, "\xEF\xBB\xBF", 3)) {
        buf += 3;
        len -= 3;
    }
    const char *end = buf + len;
    const char *nl = memchr(buf, '\n', len);
    size_t first = nl ? (size_t)(nl - buf) : len;
    if (!is_delimiter(buf, first, "---")) return json_object(); /* no front matter */

    fm_parser p = {.err = err, .errlen = errlen};
    size_t cap = 16;
    p.lines = cg_xmalloc(cap * sizeof *p.lines);
    const char *s = nl ? nl + 1 : end;
    int no = 1;
    bool closed = false;
    while (s < end) {
        no++;
        const char *e = memchr(s, '\n', (size_t)(end - s));
        size_t l = e ? (size_t)(e - s) : (size_t)(end - s);
        if (l > 0 && s[l - 1] == '\r') l--;
        if (is_delimiter(s, l, "---") || is_delimiter(s, l, "...")) {
            closed = true;
            break;
        }
        if (memchr(s, 0, l)) {
            fail(&p, no, "NUL byte");
            break;
        }
        if (p.n == cap) {
            cap *= 2;
            p.lines = cg_xrealloc(p.lines, cap * sizeof *p.lines);
        }
        fm_line *fl = &p.lines[p.n++];
        fl->raw = s;
        fl->rawlen = l;
        fl->no = no;
        int ind = 0;
        while ((size_t)ind < l && s[ind] == ' ')
            ind++;
        fl->indent = ind;
        fl->text = s + ind;
        size_t tl = l - (size_t)ind;
        while (tl > 0 && isspace((unsigned char)fl->text[tl - 1]))
            tl--;
        fl->len = tl;
        fl->empty = tl == 0;
        fl->skip = fl->empty || fl->text[0] == '#';
        if (!fl->skip && fl->text[0] == '\t') fail(&p, no, "tab in indentation");
        s = e ? e + 1 : end;
    }
    json_t *result = NULL;
    if (!p.failed && !closed) fail(&p, 1, "missing closing --- delimiter");
    if (!p.failed) {
        skip_blank(&p);
        if (p.pos >= p.n) {
            result = json_object();
        } else if (p.lines[p.pos].indent != 0) {
            fail(&p, p.lines[p.pos].no, "unexpected indentation");
        } else {
            result = parse_map(&p, 0, true);
            skip_blank(&p);
            if (result && p.pos < p.n) {
                json_decref(result);
                result = fail(&p, p.lines[p.pos].no, "unexpected text");
            }
        }
    }
    free(p.lines);
    return result;
}
