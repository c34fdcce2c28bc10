//! The one integration test binary: each module drives the real `tidings` binary against local
//! HTTP servers on 127.0.0.1 and checks what a subscriber or an operator sees.

// Test support code panics on purpose when the world is not as a test expects.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

mod add;
mod check;
mod corpus;
mod end_to_end;
mod explain;
mod failures;
mod grouping;
mod identity;
mod lifecycle;
mod parsing;
mod polling;
mod publish;
mod rawskip;
mod readers;
mod reload;
mod retention;
mod seeing;
mod stories;
mod tidy;
mod topics;
