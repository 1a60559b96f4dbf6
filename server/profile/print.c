/*
 * print: the effective profile, like `sshd -T`: the keyword table walked in
 * order, each row's printer writing "keyword value" lines (lowercase
 * keywords, every setting with its resolved value), then the ignored sshd
 * keywords as they were written. The generic printers are here; the ones
 * for keywords with their own handler live next to that handler.
 */
#include "profile/internal.h"

#include <stdlib.h>
#include <string.h>

/* Quoted, with what the parser decodes encoded again. `full`: the text a
 * command prints (\n \t \r \xHH too); else only \" and \\. */
void
profile__print_quoted(FILE *f, const char *s, size_t len, int full)
{
    size_t i;

    fputc('"', f);
    for (i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];

        if (c == '"' || c == '\\') {
            fputc('\\', f);
            fputc(c, f);
        } else if (full && c == '\n') {
            fputs("\\n", f);
        } else if (full && c == '\t') {
            fputs("\\t", f);
        } else if (full && c == '\r') {
            fputs("\\r", f);
        } else if (full && (c < 0x20 || c >= 0x7f)) {
            fprintf(f, "\\x%02x", c);
        } else {
            fputc(c, f);
        }
    }
    fputc('"', f);
}

/* A word, quoted only when it has to be. */
void
profile__print_word(FILE *f, const char *s)
{
    if (s[0] != '\0' && s[0] != '#' && strpbrk(s, " \t\"\\") == NULL) {
        fputs(s, f);
    } else {
        profile__print_quoted(f, s, strlen(s), 0);
    }
}

void
profile__print_string(FILE *f, const profile_t *p, const profile__keyword_t *kw,
                      const char *lname)
{
    fprintf(f, "%s %s\n", lname, *PROFILE__CSLOT(char *, p, kw));
}

void
profile__print_int(FILE *f, const profile_t *p, const profile__keyword_t *kw,
                   const char *lname)
{
    fprintf(f, "%s %d\n", lname, *PROFILE__CSLOT(int, p, kw));
}

void
profile__print_flag(FILE *f, const profile_t *p, const profile__keyword_t *kw,
                    const char *lname)
{
    fprintf(f, "%s %s\n", lname, *PROFILE__CSLOT(int, p, kw) ? "yes" : "no");
}

void
profile__print_name(FILE *f, const profile_t *p, const profile__keyword_t *kw,
                    const char *lname)
{
    const profile__names_t *names = kw->data;
    int v = *PROFILE__CSLOT(int, p, kw);

    fprintf(f, "%s %s\n", lname,
            v >= 0 && (size_t)v < names->n ? names->names[v] : "?");
}

/* One line per paragraph line (Explain, FixClient, FixServer). */
void
profile__print_lines(FILE *f, const profile_t *p, const profile__keyword_t *kw,
                     const char *lname)
{
    const char *t = *PROFILE__CSLOT(char *, p, kw);

    while (t != NULL && *t != '\0') {
        const char *nl = strchr(t, '\n');
        int len = (int)(nl != NULL ? (size_t)(nl - t) : strlen(t));

        fprintf(f, "%s %.*s\n", lname, len, t);
        t = nl != NULL ? nl + 1 : NULL;
    }
}

static void
profile__lower(char *dst, const char *src, size_t size)
{
    size_t i;

    for (i = 0; i + 1 < size && src[i] != '\0'; i++) {
        dst[i] = (char)((src[i] >= 'A' && src[i] <= 'Z') ? src[i] - 'A' + 'a' : src[i]);
    }
    dst[i] = '\0';
}

/* The names the profile offers that no linked engine can run: a client
 * that picks one is told so (wire.c), and the matrix says "cannot be
 * played" for it. */
static void
profile__print_offer_only(const profile_t *p, FILE *f)
{
    const char *lists[ALGO__COUNT] = { NULL };
    util_buf_t b = UTIL_BUF_INIT;
    int k;

    lists[ALGO_KEX] = p->kex_algorithms;
    lists[ALGO_CIPHER] = p->ciphers;
    lists[ALGO_MAC] = p->macs;
    lists[ALGO_HOSTKEY] = p->hostkey_algorithms;
    for (k = 0; k < ALGO__COUNT; k++) {
        char *only = NULL;

        if (lists[k] != NULL && algo_offer_only((algo_kind_t)k, lists[k], &only) == 0 &&
            only != NULL) {
            util_buf_printf(&b, "%s%s %s", b.len > 0 ? "; " : "",
                            algo_keyword((algo_kind_t)k), only);
        }
        free(only);
    }
    if (p->moduli_file != NULL && !algo_engine_plays_moduli()) {
        util_buf_printf(&b, "%sKexAlgorithms diffie-hellman-group-exchange-* (with ModuliFile: "
                        "this libssh cannot send the file's groups as they are)",
                        b.len > 0 ? "; " : "");
    }
    if (b.len > 0) {
        fprintf(f, "# offer-only in this build: %s\n", b.data);
    }
    util_buf_free(&b);
}

void
profile_print(const profile_t *p, FILE *f)
{
    const profile__full_t *full = (const profile__full_t *)p;
    char lname[64];
    size_t r;
    size_t i;

    if (p == NULL || f == NULL) {
        return;
    }
    fprintf(f, "# profile %s (%s)\n", p->name, p->path);
    for (r = 0; r < profile__nkeywords; r++) {
        const profile__keyword_t *kw = &profile__keywords[r];

        if ((kw->flags & (PROFILE__F_ALIAS | PROFILE__F_IGNORED)) != 0 ||
            kw->print == NULL) {
            continue;
        }
        profile__lower(lname, kw->name, sizeof lname);
        kw->print(f, p, kw, lname);
    }
    profile__print_offer_only(p, f);
    if (full->nignored == 0) {
        return;
    }
    fputs("# accepted, but without effect in sshmock:\n", f);
    for (r = 0; r < profile__nkeywords; r++) {
        for (i = 0; i < full->nignored; i++) {
            if (full->ignored[i].row == r) {
                profile__lower(lname, profile__keywords[r].name, sizeof lname);
                fprintf(f, "%s %s\n", lname, full->ignored[i].args);
            }
        }
    }
}
