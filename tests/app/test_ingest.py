"""Documents are indexed in passages: every part of a long document is searchable,
and no single model call or Redis command holds a whole large document."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from redis_agent_service.app import AgentService
from redis_agent_service.ingest import ForegroundGate, split_passages, to_passages

from .conftest import Users

SENTENCE = "Redis keeps the working set in memory and persists it to disk. "


def test_a_short_text_is_one_passage_as_is() -> None:
    assert split_passages("  one short text\n\n", 100) == ["  one short text\n\n"]


def test_long_texts_split_on_paragraphs_sentences_then_words() -> None:
    text = "\n\n".join([SENTENCE * 3, SENTENCE * 40, "x" * 250 + " " + "y" * 250])
    parts = split_passages(text, 200)
    assert all(len(p) <= 200 for p in parts)
    assert "".join(parts).replace(" ", "") == text.replace(" ", "").replace("\n", "")
    assert parts[0] == (SENTENCE * 3).strip()  # a paragraph that fits stays whole


def test_passage_ids_and_metadata() -> None:
    split = [split_passages(text, 200) for text in ("short", SENTENCE * 10)]
    items = to_passages(["a", "b"], split, [{"s": 1}, {"s": 2}])
    assert items[0] == {"id": "a", "text": "short", "metadata": {"s": 1}}
    assert [i["id"] for i in items[1:]] == [f"b#{n}" for n in range(len(items) - 1)]
    assert items[1]["metadata"] == {"s": 2, "doc_id": "b", "part": 0}
    with pytest.raises(ValueError, match="also the id of a passage"):
        to_passages(["b", "b#0"], [split_passages(SENTENCE * 10, 200), ["x"]], [{}, {}])


@pytest.mark.slow
async def test_the_end_of_a_long_document_is_retrievable(
    offline_client: tuple[httpx.AsyncClient, AgentService], users: Users
) -> None:
    client, service = offline_client
    filler = " ".join(f"Paragraph {i} talks about caching and memory." for i in range(150))
    ending = "The lighthouse keeper on Skerryvore polishes the lens every Tuesday."
    doc = {"id": "long", "text": filler + "\n\n" + ending, "metadata": {"source": "long.md"}}
    r = await client.post("/documents", json={"documents": [doc]}, headers=users.headers("u"))
    assert r.status_code == 202, r.text
    assert r.json()["count"] == 1 and r.json()["passages"] > 1
    hits = await service.vectors.asearch("Who polishes the lighthouse lens?", k=1)
    assert hits[0].id.startswith("long#")
    assert "lighthouse" in hits[0].text
    assert hits[0].metadata["source"] == "long.md"


async def test_background_batches_wait_for_foreground_model_calls() -> None:
    gate = ForegroundGate(max_defer=5.0)
    order: list[str] = []

    async def background() -> None:
        await gate.background_turn()
        order.append("passages")

    with gate.foreground():
        task = asyncio.create_task(background())
        await asyncio.sleep(0.05)
        order.append("question")
    await task
    assert order == ["question", "passages"]
    # a question that never ends does not starve ingestion
    gate = ForegroundGate(max_defer=0.05)
    with gate.foreground():
        await asyncio.wait_for(gate.background_turn(), 5)


@pytest.mark.slow
async def test_ingestion_runs_on_a_low_priority_thread_with_a_model_of_its_own(
    offline_client: tuple[httpx.AsyncClient, AgentService], users: Users
) -> None:
    """What keeps cached /chat calls fast during a large ingestion (issue 12): the
    passages are embedded and written on the background thread, never on the event
    loop, at a lower CPU priority, by a model instance the questions do not share."""
    import os
    import threading

    client, service = offline_client
    model = service.background_embedder()
    question_model = getattr(service._embedder, "inner", service._embedder)
    assert model is not question_model and model.name == question_model.name
    seen: list[tuple[str, int]] = []
    real_embed = model.embed

    def recording_embed(texts: list[str]) -> object:
        tid = threading.get_native_id()
        seen.append((threading.current_thread().name, os.getpriority(os.PRIO_PROCESS, tid)))
        return real_embed(texts)

    model.embed = recording_embed  # type: ignore[method-assign]
    loop_thread = threading.current_thread().name
    doc = {"id": "d", "text": " ".join(SENTENCE for _ in range(60))}
    r = await client.post("/documents", json={"documents": [doc]}, headers=users.headers("u"))
    assert r.status_code == 202, r.text
    assert len(seen) >= 2  # several batches
    assert all(name.startswith("rap-ingest") and name != loop_thread for name, _ in seen)
    if service._background.lowered:  # Linux: nice is per thread
        assert all(nice >= 10 for _, nice in seen)
    assert await service.vectors.acount() >= len(seen)
