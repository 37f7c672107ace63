"""Plain-HTML pages of the sandbox cashier (no templates, no scripts: easy to drive from tests)."""
from html import escape

from .state import money

MERCHANT_NAME = "达达商城 sandbox"
WAP_PAY = "alipay.trade.wap.pay"

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


# The phone cashier (alipay.trade.wap.pay): fits 320 px and up without horizontal scrolling,
# buttons full width and at least 48 px high; the same ids and forms as the PC cashier.
_PHONE_PAGE = """<!DOCTYPE html>
<html lang="zh-CN"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title} - 支付宝沙箱 Alipay sandbox</title>
<style>*{{box-sizing:border-box}} html,body{{margin:0;overflow-x:hidden}}
body{{font-family:sans-serif;font-size:16px;color:#333;padding:16px;max-width:36em;margin:0 auto}}
h1{{color:#1677ff;font-size:1.3em}} dl{{margin:0 0 16px}} dt{{font-weight:bold;margin-top:8px}}
dd{{margin:0;overflow-wrap:anywhere}} form{{display:block;margin:0 0 12px}}
button{{display:block;width:100%;min-height:48px;font-size:18px;border-radius:8px;border:1px solid #ccc;
background:#fff}} #pay{{background:#1677ff;color:#fff;border:0}} a{{display:inline-block;padding:12px 0}}
code{{overflow-wrap:anywhere}} .note{{color:#999;font-size:.85em}}</style></head>
<body class="phone"><h1>{title}</h1>
{content}
<p class="note">本地支付宝沙箱 — local Alipay sandbox, for development only. No real money moves.</p>
</body></html>
"""


def page(title, content, phone=False):
    return (_PHONE_PAGE if phone else _PAGE).format(title=escape(title), content=content)


def _is_phone(trade):
    return trade is not None and trade.method == WAP_PAY


def _trade_details(trade):
    return ("<dl>"
            "<dt>商户 Merchant</dt><dd id=\"merchant\">%s (app id %s)</dd>"
            "<dt>商品 Subject</dt><dd id=\"subject\">%s</dd>"
            "<dt>订单号 Order number</dt><dd id=\"out-trade-no\">%s</dd>"
            "<dt>金额 Amount</dt><dd id=\"amount\">¥ %s</dd>"
            "</dl>" % (escape(MERCHANT_NAME), escape(trade.app_id), escape(trade.subject),
                       escape(trade.out_trade_no), money(trade.total_amount)))


def _quit_link(trade):
    if not trade.quit_url:
        return ""
    return '<p><a id="quit" href="%s">返回商家 Back to the shop</a></p>' % escape(trade.quit_url)


def cashier(trade):
    """The cashier: PC layout for page pay, phone layout for wap pay (same ids, same forms)."""
    hidden = '<input type="hidden" name="out_trade_no" value="%s">' % escape(trade.out_trade_no)
    phone = _is_phone(trade)
    inline = "" if phone else ' style="display:inline"'
    return page("手机收银台 Cashier" if phone else "支付宝收银台 Cashier", _trade_details(trade) + (
        '<form method="post" action="/cashier/pay"%s>%s'
        '<button type="submit" id="pay">确认付款 Pay</button></form>'
        '<form method="post" action="/cashier/cancel"%s>%s'
        '<button type="submit" id="cancel">取消 Cancel</button></form>' % (inline, hidden, inline, hidden))
        + (_quit_link(trade) if phone else ""), phone)


def cancelled(trade):
    return page("已取消 Cancelled", _trade_details(trade) + (
        '<p id="status">付款已取消，订单仍待支付。The payment was cancelled; the order still awaits payment.</p>'
        '<p><a id="back" href="/cashier/%s">返回收银台 Back to the cashier</a></p>' % escape(trade.out_trade_no))
        + (_quit_link(trade) if _is_phone(trade) else ""), _is_phone(trade))


def paid_without_return(trade):
    return page("支付成功 Paid", _trade_details(trade) + '<p id="status">支付成功 TRADE_SUCCESS</p>', _is_phone(trade))


def error(err, trade=None):
    details = _trade_details(trade) if trade is not None else ""
    return page("出错了 Error", details + (
        '<p id="error">错误代码 <code id="code">%s</code> <code id="sub-code">%s</code></p>'
        '<p id="sub-msg">%s</p>' % (escape(err.code), escape(err.sub_code), escape(err.sub_msg))), _is_phone(trade))
