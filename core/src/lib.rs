#![doc = include_str!("../README.md")]

pub mod plate;
pub mod rules;
pub mod uscc;
pub mod jurisdiction;
