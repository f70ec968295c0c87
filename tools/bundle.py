"""Apex build and clean hooks: put the shared package and the dependencies into a function's folder.

Apex zips a function's folder after the build hook and runs the clean hook after deploying,
so every zip is self-contained while the repository keeps one copy of the shared package.

    python3 tools/bundle.py build apex/functions/<name>
    python3 tools/bundle.py clean apex/functions/<name>
"""

import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SHARED_PACKAGE = ROOT / "sysaddons"
REQUIREMENTS = ROOT / "requirements.txt"
ADDED = ".bundle-added"
# The Lambda Python runtime ships boto3 and botocore; bundling them again only adds size.
PROVIDED_BY_RUNTIME = ("boto3", "botocore")


def build(function_dir: Path) -> None:
    """Copy the shared package (symlinks resolved) and install the dependencies beside main.py."""
    clean(function_dir)
    before = set(path.name for path in function_dir.iterdir())
    shutil.copytree(
        SHARED_PACKAGE, function_dir / SHARED_PACKAGE.name,
        ignore=shutil.ignore_patterns("__pycache__", "*.pyc"),
    )
    requirements = [
        line.strip() for line in REQUIREMENTS.read_text().splitlines()
        if line.strip() and not line.startswith("#")
        and not line.strip().lower().startswith(PROVIDED_BY_RUNTIME)
    ]
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
         "--no-compile", "--target", str(function_dir), *requirements],
        check=True,
    )
    for cache in function_dir.rglob("__pycache__"):
        shutil.rmtree(cache, ignore_errors=True)
    added = sorted(set(path.name for path in function_dir.iterdir()) - before)
    (function_dir / ADDED).write_text("\n".join(added) + "\n")


def clean(function_dir: Path) -> None:
    """Remove what build added, and nothing else."""
    record = function_dir / ADDED
    if not record.exists():
        return
    for name in record.read_text().split():
        target = function_dir / name
        if target.is_dir() and not target.is_symlink():
            shutil.rmtree(target)
        elif target.exists():
            target.unlink()
    record.unlink()


if __name__ == "__main__":
    if len(sys.argv) != 3 or sys.argv[1] not in ("build", "clean"):
        sys.exit(__doc__)
    {"build": build, "clean": clean}[sys.argv[1]](Path(sys.argv[2]).resolve())
