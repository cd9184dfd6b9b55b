//! An HTTP shop backend on orderflow: axum routes for buyers, staff and the payment and carrier
//! webhooks, over the SQLite store (a file, so orders survive a restart; `--memory` for the
//! memory store) with the payment provider and tracking service chosen by configuration (Alipay
//! and Kuaidi100 by default, or WeChat Pay, or the fakes; each provider against its in-process
//! emulator unless its account is configured: `examples/http_shop/providers.rs`), and a background worker
//! firing deadlines and delivering the outbox.
//!
//! `cargo run --features sqlite-bundled,wechatpay,alipay,kuaidi100,provider-http --example
//! http_shop [-- --db PATH | --memory] [--dev] [--stock N] [--payments P] [--tracking T]`
//! (listens on 127.0.0.1:3000, or `PORT`; the database defaults to `http_shop.db` in
//! the current folder; `--dev` serves the `/dev/...` demo helpers, off by default; `--stock`
//! sets the units of every SKU, default 1,000,000; `--help` says all that), then try the curl
//! commands it prints. Logs go to stderr (`RUST_LOG`, default `info`). The routes, the token
//! table, the limits and the error format are described in `examples/http_shop/server.rs`.
//! Stop with Ctrl-C: requests in flight finish first.

mod cli;
mod providers;
mod server;

use std::sync::Arc;

use cli::StoreChoice;
use orderflow::adapters::memory::MemoryStore;
use orderflow::adapters::sqlite::SqliteStore;
use orderflow::ports::{DynOrderStore, SystemClock};
use server::AppState;
use tracing_subscriber::EnvFilter;

#[tokio::main]
async fn main() -> std::io::Result<()> {
    // Refused webhooks, outbox failures and refused connections are logged; RUST_LOG=debug for more.
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).init();

    let cli = match cli::parse(std::env::args().skip(1)) {
        Ok(cli) => cli,
        Err(problem) => {
            eprintln!("{problem}");
            std::process::exit(2);
        }
    };
    if cli.help {
        println!("{}", cli::USAGE);
        return Ok(());
    }
    let port: u16 = std::env::var("PORT").ok().and_then(|p| p.parse().ok()).unwrap_or(3000);
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
    let url = format!("http://{}", listener.local_addr()?);
    let store: DynOrderStore = match &cli.store {
        StoreChoice::Sqlite(path) => {
            println!("orders are kept in {path}");
            DynOrderStore::new(SqliteStore::open(path).map_err(std::io::Error::other)?)
        }
        StoreChoice::Memory => {
            println!("orders are kept in memory (gone when the server stops)");
            DynOrderStore::new(MemoryStore::new())
        }
    };
    let options = cli.options;
    let dev = options.dev_endpoints;
    println!("{} units in stock of every SKU", options.stock);
    let providers = providers::ProviderConfig::from_env(|name| match name {
        "SHOP_PAYMENTS" if cli.payments.is_some() => cli.payments.map(|p| format!("{p:?}").to_lowercase()),
        "SHOP_TRACKING" if cli.tracking.is_some() => cli.tracking.map(|t| format!("{t:?}").to_lowercase()),
        _ => std::env::var(name).ok(),
    });
    let providers = match providers {
        Ok(providers) => providers,
        Err(problems) => {
            eprintln!("the provider configuration is incomplete:\n{problems}");
            std::process::exit(2);
        }
    };
    println!("payments: {:?}, tracking: {:?}", providers.payments, providers.tracking);
    let state =
        AppState::with_providers(options, store, Arc::new(SystemClock), &providers).map_err(std::io::Error::other)?;
    print_help(&url, dev);
    server::serve(listener, state, async {
        let _ = tokio::signal::ctrl_c().await;
        println!("\nshutting down: finishing requests in flight...");
    })
    .await?;
    println!("stopped");
    Ok(())
}

fn print_help(url: &str, dev: bool) {
    let dev = if dev {
        "Dev endpoints are on (--dev): never in production."
    } else {
        "Dev endpoints are off: start with --dev for the /dev/... lines below (demo only)."
    };
    println!(
        r#"orderflow HTTP shop listening on {url}
{dev}

Tokens: alice-token, bob-token (buyers), reviewer-token, warehouse-token, service-token, admin-token.

# 1. alice places an order (keep the "id" of the answer)
curl -s -X POST {url}/orders -H 'Authorization: Bearer alice-token' -H 'Content-Type: application/json' \
  -H 'Idempotency-Key: checkout-1' -d '{{
  "lines": [{{"sku": "TEA-OOLONG", "product_name": "Oolong tea 250g", "quantity": 2,
             "unit_price": {{"minor": 4900, "currency": "CNY"}}}}],
  "shipping_address": {{"recipient": "Li Lei", "phone": "13800138000", "country": "CN",
    "province": "Zhejiang", "city": "Hangzhou", "district": "Xihu", "street": ["1 Longjing Road"],
    "postal_code": "310000"}},
  "payment": {{"kind": "online", "provider": "alipay"}},
  "shipping_fee": {{"minor": 800, "currency": "CNY"}}, "discount": {{"minor": 0, "currency": "CNY"}}}}'
ID=<its "id">; NUMBER=<its "number">

# 2. pay: start the payment, then (demo only, needs --dev) make the provider (its emulator unless configured) send its signed notification
curl -s -X POST {url}/orders/$ID/payment -H 'Authorization: Bearer alice-token'
curl -s -X POST {url}/dev/simulate-payment/$ID -H 'Authorization: Bearer alice-token'

#    (with --payments fake only: sign its notification yourself; NUMBER is the order "number", secret "provider-secret")
BODY='{{"notification_id":"N-1","order_number":"'$NUMBER'","txn_id":"T-1","amount_minor":10600,"currency":"CNY","status":"succeeded"}}'
TS=$(date +%s); SIG=$(printf '%s' "$TS.$BODY" | openssl dgst -sha256 -hmac provider-secret -hex | sed 's/^.*= //')
curl -s -X POST {url}/webhooks/payment -H "X-Timestamp: $TS" -H "X-Signature: $SIG" -d "$BODY"

# 3. warehouse: pick list, pack what was scanned, ship parcel 1 with the cheapest carrier
curl -s {url}/orders/$ID/pick-list -H 'Authorization: Bearer warehouse-token'
curl -s -X POST {url}/orders/$ID/packages -H 'Authorization: Bearer warehouse-token' \
  -H 'Content-Type: application/json' \
  -d '{{"scanned": [{{"sku": "TEA-OOLONG", "product_name": "Oolong tea 250g", "quantity": 2}}]}}'
curl -s -X POST {url}/orders/$ID/packages/1/ship -H 'Authorization: Bearer warehouse-token'

# 4. (demo only, needs --dev) the carrier pushes "delivered"; alice confirms and reads her timeline
curl -s -X POST {url}/dev/simulate-tracking/$ID -H 'Authorization: Bearer warehouse-token' \
  -H 'Content-Type: application/json' -d '{{"kind": "delivered"}}'
curl -s -X POST {url}/orders/$ID/confirm -H 'Authorization: Bearer alice-token'
curl -s {url}/orders/$ID/timeline -H 'Authorization: Bearer alice-token'

Press Ctrl-C to stop."#
    );
}
