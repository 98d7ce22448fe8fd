#!/usr/bin/env bash
# Integration tests of resilience and security, real peers over 127.0.0.1 (GStreamer and
# ffmpeg senders and receivers, libsrtp2 on both ends, tests/tools/udp_impair between a
# site and the mcu):
#
#   interop  GStreamer srtpenc senders (AES_CM_128_HMAC_SHA1_80, AEAD_AES_128_GCM and _32)
#            and an ffmpeg SRTP sender (_80) are decoded by the mcu; its output is decoded
#            by GStreamer srtpdec and by ffmpeg opening the generated SDP with a=crypto.
#            (ffmpeg 5.1 sends SRTCP under _32 with a 32-bit tag where RFC 4568 6.2 says
#            80, so its _32 RTCP would not authenticate; its media would.)
#   impair   one site's link, in turn: 5/10/20% loss uniform and in 30 ms bursts, 50+-30 ms
#            jitter, 5% reordering, 5% duplication, a 2 s outage. Its sender (GStreamer
#            rtpbin + rtprtxsend) answers NACK with RFC 4588 RTX and PLI with an IDR.
#            Output frame rate exact, audio continuous, the other tiles untouched, the
#            lossy tile frozen at most 1% at 5% loss, live again within 1 s of the outage.
#   wrap     SRTP with sequence numbers from 65500 and timestamps just below 2^32, 10%
#            loss: no authentication failure, no stall.
#   flood    100k packets/s of random and replayed SRTP from the site's own address for
#            60 s: memory, the other tiles' frames, and the flood counted.
#   latch    an unconfigured source at 1000 packets/s is never latched (plain RTP while
#            the genuine sender is active; SRTP with nobody else sending).
#
#   resilience.sh MODE MCU_BIN CHECK_BIN IMPAIR_BIN SPRAY_BIN WORK_DIR
set -euo pipefail
MODE=$1 MCU=$2 CHECK=$3 IMPAIR=$4 SPRAY=$5 DIR=$6
case $MODE in
  interop) BASE=42000 ;; impair) BASE=42200 ;; wrap) BASE=42400 ;; flood) BASE=42600 ;;
  latch) BASE=42800 ;; *) echo "unknown mode $MODE"; exit 2 ;;
esac
BASE=${MCU_TEST_BASE_PORT_RESILIENCE:-$BASE}
# shellcheck source=lib.sh
source "$(dirname "$0")/lib.sh"
rm -rf "$DIR" && mkdir -p "$DIR" && cd "$DIR"
TOKEN=integration-test-token
CONTROL=$((BASE + 900))
fail() { echo "FAIL: $*"; exit 1; }

# key_b64 BYTES / b64_hex: SRTP master key+salt (30 bytes AES-CM, 28 AES-GCM).
key_b64() { head -c "$1" /dev/urandom | base64 -w0; }
b64_hex() { printf %s "$1" | base64 -d | od -An -tx1 | tr -d ' \n'; }

# metric NAME [SITE]: one value from /metrics.
metric() {
  local key=$1
  [ $# -gt 1 ] && key="$1{site=\"$2\"}"
  curl -s -H "Authorization: Bearer $TOKEN" "http://127.0.0.1:$CONTROL/metrics" |
    awk -v k="$key" '$1 == k { print $2; found = 1 } END { if (!found) print 0 }'
}

# srtp_site INDEX NAME SUITE KEY [SEND_KEY] [EXTRA JSON]
srtp_site() {
  local send=""
  [ -n "${5:-}" ] && send=", \"send_key\": \"inline:$5\""
  printf '{"id": "s%d", "name": "%s", "rtp_port": %d, "srtp": {"suite": "%s", "key": "inline:%s"%s}, "send_to": {"address": "127.0.0.1", "video_port": %d}%s}' \
    "$1" "$2" $((BASE + 4 * ($1 - 1))) "$3" "$4" "$send" $((BASE + 1000 + 4 * ($1 - 1))) "${6:-}"
}

write_conf() { # layout sites-json
  cat > conf.json <<JSON
{"conference": {"name": "resilience", "layout": "$1", "sdp_dir": "sdp"},
 "control": {"port": $CONTROL, "token": "$TOKEN"},
 "profiles": [{"id": "main", "width": 640, "height": 360, "fps": 25, "video_kbps": 600}],
 "sites": [$2]}
JSON
}

start_mcu() { # seconds
  "$MCU" --config conf.json --duration "$1" --stats-file stats.json 2>mcu.log &
  MCU_PID=$!
  PIDS+=($MCU_PID)
  sleep 0.5
}

X264=(-c:v libx264 -profile:v baseline -preset ultrafast -tune zerolatency -g 25 -b:v 200k
      -x264-params repeat-headers=1)
# ffmpeg_sender COLOUR SECONDS PORT [SUITE KEY]: a solid colour, plain RTP or SRTP.
ffmpeg_sender() {
  local url="rtp://127.0.0.1:$3?pkt_size=1200" srtp=()
  if [ $# -gt 3 ]; then
    url="srtp://127.0.0.1:$3?pkt_size=1200"
    srtp=(-srtp_out_suite "$4" -srtp_out_params "$5")
  fi
  ffmpeg -nostdin -loglevel error -re -t "$2" -f lavfi -i "color=c=$1:size=320x180:rate=25" \
    "${X264[@]}" -f rtp -payload_type 96 "${srtp[@]}" "$url" >/dev/null 2>&1 &
  PIDS+=($!)
}

# GStreamer's H.264 camera: a solid colour (ARGB hex) or a moving ball.
gst_video() { # ARGB|ball seconds [pay options]
  local src="videotestsrc is-live=true pattern=solid-color foreground-color=0x$1"
  [ "$1" = ball ] && src="videotestsrc is-live=true pattern=ball"
  echo "$src num-buffers=$(($2 * 25)) ! video/x-raw,width=320,height=180,framerate=25/1 !" \
    "x264enc tune=zerolatency speed-preset=ultrafast key-int-max=50 bitrate=300 !" \
    "video/x-h264,profile=constrained-baseline ! rtph264pay pt=96 config-interval=-1 mtu=1200 ${3:-}"
}

srtp_caps() { # cipher auth keyhex
  echo "srtp-key=(buffer)$3,srtp-cipher=(string)$1,srtp-auth=(string)$2,srtcp-cipher=(string)$1,srtcp-auth=(string)$2"
}

# A sender that answers NACK (RFC 4588 RTX, payload type 97) and PLI, its RTCP back from
# the mcu on FEEDBACK_PORT (the site's send_to port + 1). Optional SRTP both ways.
#   gst_rtx_sender ARGB|ball SECONDS TO_PORT RTCP_TO_PORT FEEDBACK_PORT [PAY] [KEYHEX MCUKEYHEX MCU_SSRC]
gst_rtx_sender() {
  local video rtp_out rtcp_out rtcp_in
  video=$(gst_video "$1" "$2" "${6:-}")
  rtp_out="rb.send_rtp_src_0 ! udpsink host=127.0.0.1 port=$3"
  rtcp_out="rb.send_rtcp_src_0 ! udpsink host=127.0.0.1 port=$4 sync=false async=false"
  rtcp_in="udpsrc port=$5 ! rb.recv_rtcp_sink_0"
  if [ -n "${7:-}" ]; then
    rtp_out="rb.send_rtp_src_0 ! enc.rtp_sink_0 enc.rtp_src_0 ! udpsink host=127.0.0.1 port=$3"
    rtcp_out="rb.send_rtcp_src_0 ! enc.rtcp_sink_0 enc.rtcp_src_0 ! udpsink host=127.0.0.1 port=$4 sync=false async=false"
    rtcp_in="udpsrc port=$5 caps=\"application/x-srtcp,ssrc=(uint)$9,$(srtp_caps aes-128-icm hmac-sha1-80 "$8")\" ! srtpdec ! rb.recv_rtcp_sink_0"
    rtp_out="srtpenc name=enc key=$7 $rtp_out"
  fi
  # exec: the PID the cleanup kills is GStreamer's own; timeout: its RTCP udpsrc never
  # ends, so the pipeline would outlive its video.
  eval "exec timeout $(($2 + 5)) gst-launch-1.0 -q rtpbin name=rb rtp-profile=avpf $video ! \
    rtprtxsend payload-type-map=\"application/x-rtp-pt-map,96=(uint)97\" max-size-time=1000 ! \
    rb.send_rtp_sink_0 $rtp_out $rtcp_out $rtcp_in" >"gst-sender.log" 2>&1 &
  PIDS+=($!)
}

sdp_video_ssrc() { sed -n 's/^a=ssrc:\([0-9]*\) .*/\1/p' "$1" | head -1; }
local_ssrc() { echo $((0x4D430100 + $1)); } # MCU_SITE_LOCAL_SSRC_BASE + site index

# ---------------------------------------------------------------- interop
if [ "$MODE" = interop ]; then
  K1=$(key_b64 30) K1OUT=$(key_b64 30) K2=$(key_b64 28) K3=$(key_b64 30) K4=$(key_b64 30)
  write_conf grid4 "$(srtp_site 1 "Huyện Yên Mô" AES_CM_128_HMAC_SHA1_80 "$K1" "$K1OUT"),
    $(srtp_site 2 "Khánh Dương" AEAD_AES_128_GCM "$K2"),
    $(srtp_site 3 "Yên Thắng" AES_CM_128_HMAC_SHA1_80 "$K3"),
    $(srtp_site 4 "Khánh Thượng" AES_CM_128_HMAC_SHA1_32 "$K4")"
  start_mcu 24
  eval "exec gst-launch-1.0 -q $(gst_video FFFF0000 21) ! srtpenc key=$(b64_hex "$K1") \
    rtp-cipher=aes-128-icm rtp-auth=hmac-sha1-80 rtcp-cipher=aes-128-icm rtcp-auth=hmac-sha1-80 ! \
    udpsink host=127.0.0.1 port=$BASE" >gst1.log 2>&1 &
  PIDS+=($!)
  eval "exec gst-launch-1.0 -q $(gst_video FF00FF00 21) ! srtpenc key=$(b64_hex "$K2") \
    rtp-cipher=aes-128-gcm rtp-auth=null rtcp-cipher=aes-128-gcm rtcp-auth=null ! \
    udpsink host=127.0.0.1 port=$((BASE + 4))" >gst2.log 2>&1 &
  PIDS+=($!)
  ffmpeg_sender blue 21 $((BASE + 8)) AES_CM_128_HMAC_SHA1_80 "$K3"
  eval "exec gst-launch-1.0 -q $(gst_video FFFFFF00 21) ! srtpenc key=$(b64_hex "$K4") \
    rtp-cipher=aes-128-icm rtp-auth=hmac-sha1-32 rtcp-cipher=aes-128-icm rtcp-auth=hmac-sha1-80 ! \
    udpsink host=127.0.0.1 port=$((BASE + 12))" >gst4.log 2>&1 &
  PIDS+=($!)
  sleep 5
  grep -q "a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:" sdp/s3.sdp || fail "no a=crypto in s3.sdp"
  grep -q "a=crypto:1 AES_CM_128_HMAC_SHA1_32 inline:" sdp/s4.sdp || fail "no a=crypto in s4.sdp"
  grep -q "RTP/SAVPF" sdp/s3.sdp || fail "s3.sdp is not RTP/SAVPF"
  VSSRC=$(sdp_video_ssrc sdp/s1.sdp)
  # GStreamer srtpdec: site 1's composite, protected with its configured send_key.
  timeout -s INT 12 gst-launch-1.0 -e -q udpsrc port=$((BASE + 1000)) \
    caps="application/x-srtp,media=(string)video,clock-rate=(int)90000,encoding-name=(string)H264,payload=(int)96,ssrc=(uint)$VSSRC,$(srtp_caps aes-128-icm hmac-sha1-80 "$(b64_hex "$K1OUT")")" \
    ! srtpdec ! rtpjitterbuffer latency=200 ! rtph264depay ! h264parse ! matroskamux ! \
    filesink location=gst.mkv >gst-receiver.log 2>&1 &
  GST_RX=$!
  PIDS+=($GST_RX)
  # ffmpeg: site 3's composite, from the generated SDP with its generated key.
  timeout 30 ffmpeg -nostdin -loglevel error -protocol_whitelist file,udp,rtp,srtp,crypto \
    -i sdp/s3.sdp -t 10 -c copy -y rec.mkv >receiver.log 2>&1 || true
  wait "$GST_RX" || true
  wait "$MCU_PID" || true
  cat stats.json
  for s in s1 s2 s3 s4; do
    a=$(stat_field "$s" srtp_auth_failures) p=$(stat_field "$s" pictures)
    echo "$s: pictures $p srtp_auth_failures $a"
    [ "$p" -gt 300 ] && [ "$a" = 0 ] || fail "site $s over SRTP"
  done
  COLOURS=(--colour 0:254,0,0 --colour 1:0,254,0 --colour 2:0,0,254 --colour 3:254,254,0)
  echo "ffmpeg from the SDP with a=crypto:"
  "$CHECK" rec.mkv --size 640x360 --fps 25 --layout grid4 --sites 4 "${COLOURS[@]}"
  echo "GStreamer srtpdec:"
  "$CHECK" gst.mkv --size 640x360 --fps 25 --layout grid4 --sites 4 "${COLOURS[@]}"
  exit 0
fi

# ---------------------------------------------------------------- latch
if [ "$MODE" = latch ]; then
  K2=$(key_b64 30)
  write_conf grid4 "$(site_json 1 "Huyện Yên Mô"), $(srtp_site 2 "Khánh Dương" AES_CM_128_HMAC_SHA1_80 "$K2")"
  start_mcu 22
  ffmpeg_sender red 20 "$BASE"
  sleep 2
  # Valid-looking RTP, consecutive sequence numbers, at 1000 packets/s for 15 s: at the
  # plain site while its sender is active, and at the SRTP site where nobody else sends.
  "$SPRAY" --to "$BASE" --pps 1000 --seconds 15 --seed 7 >spray1.json &
  PIDS+=($!)
  "$SPRAY" --to $((BASE + 4)) --pps 1000 --seconds 15 --seed 8 >spray2.json &
  PIDS+=($!)
  sleep 4
  timeout 30 ffmpeg -nostdin -loglevel error -protocol_whitelist file,udp,rtp -i sdp/s1.sdp \
    -t 8 -c copy -y rec.mkv >receiver.log 2>&1 || true
  wait "$MCU_PID" || true
  cat stats.json spray1.json spray2.json
  l1=$(stat_field s1 latches) r1=$(stat_field s1 rejected_source) d1=$(stat_field s1 dropped)
  l2=$(stat_field s2 latches) a2=$(stat_field s2 srtp_auth_failures) p2=$(stat_field s2 pictures)
  echo "plain site: latches $l1, rejected $r1; SRTP site: latches $l2, auth failures $a2, pictures $p2"
  [ "$l1" = 1 ] || fail "the plain site latched $l1 sources"
  [ "$r1" -ge 14000 ] || fail "the plain site rejected only $r1 packets"
  [ "$l2" = 0 ] && [ "$p2" = 0 ] || fail "the SRTP site latched an unauthenticated source"
  [ "$a2" -ge 14000 ] || fail "the SRTP site counted only $a2 failures"
  "$CHECK" rec.mkv --size 640x360 --fps 25 --layout grid4 --sites 2 --colour 0:254,0,0 \
    --colour 1:28,32,40
  exit 0
fi

# ---------------------------------------------------------------- wrap
if [ "$MODE" = wrap ]; then
  K1=$(key_b64 30) K1OUT=$(key_b64 30)
  write_conf grid4 "$(srtp_site 1 "Huyện Yên Mô" AES_CM_128_HMAC_SHA1_80 "$K1" "$K1OUT" ', "rtx_pt": 97')"
  start_mcu 26
  "$IMPAIR" --pair $((BASE + 100)):"$BASE":$((BASE + 150)) --loss 10 --seed 5 --seconds 25 \
    >impair.json &
  PIDS+=($!)
  # 2^32 - 90000 * 0.5: the timestamp wraps half a second in; the sequence after 36 packets.
  gst_rtx_sender ball 22 $((BASE + 100)) $((BASE + 1)) $((BASE + 1001)) \
    "seqnum-offset=65500 timestamp-offset=4294922296" "$(b64_hex "$K1")" "$(b64_hex "$K1OUT")" \
    "$(local_ssrc 0)"
  sleep 2
  prev=$(metric mcu_site_pictures_decoded_total s1) worst=0
  for t in $(seq 1 18); do # every second: at least one new picture (no stall)
    sleep 1
    cur=$(metric mcu_site_pictures_decoded_total s1)
    [ "$cur" -gt "$prev" ] || fail "no picture from s1 in second $t"
    echo "second $t: $((cur - prev)) pictures"
    prev=$cur
  done
  wait "$MCU_PID" || true
  cat stats.json impair.json
  a=$(stat_field s1 srtp_auth_failures) r=$(stat_field s1 srtp_replays)
  n=$(stat_field s1 nack_requested) x=$(stat_field s1 rtx_packets)
  echo "s1: auth failures $a, replays $r, NACKed $n, RTX received $x"
  [ "$a" = 0 ] && [ "$r" = 0 ] || fail "genuine packets failed SRTP across the wrap"
  exit 0
fi

# ---------------------------------------------------------------- flood
if [ "$MODE" = flood ]; then
  # The flood starts after 30 s: resident memory settles in the first minute or less
  # (x264 lookahead, decoder pools, worker arenas); it is compared from there.
  K1=$(key_b64 30) FLOOD_AT=30 FLOOD_FOR=60
  write_conf grid4 "$(srtp_site 1 "Huyện Yên Mô" AES_CM_128_HMAC_SHA1_80 "$K1"),
    $(site_json 2 "Khánh Dương"), $(site_json 3 "Yên Thắng")"
  start_mcu $((FLOOD_AT + FLOOD_FOR + 8))
  "$IMPAIR" --pair $((BASE + 100)):"$BASE":$((BASE + 150)) --flood-pps "${FLOOD_PPS:-100000}" \
    --flood-start "$FLOOD_AT" --flood-for "$FLOOD_FOR" --seconds $((FLOOD_AT + FLOOD_FOR + 4)) \
    >impair.json &
  PIDS+=($!)
  SECS=$((FLOOD_AT + FLOOD_FOR + 5))
  eval "exec gst-launch-1.0 -q $(gst_video FFFF0000 "$SECS") ! srtpenc key=$(b64_hex "$K1") \
    rtp-cipher=aes-128-icm rtp-auth=hmac-sha1-80 rtcp-cipher=aes-128-icm rtcp-auth=hmac-sha1-80 ! \
    udpsink host=127.0.0.1 port=$((BASE + 100))" >gst1.log 2>&1 &
  PIDS+=($!)
  ffmpeg_sender green "$SECS" $((BASE + 4))
  ffmpeg_sender blue "$SECS" $((BASE + 8))
  rss() { awk '/VmRSS/ { print $2 }' "/proc/$MCU_PID/status"; }
  sleep $((FLOOD_AT - 2))
  rss0=$(rss)
  p2a=$(metric mcu_site_pictures_decoded_total s2) p3a=$(metric mcu_site_pictures_decoded_total s3)
  lost_a=$(( $(metric mcu_site_video_packets_lost_total s2) + $(metric mcu_site_video_packets_lost_total s3) ))
  dmg_a=$(( $(metric mcu_site_pictures_damaged_total s2) + $(metric mcu_site_pictures_damaged_total s3) ))
  sleep $((FLOOD_FOR + 4)) # the flood runs from FLOOD_AT to FLOOD_AT + FLOOD_FOR
  rss1=$(rss)
  p2b=$(metric mcu_site_pictures_decoded_total s2) p3b=$(metric mcu_site_pictures_decoded_total s3)
  lost_b=$(( $(metric mcu_site_video_packets_lost_total s2) + $(metric mcu_site_video_packets_lost_total s3) ))
  dmg_b=$(( $(metric mcu_site_pictures_damaged_total s2) + $(metric mcu_site_pictures_damaged_total s3) ))
  wait "$MCU_PID" || true
  cat stats.json impair.json
  expected=$(( (FLOOD_FOR + 4) * 25 ))
  echo "RSS before the flood ${rss0} kB, at its end ${rss1} kB"
  echo "other tiles over $((FLOOD_FOR + 4)) s: s2 $((p2b - p2a)), s3 $((p3b - p3a)) pictures of $expected;" \
       "packets lost $((lost_b - lost_a)), pictures damaged $((dmg_b - dmg_a))"
  counted=$(( $(stat_field s1 srtp_auth_failures) + $(stat_field s1 srtp_replays) ))
  sent=$(sed -n 's/.*"flood_sent":\([0-9]*\).*/\1/p' impair.json)
  echo "flood: $sent sent, $counted counted as SRTP failures (auth + replay)"
  [ $((rss1 * 100)) -lt $((rss0 * 105)) ] || fail "resident memory grew from $rss0 to $rss1 kB"
  for d in $((p2b - p2a)) $((p3b - p3a)); do
    [ $((d * 1000)) -ge $((expected * 999 - 2000)) ] || fail "another tile lost frames: $d of $expected"
  done
  [ $((lost_b - lost_a)) = 0 ] && [ $((dmg_b - dmg_a)) = 0 ] || fail "the other tiles lost data"
  [ "$counted" -ge $((sent * 9 / 10)) ] || fail "flood not counted: $counted of $sent"
  exit 0
fi

# ---------------------------------------------------------------- impair
# Site 1's sender -> udp_impair -> mcu; sites 2-4 send directly; site 2's composite is
# recorded for the whole run.
SCENARIOS=("uniform 5%:--loss 5" "uniform 10%:--loss 10" "uniform 20%:--loss 20"
           "bursts 5%:--loss 5 --burst-ms 30" "bursts 10%:--loss 10 --burst-ms 30"
           "bursts 20%:--loss 20 --burst-ms 30" "jitter 50+-30 ms:--delay 50 --jitter 30"
           "reorder 5%:--reorder 5" "duplicate 5%:--dup 5"
           "outage 2 s:--outage-at 4 --outage-for 2")
STEP=10
RUN=$(( ${#SCENARIOS[@]} * (STEP + 2) + 8 ))
write_conf grid4 "$(site_json 1 "Huyện Yên Mô" | sed 's/}$/, "rtx_pt": 97}/' ),
  $(site_json 2 "Khánh Dương"), $(site_json 3 "Yên Thắng"), $(site_json 4 "Khánh Thượng")"
start_mcu $((RUN + 4))
# Site 2 also sends a tone: the output's audio is checked for continuity.
ffmpeg -nostdin -loglevel error -re -f lavfi -i "color=c=green:size=320x180:rate=25" \
  -re -f lavfi -i "sine=frequency=440:sample_rate=48000" "${X264[@]}" -map 0:v -t "$RUN" \
  -f rtp -payload_type 96 "rtp://127.0.0.1:$((BASE + 4))?pkt_size=1200" -map 1:a -c:a libopus \
  -b:a 32k -t "$RUN" -f rtp -payload_type 111 "rtp://127.0.0.1:$((BASE + 6))" >/dev/null 2>&1 &
PIDS+=($!)
ffmpeg_sender blue "$RUN" $((BASE + 8))
ffmpeg_sender yellow "$RUN" $((BASE + 12))
gst_rtx_sender ball "$RUN" $((BASE + 100)) $((BASE + 1)) $((BASE + 1001))
"$IMPAIR" --pair $((BASE + 100)):"$BASE":$((BASE + 150)) --seconds 3 >warmup.json
timeout $((RUN + 10)) ffmpeg -nostdin -loglevel error -protocol_whitelist file,udp,rtp \
  -i sdp/s2.sdp -t $((RUN - 6)) -c copy -y rec.mkv >receiver.log 2>&1 &
REC=$!
PIDS+=($REC)

others_bad() { # frozen + damaged of the steady sites
  local n=0
  for s in s2 s3 s4; do
    n=$((n + $(metric mcu_site_tile_frozen_ticks_total $s) + $(metric mcu_site_pictures_damaged_total $s)))
  done
  echo $n
}
status=0
missed0=$(metric mcu_video_ticks_missed_total)
printf '%-18s %8s %8s %8s %8s %8s %s\n' scenario shown frozen frozen% NACKed RTX "recovery"
for sc in "${SCENARIOS[@]}"; do
  name=${sc%%:*} args=${sc#*:}
  # The proxy runs STEP + 1 s; the window measured is [0.5 s, STEP - 0.5 s] of it, so the
  # moment between two proxies (the link down for a few ms) is outside every window.
  # shellcheck disable=SC2086
  "$IMPAIR" --pair $((BASE + 100)):"$BASE":$((BASE + 150)) $args --seed 11 \
    --seconds $((STEP + 1)) >"impair-${name// /_}.json" &
  IMP=$!
  T0=$(date +%s.%N)
  sleep 0.5
  sh0=$(metric mcu_site_tile_ticks_total s1) fr0=$(metric mcu_site_tile_frozen_ticks_total s1)
  nk0=$(metric mcu_site_nack_requested_total s1) rx0=$(metric mcu_site_rtx_packets_total s1)
  bad0=$(others_bad)
  recovery=-
  if [[ $name == outage* ]]; then
    # Link back at T0 + 6 s: the first new picture after that.
    sleep 5
    p0=$(metric mcu_site_pictures_decoded_total s1)
    back=$(echo "$T0 + 6" | bc)
    while :; do
      now=$(date +%s.%N)
      p=$(metric mcu_site_pictures_decoded_total s1)
      if [ "$p" -gt "$p0" ] && [ "$(echo "$now > $back" | bc)" = 1 ]; then
        recovery=$(echo "$now - $back" | bc)
        break
      fi
      [ "$(echo "$now > $back" | bc)" = 1 ] || p0=$p
      [ "$(echo "$now > $back + 3" | bc)" = 1 ] && { recovery=never; break; }
      sleep 0.05
    done
  fi
  left=$(echo "$T0 + $STEP - 1.3 - $(date +%s.%N)" | bc)
  [ "$(echo "$left > 0" | bc)" = 1 ] && sleep "$left"
  late0=$(metric mcu_site_pictures_decoded_total s1)
  sleep 0.8
  late1=$(metric mcu_site_pictures_decoded_total s1)
  sh=$(( $(metric mcu_site_tile_ticks_total s1) - sh0 ))
  fr=$(( $(metric mcu_site_tile_frozen_ticks_total s1) - fr0 ))
  nk=$(( $(metric mcu_site_nack_requested_total s1) - nk0 ))
  rx=$(( $(metric mcu_site_rtx_packets_total s1) - rx0 ))
  bad=$(( $(others_bad) - bad0 ))
  pct=$(echo "scale=2; 100 * $fr / ($sh + ($sh == 0))" | bc)
  wait "$IMP" || true
  printf '%-18s %8d %8d %8s %8d %8d %s\n' "$name" "$sh" "$fr" "$pct" "$nk" "$rx" "$recovery"
  [ "$bad" = 0 ] || { echo "FAIL: $name touched the other tiles ($bad)"; status=1; }
  [ "$late1" -gt "$late0" ] || { echo "FAIL: $name left s1 frozen"; status=1; }
  if [ "$name" = "uniform 5%" ] && [ $((fr * 100)) -gt "$sh" ]; then
    echo "FAIL: frozen $pct% at 5% loss with NACK"; status=1
  fi
  if [[ $name == outage* ]] && { [ "$recovery" = never ] || [ "$(echo "$recovery > 1" | bc)" = 1 ]; }; then
    echo "FAIL: live again only after $recovery s"; status=1
  fi
done
# Each site is asked (TMMBR) for what its tile needs: a 320x180 cell of grid4 at 25 fps is
# 144 kbps at 0.1 bit per pixel, far below the 1500 kbps a site may send.
want=$(metric mcu_site_requested_bits_per_second s1) tm=$(metric mcu_site_tmmbr_sent_total s1)
echo "s1 asked for $want bps in $tm TMMBR"
[ "$tm" -gt 0 ] && [ "$want" -ge 64000 ] && [ "$want" -le 150000 ] || { echo "FAIL: TMMBR"; status=1; }
missed=$(( $(metric mcu_video_ticks_missed_total) - missed0 ))
echo "output ticks missed during the scenarios: $missed"
[ "$missed" = 0 ] || status=1
wait "$REC" || true
wait "$MCU_PID" || true
cat stats.json
# Output: exact frame rate, the steady tiles in every frame, audio without a gap.
"$CHECK" rec.mkv --size 640x360 --fps 25 --layout grid4 --sites 4 --colour 1:0,128,0 \
  --colour 2:0,0,254 --colour 3:254,254,0 || status=1
gap=$(ffprobe -v error -select_streams a -show_entries packet=pts_time -of csv=p=0 rec.mkv |
  awk 'NR > 1 { d = $1 - prev; if (d > max) max = d } { prev = $1; n++ }
       END { printf "%d packets, largest gap %.3f s\n", n, max }')
echo "output audio: $gap"
awk -v g="${gap##* gap }" 'BEGIN { exit !(g + 0 <= 0.030) }' || { echo "FAIL: audio gap"; status=1; }
exit $status
