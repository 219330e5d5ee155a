"""Write the OpenAPI document (docs/openapi.json) and the UI's types generated from it (web/src/generated/api.ts)."""

# Usage: python -m scripts.openapi   (or `make api`) after changing a route, a model, a record or an event.
# tests/runtime/test_openapi.py fails while either checked-in file differs from what the code gives.

from __future__ import annotations

import json
import subprocess
import tempfile
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
SCHEMA_FILE = REPO / "docs" / "openapi.json"
TYPES_FILE = REPO / "web" / "src" / "generated" / "api.ts"
GENERATOR = REPO / "node_modules" / ".bin" / "openapi-typescript"


def app_schema() -> dict[str, Any]:
    """The document the app serves at /api/openapi.json (it depends on no setting)."""
    from runtime.app import create_app
    from runtime.settings import Settings

    return create_app(Settings()).openapi()


def render_schema(schema: dict[str, Any]) -> str:
    return json.dumps(schema, indent=2, ensure_ascii=False) + "\n"


def generate_types(schema_text: str) -> str:
    """openapi-typescript's output for a document (run on a copy, so the checked-in one is not needed)."""
    with tempfile.TemporaryDirectory() as folder:
        source, target = Path(folder) / "openapi.json", Path(folder) / "api.ts"
        source.write_text(schema_text)
        subprocess.run(  # noqa: S603 -- fixed arguments, no shell
            [str(GENERATOR), str(source), "--output", str(target)], check=True, capture_output=True, cwd=REPO
        )
        return target.read_text()


def main() -> None:
    schema_text = render_schema(app_schema())
    SCHEMA_FILE.write_text(schema_text)
    TYPES_FILE.parent.mkdir(parents=True, exist_ok=True)
    TYPES_FILE.write_text(generate_types(schema_text))
    print(f"Wrote {SCHEMA_FILE.relative_to(REPO)} and {TYPES_FILE.relative_to(REPO)}")


if __name__ == "__main__":
    main()
