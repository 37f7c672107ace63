"""Plain-HTML pages of the sandbox cashier (no templates, no scripts: easy to drive from tests)."""
from html import escape

from .state import money

MERCHANT_NAME = "达达商城 sandbox"

_PAGE = """<!DOCTYPE html>
<html lang="zh-CN"><head><meta charset="utf-8"><title>{title} - 支付宝沙箱 Alipay sandbox</title>
<style>body{{font-family:sans-serif;max-width:36em;margin:3em auto;color:#333}}
h1{{color:#1677ff}} dt{{font-weight:bold}} button{{font-size:1.1em;padding:.4em 1.4em;margin-right:1em}}
#pay{{background:#1677ff;color:#fff;border:0}} .note{{color:#999;font-size:.9em}}</style></head>
<body><h1>{title}</h1>
{content}
<p class="note">本地支付宝沙箱 — local Alipay sandbox, for development only. No real money moves.</p>
</body></html>
"""


def page(title, content):
    return _PAGE.format(title=escape(title), content=content)


def _trade_details(trade):
    return ("<dl>"
            "<dt>商户 Merchant</dt><dd id=\"merchant\">%s (app id %s)</dd>"
            "<dt>商品 Subject</dt><dd id=\"subject\">%s</dd>"
            "<dt>订单号 Order number</dt><dd id=\"out-trade-no\">%s</dd>"
            "<dt>金额 Amount</dt><dd id=\"amount\">¥ %s</dd>"
            "</dl>" % (escape(MERCHANT_NAME), escape(trade.app_id), escape(trade.subject),
                       escape(trade.out_trade_no), money(trade.total_amount)))


def cashier(trade):
    hidden = '<input type="hidden" name="out_trade_no" value="%s">' % escape(trade.out_trade_no)
    return page("支付宝收银台 Cashier", _trade_details(trade) + (
        '<form method="post" action="/cashier/pay" style="display:inline">%s'
        '<button type="submit" id="pay">确认付款 Pay</button></form>'
        '<form method="post" action="/cashier/cancel" style="display:inline">%s'
        '<button type="submit" id="cancel">取消 Cancel</button></form>' % (hidden, hidden)))


def cancelled(trade):
    return page("已取消 Cancelled", _trade_details(trade) + (
        '<p id="status">付款已取消，订单仍待支付。The payment was cancelled; the order still awaits payment.</p>'
        '<p><a id="back" href="/cashier/%s">返回收银台 Back to the cashier</a></p>' % escape(trade.out_trade_no)))


def paid_without_return(trade):
    return page("支付成功 Paid", _trade_details(trade) + '<p id="status">支付成功 TRADE_SUCCESS</p>')


def error(err, trade=None):
    details = _trade_details(trade) if trade is not None else ""
    return page("出错了 Error", details + (
        '<p id="error">错误代码 <code id="code">%s</code> <code id="sub-code">%s</code></p>'
        '<p id="sub-msg">%s</p>' % (escape(err.code), escape(err.sub_code), escape(err.sub_msg))))
