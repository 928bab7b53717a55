"""Tallies for the Python integration tests (tests/it_*.sh).

    from itcheck import check, finish, run
    check(ok, "what")            # a pass, or "FAIL what" on stderr
    rc, out, err = run([prog, arg, ...])
    finish()                     # "RESULT <passed> <failed>"; exits 1 on any failure

The scripts put tests/ on PYTHONPATH before starting Python.
"""
import subprocess
import sys

_tally = {"passed": 0, "failed": 0}


def check(ok, what):
    """Counts one check; prints what failed on stderr."""
    if ok:
        _tally["passed"] += 1
    else:
        _tally["failed"] += 1
        print("FAIL " + what, file=sys.stderr)


def run(argv):
    """Runs argv; returns (exit status, stdout, stderr) as text."""
    p = subprocess.run(argv, capture_output=True, text=True)
    return p.returncode, p.stdout, p.stderr


def finish():
    """Prints the RESULT line and exits: 1 if any check failed, else 0."""
    print("RESULT %d %d" % (_tally["passed"], _tally["failed"]))
    sys.exit(1 if _tally["failed"] else 0)
