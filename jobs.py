"""Background jobs of a server process (filled by the payment-lifecycle work)."""


class Jobs:
    def __init__(self, app):
        self.app = app

    async def stop(self):
        pass


def start(app):
    return Jobs(app)
