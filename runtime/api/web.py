"""The browser UI's static files: the page is open (it is the login page too), the API is not."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, FastAPI, HTTPException, Request, status
from fastapi.responses import FileResponse, HTMLResponse
from fastapi.staticfiles import StaticFiles

from core.web import APP_FILE_HEADERS, APP_FILES, SECURITY_HEADERS, with_connect_source

DEFAULT_WEB_DIR = Path(__file__).resolve().parents[2] / "web" / "dist"
MISSING_BUILD = """<!doctype html><meta charset="utf-8"><title>Blu</title>
<p>The web UI has not been built. Run <code>make dev</code> (it builds it) or <code>npm run build:web</code>.</p>"""


def page_headers(request: Request) -> dict[str, str]:
    """The security headers, with the upload staging's origin when the page must reach a plain-HTTP one."""
    state = getattr(request.app.state, "blu", None)
    return with_connect_source(state.transfers.staging.page_origin if state is not None else None)


def mount_web(app: FastAPI, web_dir: Path | None) -> None:
    root = web_dir or DEFAULT_WEB_DIR
    router = APIRouter(include_in_schema=False)

    @router.get("/", response_model=None)
    async def index(request: Request) -> FileResponse | HTMLResponse:
        page = root / "index.html"
        if not page.is_file():
            return HTMLResponse(MISSING_BUILD, status_code=503, headers=SECURITY_HEADERS)
        return FileResponse(page, headers={**page_headers(request), "Cache-Control": "no-cache"})

    def app_file(name: str, media_type: str) -> None:
        @router.get(f"/{name}", name=name)
        async def serve() -> FileResponse:
            path = root / name
            if not path.is_file():
                raise HTTPException(status.HTTP_404_NOT_FOUND, "Not found.")
            return FileResponse(path, media_type=media_type, headers=APP_FILE_HEADERS)

    for name, media_type in APP_FILES.items():
        app_file(name, media_type)

    app.include_router(router)
    for folder in ("assets", "icons"):
        if (root / folder).is_dir():
            app.mount(f"/{folder}", StaticFiles(directory=root / folder), name=folder)
