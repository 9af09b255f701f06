"""Small jobs and runners shared by the asynciojobs tests (all on the virtual clock)."""

import asyncio

from asynciojobs.fakeclock import fake_clock_run


async def sleeper(seconds, value=None, log=None, name=None):
    """Sleep on the loop clock; log start/end as (event, name, loop time)."""
    loop = asyncio.get_running_loop()
    if log is not None:
        log.append(("start", name, loop.time()))
    await asyncio.sleep(seconds)
    if log is not None:
        log.append(("end", name, loop.time()))
    return seconds if value is None else value


async def boom(seconds=0, message="boom"):
    await asyncio.sleep(seconds)
    raise ValueError(message)


async def forever_loop(period=1.0):
    while True:  # noqa: ASYNC110 - a forever job: it sleeps until cancelled, waits for nothing
        await asyncio.sleep(period)


def run_timed(scheduler, **kwds):
    """Run ``scheduler.co_run()`` on the virtual clock; returns (result, elapsed)."""

    async def main():
        loop = asyncio.get_running_loop()
        start = loop.time()
        result = await scheduler.co_run(**kwds)
        return result, loop.time() - start

    return fake_clock_run(main())
