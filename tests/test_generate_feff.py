"""scripts/generate_feff.py's order: each parent, then (once it is done) its displaced variants,
failures' variants last."""

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts"))
from generate_feff import pending  # noqa: E402


def test_pairs_give_each_parent_its_variants_once_done_and_put_variants_of_failures_last(tmp_path):
    stems = ["Cu_AAA", "Cu_BBB", "Cu_CCC", "Cu_DDD", "Cu_AAA_stretch0", "Cu_BBB_bend0", "Cu_CCC_pull0", "Cu_DDD_bend0"]
    order = tmp_path / "order.txt"
    order.write_text("".join(f"/x/Cu/{s}.xyz\n" for s in stems))
    out = tmp_path / "cu-k"
    # nothing computed: the parents, then their variants in the parents' order
    assert [p.stem for p in pending(order, out)] == ["Cu_AAA", "Cu_BBB", "Cu_CCC", "Cu_DDD",
                                                     "Cu_AAA_stretch0", "Cu_BBB_bend0", "Cu_CCC_pull0", "Cu_DDD_bend0"]
    assert [p.stem for p in pending(order, out, "parents-first")] == stems
    out.mkdir()
    records = [{"stem": "Cu_AAA", "status": "ok"}, {"stem": "Cu_BBB", "status": "failed"},
               {"stem": "Cu_CCC", "status": "ok"}]
    (out / "manifest.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    # variants of finished parents first, then a new parent, its variant after it, a failed parent's variant last
    assert [p.stem for p in pending(order, out)] == ["Cu_AAA_stretch0", "Cu_CCC_pull0", "Cu_DDD", "Cu_DDD_bend0",
                                                     "Cu_BBB_bend0"]


def test_a_shift_starts_the_parents_further_into_the_list_after_the_pairs_already_begun(tmp_path):
    """``shift`` (each edge its own share of the list) starts the parents that far in, wrapping
    around; a computed parent's variant still comes first, so its pair completes."""
    stems = ["Ni_AAA", "Ni_BBB", "Ni_CCC", "Ni_DDD", "Ni_AAA_stretch0", "Ni_BBB_bend0", "Ni_CCC_pull0", "Ni_DDD_bend0"]
    order = tmp_path / "order.txt"
    order.write_text("".join(f"/x/Ni/{s}.xyz\n" for s in stems))
    out = tmp_path / "ni-k"
    assert [p.stem for p in pending(order, out, shift=0.5)] == ["Ni_CCC", "Ni_DDD", "Ni_AAA", "Ni_BBB", "Ni_CCC_pull0",
                                                                "Ni_DDD_bend0", "Ni_AAA_stretch0", "Ni_BBB_bend0"]
    out.mkdir()
    (out / "manifest.jsonl").write_text(json.dumps({"stem": "Ni_AAA", "status": "ok"}) + "\n")
    assert [p.stem for p in pending(order, out, shift=0.5)][:4] == ["Ni_AAA_stretch0", "Ni_CCC", "Ni_DDD", "Ni_BBB"]
    assert [p.stem for p in pending(order, out, "parents-first", shift=0.5)] == stems[1:]
