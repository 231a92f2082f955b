#!/usr/bin/env bash
# Builds the Rust core for iOS and lays out the Swift package (macOS with Xcode and rustup):
#   ios/ZhichaoCoreFFI.xcframework               static library per platform + header + module map
#   ios/Sources/ZhichaoCore/Generated/ZhichaoCore.swift       the generated Swift bindings
# Usage: bash ios/build-xcframework.sh   (from anywhere; takes no arguments)
# Environment: IPHONEOS_DEPLOYMENT_TARGET (default 15.0, as in Package.swift), CARGO_TARGET_DIR.
# On Linux, `bash ios/check.sh` checks what can be checked without Xcode.
set -euo pipefail

IOS_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$IOS_DIR/.." && pwd)"
cd "$ROOT"

# Names shared with Package.swift and the generated bindings (ios/check.sh checks they agree).
PACKAGE=zhichao-mobile               # the Cargo package of mobile-bindings/
LIB_NAME=zhichao_mobile              # its [lib] name
SWIFT_MODULE=ZhichaoCore             # the Swift module (mobile-bindings/uniffi.toml module_name)
FFI_MODULE=ZhichaoCoreFFI            # the Clang module the generated Swift imports (ffi_module_name)
XCFRAMEWORK="$IOS_DIR/$FFI_MODULE.xcframework"
SWIFT_SOURCES="$IOS_DIR/Sources/ZhichaoCore/Generated"

DEVICE_TARGET=aarch64-apple-ios
SIMULATOR_TARGETS=(aarch64-apple-ios-sim x86_64-apple-ios)
# rustc stamps this minimum into the objects; keep it equal to Package.swift's `.iOS(.v15)`,
# or the linker warns that the library was built for a newer iOS than the app.
export IPHONEOS_DEPLOYMENT_TARGET="${IPHONEOS_DEPLOYMENT_TARGET:-15.0}"

step() { printf '\n==> %s\n' "$*"; }
die() {
  printf 'error: %s\n' "$*" >&2
  exit 1
}

step "checking tools"
[ "$(uname -s)" = Darwin ] ||
  die "this script needs macOS with Xcode (lipo, xcodebuild); on Linux run: bash ios/check.sh"
for tool in cargo rustup lipo xcodebuild; do
  command -v "$tool" >/dev/null 2>&1 || case "$tool" in
    cargo | rustup) die "missing $tool: install Rust with rustup (https://rustup.rs)" ;;
    *) die "missing $tool: install Xcode from the App Store, then: sudo xcode-select -s /Applications/Xcode.app" ;;
  esac
done
xcodebuild -version >/dev/null 2>&1 ||
  die "xcodebuild needs Xcode, not only the Command Line Tools: install Xcode, then: sudo xcode-select -s /Applications/Xcode.app"
installed="$(rustup target list --installed)"
missing=()
for target in "$DEVICE_TARGET" "${SIMULATOR_TARGETS[@]}"; do
  grep -qx "$target" <<<"$installed" || missing+=("$target")
done
[ "${#missing[@]}" -eq 0 ] ||
  die "missing Rust targets ${missing[*]}: rustup target add ${missing[*]}"
cargo --version
xcodebuild -version | sed -n 1p   # sed reads all: no SIGPIPE under pipefail

TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target}"
case "$TARGET_DIR" in /*) ;; *) TARGET_DIR="$ROOT/$TARGET_DIR" ;; esac
STAGING="$TARGET_DIR/ios"   # headers, bindings and the fat simulator library before packaging

# `cargo rustc --crate-type staticlib` builds the static library the XCFramework needs without
# adding it to Cargo.toml's crate types (desktop and Android builds do not need it). rustc's
# native-static-libs note lists the system libraries the library may need at the app's link: if
# the app reports undefined symbols from one, link it (Package.swift's linkerSettings).
for target in "$DEVICE_TARGET" "${SIMULATOR_TARGETS[@]}"; do
  step "building lib$LIB_NAME.a for $target (profile mobile: LTO; iOS $IPHONEOS_DEPLOYMENT_TARGET)"
  cargo rustc -p "$PACKAGE" --lib --crate-type staticlib --profile mobile --locked --target "$target" \
    -- --print native-static-libs
done

step "joining the simulator libraries (arm64 + x86_64) with lipo"
SIMULATOR_LIB="$STAGING/ios-simulator/lib$LIB_NAME.a"
mkdir -p "$(dirname "$SIMULATOR_LIB")"
simulator_inputs=()
for target in "${SIMULATOR_TARGETS[@]}"; do
  simulator_inputs+=("$TARGET_DIR/$target/mobile/lib$LIB_NAME.a")
done
lipo -create "${simulator_inputs[@]}" -output "$SIMULATOR_LIB"
lipo -info "$SIMULATOR_LIB"
DEVICE_LIB="$TARGET_DIR/$DEVICE_TARGET/mobile/lib$LIB_NAME.a"

# The bindings describe the API, which is the same on every target, so they are generated from a
# host build of the library (the one `cargo run -p uniffi-bindgen` expects).
step "generating the Swift bindings"
cargo build -p "$PACKAGE" --locked
BINDINGS="$STAGING/bindings"
rm -rf "$BINDINGS"
mkdir -p "$BINDINGS"
cargo run -q -p uniffi-bindgen --locked -- generate "$TARGET_DIR/debug/lib$LIB_NAME.dylib" \
  --language swift --out-dir "$BINDINGS" --no-format
for file in "$SWIFT_MODULE.swift" "$FFI_MODULE.h" "$FFI_MODULE.modulemap"; do
  [ -f "$BINDINGS/$file" ] ||
    die "uniffi did not write $file (do the Swift names in mobile-bindings/uniffi.toml still match SWIFT_MODULE and FFI_MODULE here and the binaryTarget in ios/Package.swift?)"
done
grep -q "^module $FFI_MODULE " "$BINDINGS/$FFI_MODULE.modulemap" ||
  die "the generated module map does not declare module $FFI_MODULE"
grep -q "canImport($FFI_MODULE)" "$BINDINGS/$SWIFT_MODULE.swift" ||
  die "the generated Swift does not import $FFI_MODULE"

# An XCFramework of libraries finds its Clang module through a file named exactly
# `module.modulemap` at the top of each slice's headers.
step "laying out the headers"
HEADERS="$STAGING/headers"
rm -rf "$HEADERS"
mkdir -p "$HEADERS"
cp "$BINDINGS/$FFI_MODULE.h" "$HEADERS/"
cp "$BINDINGS/$FFI_MODULE.modulemap" "$HEADERS/module.modulemap"

step "creating $XCFRAMEWORK"
rm -rf "$XCFRAMEWORK"
xcodebuild -create-xcframework \
  -library "$DEVICE_LIB" -headers "$HEADERS" \
  -library "$SIMULATOR_LIB" -headers "$HEADERS" \
  -output "$XCFRAMEWORK"

step "copying the Swift bindings into the package"
mkdir -p "$SWIFT_SOURCES"
cp "$BINDINGS/$SWIFT_MODULE.swift" "$SWIFT_SOURCES/"

cat <<EOF

Done.
  XCFramework:     $XCFRAMEWORK
                   device    $DEVICE_TARGET   ($DEVICE_LIB)
                   simulator ${SIMULATOR_TARGETS[*]}   ($SIMULATOR_LIB)
  Clang module:    $FFI_MODULE (header $FFI_MODULE.h, module.modulemap)
  Swift bindings:  $SWIFT_SOURCES/$SWIFT_MODULE.swift
  Swift package:   $IOS_DIR/Package.swift (product ZhichaoCore)
Add the package to the app with File > Add Package Dependencies… > Add Local… ($IOS_DIR).
Run its tests on a simulator against a real server (SIMULATOR="iPhone 16" picks another;
\`xcrun simctl list devices available\` lists the names):
  bash ios/run-tests.sh
EOF
