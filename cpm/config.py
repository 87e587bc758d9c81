"""cpm.toml: loading, defaults and validation.

Every setting has a built-in default, so a shop can run without a config file. A malformed file,
an unknown key or an out-of-range value is a ConfigError that names the key.
"""

from __future__ import annotations

import hashlib
import json
import reprlib
import tomllib
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from fractions import Fraction
from pathlib import Path
from typing import Any

from cpm.errors import ConfigError
from cpm.i18n import parse_language
from cpm.io.text import is_hidden
from cpm.io.values import STATUSES, status_word

# An amount in the settings (a tier threshold, the minimum order) stays within what an order may
# hold, so every sum and comparison with it stays inside 64-bit integers.
MAX_SETTING_CENTS = 10**15
# A ratio (a share, a rate, a multiplier) is refused at once when its exponent is far out of range.
RATIO_DIGITS = 20

# A span of days (a window, a silence) is at most 100 years: every date computed from one stays a date.
MAX_DAYS = 36_600

DEFAULT_CONFIG_NAME = "cpm.toml"


@dataclass(frozen=True)
class RfmSegment:
    """A named segment: customers whose R and F scores fall in these inclusive ranges."""

    name: str
    r: tuple[int, int]
    f: tuple[int, int]

    def holds(self, r: int, f: int) -> bool:
        return self.r[0] <= r <= self.r[1] and self.f[0] <= f <= self.f[1]


# The usual R×F grid (first match wins); together the rules cover all 25 cells.
DEFAULT_SEGMENTS: tuple[RfmSegment, ...] = (
    RfmSegment("Champions", (5, 5), (4, 5)),
    RfmSegment("Loyal", (3, 4), (4, 5)),
    RfmSegment("Potential loyalists", (4, 5), (2, 3)),
    RfmSegment("New customers", (5, 5), (1, 1)),
    RfmSegment("Promising", (4, 4), (1, 1)),
    RfmSegment("Need attention", (3, 3), (3, 3)),
    RfmSegment("About to sleep", (3, 3), (1, 2)),
    RfmSegment("Can't lose them", (1, 2), (5, 5)),
    RfmSegment("At risk", (1, 2), (3, 4)),
    RfmSegment("Hibernating", (1, 2), (1, 2)),
)


@dataclass(frozen=True)
class Settings:
    """The effective settings of one run. Money thresholds are in minor units (cents)."""

    currency: str = "CNY"
    window_days: int = 365
    abc_a: Fraction = Fraction(80, 100)
    abc_b: Fraction = Fraction(95, 100)
    tier_vip: int = 500_000
    tier_diamond: int = 2_000_000
    at_risk_factor: Fraction = Fraction(2)
    at_risk_days: int = 90
    lapsed_days: int = 365
    rfm_segments: tuple[RfmSegment, ...] = DEFAULT_SEGMENTS
    points_rate: Fraction = Fraction(1)  # points per currency unit of net amount
    tier_multipliers: tuple[tuple[str, Fraction], ...] = (
        ("regular", Fraction(1)),
        ("vip", Fraction(6, 5)),
        ("diamond", Fraction(3, 2)),
    )
    first_order_bonus: int = 0
    birthday_multiplier: Fraction = Fraction(1)
    minimum_order: int = 0  # cents
    programme_start: date | None = None
    expiry_months: int = 12
    # The owner's order status words ([import.status_words]): (word as looked up, status).
    status_words: tuple[tuple[str, str], ...] = ()
    language: str | None = None  # en or zh; None: from CPM_LANG or the locale (cpm.i18n)
    source: str = field(default="built-in defaults", compare=False)

    def tier_multiplier(self, tier: str) -> Fraction:
        return dict(self.tier_multipliers)[tier]

    def as_dict(self) -> dict[str, Any]:
        """The settings in cpm.toml's own shape and units, for `cpm config show` and the hash."""
        return {
            "language": self.language or "",
            "currency": self.currency,
            "window_days": self.window_days,
            "abc": {"a": _ratio_text(self.abc_a), "b": _ratio_text(self.abc_b)},
            "tiers": {"vip": _money_text(self.tier_vip), "diamond": _money_text(self.tier_diamond)},
            "churn": {
                "at_risk_factor": _ratio_text(self.at_risk_factor),
                "at_risk_days": self.at_risk_days,
                "lapsed_days": self.lapsed_days,
            },
            "points": {
                "rate": _ratio_text(self.points_rate),
                **{f"multiplier_{tier}": _ratio_text(value) for tier, value in self.tier_multipliers},
                "first_order_bonus": self.first_order_bonus,
                "birthday_multiplier": _ratio_text(self.birthday_multiplier),
                "minimum_order": _money_text(self.minimum_order),
                "programme_start": self.programme_start.isoformat() if self.programme_start else "",
                "expiry_months": self.expiry_months,
            },
            "rfm_segments": [{"name": s.name, "r": list(s.r), "f": list(s.f)} for s in self.rfm_segments],
            "import": {"status_words": dict(self.status_words)},
        }

    def version(self) -> str:
        """A short hash of everything that changes results; recorded wherever results are stored.

        How files are read ([import]) is not part of it: an import records how it read its file;
        nor is the language of what people read."""
        rules = self.as_dict()
        del rules["import"], rules["language"]
        blob = json.dumps(rules, sort_keys=True, ensure_ascii=False).encode()
        return hashlib.sha256(blob).hexdigest()[:12]


def _ratio_text(value: Fraction) -> str:
    return format(Decimal(value.numerator) / Decimal(value.denominator), "f")


def _money_text(cents: int) -> str:
    sign = "-" if cents < 0 else ""
    return f"{sign}{abs(cents) // 100}.{abs(cents) % 100:02d}"


MAX_CONFIG_BYTES = 1_000_000  # the file `cpm config init` writes is about 3 kB


def load_settings(path: Path | None) -> Settings:
    """Read `path` (or ./cpm.toml when it exists) over the defaults."""
    explicit = path is not None
    chosen = path if path is not None else Path(DEFAULT_CONFIG_NAME)
    try:
        if chosen.exists() and not chosen.is_dir() and not chosen.is_file():
            raise ConfigError(  # a pipe or a device: reading could wait, or never end
                f"config file {chosen} is not a regular file",
                hint="Point --config at a cpm.toml file.",
            )
        with chosen.open("rb") as handle:
            raw = handle.read(MAX_CONFIG_BYTES + 1)
    except FileNotFoundError as exc:
        if explicit:
            raise ConfigError(
                f"config file {chosen} not found",
                hint="Create one with `cpm config init`, or leave out --config to use the defaults.",
            ) from exc
        return Settings()
    except IsADirectoryError as exc:
        raise ConfigError(
            f"config file {chosen} is a folder, not a file",
            hint="Point --config at the cpm.toml inside it, or create one with `cpm config init FILE`.",
        ) from exc
    except OSError as exc:
        raise ConfigError(
            f"cannot read config file {chosen}: {exc.strerror}",
            hint="Check the file's permissions, or leave out --config to use the defaults.",
        ) from exc
    if len(raw) > MAX_CONFIG_BYTES:
        raise ConfigError(
            f"config file {chosen} is larger than {MAX_CONFIG_BYTES:,} bytes; cpm.toml holds a few settings",
            hint="Point --config at the right file, or write a new one with `cpm config init --force`.",
        )
    try:
        text = raw.removeprefix(b"\xef\xbb\xbf").decode("utf-8")  # Notepad starts UTF-8 with a BOM
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise ConfigError(
            f"config file {chosen} is not UTF-8 text (byte 0x{raw[exc.start]:02x} on line {line})",
            hint="Save it as UTF-8 (TOML files are always UTF-8).",
        ) from exc
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(
            f"config file {chosen} is not valid TOML: {exc}",
            hint="Compare it with the file `cpm config init` writes.",
        ) from exc
    except (RecursionError, ValueError) as exc:  # nested thousands deep; a number of 5,000 digits
        raise ConfigError(
            f"config file {chosen} is not a cpm settings file: it holds values nested too deep "
            "or numbers too long to read",
            hint="Compare it with the file `cpm config init` writes.",
        ) from exc
    return settings_from(data, source=str(chosen))


# Values quoted in messages are cut short: a setting can hold a megabyte of text.
_shown = reprlib.Repr()
_shown.maxstring = _shown.maxother = 60
_shown.maxlong = 40
_shown.maxlevel = 3


class _Reader:
    """Takes keys out of one table of the file, so that what is left over can be reported."""

    def __init__(self, source: str, data: dict[str, Any], prefix: str = "") -> None:
        self.source = source
        self.data = dict(data)
        self.prefix = prefix

    def fail(self, key: str, message: str) -> ConfigError:
        name = f"{self.prefix}{key}"
        return ConfigError(
            f"{self.source}: key '{name if len(name) <= 60 else name[:59] + '…'}' {message}",
            hint="Fix that key, or delete it to use the default (`cpm config init` writes every default).",
        )

    def table(self, key: str) -> _Reader:
        value = self.data.pop(key, {})
        if not isinstance(value, dict):
            raise self.fail(key, "must be a table ([" + self.prefix + key + "])")
        return _Reader(self.source, value, f"{self.prefix}{key}.")

    def whole(self, key: str, default: int, *, low: int, high: int) -> int:
        value = self.data.pop(key, default)
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            raise self.fail(key, f"must be a whole number from {low} to {high}, got {_shown.repr(value)}")
        return value

    def ratio(
        self, key: str, default: Fraction, *, low: Fraction, high: Fraction, open_low: bool = False
    ) -> Fraction:
        value = self.data.pop(key, None)
        if value is None:
            return default
        if isinstance(value, bool) or not isinstance(value, int | float | str):
            raise self.fail(key, f"must be a number, got {_shown.repr(value)}")
        try:
            exact = Decimal(str(value))
        except InvalidOperation as exc:
            raise self.fail(key, f"must be a number, got {_shown.repr(value)}") from exc
        if not exact.is_finite():  # NaN, infinity
            raise self.fail(key, f"must be a number, got {_shown.repr(value)}")
        if exact and not -RATIO_DIGITS <= exact.adjusted() <= RATIO_DIGITS:  # 1e999999 before expanding it
            bound = "above" if open_low else "at least"
            raise self.fail(
                key, f"must be {bound} {float(low):g} and at most {float(high):g}, got {_shown.repr(value)}"
            )
        number = Fraction(exact)
        too_low = number <= low if open_low else number < low
        if too_low or number > high:
            bound = "above" if open_low else "at least"
            raise self.fail(
                key, f"must be {bound} {float(low):g} and at most {float(high):g}, got {_shown.repr(value)}"
            )
        return number

    def money(self, key: str, default: int) -> int:
        value = self.data.pop(key, None)
        if value is None:
            return default
        if isinstance(value, bool) or not isinstance(value, int | float | str):
            raise self.fail(key, f'must be an amount such as 5000 or "5000.00", got {_shown.repr(value)}')
        try:
            amount = Decimal(str(value).replace(",", ""))
        except InvalidOperation as exc:
            raise self.fail(
                key, f'must be an amount such as 5000 or "5000.00", got {_shown.repr(value)}'
            ) from exc
        if not amount.is_finite():
            raise self.fail(key, f'must be an amount such as 5000 or "5000.00", got {_shown.repr(value)}')
        # Sizes first, so no arithmetic overflows or rounds away a tiny value (1e-999999999).
        if amount and amount.adjusted() >= len(str(MAX_SETTING_CENTS // 100)):
            raise self.fail(key, f"must be at most {MAX_SETTING_CENTS // 100:,}, got {_shown.repr(value)}")
        if amount < 0 or (amount and amount.adjusted() < -2) or amount != amount.quantize(Decimal("0.01")):
            raise self.fail(
                key, f"must be a positive amount with at most two decimals, got {_shown.repr(value)}"
            )
        cents = int(amount * 100)
        if cents > MAX_SETTING_CENTS:
            raise self.fail(key, f"must be at most {MAX_SETTING_CENTS // 100:,}, got {_shown.repr(value)}")
        return cents

    def day(self, key: str) -> date | None:
        value = self.data.pop(key, None)
        if value is None or value == "":
            return None
        if isinstance(value, date) and not isinstance(value, datetime):
            return value
        if isinstance(value, str):
            try:
                return date.fromisoformat(value)
            except ValueError:
                pass
        raise self.fail(key, f'must be a date such as 2026-01-01 (or "" for none), got {_shown.repr(value)}')

    def text(self, key: str, default: str) -> str:
        value = self.data.pop(key, default)
        if not isinstance(value, str) or not value.strip():
            raise self.fail(key, f"must be text, got {_shown.repr(value)}")
        return value.strip()

    def language(self, key: str) -> str | None:
        value = self.data.pop(key, "")
        if value == "":
            return None
        chosen = parse_language(value) if isinstance(value, str) else None
        if chosen is None:
            raise self.fail(key, f'must be "zh", "en" or "" (from the locale), got {_shown.repr(value)}')
        return chosen

    def done(self) -> None:
        for key in self.data:
            raise self.fail(key, "is not a cpm setting (a typo?)")


def settings_from(data: dict[str, Any], *, source: str) -> Settings:
    top = _Reader(source, data)
    defaults = Settings()
    language = top.language("language")
    currency = top.text("currency", defaults.currency).upper()
    if len(currency) > 8:
        raise top.fail(
            "currency", f'must be a short currency code such as "CNY", got {_shown.repr(currency)}'
        )
    window_days = top.whole("window_days", defaults.window_days, low=1, high=MAX_DAYS)

    abc = top.table("abc")
    a = abc.ratio("a", defaults.abc_a, low=Fraction(0), high=Fraction(1), open_low=True)
    b = abc.ratio("b", defaults.abc_b, low=Fraction(0), high=Fraction(1), open_low=True)
    if b < a:
        raise abc.fail("b", "must not be below abc.a (B's cumulative share ends after A's)")
    abc.done()

    tiers = top.table("tiers")
    vip = tiers.money("vip", defaults.tier_vip)
    diamond = tiers.money("diamond", defaults.tier_diamond)
    if diamond < vip:
        raise tiers.fail("diamond", "must not be below tiers.vip")
    tiers.done()

    churn = top.table("churn")
    factor = churn.ratio(
        "at_risk_factor", defaults.at_risk_factor, low=Fraction(0), high=Fraction(100), open_low=True
    )
    at_risk_days = churn.whole("at_risk_days", defaults.at_risk_days, low=1, high=MAX_DAYS)
    lapsed_days = churn.whole("lapsed_days", defaults.lapsed_days, low=1, high=MAX_DAYS)
    if lapsed_days <= at_risk_days:
        raise churn.fail("lapsed_days", "must be more than churn.at_risk_days")
    churn.done()

    points = top.table("points")
    rate = points.ratio("rate", defaults.points_rate, low=Fraction(0), high=Fraction(10000))
    multipliers = tuple(
        (tier, points.ratio(f"multiplier_{tier}", value, low=Fraction(0), high=Fraction(100)))
        for tier, value in defaults.tier_multipliers
    )
    bonus = points.whole("first_order_bonus", defaults.first_order_bonus, low=0, high=10**9)
    birthday = points.ratio(
        "birthday_multiplier", defaults.birthday_multiplier, low=Fraction(0), high=Fraction(100)
    )
    minimum = points.money("minimum_order", defaults.minimum_order)
    start = points.day("programme_start")
    expiry_months = points.whole("expiry_months", defaults.expiry_months, low=1, high=1200)
    points.done()

    segments = defaults.rfm_segments
    if "rfm_segments" in top.data:
        segments = _segments(top, top.data.pop("rfm_segments"))
    reading = top.table("import")
    status_words = _status_words(reading.table("status_words"))
    reading.done()
    top.done()
    return Settings(
        currency=currency,
        window_days=window_days,
        abc_a=a,
        abc_b=b,
        tier_vip=vip,
        tier_diamond=diamond,
        at_risk_factor=factor,
        at_risk_days=at_risk_days,
        lapsed_days=lapsed_days,
        rfm_segments=segments,
        points_rate=rate,
        tier_multipliers=multipliers,
        first_order_bonus=bonus,
        birthday_multiplier=birthday,
        minimum_order=minimum,
        programme_start=start,
        expiry_months=expiry_months,
        status_words=status_words,
        language=language,
        source=source,
    )


MAX_STATUS_WORD = 100


def _status_words(table: _Reader) -> tuple[tuple[str, str], ...]:
    """[import.status_words]: "word" = "completed" | "refunded" | "cancelled" | "pending"."""
    words: dict[str, tuple[str, str]] = {}
    for key in list(table.data):
        value = table.data.pop(key)
        word = status_word(key)
        if not word or len(word) > MAX_STATUS_WORD or any(map(is_hidden, word)):
            raise table.fail(key, f"must be a status word of 1 to {MAX_STATUS_WORD} visible characters")
        if not isinstance(value, str) or value.strip().casefold() not in STATUSES:
            raise table.fail(key, f"must be one of {', '.join(STATUSES)}, got {_shown.repr(value)}")
        status = value.strip().casefold()
        earlier = words.get(word)
        if earlier is not None and earlier[1] != status:
            raise table.fail(key, f"is the same word as {earlier[0]!r}, which says {earlier[1]}")
        words[word] = (key, status)
    return tuple(sorted((word, status) for word, (_, status) in words.items()))


def _segments(top: _Reader, raw: Any) -> tuple[RfmSegment, ...]:
    if not isinstance(raw, list) or not raw:
        raise top.fail("rfm_segments", "must be a list of [[rfm_segments]] tables")
    result = []
    for index, item in enumerate(raw):
        if not isinstance(item, dict):
            raise top.fail(f"rfm_segments[{index}]", "must be a table with name, r and f")
        reader = _Reader(top.source, item, f"rfm_segments[{index}].")
        name = reader.text("name", "")
        bounds = []
        for axis in ("r", "f"):
            value = reader.data.pop(axis, None)
            if (
                not isinstance(value, list)
                or len(value) != 2
                or not all(isinstance(v, int) and not isinstance(v, bool) and 1 <= v <= 5 for v in value)
                or value[0] > value[1]
            ):
                raise reader.fail(axis, f"must be [low, high] scores from 1 to 5, got {_shown.repr(value)}")
            bounds.append((value[0], value[1]))
        reader.done()
        result.append(RfmSegment(name, bounds[0], bounds[1]))
    uncovered = [(r, f) for r in range(1, 6) for f in range(1, 6) if not any(s.holds(r, f) for s in result)]
    if uncovered:
        raise top.fail(
            "rfm_segments",
            "must give every R/F pair a segment; missing: "
            + ", ".join(f"R{r}F{f}" for r, f in uncovered[:6]),
        )
    return tuple(result)


def default_file_text() -> str:
    """The commented cpm.toml that `cpm config init` writes: every setting at its default."""
    d = Settings()
    lines = [
        "# cpm settings. Every key is optional; delete one to use its default.",
        "# `cpm config show` prints the effective settings and their version hash.",
        "",
        '# The language of reports, summaries and messages: "zh" (中文), "en", or "" to follow',
        "# CPM_LANG or the locale (zh_* is Chinese). --lang overrides it for one command.",
        'language = ""',
        "",
        "# Currency code, used for display only (money is stored in minor units).",
        f'currency = "{d.currency}"',
        "",
        "# ABC classes, RFM scores and tiers look at this many days before --as-of",
        "# (reports take --window-days N or --all-time instead).",
        f"window_days = {d.window_days}",
        "",
        "[abc]",
        "# Sorted by net revenue, a customer is A while the cumulative share of revenue *before* it",
        "# is below a, B while below b, else C. Zero or negative revenue is always C.",
        f"a = {_ratio_text(d.abc_a)}",
        f"b = {_ratio_text(d.abc_b)}",
        "",
        "[tiers]",
        "# Net spend over window_days that makes a customer VIP / Diamond (else Regular).",
        f'vip = "{_money_text(d.tier_vip)}"',
        f'diamond = "{_money_text(d.tier_diamond)}"',
        "",
        "[churn]",
        "# A customer with 2+ orders is at risk when the days since the last order exceed",
        "# at_risk_factor x their own median gap between orders; a one-order customer when",
        "# silent for more than at_risk_days. Anyone silent for more than lapsed_days is lapsed.",
        f"at_risk_factor = {_ratio_text(d.at_risk_factor)}",
        f"at_risk_days = {d.at_risk_days}",
        f"lapsed_days = {d.lapsed_days}",
        "",
        "[points]",
        "# Earning: floor(net amount x rate x the multiplier of the tier held on the order date",
        "# x the birthday-month multiplier when the order is in the customer's birthday month).",
        f"rate = {_ratio_text(d.points_rate)}",
        *(f"multiplier_{tier} = {_ratio_text(value)}" for tier, value in d.tier_multipliers),
        "# Extra points once per customer, with their first counted order (0 = none).",
        f"first_order_bonus = {d.first_order_bonus}",
        f"birthday_multiplier = {_ratio_text(d.birthday_multiplier)}",
        "# Orders with a smaller net amount earn nothing.",
        f'minimum_order = "{_money_text(d.minimum_order)}"',
        '# Orders dated before this day earn nothing ("" = every order earns).',
        'programme_start = ""',
        "# Each earned lot expires this many months after it was earned (the order date).",
        f"expiry_months = {d.expiry_months}",
        "",
        "[import.status_words]",
        "# What your order exports' status words mean, over cpm's own vocabulary (README, Orders):",
        '# "word" = "completed" | "refunded" | "cancelled" | "pending" (stored, counted nowhere).',
        '# "待审核" = "pending"',
        '# "已发货" = "completed"',
        "",
        "# RFM segments by R (recency) and F (frequency) score ranges, 1-5 inclusive.",
        "# The first rule that matches names the segment; together they must cover all 25 pairs.",
    ]
    for segment in d.rfm_segments:
        lines += [
            "[[rfm_segments]]",
            f'name = "{segment.name}"',
            f"r = [{segment.r[0]}, {segment.r[1]}]",
            f"f = [{segment.f[0]}, {segment.f[1]}]",
            "",
        ]
    return "\n".join(lines)
