#!/usr/bin/env bash
# Starts site simulators with ffmpeg: each sends H.264 (640x360, 25 fps, Constrained
# Baseline) and Opus to its site's ports, with its own test pattern and colour, its
# name drawn on the picture and its own tone. Sites and ports come from the daemon's
# configuration (`mcu --list-sites`), so the simulators always match it.
#
#   scripts/sim-sites.sh [-c CONFIG] [-n COUNT] [-t SECONDS] [-h HOST] [-p]
#
# -p only prepares the clips (encodes what is not cached yet) and exits.
#
# Each site's media is encoded once into build/sim/<id>.ts (MPEG-TS keeps SPS/PPS in
# band) and then replayed in real
# time without re-encoding, so 18 simulators cost almost no CPU. Runs until SECONDS have
# passed (default: until interrupted); stops its ffmpeg processes on exit.
set -euo pipefail
cd "$(dirname "$0")/.."

CONFIG="" COUNT=0 SECONDS_RUN=0 HOST=127.0.0.1 PREPARE_ONLY=0
while getopts "c:n:t:h:p" o; do
  case $o in
    c) CONFIG=$OPTARG ;; n) COUNT=$OPTARG ;; t) SECONDS_RUN=$OPTARG ;; h) HOST=$OPTARG ;;
    p) PREPARE_ONLY=1 ;;
    *) echo "usage: $0 [-c CONFIG] [-n COUNT] [-t SECONDS] [-h HOST] [-p]" >&2; exit 2 ;;
  esac
done
MCU=${MCU_BIN:-build/mcu}
FONT=/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf
SIM=build/sim
mkdir -p "$SIM"

if [ -n "$CONFIG" ]; then SITES=$("$MCU" --config "$CONFIG" --list-sites); else SITES=$("$MCU" --list-sites); fi

# A clip per site: pattern hue-shifted per site, a solid colour band, the name, a tone.
make_clip() {
  local idx=$1 id=$2 name=$3 out=$SIM/$2.ts
  [ -s "$out" ] && return 0
  local hue=$(( (idx * 47) % 360 )) freq=$(( 300 + 40 * idx ))
  printf '%s' "$name" > "$SIM/$id.txt"
  ffmpeg -nostdin -loglevel error -y \
    -f lavfi -i "testsrc2=size=640x360:rate=25,hue=h=$hue" \
    -f lavfi -i "sine=frequency=$freq:sample_rate=48000" -t 10 \
    -vf "drawbox=x=0:y=0:w=640:h=56:color=black@0.6:t=fill,drawtext=fontfile=$FONT:textfile=$SIM/$id.txt:fontsize=32:fontcolor=white:x=16:y=12" \
    -c:v libx264 -profile:v baseline -preset veryfast -tune zerolatency -g 50 -b:v 400k \
    -x264-params repeat-headers=1 \
    -c:a libopus -ac 1 -b:a 32k "$out"
}

PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; }
trap cleanup EXIT INT TERM

i=0
while IFS=$'\t' read -r id vport aport name; do
  [ "$COUNT" -gt 0 ] && [ "$i" -ge "$COUNT" ] && break
  make_clip "$i" "$id" "$name"
  if [ "$PREPARE_ONLY" = 1 ]; then i=$((i + 1)); continue; fi
  LIMIT=()
  [ "$SECONDS_RUN" -gt 0 ] && LIMIT=(-t "$SECONDS_RUN")
  # -t before -i limits the input, so both outputs (video and audio) end together.
  ffmpeg -nostdin -loglevel error -re -stream_loop -1 "${LIMIT[@]}" -i "$SIM/$id.ts" \
    -map 0:v -c copy -f rtp -payload_type 96 "rtp://$HOST:$vport?pkt_size=1200" \
    -map 0:a -c copy -f rtp -payload_type 111 "rtp://$HOST:$aport" >/dev/null 2>&1 &
  PIDS+=($!)
  echo "sim-sites: $id ($name) -> $HOST:$vport video, :$aport audio"
  i=$((i + 1))
done <<< "$SITES"

wait "${PIDS[@]}" 2>/dev/null || true
