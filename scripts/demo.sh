#!/usr/bin/env bash
# The main job on the built-in default scenario: the 18-site Yên Mô conference.
# Installs what is missing, builds, starts the mcu daemon with its embedded default,
# 18 simulated sites (scripts/sim-sites.sh: a pattern, a colour, a name and a tone each)
# and an ffmpeg receiver on the district hall's monitor (sdp/huyen-yen-mo.sdp). Records
# 10 s of the received composite and a PNG snapshot, and prints where they are. Midway
# the control room acts through mcuctl: the speaker1+7 layout with the hall pinned to
# the large slot, and a JPEG of the composite from the API. The control page is on
# http://127.0.0.1:8080/ while it runs (the URL with its token is printed);
# DEMO_SECONDS=600 scripts/demo.sh leaves time to try it.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/install-deps.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j"$(nproc)" --target mcu-daemon mcuctl

OUT=build/demo
mkdir -p "$OUT"
rm -f "$OUT/composite.mkv" "$OUT/snapshot.png"
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; }
trap cleanup EXIT INT TERM

echo "== preparing the 18 site simulators (encoded once, cached in build/sim)"
scripts/sim-sites.sh -p

echo "== mcu: built-in 18-site scenario, 1280x720 25 fps"
SECONDS_RUN=${DEMO_SECONDS:-24}
rm -f mcu-control.token
build/mcu --duration "$SECONDS_RUN" --stats-file "$OUT/stats.json" 2>"$OUT/mcu.log" &
PIDS+=($!)
sleep 1
scripts/sim-sites.sh -t $((SECONDS_RUN - 2)) >"$OUT/sim.log" &
PIDS+=($!)
sleep 5 # let every site's first keyframe arrive
echo "== control page: http://127.0.0.1:8080/?access_token=$(cat mcu-control.token)"
( sleep 4
  build/mcuctl layout speaker1+7 && build/mcuctl slot 0 site huyen-yen-mo &&
  sleep 1 && build/mcuctl snapshot -o "$OUT/preview.jpg" && build/mcuctl slots
) >"$OUT/mcuctl.log" 2>&1 &

echo "== receiver: ffmpeg opens sdp/huyen-yen-mo.sdp, records 10 s"
ffmpeg -nostdin -loglevel error -protocol_whitelist file,udp,rtp -i sdp/huyen-yen-mo.sdp \
  -t 10 -c copy -y "$OUT/composite.mkv" 2>"$OUT/receiver.log" || true
wait "${PIDS[0]}" || true
ffmpeg -nostdin -loglevel error -y -sseof -1 -i "$OUT/composite.mkv" -update 1 -frames:v 1 \
  "$OUT/snapshot.png" 2>/dev/null || true

INFO=$(ffprobe -v error -select_streams v:0 -count_frames \
  -show_entries stream=width,height,avg_frame_rate,nb_read_frames -of csv=p=0 \
  "$OUT/composite.mkv" 2>/dev/null || echo "none")
echo "== recorded  $OUT/composite.mkv (video width,height,rate,frames: $INFO)"
echo "== snapshot  $OUT/snapshot.png (after the layout change); API preview $OUT/preview.jpg"
echo "== mcuctl    $(head -1 "$OUT/mcuctl.log" 2>/dev/null)"
echo "== daemon    $(cat "$OUT/stats.json" 2>/dev/null || echo 'no stats')"
