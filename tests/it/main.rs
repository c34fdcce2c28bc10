//! The one integration test binary: each module drives the real `tidings` binary against local
//! HTTP servers on 127.0.0.1 and checks what a subscriber or an operator sees.

// Test support code panics on purpose when the world is not as a test expects.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

mod check;
mod corpus;
mod end_to_end;
mod failures;
mod identity;
mod polling;
mod publish;
mod readers;
mod tidy;
mod topics;
