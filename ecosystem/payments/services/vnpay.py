"""VNPay's protocol (payment URL v2.1, IPN, `querydr` and `refund`): signing and the calls.

No database here: checkout builds the payment URL with `payment_url`, webhooks check an IPN
with `verify`, the sweeper and refunds call `query` and `refund`.

Signing, as VNPay documents it for v2.1:
- the payment URL, its return and its IPN: the `vnp_*` parameters except `vnp_SecureHash`
  and `vnp_SecureHashType`, sorted by name, each `name=value` with the value URL-encoded like
  a form (`quote_plus`: a space is `+`), joined by `&`; `vnp_SecureHash` is the hex
  HMAC-SHA512 of that text with the merchant's hash secret;
- the JSON API (`querydr`, `refund`) and its answers: the values of a fixed list of fields
  joined by `|` (`QUERY_FIELDS`, `REFUND_FIELDS`, `*_ANSWER_FIELDS`), HMAC-SHA512 the same.

A payment attempt's `vnp_TxnRef` is `<payment id>-<vnp_CreateDate>`: unique per attempt, and
it carries the date `querydr` and `refund` must give back as `vnp_TransactionDate`.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Mapping
from datetime import datetime
from typing import Any
from urllib.parse import quote_plus
from zoneinfo import ZoneInfo

import httpx

from ecosystem.settings import get_settings

VERSION = "2.1.0"
PROVIDER = "vnpay"
VN_TZ = ZoneInfo("Asia/Ho_Chi_Minh")  # VNPay's dates are Vietnam's local time
DATE_FORMAT = "%Y%m%d%H%M%S"
HASH_FIELDS = ("vnp_SecureHash", "vnp_SecureHashType")

QUERY_FIELDS = (
    "vnp_RequestId",
    "vnp_Version",
    "vnp_Command",
    "vnp_TmnCode",
    "vnp_TxnRef",
    "vnp_TransactionDate",
    "vnp_CreateDate",
    "vnp_IpAddr",
    "vnp_OrderInfo",
)
QUERY_ANSWER_FIELDS = (
    "vnp_ResponseId",
    "vnp_Command",
    "vnp_ResponseCode",
    "vnp_Message",
    "vnp_TmnCode",
    "vnp_TxnRef",
    "vnp_Amount",
    "vnp_BankCode",
    "vnp_PayDate",
    "vnp_TransactionNo",
    "vnp_TransactionType",
    "vnp_TransactionStatus",
    "vnp_OrderInfo",
    "vnp_PromotionCode",
    "vnp_PromotionAmount",
)
REFUND_FIELDS = (
    "vnp_RequestId",
    "vnp_Version",
    "vnp_Command",
    "vnp_TmnCode",
    "vnp_TransactionType",
    "vnp_TxnRef",
    "vnp_Amount",
    "vnp_TransactionNo",
    "vnp_TransactionDate",
    "vnp_CreateBy",
    "vnp_CreateDate",
    "vnp_IpAddr",
    "vnp_OrderInfo",
)
REFUND_ANSWER_FIELDS = (
    "vnp_ResponseId",
    "vnp_Command",
    "vnp_ResponseCode",
    "vnp_Message",
    "vnp_TmnCode",
    "vnp_TxnRef",
    "vnp_Amount",
    "vnp_BankCode",
    "vnp_PayDate",
    "vnp_TransactionNo",
    "vnp_TransactionType",
    "vnp_TransactionStatus",
    "vnp_OrderInfo",
)
ANSWER_FIELDS = {"querydr": QUERY_ANSWER_FIELDS, "refund": REFUND_ANSWER_FIELDS}


class VnpayError(Exception):
    """VNPay could not be reached, or answered something unsigned or malformed."""


def configured() -> bool:
    return "vnpay" in get_settings().payment_providers


def _hmac(secret: str, text: str) -> str:
    return hmac.new(secret.encode(), text.encode("utf-8"), hashlib.sha512).hexdigest()


def hash_text(params: Mapping[str, Any]) -> str:
    """The text VNPay signs for a URL: sorted `vnp_*` parameters, form-encoded values."""
    items = sorted(
        (k, str(v))
        for k, v in params.items()
        if k.startswith("vnp_") and k not in HASH_FIELDS and v is not None and str(v) != ""
    )
    return "&".join(f"{k}={quote_plus(v)}" for k, v in items)


def sign_params(params: Mapping[str, Any], secret: str) -> str:
    return _hmac(secret, hash_text(params))


def sign_fields(data: Mapping[str, Any], names: tuple[str, ...], secret: str) -> str:
    """The checksum of a JSON API call or answer: its fields' values joined by `|`."""
    return _hmac(secret, "|".join(str(data.get(name, "") or "") for name in names))


def verify(params: Mapping[str, Any], secret: str | None = None) -> bool:
    """Is this IPN's or return's `vnp_SecureHash` right? (Compared in constant time.)"""
    secret = secret if secret is not None else get_settings().vnpay_hash_secret
    given = str(params.get("vnp_SecureHash") or "").lower()
    if not secret or not given:
        return False
    return hmac.compare_digest(given, sign_params(params, secret))


def local_time(moment: datetime) -> str:
    return moment.astimezone(VN_TZ).strftime(DATE_FORMAT)


def txn_ref(payment_id: int, created: datetime) -> str:
    return f"{payment_id}-{local_time(created)}"


def parse_txn_ref(ref: str) -> tuple[int, str] | None:
    """(payment id, vnp_CreateDate) of one of our references, None for anything else."""
    head, _sep, date = ref.partition("-")
    if not (head.isascii() and head.isdigit() and len(head) <= 10):
        return None
    if not (date.isascii() and date.isdigit() and len(date) == 14):
        return None
    return int(head), date


def payment_url(
    *,
    ref: str,
    amount: int,
    order_info: str,
    return_url: str,
    created: datetime,
    expires: datetime,
    locale: str,
    ip_address: str,
) -> str:
    """The signed redirect to VNPay's payment page (`amount` in VND; VNPay wants ×100)."""
    settings = get_settings()
    params = {
        "vnp_Version": VERSION,
        "vnp_Command": "pay",
        "vnp_TmnCode": settings.vnpay_tmn_code,
        "vnp_Amount": str(amount * 100),
        "vnp_CurrCode": "VND",
        "vnp_TxnRef": ref,
        "vnp_OrderInfo": order_info[:255],
        "vnp_OrderType": "other",
        "vnp_Locale": "vn" if locale.startswith("vi") else "en",
        "vnp_ReturnUrl": return_url,
        "vnp_IpAddr": ip_address,
        "vnp_CreateDate": local_time(created),
        "vnp_ExpireDate": local_time(expires),
    }
    text = hash_text(params)
    signature = _hmac(settings.vnpay_hash_secret, text)
    return f"{settings.vnpay_payment_url}?{text}&vnp_SecureHash={signature}"


async def _call(command: str, body: dict[str, Any], names: tuple[str, ...]) -> dict[str, Any]:
    settings = get_settings()
    body["vnp_SecureHash"] = sign_fields(body, names, settings.vnpay_hash_secret)
    try:
        async with httpx.AsyncClient(timeout=20) as client:
            response = await client.post(settings.vnpay_api_url, json=body)
        answer = response.json()
    except (httpx.HTTPError, ValueError) as exc:
        raise VnpayError(f"{command}: {exc!r}") from exc
    if not isinstance(answer, dict):
        raise VnpayError(f"{command}: not a JSON object")
    given = str(answer.get("vnp_SecureHash") or "").lower()
    expected = sign_fields(answer, ANSWER_FIELDS[command], settings.vnpay_hash_secret)
    if not given or not hmac.compare_digest(given, expected):
        raise VnpayError(f"{command}: the answer's checksum is wrong")
    return answer


def _request_base(command: str, now: datetime, ip_address: str) -> dict[str, Any]:
    return {
        "vnp_RequestId": secrets.token_hex(16),
        "vnp_Version": VERSION,
        "vnp_Command": command,
        "vnp_TmnCode": get_settings().vnpay_tmn_code,
        "vnp_CreateDate": local_time(now),
        "vnp_IpAddr": ip_address,
    }


async def query(ref: str, now: datetime, ip_address: str = "127.0.0.1") -> dict[str, Any]:
    """`querydr`: what VNPay knows of the attempt `ref` (its signed answer)."""
    parsed = parse_txn_ref(ref)
    body = _request_base("querydr", now, ip_address)
    body |= {
        "vnp_TxnRef": ref,
        "vnp_TransactionDate": parsed[1] if parsed else "",
        "vnp_OrderInfo": f"Query {ref}",
    }
    return await _call("querydr", body, QUERY_FIELDS)


async def refund(
    *,
    ref: str,
    amount: int,
    full: bool,
    transaction_no: str,
    created_by: str,
    now: datetime,
    ip_address: str = "127.0.0.1",
) -> dict[str, Any]:
    """`refund`: give back `amount` VND of the paid attempt `ref` (02 full, 03 partial)."""
    parsed = parse_txn_ref(ref)
    body = _request_base("refund", now, ip_address)
    body |= {
        "vnp_TransactionType": "02" if full else "03",
        "vnp_TxnRef": ref,
        "vnp_Amount": str(amount * 100),
        "vnp_TransactionNo": transaction_no,
        "vnp_TransactionDate": parsed[1] if parsed else "",
        "vnp_CreateBy": created_by[:250],
        "vnp_OrderInfo": f"Refund {ref}",
    }
    return await _call("refund", body, REFUND_FIELDS)
