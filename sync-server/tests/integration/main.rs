//! Integration tests of zhichao-server: one binary, one module per area.

mod cli;
