#!/usr/bin/env bash
# Integration test: one site sends garbage and H.264 under the wrong payload type,
# another sends VP8 where H.264 is expected. Only their own tiles and counters change:
# the four good sites' tiles keep their colours in every checked frame, the output keeps
# its exact frame rate, the bad sites' tiles say what they send ("H.264 on PT 97, not
# configured", "VP8 sent, H.264 expected") on their cards, their drops are counted, and
# the good sites drop nothing.
#   conference_hostile.sh MCU_BIN CHECK_BIN WORK_DIR
set -euo pipefail
MCU=$1 CHECK=$2 DIR=$3
BASE=${MCU_TEST_BASE_PORT_HOSTILE:-36000}
# shellcheck source=lib.sh
source "$(dirname "$0")/lib.sh"
rm -rf "$DIR" && mkdir -p "$DIR" && cd "$DIR"

cat > conf.json <<JSON
{
  "conference": {"name": "hostile", "layout": "grid6", "sdp_dir": "sdp"}, "control": {"port": $((BASE + 900)), "token": "integration-test-token"},
  "sites": [$(site_json 1 "Huyện Yên Mô"), $(site_json 2 "Khánh Dương"), $(site_json 3 "Yên Thắng"),
            $(site_json 4 "Khánh Thượng"), $(site_json 5 "Yên Từ"), $(site_json 6 "Mai Sơn")]
}
JSON


"$MCU" --config conf.json --duration 24 --stats-file stats.json 2>mcu.log &
MCU_PID=$!
PIDS+=($MCU_PID)
sleep 1

colours=(red green blue yellow)
for i in 0 1 2 3; do
  ffmpeg -nostdin -loglevel error -re -t 21 -f lavfi -i "color=c=${colours[$i]}:size=640x360:rate=25" \
    -c:v libx264 -profile:v baseline -preset ultrafast -tune zerolatency -g 25 -b:v 200k \
    -f rtp -payload_type 96 "rtp://127.0.0.1:$((BASE + 4 * i))?pkt_size=1200" >"sender$i.log" 2>&1 &
  PIDS+=($!)
done
# Site 5: H.264 under payload type 97, and random datagrams, on its video port.
ffmpeg -nostdin -loglevel error -re -t 21 -f lavfi -i "color=c=white:size=640x360:rate=25" \
  -c:v libx264 -profile:v baseline -preset ultrafast -tune zerolatency -g 25 -b:v 200k \
  -f rtp -payload_type 97 "rtp://127.0.0.1:$((BASE + 16))?pkt_size=1200" >sender4.log 2>&1 &
PIDS+=($!)
( for ((k = 0; k < 1500; k++)); do
    head -c $((RANDOM % 1400 + 1)) /dev/urandom >"/dev/udp/127.0.0.1/$((BASE + 16))" || true
    sleep 0.01
  done ) &
PIDS+=($!)
# Site 6: VP8 where H.264 is expected.
ffmpeg -nostdin -loglevel error -re -t 21 -f lavfi -i "color=c=white:size=640x360:rate=25" \
  -c:v libvpx -deadline realtime -b:v 200k -f rtp -payload_type 96 \
  "rtp://127.0.0.1:$((BASE + 20))?pkt_size=1200" >sender5.log 2>&1 &
PIDS+=($!)
sleep 6

timeout 30 ffmpeg -nostdin -loglevel error -protocol_whitelist file,udp,rtp -i sdp/s1.sdp \
  -t 10 -c copy -y rec.mkv >receiver.log 2>&1 || true
wait "$MCU_PID" || true
cat stats.json

# The bad sites' cards carry a status line across their middle; a good tile none.
"$CHECK" rec.mkv --size 1280x720 --fps 25 --layout grid6 --sites 6 \
  --colour 0:254,0,0 --colour 1:0,128,0 --colour 2:0,0,254 --colour 3:254,254,0 \
  --text 4 --text 5 --no-text 0

# Counters: the bad sites' drops are counted; the good sites drop nothing.
status=0
for s in s1 s2 s3 s4; do
  d=$(stat_field "$s" dropped) p=$(stat_field "$s" pictures)
  echo "$s: dropped $d pictures $p"
  [ "$d" = 0 ] && [ "$p" -gt 0 ] || { echo "FAIL: good site $s"; status=1; }
done
for s in s5 s6; do
  d=$(stat_field "$s" dropped) p=$(stat_field "$s" pictures) k=$(stat_field "$s" plis_and_firs)
  echo "$s: dropped $d pictures $p keyframe requests $k"
  [ "$d" -gt 0 ] && [ "$p" = 0 ] && [ "$k" = 0 ] || { echo "FAIL: bad site $s"; status=1; }
done
grep -q "\[site s5\] video: H.264 on PT 97, not configured" mcu.log || { echo "FAIL: s5 not logged"; status=1; }
grep -q "\[site s6\] video: VP8 sent, H.264 expected" mcu.log || { echo "FAIL: s6 not logged"; status=1; }
exit $status
