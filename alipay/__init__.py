"""Alipay open-platform integration without an SDK: RSA2 signing (``alipay.signer``),
an async gateway client (``alipay.client``) and a local sandbox gateway (``alipay_sandbox``)."""
