"""A workflow that pauses for a human: the same module in every test process."""

from __future__ import annotations

from workflows import Context, Workflow, step
from workflows.events import HumanResponseEvent, InputRequiredEvent, StartEvent, StopEvent


class AskEvent(InputRequiredEvent):
    question: str


class AnswerEvent(HumanResponseEvent):
    answer: str


class Approval(Workflow):
    @step
    async def ask(self, ctx: Context, ev: StartEvent) -> AskEvent:
        await ctx.store.set("draft", ev.get("draft"))
        return AskEvent(question=f"approve {ev.get('draft')}?")

    @step
    async def decide(self, ctx: Context, ev: AnswerEvent) -> StopEvent:
        draft = await ctx.store.get("draft")
        return StopEvent(result=f"{draft}: {ev.answer}")
