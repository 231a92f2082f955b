#![doc = include_str!("../README.md")]

pub mod access;
pub mod api;
pub mod calendar;
#[cfg(feature = "client")]
pub mod client;
pub mod docs;
pub mod evidence;
pub mod field;
#[doc(hidden)]
pub mod fixtures;
pub mod ids;
pub mod jurisdiction;
pub mod plate;
pub mod rules;
pub mod scope;
pub mod store;
pub mod sync;
pub mod uscc;
pub mod weighing;
