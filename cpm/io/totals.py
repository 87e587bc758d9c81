"""Recognising the label of a totals or subtotal row: 合计, 总计, 小计, Total, Grand total, Sum …

Shop exports end a sheet with a totals row ("合计 300人", "Total: 12") and put a subtotal under
each store's block ("朝阳店 小计", "小计(朝阳店)"). Such a row is not a customer, an order or a
balance. The label is compared in one normal form (NFKC, case-folded), so `ＴＯＴＡＬ`, `total`
and `合　计` are alike, and may carry a count, an amount, a colon or a bracketed note after it.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence

# The totals words, with room for the spaces some exports put between Chinese characters.
_CHINESE = (
    "合计", "总计", "小计", "共计", "总额", "汇总", "总汇总",
    "合計", "總計", "小計", "共計", "總額", "匯總", "彙總", "總匯總",
)  # fmt: skip
_CHINESE_WORD = "|".join(r"\s*".join(word) for word in _CHINESE)
# What may follow a Chinese word directly: 合计金额, 合计行, 合计数.
_CHINESE_SUFFIX = "金额|金額|行|数量|數量|人数|人數|数|數"
_ENGLISH_WORD = r"grand[\s-]*totals?|sub[\s-]*totals?|totals?|sum"
# What may follow an English word after a space: Total amount, Grand total sales.
_ENGLISH_NOUN = "amounts?|count|qty|quantity|sales|value|due|paid|price|revenue"
_SEPARATORS = r"[\s:=\-–—/|,.;]"
_COUNT_UNITS = (
    "人|位|名|个|個|条|條|笔|筆|单|單|件|行|户|戶|元|家|项|項|次|"
    "rows?|customers?|members?|orders?|items?|lines?|records?|people|persons?|pcs"
)
# What a count may go on with: 300条记录, 300笔订单, 共2位会员.
_COUNT_NOUNS = "记录|記錄|订单|訂單|会员|會員|客户|客戶|顾客|顧客|商品|数据|數據"
_NUMBER = rf"(?:共\s*)?[-+]?[¥$€£]?\s*[0-9][0-9,.]*\s*(?:{_COUNT_UNITS})?(?:{_COUNT_NOUNS})?"
_BRACKET = r"[(\[【〔][^()\[\]【】〔〕]{0,40}[)\]】〕]"
_OPEN, _CLOSE = r"[(\[【〔]?\s*", r"\s*[)\]】〕]?"
# One word, perhaps in brackets (【合计】); a Chinese and an English one may go together (合计/Total).
_CHINESE_LABEL = rf"{_OPEN}(?:{_CHINESE_WORD})(?:{_CHINESE_SUFFIX})?{_CLOSE}"
_ENGLISH_LABEL = rf"{_OPEN}(?:{_ENGLISH_WORD})(?:\s+(?:{_ENGLISH_NOUN}))?{_CLOSE}"
_CHINESE_LAST = rf"(?:{_ENGLISH_LABEL}\s*/\s*)?{_CHINESE_LABEL}"
_ENGLISH_LAST = rf"(?:{_CHINESE_LABEL}\s*/\s*)?{_ENGLISH_LABEL}"
# After a Chinese word a count may follow directly (合计300人); after an English one it follows a
# space or colon (Total: 12), so that codes such as SUM01 are never read as a label.
_CHINESE_TAIL = rf"(?:{_SEPARATORS}*(?:{_NUMBER}|{_BRACKET}))*{_SEPARATORS}*"
_ENGLISH_TAIL = rf"(?:[\s:=]+{_NUMBER}|{_SEPARATORS}*{_BRACKET})*{_SEPARATORS}*"
_LABEL = re.compile(
    # A Chinese word may follow its store or page directly (朝阳店小计, 本页合计, C001 汇总); an
    # English one follows a space or a colon (Store A subtotal), so `Totally` or `Summer` is no label.
    rf".{{0,30}}?{_CHINESE_LAST}{_CHINESE_TAIL}|(?:.{{0,30}}?[\s:])?{_ENGLISH_LAST}{_ENGLISH_TAIL}",
    re.DOTALL,
)
# The word alone, with its count or note but nothing before it: 合计, 合计 3人, Total: 12.
_BARE_LABEL = re.compile(rf"{_CHINESE_LAST}{_CHINESE_TAIL}|{_ENGLISH_LAST}{_ENGLISH_TAIL}", re.DOTALL)
_LONGEST_LABEL = 80
# Every label holds one of these once normalised; a text without any cannot be one.
_MARKS = ("计", "計", "额", "額", "汇", "匯", "彙", "total", "sum")


def normal_form(text: str) -> str:
    return unicodedata.normalize("NFKC", text).casefold().strip()


def is_totals_label(value: object) -> bool:
    """Whether a cell reads as the label of a totals or subtotal row.

    `合计`, `合计 300人`, `合计：`, `Total: 12`, `Grand total`, `小计(朝阳店)`, `朝阳店 小计` are;
    `汇总`, `C001 汇总` (Excel's 分类汇总), `合计：共2人`, `合计金额`, `【合计】`, `合计/Total`,
    `Total amount` too; `合肥店`, `王合`, `Totally Fresh`, `Summer`, `SUM01` are not.
    """
    return _matches(_LABEL, value)


def is_bare_totals_label(value: object) -> bool:
    """Whether a cell is a totals word with nothing before it: `合计`, `合计 3人`, `Total: 12`,
    `【合计】`, but not `朝阳店 小计` (a store's subtotal) nor `王小计` (perhaps a name)."""
    return _matches(_BARE_LABEL, value)


def _matches(pattern: re.Pattern[str], value: object) -> bool:
    if value.__class__ is not str:
        return False
    text = normal_form(value)
    if not text or len(text) > _LONGEST_LABEL or not any(mark in text for mark in _MARKS):
        return False
    return pattern.fullmatch(text) is not None


def may_hold_totals_label(texts: Sequence[str]) -> bool:
    """False when none of `texts` can be a totals label: one look at them all, for a whole column.

    Raises TypeError when one of them is not a str."""
    joined = "\n".join(texts)
    if joined.isascii():
        lowered = joined.lower()
        return "total" in lowered or "sum" in lowered
    if unicodedata.is_normalized("NFKC", joined):  # most text: no full-width ＴＯＴＡＬ to fold
        lowered = joined.lower()
        return any(mark in lowered for mark in _MARKS)
    folded = unicodedata.normalize("NFKC", joined).casefold()
    return any(mark in folded for mark in _MARKS)
