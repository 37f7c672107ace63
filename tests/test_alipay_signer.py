"""alipay.signer: signing strings, RSA2 against an independent implementation, key formats,
raw-substring response verification."""
import base64
import json
import subprocess
import sys

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding
from Crypto.PublicKey import RSA

from alipay import signer
from alipay_sandbox import (ALIPAY_PRIVATE_KEY_PATH, ALIPAY_PUBLIC_KEY_PATH, MERCHANT_PRIVATE_KEY_PATH,
                            MERCHANT_PUBLIC_KEY_PATH)


def read(path):
    with open(path) as f:
        return f.read()


def bare_base64(pem):
    return "".join(line for line in pem.strip().splitlines() if not line.startswith("-----"))


MERCHANT_PRIVATE = signer.load_private_key_file(MERCHANT_PRIVATE_KEY_PATH)
MERCHANT_PUBLIC = signer.load_public_key_file(MERCHANT_PUBLIC_KEY_PATH)
ALIPAY_PRIVATE = signer.load_private_key_file(ALIPAY_PRIVATE_KEY_PATH)
ALIPAY_PUBLIC = signer.load_public_key_file(ALIPAY_PUBLIC_KEY_PATH)


# --- strings to sign ----------------------------------------------------------------------

def test_request_sign_string_keeps_sign_type_drops_sign_and_empty_values():
    params = {"method": "alipay.trade.query", "sign": "SIG", "sign_type": "RSA2", "app_id": "2021",
              "empty": "", "none": None, "biz_content": '{"out_trade_no":"1"}'}
    assert signer.request_sign_string(params) == (
        'app_id=2021&biz_content={"out_trade_no":"1"}&method=alipay.trade.query&sign_type=RSA2')


def test_callback_sign_string_drops_sign_and_sign_type():
    params = {"trade_no": "2026", "sign": "SIG", "sign_type": "RSA2", "out_trade_no": "A1",
              "total_amount": "0.10", "body": ""}
    assert signer.callback_sign_string(params) == "out_trade_no=A1&total_amount=0.10&trade_no=2026"


def test_sign_string_sorts_by_ascii_uppercase_first_and_keeps_raw_values():
    params = {"b": "x", "B": "y", "a_b": "1", "aB": "2", "a": "3",
              "subject": "达达 商城 a&b=c+d%20", "notify_url": "http://h/n?x=1 2"}
    # ASCII: 'B' (66) < 'a' (97); 'aB' < 'a_b' because 'B' (66) < '_' (95).
    assert signer.request_sign_string(params) == (
        "B=y&a=3&aB=2&a_b=1&b=x&notify_url=http://h/n?x=1 2&subject=达达 商城 a&b=c+d%20")


def test_sign_request_and_sign_callback_add_only_sign():
    params = {"app_id": "1", "sign_type": "RSA2", "sign": "stale"}
    signed = signer.sign_request(params, MERCHANT_PRIVATE)
    assert set(signed) == {"app_id", "sign_type", "sign"} and signed["sign"] != "stale"
    assert signer.verify("app_id=1&sign_type=RSA2", signed["sign"], MERCHANT_PUBLIC)
    callback = signer.sign_callback(params, ALIPAY_PRIVATE)
    assert signer.verify("app_id=1", callback["sign"], ALIPAY_PUBLIC)
    assert params["sign"] == "stale"   # inputs untouched


# --- RSA2 against the `cryptography` package ----------------------------------------------

def their_private(path):
    return serialization.load_pem_private_key(read(path).encode(), password=None)


def their_public(path):
    return serialization.load_pem_public_key(read(path).encode())


MESSAGE = 'app_id=2021000000000000&biz_content={"subject":"测试 商品 & = +","total_amount":"0.10"}'


def test_our_signature_is_byte_identical_to_cryptography_and_verifies_there():
    ours = signer.sign(MESSAGE, MERCHANT_PRIVATE)
    theirs = their_private(MERCHANT_PRIVATE_KEY_PATH).sign(
        MESSAGE.encode("utf-8"), padding.PKCS1v15(), hashes.SHA256())
    assert "\n" not in ours and len(base64.b64decode(ours)) == 256
    assert base64.b64decode(ours) == theirs   # PKCS#1 v1.5 is deterministic
    their_public(MERCHANT_PUBLIC_KEY_PATH).verify(
        base64.b64decode(ours), MESSAGE.encode("utf-8"), padding.PKCS1v15(), hashes.SHA256())


def test_cryptography_signature_verifies_with_ours_and_not_with_the_other_key():
    theirs = base64.b64encode(their_private(ALIPAY_PRIVATE_KEY_PATH).sign(
        MESSAGE.encode("utf-8"), padding.PKCS1v15(), hashes.SHA256())).decode()
    assert signer.verify(MESSAGE, theirs, ALIPAY_PUBLIC)
    assert not signer.verify(MESSAGE, theirs, MERCHANT_PUBLIC)
    assert not signer.verify(MESSAGE + " ", theirs, ALIPAY_PUBLIC)


@pytest.mark.parametrize("bad", [None, "", "not base64 !!", "QUJD", 12345, b"\x00\x01",
                                 "A" * 344, base64.b64encode(b"\x01" * 255).decode()])
def test_verify_returns_false_on_malformed_signatures(bad):
    assert signer.verify(MESSAGE, bad, ALIPAY_PUBLIC) is False


def test_verify_returns_false_on_bad_keys_and_messages():
    good = signer.sign(MESSAGE, ALIPAY_PRIVATE)
    assert signer.verify(MESSAGE, good, ALIPAY_PUBLIC) is True
    assert signer.verify(MESSAGE, good, "not a key") is False
    assert signer.verify(MESSAGE, good, None) is False
    assert signer.verify(None, good, ALIPAY_PUBLIC) is False
    assert signer.verify(MESSAGE, good[:-4] + "AAA=", ALIPAY_PUBLIC) is False


def test_verify_callback_requires_a_sign_and_detects_tampering():
    params = signer.sign_callback({"out_trade_no": "A1", "total_amount": "0.10", "sign_type": "RSA2"},
                                  ALIPAY_PRIVATE)
    assert signer.verify_callback(params, ALIPAY_PUBLIC)
    assert signer.verify_callback(dict(params, sign_type="RSA"), ALIPAY_PUBLIC)  # not covered
    assert not signer.verify_callback(dict(params, total_amount="0.1"), ALIPAY_PUBLIC)
    assert not signer.verify_callback({k: v for k, v in params.items() if k != "sign"}, ALIPAY_PUBLIC)
    assert not signer.verify_callback(params, MERCHANT_PUBLIC)   # the most common mistake


def test_params_from_arguments_keeps_raw_values():
    args = {"subject": [" 达达\t商城 ".encode()], "x": [b"1", b"2"], "empty": []}
    assert signer.params_from_arguments(args) == {"subject": " 达达\t商城 ", "x": "1"}


# --- keys ---------------------------------------------------------------------------------

def _same_key(a, b):
    return a.n == b.n and a.e == b.e


def test_private_keys_load_from_pkcs1_pkcs8_pem_and_bare_base64():
    pkcs1 = read(MERCHANT_PRIVATE_KEY_PATH)
    assert pkcs1.startswith("-----BEGIN RSA PRIVATE KEY-----")
    pkcs8 = RSA.import_key(pkcs1).export_key("PEM", pkcs=8).decode()
    assert pkcs8.startswith("-----BEGIN PRIVATE KEY-----")
    for text in (pkcs1, pkcs8, bare_base64(pkcs1), bare_base64(pkcs8), pkcs1.encode(), MERCHANT_PRIVATE):
        key = signer.load_private_key(text)
        assert key.has_private() and _same_key(key, MERCHANT_PRIVATE)
    assert read(ALIPAY_PRIVATE_KEY_PATH).startswith("-----BEGIN PRIVATE KEY-----")   # shipped as PKCS#8


def test_public_keys_load_from_pem_pkcs1_pem_and_alipay_bare_base64():
    pem = read(ALIPAY_PUBLIC_KEY_PATH)
    pkcs1 = ALIPAY_PUBLIC.export_key("PEM", pkcs=1).decode()   # "RSA PUBLIC KEY"
    wrapped = "\n".join(bare_base64(pem)[i:i + 64] for i in range(0, len(bare_base64(pem)), 64))
    for text in (pem, pkcs1, bare_base64(pem), "  " + wrapped + "\n"):
        key = signer.load_public_key(text)
        assert not key.has_private() and _same_key(key, ALIPAY_PUBLIC)


def test_key_files_and_mixups_fail_loudly(tmp_path):
    base64_file = tmp_path / "alipay_public_key.txt"
    base64_file.write_text(bare_base64(read(ALIPAY_PUBLIC_KEY_PATH)) + "\n")
    assert _same_key(signer.load_public_key_file(str(base64_file)), ALIPAY_PUBLIC)
    assert signer.load_key_file(MERCHANT_PRIVATE_KEY_PATH).has_private()
    assert not signer.load_key_file(str(base64_file)).has_private()
    with pytest.raises(ValueError):
        signer.load_public_key(read(ALIPAY_PRIVATE_KEY_PATH))
    with pytest.raises(ValueError):
        signer.load_private_key(read(ALIPAY_PUBLIC_KEY_PATH))
    with pytest.raises(ValueError):
        signer.load_public_key("definitely not a key")


def test_dev_key_pairs_match_and_are_2048_bit_and_distinct():
    assert MERCHANT_PRIVATE.size_in_bits() == ALIPAY_PRIVATE.size_in_bits() == 2048
    assert _same_key(MERCHANT_PRIVATE.publickey(), MERCHANT_PUBLIC)
    assert _same_key(ALIPAY_PRIVATE.publickey(), ALIPAY_PUBLIC)
    assert not _same_key(MERCHANT_PUBLIC, ALIPAY_PUBLIC)


# --- synchronous responses ----------------------------------------------------------------

QUERY = "alipay.trade.query"


def signed_body(raw, key=ALIPAY_PRIVATE, template='{"alipay_trade_query_response":%s,"sign":"%s"}'):
    return template % (raw, signer.sign(raw, key))


def test_extract_response_returns_the_exact_raw_substring_with_spacing_and_tricky_strings():
    raw = ('{ "code" : "10000",\n  "msg": "Success", "sub_msg": "括号 } { 和 \\"引号\\" \\\\",'
           ' "nested": {"a": [1, {"b": "}"}]}, "total_amount": "0.10" }')
    body = '{\n  "sign" : "c2ln",  "alipay_trade_query_response" :   %s  ,"other":{"x":"}"}\n}' % raw
    assert signer.extract_response(body, QUERY) == (raw, "c2ln")
    assert signer.extract_response(body.encode("utf-8"), QUERY) == (raw, "c2ln")


def test_extract_response_falls_back_to_error_response_and_survives_garbage():
    assert signer.extract_response('{"error_response":{"code":"40002"}}', QUERY) == ('{"code":"40002"}', None)
    for garbage in ("", "null", "[]", "<html>", '{"alipay_trade_query_response":{"a":"', b"\xff\xfe",
                    '{"alipay_trade_query_response":"text"}', '{"alipay_trade_query_response":{}', "{"):
        assert signer.extract_response(garbage, QUERY)[0] is None


def test_verify_response_checks_raw_bytes_not_a_reserialisation():
    raw = '{"code": "10000", "msg": "Success", "buyer_user_name": "沙箱买家", "total_amount": "88.00"}'
    body = signed_body(raw)
    assert signer.verify_response(body, QUERY, ALIPAY_PUBLIC)["buyer_user_name"] == "沙箱买家"
    # A verifier that re-serialised the parsed dict would sign-check different bytes:
    reserialised = json.dumps(json.loads(raw), ensure_ascii=False, separators=(",", ":"))
    assert not signer.verify(reserialised, signer.extract_response(body, QUERY)[1], ALIPAY_PUBLIC)


def test_verify_response_rejects_tampering_wrong_key_and_missing_sign():
    raw = '{"code":"10000","msg":"Success","trade_status":"WAIT_BUYER_PAY","total_amount":"88.00"}'
    assert signer.verify_response(signed_body(raw), QUERY, ALIPAY_PUBLIC) is not None
    tampered = signed_body(raw).replace("WAIT_BUYER_PAY", "TRADE_SUCCESS")
    assert signer.verify_response(tampered, QUERY, ALIPAY_PUBLIC) is None
    assert signer.verify_response(signed_body(raw, MERCHANT_PRIVATE), QUERY, ALIPAY_PUBLIC) is None
    assert signer.verify_response('{"alipay_trade_query_response":%s}' % raw, QUERY, ALIPAY_PUBLIC) is None
    other_method = signed_body(raw, template='{"alipay_trade_close_response":%s,"sign":"%s"}')
    assert signer.verify_response(other_method, QUERY, ALIPAY_PUBLIC) is None


def test_unsigned_failure_only_accepts_unsigned_non_success_bodies():
    failed = '{"alipay_trade_query_response":{"code":"40002","sub_code":"isv.invalid-app-id"}}'
    assert signer.unsigned_failure(failed, QUERY)["sub_code"] == "isv.invalid-app-id"
    assert signer.unsigned_failure('{"alipay_trade_query_response":{"code":"10000"}}', QUERY) is None
    assert signer.unsigned_failure('{"alipay_trade_query_response":{"msg":"no code"}}', QUERY) is None
    assert signer.unsigned_failure(signed_body('{"code":"40004"}'), QUERY) is None


def test_importing_the_sandbox_constants_starts_nothing_and_pulls_no_tornado():
    code = ("import sys, alipay_sandbox as s; assert s.DEFAULT_GATEWAY == 'http://127.0.0.1:8090/gateway.do';"
            "assert s.DEFAULT_PORT == 8090 and s.APP_ID and s.SELLER_ID.startswith('2088');"
            "assert 'tornado' not in sys.modules and 'alipay_sandbox.server' not in sys.modules")
    subprocess.run([sys.executable, "-c", code], check=True, cwd=__file__.rsplit("/tests/", 1)[0])
