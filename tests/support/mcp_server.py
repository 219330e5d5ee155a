"""A local MCP server (the `mcp` package) for tests, over stdio or streamable HTTP, in its own process.

`python -m tests.support.mcp_server stdio` speaks MCP on stdin/stdout; `... http --headers-log FILE`
serves streamable HTTP at `http://127.0.0.1:<port>/mcp` on a free port and prints `PORT <n>` once
listening; each request's Authorization header is appended to FILE (to check what a client sent).
Tools: `shout(text)` → `SHOUT:<TEXT>` and `secret_word()` → `heron-42` (one for tool-policy tests).
"""

from __future__ import annotations

import argparse
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from mcp.server.mcpserver import MCPServer

server: MCPServer = MCPServer("blu-test")


@server.tool()
def shout(text: str) -> str:
    """Upper-case the text."""
    return "SHOUT:" + text.upper()


@server.tool()
def secret_word() -> str:
    """The word of the day."""
    return "heron-42"


def _serve_http(headers_log: Path | None) -> None:
    import uvicorn

    app = server.streamable_http_app()

    async def logging_app(scope, receive, send):  # type: ignore[no-untyped-def]
        if scope["type"] == "http" and headers_log is not None:
            headers = dict(scope.get("headers") or [])
            with headers_log.open("a", encoding="utf-8") as out:
                out.write(headers.get(b"authorization", b"").decode() + "\n")
        await app(scope, receive, send)

    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    config = uvicorn.Config(logging_app, log_level="warning", lifespan="on")
    uv = uvicorn.Server(config)
    print(f"PORT {sock.getsockname()[1]}", flush=True)
    uv.run(sockets=[sock])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("transport", choices=["stdio", "http"])
    parser.add_argument("--headers-log", type=Path)
    args = parser.parse_args()
    if args.transport == "stdio":
        server.run("stdio")
    else:
        _serve_http(args.headers_log)


def stdio_config() -> dict[str, object]:
    """The `.mcp.json` entry that starts this server over stdio."""
    root = str(Path(__file__).resolve().parents[2])  # the CLI starts it in the session's cwd
    return {
        "type": "stdio",
        "command": sys.executable,
        "args": ["-m", "tests.support.mcp_server", "stdio"],
        "env": {"PYTHONPATH": root},
    }


@contextmanager
def http_server(headers_log: Path | None = None) -> Iterator[str]:
    """Serve over streamable HTTP in a subprocess; yields the URL of its `/mcp` endpoint."""
    command = [sys.executable, "-m", "tests.support.mcp_server", "http"]
    if headers_log is not None:
        command += ["--headers-log", str(headers_log)]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        if not line.startswith("PORT "):
            raise RuntimeError(f"the MCP test server did not start: {line!r}")
        url = f"http://127.0.0.1:{int(line.split()[1])}/mcp"
        _wait_listening(url)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=10)


def _wait_listening(url: str) -> None:
    host, port = url.split("//")[1].split("/")[0].split(":")
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            socket.create_connection((host, int(port)), timeout=0.5).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError("the MCP test server is not listening")


if __name__ == "__main__":
    main()
