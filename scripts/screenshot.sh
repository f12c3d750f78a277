#!/usr/bin/env bash
# Takes PNG screenshots of a terminal program running in a private tmux server.
#
#   scripts/screenshot.sh OUTPUT.png COLSxROWS -- COMMAND [ARGS...] < STEPS
#
# COMMAND starts in a detached tmux pane of exactly COLSxROWS cells (no status
# line, TERM=tmux-256color, COLORTERM=truecolor, in the current directory). Then
# the steps are run, one per line, read from stdin (blank lines and # comments
# are skipped):
#
#   keys KEY...        tmux send-keys names: j Enter Escape Tab Up Down C-c ...
#   type TEXT          type TEXT literally (spaces kept)
#   wait SECONDS       sleep (fractions allowed)
#   until TEXT         wait until TEXT is on the screen (gives up after
#                      SHOT_TIMEOUT seconds, default 15, showing the screen)
#   shot [FILE]        capture the screen to FILE (default OUTPUT.png); a FILE
#                      ending in .ansi keeps the raw `capture-pane -p -e` text
#
# If stdin is a terminal the steps are "wait 2" and "shot". Example:
#
#   cargo build --release    # so that `until` does not wait for the compiler
#   printf '%s\n' 'until Catalog' 'shot' 'keys j j Enter' 'wait 1' 'shot assets/gate.png' |
#       scripts/screenshot.sh assets/catalog.png 120x36 -- target/release/chaosdeck
#
# Environment: SHOT_FONT_SIZE (default 16), SHOT_PAD (default 12, pixels),
# SHOT_TIMEOUT (default 15, seconds).
# Installs tmux, fonts-dejavu-core and Pillow when missing. Only the tmux
# server this script started is killed at the end.
set -euo pipefail

usage() { sed -n '2,/^set -e/p' "$0" | sed '$d; s/^# \{0,1\}//' >&2; exit 2; }
[ $# -ge 4 ] && [ "$3" = "--" ] || usage
out=$1
size=$2
shift 3
[[ $size =~ ^([0-9]+)x([0-9]+)$ ]] || usage
cols=${BASH_REMATCH[1]}
rows=${BASH_REMATCH[2]}
here=$(cd "$(dirname "$0")" && pwd)

as_root() {
    if [ "$(id -u)" -eq 0 ]; then
        "$@"
    elif command -v sudo >/dev/null 2>&1; then
        sudo "$@"
    else
        echo "screenshot.sh: need root (or sudo) to run: $*" >&2
        exit 1
    fi
}

missing=()
command -v tmux >/dev/null 2>&1 || missing+=(tmux)
[ -f /usr/share/fonts/truetype/dejavu/DejaVuSansMono.ttf ] || missing+=(fonts-dejavu-core)
if [ "${#missing[@]}" -gt 0 ]; then
    echo "screenshot.sh: installing ${missing[*]}" >&2
    as_root apt-get update
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}"
fi
if ! python3 -c 'import PIL' 2>/dev/null; then
    echo "screenshot.sh: installing Pillow" >&2
    python3 -m pip install --quiet pillow ||
        as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends python3-pil
fi

sock=chaosdeck-shot-$$
tmp=$(mktemp -d)
t() { tmux -L "$sock" -f /dev/null "$@"; }
socket_path=
cleanup() {
    t kill-server 2>/dev/null || true
    [ -z "$socket_path" ] || rm -f "$socket_path"
    rm -rf "$tmp"
}
trap cleanup EXIT

# Options are set before the session exists so the pane gets the full size and
# stays on screen (with its last output) if COMMAND exits.
t start-server \; set -g status off \; set -g remain-on-exit on \; set -gq remain-on-exit-format '' \; set -g escape-time 0 \; \
    set -g default-terminal tmux-256color  \; \
    new-session -d -s shot -x "$cols" -y "$rows" -c "$PWD" -e COLORTERM=truecolor -- "$@"
socket_path=$(t display-message -p '#{socket_path}')

shot() {
    local file=${1:-$out}
    mkdir -p "$(dirname "$file")"
    t capture-pane -p -e -t shot >"$tmp/screen.ansi"
    case $file in
    *.ansi) cp "$tmp/screen.ansi" "$file" ;;
    *) python3 "$here/ansi_to_png.py" "$tmp/screen.ansi" "$file" --cols "$cols" --rows "$rows" \
        --font-size "${SHOT_FONT_SIZE:-16}" --pad "${SHOT_PAD:-12}" ;;
    esac
    echo "screenshot.sh: wrote $file" >&2
}

until_text() {
    local text=$1 deadline=$((SECONDS + ${SHOT_TIMEOUT:-15}))
    until t capture-pane -p -t shot | grep -qF -- "$text"; do
        if [ "$SECONDS" -ge "$deadline" ]; then
            echo "screenshot.sh: '$text' did not appear; the screen is:" >&2
            t capture-pane -p -t shot >&2
            exit 1
        fi
        sleep 0.2
    done
}

if [ -t 0 ]; then steps=$'wait 2\nshot'; else steps=$(cat); fi
while IFS= read -r line; do
    read -r verb rest <<<"$line" || true
    case ${verb:-#} in
    \#*) ;;
    keys) read -ra keys <<<"$rest"; t send-keys -t shot "${keys[@]}" ;;
    type) t send-keys -t shot -l -- "${line#*type }" ;;
    wait) sleep "$rest" ;;
    until) until_text "$rest" ;;
    shot) shot "$rest" ;;
    *) echo "screenshot.sh: unknown step: $line" >&2; exit 2 ;;
    esac
done <<<"$steps"
