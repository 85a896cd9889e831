#!/usr/bin/env python3
"""Applies the README's "Add a page behind log in" recipe to the project in the current directory.

Each block of that section follows a line naming its file: **`path`** writes the block as that file (a new one);
**`path`**, after `marker` inserts the block after the line of that file holding `marker`, at its indentation.
A marker that is missing, or a block without a file, fails: the recipe and the code must not drift apart.
"""
import pathlib
import re
import sys

readme = pathlib.Path("README.md").read_text()
start = readme.index("### Add a page behind log in")
end = readme.index("\n### ", start + 1)
section = readme[start:end]

heading = re.compile(r"^\*\*`(?P<path>[^`]+)`\*\*(?:, after `(?P<marker>[^`]+)`)?")
fence = re.compile(r"^```(\w*)$")
lines = section.split("\n")
applied = 0
target = None
i = 0
while i < len(lines):
    m = heading.match(lines[i])
    if m:
        target = (m.group("path"), m.group("marker"))
    elif fence.match(lines[i]) and lines[i] != "```":
        j = lines.index("```", i + 1)
        block = lines[i + 1 : j]
        if target is None:
            sys.exit(f"apply-recipe: a block with no file named above it (README line {i}): {block[:1]}")
        path, marker = target
        file = pathlib.Path(path)
        if marker is None:
            if file.exists():
                sys.exit(f"apply-recipe: {path} already exists")
            file.parent.mkdir(parents=True, exist_ok=True)
            file.write_text("\n".join(block) + "\n")
        else:
            text = file.read_text().split("\n")
            at = [k for k, line in enumerate(text) if marker in line]
            if len(at) != 1:
                sys.exit(f"apply-recipe: {path} has {len(at)} lines with {marker!r}, not one")
            indent = text[at[0]][: len(text[at[0]]) - len(text[at[0]].lstrip())]
            text[at[0] + 1 : at[0] + 1] = [indent + line if line else line for line in block]
            file.write_text("\n".join(text))
        print(f"apply-recipe: {path}" + (f" (after {marker!r})" if marker else ""))
        applied += 1
        target = None
        i = j
    i += 1
if applied == 0:
    sys.exit("apply-recipe: no blocks found")
