"""`cpm award` as cron runs it: real processes, overlapping, and killed half-way."""

from __future__ import annotations

import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

from cpm.db import Database
from tests.conftest import Cli, table_rows, write_csv

AS_OF = "2026-01-01"


def _shop(cli: Cli, tmp_path: Path, orders: int = 20_000) -> None:
    rng = random.Random(7)
    rows: list[list[object]] = [["order_no", "customer_code", "order_date", "amount", "status"]]
    for n in range(orders):
        day = f"2025-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}"
        status = "refunded" if n % 40 == 0 else "completed"
        rows.append(
            [f"S{n:06d}", f"C{rng.randrange(2_000):04d}", day, f"{rng.randint(1, 300_000) / 100:.2f}", status]
        )
    path = write_csv(tmp_path / "orders.csv", rows)
    assert cli("--quiet", "import", "orders", str(path)).exit_code == 0


def _award(db: Path, *extra: str) -> subprocess.Popen[str]:
    env = {**os.environ, "CPM_BUSY_TIMEOUT": "60"}
    return subprocess.Popen(
        [sys.executable, "-m", "cpm", "--db", str(db), "award", "--as-of", AS_OF, "--format", "json", *extra],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )


def _ledger(db: Database) -> list[tuple[object, ...]]:
    return table_rows(
        db, "SELECT natural_key, customer_id, kind, points FROM points_ledger ORDER BY natural_key"
    )


def _expected_after_one_award(db: Database, tmp_path: Path) -> list[tuple[object, ...]]:
    """The ledger one uninterrupted award produces, on a copy of the same database."""
    assert db.path is not None
    copy = tmp_path / "reference.db"
    source = sqlite3.connect(db.path)
    target = sqlite3.connect(copy)
    source.backup(target)
    source.close()
    target.close()
    done = _award(copy)
    out, err = done.communicate(timeout=300)
    assert done.returncode == 0, err
    return _ledger(Database.from_option(str(copy)))


def test_two_awards_started_together_post_each_fact_once(cli: Cli, db: Database, tmp_path: Path) -> None:
    _shop(cli, tmp_path)
    expected = _expected_after_one_award(db, tmp_path)
    assert db.path is not None
    first, second = _award(db.path), _award(db.path)
    results = [p.communicate(timeout=300) for p in (first, second)]
    assert first.returncode == 0 and second.returncode == 0, [r[1] for r in results]
    earned = sorted(json.loads(out)["orders_earned"] for out, _ in results)
    assert earned[0] == 0 and earned[1] > 0  # one did the work, the other found nothing left
    assert _ledger(db) == expected


def _holds_write_lock(path: Path) -> bool:
    probe = sqlite3.connect(path, timeout=0, isolation_level=None)
    try:
        probe.execute("BEGIN IMMEDIATE")
        probe.execute("ROLLBACK")
        return False
    except sqlite3.OperationalError:
        return True
    finally:
        probe.close()


def test_an_award_killed_half_way_leaves_nothing_and_the_next_one_completes(
    cli: Cli, db: Database, tmp_path: Path
) -> None:
    _shop(cli, tmp_path)
    expected = _expected_after_one_award(db, tmp_path)
    assert db.path is not None
    victim = _award(db.path)
    deadline = time.monotonic() + 60
    while not _holds_write_lock(db.path):
        assert victim.poll() is None, "the award finished before it could be killed"
        assert time.monotonic() < deadline
        time.sleep(0.01)
    time.sleep(0.3)  # well inside the transaction: reading orders and posting rows
    victim.send_signal(signal.SIGKILL)
    victim.wait(timeout=30)
    assert victim.returncode == -signal.SIGKILL
    assert _ledger(db) == []
    assert table_rows(db, "PRAGMA integrity_check") == [("ok",)]
    again = _award(db.path)
    out, err = again.communicate(timeout=300)
    assert again.returncode == 0, err
    assert _ledger(db) == expected
    balances = table_rows(db, "SELECT SUM(points) FROM points_ledger")
    assert balances == [(sum(int(row[3]) for row in expected),)]  # type: ignore[call-overload]
