"""A stand-in for the brick CLI, for testing the benchmark harness only.

It speaks brick's command line (`-C DIR validate|plan|apply|destroy`, GNU-style
flags, state in DIR/brick.state.json, configuration in DIR/*.hcl) and does the
work with Terraform: `brick_data` becomes `terraform_data` in a shadow
directory. It measures nothing about brick; it lets the tests drive the brick
half of bench/harness.py end to end before the real CLI exists.

Environment: FAKE_BRICK_TERRAFORM (Terraform command line, shell words);
FAKE_BRICK_BREAK = "version" (fail `version`), "validate" (fail `validate`), "noop" (no-op plan exits 2),
"count" (drop one resource from the state after apply).
"""

import glob
import os
import shlex
import shutil
import subprocess
import sys


def main(argv):
    broken = os.environ.get("FAKE_BRICK_BREAK", "")
    if argv[:1] == ["version"]:
        if broken == "version":
            print("fake brick: broken on purpose", file=sys.stderr)
            return 1
        print("brick (fake, backed by Terraform)")
        return 0
    if len(argv) < 3 or argv[0] != "-C":
        print(f"fake brick: unsupported arguments {argv}", file=sys.stderr)
        return 64
    d, cmd, flags = argv[1], argv[2], argv[3:]
    if broken == "validate" and cmd == "validate":
        print("Error: brick::config::broken_on_purpose", file=sys.stderr)
        return 1
    shadow = os.path.join(d, ".fake-terraform")
    os.makedirs(shadow, exist_ok=True)
    for old in glob.glob(os.path.join(shadow, "*.tf")):
        os.remove(old)
    for src in glob.glob(os.path.join(d, "*.hcl")):
        with open(src, encoding="utf-8") as f:
            text = f.read().replace("brick_data", "terraform_data")
        name = os.path.splitext(os.path.basename(src))[0] + ".tf"
        with open(os.path.join(shadow, name), "w", encoding="utf-8") as f:
            f.write(text)
    state = os.path.join(d, "brick.state.json")
    if os.path.exists(state):
        shutil.copyfile(state, os.path.join(shadow, "terraform.tfstate"))
    tf = shlex.split(os.environ["FAKE_BRICK_TERRAFORM"]) + [f"-chdir={shadow}"]
    env = dict(os.environ, TF_IN_AUTOMATION="1", CHECKPOINT_DISABLE="1", TF_CLI_CONFIG_FILE=os.devnull)
    if not os.path.isdir(os.path.join(shadow, ".terraform")):
        subprocess.run(tf + ["init", "-input=false", "-no-color"], env=env, check=True, stdout=subprocess.DEVNULL)
    mapped = []
    it = iter(flags)
    for flag in it:
        if flag == "--parallelism":
            mapped.append(f"-parallelism={next(it)}")
        else:
            mapped.append("-" + flag.lstrip("-"))
    extra = ["-input=false", "-no-color"] if cmd != "validate" else ["-no-color"]
    rc = subprocess.run(tf + [cmd] + extra + mapped, env=env).returncode
    tfstate = os.path.join(shadow, "terraform.tfstate")
    if os.path.exists(tfstate) and cmd in ("apply", "destroy"):
        shutil.copyfile(tfstate, state)
        if broken == "count" and cmd == "apply":
            import json

            with open(state, encoding="utf-8") as f:
                doc = json.load(f)
            doc["resources"].pop()
            with open(state, "w", encoding="utf-8") as f:
                json.dump(doc, f)
    if broken == "noop" and cmd == "plan" and rc == 0:
        return 2
    return rc


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
