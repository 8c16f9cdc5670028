"""Passage vectors are stored in sqlite-vec's own format, and our numpy scan ranks them as sqlite-vec does: the
workspace database opened with sqlean (a sqlite3 that loads extensions) and the real sqlite-vec extension."""

from pathlib import Path

import numpy as np
import sqlean
import sqlite_vec

from app.core.knowledge.embedding import embed_pending
from app.core.knowledge.index import add_paths

SHEET = """# Lisbon office

The Lisbon office opens at 8:30 and closes at 17:00 on weekdays.

# Zephyr bond

The Zephyr 2031 bond pays a coupon of 4.25% twice a year.

# Pets

Dogs are allowed in the building if they stay on a leash.

# Parking

Staff park in the underground garage; bicycles go in the racks by the north door.

# Leave

Every employee gets 28 days of paid annual leave.

# Security

Report a lost badge to the security desk on extension 4411, staffed day and night.
"""


def test_sqlite_vec_ranks_our_stored_vectors_exactly_as_our_scan_does(ctx, tmp_path: Path) -> None:
    sheet = tmp_path / "sheet.md"
    sheet.write_text(SHEET)
    add_paths(ctx.store, "default", [sheet])  # a section a passage
    embedder = ctx.embedder()
    assert embed_pending(ctx.store, embedder, "default") == 6
    question = embedder.query("Where do I leave my bike?")
    ours = ctx.store.nearest_chunks("default", embedder.model_id, question, 10)

    db = sqlean.connect(str(ctx.paths.database))
    db.enable_load_extension(True)
    sqlite_vec.load(db)
    db.enable_load_extension(False)
    lengths = {row[0] for row in db.execute("SELECT vec_length(vector) FROM chunk_vectors")}
    theirs = db.execute(
        "SELECT chunk_id, vec_distance_cosine(vector, ?) AS distance FROM chunk_vectors"
        " WHERE workspace_id = 'default' AND model = ? ORDER BY distance",
        [sqlite_vec.serialize_float32(question.tolist()), embedder.model_id],
    ).fetchall()
    db.close()

    assert lengths == {len(question)} == {384}  # sqlite-vec reads our blobs as float32 vectors of the model's width
    assert [chunk_id for chunk_id, _ in theirs] == [chunk_id for chunk_id, _ in ours]
    assert len(ours) == 6 and ours[0][1] > ours[-1][1] + 0.2  # a real spread, not six ties
    similarities = np.array([similarity for _, similarity in ours])
    np.testing.assert_allclose(1 - np.array([distance for _, distance in theirs]), similarities, atol=1e-5)
    top = ctx.store.chunk(ours[0][0])
    assert top is not None and "bicycles" in top["text"]
