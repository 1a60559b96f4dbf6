/*
 * matrix_report: what the matrix found, for a person (the terminal table
 * and the cells not as expected) and for programs and CI (JSON, JUnit
 * XML, a self-contained HTML page). Every report describes expectations
 * with matrix_expect_describe(), so they all say the same thing.
 */
#include "cli/matrix_int.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

/* --- shared ------------------------------------------------------------------ */

static const char *
matrix__row_name(const matrix_t *m, size_t pi)
{
    return m->profiles[pi]->name;
}

static const matrix_cell_t *
matrix__row_cell(const matrix_t *m, size_t pi, size_t ci)
{
    return &m->cells[pi * m->o->nclients + ci];
}

static void
matrix__opts_text(util_buf_t *b, const profile_client_opts_t *o)
{
    size_t i;

    for (i = 0; o != NULL && i < o->nopts; i++) {
        util_buf_printf(b, "%s%s", i ? " " : "", o->opts[i]);
    }
}

static void
matrix__xml(util_buf_t *b, const char *s)
{
    for (; s != NULL && *s != '\0'; s++) {
        unsigned char ch = (unsigned char)*s;
        switch (ch) {
        case '<': util_buf_puts(b, "&lt;"); break;
        case '>': util_buf_puts(b, "&gt;"); break;
        case '&': util_buf_puts(b, "&amp;"); break;
        case '"': util_buf_puts(b, "&quot;"); break;
        default:
            /* XML 1.0 has no place for most control characters. */
            if (ch < 0x20 && ch != '\n' && ch != '\t') {
                util_buf_puts(b, "?");
            } else {
                util_buf_append(b, &ch, 1);
            }
        }
    }
}

/* The table's cell: mark, what the client did, the fix. */
static void
matrix__cell_text(const matrix_t *m, const matrix_cell_t *c, util_buf_t *b)
{
    const char *mark = c->main.skipped ? "-" : matrix_cell_unplayable(m, c) ? "np"
                       : !c->has_expect ? "?" : c->expect_ok ? "ok"
                       : matrix_cell_is_custom(m, c) ? "!=" : "XX";

    util_buf_printf(b, "%s ", mark);
    if (c->main.skipped) {
        util_buf_puts(b, "skipped");
    } else if (matrix_cell_unplayable(m, c)) {
        util_buf_puts(b, "cannot play");
    } else if (c->main.connected) {
        util_buf_puts(b, "connect");
    } else if (c->expect_ok) {
        /* It failed where the profile says: the expectation's stage. */
        matrix_expect_describe(b, matrix_cell_expect(m, c), MATRIX_DESCRIBE_SHORT);
    } else {
        util_buf_puts(b, "fail");
    }
    if (c->fix_tried) {
        util_buf_puts(b, matrix_fix_unplayable(m, c) ? " npfix"
                         : c->fix.connected ? " +fix" : " !fix");
    }
}

/* --- terminal ------------------------------------------------------------------ */

static void
matrix__table(const matrix_t *m, FILE *f)
{
    size_t pi;
    size_t ci;

    fprintf(f, "\n%-28s", "PROFILE");
    for (ci = 0; ci < m->o->nclients; ci++) {
        fprintf(f, " %-17.17s", m->o->clients[ci].name);
    }
    fputc('\n', f);
    for (pi = 0; pi < m->nprofiles; pi++) {
        fprintf(f, "%-28.28s", matrix__row_name(m, pi));
        for (ci = 0; ci < m->o->nclients; ci++) {
            util_buf_t cell = UTIL_BUF_INIT;
            matrix__cell_text(m, matrix__row_cell(m, pi, ci), &cell);
            fprintf(f, " %-17.17s", cell.data != NULL ? cell.data : "");
            util_buf_free(&cell);
        }
        fputc('\n', f);
    }
    fprintf(f, "\nok = as the profile expects, XX = not as expected, ? = no expectation, "
               "- = client missing,\n!= = a custom client does otherwise than the stock client "
               "it is modelled on;\nconnect / fail:STAGE = what the real client did; "
               "+fix / !fix = its documented fix works / does not;\nnp / npfix = cannot be "
               "played: the client picks an algorithm the profile offers but this build\n"
               "cannot run (offer-only), neither a pass nor a failure.\n");
}

/* One paragraph per cell that is not as expected. */
static void
matrix__mismatch_text(const matrix_t *m, const matrix_cell_t *c, FILE *f)
{
    const profile_t *p = matrix_cell_profile(m, c);
    const matrix_client_t *cl = matrix_cell_client(m, c);
    const profile_expect_t *e = matrix_cell_expect(m, c);
    util_buf_t want = UTIL_BUF_INIT;

    if (matrix_cell_is_custom(m, c)) {
        matrix_expect_describe(&want, e, MATRIX_DESCRIBE_STAGE);
        fprintf(f, "\nDIFFERS FROM STOCK %s: %s x %s\n  stock %s: %s\n  %s: %s (exit %ld): %s\n",
                e->client, p->name, cl->name, e->client, want.data, cl->name,
                c->main.connected ? "connect" : "fail", c->main.exit_status, c->main.message);
    } else {
        matrix_expect_describe(&want, e, MATRIX_DESCRIBE_FULL);
        fprintf(f, "\nNOT AS EXPECTED: %s x %s\n  expected: %s\n  got:      %s (exit %ld): %s\n",
                p->name, cl->name, want.data, c->main.connected ? "connect" : "fail",
                c->main.exit_status, c->main.message);
    }
    if (!c->stage_ok) {
        util_buf_reset(&want);
        matrix_cell_stage_describe(&want, m, c);
        fprintf(f, "  stage:    %s\n", want.data);
    }
    util_buf_free(&want);
}

void
matrix_report_terminal(const matrix_t *m, double wall, FILE *f)
{
    matrix_tally_t t;
    size_t i;

    matrix_tally(m, &t);
    matrix__table(m, f);
    for (i = 0; i < m->ncells; i++) {
        const matrix_cell_t *c = &m->cells[i];
        if (matrix_cell_mismatch(m, c)) {
            matrix__mismatch_text(m, c, f);
        } else if (m->o->strict && matrix_cell_unchecked(m, c)) {
            fprintf(f, "\nNO EXPECTATION (--strict): %s x %s: the profile has no Expect line "
                       "for %s\n  got:      %s (exit %ld): %s\n", matrix_cell_profile(m, c)->name,
                    matrix_cell_client(m, c)->name, matrix_cell_client(m, c)->model,
                    c->main.connected ? "connect" : "fail", c->main.exit_status, c->main.message);
        }
        if (matrix_cell_unplayable(m, c)) {
            fprintf(f, "\nCANNOT BE PLAYED: %s x %s: %s\n", matrix_cell_profile(m, c)->name,
                    matrix_cell_client(m, c)->name, c->main.message);
        }
        if (matrix_fix_unplayable(m, c)) {
            fprintf(f, "\nFIX CANNOT BE PLAYED: %s x %s: %s\n", matrix_cell_profile(m, c)->name,
                    matrix_cell_client(m, c)->name, c->fix.message);
        } else if (c->fix_tried && !c->fix.connected) {
            fprintf(f, "\nFIX DOES NOT WORK: %s x %s: %s\n", matrix_cell_profile(m, c)->name,
                    matrix_cell_client(m, c)->name, c->fix.message);
        }
    }
    fprintf(f, "\n%zu cells: %zu as expected, %zu not as expected, %zu without expectation%s, "
               "%zu skipped", m->ncells, t.ok, t.mismatches, t.unchecked,
            m->o->strict && t.unchecked > 0 ? " (failures under --strict)" : "", t.skipped);
    if (t.differs > 0) {
        fprintf(f, ", %zu where a custom client differs from its stock model", t.differs);
    }
    if (t.unplayable > 0) {
        fprintf(f, ", %zu cannot be played (offer-only algorithms; not failures)", t.unplayable);
    }
    if (m->o->fixes) {
        fprintf(f, "; fixes: %zu work, %zu do not", t.fixes_ok, t.fixes_bad);
        if (t.fixes_unplayable > 0) {
            fprintf(f, ", %zu cannot be played", t.fixes_unplayable);
        }
    }
    /* Why a client was skipped, once per client: the reason a CI log needs. */
    for (i = 0; i < m->o->nclients; i++) {
        size_t j;
        for (j = 0; j < m->ncells; j++) {
            if (m->cells[j].client == i && m->cells[j].main.skipped) {
                fprintf(f, "\nskipped %s: %s", m->o->clients[i].name, m->cells[j].main.message);
                break;
            }
        }
    }
    fprintf(f, "\n%zu runs in %.1f s wall time: %.1f runs/s (jobs %d)\n", m->finished_runs, wall,
            wall > 0 ? (double)m->finished_runs / wall : 0.0, m->o->jobs);
    fflush(f);
}

/* --- JSON ------------------------------------------------------------------------ */

static void
matrix__json_str(util_buf_t *b, const char *s)
{
    util_buf_puts(b, "\"");
    util_buf_json_escape(b, s != NULL ? s : "");
    util_buf_puts(b, "\"");
}

static void
matrix__json_result(util_buf_t *b, const matrix_result_t *r)
{
    util_buf_t d = UTIL_BUF_INIT;

    util_buf_printf(b, "{\"connected\":%s,\"exit_status\":%ld,\"timed_out\":%s,"
                    "\"cannot_play\":%s,\"seconds\":%.3f,\"message\":",
                    r->connected ? "true" : "false", r->exit_status,
                    r->timed_out ? "true" : "false", r->seen.cannot_play ? "true" : "false",
                    r->seconds);
    matrix__json_str(b, r->message);
    util_buf_puts(b, ",\"stdout\":");
    matrix__json_str(b, r->out.data);
    util_buf_puts(b, ",\"stderr\":");
    matrix__json_str(b, r->err.data);
    matrix_seen_describe(&d, &r->seen);
    util_buf_printf(b, ",\"server\":{\"connections\":%d,\"stage\":", r->seen.conns);
    matrix__json_str(b, r->seen.stage);
    util_buf_puts(b, ",\"description\":");
    matrix__json_str(b, d.data);
    util_buf_free(&d);
    util_buf_puts(b, ",\"events\":");
    matrix__json_str(b, r->seen.saw.data);
    util_buf_puts(b, "}}");
}

static void
matrix__json_expect(util_buf_t *b, const profile_expect_t *e)
{
    util_buf_t d = UTIL_BUF_INIT;

    matrix_expect_describe(&d, e, MATRIX_DESCRIBE_FULL);
    util_buf_printf(b, ",\"expected\":{\"outcome\":\"%s\",\"stage\":",
                    e->connect ? "connect" : "fail");
    matrix__json_str(b, e->stage);
    util_buf_puts(b, ",\"pattern\":");
    matrix__json_str(b, e->pattern);
    util_buf_puts(b, ",\"description\":");
    matrix__json_str(b, d.data);
    util_buf_puts(b, "}");
    util_buf_free(&d);
}

static void
matrix__json_cell(const matrix_t *m, const matrix_cell_t *c, util_buf_t *b)
{
    const profile_t *p = matrix_cell_profile(m, c);
    const matrix_client_t *cl = matrix_cell_client(m, c);
    const profile_expect_t *e = matrix_cell_expect(m, c);
    util_buf_t tmp = UTIL_BUF_INIT;

    util_buf_puts(b, "{\"profile\":");
    matrix__json_str(b, p->name);
    util_buf_puts(b, ",\"client\":");
    matrix__json_str(b, cl->name);
    util_buf_puts(b, ",\"model\":");
    matrix__json_str(b, cl->model);
    util_buf_puts(b, ",\"verdict\":");
    matrix__json_str(b, matrix_cell_verdict(m, c));
    if (e != NULL) {
        matrix__json_expect(b, e);
        util_buf_printf(b, ",\"stage_ok\":%s", c->stage_ok || c->main.skipped ? "true" : "false");
    }
    util_buf_puts(b, ",\"result\":");
    matrix__json_result(b, &c->main);
    matrix__opts_text(&tmp, profile_client_options_find(p, cl->model));
    util_buf_puts(b, ",\"client_options\":");
    matrix__json_str(b, tmp.data);
    util_buf_free(&tmp);
    if (c->fix_tried) {
        matrix__opts_text(&tmp, profile_client_fix_find(p, cl->model));
        util_buf_puts(b, ",\"fix\":{\"options\":");
        matrix__json_str(b, tmp.data);
        util_buf_puts(b, ",\"result\":");
        matrix__json_result(b, &c->fix);
        util_buf_puts(b, "}");
        util_buf_free(&tmp);
    }
    util_buf_puts(b, "}");
}

static void
matrix__json(const matrix_t *m, double wall, util_buf_t *b)
{
    size_t i;

    util_buf_printf(b, "{\"tool\":\"sshmock matrix\",\"command\":\"%s\",\"wall_seconds\":%.3f,"
                    "\"runs\":%zu,\"cells\":[", MATRIX_COMMAND, wall, m->finished_runs);
    for (i = 0; i < m->ncells; i++) {
        util_buf_puts(b, i ? ",\n" : "\n");
        matrix__json_cell(m, &m->cells[i], b);
    }
    util_buf_puts(b, "\n]}\n");
}

/* --- JUnit ------------------------------------------------------------------------ */

static void
matrix__junit(const matrix_t *m, double wall, util_buf_t *b)
{
    matrix_tally_t t;
    size_t failures = 0;
    size_t i;

    matrix_tally(m, &t);
    for (i = 0; i < m->ncells; i++) {
        failures += matrix_cell_failed(m, &m->cells[i]);
    }
    util_buf_printf(b, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites>\n"
                    "<testsuite name=\"sshmock-matrix\" tests=\"%zu\" failures=\"%zu\" "
                    "skipped=\"%zu\" time=\"%.3f\">\n", m->ncells, failures,
                    t.skipped + t.unplayable, wall);
    for (i = 0; i < m->ncells; i++) {
        const matrix_cell_t *c = &m->cells[i];

        util_buf_puts(b, "  <testcase classname=\"");
        matrix__xml(b, matrix_cell_profile(m, c)->name);
        util_buf_puts(b, "\" name=\"");
        matrix__xml(b, matrix_cell_client(m, c)->name);
        util_buf_printf(b, "\" time=\"%.3f\">\n", c->main.seconds);
        if (c->main.skipped) {
            util_buf_puts(b, "    <skipped message=\"");
            matrix__xml(b, c->main.message);
            util_buf_puts(b, "\"/>\n");
        } else if (matrix_cell_unplayable(m, c)) {
            /* Neither passed nor failed: JUnit's word for that is skipped. */
            util_buf_puts(b, "    <skipped message=\"cannot be played: ");
            matrix__xml(b, c->main.message);
            util_buf_puts(b, "\"/>\n");
        } else if (matrix_cell_failed(m, c)) {
            util_buf_t why = UTIL_BUF_INIT;
            if (matrix_cell_unchecked(m, c)) {
                util_buf_printf(&why, "no expectation (--strict): the profile has no Expect "
                                "line for %s; got %s: %s", matrix_cell_client(m, c)->model,
                                c->main.connected ? "connect" : "fail", c->main.message);
            } else if (matrix_cell_mismatch(m, c)) {
                util_buf_puts(&why, "expected ");
                matrix_expect_describe(&why, matrix_cell_expect(m, c), MATRIX_DESCRIBE_STAGE);
                util_buf_printf(&why, ", got %s: %s", c->main.connected ? "connect" : "fail",
                                c->main.message);
                if (!c->stage_ok) {
                    util_buf_puts(&why, "; ");
                    matrix_cell_stage_describe(&why, m, c);
                }
            } else {
                util_buf_printf(&why, "the documented fix did not work: %s", c->fix.message);
            }
            util_buf_puts(b, "    <failure message=\"");
            matrix__xml(b, why.data);
            util_buf_puts(b, "\"/>\n");
            util_buf_free(&why);
        }
        util_buf_puts(b, "    <system-out>");
        matrix__xml(b, c->main.out.data);
        util_buf_puts(b, "</system-out>\n    <system-err>");
        matrix__xml(b, c->main.err.data);
        util_buf_puts(b, "</system-err>\n  </testcase>\n");
    }
    util_buf_puts(b, "</testsuite>\n</testsuites>\n");
}

/* --- HTML ------------------------------------------------------------------------ */

static void
matrix__html_head(const matrix_t *m, double wall, util_buf_t *b)
{
    matrix_tally_t t;
    size_t ok = 0;
    size_t bad = 0;
    size_t i;
    char date[64];
    time_t now = time(NULL);

    strftime(date, sizeof date, "%Y-%m-%d %H:%M UTC", gmtime(&now));
    matrix_tally(m, &t);
    /* Counted by cell: a cell whose fix fails is not as expected. */
    for (i = 0; i < m->ncells; i++) {
        const matrix_cell_t *c = &m->cells[i];
        if (matrix_cell_failed(m, c)) {
            bad++;
        } else if (!c->main.skipped && c->has_expect && c->expect_ok) {
            ok++;
        }
    }
    util_buf_printf(b,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
        "<title>sshmock matrix</title><style>\n"
        "body{font:14px/1.4 system-ui,sans-serif;margin:2em;color:#222}"
        "h1{font-size:1.4em}table{border-collapse:collapse}"
        "th,td{border:1px solid #ccc;padding:4px 6px;vertical-align:top}"
        "th{background:#f4f4f4;position:sticky;top:0}"
        "td.p{font-weight:600;max-width:16em}td.p small{font-weight:400;color:#555;display:block}"
        ".ok-connect{background:#d9f2d9}.ok-fail{background:#dde8f7}.bad{background:#f8d0d0}"
        ".skip{background:#eee;color:#777}.none{background:#fff6d6}.diff{background:#f3e1ff}"
        ".np{background:#e8e8f0}"
        "details summary{cursor:pointer}td{min-width:9em;max-width:16em}"
        "small.msg{display:block;font-family:monospace;font-size:11px;color:#333;"
        "word-break:break-word;margin-top:2px}"
        ".stage{font-size:11px;background:#fff;border:1px solid #99a;border-radius:3px;padding:0 3px}"
        ".fixok{font-size:11px;background:#2e7d32;color:#fff;border-radius:3px;padding:0 3px}"
        ".fixbad{font-size:11px;background:#c62828;color:#fff;border-radius:3px;padding:0 3px}"
        "pre{white-space:pre-wrap;max-width:40em;font-size:12px;background:#fafafa;padding:4px}"
        ".fix{font-size:12px}.legend span{padding:2px 8px;margin-right:6px}"
        "</style></head><body>\n<h1>sshmock client matrix</h1>\n"
        "<p>%zu cells: <b>%zu as expected</b>, <b>%zu not as expected</b>, %zu skipped "
        "(client missing). %zu runs in %.1f s. Command run on each server: <code>%s</code>. "
        "Generated %s.</p>\n<p class=\"legend\"><span class=\"ok-connect\">connected, as expected"
        "</span><span class=\"ok-fail\">failed, as expected</span><span class=\"bad\">not as "
        "expected</span><span class=\"diff\">your client differs from the stock one</span>"
        "<span class=\"none\">no expectation</span><span class=\"np\">cannot be played "
        "(offer-only)</span><span class=\"skip\">client "
        "missing</span></p>\n<table><tr><th>profile</th>",
        m->ncells, ok, bad, t.skipped, m->finished_runs, wall, MATRIX_COMMAND, date);
}

/* The summary line of a cell: what happened, the stage, the fix, the
 * client's own words at a glance. */
static void
matrix__html_summary(const matrix_t *m, const matrix_cell_t *c, util_buf_t *b)
{
    const profile_expect_t *e = matrix_cell_expect(m, c);

    util_buf_puts(b, "<summary><b>");
    matrix__xml(b, c->main.connected ? "connected" : c->main.skipped ? "skipped" : "failed");
    util_buf_puts(b, "</b>");
    if (e != NULL && !e->connect && !c->main.connected && !c->main.skipped) {
        /* Where it ended: the expected stage, or where the server saw it
         * end when that is not it. */
        util_buf_puts(b, " <span class=\"stage\">");
        if (c->stage_ok) {
            matrix__xml(b, e->stage);
        } else {
            util_buf_puts(b, "ended at ");
            matrix__xml(b, c->main.seen.stage);
        }
        util_buf_puts(b, "</span>");
    }
    if (matrix_cell_unplayable(m, c)) {
        util_buf_puts(b, " <span class=\"stage\">cannot be played</span>");
    }
    if (matrix_fix_unplayable(m, c)) {
        util_buf_puts(b, " <span class=\"stage\">fix cannot be played</span>");
    } else if (c->fix_tried) {
        util_buf_printf(b, " <span class=\"%s\">%s</span>", c->fix.connected ? "fixok" : "fixbad",
                        c->fix.connected ? "fix works" : "fix fails");
    }
    if (!c->main.connected) {
        char shortmsg[96];
        snprintf(shortmsg, sizeof shortmsg, "%.90s%s", c->main.message,
                 strlen(c->main.message) > 90 ? "..." : "");
        util_buf_puts(b, "<small class=\"msg\">");
        matrix__xml(b, shortmsg);
        util_buf_puts(b, "</small>");
    }
    util_buf_puts(b, "</summary>");
}

static void
matrix__html_cell(const matrix_t *m, const matrix_cell_t *c, util_buf_t *b)
{
    const profile_expect_t *e = matrix_cell_expect(m, c);
    const char *cls = c->main.skipped ? "skip"
                      : matrix_cell_unplayable(m, c) ? "np"
                      : !c->has_expect ? (m->o->strict ? "bad" : "none")
                      : !c->expect_ok && matrix_cell_is_custom(m, c) ? "diff"
                      : !c->expect_ok || matrix_cell_failed(m, c) ? "bad"
                      : c->main.connected ? "ok-connect" : "ok-fail";

    util_buf_printf(b, "<td class=\"%s\"><details>", cls);
    matrix__html_summary(m, c, b);
    util_buf_puts(b, "<div>");
    matrix__xml(b, c->main.message);
    if (e != NULL) {
        util_buf_t want = UTIL_BUF_INIT;
        matrix_expect_describe(&want, e, MATRIX_DESCRIBE_FULL);
        util_buf_puts(b, "<br><i>expected: ");
        matrix__xml(b, want.data);
        util_buf_puts(b, "</i>");
        if (!c->stage_ok) {
            util_buf_reset(&want);
            matrix_cell_stage_describe(&want, m, c);
            util_buf_puts(b, "<br><b>");
            matrix__xml(b, want.data);
            util_buf_puts(b, "</b>");
        }
        util_buf_free(&want);
    }
    util_buf_printf(b, "<br>exit status %ld, %.2f s<pre>", c->main.exit_status, c->main.seconds);
    matrix__xml(b, c->main.err.data);
    matrix__xml(b, c->main.out.data);
    util_buf_puts(b, "</pre>");
    if (c->fix_tried) {
        util_buf_t o = UTIL_BUF_INIT;
        matrix__opts_text(&o, profile_client_fix_find(matrix_cell_profile(m, c),
                                                      matrix_cell_client(m, c)->model));
        util_buf_puts(b, "<div class=\"fix\">fix <code>");
        matrix__xml(b, o.data);
        util_buf_printf(b, "</code>: %s — ", matrix_fix_unplayable(m, c) ? "cannot be played"
                                          : c->fix.connected ? "works" : "does NOT work");
        matrix__xml(b, c->fix.message);
        util_buf_puts(b, "</div>");
        util_buf_free(&o);
    }
    util_buf_puts(b, "</div></details></td>");
}

static void
matrix__html(const matrix_t *m, double wall, util_buf_t *b)
{
    size_t pi;
    size_t ci;

    matrix__html_head(m, wall, b);
    for (ci = 0; ci < m->o->nclients; ci++) {
        util_buf_puts(b, "<th>");
        matrix__xml(b, m->o->clients[ci].name);
        util_buf_puts(b, "</th>");
    }
    util_buf_puts(b, "</tr>\n");
    for (pi = 0; pi < m->nprofiles; pi++) {
        const profile_t *p = m->profiles[pi];
        util_buf_puts(b, "<tr><td class=\"p\">");
        matrix__xml(b, p->name);
        util_buf_puts(b, "<small>");
        matrix__xml(b, p->description);
        util_buf_puts(b, "</small></td>");
        for (ci = 0; ci < m->o->nclients; ci++) {
            matrix__html_cell(m, matrix__row_cell(m, pi, ci), b);
        }
        util_buf_puts(b, "</tr>\n");
    }
    util_buf_puts(b, "</table>\n<h2>Explanations</h2>\n");
    for (pi = 0; pi < m->nprofiles; pi++) {
        const profile_t *p = m->profiles[pi];
        util_buf_puts(b, "<h3>");
        matrix__xml(b, p->name);
        util_buf_puts(b, "</h3><p>");
        matrix__xml(b, p->explanation);
        util_buf_puts(b, "</p><p><b>Client side:</b> ");
        matrix__xml(b, p->fix_client);
        util_buf_puts(b, "<br><b>Server side:</b> ");
        matrix__xml(b, p->fix_server);
        util_buf_puts(b, "</p>\n");
    }
    util_buf_puts(b, "</body></html>\n");
}

/* --- files ------------------------------------------------------------------------ */

typedef struct matrix_format_s {
    const char *(*path)(const matrix_options_t *o);
    void (*write)(const matrix_t *m, double wall, util_buf_t *b);
} matrix_format_t;

static const char *matrix__json_path(const matrix_options_t *o) { return o->json_path; }
static const char *matrix__junit_path(const matrix_options_t *o) { return o->junit_path; }
static const char *matrix__html_path(const matrix_options_t *o) { return o->html_path; }

static const matrix_format_t matrix__formats[] = {
    { matrix__json_path, matrix__json },
    { matrix__junit_path, matrix__junit },
    { matrix__html_path, matrix__html },
};

static int
matrix__write_file(const char *path, const util_buf_t *b)
{
    FILE *f = fopen(path, "w");

    if (f == NULL) {
        fprintf(stderr, "sshmock matrix: cannot write %s: %s\n", path, strerror(errno));
        return -1;
    }
    if (b->data != NULL) {
        fwrite(b->data, 1, b->len, f);
    }
    return fclose(f);
}

int
matrix_report_files(const matrix_t *m, double wall)
{
    util_buf_t b = UTIL_BUF_INIT;
    size_t i;
    int rc = 0;

    for (i = 0; i < UTIL_ARRAY_SIZE(matrix__formats); i++) {
        const char *path = matrix__formats[i].path(m->o);
        if (path == NULL) {
            continue;
        }
        matrix__formats[i].write(m, wall, &b);
        if (matrix__write_file(path, &b) != 0) {
            rc = -1;
        }
        util_buf_reset(&b);
    }
    util_buf_free(&b);
    return rc;
}
