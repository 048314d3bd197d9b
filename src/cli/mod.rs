//! Command-line interface: `zkr server`, and the tools.

pub mod bench;
pub mod status;

use std::path::PathBuf;

use clap::{Parser, Subcommand};

/// zkr: a ZooKeeper-compatible coordination service.
#[derive(Debug, Parser)]
#[command(name = "zkr", version, about)]
pub struct Args {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run a server. Without --config: standalone on port 2181 with data in ./zkr-data.
    Server {
        /// A zoo.cfg as written for ZooKeeper.
        #[arg(long, short)]
        config: Option<PathBuf>,
        /// Executors (cores) to run; overrides zkr.cores.
        #[arg(long)]
        cores: Option<usize>,
        /// Client port; overrides clientPort.
        #[arg(long)]
        port: Option<u16>,
    },
    /// Load generator for any ZooKeeper-protocol server; bare `zkr bench` runs the canonical
    /// workload against 127.0.0.1:2181.
    Bench(bench::BenchArgs),
    /// Mode, zxid, sessions, znodes and latency of servers (like `zkServer.sh status`).
    Status {
        /// Servers as host:port (default 127.0.0.1:2181).
        servers: Vec<String>,
        /// Also print per-op latency percentiles (zkr servers).
        #[arg(long)]
        latency: bool,
    },
    /// Txn log tools (like ZooKeeper's zkTxnLogToolkit).
    Log {
        /// What to do with the log.
        #[command(subcommand)]
        command: LogCommand,
    },
    /// Snapshot tools (like ZooKeeper's zkSnapShotToolkit).
    Snapshot {
        /// What to do with the snapshot.
        #[command(subcommand)]
        command: SnapshotCommand,
    },
}

/// `zkr log ...`
#[derive(Debug, Subcommand)]
pub enum LogCommand {
    /// Print every txn of the log in DIR (dataLogDir or its version-2).
    Dump {
        /// The log directory.
        dir: PathBuf,
        /// One JSON object per txn.
        #[arg(long)]
        json: bool,
    },
    /// Check every segment and record; report problems without changing anything.
    Verify {
        /// The log directory.
        dir: PathBuf,
    },
}

/// `zkr snapshot ...`
#[derive(Debug, Subcommand)]
pub enum SnapshotCommand {
    /// Print the nodes and sessions of a snapshot file.
    Dump {
        /// The snapshot file.
        file: PathBuf,
        /// JSON instead of text.
        #[arg(long)]
        json: bool,
    },
}

fn version_dir(dir: PathBuf) -> PathBuf {
    let sub = dir.join(crate::server::storage::VERSION_DIR);
    if sub.is_dir() { sub } else { dir }
}

fn tool(command: Command) -> i32 {
    let mut out = std::io::stdout().lock();
    let result: Result<(), String> = match command {
        Command::Log { command: LogCommand::Dump { dir, json } } => {
            crate::log::recover::dump(&version_dir(dir), json, &mut out).map_err(|e| e.to_string())
        }
        Command::Log { command: LogCommand::Verify { dir } } => {
            match crate::log::recover::verify(&version_dir(dir)) {
                Ok(report) => {
                    use std::io::Write;
                    let _ = writeln!(out, "{report}");
                    if report.is_clean() { Ok(()) } else { Err("log has problems".into()) }
                }
                Err(e) => Err(e.to_string()),
            }
        }
        Command::Snapshot { command: SnapshotCommand::Dump { file, json } } => {
            crate::snapshot::dump(&file, json, &mut out).map_err(|e| e.to_string())
        }
        Command::Status { servers, latency } => {
            return status::run(&servers, latency);
        }
        Command::Server { .. } => Ok(()),
        Command::Bench(args) => return bench::main(args),
    };
    match result {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("zkr: {e}");
            1
        }
    }
}

fn init_tracing() {
    let filter = tracing_subscriber::EnvFilter::try_from_env("ZKR_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,glommio=warn"));
    let _ = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).try_init();
}

/// Runs the command line; returns the process exit code.
pub fn main() -> i32 {
    let args = Args::parse();
    init_tracing();
    match args.command {
        Command::Server { config, cores, port } => {
            let (mut cfg, warnings) = match config {
                Some(path) => match crate::config::load(&path) {
                    Ok(c) => c,
                    Err(e) => {
                        eprintln!("zkr: {e}");
                        return 2;
                    }
                },
                None => (crate::config::Config::default(), Vec::new()),
            };
            for w in warnings {
                tracing::warn!(line = w.line, key = %w.key, "{}", w.message);
            }
            if let Some(c) = cores {
                cfg.cores = Some(c);
            }
            if let Some(p) = port {
                cfg.client_port = p;
            }
            match crate::server::run(cfg) {
                Ok(()) => 0,
                Err(e) => {
                    eprintln!("zkr: {e}");
                    1
                }
            }
        }
        other => tool(other),
    }
}
