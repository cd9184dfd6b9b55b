//! The admin tool's commands, apart from `main` so the tests drive them: parse the arguments,
//! open the store they name, run one command against its work queue, and return the text to
//! print (or the problem, for stderr and exit status 1; a usage error is status 2).

use chrono::{DateTime, Utc};
use orderflow::adapters::sqlite::SqliteStore;
use orderflow::ports::{DeadLetter, DeadLetterCursor, StoreError, WorkQueue};

/// What `--help` and a usage error print.
pub const USAGE: &str = "\
usage: admin STORE COMMAND [ARGS]

STORE is a SQLite file (it must exist) or a PostgreSQL URL (postgres://..., feature postgres;
the schema is `orderflow` unless --schema NAME comes before COMMAND).

commands:
  list [--after CURSOR] [--limit N]   dead letters, oldest first (N defaults to 20), then the
                                      cursor of the next page when there is one
  show KEY                            one dead letter in full, its effect as JSON
  requeue KEY                         sends a dead letter out again (same key, attempts reset)
  backlog                             outbox entries pending, ready and dead, oldest pending age";

/// A command line that cannot be run as written.
#[derive(Debug, PartialEq, Eq)]
pub struct Usage(pub String);

/// What to do.
#[derive(Debug, PartialEq, Eq)]
pub enum Command {
    /// A page of dead letters.
    List { after: Option<DeadLetterCursor>, limit: usize },
    /// One dead letter.
    Show { key: String },
    /// Requeue one dead letter.
    Requeue { key: String },
    /// The backlog figures.
    Backlog,
    /// Print the usage.
    Help,
}

/// A parsed command line.
#[derive(Debug, PartialEq, Eq)]
pub struct Cli {
    /// The SQLite file or PostgreSQL URL.
    pub store: String,
    /// The PostgreSQL schema.
    pub schema: Option<String>,
    /// The command.
    pub command: Command,
}

/// Reads the arguments (without the program name).
pub fn parse(args: impl IntoIterator<Item = String>) -> Result<Cli, Usage> {
    let mut args = args.into_iter().peekable();
    if args.peek().is_none_or(|a| a == "--help" || a == "-h") {
        return Ok(Cli { store: String::new(), schema: None, command: Command::Help });
    }
    let store = args.next().unwrap_or_default();
    let mut schema = None;
    let mut word = args.next();
    if word.as_deref() == Some("--schema") {
        schema = Some(args.next().ok_or_else(|| Usage("--schema needs a schema name".into()))?);
        word = args.next();
    }
    let needs_key = |key: Option<String>, what: &str| key.ok_or_else(|| Usage(format!("{what} needs a KEY")));
    let command = match word.as_deref() {
        Some("list") => {
            let (mut after, mut limit) = (None, 20);
            while let Some(flag) = args.next() {
                let value = args.next().ok_or_else(|| Usage(format!("{flag} needs a value")))?;
                match flag.as_str() {
                    "--after" => after = Some(value.parse().map_err(|e| Usage(format!("--after: {e}")))?),
                    "--limit" => {
                        limit = value
                            .parse()
                            .ok()
                            .filter(|n| (1..=1000).contains(n))
                            .ok_or_else(|| Usage("--limit: a number from 1 to 1000".into()))?;
                    }
                    other => return Err(Usage(format!("list: unknown option {other}"))),
                }
            }
            Command::List { after, limit }
        }
        Some("show") => Command::Show { key: needs_key(args.next(), "show")? },
        Some("requeue") => Command::Requeue { key: needs_key(args.next(), "requeue")? },
        Some("backlog") => Command::Backlog,
        Some(other) => return Err(Usage(format!("unknown command {other:?}"))),
        None => return Err(Usage("a COMMAND is missing".into())),
    };
    if let Some(extra) = args.next() {
        return Err(Usage(format!("unexpected argument {extra:?}")));
    }
    Ok(Cli { store, schema, command })
}

/// Opens the store the command line names and runs its command at `now`.
pub async fn run(cli: &Cli, now: DateTime<Utc>) -> Result<String, String> {
    if cli.command == Command::Help {
        return Ok(format!("{USAGE}\n"));
    }
    if cli.store.starts_with("postgres://") || cli.store.starts_with("postgresql://") {
        return run_postgres(cli, now).await;
    }
    if cli.schema.is_some() {
        return Err("--schema is for PostgreSQL stores".into());
    }
    if !std::path::Path::new(&cli.store).is_file() {
        return Err(format!("{}: no such SQLite file", cli.store));
    }
    let store = SqliteStore::open(&cli.store).map_err(store_error)?;
    execute(&store, &cli.command, now).await
}

#[cfg(feature = "postgres")]
async fn run_postgres(cli: &Cli, now: DateTime<Utc>) -> Result<String, String> {
    use orderflow::adapters::postgres::{DEFAULT_SCHEMA, PgOptions, PgStore};
    // An admin tool checks the schema, it does not migrate it.
    let options = PgOptions::new(cli.store.clone())
        .schema(cli.schema.as_deref().unwrap_or(DEFAULT_SCHEMA))
        .pool_size(1)
        .migrate(false);
    let store = PgStore::connect(options).await.map_err(store_error)?;
    execute(&store, &cli.command, now).await
}

#[cfg(not(feature = "postgres"))]
async fn run_postgres(_: &Cli, _: DateTime<Utc>) -> Result<String, String> {
    Err("this build has no PostgreSQL support: build with --features postgres".into())
}

/// Runs `command` against `queue` at `now`.
pub async fn execute(queue: &impl WorkQueue, command: &Command, now: DateTime<Utc>) -> Result<String, String> {
    let mut out = String::new();
    match command {
        Command::Help => out.push_str(USAGE),
        Command::List { after, limit } => {
            let page = queue.dead_letters(*after, *limit).await.map_err(store_error)?;
            let dead = queue.backlog(now).await.map_err(store_error)?.dead;
            out.push_str(&format!("{dead} dead letters\n"));
            for letter in &page.letters {
                out.push_str(&format!(
                    "{}  order {}  {}  attempts {}  died {}  {}\n",
                    letter.key,
                    letter.order_id,
                    effect_tag(letter),
                    letter.attempts,
                    letter.died_at.map_or_else(|| "unknown".to_owned(), |t| t.to_rfc3339()),
                    letter.last_error
                ));
            }
            if let Some(next) = page.next {
                out.push_str(&format!("next page: list --after {next}\n"));
            }
        }
        Command::Show { key } => {
            let letter = find(queue, key).await?.ok_or_else(|| format!("no dead letter {key:?}"))?;
            let effect = serde_json::to_string_pretty(&letter.effect).map_err(|e| e.to_string())?;
            out.push_str(&format!(
                "key: {}\norder: {}\nattempts: {}\ndied: {}\nlast error: {}\neffect: {effect}\n",
                letter.key,
                letter.order_id,
                letter.attempts,
                letter.died_at.map_or_else(|| "unknown".to_owned(), |t| t.to_rfc3339()),
                letter.last_error
            ));
        }
        Command::Requeue { key } => {
            if !queue.requeue_dead(key, now).await.map_err(store_error)? {
                return Err(format!("no dead letter {key:?} (unknown, pending, delivered or requeued already)"));
            }
            out.push_str(&format!("requeued {key}: delivered by the next outbox dispatch\n"));
        }
        Command::Backlog => {
            let backlog = queue.backlog(now).await.map_err(store_error)?;
            let oldest = match (backlog.oldest_pending_at, backlog.oldest_pending_age(now)) {
                (Some(at), Some(age)) => format!("{} ({} s ago)", at.to_rfc3339(), age.num_seconds()),
                _ => "none".to_owned(),
            };
            out.push_str(&format!(
                "pending: {}\nready: {}\ndead: {}\noldest pending: {oldest}\n",
                backlog.pending, backlog.ready, backlog.dead
            ));
        }
    }
    Ok(out)
}

/// The dead letter `key`, looked for page by page.
async fn find(queue: &impl WorkQueue, key: &str) -> Result<Option<DeadLetter>, String> {
    let mut after = None;
    loop {
        let page = queue.dead_letters(after, 500).await.map_err(store_error)?;
        if let Some(letter) = page.letters.into_iter().find(|l| l.key == key) {
            return Ok(Some(letter));
        }
        match page.next {
            Some(next) => after = Some(next),
            None => return Ok(None),
        }
    }
}

/// The effect's kind, as stored.
fn effect_tag(letter: &DeadLetter) -> String {
    serde_json::to_value(&letter.effect)
        .ok()
        .and_then(|v| v.get("effect").and_then(|t| t.as_str()).map(str::to_owned))
        .unwrap_or_else(|| "effect".to_owned())
}

fn store_error(e: StoreError) -> String {
    format!("store: {e}")
}
