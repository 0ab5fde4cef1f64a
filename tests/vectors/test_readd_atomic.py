"""A HASH re-add of one id is one transaction: ``HDEL`` of the declared fields the new
document lacks and its ``HSET`` (and ``EXPIRE``) in MULTI/EXEC. Sent as separate commands,
a second writer of the same id landing between them (the server reads a large batch in
pieces, and serves other clients between the pieces) left a mixed document: the first
writer's text and ``_metadata`` with the second writer's indexed tag, found by a filter
its own metadata does not match."""

from __future__ import annotations

from typing import Any

import pytest
from redis.connection import AbstractConnection

from redis_agent_core.config import RedisAgentConfig
from redis_agent_core.vectors import F, VectorIndex

FIELDS = {"year": "numeric", "genre": "tag"}


def test_a_re_add_raced_by_another_writer_is_one_writers_document(
    config: RedisAgentConfig, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = VectorIndex("race", dims=2, metric="l2", metadata_fields=FIELDS, config=config)
    second = VectorIndex("race", dims=2, metric="l2", metadata_fields=FIELDS, config=config)
    first.add(["old"], ids=["x"], vectors=[[1.0, 0.0]], metadatas=[{"year": 1990, "genre": "old"}])
    send, read = AbstractConnection.send_packed_command, AbstractConnection.read_response
    early: dict[int, list[Any]] = {}
    fired: list[bool] = []

    def split_send(self: AbstractConnection, command: Any, check_health: bool = True) -> None:
        data = b"".join(command) if isinstance(command, list) else command
        if fired or b"HDEL" not in data:
            return send(self, command, check_health)
        fired.append(True)
        # the server reads the batch in two pieces: the HSET of the re-add is in the second
        cut = data.rindex(b"*", 0, data.index(b"$4\r\nHSET"))
        send(self, [data[:cut]], check_health)
        sent = 2 if data.startswith(b"*1\r\n$5\r\nMULTI") else 1
        early[id(self)] = [read(self) for _ in range(sent)]  # the first piece was served
        second.add(["B"], ids=["x"], vectors=[[0.0, 1.0]], metadatas=[{"genre": "new"}])
        return send(self, [data[cut:]], check_health)

    def read_early(self: AbstractConnection, *args: Any, **kwargs: Any) -> Any:
        waiting = early.get(id(self))
        if waiting:
            return waiting.pop(0)
        return read(self, *args, **kwargs)

    monkeypatch.setattr(AbstractConnection, "send_packed_command", split_send)
    monkeypatch.setattr(AbstractConnection, "read_response", read_early)
    first.add(["A"], ids=["x"], vectors=[[1.0, 0.0]], metadatas=[{"year": 2000}])
    monkeypatch.undo()
    assert fired == [True]
    [doc] = first.get(["x"])
    assert (doc.text, doc.metadata) == ("A", {"year": 2000})  # the last writer's, whole
    # no document is found by a value its own metadata does not have
    assert first.search([0.0, 1.0], k=5, filter=F("genre") == "new") == []
    assert [h.id for h in first.search([1.0, 0.0], k=5, filter=F("year") == 2000)] == ["x"]
