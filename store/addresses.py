"""The address book. Orders keep a snapshot of the address, so a deletion is soft."""
from db import Q, rows, run_transaction
from store.errors import BAD_ADDRESS, BusinessError

MAX_ADDRESSES = 20


async def list_addresses(services, user_id) -> list:
    """Alive addresses, the default first, then newest first."""
    async with services.pool.acquire() as conn:
        return await rows(Q.list_addresses(conn, user_id=user_id))


async def add_address(services, user_id, fields, wants_default) -> dict:
    """Add one (the first one is the default); at most MAX_ADDRESSES. Returns the stored row."""
    async def add(conn):
        count = await Q.count_alive_addresses(conn, user_id=user_id)
        if count >= MAX_ADDRESSES:
            raise BusinessError(BAD_ADDRESS, f"最多保存{MAX_ADDRESSES}个收货地址")
        is_default = wants_default or count == 0
        if is_default:
            await Q.clear_default_address(conn, user_id=user_id)
        new_id = await Q.add_address(conn, user_id=user_id, is_default=int(is_default), **fields)
        return await Q.get_alive_address(conn, address_id=new_id, user_id=user_id)

    return await run_transaction(services.pool, add)


async def edit_address(services, user_id, address_id, fields, wants_default) -> dict:
    """Change an address (orders keep their snapshot); optionally make it the default. Returns the row."""
    async def work(conn):
        if await Q.get_alive_address(conn, address_id=address_id, user_id=user_id) is None:
            raise BusinessError(BAD_ADDRESS, "收货地址无效")
        await Q.update_address(conn, address_id=address_id, user_id=user_id, **fields)
        if wants_default:
            await Q.clear_default_address(conn, user_id=user_id)
            await Q.set_default_address(conn, address_id=address_id, user_id=user_id)
        return await Q.get_alive_address(conn, address_id=address_id, user_id=user_id)

    return await run_transaction(services.pool, work)


async def make_default(services, user_id, address_id):
    async def work(conn):
        if await Q.get_alive_address(conn, address_id=address_id, user_id=user_id) is None:
            raise BusinessError(BAD_ADDRESS, "收货地址无效")
        await Q.clear_default_address(conn, user_id=user_id)
        await Q.set_default_address(conn, address_id=address_id, user_id=user_id)

    await run_transaction(services.pool, work)


async def remove(services, user_id, address_id):
    """Soft delete; a deleted default passes to the newest remaining address."""
    async def work(conn):
        row = await Q.get_alive_address(conn, address_id=address_id, user_id=user_id)
        if row is None:
            raise BusinessError(BAD_ADDRESS, "收货地址无效")
        await Q.soft_delete_address(conn, address_id=address_id, user_id=user_id)
        if row["is_default"]:
            newest = await Q.newest_alive_address(conn, user_id=user_id)
            if newest:
                await Q.set_default_address(conn, address_id=newest, user_id=user_id)

    await run_transaction(services.pool, work)
