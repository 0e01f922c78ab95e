"""The job ledger: an embedded SQLite database (stdlib ``sqlite3``, WAL) in ``ALICE_DATA_DIR/ledger.sqlite3``.

One row per generation, written BEFORE anything is paid and updated at every transition, so a paid job survives a
crash, a restart or a lost connection. Also kept here: each job's status history, the upload cache (content hash →
fal URL + expiry) and a stat-keyed cache of file digests.

Contract:

* Methods are synchronous and thread-safe (one connection, one lock); async callers run them in a worker thread
  (:class:`AsyncLedger` does that for every method).
* A job's status only moves forward: once it is terminal (``completed``, ``failed``, ``cancelled``,
  ``submit_unknown``) :meth:`Ledger.update` leaves it alone and returns ``None``.
* Several processes may share one ledger (WAL + ``busy_timeout``); :meth:`Ledger.claim` decides which process follows
  a job.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import logging
import os
import secrets
import sqlite3
import threading
import time
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any, Callable, Iterable, Optional

import anyio

from alice_mcp.data.errors import ConfigError
from alice_mcp.data.redact import scrub, scrub_value

PENDING, SUBMITTING, RUNNING, COMPLETED_AT_FAL = "pending", "submitting", "running", "completed_at_fal"
COMPLETED, FAILED, CANCELLED, SUBMIT_UNKNOWN = "completed", "failed", "cancelled", "submit_unknown"
ACTIVE = (PENDING, SUBMITTING, RUNNING, COMPLETED_AT_FAL)
TERMINAL = (COMPLETED, FAILED, CANCELLED, SUBMIT_UNKNOWN)
STATUSES = ACTIVE + TERMINAL
STALE_CLAIM_S = 600.0
"""An idempotency key claimed this long ago by a call that never recorded its job is free again (that call died
while checking its request, before anything was uploaded or paid)."""

#: error codes of failed jobs fal does not bill (reference: fal-foley-models §3.4): a failed input fetch.
UNBILLED_FAILURES = "('fal_input_unreachable')"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS jobs (
    id TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    endpoint TEXT NOT NULL,
    status TEXT NOT NULL,
    request_json TEXT NOT NULL,
    settings_json TEXT NOT NULL,
    payload_json TEXT,
    input_fingerprint TEXT,
    cache_key TEXT,
    wanted_path TEXT NOT NULL,
    cost_usd REAL NOT NULL,
    request_id TEXT,
    status_url TEXT,
    response_url TEXT,
    cancel_url TEXT,
    file_url TEXT,
    output_path TEXT,
    details_json TEXT NOT NULL DEFAULT '{}',
    error TEXT,
    error_code TEXT,
    queue_position INTEGER,
    last_log TEXT,
    owner TEXT,
    heartbeat_at REAL,
    tail_attempts INTEGER NOT NULL DEFAULT 0,
    created_at REAL NOT NULL,
    updated_at REAL NOT NULL,
    submitted_at REAL,
    finished_at REAL,
    parent_id TEXT
);
CREATE INDEX IF NOT EXISTS jobs_by_status ON jobs(status);
CREATE INDEX IF NOT EXISTS jobs_by_created ON jobs(created_at);
CREATE INDEX IF NOT EXISTS jobs_by_cache_key ON jobs(cache_key) WHERE cache_key IS NOT NULL;
CREATE TABLE IF NOT EXISTS job_events (
    job_id TEXT NOT NULL,
    at REAL NOT NULL,
    status TEXT NOT NULL,
    message TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS job_events_by_job ON job_events(job_id, at);
CREATE TABLE IF NOT EXISTS uploads (
    digest TEXT PRIMARY KEY,
    size INTEGER NOT NULL,
    url TEXT NOT NULL,
    expires_at REAL,
    created_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS idempotency_keys (
    key TEXT PRIMARY KEY,
    tool TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    job_id TEXT,
    created_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS spend_approvals (
    id TEXT PRIMARY KEY,
    tool TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    endpoint TEXT NOT NULL,
    cost_usd REAL NOT NULL,
    formula TEXT NOT NULL,
    created_at REAL NOT NULL,
    expires_at REAL NOT NULL,
    used_at REAL,
    pinned_json TEXT NOT NULL DEFAULT '{}'
);
CREATE TABLE IF NOT EXISTS file_digests (
    path TEXT PRIMARY KEY,
    size INTEGER NOT NULL,
    mtime_ns INTEGER NOT NULL,
    inode INTEGER NOT NULL,
    digest TEXT NOT NULL
);
"""


@dataclass(frozen=True)
class JobRecord:
    """One ledger row. Times are epoch seconds; ``request``/``settings``/``payload``/``details`` are decoded JSON."""

    id: str
    kind: str
    endpoint: str
    status: str
    request: dict
    settings: dict
    payload: Optional[dict]
    input_fingerprint: Optional[str]
    cache_key: Optional[str]
    wanted_path: str
    cost_usd: float
    request_id: Optional[str]
    status_url: Optional[str]
    response_url: Optional[str]
    cancel_url: Optional[str]
    file_url: Optional[str]
    output_path: Optional[str]
    details: dict
    error: Optional[str]
    error_code: Optional[str]
    queue_position: Optional[int]
    last_log: Optional[str]
    owner: Optional[str]
    heartbeat_at: Optional[float]
    tail_attempts: int
    created_at: float
    updated_at: float
    submitted_at: Optional[float]
    finished_at: Optional[float]
    parent_id: Optional[str] = None  # takes: every take after the first points at the first (one job with parts)

    @property
    def active(self) -> bool:
        return self.status in ACTIVE

    @classmethod
    def from_row(cls, row: sqlite3.Row) -> JobRecord:
        data = dict(row)
        for name in ("request", "settings", "payload", "details"):
            raw = data.pop(f"{name}_json")
            data[name] = json.loads(raw) if raw else ({} if name != "payload" else None)
        return cls(**data)


_JSON_FIELDS = {"request", "settings", "payload", "details"}
_COLUMNS = {f.name for f in fields(JobRecord)}


def _epoch(when: dt.datetime | float) -> float:
    if isinstance(when, dt.datetime):
        return when.timestamp()  # naive datetimes are local time, as datetime.timestamp() defines
    return float(when)


class Ledger:
    """The SQLite ledger at ``path`` (created with its folder if missing). Raises :class:`ConfigError` if unusable."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._pending: list[dict[str, Any]] = []
        self._journal = path.with_name(path.name + ".pending.jsonl")
        try:
            _private_folder(path.parent)
            _private_file(path)
            self._db = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None, timeout=10.0)
            self._db.row_factory = sqlite3.Row
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.executescript(_SCHEMA)
            self._migrate()
            for companion in (path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
                if companion.exists():
                    os.chmod(companion, 0o600)
            if self._journal.exists():
                self._replay_journal()
        except (OSError, sqlite3.Error) as exc:
            raise ConfigError(
                f"The job ledger {path} cannot be opened ({exc}). Set ALICE_DATA_DIR to a folder you can write to, "
                "in the server's env block, and restart the host.",
                code="ledger_unusable",
            ) from None

    def _migrate(self) -> None:
        """Bring a ledger written by an older version up to this schema (columns are only ever added)."""
        have = {row["name"] for row in self._db.execute("PRAGMA table_info(jobs)")}
        if "parent_id" not in have:
            self._db.execute("ALTER TABLE jobs ADD COLUMN parent_id TEXT")
        self._db.execute("CREATE INDEX IF NOT EXISTS jobs_by_parent ON jobs(parent_id) WHERE parent_id IS NOT NULL")

    def close(self) -> None:
        with self._lock:
            self._db.close()

    # ------------------------------------------------------------------------------------------------------- jobs
    def create_job(
        self,
        *,
        kind: str,
        endpoint: str,
        request: dict,
        settings: dict,
        wanted_path: str,
        cost_usd: float,
        input_fingerprint: str | None,
        cache_key: str | None,
        owner: str | None,
        details: dict | None = None,
        idempotency_key: str | None = None,
        parent_id: str | None = None,
        attach_in_flight: bool = False,
        job_id: str | None = None,
    ) -> JobRecord:
        """Write a new ``pending`` job (before anything is uploaded or paid) and return it.

        A claimed ``idempotency_key`` is bound to the job in the same step, so a retry always finds it.
        ``parent_id``: this job is a part (a further take) of that job. ``attach_in_flight`` (with a ``cache_key``):
        when a job with the same key has not ended, return THAT job instead of writing a new one; the look-up and
        the insert are one write transaction, so two processes making the same deterministic request at once create
        one job (the caller passes its own ``job_id`` and sees another id come back)."""
        job_id = job_id or "job_" + secrets.token_hex(6)
        now = time.time()
        guarded = attach_in_flight and cache_key is not None
        with self._lock:
            if guarded:
                self._db.execute("BEGIN IMMEDIATE")
                marks = ", ".join("?" for _ in ACTIVE)
                row = self._db.execute(
                    f"SELECT * FROM jobs WHERE cache_key = ? AND status IN ({marks}) ORDER BY created_at DESC LIMIT 1",
                    (cache_key, *ACTIVE),
                ).fetchone()
                if row is not None:
                    self._db.execute("COMMIT")
                    return JobRecord.from_row(row)
            try:
                self._db.execute(
                    "INSERT INTO jobs (id, kind, endpoint, status, request_json, settings_json, input_fingerprint, "
                    "cache_key, wanted_path, cost_usd, details_json, owner, heartbeat_at, created_at, updated_at, "
                    "parent_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (
                        job_id,
                        kind,
                        endpoint,
                        PENDING,
                        json.dumps(request),
                        json.dumps(settings),
                        input_fingerprint,
                        cache_key,
                        wanted_path,
                        cost_usd,
                        json.dumps(details or {}),
                        owner,
                        now,
                        now,
                        now,
                        parent_id,
                    ),
                )
                self._event(job_id, PENDING, "Job recorded", now)
                if idempotency_key is not None:
                    self._db.execute(
                        "UPDATE idempotency_keys SET job_id = ? WHERE key = ? AND job_id IS NULL",
                        (job_id, idempotency_key),
                    )
                if guarded:
                    self._db.execute("COMMIT")
                return self._get(job_id)  # type: ignore[return-value]
            except BaseException:
                if self._db.in_transaction:
                    self._db.execute("ROLLBACK")
                raise

    def get(self, job_id: str) -> JobRecord | None:
        with self._lock:
            return self._overlay(self._get(job_id))

    def update(
        self,
        job_id: str,
        *,
        status: str | None = None,
        message: str | None = None,
        within_budget: tuple[float, float] | None = None,
        **values: Any,
    ) -> JobRecord | None:
        """Set ``values`` (JobRecord field names) and optionally a new ``status`` with a history ``message``.

        Applies only while the job is active; returns the updated record, or ``None`` when the job is unknown or
        already terminal (its outcome is never overwritten).

        ``within_budget=(since, budget_usd)``: the spend check and this write are ONE SQLite write transaction
        (``BEGIN IMMEDIATE``, which every process sharing the ledger serializes on): the job's cost plus what other
        jobs submitted since ``since`` must fit ``budget_usd``, else nothing is written and :class:`BudgetExceeded`
        (with the spend seen) is raised. Any number of processes can so never overrun the daily budget.
        """
        unknown = set(values) - _COLUMNS
        if unknown or (status is not None and status not in STATUSES):
            raise ValueError(f"bad ledger update: {sorted(unknown) or status}")
        values = {k: scrub_value(v) for k, v in values.items()}  # fal's texts may echo the key: never stored
        message = scrub(message) if message else message
        with self._lock:
            self._flush_pending_locked()
            try:
                return self._apply_locked(job_id, status, message, values, within_budget)
            except sqlite3.Error as exc:
                if within_budget is not None:  # before a submit: refuse (nothing is paid yet)
                    raise
                return self._keep_pending_locked(job_id, status, message, values, exc)

    def _apply_locked(
        self,
        job_id: str,
        status: str | None,
        message: str | None,
        values: dict[str, Any],
        within_budget: tuple[float, float] | None,
        now: float | None = None,
    ) -> JobRecord | None:
        now = time.time() if now is None else now
        columns = {
            (f"{k}_json" if k in _JSON_FIELDS else k): (json.dumps(v) if k in _JSON_FIELDS else v)
            for k, v in values.items()
        }
        if status is not None:
            columns["status"] = status
            if status in TERMINAL:
                columns.setdefault("finished_at", now)
        columns["updated_at"] = now
        assignments = ", ".join(f"{name} = ?" for name in columns)
        marks = ", ".join("?" for _ in ACTIVE)
        if within_budget is not None:
            self._db.execute("BEGIN IMMEDIATE")
        try:
            if within_budget is not None:
                since, budget = within_budget
                row = self._db.execute(
                    "SELECT COALESCE(SUM(cost_usd), 0) AS usd FROM jobs "
                    "WHERE submitted_at IS NOT NULL AND submitted_at >= ? AND id != ? "
                    f"AND NOT (status = '{FAILED}' AND COALESCE(error_code, '') IN {UNBILLED_FAILURES})",
                    (_epoch(since), job_id),
                ).fetchone()
                cost = self._db.execute("SELECT cost_usd FROM jobs WHERE id = ?", (job_id,)).fetchone()
                spent = round(float(row["usd"]), 6)
                if cost is not None and spent + float(cost["cost_usd"]) > budget + 1e-12:
                    raise BudgetExceeded(spent)
            cursor = self._db.execute(
                f"UPDATE jobs SET {assignments} WHERE id = ? AND status IN ({marks})",
                (*columns.values(), job_id, *ACTIVE),
            )
            record = None
            if cursor.rowcount:
                if status is not None:
                    self._event(job_id, status, message or status, now)
                record = self._get(job_id)
            if within_budget is not None:
                self._db.execute("COMMIT")
            return record
        except BaseException:
            if self._db.in_transaction:
                self._db.execute("ROLLBACK")
            raise

    # ------------------------------------------------------------------------------ writes that failed (disk full)
    def _keep_pending_locked(
        self, job_id: str, status: str | None, message: str | None, values: dict[str, Any], exc: sqlite3.Error
    ) -> JobRecord | None:
        """A job update the database refused (disk full, read-only, I/O error) AFTER work may have been paid: keep it
        in memory (and, best effort, in a small journal next to the ledger that the next start replays), retry it
        before every later update, and answer as if it had been written. The server never stops over it."""
        entry = {"job_id": job_id, "status": status, "message": message, "values": values, "at": time.time()}
        self._pending.append(entry)
        logging.getLogger(__name__).warning(
            "the ledger could not record an update of job %s (%s); kept in memory and retried", job_id, exc
        )
        try:
            with open(self._journal, "a", encoding="utf-8") as journal:
                journal.write(json.dumps(entry) + "\n")
            os.chmod(self._journal, 0o600)
        except (OSError, TypeError, ValueError):  # the journal is a best effort; memory holds the update
            pass
        return self._overlay(self._get_or_none(job_id))

    def _get_or_none(self, job_id: str) -> JobRecord | None:
        try:
            return self._get(job_id)
        except sqlite3.Error:
            return None

    def _overlay(self, record: JobRecord | None) -> JobRecord | None:
        """``record`` with the updates still pending for it applied (what the ledger will say once written)."""
        if record is None:
            return None
        for entry in self._pending:
            if entry["job_id"] != record.id or record.status in TERMINAL:
                continue
            changes = dict(entry["values"])
            if entry["status"] is not None:
                changes["status"] = entry["status"]
            record = replace(record, **changes)
        return record

    def _flush_pending_locked(self) -> None:
        """Write the updates kept in memory, oldest first; stop at the first that still fails."""
        while self._pending:
            entry = self._pending[0]
            try:
                self._apply_locked(
                    entry["job_id"], entry["status"], entry["message"], entry["values"], None, entry["at"]
                )
            except sqlite3.Error:
                return
            self._pending.pop(0)
        if self._journal.exists():
            try:
                self._journal.unlink()
            except OSError:
                pass

    def pending_updates(self) -> int:
        """How many job updates wait to be written (kept in memory after a write failure)."""
        with self._lock:
            self._flush_pending_locked()
            return len(self._pending)

    def _replay_journal(self) -> None:
        """At start-up: updates an earlier process could not write (disk full) and kept in the journal."""
        try:
            lines = self._journal.read_text(encoding="utf-8").splitlines()
        except OSError:
            return
        for line in lines:
            try:
                self._pending.append(json.loads(line))
            except ValueError:
                continue
        self._flush_pending_locked()

    def add_details(self, job_id: str, details: dict) -> None:
        """Merge ``details`` into the job's free-form details (notes, upload facts), whatever its status. A write the
        database refuses is kept in memory and retried like :meth:`update`'s."""
        with self._lock:
            self._flush_pending_locked()
            record = self._overlay(self._get_or_none(job_id))
            if record is None:
                return
            merged = scrub_value({**record.details, **details})
            try:
                self._db.execute("UPDATE jobs SET details_json = ? WHERE id = ?", (json.dumps(merged), job_id))
            except sqlite3.Error as exc:
                self._keep_pending_locked(job_id, None, None, {"details": merged}, exc)

    def note(self, job_id: str, message: str) -> None:
        """Add a line to the job's history without changing its status (dropped, with a log line, if the database
        refuses the write: history is not worth stopping a job for)."""
        with self._lock:
            try:
                record = self._get(job_id)
                if record is not None:
                    self._event(job_id, record.status, message, time.time())
            except sqlite3.Error as exc:
                logging.getLogger(__name__).warning("could not add to the history of job %s: %s", job_id, exc)

    def events(self, job_id: str) -> list[tuple[float, str, str]]:
        """The job's history: (time, status, message), oldest first."""
        with self._lock:
            rows = self._db.execute(
                "SELECT at, status, message FROM job_events WHERE job_id = ? ORDER BY at, rowid", (job_id,)
            )
            return [(r["at"], r["status"], r["message"]) for r in rows]

    def recent(self, limit: int = 20, status: str | None = None) -> list[JobRecord]:
        """The newest jobs first, optionally only those with ``status``."""
        with self._lock:
            if status is None:
                rows = self._db.execute("SELECT * FROM jobs ORDER BY created_at DESC LIMIT ?", (limit,))
            else:
                rows = self._db.execute(
                    "SELECT * FROM jobs WHERE status = ? ORDER BY created_at DESC LIMIT ?", (status, limit)
                )
            return [JobRecord.from_row(r) for r in rows]

    def set_parent(self, job_id: str, parent_id: str) -> None:
        """Record ``job_id`` as a part (a further take) of ``parent_id``."""
        with self._lock:
            self._db.execute("UPDATE jobs SET parent_id = ? WHERE id = ?", (parent_id, job_id))

    def parts(self, job_id: str) -> list[JobRecord]:
        """The further takes recorded as parts of ``job_id``, oldest first (``[]`` for a job without parts)."""
        with self._lock:
            rows = self._db.execute("SELECT * FROM jobs WHERE parent_id = ? ORDER BY created_at, rowid", (job_id,))
            return [JobRecord.from_row(r) for r in rows]

    def active_jobs(self) -> list[JobRecord]:
        """Every job not yet terminal, oldest first."""
        marks = ", ".join("?" for _ in ACTIVE)
        with self._lock:
            rows = self._db.execute(f"SELECT * FROM jobs WHERE status IN ({marks}) ORDER BY created_at", ACTIVE)
            return [JobRecord.from_row(r) for r in rows]

    def parts_of(self, parent_id: str) -> list[JobRecord]:
        """The jobs recorded as parts of job ``parent_id`` (``details.parent``), oldest first."""
        with self._lock:
            rows = self._db.execute(
                "SELECT * FROM jobs WHERE json_extract(details_json, '$.parent') = ? ORDER BY created_at, rowid",
                (parent_id,),
            )
            return [JobRecord.from_row(r) for r in rows]

    def find_in_flight(self, cache_key: str) -> JobRecord | None:
        """The newest job made from the same deterministic request that has not ended (any process)."""
        marks = ", ".join("?" for _ in ACTIVE)
        with self._lock:
            row = self._db.execute(
                f"SELECT * FROM jobs WHERE cache_key = ? AND status IN ({marks}) ORDER BY created_at DESC LIMIT 1",
                (cache_key, *ACTIVE),
            ).fetchone()
            return self._overlay(JobRecord.from_row(row)) if row else None

    def find_cached(self, cache_key: str) -> JobRecord | None:
        """The newest completed job made from the same deterministic request, if any."""
        with self._lock:
            row = self._db.execute(
                "SELECT * FROM jobs WHERE cache_key = ? AND status = ? ORDER BY finished_at DESC LIMIT 1",
                (cache_key, COMPLETED),
            ).fetchone()
            return JobRecord.from_row(row) if row else None

    def claim(self, job_id: str, owner: str, owner_is_alive: Callable[[str, Optional[float]], bool]) -> bool:
        """Make ``owner`` the process that follows an active job, unless another live process already does
        (``owner_is_alive(owner, heartbeat_at)`` decides)."""
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                row = self._db.execute(
                    "SELECT owner, status, heartbeat_at FROM jobs WHERE id = ?", (job_id,)
                ).fetchone()
                if row is None or row["status"] not in ACTIVE:
                    return False
                if row["owner"] not in (None, owner) and owner_is_alive(row["owner"], row["heartbeat_at"]):
                    return False
                self._db.execute(
                    "UPDATE jobs SET owner = ?, heartbeat_at = ? WHERE id = ?", (owner, time.time(), job_id)
                )
                return True
            finally:
                self._db.execute("COMMIT")

    def release(self, job_id: str, owner: str) -> None:
        """``owner`` stopped following the job (it is still active): any process may take it over."""
        with self._lock:
            self._db.execute("UPDATE jobs SET owner = NULL WHERE id = ? AND owner = ?", (job_id, owner))

    def heartbeat(self, owner: str, job_ids: Iterable[str]) -> None:
        """Tell other processes that ``owner`` is still following these jobs."""
        now = time.time()
        with self._lock:
            try:
                self._flush_pending_locked()
                self._db.executemany(
                    "UPDATE jobs SET heartbeat_at = ? WHERE id = ? AND owner = ?", [(now, j, owner) for j in job_ids]
                )
            except sqlite3.Error as exc:  # a full disk must not stop the server: the next beat tries again
                logging.getLogger(__name__).warning("ledger heartbeat failed: %s", exc)

    def spend_since(self, when: dt.datetime | float) -> float:
        """USD of jobs submitted to fal at or after ``when`` (a datetime or epoch seconds).

        Counts every job whose submit was sent, including ``submit_unknown`` (fal may have accepted it) and jobs that
        later failed or were cancelled (fal may bill them): the conservative sum for spend caps. A submit that provably
        never reached fal does not count, nor a job that failed because fal could not fetch its input
        (:data:`UNBILLED_FAILURES`: fal bills only successful outputs and a failed input fetch uses no GPU).
        """
        with self._lock:
            row = self._db.execute(
                "SELECT COALESCE(SUM(cost_usd), 0) AS usd FROM jobs WHERE submitted_at IS NOT NULL AND submitted_at >= ? "
                f"AND NOT (status = '{FAILED}' AND COALESCE(error_code, '') IN {UNBILLED_FAILURES})",
                (_epoch(when),),
            ).fetchone()
            return round(float(row["usd"]), 6)

    # ---------------------------------------------------------------------------------------------------- uploads
    def upload_url(self, digest: str, valid_until: float) -> str | None:
        """fal's URL of content already uploaded, if it stays valid until ``valid_until`` (epoch seconds)."""
        with self._lock:
            row = self._db.execute("SELECT url, expires_at FROM uploads WHERE digest = ?", (digest,)).fetchone()
        if row is None or (row["expires_at"] is not None and row["expires_at"] < valid_until):
            return None
        return str(row["url"])

    def record_upload(self, digest: str, size: int, url: str, expires_at: float | None) -> None:
        with self._lock:
            self._db.execute(
                "INSERT OR REPLACE INTO uploads (digest, size, url, expires_at, created_at) VALUES (?, ?, ?, ?, ?)",
                (digest, size, url, expires_at, time.time()),
            )

    def forget_upload(self, url: str) -> None:
        """Drop a cached upload fal could not use any more."""
        with self._lock:
            self._db.execute("DELETE FROM uploads WHERE url = ?", (url,))

    def known_digest(self, path: str, size: int, mtime_ns: int, inode: int) -> str | None:
        """The content digest recorded for this exact file version (same path, size, mtime and inode)."""
        with self._lock:
            row = self._db.execute(
                "SELECT digest FROM file_digests WHERE path = ? AND size = ? AND mtime_ns = ? AND inode = ?",
                (path, size, mtime_ns, inode),
            ).fetchone()
        return str(row["digest"]) if row else None

    def record_digest(self, path: str, size: int, mtime_ns: int, inode: int, digest: str) -> None:
        with self._lock:
            self._db.execute(
                "INSERT OR REPLACE INTO file_digests (path, size, mtime_ns, inode, digest) VALUES (?, ?, ?, ?, ?)",
                (path, size, mtime_ns, inode, digest),
            )

    # ------------------------------------------------------------------------------------------ idempotency keys
    def claim_idempotency_key(self, key: str, tool: str, fingerprint: str) -> tuple[str, Optional[str]]:
        """Claim ``key`` for one request, atomically (across processes sharing the ledger too). Returns

        * ``("new", None)``: this call owns the key; it must :meth:`bind_idempotency_key` its job (or
          :meth:`release_idempotency_key` if it fails before a job exists);
        * ``("same", job_id)``: the key was used for the same tool and arguments; ``job_id`` is that request's job,
          or ``None`` while the first call is still preparing it (ask again);
        * ``("conflict", job_id)``: the key was used for a different request.
        """
        with self._lock:
            self._db.execute(  # a claim whose call died before making its job (nothing was paid) lapses
                "DELETE FROM idempotency_keys WHERE key = ? AND job_id IS NULL AND created_at < ?",
                (key, time.time() - STALE_CLAIM_S),
            )
            inserted = self._db.execute(
                "INSERT OR IGNORE INTO idempotency_keys (key, tool, fingerprint, created_at) VALUES (?, ?, ?, ?)",
                (key, tool, fingerprint, time.time()),
            ).rowcount
            if inserted:
                return "new", None
            row = self._db.execute(
                "SELECT tool, fingerprint, job_id FROM idempotency_keys WHERE key = ?", (key,)
            ).fetchone()
        if row is None:  # released between the two statements: try again
            return self.claim_idempotency_key(key, tool, fingerprint)
        same = row["tool"] == tool and row["fingerprint"] == fingerprint
        return ("same" if same else "conflict"), row["job_id"]

    def bind_idempotency_key(self, key: str, job_id: str) -> None:
        """Record the job a claimed key's request became (done before anything is uploaded or paid)."""
        with self._lock:
            self._db.execute("UPDATE idempotency_keys SET job_id = ? WHERE key = ?", (job_id, key))

    def forget_idempotency_job(self, key: str, job_id: str) -> None:
        """Free ``key`` from ``job_id`` (a job that never reached fal), so the request can run again."""
        with self._lock:
            self._db.execute("DELETE FROM idempotency_keys WHERE key = ? AND job_id = ?", (key, job_id))

    def release_idempotency_key(self, key: str) -> None:
        """Forget a claimed key whose request failed before it had a job (nothing was paid): a retry starts anew."""
        with self._lock:
            self._db.execute("DELETE FROM idempotency_keys WHERE key = ? AND job_id IS NULL", (key,))

    # ------------------------------------------------------------------------------------------ spend approvals
    def offer_approval(
        self,
        *,
        tool: str,
        fingerprint: str,
        endpoint: str,
        cost_usd: float,
        formula: str,
        ttl_s: float,
        pinned: dict | None = None,
    ) -> tuple[str, float]:
        """Record a quoted job the user may approve (two-step approval); returns ``(approval_id, expires_at)``.
        ``pinned`` holds what the quote decided and the approved run must reuse (e.g. the seed it drew)."""
        approval_id = "appr_" + secrets.token_urlsafe(12)
        now = time.time()
        with self._lock:
            self._db.execute(
                "INSERT INTO spend_approvals (id, tool, fingerprint, endpoint, cost_usd, formula, created_at, "
                "expires_at, pinned_json) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    approval_id,
                    tool,
                    fingerprint,
                    endpoint,
                    cost_usd,
                    formula,
                    now,
                    now + ttl_s,
                    json.dumps(pinned or {}),
                ),
            )
        return approval_id, now + ttl_s

    def approval_pins(self, approval_id: str) -> dict:
        """What an approval's quote decided for the run (``{}`` for an unknown id)."""
        with self._lock:
            row = self._db.execute("SELECT pinned_json FROM spend_approvals WHERE id = ?", (approval_id,)).fetchone()
        return json.loads(row["pinned_json"]) if row else {}

    def use_approval(self, approval_id: str, tool: str, fingerprint: str, cost_usd: float) -> str:
        """Spend an approval on the job it was given for, once. Returns ``"ok"`` (it is now used), or why not:
        ``"unknown"``, ``"other_request"`` (other tool or arguments), ``"price_changed"``, ``"expired"``, ``"used"``.
        Only ``"ok"`` changes anything; the check and the marking are one atomic step (across processes too)."""
        now = time.time()
        with self._lock:
            row = self._db.execute("SELECT * FROM spend_approvals WHERE id = ?", (approval_id,)).fetchone()
            if row is None:
                return "unknown"
            if row["tool"] != tool or row["fingerprint"] != fingerprint:
                return "other_request"
            if abs(row["cost_usd"] - cost_usd) > 1e-9:
                return "price_changed"
            if row["used_at"] is not None:
                return "used"
            if now > row["expires_at"]:
                return "expired"
            marked = self._db.execute(
                "UPDATE spend_approvals SET used_at = ? WHERE id = ? AND used_at IS NULL", (now, approval_id)
            ).rowcount
        return "ok" if marked else "used"

    # ---------------------------------------------------------------------------------------------------- helpers
    def _get(self, job_id: str) -> JobRecord | None:
        row = self._db.execute("SELECT * FROM jobs WHERE id = ?", (job_id,)).fetchone()
        return JobRecord.from_row(row) if row else None

    def _event(self, job_id: str, status: str, message: str, at: float) -> None:
        self._db.execute(
            "INSERT INTO job_events (job_id, at, status, message) VALUES (?, ?, ?, ?)",
            (job_id, at, status, scrub(message)),
        )


class AsyncLedger:
    """The same methods as :class:`Ledger`, awaited: each call runs in a worker thread, off the event loop."""

    def __init__(self, ledger: Ledger) -> None:
        self.sync = ledger

    def __getattr__(self, name: str) -> Callable[..., Any]:
        method = getattr(self.sync, name)

        async def call(*args: Any, **kwargs: Any) -> Any:
            try:
                return await anyio.to_thread.run_sync(functools.partial(method, *args, **kwargs))
            except sqlite3.Error as exc:
                raise ledger_error(exc, self.sync.path) from exc

        return call


class BudgetExceeded(Exception):
    """A guarded submit record found the daily budget used up; ``spent`` is the spend it saw (USD)."""

    def __init__(self, spent: float) -> None:
        super().__init__(f"spent ${spent:g} today")
        self.spent = spent


class LedgerWriteError(ConfigError):
    """The ledger could not be read or written (disk full, read-only, locked too long)."""

    code = "ledger_write_failed"


def ledger_error(exc: BaseException, path: Path) -> LedgerWriteError:
    """A plain sentence for a SQLite failure on the ledger at ``path``."""
    text = str(exc).lower()
    if "full" in text or getattr(exc, "sqlite_errorcode", None) == 13:
        reason, fix = "the disk holding it is full", "Free some space on that disk"
    elif "readonly" in text or "read-only" in text:
        reason, fix = "it is read-only", "Make the folder writable (or set ALICE_DATA_DIR to a writable folder)"
    elif "locked" in text or "busy" in text:
        reason, fix = "another alice-mcp process held it too long", "Try again in a moment"
    else:
        reason, fix = f"SQLite: {exc}", "Check the folder, or set ALICE_DATA_DIR to another folder"
    return LedgerWriteError(
        f"The job ledger {path} could not be written ({reason}). {fix}; jobs already at fal are kept there and are "
        "picked up again when the ledger works.",
    )


def _private_folder(folder: Path) -> None:
    """Create the data folder readable by its owner only (700); tighten an existing one (never the home folder)."""
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    try:
        if folder.resolve() != Path.home().resolve() and folder.stat().st_mode & 0o077:
            os.chmod(folder, 0o700)
    except (OSError, RuntimeError):
        logging.getLogger(__name__).warning("could not make %s private (700)", folder)


def _private_file(path: Path) -> None:
    """Create ``path`` (the ledger) as 600, or tighten it: it holds prompts, local paths and signed URLs."""
    fd = os.open(path, os.O_CREAT | os.O_RDWR | getattr(os, "O_CLOEXEC", 0), 0o600)
    try:
        if os.fstat(fd).st_mode & 0o077:
            os.fchmod(fd, 0o600)
    finally:
        os.close(fd)
