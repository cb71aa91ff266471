"""Runs the brick-versus-Terraform benchmark and prints Markdown tables.

Driven by bench/compare.sh, which installs Terraform and builds brick first.
Each step of each tool runs as its own process; wall time comes from a
monotonic clock around the process, CPU time and peak RSS from the kernel's
rusage of that process (os.wait4). Standard library only.

Exit status: 0 when every step of every tool that ran gave the expected exit
code and resource counts, 1 otherwise, 2 on a usage error.
"""

import argparse
import datetime
import json
import os
import platform
import re
import shlex
import shutil
import signal
import statistics
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import workload  # noqa: E402

STEPS = ["validate", "plan_empty", "apply", "plan_noop", "plan_change", "destroy"]
STEP_TITLES = {
    "validate": "validate",
    "plan_empty": "plan (empty state)",
    "apply": "apply",
    "plan_noop": "no-op plan",
    "plan_change": "plan, 1 % changed",
    "destroy": "destroy",
}
# Steps that need resources in the state (skipped by --skip-terraform-apply-above).
APPLY_STEPS = {"apply", "plan_noop", "plan_change", "destroy"}
# With --seed-skipped-terraform-state these run against a generated state instead.
SEEDABLE_STEPS = {"plan_noop", "plan_change"}

ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
SUMMARY = re.compile(r"Plan:\s+(\d+)\s+to add,\s+(\d+)\s+to change,\s+(\d+)\s+to destroy")


class CheckFailed(Exception):
    pass


class Interrupted(Exception):
    """SIGTERM arrived: stop measuring, report what was measured so far."""


def _raise_interrupted(signum, _frame):
    raise Interrupted(signal.Signals(signum).name)


# ---------------------------------------------------------------- measuring


def measure(cmd, log_path, env, timeout):
    """Run `cmd`, output to `log_path`; return (exit code, wall s, cpu s, peak RSS KiB)."""
    with open(log_path, "wb") as log:
        log.write(("$ " + shlex.join(cmd) + "\n").encode())
        log.flush()
        start = time.perf_counter()
        proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, env=env)
        timer = threading.Timer(timeout, proc.kill)
        timer.start()
        try:
            _, status, usage = os.wait4(proc.pid, 0)
        except BaseException:
            proc.kill()
            proc.wait()
            raise
        finally:
            timer.cancel()
        wall = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode == -9 and wall >= timeout:
        raise CheckFailed(f"timed out after {timeout:.0f} s: {shlex.join(cmd)}")
    return proc.returncode, wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss


# ---------------------------------------------------------------- checking


def count_instances(state):
    """Managed resource instances in a Terraform-shaped state document.

    Terraform: {"resources": [{"mode": "managed", "instances": [...]}, ...]}.
    brick's state (issue 3) has the same shape; a resources map is accepted too.
    """
    resources = state.get("resources", [])
    if isinstance(resources, dict):
        resources = list(resources.values())
    total = 0
    for res in resources:
        if not isinstance(res, dict):
            total += 1
            continue
        if res.get("mode", "managed") != "managed":
            continue
        instances = res.get("instances")
        total += len(instances) if isinstance(instances, (list, dict)) else 1
    return total


def read_state(path):
    if not os.path.exists(path):
        return None
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def plan_summary(log_path):
    """(add, change, destroy) from the last "Plan: …" line of a plan's output, or None."""
    with open(log_path, encoding="utf-8", errors="replace") as f:
        text = ANSI.sub("", f.read())
    if re.search(r"^No changes\.", text, re.M) and not SUMMARY.search(text):
        return (0, 0, 0)
    found = SUMMARY.findall(text)
    return tuple(int(x) for x in found[-1]) if found else None


def tail(path, lines=15):
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            return "".join(f.readlines()[-lines:])
    except OSError:
        return ""


# ---------------------------------------------------------------- tools


class Tool:
    name = ""

    def __init__(self, base_cmd, parallelism, timeout):
        self.base = base_cmd
        self.parallelism = parallelism
        self.timeout = timeout

    def state_path(self, d):
        return os.path.join(d, workload.TOOLS[self.name][2])

    def env(self):
        return dict(os.environ)

    def prepare(self, d, log_dir):
        """Untimed set-up after the workload is written (terraform init)."""

    def step_cmd(self, step, d):
        raise NotImplementedError


class Terraform(Tool):
    name = "terraform"

    def __init__(self, base_cmd, parallelism, timeout, cli_config):
        super().__init__(base_cmd, parallelism, timeout)
        self.cli_config = cli_config

    def env(self):
        env = dict(os.environ)
        env.update(TF_IN_AUTOMATION="1", CHECKPOINT_DISABLE="1", TF_CLI_CONFIG_FILE=self.cli_config)
        for var in ("TF_PLUGIN_CACHE_DIR", "TF_DATA_DIR", "TF_LOG", "TF_WORKSPACE"):
            env.pop(var, None)
        return env

    def prepare(self, d, log_dir):
        log = os.path.join(log_dir, "init.log")
        cmd = self.base + [f"-chdir={d}", "init", "-input=false", "-no-color"]
        rc, *_ = measure(cmd, log, self.env(), self.timeout)
        if rc != 0:
            raise CheckFailed(f"terraform init exited {rc}:\n{tail(log)}")

    def step_cmd(self, step, d):
        par = [f"-parallelism={self.parallelism}"] if self.parallelism else []
        c = self.base + [f"-chdir={d}"]
        return {
            "validate": c + ["validate", "-no-color"],
            "plan_empty": c + ["plan", "-input=false", "-no-color", "-detailed-exitcode"] + par,
            "apply": c + ["apply", "-input=false", "-no-color", "-auto-approve"] + par,
            "plan_noop": c + ["plan", "-input=false", "-no-color", "-detailed-exitcode"] + par,
            "plan_change": c + ["plan", "-input=false", "-no-color", "-detailed-exitcode"] + par,
            "destroy": c + ["destroy", "-input=false", "-no-color", "-auto-approve"] + par,
        }[step]


class Brick(Tool):
    name = "brick"

    def step_cmd(self, step, d):
        par = ["--parallelism", str(self.parallelism)] if self.parallelism else []
        c = self.base + ["-C", d]
        return {
            "validate": c + ["validate"],
            "plan_empty": c + ["plan", "--detailed-exitcode"] + par,
            "apply": c + ["apply", "--auto-approve"] + par,
            "plan_noop": c + ["plan", "--detailed-exitcode"] + par,
            "plan_change": c + ["plan", "--detailed-exitcode"] + par,
            "destroy": c + ["destroy", "--auto-approve"] + par,
        }[step]


def expected(step, n):
    """(exit code, plan summary or None, instances in state afterwards or None)."""
    m = len(workload.mutated_indices(n))
    return {
        "validate": (0, None, None),
        "plan_empty": (2, (n, 0, 0), None),
        "apply": (0, None, n),
        "plan_noop": (0, None, n),
        "plan_change": (2, (0, m, 0), None),
        "destroy": (0, None, 0),
    }[step]


def check_step(tool, step, n, d, log, rc):
    want_rc, want_summary, want_count = expected(step, n)
    if rc != want_rc:
        raise CheckFailed(f"{tool.name} {step}: exit code {rc}, expected {want_rc}\n{tail(log)}")
    if want_summary is not None:
        got = plan_summary(log)
        if got != want_summary:
            raise CheckFailed(
                f"{tool.name} {step}: plan summary {got} (add, change, destroy), expected {want_summary}\n{tail(log)}"
            )
    if want_count is not None:
        state = read_state(tool.state_path(d))
        if state is None:
            raise CheckFailed(f"{tool.name} {step}: no state file at {tool.state_path(d)}")
        got = count_instances(state)
        if got != want_count:
            raise CheckFailed(f"{tool.name} {step}: {got} resource instances in the state, expected {want_count}")
        if step == "apply":
            outputs = state.get("outputs")
            if isinstance(outputs, dict) and workload.OUTPUT_NAME not in outputs:
                raise CheckFailed(f"{tool.name} apply: output {workload.OUTPUT_NAME!r} missing from the state")


def seed_terraform_state(path, n):
    """Write the state Terraform's apply of the workload would have written (atomically)."""
    tmp = path + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(workload.terraform_state(n), f, indent=2)
        f.write("\n")
    os.replace(tmp, path)


def run_tool(tool, n, run_idx, workdir, skip_apply, results, progress, seed=False):
    """One full sequence of steps for one tool; fills results[step] lists."""
    d = os.path.join(workdir, f"{tool.name}-{n}")
    shutil.rmtree(d, ignore_errors=True)
    log_dir = os.path.join(workdir, "logs", f"{tool.name}-{n}-run{run_idx}")
    shutil.rmtree(log_dir, ignore_errors=True)
    os.makedirs(log_dir)
    workload.write(d, tool.name, n)
    tool.prepare(d, log_dir)
    env = tool.env()
    for step in STEPS:
        if skip_apply and step in APPLY_STEPS and not (seed and step in SEEDABLE_STEPS):
            continue
        if skip_apply and seed and step == "plan_noop":
            seed_terraform_state(tool.state_path(d), n)
        if step == "plan_change":
            workload.write(d, tool.name, n, mutate=True)
        log = os.path.join(log_dir, step + ".log")
        rc, wall, cpu, rss = measure(tool.step_cmd(step, d), log, env, tool.timeout)
        progress(
            f"  {tool.name:9} N={n:<6} run {run_idx}  {step:11} {wall:8.2f} s wall {cpu:8.2f} s CPU "
            f"{rss / 1024:7.1f} MiB  exit {rc}"
        )
        check_step(tool, step, n, d, log, rc)
        results["steps"].setdefault(step, []).append({"wall": wall, "cpu": cpu, "rss_kib": rss})
        if step == "apply":
            results.setdefault("state_bytes", []).append(os.path.getsize(tool.state_path(d)))
    shutil.rmtree(d, ignore_errors=True)


def brick_sanity(tool, workdir, progress):
    """None when brick answers `version` and validates a small workload, else the reason."""
    log_dir = os.path.join(workdir, "logs", "brick-sanity")
    os.makedirs(log_dir, exist_ok=True)
    log = os.path.join(log_dir, "version.log")
    try:
        rc, *_ = measure(tool.base + ["version"], log, tool.env(), 60)
    except OSError as e:
        return f"cannot run {shlex.join(tool.base)}: {e}"
    if rc != 0:
        progress(tail(log))
        return f"`brick version` exited {rc} (output in {log})"
    d = os.path.join(workdir, "brick-sanity")
    shutil.rmtree(d, ignore_errors=True)
    workload.write(d, "brick", 20)
    log = os.path.join(log_dir, "validate.log")
    rc, *_ = measure(tool.step_cmd("validate", d), log, tool.env(), 60)
    shutil.rmtree(d, ignore_errors=True)
    if rc != 0:
        progress(tail(log))
        return f"`brick -C DIR validate` of a 20-resource workload exited {rc} (output in {log})"
    progress(f"brick sanity check passed: {tail(os.path.join(log_dir, 'version.log'), 3).strip()}")
    return None


# ---------------------------------------------------------------- report


def fmt_s(x):
    if x is None:
        return "—"
    return f"{x:.2f} s" if x >= 0.1 else f"{x * 1000:.0f} ms"


def fmt_mib(kib):
    if kib is None:
        return "—"
    return f"{kib / 1024:.0f} MiB" if kib >= 10 * 1024 else f"{kib / 1024:.1f} MiB"


def fmt_ratio(a, b):
    if a is None or b is None or b == 0:
        return "—"
    r = a / b
    return f"{r:.0f}×" if r >= 10 else f"{r:.1f}×"


def fmt_bytes(b):
    if b is None:
        return "—"
    return f"{b / 1048576:.1f} MiB" if b >= 1048576 else f"{b / 1024:.0f} KiB"


def med(samples, key):
    return statistics.median(s[key] for s in samples) if samples else None


def table(n, data, tools, runs):
    """Markdown table for one size. data[tool] = {"steps": {...}, "state_bytes": [...]}."""
    tf, br = data.get("terraform"), data.get("brick")
    lines = [f"### N = {n:,} resources (median of {runs} run{'s' if runs != 1 else ''})", ""]
    lines.append(
        "| step | Terraform wall | brick wall | wall TF/brick | Terraform CPU | brick CPU "
        "| Terraform peak RSS | brick peak RSS | RSS TF/brick |"
    )
    lines.append("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for step in STEPS:
        t = (tf or {}).get("steps", {}).get(step, [])
        b = (br or {}).get("steps", {}).get(step, [])
        tw, bw = med(t, "wall"), med(b, "wall")
        tc, bc = med(t, "cpu"), med(b, "cpu")
        tr = max((s["rss_kib"] for s in t), default=None)
        brr = max((s["rss_kib"] for s in b), default=None)
        lines.append(
            f"| {STEP_TITLES[step]} | {fmt_s(tw)} | {fmt_s(bw)} | {fmt_ratio(tw, bw)} | {fmt_s(tc)} | {fmt_s(bc)} "
            f"| {fmt_mib(tr)} | {fmt_mib(brr)} | {fmt_ratio(tr, brr)} |"
        )
    ts = (tf or {}).get("state_bytes") or []
    bs = (br or {}).get("state_bytes") or []
    lines.append("")
    lines.append(
        f"State file after apply: Terraform {fmt_bytes(max(ts) if ts else None)}, "
        f"brick {fmt_bytes(max(bs) if bs else None)}."
    )
    return "\n".join(lines) + "\n"


def growth_table(sizes, data):
    """brick's growth exponent per step between consecutive sizes: log(ratio of the median
    wall time, or of the peak RSS, or of the state size) / log(ratio of N). 1.0 is linear."""
    import math

    def exp(a, b, n0, n1):
        if not a or not b or a <= 0 or b <= 0:
            return "—"
        return f"{math.log(b / a) / math.log(n1 / n0):.2f}"

    lines = ["### brick's growth exponent per step (1.00 = linear)", ""]
    steps = [(f"{n0:,} → {n1:,}", n0, n1) for n0, n1 in zip(sizes, sizes[1:])]
    lines.append("| step | " + " | ".join(f"wall {t}" for t, _, _ in steps)
                 + " | " + " | ".join(f"RSS {t}" for t, _, _ in steps) + " |")
    lines.append("|---|" + "---:|" * (2 * len(steps)))
    brick = lambda n: data[n].get("brick") or {}
    for step in STEPS:
        walls, rss = [], []
        for _, n0, n1 in steps:
            b0 = brick(n0).get("steps", {}).get(step, [])
            b1 = brick(n1).get("steps", {}).get(step, [])
            walls.append(exp(med(b0, "wall"), med(b1, "wall"), n0, n1))
            r0 = max((x["rss_kib"] for x in b0), default=None)
            r1 = max((x["rss_kib"] for x in b1), default=None)
            rss.append(exp(r0, r1, n0, n1))
        lines.append(f"| {STEP_TITLES[step]} | " + " | ".join(walls + rss) + " |")
    sizes_row = []
    for _, n0, n1 in steps:
        s0 = brick(n0).get("state_bytes") or []
        s1 = brick(n1).get("state_bytes") or []
        sizes_row.append(exp(max(s0) if s0 else None, max(s1) if s1 else None, n0, n1))
    lines += ["", "State file: " + ", ".join(f"{t}: {e}" for (t, _, _), e in zip(steps, sizes_row)) + "."]
    return "\n".join(lines) + "\n"


def machine_line():
    cpu = "unknown CPU"
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    mem = ""
    try:
        with open("/proc/meminfo", encoding="utf-8") as f:
            kib = int(f.readline().split()[1])
            mem = f", {kib / 1048576:.0f} GiB RAM"
    except (OSError, ValueError, IndexError):
        pass
    return f"{os.cpu_count()} CPUs ({cpu}){mem}, {platform.system()} {platform.release()}"


# ---------------------------------------------------------------- main


def parse_sizes(text):
    try:
        sizes = [int(x) for x in text.split(",") if x.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"sizes must be comma-separated integers, not {text!r}")
    if not sizes or any(s < 1 for s in sizes):
        raise argparse.ArgumentTypeError("sizes must be positive integers")
    return sizes


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--sizes", type=parse_sizes, default=[1000, 5000])
    p.add_argument("--runs", type=int, default=5)
    p.add_argument("--tool", choices=["both", "brick", "terraform"], default="both")
    p.add_argument("--skip-terraform-apply-above", type=int, default=None, metavar="N")
    p.add_argument(
        "--seed-skipped-terraform-state",
        action="store_true",
        help="where Terraform's apply is skipped, still measure its no-op and 1%% plans against "
        "a generated state equal to what its apply writes",
    )
    p.add_argument("--parallelism", type=int, default=None)
    p.add_argument("--terraform-cmd", help="command line that runs Terraform (shell words)")
    p.add_argument("--brick-cmd", help="command line that runs brick (shell words)")
    p.add_argument("--brick-unavailable", help="why brick cannot run (skips it, or fails with --tool brick)")
    p.add_argument("--workdir", required=True)
    p.add_argument("--json-out", help="write raw measurements here")
    p.add_argument("--step-timeout", type=float, default=7200.0)
    a = p.parse_args(argv)
    if a.runs < 1:
        p.error("--runs must be at least 1")

    def progress(msg):
        print(msg, file=sys.stderr, flush=True)

    os.makedirs(a.workdir, exist_ok=True)
    workdir = os.path.abspath(a.workdir)
    tools = []
    failures = []
    notes = []
    if a.tool in ("both", "terraform"):
        if not a.terraform_cmd:
            p.error("--terraform-cmd is required for Terraform")
        cli_config = os.path.join(workdir, "terraformrc")
        with open(cli_config, "w", encoding="utf-8") as f:
            f.write("# empty: the benchmark uses no provider from outside Terraform\n")
        tools.append(Terraform(shlex.split(a.terraform_cmd), a.parallelism, a.step_timeout, cli_config))
    if a.tool in ("both", "brick"):
        reason = a.brick_unavailable
        brick = None
        if not reason:
            if not a.brick_cmd:
                p.error("--brick-cmd is required for brick")
            brick = Brick(shlex.split(a.brick_cmd), a.parallelism, a.step_timeout)
            reason = brick_sanity(brick, workdir, progress)
        if reason:
            msg = f"brick SKIPPED: {reason.strip()}"
            progress("\n" + "!" * 72 + "\n" + msg + "\n" + "!" * 72 + "\n")
            notes.append(msg.splitlines()[0])
            if a.tool == "brick":
                failures.append(msg)
        else:
            tools.append(brick)

    load_before = os.getloadavg()
    # data[n][tool] = {"steps": {step: [samples]}, "state_bytes": [...]}
    data = {n: {t.name: {"steps": {}} for t in tools} for n in a.sizes}
    previous_handler = signal.signal(signal.SIGTERM, _raise_interrupted)
    try:
        measure_all(a, tools, data, workdir, failures, progress)
    except (Interrupted, KeyboardInterrupt) as e:
        what = str(e) or "SIGINT"
        failures.append(f"interrupted by {what}: the steps after the last one reported were not run")
        progress(f"INTERRUPTED by {what}: reporting what was measured so far")
    finally:
        signal.signal(signal.SIGTERM, previous_handler)
    report(a, tools, data, notes, failures, load_before)
    return 1 if failures else 0


def measure_all(a, tools, data, workdir, failures, progress):
    broken = set()  # (tool, n) pairs that failed once: not rerun
    for n in a.sizes:
        for run_idx in range(1, a.runs + 1):
            order = tools if run_idx % 2 == 1 else list(reversed(tools))
            for tool in order:
                if (tool.name, n) in broken:
                    continue
                skip_apply = (
                    tool.name == "terraform"
                    and a.skip_terraform_apply_above is not None
                    and n > a.skip_terraform_apply_above
                )
                try:
                    run_tool(
                        tool, n, run_idx, workdir, skip_apply, data[n][tool.name], progress,
                        seed=a.seed_skipped_terraform_state,
                    )
                except CheckFailed as e:
                    failures.append(f"N={n} run {run_idx}: {e}")
                    progress(f"FAILED: N={n} run {run_idx}: {e}")
                    broken.add((tool.name, n))
                except OSError as e:
                    failures.append(f"N={n} run {run_idx}: {tool.name}: {e}")
                    progress(f"FAILED: N={n} run {run_idx}: {tool.name}: {e}")
                    broken.add((tool.name, n))


def report(a, tools, data, notes, failures, load_before):
    now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    load_after = os.getloadavg()
    load = f"load average {load_before[0]:.1f} at the start, {load_after[0]:.1f} at the end"
    out = [f"## brick vs Terraform — {now}", "", f"Machine: {machine_line()}; {load}.", ""]
    if a.parallelism:
        out += [f"Parallelism: {a.parallelism} for both tools.", ""]
    for note in notes:
        out += [f"**{note}**", ""]
    if a.skip_terraform_apply_above is not None:
        skipped = [n for n in a.sizes if n > a.skip_terraform_apply_above]
        if skipped and any(t.name == "terraform" for t in tools):
            sizes = ", ".join(map(str, skipped))
            if a.seed_skipped_terraform_state:
                out += [
                    f"Terraform apply and destroy skipped for N = {sizes}; its no-op and 1 % plans ran "
                    "against a generated state equal to what its apply writes (bench/workload.py).",
                    "",
                ]
            else:
                out += [f"Terraform apply and the steps after it skipped for N = {sizes}.", ""]
    for n in a.sizes:
        out.append(table(n, data[n], tools, a.runs))
    if len(a.sizes) > 1 and "brick" in data[a.sizes[0]]:
        out.append(growth_table(a.sizes, data))
    if failures:
        out += ["**Failures:**", ""] + [f"- {f.splitlines()[0]}" for f in failures] + [""]
    print("\n".join(out))
    if a.json_out:
        with open(a.json_out, "w", encoding="utf-8") as f:
            json.dump(
                {
                    "date": now,
                    "machine": machine_line(),
                    "load_average": {"start": load_before, "end": load_after},
                    "runs": a.runs,
                    "parallelism": a.parallelism,
                    "notes": notes,
                    "failures": failures,
                    "results": {str(n): data[n] for n in a.sizes},
                },
                f,
                indent=2,
            )
            f.write("\n")


if __name__ == "__main__":
    sys.exit(main())
