//! An operator's tool for a shop's outbox: lists, shows and requeues dead letters and prints
//! the backlog, against a SQLite file or a PostgreSQL database.
//!
//! ```text
//! cargo run --features sqlite-bundled --example admin -- shop.db list
//! cargo run --features sqlite-bundled --example admin -- shop.db show KEY
//! cargo run --features sqlite-bundled --example admin -- shop.db requeue KEY
//! cargo run --features sqlite-bundled,postgres --example admin -- postgres://app@db/shop --schema shop_a backlog
//! ```
//!
//! `--help` lists every command. Output goes to stdout; a problem goes to stderr with exit
//! status 1 (2 for a command line that cannot be read).

mod cli;

use chrono::Utc;

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let cli = match cli::parse(std::env::args().skip(1)) {
        Ok(cli) => cli,
        Err(cli::Usage(problem)) => {
            eprintln!("{problem}\n\n{}", cli::USAGE);
            std::process::exit(2);
        }
    };
    match cli::run(&cli, Utc::now()).await {
        Ok(out) => print!("{out}"),
        Err(problem) => {
            eprintln!("{problem}");
            std::process::exit(1);
        }
    }
}
