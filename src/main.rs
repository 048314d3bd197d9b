//! The `zkr` binary: parses the command line and hands over to `zkr::cli`.

fn main() {
    std::process::exit(zkr::cli::main());
}
