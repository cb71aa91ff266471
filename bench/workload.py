"""The benchmark workload, generated identically for Terraform and brick.

N resources (`terraform_data` for Terraform, `brick_data` for brick) whose
`input` interpolates one variable and two locals:

* every 10th resource (i % 10 == 0, i >= 10) references the previous 10th by
  `id`, so the graph has a dependency chain of N/10 resources;
* every resource with i % 10 == 5 has `depends_on` on the chain member
  before it (i - 5);
* every resource with i % 10 == 0 has `triggers_replace`;
* one output, the tail of the chain.

The "1 % change" variant changes the `input` of every resource with
i % 100 == 37 (below N = 100: of one resource): none of them is referenced by
another resource, so the expected plan is exactly that many in-place updates
and nothing else.

Standard library only.
"""

import os
import uuid

TOOLS = {
    # tool: (resource type, file extension, state file name)
    "terraform": ("terraform_data", ".tf", "terraform.tfstate"),
    "brick": ("brick_data", ".hcl", "brick.state.json"),
}

OUTPUT_NAME = "chain_tail"
MUTATE_MOD, MUTATE_REM = 100, 37


def mutated_indices(n):
    """Indices whose input the 1 % change variant alters (at least one, never a chain member
    when avoidable, so exactly these resources change and nothing else)."""
    picked = [i for i in range(n) if i % MUTATE_MOD == MUTATE_REM]
    if not picked:
        last = n - 1
        picked = [last if last % 10 or last == 0 else last - 1]
    return picked


def chain_tail(n):
    """Index of the last chain member (the largest multiple of 10 below n)."""
    return ((n - 1) // 10) * 10


def render_common(n):
    """Variable, locals and the output (shared by both tools but for the type name)."""
    return (
        'variable "prefix" {\n'
        "  type    = string\n"
        '  default = "bench"\n'
        "}\n"
        "\n"
        "locals {\n"
        '  env    = "perf"\n'
        '  region = "garage"\n'
        "}\n"
    )


def render_output(rtype, n):
    return (
        f'output "{OUTPUT_NAME}" {{\n'
        f"  value = {rtype}.r{chain_tail(n)}.output\n"
        "}\n"
    )


def render_resource(rtype, i, mutated=False):
    tag = "-changed" if mutated else ""
    base = f"${{var.prefix}}-${{local.env}}-${{local.region}}-{i}{tag}"
    lines = [f'resource "{rtype}" "r{i}" {{']
    if i % 10 == 0 and i >= 10:
        lines.append(f'  input = "{base}-after-${{{rtype}.r{i - 10}.id}}"')
    else:
        lines.append(f'  input = "{base}"')
    if i % 10 == 0:
        lines.append("  triggers_replace = {")
        lines.append("    env   = local.env")
        lines.append(f"    index = {i}")
        lines.append("  }")
    if i % 10 == 5:
        lines.append(f"  depends_on = [{rtype}.r{i - 5}]")
    lines.append("}")
    return "\n".join(lines) + "\n"


def render(tool, n, mutate=False):
    """Return {file name: text} for the workload of `tool` with `n` resources."""
    if n < 1:
        raise ValueError("the workload needs at least one resource")
    rtype, ext, _ = TOOLS[tool]
    changed = set(mutated_indices(n)) if mutate else set()
    resources = "\n".join(render_resource(rtype, i, i in changed) for i in range(n))
    return {
        "main" + ext: render_common(n) + "\n" + render_output(rtype, n),
        "resources" + ext: resources,
    }


def write(directory, tool, n, mutate=False):
    """Write the workload into `directory`, replacing earlier configuration files."""
    os.makedirs(directory, exist_ok=True)
    _, ext, _ = TOOLS[tool]
    for name in os.listdir(directory):
        if name.endswith(ext):
            os.remove(os.path.join(directory, name))
    for name, text in render(tool, n, mutate).items():
        tmp = os.path.join(directory, name + ".tmp")
        with open(tmp, "w", encoding="utf-8") as f:
            f.write(text)
        os.replace(tmp, os.path.join(directory, name))


def _input_value(i, ids, mutated=False):
    tag = "-changed" if mutated else ""
    base = f"bench-perf-garage-{i}{tag}"
    if i % 10 == 0 and i >= 10:
        return f"{base}-after-{ids[i - 10]}"
    return base


def terraform_state(n, lineage=None):
    """The state Terraform 1.15's apply of the (unchanged) workload writes, generated.

    Used to measure Terraform's plans at sizes where its apply takes too long to run
    (`--seed-skipped-terraform-state`): the same resources, attribute values, dynamic-value
    encoding, transitive `dependencies` and output as a real apply records (compare a real
    apply's state at a small N with this, see tests/test_bench.py). Ids are fixed UUIDs.
    """
    if n < 1:
        raise ValueError("the workload needs at least one resource")
    ids = [str(uuid.uuid5(uuid.NAMESPACE_URL, f"brick-bench/r{i}")) for i in range(n)]
    deps = {}
    for i in range(n):
        d = set()
        if i % 10 == 0 and i >= 10:
            d = {i - 10} | deps[i - 10]
        elif i % 10 == 5:
            d = {i - 5} | deps[i - 5]
        deps[i] = d
    rtype = TOOLS["terraform"][0]
    resources = []
    for i in range(n):
        value = _input_value(i, ids)
        attributes = {
            "id": ids[i],
            "input": {"value": value, "type": "string"},
            "output": {"value": value, "type": "string"},
            "triggers_replace": (
                {"value": {"env": "perf", "index": i}, "type": ["object", {"env": "string", "index": "number"}]}
                if i % 10 == 0
                else None
            ),
        }
        instance = {
            "schema_version": 0,
            "attributes": attributes,
            "sensitive_attributes": [],
            "identity_schema_version": 0,
        }
        if deps[i]:
            instance["dependencies"] = sorted(f"{rtype}.r{j}" for j in deps[i])
        resources.append(
            {
                "mode": "managed",
                "type": rtype,
                "name": f"r{i}",
                "provider": 'provider["terraform.io/builtin/terraform"]',
                "instances": [instance],
            }
        )
    resources.sort(key=lambda r: r["name"])
    tail = chain_tail(n)
    return {
        "version": 4,
        "terraform_version": "1.15.5",
        "serial": n + 1,
        "lineage": lineage or str(uuid.uuid4()),
        "outputs": {OUTPUT_NAME: {"value": _input_value(tail, ids), "type": "string"}},
        "resources": resources,
        "check_results": None,
    }
