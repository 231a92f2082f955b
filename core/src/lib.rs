#![doc = include_str!("../README.md")]

pub mod ids;
pub mod jurisdiction;
pub mod plate;
pub mod rules;
pub mod store;
pub mod uscc;
