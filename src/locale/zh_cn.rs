//! Simplified Chinese (`zh-CN`), as mainland shops write to their buyers.

use chrono::DateTime;
use chrono_tz::Tz;

use super::{Catalogue, Context, Locale, Message, Rendered, unsigned_decimal};
use crate::carrier_choice::ChoiceReason;
use crate::effect::{CaseUpdateState, NotificationKind};
use crate::money::Money;
use crate::order::{
    AnomalyReason, CancelReason, CaseKind, DeadlineKind, HoldReason, OrderStatus, RefundFailure, RefundReason,
    TrackingKind,
};
use crate::timeline::{LineUnits, TimelineMessage};
use crate::validation::{Sum, Violation, ViolationRule, field_name};

/// Simplified Chinese. Money as `¥270.00` (other currencies by their sign where Chinese
/// shops use one, `US$12.00`, else by code), times as `2026年12月5日 17:30`.
#[derive(Debug, Clone, Copy, Default)]
pub struct SimplifiedChinese;

impl Catalogue for SimplifiedChinese {
    fn locale(&self) -> Locale {
        Locale::ZhCn
    }

    fn money(&self, amount: &Money) -> String {
        let (sign, digits) = unsigned_decimal(amount);
        let symbol = match amount.currency.as_str() {
            "CNY" => "¥",
            "USD" => "US$",
            "HKD" => "HK$",
            "MOP" => "MOP$",
            "TWD" => "NT$",
            "EUR" => "€",
            "GBP" => "£",
            "JPY" => "JP¥",
            code => return format!("{sign}{code} {digits}"),
        };
        format!("{sign}{symbol}{digits}")
    }

    fn time(&self, at: &DateTime<Tz>) -> String {
        at.format("%Y年%-m月%-d日 %H:%M").to_string()
    }

    fn render(&self, message: Message<'_>, cx: &Context<'_>) -> Rendered {
        match message {
            Message::Timeline(m) => timeline(m, cx),
            Message::Notification(n) => notification(&n.kind, &n.order_number.to_string(), cx),
            Message::Violation(v) => Rendered::new(field_label(field_name(&v.field)), violation(v, cx)),
            Message::RefundReason(reason) => Rendered::new("退款", refund_reason(reason)),
            Message::CarrierChoice(reason) => Rendered::new("已选择快递", carrier_choice(reason, cx)),
        }
    }
}

fn tracking(kind: &TrackingKind) -> &'static str {
    match kind {
        TrackingKind::PickedUp => "快递员已揽收",
        TrackingKind::InTransit => "运输中",
        TrackingKind::OutForDelivery => "派送中",
        TrackingKind::Delivered => "已签收",
        TrackingKind::Exception => "派送异常",
        TrackingKind::RefusedAtDoor => "已拒收",
        TrackingKind::ReturnedToSender => "已退回寄件人",
        TrackingKind::AwaitingCollection => "已到快递柜或驿站，待取件",
        TrackingKind::Customs => "清关中",
        TrackingKind::Rerouted => "已转寄",
        TrackingKind::Returning => "退回途中",
        TrackingKind::AwaitingPickup => "等待快递员揽收",
    }
}

fn hold_reason(reason: &HoldReason) -> &str {
    match reason {
        HoldReason::InsufficientStock => "库存不足",
        HoldReason::AddressProblem => "地址有误",
        HoldReason::SuspectedFraud => "疑似欺诈",
        HoldReason::NeedsBuyerContact => "需联系买家",
        HoldReason::HighValue => "金额较大，需人工审核",
        HoldReason::Custom { text } => text,
    }
}

fn deadline(kind: &DeadlineKind) -> String {
    match kind {
        DeadlineKind::PayBy => "付款期限".to_owned(),
        DeadlineKind::AutoConfirm => "自动确认收货".to_owned(),
        DeadlineKind::AfterSalesWindow => "售后期".to_owned(),
        DeadlineKind::FollowUp => "回访".to_owned(),
        DeadlineKind::TrackingPoll => "物流查询".to_owned(),
        DeadlineKind::CaseSla(case) => format!("售后单 {case} 的答复时限"),
        DeadlineKind::CaseFollowUp(case) => format!("售后单 {case} 的回访"),
    }
}

fn case_kind(kind: &CaseKind) -> &'static str {
    match kind {
        CaseKind::RefundOnly => "仅退款",
        CaseKind::ReturnAndRefund => "退货退款",
        CaseKind::Exchange => "换货",
        CaseKind::WarrantyRepair => "保修维修",
        CaseKind::Complaint => "投诉",
    }
}

/// The reason codes shops commonly use, in words; any other code as it is.
fn reason_code(code: &str) -> &str {
    match code {
        "damaged" => "商品破损",
        "wrong_item" => "发错商品",
        "no_reason" => "七天无理由",
        "late_delivery" => "发货太慢",
        "quality" => "质量问题",
        "not_as_described" => "与描述不符",
        other => other,
    }
}

fn cancel_reason(reason: &CancelReason) -> &str {
    match reason {
        CancelReason::NotPaidInTime => "超时未付款",
        CancelReason::Stated { text } => text,
    }
}

/// Why a payment could not be applied, in Chinese.
fn anomaly_reason(reason: &AnomalyReason, cx: &Context<'_>) -> String {
    match reason {
        AnomalyReason::AmountMismatch { expected, received } => {
            format!("应付 {}，实收 {}", cx.money(expected), cx.money(received))
        }
        AnomalyReason::AmountNotPositive => "付款金额不大于零".to_owned(),
        AnomalyReason::NotPayable { status } => format!("订单{}，无法收款", status_name(*status)),
        AnomalyReason::ArrivedAfterCancellation => "订单取消后才收到付款".to_owned(),
        AnomalyReason::Refused { code } => format!("系统拒绝了这笔付款（{code}）"),
        AnomalyReason::Stated { text } => text.clone(),
    }
}

/// Why a carrier was chosen, in Chinese (the booking names the carrier and service).
fn carrier_choice(reason: &ChoiceReason, cx: &Context<'_>) -> String {
    let terms = |cost: &Money, days: &u32| format!("{}，预计 {days} 天送达", cx.money(cost));
    match reason {
        ChoiceReason::Cheapest { quotes, cost, days } => format!("{quotes} 个报价中最便宜：{}", terms(cost, days)),
        ChoiceReason::Fastest { quotes, cost, days } => format!("{quotes} 个报价中最快：{}", terms(cost, days)),
        ChoiceReason::Rule { because, cost, days } => format!("规则：{because}（{}）", terms(cost, days)),
        ChoiceReason::NoRuleMatched { fallback } => format!("未匹配任何规则；{}", carrier_choice(fallback, cx)),
        ChoiceReason::Stated { text } => text.clone(),
    }
}

/// Why a refund is made, in Chinese.
fn refund_reason(reason: &RefundReason) -> String {
    match reason {
        RefundReason::OrderCancelled { reason } => format!("订单已取消：{}", cancel_reason(reason)),
        RefundReason::PaidAfterCancellation => "订单取消后才收到付款".to_owned(),
        RefundReason::UnappliedPayment => "一笔与订单不符的付款正在退回".to_owned(),
        RefundReason::AfterSales { case, reason_code: code } => format!("售后单 {case}：{}", reason_code(code)),
        RefundReason::Stated { text } => text.clone(),
    }
}

/// An order status, as the shop's staff call it.
fn status_name(status: OrderStatus) -> &'static str {
    match status {
        OrderStatus::AwaitingPayment => "待付款",
        OrderStatus::UnderReview => "审核中",
        OrderStatus::OnHold => "已挂起",
        OrderStatus::ReadyToShip => "待发货",
        OrderStatus::InFulfilment => "备货中",
        OrderStatus::PartiallyShipped => "部分发货",
        OrderStatus::Shipped => "已发货",
        OrderStatus::Delivered => "已送达",
        OrderStatus::Completed => "已完成",
        OrderStatus::Cancelled => "已取消",
        OrderStatus::Rejected => "已拒绝",
        OrderStatus::ReturnedToSender => "已退回",
    }
}

/// `2× L1、1× L2`.
fn units(units: &[LineUnits]) -> String {
    units.iter().map(|u| format!("{}× {}", u.quantity, u.line)).collect::<Vec<_>>().join("、")
}

/// `售后单 C1：` + words, or `售后单 C1` when there are none.
fn case_with(case: impl std::fmt::Display, words: &str) -> String {
    if words.is_empty() { format!("售后单 {case}") } else { format!("售后单 {case}：{words}") }
}

/// Shorthand for [`Rendered::new`].
fn r(title: impl Into<String>, body: impl Into<String>) -> Rendered {
    Rendered::new(title, body)
}

fn timeline(m: &TimelineMessage, cx: &Context<'_>) -> Rendered {
    use TimelineMessage as M;
    match m {
        M::OrderPlaced { number, total, ship_by, pay_by } => {
            let mut detail = format!("订单号 {number}，合计 {}，预计 {} 前发货", cx.money(total), cx.time(ship_by));
            if let Some(pay_by) = pay_by {
                detail.push_str(&format!("，请在 {} 前付款", cx.time(pay_by)));
            }
            r("订单已提交", detail)
        }
        M::OrderConfirmed => r("订单已确认", ""),
        M::ReviewApproved { note } => r("审核通过", note.as_str()),
        M::PutOnHold { reasons, note } => {
            let why = reasons.iter().map(hold_reason).collect::<Vec<_>>().join("、");
            r("订单暂停处理", if note.is_empty() { why } else { format!("{why}（{note}）") })
        }
        M::NeedsBuyerContact => r("需要与您确认", "客服将联系您确认订单信息"),
        M::HoldResolved { note } => r("暂停已解除", note.as_str()),
        M::ReviewRejected { reason } => r("审核未通过", reason.as_str()),
        M::OrderDeclined { reason } => r("订单未被接受", reason.as_str()),
        M::PaymentSessionOpened { provider } => r("已发起支付", format!("支付渠道 {provider}")),
        M::PaymentReceived { amount, txn_id } => r(
            "已付款",
            match txn_id {
                Some(txn) => format!("{}（交易号 {txn}）", cx.money(amount)),
                None => cx.money(amount),
            },
        ),
        M::PaymentAnomaly { txn_id, amount, reason } => {
            let why = anomaly_reason(reason, cx);
            r("付款异常", format!("{}（交易号 {txn_id}）：{why}", cx.money(amount)))
        }
        M::RefundRequested { amount, completed, reason } => {
            let why = refund_reason(reason);
            r(if *completed { "已退款" } else { "退款处理中" }, format!("{}（{why}）", cx.money(amount)))
        }
        M::RefundCompleted { refund, reference } => r(
            "退款完成",
            match reference {
                Some(reference) => format!("{refund}，退款单号 {reference}"),
                None => "款项正在原路退回".to_owned(),
            },
        ),
        M::RefundFailed { refund, reason } => {
            let why = match reason {
                RefundFailure::ProviderFailed => "支付渠道未能退回款项，请通过其他方式退款",
                RefundFailure::Stated { text } => text,
            };
            r("退款失败", format!("{refund}：{why}"))
        }
        M::PickListIssued { items } => r(
            "已生成拣货单",
            items
                .iter()
                .map(|i| format!("{}× {} {}", i.quantity, i.sku, i.product_name))
                .collect::<Vec<_>>()
                .join("、"),
        ),
        M::BeingPrepared => r("备货中", "仓库正在为您拣货"),
        M::Packed { package, items } => r("已打包", format!("{package}：{}", units(items))),
        M::CarrierChosen { package, carrier, service, reason } => {
            r("已选择快递", format!("{package}：{carrier} {service}（{}）", carrier_choice(reason, cx)))
        }
        M::CarrierCorrected { package, carrier } => r("快递公司已更正", format!("{package}：运单属于 {carrier}")),
        M::Shipped { package, carrier, waybill } => {
            r("已发货", format!("包裹 {package} 由 {carrier} 承运，运单号 {waybill}"))
        }
        M::TrackingUpdate { package, tracking: kind, location, description } => {
            let mut detail = format!("{package}：{}", tracking(kind));
            if !location.is_empty() {
                detail.push_str(&format!("，{location}"));
            }
            if !description.is_empty() {
                detail.push_str(&format!("（{description}）"));
            }
            r("物流更新", detail)
        }
        M::CodCollected { amount } => r("货到付款已收款", cx.money(amount)),
        M::ReceiptConfirmed { automatic } => r("已确认收货", if *automatic { "系统自动确认" } else { "" }),
        M::OrderCancelled { reason } => r("订单已取消", cancel_reason(reason)),
        M::AfterSalesWindowClosed => r("售后期已结束", ""),
        M::FollowUpDue => r("待回访", "客服应回访买家"),
        M::FollowUpRecorded { score, notes } => r("已记录回访", format!("满意度 {score}/5 {notes}")),
        M::FeedbackThanks { score } => r("感谢您的评价", format!("您的评分：{score}/5")),
        M::CaseOpened { case, kind, reason_code: code, units: lines, text } => {
            let mut detail = format!("售后单 {case}：{}（{}）", case_kind(kind), reason_code(code));
            if !lines.is_empty() {
                detail.push_str(&format!("，涉及 {}", units(lines)));
            }
            if let Some(text) = text {
                detail.push_str(&format!("：{text}"));
            }
            r("售后申请", detail)
        }
        M::CaseApproved { case } => r("申请已通过", case_with(case, "")),
        M::CaseRejected { case, reason } => r("申请未通过", case_with(case, reason)),
        M::CaseWithdrawn { case } => r("申请已撤销", case_with(case, "")),
        M::ReturnParcelSent { case, waybill } => r("退货已寄出", format!("售后单 {case}，运单号 {waybill}")),
        M::ReturnTracking { case, tracking: kind } => r("退货物流", case_with(case, tracking(kind))),
        M::ReturnReceived { case } => r("退货已签收", case_with(case, "")),
        M::ReturnInspected { case, passed, note } => {
            r(if *passed { "退货验收通过" } else { "退货验收未通过" }, case_with(case, note))
        }
        M::ReplacementPacked { case, package } => r("换货已打包", format!("售后单 {case}，包裹 {package}")),
        M::RepairReturned { case, waybill } => r("维修商品已寄回", format!("售后单 {case}，运单号 {waybill}")),
        M::CaseAssigned { case, assignee } => r(
            "处理中",
            match assignee {
                Some(who) => format!("售后单 {case} 已分配给 {who}"),
                None => case_with(case, ""),
            },
        ),
        M::CaseResolved { case, resolution } => r("已解决", case_with(case, resolution)),
        M::CaseClosed { case } => r("售后单已关闭", case_with(case, "")),
        M::CaseEscalated { case } => r("已升级", case_with(case, "超时未答复")),
        M::CaseFollowUpDue { case } => r("待回访", case_with(case, "")),
        M::CaseFollowUpRecorded { case, score, notes } => {
            r("已记录回访", case_with(case, &format!("满意度 {score}/5 {notes}")))
        }
        M::DeadlineSet { kind, at } => r(
            "已设置时限",
            match at {
                Some(at) => format!("{}：{}", deadline(kind), cx.time(at)),
                None => format!("{}已取消", deadline(kind)),
            },
        ),
    }
}

fn notification(kind: &NotificationKind, number: &str, cx: &Context<'_>) -> Rendered {
    use NotificationKind as N;
    match kind {
        N::Placed { estimated_ship_by, total } => r(
            format!("订单 {number} 已提交"),
            format!("合计 {}，预计 {} 前发货。", cx.money(total), cx.time(estimated_ship_by)),
        ),
        N::NeedsBuyerContact { .. } => r(format!("关于您的订单 {number}"), "客服将联系您确认订单信息。"),
        N::Paid { amount } => r("付款成功", format!("订单 {number} 已收到付款 {}。", cx.money(amount))),
        N::Shipped { package, carrier, waybill } => {
            r(format!("订单 {number} 已发货"), format!("包裹 {package} 已由 {carrier} 发出，运单号 {waybill}。"))
        }
        N::TrackingUpdate { package, tracking: kind, description } => {
            r(format!("包裹 {package}：{}", tracking(kind)), description.as_str())
        }
        N::Delivered => r(format!("订单 {number} 已送达"), "您订单的所有包裹均已送达。"),
        N::Completed => r(format!("订单 {number} 已完成"), "感谢您的惠顾。"),
        N::Cancelled { reason } => r(format!("订单 {number} 已取消"), format!("原因：{}。", cancel_reason(reason))),
        N::Refunded { amount } => r(format!("订单 {number} 退款"), format!("{} 正在原路退回。", cx.money(amount))),
        N::PaymentAnomaly { txn_id, reason } => {
            r(format!("订单 {number} 付款异常"), format!("交易号 {txn_id}：{}", anomaly_reason(reason, cx)))
        }
        N::CaseUpdate { case, state, detail } => {
            let d = detail.as_str();
            let body = match state {
                CaseUpdateState::Requested => "我们已收到您的申请。".to_owned(),
                CaseUpdateState::Approved => "您的申请已通过。".to_owned(),
                CaseUpdateState::AwaitingReturn => "您的申请已通过，请将商品寄回。".to_owned(),
                CaseUpdateState::Rejected => format!("您的申请未通过：{d}"),
                CaseUpdateState::Received => "您寄回的包裹已到达仓库。".to_owned(),
                CaseUpdateState::InspectionPassed if d.is_empty() => "退回的商品已验收通过。".to_owned(),
                CaseUpdateState::InspectionPassed => format!("退回的商品已验收通过：{d}"),
                CaseUpdateState::InspectionFailed => format!("退回的商品未通过验收：{d}"),
                CaseUpdateState::RepairedAndReturned => format!("维修后的商品已寄回，运单号 {d}。"),
                CaseUpdateState::InProgress => "客服正在处理。".to_owned(),
                CaseUpdateState::Resolved => format!("已解决：{d}"),
                CaseUpdateState::Closed => "您的售后申请已关闭。".to_owned(),
            };
            r(format!("订单 {number} 的售后单 {case}"), body)
        }
        N::CaseEscalated { case } => r(format!("售后单 {case} 已升级"), format!("订单 {number}：申请未在时限内答复。")),
        N::FollowUpDue { customer } => r("待回访", format!("请回访买家 {customer}（订单 {number}）。")),
    }
}

/// What Chinese checkouts call a field, by the name its path ends in.
fn field_label(name: &str) -> String {
    match name {
        "recipient" => "收货人",
        "phone" => "手机号码",
        "country" => "国家或地区",
        "province" => "省份",
        "city" => "城市",
        "district" => "区县",
        "street" => "详细地址",
        "postal_code" => "邮政编码",
        "customer" => "客户编号",
        "lines" => "商品",
        "sku" => "商品编码",
        "product_name" => "商品名称",
        "variant" => "规格",
        "quantity" => "数量",
        "unit_price" => "单价",
        "shipping_fee" => "运费",
        "discount" => "优惠",
        "buyer_note" => "买家留言",
        "provider" => "支付方式",
        other => other,
    }
    .to_owned()
}

/// The phone-number shape of a country's format, in Chinese.
fn phone_rule(country: Option<&str>) -> &'static str {
    match country {
        Some("CN") => "以 1 开头的 11 位手机号，或以区号 0 开头的 10 至 12 位固定电话，可加 +86",
        Some("US") => "10 位数字，可加 +1 或 1（可含空格、连字符、点和括号）",
        Some("HK") => "8 位数字，可加 +852",
        Some("MO") => "8 位数字，可加 +853",
        _ => "5 至 20 个字符的数字、空格及 + - ( )，至少 5 位数字",
    }
}

/// The postal-code shape of a country's format, in Chinese.
fn postal_rule(country: Option<&str>) -> &'static str {
    match country {
        Some("CN") => "6 位数字",
        Some("US") => "12345 或 12345-6789 格式的 ZIP 码",
        Some("GB") => "SW1A 1AA 格式的邮编",
        Some("DE") => "5 位数字",
        Some("JP") => "123-4567 格式的 7 位数字",
        _ => "最多 12 个字母、数字、空格或连字符",
    }
}

/// `CN 的`, or nothing for the default format.
fn of(country: &Option<String>) -> String {
    country.as_ref().map(|c| format!("{c} 的")).unwrap_or_default()
}

fn violation(v: &Violation, cx: &Context<'_>) -> String {
    use ViolationRule as R;
    let what = field_label(field_name(&v.field));
    match &v.rule {
        R::Required => format!("请填写{what}"),
        R::TooLong { max } => format!("{what}不能超过 {max} 个字符"),
        R::ControlCharacters { line_breaks: false } => format!("{what}不能包含控制字符"),
        R::ControlCharacters { line_breaks: true } => format!("{what}除换行外不能包含控制字符"),
        R::WhitespaceOrControl => format!("{what}不能包含空格或控制字符"),
        R::Invalid => format!("{what}无效"),
        R::NoStreetLine => "请填写详细地址".to_owned(),
        R::TooManyStreetLines { max } => format!("详细地址最多 {max} 行"),
        R::CountryCode => "国家或地区须为两位 ISO 3166-1 代码，如 CN 或 US".to_owned(),
        R::PhoneShape { country } => format!("{}手机号码须为{}", of(country), phone_rule(country.as_deref())),
        R::PostalCodeShape { country } => format!("{}邮政编码须为{}", of(country), postal_rule(country.as_deref())),
        R::PostalCodeRequired { country } => format!("{country} 的地址须填写邮政编码"),
        R::NoLines => "订单至少需要一件商品".to_owned(),
        R::TooManyLines { max } => format!("一个订单最多 {max} 种商品"),
        R::TooManyVariantAttributes { max } => format!("每件商品最多 {max} 个规格属性"),
        R::VariantNameBlank => "规格属性名不能为空".to_owned(),
        R::VariantNameTooLong { max } => format!("规格属性名不能超过 {max} 个字符"),
        R::VariantNameControl => "规格属性名不能包含控制字符".to_owned(),
        R::VariantNameDuplicate => "规格属性名不能重复（忽略首尾空格）".to_owned(),
        R::Quantity { max } => format!("数量须在 1 到 {max} 之间"),
        R::UnitPrice { max } => format!("单价须在 0 到 {} 之间", cx.money(max)),
        R::DuplicateLine { first } => format!("与 lines[{first}] 的商品编码和规格相同，但单价不同"),
        R::CombinedQuantity { max } => format!("同一商品编码和规格的合计数量不能超过 {max}"),
        R::CurrencyMismatch { currency } => format!("币种须为 {currency}，与第一件商品一致"),
        R::Negative => format!("{what}不能为负数"),
        R::DiscountAboveSubtotal { subtotal } => format!("优惠不能超过商品小计（{}）", cx.money(subtotal)),
        R::Overflow { sum } => match sum {
            Sum::LineAmount => "单价乘以数量超出可计算的金额范围",
            Sum::Subtotal => "加上此商品后订单小计超出可计算的金额范围",
            Sum::WithShipping => "小计加运费超出可计算的金额范围",
            Sum::AfterDiscount => "订单总额减去优惠超出可计算的金额范围",
            Sum::Amount => "金额超出可计算的范围",
        }
        .to_owned(),
        R::Custom => v.message.clone(),
    }
}
