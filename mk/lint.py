#!/usr/bin/env python3
"""House rules that `make check` enforces (docs/architecture.md):

  - every C file is formatted as .clang-format says (clang-format --dry-run);
  - no file under tools/ is over 900 lines;
  - no function outside tests/ is over 150 lines.

A function is found by its shape in our formatting: a line at column 0
that opens a definition ("name(...)" possibly over several lines) followed
by a "{" alone at column 0, ending at the next "}" at column 0. Prints one
line per breach and exits 1 when there is any; `--no-format` skips the
clang-format check (for a quick look while editing).
"""
import os
import re
import subprocess
import sys

TOOLS_FILE_MAX = 900
FUNC_MAX = 150


def tracked_c_files():
    out = subprocess.run(["git", "ls-files", "-co", "--exclude-standard", "*.c", "*.h"],
                         capture_output=True, text=True, check=True).stdout
    return sorted(f for f in out.split() if os.path.exists(f))


def functions(path):
    """Yields (name, first line, length) of each function definition."""
    lines = open(path, encoding="utf-8", errors="replace").read().split("\n")
    name, start = None, None
    for i, line in enumerate(lines):
        if start is None:
            if line == "{" and i > 0:
                # Walk back to the line holding the function's name.
                j = i - 1
                while j > 0 and not re.search(r"\b(\w+)\s*\(", lines[j]):
                    j -= 1
                m = re.search(r"\b(\w+)\s*\(", lines[j])
                name, start = (m.group(1) if m else "?"), j
        elif line.startswith("}"):
            yield name, start + 1, i - start + 1
            start = None


def main():
    check_format = "--no-format" not in sys.argv
    bad = []
    files = tracked_c_files()
    for f in files:
        n = sum(1 for _ in open(f, encoding="utf-8", errors="replace"))
        if f.startswith("tools/") and n > TOOLS_FILE_MAX:
            bad.append(f"{f}: {n} lines (tools/ files: at most {TOOLS_FILE_MAX})")
        if not f.startswith("tests/"):
            for name, first, length in functions(f):
                if length > FUNC_MAX:
                    bad.append(f"{f}:{first}: {name}() is {length} lines (at most {FUNC_MAX})")
    if check_format:
        for f in files:
            r = subprocess.run(["clang-format", "--dry-run", "-Werror", f],
                               capture_output=True, text=True)
            if r.returncode != 0:
                bad.append(f"{f}: not formatted (make format)")
    for b in bad:
        print("lint: " + b)
    print(f"lint: {len(files)} files, {len(bad)} problems")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
