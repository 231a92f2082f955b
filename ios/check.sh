#!/usr/bin/env bash
# What can be checked of the iOS side on Linux, without Xcode or Swift: generates the Swift
# bindings from the host build of mobile-bindings and checks that the C header compiles, that
# every function it declares is exported by the library (so the Swift side would link), that
# the module map, the generated Swift, Package.swift, the smoke test and build-xcframework.sh agree
# on names, and (check-swift-api.pl) that the hand-written Swift — wrappers and XCTests — calls
# what the generated Swift declares, as it declares it, and mirrors the Android tests and texts.
# Compiling the Swift, building the XCFramework and running the XCTest suite need a Mac
# (ios/README.md, ios/run-tests.sh).
#
# Usage: bash ios/check.sh   (CARGO selects the cargo to run; needs cc, nm and perl)
# `cargo test --workspace` runs it through mobile-bindings/tests/swift_bindings.rs.
# Prints one line per check and `N passed, N failed` last; exits 1 if a check failed.
set -euo pipefail

IOS_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$IOS_DIR/.." && pwd)"
cd "$ROOT"
CARGO="${CARGO:-cargo}"
export CARGO # uniffi-bindgen runs `cargo metadata` with it

for tool in cc nm perl; do
  if ! command -v "$tool" >/dev/null 2>&1; then
    echo "ios/check.sh: missing $tool (Debian: apt-get install gcc binutils perl)" >&2
    exit 2
  fi
done

passed=0
failed=0
pass() {
  passed=$((passed + 1))
  echo "ok    $1"
}
# fail SUMMARY [DETAIL...]
fail() {
  failed=$((failed + 1))
  echo "FAIL  $1"
  shift
  local line
  for line in "$@"; do
    echo "        $line"
  done
}
skip() { echo "skip  $1"; }
finish() {
  echo "$passed passed, $failed failed"
  if [ "$failed" -eq 0 ]; then exit 0; fi
  exit 1
}
# first_match PERL_REGEX FILE: the first capture group of the first match in the whole file.
first_match() {
  [ -f "$2" ] || return 0
  RE="$1" perl -0777 -ne 'print $1 if /$ENV{RE}/m' "$2"
}
# matches PERL_REGEX FILE: whether the regex matches somewhere in the whole file.
matches() {
  [ -f "$2" ] || return 1
  RE="$1" perl -0777 -ne 'exit(/$ENV{RE}/m ? 0 : 1)' "$2"
}

PACKAGE_SWIFT="$IOS_DIR/Package.swift"
BUILD_SCRIPT="$IOS_DIR/build-xcframework.sh"
SMOKE_TEST="$IOS_DIR/Tests/ZhichaoCoreTests/NormalizePlateTests.swift"

# The names build-xcframework.sh works with; everything below must agree with them.
LIB_NAME="$(first_match '^LIB_NAME=(\w+)' "$BUILD_SCRIPT")"
FFI_MODULE="$(first_match '^FFI_MODULE=(\w+)' "$BUILD_SCRIPT")"
SWIFT_MODULE="$(first_match '^SWIFT_MODULE=(\w+)' "$BUILD_SCRIPT")"
PACKAGE="$(first_match '^PACKAGE=([\w-]+)' "$BUILD_SCRIPT")"
if [ -z "$LIB_NAME" ] || [ -z "$FFI_MODULE" ] || [ -z "$PACKAGE" ] || [ -z "$SWIFT_MODULE" ]; then
  fail "build-xcframework.sh sets PACKAGE, LIB_NAME, SWIFT_MODULE and FFI_MODULE" \
    "found PACKAGE='$PACKAGE' LIB_NAME='$LIB_NAME' SWIFT_MODULE='$SWIFT_MODULE' FFI_MODULE='$FFI_MODULE'"
  finish
fi

# The package selection and features of `cargo test --workspace` (test targets bring in the
# dev-dependencies' features), so once the tests are built this has nothing to do. `--lib` too:
# without it the libraries are built only as the tests' dependencies, and cargo does not put
# libzhichao_mobile.so into target/debug (`cargo test` does, for the doctests). Not
# `--all-targets`: that would also build the benches, which the tests do not.
echo "==> $CARGO build --workspace --lib --tests --bins --locked"
"$CARGO" build --workspace --lib --tests --bins --locked
TARGET_DIR="$("$CARGO" metadata --format-version 1 --no-deps --locked |
  perl -ne 'print $1 if /"target_directory":"((?:[^"\\]|\\.)*)"/')"
LIBRARY="$TARGET_DIR/debug/lib$LIB_NAME.so"
BINDGEN="$TARGET_DIR/debug/uniffi-bindgen"

WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
GENERATED="$WORK/generated"
echo "==> uniffi-bindgen generate $LIBRARY --language swift --out-dir $GENERATED"
if ! "$BINDGEN" generate "$LIBRARY" --language swift --out-dir "$GENERATED" --no-format; then
  fail "uniffi-bindgen generates the Swift bindings"
  finish
fi
SWIFT="$GENERATED/$SWIFT_MODULE.swift"
HEADER="$GENERATED/$FFI_MODULE.h"
MODULEMAP="$GENERATED/$FFI_MODULE.modulemap"

# (a) The files build-xcframework.sh packages.
missing=()
for file in "$SWIFT" "$HEADER" "$MODULEMAP"; do
  [ -s "$file" ] || missing+=("$(basename "$file")")
done
if [ "${#missing[@]}" -eq 0 ]; then
  pass "uniffi generated $SWIFT_MODULE.swift, $FFI_MODULE.h and $FFI_MODULE.modulemap"
else
  fail "uniffi generated $SWIFT_MODULE.swift, $FFI_MODULE.h and $FFI_MODULE.modulemap" \
    "missing: ${missing[*]}" "generated: $(cd "$GENERATED" && echo *)" \
    "(the Swift names in mobile-bindings/uniffi.toml name them: keep SWIFT_MODULE and FFI_MODULE in build-xcframework.sh and the binaryTarget in Package.swift equal to them)"
  finish
fi

# (b) The header compiles as C. Swift reads it with Clang, which knows the nullability qualifiers
# (_Nonnull, _Nullable) the header uses; GCC does not, so the probe defines them away for it.
PROBE="$WORK/probe.c"
cat >"$PROBE" <<EOF
#if !defined(__clang__)
#define _Nonnull
#define _Nullable
#endif
#include "$FFI_MODULE.h"
EOF
compile() {
  local name="$1"
  shift
  local output lines
  if output="$(cc -fsyntax-only -I "$GENERATED" "$@" "$PROBE" 2>&1)"; then
    pass "$FFI_MODULE.h compiles: $name"
  else
    mapfile -t lines < <(printf '%s\n' "$output" | head -n 20)
    fail "$FFI_MODULE.h compiles: $name" "${lines[@]}"
  fi
}
compile "cc -x c" -x c
compile "cc -x c -std=c99 -Wall -Wextra -Werror -pedantic" -x c -std=c99 -Wall -Wextra -Werror -pedantic
if command -v clang >/dev/null 2>&1; then
  if output="$(clang -fsyntax-only -I "$GENERATED" -x objective-c -Wall -Werror "$PROBE" 2>&1)"; then
    pass "$FFI_MODULE.h compiles: clang -x objective-c"
  else
    mapfile -t lines < <(printf '%s\n' "$output" | head -n 20)
    fail "$FFI_MODULE.h compiles: clang -x objective-c" "${lines[@]}"
  fi
else
  skip "$FFI_MODULE.h as Objective-C: clang is not installed"
fi

# (c) Every function the header declares is exported by the library, and every C function the
# generated Swift calls is declared in the header: the Swift side would link. The declarations
# start at column 0 with the return type (typedefs and struct bodies excluded).
perl -0777 -ne 'while (/^(?!typedef\b)[A-Za-z_][\w \t*]*?\b([A-Za-z_]\w*)\s*\(/mg) { print "$1\n" }' \
  "$HEADER" | sort -u >"$WORK/declared"
nm -D --defined-only "$LIBRARY" | awk '$2 == "T" { print $3 }' | sort -u >"$WORK/exported"
perl -ne 'print "$1\n" while /\b((?:uniffi|ffi)_'"$LIB_NAME"'_\w+)\s*\(/g' "$SWIFT" |
  sort -u >"$WORK/called"
declared_count="$(wc -l <"$WORK/declared")"
unexported="$(comm -23 "$WORK/declared" "$WORK/exported")"
if [ "$declared_count" -eq 0 ]; then
  fail "lib$LIB_NAME.so exports the functions $FFI_MODULE.h declares" \
    "found no declarations in the header: has its layout changed?"
elif ! grep -qx "ffi_${LIB_NAME}_uniffi_contract_version" "$WORK/declared"; then
  fail "lib$LIB_NAME.so exports the functions $FFI_MODULE.h declares" \
    "ffi_${LIB_NAME}_uniffi_contract_version is not among the $declared_count declarations found: has the header's layout changed?"
elif [ -n "$unexported" ]; then
  # shellcheck disable=SC2086
  fail "lib$LIB_NAME.so exports the functions $FFI_MODULE.h declares" "not exported:" $unexported
else
  pass "lib$LIB_NAME.so exports all $declared_count functions $FFI_MODULE.h declares"
fi
undeclared="$(comm -23 "$WORK/called" "$WORK/declared")"
if [ ! -s "$WORK/called" ]; then
  fail "$FFI_MODULE.h declares the C functions $SWIFT_MODULE.swift calls" "found no calls in the Swift"
elif [ -n "$undeclared" ]; then
  # shellcheck disable=SC2086
  fail "$FFI_MODULE.h declares the C functions $SWIFT_MODULE.swift calls" "not declared:" $undeclared
else
  pass "$FFI_MODULE.h declares the $(wc -l <"$WORK/called") C functions $SWIFT_MODULE.swift calls"
fi

# (d) One module name everywhere: the module map (with the generated header), the generated
# Swift's import, Package.swift's binaryTarget and XCFramework, and build-xcframework.sh.
map_module="$(first_match '^\s*module\s+(\w+)\s*\{' "$MODULEMAP")"
map_header="$(first_match '^\s*header\s+"([^"]+)"' "$MODULEMAP")"
if [ "$map_module" = "$FFI_MODULE" ] && [ "$map_header" = "$FFI_MODULE.h" ]; then
  pass "the module map declares module $FFI_MODULE with header $FFI_MODULE.h"
else
  fail "the module map declares module $FFI_MODULE with header $FFI_MODULE.h" \
    "found module '$map_module', header '$map_header'"
fi
can_import="$(first_match '^#if canImport\((\w+)\)' "$SWIFT")"
import="$(first_match '^#if canImport\(\w+\)[ \t]*\nimport (\w+)' "$SWIFT")"
if [ "$can_import" = "$FFI_MODULE" ] && [ "$import" = "$FFI_MODULE" ]; then
  pass "$SWIFT_MODULE.swift imports $FFI_MODULE"
else
  fail "$SWIFT_MODULE.swift imports $FFI_MODULE" \
    "found canImport('$can_import') and import '$import'"
fi
binary_name="$(first_match '\.binaryTarget\(\s*name:\s*"([^"]+)"' "$PACKAGE_SWIFT")"
binary_path="$(first_match '\.binaryTarget\(\s*name:\s*"[^"]+",\s*path:\s*"([^"]+)"' "$PACKAGE_SWIFT")"
if [ "$binary_name" = "$FFI_MODULE" ] && [ "$binary_path" = "$FFI_MODULE.xcframework" ]; then
  pass "Package.swift's binaryTarget is $FFI_MODULE at $FFI_MODULE.xcframework"
else
  fail "Package.swift's binaryTarget is $FFI_MODULE at $FFI_MODULE.xcframework" \
    "found name '$binary_name', path '$binary_path'"
fi
if "$CARGO" pkgid --locked "$PACKAGE" >/dev/null 2>&1 && [ -f "$LIBRARY" ] &&
  matches '^XCFRAMEWORK="\$IOS_DIR/\$FFI_MODULE\.xcframework"' "$BUILD_SCRIPT" &&
  matches '^cp "\$BINDINGS/\$FFI_MODULE\.modulemap" "\$HEADERS/module\.modulemap"' "$BUILD_SCRIPT"; then
  pass "build-xcframework.sh builds $FFI_MODULE.xcframework (module.modulemap) from $PACKAGE ($LIB_NAME)"
else
  fail "build-xcframework.sh builds $FFI_MODULE.xcframework (module.modulemap) from $PACKAGE ($LIB_NAME)" \
    "check PACKAGE, LIB_NAME, XCFRAMEWORK and the module map copy in build-xcframework.sh"
fi

# (e) The build script parses, and the Rust targets it builds exist.
if output="$(bash -n "$BUILD_SCRIPT" 2>&1)"; then
  pass "bash -n build-xcframework.sh"
else
  mapfile -t lines <<<"$output"
  fail "bash -n build-xcframework.sh" "${lines[@]}"
fi
targets="$(first_match '^DEVICE_TARGET=([\w-]+)' "$BUILD_SCRIPT") $(first_match '^SIMULATOR_TARGETS=\(([^)]*)\)' "$BUILD_SCRIPT")"
rustc_targets="$("${RUSTC:-rustc}" --print target-list)"
unknown=()
for target in $targets; do
  grep -qx "$target" <<<"$rustc_targets" || unknown+=("$target")
done
if [ "${#unknown[@]}" -eq 0 ]; then
  pass "rustc knows the script's targets:$(printf ' %s' $targets)"
else
  fail "rustc knows the script's targets:$(printf ' %s' $targets)" "unknown: ${unknown[*]}"
fi

# ... and Package.swift is consistent with itself and the directory layout.
problems=()
head -n 1 "$PACKAGE_SWIFT" | grep -Eq '^// swift-tools-version: ?5\.9$' ||
  problems+=("the first line is not '// swift-tools-version:5.9'")
matches '\.library\(\s*name:\s*"ZhichaoCore",\s*targets:\s*\["ZhichaoCore"\]\s*\)' "$PACKAGE_SWIFT" ||
  problems+=("no library product ZhichaoCore of target ZhichaoCore")
matches '\.target\(\s*name:\s*"ZhichaoCore",\s*dependencies:\s*\["'"$FFI_MODULE"'"\]' "$PACKAGE_SWIFT" ||
  problems+=("target ZhichaoCore does not depend on $FFI_MODULE")
matches '\.testTarget\(\s*name:\s*"ZhichaoCoreTests",\s*dependencies:\s*\["ZhichaoCore"\]' "$PACKAGE_SWIFT" ||
  problems+=("test target ZhichaoCoreTests does not depend on ZhichaoCore")
matches '^SWIFT_SOURCES="\$IOS_DIR/Sources/ZhichaoCore/Generated"' "$BUILD_SCRIPT" ||
  problems+=("build-xcframework.sh does not copy the bindings to Sources/ZhichaoCore/Generated")
for dir in Sources/ZhichaoCore/Generated Tests/ZhichaoCoreTests; do
  [ -d "$IOS_DIR/$dir" ] || problems+=("ios/$dir is missing")
done
if command -v git >/dev/null 2>&1 && git -C "$IOS_DIR" rev-parse --git-dir >/dev/null 2>&1; then
  for ignored in "Sources/ZhichaoCore/Generated/$SWIFT_MODULE.swift" "$FFI_MODULE.xcframework/Info.plist"; do
    git -C "$IOS_DIR" check-ignore -q "$ignored" ||
      problems+=("ios/$ignored (built on a Mac) is not ignored by git")
  done
fi
if [ "${#problems[@]}" -eq 0 ]; then
  pass "Package.swift: product and target ZhichaoCore over $FFI_MODULE, tests ZhichaoCoreTests"
else
  fail "Package.swift: product and target ZhichaoCore over $FFI_MODULE, tests ZhichaoCoreTests" \
    "${problems[@]}"
fi

# The generated Swift still has what the XCTest smoke test calls.
problems=()
matches 'public\s+func\s+normalizePlate\(text:\s*String\)\s*throws\s*->\s*NormalizedPlate\b' "$SWIFT" ||
  problems+=("func normalizePlate(text: String) throws -> NormalizedPlate")
for field in plate printed; do
  matches 'public\s+struct\s+NormalizedPlate\b[^}]*?public\s+var\s+'"$field"':\s*String\b' "$SWIFT" ||
    problems+=("NormalizedPlate.$field: String")
done
matches 'public\s+enum\s+ApiError\b[^}]*?case\s+Validation\(\s*(?:/\*(?s:.*?)\*/\s*)?reason:\s*String\s*\)' "$SWIFT" ||
  problems+=("enum ApiError { case Validation(reason: String) }")
for use in 'normalizePlate(text:' 'ApiError' '.Validation(reason)' '.plate' '.printed'; do
  grep -qF "$use" "$SMOKE_TEST" || problems+=("the smoke test no longer uses $use: update this check")
done
if [ "${#problems[@]}" -eq 0 ]; then
  pass "$SWIFT_MODULE.swift has what the smoke test calls: normalizePlate(text:), NormalizedPlate.plate/.printed, ApiError.Validation(reason:)"
else
  fail "$SWIFT_MODULE.swift has what the smoke test calls" "missing:" "${problems[@]}"
fi

# (f) The hand-written Swift against the generated bindings, as far as text can tell (no Swift
# compiler here): every call, label, enum case and property the wrappers and XCTests use exists
# in the generated Swift (or is theirs, or a platform name on the script's allow-lists); `try`
# and `await` where a call throws or suspends; the protocol implementations match the generated
# protocols; ApiError.userMessage has Android's texts; every Kotlin test has its XCTest.
# check-swift-api.pl prints PASS/FAIL records, with DETAIL lines after a FAIL.
KOTLIN_ERRORS="$ROOT/android/src/main/kotlin/cn/zhichao/core/Errors.kt"
KOTLIN_TESTS="$ROOT/android/src/test/kotlin/cn/zhichao/core"
if ! records="$(perl "$IOS_DIR/check-swift-api.pl" "$SWIFT" "$IOS_DIR/Sources/ZhichaoCore" \
  "$IOS_DIR/Tests/ZhichaoCoreTests" "$KOTLIN_ERRORS" "$KOTLIN_TESTS" 2>&1)"; then
  mapfile -t lines < <(printf '%s\n' "$records" | head -n 20)
  fail "check-swift-api.pl ran" "${lines[@]}"
else
  summary=""
  details=()
  flush() {
    if [ -n "$summary" ]; then
      fail "$summary" "${details[@]}"
    fi
    summary=""
    details=()
  }
  while IFS=$'\t' read -r kind text; do
    case "$kind" in
      PASS) flush; pass "$text" ;;
      FAIL) flush; summary="$text" ;;
      DETAIL) details+=("$text") ;;
      *) flush; fail "check-swift-api.pl printed an unexpected line" "$kind${text:+	$text}" ;;
    esac
  done <<<"$records"
  flush
fi

# (g) The Mac's test runner parses.
if output="$(bash -n "$IOS_DIR/run-tests.sh" 2>&1)"; then
  pass "bash -n run-tests.sh"
else
  mapfile -t lines <<<"$output"
  fail "bash -n run-tests.sh" "${lines[@]}"
fi

finish
