from handlers.base import BaseHandler


class ShipOrderHandler(BaseHandler):
    pass
