//! zhichao-e2e: end-to-end tests of zhichao.
