#!/usr/bin/env bash
# Installs every build, test, fuzz and benchmark dependency of the MCU with apt-get.
# Idempotent: packages already present are left alone; when nothing is missing the
# script does not touch the network at all.
set -euo pipefail

PACKAGES=(
  # toolchain: gcc builds the project, clang + its runtime build the libFuzzer targets
  build-essential gcc clang libclang-rt-dev cmake pkg-config git
  # media and network libraries
  libuv1-dev libavcodec-dev libavformat-dev libavfilter-dev libswscale-dev libavutil-dev
  libswresample-dev libopus-dev libsrtp2-dev libssl-dev libyuv-dev libjansson-dev libmicrohttpd-dev
  # label NFC normalisation; mcuctl and the API test's HTTP client
  libunistring-dev libcurl4-openssl-dev
  # tile labels: shaping (Vietnamese diacritics) and font lookup
  libfreetype-dev libharfbuzz-dev libfontconfig-dev
  # tests
  libcmocka-dev
  # fonts for the site simulators' names and the tile labels (Vietnamese coverage)
  fonts-dejavu-core
  # real peers for integration tests
  ffmpeg gstreamer1.0-tools gstreamer1.0-plugins-base gstreamer1.0-plugins-good
  gstreamer1.0-plugins-bad gstreamer1.0-plugins-ugly gstreamer1.0-libav
  # the control page's browser test: Debian's Chromium, driven by playwright-core (npm)
  chromium nodejs
  # the capacity benchmark: its records are JSON Lines (jq), its plots gnuplot, and a
  # profile of the daemon says where the time goes (perf)
  jq gnuplot-nox linux-perf
)

missing=()
for p in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive

if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#PACKAGES[@]} packages present"
else
  echo "install-deps: installing ${missing[*]}"
  $SUDO apt-get update -q
  $SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

# npm: bundled with some Node.js builds, a separate Debian package with Debian's own.
if ! command -v npm >/dev/null 2>&1; then
  echo "install-deps: installing npm"
  $SUDO apt-get update -q
  $SUDO apt-get install -y -q --no-install-recommends npm
fi
