#!/usr/bin/env python3
"""Checks that the modules of server/ form no dependency circle.

A module is server/<stage>/<name>.c with its .h; it depends on every module
whose header it (or its header) includes with #include "<stage>/<name>.h".
A module may span several files: the .c files without a header of their own
that include a private header are one module with it. A private header is
"<stage>/internal.h" (the module is named after the folder: profile/profile)
or "<stage>/<name>_int.h" (the module is <stage>/<name>).
Prints the module graph by stage and exits 1, naming the modules of each
circle, when one exists.

    scripts/check-deps.py [--graph]
"""
import os
import re
import sys

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "server")
INCLUDE = re.compile(r'^\s*#\s*include\s+"([a-z0-9_]+/[a-z0-9_]+)\.h"', re.M)


def modules():
    deps = {}
    for stage in sorted(os.listdir(ROOT)):
        d = os.path.join(ROOT, stage)
        if not os.path.isdir(d):
            continue
        files = {}
        for f in sorted(os.listdir(d)):
            base, ext = os.path.splitext(f)
            if ext in (".c", ".h"):
                with open(os.path.join(d, f), encoding="utf-8") as fh:
                    files[(base, ext)] = set(INCLUDE.findall(fh.read()))

        def owner(mod):
            """The module a private header belongs to, else mod itself."""
            name = mod.split("/", 1)[1]
            if name == "internal":
                return stage + "/" + stage
            if name.endswith("_int"):
                return stage + "/" + name[:-4]
            return mod

        for (base, ext), found in files.items():
            mod = stage + "/" + base
            private = [x for x in found if x.startswith(stage + "/") and owner(x) != x]
            if owner(mod) != mod:
                mod = owner(mod)
            elif ext == ".c" and (base, ".h") not in files and private:
                mod = owner(private[0])
            found = {owner(x) if x.startswith(stage + "/") else x for x in found}
            deps.setdefault(mod, set()).update(found - {mod})
    return deps


def circles(deps):
    """Tarjan's strongly connected components with more than one module."""
    index, low, on, stack, out = {}, {}, set(), [], []
    counter = [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in sorted(deps.get(v, ())):
            if w not in deps:
                continue
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    sys.setrecursionlimit(10000)
    for v in sorted(deps):
        if v not in index:
            visit(v)
    return out


def main():
    deps = modules()
    missing = sorted({(m, d) for m, ds in deps.items() for d in ds if d not in deps})
    for m, d in missing:
        print(f"check-deps: {m} includes {d}.h, which is not a module of server/")
    if "--graph" in sys.argv:
        for m in sorted(deps):
            print(f"{m:20} -> {', '.join(sorted(deps[m])) or '-'}")
    found = circles(deps)
    for comp in found:
        print("check-deps: dependency circle among: " + ", ".join(comp))
    if found or missing:
        return 1
    print(f"check-deps: {len(deps)} modules, no dependency circle")
    return 0


if __name__ == "__main__":
    sys.exit(main())
