# Shared by the integration scripts (sourced): background processes that are stopped on
# exit, a site's JSON for the config, and reading the daemon's --stats-file.
# The caller sets BASE (its port range) before using site_json.

PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; }
trap cleanup EXIT

# site_json INDEX NAME: site sINDEX receiving on BASE + 4(INDEX-1), sending its
# composite to 127.0.0.1:BASE + 1000 + 4(INDEX-1) (its SDP describes that).
site_json() {
  printf '{"id": "s%d", "name": "%s", "rtp_port": %d, "plain_rtp": true, "send_to": {"address": "127.0.0.1", "video_port": %d}}' \
    "$1" "$2" $((BASE + 4 * ($1 - 1))) $((BASE + 1000 + 4 * ($1 - 1)))
}

# stat_field SITE KEY: a per-site counter from stats.json in the current directory.
stat_field() {
  sed -n "s/.*{\"id\": \"$1\", \([^}]*\)}.*/\1/p" stats.json | tr ',' '\n' |
    sed -n "s/ *\"$2\": \([0-9]*\)/\1/p"
}
