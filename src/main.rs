//! The `zkr` binary: parses the command line and hands over to `zkr::cli`.

/// mimalloc instead of glibc malloc: glibc's arenas fragment under the server's churn of
/// short-lived buffers across executor threads, and its malloc/free then cost a third of a
/// read-heavy run's CPU (measured with perf after a create/delete churn).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    std::process::exit(zkr::cli::main());
}
