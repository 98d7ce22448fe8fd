#!/usr/bin/env bash
# The main job on the built-in default scenario: the 18-site Yên Mô conference.
# Installs what is missing, builds, starts the mcu daemon with its embedded default,
# 18 simulated sites (scripts/sim-sites.sh: a pattern, a colour, a name and a tone each)
# and an ffmpeg receiver on the district hall's monitor (sdp/huyen-yen-mo.sdp). Records
# 10 s of the received composite and a PNG snapshot, and prints where they are.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/install-deps.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j"$(nproc)" --target mcu-daemon

OUT=build/demo
mkdir -p "$OUT"
rm -f "$OUT/composite.mkv" "$OUT/snapshot.png"
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; }
trap cleanup EXIT INT TERM

echo "== preparing the 18 site simulators (encoded once, cached in build/sim)"
scripts/sim-sites.sh -p

echo "== mcu: built-in 18-site scenario, 1280x720 25 fps"
build/mcu --duration 24 --stats-file "$OUT/stats.json" 2>"$OUT/mcu.log" &
PIDS+=($!)
sleep 1
scripts/sim-sites.sh -t 22 >"$OUT/sim.log" &
PIDS+=($!)
sleep 5 # let every site's first keyframe arrive

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
echo "== snapshot  $OUT/snapshot.png"
echo "== daemon    $(cat "$OUT/stats.json" 2>/dev/null || echo 'no stats')"
