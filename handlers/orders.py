from handlers.base import BaseHandler


class OrderProcessingHandler(BaseHandler):
    pass
