"""Generate the sample shop: customers.xlsx, orders.xlsx (a Chinese POS export) and orders.csv (a web store).

    .venv/bin/python sample_data/generate.py [--out DIR]

Deterministic: one random.Random(20261125) drives everything, no set is iterated, nothing depends
on today's date, and the .xlsx files get fixed document times and fixed zip entry times, so every
run writes the same bytes. The shop:

- 500 customers C0001…C0500 who joined between 2022-01-01 and 2026-10-31;
- 10,000 orders from 2024-11-01 to 2026-10-31 (about 5% of them on 2–3 lines) with a peak in
  Nov/Dec (双十一), a dip around Chinese New Year and a summer bump; a few heavy buyers bring
  most of the revenue, some customers stop buying and new ones keep joining;
- 1,500 web-store orders WEB-00001… with English headers, day-first dates, `$`/`¥` totals and
  20 customers W0001…W0020 who appear only there.
"""

from __future__ import annotations

import argparse
import csv
import io
import math
import random
import zipfile
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import openpyxl
from openpyxl.utils import get_column_letter
from openpyxl.xml.functions import tostring

SEED = 20261125
FIRST_DAY = date(2024, 11, 1)
LAST_DAY = date(2026, 10, 31)
JOIN_FROM = date(2022, 1, 1)
AGE_AS_OF = date(2026, 11, 1)
FIXED_TIME = datetime(2026, 11, 1, 0, 0, 0)  # document properties and zip entries of the .xlsx files

N_CUSTOMERS = 500
N_ORDERS = 10_000
N_WEB_ORDERS = 1_500
N_WEB_ONLY_CUSTOMERS = 20

CUSTOMER_HEADER = ["客户编号", "客户名称", "手机号", "邮箱", "城市", "注册日期", "生日", "销售代表", "标签"]
ORDER_HEADER = [
    "订单号",
    "客户编号",
    "客户名称",
    "下单日期",
    "实付金额",
    "数量",
    "渠道",
    "销售代表",
    "订单状态",
    "退款金额",
]
WEB_HEADER = [
    "Order ID",
    "Customer ID",
    "Customer Name",
    "Order Date",
    "Total",
    "Qty",
    "Channel",
    "Status",
    "Refunded",
]

# (character, pinyin); the most common surnames first.
SURNAMES = [
    ("王", "wang"), ("李", "li"), ("张", "zhang"), ("刘", "liu"), ("陈", "chen"), ("杨", "yang"),
    ("黄", "huang"), ("赵", "zhao"), ("吴", "wu"), ("周", "zhou"), ("徐", "xu"), ("孙", "sun"),
    ("马", "ma"), ("朱", "zhu"), ("胡", "hu"), ("郭", "guo"), ("何", "he"), ("高", "gao"),
    ("林", "lin"), ("罗", "luo"), ("郑", "zheng"), ("梁", "liang"), ("谢", "xie"), ("宋", "song"),
    ("唐", "tang"), ("许", "xu"), ("韩", "han"), ("冯", "feng"), ("邓", "deng"), ("曹", "cao"),
    ("彭", "peng"), ("曾", "zeng"), ("肖", "xiao"), ("田", "tian"), ("董", "dong"), ("袁", "yuan"),
    ("潘", "pan"), ("于", "yu"), ("蒋", "jiang"), ("蔡", "cai"), ("余", "yu"), ("杜", "du"),
    ("叶", "ye"), ("程", "cheng"), ("苏", "su"), ("魏", "wei"), ("吕", "lv"), ("丁", "ding"),
    ("任", "ren"), ("沈", "shen"),
]  # fmt: skip
GIVEN = [
    ("伟", "wei"), ("芳", "fang"), ("娜", "na"), ("敏", "min"), ("静", "jing"), ("丽", "li"),
    ("强", "qiang"), ("磊", "lei"), ("军", "jun"), ("洋", "yang"), ("勇", "yong"), ("艳", "yan"),
    ("杰", "jie"), ("娟", "juan"), ("涛", "tao"), ("明", "ming"), ("超", "chao"), ("秀", "xiu"),
    ("霞", "xia"), ("平", "ping"), ("刚", "gang"), ("桂", "gui"), ("英", "ying"), ("华", "hua"),
    ("玲", "ling"), ("红", "hong"), ("建", "jian"), ("文", "wen"), ("辉", "hui"), ("鹏", "peng"),
    ("婷", "ting"), ("雪", "xue"), ("琳", "lin"), ("浩", "hao"), ("宇", "yu"), ("欣", "xin"),
    ("怡", "yi"), ("佳", "jia"), ("子", "zi"), ("涵", "han"), ("梓", "zi"), ("轩", "xuan"),
    ("晨", "chen"), ("博", "bo"), ("思", "si"), ("雨", "yu"), ("萱", "xuan"), ("凯", "kai"),
    ("峰", "feng"), ("倩", "qian"), ("颖", "ying"), ("慧", "hui"), ("晓", "xiao"), ("志", "zhi"),
    ("海", "hai"), ("燕", "yan"), ("东", "dong"), ("春", "chun"), ("斌", "bin"), ("亮", "liang"),
]  # fmt: skip
CITIES = ["上海", "杭州", "苏州", "南京", "北京", "宁波", "广州", "深圳", "成都", "武汉", "西安", "重庆"]
CITY_WEIGHTS = [22, 16, 12, 9, 8, 7, 6, 6, 4, 4, 3, 3]
SALES_REPS = ["王丽", "李强", "陈静", "刘洋", "赵敏", "孙浩"]
EMAIL_DOMAINS = ["qq.com", "163.com", "126.com", "sina.com", "foxmail.com", "gmail.com"]
CHANNELS = ["门店", "小程序", "淘宝", "电话"]
CHANNEL_WEIGHTS = [45, 30, 15, 10]
COMPLETED, REFUNDED, CANCELLED = "已完成", "已退款", "已取消"
WEB_STATUS = {COMPLETED: "completed", REFUNDED: "refunded", CANCELLED: "cancelled"}

MONTH_FACTOR = {1: 0.95, 2: 0.8, 3: 0.88, 4: 0.9, 5: 0.98, 6: 1.12, 7: 1.22, 8: 1.15, 9: 0.95, 10: 1.0}
MONTH_FACTOR |= {11: 1.5, 12: 1.4}
CHINESE_NEW_YEAR = [date(2025, 1, 29), date(2026, 2, 17)]


@dataclass
class Customer:
    code: str
    name: str
    phone: str
    email: str | None
    city: str
    joined: date
    birthday: date | None
    rep: str | None
    tags: str | None
    weight: float  # how often this customer buys, relative to the others
    basket: float  # a typical order, in yuan
    stops: date | None  # the last day this customer may still buy (churn); None = still buying
    channel: str  # the channel this customer mostly uses
    web: float  # how often this customer buys in the web store (0 = never)

    def buys_on(self, day: date) -> bool:
        return self.joined <= day and (self.stops is None or day <= self.stops)


@dataclass
class Line:
    order_no: str
    code: str
    day: date
    amount: int  # cents
    quantity: int
    channel: str
    status: str
    refund: int | None  # cents; only for a partial refund


def days_between(first: date, last: date) -> list[date]:
    return [first + timedelta(days=n) for n in range((last - first).days + 1)]


def day_weight(day: date, *, web: bool = False) -> float:
    """How busy the shop is on `day`: season, 双十一, Chinese New Year, weekends and a slow growth."""
    weight = MONTH_FACTOR[day.month] * (1 + 0.2 * (day - FIRST_DAY).days / (LAST_DAY - FIRST_DAY).days)
    if day.weekday() >= 5 and not web:
        weight *= 1.2
    if (day.month, day.day) == (11, 11):
        weight *= 6 if web else 3
    elif day.month == 11 and 9 <= day.day <= 12:
        weight *= 1.8
    for holiday in CHINESE_NEW_YEAR:
        offset = (day - holiday).days
        if -7 <= offset <= 10:
            weight *= 0.3
    return weight


def cents(rng: random.Random, yuan: float, *, low: float = 20.0, high: float = 3000.0) -> int:
    """An amount between low and high (whole yuan) as a shop prices it: x.00, x.90 or any cents."""
    value = min(max(yuan, low), high)
    style = rng.random()
    if style < 0.45:
        return round(value) * 100
    if style < 0.65:
        return min(int(value) * 100 + 90, round(high * 100))
    return round(value * 100)


def make_name(rng: random.Random, surname_weights: Sequence[float]) -> tuple[str, str]:
    """A Chinese name and its pinyin (for the e-mail address)."""
    surname, surname_py = rng.choices(SURNAMES, weights=surname_weights)[0]
    given = [rng.choice(GIVEN) for _ in range(1 if rng.random() < 0.4 else 2)]
    return surname + "".join(c for c, _ in given), surname_py + "".join(p for _, p in given)


def make_customers(rng: random.Random) -> list[Customer]:
    surname_weights = [1 / (i + 1) ** 0.7 for i in range(len(SURNAMES))]
    join_span = (LAST_DAY - JOIN_FROM).days
    phones: dict[str, None] = {}
    customers = []
    for n in range(1, N_CUSTOMERS + 1):
        name, pinyin = make_name(rng, surname_weights)
        phone = f"1{rng.choice('358')}{rng.randrange(10**9):09d}"
        while phone in phones:
            phone = f"1{rng.choice('358')}{rng.randrange(10**9):09d}"
        phones[phone] = None
        kind = rng.random()
        if kind < 0.3:
            email = None
        elif kind < 0.65:
            email = f"{pinyin}{rng.randrange(1, 1000)}@{rng.choice(EMAIL_DOMAINS)}"
        elif kind < 0.85:
            email = f"{rng.randrange(10**5, 10**10)}@qq.com"
        else:
            email = f"{phone}@163.com"
        joined = JOIN_FROM + timedelta(days=rng.randrange(join_span + 1))
        birthday = None
        if rng.random() < 0.85:
            birthday = AGE_AS_OF - timedelta(days=rng.randrange(18 * 366, 70 * 365))
        rep = None if rng.random() < 0.05 else rng.choice(SALES_REPS)
        weight = 0.0 if rng.random() < 0.05 else rng.lognormvariate(0, 0.95)
        wholesale = weight > 2.5 and rng.random() < 0.45
        basket = rng.lognormvariate(math.log(160), 0.45) * (4.5 if wholesale else 1)
        tags = []
        if wholesale:
            tags.append("批发")
        if joined < date(2023, 7, 1) and rng.random() < 0.5:
            tags.append("老客户")
        if not tags and rng.random() < 0.05:
            tags.append("团购")
        stops = None
        start = max(joined, FIRST_DAY)
        span = (LAST_DAY - start).days
        if span > 150 and rng.random() < 0.25:
            stops = start + timedelta(days=rng.randrange(60, span - 60))
        channel = "电话" if wholesale and rng.random() < 0.3 else rng.choices(CHANNELS, CHANNEL_WEIGHTS)[0]
        web = rng.lognormvariate(0, 1.0) if rng.random() < 0.35 else 0.0
        customers.append(
            Customer(
                code=f"C{n:04d}",
                name=name,
                phone=phone,
                email=email,
                city=rng.choices(CITIES, CITY_WEIGHTS)[0],
                joined=joined,
                birthday=birthday,
                rep=rep,
                tags=",".join(tags) or None,
                weight=weight,
                basket=basket,
                stops=stops,
                channel=channel,
                web=web,
            )
        )
    return customers


def order_days(rng: random.Random, count: int, *, web: bool) -> list[date]:
    """`count` order dates spread over the 24 months by how busy each day is, in date order."""
    days = days_between(FIRST_DAY, LAST_DAY)
    chosen = rng.choices(days, weights=[day_weight(d, web=web) for d in days], k=count)
    return sorted(chosen)


def pick_status(rng: random.Random) -> str:
    r = rng.random()
    return REFUNDED if r < 0.02 else CANCELLED if r < 0.03 else COMPLETED


def make_orders(rng: random.Random, customers: list[Customer]) -> list[Line]:
    """The POS orders, one Line per row; lines of one order are consecutive and share number and date."""
    per_day = Counter(order_days(rng, N_ORDERS, web=False))
    lines: list[Line] = []
    serial: Counter[str] = Counter()
    for day in sorted(per_day):
        buyers = [c for c in customers if c.weight > 0 and c.buys_on(day)]
        for customer in rng.choices(buyers, weights=[c.weight for c in buyers], k=per_day[day]):
            month = day.strftime("%y%m")
            serial[month] += 1
            order_no = f"SO{month}{serial[month]:06d}"
            wholesale = customer.tags is not None and "批发" in customer.tags
            channel = customer.channel if rng.random() < 0.75 else rng.choices(CHANNELS, CHANNEL_WEIGHTS)[0]
            status = pick_status(rng)
            count = 1
            if rng.random() < 0.05:
                count = 2 if rng.random() < 0.75 else 3
            total = cents(rng, customer.basket * rng.lognormvariate(0, 0.55), low=20.0 * count)
            shares = [rng.uniform(0.3, 1.0) for _ in range(count)]
            amounts = [int(total * share / sum(shares)) for share in shares[:-1]]
            amounts.append(total - sum(amounts))
            refund = None
            if status == COMPLETED and rng.random() < 0.006:
                refund = round(amounts[0] * rng.uniform(0.1, 0.5))
            for index, amount in enumerate(amounts):
                quantity = rng.randint(5, 30) if wholesale else rng.choices([1, 2, 3, 4], [55, 25, 12, 8])[0]
                lines.append(
                    Line(
                        order_no,
                        customer.code,
                        day,
                        amount,
                        quantity,
                        channel,
                        status,
                        refund if index == 0 else None,
                    )
                )
    return lines


def make_web_orders(rng: random.Random, customers: list[Customer]) -> tuple[list[Line], dict[str, str]]:
    """The web-store orders, and the names of the customers who buy only there (W0001…)."""
    surname_weights = [1 / (i + 1) ** 0.7 for i in range(len(SURNAMES))]
    shoppers = [c for c in customers if c.web > 0]
    typical = sorted(c.web for c in shoppers)[len(shoppers) // 2]
    newcomers: list[Customer] = []
    names: dict[str, str] = {}
    firsts = sorted(FIRST_DAY + timedelta(days=rng.randrange(30, 700)) for _ in range(N_WEB_ONLY_CUSTOMERS))
    for n, first in enumerate(firsts, start=1):
        name, _ = make_name(rng, surname_weights)
        code = f"W{n:04d}"
        names[code] = name
        basket = rng.lognormvariate(math.log(150), 0.4)
        newcomers.append(
            Customer(code, name, "", None, "", first, None, None, None, 0.0, basket, None, "", typical)
        )
    drafts: list[tuple[date, Customer]] = [(c.joined, c) for c in newcomers]  # each newcomer's first order
    per_day = Counter(order_days(rng, N_WEB_ORDERS - len(newcomers), web=True))
    for day in sorted(per_day):
        buyers = [c for c in shoppers + newcomers if c.buys_on(day)]
        drafts += [(day, c) for c in rng.choices(buyers, weights=[c.web for c in buyers], k=per_day[day])]
    drafts.sort(key=lambda draft: draft[0])  # stable: same-day orders keep the order they were drawn in
    lines = []
    for number, (day, customer) in enumerate(drafts, start=1):
        status = pick_status(rng)
        amount = cents(rng, customer.basket * rng.lognormvariate(0, 0.5))
        refund = None
        if status == COMPLETED and rng.random() < 0.006:
            refund = round(amount * rng.uniform(0.1, 0.5))
        quantity = rng.choices([1, 2, 3], [70, 22, 8])[0]
        lines.append(
            Line(f"WEB-{number:05d}", customer.code, day, amount, quantity, "Online Store", status, refund)
        )
    return lines, names


def yuan(amount: int) -> float:
    """Cents as the number a spreadsheet cell holds: at most two decimals, e.g. 1234.5."""
    return amount / 100


def shown_money(amount: int, symbol: str) -> str:
    return f"{symbol}{amount // 100:,}.{amount % 100:02d}"


def save_workbook(workbook: openpyxl.Workbook, path: Path) -> None:
    """Save with fixed document times and zip entry times, so the same content gives the same bytes."""
    workbook.properties.creator = "cpm sample_data/generate.py"
    workbook.properties.created = FIXED_TIME
    buffer = io.BytesIO()
    workbook.save(buffer)  # stamps `modified` with the current time; replaced below
    workbook.properties.modified = FIXED_TIME
    core = tostring(workbook.properties.to_tree())
    stamp = FIXED_TIME.timetuple()[:6]
    temporary = path.with_name(path.name + ".tmp")
    with (
        zipfile.ZipFile(buffer) as source,
        zipfile.ZipFile(temporary, "w", zipfile.ZIP_DEFLATED) as target,
    ):
        for entry in source.infolist():
            data = core if entry.filename == "docProps/core.xml" else source.read(entry)
            fixed = zipfile.ZipInfo(entry.filename, date_time=stamp)
            fixed.compress_type = zipfile.ZIP_DEFLATED
            fixed.external_attr = 0o600 << 16
            target.writestr(fixed, data)
    temporary.replace(path)


def write_sheet(path: Path, title: str, header: list[str], rows: list[list[Any]], widths: list[int]) -> None:
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    assert sheet is not None
    sheet.title = title
    sheet.append(header)
    for row in rows:
        sheet.append(row)
    for index, width in enumerate(widths):
        sheet.column_dimensions[get_column_letter(index + 1)].width = width
    sheet.freeze_panes = "A2"
    save_workbook(workbook, path)


def write_customers(path: Path, customers: list[Customer]) -> None:
    rows = [
        [c.code, c.name, c.phone, c.email, c.city, c.joined, c.birthday, c.rep, c.tags] for c in customers
    ]
    write_sheet(path, "客户", CUSTOMER_HEADER, rows, [10, 10, 14, 28, 8, 12, 12, 10, 14])


def write_orders(rng: random.Random, path: Path, lines: list[Line], customers: list[Customer]) -> None:
    by_code = {c.code: c for c in customers}
    text_dates: dict[str, str] = {}
    rows = []
    for line in lines:
        customer = by_code[line.code]
        if line.order_no not in text_dates:  # one form per order, as one export writes one order
            r = rng.random()
            text_dates[line.order_no] = "chinese" if r < 0.01 else "slashed" if r < 0.02 else ""
        day: date | str = line.day
        form = text_dates[line.order_no]
        if form == "chinese":
            day = f"{line.day.year}年{line.day.month}月{line.day.day}日"
        elif form == "slashed":
            day = f"{line.day.year}/{line.day.month}/{line.day.day}"
        refund = None if line.refund is None else yuan(line.refund)
        rows.append(
            [
                line.order_no,
                line.code,
                customer.name,
                day,
                yuan(line.amount),
                line.quantity,
                line.channel,
                customer.rep,
                line.status,
                refund,
            ]
        )
    write_sheet(path, "订单", ORDER_HEADER, rows, [15, 10, 10, 14, 12, 6, 8, 10, 10, 10])


def write_web_orders(
    rng: random.Random, path: Path, lines: list[Line], customers: list[Customer], names: dict[str, str]
) -> None:
    every_name = {c.code: c.name for c in customers} | names
    with path.open("w", encoding="utf-8-sig", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(WEB_HEADER)
        for line in lines:
            symbol = "$" if rng.random() < 0.5 else "¥"
            writer.writerow(
                [
                    line.order_no,
                    line.code,
                    every_name[line.code],
                    line.day.strftime("%d/%m/%Y"),
                    shown_money(line.amount, symbol),
                    line.quantity,
                    line.channel,
                    WEB_STATUS[line.status],
                    "" if line.refund is None else shown_money(line.refund, symbol),
                ]
            )


def generate(out: Path) -> None:
    rng = random.Random(SEED)
    customers = make_customers(rng)
    lines = make_orders(rng, customers)
    web_lines, web_names = make_web_orders(rng, customers)
    out.mkdir(parents=True, exist_ok=True)
    write_customers(out / "customers.xlsx", customers)
    write_orders(rng, out / "orders.xlsx", lines, customers)
    write_web_orders(rng, out / "orders.csv", web_lines, customers, web_names)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument(
        "--out",
        type=Path,
        default=Path(__file__).resolve().parent,
        help="folder to write the three files to (default: the folder of this script)",
    )
    args = parser.parse_args()
    generate(args.out)
    for name in ("customers.xlsx", "orders.xlsx", "orders.csv"):
        path = args.out / name
        print(f"wrote {path} ({path.stat().st_size:,} bytes)")


if __name__ == "__main__":
    main()
