"""Turn the drag-fidelity benchmark's FEFF10 runs of real Fe complexes into a training data set.

    python scripts/real_fe_set.py runs/drag-fidelity -o data/feff-real [--stems STEM ...]

``benchmarks/drag_fidelity.py --out RUNS`` computes, with the reference FEFF10 settings, each
real tmQM Fe complex as it is (``STEM``) and moved by each displacement family
(``STEM@family``). This writes them as ``OUT/fe-k/`` in the layout of ``xanesviz simulate``
(``xyz/``, ``spectra/``, ``feff/<stem>/`` with feff.inp, convergence.scf and result.json,
``manifest.jsonl``; not xmu.dat, whose μ column on FEFF's energies is the spectrum file), named
as the derived data sets name theirs so that pooling finds the pairs: ``Fe_REFCODE`` for a
complex, ``Fe_REFCODE_<kind><n>`` for its moves (kind stretch, bend, pull or breathe; n is the
family's place in ``xanesviz.derived_set.ONE_ATOM_MOVES`` + 1, the same for every complex whatever
failed; the manifest keeps each one's original stem and family). Complexes whose own run failed are left out,
and so are failed moves. Nothing is recomputed. Run again with other RUNS, it adds their complexes
(the manifest keeps the earlier ones).

    python scripts/real_fe_set.py --restore data/feff-real [--only runs/real-train2]

does the reverse: it writes back, from the data set, each ``drag_fidelity.py --out`` directory its
manifest names as a source (``structures/``, ``feff-reference/`` with spectra, FEFF files and
manifest), so that ``benchmarks/real_complexes.py --runs`` works on a fresh clone and an
unfinished draw resumes where it stopped without recomputing anything. Existing files are kept.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from pathlib import Path

from xanesviz import packed
from xanesviz.derived_set import ONE_ATOM_MOVES
from xanesviz.simulate import pack_feff_files

KEPT = ("feff.inp", "convergence.scf", "result.json")  # FEFF's input and run record; xmu.dat repeats spectra/
KINDS = ("stretch", "bend", "pull", "breathe")


def kind_of(family: str) -> str:
    for kind in KINDS:
        if family.startswith(kind) and family in ONE_ATOM_MOVES:
            return kind
    raise SystemExit(f"real_fe_set: unknown displacement family {family!r}")


def restore(data: Path, only: list[str] | None) -> int:
    """Write back the drag_fidelity.py runs that ``data``'s fe-k/ was made from (see the docstring)."""
    root = data / "fe-k"
    if not (root / "manifest.jsonl").is_file():
        sys.exit(f"real_fe_set: {root / 'manifest.jsonl'} is missing: not a data set written by this script")
    rows = [json.loads(line) for line in (root / "manifest.jsonl").read_text().splitlines() if line.strip()]
    lacking = [row.get("stem", "?") for row in rows if not {"source", "source_stem"} <= set(row)]
    if lacking:
        sys.exit(f"real_fe_set: {root / 'manifest.jsonl'}: {lacking[0]} (and {len(lacking) - 1} more) name no source "
                 "run: cannot restore")
    by_runs: dict[str, list[dict]] = {}
    for row in rows:
        runs = row["source"].split("/structures/")[0]
        by_runs.setdefault(runs, []).append(row)
    if only:
        unknown = sorted(set(only) - set(by_runs))
        if unknown:
            sys.exit(f"real_fe_set: {root} has no runs from {', '.join(unknown)} (it has {', '.join(sorted(by_runs))})")
        by_runs = {runs: by_runs[runs] for runs in only}
    for runs, records in sorted(by_runs.items()):
        feff_dir = Path(runs) / "feff-reference"
        for sub in (Path(runs) / "structures", feff_dir / "spectra", feff_dir / "feff"):
            sub.mkdir(parents=True, exist_ok=True)
        manifest = feff_dir / "manifest.jsonl"
        known = set()
        if manifest.is_file():
            known = {json.loads(line)["stem"] for line in manifest.read_text().splitlines() if line.strip()}
        added = 0
        with manifest.open("a") as handle:
            for row in records:
                source, name = row["source_stem"], row["stem"]
                copies = [(root / "xyz" / f"{name}.xyz", Path(runs) / "structures" / f"{source}.xyz"),
                          (root / "spectra" / f"{name}.txt", feff_dir / "spectra" / f"{source}.txt")]
                copies += [(root / "feff" / name / kept, feff_dir / "feff" / source / kept) for kept in KEPT]
                for origin, target in copies:  # the data set's files may be packed (NAME.gz): written back plain
                    if packed.exists(origin) and not target.exists():
                        target.parent.mkdir(parents=True, exist_ok=True)
                        packed.copy_unpacked(origin, target)
                if source not in known:
                    record = {k: v for k, v in row.items() if k not in ("source_stem", "family")}
                    handle.write(json.dumps({**record, "stem": source}) + "\n")  # "source": the structure, as simulate
                    added += 1
        print(f"restored {runs}: {len(records)} FEFF10 runs ({added} added to its manifest)")
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", nargs="?", help="drag_fidelity.py's --out (with feff-reference/)")
    parser.add_argument("-o", "--output", help="root of the data set (its fe-k/ is written)")
    parser.add_argument("--stems", nargs="*", help="only these complexes (default: every one in RUNS)")
    parser.add_argument("--restore", metavar="DATA", help="write back the runs DATA was made from, instead")
    parser.add_argument("--only", nargs="*", metavar="RUNS", help="with --restore: only these runs directories")
    args = parser.parse_args()
    if args.restore:
        return restore(Path(args.restore), args.only)
    if not args.runs or not args.output:
        parser.error("give RUNS and -o DATA (or --restore DATA)")
    feff_dir = Path(args.runs) / "feff-reference"
    manifest = feff_dir / "manifest.jsonl"
    if not manifest.is_file():
        sys.exit(f"real_fe_set: {manifest} is missing: run benchmarks/drag_fidelity.py first")
    rows = {}
    for line in manifest.read_text().splitlines():
        if line.strip():
            row = json.loads(line)
            rows[row["stem"]] = row  # the last record of a stem counts
    ok = {stem for stem, row in rows.items() if row.get("status") == "ok"
          and (feff_dir / "spectra" / f"{stem}.txt").is_file()}
    complexes = sorted(s for s in ok if "@" not in s)
    if args.stems:
        missing = sorted(set(args.stems) - set(complexes))
        if missing:
            sys.exit(f"real_fe_set: no finished FEFF10 run of {', '.join(missing)} in {feff_dir}")
        complexes = sorted(args.stems)
    out = Path(args.output) / "fe-k"
    for sub in ("xyz", "spectra", "feff"):
        (out / sub).mkdir(parents=True, exist_ok=True)
    records = []
    for stem in complexes:
        refcode = stem.split("_")[0]
        families = sorted(s.split("@", 1)[1] for s in ok if s.startswith(stem + "@"))
        for family in [None] + families:
            source = stem if family is None else f"{stem}@{family}"
            name = f"Fe_{refcode}" + ("" if family is None else f"_{kind_of(family)}{ONE_ATOM_MOVES.index(family) + 1}")
            shutil.copyfile(Path(args.runs) / "structures" / f"{source}.xyz", out / "xyz" / f"{name}.xyz")
            shutil.copyfile(feff_dir / "spectra" / f"{source}.txt", out / "spectra" / f"{name}.txt")
            (out / "feff" / name).mkdir(exist_ok=True)
            for kept in KEPT:
                if (feff_dir / "feff" / source / kept).is_file():
                    shutil.copyfile(feff_dir / "feff" / source / kept, out / "feff" / name / kept)
            record = {**rows[source], "stem": name, "source_stem": source, "family": family,
                      "source": f"{args.runs}/structures/{source}.xyz"}
            records.append(record)
    kept = []  # rows of complexes written by earlier runs of this script (from other RUNS)
    if (out / "manifest.jsonl").is_file():
        written = {r["stem"] for r in records}
        kept = [json.loads(line) for line in (out / "manifest.jsonl").read_text().splitlines() if line.strip()]
        kept = [r for r in kept if r["stem"] not in written]
    (out / "manifest.jsonl").write_text("".join(json.dumps(r) + "\n" for r in kept + records))
    pack_feff_files(out)
    moves = sum(r["family"] is not None for r in records)
    print(f"wrote {out}: {len(complexes)} complexes and {moves} moves of them ({len(records)} FEFF10 spectra)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
