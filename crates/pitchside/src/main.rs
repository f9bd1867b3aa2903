//! `pitchside`: parse the command line, run it, and turn failures into an exit code
//! (2 for configuration and usage errors, 1 otherwise) and an `error: …` line.

use std::process::ExitCode;

use clap::Parser;

/// mimalloc instead of the system allocator: the CRM sync allocates and frees many
/// 1–2 KiB buffers (pages, payloads, sealed values), where glibc's malloc spent a quarter
/// of the sync's CPU (docs/decisions/0010-allocator.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let cli = pitchside::Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("error: failed to start the async runtime: {e}");
            return ExitCode::from(pitchside::EXIT_FAILURE);
        }
    };
    match runtime.block_on(pitchside::run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(e.exit_code())
        }
    }
}
