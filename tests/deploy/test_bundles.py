"""Each function's zip holds its handler, its dependencies and the shared package, and nothing
else; it imports from the zip alone in a fresh Python of Lambda's version."""

import json
import shutil
import subprocess
import sys
import textwrap
import zipfile

import pytest

from deploy import signoff_app
from deploy.config import load_apex_functions
from local_stack.definition import ROOT
from tests.deploy.conftest import isolated_environment
from tools import bundle

FUNCTIONS = load_apex_functions()
DEPENDENCIES = ("requests", "jsonschema", "balrogclient", "urllib3", "rpds")

# Run by a child interpreter started with -I -S: no site-packages, no PYTHONPATH, no user site.
IMPORT_CHECK = textwrap.dedent("""
    import importlib, json, pkgutil, sys
    bundle_dir, runtime_dir = sys.argv[1], sys.argv[2]
    modules = json.loads(sys.argv[3])
    sys.path[:0] = [bundle_dir, runtime_dir]
    for name in modules:
        importlib.import_module(name)
    import sysaddons
    for found in pkgutil.walk_packages(sysaddons.__path__, "sysaddons."):
        importlib.import_module(found.name)
    import sysconfig
    paths = sysconfig.get_paths()
    print(json.dumps({
        "stdlib": sorted({paths["stdlib"], paths["platstdlib"]}),
        "modules": {name: getattr(module, "__file__", None)
                    for name, module in sorted(sys.modules.items())},
    }))
""")


@pytest.fixture(scope="module")
def zips(tmp_path_factory):
    """Every function's zip, built once for this module."""
    out = tmp_path_factory.mktemp("zips")
    return {
        function.folder: bundle.build_zip(function.directory, out, function.runtime)
        for function in FUNCTIONS
    }


def names_in(zip_path) -> list[str]:
    with zipfile.ZipFile(zip_path) as archive:
        return archive.namelist()


def import_from_zip(lambda_python, runtime_packages, zip_path, extract_to, modules):
    """Import modules from the extracted zip in a fresh interpreter.

    Answers each loaded module's file, having checked that every one comes from the zip, the
    runtime's packages or the standard library.
    """
    with zipfile.ZipFile(zip_path) as archive:
        archive.extractall(extract_to)
    answer = subprocess.run(
        [
            lambda_python,
            "-I",
            "-S",
            "-c",
            IMPORT_CHECK,
            str(extract_to),
            str(runtime_packages),
            json.dumps(modules),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=extract_to,
        env=isolated_environment(),
    )
    assert answer.returncode == 0, answer.stderr[-3000:]
    loaded = json.loads(answer.stdout)
    allowed = (str(extract_to), str(runtime_packages), *loaded["stdlib"])
    outside = {
        name: path
        for name, path in loaded["modules"].items()
        if path and not path.startswith(allowed)
    }
    assert not outside
    return loaded["modules"]


@pytest.mark.parametrize("function", FUNCTIONS, ids=lambda function: function.folder)
def test_zip_holds_handler_dependencies_and_shared_package(zips, function):
    names = names_in(zips[function.folder])

    assert "main.py" in names
    assert "sysaddons/__init__.py" in names
    assert "sysaddons/request.schema.json" in names
    for dependency in DEPENDENCIES:
        assert f"{dependency}/__init__.py" in names, dependency


@pytest.mark.parametrize("function", FUNCTIONS, ids=lambda function: function.folder)
def test_zip_holds_nothing_it_does_not_need(zips, function):
    names = names_in(zips[function.folder])

    assert not [name for name in names if "__pycache__" in name or name.endswith((".pyc", ".pyo"))]
    assert not [name for name in names if "/tests/" in f"/{name}"]
    assert not [name for name in names if name.startswith("bin/")]
    assert not [name for name in names if name.startswith(("boto3/", "botocore/"))]
    assert not [
        name for name in names if name.endswith((".dist-info/RECORD", ".dist-info/INSTALLER"))
    ]
    assert "function.json" not in names
    # Compiled parts are Linux x86_64 builds for Lambda's Python, whatever machine built them.
    extensions = [name for name in names if name.endswith(".so")]
    assert extensions and all(
        "cpython-312-x86_64-linux-gnu" in name or ".abi3." in name for name in extensions
    )


@pytest.mark.parametrize("function", FUNCTIONS, ids=lambda function: function.folder)
def test_zip_imports_cleanly_from_itself_in_a_fresh_interpreter(
    zips, function, lambda_python, runtime_packages, tmp_path
):
    module = function.handler.rpartition(".")[0]
    loaded = import_from_zip(
        lambda_python, runtime_packages, zips[function.folder], tmp_path, [module, *DEPENDENCIES]
    )

    assert loaded[module] == str(tmp_path / "main.py")
    for name in ("sysaddons", *DEPENDENCIES):
        assert loaded[name].startswith(str(tmp_path)), name
    assert loaded["boto3"].startswith(str(runtime_packages))


def test_same_sources_build_the_same_bytes(tmp_path):
    function = FUNCTIONS[0]
    first = bundle.build_zip(function.directory, tmp_path / "first", function.runtime)
    second = bundle.build_zip(function.directory, tmp_path / "second", function.runtime)

    assert first.read_bytes() == second.read_bytes()


def test_changing_a_handler_changes_only_its_zip(tmp_path):
    functions_dir = tmp_path / "apex" / "functions"
    shutil.copytree(
        ROOT / "apex" / "functions", functions_dir, ignore=shutil.ignore_patterns("__pycache__")
    )
    before = {
        path.name: bundle.build_zip(path, tmp_path / "before").read_bytes()
        for path in sorted(functions_dir.iterdir())
    }
    with (functions_dir / "stage_xpi" / "main.py").open("a") as main:
        main.write("# the archive is never overwritten\n")

    after = {
        path.name: bundle.build_zip(path, tmp_path / "after").read_bytes()
        for path in sorted(functions_dir.iterdir())
    }

    assert [name for name in before if before[name] != after[name]] == ["stage_xpi"]


def test_apex_hooks_add_the_bundle_to_the_folder_and_take_it_out_again(tmp_path):
    function_dir = tmp_path / "apex" / "functions" / "stage_xpi"
    shutil.copytree(
        ROOT / "apex" / "functions" / "stage_xpi",
        function_dir,
        ignore=shutil.ignore_patterns("__pycache__"),
    )
    (tmp_path / "apex" / "project.json").write_text((ROOT / "project.json").read_text())
    (function_dir / "__pycache__").mkdir()
    (function_dir / "__pycache__" / "main.cpython-312.pyc").write_bytes(b"stale")
    original = sorted(path.name for path in function_dir.iterdir() if path.name != "__pycache__")
    hook = [sys.executable, str(ROOT / "tools" / "bundle.py")]

    subprocess.run([*hook, "build", "."], cwd=function_dir, check=True, timeout=300)
    built = {
        path.relative_to(function_dir).as_posix()
        for path in function_dir.rglob("*")
        if path.is_file()
    }
    expected = set(bundle.function_files(function_dir))
    subprocess.run([*hook, "clean", "."], cwd=function_dir, check=True, timeout=60)

    # Apex zips the folder as it is after the build hook: exactly the deployer's file list.
    assert built - {"function.json"} == expected
    assert sorted(path.name for path in function_dir.iterdir()) == original


@pytest.mark.skipif(
    not signoff_app.is_present(), reason="apps/signoff/lambda_handler.py is not here yet"
)
def test_signoff_app_zip_holds_the_app_and_imports_cleanly(
    tmp_path, lambda_python, runtime_packages
):
    zip_path = signoff_app.build_zip(tmp_path / "zip")
    names = names_in(zip_path)

    assert "apps/signoff/lambda_handler.py" in names
    assert "sysaddons/__init__.py" in names
    for package in (
        "flask",
        "flask_wtf",
        "authlib",
        "apig_wsgi",
        "requests",
        "jsonschema",
        "balrogclient",
    ):
        assert f"{package}/__init__.py" in names, package
    # The entry point reads its secrets when imported, so it is compiled, not imported, here.
    loaded = import_from_zip(
        lambda_python,
        runtime_packages,
        zip_path,
        tmp_path / "task",
        ["apps.signoff", "apps.signoff.config", "apig_wsgi", "flask_wtf", "authlib"],
    )
    assert loaded["apps.signoff"].startswith(str(tmp_path / "task"))
    compiled = subprocess.run(
        [
            lambda_python,
            "-I",
            "-S",
            "-m",
            "py_compile",
            str(tmp_path / "task" / "apps" / "signoff" / "lambda_handler.py"),
        ],
        capture_output=True,
        text=True,
        timeout=60,
        env=isolated_environment(),
    )
    assert compiled.returncode == 0, compiled.stderr
