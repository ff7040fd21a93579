#!/usr/bin/env python3
"""scripts/lint.py [--self-test] [ROOT] - the rules of the tree that a compiler does not check

The rules (docs/design.md tells why):
  layout    every .c and .h of src/ and every header of include/reloadd/ is
            in a layer folder, and each file of src/ opens with a comment
            naming it ("/* name.c - what it is").
  layers    a file includes headers of its own layer or of layers below it
            (LAYERS, lowest first); a header without a folder ("kube-int.h")
            only from its own folder; the generated reloadd/version.h from
            anywhere.
  banned    every .c of src/ includes reloadd/base/banned.h, as its last
            #include (it poisons the names the headers before it declare);
            no header includes it.
  policy    the domain (src/reload/, include/reloadd/reload/) reads what the
            flags decide through reloadd/config/policy.h and never includes
            reloadd/config/options.h; of the operations, only the files in
            OPTIONS_READERS (which report or parse the flags themselves) do.
  cites     a comment that cites a section (§) names the file of the repo
            it cites ("docs/reloader.md §4.1"); nothing cites a document
            outside the tree.
  pipefail  a shell script that runs under `set -o pipefail` (and every e2e
            case, which e2e/run.sh runs so) never pipes into `grep -q`: grep
            leaves at the first match, the writer dies of SIGPIPE (or curl
            says "(23) Failed writing body") and the pipeline fails although
            the line was found. Write `grep -q PATTERN <<<"$(command)"`.
  criterion no test calls cr_log_warn (or cr_log_error): Criterion counts
            each one and fails the whole run for it, with every test
            passing and no line saying why. Use cr_log_info.

--self-test breaks a copy of the tree once per rule and checks that each
break is reported, and that a call to a banned function fails to compile.
Exits 1 on any finding, printing "path:line: rule: what".
"""
import os
import re
import shutil
import subprocess
import sys
import tempfile

LAYERS = ["base", "kube", "engine", "config", "reload", "ops", "app"]
RANK = {name: i for i, name in enumerate(LAYERS)}
INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"')
CITE_DIRS = ["src", "include", "tests", "tools", "e2e", "scripts", "cmake", "deploy"]
CITE_EXT = (".c", ".h", ".sh", ".py", ".cmake", ".txt", ".yaml", ".md", ".tpl")
OPTIONS = "reloadd/config/options.h"
# Operations that report the flags (meta-info) or parse them (the explain command line).
OPTIONS_READERS = {"src/ops/metainfo.c", "include/reloadd/ops/metainfo.h", "src/ops/explain.c"}
PIPE_GREP_Q = re.compile(r"\|\s*grep\s+(-\w*q|--quiet)")
SHELL_C = re.compile(r"\b(bash|sh) -c\b")  # a child shell: pipefail is not inherited
CR_WARN = re.compile(r"\bcr_(log_warn|log_error|warn)\s*\(|\bcr_log\s*\(\s*CR_LOG_(WARNING|ERROR)")
OUTSIDE = re.compile(r"\.\./shared|reloader-behaviour\.md|\bDESIGN\s*§|\breference\s*§")


def files_under(root, top, exts):
    for d, _, names in os.walk(os.path.join(root, top)):
        for n in sorted(names):
            if n.endswith(exts):
                yield os.path.join(d, n)


def lint(root):
    found = []

    def report(path, line, rule, what):
        found.append(f"{os.path.relpath(path, root)}:{line}: {rule}: {what}")

    def layer_of(path):
        rel = os.path.relpath(path, root).split(os.sep)
        if rel[0] == "src" and len(rel) == 3 and rel[1] in RANK:
            return rel[1]
        if rel[:2] == ["include", "reloadd"] and len(rel) == 4 and rel[2] in RANK:
            return rel[2]
        return None

    sources = list(files_under(root, "src", (".c", ".h")))
    headers = list(files_under(root, "include/reloadd", (".h",)))
    for path in sources + headers:
        layer = layer_of(path)
        if layer is None:
            report(path, 1, "layout", f"not in a layer folder ({', '.join(LAYERS)})")
            continue
        with open(path, encoding="utf-8") as f:
            lines = f.read().split("\n")
        name = os.path.basename(path)
        if not any(re.match(rf"^(/\*| \*) {re.escape(name)} - ", l) for l in lines[:3]):
            report(path, 1, "layout", f'does not open with a comment "{name} - what it is"')
        includes = [(i + 1, m.group(1)) for i, l in enumerate(lines) if (m := INCLUDE.match(l))]
        for line, inc in includes:
            parts = inc.split("/")
            if inc == "reloadd/version.h":
                continue
            if len(parts) == 1:
                if not os.path.exists(os.path.join(os.path.dirname(path), inc)):
                    report(path, line, "layers", f'"{inc}" is not in this folder')
                continue
            if len(parts) != 3 or parts[0] != "reloadd" or parts[1] not in RANK:
                report(path, line, "layers", f'"{inc}": include reloadd/<layer>/<name>.h')
                continue
            if RANK[parts[1]] > RANK[layer]:
                report(path, line, "layers",
                       f'{layer} includes "{inc}" from {parts[1]}, a layer above it')
            if inc == OPTIONS and layer in ("reload", "ops") and \
                    os.path.relpath(path, root) not in OPTIONS_READERS:
                report(path, line, "policy",
                       f'{layer} includes "{OPTIONS}": read reloadd/config/policy.h')
        banned = [line for line, inc in includes if inc == "reloadd/base/banned.h"]
        if path.endswith(".c"):
            if not banned:
                report(path, 1, "banned", 'does not include "reloadd/base/banned.h"')
            elif includes[-1][1] != "reloadd/base/banned.h":
                report(path, banned[0], "banned", '"reloadd/base/banned.h" is not the last #include')
        elif banned and not path.endswith("banned.h"):
            report(path, banned[0], "banned", "a header must not include banned.h")

    for top in CITE_DIRS:
        for path in files_under(root, top, CITE_EXT):
            if path.endswith("lint.py"):
                continue
            with open(path, encoding="utf-8", errors="replace") as f:
                for i, l in enumerate(f, 1):
                    if OUTSIDE.search(l):
                        report(path, i, "cites", "cites a document outside the repository")
                    elif "§" in l and "docs/" not in l and "same file" not in l:
                        report(path, i, "cites", "a section (§) without the docs/ file it is in")
    for top in ("e2e", "tests", "scripts", "tools", ".ci"):
        for path in files_under(root, top, (".sh", "run", "cluster")):
            with open(path, encoding="utf-8", errors="replace") as f:
                text = f.read()
            if "pipefail" not in text and "e2e/cases/" not in path.replace(os.sep, "/"):
                continue
            for i, l in enumerate(text.split("\n"), 1):
                code = l.split(" #")[0]
                if code.lstrip().startswith("#") or SHELL_C.search(code):
                    continue
                if PIPE_GREP_Q.search(code):
                    report(path, i, "pipefail",
                           'a pipe into grep -q fails under pipefail when grep leaves early: '
                           'grep -q PATTERN <<<"$(command)"')
    for path in files_under(root, "tests", (".c", ".h")):
        with open(path, encoding="utf-8", errors="replace") as f:
            for i, l in enumerate(f, 1):
                if CR_WARN.search(l):
                    report(path, i, "criterion",
                           "Criterion fails the whole run on a warning or error log, every "
                           "test passing: use cr_log_info")
    return found


def self_test(root):
    ok = True
    cc = os.environ.get("CC", "cc")
    with tempfile.TemporaryDirectory() as tmp:
        # A call to a banned function does not compile; the same file without it does.
        prog = os.path.join(tmp, "b.c")
        for call, want_fail in (('strcpy(d, "x");', True), ('d[0] = 0;', False)):
            with open(prog, "w") as f:
                f.write('#include <string.h>\n#include "reloadd/base/banned.h"\n'
                        f"void f(char *d) {{ {call} }}\n")
            rc = subprocess.run([cc, "-fsyntax-only", "-I", os.path.join(root, "include"), prog],
                                capture_output=True).returncode
            if (rc != 0) != want_fail:
                print(f"self-test: compiling '{call}' after banned.h: rc {rc}")
                ok = False

        # rule -> (the file the break is in, the break)
        breaks = {
            "layout": ("src/stray.c", lambda t: open(os.path.join(t, "src", "stray.c"), "w").write(
                "/* stray.c - x */\n#include \"reloadd/base/banned.h\"\n")),
            "layers": ("src/base/buf.c", lambda t: edit(
                t, "src/base/buf.c", '#include "reloadd/base/buf.h"',
                '#include "reloadd/base/buf.h"\n#include "reloadd/reload/store.h"')),
            "banned": ("src/base/buf.c", lambda t: edit(
                t, "src/base/buf.c", '#include "reloadd/base/banned.h"\n', "")),
            "policy": ("src/reload/plan.c", lambda t: edit(
                t, "src/reload/plan.c", '#include "reloadd/config/policy.h"',
                '#include "reloadd/config/options.h"')),
            "cites": ("src/base/hash.c", lambda t: edit(
                t, "src/base/hash.c", "\n", "\n/* as the reference §4.1 says */\n")),
            "criterion": ("tests/integration/test_engine.c", lambda t: edit(
                t, "tests/integration/test_engine.c", "cr_log_info(", "cr_log_warn(")),
            "pipefail": ("e2e/cases/00-cluster.sh", lambda t: edit(
                t, "e2e/cases/00-cluster.sh", "\n", "\ncurl -fsS http://x/metrics | grep -q '^up 1'\n")),
        }
        for rule, (where, brk) in breaks.items():
            copy = os.path.join(tmp, rule)
            for top in ("src", "include", "e2e", "tests"):
                shutil.copytree(os.path.join(root, top), os.path.join(copy, top))
            brk(copy)
            hits = [f for f in lint(copy) if f.startswith(where + ":") and f": {rule}: " in f]
            if not hits:
                print(f"self-test: a broken '{rule}' rule was not reported")
                ok = False
            else:
                print(f"self-test: {rule}: reported ({hits[0]})")
    return ok


def edit(tree, rel, old, new):
    path = os.path.join(tree, rel)
    with open(path, encoding="utf-8") as f:
        s = f.read()
    assert old in s, f"{rel}: no '{old}' to break"
    with open(path, "w", encoding="utf-8") as f:
        f.write(s.replace(old, new, 1))


def main(argv):
    args = [a for a in argv if not a.startswith("--")]
    root = os.path.abspath(args[0] if args else os.path.join(os.path.dirname(__file__), ".."))
    if "--self-test" in argv:
        ok = self_test(root)
        print("lint self-test:", "passed" if ok else "FAILED")
        return 0 if ok else 1
    found = lint(root)
    for f in found:
        print(f)
    print(f"lint: {len(found)} finding(s)")
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
