"""A local Amazon ECS that speaks its JSON 1.1 wire protocol for one service whose task runs the real runtime.

UpdateService, DescribeServices, ListTasks and DescribeTasks, as boto3 sends them (point it here with
AWS_ENDPOINT_URL_ECS). Desired count 0 → 1 starts a task that goes PROVISIONING → PENDING → ACTIVATING
(the runtime process starts) → RUNNING once its /health answers, then HEALTHY; 1 → 0 takes it through
DEACTIVATING → STOPPING (SIGTERM) → DEPROVISIONING → STOPPED. A RUNNING and HEALTHY task is "registered" (ECS
reports the container's health check to Cloud Map, which answers only healthy instances) and
`registered_url()` is where the local gateway sends `$default`.

Tests that assert what a stage looks like drive the stages themselves: `hold("PENDING", ...)` stops every
starting task before it enters those stages (HEALTHY is the health check passing) until `release(stage)`,
so no assertion depends on how fast the runtime starts compared with a page's poll interval.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Protocol

TARGET_PREFIX = "AmazonEC2ContainerServiceV20141113."
ACCOUNT = "123456789012"
STARTING = ("PROVISIONING", "PENDING", "ACTIVATING")
# The steps a starting task can be held before: its statuses after PROVISIONING, then the health check.
GATES = ("PENDING", "ACTIVATING", "RUNNING", "HEALTHY")


class Container(Protocol):
    """The task's one container: started by a factory once it answers /health; `stop` sends SIGTERM."""

    @property
    def url(self) -> str: ...

    def stop(self) -> int: ...


class EcsError(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


@dataclass
class Task:
    arn: str
    created_at: float
    last_status: str = "PROVISIONING"
    desired_status: str = "RUNNING"
    health: str = "UNKNOWN"
    times: dict[str, float] = field(default_factory=dict)
    history: list[str] = field(default_factory=lambda: ["PROVISIONING"])
    stop_requested: threading.Event = field(default_factory=threading.Event)
    container: Container | None = None
    stopped_reason: str | None = None
    version: int = 1


class EcsStandin:
    def __init__(
        self,
        *,
        region: str,
        cluster: str,
        service: str,
        start_container: Callable[[], Container],
        stage_seconds: float = 0.5,
    ) -> None:
        self.region = region
        self.cluster = cluster
        self.service = service
        self.start_container = start_container
        self.stage_seconds = stage_seconds
        self.desired = 0
        self.tasks: list[Task] = []
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.errors: list[str] = []
        self.log: list[str] = []  # every transition, timestamped: for a failed test's report
        self.created_at = time.time()
        self._lock = threading.RLock()
        self._gates = threading.Condition(self._lock)
        self._held: set[str] = set()
        self._waiting: set[str] = set()
        self._ready_containers: list[Container] = []
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    # -- control ------------------------------------------------------------------------------------
    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    @property
    def cluster_arn(self) -> str:
        return f"arn:aws:ecs:{self.region}:{ACCOUNT}:cluster/{self.cluster}"

    @property
    def service_arn(self) -> str:
        return f"arn:aws:ecs:{self.region}:{ACCOUNT}:service/{self.cluster}/{self.service}"

    def start(self) -> EcsStandin:
        self._thread.start()
        return self

    def close(self) -> None:
        """Stop every task (SIGTERM to its runtime) and the server."""
        with self._lock:
            self.desired = 0
            self._reconcile()
        self.wait_for(lambda: all(t.last_status == "STOPPED" for t in self.tasks), timeout=90)
        self._server.shutdown()
        self._server.server_close()

    def hold(self, *stages: str) -> None:
        """Starting tasks stop before entering each of `stages` (from GATES) until `release`d."""
        unknown = set(stages) - set(GATES)
        assert not unknown, f"no such gate: {unknown}"
        with self._gates:
            self._held = set(stages)

    def release(self, stage: str) -> None:
        """Let a task held before `stage` go on (and later ones pass it too)."""
        with self._gates:
            self._held.discard(stage)
            self._gates.notify_all()

    def release_all(self) -> None:
        with self._gates:
            self._held.clear()
            self._gates.notify_all()

    def waiting_before(self, stage: str) -> bool:
        """Whether a task is held before `stage` right now."""
        with self._gates:
            return stage in self._waiting

    def provide_container(self, container: Container) -> None:
        """Use an already running container for the next task (a start faster than any poll)."""
        with self._lock:
            self._ready_containers.append(container)

    def report(self) -> str:
        """What happened, for a failed test: transitions, API calls and errors."""
        with self._lock:
            calls = [f"{name} {json.dumps(params, default=str)[:200]}" for name, params in self.calls[-40:]]
            return "\n".join(["# transitions", *self.log[-200:], "# last API calls", *calls, "# errors", *self.errors])

    def calls_to(self, action: str) -> list[dict[str, Any]]:
        return [params for name, params in self.calls if name == action]

    def registered_url(self) -> str | None:
        """The RUNNING task's address, as Cloud Map would answer for the service (None: no instance)."""
        with self._lock:
            for task in self.tasks:
                if (
                    task.last_status == "RUNNING"
                    and task.health == "HEALTHY"
                    and task.desired_status == "RUNNING"
                    and task.container
                ):
                    return task.container.url
        return None

    def wait_for(self, condition: Callable[[], bool], timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while not condition():
            if time.monotonic() > deadline:
                raise AssertionError(f"ECS stand-in: condition not reached; tasks {[t.history for t in self.tasks]}")
            time.sleep(0.05)

    # -- the API ------------------------------------------------------------------------------------
    def handle(self, action: str, params: dict[str, Any]) -> dict[str, Any]:
        with self._lock:
            self.calls.append((action, params))
        handlers: dict[str, Callable[[dict[str, Any]], dict[str, Any]]] = {
            "UpdateService": self._update_service,
            "DescribeServices": self._describe_services,
            "ListTasks": self._list_tasks,
            "DescribeTasks": self._describe_tasks,
        }
        if action not in handlers:
            raise EcsError("UnknownOperationException", f"{action} is not supported by the local stand-in")
        return handlers[action](params)

    def _check_cluster(self, params: dict[str, Any]) -> None:
        if params.get("cluster", "default") not in (self.cluster, self.cluster_arn):
            raise EcsError("ClusterNotFoundException", "Cluster not found.")

    def _update_service(self, params: dict[str, Any]) -> dict[str, Any]:
        self._check_cluster(params)
        if params.get("service") not in (self.service, self.service_arn):
            raise EcsError("ServiceNotFoundException", "Service not found.")
        with self._lock:
            if "desiredCount" in params:
                self.desired = int(params["desiredCount"])
                self._reconcile()
            return {"service": self._service_json()}

    def _describe_services(self, params: dict[str, Any]) -> dict[str, Any]:
        self._check_cluster(params)
        services, failures = [], []
        with self._lock:
            for name in params.get("services", []):
                if name in (self.service, self.service_arn):
                    services.append(self._service_json())
                else:
                    failures.append({"arn": name, "reason": "MISSING"})
        return {"services": services, "failures": failures}

    def _list_tasks(self, params: dict[str, Any]) -> dict[str, Any]:
        self._check_cluster(params)
        wanted = params.get("desiredStatus", "RUNNING")
        name = params.get("serviceName")
        with self._lock:
            if name is not None and name not in (self.service, self.service_arn):
                raise EcsError("ServiceNotFoundException", "Service not found.")
            return {"taskArns": [t.arn for t in self.tasks if t.desired_status == wanted]}

    def _describe_tasks(self, params: dict[str, Any]) -> dict[str, Any]:
        self._check_cluster(params)
        tasks, failures = [], []
        with self._lock:
            for ref in params.get("tasks", []):
                task = next((t for t in self.tasks if ref in (t.arn, t.arn.rsplit("/", 1)[-1])), None)
                if task is None:
                    failures.append({"arn": ref, "reason": "MISSING"})
                else:
                    tasks.append(self._task_json(task))
        return {"tasks": tasks, "failures": failures}

    # -- the scheduler ------------------------------------------------------------------------------
    def _reconcile(self) -> None:
        wanted = [t for t in self.tasks if t.desired_status == "RUNNING"]
        while len(wanted) < self.desired:
            task = Task(arn=f"arn:aws:ecs:{self.region}:{ACCOUNT}:task/{self.cluster}/{uuid.uuid4().hex}", created_at=0)
            task.created_at = task.times["createdAt"] = time.time()
            self.tasks.append(task)
            wanted.append(task)
            threading.Thread(target=self._run, args=(task,), daemon=True).start()
        for task in sorted(wanted, key=lambda t: t.created_at, reverse=True)[: max(0, len(wanted) - self.desired)]:
            task.desired_status = "STOPPED"
            task.stopped_reason = "Scaling activity initiated by (deployment ecs-svc/1234567890123456789)"
            task.stop_requested.set()

    def _advance(self, task: Task, status: str, *stamps: str, health: str | None = None) -> None:
        with self._lock:
            now = time.time()
            for name in stamps:
                task.times[name] = now
            task.last_status = status
            if health:
                task.health = health
            task.version += 1
            if task.history[-1] != status:
                task.history.append(status)
            suffix = f" ({health})" if health else ""
            self.log.append(f"{now:.3f} {task.arn.rsplit('/', 1)[-1][:8]} {status}{suffix}")

    def _run(self, task: Task) -> None:
        try:
            if self._starting(task):
                task.stop_requested.wait()
        except Exception as error:  # a runtime that does not start: the task stops, as in ECS
            self.errors.append(repr(error))
            task.stopped_reason = f"Essential container in task exited: {error}"
        self._stopping(task)

    def _gate(self, task: Task, stage: str) -> bool:
        """Wait a stage's time, then while `stage` is held; False when the task is asked to stop meanwhile."""
        if task.stop_requested.wait(self.stage_seconds):
            return False
        with self._gates:
            while stage in self._held:
                self._waiting.add(stage)
                self._gates.wait(0.05)
                if task.stop_requested.is_set():
                    self._waiting.discard(stage)
                    return False
            self._waiting.discard(stage)
        return True

    def _container(self) -> Container:
        with self._lock:
            if self._ready_containers:
                return self._ready_containers.pop(0)
        return self.start_container()  # returns once its /health answers

    def _starting(self, task: Task) -> bool:
        for status, stamps in (("PENDING", ("pullStartedAt",)), ("ACTIVATING", ("pullStoppedAt",))):
            if not self._gate(task, status):
                return False
            self._advance(task, status, *stamps)
        if not self._gate(task, "RUNNING"):
            return False
        task.container = self._container()
        self._advance(task, "RUNNING", "startedAt", "connectivityAt")
        if not self._gate(task, "HEALTHY"):
            return False
        self._advance(task, "RUNNING", health="HEALTHY")
        return True

    def _stopping(self, task: Task) -> None:
        self._advance(task, "DEACTIVATING", "stoppingAt")
        time.sleep(self.stage_seconds)
        self._advance(task, "STOPPING")
        if task.container is not None:
            task.container.stop()  # SIGTERM; waits for the graceful shutdown
        self._advance(task, "DEPROVISIONING", "executionStoppedAt")
        time.sleep(self.stage_seconds)
        with self._lock:
            task.desired_status = "STOPPED"
        self._advance(task, "STOPPED", "stoppedAt")

    # -- JSON shapes --------------------------------------------------------------------------------
    def _service_json(self) -> dict[str, Any]:
        running = sum(1 for t in self.tasks if t.last_status == "RUNNING")
        pending = sum(1 for t in self.tasks if t.last_status in STARTING and t.desired_status == "RUNNING")
        counts = {"desiredCount": self.desired, "runningCount": running, "pendingCount": pending}
        return {
            "serviceArn": self.service_arn,
            "serviceName": self.service,
            "clusterArn": self.cluster_arn,
            "status": "ACTIVE",
            **counts,
            "taskDefinition": f"arn:aws:ecs:{self.region}:{ACCOUNT}:task-definition/blu:1",
            "capacityProviderStrategy": [{"capacityProvider": "FARGATE_SPOT", "weight": 1, "base": 0}],
            "platformVersion": "1.4.0",
            "platformFamily": "Linux",
            "deployments": [
                {"id": "ecs-svc/1234567890123456789", "status": "PRIMARY", "rolloutState": "COMPLETED", **counts}
            ],
            "events": [],
            "createdAt": self.created_at,
            "schedulingStrategy": "REPLICA",
            "deploymentController": {"type": "ECS"},
            "enableExecuteCommand": False,
        }

    def _task_json(self, task: Task) -> dict[str, Any]:
        body: dict[str, Any] = {
            "taskArn": task.arn,
            "clusterArn": self.cluster_arn,
            "taskDefinitionArn": f"arn:aws:ecs:{self.region}:{ACCOUNT}:task-definition/blu:1",
            "group": f"service:{self.service}",
            "startedBy": "ecs-svc/1234567890123456789",
            "lastStatus": task.last_status,
            "desiredStatus": task.desired_status,
            "healthStatus": task.health,
            "capacityProviderName": "FARGATE_SPOT",
            "launchType": "FARGATE",
            "platformVersion": "1.4.0",
            "platformFamily": "Linux",
            "cpu": "1024",
            "memory": "2048",
            "availabilityZone": f"{self.region}a",
            "connectivity": "CONNECTED" if "connectivityAt" in task.times else "DISCONNECTED",
            "version": task.version,
            "containers": [
                {
                    "containerArn": f"{task.arn.replace(':task/', ':container/')}/app",
                    "taskArn": task.arn,
                    "name": "App",
                    "lastStatus": task.last_status,
                    "healthStatus": task.health,
                }
            ],
            **task.times,
        }
        if task.desired_status == "STOPPED":
            body["stopCode"] = "ServiceSchedulerInitiated"
            body["stoppedReason"] = task.stopped_reason or "Task stopped"
        return body


def _handler(standin: EcsStandin) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            pass

        def do_POST(self) -> None:
            raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            target = self.headers.get("X-Amz-Target", "")
            try:
                if not target.startswith(TARGET_PREFIX):
                    raise EcsError("UnknownOperationException", f"unknown target {target!r}")
                status, body = 200, standin.handle(target.removeprefix(TARGET_PREFIX), json.loads(raw or b"{}"))
            except EcsError as error:
                status, body = 400, {"__type": error.code, "message": str(error)}
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/x-amz-json-1.1")
            self.send_header("Content-Length", str(len(data)))
            self.send_header("x-amzn-RequestId", str(uuid.uuid4()))
            self.end_headers()
            self.wfile.write(data)

    return Handler
