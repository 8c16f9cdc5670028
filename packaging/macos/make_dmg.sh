#!/usr/bin/env bash
# Signs dist/Roundtable.app (ad hoc, or with $CODESIGN_IDENTITY, e.g. "Developer ID Application: …") with the
# hardened runtime and entitlements.plist, then makes dist/Roundtable-VERSION.dmg with an Applications link.
# Notarize afterwards with: xcrun notarytool submit dist/Roundtable-VERSION.dmg --keychain-profile NAME --wait
set -euo pipefail
version=${1:?usage: make_dmg.sh VERSION}
cd "$(dirname "$0")/../.."
app=dist/Roundtable.app
[ -d "$app" ] || { echo "no $app: run python packaging/build.py on macOS" >&2; exit 1; }
codesign --force --deep --options runtime --timestamp=none \
  --entitlements packaging/macos/entitlements.plist --sign "${CODESIGN_IDENTITY:--}" "$app"
codesign --verify --deep --strict "$app"
stage=$(mktemp -d)
cp -R "$app" "$stage/"
ln -s /Applications "$stage/Applications"
rm -f "dist/Roundtable-$version.dmg"
hdiutil create -volname Roundtable -srcfolder "$stage" -ov -format UDZO "dist/Roundtable-$version.dmg"
rm -rf "$stage"
echo "dist/Roundtable-$version.dmg"
