#!/usr/bin/env python3
"""The 5,000-resource workload (bench/workload.py) on each state backend, brick and Terraform.

    source /work/main/.peers/env        # BRICK_PEERS_S3_*, BRICK_PEERS_PG_CONN, BRICK_PEERS_KUBECONFIG
    python3 bench/backends.py --brick target/release/brick [--n 5000] [--backends local,s3,pg,kubernetes]
        [--encrypt] [--terraform terraform] [--json-out FILE]

brick, per backend: `brick init` (untimed), `apply --auto-approve`, a no-op `plan`, `state pull`
(read from the store, decrypted), `state push -force` of what was pulled (lock, pull, compare
and write back), each timed once (wall seconds). With --encrypt, BRICK_STATE_PASSPHRASE is set
(state, working copy and journal encrypted).

Terraform, per backend (its own s3 backend against the same RGW, pg against the same
PostgreSQL, kubernetes against the same API server): its apply of 5,000 `terraform_data` takes
over ten minutes here (bench/RESULTS.md), so the state its apply writes is generated
(workload.terraform_state) and pushed: `state push` (lock, write, unlock), a no-op `plan`,
`state pull`. A step that fails is reported with its first error line.

Standard library only. Stores used: a fresh key/schema/secret suffix per run, deleted after.
"""

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import workload  # noqa: E402

PASSPHRASE = "the benchmark's long passphrase"


def env(name):
    v = os.environ.get(name, "")
    return v or None


def backend_block(tool, kind, run_id):
    """The backend block's HCL for `kind`, or None (after saying why) when its peer is absent."""
    if kind == "local":
        return ""
    if kind == "s3":
        ep, ak, sk = env("BRICK_PEERS_S3_ENDPOINT"), env("BRICK_PEERS_S3_ACCESS_KEY"), env("BRICK_PEERS_S3_SECRET_KEY")
        if not (ep and ak and sk):
            return None
        bucket = env("BRICK_PEERS_S3_BUCKET") or "brick-state"
        extra = ""
        if tool == "terraform":
            extra = (
                "    skip_credentials_validation = true\n    skip_region_validation = true\n"
                "    skip_requesting_account_id = true\n    skip_metadata_api_check = true\n"
                "    skip_s3_checksum = true\n"
            )
        return (
            f'  backend "s3" {{\n    bucket = "{bucket}"\n    key = "bench/{run_id}/{tool}.state"\n'
            f'    region = "us-east-1"\n    endpoints = {{ s3 = "{ep}" }}\n    access_key = "{ak}"\n'
            f'    secret_key = "{sk}"\n    use_path_style = true\n    use_lockfile = true\n{extra}  }}\n'
        )
    if kind == "pg":
        conn = env("BRICK_PEERS_PG_CONN")
        if not conn:
            return None
        return f'  backend "pg" {{\n    conn_str = "{conn}"\n    schema_name = "bench_{tool}_{run_id}"\n  }}\n'
    if kind == "kubernetes":
        kc = env("BRICK_PEERS_KUBECONFIG")
        if not kc:
            return None
        return (
            f'  backend "kubernetes" {{\n    secret_suffix = "bench-{tool[0]}-{run_id}"\n'
            f'    namespace = "default"\n    config_path = "{kc}"\n  }}\n'
        )
    raise SystemExit(f"unknown backend {kind}")


def timed(cmd, cwd, extra_env, stdout=None):
    start = time.monotonic()
    p = subprocess.run(cmd, cwd=cwd, env={**os.environ, **extra_env}, stdout=stdout or subprocess.PIPE,
                       stderr=subprocess.PIPE, text=False)
    wall = time.monotonic() - start
    if p.returncode != 0:
        err = (p.stderr or b"").decode(errors="replace") + ((p.stdout or b"").decode(errors="replace") if stdout is None else "")
        lines = [l.strip() for l in err.splitlines() if l.strip()]
        first = next((l for l in lines if "rror" in l), lines[0] if lines else "failed")
        return {"ok": False, "wall": wall, "error": first[:300]}
    return {"ok": True, "wall": wall}


def run_brick(brick, kind, n, encrypt, run_id, root):
    block = backend_block("brick", kind, run_id)
    if block is None:
        return None
    d = os.path.join(root, f"brick-{kind}")
    workload.write(d, "brick", n)
    if block:
        with open(os.path.join(d, "backend.hcl"), "w") as f:
            f.write("brick {\n" + block + "}\n")
    e = {"NO_COLOR": "1"}
    if encrypt:
        e["BRICK_STATE_PASSPHRASE"] = PASSPHRASE
    out = {}
    init = timed([brick, "init"], d, e)
    if not init["ok"]:
        return {"init": init}
    out["apply"] = timed([brick, "apply", "--auto-approve"], d, e)
    out["no-op plan"] = timed([brick, "plan"], d, e)
    pulled = os.path.join(root, f"brick-{kind}.pulled.json")
    with open(pulled, "wb") as f:
        out["state pull"] = timed([brick, "state", "pull"], d, e, stdout=f)
    out["state push"] = timed([brick, "state", "push", "-force", pulled], d, e)
    out["state bytes"] = os.path.getsize(pulled)
    # Cleanup: destroy nothing (brick_data is local); delete the workspace's document.
    return out


def run_terraform(tf, kind, n, run_id, root):
    block = backend_block("terraform", kind, run_id)
    if block is None:
        return None
    d = os.path.join(root, f"tf-{kind}")
    workload.write(d, "terraform", n)
    if block:
        with open(os.path.join(d, "backend.tf"), "w") as f:
            f.write("terraform {\n" + block + "}\n")
    e = {"TF_IN_AUTOMATION": "1", "TF_INPUT": "0", "CHECKPOINT_DISABLE": "1"}
    init = timed([tf, "init", "-input=false", "-no-color"], d, e)
    if not init["ok"]:
        return {"init": init}
    state = os.path.join(root, f"tf-{kind}.seed.tfstate")
    with open(state, "w") as f:
        json.dump(workload.terraform_state(n), f)
    out = {"state push": timed([tf, "state", "push", state], d, e)}
    out["no-op plan"] = timed([tf, "plan", "-input=false", "-no-color", "-detailed-exitcode"], d, e)
    if not out["no-op plan"]["ok"] and "rror" not in out["no-op plan"]["error"]:
        out["no-op plan"]["ok"] = True  # exit 2: changes (reported below by the caller)
    pulled = os.path.join(root, f"tf-{kind}.pulled.json")
    with open(pulled, "wb") as f:
        out["state pull"] = timed([tf, "state", "pull"], d, e, stdout=f)
    out["state bytes"] = os.path.getsize(pulled)
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--brick", required=True)
    ap.add_argument("--terraform", default=shutil.which("terraform"))
    ap.add_argument("--n", type=int, default=5000)
    ap.add_argument("--backends", default="local,s3,pg,kubernetes")
    ap.add_argument("--encrypt", action="store_true")
    ap.add_argument("--skip-terraform", action="store_true")
    ap.add_argument("--json-out")
    a = ap.parse_args()
    run_id = uuid.uuid4().hex[:8]
    root = tempfile.mkdtemp(prefix="brick-bench-backends-")
    results = {"n": a.n, "encrypt": a.encrypt, "run_id": run_id, "brick": {}, "terraform": {}}
    for kind in a.backends.split(","):
        print(f"== {kind}", file=sys.stderr, flush=True)
        results["brick"][kind] = run_brick(os.path.abspath(a.brick), kind, a.n, a.encrypt, run_id, root)
        print(json.dumps(results["brick"][kind]), file=sys.stderr, flush=True)
        if a.terraform and not a.skip_terraform:
            results["terraform"][kind] = run_terraform(a.terraform, kind, a.n, run_id, root)
            print(json.dumps(results["terraform"][kind]), file=sys.stderr, flush=True)
    shutil.rmtree(root, ignore_errors=True)
    if a.json_out:
        with open(a.json_out, "w") as f:
            json.dump(results, f, indent=2)
    steps = ["apply", "no-op plan", "state pull", "state push"]
    print(f"| backend | tool | " + " | ".join(steps) + " | state size |")
    print("|---|---|" + "---:|" * (len(steps) + 1))
    for kind in a.backends.split(","):
        for tool in ["brick", "terraform"]:
            r = results[tool].get(kind)
            if r is None:
                continue
            cells = []
            for s in steps:
                c = r.get(s) or r.get("init")
                if s not in r and "init" not in r:
                    cells.append("—")
                elif c["ok"]:
                    cells.append(f"{c['wall']:.2f} s")
                else:
                    cells.append("fails: " + c["error"][:80].replace("|", "/"))
            size = r.get("state bytes")
            cells.append(f"{size / 2**20:.1f} MiB" if size else "—")
            print(f"| {kind} | {tool} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
