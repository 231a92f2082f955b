//! `cargo run -p uniffi-bindgen -- generate <lib.so> --language kotlin|swift --out-dir DIR`
//!
//! Not a default workspace member: its `cli` feature would otherwise be unified into every build.

fn main() {
    uniffi::uniffi_bindgen_main()
}
