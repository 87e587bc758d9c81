"""`make bench`: cpm against the floor (the fastest hand-written way) and against pandas.

Generates a shop deterministically (50,000 customers and 1,000,000 orders over three years, or
100,000 orders with --quick) as .xlsx with shared strings, as Excel writes it, and as .csv; then
runs every step several times, interleaved, each run in a fresh process so its peak RSS is its
own, and prints the median, min–max and peak RSS of each, with the ratios the targets speak of.

    python benchmarks/bench.py [--quick] [--repeat N] [--orders N] [--customers N]
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import platform
import random
import shutil
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path

HERE = Path(__file__).resolve().parent
DATA = HERE / ".data"
AS_OF = "2026-01-01"
CHANNELS = ["门店", "小程序", "淘宝", "电话"]
STATUSES = ["已完成"] * 97 + ["已退款", "已退款", "已取消"]
HEADER = ["订单号", "客户编号", "下单日期", "实付金额", "数量", "渠道", "订单状态"]


def generate(folder: Path, *, orders: int, customers: int) -> None:
    """orders.csv and orders.xlsx with the same rows; about 5% of orders have two lines."""
    import openpyxl

    folder.mkdir(parents=True, exist_ok=True)
    rng = random.Random(20261125)
    start = date(2023, 1, 1)
    weights = [1 / (i + 1) ** 0.8 for i in range(customers)]  # a few heavy buyers, many light ones
    codes = [f"C{i:06d}" for i in range(customers)]
    chosen = rng.choices(codes, weights=weights, k=orders)
    rows = []
    for n, code in enumerate(chosen):
        day = start + timedelta(days=rng.randrange(3 * 365))
        lines = 2 if rng.random() < 0.05 else 1
        status = rng.choice(STATUSES)
        channel = rng.choice(CHANNELS)
        for _ in range(lines):
            rows.append(
                (f"SO{n:08d}", code, day, round(rng.uniform(20, 3000), 2), rng.randint(1, 5), channel, status)
            )
    with (folder / "orders.csv").open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(HEADER)
        for row in rows:
            writer.writerow([row[0], row[1], row[2].isoformat(), f"{row[3]:.2f}", *row[4:]])
    book = openpyxl.Workbook(write_only=True)
    sheet = book.create_sheet("订单")
    sheet.append(HEADER)
    for row in rows:
        sheet.append(list(row))
    book.save(folder / "orders.xlsx")
    (folder / "READY").write_text(json.dumps({"orders": orders, "customers": customers, "lines": len(rows)}))


# --- the programs each step runs, each in its own process ---------------------------------------

# The fastest reader turning the file into Python rows: the start of both import floors.
READ_ROWS = r"""
import csv, sqlite3, sys, time
path, db = sys.argv[1], sys.argv[2]
if path.endswith(".csv"):
    with open(path, encoding="utf-8", newline="") as f:
        r = csv.reader(f); next(r); rows = [tuple(x) for x in r]
else:
    import python_calamine
    it = python_calamine.CalamineWorkbook.from_path(path).get_sheet_by_index(0).iter_rows()
    next(it); rows = [tuple(x) for x in it]
"""

FLOOR_IMPORT = (
    READ_ROWS
    + r"""
conn = sqlite3.connect(db, isolation_level=None)
conn.execute("PRAGMA journal_mode=WAL"); conn.execute("PRAGMA synchronous=NORMAL")
conn.execute("CREATE TABLE lines (order_no TEXT, customer TEXT, day TEXT, amount REAL, qty INT, channel TEXT, status TEXT)")
conn.execute("BEGIN")
conn.executemany("INSERT INTO lines VALUES (?,?,?,?,?,?,?)",
                 [(a, b, c.isoformat() if hasattr(c, "isoformat") else c, d, e, f, g) for a, b, c, d, e, f, g in rows])
conn.execute("COMMIT")
"""
)

# The same reading, and the rows as cpm stores them (one per order, cents, ISO dates, customer
# ids) written into cpm's own schema — its unique order_no, foreign keys, checks and the two
# covering indexes the reports read, built after the load as cpm does. Merging and converting the
# rows is not timed (it prints how long it took, and the harness takes that off): what is left is
# the least any importer must spend to store these orders the way cpm keeps them.
FLOOR_IMPORT_SCHEMA = (
    READ_ROWS
    + r"""
started = time.perf_counter()
STATUS = {"已完成": "completed", "已退款": "refunded", "已取消": "cancelled"}
orders = {}
for no, code, day, amount, qty, channel, status in rows:
    cents = round(float(amount) * 100)
    order = orders.get(no)
    if order is None:
        day = day.isoformat()[:10] if hasattr(day, "isoformat") else day
        orders[no] = [no, code, day, cents, int(float(qty)), channel, STATUS[status]]
    else:
        order[3] += cents
        order[4] += int(float(qty))
ids = {code: n for n, code in enumerate(sorted({o[1] for o in orders.values()}), start=1)}
stored = []
for no, code, day, cents, qty, channel, status in orders.values():
    refund = cents if status == "refunded" else 0
    net = 0 if status != "completed" else cents
    stored.append((no, ids[code], day, cents, refund, net, qty, channel, status, 1))
del rows, orders
untimed = time.perf_counter() - started
c = sqlite3.connect(db, isolation_level=None)
c.execute("PRAGMA journal_mode=WAL"); c.execute("PRAGMA synchronous=NORMAL"); c.execute("PRAGMA foreign_keys=ON")
c.execute("BEGIN IMMEDIATE")
c.execute("INSERT INTO import_batches (id, kind, file_name, file_path, sha256, imported_at, rows_read, inserted,"
          " updated, unchanged, rejected, customers_created) VALUES (1, 'orders', 'f', 'f', 'x',"
          " '2026-01-01 00:00:00.000000', 0, 0, 0, 0, 0, 0)")
c.executemany("INSERT INTO customers (id, customer_code, import_id) VALUES (?, ?, 1)", [(i, k) for k, i in ids.items()])
c.execute("DROP INDEX ix_orders_customer_date_net"); c.execute("DROP INDEX ix_orders_date_customer_net")
c.executemany("INSERT INTO orders (order_no, customer_id, order_date, amount, refunded_amount, net_amount, quantity,"
              " channel, status, import_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", stored)
c.execute("CREATE INDEX ix_orders_customer_date_net ON orders (customer_id, order_date, net_amount)")
c.execute("CREATE INDEX ix_orders_date_customer_net ON orders (order_date, customer_id, net_amount)")
c.execute("COMMIT")
print(f"untimed {untimed}")
"""
)

PANDAS_IMPORT = r"""
import sqlite3, sys
import pandas as pd
path, db = sys.argv[1], sys.argv[2]
frame = pd.read_csv(path) if path.endswith(".csv") else pd.read_excel(path)
conn = sqlite3.connect(db)
frame.to_sql("lines", conn, index=False)
conn.commit()
"""

FLOOR_REPORT = r"""
import sqlite3, sys
db, as_of, start, end, prev, window = sys.argv[1:7]
c = sqlite3.connect(db)
q = "SELECT COALESCE(SUM(net_amount),0), COUNT(*), COUNT(DISTINCT customer_id) FROM orders WHERE net_amount > 0 AND order_date >= ? AND order_date < ?"
c.execute(q, (start, end)).fetchone(); c.execute(q, (prev, start)).fetchone()
c.execute("SELECT customer_id, MIN(order_date) FROM orders WHERE net_amount > 0 AND order_date < ? GROUP BY customer_id", (as_of,)).fetchall()
rows = c.execute("SELECT c.customer_code, COALESCE(SUM(o.net_amount), 0) AS rev FROM customers c LEFT JOIN orders o ON o.customer_id = c.id AND o.net_amount > 0 AND o.order_date >= ? AND o.order_date < ? GROUP BY c.id ORDER BY rev DESC, c.customer_code", (window, as_of)).fetchall()
total = sum(r[1] for r in rows); before = 0; classes = []
for code, rev in rows:
    classes.append("A" if rev > 0 and before < 0.8 * total else "B" if rev > 0 and before < 0.95 * total else "C"); before += rev
"""

PANDAS_REPORT = r"""
import sqlite3, sys
import pandas as pd
db, as_of, start, end, prev, window = sys.argv[1:7]
c = sqlite3.connect(db)
o = pd.read_sql("SELECT customer_id, order_date, net_amount FROM orders WHERE order_date < ?", c, params=(as_of,))
o = o[o.net_amount > 0]
for a, b in ((start, end), (prev, start)):
    p = o[(o.order_date >= a) & (o.order_date < b)]; p.net_amount.sum(); len(p); p.customer_id.nunique()
o.groupby("customer_id").order_date.min()
w = o[o.order_date >= window].groupby("customer_id").net_amount.sum().sort_values(ascending=False)
share = w.cumsum().shift(fill_value=0) / w.sum()
"""

FLOOR_AWARD = r"""
import sqlite3, sys
db, as_of = sys.argv[1], sys.argv[2]
c = sqlite3.connect(db, isolation_level=None)
c.execute("BEGIN IMMEDIATE")
c.execute("INSERT INTO points_ledger (natural_key, customer_id, kind, points, effective_on, order_id, order_net, factor,"
          " earned_on, expires_on, rules_version, created_at) SELECT 'earn:' || order_no, customer_id, 'earn',"
          " net_amount / 100, order_date, id, net_amount, '1', order_date, date(order_date, '+12 months'), 'x',"
          " datetime('now') FROM orders WHERE net_amount > 0 AND order_date < ?", (as_of,))
c.execute("COMMIT")
"""

FLOOR_WORKBOOK = r"""
import sqlite3, sys
from openpyxl import Workbook
db, out = sys.argv[1], sys.argv[2]
c = sqlite3.connect(db)
rows = c.execute("SELECT c.customer_code, c.name, c.city, c.sales_rep, c.phone, c.email, COUNT(o.id), COALESCE(SUM(o.net_amount), 0), MIN(o.order_date), MAX(o.order_date) FROM customers c LEFT JOIN orders o ON o.customer_id = c.id GROUP BY c.id").fetchall()
wb = Workbook(write_only=True); ws = wb.create_sheet("Customers")
ws.append(["code", "name", "city", "rep", "phone", "email", "tier", "abc", "r", "f", "m", "segment", "spend", "orders", "first", "last", "lifetime", "points", "status", "at risk"])
for r in rows:
    ws.append([r[0], r[1], r[2], r[3], r[4], r[5], "VIP", "A", 5, 5, 5, "Champions", r[7] / 100, r[6], r[8], r[9], r[7] / 100, 100, "active", ""])
wb.save(out)
"""


# The cells of cpm's own workbook — every sheet, value and number format — written again with
# openpyxl write-only. Reading them back is not timed. What is left is the least any writer of
# these cells through openpyxl must spend; cpm also computes them and adds fonts, fills and charts.
FLOOR_WORKBOOK_SAME_CELLS = r"""
import sys, time
from openpyxl import Workbook, load_workbook
from openpyxl.cell import WriteOnlyCell
source, out = sys.argv[1], sys.argv[2]
started = time.perf_counter()
sheets = []
for ws in load_workbook(source, read_only=True).worksheets:
    sheets.append((ws.title, [[(c.value, getattr(c, "number_format", None)) for c in row] for row in ws.iter_rows()]))
untimed = time.perf_counter() - started
wb = Workbook(write_only=True)
for title, rows in sheets:
    ws = wb.create_sheet(title)
    for row in rows:
        cells = []
        for value, number_format in row:
            if value is not None and number_format and number_format != "General":
                cell = WriteOnlyCell(ws, value=value)
                cell.number_format = number_format
                cells.append(cell)
            else:
                cells.append(value)
        ws.append(cells)
wb.save(out)
print(f"untimed {untimed}")
"""


@dataclass
class Result:
    seconds: list[float] = field(default_factory=list)
    peak_mb: list[float] = field(default_factory=list)

    @property
    def median(self) -> float:
        return statistics.median(self.seconds)


def run(argv: list[str], *, env: dict[str, str] | None = None) -> tuple[float, float]:
    """Seconds and peak RSS (MB) of one process; a line `untimed S` it prints is taken off."""
    started = time.perf_counter()
    process = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    out = process.stdout.read().decode(errors="replace") if process.stdout else ""
    _, status, usage = os.wait4(process.pid, 0)
    elapsed = time.perf_counter() - started
    if status != 0:
        stderr = process.stderr.read().decode() if process.stderr else ""
        raise SystemExit(f"failed: {' '.join(argv)}\n{stderr}")
    untimed = [float(line.split()[1]) for line in out.splitlines() if line.startswith("untimed ")]
    return elapsed - sum(untimed), usage.ru_maxrss / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="100,000 orders instead of 1,000,000")
    parser.add_argument("--orders", type=int)
    parser.add_argument("--customers", type=int, default=50_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--no-pandas", action="store_true", help="skip the pandas baselines")
    parser.add_argument("--generate-only", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    orders = args.orders or (100_000 if args.quick else 1_000_000)
    customers = min(args.customers, max(orders // 20, 100))
    folder = DATA / f"{orders}x{customers}"
    if args.generate_only:
        generate(folder, orders=orders, customers=customers)
        return
    if not (folder / "READY").exists():
        print(f"generating {orders:,} orders for {customers:,} customers in {folder} …", flush=True)
        # In a child process: Linux counts a parent's peak memory into every child it forks later,
        # so a parent that held the generated rows would inflate every peak RSS measured below.
        subprocess.run(
            [
                sys.executable,
                __file__,
                "--generate-only",
                "--orders",
                str(orders),
                "--customers",
                str(customers),
            ],
            check=True,
        )
    work = folder / "work"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir()
    py = sys.executable
    cpm = [py, "-m", "cpm"]
    try:
        import pandas  # noqa: F401

        with_pandas = not args.no_pandas
    except ImportError:
        with_pandas = False
        print("pandas is not installed: the pandas baselines are skipped (pip install pandas)")

    def fresh_db(name: str) -> Path:
        path = work / name
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
        subprocess.run([*cpm, "--db", str(path), "--quiet", "init"], check=True)
        return path

    def scratch(name: str) -> Path:
        path = work / name
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
        return path

    results: dict[str, Result] = {}

    def measure(label: str, argv: list[str]) -> None:
        seconds, peak = run(argv)
        entry = results.setdefault(label, Result())
        entry.seconds.append(seconds)
        entry.peak_mb.append(peak)
        print(f"  {label:<34} {seconds:8.2f} s {peak:8.0f} MB", flush=True)

    xlsx, csv_file = str(folder / "orders.xlsx"), str(folder / "orders.csv")
    reader_peak = Result()
    for round_number in range(1, args.repeat + 1):
        print(f"round {round_number} of {args.repeat}", flush=True)
        for kind, path in (("xlsx", xlsx), ("csv", csv_file)):
            db = fresh_db(f"import-{kind}.db")
            measure(f"import {kind}: cpm", [*cpm, "--db", str(db), "--quiet", "import", "orders", path])
            measure(
                f"re-import {kind}: cpm (unchanged)",
                [*cpm, "--db", str(db), "--quiet", "import", "orders", path],
            )
            measure(f"import {kind}: floor", [py, "-c", FLOOR_IMPORT, path, str(scratch(f"floor-{kind}.db"))])
            measure(
                f"import {kind}: floor into cpm schema",
                [py, "-c", FLOOR_IMPORT_SCHEMA, path, str(fresh_db(f"floor-schema-{kind}.db"))],
            )
            if kind == "xlsx":
                seconds, peak = run(
                    [
                        py,
                        "-c",
                        "import python_calamine,sys;"
                        "list(python_calamine.CalamineWorkbook.from_path(sys.argv[1])"
                        ".get_sheet_by_index(0).iter_rows())",
                        path,
                    ]
                )
                reader_peak.peak_mb.append(peak)
                reader_peak.seconds.append(seconds)
            if with_pandas:
                measure(
                    f"import {kind}: pandas",
                    [py, "-c", PANDAS_IMPORT, path, str(scratch(f"pandas-{kind}.db"))],
                )
        db = work / "import-csv.db"
        report_args = [str(db), AS_OF, "2025-12-01", "2026-01-01", "2025-11-01", "2025-01-01"]
        measure("report json: cpm", [*cpm, "--db", str(db), "report", "--as-of", AS_OF, "--format", "json"])
        measure("report json: floor (raw SQL)", [py, "-c", FLOOR_REPORT, *report_args])
        if with_pandas:
            measure("report json: pandas", [py, "-c", PANDAS_REPORT, *report_args])
        award_db = work / "award.db"
        floor_db = work / "award-floor.db"
        for target in (award_db, floor_db):
            for suffix in ("", "-wal", "-shm"):
                Path(f"{target}{suffix}").unlink(missing_ok=True)
            shutil.copy(db, target)
            for suffix in ("-wal", "-shm"):
                if Path(f"{db}{suffix}").exists():
                    shutil.copy(f"{db}{suffix}", f"{target}{suffix}")
        measure("award first run: cpm", [*cpm, "--db", str(award_db), "--quiet", "award", "--as-of", AS_OF])
        measure("award second run: cpm", [*cpm, "--db", str(award_db), "--quiet", "award", "--as-of", AS_OF])
        measure("award: floor (INSERT … SELECT)", [py, "-c", FLOOR_AWARD, str(floor_db), AS_OF])
        measure(
            "workbook: cpm report --xlsx",
            [
                *cpm,
                "--db",
                str(award_db),
                "--quiet",
                "report",
                "--as-of",
                AS_OF,
                "--xlsx",
                str(work / "r.xlsx"),
            ],
        )
        measure(
            "workbook: floor (openpyxl write-only)",
            [py, "-c", FLOOR_WORKBOOK, str(award_db), str(work / "f.xlsx")],
        )
        measure(
            "workbook: floor, cpm cells",
            [py, "-c", FLOOR_WORKBOOK_SAME_CELLS, str(work / "r.xlsx"), str(work / "g.xlsx")],
        )
        measure("cpm startup (cpm --version)", [*cpm, "--version"])

    def ratio(a: str, b: str) -> str:
        if a not in results or b not in results:
            return "n/a"
        return f"{results[a].median / results[b].median:.2f}×"

    print()
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
        f"{orders:,} orders, {customers:,} customers, {args.repeat} rounds"
    )
    print(f"{'step':<38} {'median':>9} {'min–max':>17} {'peak RSS':>10}")
    for label, entry in results.items():
        spread = f"{min(entry.seconds):.2f}–{max(entry.seconds):.2f} s"
        print(f"{label:<38} {entry.median:8.2f}s {spread:>17} {max(entry.peak_mb):8.0f} MB")
    print()
    print("ratios (target in brackets)")
    print(f"  import xlsx / floor            {ratio('import xlsx: cpm', 'import xlsx: floor')}  [≤ 1.3×]")
    print(f"  pandas / import xlsx           {ratio('import xlsx: pandas', 'import xlsx: cpm')}  [≥ 10×]")
    print(f"  import csv / floor             {ratio('import csv: cpm', 'import csv: floor')}  [≤ 1.5×]")
    for kind in ("xlsx", "csv"):
        print(
            f"  (import {kind} / the floor into cpm's schema: "
            f"{ratio(f'import {kind}: cpm', f'import {kind}: floor into cpm schema')})"
        )
    print(
        f"  re-import xlsx / import xlsx   {ratio('re-import xlsx: cpm (unchanged)', 'import xlsx: cpm')}  [≤ 0.5×]"
    )
    print(
        f"  report / raw SQL               {ratio('report json: cpm', 'report json: floor (raw SQL)')}  [≤ 1.5×]"
    )
    print(
        f"  award / INSERT … SELECT        {ratio('award first run: cpm', 'award: floor (INSERT … SELECT)')}  [≤ 2×]"
    )
    second = results.get("award second run: cpm")
    print(f"  award second run               {second.median if second else float('nan'):.2f} s  [≤ 1 s]")
    print(
        f"  workbook / openpyxl floor      "
        f"{ratio('workbook: cpm report --xlsx', 'workbook: floor (openpyxl write-only)')}  [≤ 1.3×]"
    )
    print(
        "  (workbook / openpyxl writing cpm's own cells: "
        f"{ratio('workbook: cpm report --xlsx', 'workbook: floor, cpm cells')})"
    )
    if "import xlsx: cpm" in results and reader_peak.peak_mb:
        extra = max(results["import xlsx: cpm"].peak_mb) - max(reader_peak.peak_mb)
        print(f"  import xlsx peak RSS − reader's own peak   {extra:+.0f} MB  [≤ +100 MB]")


if __name__ == "__main__":
    main()
