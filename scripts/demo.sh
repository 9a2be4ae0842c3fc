#!/usr/bin/env bash
# The quick start: installs what is missing, builds, lays out a small demo archive from the media shipped
# in test/fixtures, and catalogs it read-only into a demo home. Safe to run again: it starts over.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd)
demo="$repo/.demo"
archive="$demo/archive"
home="$demo/home"

if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "==> npm ci (first run builds better-sqlite3 from source: about two minutes)"
  npm ci --no-audit --no-fund
fi
echo "==> npm run build"
npm run build --silent

echo "==> laying out a demo archive in $archive"
rm -rf "$demo"
media="$repo/test/fixtures/media"
mkdir -p "$archive/2004/canon" "$archive/2008/nikon" "$archive/2012/holiday" "$archive/2021/phone" \
  "$archive/scans" "$archive/broken" "$archive/2021/phone/@eaDir"
cp "$media/jpg/Canon_40D.jpg" "$archive/2004/canon/IMG_0001.JPG"
cp "$media/jpg/Nikon_D70.jpg" "$archive/2008/nikon/DSC_0042.jpg"
cp "$media/jpg/gps/DSCN0010.jpg" "$archive/2012/holiday/DSCN0010.jpg"
cp "$media/jpg/orientation/portrait_6.jpg" "$archive/2012/holiday/portrait.jpg"
cp "$media/jpg/orientation/landscape_3.jpg" "$archive/2012/holiday/upside-down.jpg"
# The same photo kept twice, as archives do: one asset, two locations.
cp "$media/jpg/gps/DSCN0010.jpg" "$archive/2012/holiday/DSCN0010 (copy).jpg"
cp "$media/heic/samplefilehub.heif" "$archive/2021/phone/IMG_1234.HEIC"
cp "$media/videos/portrait_hevc.mov" "$archive/2021/phone/IMG_1235.MOV"
cp "$media/videos/landscape_h264.mp4" "$archive/2021/phone/VID_20210704.mp4"
cp "$media/tiff/Arbitro.tiff" "$archive/scans/scan-001.tiff"
cp "$media/jpg/invalid/image01551.jpg" "$archive/broken/image01551.jpg"
cp "$media/videos/damaged_truncated.mp4" "$archive/broken/truncated.mp4"
# Junk that a NAS or a Mac leaves behind: skipped, never cataloged.
printf 'junk' > "$archive/.DS_Store"
printf 'junk' > "$archive/2021/phone/@eaDir/IMG_1234.HEIC_thumb.jpg"
printf '' > "$archive/broken/empty.jpg"

archivist() { node "$repo/dist/cli/main.js" --home "$home" "$@"; }
echo "==> archivist init"
archivist init
echo "==> archivist source add demo $archive"
archivist source add demo "$archive"
echo "==> archivist verify-readonly demo   (baseline of every file, before Archivist reads anything)"
archivist verify-readonly demo || true
echo "==> archivist catalog"
archivist catalog
echo "==> archivist catalog   (again: nothing changed, nothing is read)"
archivist catalog
echo "==> archivist collection create everything"
archivist collection create everything
echo "==> archivist run start core --collection everything --workers 2"
echo "    (metadata and thumbnails; a file that cannot be decoded fails its item with the reason, listed below: exit code 3)"
set +e
archivist run start core --collection everything --workers 2
status=$?
set -e
if [ "$status" -ne 0 ] && [ "$status" -ne 3 ]; then
  echo "the demo run ended with exit code $status" >&2
  exit "$status"
fi
echo "==> archivist assets --type video"
archivist assets --type video
echo "==> archivist asset archive/2012/holiday/DSCN0010.jpg   (locations, artifacts with lineage, metadata)"
(cd "$demo" && archivist asset archive/2012/holiday/DSCN0010.jpg)
echo "==> archivist verify-readonly demo   (the archive is exactly as it was)"
archivist verify-readonly demo

cat <<DONE

Done. The demo archive is $archive; Archivist's home (database, artifact store, config, logs) is $home.
Look at the results:
  node dist/cli/main.js --home $home serve          # then open http://127.0.0.1:8750
  node dist/cli/main.js --home $home run list
  node dist/cli/main.js --home $home run show <run-id>
  node dist/cli/main.js --home $home asset <id-prefix or path> --json
DONE
