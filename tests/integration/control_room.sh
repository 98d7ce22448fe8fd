#!/usr/bin/env bash
# Integration test of the control room, real peers over 127.0.0.1: 6 ffmpeg senders,
# each a solid colour -> mcu (grid6) -> an ffmpeg receiver of site 1's SDP, and the
# operator acting through one of three front ends:
#   browser  the control page in headless Chromium (tests/browser/control_page.mjs):
#            drag site 5 (s6, the sixth site) onto slot 0
#   cli      mcuctl does the same from the shell
#   layouts  20 layout changes in 10 s through the API while the output is recorded
# Checks on the API and on the decoded output stream: after browser/cli, slot 0 shows
# site 5's colour and the other sites fill the rest in order; after layouts, the output
# kept its exact frame rate, no frame was missed and no IDR was forced.
#   control_room.sh MODE MCU_BIN CHECK_BIN MCUCTL_BIN WORK_DIR
set -euo pipefail
MODE=$1 MCU=$2 CHECK=$3 MCUCTL=$4 DIR=$5
BASE=${MCU_TEST_BASE_PORT:-34000}
case $MODE in browser) ;; cli) BASE=$((BASE + 200)) ;; layouts) BASE=$((BASE + 400)) ;;
  *) echo "unknown mode $MODE" >&2; exit 2 ;; esac
HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=lib.sh
source "$HERE/lib.sh"
rm -rf "$DIR" && mkdir -p "$DIR" && cd "$DIR"

PORT=$((BASE + 900))
TOKEN=control-room-test-token-0123456789
URL=http://127.0.0.1:$PORT
export MCU_URL=$URL MCU_TOKEN=$TOKEN
cat > conf.json <<JSON
{
  "conference": {"name": "control room", "layout": "grid6", "sdp_dir": "sdp"},
  "control": {"port": $PORT, "token": "$TOKEN"},
  "sites": [$(site_json 1 "Huyện Yên Mô"), $(site_json 2 "Khánh Dương"),
            $(site_json 3 "Khánh Thượng"), $(site_json 4 "Mai Sơn"),
            $(site_json 5 "Yên Mạc"), $(site_json 6 "Yên Thắng")]
}
JSON

"$MCU" --config conf.json --duration 60 --stats-file stats.json 2>mcu.log &
MCU_PID=$!
PIDS+=($MCU_PID)
sleep 1

colours=(red green blue yellow cyan magenta)
rgb=(254,0,0 0,128,0 0,0,254 254,254,0 0,254,254 254,0,254)
for i in 0 1 2 3 4 5; do
  port=$((BASE + 4 * i))
  ffmpeg -nostdin -loglevel error -re -t 55 -f lavfi -i "color=c=${colours[$i]}:size=640x360:rate=25" \
    -c:v libx264 -profile:v baseline -preset ultrafast -tune zerolatency -g 25 -b:v 150k \
    -f rtp -payload_type 96 "rtp://127.0.0.1:$port?pkt_size=1200" >"sender$i.log" 2>&1 &
  PIDS+=($!)
done
sleep 4   # every tile live

api() { curl -sf -H "Authorization: Bearer $TOKEN" "$@"; }
json_field() { sed -n "s/.*\"$1\":\([^,}]*\).*/\1/p" | head -1; }

# A receiver that joins mid-stream can decode from the next IDR only (ffmpeg sends no
# PLI), and the periodic one may be 4 s away. With "keyframe", once the receiver's
# socket is open, ask for one, as the control room does when it switches a monitor on.
record() {   # record SECONDS FILE [keyframe]
  if [ "${3:-}" = keyframe ]; then
    ( sleep 1; api -X POST "$URL/api/v1/keyframe" >/dev/null || true ) &
  fi
  timeout $(($1 + 20)) ffmpeg -nostdin -loglevel error -protocol_whitelist file,udp,rtp \
    -i sdp/s1.sdp -t "$1" -c copy -y "$2" >receiver.log 2>&1 || true
}

case $MODE in
browser)
  (cd "$HERE/../browser" && node control_page.mjs --url "$URL" --token "$TOKEN" \
    --drag-site s6 --slot 0 --screenshot "$DIR/control-page.png")
  ;;
cli)
  "$MCUCTL" slot 0 site s6
  "$MCUCTL" slots | tee slots.txt
  "$MCUCTL" status > status.txt
  "$MCUCTL" sdp s1 -o s1-from-api.sdp
  "$MCUCTL" snapshot -o composite.jpg
  "$MCUCTL" snapshot s6 -o s6.jpg --width 160
  grep -q "m=video $((BASE + 1000))" s1-from-api.sdp
  [ "$(head -c 2 composite.jpg | od -An -tx1 | tr -d ' ')" = ffd8 ]
  [ "$(head -c 2 s6.jpg | od -An -tx1 | tr -d ' ')" = ffd8 ]
  # a wrong site is a clear error with exit status 1
  if "$MCUCTL" slot 0 site nowhere 2>err.txt; then echo "mcuctl accepted an unknown site"; exit 1; fi
  grep -q "404" err.txt
  ;;
layouts)
  record 14 rec.mkv &
  REC=$!
  sleep 2
  presets=(grid4 grid9 speaker1+5 grid6 grid1 grid2 speaker1+7 grid12 grid16 auto)
  for k in $(seq 0 19); do
    if [ $((k % 5)) -eq 4 ]; then
      body='{"regions": [{"x": 0, "y": 0, "w": 1, "h": 1}, {"x": 0.7, "y": 0.7, "w": 0.25, "h": 0.25}]}'
    else
      body="{\"preset\": \"${presets[$((k % 10))]}\"}"
    fi
    api -X PUT -d "$body" "$URL/api/v1/layout" >/dev/null
    sleep 0.5
  done
  api -X PUT -d '{"preset": "grid6"}' "$URL/api/v1/layout" >/dev/null
  wait $REC
  api "$URL/metrics" > metrics.txt
  forced=$(sed -n 's/^mcu_video_keyframes_forced_total \([0-9]*\)/\1/p' metrics.txt)
  missed=$(sed -n 's/^mcu_video_ticks_missed_total \([0-9]*\)/\1/p' metrics.txt)
  changes=$(grep -c '"action": *"layout"\|operator: layout' mcu.log || true)
  echo "layout changes logged: $changes, forced IDRs: $forced, missed ticks: $missed"
  [ "$changes" -ge 21 ] && [ "$forced" = 0 ] && [ "$missed" = 0 ]
  # The recording: exact frame rate, frame size, and only the periodic IDRs (every 4 s).
  "$CHECK" rec.mkv --size 1280x720 --fps 25 --layout grid1 --sites 0
  keys=$(ffprobe -v error -select_streams v -show_entries packet=flags -of csv=p=0 rec.mkv | grep -c K || true)
  echo "IDRs in the 14 s recording: $keys (periodic every 4 s: at most 4)"
  [ "$keys" -le 4 ]
  exit 0
  ;;
esac

# Slot 0 now shows s6 (API), and the decoded output shows its colour there.
for _ in $(seq 50); do
  api "$URL/api/v1/slots" > slots.json
  grep -q '{"index":0,"mode":"site","site":"s6","showing":"s6"}' slots.json && break
  sleep 0.2
done
cat slots.json; echo
grep -q '{"index":0,"mode":"site","site":"s6","showing":"s6"}' slots.json
record 4 rec.mkv keyframe
"$CHECK" rec.mkv --size 1280x720 --fps 25 --layout grid6 --sites 6 \
  --colour "0:${rgb[5]}" --colour "1:${rgb[0]}" --colour "2:${rgb[1]}" \
  --colour "3:${rgb[2]}" --colour "4:${rgb[3]}" --colour "5:${rgb[4]}"
# The operator's choice survives a restart: the state file holds the pin.
grep -q '"site": "s6"' conf.state.json || { sleep 1; grep -q '"site": "s6"' conf.state.json; }
