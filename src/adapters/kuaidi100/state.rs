//! Kuaidi100's logistics states (`state`, and with `resultv2=4` each entry's `statusCode`) and
//! the normalized [`TrackingKind`] each becomes.
//!
//! The table is Kuaidi100's documented list of main states and their sub-states ("高级物流
//! 状态"). A code not in it (Kuaidi100 adds sub-states now and then) is read as its main state:
//! a three-digit code by its first digit, `100x` as in transit.

use crate::order::TrackingKind;

/// Every documented state: code, Kuaidi100's name, and its kind.
pub const STATES: &[(&str, &str, TrackingKind)] = &[
    // 揽收: collected (101 ordered and 102 awaiting the courier come before the parcel moves).
    ("1", "揽收", TrackingKind::PickedUp),
    ("101", "已下单", TrackingKind::AwaitingPickup),
    ("102", "待揽收", TrackingKind::AwaitingPickup),
    ("103", "已揽收", TrackingKind::PickedUp),
    // 在途: in transit.
    ("0", "在途", TrackingKind::InTransit),
    ("1001", "到达派件城市", TrackingKind::InTransit),
    ("1002", "干线", TrackingKind::InTransit),
    ("1003", "转递", TrackingKind::Rerouted),
    // 派件: out for delivery; 501 left in a parcel locker or pickup station.
    ("5", "派件", TrackingKind::OutForDelivery),
    ("501", "投柜或驿站", TrackingKind::AwaitingCollection),
    // 签收: delivered (in person, after a problem, by someone else, from a locker).
    ("3", "签收", TrackingKind::Delivered),
    ("301", "本人签收", TrackingKind::Delivered),
    ("302", "派件异常后签收", TrackingKind::Delivered),
    ("303", "代签", TrackingKind::Delivered),
    ("304", "投柜或站签收", TrackingKind::Delivered),
    // 退回: on its way back; 退签: back and signed for by the sender; 401 the waybill was
    // cancelled; 14 拒签: refused by the recipient.
    ("6", "退回", TrackingKind::Returning),
    ("4", "退签", TrackingKind::ReturnedToSender),
    ("401", "已销单", TrackingKind::Exception),
    ("14", "拒签", TrackingKind::RefusedAtDoor),
    // 转投: handed to another carrier.
    ("7", "转投", TrackingKind::Rerouted),
    // 疑难: a problem.
    ("2", "疑难", TrackingKind::Exception),
    ("201", "超时未签收", TrackingKind::Exception),
    ("202", "超时未更新", TrackingKind::Exception),
    ("203", "拒收", TrackingKind::RefusedAtDoor),
    ("204", "派件异常", TrackingKind::Exception),
    ("205", "柜或驿站超时未取", TrackingKind::Exception),
    ("206", "无法联系", TrackingKind::Exception),
    ("207", "超区", TrackingKind::Exception),
    ("208", "滞留", TrackingKind::Exception),
    ("209", "破损", TrackingKind::Exception),
    ("210", "销单", TrackingKind::Exception),
    // 清关: customs; 13 a customs problem.
    ("8", "清关", TrackingKind::Customs),
    ("10", "待清关", TrackingKind::Customs),
    ("11", "清关中", TrackingKind::Customs),
    ("12", "已清关", TrackingKind::Customs),
    ("13", "清关异常", TrackingKind::Exception),
];

/// The kind of state `code`, falling back to its main state; `None` for a code that is not
/// a Kuaidi100 state at all.
pub fn kind_of_code(code: &str) -> Option<TrackingKind> {
    let code = code.trim();
    let exact = |c: &str| STATES.iter().find(|(k, _, _)| *k == c).map(|(_, _, kind)| *kind);
    exact(code).or_else(|| match code.len() {
        3 => exact(code.get(..1)?),
        4 if code.starts_with("100") => exact("0"),
        4 => exact(code.get(..2)?),
        _ => None,
    })
}

/// The kind of the state named `name` (an entry's `status` when it has no `statusCode`).
pub fn kind_of_name(name: &str) -> Option<TrackingKind> {
    STATES.iter().find(|(_, n, _)| *n == name.trim()).map(|(_, _, kind)| *kind)
}
