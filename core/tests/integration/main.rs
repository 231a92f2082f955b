//! Integration tests of zhichao-core: one binary, one module per area.

mod store;
