"""The text a semantic cache embeds for a prompt: conversations, non-text content blocks
and tool calls rendered the same way by both adapters (through :mod:`redis_agent_core.kit`),
and the scope of what the messages send besides that text."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping, Sequence
from typing import Any

import orjson

from .entry import make_scope

__all__ = ["block_text", "conversation_text", "scope_with_sent_besides_text", "tool_call_text"]


# a role written bare; any other (a ChatMessage's free-form role) is quoted, so that no
# role can hold the ": " or the newline that end it
_BARE_ROLE = re.compile(r"[A-Za-z0-9_-]+")


def _continued(content: str) -> str:
    """``content`` with its continuation lines indented: a message's own newline never
    starts a line of the next message."""
    return content.replace("\n", "\n  ") if "\n" in content else content


def conversation_text(messages: Sequence[tuple[str, str]]) -> str:
    """The text a semantic cache embeds for a conversation.

    One user message is its content alone (so a chat prompt and a plain prompt with
    the same question match); otherwise one ``role: content`` line per message.
    A content's own newlines are followed by two spaces: ``human: a`` then ``human: b``
    and one ``human`` message ``"a\nhuman: b"`` are two model inputs, and their texts
    differ (an identical text is served at distance 0, whatever the guards say).
    """
    if len(messages) == 1 and messages[0][0] in ("human", "user"):
        return _continued(messages[0][1])
    return "\n".join(
        f"{role if _BARE_ROLE.fullmatch(role) else orjson.dumps(role).decode()}: "
        f"{_continued(content)}"
        for role, content in messages
    )


# roles whose messages instruct the model rather than ask it: matched exactly
INSTRUCTION_ROLES = frozenset({"system", "developer"})


def scope_with_sent_besides_text(
    scope: str,
    messages: Sequence[Mapping[str, Any]],
    conversation: Sequence[tuple[str, str]] = (),
) -> str:
    """``scope`` narrowed by what each message sends the model besides the text a
    semantic cache embeds (a ``name``, provider kwargs...): two prompts that differ only
    there are different model inputs with the same text, which no similarity can tell
    apart. Empty values are dropped; ``scope`` itself when no message has any (a plain
    conversation keeps the scope it always had). The adapters leave out what changes run
    to run and never reaches the model (message ids, response metadata, call ids).

    ``conversation`` is the ``(role, text)`` of each message (as given to
    :func:`conversation_text`): the text of a system or developer message is matched
    exactly too. It tells the model how to answer, and a prompt that differs only there
    ("You are a pirate." / "You are a helpful assistant.") embeds close enough to be
    served the other's answer, which no guard can see (they compare questions)."""
    kept = [{k: v for k, v in m.items() if v not in (None, "", {}, [])} for m in messages]
    for item, (role, text) in zip(kept, conversation, strict=False):
        if role in INSTRUCTION_ROLES and text:
            item["instructions"] = text
    if not any(kept):
        return scope
    return make_scope({"base": scope, "sent_besides_text": kept})


def _jsonable(value: object) -> object:
    dump = getattr(value, "model_dump", None)
    return dump(mode="json") if callable(dump) else repr(value)


def block_text(kind: str, data: object) -> str:
    """A stable stand-in for a non-text content block (an image, a file...) in the text a
    semantic cache embeds: ``[image `<hash>`]``. The same question about another image
    gets another text, which the guards refuse (a quoted string differs)."""
    raw = orjson.dumps(data, option=orjson.OPT_SORT_KEYS, default=_jsonable)
    return f"[{kind} `{hashlib.sha256(raw).hexdigest()[:16]}`]"


def tool_call_text(call: object) -> str:
    """``[tool call name {args}]`` for a tool-call dict or object (LangChain's ``name`` /
    ``args``, OpenAI's ``function.name`` / ``function.arguments``); ids are left out,
    they change with every run."""
    data = _jsonable(call) if not isinstance(call, Mapping) else call
    if not isinstance(data, Mapping):
        return f"[tool call {data}]"
    inner = data.get("function")
    fn: Mapping[Any, Any] = inner if isinstance(inner, Mapping) else data
    name = fn.get("name") or fn.get("tool_name") or "?"
    args = fn.get("args", fn.get("arguments", fn.get("tool_kwargs", "")))
    if not isinstance(args, str):
        args = orjson.dumps(args, option=orjson.OPT_SORT_KEYS, default=_jsonable).decode()
    return f"[tool call {name} {args}]"
