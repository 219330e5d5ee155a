"""Direct transfers for files too large for API Gateway: staged in the files bucket (AWS) or on disk (locally)."""

from __future__ import annotations

import asyncio
import contextlib
import io
import os
import re
import secrets
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

from itsdangerous import BadSignature, URLSafeSerializer

EXPIRES_SECONDS = 15 * 60  # how long an upload form or a download link works
COMPLETE_WITHIN_SECONDS = 60 * 60  # a slow upload that started in time may still be completed
CHUNK = 1024 * 1024
UPLOAD_PREFIX = "uploads/"
DOWNLOAD_PREFIX = "downloads/"
DONE_SUFFIX = ".done"  # the marker of a completed upload id, beside where its bytes were staged
_ID = re.compile(r"^[0-9a-f]{32}$")


class UnknownUpload(LookupError):
    """An upload id this Blu did not issue (or that was tampered with)."""


class ExpiredUpload(LookupError):
    """An upload id past its time."""


class NothingStaged(LookupError):
    """No bytes have arrived for the upload (yet)."""


class AlreadyArriving(RuntimeError):
    """Another request is sending this upload's bytes right now."""


class SizeMismatch(ValueError):
    """The staged bytes are not the size that was declared."""


@dataclass(frozen=True)
class Upload:
    id: str
    path: str
    size: int
    expires_at: float


@dataclass(frozen=True)
class Target:
    """Where the browser sends an upload's bytes: a form POST (`fields`, then the file) or a raw PUT."""

    method: Literal["POST", "PUT"]
    url: str
    fields: dict[str, str]
    headers: dict[str, str]


class UploadTokens:
    """Upload ids that carry their path, size and deadline, signed so a client cannot retarget them."""

    def __init__(self, secret: str) -> None:
        self._serializer = URLSafeSerializer(secret, salt="blu-upload")

    def issue(self, path: str, size: int, *, now: float) -> tuple[str, Upload]:
        upload = Upload(id=secrets.token_hex(16), path=path, size=size, expires_at=now + COMPLETE_WITHIN_SECONDS)
        token = self._serializer.dumps({"id": upload.id, "path": path, "size": size, "exp": upload.expires_at})
        return str(token), upload

    def read(self, token: str, *, now: float) -> Upload:
        if len(token) > 4096:
            raise UnknownUpload("No such upload.")
        try:
            payload = self._serializer.loads(token)
        except BadSignature as exc:
            raise UnknownUpload("No such upload.") from exc
        if not isinstance(payload, dict) or not _ID.match(str(payload.get("id", ""))):
            raise UnknownUpload("No such upload.")
        upload = Upload(
            id=payload["id"], path=str(payload["path"]), size=int(payload["size"]), expires_at=float(payload["exp"])
        )
        if upload.expires_at < now:
            raise ExpiredUpload("This upload expired; upload the file again.")
        return upload


@dataclass
class Staged:
    """A staged upload's bytes, read once through `chunks`; `close` releases them, read or not."""

    size: int
    chunks: AsyncIterator[bytes]
    close: Callable[[], None]


class Staging:
    """Where upload bytes wait for completion and large downloads are handed out."""

    kind = "local"
    page_origin: str | None = None  # an origin the page must be allowed to connect to for uploads

    def upload_target(self, upload: Upload, token: str) -> Target:
        raise NotImplementedError

    async def open(self, upload_id: str) -> Staged:
        raise NotImplementedError

    async def delete(self, upload_id: str) -> None:
        raise NotImplementedError

    async def open_and_delete(self, upload_id: str) -> None:
        """Delete what is staged under the id (its current version, in a versioned bucket)."""
        staged = await self.open(upload_id)
        staged.close()
        await self.delete(upload_id)

    async def download_url(self, fd: int, size: int, *, name: str, media_type: str, disposition: str) -> str | None:
        """A URL for a copy of the open file, or None when the runtime serves it itself."""
        raise NotImplementedError

    async def mark_done(self, upload_id: str) -> None:
        """Remember beside the staged bytes that the id was completed: a restart must not forget it."""
        raise NotImplementedError

    async def is_done(self, upload_id: str) -> bool:
        raise NotImplementedError


class LocalStaging(Staging):
    """On a laptop: the runtime takes the bytes itself into a private folder outside the workspace."""

    kind = "local"

    def __init__(self, folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        os.chmod(folder, 0o700)
        self.folder = folder
        self._sweep()

    def _sweep(self) -> None:
        """Forget staged bytes nobody completed (their ids have expired)."""
        cutoff = time.time() - COMPLETE_WITHIN_SECONDS
        for item in self.folder.iterdir():
            with contextlib.suppress(OSError):
                if item.lstat().st_mtime < cutoff:
                    item.unlink()

    def _path(self, upload_id: str) -> Path:
        if not _ID.match(upload_id):
            raise UnknownUpload("No such upload.")
        return self.folder / upload_id

    def upload_target(self, upload: Upload, token: str) -> Target:
        return Target(
            method="PUT",
            url=f"/api/files/uploads/{token}/data",
            fields={},
            headers={"Content-Type": "application/octet-stream"},
        )

    async def receive(self, upload: Upload, chunks: AsyncIterator[bytes]) -> int:
        """Keep exactly `upload.size` bytes; more is refused (SizeMismatch) and nothing is kept."""
        final = self._path(upload.id)
        partial = final.with_suffix(".part")
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
        try:
            fd = os.open(partial, flags, 0o600)
        except FileExistsError as exc:
            raise AlreadyArriving("The bytes of this upload are already arriving.") from exc
        written = 0
        try:
            with os.fdopen(fd, "wb") as out:
                async for chunk in chunks:
                    written += len(chunk)
                    if written > upload.size:
                        raise SizeMismatch(f"More bytes arrived than the {upload.size} declared.")
                    out.write(chunk)
            if written != upload.size:
                raise SizeMismatch(f"{written} bytes arrived, not the {upload.size} declared.")
            os.replace(partial, final)
        except BaseException:
            with contextlib.suppress(OSError):
                partial.unlink()
            raise
        return written

    async def open(self, upload_id: str) -> Staged:
        try:
            fd = os.open(self._path(upload_id), os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
        except FileNotFoundError as exc:
            raise NothingStaged("Nothing has been uploaded for this upload yet.") from exc
        size = os.fstat(fd).st_size

        async def chunks() -> AsyncIterator[bytes]:
            while data := os.read(fd, CHUNK):
                yield data

        return Staged(size=size, chunks=chunks(), close=lambda: os.close(fd))

    async def delete(self, upload_id: str) -> None:
        with contextlib.suppress(FileNotFoundError):
            self._path(upload_id).unlink()

    async def download_url(self, fd: int, size: int, *, name: str, media_type: str, disposition: str) -> str | None:
        return None

    def _marker(self, upload_id: str) -> Path:
        return self._path(upload_id).with_name(upload_id + DONE_SUFFIX)

    async def mark_done(self, upload_id: str) -> None:
        self._marker(upload_id).touch()

    async def is_done(self, upload_id: str) -> bool:
        return self._marker(upload_id).exists()


class S3Staging(Staging):
    """In AWS: the browser posts to and reads from the files bucket with presigned, one-key, short-lived URLs."""

    kind = "s3"

    def __init__(self, bucket: str, *, region: str | None, client: Any = None) -> None:
        import boto3
        from botocore.config import Config

        self.bucket = bucket
        # Virtual-hosted style makes URLs name the regional endpoint; by default they name the global one,
        # which answers a POST for a bucket elsewhere with a redirect a browser's upload does not follow.
        # A custom endpoint (the SDK's AWS_ENDPOINT_URL_S3, e.g. a local S3) may be an IP address: left as is.
        self.client = client or boto3.client("s3", region_name=region, config=Config(signature_version="s3v4"))
        endpoint = urlsplit(self.client.meta.endpoint_url)
        if client is None and endpoint.hostname and endpoint.hostname.endswith((".amazonaws.com", ".amazonaws.com.cn")):
            config = Config(signature_version="s3v4", s3={"addressing_style": "virtual"})
            self.client = boto3.client("s3", region_name=region, config=config)
        # The page's CSP admits https: already; a plain-HTTP endpoint (a local S3) must be named.
        self.page_origin = f"{endpoint.scheme}://{endpoint.netloc}" if endpoint.scheme == "http" else None
        self._versions: dict[str, str] = {}

    def upload_target(self, upload: Upload, token: str) -> Target:
        key = UPLOAD_PREFIX + upload.id
        post = self.client.generate_presigned_post(
            Bucket=self.bucket,
            Key=key,
            # S3 refuses a body of any other size than the one declared (and checked against the limit).
            Conditions=[["content-length-range", upload.size, upload.size]],
            ExpiresIn=EXPIRES_SECONDS,
        )
        return Target(method="POST", url=post["url"], fields=dict(post["fields"]), headers={})

    async def open(self, upload_id: str) -> Staged:
        from botocore.exceptions import ClientError

        key = UPLOAD_PREFIX + upload_id
        try:
            response = await asyncio.to_thread(self.client.get_object, Bucket=self.bucket, Key=key)
        except ClientError as exc:
            # Without s3:ListBucket (not granted) a missing key reads as AccessDenied, not NoSuchKey.
            if exc.response.get("Error", {}).get("Code") in ("NoSuchKey", "404", "AccessDenied", "403"):
                raise NothingStaged("Nothing has been uploaded for this upload yet.") from exc
            raise
        if response.get("VersionId"):
            self._versions[upload_id] = response["VersionId"]
        body = response["Body"]

        async def chunks() -> AsyncIterator[bytes]:
            while data := await asyncio.to_thread(body.read, CHUNK):
                yield data

        return Staged(size=int(response["ContentLength"]), chunks=chunks(), close=body.close)

    async def delete(self, upload_id: str) -> None:
        # The bucket is versioned: deleting the version read removes the bytes, not just hides them.
        params: dict[str, str] = {"Bucket": self.bucket, "Key": UPLOAD_PREFIX + upload_id}
        version = self._versions.pop(upload_id, None)
        if version:
            params["VersionId"] = version
        await asyncio.to_thread(self.client.delete_object, **params)

    async def download_url(self, fd: int, size: int, *, name: str, media_type: str, disposition: str) -> str:
        key = DOWNLOAD_PREFIX + secrets.token_hex(16)
        body = io.BufferedReader(_FileSlice(fd, size), buffer_size=CHUNK)
        await asyncio.to_thread(
            self.client.put_object, Bucket=self.bucket, Key=key, Body=body, ContentLength=size, ContentType=media_type
        )
        url: str = self.client.generate_presigned_url(
            "get_object",
            Params={"Bucket": self.bucket, "Key": key, "ResponseContentDisposition": disposition},
            ExpiresIn=EXPIRES_SECONDS,
        )
        return url

    async def mark_done(self, upload_id: str) -> None:
        # Beside the upload's own key, under the prefix the task may write, expired by the same rule.
        key = UPLOAD_PREFIX + upload_id + DONE_SUFFIX
        await asyncio.to_thread(self.client.put_object, Bucket=self.bucket, Key=key, Body=b"")

    async def is_done(self, upload_id: str) -> bool:
        from botocore.exceptions import ClientError

        try:
            await asyncio.to_thread(
                self.client.head_object, Bucket=self.bucket, Key=UPLOAD_PREFIX + upload_id + DONE_SUFFIX
            )
        except ClientError as exc:
            # Without s3:ListBucket (not granted) a missing key reads as 403, not 404.
            if exc.response.get("Error", {}).get("Code") in ("NoSuchKey", "404", "AccessDenied", "403"):
                return False
            raise
        return True


class Transfers:
    """The upload ids in flight: one completion each, a completed id is refused until it expires (across
    restarts: a marker beside the staged bytes)."""

    def __init__(self, tokens: UploadTokens, staging: Staging) -> None:
        self.tokens = tokens
        self.staging = staging
        self._busy: set[str] = set()
        self._done: dict[str, float] = {}

    def claim(self, upload: Upload, *, now: float) -> bool:
        """Whether this caller may complete the upload (no one else is, and no one has)."""
        self._done = {k: v for k, v in self._done.items() if v >= now}
        if upload.id in self._busy or upload.id in self._done:
            return False
        self._busy.add(upload.id)
        return True

    async def release(self, upload: Upload, *, finished: bool) -> None:
        try:
            if finished:
                self._done[upload.id] = upload.expires_at
                await self.staging.mark_done(upload.id)
        finally:
            self._busy.discard(upload.id)

    async def is_finished(self, upload: Upload) -> bool:
        """Completed here, or by an earlier process (its marker in staging outlives a restart)."""
        return upload.id in self._done or await self.staging.is_done(upload.id)


class _FileSlice(io.RawIOBase):
    """The first `size` bytes of an open file, seekable (the SDK reads a body twice: checksum, then send)."""

    def __init__(self, fd: int, size: int) -> None:
        super().__init__()
        self._fd, self._size, self._pos = fd, size, 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        count = min(len(buffer), self._size - self._pos)
        if count <= 0:
            return 0
        data = os.pread(self._fd, count, self._pos)
        buffer[: len(data)] = data
        self._pos += len(data)
        return len(data)

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._pos, io.SEEK_END: self._size}[whence]
        self._pos = max(0, min(self._size, base + offset))
        return self._pos

    def tell(self) -> int:
        return self._pos

    def close(self) -> None:
        # The descriptor belongs to the caller's OpenFile.
        super().close()
