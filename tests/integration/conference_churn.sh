#!/usr/bin/env bash
# Integration test: the output frame rate stays exact and the other tiles are unaffected
# while, at the same time,
#   site 2 stops for 3 s, then restarts as a new endpoint (a new SSRC);
#   site 3 changes resolution mid-stream (640x360 -> 320x180, same RTP session);
#   site 4 loses 10% of its packets (udp_impair, seeded).
# Site 1 is steady. Checked on the decoded output of site 1's receiver, and on the
# daemon's per-site counters.
#   conference_churn.sh MCU_BIN CHECK_BIN IMPAIR_BIN WORK_DIR
set -euo pipefail
MCU=$1 CHECK=$2 IMPAIR=$3 DIR=$4
BASE=${MCU_TEST_BASE_PORT_CHURN:-38000}
# shellcheck source=lib.sh
source "$(dirname "$0")/lib.sh"
rm -rf "$DIR" && mkdir -p "$DIR" && cd "$DIR"

cat > conf.json <<JSON
{"conference": {"name": "churn", "layout": "grid4", "sdp_dir": "sdp"}, "control": {"port": $((BASE + 900)), "token": "integration-test-token"},
 "sites": [$(site_json 1 "site 1"), $(site_json 2 "site 2"), $(site_json 3 "site 3"), $(site_json 4 "site 4")]}
JSON

X264=(-c:v libx264 -profile:v baseline -preset ultrafast -tune zerolatency -g 25 -b:v 200k
      -x264-params repeat-headers=1)
# Site 3's stream: 8 s at 640x360 then 16 s at 320x180, one H.264 stream in MPEG-TS.
ffmpeg -nostdin -loglevel error -y -f lavfi -i "color=c=blue:size=640x360:rate=25" -t 8 \
  "${X264[@]}" a.ts
ffmpeg -nostdin -loglevel error -y -f lavfi -i "color=c=blue:size=320x180:rate=25" -t 16 \
  "${X264[@]}" b.ts
printf "file 'a.ts'\nfile 'b.ts'\n" > list.txt
ffmpeg -nostdin -loglevel error -y -f concat -i list.txt -c copy blue.ts


"$MCU" --config conf.json --duration 26 --stats-file stats.json 2>mcu.log &
MCU_PID=$!
PIDS+=($MCU_PID)
sleep 1

send_colour() { # colour seconds port
  ffmpeg -nostdin -loglevel error -re -t "$2" -f lavfi -i "color=c=$1:size=640x360:rate=25" \
    "${X264[@]}" -f rtp -payload_type 96 "rtp://127.0.0.1:$3?pkt_size=1200" >/dev/null 2>&1
}
send_colour red 23 "$BASE" & PIDS+=($!)
( send_colour green 6 $((BASE + 4)); sleep 3; send_colour green 14 $((BASE + 4)) ) & PIDS+=($!)
ffmpeg -nostdin -loglevel error -re -i blue.ts -c copy -f rtp -payload_type 96 \
  "rtp://127.0.0.1:$((BASE + 8))?pkt_size=1200" >/dev/null 2>&1 & PIDS+=($!)
"$IMPAIR" $((BASE + 2012)) $((BASE + 12)) 10 42 24 >impair.log & PIDS+=($!)
send_colour yellow 23 $((BASE + 2012)) & PIDS+=($!)

sleep 3
# Record 18 s: the stop, the restart, the resolution change all fall inside.
timeout 40 ffmpeg -nostdin -loglevel error -protocol_whitelist file,udp,rtp -i sdp/s1.sdp \
  -t 18 -c copy -y rec.mkv >receiver.log 2>&1 || true
wait "$MCU_PID" || true
cat stats.json impair.log || true

# The steady site, the resized site and the lossy site (frozen on its last good picture
# at worst) keep their colours; the output frame rate is exact.
"$CHECK" rec.mkv --size 1280x720 --fps 25 --layout grid4 --sites 4 \
  --colour 0:254,0,0 --colour 2:0,0,254 --colour 3:254,254,0

missed=$(sed -n 's/.*"missed_ticks": \([0-9]*\).*/\1/p' stats.json)
p2=$(stat_field s2 pictures) p3=$(stat_field s3 pictures) p4=$(stat_field s4 pictures)
echo "missed ticks $missed; pictures: s2 $p2 (restarted), s3 $p3 (resized), s4 $p4 (10% loss)"
status=0
[ "$missed" -le 2 ] || { echo "FAIL: $missed missed output ticks"; status=1; }
# Site 2 sent 20 s in two runs: most of both runs must have been shown.
[ "$p2" -gt 350 ] || { echo "FAIL: site 2 did not come back after its restart"; status=1; }
# Site 3 sent 24 s across the resolution change.
[ "$p3" -gt 450 ] || { echo "FAIL: site 3 stalled at its resolution change"; status=1; }
[ "$p4" -gt 0 ] || { echo "FAIL: the lossy site never showed"; status=1; }
exit $status
