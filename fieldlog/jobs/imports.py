"""Upload jobs kept as small files (instance/imports/<id>/), so any worker can report progress.

A job holds the uploaded file and a status.json: state (validating, validated, importing, done,
failed), progress 0–1, the counts and the rendered error report.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import time
from pathlib import Path
from typing import Any

from ..io.importer import ImportResult

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
