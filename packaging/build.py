"""Build Roundtable for the OS this runs on: `python packaging/build.py`.

1. Renders the icon (resources/icons/roundtable.svg) to PNGs in the hicolor sizes, .ico and .icns.
2. Runs PyInstaller with installer.spec: a one-folder build in dist/roundtable/.
3. Packs it the way the OS expects:
   - Linux: dist/roundtable-VERSION-linux-ARCH.tar.gz with install.sh, the .desktop entry, icons, AppStream
     metainfo (an AppImage needs appimagetool, which no package registry ships);
   - Windows: dist/Roundtable-VERSION-setup.exe with Inno Setup's `iscc` (packaging/windows/roundtable.iss);
   - macOS: dist/Roundtable.app, signed ad hoc (or with CODESIGN_IDENTITY), and dist/Roundtable-VERSION.dmg.
4. Prints the bundle's size and what takes the most room.

GPU builds: build llama-cpp-python with the backend first (see the README: CMAKE_ARGS="-DGGML_CUDA=on" or
"-DGGML_METAL=on"); PyInstaller then carries its libraries, and `roundtable hardware` reports the backend.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from app import __version__  # noqa: E402

DIST = ROOT / "dist"
BUILD = ROOT / "build"
ICONS = BUILD / "icons"
HICOLOR_SIZES = (16, 24, 32, 48, 64, 128, 256, 512)
APP_ID = "io.github.roundtable.Roundtable"


def render_icons() -> None:
    """PNGs in the hicolor sizes, and the .ico and .icns the Windows and macOS builds embed."""
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtCore import Qt
    from PySide6.QtGui import QGuiApplication, QImage, QPainter
    from PySide6.QtSvg import QSvgRenderer

    _app = QGuiApplication.instance() or QGuiApplication([])
    renderer = QSvgRenderer(str(ROOT / "resources" / "icons" / "roundtable.svg"))
    ICONS.mkdir(parents=True, exist_ok=True)
    for size in HICOLOR_SIZES:
        image = QImage(size, size, QImage.Format.Format_ARGB32)
        image.fill(Qt.GlobalColor.transparent)
        painter = QPainter(image)
        renderer.render(painter)
        painter.end()
        image.save(str(ICONS / f"{size}.png"))
    QImage(str(ICONS / "256.png")).save(str(ICONS / "roundtable.ico"))
    if sys.platform == "darwin":
        iconset = ICONS / "roundtable.iconset"
        iconset.mkdir(exist_ok=True)
        for size in (16, 32, 128, 256, 512):
            shutil.copy(ICONS / f"{size}.png", iconset / f"icon_{size}x{size}.png")
            if size * 2 in HICOLOR_SIZES:
                shutil.copy(ICONS / f"{size * 2}.png", iconset / f"icon_{size}x{size}@2x.png")
        subprocess.run(["iconutil", "-c", "icns", str(iconset), "-o", str(ICONS / "roundtable.icns")], check=True)


def windows_version_file() -> None:
    numbers = ", ".join((__version__.split(".") + ["0", "0", "0"])[:4])
    (BUILD / "windows-version.txt").write_text(
        f"""VSVersionInfo(
  ffi=FixedFileInfo(filevers=({numbers}), prodvers=({numbers})),
  kids=[StringFileInfo([StringTable('040904B0', [
    StringStruct('CompanyName', 'Roundtable'), StringStruct('FileDescription', 'Roundtable'),
    StringStruct('FileVersion', '{__version__}'), StringStruct('ProductName', 'Roundtable'),
    StringStruct('ProductVersion', '{__version__}')])]), VarFileInfo([VarStruct('Translation', [1033, 1200])])]
)
""",
        encoding="utf-8",
    )


def pyinstaller() -> Path:
    if sys.platform == "win32":
        windows_version_file()
    command = [sys.executable, "-m", "PyInstaller", "--noconfirm", "--clean", "--log-level", "WARN"]
    subprocess.run(
        [*command, "--distpath", str(DIST), "--workpath", str(BUILD / "pyinstaller"), "installer.spec"],
        cwd=ROOT,
        check=True,
    )
    return DIST / "roundtable"


def linux_tarball(bundle: Path) -> Path:
    """The bundle with install.sh, the .desktop entry, icons and metainfo, as one .tar.gz."""
    name = f"roundtable-{__version__}-linux-{platform.machine()}"
    stage = BUILD / name
    shutil.rmtree(stage, ignore_errors=True)
    shutil.copytree(bundle, stage / "roundtable", symlinks=True)
    linux = ROOT / "packaging" / "linux"
    for file in ("install.sh", "roundtable.desktop", f"{APP_ID}.metainfo.xml"):
        shutil.copy(linux / file, stage / file)
    for size in HICOLOR_SIZES:
        target = stage / "icons" / "hicolor" / f"{size}x{size}" / "apps"
        target.mkdir(parents=True, exist_ok=True)
        shutil.copy(ICONS / f"{size}.png", target / "roundtable.png")
    scalable = stage / "icons" / "hicolor" / "scalable" / "apps"
    scalable.mkdir(parents=True)
    shutil.copy(ROOT / "resources" / "icons" / "roundtable.svg", scalable / "roundtable.svg")
    archive = DIST / f"{name}.tar.gz"
    with tarfile.open(archive, "w:gz", compresslevel=6) as tar:
        tar.add(stage, arcname=name)
    return archive


def windows_installer(bundle: Path) -> Path | None:
    iscc = shutil.which("iscc") or shutil.which("ISCC")
    if iscc is None:
        print(
            "Inno Setup's iscc is not on PATH: the folder build is in dist/roundtable;"
            " install Inno Setup 6 for the setup.exe"
        )
        return None
    script = ROOT / "packaging" / "windows" / "roundtable.iss"
    subprocess.run([iscc, f"/DAppVersion={__version__}", f"/DSourceDir={bundle}", f"/O{DIST}", str(script)], check=True)
    return DIST / f"Roundtable-{__version__}-setup.exe"


def macos_dmg() -> Path:
    subprocess.run(["bash", str(ROOT / "packaging" / "macos" / "make_dmg.sh"), __version__], cwd=ROOT, check=True)
    return DIST / f"Roundtable-{__version__}.dmg"


def report(bundle: Path, package: Path | None) -> None:
    """The bundle's size and what takes the most room in it."""
    files = [p for p in bundle.rglob("*") if p.is_file() and not p.is_symlink()]
    total = sum(p.stat().st_size for p in files)
    print(f"\nbundle: {bundle} — {total / 1e6:.0f} MB in {len(files)} files")
    groups: dict[str, int] = {}
    for path in files:
        parts = path.relative_to(bundle).parts
        key = "/".join(parts[:3] if parts[0] == "_internal" and len(parts) > 3 else parts[:2])
        groups[key] = groups.get(key, 0) + path.stat().st_size
    for key, size in sorted(groups.items(), key=lambda item: -item[1])[:12]:
        print(f"  {size / 1e6:7.1f} MB  {key}")
    if package is not None:
        print(f"package: {package} — {package.stat().st_size / 1e6:.0f} MB")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--no-package", action="store_true", help="stop after the folder build")
    args = parser.parse_args()
    render_icons()
    bundle = pyinstaller()
    package = None
    if not args.no_package:
        if sys.platform.startswith("linux"):
            package = linux_tarball(bundle)
        elif sys.platform == "win32":
            package = windows_installer(bundle)
        elif sys.platform == "darwin":
            package = macos_dmg()
    report(bundle, package)


if __name__ == "__main__":
    main()
