#!/usr/bin/env sh
# Installs Roundtable for the current user (no root needed): the program under ~/.local/opt/roundtable,
# `roundtable` on the PATH in ~/.local/bin, and the menu entry and icons where desktops look for them.
#   ./install.sh            install (or update)
#   ./install.sh --remove   uninstall (your data in ~/.local/share/roundtable stays)
set -eu
here=$(cd "$(dirname "$0")" && pwd)
prefix=${PREFIX:-$HOME/.local}
data=${XDG_DATA_HOME:-$HOME/.local/share}
app_id=io.github.roundtable.Roundtable

if [ "${1:-}" = "--remove" ]; then
  rm -rf "$prefix/opt/roundtable" "$prefix/bin/roundtable" "$data/applications/roundtable.desktop" \
    "$data/metainfo/$app_id.metainfo.xml"
  find "$data/icons/hicolor" -name 'roundtable.*' -delete 2>/dev/null || true
  echo "Roundtable removed. Your workspaces are still in ${XDG_DATA_HOME:-$HOME/.local/share}/roundtable."
  exit 0
fi

mkdir -p "$prefix/opt" "$prefix/bin" "$data/applications" "$data/metainfo" "$data/icons"
rm -rf "$prefix/opt/roundtable.new"
cp -R "$here/roundtable" "$prefix/opt/roundtable.new"
rm -rf "$prefix/opt/roundtable"
mv "$prefix/opt/roundtable.new" "$prefix/opt/roundtable"
ln -sf "$prefix/opt/roundtable/roundtable" "$prefix/bin/roundtable"
sed "s|^Exec=roundtable|Exec=$prefix/bin/roundtable|" "$here/roundtable.desktop" > "$data/applications/roundtable.desktop"
cp "$here/$app_id.metainfo.xml" "$data/metainfo/"
cp -R "$here/icons/hicolor" "$data/icons/"
command -v update-desktop-database >/dev/null 2>&1 && update-desktop-database -q "$data/applications" || true
command -v gtk-update-icon-cache >/dev/null 2>&1 && gtk-update-icon-cache -q -t "$data/icons/hicolor" || true
echo "Roundtable installed: start it from your applications menu, or run 'roundtable'."
case ":$PATH:" in *":$prefix/bin:"*) ;; *) echo "(add $prefix/bin to your PATH to run 'roundtable' from a shell)";; esac
