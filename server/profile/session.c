/*
 * session: what commands and shells get (ExecResponse,
 * DefaultExecResponse, ShellPrompt).
 */
#include "profile/internal.h"

#include <stdlib.h>
#include <string.h>

/* Fills an exec response from EXIT_STATUS [STDOUT [STDERR]]. */
static int
profile__exec_parse(profile__parser_t *ps, const profile__keyword_t *kw,
                    char **argv, int argc, profile_exec_t *e)
{
    char why[128];
    int rc;

    rc = profile__number(ps, kw, argv[0], 0, 255, &e->exit_status);
    if (rc < 0) {
        return rc;
    }
    rc = profile__unescape(argc > 1 ? argv[1] : "", 1, &e->out, &e->out_len,
                           why, sizeof why);
    if (rc == 0) {
        rc = profile__unescape(argc > 2 ? argv[2] : "", 1, &e->err, &e->err_len,
                               why, sizeof why);
        if (rc == -1) {
            return profile__fail(ps, ps->line, "%s: STDERR: %s", kw->name, why);
        }
    } else if (rc == -1) {
        return profile__fail(ps, ps->line, "%s: STDOUT: %s", kw->name, why);
    }
    return rc == -2 ? profile__nomem(ps) : 0;
}

int
profile__set_exec(profile__parser_t *ps, const profile__keyword_t *kw,
                  char **argv, int argc, profile__full_t *to)
{
    profile_t *p = &to->pub;
    profile_exec_t e;
    size_t i;
    int rc;

    memset(&e, 0, sizeof e);
    rc = profile__unescape_arg(ps, kw, argv[0], &e.command);
    if (rc < 0) {
        return rc;
    }
    rc = profile__exec_parse(ps, kw, argv + 1, argc - 1, &e);
    if (rc < 0) {
        goto fail;
    }
    for (i = 0; i < p->nexecs; i++) {
        if (strcmp(p->execs[i].command, e.command) == 0) {
            profile__warn(ps, ps->line,
                          "%s for \"%s\" repeats line %d, which is the one used",
                          kw->name, e.command, ps->exec_lines[i]);
            profile__exec_clear(&e);
            return 0;
        }
    }
    /* exec_lines stays as long as execs: the line goes in first and is
     * taken back if the response cannot follow. */
    if (PROFILE__APPEND(ps->exec_lines, ps->nexec_lines, &ps->line) < 0) {
        rc = profile__nomem(ps);
        goto fail;
    }
    if (PROFILE__APPEND(p->execs, p->nexecs, &e) < 0) {
        ps->nexec_lines--;
        rc = profile__nomem(ps);
        goto fail;
    }
    return 0;
fail:
    profile__exec_clear(&e);
    return rc;
}

int
profile__set_default_exec(profile__parser_t *ps, const profile__keyword_t *kw,
                          char **argv, int argc, profile__full_t *to)
{
    return profile__exec_parse(ps, kw, argv, argc, &to->pub.default_exec);
}

int
profile__set_shell_prompt(profile__parser_t *ps, const profile__keyword_t *kw,
                          char **argv, int argc, profile__full_t *to)
{
    char *prompt = NULL;
    size_t len = 0;
    char why[128];
    int rc = profile__unescape(argv[0], 1, &prompt, &len, why, sizeof why);

    if (rc < 0) {
        return rc == -2 ? profile__nomem(ps)
                        : profile__fail(ps, ps->line, "%s: %s", kw->name, why);
    }
    if (strlen(prompt) != len) {
        free(prompt);
        return profile__fail(ps, ps->line, "%s: a NUL byte is not allowed",
                             kw->name);
    }
    to->pub.shell_prompt = prompt;
    return 0;
}

static void
profile__print_exec(FILE *f, const profile_exec_t *e)
{
    fprintf(f, " %d ", e->exit_status);
    profile__print_quoted(f, e->out, e->out_len, 1);
    fputc(' ', f);
    profile__print_quoted(f, e->err, e->err_len, 1);
    fputc('\n', f);
}

void
profile__print_execs(FILE *f, const profile_t *p, const profile__keyword_t *kw,
                     const char *lname)
{
    size_t i;

    for (i = 0; i < p->nexecs; i++) {
        fprintf(f, "%s ", lname);
        profile__print_quoted(f, p->execs[i].command, strlen(p->execs[i].command), 0);
        profile__print_exec(f, &p->execs[i]);
    }
}

void
profile__print_default_exec(FILE *f, const profile_t *p, const profile__keyword_t *kw,
                            const char *lname)
{
    fputs(lname, f);
    profile__print_exec(f, &p->default_exec);
}

void
profile__print_shell_prompt(FILE *f, const profile_t *p, const profile__keyword_t *kw,
                            const char *lname)
{
    fprintf(f, "%s ", lname);
    profile__print_quoted(f, p->shell_prompt, strlen(p->shell_prompt), 1);
    fputc('\n', f);
}
