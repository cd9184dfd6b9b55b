//! The stored form of an outbox entry's effect.
//!
//! Outbox rows carry no schema version: an entry lives minutes, not years. An effect is read
//! as this build writes it and, only when that fails, as the forms older builds wrote, upgraded
//! by [`upcast::effect_with_text_reasons`] (reasons written as English text before they were
//! typed), so notifications waiting in an outbox across an upgrade are still delivered.

use serde::Deserialize;
use serde_json::Value;

use super::{Payload, upcast};
use crate::effect::Effect;
use crate::ports::store::StoreError;

/// Reads an outbox entry's effect; `what` names the entry in errors.
pub fn decode_effect(payload: Payload<'_>, what: &dyn std::fmt::Display) -> Result<Effect, StoreError> {
    let corrupt = |e: serde_json::Error| StoreError::Corrupt(format!("cannot decode {what}: {e}"));
    let mut value = match payload {
        Payload::Text(text) => match serde_json::from_str(text) {
            Ok(effect) => return Ok(effect),
            Err(_) => serde_json::from_str::<Value>(text).map_err(corrupt)?,
        },
        Payload::Json(value) => match Effect::deserialize(&value) {
            Ok(effect) => return Ok(effect),
            Err(_) => value,
        },
    };
    upcast::effect_with_text_reasons(&mut value);
    serde_json::from_value(value).map_err(corrupt)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::decode_effect;
    use crate::effect::{Effect, NotificationKind};
    use crate::order::{AnomalyReason, CancelReason};

    fn notification(kind: serde_json::Value) -> serde_json::Value {
        json!({"effect": "notify", "audience": {"to": "customer_service"}, "order_number": "0000-0000-011", "kind": kind})
    }

    fn kind_of(effect: Effect) -> NotificationKind {
        match effect {
            Effect::Notify(notification) => notification.kind,
            other => panic!("expected a notification, got {other:?}"),
        }
    }

    /// Notifications written before reasons were typed (waiting in an outbox across an
    /// upgrade) read with the library's sentences as their kinds, from text and from JSON.
    #[test]
    fn notifications_with_text_reasons_read_as_typed_reasons() {
        let cases = [
            (
                json!({"kind": "payment_anomaly", "txn_id": "T2", "reason": "payment arrived after the order was cancelled"}),
                NotificationKind::PaymentAnomaly {
                    txn_id: "T2".into(),
                    reason: AnomalyReason::ArrivedAfterCancellation,
                },
            ),
            (
                json!({"kind": "payment_anomaly", "txn_id": "T3", "reason": "odd"}),
                NotificationKind::PaymentAnomaly { txn_id: "T3".into(), reason: AnomalyReason::stated("odd") },
            ),
            (
                json!({"kind": "cancelled", "reason": "not paid in time"}),
                NotificationKind::Cancelled { reason: CancelReason::NotPaidInTime },
            ),
            (
                json!({"kind": "cancelled", "reason": "ordered twice"}),
                NotificationKind::Cancelled { reason: CancelReason::stated("ordered twice") },
            ),
        ];
        for (written, expected) in cases {
            let written = notification(written);
            let text = written.to_string();
            assert_eq!(kind_of(decode_effect(text.as_str().into(), &"text").unwrap()), expected);
            assert_eq!(kind_of(decode_effect(written.into(), &"json").unwrap()), expected);
        }
    }

    /// What this build writes reads back as it is; what no build wrote is reported, naming
    /// the entry.
    #[test]
    fn current_effects_read_as_written_and_garbage_is_reported() {
        let effect = Effect::ClosePayment { provider: "alipay".into() };
        let text = serde_json::to_string(&effect).unwrap();
        assert_eq!(decode_effect(text.as_str().into(), &"entry k").unwrap(), effect);
        let typed =
            notification(json!({"kind": "payment_anomaly", "txn_id": "T2", "reason": {"kind": "amount_not_positive"}}));
        assert_eq!(
            kind_of(decode_effect(typed.into(), &"entry k").unwrap()),
            NotificationKind::PaymentAnomaly { txn_id: "T2".into(), reason: AnomalyReason::AmountNotPositive }
        );
        let error = decode_effect(r#"{"effect": "launch"}"#.into(), &"outbox item k").unwrap_err();
        assert!(error.to_string().contains("outbox item k"), "{error}");
    }
}
