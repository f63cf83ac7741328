//! The `tally` binary: parses the command line, loads the settings and hands the command to
//! [`tally::cli`]. Each command lives in its own module there.

use std::process::ExitCode;

use clap::Parser;
use tally::cli::Cli;
use tally::configuration::Settings;
use tally::telemetry;

/// mimalloc instead of glibc's malloc: the request path allocates and frees small buffers on
/// every hand-off, and glibc's `malloc_consolidate` and `_int_free` led Tally's own profile
/// (docs/design.md, "Allocation").
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let settings = match Settings::load(cli.config.as_deref()) {
        Ok(settings) => settings,
        Err(error) => {
            eprintln!("tally: {error}");
            return ExitCode::from(2);
        }
    };
    let _telemetry = match telemetry::init(&settings.log, &settings.telemetry) {
        Ok(telemetry) => telemetry,
        Err(error) => {
            eprintln!("tally: {error}");
            return ExitCode::from(2);
        }
    };
    let outcome = actix_web::rt::System::new().block_on(tally::cli::run(cli.command, settings));
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("tally: {error:#}");
            ExitCode::FAILURE
        }
    }
}
