"""Build the deployable artefacts: `chalice package` with infra/resources.json merged in, plus bytecode.

    python -m tools.package OUTDIR   ->   OUTDIR/sam.json, OUTDIR/deployment.zip

Chalice zips carry no .pyc (wheels have none) and /var/task is read-only, so every cold start would compile
botocore and the rest from source (engineering notes §5: ~0.5 s). We add unchecked-hash .pyc files, compiled by
this interpreter, which must therefore be the runtime's Python minor version.
"""

from __future__ import annotations

import compileall
import json
import os
import py_compile
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MERGE_TEMPLATE = ROOT / "infra" / "resources.json"
STAGE = "dev"  # the default; tools.deploy builds its own stage (e.g. prod)
CODE_URI = "./deployment.zip"  # relative to sam.json: both are written side by side
LAMBDA_TASK_ROOT = "/var/task"
ZIP_EPOCH = (1980, 1, 1, 0, 0, 0)  # fixed timestamps: the same inputs give the same zip


def venv_script(name: str) -> str:
    """A console script of the interpreter running us (the venv's), else whatever is on PATH."""
    candidate = Path(sys.executable).parent / name
    return str(candidate) if candidate.exists() else (shutil.which(name) or name)


def chalice_package(dest: Path, stage: str = STAGE) -> Path:
    """Run `chalice package` for ``stage`` into ``dest``; returns ``dest`` (holding sam.json and deployment.zip).

    Chalice writes its cached zip in place (.chalice/deployments/) and reuses any file it finds there, so an
    interrupted build leaves a broken zip that every later build would ship: such a cache entry is removed and
    the build runs once more.
    """
    _run_chalice_package(dest, stage)
    if not zipfile.is_zipfile(dest / "deployment.zip"):
        print("chalice's cached deployment zip is broken: rebuilding it", file=sys.stderr)
        for cached in (ROOT / ".chalice" / "deployments").glob("*.zip"):
            cached.unlink()
        _run_chalice_package(dest, stage)
    return dest


def _run_chalice_package(dest: Path, stage: str) -> None:
    env = dict(os.environ)
    env.setdefault("AWS_DEFAULT_REGION", "ap-south-1")  # chalice refuses to run without a region
    env["PYTHONDONTWRITEBYTECODE"] = "1"  # chalice imports app.py: keep stray .pyc out of vendor/'s links
    command = [venv_script("chalice"), "package", "--stage", stage, "--merge-template", str(MERGE_TEMPLATE)]
    subprocess.run([*command, str(dest)], cwd=ROOT, env=env, check=True, stdout=subprocess.DEVNULL)


def functions_of(template: dict) -> dict[str, dict]:
    return {
        logical_id: resource
        for logical_id, resource in template["Resources"].items()
        if resource["Type"] == "AWS::Serverless::Function"
    }


def check_runtime(template: dict) -> None:
    """Bytecode is only used by the Python minor version that wrote it: refuse to build for another runtime."""
    ours = f"python{sys.version_info.major}.{sys.version_info.minor}"
    runtimes = {resource["Properties"]["Runtime"] for resource in functions_of(template).values()}
    if runtimes != {ours}:
        raise SystemExit(f"the functions run on {sorted(runtimes)}, but this is {ours}: build with that Python")


def add_bytecode(src_zip: Path, dst_zip: Path) -> None:
    """Extract, drop any shipped __pycache__ (stale or another version's), compile, rezip deterministically."""
    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(scratch)
        with zipfile.ZipFile(src_zip) as archive:
            archive.extractall(folder)
        for cache in sorted(folder.rglob("__pycache__"), reverse=True):
            shutil.rmtree(cache)
        # UNCHECKED_HASH: the runtime never stats sources to validate the .pyc, and no mtime goes into them.
        # Paths are recorded as in Lambda (/var/task), not this scratch folder, so that builds are reproducible.
        compiled = compileall.compile_dir(
            folder,
            quiet=1,
            workers=0,
            stripdir=str(folder),
            prependdir=LAMBDA_TASK_ROOT,
            invalidation_mode=py_compile.PycInvalidationMode.UNCHECKED_HASH,
        )
        if not compiled:
            raise SystemExit("compileall failed on some files of the package (listed above)")
        write_zip(folder, dst_zip)


def write_zip(folder: Path, dst_zip: Path) -> None:
    with zipfile.ZipFile(dst_zip, "w", zipfile.ZIP_DEFLATED) as archive:
        files = {path.relative_to(folder).as_posix(): path for path in folder.rglob("*") if path.is_file()}
        for name, path in sorted(files.items()):
            entry = zipfile.ZipInfo(name, date_time=ZIP_EPOCH)
            entry.external_attr = 0o100644 << 16  # world-readable: Lambda runs the code as another user
            entry.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(entry, path.read_bytes())


def build(outdir: Path, stage: str = STAGE) -> tuple[Path, Path]:
    """OUTDIR/sam.json and OUTDIR/deployment.zip (with bytecode) for a chalice stage; returns their paths."""
    outdir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as scratch:
        raw = chalice_package(Path(scratch), stage)
        template = json.loads((raw / "sam.json").read_text())
        check_runtime(template)
        for resource in functions_of(template).values():
            resource["Properties"]["CodeUri"] = CODE_URI
        sam, deployment = outdir / "sam.json", outdir / "deployment.zip"
        add_bytecode(raw / "deployment.zip", deployment)
        sam.write_text(json.dumps(template, indent=2) + "\n")
        print(f"chalice zip   {_size(raw / 'deployment.zip')}")
    print(f"{deployment}  {_size(deployment)}  ({_unzipped(deployment)} unzipped)")
    print(f"{sam}  {len(functions_of(template))} functions")
    return sam, deployment


def _size(path: Path) -> str:
    return f"{path.stat().st_size / 1e6:.1f} MB"


def _unzipped(path: Path) -> str:
    with zipfile.ZipFile(path) as archive:
        infos = archive.infolist()
    return f"{sum(i.file_size for i in infos) / 1e6:.1f} MB, {len(infos)} files"


def main(argv: list[str] | None = None) -> None:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        raise SystemExit("usage: python -m tools.package OUTDIR")
    build(Path(args[0]).resolve())


if __name__ == "__main__":
    main()
