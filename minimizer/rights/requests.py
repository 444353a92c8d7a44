"""Erasure requests: where they come from, and the Airflow task logic that serves them.

Sources of requests:

* the command line (``--subject-id``) or an id file (``--file ids.csv``);
* a drop folder of such files (``MINIMIZER_ERASURE_DROP``), archived to ``processed/`` once
  served;
* the CRM table ``erasure_requests(subject_id, requested_at, status)``: rows with status
  ``pending`` are served and set to ``done``.

An id file is UTF-8 text: one subject id per line, or CSV ``subject_id[,requested_at]`` with
an optional header (``customer_id`` may name the id column). The separator is detected: ``,``,
``;`` (what Excel writes in German locales) or tab. ``requested_at`` is ISO 8601 or
``DD.MM.YYYY[ HH:MM[:SS]]``. Blank lines are ignored. A line that does not parse (too many
fields, an empty id, an id holding a separator, a bad time, broken quotes) is a problem; every
problem of every file is reported at once with file and line, and then nothing is erased.
Messages never quote an id.

The DAG ``erasure_requests`` (dags/erasure_requests.py) calls :func:`collect_task`,
:func:`erase_task` and :func:`acknowledge_task`; they pass a file path, never ids, through
XCom. The request file is written owner-only and deleted once served.
"""

from __future__ import annotations

import csv
import io
import logging
import os
import re
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.pool import NullPool

from minimizer.errors import MinimizerError
from minimizer.keys import KeyRing, load_keyring
from minimizer.rights.erasure import ErasureRequest
from minimizer.rights.errors import RequestFileError, RequestProblem

__all__ = [
    "ErasureSettings",
    "acknowledge_task",
    "collect_task",
    "erase_task",
    "mark_done",
    "pending_from_crm",
    "read_drop_folder",
    "read_id_file",
    "write_request_file",
]

log = logging.getLogger("minimizer.erasure")

REQUESTS_TABLE = "erasure_requests"
_MAX_ID = 256
_FIELDS = ("subject_id", "requested_at")


_SEPARATORS = (";", "\t", ",")  # the order breaks ties: ';' is Excel's in German locales
_ID_HEADERS = ("subject_id", "customer_id")
_GERMAN_TIME = re.compile(
    r"(?P<d>\d{1,2})\.(?P<m>\d{1,2})\.(?P<y>\d{4})"
    r"(?:[ T](?P<H>\d{1,2}):(?P<M>\d{2})(?::(?P<S>\d{2}))?)?"
)


def _parse_time(text: str) -> datetime | None:
    """ISO 8601, or the German spreadsheet form ``31.12.2026[ 14:30[:00]]``; naive is UTC."""
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        german = _GERMAN_TIME.fullmatch(text)
        if german is None:
            return None
        parts = {k: int(v) for k, v in german.groupdict().items() if v is not None}
        try:
            moment = datetime(
                parts["y"],
                parts["m"],
                parts["d"],
                parts.get("H", 0),
                parts.get("M", 0),
                parts.get("S", 0),
            )
        except ValueError:
            return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _decode(path: Path, data: bytes) -> tuple[str | None, RequestProblem | None]:
    try:
        return data.decode("utf-8-sig"), None  # a BOM (spreadsheet export) is not an id
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        return None, RequestProblem(
            str(path), line, "not UTF-8 text (in Excel, save as 'CSV UTF-8')"
        )


def detect_separator(text: str) -> str:
    """The field separator of an id file: of ``;``, tab and ``,``, the one on most non-blank
    lines (a file of bare ids has none; ``,`` then)."""
    lines = [line for line in text.splitlines() if line.strip()]
    counts = {sep: sum(sep in line for line in lines) for sep in _SEPARATORS}
    best = max(_SEPARATORS, key=lambda sep: counts[sep])  # first of the order on a tie
    return best if counts[best] else ","


@dataclass
class _Layout:
    """Where the id and the request time are, from the header (or the default order)."""

    id_at: int = 0
    time_at: int | None = 1
    width: int = 2  # most fields a line may have (a trailing empty time may be left off)


def _header(cells: list[str]) -> _Layout | str | None:
    """The layout a header line gives, a problem text, or None when the line is data."""
    names = [c.lower() for c in cells]
    if not set(names) & {*_ID_HEADERS, _FIELDS[1]}:
        return None
    ids = [i for i, n in enumerate(names) if n in _ID_HEADERS]
    unknown = [n for n in names if n not in (*_ID_HEADERS, _FIELDS[1])]
    if len(ids) != 1 or unknown or names.count(_FIELDS[1]) > 1:
        return "header must be subject_id[,requested_at] (or customer_id for subject_id)"
    times = [i for i, n in enumerate(names) if n == _FIELDS[1]]
    return _Layout(ids[0], times[0] if times else None, len(names))


def _problems_in(path: Path) -> tuple[list[ErasureRequest], list[RequestProblem]]:
    file = str(path)
    try:
        text, problem = _decode(path, path.read_bytes())
    except OSError as exc:
        return [], [RequestProblem(file, 0, f"cannot read the file ({exc.strerror})")]
    if text is None:
        return [], [problem] if problem else []
    separator = detect_separator(text)
    found: list[ErasureRequest] = []
    problems: list[RequestProblem] = []
    layout: _Layout | None = None
    reader = csv.reader(io.StringIO(text), delimiter=separator, strict=True)
    # A request file is a handful of lines checked one by one for located messages, not a
    # data frame: the loop is over lines of input, each reported on its own.
    while True:
        try:
            row = next(reader)
        except StopIteration:
            break
        except csv.Error:
            problems.append(RequestProblem(file, reader.line_num, "malformed CSV (quotes)"))
            break
        line = reader.line_num
        cells = [c.strip() for c in row]
        if not any(cells):
            continue  # a blank line, or a spreadsheet's empty row of bare separators
        while len(cells) > 1 and not cells[-1]:
            cells.pop()  # trailing empty cells: a spreadsheet's unused columns
        if layout is None:
            head = _header(cells)
            layout = head if isinstance(head, _Layout) else _Layout()
            if isinstance(head, str):
                problems.append(RequestProblem(file, line, head))
            if head is not None:
                continue
        problem_text, request = _request(cells, layout, separator)
        if problem_text:
            problems.append(RequestProblem(file, line, problem_text))
        elif request is not None:
            found.append(request)
    if not found and not problems:
        problems.append(RequestProblem(file, 1, "no subject id in the file"))
    return found, problems


def _request(
    cells: list[str], layout: _Layout, separator: str
) -> tuple[str | None, ErasureRequest | None]:
    """One data line: a problem text, or the request it holds."""
    expected = "subject_id[,requested_at]" if separator == "," else "subject_id[;requested_at]"
    if len(cells) > layout.width:
        return f"{len(cells)} fields; expected {expected}", None
    subject = cells[layout.id_at] if layout.id_at < len(cells) else ""
    if not subject:
        return "empty subject id", None
    if len(subject) > _MAX_ID or not subject.isprintable():
        return f"subject id is not printable text of at most {_MAX_ID} characters", None
    if any(sep in subject for sep in _SEPARATORS):
        return ("subject id holds a separator (';', ',' or tab): the file mixes separators", None)
    at = None
    if layout.time_at is not None and layout.time_at < len(cells) and cells[layout.time_at]:
        at = _parse_time(cells[layout.time_at])
        if at is None:
            return (
                "requested_at is not an ISO 8601 time (or DD.MM.YYYY[ HH:MM[:SS]])",
                None,
            )
    return None, ErasureRequest(subject, at)


def read_id_file(path: Path) -> list[ErasureRequest]:
    requests, problems = _problems_in(Path(path))
    if problems:
        raise RequestFileError(problems)
    return requests


def read_drop_folder(folder: Path) -> tuple[list[ErasureRequest], list[Path]]:
    """Every ``*.csv`` of the folder; all problems of all files at once."""
    files = sorted(Path(folder).glob("*.csv"))
    requests: list[ErasureRequest] = []
    problems: list[RequestProblem] = []
    for file in files:
        found, bad = _problems_in(file)
        requests += found
        problems += bad
    if problems:
        raise RequestFileError(problems)
    return requests, files


def _crm_engine(crm: str) -> sa.Engine:
    if crm.startswith(("postgresql:", "postgresql+", "postgres:")):
        url = sa.make_url(crm).set(drivername="postgresql+psycopg")
        return sa.create_engine(url, poolclass=NullPool, connect_args={"connect_timeout": 10})
    return sa.create_engine(f"sqlite:///{Path(crm).resolve()}", poolclass=NullPool)


def pending_from_crm(crm: str) -> list[ErasureRequest]:
    """Pending requests of the CRM's ``erasure_requests`` table (read-only, in chunks)."""
    from minimizer.io.sources import TableSource

    source = TableSource(crm, REQUESTS_TABLE)
    frames = list(source.chunks(["subject_id", "requested_at", "status"]))
    rows = pd.concat(frames, ignore_index=True)
    pending = rows[rows["status"].astype("str").str.strip().str.lower() == "pending"]
    ids = pending["subject_id"].astype("str").str.strip()
    usable = pending["subject_id"].notna() & (ids != "")
    if (~usable).any():
        log.warning(
            "%d pending erasure request(s) without a subject id skipped", int((~usable).sum())
        )
    times = pd.to_datetime(pending["requested_at"], utc=True, errors="coerce", format="mixed")
    return [
        ErasureRequest(i, None if pd.isna(t) else t.to_pydatetime())
        for i, t in zip(ids[usable], times[usable], strict=True)
    ]


def mark_done(crm: str, requests: list[ErasureRequest]) -> int:
    """Set served requests to ``done``; returns the rows updated."""
    if not requests:
        return 0
    table = sa.table(REQUESTS_TABLE, sa.column("subject_id"), sa.column("status"))
    stmt = (
        sa.update(table)
        .where(table.c.status == "pending")
        .where(table.c.subject_id.in_(sa.bindparam("ids", expanding=True)))
        .values(status="done")
    )
    engine = _crm_engine(crm)
    with engine.begin() as conn:
        return conn.execute(stmt, {"ids": [r.subject_id for r in requests]}).rowcount


def write_request_file(requests: list[ErasureRequest], directory: Path) -> Path:
    """Owner-only CSV of requests, for the next task to read (XCom carries its path)."""
    directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd, name = tempfile.mkstemp(prefix="erasure-", suffix=".csv", dir=directory)
    with os.fdopen(fd, "w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(_FIELDS)
        writer.writerows(
            [r.subject_id, r.requested_at.isoformat() if r.requested_at else ""] for r in requests
        )
    return Path(name)


# ---------------------------------------------------------------- the Airflow task logic


@dataclass(frozen=True, repr=False)
class ErasureSettings:
    """Where the DAG reads requests and erases. Its repr shows no URL (it may hold a password)."""

    warehouses: tuple[str, ...]
    purposes: Path
    crm: str | None
    drop: Path | None
    work: Path
    keyring: Callable[[], KeyRing] = field(default=load_keyring)

    def __repr__(self) -> str:
        return f"ErasureSettings(warehouses={len(self.warehouses)}, work={str(self.work)!r})"

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> ErasureSettings:
        env = dict(os.environ if env is None else env)
        targets = tuple(t for t in env.get("MINIMIZER_WAREHOUSE", "").split(",") if t.strip())
        if not targets:
            raise MinimizerError("set MINIMIZER_WAREHOUSE (one or more targets, comma-separated)")
        return cls(
            warehouses=tuple(t.strip() for t in targets),
            purposes=policy_dir(env),
            crm=env.get("MINIMIZER_CRM_URL") or None,
            drop=drop_folder(env.get("MINIMIZER_ERASURE_DROP")),
            work=work_dir(env),
        )


def policy_dir(env: dict[str, str]) -> Path:
    # The same variable the minimise_* DAGs read their policies from.
    default = Path(__file__).resolve().parents[2] / "configs" / "purposes"
    return Path(env.get("MINIMIZER_POLICY_DIR") or default)


def drop_folder(text: str | None) -> Path | None:
    return Path(text) if text else None


def work_dir(env: dict[str, str]) -> Path:
    return Path(
        env.get("MINIMIZER_ERASURE_WORK") or Path(tempfile.gettempdir()) / "minimizer-erasure"
    )


def _claimed(path: str) -> Path:
    """The list of drop files a request file was made from (archived once served)."""
    return Path(path).with_suffix(".files")


def collect_task(settings: ErasureSettings) -> str | None:
    """Pending requests from the CRM and the drop folder, into one request file (or None)."""
    requests: list[ErasureRequest] = []
    files: list[Path] = []
    if settings.crm:
        requests += pending_from_crm(settings.crm)
    if settings.drop is not None and settings.drop.is_dir():
        found, files = read_drop_folder(settings.drop)
        requests += found
    if not requests:
        return None
    path = write_request_file(requests, settings.work)
    _claimed(str(path)).write_text("".join(f"{f}\n" for f in files))
    return str(path)


def erase_task(settings: ErasureSettings, path: str | None) -> dict[str, object]:
    """Erase every requested subject in every warehouse; counts and keyed ids only (a target
    is named by its position: a PostgreSQL URL may carry a password)."""
    from minimizer.io.warehouse import open_warehouse
    from minimizer.rights.erasure import erase_subjects
    from minimizer.rights.keystore import SubjectKeyStore, default_keystore_path
    from minimizer.rights.targets import load_policies

    if path is None:
        return {"subjects": 0}
    requests = read_id_file(Path(path))
    policies = load_policies(settings.purposes)
    keyring = settings.keyring()
    store_path = default_keystore_path()
    store = (
        SubjectKeyStore(store_path, create=False) if store_path and store_path.exists() else None
    )
    done: dict[str, object] = {}
    try:
        for i, target in enumerate(settings.warehouses):
            with open_warehouse(target, lock_timeout=60) as wh:
                report = erase_subjects(
                    wh, policies, keyring, requests, keystore=store, origin="airflow"
                )
            done[f"warehouse_{i}"] = report.summary()
    finally:
        if store is not None:
            store.close()
    return {"subjects": len(requests), "warehouses": done}


def acknowledge_task(settings: ErasureSettings, path: str | None) -> int:
    """After every warehouse erased: mark CRM requests done, archive the drop files that were
    served, delete the request file. A failure before this leaves the requests pending, and
    serving them again is safe (erasure is idempotent)."""
    if path is None:
        return 0
    requests = read_id_file(Path(path))
    done = mark_done(settings.crm, requests) if settings.crm else 0
    claimed = _claimed(path)
    files = [Path(f) for f in claimed.read_text().splitlines() if f] if claimed.exists() else []
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    for file in files:
        if file.exists():
            archive = file.parent / "processed"
            archive.mkdir(exist_ok=True, mode=0o700)
            shutil.move(file, archive / f"{stamp}-{file.name}")
    claimed.unlink(missing_ok=True)
    Path(path).unlink(missing_ok=True)
    return done
