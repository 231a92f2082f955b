#![doc = include_str!("../README.md")]

pub mod jurisdiction;
pub mod plate;
pub mod rules;
pub mod uscc;
