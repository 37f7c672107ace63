from handlers.base import BaseHandler


class PaymentResultHandler(BaseHandler):
    pass
