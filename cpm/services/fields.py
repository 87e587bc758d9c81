"""What each kind of import file may hold: fields, whether required, and header aliases.

Aliases are matched case-, width- and space-insensitively (see cpm.io.headers). Where two
columns match one field, the alias listed first wins: `实付金额` (paid) beats `金额`.
"""

from __future__ import annotations

from dataclasses import dataclass

CODE, TEXT, DATE, MONEY, COUNT, STATUS, POINTS = "code", "text", "date", "money", "count", "status", "points"


@dataclass(frozen=True)
class FieldSpec:
    name: str
    kind: str
    required: bool
    aliases: tuple[str, ...]
    # A key says what a row is (customer_code, order_no): a row whose keys are all blank or a
    # totals label such as 合计 is a totals or subtotal row, not data (cpm.services.rows).
    key: bool = False


_CUSTOMER_CODE = (
    "customer code",
    "customer id",
    "customer no",
    "customer number",
    "client id",
    "client code",
    "member id",
    "member no",
    "member code",
    "客户编号",
    "客户ID",
    "客户代码",
    "客户编码",
    "客户号",
    "会员编号",
    "会员号",
    "会员ID",
    "会员卡号",
    "顾客编号",
)
_NAME = (
    "customer name",
    "name",
    "full name",
    "client name",
    "member name",
    "客户名称",
    "客户姓名",
    "姓名",
    "名称",
    "会员姓名",
    "会员名称",
    "顾客姓名",
    "客户",
)
_SALES_REP = (
    "sales rep",
    "salesperson",
    "sales person",
    "sales",
    "rep",
    "account manager",
    "销售代表",
    "业务员",
    "销售员",
    "销售",
    "客户经理",
    "导购",
)

CUSTOMER_FIELDS: tuple[FieldSpec, ...] = (
    FieldSpec("customer_code", CODE, True, _CUSTOMER_CODE, key=True),
    FieldSpec("name", TEXT, False, _NAME),
    FieldSpec(
        "phone",
        TEXT,
        False,
        (
            "phone",
            "mobile",
            "telephone",
            "tel",
            "phone number",
            "mobile phone",
            "cell",
            "手机号",
            "手机",
            "手机号码",
            "电话",
            "联系电话",
            "电话号码",
        ),
    ),
    FieldSpec("email", TEXT, False, ("email", "e-mail", "mail", "email address", "邮箱", "电子邮箱", "邮件")),
    FieldSpec("city", TEXT, False, ("city", "town", "城市", "所在城市", "城市名称")),
    FieldSpec(
        "joined_on",
        DATE,
        False,
        (
            "joined on",
            "join date",
            "joined",
            "joined at",
            "registered",
            "registration date",
            "signup date",
            "member since",
            "created",
            "注册日期",
            "入会日期",
            "加入日期",
            "开户日期",
            "注册时间",
            "入会时间",
        ),
    ),
    FieldSpec(
        "birthday", DATE, False, ("birthday", "birth date", "date of birth", "dob", "生日", "出生日期")
    ),
    FieldSpec("sales_rep", TEXT, False, _SALES_REP),
    FieldSpec("tags", TEXT, False, ("tags", "tag", "labels", "label", "标签", "客户标签")),
)

ORDER_FIELDS: tuple[FieldSpec, ...] = (
    FieldSpec(
        "order_no",
        CODE,
        True,
        (
            "order no",
            "order number",
            "order id",
            "order",
            "order #",
            "invoice",
            "invoice no",
            "receipt no",
            "订单号",
            "订单编号",
            "单号",
            "订单ID",
            "单据编号",
            "小票号",
            "流水号",
        ),
        key=True,
    ),
    FieldSpec("customer_code", CODE, True, _CUSTOMER_CODE, key=True),
    FieldSpec(
        "order_date",
        DATE,
        True,
        (
            "order date",
            "date",
            "purchase date",
            "ordered at",
            "created at",
            "下单日期",
            "订单日期",
            "下单时间",
            "购买日期",
            "交易日期",
            "成交日期",
            "日期",
        ),
    ),
    FieldSpec(
        "amount",
        MONEY,
        True,
        (
            "amount",
            "order amount",
            "total",
            "order total",
            "amount paid",
            "paid",
            "net sales",
            "sales amount",
            "实付金额",
            "实收金额",
            "付款金额",
            "成交金额",
            "订单金额",
            "总金额",
            "金额",
            "销售额",
        ),
    ),
    FieldSpec("quantity", COUNT, False, ("quantity", "qty", "items", "units", "数量", "件数", "购买数量")),
    FieldSpec(
        "channel", TEXT, False, ("channel", "source", "store", "shop", "渠道", "销售渠道", "来源", "门店")
    ),
    FieldSpec("sales_rep", TEXT, False, _SALES_REP),
    FieldSpec("status", STATUS, False, ("status", "order status", "state", "订单状态", "交易状态", "状态")),
    FieldSpec(
        "refunded_amount",
        MONEY,
        False,
        (
            "refunded amount",
            "refunded",
            "refund",
            "refund amount",
            "退款金额",
            "已退款金额",
            "退款",
        ),
    ),
    FieldSpec("customer_name", TEXT, False, _NAME),
)

POINTS_FIELDS: tuple[FieldSpec, ...] = (
    FieldSpec("customer_code", CODE, True, _CUSTOMER_CODE, key=True),
    FieldSpec(
        "points", POINTS, True, ("points", "balance", "points balance", "积分", "积分余额", "剩余积分")
    ),
    FieldSpec("earned_on", DATE, False, ("earned on", "earned", "date", "获得日期", "积分日期", "日期")),
    FieldSpec(
        "expires_on",
        DATE,
        False,
        ("expires on", "expiry", "expiry date", "expires", "到期日期", "过期日期", "有效期至"),
    ),
    FieldSpec("note", TEXT, False, ("note", "notes", "remark", "comment", "备注", "说明")),
)

FIELDS_BY_KIND: dict[str, tuple[FieldSpec, ...]] = {
    "customers": CUSTOMER_FIELDS,
    "orders": ORDER_FIELDS,
    "points": POINTS_FIELDS,
}


def aliases_of(fields: tuple[FieldSpec, ...]) -> dict[str, tuple[str, ...]]:
    return {spec.name: spec.aliases for spec in fields}
