"""A database written by an older caretune keeps working after an upgrade that adds columns."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import inspect, text


def test_create_all_adds_new_nullable_columns_and_keeps_rows(tmp_path: Path) -> None:
    from caretune.storage.db import create_all, make_engine, sqlite_url
    from caretune.storage.jobs import Job

    db = make_engine(sqlite_url(tmp_path / "caretune.db"))
    create_all(db)
    with db.begin() as connection:  # the table as a caretune without `estimated_finish` created it
        connection.execute(text("ALTER TABLE fine_tuning_jobs DROP COLUMN estimated_finish"))
        connection.execute(text(
            "INSERT INTO fine_tuning_jobs (id, created_at, model, base_source, status, hyperparameters, "
            "training_file, seed, run_dir, model_deleted, result_files) VALUES ('ftjob-old', "
            "'2026-01-01 00:00:00', 'gemma-3-270m', 'gemma-3-270m', 'succeeded', '{}', 'file-1', 1, '/r', 0, '[]')"
        ))
    assert "estimated_finish" not in {c["name"] for c in inspect(db).get_columns("fine_tuning_jobs")}

    create_all(db)

    assert "estimated_finish" in {c["name"] for c in inspect(db).get_columns("fine_tuning_jobs")}
    from sqlalchemy.orm import Session

    with Session(db) as session:
        job = session.get(Job, "ftjob-old")
        assert job is not None and job.status == "succeeded" and job.estimated_finish is None
    db.dispose()
