#!/usr/bin/env bash
# Integration test, real peers over 127.0.0.1: 4 ffmpeg senders, each a solid colour and
# its own tone (sites 1-3 loud enough to be talkers, site 4 quiet) -> mcu -> an ffmpeg
# receiver opening the SDP mcu wrote for site 1. Checks on the decoded recording: size
# and frame rate, each tile's colour where grid4 puts it, the other talkers' tones
# present, site 1's own tone absent (it is a talker: it gets the mix minus itself).
#   conference_basic.sh MCU_BIN CHECK_BIN WORK_DIR
set -euo pipefail
MCU=$1 CHECK=$2 DIR=$3
BASE=${MCU_TEST_BASE_PORT:-32000}
# shellcheck source=lib.sh
source "$(dirname "$0")/lib.sh"
rm -rf "$DIR" && mkdir -p "$DIR" && cd "$DIR"

cat > conf.json <<JSON
{
  "conference": {"name": "integration", "layout": "grid4", "sdp_dir": "sdp"}, "control": {"port": $((BASE + 900)), "token": "integration-test-token"},
  "sites": [$(site_json 1 "Huyện Yên Mô"), $(site_json 2 "Khánh Dương"),
            $(site_json 3 "Yên Thắng"), $(site_json 4 "Khánh Thượng")]
}
JSON


"$MCU" --config conf.json --duration 24 --stats-file stats.json 2>mcu.log &
MCU_PID=$!
PIDS+=($MCU_PID)
sleep 1

colours=(red green blue yellow)
tones=(400 600 800 1000)
volumes=(1.0 1.0 0.7 0.02)   # site 4 stays under the talk threshold
for i in 0 1 2 3; do
  port=$((BASE + 4 * i))
  ffmpeg -nostdin -loglevel error -re -t 21 -f lavfi -i "color=c=${colours[$i]}:size=640x360:rate=25" \
    -re -t 21 -f lavfi -i "sine=frequency=${tones[$i]}:sample_rate=48000,volume=${volumes[$i]}" \
    -map 0:v -c:v libx264 -profile:v baseline -preset ultrafast -tune zerolatency -g 25 -b:v 200k \
    -f rtp -payload_type 96 "rtp://127.0.0.1:$port?pkt_size=1200" \
    -map 1:a -c:a libopus -ac 1 -b:a 32k -f rtp -payload_type 111 "rtp://127.0.0.1:$((port + 2))" \
    >"sender$i.log" 2>&1 &
  PIDS+=($!)
done
sleep 6   # every tile live, a periodic IDR on its way, talkers detected

timeout 30 ffmpeg -nostdin -loglevel error -protocol_whitelist file,udp,rtp -i sdp/s1.sdp \
  -t 10 -c copy -y rec.mkv >receiver.log 2>&1 || true
wait "$MCU_PID" || true
cat stats.json

"$CHECK" rec.mkv --size 1280x720 --fps 25 --layout grid4 --sites 4 \
  --colour 0:254,0,0 --colour 1:0,128,0 --colour 2:0,0,254 --colour 3:254,254,0 \
  --tone 600 --tone 800 --no-tone 400
