"""Runs the stand-in model as its own process: `python -m runtime.standin --host 127.0.0.1 --port 8765`."""

import argparse

import uvicorn

from runtime.standin.messages_api import StandinConfig, create_app


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m runtime.standin", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--reject-key-marker", default="invalid", help="API keys containing this get a 401")
    parser.add_argument("--default-cwd", default=None, help="base for relative paths if a request names none")
    parser.add_argument("--chunk-delay-ms", type=float, default=0.0, help="pause between streamed chunks")
    parser.add_argument("--log-level", default="info")
    args = parser.parse_args()
    config = StandinConfig(
        reject_key_marker=args.reject_key_marker,
        default_cwd=args.default_cwd,
        chunk_delay_s=args.chunk_delay_ms / 1000,
    )
    print(f"stand-in Messages API on http://{args.host}:{args.port}", flush=True)
    uvicorn.run(create_app(config), host=args.host, port=args.port, log_level=args.log_level)


if __name__ == "__main__":
    main()
