"""FEFF10's stage processes with glibc's default malloc and with xanesviz's tunables.

    python benchmarks/feff_malloc.py STRUCTURE [--settings reference] [--absorber A]

Runs one structure's FEFF10 calculation twice, one after the other, each in a fresh process:
with glibc's default malloc behaviour (``GLIBC_TUNABLES=glibc.malloc.perturb=0``, a no-op that
keeps ``xanesviz.feff`` from adding its own) and with ``xanesviz.feff.STAGE_MALLOC_TUNABLES``.
Prints wall time, user and system CPU seconds of FEFF's processes, the stage times, and whether
the two xmu.dat files are byte-identical. The machine is printed. Some structures show no
difference (their stages do not churn large arrays); the pot stage of some Cu complexes does.
"""

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _machine import machine_line  # noqa: E402

RUN = """
import sys
from xanesviz.feff import run_feff
from xanesviz.structure import read_structure
absorber = None if sys.argv[3] == "-" else sys.argv[3]
spectrum = run_feff(read_structure(sys.argv[1]), absorber, sys.argv[2], source="benchmark", output_dir=sys.argv[4])
print(spectrum.meta.get("stage_seconds"))
"""


def run(structure: str, settings: str, absorber: str, out: Path, tunables: str | None) -> dict:
    env = dict(os.environ, GLIBC_TUNABLES="glibc.malloc.perturb=0")
    if tunables is not None:
        env["GLIBC_TUNABLES"] = tunables
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", RUN, structure, settings, absorber, str(out)], env=env,
                          capture_output=True, text=True)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        sys.exit(f"FEFF10 failed: {done.stderr.strip().splitlines()[-1] if done.stderr.strip() else done.returncode}")
    return {"wall": wall, "user": after.ru_utime - before.ru_utime, "system": after.ru_stime - before.ru_stime,
            "stages": done.stdout.strip().splitlines()[-1]}


def main() -> None:
    from xanesviz.feff import STAGE_MALLOC_TUNABLES

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("structure")
    parser.add_argument("--settings", default="reference")
    parser.add_argument("--absorber", default="-", help="index or element (default: the structure's one metal)")
    args = parser.parse_args()
    print(machine_line())
    with tempfile.TemporaryDirectory() as tmp:
        results = {}
        for label, tunables in (("glibc default", None), ("xanesviz tunables", STAGE_MALLOC_TUNABLES)):
            results[label] = run(args.structure, args.settings, args.absorber, Path(tmp) / label, tunables)
            r = results[label]
            print(f"{label}: wall {r['wall']:.1f} s, user {r['user']:.1f} s, system {r['system']:.1f} s; "
                  f"stages {r['stages']}")
        same = (Path(tmp) / "glibc default" / "xmu.dat").read_bytes() == \
            (Path(tmp) / "xanesviz tunables" / "xmu.dat").read_bytes()
        print(f"xmu.dat byte-identical: {same}")
    print(machine_line())


if __name__ == "__main__":
    main()
