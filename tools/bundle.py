"""Bundles: what goes into a Lambda zip, for Apex's hooks and for the Python deployer alike.

A function's bundle is its own folder, the shared package and the dependencies in
requirements.txt (less what the Lambda runtime already has). Apex zips the function's folder
itself, so its build hook copies the shared package and the dependencies in, and its clean
hook takes them out again; the deployer (``python -m deploy``) asks for a zip instead. Both
walk the same file list, built here.

    python3 tools/bundle.py build apex/functions/<name>         Apex build hook
    python3 tools/bundle.py clean apex/functions/<name>         Apex clean hook
    python3 tools/bundle.py zip apex/functions/<name> OUT_DIR   a zip, as the deployer makes it

Dependencies are installed as Linux x86_64 wheels for the runtime's Python version, whatever
machine builds them, once per requirement list, under build/dependencies/ (delete it to pick up
new releases of unpinned requirements). A zip is the same bytes for the same inputs: entries
sorted, one timestamp and one mode for all, no byte code, tests, scripts or installer records,
and stored uncompressed, because deflate output may differ between zlib builds and an unchanged
function must keep its CodeSha256 wherever it is built.

Only the standard library is used: Apex runs the hooks with whatever ``python3`` is on PATH
(it needs pip).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SHARED_PACKAGE = ROOT / "sysaddons"
REQUIREMENTS = ROOT / "requirements.txt"
BUILD_DIR = ROOT / "build"
DEFAULT_RUNTIME = "python3.12"
# The Lambda Python runtime ships boto3 and botocore; bundling them again only adds size.
PROVIDED_BY_RUNTIME = ("boto3", "botocore")
# Lambda's x86_64 Python 3.12 runtime runs on Amazon Linux 2023, which takes both.
PLATFORMS = ("manylinux2014_x86_64", "manylinux_2_28_x86_64")
# 1980-01-01 is the earliest time a zip entry can carry.
ZIP_TIMESTAMP = (1980, 1, 1, 0, 0, 0)
ZIP_FILE_MODE = 0o100644

# Never in a bundle: caches, tests, and what Apex itself leaves out of a function's zip.
_SKIPPED_DIRECTORIES = {"__pycache__", "tests", ".pytest_cache"}
_SKIPPED_SUFFIXES = (".pyc", ".pyo")
_APEX_CONFIGURATION = ("function.json", ".apexignore")
# pip's record of an installation: RECORD and INSTALLER change with the installer, not the code.
_INSTALLER_RECORDS = {"RECORD", "INSTALLER", "REQUESTED", "direct_url.json"}
# Console scripts carry the building interpreter's path; nothing in Lambda runs them.
_SKIPPED_DEPENDENCY_DIRECTORIES = {"bin"}


class BundleError(Exception):
    """A bundle cannot be built: missing input, clashing file names, or pip failed."""


def python_version(runtime: str) -> str:
    """The Python version of a Lambda runtime name: python3.12 -> 3.12."""
    if not runtime.startswith("python3."):
        raise BundleError(f"runtime {runtime!r} is not a Python 3 Lambda runtime")
    return runtime[len("python") :]


def read_requirements(path: Path) -> list[str]:
    """The requirement lines of a file (following -r), less what the runtime provides."""
    requirements = []
    for raw in path.read_text().splitlines():
        line = raw.split(" #", 1)[0].strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith(("-r ", "--requirement ")):
            included = line.split(None, 1)[1].strip()
            requirements += read_requirements((path.parent / included).resolve())
            continue
        if _project_name(line) in PROVIDED_BY_RUNTIME:
            continue
        requirements.append(line)
    return requirements


def _project_name(requirement: str) -> str:
    name = requirement
    for separator in ("[", "=", "<", ">", "!", "~", ";", " ", "@"):
        name = name.split(separator, 1)[0]
    return name.strip().lower().replace("_", "-")


def install_dependencies(requirements: list[str], runtime: str = DEFAULT_RUNTIME) -> Path:
    """A folder holding the requirements installed for the runtime; reused while they match."""
    version = python_version(runtime)
    key = hashlib.sha256(
        json.dumps([sorted(requirements), version, PLATFORMS]).encode()
    ).hexdigest()[:16]
    target = BUILD_DIR / "dependencies" / f"{runtime}-{key}"
    if (target / ".complete").exists():
        return target

    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}-", dir=target.parent))
    try:
        if requirements:
            _pip_install(requirements, version, staging)
        (staging / ".complete").write_text("\n".join(sorted(requirements)) + "\n")
        try:
            staging.rename(target)
        except OSError:
            # Another build installed the same folder meanwhile; theirs is as good as ours.
            if not (target / ".complete").exists():
                raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return target


def _pip_install(requirements: list[str], version: str, target: Path) -> None:
    platforms = [argument for platform in PLATFORMS for argument in ("--platform", platform)]
    command = [
        sys.executable,
        "-m",
        "pip",
        "install",
        "--quiet",
        "--disable-pip-version-check",
        "--no-input",
        "--no-compile",
        "--target",
        str(target),
        "--implementation",
        "cp",
        "--python-version",
        version,
        *platforms,
        "--only-binary=:all:",
        *requirements,
    ]
    try:
        subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
    except (OSError, subprocess.CalledProcessError) as error:
        raise BundleError(
            f"pip could not install {' '.join(requirements)} for Python {version}: {error}"
        ) from None


def _tree_files(directory: Path, prefix: str, *, dependencies: bool = False) -> dict[str, Path]:
    """Every file under directory that belongs in a bundle, by its name inside the zip."""
    files = {}
    for folder, subfolders, names in os.walk(directory, followlinks=True):
        here = Path(folder)
        relative = here.relative_to(directory)
        subfolders[:] = sorted(
            name
            for name in subfolders
            if name not in _SKIPPED_DIRECTORIES
            and not (
                dependencies and relative == Path(".") and name in _SKIPPED_DEPENDENCY_DIRECTORIES
            )
        )
        in_dist_info = here.name.endswith(".dist-info")
        for name in names:
            if name.endswith(_SKIPPED_SUFFIXES) or (in_dist_info and name in _INSTALLER_RECORDS):
                continue
            if dependencies and relative == Path(".") and name == ".complete":
                continue
            files[(Path(prefix) / relative / name).as_posix()] = here / name
    return files


def _merge(files: dict[str, Path], more: dict[str, Path]) -> None:
    clashes = sorted(set(files) & set(more))
    if clashes:
        raise BundleError(f"two sources put the same file in the bundle: {', '.join(clashes[:5])}")
    files.update(more)


def bundle_files(
    sources: list[tuple[Path, str]],
    requirement_files: list[Path],
    runtime: str = DEFAULT_RUNTIME,
    skip: set[str] | frozenset[str] = frozenset(),
) -> dict[str, Path]:
    """Name in the zip -> file on disk, for folders (each under its prefix) and requirements.

    ``skip`` names top-level entries of the first source to leave out.
    """
    files: dict[str, Path] = {}
    for index, (directory, prefix) in enumerate(sources):
        if not directory.is_dir():
            raise BundleError(f"{directory} is not a folder")
        tree = _tree_files(directory, prefix)
        if index == 0 and skip:
            tree = {name: path for name, path in tree.items() if name.split("/", 1)[0] not in skip}
        _merge(files, tree)

    requirements = [line for path in requirement_files for line in read_requirements(path)]
    dependencies = install_dependencies(requirements, runtime)
    _merge(files, _tree_files(dependencies, "", dependencies=True))
    return files


def function_files(
    function_dir: Path, runtime: str | None = None, shared_package: Path = SHARED_PACKAGE
) -> dict[str, Path]:
    """Everything a function's zip holds: its folder, the shared package, the dependencies."""
    function_dir = Path(function_dir).resolve()
    own_skip = set(_APEX_CONFIGURATION) | set(_hook_added(function_dir))
    own_skip |= {path.name for path in function_dir.glob("function.*.json")}
    return bundle_files(
        [(function_dir, ""), (Path(shared_package), SHARED_PACKAGE.name)],
        [REQUIREMENTS],
        runtime or function_runtime(function_dir),
        skip=own_skip,
    )


def function_runtime(function_dir: Path) -> str:
    """The runtime Apex would deploy the function with: function.json, then project.json."""
    for config in (function_dir / "function.json", function_dir.parent.parent / "project.json"):
        if config.is_file():
            runtime = json.loads(config.read_text()).get("runtime")
            if runtime:
                return runtime
    return DEFAULT_RUNTIME


def write_zip(files: dict[str, Path], zip_path: Path) -> Path:
    """Write the files into a zip that is the same bytes whenever their contents are."""
    zip_path.parent.mkdir(parents=True, exist_ok=True)
    partial = zip_path.with_name(f".{zip_path.name}.partial")
    with zipfile.ZipFile(partial, "w", compression=zipfile.ZIP_STORED) as archive:
        for name in sorted(files):
            entry = zipfile.ZipInfo(name, date_time=ZIP_TIMESTAMP)
            entry.create_system = 3
            entry.external_attr = ZIP_FILE_MODE << 16
            entry.compress_type = zipfile.ZIP_STORED
            archive.writestr(entry, files[name].read_bytes())
    partial.replace(zip_path)
    return zip_path


def build_zip(
    function_dir: Path,
    out_dir: Path,
    runtime: str | None = None,
    shared_package: Path = SHARED_PACKAGE,
) -> Path:
    """The function's zip, written as OUT_DIR/<folder>.zip."""
    function_dir = Path(function_dir).resolve()
    files = function_files(function_dir, runtime, shared_package)
    return write_zip(files, Path(out_dir) / f"{function_dir.name}.zip")


def _hook_record(function_dir: Path) -> Path:
    # Kept outside the function's folder, so Apex does not zip it.
    tag = hashlib.sha256(str(function_dir).encode()).hexdigest()[:12]
    return BUILD_DIR / "apex-hooks" / f"{function_dir.name}-{tag}.added"


def _hook_added(function_dir: Path) -> list[str]:
    record = _hook_record(function_dir)
    return record.read_text().split() if record.is_file() else []


def build(function_dir: Path) -> None:
    """Apex build hook: copy the shared package and the dependencies into the function's folder."""
    function_dir = Path(function_dir).resolve()
    clean(function_dir)
    # Caches left by local runs would otherwise end up in Apex's zip.
    for cache in sorted(function_dir.rglob("__pycache__")):
        shutil.rmtree(cache, ignore_errors=True)

    added = set()
    for name, source in function_files(function_dir).items():
        target = function_dir / name
        if target.resolve() == source.resolve():
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, target)
        added.add(name.split("/", 1)[0])

    record = _hook_record(function_dir)
    record.parent.mkdir(parents=True, exist_ok=True)
    record.write_text("\n".join(sorted(added)) + "\n")


def clean(function_dir: Path) -> None:
    """Apex clean hook: remove what build added, and nothing else."""
    function_dir = Path(function_dir).resolve()
    record = _hook_record(function_dir)
    for name in _hook_added(function_dir):
        target = function_dir / name
        if target.is_dir() and not target.is_symlink():
            shutil.rmtree(target)
        elif target.exists() or target.is_symlink():
            target.unlink()
    record.unlink(missing_ok=True)


def main(arguments: list[str]) -> None:
    """Run the command named on the command line."""
    if len(arguments) == 2 and arguments[0] in ("build", "clean"):
        {"build": build, "clean": clean}[arguments[0]](Path(arguments[1]))
    elif len(arguments) == 3 and arguments[0] == "zip":
        print(build_zip(Path(arguments[1]), Path(arguments[2])))
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    try:
        main(sys.argv[1:])
    except BundleError as error:
        sys.exit(f"bundle: {error}")
