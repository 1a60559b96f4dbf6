/*
 * matrix_eval: what a finished run means, and whether the cell did what
 * its profile's Expect line says. Also the one description of an
 * expectation every report prints.
 */
#include "cli/matrix_int.h"

#include <regex.h>
#include <stdio.h>
#include <string.h>

const profile_t *
matrix_cell_profile(const matrix_t *m, const matrix_cell_t *c)
{
    return m->profiles[c->profile];
}

server_t *
matrix_cell_server(matrix_t *m, const matrix_cell_t *c)
{
    return &m->servers[c - m->cells];
}

const matrix_client_t *
matrix_cell_client(const matrix_t *m, const matrix_cell_t *c)
{
    return &m->o->clients[c->client];
}

const profile_expect_t *
matrix_cell_expect(const matrix_t *m, const matrix_cell_t *c)
{
    return profile_expect_find(matrix_cell_profile(m, c), matrix_cell_client(m, c)->model);
}

int
matrix_cell_is_custom(const matrix_t *m, const matrix_cell_t *c)
{
    return matrix_cell_client(m, c)->command != NULL;
}

/* --- result evaluation ---------------------------------------------------- */

static int
matrix__regex_match(const char *pattern, const char *text)
{
    regex_t re;
    int ok;

    if (regcomp(&re, pattern, REG_EXTENDED | REG_NOSUB) != 0) {
        return 0;
    }
    ok = regexec(&re, text, 0, NULL, 0) == 0;
    regfree(&re);
    return ok;
}

/* The line that says what happened: the one the expectation's regex
 * matches, else the last line of the client's error output that is not
 * host-key bookkeeping. */
static void
matrix__pick_message(matrix_result_t *r, const char *pattern)
{
    const char *text = r->err.data != NULL ? r->err.data : "";
    const char *line = text;
    const char *best = NULL;
    int best_len = 0;

    if (r->skipped) {
        snprintf(r->message, sizeof r->message, "%s", text);
        goto trim;
    }
    if (r->connected) {
        snprintf(r->message, sizeof r->message, "connected; ran \"%s\"", MATRIX_COMMAND);
        return;
    }
    while (*line != '\0') {
        const char *nl = strchr(line, '\n');
        int len = nl != NULL ? (int)(nl - line) : (int)strlen(line);
        char tmp[1024];
        snprintf(tmp, sizeof tmp, "%.*s", len, line);
        if (len > 0 && strstr(tmp, "Permanently added") == NULL &&
            strncmp(tmp, "debug", 5) != 0 && strspn(tmp, "@ ") != strlen(tmp)) {
            if (pattern != NULL && matrix__regex_match(pattern, tmp)) {
                best = line;
                best_len = len;
                break;
            }
            best = line;
            best_len = len;
        }
        line = nl != NULL ? nl + 1 : line + len;
    }
    if (best == NULL && r->out.data != NULL) {
        best = r->out.data;
        best_len = (int)strcspn(best, "\n");
    }
    if (r->timed_out) {
        snprintf(r->message, sizeof r->message, "killed after the timeout%s%.*s",
                 best != NULL ? ": " : "", best_len, best != NULL ? best : "");
    } else if (best != NULL) {
        snprintf(r->message, sizeof r->message, "%.*s", best_len, best);
    } else {
        snprintf(r->message, sizeof r->message, "exit status %ld, no output", r->exit_status);
    }
trim:
    r->message[strcspn(r->message, "\r")] = '\0';
    if (r->skipped) {
        r->message[strcspn(r->message, "\n")] = '\0';
    }
}

void
matrix_cell_evaluate(matrix_t *m, matrix_cell_t *c, matrix_result_t *r, matrix_phase_t phase)
{
    const profile_t *p = matrix_cell_profile(m, c);
    const profile_expect_t *e = profile_expect_find(p, matrix_cell_client(m, c)->model);
    util_buf_t all = UTIL_BUF_INIT;

    r->skipped = r->exit_status == 77 && !r->timed_out;
    r->connected = !r->skipped && !r->timed_out && r->exit_status == 0 && r->out.data != NULL &&
                   strstr(r->out.data, MATRIX_MARKER) != NULL;
    matrix__pick_message(r, e != NULL ? e->pattern : NULL);
    if (phase != MATRIX_PHASE_MAIN) {
        return;
    }
    c->has_expect = e != NULL;
    if (e == NULL || r->skipped) {
        return;
    }
    util_buf_puts(&all, r->out.data != NULL ? r->out.data : "");
    util_buf_puts(&all, "\n");
    util_buf_puts(&all, r->err.data != NULL ? r->err.data : "");
    /* The stage is the server's to tell (matrix_seen.c): a client's
     * words say what went wrong, not always when. */
    c->stage_ok = e->connect || r->connected || matrix_seen_fits(&r->seen, e->stage);
    c->expect_ok = e->connect == r->connected && c->stage_ok &&
                   (e->pattern == NULL || matrix__regex_match(e->pattern, all.data));
    util_buf_free(&all);
}

int
matrix_cell_unplayable(const matrix_t *m, const matrix_cell_t *c)
{
    (void)m;
    return !c->main.skipped && c->main.seen.cannot_play;
}

int
matrix_fix_unplayable(const matrix_t *m, const matrix_cell_t *c)
{
    (void)m;
    return c->fix_tried && !c->fix.connected && c->fix.seen.cannot_play;
}

int
matrix_cell_mismatch(const matrix_t *m, const matrix_cell_t *c)
{
    return !c->main.skipped && c->has_expect && !c->expect_ok && !matrix_cell_unplayable(m, c);
}

int
matrix_cell_unchecked(const matrix_t *m, const matrix_cell_t *c)
{
    return !c->main.skipped && !c->has_expect && !matrix_cell_unplayable(m, c);
}

int
matrix_cell_failed(const matrix_t *m, const matrix_cell_t *c)
{
    return (matrix_cell_mismatch(m, c) && !matrix_cell_is_custom(m, c)) ||
           (m->o->strict && matrix_cell_unchecked(m, c)) ||
           (c->fix_tried && !c->fix.connected && !matrix_fix_unplayable(m, c));
}

const char *
matrix_cell_verdict(const matrix_t *m, const matrix_cell_t *c)
{
    if (c->main.skipped) {
        return "skipped";
    }
    if (matrix_cell_unplayable(m, c)) {
        return "cannot be played";
    }
    if (!c->has_expect) {
        return "unchecked";
    }
    if (c->expect_ok) {
        return "ok";
    }
    return matrix_cell_is_custom(m, c) ? "differs" : "mismatch";
}

void
matrix_tally(const matrix_t *m, matrix_tally_t *t)
{
    size_t i;

    memset(t, 0, sizeof *t);
    for (i = 0; i < m->ncells; i++) {
        const matrix_cell_t *c = &m->cells[i];
        if (c->main.skipped) {
            t->skipped++;
        } else if (matrix_cell_unplayable(m, c)) {
            t->unplayable++;
        } else if (!c->has_expect) {
            t->unchecked++;
        } else if (!c->expect_ok && matrix_cell_is_custom(m, c)) {
            t->differs++;
        } else if (!c->expect_ok) {
            t->mismatches++;
        } else {
            t->ok++;
        }
        if (c->fix_tried) {
            if (matrix_fix_unplayable(m, c)) {
                t->fixes_unplayable++;
            } else if (c->fix.connected) {
                t->fixes_ok++;
            } else {
                t->fixes_bad++;
            }
        }
    }
}

void
matrix_expect_describe(util_buf_t *b, const profile_expect_t *e, matrix_describe_t how)
{
    if (e == NULL) {
        util_buf_puts(b, "no expectation");
        return;
    }
    if (e->connect) {
        util_buf_puts(b, "connect");
    } else {
        util_buf_printf(b, how == MATRIX_DESCRIBE_SHORT ? "fail:%s" : "fail at %s", e->stage);
    }
    if (how == MATRIX_DESCRIBE_FULL && e->pattern != NULL) {
        util_buf_printf(b, ", output matching %s", e->pattern);
    }
}

void
matrix_cell_stage_describe(util_buf_t *b, const matrix_t *m, const matrix_cell_t *c)
{
    util_buf_puts(b, "expected to ");
    matrix_expect_describe(b, matrix_cell_expect(m, c), MATRIX_DESCRIBE_STAGE);
    util_buf_puts(b, ", the server saw it end at ");
    matrix_seen_describe(b, &c->main.seen);
}
