# SPDX-License-Identifier: MIT
"""Answers read back from the store or Redis are checked before they are spliced into a
response (issue 10 item 5): a damaged value, another photo's answer under this photo's key, or
equipment the catalogue does not know is a miss (logged, answered afresh by the provider),
never served."""
import json
import sqlite3

import ghhttp as G

NO_LRU = {"LRU_ENTRIES": "0", "CACHE_MAX_DISTANCE": "0"}


def test_damaged_or_foreign_store_answers_are_misses(procs, binary, photos):
    fake = procs.fake()
    s = procs.server(binary, provider=fake, env=NO_LRU)
    a, b = photos[0], photos[1]
    assert s.analyze(a).status == 200 and s.analyze(b).status == 200
    assert fake.calls() == 2
    db = sqlite3.connect(str(s.db))
    answer_b = db.execute("SELECT answer FROM equipment_cache WHERE sha256 = ?",
                          (G.sha256(b),)).fetchone()[0]
    unknown = json.loads(answer_b)
    unknown["equipment"]["slug"] = "not-in-the-catalogue"
    for i, bad in enumerate(["{not json", answer_b, json.dumps(unknown), "[]"], start=1):
        db.execute("UPDATE equipment_cache SET answer = ? WHERE sha256 = ?", (bad, G.sha256(a)))
        db.commit()
        r = s.analyze(a)
        assert r.status == 200, r
        doc = r.json()
        assert doc["image"]["sha256"] == G.sha256(a), doc  # never photo b's answer
        assert doc["cached"] is False, doc                  # the provider answered afresh
        assert fake.calls() == 2 + i
    db.close()
    warnings = [x for x in s.log_lines() if "damaged or not ours" in x.get("msg", "")]
    assert len(warnings) >= 4, warnings  # each layer that read it (exact, near, ...) logs
