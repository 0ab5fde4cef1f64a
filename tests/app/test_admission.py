"""Admission (issue 20): a bounded number of requests per worker in their CPU stages,
the rest waiting in line (never refused), those back from the model first."""

from __future__ import annotations

import asyncio

import pytest

from redis_agent_service.admission import Admission


async def _hold(
    admission: Admission, name: str, order: list[str], release: asyncio.Event, resume: bool = False
) -> None:
    async with admission.slot(resume=resume):
        order.append(name)
        await release.wait()


async def test_limit_holds_and_the_line_is_first_come_first_served() -> None:
    admission = Admission(2)
    order: list[str] = []
    gates = {name: asyncio.Event() for name in "abcde"}
    tasks = [asyncio.create_task(_hold(admission, n, order, gates[n])) for n in "abcde"]
    await asyncio.sleep(0)
    assert order == ["a", "b"] and admission.waiting == 3
    for name in "abcde":
        gates[name].set()
        await asyncio.sleep(0)
        await asyncio.sleep(0)
        assert admission.active <= 2
    await asyncio.gather(*tasks)
    assert order == list("abcde")
    assert admission.peak == 2 and admission.waited == 3 and admission.active == 0


async def test_requests_back_from_the_model_go_before_new_ones() -> None:
    admission = Admission(1)
    order: list[str] = []
    first, rest = asyncio.Event(), asyncio.Event()
    rest.set()
    holder = asyncio.create_task(_hold(admission, "holder", order, first))
    await asyncio.sleep(0)
    new = asyncio.create_task(_hold(admission, "new", order, rest))
    await asyncio.sleep(0)
    back = asyncio.create_task(_hold(admission, "back", order, rest, resume=True))
    await asyncio.sleep(0)
    first.set()
    await asyncio.gather(holder, new, back)
    assert order == ["holder", "back", "new"]


async def test_a_cancelled_waiter_leaves_the_line_and_passes_its_slot_on() -> None:
    admission = Admission(1)
    order: list[str] = []
    first, rest = asyncio.Event(), asyncio.Event()
    rest.set()
    holder = asyncio.create_task(_hold(admission, "holder", order, first))
    await asyncio.sleep(0)
    gone = asyncio.create_task(_hold(admission, "gone", order, rest))
    after = asyncio.create_task(_hold(admission, "after", order, rest))
    await asyncio.sleep(0)
    gone.cancel()
    first.set()
    await asyncio.gather(holder, after)
    with pytest.raises(asyncio.CancelledError):
        await gone
    assert order == ["holder", "after"] and admission.active == 0 and admission.waiting == 0


def test_limit_must_be_positive() -> None:
    with pytest.raises(ValueError, match="positive int"):
        Admission(0)


async def test_a_waiter_cancelled_as_it_is_handed_a_slot_passes_it_on() -> None:
    admission = Admission(1)
    order: list[str] = []
    rest = asyncio.Event()
    rest.set()
    held = admission.slot()
    await held.__aenter__()
    gone = asyncio.create_task(_hold(admission, "gone", order, rest))
    after = asyncio.create_task(_hold(admission, "after", order, rest))
    await asyncio.sleep(0)
    assert admission.waiting == 2
    await held.__aexit__(None, None, None)  # hands the slot to "gone", not yet running
    gone.cancel()
    await after
    with pytest.raises(asyncio.CancelledError):
        await gone
    assert order == ["after"] and admission.active == 0
