#!/usr/bin/env python3
"""Generates the man pages from what they document, so they never drift:

  sshmock.1          from the built binary's own --help texts (the overview
                     and every command's), plus FILES and ENVIRONMENT
  sshmock-profile.5  from docs/profile-reference.md (the subset of Markdown
                     it uses: headings, paragraphs, lists, tables, code)

  scripts/gen-man.py --sshmock build/sshmock --out build/man
"""
import argparse
import datetime
import os
import re
import subprocess
import sys

TOP = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
COMMANDS = ["serve", "check", "list", "explain", "lab", "matrix", "probe", "diagnose", "import", "capture"]


def esc(text):
    """Roff-safe text: backslashes, and a leading dot or quote."""
    text = text.replace("\\", "\\e")
    text = re.sub(r"^([.'])", r"\\&\1", text, flags=re.M)
    return text


def inline(text):
    """Markdown inline code and bold/italic to roff fonts."""
    text = esc(text)
    text = re.sub(r"`([^`]+)`", r"\\fB\1\\fR", text)
    text = re.sub(r"\*\*([^*]+)\*\*", r"\\fB\1\\fR", text)
    text = re.sub(r"(?<![\w*])\*([^*\s][^*]*)\*(?![\w*])", r"\\fI\1\\fR", text)
    text = re.sub(r"\[([^\]]+)\]\([^)]+\)", r"\1", text)
    return text


def header(name, section, title, date):
    # The first line asks man(1) to run tbl(1), for the tables.
    return ("'\\\" t\n" '.TH %s %s "%s" "sshmock" "%s"\n' % (name.upper(), section, date, title))


def help_text(binary, args):
    out = subprocess.run([binary] + args, capture_output=True, text=True, timeout=30)
    text = out.stdout or out.stderr
    if not text.strip():
        sys.exit("gen-man: %s %s printed nothing" % (binary, " ".join(args)))
    return text


def page1(binary, date):
    lines = [header("sshmock", 1, "sshmock manual", date)]
    lines.append(".SH NAME\nsshmock \\- mock SSH server that plays how real SSH servers look and fail\n")
    lines.append(".SH SYNOPSIS\n")
    for c in COMMANDS:
        lines.append(".B sshmock %s\n.RI [ options ]\n.br\n" % c)
    lines.append(".SH DESCRIPTION\n.nf\n%s.fi\n" % esc(help_text(binary, ["--help"])))
    lines.append(".SH COMMANDS\n")
    for c in COMMANDS:
        lines.append(".SS %s\n.nf\n%s.fi\n" % (c, esc(help_text(binary, [c, "--help"]))))
    lines.append(""".SH FILES
.TP
.I PREFIX/share/sshmock/profiles/
the shipped profiles (the failure catalogue) and their demo keys
.TP
.I ~/.config/sshmock/profiles/
the user's own profiles, found by name
.TP
.I ~/.local/state/sshmock/PROFILE/
generated host keys, kept across restarts (mode 0600)
.TP
.I PREFIX/libexec/sshmock/drivers/
the client drivers the matrix runs
.SH ENVIRONMENT
.TP
.B SSHMOCK_PROFILE_PATH
colon-separated directories searched for a profile named without a path,
before the user's and the shipped ones
.TP
.B SSHMOCK_STATE_DIR
where generated host keys are kept
.TP
.B SSHMOCK_DRIVER_DIR
where the matrix finds its client drivers
.SH SEE ALSO
.BR sshmock-profile (5),
.BR sshd_config (5),
.BR ssh (1)
""")
    return "".join(lines)


def table(rows):
    out = [".TS\nallbox;\n" + " ".join(["l"] * len(rows[0])) + ".\n"]
    for r in rows:
        out.append("\t".join("T{\n%s\nT}" % inline(c) for c in r) + "\n")
    out.append(".TE\n")
    return "".join(out)


def page5(md_path, date):
    with open(md_path, encoding="utf-8") as f:
        src = f.read().split("\n")
    out = [header("sshmock-profile", 5, "sshmock manual", date),
           ".SH NAME\nsshmock-profile \\- the profile language of sshmock\n"]
    i = 0
    para = []

    def flush():
        if para:
            out.append(".PP\n" + inline(" ".join(para)) + "\n")
            para.clear()

    while i < len(src):
        line = src[i]
        if line.startswith("# "):
            flush()
            i += 1
            continue  # the title: NAME says it
        m = re.match(r"^(#{2,3}) (.*)", line)
        if m:
            flush()
            macro = ".SH" if len(m.group(1)) == 2 else ".SS"
            title = m.group(2).replace("`", "")
            out.append("%s %s\n" % (macro, esc(title.upper() if macro == ".SH" else title)))
            i += 1
            continue
        if line.startswith("    ") and not para:
            flush()
            block = []
            while i < len(src) and (src[i].startswith("    ") or src[i] == ""):
                block.append(src[i][4:])
                i += 1
            while block and block[-1] == "":
                block.pop()
            out.append(".PP\n.nf\n.RS 4\n" + esc("\n".join(block)) + "\n.RE\n.fi\n")
            continue
        if line.startswith("|"):
            flush()
            rows = []
            while i < len(src) and src[i].startswith("|"):
                cells = [c.strip() for c in src[i].strip().strip("|").split("|")]
                if not all(re.match(r"^:?-+:?$", c) for c in cells):
                    rows.append(cells)
                i += 1
            out.append(table(rows))
            continue
        m = re.match(r"^(\*|-|\d+\.) (.*)", line)
        if m:
            flush()
            item = [m.group(2)]
            i += 1
            while i < len(src) and src[i].startswith("  ") and src[i].strip():
                item.append(src[i].strip())
                i += 1
            out.append(".IP \\(bu 2\n" + inline(" ".join(item)) + "\n")
            continue
        if not line.strip():
            flush()
        else:
            para.append(line.strip())
        i += 1
    flush()
    out.append(".SH SEE ALSO\n.BR sshmock (1),\n.BR sshd_config (5)\n")
    return "".join(out)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--sshmock", required=True)
    ap.add_argument("--out", required=True)
    args = ap.parse_args()
    # SOURCE_DATE_EPOCH keeps a package build reproducible.
    when = datetime.datetime.utcfromtimestamp(int(os.environ.get("SOURCE_DATE_EPOCH", "0")) or
                                              os.path.getmtime(os.path.join(TOP, "docs",
                                                                            "profile-reference.md")))
    date = when.strftime("%Y-%m-%d")
    os.makedirs(args.out, exist_ok=True)
    with open(os.path.join(args.out, "sshmock.1"), "w", encoding="utf-8") as f:
        f.write(page1(args.sshmock, date))
    with open(os.path.join(args.out, "sshmock-profile.5"), "w", encoding="utf-8") as f:
        f.write(page5(os.path.join(TOP, "docs", "profile-reference.md"), date))


if __name__ == "__main__":
    main()
