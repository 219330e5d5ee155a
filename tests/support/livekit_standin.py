"""A stand-in for LiveKit's worker endpoint (`/agent`): registers a voice worker and dispatches jobs to it."""

from __future__ import annotations

import asyncio
import subprocess
import threading
import time
from collections import defaultdict
from typing import Any

from aiohttp import web
from livekit import api
from livekit.protocol import agent, models

from tests.support.server import free_port

API_KEY = "standin-key"
API_SECRET = "standin-secret-0123456789abcdef0123456789"


class LiveKitStandin:
    """Just enough of LiveKit's worker protocol: the registration, then job dispatch as LiveKit does it.

    `dispatch` sends an availability request, waits for the worker's answer and, when it accepts,
    assigns the job with a room token; every `UpdateJobStatus` the worker sends is kept in
    `job_statuses` (job id -> statuses in order). Runs its own event loop in a thread.
    """

    def __init__(self) -> None:
        self.port = free_port()
        self.url = f"ws://127.0.0.1:{self.port}"
        self.registered = threading.Event()
        self.job_statuses: dict[str, list[int]] = defaultdict(list)
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._runner: web.AppRunner | None = None
        self._ws: web.WebSocketResponse | None = None
        self._answers: dict[str, asyncio.Future[agent.AvailabilityResponse]] = {}
        self._changed = threading.Condition()
        self._jobs = 0

    async def _agent(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        first = agent.WorkerMessage()
        first.ParseFromString(await ws.receive_bytes())
        if first.HasField("register"):
            self._ws = ws
            self.registered.set()
            reply = agent.ServerMessage(register=agent.RegisterWorkerResponse(worker_id="AW_standin"))
            await ws.send_bytes(reply.SerializeToString())
        async for frame in ws:  # keep the connection until the worker leaves
            if not isinstance(frame.data, bytes):
                continue
            message = agent.WorkerMessage()
            message.ParseFromString(frame.data)
            if message.HasField("availability"):
                answer = self._answers.pop(message.availability.job_id, None)
                if answer is not None and not answer.done():
                    answer.set_result(message.availability)
            elif message.HasField("update_job"):
                with self._changed:
                    self.job_statuses[message.update_job.job_id].append(message.update_job.status)
                    self._changed.notify_all()
        return ws

    async def _dispatch(self, room: str, metadata: str) -> str:
        assert self._ws is not None, "no worker registered"
        self._jobs += 1
        job = agent.Job(
            id=f"AJ_standin{self._jobs}",
            type=agent.JobType.JT_ROOM,
            room=models.Room(sid=f"RM_standin{self._jobs}", name=room),
            metadata=metadata,
        )
        answer: asyncio.Future[agent.AvailabilityResponse] = self._loop.create_future()
        self._answers[job.id] = answer
        request = agent.ServerMessage(availability=agent.AvailabilityRequest(job=job))
        await self._ws.send_bytes(request.SerializeToString())
        availability = await answer
        if not availability.available:
            raise RuntimeError(f"the worker turned job {job.id} away")
        token = (
            api.AccessToken(API_KEY, API_SECRET)
            .with_identity(availability.participant_identity or "agent")
            .with_grants(api.VideoGrants(room_join=True, room=room, agent=True))
            .to_jwt()
        )
        assignment = agent.JobAssignment(job=job, url=self.url, token=token)
        await self._ws.send_bytes(agent.ServerMessage(assignment=assignment).SerializeToString())
        return job.id

    def dispatch(self, room: str, metadata: str = "", *, timeout: float = 30) -> str:
        """Offer the registered worker a job in `room`; returns the job id once it is assigned."""
        return asyncio.run_coroutine_threadsafe(self._dispatch(room, metadata), self._loop).result(timeout)

    def wait_for_status(
        self, job_id: str, statuses: set[int], *, worker: subprocess.Popen[Any] | None = None, timeout: float = 60
    ) -> int:
        """Block until the worker reports one of `statuses` (agent.JobStatus values) for the job.

        Raises RuntimeError as soon as `worker` (when given) has exited, TimeoutError after `timeout` s.
        """
        deadline = time.monotonic() + timeout
        with self._changed:
            while not (seen := [s for s in self.job_statuses[job_id] if s in statuses]):
                if worker is not None and worker.poll() is not None:
                    raise RuntimeError(f"the worker exited with {worker.returncode} during job {job_id}")
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(f"job {job_id} reported {self.job_statuses[job_id]}, not {statuses}")
                self._changed.wait(min(left, 0.2))
            return seen[0]

    async def _start(self) -> None:
        app = web.Application()
        app.router.add_get("/agent", self._agent)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", self.port).start()

    def __enter__(self) -> LiveKitStandin:
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._start(), self._loop).result(10)
        return self

    def __exit__(self, *exc: object) -> None:
        if self._runner is not None:
            asyncio.run_coroutine_threadsafe(self._runner.cleanup(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)
