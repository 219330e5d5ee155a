"""Approvals and questions a person answers, and the tool policy changed at run time."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, HTTPException, Path, status
from pydantic import BaseModel, ConfigDict, Field

from core.auth.responses import Text
from core.store.base import NotFound
from runtime.agent.approvals import Answer, NotAccepting, StaleAnswer, UnknownTool, approval_event, policy_tool_name
from runtime.agent.event_types import Approval
from runtime.agent.manager import QueueFull, ShuttingDown
from runtime.api.deps import ManagerDep, StoreDep, UserAction
from runtime.api.errors import error_responses
from runtime.api.models import Answered, ApprovalList, ListedApproval, ToolPolicy
from runtime.api.sessions import SESSION_ID

router = APIRouter(prefix="/api", tags=["approvals"], dependencies=UserAction)

SessionId = Annotated[str, Path(pattern=SESSION_ID)]
ApprovalId = Annotated[str, Path(pattern=r"^[0-9a-f]{24}$")]
# Checked by the route (policy_tool_name): a refusal says what a tool name is, in words a person reads.
ToolName = Annotated[str, Field(min_length=1, max_length=200)]


class AnswerBody(BaseModel):
    """`allow`, `deny`, `always` (allow, and the tool's policy becomes allow) or `answer` (a question:
    `answers` maps each question's text to the chosen option's label or the person's own words)."""

    model_config = ConfigDict(extra="forbid")
    decision: Literal["allow", "deny", "always", "answer"]
    answers: dict[Annotated[Text, Field(max_length=2000)], Annotated[Text, Field(max_length=4000)]] = Field(
        default_factory=dict, max_length=20
    )
    message: Text = Field("", max_length=4000)


class ToolModeBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    tool: ToolName
    mode: Literal["allow", "ask", "deny"] | None


@router.get("/sessions/{session_id}/approvals", responses=error_responses(404))
async def list_approvals(
    session_id: SessionId, store: StoreDep, manager: ManagerDep, pending: bool = False
) -> ApprovalList:
    """The session's approvals, oldest first (`pending=true`: only those still waiting). `live` says
    whether a turn is paused on it now (false: answering it resumes the work in a new turn)."""
    try:
        await store.get_session(session_id)
    except NotFound as exc:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "Session not found.") from exc
    live = set(manager.approvals.waiters)
    approvals = await store.list_approvals(session_id, pending_only=pending)
    return ApprovalList(
        approvals=[ListedApproval(**approval_event(a), live=a.id in live) for a in approvals],
        pending=sum(1 for a in approvals if a.status == "pending"),
    )


@router.post("/sessions/{session_id}/approvals/{approval_id}", responses=error_responses(404, 409, 429, 503))
async def answer_approval(
    session_id: SessionId, approval_id: ApprovalId, body: AnswerBody, manager: ManagerDep
) -> Answered:
    """Decide a pending approval. The same answer again is a replay (`replayed: true`, nothing changes);
    a different answer to one already decided is 409 with the decision that stands."""
    if body.decision == "answer" and not body.answers and not body.message.strip():
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_ENTITY, "Give an answer: choose an option or write one.")
    answer = Answer(decision=body.decision, answers=dict(body.answers), message=body.message.strip())
    try:
        record, replayed = await manager.approvals.answer(session_id, approval_id, answer)
    except NotFound as exc:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "Approval not found.") from exc
    except StaleAnswer as exc:
        decided = exc.approval
        raise HTTPException(
            status.HTTP_409_CONFLICT,
            {
                "message": f"Already {decided.status} by {decided.decided_by or 'someone'}.",
                "approval": approval_event(decided),
            },
        ) from exc
    except (ShuttingDown, NotAccepting) as exc:
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, "Blu is stopping; answer again in a minute.") from exc
    except QueueFull as exc:
        raise HTTPException(status.HTTP_429_TOO_MANY_REQUESTS, "Too many turns are waiting in this session.") from exc
    return Answered(approval=Approval(**approval_event(record)), replayed=replayed)


@router.get("/tools/policy")
async def get_policy(manager: ManagerDep) -> ToolPolicy:
    """`{"default", "settings": {tool: mode}, "run_time": {tool: mode}}`: run-time entries win."""
    await manager.approvals.load()
    return ToolPolicy(**manager.approvals.policy.describe())


@router.put("/tools/policy")
async def set_policy(body: ToolModeBody, manager: ManagerDep) -> ToolPolicy:
    """Set one tool's mode at run time (`mode: null` removes the entry, named exactly: the settings apply again).
    A new entry must name a tool a call can have (`policy_tool_name`: a built-in tool in any case is stored as
    Claude Code spells it); 422 for one that would match nothing."""
    tool = body.tool
    if body.mode is not None:
        try:
            tool = policy_tool_name(tool)
        except UnknownTool as exc:
            raise HTTPException(status.HTTP_422_UNPROCESSABLE_ENTITY, str(exc)) from exc
    return ToolPolicy(**await manager.approvals.set_mode(tool, body.mode))
