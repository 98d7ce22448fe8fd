#!/usr/bin/env bash
# Integration tests with senders that behave as real endpoints do, over 127.0.0.1:
#
#   padding  an ffmpeg camera through tests/tools/rtp_pad, which adds libwebrtc-style
#            padding-only probes (3 packets after every 5th frame on the media SSRC, one on
#            the RTX SSRC): no frozen tick, no NACK, no loss reported.
#   burst    ffmpeg sends 1080p30 at ~4.5 Mbit/s whose IDRs (~590 KB, ~500 packets) leave
#            in one burst: the kernel drops nothing on the site's socket and every picture
#            is decoded. Then, where net.core.rmem_max can be lowered for the test, the
#            daemon without CAP_NET_ADMIN says which sysctl to set.
#
#   codecs   G.722, PCMU and PCMA sites (ffmpeg, 20 ms packets) are heard in the mix, a VP8
#            site's tile shows its picture; an H.265 site (where H.264 is configured) and
#            Opus on a payload type not configured are named on their tiles, on the
#            control page (headless Chromium) and in the API, with one log line each, a
#            drop reason counted, and no keyframe request.
#   conceal  an ffmpeg camera (it ignores NACK and PLI) loses 1% of its packets, uniformly,
#            for 30 s: the tile is frozen in at most 5% of the ticks (the daemon's
#            frozen-tile counter), pictures are shown concealed; the same site under
#            "loss_policy": "freeze" freezes far more (for comparison, not asserted).
#   judder   three 25 fps cameras into a 25 fps output: one through a relay that lets
#            packets go every 15 ms in bursts, one through ±10 ms of jitter, one direct:
#            each tile shows a new picture at (nearly) every tick, in the recorded
#            composite and by the daemon's counter (at most 1% repeats). The added delay
#            is printed; the benchmark measures it (scripts/bench.sh, --burst-ms).
#
#   senders.sh MODE MCU_BIN CHECK_BIN IMPAIR_BIN PAD_BIN WORK_DIR
set -euo pipefail
MODE=$1 MCU=$2 CHECK=$3 IMPAIR=$4 PAD=$5 DIR=$6
case $MODE in
  padding) BASE=28000 ;; burst) BASE=28200 ;; codecs) BASE=28400 ;; conceal) BASE=28600 ;;
  judder) BASE=28800 ;;
  *) echo "unknown mode $MODE"; exit 2 ;;
esac
HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=lib.sh
source "$HERE/lib.sh"
rm -rf "$DIR" && mkdir -p "$DIR" && cd "$DIR"
TOKEN=integration-test-token
CONTROL=$((BASE + 190))
fail() { echo "FAIL: $*"; exit 1; }

# metric NAME [SITE]: one value from /metrics.
metric() {
  local key=$1
  [ $# -gt 1 ] && key="$1{site=\"$2\"}"
  curl -s -H "Authorization: Bearer $TOKEN" "http://127.0.0.1:$CONTROL/metrics" |
    awk -v k="$key" '$1 == k { print $2; found = 1 } END { if (!found) print 0 }'
}

write_conf() { # layout profile-json sites-json
  cat > conf.json <<JSON
{"conference": {"name": "senders", "layout": "$1", "sdp_dir": "sdp"},
 "control": {"port": $CONTROL, "token": "$TOKEN"},
 "profiles": [$2],
 "sites": [$3]}
JSON
}
PROFILE_360='{"id": "main", "width": 640, "height": 360, "fps": 25, "video_kbps": 600}'

start_mcu() { # seconds
  "$MCU" --config conf.json --duration "$1" --stats-file stats.json 2>mcu.log &
  MCU_PID=$!
  PIDS+=($MCU_PID)
  sleep 0.5
}

# ---------------------------------------------------------------- padding
if [ "$MODE" = padding ]; then
  write_conf grid4 "$PROFILE_360" "$(site_json 1 "Huyện Yên Mô" | sed 's/}$/, "rtx_pt": 97}/')"
  start_mcu 24
  "$PAD" --listen $((BASE + 50)) --to "$BASE" --every 5 --count 3 --rtx-pt 97 --seconds 23 \
    >pad.json &
  PIDS+=($!)
  ffmpeg -nostdin -loglevel error -re -t 20 -f lavfi -i "testsrc2=size=640x360:rate=25" \
    -c:v libx264 -profile:v baseline -preset ultrafast -tune zerolatency -g 50 -b:v 400k \
    -x264-params repeat-headers=1 -f rtp -payload_type 96 \
    "rtp://127.0.0.1:$((BASE + 50))?pkt_size=1200" >sender.log 2>&1 &
  PIDS+=($!)
  sleep 18 # while the sender still sends (the tile stays up 2 s after it stops)
  lost=$(metric mcu_site_video_packets_lost_total s1)
  f=$(metric mcu_site_tile_frozen_ticks_total s1) t=$(metric mcu_site_tile_ticks_total s1)
  wait "$MCU_PID" || true
  cat stats.json pad.json
  n=$(stat_field s1 nack_requested) p=$(stat_field s1 padding) d=$(stat_field s1 dropped)
  echo "s1: shown $t ticks, frozen $f, NACKed $n, lost $lost, padding received $p, dropped $d"
  [ "$p" -ge 300 ] || fail "only $p padding packets received"
  [ "$t" -ge 400 ] || fail "the tile was shown only $t ticks"
  [ "$f" = 0 ] || fail "$f frozen ticks"
  [ "$n" = 0 ] || fail "$n packets NACKed"
  [ "$lost" = 0 ] || fail "$lost packets reported lost"
  [ "$d" = 0 ] || fail "$d packets dropped"
  exit 0
fi

# ---------------------------------------------------------------- burst
if [ "$MODE" = burst ]; then
  # A detailed still (noise) under a moving picture: every IDR is ~590 KB at QP 18, the
  # P frames small, 1080p30 at ~4.5 Mbit/s with an IDR every 2 s.
  ffmpeg -nostdin -loglevel error -f lavfi -i "testsrc2=size=1920x1080,noise=alls=8" \
    -frames:v 1 -y still.png
  ffmpeg -nostdin -loglevel error -loop 1 -framerate 30 -i still.png \
    -f lavfi -i "testsrc2=size=640x360:rate=30" \
    -filter_complex "[0][1]overlay=640:360,format=yuv420p" -t 12 -c:v libx264 \
    -preset ultrafast -tune zerolatency -qp 18 -g 60 -x264-params repeat-headers=1 \
    -y clip.mkv
  idr=$(ffprobe -loglevel error -show_packets -select_streams v clip.mkv |
        sed -n 's/^size=//p' | head -1)
  echo "IDR: $idr bytes"
  [ "$idr" -ge 450000 ] || fail "the clip's IDR is only $idr bytes"
  site='{"id": "s1", "name": "Huyện Yên Mô", "rtp_port": '$BASE', "plain_rtp": true, "max_kbps": 6000, "send_to": {"address": "127.0.0.1", "video_port": '$((BASE + 100))'}}'
  write_conf grid4 "$PROFILE_360" "$site"
  udp_errors() { awk '/^Udp: [0-9]/ { print $6 }' /proc/net/snmp; }
  before=$(udp_errors)
  start_mcu 16
  # h264_mp4toannexb puts the parameter sets in front of each IDR, as a camera does.
  ffmpeg -nostdin -loglevel error -re -i clip.mkv -c copy -bsf:v h264_mp4toannexb \
    -f rtp -payload_type 96 \
    "rtp://127.0.0.1:$BASE?pkt_size=1200" >sender.log 2>&1 &
  PIDS+=($!)
  sleep 14
  drops=$(metric mcu_site_socket_drops_total s1)
  wait "$MCU_PID" || true
  after=$(udp_errors)
  cat stats.json
  p=$(stat_field s1 pictures) dmg=$(stat_field s1 damaged) n=$(stat_field s1 nack_requested)
  echo "s1: $p pictures, $dmg damaged, $n NACKed, socket drops $drops; host UDP receive-buffer errors +$((after - before))"
  grep -i "receive buffer" mcu.log || true
  [ "$drops" = 0 ] || fail "the kernel dropped $drops datagrams"
  [ "$n" = 0 ] || fail "$n packets went missing"
  [ "$p" -ge 330 ] || fail "only $p of 360 pictures decoded"

  # Without CAP_NET_ADMIN and with net.core.rmem_max below what a 1080p burst needs, the
  # daemon says what to set (and counts what the kernel drops).
  RMEM=/proc/sys/net/core/rmem_max
  old=$(cat $RMEM)
  if ! echo 212992 2>/dev/null >$RMEM; then
    echo "net.core.rmem_max is read-only here: the warning path is not exercised"
    exit 0
  fi
  trap 'echo "$old" >$RMEM; cleanup' EXIT
  setpriv --bounding-set=-net_admin "$MCU" --config conf.json --duration 7 \
    --stats-file stats2.json 2>mcu2.log &
  MCU_PID=$!
  PIDS+=($MCU_PID)
  sleep 0.5
  ffmpeg -nostdin -loglevel error -re -t 5 -i clip.mkv -c copy -bsf:v h264_mp4toannexb \
    -f rtp -payload_type 96 "rtp://127.0.0.1:$BASE?pkt_size=1200" >sender2.log 2>&1 || true
  wait "$MCU_PID" || true
  echo "$old" >$RMEM
  cat stats2.json
  grep "receive buffer" mcu2.log || fail "no warning about the receive buffer"
  grep -q "net.core.rmem_max to at least" mcu2.log || fail "the warning does not say what to set"
  cp stats2.json stats.json
  d2=$(stat_field s1 socket_drops)
  echo "with the small buffer: the kernel dropped $d2 datagrams (counted)"
  [ "$d2" -gt 0 ] || fail "drops in a full receive buffer were not counted"
  exit 0
fi

# ---------------------------------------------------------------- codecs
if [ "$MODE" = codecs ]; then
  with() { site_json "$1" "$2" | sed "s/}\$/, $3}/"; } # with INDEX NAME EXTRA-JSON
  write_conf grid6 "$PROFILE_360" "$(with 1 "Yên Từ" '"audio_codec": "G722"'),
    $(with 2 "Yên Mạc" '"audio_codec": "PCMU"'), $(with 3 "Khánh Dương" '"audio_codec": "PCMA"'),
    $(with 4 "Yên Thắng" '"video_codec": "VP8"'), $(site_json 5 "Khánh Thượng"),
    $(site_json 6 "Yên Lâm")"
  start_mcu 30
  tone() { # INDEX HZ RATE CODEC PT
    ffmpeg -nostdin -loglevel error -re -t 26 -f lavfi -i "sine=f=$2:r=$3" \
      -af "asetnsamples=n=$(($3 / 50))" -c:a "$4" -f rtp -payload_type "$5" \
      "rtp://127.0.0.1:$((BASE + 4 * ($1 - 1) + 2))" >"tone$1.log" 2>&1 &
    PIDS+=($!)
  }
  tone 1 440 16000 g722 9
  tone 2 660 8000 pcm_mulaw 0
  tone 3 880 8000 pcm_alaw 8
  ffmpeg -nostdin -loglevel error -re -t 26 -f lavfi -i "color=c=blue:size=320x180:rate=25" \
    -c:v libvpx -deadline realtime -cpu-used 8 -b:v 200k -f rtp -payload_type 96 \
    "rtp://127.0.0.1:$((BASE + 12))?pkt_size=1200" >vp8.log 2>&1 &
  PIDS+=($!)
  ffmpeg -nostdin -loglevel error -re -t 26 -f lavfi -i "testsrc2=size=320x180:rate=25" \
    -c:v libx265 -preset ultrafast -x265-params log-level=error -f rtp -payload_type 96 \
    "rtp://127.0.0.1:$((BASE + 16))?pkt_size=1200" >hevc.log 2>&1 &
  PIDS+=($!)
  ffmpeg -nostdin -loglevel error -re -t 26 -f lavfi -i "sine=f=1000:r=48000" -c:a libopus \
    -f rtp -payload_type 100 "rtp://127.0.0.1:$((BASE + 22))" >opus.log 2>&1 &
  PIDS+=($!)
  sleep 5
  api() { curl -sf -H "Authorization: Bearer $TOKEN" "http://127.0.0.1:$CONTROL$1"; }
  api /api/v1/sites >sites.json
  problem() { # SITE MEDIA
    python3 -c "import json,sys; s=[x for x in json.load(open('sites.json'))['sites'] if x['id']=='$1'][0]; print(s['$2']['problem'])"
  }
  [ "$(problem s5 video)" = "unsupported codec: H.265" ] || fail "s5 video: $(problem s5 video)"
  [ "$(problem s6 audio)" = "Opus on PT 100, not configured" ] ||
    fail "s6 audio: $(problem s6 audio)"
  for i in 1 2 3 4; do
    [ "$(problem s$i video)" = None ] && [ "$(problem s$i audio)" = None ] ||
      fail "s$i has a problem: $(problem s$i video) / $(problem s$i audio)"
  done
  (cd "$HERE/../browser" && node control_page.mjs --url "http://127.0.0.1:$CONTROL" \
    --token "$TOKEN" --expect-card "s5=unsupported codec: H.265" \
    --expect-card "s6=Opus on PT 100, not configured" \
    --screenshot "$DIR/control-page.png")
  wrong=$(metric 'mcu_site_dropped_by_reason_total{site="s5",media="video",reason="wrong_codec"}')
  pt=$(metric 'mcu_site_dropped_by_reason_total{site="s6",media="audio",reason="payload_type"}')
  echo "s5: $wrong H.265 packets dropped as wrong_codec; s6: $pt Opus packets as payload_type"
  [ "$wrong" -gt 100 ] && [ "$pt" -gt 100 ] || fail "the drops are not counted by reason"
  # s4 sends no audio: it hears the three tones; its tile is blue (VP8), s5 and s6 carry
  # their status lines, s2's card (no video, no problem) none.
  timeout 30 ffmpeg -nostdin -loglevel error -protocol_whitelist file,udp,rtp -i sdp/s4.sdp \
    -t 10 -c copy -y rec.mkv >receiver.log 2>&1 || true
  wait "$MCU_PID" || true
  cat stats.json
  "$CHECK" rec.mkv --size 640x360 --fps 25 --layout grid6 --sites 6 --colour 3:0,0,254 \
    --text 4 --text 5 --no-text 1 --tone 440 --tone 660 --tone 880
  for i in 5 6; do
    [ "$(stat_field s$i plis_and_firs)" = 0 ] || fail "s$i was sent keyframe requests"
  done
  [ "$(grep -c "unsupported codec: H.265" mcu.log)" = 1 ] || fail "not one log line for H.265"
  [ "$(grep -c "Opus on PT 100" mcu.log)" = 1 ] || fail "not one log line for s6"
  grep -E "unsupported codec|PT 100" mcu.log
  exit 0
fi

# camera PORT SECONDS: a moving 360p25 picture, H.264 as ffmpeg sends it (no NACK, no PLI).
camera() {
  ffmpeg -nostdin -loglevel error -re -t "$2" -f lavfi -i "testsrc2=size=640x360:rate=25" \
    -c:v libx264 -profile:v baseline -preset ultrafast -tune zerolatency -g 50 -b:v 500k \
    -x264-params repeat-headers=1 -f rtp -payload_type 96 \
    "rtp://127.0.0.1:$1?pkt_size=1200" >"camera-$1.log" 2>&1 &
  PIDS+=($!)
}

# ---------------------------------------------------------------- conceal
if [ "$MODE" = conceal ]; then
  write_conf grid4 "$PROFILE_360" "$(site_json 1 "Yên Nhân"),
    $(site_json 2 "Yên Phong" | sed 's/}$/, "loss_policy": "freeze", "max_freeze_ms": 0}/')"
  start_mcu 44
  for i in 1 2; do
    "$IMPAIR" --pair $((BASE + 50 + 4 * i)):$((BASE + 4 * (i - 1))) --loss 1 --seed $((6 + i)) \
      --seconds 43 >"impair$i.json" &
    PIDS+=($!)
    camera $((BASE + 50 + 4 * i)) 40
  done
  sleep 6
  t0=$(metric mcu_site_tile_ticks_total s1) f0=$(metric mcu_site_tile_frozen_ticks_total s1)
  g0=$(metric mcu_site_tile_ticks_total s2) h0=$(metric mcu_site_tile_frozen_ticks_total s2)
  sleep 30
  t1=$(metric mcu_site_tile_ticks_total s1) f1=$(metric mcu_site_tile_frozen_ticks_total s1)
  g1=$(metric mcu_site_tile_ticks_total s2) h1=$(metric mcu_site_tile_frozen_ticks_total s2)
  c=$(metric mcu_site_pictures_concealed_total s1) k=$(metric mcu_site_pli_sent_total s1)
  wait "$MCU_PID" || true
  cat stats.json impair1.json
  pct() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", (b > 0 ? 100 * a / b : 100) }'; }
  echo "conceal: $((f1 - f0)) of $((t1 - t0)) ticks frozen ($(pct $((f1 - f0)) $((t1 - t0)))%), $c pictures shown concealed, $k PLIs unanswered"
  echo "freeze (for comparison): $((h1 - h0)) of $((g1 - g0)) ticks frozen ($(pct $((h1 - h0)) $((g1 - g0)))%)"
  [ $((t1 - t0)) -ge 700 ] || fail "the tile was shown only $((t1 - t0)) ticks in 30 s"
  [ $((100 * (f1 - f0))) -le $((5 * (t1 - t0))) ] || fail "frozen in more than 5% of ticks"
  [ "$c" -gt 0 ] || fail "no picture was shown concealed"
  exit 0
fi

# ---------------------------------------------------------------- judder
if [ "$MODE" = judder ]; then
  # The cameras replay a clip encoded once (sending it costs ffmpeg almost nothing), so
  # the timing the daemon sees is the relays', not three encoders fighting for two cores.
  ffmpeg -nostdin -loglevel error -f lavfi -i "testsrc2=size=640x360:rate=25" -t 30 \
    -c:v libx264 -profile:v baseline -preset ultrafast -tune zerolatency -g 50 -b:v 500k \
    -x264-params repeat-headers=1 -y clip.mkv
  camera() {
    ffmpeg -nostdin -loglevel error -re -t "$2" -i clip.mkv -c copy \
      -bsf:v h264_mp4toannexb -f rtp -payload_type 96 "rtp://127.0.0.1:$1?pkt_size=1200" \
      >"camera-$1.log" 2>&1 &
    PIDS+=($!)
  }
  write_conf grid4 '{"id": "main", "width": 640, "height": 360, "fps": 25, "video_kbps": 800}' \
    "$(site_json 1 "Yên Hòa"), $(site_json 2 "Yên Hưng"), $(site_json 3 "Yên Thái")"
  start_mcu 34
  "$IMPAIR" --pair $((BASE + 54)):"$BASE" --hold-ms 15 --seconds 33 >impair1.json &
  PIDS+=($!)
  "$IMPAIR" --pair $((BASE + 58)):$((BASE + 4)) --jitter 10 --seed 4 --seconds 33 >impair2.json &
  PIDS+=($!)
  camera $((BASE + 54)) 30
  camera $((BASE + 58)) 30
  camera $((BASE + 8)) 30
  sleep 6
  declare -A t0 r0
  for s in s1 s2 s3; do
    t0[$s]=$(metric mcu_site_tile_ticks_total $s) r0[$s]=$(metric mcu_site_tile_repeated_ticks_total $s)
  done
  timeout 40 ffmpeg -nostdin -loglevel error -protocol_whitelist file,udp,rtp -i sdp/s3.sdp \
    -t 20 -c copy -y rec.mkv >receiver.log 2>&1 || true
  curl -s -H "Authorization: Bearer $TOKEN" "http://127.0.0.1:$CONTROL/metrics" >metrics.txt
  p50=$(awk '$1 == "mcu_output_delay_seconds{quantile=\"0.5\"}" { print $2 * 1000 }' metrics.txt)
  p99=$(awk '$1 == "mcu_output_delay_seconds{quantile=\"0.99\"}" { print $2 * 1000 }' metrics.txt)
  for s in s1 s2 s3; do
    t=$(( $(metric mcu_site_tile_ticks_total $s) - t0[$s] ))
    r=$(( $(metric mcu_site_tile_repeated_ticks_total $s) - r0[$s] ))
    d=$(metric mcu_site_playout_delay_seconds $s)
    echo "$s: $r of $t ticks repeated the picture before; playout delay $d s"
    [ "$t" -ge 450 ] || fail "$s shown only $t ticks"
    [ $((100 * r)) -le "$t" ] || fail "$s repeated more than 1% of its ticks"
  done
  echo "added delay p50 $p50 ms, p99 $p99 ms (three sites whose phases against the ticks are"
  echo "chance: the benchmark's 18 sites measure it)"
  wait "$MCU_PID" || true
  "$CHECK" rec.mkv --size 640x360 --fps 25 --layout grid4 --sites 3 --repeats 0:1 \
    --repeats 1:1 --repeats 2:1
  exit 0
fi
