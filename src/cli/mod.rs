//! Command-line interface: `zkr server`, and the tools.

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
    }
}
