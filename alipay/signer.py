"""RSA2 signing and verification for Alipay's open platform (no SDK).

The rules (see /work/shared/spec/alipay.md):
- requests: every parameter except ``sign`` (``sign_type`` included), empty values dropped,
  keys sorted by ASCII, joined ``k=v&k=v`` with raw values;
- return / notify callbacks: the same, but ``sign_type`` is excluded too;
- synchronous responses: the signature covers the exact raw substring of the
  ``<method>_response`` value, which is why it is extracted by scanning, never re-serialised.
RSA PKCS#1 v1.5 over SHA-256 of the UTF-8 string, base64 without newlines.
"""
import base64
import binascii
import json

from Crypto.Hash import SHA256
from Crypto.PublicKey import RSA
from Crypto.Signature import pkcs1_15
from Crypto.Signature.pkcs1_15 import PKCS115_SigScheme

__all__ = [
    "load_private_key", "load_public_key", "load_key_file",
    "load_private_key_file", "load_public_key_file",
    "request_sign_string", "callback_sign_string", "sign", "verify",
    "sign_request", "sign_callback", "verify_callback", "params_from_arguments",
    "extract_response", "verify_response", "unsigned_failure", "response_key",
]


# --- keys ---------------------------------------------------------------------------------

def _import_key(text, default_label):
    if isinstance(text, RSA.RsaKey):
        return text
    if isinstance(text, bytes):
        text = text.decode("ascii")
    text = text.strip()
    if not text.startswith("-----BEGIN"):
        # Alipay hands keys out as bare base64: give them PEM armour. pycryptodome reads
        # the DER inside whatever the label says (PKCS#1 or PKCS#8 / SubjectPublicKeyInfo).
        body = "".join(text.split())
        lines = [body[i:i + 64] for i in range(0, len(body), 64)]
        text = "-----BEGIN %s-----\n%s\n-----END %s-----\n" % (default_label, "\n".join(lines), default_label)
    return RSA.import_key(text)


def load_private_key(text_or_pem):
    """An RSA private key from PEM (PKCS#1 or PKCS#8), bare base64, or an RsaKey (returned as is)."""
    key = _import_key(text_or_pem, "PRIVATE KEY")
    if not key.has_private():
        raise ValueError("expected an RSA private key, got a public key")
    return key


def load_public_key(text):
    """An RSA public key from PEM (SubjectPublicKeyInfo or PKCS#1), bare base64, or an RsaKey.

    A private key is refused: putting a private key where Alipay's public key belongs is
    the classic configuration mistake, and it should fail loudly.
    """
    key = _import_key(text, "PUBLIC KEY")
    if key.has_private():
        raise ValueError("expected an RSA public key, got a private key")
    return key


def _read(path):
    with open(path, "r", encoding="ascii") as f:
        return f.read()


def load_private_key_file(path):
    return load_private_key(_read(path))


def load_public_key_file(path):
    return load_public_key(_read(path))


def load_key_file(path):
    """Whatever RSA key the file holds (private or public), PEM or bare base64."""
    text = _read(path)
    try:
        return _import_key(text, "PRIVATE KEY")
    except ValueError:
        return _import_key(text, "PUBLIC KEY")


# --- strings to sign ----------------------------------------------------------------------

def _sign_string(params, excluded):
    items = []
    for key in sorted(params):
        value = params[key]
        if key in excluded or value is None or value == "":
            continue
        items.append("%s=%s" % (key, value))
    return "&".join(items)


def request_sign_string(params):
    """String to sign for a request: ``sign`` excluded, ``sign_type`` INCLUDED."""
    return _sign_string(params, ("sign",))


def callback_sign_string(params):
    """String to verify for a return or notify: ``sign`` and ``sign_type`` excluded."""
    return _sign_string(params, ("sign", "sign_type"))


# --- RSA2 ---------------------------------------------------------------------------------

def _scheme(key, loader):
    if isinstance(key, PKCS115_SigScheme):
        return key
    return pkcs1_15.new(loader(key))


def signing_scheme(private_key):
    """A reusable pycryptodome signer object (what AlipayClient keeps)."""
    return _scheme(private_key, load_private_key)


def verifying_scheme(public_key):
    return _scheme(public_key, load_public_key)


def sign(message, private_key, charset="utf-8"):
    """RSA PKCS#1 v1.5 / SHA-256 over the message encoded in ``charset`` (the request's
    ``charset``; always UTF-8 here); base64 without newlines.

    ``private_key``: an RsaKey, PEM/base64 text, or a scheme from ``signing_scheme``.
    """
    digest = SHA256.new(message.encode(charset))
    return base64.b64encode(_scheme(private_key, load_private_key).sign(digest)).decode("ascii")


def verify(message, signature, public_key, charset="utf-8"):
    """True only for a valid signature over the message encoded in ``charset``.
    Any malformed input (or a message ``charset`` cannot encode) gives False, never an exception."""
    try:
        scheme = _scheme(public_key, load_public_key)
        raw = base64.b64decode(signature, validate=True)
        scheme.verify(SHA256.new(message.encode(charset)), raw)
        return True
    except (ValueError, TypeError, AttributeError, binascii.Error, UnicodeError, LookupError):
        return False


def sign_request(params, private_key):
    """A copy of the request parameters with ``sign`` added."""
    signed = dict(params)
    signed.pop("sign", None)
    signed["sign"] = sign(request_sign_string(signed), private_key)
    return signed


def sign_callback(params, private_key):
    """A copy of return/notify parameters with ``sign`` added (the sandbox's and tests' side)."""
    signed = dict(params)
    signed.pop("sign", None)
    signed["sign"] = sign(callback_sign_string(signed), private_key)
    return signed


def verify_callback(params, public_key):
    """Verify a return or notify over the raw received strings. False if ``sign`` is missing."""
    signature = params.get("sign")
    if not signature:
        return False
    return verify(callback_sign_string(params), signature, public_key)


def params_from_arguments(arguments):
    """Tornado ``request.query_arguments`` / ``body_arguments`` (bytes lists) → raw str dict.

    ``get_argument`` strips whitespace and replaces control characters, which would break
    signatures; this keeps the first value of each key exactly, decoded as UTF-8.
    Raises UnicodeDecodeError on invalid UTF-8.
    """
    return {key: values[0].decode("utf-8") for key, values in arguments.items() if values}


# --- synchronous responses ----------------------------------------------------------------

def response_key(method):
    return method.replace(".", "_") + "_response"


_WHITESPACE = " \t\r\n"


def _skip_ws(text, i):
    while i < len(text) and text[i] in _WHITESPACE:
        i += 1
    return i


def _string_end(text, i):
    """Index just past the JSON string starting at text[i] == '"' (escape-aware)."""
    i += 1
    while i < len(text):
        ch = text[i]
        if ch == "\\":
            i += 2
            continue
        if ch == '"':
            return i + 1
        i += 1
    raise ValueError("unterminated string")


def _value_end(text, i):
    """Index just past the JSON value starting at text[i]: quote-aware bracket matching."""
    if text[i] == '"':
        return _string_end(text, i)
    if text[i] in "{[":
        depth = 0
        while i < len(text):
            ch = text[i]
            if ch == '"':
                i = _string_end(text, i)
                continue
            if ch in "{[":
                depth += 1
            elif ch in "}]":
                depth -= 1
                if depth == 0:
                    return i + 1
            i += 1
        raise ValueError("unbalanced brackets")
    while i < len(text) and text[i] not in ",}" + _WHITESPACE:  # number, true, false, null
        i += 1
    return i


def _top_level_members(body):
    """{key: raw value substring} of the top-level JSON object, without re-serialising."""
    members = {}
    i = _skip_ws(body, 0)
    if i >= len(body) or body[i] != "{":
        raise ValueError("not a JSON object")
    i = _skip_ws(body, i + 1)
    while i < len(body) and body[i] != "}":
        if body[i] != '"':
            raise ValueError("expected a key at %d" % i)
        end = _string_end(body, i)
        key = json.loads(body[i:end])
        i = _skip_ws(body, end)
        if i >= len(body) or body[i] != ":":
            raise ValueError("expected ':' at %d" % i)
        start = _skip_ws(body, i + 1)
        if start >= len(body):
            raise ValueError("truncated")
        end = _value_end(body, start)
        members.setdefault(key, body[start:end])
        i = _skip_ws(body, end)
        if i < len(body) and body[i] == ",":
            i = _skip_ws(body, i + 1)
    if i >= len(body):
        raise ValueError("truncated object")
    return members


def extract_response(body, method):
    """(raw ``<method>_response`` substring, top-level ``sign``), each None when absent.

    Falls back to ``error_response``, which Alipay uses when it cannot tell the method.
    Never raises on malformed bodies: (None, None).
    """
    if isinstance(body, bytes):
        try:
            body = body.decode("utf-8")
        except UnicodeDecodeError:
            return None, None
    try:
        members = _top_level_members(body)
        raw = members.get(response_key(method)) or members.get("error_response")
        if raw is not None and not raw.startswith("{"):
            raw = None
        signature = members.get("sign")
        signature = json.loads(signature) if signature is not None else None
        if not isinstance(signature, str):
            signature = None
        return raw, signature
    except ValueError:
        return None, None


def verify_response(body, method, public_key):
    """The parsed ``_response`` dict, only if its signature over the raw substring verifies."""
    raw, signature = extract_response(body, method)
    if raw is None or signature is None or not verify(raw, signature, public_key):
        return None
    try:
        content = json.loads(raw)
    except ValueError:
        return None
    return content if isinstance(content, dict) else None


def unsigned_failure(body, method):
    """The ``_response`` dict of an UNSIGNED error body whose code is not 10000, else None.

    Alipay may answer parameter errors without a signature. Such a body proves nothing,
    except that the call failed — so it is only ever accepted as a failure.
    """
    raw, signature = extract_response(body, method)
    if raw is None or signature is not None:
        return None
    try:
        content = json.loads(raw)
    except ValueError:
        return None
    if not isinstance(content, dict) or str(content.get("code", "")) in ("", "10000"):
        return None
    return content
