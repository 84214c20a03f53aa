//! The `scimgate` binary: parses the command line and hands over to [`scimgate::cli`].

fn main() -> std::process::ExitCode {
    scimgate::cli::main()
}
