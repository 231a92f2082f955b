#!/usr/bin/env bash
# The XCTest suite of the Swift package on an iOS simulator, against a real `zhichao serve` on
# 127.0.0.1 (macOS with Xcode only; on Linux, `bash ios/check.sh` checks what it can).
#
#   bash ios/run-tests.sh                    all tests
#   bash ios/run-tests.sh -only-testing:ZhichaoCoreTests/SyncBehaviourTests
#                                            extra arguments go to `xcodebuild test`
#
# Steps: builds the XCFramework and bindings if missing (build-xcframework.sh; run that script
# yourself after changing mobile-bindings), builds `zhichao` (cargo, debug), starts `zhichao
# serve --listen 127.0.0.1:0` with a fresh data directory and a random admin token, runs
# `xcodebuild test` with the server's address, the token and the team's sample photos passed to
# the tests (TEST_RUNNER_ZHICHAO_SERVER …: xcodebuild hands each TEST_RUNNER_NAME to the test
# process as NAME), stops the server whatever happens, and prints `N passed, N failed` (each test
# counted once, from XCTest's "Test Case … passed/failed/skipped" lines).
#
# Environment: SIMULATOR (default "iPhone 15", else the first iPhone simulator available;
# `xcrun simctl list devices available` lists the names), CARGO (default cargo), CARGO_TARGET_DIR (as for cargo), CI (passed on: the tests then
# fail instead of skipping when the sample photos are missing).
# Exit code: xcodebuild's (0 when every test passed).
set -euo pipefail

IOS_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$IOS_DIR/.." && pwd)"
cd "$ROOT"

die() {
  printf 'run-tests: %s\n' "$*" >&2
  exit 1
}
step() { printf '\n==> %s\n' "$*"; }

[ "$(uname -s)" = Darwin ] ||
  die "this script needs macOS with Xcode and an iOS simulator; on Linux run: bash ios/check.sh"
command -v xcodebuild >/dev/null 2>&1 ||
  die "missing xcodebuild: install Xcode, then: sudo xcode-select -s /Applications/Xcode.app"
CARGO="${CARGO:-cargo}"
command -v "$CARGO" >/dev/null 2>&1 || die "missing $CARGO: install Rust with rustup (https://rustup.rs)"
if [ -z "${SIMULATOR:-}" ]; then
  SIMULATOR="iPhone 15"
  # Xcode 16 and later ship other iPhones: take the first available one rather than fail.
  available="$(xcrun simctl list devices available 2>/dev/null || true)"
  if ! grep -q "^ *$SIMULATOR (" <<<"$available"; then
    other="$(sed -nE '/^ +iPhone/{s/^ +(iPhone[^(]*[^ (]) \(.*/\1/p;q;}' <<<"$available")"
    if [ -n "$other" ]; then
      echo "run-tests: no simulator named $SIMULATOR; using $other (set SIMULATOR to choose)"
      SIMULATOR="$other"
    fi
  fi
fi

# --- Cleanup of everything started below, whatever happens ----------------------------------
WORK="$(mktemp -d "${TMPDIR:-/tmp}/zhichao-ios-tests.XXXXXX")"
server_pid=""
stop_server() {
  local pid="$server_pid"
  server_pid=""
  [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null || return 0
  kill -TERM "$pid" 2>/dev/null || true
  for _ in $(seq 50); do
    kill -0 "$pid" 2>/dev/null || { wait "$pid" 2>/dev/null || true; return 0; }
    sleep 0.1
  done
  kill -KILL "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
}
cleanup() {
  local status=$?
  trap - EXIT INT TERM
  stop_server
  rm -rf "$WORK"
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# --- Build ---------------------------------------------------------------------------------
if [ ! -f "$IOS_DIR/ZhichaoCoreFFI.xcframework/Info.plist" ] ||
  [ ! -f "$IOS_DIR/Sources/ZhichaoCore/Generated/ZhichaoCore.swift" ]; then
  step "no XCFramework or bindings yet: bash ios/build-xcframework.sh"
  bash "$IOS_DIR/build-xcframework.sh"
fi

step "$CARGO build -p zhichao-server --bin zhichao"
"$CARGO" build -p zhichao-server --bin zhichao --locked
TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target}"
case "$TARGET_DIR" in /*) ;; *) TARGET_DIR="$ROOT/$TARGET_DIR" ;; esac
ZHICHAO="$TARGET_DIR/debug/zhichao"
[ -x "$ZHICHAO" ] || die "$ZHICHAO was not built"

# --- Server --------------------------------------------------------------------------------
step "zhichao serve"
admin_token="ios-tests-$(od -An -tx1 -N24 /dev/urandom | tr -d ' \n')"
mkdir -p "$WORK/server"
: >"$WORK/server.out"
ZHICHAO_ADMIN_TOKEN="$admin_token" "$ZHICHAO" serve --listen 127.0.0.1:0 --data-dir "$WORK/server" \
  >"$WORK/server.out" 2>"$WORK/server.log" </dev/null &
server_pid=$!
addr=""
for _ in $(seq 300); do # 30 s
  if [ "$(wc -l <"$WORK/server.out")" -ge 1 ]; then # a whole first line
    line="$(head -n 1 "$WORK/server.out")"
    case "$line" in
      "listening on "*)
        addr="${line#listening on }"
        break
        ;;
      *) die "zhichao serve printed '$line', not 'listening on ADDR'" ;;
    esac
  fi
  if ! kill -0 "$server_pid" 2>/dev/null; then
    cat "$WORK/server.out" "$WORK/server.log" >&2
    die "zhichao serve exited before listening; its output is above"
  fi
  sleep 0.1
done
if [ -z "$addr" ]; then
  cat "$WORK/server.out" "$WORK/server.log" >&2
  die "zhichao serve did not print 'listening on ADDR' within 30 s; its output is above"
fi
echo "server on http://$addr (pid $server_pid)"

# --- Tests ---------------------------------------------------------------------------------
test_env=(
  "TEST_RUNNER_ZHICHAO_SERVER=http://$addr"
  "TEST_RUNNER_ZHICHAO_ADMIN_TOKEN=$admin_token"
)
photos="$ROOT/../shared/fixtures/photos"
if [ -d "$photos" ]; then
  test_env+=("TEST_RUNNER_ZHICHAO_PHOTOS=$(cd "$photos" && pwd)")
else
  echo "no sample photos at $photos: the tests leave out their asserts on them (and say so)"
fi
if [ -n "${CI:-}" ]; then
  test_env+=("TEST_RUNNER_CI=$CI")
fi

step "xcodebuild test (platform=iOS Simulator,name=$SIMULATOR)"
LOG="$WORK/xcodebuild.log"
set +e
# One simulator, tests one after another: the output keeps XCTest's own lines, which are
# counted below (parallel clones print another format).
(cd "$IOS_DIR" && env "${test_env[@]}" xcodebuild test -scheme ZhichaoCore \
  -destination "platform=iOS Simulator,name=$SIMULATOR" -parallel-testing-enabled NO "$@" \
  </dev/null 2>&1) | tee "$LOG"
status="${PIPESTATUS[0]}"
set -e
stop_server

# Each test ends with "Test Case '-[ZhichaoCoreTests.X testY]' passed (0.1 seconds)." (or
# failed, skipped; "Test case 'X.testY()' passed on 'Clone 1 of …'" where xcodebuild runs
# clones): counted once per test, however many of its asserts failed.
count() {
  grep -iE "^test case '[^']+' $1" "$LOG" | sed -E "s/^[^']*'([^']+)'.*/\1/" | sort -u | wc -l | tr -d ' '
}
passed="$(count passed)"
failed="$(count failed)"
skipped="$(count skipped)"
# XCTest's last summary line covers the whole run: "Executed 31 tests, with 1 test skipped and
# 2 failures (0 unexpected) in 12.3 (12.5) seconds".
summary="$(grep -E 'Executed [0-9]+ tests?, with ' "$LOG" | tail -n 1 || true)"
if [ -n "$summary" ]; then
  failures="$(sed -E 's/.* ([0-9]+) failures?.*/\1/' <<<"$summary")"
  # A failure outside any test (a crash in setUp of a class …) still fails the run.
  [ "$failed" -gt 0 ] || [ "$failures" -eq 0 ] || failed=1
fi
if [ $((passed + failed + skipped)) -eq 0 ]; then
  echo "run-tests: xcodebuild reported no test results (exit $status); server log (last 40 lines):" >&2
  tail -n 40 "$WORK/server.log" >&2 || true
  [ "$status" -ne 0 ] || status=1
  exit "$status"
fi
[ "$skipped" -eq 0 ] || echo "$skipped skipped (the reasons are in the output above)"
echo "$passed passed, $failed failed"
if [ "$status" -ne 0 ]; then
  echo "run-tests: xcodebuild failed (exit $status); server log (last 40 lines):" >&2
  tail -n 40 "$WORK/server.log" >&2 || true
elif [ "$failed" -gt 0 ]; then
  status=1
fi
exit "$status"
