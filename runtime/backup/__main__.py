"""`python -m runtime.backup list|create|restore|export|import|verify|recover`: backups from a shell."""

from __future__ import annotations

import argparse
import contextlib
import json
import shutil
import sys
import time
from pathlib import Path
from typing import Any

from core.backup.archive import ArchiveError, verify_archive
from core.store import open_store
from runtime.backup.engine import BackupBusy, Backups, RestoreError
from runtime.backup.repository import SnapshotNotFound
from runtime.backup.service import backups_for
from runtime.settings import Settings
from runtime.workspace import PathRejected


def _print(data: Any) -> None:
    print(json.dumps(data, indent=2, ensure_ascii=False, default=str))


def _size(n: float) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} GB"


def _list(backups: Backups, args: argparse.Namespace) -> int:
    snapshots = backups.repository.list(limit=args.limit)
    if args.json:
        _print([s.as_json() for s in snapshots])
        return 0
    if not snapshots:
        print("No snapshots yet. Take one with: python -m runtime.backup create")
    for s in snapshots:
        data = s.as_json()
        store = data["contents"].get("store", {})
        files = sum(data["contents"].get(k, {}).get("files", 0) for k in ("workspace", "state"))
        when = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(data["created_at"]))
        print(
            f"{s.id}  {when}  {_size(s.size):>9}  {data['reason']:<12} "
            f"{store.get('session', 0)} sessions, {store.get('message', 0)} messages, {files} files"
        )
    return 0


def _create(backups: Backups, args: argparse.Namespace) -> int:
    _print(backups.snapshot(args.reason).as_json())
    return 0


def _restore(backups: Backups, args: argparse.Namespace) -> int:
    preview = backups.preview(args.snapshot, session_id=args.session, path=args.file)
    if not args.yes:
        _print(preview)
        print("\nThis is what the restore replaces. Run again with --yes to restore.", file=sys.stderr)
        return 2
    if args.file is not None:
        result = backups.restore_file(args.snapshot, args.file)
    elif args.session is not None:
        result = backups.restore_session(args.snapshot, args.session)
    else:
        result = backups.restore_all(args.snapshot)
    _print(result)
    return 0


def _export(backups: Backups, args: argparse.Namespace) -> int:
    if args.output and Path(args.output).exists():
        raise FileExistsError(f"{args.output} exists; name another file.")
    snapshot_id = args.snapshot or backups.snapshot("export").id
    output = Path(args.output or f"blu-{snapshot_id}.tar.gz")
    with contextlib.closing(backups.repository.open(snapshot_id)) as source, output.open("xb") as out:
        shutil.copyfileobj(source, out, 1024 * 1024)
    print(f"Wrote {output} ({_size(output.stat().st_size)}), snapshot {snapshot_id}")
    return 0


def _import(backups: Backups, args: argparse.Namespace) -> int:
    with Path(args.archive).open("rb") as stream:
        _print(backups.import_archive(stream).as_json())
    return 0


def _verify(backups: Backups, args: argparse.Namespace) -> int:
    path = Path(args.archive)
    with path.open("rb") if path.exists() else contextlib.closing(backups.repository.open(args.archive)) as stream:
        manifest = verify_archive(stream)
    summary = manifest.summary()
    print(f"OK: {manifest.id}, {len(manifest.members)} members, {_size(summary['total_bytes'])} unpacked")
    return 0


def _recover(backups: Backups, args: argparse.Namespace) -> int:
    finished = backups.recover()
    print(f"Finished the interrupted restore of {finished}." if finished else "No restore was interrupted.")
    return 0


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(
        prog="python -m runtime.backup",
        description="Blu's backups, with the same settings (environment) as the server. Stop Blu before a "
        "full restore from here, or restore through the API, which holds new turns back while it works (a "
        "running Blu follows a restore made here within 2 seconds, but takes turns meanwhile).",
    )
    commands = top.add_subparsers(dest="command", required=True)
    listing = commands.add_parser("list", help="snapshots, newest first")
    listing.add_argument("--json", action="store_true")
    listing.add_argument("--limit", type=int, default=50)
    listing.set_defaults(run=_list)
    create = commands.add_parser("create", help="take a snapshot now")
    create.add_argument("--reason", default="manual")
    create.set_defaults(run=_create)
    restore = commands.add_parser("restore", help="show what a restore replaces; with --yes, restore")
    restore.add_argument("snapshot")
    scope = restore.add_mutually_exclusive_group()
    scope.add_argument("--session", help="restore only this session (its messages and transcript)")
    scope.add_argument("--file", help="restore only this workspace file")
    restore.add_argument("--yes", action="store_true", help="restore (without it: only the preview)")
    restore.set_defaults(run=_restore)
    export = commands.add_parser("export", help="write a snapshot (a new one by default) to a file")
    export.add_argument("snapshot", nargs="?")
    export.add_argument("-o", "--output")
    export.set_defaults(run=_export)
    imports = commands.add_parser("import", help="merge an exported archive into this Blu")
    imports.add_argument("archive")
    imports.set_defaults(run=_import)
    verify = commands.add_parser("verify", help="check an archive file (or a stored snapshot) against its manifest")
    verify.add_argument("archive")
    verify.set_defaults(run=_verify)
    recover = commands.add_parser(
        "recover", help="finish a restore a crash interrupted (the server does this on start)"
    )
    recover.set_defaults(run=_recover)
    return top


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    settings = Settings()
    store = open_store(
        table_name=settings.dynamodb_table or None, data_dir=settings.data_dir, region=settings.aws_region
    )
    try:
        code: int = args.run(backups_for(settings, store), args)
        return code
    except (ArchiveError, SnapshotNotFound, RestoreError, BackupBusy, PathRejected, FileExistsError) as exc:
        print(f"Refused: {exc}", file=sys.stderr)
        return 1
    finally:
        store.close()


if __name__ == "__main__":
    sys.exit(main())
