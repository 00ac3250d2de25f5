#!/usr/bin/env python3
"""Local payment sandbox: imitates Stripe, PayPal, VNPay and MoMo, and the carrier GHTK, over HTTP on 127.0.0.1.

It serves the parts of the four payment providers' APIs that the adapters in `shared/payments` call
and the hosted pages where the provider would show one, and the parts of GHTK's shipment API
(fee, order, cancel, status) that the carrier adapter calls. It delivers webhooks / IPNs to the
backend signed with each provider's real scheme and the local secrets, and GHTK's status updates
the way GHTK sends them (no signature: a secret `hash` in the callback URL), so the adapter code
that runs in AWS is the code the local tests run. The wire protocol (paths, bodies, headers, control
API) is docs/payments-sandbox.md; the signature schemes and their test vectors are in
../shared/reference/payment-providers.md.

Run it with the project venv (standard library + `cryptography`):

    .venv/bin/python infra/local/payment_sandbox.py --port 4010 \
        --webhook-base http://127.0.0.1:3000 --secrets .local/payment-secrets.json
    .venv/bin/python infra/local/payment_sandbox.py --self-test     # reference test vectors

`--secrets` is re-read on every request (it may be written after start; 503 until it is). All
state is in memory behind one lock. One JSON line per request and per delivery goes to stderr;
secrets and signatures are never logged. Every body the sandbox sends is compact JSON
(`separators=(",", ":")`, `ensure_ascii=False`, key order kept).
"""
from __future__ import annotations

import argparse
import base64
import copy
import datetime as dt
import hashlib
import hmac
import html
import itertools
import json
import re
import secrets as rnd
import string
import sys
import threading
import time
import traceback
import unicodedata
import urllib.error
import urllib.parse
import urllib.request
import uuid
import zlib
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509.oid import NameOID

# ============================================================================ helpers

GMT7 = dt.timezone(dt.timedelta(hours=7))
STALE_SECONDS = 400
WEBHOOK_TIMEOUT = 15
AFTER_RESPONSE_MS = 50  # webhooks caused by an API call go out this long after its response
ALNUM, UPPER = string.ascii_letters + string.digits, string.ascii_uppercase + string.digits
OUTCOMES = ("succeed", "decline", "cancel")
ALL_MODES = {"duplicate", "replay", "bad_signature", "wrong_secret", "stale", "tamper_amount", "truncate",
             "resign_amount", "rotated"}
# Secrets the backend cannot know (modes wrong_secret / rotated).
WRONG = {"stripe": "whsec_sandbox_wrong_secret_000000000000", "stripe_old": "whsec_sandbox_unknown_old_secret_00000",
         "paypal": "WH-SANDBOX-OTHER-LISTENER", "vnpay": "SANDBOXWRONGSECRETSANDBOXWRONG00",
         "momo": "SANDBOXWRONGSECRETKEYSANDBOX0000", "ghtk": "SANDBOXWRONGGHTKHASHSANDBOX00000"}
SECRET_KEYS = {"stripe": ("api_key", "webhook_secret"), "paypal": ("client_id", "client_secret", "webhook_id"),
               "vnpay": ("tmn_code", "hash_secret"), "momo": ("partner_code", "access_key", "secret_key"),
               "ghtk": ("token", "partner_code", "webhook_hash")}
_LOG_LOCK = threading.Lock()


def cjson(obj) -> str:
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False)


def now() -> int:
    return int(time.time())


def now_ms() -> int:
    return int(time.time() * 1000)


def vn_time(ts: float | None = None) -> str:
    return dt.datetime.fromtimestamp(time.time() if ts is None else ts, GMT7).strftime("%Y%m%d%H%M%S")


def vn_clock(ts: float | None = None) -> str:
    return dt.datetime.fromtimestamp(time.time() if ts is None else ts, GMT7).strftime("%Y-%m-%d %H:%M:%S")


def rfc3339(ts: float | None = None, ms: bool = False) -> str:
    d = dt.datetime.fromtimestamp(time.time() if ts is None else ts, dt.timezone.utc)
    return d.strftime("%Y-%m-%dT%H:%M:%S") + (f".{d.microsecond // 1000:03d}" if ms else "") + "Z"


def rid(prefix: str = "", n: int = 24, alphabet: str = ALNUM) -> str:
    return prefix + "".join(rnd.choice(alphabet) for _ in range(n))


def hmac_hex(key: str, msg: str, algo) -> str:
    return hmac.new(key.encode(), msg.encode(), algo).hexdigest()


def same(a, b) -> bool:
    """Constant-time, case-insensitive comparison (hex signatures, keys)."""
    return hmac.compare_digest(str(a or "").lower().encode(), str(b or "").lower().encode())


def public(d: dict) -> dict:
    """A state record without its sandbox-internal `_` keys."""
    return {k: v for k, v in d.items() if not k.startswith("_")}


def clean(d: dict) -> dict:
    return {k: v for k, v in d.items() if v is not None}


def as_int(v):
    if isinstance(v, int) and not isinstance(v, bool):
        return v
    return int(v) if isinstance(v, str) and v.isdigit() else None


def parse_body(raw: bytes):
    text = raw.decode("utf-8", "replace")
    try:
        return json.loads(text)
    except ValueError:
        return text


def add_query(url: str | None, params: dict | str) -> str | None:
    if not url:
        return None
    q = params if isinstance(params, str) else urllib.parse.urlencode({k: str(v) for k, v in params.items()})
    return url + ("&" if "?" in url else "?") + q


def log(kind: str, **kv) -> None:
    with _LOG_LOCK:
        sys.stderr.write(cjson({"ts": rfc3339(ms=True), "kind": kind, **kv}) + "\n")
        sys.stderr.flush()


def job(ref, event_type, payload, event_id=None, url=None) -> dict:
    """Something to deliver: the unsigned payload plus what the deliveries list shows about it."""
    return {"ref": ref, "event_type": event_type, "event_id": event_id, "payload": payload, "url": url}


class Resp:
    def __init__(self, status=200, body: bytes = b"", ctype="application/json", headers=None):
        self.status, self.body, self.ctype, self.headers = status, body, ctype, dict(headers or {})

    @classmethod
    def json(cls, status, obj, headers=None):
        return cls(status, cjson(obj).encode(), "application/json", headers)


class Fail(Exception):
    """Raised anywhere to answer with `resp`; `save` says whether an idempotency cache may keep it."""

    def __init__(self, resp: Resp, save: bool = True):
        super().__init__(resp.status)
        self.resp, self.save = resp, save


def fail(status, obj, save=True):
    raise Fail(Resp.json(status, obj), save)


class Req:
    def __init__(self, method, path, query, headers, body: bytes):
        self.method, self.path, self.query, self.headers, self.body = method, path, query, headers, body
        self.after: list = []  # callables run once the response has been written

    def q(self, name, default=""):
        return urllib.parse.parse_qs(self.query).get(name, [default])[0]

    def form(self) -> dict:
        return dict(urllib.parse.parse_qsl(self.body.decode("utf-8", "replace"), keep_blank_values=True))

    def json(self, error_body=None, allow_empty=False) -> dict:
        if allow_empty and not self.body.strip():
            return {}
        try:
            obj = json.loads(self.body.decode("utf-8"))
        except ValueError:
            obj = None
        if not isinstance(obj, dict):
            fail(400, error_body or {"error": "the body must be a JSON object"}, save=False)
        return obj


def page(title: str, body: str, status: int = 200) -> Resp:
    text = (f'<!doctype html><html><head><meta charset="utf-8"><title>{html.escape(title)}</title><style>'
            "body{font-family:system-ui,sans-serif;max-width:34em;margin:3em auto;line-height:1.5}"
            ".amount{font-size:2em;font-weight:bold} form{display:inline} .note{color:#666;font-size:.9em}"
            f"button{{font-size:1.1em;margin:.3em;padding:.4em 1.4em}}</style></head><body>{body}</body></html>")
    return Resp(status, text.encode(), "text/html; charset=utf-8")


# ============================================================================ signature schemes

def stripe_sign(secret: str, t: int, body: str) -> str:
    return hmac_hex(secret, f"{t}.{body}", hashlib.sha256)


def vnp_sign_data(params: dict) -> str:
    """VNPay sign data (= the query string): sorted non-empty vnp_* params minus the hash ones, form-encoded."""
    q = urllib.parse.quote_plus
    return "&".join(f"{q(k, safe='')}={q(str(v), safe='')}" for k, v in sorted(params.items())
                    if k.startswith("vnp_") and k not in ("vnp_SecureHash", "vnp_SecureHashType") and str(v) != "")


def vnp_hash(secret: str, params: dict) -> str:
    return hmac_hex(secret, vnp_sign_data(params), hashlib.sha512)


def vnp_ipn_query(secret: str, params: dict, sent: dict | None = None, sig: str | None = None) -> str:
    """The IPN query string: hash-covered params, then vnp_SecureHashType, then vnp_SecureHash (always last)."""
    return (f"{vnp_sign_data(sent or params)}&vnp_SecureHashType=HmacSHA512&vnp_SecureHash="
            f"{sig or vnp_hash(secret, params)}")


VNP_REFUND_REQ = ("vnp_RequestId", "vnp_Version", "vnp_Command", "vnp_TmnCode", "vnp_TransactionType", "vnp_TxnRef",
                  "vnp_Amount", "vnp_TransactionNo", "vnp_TransactionDate", "vnp_CreateBy", "vnp_CreateDate",
                  "vnp_IpAddr", "vnp_OrderInfo")
VNP_REFUND_RESP = ("vnp_ResponseId", "vnp_Command", "vnp_ResponseCode", "vnp_Message", "vnp_TmnCode", "vnp_TxnRef",
                   "vnp_Amount", "vnp_BankCode", "vnp_PayDate", "vnp_TransactionNo", "vnp_TransactionType",
                   "vnp_TransactionStatus", "vnp_OrderInfo")


def pipe_hash(secret: str, obj: dict, fields) -> str:
    return hmac_hex(secret, "|".join(str(obj.get(f, "")) for f in fields), hashlib.sha512)


MOMO_CREATE = ("accessKey", "amount", "extraData", "ipnUrl", "orderId", "orderInfo", "partnerCode", "redirectUrl",
               "requestId", "requestType")
MOMO_IPN = ("accessKey", "amount", "extraData", "message", "orderId", "orderInfo", "orderType", "partnerCode",
            "payType", "requestId", "responseTime", "resultCode", "transId")
MOMO_REFUND = ("accessKey", "amount", "description", "orderId", "partnerCode", "requestId", "transId")


def momo_sign(secret: str, fields, values: dict) -> str:
    """HMAC-SHA256 over `k=v&…` in the given (alphabetical) order, raw values."""
    raw = "&".join(f"{k}={'' if values.get(k) is None else values.get(k)}" for k in fields)
    return hmac_hex(secret, raw, hashlib.sha256)


def paypal_message(transmission_id: str, transmission_time: str, webhook_id: str, body: bytes) -> str:
    return f"{transmission_id}|{transmission_time}|{webhook_id}|{zlib.crc32(body) & 0xFFFFFFFF}"


class PayPalKeys:
    """The sandbox's RSA-2048 key and self-signed certificate, made at start-up, in memory only."""

    def __init__(self):
        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "payment-sandbox.localhost")])
        start = dt.datetime.now(dt.timezone.utc) - dt.timedelta(days=1)
        self.cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
                     .public_key(self.key.public_key()).serial_number(x509.random_serial_number())
                     .not_valid_before(start).not_valid_after(start + dt.timedelta(days=366))
                     .sign(self.key, hashes.SHA256()))
        self.pem = self.cert.public_bytes(serialization.Encoding.PEM)

    def sign(self, message: str) -> str:
        return base64.b64encode(self.key.sign(message.encode(), padding.PKCS1v15(), hashes.SHA256())).decode()

    def verify(self, message: str, sig_b64: str, cert=None) -> bool:
        try:
            (cert or self.cert).public_key().verify(base64.b64decode(sig_b64, validate=True), message.encode(),
                                                    padding.PKCS1v15(), hashes.SHA256())
            return True
        except (InvalidSignature, ValueError, TypeError):
            return False


# ============================================================================ self-test (reference vectors)

ST_STRIPE = ('{"id":"evt_1TestVector","object":"event","api_version":"2024-06-20","created":1700000000,"data":'
             '{"object":{"id":"pi_1TestVector","object":"payment_intent","amount":2000,"currency":"usd","status":'
             '"succeeded"}},"livemode":false,"pending_webhooks":1,"request":{"id":null,"idempotency_key":null},'
             '"type":"payment_intent.succeeded"}')
ST_VNP_PAY = ("vnp_Amount=10000000&vnp_Command=pay&vnp_CreateDate=20250101120000&vnp_CurrCode=VND&vnp_ExpireDate="
              "20250101121500&vnp_IpAddr=127.0.0.1&vnp_Locale=vn&vnp_OrderInfo=Thanh+toan+don+hang+ORDER123&"
              "vnp_OrderType=other&vnp_ReturnUrl=https%3A%2F%2Fexample.com%2Fvnpay%2Freturn&vnp_TmnCode=TESTCODE&"
              "vnp_TxnRef=ORDER123&vnp_Version=2.1.0")
ST_VNP_IPN = ("vnp_Amount=10000000&vnp_BankCode=NCB&vnp_BankTranNo=VNP14000000&vnp_CardType=ATM&vnp_OrderInfo="
              "Thanh+toan+don+hang+ORDER123&vnp_PayDate=20250101120500&vnp_ResponseCode=00&vnp_TmnCode=TESTCODE&"
              "vnp_TransactionNo=14000000&vnp_TransactionStatus=00&vnp_TxnRef=ORDER123&vnp_SecureHashType=HmacSHA512&"
              "vnp_SecureHash=b1e72bbac0d0b7905855248c27e943c69f04f5aa917a7b6ff64ae3375432c83aaa64c506ff7fa987302f4"
              "aafca5b076ef12de50e035690c69e42cee956474aa2")
ST_VNP_REFUND = ("REFUND0001|2.1.0|refund|TESTCODE|02|ORDER123|10000000|14000000|20250101120000|admin|"
                 "20250102090000|127.0.0.1|Hoan tien don hang ORDER123")
ST_MOMO_IPN = ('{"partnerCode":"MOMOTEST0000","orderId":"ORD1700000000000","requestId":"REQ1700000000000","amount":'
               '50000,"orderInfo":"Thanh toan don hang ORD1700000000000","orderType":"momo_wallet","transId":'
               '4000000001,"resultCode":0,"message":"Successful.","payType":"qr","responseTime":1700000030000,'
               '"extraData":"","signature":"ff0d7c3f3d85c98df08f2dbe1f5fa19582cc2f3b062728cd3790322c23a9ff70"}')
ST_PAYPAL = ('{"id":"WH-TESTVECTOR-0001","event_version":"1.0","create_time":"2025-01-01T12:00:00.000Z",'
             '"resource_type":"capture","event_type":"PAYMENT.CAPTURE.COMPLETED","summary":"Payment completed for $ '
             '10.0 USD","resource":{"id":"CAPTURE123","status":"COMPLETED","amount":{"currency_code":"USD","value":'
             '"10.00"}}}')
ST_PAYPAL_SIG = ("FNmK6bnFpQ3WGemZi1BGsvzcfKMuAe04+JeN0Jq7/8qfXrBDy0kHJl+xJEONLpQ+KEK+EwYb6lGT3UfRkRsrVDBPn76FmUKrGo"
                 "nOTeFccNSZidWEgQyfr8vnwdnjWaa0Hsf2lWKCN3h2AikXxPjf28ymWvvpuZsRbyy8Oi0TA9ybI301NgvQ9TtHIufwecUmOeKDq/"
                 "Xf7vYN3VkLBPYxZQ1i3KQ3M7Djz99eOpRfbUCBfmVXIoyaGpZanQcG6Vw/wmNlArQfke5yviFvhvskR/mI7xSlUOef7jMdyKpSaRC"
                 "fTRmGlbdM+Gx7G8MOhZ+LsbjJ14QEqLTkuG0GflxURg==")
ST_PAYPAL_CERT = (  # the handbook's test-only self-signed cert (§4.6)
    "MIIC6TCCAdGgAwIBAgIBATANBgkqhkiG9w0BAQsFADA4MTYwNAYDVQQDDC10ZXN0LW1lc3NhZ2V2ZXJpZmljYXRpb25jZXJ0cy5leGFtcGxlLmlu"
    "dmFsaWQwHhcNMjUwMTAxMDAwMDAwWhcNMzQxMjMwMDAwMDAwWjA4MTYwNAYDVQQDDC10ZXN0LW1lc3NhZ2V2ZXJpZmljYXRpb25jZXJ0cy5leGFt"
    "cGxlLmludmFsaWQwggEiMA0GCSqGSIb3DQEBAQUAA4IBDwAwggEKAoIBAQC12jKTpNKUWK+CiA0eXCwLROekXdiBjKhePlaCvmGQa15e5FZFLAs8"
    "GB1JTyD6VJ9Y665ZTpWzY8wEzZ01c75JpE7bUJvNr6S7kn/VA7RcVmWHs/r83FrXrfQev3ftJrMMNA5LOwT32LMqNLLH+5ytpN532Rb0ZrZBLE6G"
    "jz6zRadLnnlYuX+h4ModlE/qCyiLdKDr3plnH1Mw5ipvzIPYFPkIBjllPfJESt1dDU7+QBEsx8/iBXNoMnkLXUTf0TQnAO9YkgDAAmOv+VsJW3mA"
    "A4g9dhS5/7W6Zq5UkSvW1ef+I+VOr4zjtamEy+s7AgOcqZzR3/oPKux0h8/J26gLAgMBAAEwDQYJKoZIhvcNAQELBQADggEBAERek53Vo/XpoZ73"
    "lIgdbXNy4ZRUCovY+CwNSm6OWqEMttTQXVk/XNQWQvMQIoqlNI3XdOemv7Vzn2FZg0Yre+/Y5UdefHrCYTZp0ah5WTBEhLOHqgb2xm3u8ELMzbul"
    "NGIGW/dhpX+UBv6ke+mtaCKgCDUCFZiRbF6Ec4eUT7XICuuV7RjOVYm4OdhDm9d/DSTdRKKfuj/XGKGF6tQAYTW49JxdUvt4rl6/1TwfTzPYZnGH"
    "X93JbmL3+MSvxVVgHN3M568DJjDNZB9yG/q1j6IHXFggjx+EwFHnMZwEuY4ruI9Ib08ysBWfavYoT6R5F2Nbj/FaxqhFCO5m8YtWZKk=")


def self_test() -> int:
    failures = 0

    def check(name, got, want):
        nonlocal failures
        failures += got != want
        print(f"{'PASS' if got == want else 'FAIL'}  {name}"
              + ("" if got == want else f"\n  got  {got!r}\n  want {want!r}"))

    check("stripe payload: 326 bytes, compact re-serialisation identical",
          (len(ST_STRIPE), cjson(json.loads(ST_STRIPE))), (326, ST_STRIPE))
    header = "t=1700000000,v1=" + stripe_sign("whsec_testvector_not_a_real_secret", 1700000000, ST_STRIPE)
    check("stripe header", header, "t=1700000000,v1=4aa76af14cd6a54df5a442a10596d3e89eb1619056341326e240688b0924f394")
    check("stripe v1 with the rotated old secret", stripe_sign("whsec_old_rotated_secret_0000000000", 1700000000,
          ST_STRIPE), "998748eb969054587acbae984b28cc1eafa1b82e7967cc154afe9ca1255a9631")
    vs = "TESTSECRETTESTSECRETTESTSECRET12"
    pay = dict(urllib.parse.parse_qsl(ST_VNP_PAY))
    check("vnpay pay sign data", vnp_sign_data(pay), ST_VNP_PAY)
    check("vnpay pay hash", vnp_hash(vs, pay), "cca2d968adb88b3e30233ba39340a0d34299fa7e34faaba0f07a80b6153ee9707d3642"
          "19cb701203ba6771eeaf09100fb5c8fe3db6015d3be0661c8e167c8841")
    ipn = {k: v for k, v in urllib.parse.parse_qsl(ST_VNP_IPN) if k not in ("vnp_SecureHash", "vnp_SecureHashType")}
    check("vnpay IPN query string", vnp_ipn_query(vs, ipn), ST_VNP_IPN)
    check("vnpay refund pipe hash", pipe_hash(vs, dict(zip(VNP_REFUND_REQ, ST_VNP_REFUND.split("|"))), VNP_REFUND_REQ),
          "65cd036ee0811759396ef9f8927e0fdaa5870d9ab8ef674705eb38218498d07a0e6ea6a105859641206334c0dae01dab972d92aeb3b"
          "89b0dd1330bfc6a9906f9")
    ak, ms = "TESTACCESSKEY01", "TESTSECRETKEYTESTSECRETKEY00001"
    check("momo create signature", momo_sign(ms, MOMO_CREATE, {
        "accessKey": ak, "amount": 50000, "extraData": "", "ipnUrl": "https://example.com/momo/ipn", "orderId":
        "ORD1700000000000", "orderInfo": "Thanh toan don hang ORD1700000000000", "partnerCode": "MOMOTEST0000",
        "redirectUrl": "https://example.com/momo/return", "requestId": "REQ1700000000000",
        "requestType": "captureWallet"}), "b600633e38bb74770c21f65f579cf0c403d7d44f6941a289b7a433bde4b0eeb6")
    body = json.loads(ST_MOMO_IPN)
    sig = body.pop("signature")
    check("momo IPN signature", momo_sign(ms, MOMO_IPN, {**body, "accessKey": ak}), sig)
    check("momo IPN body serialisation", cjson({**body, "signature": sig}), ST_MOMO_IPN)
    check("momo refund signature", momo_sign(ms, MOMO_REFUND, {
        "accessKey": ak, "amount": 50000, "description": "", "orderId": "RFD1700000100000", "partnerCode":
        "MOMOTEST0000", "requestId": "RFDREQ1700000100000", "transId": 4000000001}),
        "4be8828a7308f72da15d12321ec44797f405aa9a168e060508d1db3cb4a36309")
    check("crc32('123456789')", zlib.crc32(b"123456789") & 0xFFFFFFFF, 3421780262)
    check("paypal crc32(body)", zlib.crc32(ST_PAYPAL.encode()) & 0xFFFFFFFF, 2495127144)
    ids = ("b2384410-f8d2-11ef-a5c5-1b6b4ef4b7a7", "2025-01-01T12:00:01Z", "1JE4291016473214C")
    msg = paypal_message(*ids, ST_PAYPAL.encode())
    check("paypal signed string", msg, "|".join(ids) + "|2495127144")
    keys = PayPalKeys()
    cert = x509.load_der_x509_certificate(base64.b64decode(ST_PAYPAL_CERT))
    check("paypal reference signature verifies", keys.verify(msg, ST_PAYPAL_SIG, cert), True)
    check("paypal reference signature fails on another body", keys.verify(paypal_message(
        *ids, ST_PAYPAL.replace("10.00", "10.01").encode()), ST_PAYPAL_SIG, cert), False)
    check("paypal sandbox key sign/verify round trip", keys.verify(msg, keys.sign(msg)), True)
    check("ghtk province names compared without diacritics and Thành phố/Tỉnh/TP.",
          [province_key(n) for n in ("Thành phố Hồ Chí Minh", "TP. Hồ Chí Minh", "Tp.HCM", "Tỉnh Đắk Lắk", "ha noi")],
          ["ho chi minh", "ho chi minh", "hcm", "dak lak", "ha noi"])
    check("ghtk tariff same province: 3,000 g / 3,001 g / 3,500 g / 3,501 g",
          [ghtk_tariff("Hà Nội", "TP. Hà Nội", g)["fee"] for g in (3000, 3001, 3500, 3501)],
          [22000, 24500, 24500, 27000])
    check("ghtk tariff other province: 500 g / 501 g / 1,000 g / 1,001 g",
          [ghtk_tariff("Hà Nội", "Hồ Chí Minh", g)["fee"] for g in (500, 501, 1000, 1001)], [30000, 35000, 35000, 40000])
    check("ghtk tariff by air: x 1.3 to the nearest 100, half up (30,000 → 39,000; 24,500 → 31,850 → 31,900)",
          [ghtk_tariff("Hà Nội", p, g, 0, "fly")["fee"] for p, g in (("Huế", 500), ("Hà Nội", 3001))], [39000, 31900])
    check("ghtk insurance: 0 up to 1,000,000 VND, then 0.5 % of the value",
          [ghtk_tariff("A", "A", 100, v)["insurance_fee"] for v in (0, 1_000_000, 1_000_001, 3_000_000)],
          [0, 0, 5000, 15000])
    print("self-test:", f"{failures} FAILED" if failures else "OK")
    return 1 if failures else 0


# ============================================================================ outgoing HTTP

class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):  # a 3xx answer is a failed delivery (as at Stripe)
        return None


_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}), _NoRedirect)


def http_call(method, url, headers, body):
    try:
        with _OPENER.open(urllib.request.Request(url, data=body, method=method, headers=headers),
                          timeout=WEBHOOK_TIMEOUT) as r:
            return r.status, r.read(), None
    except urllib.error.HTTPError as e:
        return e.code, e.read(), None
    except Exception as e:  # connection refused, timeout, ...
        return None, b"", f"{type(e).__name__}: {e}"


# ============================================================================ provider base

class Provider:
    name = title = ""
    MODES = ALL_MODES - {"stale", "rotated"}

    def __init__(self, sb: "Sandbox"):
        self.sb = sb

    def get(self, store: dict, ref, what: str) -> dict:
        if ref not in store:
            fail(404, {"error": f"unknown {self.name} {what} {ref!r}"})
        return store[ref]

    def build(self, payload, mode, url, opts):
        """Signs `payload` for sending; `sent` is what goes on the wire (differs for tamper_amount)."""
        if mode == "resign_amount":
            payload = self.bump(payload, opts.get("amount"))
        sent = self.bump(payload, opts.get("amount")) if mode == "tamper_amount" else payload
        method, url, headers, body = self.sign(payload, sent, mode, url, opts)
        if mode == "truncate" and body is None:
            base, _, q = url.partition("?")
            url = f"{base}?{q[: len(q) // 2]}"
        elif mode == "truncate":
            body = body[: len(body) // 2]
        return method, url, headers, body, payload

    def hosted_post(self, req: Req, ref: str) -> Resp:
        """A button on a hosted page: same as POST /_control/pay, then redirect (or a 'done' page)."""
        f = req.form()
        ref, outcome = ref or f.get("ref", ""), f.get("outcome", "")
        try:
            res = self.sb.pay(self.name, ref, outcome, {})
        except Fail as e:
            err = parse_body(e.resp.body)
            return page(f"{self.title} — error", f"<h1>{self.title}</h1><p>{html.escape(str(err.get('error', err)))}"
                        "</p>", e.resp.status)
        if res["redirect"]:
            return Resp(303, b"", "text/plain", {"Location": res["redirect"]})
        return page(f"{self.title} — done", f"<h1>{self.title}: done</h1><p>Outcome: <b>{outcome}</b>.</p><p class="
                    f"note>Webhook {res['delivery_id']} answered {res['status']}.</p>")

    def checkout(self, money, detail, ref, status, action, hidden, choices) -> Resp:
        if status:
            return page(f"{self.title} — {money}", f"<h1>{self.title}</h1><p>This payment is <b>{status}</b>.</p>")
        forms = "".join(f'<form method="post" action="{html.escape(action)}">' + "".join(
            f'<input type="hidden" name="{k}" value="{html.escape(str(v))}">' for k, v in hidden.items())
            + f'<button type="submit" name="outcome" value="{v}">{label}</button></form>' for v, label in choices)
        return page(f"{self.title} — pay {money}", f"<h1>{self.title}</h1><p class=amount>{html.escape(money)}</p>"
                    f"<p>{html.escape(detail or '')}</p><p class=note>{html.escape(ref)}</p>{forms}")


# ============================================================================ Stripe

class Stripe(Provider):
    name, title, MODES = "stripe", "Stripe", ALL_MODES
    ZERO_DECIMAL = {"bif", "clp", "djf", "gnf", "jpy", "kmf", "krw", "mga", "pyg", "rwf", "ugx", "vnd", "vuv",
                    "xaf", "xof", "xpf"}
    DECLINE = {"code": "card_declined", "decline_code": "generic_decline", "message": "Your card was declined.",
               "type": "card_error"}

    def __init__(self, sb):
        super().__init__(sb)
        self.intents, self.charges, self.refunds, self.disputes, self.idem = {}, {}, {}, {}, {}

    def state(self):
        return {"intents": self.intents, "charges": self.charges, "refunds": self.refunds, "disputes": self.disputes}

    @staticmethod
    def err(code, message, status=400, save=True, param=None, type_="invalid_request_error"):
        fail(status, {"error": clean({"type": type_, "code": code, "message": message, "param": param})}, save)

    def money(self, amount, currency):
        if currency in self.ZERO_DECIMAL:
            return f"{amount:,} {currency.upper()}"
        return f"{Decimal(amount) / 100:,.2f} {currency.upper()}"

    @staticmethod
    def parse_form(body: str) -> dict:
        """`a[b][c]=v` → {"a": {"b": {"c": "v"}}}; `a[]=v` appends to a list."""
        out: dict = {}
        for key, value in urllib.parse.parse_qsl(body, keep_blank_values=True):
            m = re.fullmatch(r"([^\[\]]+)((?:\[[^\[\]]*\])*)", key)
            parts = [m.group(1)] + re.findall(r"\[([^\[\]]*)\]", m.group(2)) if m else [key]
            cur = out
            for i, part in enumerate(parts):
                if i == len(parts) - 1:
                    cur.append(value) if isinstance(cur, list) else cur.__setitem__(part, value)
                elif isinstance(cur, dict):
                    cur = cur.setdefault(part, [] if parts[i + 1] == "" else {})
        return out

    # --- HTTP
    def handle(self, req: Req, sub: str) -> Resp:
        m = re.fullmatch(r"pay/(\w+)", sub)
        if m:
            return self.page(req, m.group(1))
        with self.sb.lock:
            self.auth(req)
            key = req.headers.get("Idempotency-Key")
            if not key:
                return self.api(req, sub, None)
            fp = (req.method, sub, sorted(urllib.parse.parse_qsl(req.body.decode("utf-8", "replace"), True)))
            if key in self.idem:
                if self.idem[key][0] != fp:
                    self.err(None, "Keys for idempotent requests can only be used with the same parameters they were "
                             f"first used with. Try using a key other than '{key}' if you meant to execute a different "
                             "request.", save=False, type_="idempotency_error")
                saved = self.idem[key][1]
                return Resp(saved.status, saved.body, saved.ctype, {**saved.headers, "Idempotent-Replayed": "true"})
            try:
                resp = self.api(req, sub, key)
            except Fail as e:
                if e.save:  # like Stripe: errors of the executed endpoint are saved, validation errors are not
                    self.idem[key] = (fp, e.resp)
                raise
            self.idem[key] = (fp, resp)
            return resp

    def auth(self, req: Req):
        h = req.headers.get("Authorization", "")
        given = h[7:].strip() if h.startswith("Bearer ") else ""
        if h.startswith("Basic "):  # Stripe also takes the key as the Basic user name (curl -u sk_…:)
            given = base64.b64decode(h[6:]).decode("utf-8", "replace").split(":")[0]
        if not given or not same(given, self.sb.secrets("stripe")["api_key"]):
            self.err(None, f"Invalid API Key provided: {given[:8]}****" if given else
                     "You did not provide an API key.", 401, False)

    def api(self, req: Req, sub: str, idem_key) -> Resp:
        p = self.parse_form(req.body.decode("utf-8", "replace"))
        if req.method == "POST" and sub == "v1/payment_intents":
            return self.create_intent(p)
        if req.method == "POST" and sub == "v1/refunds":
            return self.create_refund(req, p, idem_key)
        self.err(None, f"Unrecognized request URL ({req.method}: /{sub}).", 404, False)

    def int_param(self, p, name, required=True):
        v = p.get(name)
        if v is None and required:
            self.err("parameter_missing", f"Missing required param: {name}.", save=False, param=name)
        if v is not None and (not isinstance(v, str) or not v.isdigit() or int(v) < 1):
            self.err("parameter_invalid_integer", f"Invalid integer: {v}", save=False, param=name)
        return None if v is None else int(v)

    def create_intent(self, p) -> Resp:
        amount, currency = self.int_param(p, "amount"), str(p.get("currency", "")).lower()
        if not re.fullmatch(r"[a-z]{3}", currency):
            self.err("parameter_missing", "Missing required param: currency.", save=False, param="currency")
        pid, apm = rid("pi_3"), p.get("automatic_payment_methods")
        self.intents[pid] = {
            "id": pid, "object": "payment_intent", "amount": amount, "currency": currency,
            "status": "requires_payment_method", "client_secret": f"{pid}_secret_{rid(n=25)}",
            "metadata": p.get("metadata") or {}, "latest_charge": None, "amount_received": 0,
            "automatic_payment_methods": {"enabled": apm.get("enabled") == "true"} if isinstance(apm, dict) else None,
            "canceled_at": None, "cancellation_reason": None, "created": now(), "description": p.get("description"),
            "last_payment_error": None, "livemode": False}
        return Resp.json(200, self.intents[pid])

    def create_refund(self, req: Req, p, idem_key) -> Resp:
        pi = p.get("payment_intent")
        if not pi:
            self.err("parameter_missing", "Missing required param: payment_intent.", save=False, param="payment_intent")
        amount = self.int_param(p, "amount", required=False)
        if pi not in self.intents:
            self.err("resource_missing", f"No such payment_intent: '{pi}'", 404, False, "payment_intent")
        if self.intents[pi]["status"] != "succeeded":
            self.err("payment_intent_unexpected_state", f"This PaymentIntent ({pi}) does not have a successful "
                     "charge to refund.")
        ch = self.charges[self.intents[pi]["latest_charge"]]
        if any(d["charge"] == ch["id"] and d["status"] != "won" for d in self.disputes.values()):
            self.err("charge_disputed", f"Charge {ch['id']} has been charged back; cannot issue a refund.")
        remaining = ch["amount"] - ch["amount_refunded"]
        if remaining <= 0:
            self.err("charge_already_refunded", f"Charge {ch['id']} has already been refunded.")
        amount = remaining if amount is None else amount
        if amount > remaining:
            self.err("amount_too_large", f"Refund amount ({self.money(amount, ch['currency'])}) is greater than "
                     f"unrefunded amount on charge ({self.money(remaining, ch['currency'])})", param="amount")
        ref = self.new_refund(ch, amount, p.get("metadata") or {}, p.get("reason"))
        ev = self.job("charge.refunded", pi, copy.deepcopy(ch), {"id": rid("req_", 14), "idempotency_key": idem_key})
        req.after.append(lambda: self.sb.deliver("stripe", ev, delay_ms=AFTER_RESPONSE_MS))
        return Resp.json(200, ref)

    # --- objects and events
    def charge_obj(self, it, cid=None):
        cid = cid or rid("ch_3")
        return {"id": cid, "object": "charge", "payment_intent": it["id"], "amount": it["amount"],
                "amount_captured": it["amount"], "amount_refunded": 0, "currency": it["currency"], "captured": True,
                "paid": True, "refunded": False, "disputed": False, "status": "succeeded", "created": now(),
                "metadata": it["metadata"], "refunds": {"object": "list", "data": [], "has_more": False,
                                                        "total_count": 0, "url": f"/v1/charges/{cid}/refunds"}}

    def new_refund(self, ch, amount, metadata=None, reason=None):
        ref = {"id": rid("re_3"), "object": "refund", "amount": amount, "payment_intent": ch["payment_intent"],
               "charge": ch["id"], "status": "succeeded", "metadata": metadata or {}, "currency": ch["currency"],
               "created": now(), "reason": reason}
        self.refunds[ref["id"]] = ref
        self.add_refund(ch, ref)
        return ref

    @staticmethod
    def add_refund(ch, refund):
        ch["amount_refunded"] += refund["amount"]
        ch["refunded"] = ch["amount_refunded"] >= ch["amount"]
        ch["refunds"]["data"].insert(0, refund)
        ch["refunds"]["total_count"] += 1

    @staticmethod
    def job(typ, ref, obj, request=None):
        ev = {"id": rid("evt_3"), "object": "event", "api_version": "2024-06-20", "created": now(), "type": typ,
              "data": {"object": obj}, "livemode": False, "pending_webhooks": 1,
              "request": request or {"id": None, "idempotency_key": None}}
        return job(ref, typ, ev, ev["id"])

    def pay(self, ref, outcome, body):
        it = self.get(self.intents, ref, "payment intent")
        if it["status"] in ("succeeded", "canceled"):
            fail(409, {"error": f"payment intent {ref} is already {it['status']}"})
        if outcome == "succeed":
            ch = self.charge_obj(it)
            self.charges[ch["id"]] = ch
            it.update(status="succeeded", amount_received=it["amount"], latest_charge=ch["id"], last_payment_error=None)
            return [self.job("payment_intent.succeeded", ref, copy.deepcopy(it))], None
        it["last_payment_error"] = dict(self.DECLINE)
        it["status"] = "requires_payment_method"
        if outcome == "cancel":  # the protocol says payment_failed on Cancel too; the intent is then canceled
            it["last_payment_error"]["message"] = "The customer cancelled the payment."
            it.update(status="canceled", canceled_at=now(), cancellation_reason="abandoned")
        return [self.job("payment_intent.payment_failed", ref, copy.deepcopy(it))], None

    def craft(self, typ, ref, body):
        it = self.get(self.intents, ref, "payment intent")
        amount = as_int(body.get("amount"))
        if (typ in ("payment_intent.succeeded", "payment_intent.payment_failed") and amount is None
                and it["status"] == "requires_payment_method"):  # a real (late) result: it happens
            return self.pay(ref, "succeed" if typ.endswith("succeeded") else "decline", body)[0][0], True
        if typ == "charge.refunded" and it["status"] == "succeeded":  # e.g. a refund made in the Dashboard
            ch = self.charges[it["latest_charge"]]
            left = ch["amount"] - ch["amount_refunded"]
            if 0 < (amount or left) <= left:
                self.new_refund(ch, amount or left)
                return self.job(typ, ref, copy.deepcopy(ch)), True
        it = copy.deepcopy(it)
        if typ == "payment_intent.succeeded":
            it.update(status="succeeded", last_payment_error=None, latest_charge=it["latest_charge"] or rid("ch_3"))
            it["amount"] = it["amount_received"] = amount or it["amount"]
            return self.job(typ, ref, it), False
        if typ == "payment_intent.payment_failed":
            it.update(status="requires_payment_method", last_payment_error=dict(self.DECLINE))
            return self.job(typ, ref, it), False
        if typ == "charge.refunded":
            ch = copy.deepcopy(self.charges.get(it["latest_charge"]) or self.charge_obj(it, it["latest_charge"]))
            amount = amount or (ch["amount"] - ch["amount_refunded"]) or ch["amount"]
            self.add_refund(ch, {"id": rid("re_3"), "object": "refund", "amount": amount, "payment_intent": ref,
                                 "charge": ch["id"], "status": "succeeded", "currency": ch["currency"],
                                 "created": now()})
            return self.job(typ, ref, ch), False
        fail(400, {"error": f"unsupported stripe event type {typ!r}", "supported": [
            "payment_intent.succeeded", "payment_intent.payment_failed", "charge.refunded"]})

    def open_dispute(self, ref, amount):
        it = self.get(self.intents, ref, "payment intent")
        if it["status"] != "succeeded":
            fail(409, {"error": f"payment intent {ref} has no successful charge to dispute"})
        ch = self.charges[it["latest_charge"]]
        d = {"id": rid("dp_1"), "object": "dispute", "amount": as_int(amount) or ch["amount"],
             "currency": ch["currency"], "charge": ch["id"], "payment_intent": ref, "status": "needs_response",
             "reason": "fraudulent", "created": now(), "is_charge_refundable": False, "livemode": False}
        self.disputes[d["id"]] = d
        ch["disputed"] = True
        return d["id"], d, self.job("charge.dispute.created", ref, copy.deepcopy(d))

    def close_dispute(self, d, outcome):
        d.update(status=outcome, is_charge_refundable=outcome == "won")
        return d, self.job("charge.dispute.closed", d["payment_intent"], copy.deepcopy(d))

    # --- signing
    def bump(self, ev, amount=None):
        ev = copy.deepcopy(ev)
        obj = ev["data"]["object"]
        keys = {"payment_intent": ("amount", "amount_received"), "charge": ("amount_refunded",)}.get(
            obj.get("object"), ("amount",))
        for k in keys:
            if isinstance(obj.get(k), int) and (obj[k] or k == keys[0]):
                obj[k] = as_int(amount) or (obj[k] * 2 or 100)
        return ev

    def sign(self, ev, sent, mode, url, opts):
        secret = WRONG["stripe"] if mode == "wrong_secret" else self.sb.secrets("stripe")["webhook_secret"]
        t = now() - (STALE_SECONDS if mode == "stale" else 0)
        prev = re.match(r"t=(\d+)", (opts.get("previous") or {}).get("Stripe-Signature", ""))
        if mode == "duplicate" and prev:  # a retry always carries a newer timestamp (and so a new signature)
            t = max(t, int(prev.group(1)) + 1)
        sig = rnd.token_hex(32) if mode == "bad_signature" else stripe_sign(secret, t, cjson(ev))
        old = f"v1={stripe_sign(WRONG['stripe_old'], t, cjson(ev))}," if mode == "rotated" else ""
        return "POST", url or self.sb.hook_url("stripe"), {
            "Content-Type": "application/json", "Stripe-Signature": f"t={t},{old}v1={sig}",
            "User-Agent": "Stripe/1.0 (+https://stripe.com/docs/webhooks)"}, cjson(sent).encode()

    def page(self, req: Req, pid: str) -> Resp:
        if req.method == "POST":
            return self.hosted_post(req, pid)
        with self.sb.lock:
            it = copy.deepcopy(self.intents.get(pid))
        if it is None:
            return page("Stripe — not found", "<h1>Stripe</h1><p>No such payment.</p>", 404)
        return self.checkout(self.money(it["amount"], it["currency"]), it.get("description"), pid,
                             None if it["status"] == "requires_payment_method" else it["status"], f"/stripe/pay/{pid}",
                             {}, [("succeed", "Pay"), ("decline", "Decline"), ("cancel", "Cancel")])


# ============================================================================ PayPal

class PayPal(Provider):
    name, title = "paypal", "PayPal"
    MODES = ALL_MODES - {"rotated"}
    CURRENCIES = {"AUD", "BRL", "CAD", "CNY", "CZK", "DKK", "EUR", "HKD", "HUF", "ILS", "JPY", "MYR", "MXN", "TWD",
                  "NZD", "NOK", "PHP", "PLN", "GBP", "SGD", "SEK", "CHF", "THB", "USD"}
    ZERO = {"HUF", "JPY", "TWD"}
    ERRORS = {400: ("INVALID_REQUEST", "Request is not well-formed, syntactically incorrect, or violates schema."),
              401: ("AUTHENTICATION_FAILURE", "Authentication failed due to invalid authentication credentials or a "
                                              "missing Authorization header."),
              404: ("RESOURCE_NOT_FOUND", "The specified resource does not exist."),
              422: ("UNPROCESSABLE_ENTITY", "The requested action could not be performed, semantically incorrect, "
                                            "or failed business validation.")}

    def __init__(self, sb):
        super().__init__(sb)
        self.orders, self.captures, self.refunds, self.disputes, self.tokens, self.request_ids = {}, {}, {}, {}, {}, {}
        self.fail_next = False
        self.keys = PayPalKeys()

    def state(self):
        return {"orders": {k: self.order_view(o) for k, o in self.orders.items()},
                **{n: {k: public(v) for k, v in getattr(self, n).items()} for n in ("captures", "refunds", "disputes")},
                "fail_next_capture": self.fail_next}

    def err(self, status, issue, description, save=True):
        name, message = self.ERRORS[status]
        fail(status, {"name": name, "message": message, "debug_id": rid(n=13, alphabet="0123456789abcdef"),
                      "details": [{"issue": issue, "description": description}]}, save)

    def url(self, path):
        return f"{self.sb.base_url}/paypal/{path}"

    def fmt(self, d: Decimal, cur: str) -> str:
        return f"{d:.0f}" if cur in self.ZERO else f"{d:.2f}"

    def amount(self, value, cur) -> Decimal:
        if not re.fullmatch(r"\d{1,10}(\.\d+)?", str(value)):
            self.err(400, "INVALID_PARAMETER_SYNTAX", "The value of a field does not conform to the expected format.")
        d = Decimal(str(value))
        if -d.as_tuple().exponent > (0 if cur in self.ZERO else 2):
            self.err(422, "DECIMAL_PRECISION", "If the currency supports decimals, only two decimal place precision "
                     "is supported.")
        if d <= 0:
            self.err(422, "CANNOT_BE_ZERO_OR_NEGATIVE", "Must be greater than zero.")
        return d

    # --- HTTP
    def handle(self, req: Req, sub: str) -> Resp:
        if sub == "checkoutnow":
            return self.page(req)
        if sub == "v1/notifications/certs/CERT-local" and req.method == "GET":
            return Resp(200, self.keys.pem, "application/x-pem-file")
        with self.sb.lock:
            if sub == "v1/oauth2/token" and req.method == "POST":
                return self.token(req)
            self.auth(req)
            key = (sub, req.headers.get("PayPal-Request-Id"))
            if req.method == "POST" and key[1] and key in self.request_ids:
                return self.request_ids[key]
            resp = self.api(req, sub)
            if req.method == "POST" and key[1]:  # only successes are kept: a failed call may be retried
                self.request_ids[key] = resp
            return resp

    def token(self, req: Req) -> Resp:
        sec, h = self.sb.secrets("paypal"), req.headers.get("Authorization", "")
        try:
            cid, _, csec = base64.b64decode(h[6:]).decode().partition(":") if h.startswith("Basic ") else ("", "", "")
        except ValueError:
            cid = csec = ""
        if not (cid and same(cid, sec["client_id"]) and same(csec, sec["client_secret"])):
            fail(401, {"error": "invalid_client", "error_description": "Client Authentication failed"}, False)
        if req.form().get("grant_type") != "client_credentials":
            fail(400, {"error": "unsupported_grant_type", "error_description": "Grant Type is NULL"}, False)
        tok = rid("A21AA", 92, ALNUM + "-_")
        self.tokens[tok] = (cid, time.time() + 32400)
        return Resp.json(200, {"scope": "https://uri.paypal.com/services/payments/payment https://uri.paypal.com/"
                               "services/applications/verify-webhook-signature", "access_token": tok,
                               "token_type": "Bearer", "app_id": "APP-SANDBOXLOCAL", "expires_in": 32400,
                               "nonce": f"{rfc3339()}{rid(n=20)}"})

    def auth(self, req: Req):
        h = req.headers.get("Authorization", "")
        cid, exp = self.tokens.get(h[7:].strip(), ("", 0)) if h.startswith("Bearer ") else ("", 0)
        if not cid or exp < time.time() or cid != self.sb.secrets("paypal")["client_id"]:
            self.err(401, "INVALID_TOKEN", "The access token is missing, invalid or expired.", save=False)

    def api(self, req: Req, sub: str) -> Resp:
        if req.method != "POST":
            self.err(404, "INVALID_RESOURCE_ID", f"No route {req.method} /{sub}.", save=False)
        if sub == "v2/checkout/orders":
            return self.create_order(req)
        if sub == "v1/notifications/verify-webhook-signature":
            return self.verify(req)
        m = re.fullmatch(r"v2/checkout/orders/(\w+)/capture|v2/payments/captures/(\w+)/refund", sub)
        target = m and (self.orders.get(m.group(1)) if m.group(1) else self.captures.get(m.group(2)))
        if not target:
            self.err(404, "INVALID_RESOURCE_ID", "Specified resource ID does not exist. Please check the resource ID "
                     "and try again.", save=False)
        return self.capture(req, target) if m.group(1) else self.refund(req, target)

    def body(self, req: Req, allow_empty=False) -> dict:
        return req.json({"name": "INVALID_REQUEST", "message": self.ERRORS[400][1], "details": [
            {"issue": "MALFORMED_REQUEST_JSON", "description": "The request JSON is not well formed."}]}, allow_empty)

    def create_order(self, req: Req) -> Resp:
        b = self.body(req)
        if b.get("intent") != "CAPTURE":
            self.err(400, "INVALID_PARAMETER_VALUE", "The sandbox supports intent CAPTURE only.")
        pus = b.get("purchase_units")
        pu = pus[0] if isinstance(pus, list) and pus and isinstance(pus[0], dict) else {}
        amt = pu.get("amount") if isinstance(pu.get("amount"), dict) else {}
        cur, value = amt.get("currency_code"), amt.get("value")
        if not cur or value is None:
            self.err(400, "MISSING_REQUIRED_PARAMETER", "purchase_units[0].amount currency_code and value are "
                     "required.")
        if cur not in self.CURRENCIES:
            self.err(422, "CURRENCY_NOT_SUPPORTED", "Currency code is not currently supported.")
        d = self.amount(value, cur)
        ctx = b.get("application_context") or {}
        exp = ((b.get("payment_source") or {}).get("paypal") or {}).get("experience_context") or {}
        oid = rid(n=17, alphabet=UPPER)
        self.orders[oid] = {
            "id": oid, "intent": "CAPTURE", "status": "CREATED", "purchase_units": [clean({
                "reference_id": pu.get("reference_id", "default"), "custom_id": pu.get("custom_id"),
                "description": pu.get("description"), "amount": {"currency_code": cur, "value": self.fmt(d, cur)}})],
            "create_time": rfc3339(), "links": [
                {"href": self.url(f"v2/checkout/orders/{oid}"), "rel": "self", "method": "GET"},
                {"href": self.url(f"checkoutnow?token={oid}"), "rel": "approve", "method": "GET"},
                {"href": self.url(f"v2/checkout/orders/{oid}/capture"), "rel": "capture", "method": "POST"}],
            "_return_url": exp.get("return_url") or ctx.get("return_url"), "_capture": None, "_capture_resp": None,
            "_cancel_url": exp.get("cancel_url") or ctx.get("cancel_url"), "_decline": False}
        return Resp.json(201, {"id": oid, "status": "CREATED", "links": self.orders[oid]["links"]})

    def order_view(self, o):
        v = copy.deepcopy(public(o))
        if o["_capture"]:
            v["purchase_units"][0]["payments"] = {"captures": [public(self.captures[o["_capture"]])]}
        return v

    def capture_obj(self, o, status):
        pu, cid = o["purchase_units"][0], rid(n=17, alphabet=UPPER)
        return clean({"id": cid, "status": status, "amount": dict(pu["amount"]), "final_capture": True,
                      "custom_id": pu.get("custom_id"), "seller_protection": {"status": "ELIGIBLE"},
                      "supplementary_data": {"related_ids": {"order_id": o["id"]}}, "create_time": rfc3339(),
                      "update_time": rfc3339(), "links": [
                          {"href": self.url(f"v2/payments/captures/{cid}"), "rel": "self", "method": "GET"},
                          {"href": self.url(f"v2/payments/captures/{cid}/refund"), "rel": "refund", "method": "POST"},
                          {"href": self.url(f"v2/checkout/orders/{o['id']}"), "rel": "up", "method": "GET"}]})

    def capture(self, req: Req, o) -> Resp:
        if o["_capture_resp"]:  # a second capture answers the first result (and sends no webhook)
            return Resp.json(201, o["_capture_resp"])
        if o["status"] != "APPROVED":
            self.err(422, "ORDER_NOT_APPROVED", "Payer has not yet approved the Order for payment. Please redirect the "
                     "payer to the 'rel':'approve' url returned as part of the HATEOAS links within the Create Order "
                     "call or provide a valid payment_source in the request.")
        declined, self.fail_next = self.fail_next or o["_decline"], False
        ev = self.do_capture(o, declined)
        req.after.append(lambda: self.sb.deliver("paypal", ev, delay_ms=AFTER_RESPONSE_MS))
        return Resp.json(201, o["_capture_resp"])

    def do_capture(self, o, declined):
        """Captures order `o` (its answer is kept for repeated captures); returns the capture webhook."""
        cap = {**self.capture_obj(o, "DECLINED" if declined else "COMPLETED"), "_order": o["id"], "_refunded": "0"}
        self.captures[cap["id"]] = cap
        o.update(status="COMPLETED", _capture=cap["id"], update_time=rfc3339())
        o["_capture_resp"] = {
            "id": o["id"], "status": "COMPLETED", "payment_source": o.get("payment_source"), "purchase_units": [
                {"reference_id": o["purchase_units"][0]["reference_id"], "payments": {"captures": [public(cap)]}}],
            "payer": o.get("payer"), "links": [o["links"][0]]}
        amt = f"{cap['amount']['value']} {cap['amount']['currency_code']}"
        return self.job("PAYMENT.CAPTURE.DENIED" if declined else "PAYMENT.CAPTURE.COMPLETED", o["id"], "capture",
                        f"Payment {'denied' if declined else 'completed'} for {amt}", public(cap))

    def refund_obj(self, cap, d, custom_id=None):
        cur, fid = cap["amount"]["currency_code"], rid(n=17, alphabet=UPPER)
        return clean({"id": fid, "status": "COMPLETED", "amount": {"currency_code": cur, "value": self.fmt(d, cur)},
                      "custom_id": custom_id or cap.get("custom_id"), "create_time": rfc3339(),
                      "update_time": rfc3339(), "links": [
                          {"href": self.url(f"v2/payments/refunds/{fid}"), "rel": "self", "method": "GET"},
                          {"href": self.url(f"v2/payments/captures/{cap['id']}"), "rel": "up", "method": "GET"}]})

    def refund(self, req: Req, cap) -> Resp:
        b = self.body(req, allow_empty=True)
        cur, paid, done = cap["amount"]["currency_code"], Decimal(cap["amount"]["value"]), Decimal(cap["_refunded"])
        if cap["status"] == "DECLINED":
            self.err(422, "REFUND_NOT_ALLOWED", "The capture was declined; there is nothing to refund.")
        amt = b.get("amount") if isinstance(b.get("amount"), dict) else None
        if amt and amt.get("currency_code") != cur:
            self.err(422, "REFUND_CAPTURE_CURRENCY_MISMATCH", "Refund must be in the same currency as the capture.")
        d = self.amount(amt.get("value"), cur) if amt else paid - done
        if done >= paid:
            self.err(422, "CAPTURE_FULLY_REFUNDED", "The capture has already been fully refunded.")
        if d > paid - done:
            self.err(422, "REFUND_AMOUNT_EXCEEDED", "The refund amount must be less than or equal to the capture "
                     "amount that has not yet been refunded.")
        ev = self.do_refund(cap, d, b.get("custom_id"))
        req.after.append(lambda: self.sb.deliver("paypal", ev, delay_ms=AFTER_RESPONSE_MS))
        return Resp.json(201, ev["payload"]["resource"])

    def do_refund(self, cap, d: Decimal, custom_id=None):
        """Refunds `d` of capture `cap` (checked by the caller); returns the PAYMENT.CAPTURE.REFUNDED webhook."""
        done = Decimal(cap["_refunded"]) + d
        cap.update(_refunded=str(done), status="REFUNDED" if done == Decimal(cap["amount"]["value"])
                   else "PARTIALLY_REFUNDED")
        rf = self.refund_obj(cap, d, custom_id)
        self.refunds[rf["id"]] = {**rf, "_capture": cap["id"]}
        return self.job("PAYMENT.CAPTURE.REFUNDED", cap["_order"], "refund", f"A {rf['amount']['value']} "
                        f"{rf['amount']['currency_code']} capture payment was refunded", rf)

    def verify(self, req: Req) -> Resp:
        b = self.body(req)
        missing = [k for k in ("auth_algo", "cert_url", "transmission_id", "transmission_sig", "transmission_time",
                               "webhook_id", "webhook_event") if not b.get(k)]
        if missing:
            fail(400, {"name": "VALIDATION_ERROR", "message": "Invalid request - see details", "details": [
                {"field": k, "location": "body", "issue": "Required field cannot be blank"} for k in missing]}, False)
        ev, ids = b["webhook_event"], [str(b[k]) for k in ("transmission_id", "transmission_time", "webhook_id")]
        # The CRC is over the compact re-serialisation; like PayPal, key order does not matter: an event equal to
        # what this transmission carried is also checked against the bytes that were sent.
        sent = [d["_raw"][3] for d in self.sb.deliveries if d["provider"] == "paypal" and d["_raw"][3]
                and d["headers"].get("PAYPAL-TRANSMISSION-ID") == ids[0] and parse_body(d["_raw"][3]) == ev]
        ok = (b["auth_algo"] == "SHA256withRSA" and isinstance(ev, dict)
              and str(b["cert_url"]).endswith("/v1/notifications/certs/CERT-local")
              and b["webhook_id"] == self.sb.secrets("paypal")["webhook_id"]
              and any(self.keys.verify(paypal_message(*ids, body), str(b["transmission_sig"]))
                      for body in [cjson(ev).encode(), *sent]))
        return Resp.json(200, {"verification_status": "SUCCESS" if ok else "FAILURE"})

    # --- events
    @staticmethod
    def job(typ, ref, rtype, summary, resource):
        ev = {"id": f"WH-{rid(n=17, alphabet=UPPER)}-{rid(n=17, alphabet=UPPER)}", "event_version": "1.0",
              "create_time": rfc3339(ms=True), "resource_type": rtype, "event_type": typ, "summary": summary,
              "resource": resource}
        return job(ref, typ, ev, ev["id"])

    def pay(self, ref, outcome, body):
        o = self.get(self.orders, ref, "order")
        if o["status"] != "CREATED":
            fail(409, {"error": f"order {ref} is already {o['status']}"})
        if outcome == "cancel":  # PayPal sends no webhook when the buyer cancels
            return [], add_query(o["_cancel_url"], {"token": ref})
        payer = rid(n=13, alphabet=UPPER)
        o.update(status="APPROVED", _decline=outcome == "decline", payer={
            "name": {"given_name": "Sandbox", "surname": "Buyer"}, "email_address": "buyer@sandbox.localhost",
            "payer_id": payer, "address": {"country_code": "US"}}, payment_source={"paypal": {
                "email_address": "buyer@sandbox.localhost", "account_id": payer, "account_status": "VERIFIED"}})
        return ([self.job("CHECKOUT.ORDER.APPROVED", ref, "checkout-order", "An order has been approved by buyer",
                          self.order_view(o))], add_query(o["_return_url"], {"token": ref, "PayerID": payer}))

    def craft(self, typ, ref, body):
        o = self.get(self.orders, ref, "order")
        amount, real = body.get("amount"), self.captures.get(o["_capture"] or "")
        # A real transition happens in the sandbox's state too (applied); a contradicting one is only sent.
        if typ == "CHECKOUT.ORDER.APPROVED" and o["status"] == "CREATED":
            return self.pay(ref, "succeed", body)[0][0], True
        if typ in ("PAYMENT.CAPTURE.COMPLETED", "PAYMENT.CAPTURE.DENIED") and not real and amount is None:
            return self.do_capture(o, typ.endswith("DENIED")), True
        if typ == "PAYMENT.CAPTURE.REFUNDED" and real and real["status"] in ("COMPLETED", "PARTIALLY_REFUNDED"):
            left = Decimal(real["amount"]["value"]) - Decimal(real["_refunded"])
            d = Decimal(str(amount)) if amount is not None else left
            if 0 < d <= left:
                return self.do_refund(real, d), True
        if typ == "CHECKOUT.ORDER.APPROVED":
            return self.job(typ, ref, "checkout-order", "An order has been approved by buyer",
                            {**self.order_view(o), "status": "APPROVED"}), False
        cap = copy.deepcopy(public(self.captures[o["_capture"]]) if o["_capture"] else self.capture_obj(o, ""))
        if typ in ("PAYMENT.CAPTURE.COMPLETED", "PAYMENT.CAPTURE.DENIED"):
            cap["status"] = "COMPLETED" if typ.endswith("COMPLETED") else "DECLINED"
            if amount is not None:
                cap["amount"]["value"] = self.fmt(Decimal(str(amount)), cap["amount"]["currency_code"])
            return self.job(typ, ref, "capture", f"Payment {cap['status'].lower()}", cap), False
        if typ == "PAYMENT.CAPTURE.REFUNDED":
            rf = self.refund_obj(cap, Decimal(str(amount if amount is not None else cap["amount"]["value"])))
            return self.job(typ, ref, "refund", "A capture payment was refunded", rf), False
        fail(400, {"error": f"unsupported paypal event type {typ!r}", "supported": [
            "CHECKOUT.ORDER.APPROVED", "PAYMENT.CAPTURE.COMPLETED", "PAYMENT.CAPTURE.DENIED",
            "PAYMENT.CAPTURE.REFUNDED"]})

    def open_dispute(self, ref, amount):
        cap = self.captures.get(ref) or self.captures.get(self.get(self.orders, ref, "order")["_capture"] or "")
        if not cap or cap["status"] == "DECLINED":
            fail(409, {"error": f"{ref} has no completed capture to dispute"})
        cur = cap["amount"]["currency_code"]
        d = {"dispute_id": rid("PP-D-", 8, string.digits), "create_time": rfc3339(ms=True),
             "update_time": rfc3339(ms=True), "reason": "MERCHANDISE_OR_SERVICE_NOT_RECEIVED", "status": "OPEN",
             "dispute_amount": {"currency_code": cur, "value": self.fmt(Decimal(str(amount)), cur) if amount
                                is not None else cap["amount"]["value"]},
             "disputed_transactions": [{"seller_transaction_id": cap["id"], "custom": cap.get("custom_id")}],
             "dispute_life_cycle_stage": "INQUIRY", "dispute_channel": "INTERNAL", "_order": cap["_order"]}
        self.disputes[d["dispute_id"]] = d
        return d["dispute_id"], public(d), self.job("CUSTOMER.DISPUTE.CREATED", cap["_order"], "dispute",
                                                    f"A new dispute opened with Case # {d['dispute_id']}", public(d))

    def close_dispute(self, d, outcome):
        d.update(status="RESOLVED", update_time=rfc3339(ms=True), dispute_outcome={
            "outcome_code": "RESOLVED_SELLER_FAVOUR" if outcome == "won" else "RESOLVED_BUYER_FAVOUR"})
        if outcome == "lost":
            d["dispute_outcome"]["amount_refunded"] = dict(d["dispute_amount"])
        return public(d), self.job("CUSTOMER.DISPUTE.RESOLVED", d["_order"], "dispute",
                                   f"A dispute was resolved with case # {d['dispute_id']}", public(d))

    # --- signing
    def bump(self, ev, amount=None):
        ev = copy.deepcopy(ev)
        r = ev["resource"]
        amt = r.get("amount") or r.get("dispute_amount") or (r.get("purchase_units") or [{}])[0].get("amount")
        if amt:
            new = Decimal(str(amount)) if amount is not None else Decimal(amt["value"]) * 2
            amt["value"] = self.fmt(new, amt["currency_code"])
        return ev

    def sign(self, ev, sent, mode, url, opts):
        webhook_id = WRONG["paypal"] if mode == "wrong_secret" else self.sb.secrets("paypal")["webhook_id"]
        tid, ttime = str(uuid.uuid1()), rfc3339(now() - (STALE_SECONDS if mode == "stale" else 0))
        signed = b"" if mode == "bad_signature" else cjson(ev).encode()  # bad: a real RSA signature of other bytes
        return "POST", url or self.sb.hook_url("paypal"), {
            "Content-Type": "application/json", "PAYPAL-TRANSMISSION-ID": tid, "PAYPAL-TRANSMISSION-TIME": ttime,
            "PAYPAL-TRANSMISSION-SIG": self.keys.sign(paypal_message(tid, ttime, webhook_id, signed)),
            "PAYPAL-CERT-URL": self.url("v1/notifications/certs/CERT-local"), "PAYPAL-AUTH-ALGO": "SHA256withRSA",
            "User-Agent": "PayPal/AUHD-214.0-58371180"}, cjson(sent).encode()

    def page(self, req: Req) -> Resp:
        if req.method == "POST":
            return self.hosted_post(req, req.form().get("token", ""))
        token = req.q("token")
        with self.sb.lock:
            o = copy.deepcopy(self.orders.get(token))
        if o is None:
            return page("PayPal — not found", "<h1>PayPal</h1><p>No such order.</p>", 404)
        amt = o["purchase_units"][0]["amount"]
        money = f"{Decimal(amt['value']):,.{0 if amt['currency_code'] in self.ZERO else 2}f} {amt['currency_code']}"
        return self.checkout(money, o["purchase_units"][0].get("description"), f"Order {token}",
                             None if o["status"] == "CREATED" else o["status"], "/paypal/checkoutnow",
                             {"token": token}, [("succeed", "Approve"), ("cancel", "Cancel")])


# ============================================================================ VNPay

class VNPay(Provider):
    name, title = "vnpay", "VNPay"
    REQUIRED = ("vnp_Version", "vnp_Command", "vnp_TmnCode", "vnp_Amount", "vnp_CreateDate", "vnp_CurrCode",
                "vnp_IpAddr", "vnp_Locale", "vnp_OrderInfo", "vnp_OrderType", "vnp_ReturnUrl", "vnp_TxnRef")

    def __init__(self, sb):
        super().__init__(sb)
        self.txns, self.request_ids = {}, set()
        self.next_no = 14_000_000 + rnd.randbelow(900_000)

    def state(self):
        return {"transactions": {k: public(v) for k, v in self.txns.items()}}

    def handle(self, req: Req, sub: str) -> Resp:
        if sub == "paymentv2/vpcpay.html":
            return self.page(req)
        if sub == "merchant_webapi/api/transaction" and req.method == "POST":
            with self.sb.lock:
                return self.transaction_api(req)
        fail(404, {"error": f"no vnpay route {req.method} /{sub}"})

    def open(self, query: str) -> dict:
        """Checks a signed pay URL's query as VNPay's payment page does, and registers the payment."""
        p = dict(urllib.parse.parse_qsl(query, keep_blank_values=True))
        sec = self.sb.secrets("vnpay")
        if not same(p.get("vnp_SecureHash"), vnp_hash(sec["hash_secret"], p)):
            odd = any(c in v for v in p.values() for c in "*~!'()")
            fail(400, {"code": "97", "error": "Invalid signature (vnp_SecureHash)." + (
                " A value contains one of *~!'() on which URL encoders disagree: keep free text to [A-Za-z0-9 -_.]."
                if odd else "")})
        missing = [k for k in self.REQUIRED if not p.get(k)]
        if missing:
            fail(400, {"code": "03", "error": f"Missing parameters: {', '.join(missing)}"})
        if p["vnp_TmnCode"] != sec["tmn_code"]:
            fail(400, {"code": "02", "error": "Merchant website is not approved (vnp_TmnCode)."})
        amount, date = p["vnp_Amount"], r"\d{14}"
        bad = [k for k, good in (
            ("vnp_Version", p["vnp_Version"] == "2.1.0"), ("vnp_Command", p["vnp_Command"] == "pay"),
            ("vnp_CurrCode", p["vnp_CurrCode"] == "VND"),
            ("vnp_Amount", amount.isdigit() and int(amount) > 0 and int(amount) % 100 == 0),
            ("vnp_CreateDate", re.fullmatch(date, p["vnp_CreateDate"])),
            ("vnp_ExpireDate", re.fullmatch(date, p.get("vnp_ExpireDate") or "0" * 14))) if not good]
        if bad:
            fail(400, {"code": "03", "error": f"Invalid parameters: {', '.join(bad)}"})
        if p.get("vnp_ExpireDate") and p["vnp_ExpireDate"] < vn_time():
            fail(400, {"code": "11", "error": "The payment has expired (vnp_ExpireDate is in the past, GMT+7)."})
        ref = p["vnp_TxnRef"]
        if self.txns.get(ref, {}).get("status") == "paid":
            fail(409, {"code": "01", "error": f"Transaction {ref} already exists and is paid."})
        self.txns[ref] = {"txn_ref": ref, "status": "pending", "amount": int(amount) // 100,
                          "order_info": p["vnp_OrderInfo"], "create_date": p["vnp_CreateDate"],
                          "expire_date": p.get("vnp_ExpireDate"), "return_url": p["vnp_ReturnUrl"],
                          "transaction_no": None, "pay_date": None, "refunded": 0, "refunds": [],
                          "_tmn": p["vnp_TmnCode"]}
        return self.txns[ref]

    def ipn(self, t, code, status, tno, amount=None):
        self.next_no += 1
        return job(t["txn_ref"], "ipn", {
            "vnp_Amount": str((as_int(amount) or t["amount"]) * 100), "vnp_BankCode": "NCB",
            "vnp_BankTranNo": f"VNP{self.next_no}", "vnp_CardType": "ATM", "vnp_OrderInfo": t["order_info"],
            "vnp_PayDate": vn_time(), "vnp_ResponseCode": code, "vnp_TmnCode": t["_tmn"], "vnp_TransactionNo": tno,
            "vnp_TransactionStatus": status, "vnp_TxnRef": t["txn_ref"]})

    def pay(self, ref, outcome, body):
        if body.get("url"):
            t = self.open(urllib.parse.urlsplit(str(body["url"])).query)
            if ref and ref != t["txn_ref"]:
                fail(400, {"error": f"ref {ref!r} is not the url's vnp_TxnRef {t['txn_ref']!r}"})
            ref = t["txn_ref"]
        if ref not in self.txns:
            fail(404, {"error": f"unknown vnp_TxnRef {ref!r}: open the pay URL first or pass it as \"url\""})
        t = self.txns[ref]
        if t["status"] != "pending":
            fail(409, {"error": f"transaction {ref} is already {t['status']}"})
        if t["expire_date"] and t["expire_date"] < vn_time():
            fail(409, {"code": "11", "error": f"transaction {ref} has expired"})
        ok = outcome == "succeed"  # decline / cancel: 24 = the customer cancelled; no VNPay transaction number
        ev = self.ipn(t, "00" if ok else "24", "00" if ok else "02", str(self.next_no + 1) if ok else "0")
        t["status"] = "paid" if ok else "failed"
        if ok:
            t.update(transaction_no=ev["payload"]["vnp_TransactionNo"], pay_date=ev["payload"]["vnp_PayDate"])
        return [ev], add_query(t["return_url"], vnp_ipn_query(self.sb.secrets("vnpay")["hash_secret"], ev["payload"]))

    def craft(self, typ, ref, body):
        if typ != "ipn":
            fail(400, {"error": f"unsupported vnpay event type {typ!r}", "supported": ["ipn"]})
        t = self.get(self.txns, ref, "vnp_TxnRef")
        code = str(body.get("response_code", "00"))
        status = str(body.get("transaction_status", "00" if code == "00" else "02"))
        paid, applied = code == status == "00", t["status"] == "pending" and body.get("amount") is None
        ev = self.ipn(t, code, status, t["transaction_no"] or (str(self.next_no + 1) if paid else "0"),
                      body.get("amount"))
        if applied:  # the first result for a pending payment happens in the sandbox's state too
            t["status"] = "paid" if paid else "failed"
            if paid:
                t.update(transaction_no=ev["payload"]["vnp_TransactionNo"], pay_date=ev["payload"]["vnp_PayDate"])
        return ev, applied

    def bump(self, p, amount=None):
        return {**p, "vnp_Amount": str(as_int(amount) * 100 if as_int(amount) else int(p["vnp_Amount"]) * 2)}

    def sign(self, p, sent, mode, url, opts):
        secret = WRONG["vnpay"] if mode == "wrong_secret" else self.sb.secrets("vnpay")["hash_secret"]
        q = vnp_ipn_query(secret, p, sent, rnd.token_hex(64) if mode == "bad_signature" else None)
        return "GET", f"{url or self.sb.hook_url('vnpay')}?{q}", {"User-Agent": "VNPAY-IPN/2.1.0"}, None

    def transaction_api(self, req: Req) -> Resp:
        raw = req.json({"vnp_ResponseCode": "03", "vnp_Message": "The body must be a JSON object"})
        b = {k: "" if v is None else str(v) for k, v in raw.items()}
        sec, t = self.sb.secrets("vnpay"), self.txns.get(b.get("vnp_TxnRef", ""))

        def answer(code, msg, refund_no=None):
            r = {"vnp_ResponseId": uuid.uuid4().hex, "vnp_Command": b.get("vnp_Command", ""), "vnp_ResponseCode": code,
                 "vnp_Message": msg, **{k: b.get(k, "") for k in ("vnp_TmnCode", "vnp_TxnRef", "vnp_Amount")},
                 "vnp_BankCode": "NCB", "vnp_PayDate": vn_time(),
                 "vnp_TransactionNo": refund_no or (t or {}).get("transaction_no") or b.get("vnp_TransactionNo", ""),
                 "vnp_TransactionType": b.get("vnp_TransactionType", ""),
                 "vnp_TransactionStatus": "05" if code == "00" else "", "vnp_OrderInfo": b.get("vnp_OrderInfo", "")}
            return Resp.json(200, {**r, "vnp_SecureHash": pipe_hash(sec["hash_secret"], r, VNP_REFUND_RESP)})

        if b.get("vnp_Command") != "refund":
            return answer("03", "The sandbox implements vnp_Command=refund only")
        missing = [k for k in VNP_REFUND_REQ + ("vnp_SecureHash",) if k != "vnp_TransactionNo" and not b.get(k)]
        if missing:
            return answer("03", f"Missing fields: {', '.join(missing)}")
        if not same(b["vnp_SecureHash"], pipe_hash(sec["hash_secret"], b, VNP_REFUND_REQ)):
            return answer("97", "Invalid checksum")
        if b["vnp_TmnCode"] != sec["tmn_code"]:
            return answer("02", "Invalid vnp_TmnCode")
        a, typ = b["vnp_Amount"], b["vnp_TransactionType"]
        if (b["vnp_Version"] != "2.1.0" or typ not in ("02", "03") or not a.isdigit() or int(a) <= 0 or int(a) % 100
                or not all(re.fullmatch(r"\d{14}", b[k]) for k in ("vnp_CreateDate", "vnp_TransactionDate"))):
            return answer("03", "Invalid data format (version, transaction type, amount x100 or dates)")
        if b["vnp_RequestId"] in self.request_ids:
            return answer("94", "Duplicate request: this vnp_RequestId was already used")
        self.request_ids.add(b["vnp_RequestId"])
        tno = b.get("vnp_TransactionNo", "")
        if t is None or t["create_date"] != b["vnp_TransactionDate"] or tno not in ("", "0", t["transaction_no"]):
            return answer("91", "Transaction not found (vnp_TxnRef, vnp_TransactionDate, vnp_TransactionNo)")
        if t["status"] != "paid":
            return answer("95", "The transaction was not successful at VNPAY; refund refused")
        amount, remaining = int(a) // 100, t["amount"] - t["refunded"]
        if remaining <= 0:
            return answer("94", "The transaction has already been fully refunded")
        if typ == "02" and t["refunded"]:
            return answer("94", "A refund was already made; refund the rest with vnp_TransactionType=03")
        if typ == "02" and amount != t["amount"]:
            return answer("03", "A full refund (02) must be for the whole paid amount; use 03 for a partial refund")
        if amount > remaining:
            return answer("99", f"Refund amount {amount} exceeds the refundable amount {remaining}")
        t["refunded"] += amount
        self.next_no += 1  # the refund is a VNPay transaction of its own
        t["refunds"].append({"request_id": b["vnp_RequestId"], "amount": amount, "type": typ, "transaction_no":
                             str(self.next_no), "create_by": b["vnp_CreateBy"], "create_date": b["vnp_CreateDate"]})
        return answer("00", "Refund success", str(self.next_no))

    def page(self, req: Req) -> Resp:
        if req.method == "POST":
            return self.hosted_post(req, "")
        try:
            with self.sb.lock:
                t = copy.deepcopy(self.open(req.query))
        except Fail as e:
            return page("VNPay — error", f"<h1>VNPAY</h1><p>{html.escape(parse_body(e.resp.body)['error'])}</p>",
                        e.resp.status)
        return self.checkout(f"{t['amount']:,} VND", t["order_info"], f"vnp_TxnRef {t['txn_ref']}", None,
                             "/vnpay/paymentv2/vpcpay.html", {"ref": t["txn_ref"]},
                             [("succeed", "Pay"), ("decline", "Decline")])


# ============================================================================ MoMo

class MoMo(Provider):
    name, title = "momo", "MoMo"
    MESSAGES = {0: "Successful.", 1006: "Transaction denied by user."}

    def __init__(self, sb):
        super().__init__(sb)
        self.orders, self.refunds, self.requests = {}, {}, {}
        self.next_trans = 4_000_000_000 + rnd.randbelow(10 ** 8)

    def state(self):
        return {"orders": {k: public(v) for k, v in self.orders.items()}, "refunds": self.refunds}

    def handle(self, req: Req, sub: str) -> Resp:
        m = re.fullmatch(r"pay/([\w.\-]+)", sub)
        if m:
            return self.page(req, m.group(1))
        if req.method != "POST" or sub not in ("v2/gateway/api/create", "v2/gateway/api/refund"):
            fail(404, {"error": f"no momo route {req.method} /{sub}"})
        with self.sb.lock:
            b = req.json({"resultCode": 20, "message": "Bad format request.", "responseTime": now_ms()})
            fp, rq = (sub, cjson(b)), b.get("requestId")
            if rq in self.requests:  # requestId is MoMo's idempotency key
                same_request = self.requests[rq][0] == fp
                return self.requests[rq][1] if same_request else self.answer(b, 40, "Duplicated requestId.")
            resp = self.create(b) if sub.endswith("create") else self.refund(b)
            if parse_body(resp.body).get("resultCode") == 0:
                self.requests[rq] = (fp, resp)
            return resp

    @staticmethod
    def answer(b, code, message, **extra) -> Resp:
        return Resp.json(200, {"partnerCode": b.get("partnerCode"), "requestId": b.get("requestId"),
                               "orderId": b.get("orderId"), "amount": b.get("amount"), "responseTime": now_ms(),
                               "message": message, "resultCode": code, **extra})

    def check(self, b, fields, required, sec):
        """None if the request is complete and correctly signed, else the error answer."""
        missing = [k for k in required if b.get(k) in (None, "")]
        if missing:
            return self.answer(b, 20, f"Bad format request: missing {', '.join(missing)}.")
        if b["partnerCode"] != sec["partner_code"] or b.get("accessKey") not in (None, sec["access_key"]):
            return self.answer(b, 11, "Access denied: unknown partnerCode / accessKey.")
        if not same(b["signature"], momo_sign(sec["secret_key"], fields, {**b, "accessKey": sec["access_key"]})):
            return self.answer(b, 11, "Access denied: invalid signature.")
        return None

    def create(self, b) -> Resp:
        err = self.check(b, MOMO_CREATE, ("partnerCode", "requestId", "amount", "orderId", "orderInfo", "redirectUrl",
                                          "ipnUrl", "requestType", "signature"), self.sb.secrets("momo"))
        if err:
            return err
        amount, oid = as_int(b["amount"]), str(b["orderId"])
        if b["requestType"] != "captureWallet" or amount is None:
            return self.answer(b, 20, "Bad format request: requestType must be captureWallet, amount an integer.")
        if not 1000 <= amount <= 50_000_000:
            return self.answer(b, 22, "The transaction amount is out of range (1,000 - 50,000,000 VND).")
        if not re.fullmatch(r"[0-9a-zA-Z]([-_.]*[0-9a-zA-Z]+)*", oid):
            return self.answer(b, 42, "Invalid orderId.")
        if oid in self.orders or oid in self.refunds:
            return self.answer(b, 41, "Duplicated orderId.")
        self.orders[oid] = {"order_id": oid, "request_id": b["requestId"], "amount": amount,
                            "order_info": b["orderInfo"], "extra_data": b.get("extraData") or "",
                            "redirect_url": b["redirectUrl"], "ipn_url": b["ipnUrl"], "status": "pending",
                            "trans_id": None, "refunded": 0, "_partner": b["partnerCode"]}
        return self.answer(b, 0, "Successful.", payUrl=f"{self.sb.base_url}/momo/pay/{oid}")

    def refund(self, b) -> Resp:
        b = {**b, "description": b.get("description") or ""}
        err = self.check(b, MOMO_REFUND, ("partnerCode", "orderId", "requestId", "amount", "transId", "signature"),
                         self.sb.secrets("momo"))
        if err:
            return err
        amount, trans, extra = as_int(b["amount"]), as_int(b["transId"]), {"transId": b["transId"]}
        if amount is None or trans is None:
            return self.answer(b, 20, "Bad format request: amount and transId must be integers.", **extra)
        if b["orderId"] in self.orders or b["orderId"] in self.refunds:
            return self.answer(b, 41, "Duplicated orderId: a refund needs a new orderId.", **extra)
        o = next((o for o in self.orders.values() if o["trans_id"] == trans), None)
        if o is None or o["status"] != "paid":
            return self.answer(b, 1088, "Refund rejected: the original transaction was not found or not successful.",
                               **extra)
        if amount < 1000:
            return self.answer(b, 22, "The refund amount is out of range (at least 1,000 VND).", **extra)
        if amount > o["amount"] - o["refunded"]:
            return self.answer(b, 1081, "Refund rejected: the transaction was already refunded or the amount exceeds "
                               "the refundable amount.", **extra)
        o["refunded"] += amount
        self.next_trans += 1
        self.refunds[b["orderId"]] = {"order_id": b["orderId"], "request_id": b["requestId"], "amount": amount,
                                      "trans_id": self.next_trans, "original_trans_id": trans,
                                      "original_order_id": o["order_id"], "description": b["description"]}
        return Resp.json(200, {"partnerCode": b["partnerCode"], "orderId": b["orderId"], "requestId": b["requestId"],
                               "amount": amount, "transId": self.next_trans, "resultCode": 0,
                               "message": "Successful.", "responseTime": now_ms()})

    def ipn(self, o, code, amount=None):
        return job(o["order_id"], "ipn", {
            "partnerCode": o["_partner"], "orderId": o["order_id"], "requestId": o["request_id"],
            "amount": as_int(amount) or o["amount"], "orderInfo": o["order_info"], "orderType": "momo_wallet",
            "transId": o["trans_id"], "resultCode": code, "message": self.MESSAGES.get(code, "Transaction failed."),
            "payType": "qr", "responseTime": now_ms(), "extraData": o["extra_data"]}, url=o["ipn_url"])

    def pay(self, ref, outcome, body):
        o = self.get(self.orders, ref, "orderId")
        if o["status"] != "pending":
            fail(409, {"error": f"order {ref} is already {o['status']}"})
        self.next_trans += 1
        o.update(trans_id=self.next_trans, status="paid" if outcome == "succeed" else "failed")
        ev = self.ipn(o, 0 if outcome == "succeed" else 1006)
        sec = self.sb.secrets("momo")
        sig = momo_sign(sec["secret_key"], MOMO_IPN, {**ev["payload"], "accessKey": sec["access_key"]})
        return [ev], add_query(o["redirect_url"], {**ev["payload"], "signature": sig})

    def craft(self, typ, ref, body):
        if typ != "ipn":
            fail(400, {"error": f"unsupported momo event type {typ!r}", "supported": ["ipn"]})
        real = self.get(self.orders, ref, "orderId")
        applied = real["status"] == "pending" and body.get("amount") is None
        o, code = real if applied else copy.deepcopy(real), as_int(body.get("result_code", 0)) or 0
        if o["trans_id"] is None:
            self.next_trans += 1
            o["trans_id"] = self.next_trans
        if applied:  # the first result for a pending order happens in the sandbox's state too
            o["status"] = "paid" if code == 0 else "failed"
        return self.ipn(o, code, body.get("amount")), applied

    def bump(self, payload, amount=None):
        return {**payload, "amount": as_int(amount) or payload["amount"] * 2}

    def sign(self, payload, sent, mode, url, opts):
        sec = self.sb.secrets("momo")
        sig = rnd.token_hex(32) if mode == "bad_signature" else momo_sign(
            WRONG["momo"] if mode == "wrong_secret" else sec["secret_key"], MOMO_IPN,
            {**payload, "accessKey": sec["access_key"]})
        return "POST", url, {"Content-Type": "application/json", "User-Agent": "MoMo-IPN/2.0"}, \
            cjson({**sent, "signature": sig}).encode()

    def page(self, req: Req, oid: str) -> Resp:
        if req.method == "POST":
            return self.hosted_post(req, oid)
        with self.sb.lock:
            o = copy.deepcopy(self.orders.get(oid))
        if o is None:
            return page("MoMo — not found", "<h1>MoMo</h1><p>No such order.</p>", 404)
        return self.checkout(f"{o['amount']:,} VND", o["order_info"], f"orderId {oid}",
                             None if o["status"] == "pending" else o["status"], f"/momo/pay/{oid}", {},
                             [("succeed", "Pay"), ("decline", "Decline")])


# ============================================================================ GHTK (carrier)

# Status ids as integrations quote GHTK's public documentation (not re-checked first-party here).
GHTK_STATUS = {-1: "Hủy đơn hàng", 1: "Chưa tiếp nhận", 2: "Đã tiếp nhận", 3: "Đã lấy hàng/Đã nhập kho",
               4: "Đã điều phối giao hàng/Đang giao hàng", 5: "Đã giao hàng/Chưa đối soát", 6: "Đã đối soát",
               7: "Không lấy được hàng", 8: "Hoãn lấy hàng", 9: "Không giao được hàng", 10: "Delay giao hàng",
               11: "Đã đối soát công nợ trả hàng", 12: "Đã điều phối lấy hàng/Đang lấy hàng", 13: "Đơn hàng bồi hoàn",
               20: "Đang trả hàng (COD cầm hàng đi trả)", 21: "Đã trả hàng (COD đã trả xong hàng)",
               123: "Shipper báo đã lấy hàng", 127: "Shipper báo không lấy được hàng",
               128: "Shipper báo delay lấy hàng", 45: "Shipper báo đã giao hàng",
               49: "Shipper báo không giao được giao hàng", 410: "Shipper báo delay giao hàng"}
GHTK_CANCELLABLE = {1, 2, 7, 8, 12}  # not picked up yet


def province_key(name) -> str:
    """A province as the sandbox tariff compares it: no diacritics, case-folded, without Thành phố / Tỉnh / TP."""
    s = unicodedata.normalize("NFD", str(name or "").replace("đ", "d").replace("Đ", "D"))
    s = " ".join("".join(c for c in s if not unicodedata.combining(c)).casefold().split())
    return re.sub(r"^(?:thanh pho|tinh|tp)(?:[.\s]+|$)", "", s)


def ghtk_tariff(pick_province, province, grams: int, value: int = 0, transport: str = "road") -> dict:
    """The sandbox's own tariff (not GHTK's), in VND: {"area": 1 same province | 2, "fee", "insurance_fee"}."""
    local = province_key(pick_province) == province_key(province)
    base, included, step = (22_000, 3_000, 2_500) if local else (30_000, 500, 5_000)
    fee = base + step * max(0, -(-(grams - included) // 500))  # + step per started 500 g over `included`
    if transport == "fly":
        fee = (fee * 13 + 500) // 1000 * 100  # x 1.3, to the nearest 100 (half up)
    return {"area": 1 if local else 2, "fee": fee, "insurance_fee": value * 5 // 1000 if value > 1_000_000 else 0}


class Ghtk(Provider):
    """The carrier: fee, order, cancel, status; status updates POSTed to a callback URL that carries `hash`."""
    name, title = "ghtk", "GHTK"
    MODES = {"duplicate", "replay", "bad_signature", "wrong_secret", "truncate"}  # /_control/ghtk/status: + original
    REQUIRED = ("id", "pick_name", "pick_address", "pick_province", "pick_tel", "tel", "name", "address", "province",
                "pick_money", "value")
    CHOICES = {"transport": ("road", "fly"), "deliver_option": ("none", "xteam"), "pick_option": ("cod", "post"),
               "is_freeship": ("0", "1")}  # the first is the default

    def __init__(self, sb):
        super().__init__(sb)
        self.orders: dict = {}  # label → order
        self.shop, self.next_no = str(100_000 + rnd.randbelow(900_000)), 100_000_000 + rnd.randbelow(800_000_000)

    def state(self):
        return {"orders": {k: self.view(o) for k, o in self.orders.items()}}

    @staticmethod
    def view(o):
        """A stored order with what the adapter sent: `request` (parsed) and `request_raw` (the body verbatim)."""
        return {**public(o), "request_raw": o["_request"]}

    @staticmethod
    def no(message, status=200, **extra):
        """GHTK's error answer: mostly HTTP 200 with success false."""
        fail(status, {"success": False, "message": message, **extra}, False)

    def hook_url(self):
        return f"{self.sb.webhook_base}/api/v1/shipping/carriers/ghtk/updates"

    # --- HTTP
    def handle(self, req: Req, sub: str) -> Resp:
        with self.sb.lock:
            sec = self.sb.secrets("ghtk")
            if not same(req.headers.get("Token"), sec["token"]):
                self.no("Token không hợp lệ / invalid token", 401)
            if not same(req.headers.get("X-Client-Source"), sec["partner_code"]):
                self.no("X-Client-Source không hợp lệ / invalid partner code", 401)
            if req.method == "GET" and sub == "services/shipment/fee":
                return self.fee(req)
            if req.method == "POST" and sub == "services/shipment/order":
                return self.create(req)
            m = re.fullmatch(r"services/shipment/(cancel|v2)/([^/]+)", sub)
            if m and req.method == ("POST" if m.group(1) == "cancel" else "GET"):
                o = self.find(urllib.parse.unquote(m.group(2)))
                if o is None:
                    self.no("Không tìm thấy đơn hàng")
                return self.cancel(o) if m.group(1) == "cancel" else self.status(o)
            self.no(f"no ghtk route {req.method} /{sub}", 404)

    def find(self, ref: str):
        """An order by label, or by `partner_id:<id>`."""
        if ref.startswith("partner_id:"):
            return next((o for o in self.orders.values() if str(o["partner_id"]) == ref[11:]), None)
        return self.orders.get(ref)

    def check(self, d, required, prefix=""):
        missing = [k for k in required if d.get(k) in (None, "")] + [
            f"{end}district or {prefix}{end}ward" for end in ("pick_", "") if "province" in required
            and d.get(f"{end}district") in (None, "") and d.get(f"{end}ward") in (None, "")]
        if missing:
            self.no(f"Thiếu thông tin / missing {prefix}{missing[0]}")

    def integer(self, d, k, least, prefix=""):
        if d.get(k) in (None, ""):
            return 0
        n = as_int(d[k])
        if n is None or n < least:
            self.no(f"Sai định dạng / invalid {prefix}{k} (an integer, at least {least})")
        return n

    def choice(self, d, k, prefix=""):
        v = "" if d.get(k) is None else str(d[k])
        if v and v not in self.CHOICES[k]:
            self.no(f"Sai định dạng / invalid {prefix}{k} (one of {', '.join(self.CHOICES[k])})")
        return v or self.CHOICES[k][0]

    def fee(self, req: Req) -> Resp:
        q = {k: req.q(k) for k in ("pick_province", "pick_district", "pick_ward", "province", "district", "ward",
                                   "weight", "value", "transport", "deliver_option")}
        self.check(q, ("pick_province", "province", "weight"))
        grams, value, transport = self.integer(q, "weight", 1), self.integer(q, "value", 0), self.choice(q, "transport")
        self.choice(q, "deliver_option")
        t = ghtk_tariff(q["pick_province"], q["province"], grams, value, transport)
        return Resp.json(200, {"success": True, "message": "", "fee": {
            "name": f"area{t['area']}", "fee": t["fee"], "insurance_fee": t["insurance_fee"], "include_vat": 0,
            "cost_id": 0, "delivery_type": "", "delivery": True, "extFees": []}})

    def create(self, req: Req) -> Resp:
        b = req.json({"success": False, "message": "Dữ liệu không hợp lệ / the body must be a JSON object"})
        o, products = b.get("order"), b.get("products")
        if not isinstance(o, dict):
            self.no("Thiếu thông tin / missing order")
        self.check(o, self.REQUIRED, "order.")
        pick_money, value = self.integer(o, "pick_money", 0, "order."), self.integer(o, "value", 0, "order.")
        opt = {k: self.choice(o, k, "order.") for k in self.CHOICES}
        if not isinstance(products, list) or not products:
            self.no("Thiếu thông tin / missing products (at least one)")
        kg = 0.0
        for i, p in enumerate(products):
            if not isinstance(p, dict):
                self.no(f"Sai định dạng / invalid products[{i}] (an object)")
            self.check(p, ("name", "weight", "quantity"), f"products[{i}].")
            w, n = p["weight"], as_int(p["quantity"])
            if not isinstance(w, (int, float)) or isinstance(w, bool) or w <= 0:
                self.no(f"Sai định dạng / invalid products[{i}].weight (a number of kg)")
            if n is None or n < 1:
                self.no(f"Sai định dạng / invalid products[{i}].quantity (an integer, at least 1)")
            kg += w * n
        pid = o["id"]
        old = next((x for x in self.orders.values() if str(x["partner_id"]) == str(pid)), None)
        if old:
            self.no("Mã đơn hàng đã tồn tại / order id exists", error={
                "code": "ORDER_ID_EXIST", "partner_id": pid, "ghtk_label": old["label"], "created": old["created"],
                "status": old["status_id"]})
        grams = round(kg * 1000)
        t = ghtk_tariff(o["pick_province"], o["province"], grams, value, opt["transport"])
        self.next_no += 1
        mid = rid(rnd.choice(string.ascii_uppercase), 1 + rnd.randbelow(2), UPPER)
        label, t0 = f"S{self.shop}.{mid}.{self.next_no}", dt.datetime.now(GMT7)
        pick = t0 + dt.timedelta(days=0 if t0.hour < 12 else 1)
        deliver = pick + dt.timedelta(days=1 if t["area"] == 1 else 3)
        answer = {"partner_id": pid, "label": label, "area": str(t["area"]), "fee": str(t["fee"]),
                  "insurance_fee": str(t["insurance_fee"]),
                  "estimated_pick_time": f"{'Chiều' if t0.hour < 12 else 'Sáng'} {pick:%Y-%m-%d}",
                  "estimated_deliver_time": f"Chiều {deliver:%Y-%m-%d}", "products": [], "status_id": 2,
                  "tracking_id": self.next_no, "sorting_code": f"{mid}.{rid(n=2, alphabet=UPPER)}"}
        self.orders[label] = {
            **answer, "area": t["area"], "fee": t["fee"], "insurance_fee": t["insurance_fee"], "weight": grams,
            "value": value, "pick_money": pick_money, "is_freeship": int(opt["is_freeship"]),
            "transport": opt["transport"], "customer_fullname": o["name"], "customer_tel": o["tel"],
            "address": ", ".join(str(o[k]) for k in ("address", "ward", "district", "province") if o.get(k)),
            "created": vn_clock(), "modified": vn_clock(), "pick_date": f"{pick:%Y-%m-%d}",
            "deliver_date": f"{deliver:%Y-%m-%d}", "request": b, "_request": req.body.decode("utf-8", "replace")}
        return Resp.json(200, {"success": True, "message": "Các đơn hàng đã được add thành công", "order": answer})

    def cancel(self, o) -> Resp:
        if o["status_id"] == -1:
            self.no("Đơn hàng đã ở trạng thái hủy")
        if o["status_id"] not in GHTK_CANCELLABLE:
            self.no("Đơn hàng đã lấy, không thể hủy")
        o.update(status_id=-1, modified=vn_clock())
        return Resp.json(200, {"success": True, "message": "", "log_id": rid(n=24, alphabet="0123456789abcdef")})

    def status(self, o) -> Resp:
        return Resp.json(200, {"success": True, "message": "", "order": {
            "label_id": o["label"], "partner_id": o["partner_id"], "status": str(o["status_id"]),
            "status_text": GHTK_STATUS.get(o["status_id"], ""), "created": o["created"], "modified": o["modified"],
            "message": "", "pick_date": o["pick_date"], "deliver_date": o["deliver_date"],
            "customer_fullname": o["customer_fullname"], "customer_tel": o["customer_tel"], "address": o["address"],
            "storage_day": 0, "ship_money": o["fee"], "insurance": o["insurance_fee"], "value": o["value"],
            "weight": o["weight"], "pick_money": o["pick_money"], "is_freeship": o["is_freeship"]}})

    # --- control
    def orders_list(self, partner_id: str) -> list:
        return [self.view(o) for o in self.orders.values() if not partner_id or str(o["partner_id"]) == partner_id]

    def set_status(self, b, delay) -> dict:
        """POST /_control/ghtk/status: the order's status changes, and GHTK's update is delivered."""
        mode, sid = b.get("mode") or "original", b.get("status_id")
        if mode != "original" and mode not in self.MODES:
            fail(400, {"error": f"mode {mode!r} does not apply to ghtk", "modes": ["original", *sorted(self.MODES)]})
        if isinstance(sid, bool) or not re.fullmatch(r"-?\d+", str(sid)):
            fail(400, {"error": "status_id must be an integer (a GHTK status id)"})
        with self.sb.lock:
            o = self.get(self.orders, b.get("label"), "label")
            o.update(status_id=int(sid), modified=vn_clock())
            ev = job(o["label"], "status", {
                "partner_id": o["partner_id"], "label_id": o["label"], "status_id": int(sid),
                "action_time": dt.datetime.now(GMT7).replace(microsecond=0).isoformat(),
                "reason_code": str(b.get("reason_code") or ""), "reason": str(b.get("reason") or ""),
                "weight": o["weight"] / 1000, "fee": o["fee"], "pick_money": o["pick_money"],
                "return_part_package": 0}, rid("ghtk_evt_", 16), self.hook_url())
        return {"event_id": ev["event_id"], **self.sb.deliver(self.name, ev, mode=mode, delay_ms=delay)}

    def craft(self, *_):
        fail(400, {"error": "ghtk is a carrier: change an order's status with POST /_control/ghtk/status"})

    pay = craft

    # --- delivering (no signature: the secret is the callback URL's `hash`)
    def bump(self, payload, amount=None):
        return {**payload, "pick_money": as_int(amount) or payload["pick_money"] * 2}

    def sign(self, payload, sent, mode, url, opts):
        h = (rnd.token_hex(16) if mode == "bad_signature" else WRONG["ghtk"] if mode == "wrong_secret"
             else self.sb.secrets("ghtk")["webhook_hash"])
        return "POST", add_query(url or self.hook_url(), {"hash": h}), {
            "Content-Type": "application/json", "User-Agent": "GHTK-Webhook/1.0"}, cjson(sent).encode()


# ============================================================================ sandbox core + control API

class Sandbox:
    def __init__(self, webhook_base: str, secrets_path: str):
        self.webhook_base, self.secrets_path = webhook_base.rstrip("/"), secrets_path
        self.base_url = "http://127.0.0.1:0"
        self.lock = threading.RLock()
        self.deliveries: list[dict] = []
        self.seq = itertools.count(1)
        self.providers = {p.name: p(self) for p in (Stripe, PayPal, VNPay, MoMo, Ghtk)}

    def secrets(self, provider: str) -> dict:
        try:
            with open(self.secrets_path, encoding="utf-8") as f:
                sec = json.load(f).get(provider)
        except (OSError, ValueError, AttributeError):
            fail(503, {"error": f"secrets file {self.secrets_path} is not readable yet"}, save=False)
        if not isinstance(sec, dict) or any(not sec.get(k) for k in SECRET_KEYS[provider]):
            fail(503, {"error": f"secrets for {provider} are missing (need {', '.join(SECRET_KEYS[provider])})"}, False)
        return sec

    def hook_url(self, provider: str) -> str:
        return f"{self.webhook_base}/api/v1/payments/{provider}/webhook"

    def provider(self, name) -> Provider:
        if name not in self.providers:
            fail(400, {"error": f"provider must be one of {sorted(self.providers)}"})
        return self.providers[name]

    def deliver(self, pname, ev, mode="original", of=None, delay_ms=0, raw=None, opts=None) -> dict:
        """Signs and sends one delivery (now, or after delay_ms on a timer thread) and records it."""
        prov, did = self.providers[pname], f"dlv_{next(self.seq)}"

        def send():
            try:
                parts = (*raw, ev["payload"]) if raw else prov.build(ev["payload"], mode, ev["url"], opts or {})
            except Exception as e:  # a scheduled delivery that cannot be built is recorded, not lost
                if not delay_ms:
                    raise
                error = parse_body(e.resp.body) if isinstance(e, Fail) else f"{type(e).__name__}: {e}"
                parts, result = (None, None, {}, None, ev["payload"]), (None, b"", error)
            else:
                result = http_call(*parts[:4])
            (method, url, headers, body, payload), (status, answer, error) = parts, result
            rec = {"id": did, "provider": pname, "ref": ev["ref"], "event_type": ev["event_type"],
                   "event_id": ev["event_id"], "mode": mode, "of": of, "method": method, "url": url,
                   "headers": headers, "body": None if body is None else body.decode("utf-8", "replace"),
                   "status": status, "response": parse_body(answer), "error": error, "at": rfc3339(ms=True),
                   "_payload": payload, "_url": ev["url"], "_raw": (method, url, headers, body)}
            with self.lock:
                self.deliveries.append(rec)
            log("delivery", id=did, provider=pname, event_type=ev["event_type"], mode=mode, method=method,
                url=(url or "").split("?")[0], status=status, error=error)
            out = {"delivery_id": did, "status": status, "body": rec["response"]}
            return {**out, "error": error} if error else out

        if delay_ms <= 0:
            return send()
        timer = threading.Timer(delay_ms / 1000, send)
        timer.daemon = True
        timer.start()
        return {"scheduled": True, "delivery_id": did}

    def pay(self, pname, ref, outcome, body) -> dict:
        prov = self.provider(pname)
        if outcome not in OUTCOMES:
            fail(400, {"error": f"outcome must be one of {list(OUTCOMES)}"})
        with self.lock:
            jobs, redirect = prov.pay(ref, outcome, body)
        results = [self.deliver(pname, j, delay_ms=as_int(body.get("delay_ms")) or 0) for j in jobs]
        return {**(results[0] if results else {"delivery_id": None, "status": None, "body": None}),
                "redirect": redirect}

    def redeliver(self, did, b, delay) -> dict:
        with self.lock:
            rec = next((d for d in self.deliveries if d["id"] == did), None)
        if rec is None or rec["method"] is None:
            fail(404, {"error": f"no sent delivery {did}"})
        mode, prov = b.get("mode", "duplicate"), self.providers[rec["provider"]]
        if mode not in prov.MODES:
            fail(400, {"error": f"mode {mode!r} does not apply to {prov.name}", "modes": sorted(prov.MODES)})
        ev = job(rec["ref"], rec["event_type"], rec["_payload"], rec["event_id"], rec["_url"])
        return self.deliver(prov.name, ev, mode=mode, of=did, delay_ms=delay, raw=rec["_raw"] if mode == "replay"
                            else None, opts={"amount": b.get("amount"), "previous": rec["headers"]})

    def control(self, req: Req, sub: str) -> Resp:
        if req.method == "GET" and sub == "deliveries":
            f = {k: req.q(k) for k in ("provider", "ref", "event_type") if req.q(k)}
            with self.lock:
                out = [public(d) for d in self.deliveries if all(d.get(k) == v for k, v in f.items())]
            return Resp.json(200, sorted(out, key=lambda d: int(d["id"][4:])))
        if req.method == "GET" and sub == "state":
            with self.lock:
                return Resp.json(200, {**{n: p.state() for n, p in self.providers.items()},
                                       "deliveries": len(self.deliveries)})
        if req.method == "GET" and sub == "ghtk/orders":
            with self.lock:
                return Resp.json(200, self.providers["ghtk"].orders_list(req.q("partner_id")))
        if req.method != "POST":
            fail(405, {"error": f"{req.method} /_control/{sub} is not a control call"})
        b = req.json(allow_empty=True)
        delay = as_int(b.get("delay_ms")) or 0
        m = re.fullmatch(r"(deliveries|disputes)/([\w-]+)/(redeliver|close)", sub)
        if sub == "pay":
            return Resp.json(200, self.pay(b.get("provider"), b.get("ref"), b.get("outcome", "succeed"), b))
        if m and m.group(3) == "redeliver":
            return Resp.json(200, self.redeliver(m.group(2), b, delay))
        if sub == "events":
            prov = self.provider(b.get("provider"))
            with self.lock:
                ev, applied = prov.craft(b.get("type"), b.get("ref"), b)
            return Resp.json(200, {"event_id": ev["event_id"], "applied": applied,
                                   **self.deliver(prov.name, ev, delay_ms=delay)})
        if sub == "disputes":
            if b.get("provider") not in ("stripe", "paypal"):
                fail(400, {"error": "disputes exist for stripe and paypal only"})
            prov = self.providers[b["provider"]]
            with self.lock:
                did, dispute, ev = prov.open_dispute(b.get("ref"), b.get("amount"))
            return Resp.json(200, {"dispute_id": did, "dispute": dispute,
                                   **self.deliver(prov.name, ev, delay_ms=delay)})
        if m and m.group(3) == "close":
            if b.get("outcome") not in ("won", "lost"):
                fail(400, {"error": "outcome must be won or lost"})
            with self.lock:
                prov = next((p for p in (self.providers["stripe"], self.providers["paypal"])
                             if m.group(2) in p.disputes), None)
                if prov is None:
                    fail(404, {"error": f"unknown dispute {m.group(2)}"})
                if prov.disputes[m.group(2)]["status"] in ("won", "lost", "RESOLVED"):
                    fail(409, {"error": f"dispute {m.group(2)} is already closed"})
                dispute, ev = prov.close_dispute(prov.disputes[m.group(2)], b["outcome"])
            return Resp.json(200, {"dispute_id": m.group(2), "dispute": dispute,
                                   **self.deliver(prov.name, ev, delay_ms=delay)})
        if sub == "ghtk/status":
            return Resp.json(200, self.providers["ghtk"].set_status(b, delay))
        if sub == "paypal/fail-next-capture":
            with self.lock:
                self.providers["paypal"].fail_next = True
            return Resp.json(200, {"fail_next_capture": True})
        fail(404, {"error": f"unknown control call POST /_control/{sub}"})

    def dispatch(self, req: Req) -> Resp:
        if req.path == "/health":
            return Resp(200, b"ok", "text/plain")
        if req.path.startswith("/_control/"):
            return self.control(req, req.path[len("/_control/"):])
        head, _, sub = req.path.lstrip("/").partition("/")
        if head in self.providers:
            return self.providers[head].handle(req, sub)
        fail(404, {"error": f"no route {req.method} {req.path}"})


# ============================================================================ HTTP server

class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "payment-sandbox/1.0"
    sandbox: Sandbox

    def read_body(self) -> bytes:
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            chunks = []
            while (size := int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)) > 0:
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
            while self.rfile.readline() not in (b"\r\n", b"\n", b""):  # trailers
                pass
            return b"".join(chunks)
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n > 0 else b""

    def handle_any(self):
        t0, url = time.monotonic(), urllib.parse.urlsplit(self.path)
        req = Req(self.command, url.path, url.query, self.headers, self.read_body())
        try:
            resp = self.sandbox.dispatch(req)
        except Fail as e:
            resp = e.resp
        except Exception as e:
            traceback.print_exc(file=sys.stderr)
            resp = Resp.json(500, {"error": f"sandbox bug: {type(e).__name__}: {e}"})
        self.send_response(resp.status)
        for k, v in {"Content-Type": resp.ctype, "Content-Length": str(len(resp.body)), **resp.headers}.items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(resp.body)
        self.wfile.flush()
        log("request", method=self.command, path=url.path, status=resp.status,
            ms=round((time.monotonic() - t0) * 1000, 1))
        for fn in req.after:  # webhooks caused by this request go out only after it was answered
            fn()

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = handle_any

    def log_message(self, fmt, *args):  # replaced by the JSON request log
        pass


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (0 = any free port)")
    ap.add_argument("--webhook-base", default="http://127.0.0.1:3000",
                    help="backend base URL for webhooks / IPNs / GHTK updates")
    ap.add_argument("--secrets", help="JSON file {stripe:{…}, paypal:{…}, vnpay:{…}, momo:{…}, ghtk:{…}}")
    ap.add_argument("--self-test", action="store_true", help="check the reference test vectors and exit")
    args = ap.parse_args(argv)
    if args.self_test:
        return self_test()
    if not args.secrets:
        ap.error("--secrets is required")
    sb = Sandbox(args.webhook_base, args.secrets)
    server = ThreadingHTTPServer(("127.0.0.1", args.port), type("BoundHandler", (Handler,), {"sandbox": sb}))
    server.daemon_threads = True
    sb.base_url = f"http://127.0.0.1:{server.server_address[1]}"
    print(f"payment sandbox listening on {sb.base_url} (webhooks to {sb.webhook_base})", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
