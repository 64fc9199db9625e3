#!/usr/bin/env python3
"""put_section.py RESULTS SECTION_FILE -- put the markdown section in
SECTION_FILE (it starts with a "## " heading) into RESULTS, replacing the
section with the same heading if there is one, else appending it.  Used by
make soak, whose figures go into bench/results.md beside make bench's."""

import os
import sys


def main():
    results, section = sys.argv[1], sys.argv[2]
    with open(section, encoding="utf-8") as f:
        new = f.read().strip() + "\n"
    heading = new.splitlines()[0] if new.startswith("## ") else None
    if heading is None:
        sys.exit("put_section: %s does not start with a '## ' heading"
                 % section)
    old = ""
    if os.path.exists(results):
        with open(results, encoding="utf-8") as f:
            old = f.read()
    lines, out, skipping = old.splitlines(), [], False
    for line in lines:
        if line.startswith("## "):
            skipping = line == heading
            if skipping:
                continue
        if not skipping:
            out.append(line)
    text = "\n".join(out).rstrip() + "\n\n" if out else "# Benchmark results\n\n"
    with open(results, "w", encoding="utf-8") as f:
        f.write(text + new)


if __name__ == "__main__":
    main()
