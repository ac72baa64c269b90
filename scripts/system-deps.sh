#!/usr/bin/env bash
# System packages pip cannot provide, installed only when missing:
#   font      a CJK font (WenQuanYi Micro Hei) so charts render Chinese labels (make run, make test)
#   chromium  headless Chromium for the report test (make test)
# Needs root (as on CI); otherwise prints what is missing and leaves it to you.
set -euo pipefail
need=()
for what in "$@"; do
  case "$what" in
    font) fc-list 2>/dev/null | grep -qi "WenQuanYi Micro Hei" || need+=(fonts-wqy-microhei fontconfig) ;;
    chromium) command -v chromium >/dev/null 2>&1 || need+=(chromium) ;;
    *) echo "system-deps: unknown component $what" >&2; exit 2 ;;
  esac
done
[ ${#need[@]} -eq 0 ] && exit 0
if [ "$(id -u)" != "0" ]; then
  echo "system-deps: missing ${need[*]}; install them (Debian: apt-get install ${need[*]})" >&2
  exit 0
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >/dev/null
apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
echo "system-deps: installed ${need[*]}" >&2
