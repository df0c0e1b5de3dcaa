"""scripts/generate_feff.py's order: each parent then its displaced variants, failures' variants last."""

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts"))
from generate_feff import pending  # noqa: E402


def test_pairs_give_each_parent_its_variants_and_put_variants_of_failures_last(tmp_path):
    stems = ["Cu_AAA", "Cu_BBB", "Cu_CCC", "Cu_DDD", "Cu_AAA_stretch0", "Cu_BBB_bend0", "Cu_CCC_pull0", "Cu_DDD_bend0"]
    order = tmp_path / "order.txt"
    order.write_text("".join(f"/x/Cu/{s}.xyz\n" for s in stems))
    out = tmp_path / "cu-k"
    assert [p.stem for p in pending(order, out)] == ["Cu_AAA", "Cu_AAA_stretch0", "Cu_BBB", "Cu_BBB_bend0",
                                                     "Cu_CCC", "Cu_CCC_pull0", "Cu_DDD", "Cu_DDD_bend0"]
    assert [p.stem for p in pending(order, out, "parents-first")] == stems
    out.mkdir()
    records = [{"stem": "Cu_AAA", "status": "ok"}, {"stem": "Cu_BBB", "status": "failed"},
               {"stem": "Cu_CCC", "status": "ok"}]
    (out / "manifest.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    # variants of finished parents first, a failed parent's variant last
    assert [p.stem for p in pending(order, out)] == ["Cu_AAA_stretch0", "Cu_CCC_pull0", "Cu_DDD", "Cu_DDD_bend0",
                                                     "Cu_BBB_bend0"]
