"""Imports and undos against a model: random small order files (inserting, updating, changing
statuses), the same file again, awards, and undos of the newest batch not undone yet.

The model is a stack of stored states: an import pushes the state with the file's orders
written over it; an undo of the newest live batch pops it. After every step the orders the
database shows (those not marked removed) must be the model's top, with the net amount the
status implies; every customer they name is shown too; after an award every order holds
exactly floor(net) points (1 point per currency unit, all customers in the base tier) and each
customer's balance is the sum of their ledger rows, replayed or summed.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, note, settings
from hypothesis import strategies as st

from cpm import db as database
from cpm.config import Settings
from cpm.db import Database
from cpm.io.sheets import file_sha256, open_sheet
from cpm.services import awarding, import_undo, importing, ledger
from cpm.services.rows import ReadOptions
from tests.conftest import fresh_database, table_rows, write_csv

HEADER = ["order_no", "customer_code", "order_date", "amount", "status"]
DAYS = ("2026-01-05", "2026-01-12", "2026-01-20")
AMOUNTS = {"10.00": 1000, "25.50": 2550, "99.99": 9999}
STATUSES = ("completed", "cancelled", "refunded", "pending")
AS_OF = date(2026, 2, 1)

Stored = dict[str, tuple[str, str, int, str]]  # order_no: (customer code, date, amount, status)

order_st = st.tuples(
    st.sampled_from(("K1", "K2", "K3")),
    st.sampled_from(DAYS),
    st.sampled_from(sorted(AMOUNTS)),
    st.sampled_from(STATUSES),
)
file_st = st.dictionaries(st.sampled_from(("O1", "O2", "O3", "O4", "O5")), order_st, min_size=1, max_size=5)
step_st = st.one_of(
    st.tuples(st.just("import"), file_st),
    st.tuples(st.just("again"), st.none()),  # the file of the last import, byte for byte
    st.tuples(st.just("undo"), st.none()),
    st.tuples(st.just("award"), st.none()),
)


class Run:
    def __init__(self, db: Database, folder: Path) -> None:
        self.db, self.folder = db, folder
        self.stack: list[Stored] = [{}]
        self.live: list[int] = []  # batches not undone, oldest first
        self.files = 0
        self.last_file: tuple[Path, dict[str, tuple[str, str, str, str]]] | None = None
        self.settings = Settings()

    def import_file(self, path: Path, rows: dict[str, tuple[str, str, str, str]]) -> None:
        options = ReadOptions()
        key = importing.read_options_key(path=path, sheet=None, options=options, skip_invalid=False)
        sha = file_sha256(path)
        with database.session_scope(self.db, write=True) as session:
            summary = importing.repeat_of_last_import(
                session, kind="orders", path=path, sha256=sha, read_options=key
            )
            if summary is None:
                request = importing.ImportRequest(
                    sheet=open_sheet(path), path=path, sha256=sha, options=options, read_options=key
                )
                summary = importing.import_orders(session, request)
        assert summary.batch_id is not None
        self.live.append(summary.batch_id)
        state = dict(self.stack[-1])
        for order_no, (code, day, amount, status) in rows.items():
            state[order_no] = (code, day, AMOUNTS[amount], status)
        self.stack.append(state)
        self.last_file = (path, rows)

    def apply(self, kind: str, rows: Any) -> None:
        if kind == "import":
            self.files += 1
            path = self.folder / f"orders-{self.files}.csv"
            write_csv(path, [HEADER, *([no, *values] for no, values in sorted(rows.items()))])
            self.import_file(path, rows)
        elif kind == "again" and self.last_file is not None:
            self.import_file(*self.last_file)
        elif kind == "undo" and self.live:
            batch = self.live.pop()
            with database.session_scope(self.db, write=True) as session:
                import_undo.undo_import(session, batch, reason="model", today=AS_OF)
            self.stack.pop()
        elif kind == "award":
            with database.session_scope(self.db, write=True) as session:
                awarding.award(session, self.settings, as_of=AS_OF)
            self.check_points()
        self.check_orders()

    def check_orders(self) -> None:
        shown = table_rows(
            self.db,
            "SELECT o.order_no, c.customer_code, o.order_date, o.amount, o.status, o.net_amount, "
            "c.removed_at FROM orders o JOIN customers c ON c.id = o.customer_id WHERE o.removed_at IS NULL",
        )
        assert {
            no: (code, day, amount, status) for no, code, day, amount, status, _, _ in shown
        } == self.stack[-1]
        for no, _, _, amount, status, net, customer_removed in shown:
            assert net == (amount if status == "completed" else 0), no
            assert customer_removed is None, no
        assert table_rows(
            self.db, "SELECT COUNT(*) FROM orders WHERE removed_at IS NOT NULL AND net_amount != 0"
        ) == [(0,)]

    def check_points(self) -> None:
        held = dict(
            table_rows(
                self.db,
                "SELECT o.order_no, COALESCE(SUM(p.points), 0) FROM orders o LEFT JOIN points_ledger p "
                "ON p.order_id = o.id AND p.factor IS NOT NULL GROUP BY o.order_no",
            )
        )
        nets = dict(table_rows(self.db, "SELECT order_no, net_amount FROM orders"))
        assert held == {no: net // 100 for no, net in nets.items()}
        sums = dict(
            table_rows(self.db, "SELECT customer_id, SUM(points) FROM points_ledger GROUP BY customer_id")
        )
        owed = dict(
            table_rows(self.db, "SELECT customer_id, SUM(net_amount / 100) FROM orders GROUP BY customer_id")
        )
        assert {c: s for c, s in sums.items() if s} == {c: s for c, s in owed.items() if s}
        with database.session_scope(self.db) as session:
            replayed = {cid: account.balance for cid, account in ledger.accounts(session).items()}
            assert ledger.balances(session) == sums == replayed


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(steps=st.lists(step_st, min_size=1, max_size=8))
# A customer and an order kept as removed (the ledger names them) come back with a later file.
@example(
    steps=[
        ("import", {"O1": ("K1", DAYS[0], "10.00", "completed")}),
        ("award", None),
        ("undo", None),
        (
            "import",
            {"O1": ("K1", DAYS[0], "10.00", "completed"), "O2": ("K1", DAYS[1], "25.50", "completed")},
        ),
        ("award", None),
    ]
)
# A changed re-export undone after an award, then the same file again.
@example(
    steps=[
        (
            "import",
            {"O1": ("K1", DAYS[0], "10.00", "completed"), "O2": ("K2", DAYS[1], "25.50", "completed")},
        ),
        ("award", None),
        ("import", {"O1": ("K1", DAYS[0], "99.99", "refunded"), "O3": ("K3", DAYS[2], "10.00", "completed")}),
        ("award", None),
        ("undo", None),
        ("award", None),
        ("again", None),
    ]
)
def test_stored_orders_follow_imports_and_undos(
    tmp_path_factory: pytest.TempPathFactory, steps: list[tuple[str, Any]]
) -> None:
    folder = tmp_path_factory.mktemp("undo")
    run = Run(fresh_database(folder), folder)
    try:
        for kind, rows in steps:
            note(f"{kind} {rows}")
            run.apply(kind, rows)
        run.apply("award", None)
        # Undo everything, newest first: the database shows no order, and an award leaves
        # every balance at 0.
        while run.live:
            run.apply("undo", None)
        run.apply("award", None)
        assert table_rows(run.db, "SELECT COUNT(*) FROM orders WHERE removed_at IS NULL") == [(0,)]
        assert table_rows(run.db, "SELECT COUNT(*) FROM customers WHERE removed_at IS NULL") == [(0,)]
    finally:
        database.dispose_engines()
