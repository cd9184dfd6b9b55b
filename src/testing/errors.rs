//! One error of every kind the crate returns, for tests of what is said about them: every
//! [`code`](EngineError::code) distinct, and every code listed in `docs/ERRORS.md`.

use std::str::FromStr;

use crate::actor::ActorKind;
use crate::command::CommandKind;
use crate::engine::EngineError;
use crate::error::Error;
use crate::ids::{CaseId, LineId, OrderId, PackageId, RefundId, Sku};
use crate::money::{Currency, Money, MoneyError};
use crate::order::{CaseKind, DeadlineKind, OrderStatus, PackageState};
use crate::order_number::OrderNumber;
use crate::ports::{
    CursorError, DeadLetterCursor, FeedCursor, GatewayError, InventoryError, LogisticsError, NotifyError, QueryCursor,
    StoreError,
};
use crate::validation::Violations;

/// Every core [`Error`] variant once (each [`MoneyError`] variant once inside
/// [`Error::Money`]).
pub fn every_core_error() -> Vec<Error> {
    let cny = |minor| Money::new(minor, Currency::CNY);
    vec![
        Error::Invalid(Violations::new()),
        Error::InvalidField { field: "reason", rule: "must not be empty".into() },
        Error::Forbidden { actor: ActorKind::Buyer, command: CommandKind::Approve, allowed: "staff".into() },
        Error::NotYourOrder,
        Error::IllegalTransition { command: CommandKind::Pack, status: OrderStatus::AwaitingPayment },
        Error::NotReadyToFulfil { approved: true, paid: false },
        Error::PackMismatch { problems: Vec::new() },
        Error::PaymentMismatch { expected: cny(100), received: cny(90) },
        Error::RefundExceedsRefundable { scope: "order".into(), requested: cny(200), refundable: cny(100) },
        Error::AlreadyShipped,
        Error::NotShippedYet,
        Error::UnknownLine(LineId(9)),
        Error::UnknownPackage(PackageId(9)),
        Error::UnknownWaybill("W-9".into()),
        Error::UnknownRefund(RefundId(9)),
        Error::PackageState { package: PackageId(1), state: PackageState::Packed, command: CommandKind::RecordWaybill },
        Error::NotDue { kind: DeadlineKind::PayBy, due: None },
        Error::UnknownCase(CaseId(9)),
        Error::CaseState { case: CaseId(1), state: "closed", command: CommandKind::ApproveCase },
        Error::OutsideWindow { kind: CaseKind::ReturnAndRefund, why: "the return window closed".into() },
        Error::TooManyUnits { line: LineId(1), requested: 3, claimable: 1 },
        Error::Money(MoneyError::CurrencyMismatch { left: Currency::CNY, right: Currency::USD }),
        Error::Money(MoneyError::Overflow),
        Error::Money(MoneyError::InvalidCurrency("yuan".into())),
    ]
}

/// Every error the engine can return, one of each leaf: each of [`every_core_error`] in
/// [`EngineError::Rejected`], each variant of each port error in its engine variant, and each
/// of the engine's own variants.
pub fn every_engine_error() -> Vec<EngineError> {
    let sku = Sku::new("TEA-OOLONG").unwrap_or_else(|e| panic!("test setup: SKU: {e}"));
    let number = OrderNumber::from_value(7).unwrap_or_else(|e| panic!("test setup: order number: {e}"));
    let mut all: Vec<EngineError> = every_core_error().into_iter().map(EngineError::Rejected).collect();
    all.extend([
        EngineError::NotFound,
        EngineError::Conflict { attempts: 5 },
        EngineError::Inventory(InventoryError::OutOfStock { sku, requested: 3, available: 1 }),
        EngineError::Inventory(InventoryError::Unavailable("down".into())),
        EngineError::Payment(GatewayError::InvalidSignature),
        EngineError::Payment(GatewayError::StaleTimestamp),
        EngineError::Payment(GatewayError::Malformed("no amount".into())),
        EngineError::Payment(GatewayError::Rejected("refund above paid".into())),
        EngineError::Payment(GatewayError::Unavailable("timeout".into())),
        EngineError::Payment(GatewayError::RateLimited("FREQUENCY_LIMITED".into())),
        EngineError::Logistics(LogisticsError::InvalidSignature),
        EngineError::Logistics(LogisticsError::Malformed("no waybill".into())),
        EngineError::Logistics(LogisticsError::NoService("island".into())),
        EngineError::Logistics(LogisticsError::Rejected("too heavy".into())),
        EngineError::Logistics(LogisticsError::Unavailable("timeout".into())),
        EngineError::Logistics(LogisticsError::NotSupported("booking shipments")),
        EngineError::Notifier(NotifyError::Unavailable("smtp down".into())),
        EngineError::UnknownWaybill("W-9".into()),
        EngineError::WaybillTaken { carrier: "SF".into(), waybill: "SF1".into() },
        EngineError::NoCarrier,
        EngineError::IdempotencyKeyReused,
        EngineError::Store(StoreError::Conflict { expected: 1, actual: 2 }),
        EngineError::Store(StoreError::DuplicateOrderNumber(number)),
        EngineError::Store(StoreError::DuplicateKey("place/k".into())),
        EngineError::Store(StoreError::WaybillTaken { carrier: "SF".into(), waybill: "SF1".into() }),
        EngineError::Store(StoreError::NotFound(OrderId::new_v7())),
        EngineError::Store(StoreError::Corrupt("bad row".into())),
        EngineError::Store(StoreError::Unavailable("connection refused".into())),
    ]);
    all
}

/// A [`CursorError`] from each cursor's text form ([`QueryCursor`], [`FeedCursor`],
/// [`DeadLetterCursor`]): what a host meets reading a client's cursor, outside the engine.
pub fn every_cursor_error() -> Vec<CursorError> {
    let query = QueryCursor::from_str("yesterday").err();
    let feed = FeedCursor::from_str("1.x").err();
    let dead_letters = DeadLetterCursor::from_str("-1").err();
    query.into_iter().chain(feed).chain(dead_letters).collect()
}

/// The code of every error of [`every_engine_error`] and of [`CursorError`] (one code for
/// both cursors), each with the error's `Debug` text (to say which error a code belongs to).
pub fn every_code() -> Vec<(&'static str, String)> {
    let mut cursor = every_cursor_error();
    cursor.dedup_by_key(|e| e.code());
    let engine = every_engine_error().into_iter().map(|e| (e.code(), format!("{e:?}")));
    engine.chain(cursor.into_iter().map(|e| (e.code(), format!("{e:?}")))).collect()
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    #[test]
    fn every_error_has_its_own_snake_case_code() {
        let mut seen: HashMap<&'static str, String> = HashMap::new();
        for (code, e) in every_code() {
            assert!(
                !code.is_empty()
                    && !code.starts_with('_')
                    && !code.ends_with('_')
                    && code.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_'),
                "{code:?} is not snake_case"
            );
            if let Some(earlier) = seen.insert(code, e.clone()) {
                panic!("{code} is the code of both {earlier} and {e}");
            }
        }
    }

    #[test]
    fn wrapped_errors_keep_their_code() {
        for e in every_core_error() {
            assert_eq!(EngineError::Rejected(e.clone()).code(), e.code());
        }
        let store = StoreError::Unavailable("down".into());
        assert_eq!(EngineError::Store(store.clone()).code(), store.code());
        let gateway = GatewayError::InvalidSignature;
        assert_eq!(EngineError::Payment(gateway.clone()).code(), gateway.code());
        let carrier = LogisticsError::NoService("island".into());
        assert_eq!(EngineError::Logistics(carrier.clone()).code(), carrier.code());
        let inventory = InventoryError::Unavailable("down".into());
        assert_eq!(EngineError::Inventory(inventory.clone()).code(), inventory.code());
        let notifier = NotifyError::Unavailable("down".into());
        assert_eq!(EngineError::Notifier(notifier.clone()).code(), notifier.code());
    }
}
