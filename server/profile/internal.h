/*
 * profile internals: the keyword table and what its rows point at, shared
 * by the files of server/profile/ and by nothing else.
 *
 * One row per keyword (keywords.c), in the spirit of nginx's ngx_command_t:
 * the row names the handler that parses a line into the profile, the
 * printer that writes the value back for `sshmock check`, and where in
 * profile_t the value lives (offsetof). Generic handlers (handlers.c) cover
 * yes/no flags, ranged integers, times, text, names from a list and
 * algorithm lists; the keywords that need more have their own handler next
 * to their printer (server.c, accounts.c, session.c, matrix.c).
 *
 * sshd's rule that the first value obtained wins is applied once, by the
 * line parser (parse.c), not by the handlers: a repeated keyword is parsed
 * in full - its mistakes are still reported - but into a scratch profile
 * that is thrown away. Rows flagged PROFILE__F_MULTI accumulate instead.
 * Defaults are applied after the last line by running each row's handler on
 * the row's documented default, so the reference and the parser cannot
 * disagree about them.
 */
#ifndef SSHMOCK_PROFILE_INTERNAL_H
#define SSHMOCK_PROFILE_INTERNAL_H

#include <stddef.h>
#include <stdio.h>

#include "profile/algo.h"
#include "profile/profile.h"
#include "base/util.h"

#define PROFILE__LINE_MAX 4096

/* Row flags. */
#define PROFILE__F_MULTI   0x01  /* every occurrence counts (else the first wins) */
#define PROFILE__F_IGNORED 0x02  /* sshd keyword without effect here: warn, keep */
#define PROFILE__F_ALIAS   0x04  /* another name of the row above it */
#define PROFILE__F_OWN     0x08  /* sshmock's own keyword, not sshd's */
#define PROFILE__F_LISTEN  0x10  /* a repeat is warned about: one address, one port */

#define PROFILE__ANY (-1)        /* max_args: no limit */
#define PROFILE__NO_SLOT ((size_t)-1)

typedef struct profile__keyword_s profile__keyword_t;
typedef struct profile__parser_s profile__parser_t;

/* An ignored keyword as written, kept for profile_print(). */
typedef struct profile__ignored_s {
    size_t row;   /* index into profile__keywords */
    char *args;   /* raw arguments, re-quoted where needed */
} profile__ignored_t;

/* What profile_t does not show: the caller only ever sees &full->pub, which
 * is the same address, so profile_free() can get the rest back. */
typedef struct profile__full_s {
    profile_t pub;
    profile__ignored_t *ignored;
    size_t nignored;
    int listen_port;   /* from "ListenAddress ADDR:PORT", 0: none */
} profile__full_t;

/*
 * Parses one line's arguments (argc >= the row's min_args, <= its max_args)
 * into `to`: the profile being built, or the scratch one for a repeated
 * keyword. Returns 0 or a negative sshmock error with the message written
 * through profile__fail().
 */
typedef int (*profile__set_fn)(profile__parser_t *ps, const profile__keyword_t *kw,
                               char **argv, int argc, profile__full_t *to);

/* Writes the row's effective value(s), as "lname value" lines. */
typedef void (*profile__print_fn)(FILE *f, const profile_t *p,
                                  const profile__keyword_t *kw, const char *lname);

struct profile__keyword_s {
    const char *name;
    unsigned flags;
    int min_args;
    int max_args;
    profile__set_fn set;
    profile__print_fn print;  /* NULL: shown elsewhere, or not at all */
    size_t offset;            /* where the value lives in profile_t */
    const void *data;         /* the handler's parameters (range, names...) */
    const char *shape;        /* the arguments, for messages and docs */
    const char *defval;       /* the default, for docs and for filling in */
};

/* Parameters of the generic handlers. */
typedef struct profile__range_s {
    long min;
    long max;
} profile__range_t;

typedef struct profile__names_s {
    const char *const *names;   /* the value stored is the index */
    size_t n;
} profile__names_t;

/* An authorized key waiting for its account: accounts may be declared
 * after their keys, so keys are attached once every line has been read. */
typedef struct profile__pending_key_s {
    char *account;
    char *key;    /* "type base64 [comment]" */
    int line;
    const char *keyword;
} profile__pending_key_t;

struct profile__parser_s {
    profile__full_t *full;
    const char *path;             /* names the profile in messages */
    FILE *warn;                   /* NULL: warnings dropped */
    char *errbuf;
    size_t errlen;
    int line;
    int *seen;                    /* per row, aliases on their main row:
                                   * line of the first occurrence, 0: none */
    profile__pending_key_t *keys;
    size_t nkeys;
    int *exec_lines;              /* parallel to full->pub.execs */
    size_t nexec_lines;
};

typedef struct profile__args_s {
    char **v;
    size_t n;
} profile__args_t;

/* ---- the table (keywords.c) ------------------------------------------- */

extern const profile__keyword_t profile__keywords[];
extern const size_t profile__nkeywords;

const profile__keyword_t *profile__lookup(const char *word);
/* The row whose value an alias sets (the row itself when not an alias). */
size_t profile__main_row(const profile__keyword_t *kw);
/* The line a keyword (by its table name) was first seen on, 0: never. */
int profile__seen(const profile__parser_t *ps, const char *name);

/* ---- messages and memory (profile.c) ---------------------------------- */

int profile__fail(profile__parser_t *ps, int line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
int profile__nomem(profile__parser_t *ps);
void profile__warn(profile__parser_t *ps, int line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/*
 * Appends the element at `elem` to the array *arrp of *n elements of
 * `size` bytes, growing it. Returns 0, or -1 when out of memory with the
 * array untouched. Use PROFILE__APPEND, which checks the sizes agree.
 */
int profile__append(void *arrp, size_t *n, const void *elem, size_t size);
#define PROFILE__APPEND(arr, n, elem) \
    ((void)sizeof(char[sizeof *(arr) == sizeof *(elem) ? 1 : -1]), \
     profile__append(&(arr), &(n), (elem), sizeof *(elem)))

/* The value of a row in a profile. */
#define PROFILE__SLOT(type, p, kw) ((type *)(void *)((char *)(p) + (kw)->offset))
#define PROFILE__CSLOT(type, p, kw) \
    ((const type *)(const void *)((const char *)(p) + (kw)->offset))

void profile__exec_clear(profile_exec_t *e);
void profile__account_clear(profile_account_t *a);
void profile__client_opts_clear(profile_client_opts_t *o);

/* ---- lexing (parse.c) ------------------------------------------------- */

void profile__args_free(profile__args_t *a);
int profile__split(const char *s, profile__args_t *out);
int profile__unescape(const char *raw, int full, char **out, size_t *outlen,
                      char *why, size_t whylen);
int profile__unescape_arg(profile__parser_t *ps, const profile__keyword_t *kw,
                          const char *raw, char **out);
int profile__join(profile__parser_t *ps, const profile__keyword_t *kw,
                  char **argv, int argc, char **out);
int profile__number(profile__parser_t *ps, const profile__keyword_t *kw,
                    const char *arg, long min, long max, int *out);
int profile__line(profile__parser_t *ps, char *line);
int profile__defaults(profile__parser_t *ps);

/* ---- generic handlers and printers (handlers.c, print.c) -------------- */

/* Declares a handler or a printer (profile__set_fn, profile__print_fn). */
#define PROFILE__SET_FN(name) \
    int name(profile__parser_t *ps, const profile__keyword_t *kw, char **argv, \
             int argc, profile__full_t *to)
#define PROFILE__PRINT_FN(name) \
    void name(FILE *f, const profile_t *p, const profile__keyword_t *kw, \
              const char *lname)

PROFILE__SET_FN(profile__set_flag);
PROFILE__SET_FN(profile__set_int);
PROFILE__SET_FN(profile__set_time);
PROFILE__SET_FN(profile__set_text);
PROFILE__SET_FN(profile__set_lines);
PROFILE__SET_FN(profile__set_name);
PROFILE__SET_FN(profile__set_algo);
PROFILE__SET_FN(profile__set_ignored);
PROFILE__SET_FN(profile__set_refused);
/* The algorithm kind of an algorithm-list row, ALGO__COUNT for others. */
algo_kind_t profile__algo_kind(const profile__keyword_t *kw);
int profile__resolve_algos(profile__parser_t *ps);

PROFILE__PRINT_FN(profile__print_string);
PROFILE__PRINT_FN(profile__print_int);
PROFILE__PRINT_FN(profile__print_flag);
PROFILE__PRINT_FN(profile__print_name);
PROFILE__PRINT_FN(profile__print_lines);
void profile__print_quoted(FILE *f, const char *s, size_t len, int full);
void profile__print_word(FILE *f, const char *s);

/* ---- the keywords with their own handler ------------------------------ */

/* server.c: how the server presents itself and lets clients in */
PROFILE__SET_FN(profile__set_identification);
PROFILE__SET_FN(profile__set_listen);
PROFILE__SET_FN(profile__set_hostkey);
PROFILE__SET_FN(profile__set_auth_methods);
PROFILE__SET_FN(profile__set_banner);
PROFILE__SET_FN(profile__set_moduli);
PROFILE__SET_FN(profile__set_max_startups);
PROFILE__SET_FN(profile__set_fault);
PROFILE__PRINT_FN(profile__print_hostkeys);
PROFILE__PRINT_FN(profile__print_banner);
PROFILE__PRINT_FN(profile__print_moduli);
PROFILE__PRINT_FN(profile__print_max_startups);
PROFILE__SET_FN(profile__set_auth_failure_delay);
PROFILE__PRINT_FN(profile__print_auth_failure_delay);
PROFILE__PRINT_FN(profile__print_faults);
int profile__check_auth_methods(profile__parser_t *ps);
int profile__check_hostkeys(profile__parser_t *ps);

/* accounts.c */
PROFILE__SET_FN(profile__set_account);
PROFILE__SET_FN(profile__set_account_key);
PROFILE__SET_FN(profile__set_account_key_file);
PROFILE__PRINT_FN(profile__print_accounts);
int profile__attach_keys(profile__parser_t *ps);

/* session.c: what commands and shells get */
PROFILE__SET_FN(profile__set_exec);
PROFILE__SET_FN(profile__set_default_exec);
PROFILE__SET_FN(profile__set_shell_prompt);
PROFILE__PRINT_FN(profile__print_execs);
PROFILE__PRINT_FN(profile__print_default_exec);
PROFILE__PRINT_FN(profile__print_shell_prompt);

/* matrix.c: the client matrix */
extern const profile__names_t profile__matrix_auths;
PROFILE__SET_FN(profile__set_expect);
PROFILE__SET_FN(profile__set_client_opts);
PROFILE__PRINT_FN(profile__print_expects);
PROFILE__PRINT_FN(profile__print_client_opts);
PROFILE__SET_FN(profile__set_said);
PROFILE__PRINT_FN(profile__print_said);
void profile__said_free(profile_said_t *said, size_t n);
/* After the last line: each client's Said lines match its Expect pattern. */
int profile__check_said(profile__parser_t *ps);

#endif /* SSHMOCK_PROFILE_INTERNAL_H */
