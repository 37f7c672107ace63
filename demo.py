async def load(config):
    pass
