//! Every message the workflow says, in English and in Simplified Chinese: each kind of
//! timeline entry, notification (each case update among them) and validation rule rendered
//! once per language and compared with the text written here. A kind added without words in a
//! language, or said in English where Chinese is asked for, fails here.

use std::collections::BTreeSet;

use chrono::{DateTime, TimeDelta, Utc};
use orderflow::locale::{Locale, Localizer, Message, Overrides, Rendered, SimplifiedChinese, Tz};
use orderflow::order::{CaseKind, DeadlineKind, HoldReason, TrackingKind};
use orderflow::timeline::{LineUnits, PickedUnits, TimelineMessage};
use orderflow::validation::{Sum, Violation, ViolationCode, ViolationRule};
use orderflow::{
    AnomalyReason, Audience, CancelReason, CaseId, CaseUpdateState, ChoiceReason, Currency, CustomerId, LineId, Money,
    Notification, NotificationKind, OrderNumber, OrderStatus, PackageId, RefundFailure, RefundId, RefundReason, Sku,
    StaffId, WorkflowConfig,
};

/// 2026-12-05 09:30 UTC: 17:30 in Shanghai.
fn at() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-12-05T09:30:00Z").map(|t| t.with_timezone(&Utc)).unwrap()
}

fn cny(minor: i64) -> Money {
    Money::new(minor, Currency::CNY)
}

fn number() -> OrderNumber {
    OrderNumber::from_value(1).unwrap()
}

const C1: CaseId = CaseId(1);
const P1: PackageId = PackageId(1);

fn timeline_samples() -> Vec<TimelineMessage> {
    use TimelineMessage as M;
    let units = vec![LineUnits { quantity: 2, line: LineId(1) }];
    vec![
        M::OrderPlaced {
            number: number(),
            total: cny(27_000),
            ship_by: at() + TimeDelta::hours(48),
            pay_by: Some(at()),
        },
        M::OrderConfirmed,
        M::ReviewApproved { note: "looks fine".into() },
        M::PutOnHold { reasons: vec![HoldReason::InsufficientStock, HoldReason::HighValue], note: "check".into() },
        M::NeedsBuyerContact,
        M::HoldResolved { note: "called buyer".into() },
        M::ReviewRejected { reason: "fraud".into() },
        M::OrderDeclined { reason: "fraud".into() },
        M::PaymentSessionOpened { provider: "alipay".into() },
        M::PaymentReceived { amount: cny(27_000), txn_id: Some("T1".into()) },
    ]
    .into_iter()
    .chain(anomaly_reasons().into_iter().map(|reason| M::PaymentAnomaly {
        txn_id: "T2".into(),
        amount: cny(100),
        reason,
    }))
    .chain(refund_reasons().into_iter().map(|reason| M::RefundRequested {
        amount: cny(27_000),
        completed: false,
        reason,
    }))
    .chain([
        M::RefundCompleted { refund: RefundId(1), reference: None },
        M::RefundFailed { refund: RefundId(1), reason: RefundFailure::ProviderFailed },
        M::RefundFailed { refund: RefundId(1), reason: RefundFailure::stated("account closed") },
        M::PickListIssued {
            items: vec![PickedUnits { quantity: 2, sku: Sku::new("TEA").unwrap(), product_name: "龙井茶".into() }],
        },
        M::BeingPrepared,
        M::Packed { package: P1, items: units.clone() },
        M::CarrierChosen {
            package: P1,
            carrier: "SF".into(),
            service: "standard".into(),
            reason: ChoiceReason::Cheapest { quotes: 3, cost: cny(1_200), days: 2 },
        },
        M::CarrierCorrected { package: P1, carrier: "zhongtong".into() },
        M::Shipped { package: P1, carrier: "SF".into(), waybill: "SF100".into() },
        M::TrackingUpdate {
            package: P1,
            tracking: TrackingKind::OutForDelivery,
            location: "杭州".into(),
            description: "".into(),
        },
        M::CodCollected { amount: cny(5_000) },
        M::ReceiptConfirmed { automatic: true },
        M::OrderCancelled { reason: CancelReason::NotPaidInTime },
        M::AfterSalesWindowClosed,
        M::FollowUpDue,
        M::FollowUpRecorded { score: 5, notes: "happy".into() },
        M::FeedbackThanks { score: 4 },
        M::CaseOpened {
            case: C1,
            kind: CaseKind::ReturnAndRefund,
            reason_code: "damaged".into(),
            units,
            text: Some("cracked".into()),
        },
        M::CaseApproved { case: C1 },
        M::CaseRejected { case: C1, reason: "used".into() },
        M::CaseWithdrawn { case: C1 },
        M::ReturnParcelSent { case: C1, waybill: "YT9".into() },
        M::ReturnTracking { case: C1, tracking: TrackingKind::InTransit },
        M::ReturnReceived { case: C1 },
        M::ReturnInspected { case: C1, passed: false, note: "scratched".into() },
        M::ReplacementPacked { case: C1, package: PackageId(2) },
        M::RepairReturned { case: C1, waybill: "SF200".into() },
        M::CaseAssigned { case: C1, assignee: Some(StaffId::new("wang").unwrap()) },
        M::CaseResolved { case: C1, resolution: "coupon".into() },
        M::CaseClosed { case: C1 },
        M::CaseEscalated { case: C1 },
        M::CaseFollowUpDue { case: C1 },
        M::CaseFollowUpRecorded { case: C1, score: 3, notes: "ok".into() },
        M::DeadlineSet { kind: DeadlineKind::AutoConfirm, at: Some(at()) },
    ])
    .collect()
}

/// One payment anomaly reason of each kind.
fn anomaly_reasons() -> Vec<AnomalyReason> {
    vec![
        AnomalyReason::AmountMismatch { expected: cny(27_000), received: cny(100) },
        AnomalyReason::AmountNotPositive,
        AnomalyReason::NotPayable { status: OrderStatus::ReadyToShip },
        AnomalyReason::ArrivedAfterCancellation,
        AnomalyReason::Refused { code: "forbidden".into() },
        AnomalyReason::stated("wrong amount"),
    ]
}

/// An anomaly reason kind added without a sample above does not compile here.
#[test]
fn every_anomaly_reason_kind_has_a_sample() {
    let mut seen = BTreeSet::new();
    for reason in anomaly_reasons() {
        seen.insert(match reason {
            AnomalyReason::AmountMismatch { .. } => "amount_mismatch",
            AnomalyReason::AmountNotPositive => "amount_not_positive",
            AnomalyReason::NotPayable { .. } => "not_payable",
            AnomalyReason::ArrivedAfterCancellation => "arrived_after_cancellation",
            AnomalyReason::Refused { .. } => "refused",
            AnomalyReason::Stated { .. } => "stated",
        });
    }
    assert_eq!(seen.len(), 6);
}

/// One refund reason of each kind (a cancellation's of each cancellation reason).
fn refund_reasons() -> Vec<RefundReason> {
    vec![
        RefundReason::OrderCancelled { reason: CancelReason::NotPaidInTime },
        RefundReason::OrderCancelled { reason: CancelReason::stated("ordered twice") },
        RefundReason::PaidAfterCancellation,
        RefundReason::UnappliedPayment,
        RefundReason::AfterSales { case: C1, reason_code: "damaged".into() },
        RefundReason::stated("goodwill"),
    ]
}

/// One carrier choice reason of each kind.
fn choice_reasons() -> Vec<ChoiceReason> {
    let cheapest = ChoiceReason::Cheapest { quotes: 3, cost: cny(1_200), days: 2 };
    vec![
        cheapest.clone(),
        ChoiceReason::Fastest { quotes: 3, cost: cny(2_300), days: 1 },
        ChoiceReason::Rule { because: "contract for the capital".into(), cost: cny(1_500), days: 2 },
        ChoiceReason::NoRuleMatched { fallback: Box::new(cheapest) },
        ChoiceReason::stated("the buyer asked for SF"),
    ]
}

/// A carrier choice reason kind added without a sample above does not compile here.
#[test]
fn every_choice_reason_kind_has_a_sample() {
    let mut seen = BTreeSet::new();
    for reason in choice_reasons() {
        seen.insert(match reason {
            ChoiceReason::Cheapest { .. } => "cheapest",
            ChoiceReason::Fastest { .. } => "fastest",
            ChoiceReason::Rule { .. } => "rule",
            ChoiceReason::NoRuleMatched { .. } => "no_rule_matched",
            ChoiceReason::Stated { .. } => "stated",
        });
    }
    assert_eq!(seen.len(), 5);
}

/// A refund reason kind added without a sample above does not compile here.
#[test]
fn every_refund_reason_kind_has_a_sample() {
    let mut seen = BTreeSet::new();
    for reason in refund_reasons() {
        seen.insert(match reason {
            RefundReason::OrderCancelled { .. } => "order_cancelled",
            RefundReason::PaidAfterCancellation => "paid_after_cancellation",
            RefundReason::UnappliedPayment => "unapplied_payment",
            RefundReason::AfterSales { .. } => "after_sales",
            RefundReason::Stated { .. } => "stated",
        });
    }
    assert_eq!(seen.len(), 5);
}

fn notification_samples() -> Vec<Notification> {
    use NotificationKind as N;
    let mut kinds = vec![
        N::Placed { estimated_ship_by: at(), total: cny(27_000) },
        N::NeedsBuyerContact { reasons: vec![HoldReason::AddressProblem] },
        N::Paid { amount: cny(27_000) },
        N::Shipped { package: P1, carrier: "SF".into(), waybill: "SF100".into() },
        N::TrackingUpdate { package: P1, tracking: TrackingKind::Delivered, description: "front desk".into() },
        N::Delivered,
        N::Completed,
        N::Cancelled { reason: CancelReason::stated("ordered twice") },
        N::Refunded { amount: cny(27_000) },
        N::FollowUpDue { customer: CustomerId::new("alice").unwrap() },
        N::CaseEscalated { case: C1 },
    ];
    let anomalies = anomaly_reasons().into_iter().map(|reason| N::PaymentAnomaly { txn_id: "T2".into(), reason });
    kinds.splice(9..9, anomalies);
    for state in CaseUpdateState::ALL {
        let detail = if state == CaseUpdateState::RepairedAndReturned {
            "SF200"
        } else if state.has_detail() {
            "see photos"
        } else {
            ""
        };
        kinds.push(N::CaseUpdate { case: C1, state, detail: detail.into() });
    }
    kinds
        .into_iter()
        .map(|kind| Notification { audience: Audience::CustomerService, order_number: number(), kind })
        .collect()
}

fn violation_samples() -> Vec<Violation> {
    use ViolationRule as R;
    let cn = || Some("CN".to_owned());
    [
        ("shipping_address.recipient", R::Required),
        ("lines[0].product_name", R::TooLong { max: 200 }),
        ("buyer_note", R::ControlCharacters { line_breaks: true }),
        ("lines[1].sku", R::WhitespaceOrControl),
        ("customer", R::Invalid),
        ("shipping_address.street", R::NoStreetLine),
        ("shipping_address.street", R::TooManyStreetLines { max: 4 }),
        ("shipping_address.country", R::CountryCode),
        ("shipping_address.phone", R::PhoneShape { country: cn() }),
        ("shipping_address.postal_code", R::PostalCodeShape { country: cn() }),
        ("shipping_address.postal_code", R::PostalCodeRequired { country: "US".into() }),
        ("lines", R::NoLines),
        ("lines", R::TooManyLines { max: 100 }),
        ("lines[0].variant", R::TooManyVariantAttributes { max: 10 }),
        ("lines[0].variant", R::VariantNameBlank),
        ("lines[0].variant", R::VariantNameTooLong { max: 40 }),
        ("lines[0].variant", R::VariantNameControl),
        ("lines[0].variant", R::VariantNameDuplicate),
        ("lines[0].quantity", R::Quantity { max: 999 }),
        ("lines[0].unit_price", R::UnitPrice { max: cny(100_000_000) }),
        ("lines[2]", R::DuplicateLine { first: 0 }),
        ("lines[2].quantity", R::CombinedQuantity { max: 999 }),
        ("shipping_fee", R::CurrencyMismatch { currency: Currency::CNY }),
        ("discount", R::Negative),
        ("discount", R::DiscountAboveSubtotal { subtotal: cny(13_336) }),
        ("lines[0].quantity", R::Overflow { sum: Sum::LineAmount }),
    ]
    .into_iter()
    .map(|(field, rule)| Violation::broke(field, rule))
    .chain([Violation::new("payment", ViolationCode::Custom, "cash on delivery is not offered")])
    .collect()
}

/// (kind, English title, English text, Chinese title, Chinese text), in sample order.
#[rustfmt::skip]
const EXPECTED: &[(&str, &str, &str, &str, &str)] = &[
    ("order_placed", "Order placed", "order 0000-0000-011, total CNY 270.00, estimated to ship by 2026-12-07 17:30, please pay by 2026-12-05 17:30", "订单已提交", "订单号 0000-0000-011，合计 ¥270.00，预计 2026年12月7日 17:30 前发货，请在 2026年12月5日 17:30 前付款"),
    ("order_confirmed", "Order confirmed", "", "订单已确认", ""),
    ("review_approved", "Review approved", "looks fine", "审核通过", "looks fine"),
    ("put_on_hold", "Put on hold", "insufficient stock, high value: needs a person (check)", "订单暂停处理", "库存不足、金额较大，需人工审核（check）"),
    ("needs_buyer_contact", "We need to talk to you", "our service team will contact you about your order", "需要与您确认", "客服将联系您确认订单信息"),
    ("hold_resolved", "Hold resolved", "called buyer", "暂停已解除", "called buyer"),
    ("review_rejected", "Review rejected", "fraud", "审核未通过", "fraud"),
    ("order_declined", "Order declined", "fraud", "订单未被接受", "fraud"),
    ("payment_session_opened", "Payment started", "through alipay", "已发起支付", "支付渠道 alipay"),
    ("payment_received", "Payment received", "CNY 270.00 (transaction T1)", "已付款", "¥270.00（交易号 T1）"),
    ("payment_anomaly", "Payment anomaly", "CNY 1.00 (transaction T2): expected CNY 270.00, received CNY 1.00", "付款异常", "¥1.00（交易号 T2）：应付 ¥270.00，实收 ¥1.00"),
    ("payment_anomaly", "Payment anomaly", "CNY 1.00 (transaction T2): the amount is not above zero", "付款异常", "¥1.00（交易号 T2）：付款金额不大于零"),
    ("payment_anomaly", "Payment anomaly", "CNY 1.00 (transaction T2): the order takes no payment while it is ready to ship", "付款异常", "¥1.00（交易号 T2）：订单待发货，无法收款"),
    ("payment_anomaly", "Payment anomaly", "CNY 1.00 (transaction T2): payment arrived after the order was cancelled", "付款异常", "¥1.00（交易号 T2）：订单取消后才收到付款"),
    ("payment_anomaly", "Payment anomaly", "CNY 1.00 (transaction T2): the workflow refused the payment (forbidden)", "付款异常", "¥1.00（交易号 T2）：系统拒绝了这笔付款（forbidden）"),
    ("payment_anomaly", "Payment anomaly", "CNY 1.00 (transaction T2): wrong amount", "付款异常", "¥1.00（交易号 T2）：wrong amount"),
    ("refund_requested", "Refund requested", "CNY 270.00 (order cancelled: not paid in time)", "退款处理中", "¥270.00（订单已取消：超时未付款）"),
    ("refund_requested", "Refund requested", "CNY 270.00 (order cancelled: ordered twice)", "退款处理中", "¥270.00（订单已取消：ordered twice）"),
    ("refund_requested", "Refund requested", "CNY 270.00 (payment arrived after the order was cancelled)", "退款处理中", "¥270.00（订单取消后才收到付款）"),
    ("refund_requested", "Refund requested", "CNY 270.00 (a payment that did not match the order is being returned)", "退款处理中", "¥270.00（一笔与订单不符的付款正在退回）"),
    ("refund_requested", "Refund requested", "CNY 270.00 (after-sales case C1: damaged)", "退款处理中", "¥270.00（售后单 C1：商品破损）"),
    ("refund_requested", "Refund requested", "CNY 270.00 (goodwill)", "退款处理中", "¥270.00（goodwill）"),
    ("refund_completed", "Refund completed", "the money is on its way back to you", "退款完成", "款项正在原路退回"),
    ("refund_failed", "Refund failed", "R1: the provider could not send the money back; refund it another way", "退款失败", "R1：支付渠道未能退回款项，请通过其他方式退款"),
    ("refund_failed", "Refund failed", "R1: account closed", "退款失败", "R1：account closed"),
    ("pick_list_issued", "Pick list issued", "2× TEA 龙井茶", "已生成拣货单", "2× TEA 龙井茶"),
    ("being_prepared", "Being prepared", "the warehouse is picking your goods", "备货中", "仓库正在为您拣货"),
    ("packed", "Packed", "P1: 2× L1", "已打包", "P1：2× L1"),
    ("carrier_chosen", "Carrier chosen", "P1: SF standard (cheapest of 3 quote(s): CNY 12.00 in 2 day(s))", "已选择快递", "P1：SF standard（3 个报价中最便宜：¥12.00，预计 2 天送达）"),
    ("carrier_corrected", "Carrier corrected", "P1: the waybill belongs to zhongtong", "快递公司已更正", "P1：运单属于 zhongtong"),
    ("shipped", "Shipped", "parcel P1 with SF, waybill SF100", "已发货", "包裹 P1 由 SF 承运，运单号 SF100"),
    ("tracking_update", "Tracking update", "P1: out for delivery at 杭州", "物流更新", "P1：派送中，杭州"),
    ("cod_collected", "Paid at the door", "CNY 50.00", "货到付款已收款", "¥50.00"),
    ("receipt_confirmed", "Receipt confirmed", "confirmed automatically", "已确认收货", "系统自动确认"),
    ("order_cancelled", "Order cancelled", "not paid in time", "订单已取消", "超时未付款"),
    ("after_sales_window_closed", "After-sales window closed", "", "售后期已结束", ""),
    ("follow_up_due", "Follow-up due", "customer service should visit the buyer", "待回访", "客服应回访买家"),
    ("follow_up_recorded", "Follow-up recorded", "satisfaction 5/5 happy", "已记录回访", "满意度 5/5 happy"),
    ("feedback_thanks", "Thank you for your feedback", "you rated us 4/5", "感谢您的评价", "您的评分：4/5"),
    ("case_opened", "After-sales request", "case C1: return_and_refund (damaged) for 2× L1: cracked", "售后申请", "售后单 C1：退货退款（商品破损），涉及 2× L1：cracked"),
    ("case_approved", "Request accepted", "case C1", "申请已通过", "售后单 C1"),
    ("case_rejected", "Request declined", "case C1: used", "申请未通过", "售后单 C1：used"),
    ("case_withdrawn", "Request withdrawn", "case C1", "申请已撤销", "售后单 C1"),
    ("return_parcel_sent", "Return parcel sent", "case C1, waybill YT9", "退货已寄出", "售后单 C1，运单号 YT9"),
    ("return_tracking", "Return parcel tracking", "case C1: in transit", "退货物流", "售后单 C1：运输中"),
    ("return_received", "Return received", "case C1", "退货已签收", "售后单 C1"),
    ("return_inspected", "Return inspected: not accepted", "case C1: scratched", "退货验收未通过", "售后单 C1：scratched"),
    ("replacement_packed", "Replacement packed", "case C1, parcel P2", "换货已打包", "售后单 C1，包裹 P2"),
    ("repair_returned", "Repaired goods sent back", "case C1, waybill SF200", "维修商品已寄回", "售后单 C1，运单号 SF200"),
    ("case_assigned", "Being handled", "case C1 assigned to wang", "处理中", "售后单 C1 已分配给 wang"),
    ("case_resolved", "Resolved", "case C1: coupon", "已解决", "售后单 C1：coupon"),
    ("case_closed", "Case closed", "case C1", "售后单已关闭", "售后单 C1"),
    ("case_escalated", "Escalated", "case C1: SLA missed", "已升级", "售后单 C1：超时未答复"),
    ("case_follow_up_due", "Follow-up due", "case C1", "待回访", "售后单 C1"),
    ("case_follow_up_recorded", "Follow-up recorded", "case C1: satisfaction 3/5 ok", "已记录回访", "售后单 C1：满意度 3/5 ok"),
    ("deadline_set", "Deadline set", "auto-confirm at 2026-12-05 17:30", "已设置时限", "自动确认收货：2026年12月5日 17:30"),
    ("placed", "Order 0000-0000-011 placed", "Total CNY 270.00; we expect to ship it by 2026-12-05 17:30.", "订单 0000-0000-011 已提交", "合计 ¥270.00，预计 2026年12月5日 17:30 前发货。"),
    ("needs_buyer_contact", "About your order 0000-0000-011", "Our service team will contact you about your order.", "关于您的订单 0000-0000-011", "客服将联系您确认订单信息。"),
    ("paid", "Payment received", "We received CNY 270.00 for order 0000-0000-011.", "付款成功", "订单 0000-0000-011 已收到付款 ¥270.00。"),
    ("shipped", "Order 0000-0000-011 shipped", "Parcel P1 is on its way with SF, waybill SF100.", "订单 0000-0000-011 已发货", "包裹 P1 已由 SF 发出，运单号 SF100。"),
    ("tracking_update", "Parcel P1: delivered", "front desk", "包裹 P1：已签收", "front desk"),
    ("delivered", "Order 0000-0000-011 delivered", "Every parcel of your order has arrived.", "订单 0000-0000-011 已送达", "您订单的所有包裹均已送达。"),
    ("completed", "Order 0000-0000-011 completed", "Thank you for shopping with us.", "订单 0000-0000-011 已完成", "感谢您的惠顾。"),
    ("cancelled", "Order 0000-0000-011 cancelled", "Reason: ordered twice.", "订单 0000-0000-011 已取消", "原因：ordered twice。"),
    ("refunded", "Refund for order 0000-0000-011", "CNY 270.00 is on its way back to you.", "订单 0000-0000-011 退款", "¥270.00 正在原路退回。"),
    ("payment_anomaly", "Payment anomaly on order 0000-0000-011", "Transaction T2: expected CNY 270.00, received CNY 1.00", "订单 0000-0000-011 付款异常", "交易号 T2：应付 ¥270.00，实收 ¥1.00"),
    ("payment_anomaly", "Payment anomaly on order 0000-0000-011", "Transaction T2: the amount is not above zero", "订单 0000-0000-011 付款异常", "交易号 T2：付款金额不大于零"),
    ("payment_anomaly", "Payment anomaly on order 0000-0000-011", "Transaction T2: the order takes no payment while it is ready to ship", "订单 0000-0000-011 付款异常", "交易号 T2：订单待发货，无法收款"),
    ("payment_anomaly", "Payment anomaly on order 0000-0000-011", "Transaction T2: payment arrived after the order was cancelled", "订单 0000-0000-011 付款异常", "交易号 T2：订单取消后才收到付款"),
    ("payment_anomaly", "Payment anomaly on order 0000-0000-011", "Transaction T2: the workflow refused the payment (forbidden)", "订单 0000-0000-011 付款异常", "交易号 T2：系统拒绝了这笔付款（forbidden）"),
    ("payment_anomaly", "Payment anomaly on order 0000-0000-011", "Transaction T2: wrong amount", "订单 0000-0000-011 付款异常", "交易号 T2：wrong amount"),
    ("follow_up_due", "Follow-up due", "Visit buyer alice about order 0000-0000-011.", "待回访", "请回访买家 alice（订单 0000-0000-011）。"),
    ("case_escalated", "Case C1 escalated", "Order 0000-0000-011: the request was not answered in time.", "售后单 C1 已升级", "订单 0000-0000-011：申请未在时限内答复。"),
    ("case_update", "Your request C1 on order 0000-0000-011", "We received your request.", "订单 0000-0000-011 的售后单 C1", "我们已收到您的申请。"),
    ("case_update", "Your request C1 on order 0000-0000-011", "Your request was accepted.", "订单 0000-0000-011 的售后单 C1", "您的申请已通过。"),
    ("case_update", "Your request C1 on order 0000-0000-011", "Your request was accepted: please send the goods back.", "订单 0000-0000-011 的售后单 C1", "您的申请已通过，请将商品寄回。"),
    ("case_update", "Your request C1 on order 0000-0000-011", "Your request was declined: see photos", "订单 0000-0000-011 的售后单 C1", "您的申请未通过：see photos"),
    ("case_update", "Your request C1 on order 0000-0000-011", "Your parcel arrived at our warehouse.", "订单 0000-0000-011 的售后单 C1", "您寄回的包裹已到达仓库。"),
    ("case_update", "Your request C1 on order 0000-0000-011", "The returned goods passed inspection: see photos", "订单 0000-0000-011 的售后单 C1", "退回的商品已验收通过：see photos"),
    ("case_update", "Your request C1 on order 0000-0000-011", "The returned goods did not pass inspection: see photos", "订单 0000-0000-011 的售后单 C1", "退回的商品未通过验收：see photos"),
    ("case_update", "Your request C1 on order 0000-0000-011", "Your repaired goods are on their way back, waybill SF200.", "订单 0000-0000-011 的售后单 C1", "维修后的商品已寄回，运单号 SF200。"),
    ("case_update", "Your request C1 on order 0000-0000-011", "Someone is looking into it.", "订单 0000-0000-011 的售后单 C1", "客服正在处理。"),
    ("case_update", "Your request C1 on order 0000-0000-011", "Resolved: see photos", "订单 0000-0000-011 的售后单 C1", "已解决：see photos"),
    ("case_update", "Your request C1 on order 0000-0000-011", "Your request is closed.", "订单 0000-0000-011 的售后单 C1", "您的售后申请已关闭。"),
    ("required", "recipient", "recipient is required", "收货人", "请填写收货人"),
    ("too_long", "product name", "product name must be at most 200 characters", "商品名称", "商品名称不能超过 200 个字符"),
    ("control_characters", "buyer note", "buyer note must not contain control characters other than line breaks", "买家留言", "买家留言除换行外不能包含控制字符"),
    ("whitespace_or_control", "SKU", "SKU must not contain whitespace or control characters", "商品编码", "商品编码不能包含空格或控制字符"),
    ("invalid", "customer id", "invalid customer id", "客户编号", "客户编号无效"),
    ("no_street_line", "street line", "at least one street line is required", "详细地址", "请填写详细地址"),
    ("too_many_street_lines", "street line", "at most 4 street lines are allowed", "详细地址", "详细地址最多 4 行"),
    ("country_code", "country", "country must be a two-letter ISO 3166-1 code such as CN or US", "国家或地区", "国家或地区须为两位 ISO 3166-1 代码，如 CN 或 US"),
    ("phone_shape", "phone number", "phone number in CN must be a mobile number of 11 digits starting with 1, or a landline of 10 to 12 digits starting with its area code 0, optionally prefixed by +86", "手机号码", "CN 的手机号码须为以 1 开头的 11 位手机号，或以区号 0 开头的 10 至 12 位固定电话，可加 +86"),
    ("postal_code_shape", "postal code", "postal code in CN must be 6 digits", "邮政编码", "CN 的邮政编码须为6 位数字"),
    ("postal_code_required", "postal code", "postal code is required in US", "邮政编码", "US 的地址须填写邮政编码"),
    ("no_lines", "lines", "the order must have at least one line", "商品", "订单至少需要一件商品"),
    ("too_many_lines", "lines", "an order may have at most 100 lines", "商品", "一个订单最多 100 种商品"),
    ("too_many_variant_attributes", "variant value", "a line may have at most 10 variant attributes", "规格", "每件商品最多 10 个规格属性"),
    ("variant_name_blank", "variant value", "variant attribute names must not be blank", "规格", "规格属性名不能为空"),
    ("variant_name_too_long", "variant value", "variant attribute names must be at most 40 characters", "规格", "规格属性名不能超过 40 个字符"),
    ("variant_name_control", "variant value", "variant attribute names must not contain control characters", "规格", "规格属性名不能包含控制字符"),
    ("variant_name_duplicate", "variant value", "variant attribute names must be unique, ignoring surrounding spaces", "规格", "规格属性名不能重复（忽略首尾空格）"),
    ("quantity", "quantity", "quantity must be between 1 and 999", "数量", "数量须在 1 到 999 之间"),
    ("unit_price", "unit price", "unit price must be between 0 and CNY 1000000.00", "单价", "单价须在 0 到 ¥1000000.00 之间"),
    ("duplicate_line", "lines", "same SKU and variant as lines[0] but a different unit price", "商品", "与 lines[0] 的商品编码和规格相同，但单价不同"),
    ("combined_quantity", "quantity", "combined quantity of lines with this SKU and variant must be at most 999", "数量", "同一商品编码和规格的合计数量不能超过 999"),
    ("currency_mismatch", "shipping fee", "currency must be CNY, the currency of the first line", "运费", "币种须为 CNY，与第一件商品一致"),
    ("negative", "discount", "discount must not be negative", "优惠", "优惠不能为负数"),
    ("discount_above_subtotal", "discount", "discount must not exceed the goods subtotal (CNY 133.36)", "优惠", "优惠不能超过商品小计（¥133.36）"),
    ("overflow", "quantity", "unit price times quantity does not fit in 64-bit minor units", "数量", "单价乘以数量超出可计算的金额范围"),
    ("custom", "payment", "cash on delivery is not offered", "payment", "cash on delivery is not offered"),
    ("refund_reason", "Refund", "order cancelled: not paid in time", "退款", "订单已取消：超时未付款"),
    ("refund_reason", "Refund", "order cancelled: ordered twice", "退款", "订单已取消：ordered twice"),
    ("refund_reason", "Refund", "payment arrived after the order was cancelled", "退款", "订单取消后才收到付款"),
    ("refund_reason", "Refund", "a payment that did not match the order is being returned", "退款", "一笔与订单不符的付款正在退回"),
    ("refund_reason", "Refund", "after-sales case C1: damaged", "退款", "售后单 C1：商品破损"),
    ("refund_reason", "Refund", "goodwill", "退款", "goodwill"),
    ("carrier_choice", "Carrier chosen", "cheapest of 3 quote(s): CNY 12.00 in 2 day(s)", "已选择快递", "3 个报价中最便宜：¥12.00，预计 2 天送达"),
    ("carrier_choice", "Carrier chosen", "fastest of 3 quote(s): CNY 23.00 in 1 day(s)", "已选择快递", "3 个报价中最快：¥23.00，预计 1 天送达"),
    ("carrier_choice", "Carrier chosen", "rule: contract for the capital (CNY 15.00 in 2 day(s))", "已选择快递", "规则：contract for the capital（¥15.00，预计 2 天送达）"),
    ("carrier_choice", "Carrier chosen", "no rule matched; cheapest of 3 quote(s): CNY 12.00 in 2 day(s)", "已选择快递", "未匹配任何规则；3 个报价中最便宜：¥12.00，预计 2 天送达"),
    ("carrier_choice", "Carrier chosen", "the buyer asked for SF", "已选择快递", "the buyer asked for SF"),
];

fn localizers() -> (Localizer, Localizer) {
    let shop = WorkflowConfig { time_zone: Tz::Asia__Shanghai, locale: Locale::ZhCn, ..WorkflowConfig::default() };
    let zh = Localizer::for_shop(&shop);
    let en = zh.with_catalogue(Locale::En.catalogue());
    (en, zh)
}

fn all_messages<'a>(
    timeline: &'a [TimelineMessage],
    notifications: &'a [Notification],
    violations: &'a [Violation],
    refunds: &'a [RefundReason],
    choices: &'a [ChoiceReason],
) -> Vec<Message<'a>> {
    timeline
        .iter()
        .map(Message::Timeline)
        .chain(notifications.iter().map(Message::Notification))
        .chain(violations.iter().map(Message::Violation))
        .chain(refunds.iter().map(Message::RefundReason))
        .chain(choices.iter().map(Message::CarrierChoice))
        .collect()
}

fn has_chinese(text: &str) -> bool {
    text.chars().any(|c| ('\u{4e00}'..='\u{9fff}').contains(&c))
}

#[test]
fn every_message_reads_as_written_in_both_languages() {
    let (timeline, notifications, violations) = (timeline_samples(), notification_samples(), violation_samples());
    let (refunds, choices) = (refund_reasons(), choice_reasons());
    let messages = all_messages(&timeline, &notifications, &violations, &refunds, &choices);
    let (en, zh) = localizers();
    assert_eq!(messages.len(), EXPECTED.len(), "one expected row per sample");
    for (message, (kind, en_title, en_body, zh_title, zh_body)) in messages.iter().zip(EXPECTED) {
        assert_eq!(message.kind(), *kind);
        assert_eq!(en.render(*message), Rendered::new(*en_title, *en_body), "en {kind}");
        assert_eq!(zh.render(*message), Rendered::new(*zh_title, *zh_body), "zh-CN {kind}");
    }
}

#[test]
fn every_kind_is_rendered_and_none_is_left_in_english_for_chinese_buyers() {
    let (timeline, notifications, violations) = (timeline_samples(), notification_samples(), violation_samples());
    let (en, zh) = localizers();
    let kinds = |names: &[&'static str]| names.iter().copied().collect::<BTreeSet<_>>();
    assert_eq!(timeline.iter().map(TimelineMessage::kind).collect::<BTreeSet<_>>(), kinds(TimelineMessage::KINDS));
    assert_eq!(notifications.iter().map(|n| n.kind.name()).collect::<BTreeSet<_>>(), kinds(NotificationKind::KINDS));
    assert_eq!(violations.iter().map(|v| v.rule.kind()).collect::<BTreeSet<_>>(), kinds(ViolationRule::KINDS));
    let states: BTreeSet<_> = notifications
        .iter()
        .filter_map(|n| match &n.kind {
            NotificationKind::CaseUpdate { state, .. } => Some(format!("{state:?}")),
            _ => None,
        })
        .collect();
    assert_eq!(states.len(), CaseUpdateState::ALL.len(), "every case update state");

    let (refunds, choices) = (refund_reasons(), choice_reasons());
    for message in all_messages(&timeline, &notifications, &violations, &refunds, &choices) {
        let (english, chinese) = (en.render(message), zh.render(message));
        assert!(!english.title.is_empty() && !chinese.title.is_empty(), "{} has no title", message.kind());
        if matches!(message, Message::Violation(v) if v.rule == ViolationRule::Custom) {
            // A host rule's own words are shown as the host wrote them.
            assert_eq!(chinese.body, english.body);
            continue;
        }
        // The title of a violation is the field's name: the sentence itself must be Chinese.
        let said = match message {
            Message::Violation(_) => chinese.body.clone(),
            _ => format!("{}{}", chinese.title, chinese.body),
        };
        assert!(has_chinese(&said), "{} has no zh-CN text: {chinese:?}", message.kind());
        assert_ne!(chinese, english, "{} is the same in both languages", message.kind());
    }
}

#[test]
fn money_is_written_as_each_language_writes_it() {
    let (en, zh) = localizers();
    for (amount, english, chinese) in [
        (cny(27_000), "CNY 270.00", "¥270.00"),
        (cny(5), "CNY 0.05", "¥0.05"),
        (cny(-1_050), "-CNY 10.50", "-¥10.50"),
        (Money::new(1_299, Currency::USD), "USD 12.99", "US$12.99"),
        (Money::new(1_200, Currency::JPY), "JPY 1200", "JP¥1200"),
        (Money::new(1_500, Currency::parse("KRW").unwrap()), "KRW 1500", "KRW 1500"),
        (Money::new(i64::MIN, Currency::CNY), "-CNY 92233720368547758.08", "-¥92233720368547758.08"),
    ] {
        assert_eq!(en.money(&amount), english);
        assert_eq!(zh.money(&amount), chinese);
    }
}

#[test]
fn times_are_shown_in_the_shops_time_zone() {
    let (en, zh) = localizers();
    assert_eq!(en.time(&at()), "2026-12-05 17:30");
    assert_eq!(zh.time(&at()), "2026年12月5日 17:30");
    // The default shop: UTC.
    assert_eq!(Localizer::for_shop(&WorkflowConfig::default()).time(&at()), "2026-12-05 09:30");
    let new_york = Localizer::new(SimplifiedChinese).in_zone("America/New_York".parse().unwrap());
    assert_eq!(new_york.time(&at()), "2026年12月5日 04:30");
}

#[test]
fn hosts_override_some_messages_and_keep_the_rest() {
    let shipped = TimelineMessage::Shipped { package: P1, carrier: "SF".into(), waybill: "SF100".into() };
    let placed = notification_samples().remove(0);
    let shop = Overrides::new(Locale::ZhCn.catalogue()).with("shipped", |message, _| match message {
        Message::Timeline(TimelineMessage::Shipped { waybill, .. }) => {
            Some(Rendered::new("宝贝已发出", format!("顺丰单号 {waybill}")))
        }
        _ => None,
    });
    let (_, zh) = localizers();
    let shop = zh.with_catalogue(shop);
    assert_eq!(shop.timeline(&shipped), Rendered::new("宝贝已发出", "顺丰单号 SF100"));
    // The notification of the same name is not the override's business: it answered None.
    let shipped_notice = Notification {
        kind: NotificationKind::Shipped { package: P1, carrier: "SF".into(), waybill: "SF100".into() },
        ..placed.clone()
    };
    assert_eq!(shop.notification(&shipped_notice), zh.notification(&shipped_notice));
    // Every other kind as the wrapped catalogue says it, with the shop's time zone.
    assert_eq!(shop.notification(&placed), zh.notification(&placed));
    assert_eq!(shop.notification(&placed).body, "合计 ¥270.00，预计 2026年12月5日 17:30 前发货。");
}

/// What the engine tells the payment provider about a refund is the shop's words for its
/// reason, which a host may override like any message.
#[test]
fn refund_reasons_for_the_provider_are_the_shops_words() {
    let (en, zh) = localizers();
    let unpaid = RefundReason::OrderCancelled { reason: CancelReason::NotPaidInTime };
    assert_eq!(en.refund_reason(&unpaid), "order cancelled: not paid in time");
    assert_eq!(zh.refund_reason(&unpaid), "订单已取消：超时未付款");
    let shop = Overrides::new(Locale::ZhCn.catalogue()).with("refund_reason", |message, _| match message {
        Message::RefundReason(RefundReason::PaidAfterCancellation) => {
            Some(Rendered::new("退款", "订单已关闭，款项原路退回"))
        }
        _ => None,
    });
    let shop = zh.with_catalogue(shop);
    assert_eq!(shop.refund_reason(&RefundReason::PaidAfterCancellation), "订单已关闭，款项原路退回");
    assert_eq!(shop.refund_reason(&unpaid), zh.refund_reason(&unpaid));
}

#[test]
fn a_violation_keeps_its_english_message_and_reads_in_chinese() {
    let v = Violation::broke("lines[0].quantity", ViolationRule::Quantity { max: 999 });
    assert_eq!((v.code, v.message.as_str()), (ViolationCode::OutOfRange, "quantity must be between 1 and 999"));
    let (_, zh) = localizers();
    assert_eq!(zh.violation(&v), "数量须在 1 到 999 之间");
    let json = serde_json::to_value(&v).unwrap();
    assert_eq!(json["rule"], serde_json::json!({"rule": "quantity", "max": 999}));
    // Violations serialised before rules were typed read as a host's words.
    let old: Violation =
        serde_json::from_value(serde_json::json!({"field": "x", "code": "custom", "message": "m"})).unwrap();
    assert_eq!(old.rule, ViolationRule::Custom);
}
