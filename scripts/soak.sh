#!/usr/bin/env bash
# Soak test: the mcu built with AddressSanitizer + UBSan runs the 18-site conference for
# SOAK_SECONDS (default 3600) with real ffmpeg senders:
#   - sites 1-3 reach it through tests/tools/udp_impair: 5% uniform loss, 10% loss in 30 ms
#     bursts, 50+-30 ms jitter;
#   - site 18 leaves and rejoins every 5 minutes (sends 4 minutes, silent 1 minute; each
#     return is a new ffmpeg process: new SSRC, new source port, latched again);
#   - an ffmpeg receiver records nothing but keeps site 1's composite flowing.
# Every 30 s it samples the daemon's open file descriptors and resident memory into
# soak.csv. At the end the daemon is stopped with SIGTERM and the run passes when
#   - the file-descriptor count never changed,
#   - the sanitizers reported nothing (no leak, no error) and the daemon exited 0.
#
#   scripts/soak.sh                       # one hour, in build-asan/soak
#   SOAK_SECONDS=600 scripts/soak.sh      # a shorter run
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
SECS=${SOAK_SECONDS:-3600}
BUILD=${SOAK_BUILD:-$ROOT/build-asan}
DIR=${SOAK_DIR:-$BUILD/soak}
BASE=${SOAK_BASE_PORT:-47000}
SAMPLE_S=30
LEAVE_EVERY_S=300
AWAY_S=60

"$ROOT/scripts/install-deps.sh"
cmake -S "$ROOT" -B "$BUILD" -DMCU_WERROR=ON -DMCU_SANITIZE=ON -DCMAKE_BUILD_TYPE=Debug >/dev/null
cmake --build "$BUILD" -j2 --target mcu-daemon udp_impair >/dev/null
MCU=$BUILD/mcu
IMPAIR=$BUILD/tests/udp_impair

rm -rf "$DIR" && mkdir -p "$DIR" && cd "$DIR"
PIDS=()
# Senders run inside subshells: their children go first.
cleanup() {
  for p in "${PIDS[@]}"; do
    pkill -TERM -P "$p" 2>/dev/null || true
    kill "$p" 2>/dev/null || true
  done
}
trap cleanup EXIT

NAMES=("Huyện Yên Mô" "Khánh Dương" "Khánh Hòa" "Khánh Hội" "Khánh Nhạc" "Khánh Phú"
       "Khánh Thượng" "Khánh Thành" "Khánh Thủy" "Khánh Trung" "Yên Thắng" "Yên Từ"
       "Yên Phong" "Yên Nhân" "Yên Lâm" "Mai Sơn" "Yên Mạc" "Yên Đồng")
sites=""
for i in $(seq 0 17); do
  sites+=$(printf '%s{"id": "s%d", "name": "%s", "rtp_port": %d, "plain_rtp": true}' \
    "${sites:+, }" $((i + 1)) "${NAMES[$i]}" $((BASE + 4 * i)))
done
cat > conf.json <<JSON
{"conference": {"name": "Giao ban (soak)", "layout": "auto", "sdp_dir": "sdp"},
 "control": {"port": $((BASE + 900)), "token": "soak-test-token-0001"},
 "profiles": [{"id": "main", "width": 640, "height": 360, "fps": 25, "video_kbps": 600}],
 "sites": [$sites]}
JSON

export ASAN_OPTIONS=detect_leaks=1:abort_on_error=0:log_path=$DIR/asan
export UBSAN_OPTIONS=print_stacktrace=1:log_path=$DIR/ubsan
"$MCU" --config conf.json --duration $((SECS + 30)) --stats-file stats.json 2>mcu.log &
MCU_PID=$!
sleep 2

COLOURS=(red green blue yellow cyan magenta white orange purple pink brown gray navy teal
         olive maroon lime silver)
sender() { # index seconds port   (-t before each output: both streams end)
  ffmpeg -nostdin -loglevel error -re \
    -f lavfi -i "testsrc2=size=320x180:rate=15" -f lavfi -i "sine=frequency=$((300 + 40 * $1))" \
    -map 0:v -c:v libx264 -profile:v baseline -preset ultrafast -tune zerolatency -g 30 \
    -b:v 150k -x264-params repeat-headers=1 -t "$2" -f rtp -payload_type 96 \
    "rtp://127.0.0.1:$3?pkt_size=1200" \
    -map 1:a -c:a libopus -b:a 24k -t "$2" -f rtp -payload_type 111 \
    "rtp://127.0.0.1:$(($3 + 2))" >/dev/null 2>&1
}
# Sites 1-3 through the impairment proxy (video and audio pairs, stable source ports).
IMPAIRS=("--loss 5" "--loss 10 --burst-ms 30" "--delay 50 --jitter 30")
for i in 0 1 2; do
  v=$((BASE + 4 * i)) p=$((BASE + 500 + 8 * i))
  # shellcheck disable=SC2086
  "$IMPAIR" --pair "$p:$v:$((p + 100))" --pair "$((p + 2)):$((v + 2)):$((p + 102))" \
    ${IMPAIRS[$i]} --seed $((i + 1)) --seconds $((SECS + 20)) >"impair$i.json" &
  PIDS+=($!)
  sender "$i" "$SECS" "$p" &
  PIDS+=($!)
done
for i in $(seq 3 16); do
  sender "$i" "$SECS" $((BASE + 4 * i)) &
  PIDS+=($!)
done
( end=$((SECONDS + SECS))
  while [ $SECONDS -lt $end ]; do
    sender 17 $((LEAVE_EVERY_S - AWAY_S)) $((BASE + 68)) || true
    sleep "$AWAY_S"
  done ) &
PIDS+=($!)

echo "elapsed_s,fds,rss_kb" > soak.csv
end=$((SECONDS + SECS))
while [ $SECONDS -lt $end ]; do
  sleep "$SAMPLE_S"
  kill -0 "$MCU_PID" 2>/dev/null || { echo "soak: the daemon died"; exit 1; }
  echo "$((SECS - end + SECONDS)),$(ls "/proc/$MCU_PID/fd" | wc -l),$(awk '/VmRSS/ { print $2 }' "/proc/$MCU_PID/status")" >> soak.csv
done
curl -s -H "Authorization: Bearer soak-test-token-0001" "http://127.0.0.1:$((BASE + 900))/metrics" \
  > metrics.txt || true
kill -TERM "$MCU_PID"
rc=0
wait "$MCU_PID" || rc=$?

fd_min=$(tail -n +2 soak.csv | cut -d, -f2 | sort -n | head -1)
fd_max=$(tail -n +2 soak.csv | cut -d, -f2 | sort -n | tail -1)
rss_first=$(sed -n 2p soak.csv | cut -d, -f3)
rss_last=$(tail -1 soak.csv | cut -d, -f3)
reports=$(cat asan.* ubsan.* 2>/dev/null | grep -cE "ERROR: (Address|Leak)Sanitizer|runtime error" || true)
echo "soak: $SECS s, $(($(wc -l < soak.csv) - 1)) samples"
echo "soak: file descriptors min $fd_min max $fd_max"
echo "soak: resident memory first sample ${rss_first} kB, last ${rss_last} kB"
echo "soak: daemon exit status $rc, sanitizer reports $reports"
grep -E '^mcu_video_ticks_missed_total|^mcu_site_source_latches_total\{site="s18"\}' metrics.txt || true
[ "$fd_min" = "$fd_max" ] && [ "$rc" = 0 ] && [ "$reports" = 0 ] || { echo "soak: FAIL"; exit 1; }
echo "soak: PASS"
