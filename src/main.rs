//! The `tidings` binary: parse the command line, set up logging, hand off to `cli::run`, and
//! turn its result into an exit code.

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let arguments = tidings::cli::Arguments::parse();
    tidings::telemetry::init(arguments.log_format);
    tidings::cli::run(arguments)
}
