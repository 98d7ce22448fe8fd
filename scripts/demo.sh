#!/usr/bin/env bash
# The main job, on the built-in default scenario. Until the conference daemon lands this
# runs the wire layer end to end: an ffmpeg "site" sends 10 s of H.264 over RTP to
# mcu-probe, which receives it through the MCU's receive path (RTP, source statistics,
# jitter buffer, RFC 6184 depacketizer), reports what arrived and records the access
# units; the recording is checked with ffprobe and a PNG snapshot is taken.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/install-deps.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j"$(nproc)" --target mcu-probe

OUT=build/demo
PORT=${MCU_DEMO_PORT:-15004}
mkdir -p "$OUT"
rm -f "$OUT/site.h264" "$OUT/snapshot.png"

build/mcu-probe --port "$PORT" --duration 12 --out "$OUT/site.h264" >"$OUT/probe.log" &
PROBE=$!
trap 'kill $PROBE 2>/dev/null || true' EXIT
sleep 0.5

echo "== site: 640x360 25 fps H.264 Constrained Baseline -> rtp://127.0.0.1:$PORT"
ffmpeg -nostdin -loglevel error -re -f lavfi -i "testsrc2=size=640x360:rate=25" -t 10 \
  -c:v libx264 -profile:v baseline -preset veryfast -tune zerolatency -g 50 -b:v 600k \
  -f rtp -payload_type 96 "rtp://127.0.0.1:$PORT?pkt_size=1200" >/dev/null
wait $PROBE
trap - EXIT

grep -E '^(final|probe):' "$OUT/probe.log" | tail -n 4
FRAMES=$(ffprobe -v error -count_frames -select_streams v:0 \
  -show_entries stream=nb_read_frames,width,height -of csv=p=0 "$OUT/site.h264")
ffmpeg -nostdin -loglevel error -y -i "$OUT/site.h264" -vf "select=eq(n\,125)" -frames:v 1 \
  "$OUT/snapshot.png"
echo "== recorded $OUT/site.h264 (width,height,frames: $FRAMES)"
echo "== snapshot $OUT/snapshot.png, probe log $OUT/probe.log"
