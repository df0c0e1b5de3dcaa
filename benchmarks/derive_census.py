"""Derive every Fe complex of the data as each metal: clashes, misses and time per metal.

    PYTHONPATH=. python benchmarks/derive_census.py ../shared/data/fe-k-xanes [--every N] [--metals Cu Ni ...]

Prints, per metal, how many of the parents give a derived complex, how many are refused for
a clash, how many have a ligand that could not follow the bond shift exactly (max miss above
0.02 / 0.05 Å: ligands around the metal, e.g. macrocycles, and meridional chelates), the
mean M-X distance per common donor, and the time per derivation.
"""

import argparse
import collections
import platform
import time

import numpy as np

from xanesviz.derive import METALS, ClashError, derive, first_shell
from xanesviz.derived_set import read_parents
from xanesviz.errors import StructureError


def cpu_model() -> str:
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data_dir")
    parser.add_argument("--every", type=int, default=1, help="use every N-th parent (default: all)")
    parser.add_argument("--metals", nargs="+", default=list(METALS), help="default: all nine")
    args = parser.parse_args()
    parents = read_parents(args.data_dir)
    stems = sorted(parents)[:: args.every]
    print(f"{len(stems)} parents from {args.data_dir}; CPU: {cpu_model()}")
    donors = ("C", "N", "P", "O", "Cl", "S")
    print(f"{'metal':5} {'derived':>7} {'clash':>5} {'other':>5} {'miss>0.02':>9} {'miss>0.05':>9} "
          + " ".join(f"{'M-' + x:>6}" for x in donors) + "   ms each")
    shells = {s: first_shell(parents[s]) for s in stems}
    for metal in args.metals:
        counts, misses, bonds = collections.Counter(), [], collections.defaultdict(list)
        start = time.perf_counter()
        for stem in stems:
            try:
                derived, how = derive(parents[stem], metal, source=stem)
            except ClashError:
                counts["clash"] += 1
                continue
            except StructureError:
                counts["other"] += 1
                continue
            counts["derived"] += 1
            misses.append(how.max_miss)
            for d in shells[stem].donors:
                bonds[derived[d].symbol].append(np.linalg.norm(derived.positions[d] - derived.positions[0]))
        ms = (time.perf_counter() - start) / len(stems) * 1e3
        misses = np.array(misses)
        print(f"{metal:5} {counts['derived']:7d} {counts['clash']:5d} {counts['other']:5d} "
              f"{int((misses > 0.02).sum()):9d} {int((misses > 0.05).sum()):9d} "
              + " ".join(f"{np.mean(bonds[x]):6.3f}" if bonds[x] else f"{'-':>6}" for x in donors) + f"   {ms:.0f}",
              flush=True)


if __name__ == "__main__":
    main()
