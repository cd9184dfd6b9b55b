//! The `http_shop` example's command line, apart from `main` so that its test can check what
//! each flag turns on.

use std::time::Duration;

use crate::providers::{PaymentsChoice, TrackingChoice};
use crate::server::ShopOptions;

/// What `--help` prints.
pub const USAGE: &str = "\
usage: http_shop [--db PATH | --memory] [--dev] [--stock N] [--payments P] [--tracking T]

  --db PATH   keep orders in the SQLite file PATH (default: http_shop.db)
  --memory    keep orders in memory (gone when the server stops)
  --dev       serve the demo helpers /dev/simulate-payment and /dev/simulate-tracking,
              with which any buyer can mark their own order paid: never in production
  --stock N   units in stock of every demo SKU (default: 1000000)
  --payments P  alipay (default), wechatpay or fake (or SHOP_PAYMENTS)
  --tracking T  kuaidi100 (default) or fake (or SHOP_TRACKING)

A provider with no account configured runs against its emulator, in process; the variables
that configure each account (WECHATPAY_*, ALIPAY_*, KUAIDI100_*; a key may be given as a file
path in NAME_FILE) are listed in README.md and examples/http_shop/providers.rs.

The port is PORT from the environment (default 3000); RUST_LOG sets the log filter (default info).";

/// Where orders are kept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreChoice {
    /// A SQLite file at this path.
    Sqlite(String),
    /// The memory store.
    Memory,
}

/// What the command line asks for.
#[derive(Debug, Clone)]
pub struct Cli {
    /// Where orders are kept.
    pub store: StoreChoice,
    /// How the server runs: the production defaults of [`ShopOptions`] but for a faster
    /// worker tick, `--dev` and `--stock`.
    pub options: ShopOptions,
    /// `--payments`: overrides `SHOP_PAYMENTS`.
    pub payments: Option<PaymentsChoice>,
    /// `--tracking`: overrides `SHOP_TRACKING`.
    pub tracking: Option<TrackingChoice>,
    /// `--help`: print [`USAGE`] and stop.
    pub help: bool,
}

/// Reads the arguments (without the program name).
pub fn parse(args: impl IntoIterator<Item = String>) -> Result<Cli, String> {
    let mut cli = Cli {
        store: StoreChoice::Sqlite("http_shop.db".to_owned()),
        options: ShopOptions { tick: Duration::from_millis(500), ..ShopOptions::default() },
        payments: None,
        tracking: None,
        help: false,
    };
    let mut args = args.into_iter();
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--memory" => cli.store = StoreChoice::Memory,
            "--db" => cli.store = StoreChoice::Sqlite(args.next().ok_or("--db needs a file path")?),
            "--dev" => cli.options.dev_endpoints = true,
            "--stock" => {
                let n = args.next().ok_or("--stock needs a number of units")?;
                cli.options.stock = n
                    .parse()
                    .map_err(|_| format!("--stock needs a number of units from 0 to {}, not {n:?}", u32::MAX))?;
            }
            "--payments" => {
                cli.payments = Some(PaymentsChoice::parse(&args.next().ok_or("--payments needs a provider")?)?)
            }
            "--tracking" => {
                cli.tracking = Some(TrackingChoice::parse(&args.next().ok_or("--tracking needs a service")?)?)
            }
            "--help" | "-h" => cli.help = true,
            other => return Err(format!("unknown argument {other:?}\n\n{USAGE}")),
        }
    }
    Ok(cli)
}
