"""Upload jobs: kept as small files (instance/imports/<id>/), run on a thread of their own.

A job holds the uploaded file and a status.json: state (validating, validated, importing, done,
failed), progress 0–1, the counts and the rendered error report, so any worker can report
progress. ``start`` runs one (the upload page calls it once the request has committed).
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import threading
import time
from collections.abc import Callable
from contextlib import nullcontext
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from flask import Flask
from flask_babel import force_locale

from ..app.database import discard, storage_problem, unit_of_work, write_intent
from ..app.extensions import db
from ..io import import_file
from ..io.importer import ImportResult
from ..models import User
from ..services import access
from . import warm

STATUS = "status.json"
UPLOAD = "upload"
KEEP_SECONDS = 24 * 3600
BUSY = ("validating", "importing")


class JobStore:
    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)

    def create(self, *, user_id: int, kind: str, filename: str, locale: str, data: Any) -> str:
        """Save an upload (a werkzeug FileStorage or bytes) and return the job id."""
        self.sweep()
        job_id = secrets.token_urlsafe(16)
        folder = self.root / job_id
        folder.mkdir(parents=True)
        target = folder / UPLOAD
        if isinstance(data, bytes):
            target.write_bytes(data)
        else:
            data.save(target)
        self.write(
            job_id,
            {
                "user_id": user_id,
                "kind": kind,
                "filename": filename,
                "locale": locale,
                "state": "validating",
                "progress": 0.0,
            },
        )
        return job_id

    def running(self, user_id: int) -> int:
        """How many of this user's jobs are validating or importing (stale ones, left by a
        restart, stop counting after an hour)."""
        if not self.root.exists():
            return 0
        since = time.time() - 3600
        count = 0
        for folder in self.root.iterdir():
            status_file = folder / STATUS
            try:
                if status_file.stat().st_mtime < since:
                    continue
                status = json.loads(status_file.read_text("utf-8"))
            except (OSError, ValueError):
                continue
            if status.get("user_id") == user_id and status.get("state") in BUSY:
                count += 1
        return count

    def path(self, job_id: str) -> Path:
        return self.root / job_id / UPLOAD

    def read(self, job_id: str) -> dict[str, Any] | None:
        if not job_id.replace("-", "").replace("_", "").isalnum():
            return None
        try:
            return json.loads((self.root / job_id / STATUS).read_text("utf-8"))
        except (OSError, ValueError):
            return None

    def write(self, job_id: str, status: dict[str, Any]) -> None:
        """Replace the status atomically so a poll never reads half a file."""
        target = self.root / job_id / STATUS
        temporary = target.with_suffix(".tmp")
        temporary.write_text(json.dumps(status, ensure_ascii=False), "utf-8")
        os.replace(temporary, target)

    def update(self, job_id: str, **changes: Any) -> dict[str, Any]:
        status = self.read(job_id) or {}
        status.update(changes)
        self.write(job_id, status)
        return status

    def record(self, job_id: str, result: ImportResult, state: str) -> None:
        """Store a result with its report rendered (call inside the user's locale)."""
        self.update(
            job_id,
            state=state,
            progress=1.0,
            rows=result.rows,
            created=result.created,
            updated=result.updated,
            error_count=result.error_count,
            errors=[[e.where.label(), e.column, str(e.message)] for e in result.errors],
        )

    def sweep(self) -> None:
        """Forget jobs older than a day."""
        if not self.root.exists():
            return
        limit = time.time() - KEEP_SECONDS
        for folder in self.root.iterdir():
            if folder.is_dir() and folder.stat().st_mtime < limit:
                shutil.rmtree(folder, ignore_errors=True)


# Background import jobs still running or not yet looked at: tests join them before teardown.
# Finished ones are dropped when the next job starts or when their status is read.
_threads: dict[str, threading.Thread] = {}
_threads_lock = threading.Lock()


def prune_threads() -> None:
    """Forget the import threads that have finished, so the registry does not grow forever."""
    with _threads_lock:
        for job_id, thread in list(_threads.items()):
            if not thread.is_alive():
                del _threads[job_id]


def run(
    app: Flask,
    root: Path,
    job_id: str,
    dry_run: bool,
    *,
    tz: Callable[[], ZoneInfo],
    now: Callable[[], datetime],
) -> None:
    """Validate (dry run) or import one uploaded file, writing progress as it goes.

    ``tz`` and ``now`` are the edge's clock, asked inside the job's app context.
    """
    store = JobStore(root)
    status = store.read(job_id) or {}
    last = [0.0]

    def progress(fraction: float) -> None:
        if time.monotonic() - last[0] > 0.5:
            last[0] = time.monotonic()
            store.update(job_id, progress=round(fraction, 3))

    with app.app_context(), force_locale(status.get("locale", "ja")):
        user = db.session.get(User, status["user_id"])
        limit = None if access.is_owner(user) else user.branch_id
        try:
            with write_intent() if not dry_run else nullcontext(), unit_of_work(db.session) as work:
                result = import_file(
                    db.session,
                    status["kind"],
                    store.path(job_id),
                    filename=status["filename"],
                    dry_run=dry_run,
                    user=user,
                    limit_branch_id=limit,
                    progress=progress,
                    tz=tz(),
                    now=now(),
                )
                if not result.written:
                    work.discard()
            state = "done" if result.written else ("validated" if result.ok else "invalid")
            store.record(job_id, result, state)
            if result.written and status["kind"] in ("sales", "budgets"):
                warm.warm_all(app)  # the pages' forecasts read the new data (docs/kgi.md)
        except Exception as exc:
            discard(db.session)
            problem = storage_problem(exc)
            if problem is None:
                app.logger.exception("import job %s failed", job_id)
                store.update(job_id, state="failed")
            else:
                app.logger.error("import job %s: database refused (%s): %s", job_id, problem, exc)
                # Nothing was written (one transaction): the checked file can be imported again
                # once the disk is fixed.
                state = "failed" if dry_run else "validated"
                store.update(job_id, state=state, progress=1.0, problem=problem)
        finally:
            db.session.remove()


def start(
    app: Flask,
    root: Path,
    job_id: str,
    dry_run: bool,
    *,
    tz: Callable[[], ZoneInfo],
    now: Callable[[], datetime],
) -> None:
    """Run the job on a thread of its own (inline when FIELDLOG_IMPORT_INLINE is set)."""
    if app.config.get("FIELDLOG_IMPORT_INLINE"):
        run(app, root, job_id, dry_run, tz=tz, now=now)
        return
    prune_threads()
    thread = threading.Thread(
        target=run, args=(app, root, job_id, dry_run), kwargs={"tz": tz, "now": now}, daemon=True
    )
    with _threads_lock:
        _threads[job_id] = thread
    thread.start()
