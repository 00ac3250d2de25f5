//! The routing table: for each domain event, who receives which kind of notification, with the
//! variables its templates fill in. Pure: the handler loads the people first ([`needs`]).
//!
//! | event | recipient | kind |
//! |---|---|---|
//! | `UserRegistered` | the new user (their address, unverified) | `account_verify_email` |
//! | `PasswordResetRequested` | the user | `password_reset` |
//! | `OrganizationInvitationCreated` | the invited address (its account, if any) | `org_invitation` |
//! | `PasswordChanged` | the user | `security_alert` |
//! | `PhoneVerificationRequested` | the user (the new number) | `phone_verification` |
//! | `StockLow` | the shop's owners and its managers | `stock_low` |
//! | `OrderPlaced` | the buyer; the shop's owners and managers | `order_placed`; `shop_new_order` |
//! | `OrderConfirmed` (paid) | the buyer | `order_confirmed` |
//! | `OrderPaymentFailed` | the buyer | `payment_failed` |
//! | other order moves the buyer hears of ([`buyer_news`]) | the buyer | `order_update` |
//! | moves the shop did not make itself ([`shop_news`]) | owners and managers | `shop_order` |
//! | `RefundIssued`, `InvoiceIssued` | the buyer | `refund_issued`, `invoice_issued` |
//! | `PriceAlertTriggered` | the alert's owner | `price_alert` |
//! | `ShipmentOutForDelivery`, `…Delivered`, `…Failed`, `…Returned` | the buyer | `shipment_update` |
//! | `BroadcastRequested` | the segment, page by page (`broadcast`) | `promotion` |
//!
//! Kinds, priorities and channels are the `notification-templates` catalogue's.

use std::collections::BTreeMap;

use shared::catalog::{MemberRecord, MemberRole};
use shared::domain::order_state::OrderStatus;
use shared::events::{BroadcastRequested, DomainEvent, OrderStatusChanged};
use shared::notifications::{Channel, Kind, Language};

/// One notification to make: for whom, of which kind, with which values.
#[derive(Debug, Clone)]
pub struct Notice {
    pub user_id: String,
    pub kind: &'static Kind,
    /// The template variables, except `name` (the handler adds the recipient's). A sentence
    /// also has its Vietnamese form under `<name>@vi` ([`Notice::vars_in`] picks).
    pub vars: BTreeMap<String, String>,
    /// Where the in-app notification points (a web-app path).
    pub link: Option<String>,
    /// An address to use instead of the profile's (a sign-up's unverified e-mail).
    pub email: Option<String>,
    /// A number to text instead of the verified one (the number being verified).
    pub phone: Option<String>,
    /// The channels when not the kind's own (a broadcast names its channel).
    pub channels: Option<Vec<Channel>>,
}

impl Notice {
    fn new(user_id: &str, kind: &str, vars: &[(&str, String)]) -> Self {
        Self {
            user_id: user_id.to_owned(),
            kind: notification_templates::kind(kind)
                .unwrap_or_else(|| panic!("the catalogue has the kind {kind}")),
            vars: vars
                .iter()
                .map(|(k, v)| ((*k).to_owned(), v.clone()))
                .collect(),
            link: None,
            email: None,
            phone: None,
            channels: None,
        }
    }

    fn link(mut self, path: String) -> Self {
        self.link = Some(path);
        self
    }

    /// Vietnamese forms of some variables (sentences, status names).
    fn vi(mut self, vars: &[(&str, String)]) -> Self {
        for (k, v) in vars {
            self.vars.insert(format!("{k}@vi"), v.clone());
        }
        self
    }

    /// The variables for a recipient reading `language`.
    pub fn vars_in(&self, language: Language) -> BTreeMap<String, String> {
        let mut vars: BTreeMap<String, String> = self
            .vars
            .iter()
            .filter(|(k, _)| !k.contains('@'))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        if language == Language::Vi {
            for (k, v) in &self.vars {
                if let Some(name) = k.strip_suffix("@vi") {
                    vars.insert(name.to_owned(), v.clone());
                }
            }
        }
        vars
    }

    /// The channels to try (before preferences).
    pub fn channels(&self) -> Vec<Channel> {
        self.channels
            .clone()
            .unwrap_or_else(|| self.kind.channels.to_vec())
    }
}

/// What an event's notices need loaded first.
#[derive(Debug, Default, PartialEq)]
pub struct Needs {
    /// The organisation whose members may hear of it.
    pub staff_of: Option<String>,
}

pub fn needs(event: &DomainEvent) -> Needs {
    let org = |org: &str| Needs {
        staff_of: (!org.is_empty()).then(|| org.to_owned()),
    };
    match event {
        DomainEvent::StockLow(e) => org(&e.org_id),
        DomainEvent::OrderPlaced(e) => org(&e.org_id),
        other => match other.status_change() {
            Some(e) if shop_news(other.detail_type(), e).is_some() => org(&e.org_id),
            _ => Needs::default(),
        },
    }
}

/// The organisation's owners, and the managers whose scope covers the shop.
fn shop_staff<'a>(staff: &'a [MemberRecord], shop_id: &'a str) -> impl Iterator<Item = &'a str> {
    staff
        .iter()
        .filter(move |m| {
            m.role == MemberRole::Owner || (m.role == MemberRole::Manager && m.covers(shop_id))
        })
        .map(|m| m.user_id.as_str())
}

/// The notices of an event (none for most). `url` is the web app's base URL.
pub fn route(event: &DomainEvent, url: &str, staff: &[MemberRecord]) -> Vec<Notice> {
    let url = url.trim_end_matches('/').to_owned();
    let u = || ("url", url.clone());
    match event {
        DomainEvent::UserRegistered(e) => {
            let mut n = Notice::new(
                &e.user_id,
                "account_verify_email",
                &[
                    ("name", e.name.clone()),
                    u(),
                    ("token", e.verification_token.clone()),
                ],
            );
            n.email = Some(e.email.clone());
            vec![n]
        }
        DomainEvent::PasswordResetRequested(e) => {
            let mut n = Notice::new(
                &e.user_id,
                "password_reset",
                &[
                    ("name", e.name.clone()),
                    ("code", e.code.clone()),
                    ("minutes", e.expires_in_minutes.to_string()),
                ],
            );
            n.email = Some(e.email.clone());
            vec![n]
        }
        DomainEvent::OrganizationInvitationCreated(e) => {
            let (role, role_vi) = match e.role {
                MemberRole::Owner => ("owner", "chủ sở hữu"),
                MemberRole::Manager => ("manager", "quản lý"),
                MemberRole::Staff => ("staff", "nhân viên"),
            };
            // The address may have no account: the invitation stands in for the recipient.
            let recipient = e
                .user_id
                .clone()
                .unwrap_or_else(|| format!("invitation:{}", e.invitation_id));
            // whole days left, rounded up (7 for a new invitation)
            let days = (e.expires_at - shared::now_epoch() + 86_399)
                .div_euclid(86_400)
                .clamp(1, 7);
            let mut n = Notice::new(
                &recipient,
                "org_invitation",
                &[
                    ("org", e.org_name.clone()),
                    ("role", role.into()),
                    u(),
                    ("token", e.token.clone()),
                    ("days", days.to_string()),
                ],
            )
            .vi(&[("role", role_vi.into())]);
            n.email = Some(e.email.clone());
            vec![n]
        }
        DomainEvent::PasswordChanged(e) => {
            let (what, what_vi) = if e.reset {
                (
                    "Your password was reset with a code sent to your e-mail, and every session was signed out.",
                    "Mật khẩu của bạn vừa được đặt lại bằng mã gửi qua e-mail; mọi phiên đăng nhập đã bị đăng xuất.",
                )
            } else {
                (
                    "Your password was changed, and your other sessions were signed out.",
                    "Mật khẩu của bạn vừa được thay đổi; các phiên đăng nhập khác đã bị đăng xuất.",
                )
            };
            let mut n = Notice::new(
                &e.user_id,
                "security_alert",
                &[("name", e.name.clone()), ("what", what.into()), u()],
            )
            .vi(&[("what", what_vi.into())]);
            n.email = Some(e.email.clone());
            vec![n]
        }
        DomainEvent::PhoneVerificationRequested(e) => {
            let mut n = Notice::new(
                &e.user_id,
                "phone_verification",
                &[
                    ("code", e.code.clone()),
                    ("minutes", e.expires_in_minutes.to_string()),
                ],
            );
            n.phone = Some(e.phone.clone());
            vec![n]
        }
        DomainEvent::StockLow(e) => shop_staff(staff, &e.shop_id)
            .map(|user| {
                Notice::new(
                    user,
                    "stock_low",
                    &[
                        // A warehouse's alert names it beside the SKU (the shop total's does not).
                        (
                            "sku",
                            match &e.warehouse_id {
                                Some(w) => format!("{} · {w}", e.sku),
                                None => e.sku.clone(),
                            },
                        ),
                        ("product_id", e.product_id.clone()),
                        ("available", e.available.to_string()),
                        ("threshold", e.threshold.to_string()),
                        u(),
                    ],
                )
                .link(format!("/seller/products/{}", e.product_id))
            })
            .collect(),
        DomainEvent::OrderPlaced(e) => {
            let mut notices = vec![
                Notice::new(
                    &e.buyer_id,
                    "order_placed",
                    &[
                        ("order_id", e.order_id.clone()),
                        ("shop", e.shop_name.clone()),
                        ("total", e.total.to_string()),
                        (
                            "payment",
                            if e.payment_method == "cod" {
                                "cash on delivery".into()
                            } else {
                                "paid online".into()
                            },
                        ),
                        (
                            "next_step",
                            match &e.payment_due_at {
                                Some(due) => format!(
                                    "Please pay by {due} (UTC); an unpaid order is cancelled then."
                                ),
                                None => "The shop is preparing it.".into(),
                            },
                        ),
                        u(),
                    ],
                )
                .vi(&[
                    (
                        "payment",
                        if e.payment_method == "cod" {
                            "thanh toán khi nhận hàng".into()
                        } else {
                            "thanh toán trực tuyến".into()
                        },
                    ),
                    (
                        "next_step",
                        match &e.payment_due_at {
                            Some(due) => format!(
                                "Vui lòng thanh toán trước {due} (UTC); quá hạn, đơn hàng sẽ bị hủy."
                            ),
                            None => "Cửa hàng đang chuẩn bị đơn hàng.".into(),
                        },
                    ),
                ])
                .link(format!("/orders/{}", e.order_id)),
            ];
            notices.extend(shop_staff(staff, &e.shop_id).map(|user| {
                Notice::new(
                    user,
                    "shop_new_order",
                    &[
                        ("order_id", e.order_id.clone()),
                        ("shop", e.shop_name.clone()),
                        ("total", e.total.to_string()),
                        ("status", e.status.to_string()),
                        u(),
                    ],
                )
                .vi(&[("status", status_vi(e.status).into())])
                .link(format!("/seller/orders/{}", e.order_id))
            }));
            notices
        }
        DomainEvent::InvoiceIssued(e) => vec![
            Notice::new(
                &e.buyer_id,
                "invoice_issued",
                &[
                    ("number", e.number.clone()),
                    ("order_id", e.order_id.clone()),
                    ("total", e.total.to_string()),
                    u(),
                ],
            )
            .link(format!("/orders/{}/invoice", e.order_id)),
        ],
        DomainEvent::RefundIssued(e) => vec![
            Notice::new(
                &e.buyer_id,
                "refund_issued",
                &[
                    ("amount", e.amount.to_string()),
                    ("provider", e.provider.clone()),
                    (
                        "order_ref",
                        e.order_id
                            .as_deref()
                            .map(|o| format!(" for order {o}"))
                            .unwrap_or_default(),
                    ),
                ],
            )
            .vi(&[(
                "order_ref",
                e.order_id
                    .as_deref()
                    .map(|o| format!(" cho đơn hàng {o}"))
                    .unwrap_or_default(),
            )]),
        ],
        DomainEvent::PriceAlertTriggered(e) => vec![
            Notice::new(
                &e.user_id,
                "price_alert",
                &[
                    ("product", e.product_name.clone()),
                    ("price", e.price.to_string()),
                    ("target", e.target_price.to_string()),
                    u(),
                ],
            )
            .link(format!("/products/{}", e.product_id)),
        ],
        other => {
            if let Some(e) = other.status_change() {
                return order_move(other.detail_type(), e, &url, staff);
            }
            if let Some(e) = other.shipment_change() {
                let (news, news_vi) = match other.detail_type() {
                    "ShipmentOutForDelivery" => (
                        "is out for delivery today.".to_owned(),
                        "đang được giao trong hôm nay.".to_owned(),
                    ),
                    "ShipmentDelivered" => {
                        ("was delivered.".to_owned(), "đã được giao.".to_owned())
                    }
                    "ShipmentFailed" => (
                        format!(
                            "could not be delivered (attempt {}); the shipper will try again.",
                            e.attempts
                        ),
                        format!(
                            "chưa giao được (lần {}); người giao hàng sẽ thử lại.",
                            e.attempts
                        ),
                    ),
                    "ShipmentReturned" => (
                        "is on its way back to the shop.".to_owned(),
                        "đang được hoàn về cửa hàng.".to_owned(),
                    ),
                    _ => return Vec::new(),
                };
                return vec![
                    Notice::new(
                        &e.buyer_id,
                        "shipment_update",
                        &[
                            ("order_id", e.order_id.clone()),
                            ("tracking_number", e.tracking_number.clone()),
                            ("status", e.to.to_string()),
                            ("news", news),
                            u(),
                        ],
                    )
                    .vi(&[("news", news_vi)])
                    .link(format!("/orders/{}/tracking", e.order_id)),
                ];
            }
            Vec::new()
        }
    }
}

/// An admin's broadcast to one user: in-app and push, and the channel it was sent for.
pub fn promotion(user_id: &str, b: &BroadcastRequested) -> Notice {
    let mut notice = Notice::new(
        user_id,
        "promotion",
        &[("title", b.title.clone()), ("message", b.message.clone())],
    );
    let mut channels = vec![Channel::InApp, Channel::Push];
    if !channels.contains(&b.channel) {
        channels.push(b.channel);
    }
    notice.channels = Some(channels);
    notice
}

fn reason_of(e: &OrderStatusChanged) -> String {
    e.reason
        .as_deref()
        .map(|r| format!(" Reason: {r}."))
        .unwrap_or_default()
}

fn reason_vi(e: &OrderStatusChanged) -> String {
    e.reason
        .as_deref()
        .map(|r| format!(" Lý do: {r}."))
        .unwrap_or_default()
}

/// An order status as a Vietnamese reader sees it (English readers see the status's name).
pub fn status_vi(status: OrderStatus) -> &'static str {
    match status {
        OrderStatus::PendingPayment => "chờ thanh toán",
        OrderStatus::Confirmed => "đã xác nhận",
        OrderStatus::Processing => "đang chuẩn bị",
        OrderStatus::Shipped => "đã gửi hàng",
        OrderStatus::Delivered => "đã giao",
        OrderStatus::Completed => "hoàn tất",
        OrderStatus::Cancelled => "đã hủy",
        OrderStatus::PaymentFailed => "thanh toán thất bại",
        OrderStatus::ReturnRequested => "yêu cầu trả hàng",
        OrderStatus::Returned => "đã trả hàng",
        OrderStatus::Refunded => "đã hoàn tiền",
    }
}

/// [`buyer_news`] in Vietnamese (the end of "Đơn hàng … ").
fn buyer_news_vi(detail_type: &str, e: &OrderStatusChanged) -> Option<String> {
    let reason = reason_vi(e);
    Some(match detail_type {
        "OrderConfirmed" => "đã được xác nhận; cửa hàng đang chuẩn bị.".to_owned(),
        "OrderShipped" => format!(
            "đã được gửi đi.{}",
            e.reason
                .as_deref()
                .map(|r| format!(" Đơn vị vận chuyển và mã vận đơn: {r}."))
                .unwrap_or_default()
        ),
        "OrderDelivered" => {
            "đã được giao. Có vấn đề? Bạn có thể yêu cầu trả hàng trong 7 ngày.".to_owned()
        }
        "OrderCancelled" => format!("đã bị hủy.{reason}"),
        "OrderPaymentFailed" => "không thanh toán được và đã bị hủy.".to_owned(),
        "OrderReturned" => {
            "đã được trả: cửa hàng chấp nhận yêu cầu trả hàng; tiền sẽ được hoàn.".to_owned()
        }
        "OrderReturnRejected" => {
            format!("vẫn ở trạng thái đã giao: cửa hàng không chấp nhận trả hàng.{reason}")
        }
        "OrderRefunded" => format!("đã được hoàn tiền: {}.", e.total),
        _ => return None,
    })
}

/// [`shop_news`] in Vietnamese.
fn shop_news_vi(detail_type: &str, e: &OrderStatusChanged) -> Option<String> {
    let reason = reason_vi(e);
    match detail_type {
        "OrderCancelled" if e.actor != "seller" => Some(format!(
            "đã bị hủy bởi {}.{reason} Hàng trong kho đã được hoàn lại.",
            if e.actor == "system" {
                "hạn thanh toán"
            } else {
                "người mua"
            }
        )),
        "OrderReturnRequested" => Some(format!(
            "có yêu cầu trả hàng.{reason} Chấp nhận hoặc từ chối trong kênh người bán."
        )),
        _ => None,
    }
}

/// What the buyer is told of an order's move, if anything (the end of the sentence
/// "Your order … ").
pub fn buyer_news(detail_type: &str, e: &OrderStatusChanged) -> Option<String> {
    let reason = reason_of(e);
    Some(match detail_type {
        "OrderConfirmed" => "is confirmed; the shop is preparing it.".to_owned(),
        "OrderShipped" => format!(
            "has shipped.{}",
            e.reason
                .as_deref()
                .map(|r| format!(" Carrier and tracking: {r}."))
                .unwrap_or_default()
        ),
        "OrderDelivered" => {
            "was delivered. Something wrong? You can ask for a return within 7 days.".to_owned()
        }
        "OrderCancelled" => format!("was cancelled.{reason}"),
        "OrderPaymentFailed" => "could not be paid and was cancelled.".to_owned(),
        "OrderReturned" => {
            "is returned: the shop accepted the return; the refund follows.".to_owned()
        }
        "OrderReturnRejected" => {
            format!("stays delivered: the shop did not accept the return.{reason}")
        }
        "OrderRefunded" => format!("was refunded: {}.", e.total),
        _ => return None,
    })
}

/// What the shop's owners and managers are told of an order's move, if anything: what the
/// buyer or the payment deadline did (the shop knows what it did itself).
pub fn shop_news(detail_type: &str, e: &OrderStatusChanged) -> Option<String> {
    let reason = reason_of(e);
    match detail_type {
        "OrderCancelled" if e.actor != "seller" => Some(format!(
            "was cancelled by the {}.{reason} Its stock is available again.",
            if e.actor == "system" {
                "payment deadline"
            } else {
                "buyer"
            }
        )),
        "OrderReturnRequested" => Some(format!(
            "has a return request.{reason} Accept or reject it in the seller centre."
        )),
        _ => None,
    }
}

/// An order's move: the buyer hears of what happens to their order; the shop of what the
/// buyer (or the expiry sweeper) did.
fn order_move(
    detail_type: &str,
    e: &OrderStatusChanged,
    url: &str,
    staff: &[MemberRecord],
) -> Vec<Notice> {
    let order = || ("order_id", e.order_id.clone());
    let shop = || ("shop", e.shop_name.clone());
    let total = || ("total", e.total.to_string());
    let u = || ("url", url.to_owned());
    let mut notices = Vec::new();
    if let Some(news) = buyer_news(detail_type, e) {
        let notice = match detail_type {
            "OrderConfirmed" => Notice::new(
                &e.buyer_id,
                "order_confirmed",
                &[order(), shop(), total(), u()],
            ),
            "OrderPaymentFailed" => Notice::new(
                &e.buyer_id,
                "payment_failed",
                &[order(), shop(), total(), u()],
            ),
            _ => Notice::new(
                &e.buyer_id,
                "order_update",
                &[
                    order(),
                    shop(),
                    total(),
                    ("status", e.to.to_string()),
                    ("news", news),
                    u(),
                ],
            )
            .vi(&[
                ("status", status_vi(e.to).into()),
                ("news", buyer_news_vi(detail_type, e).unwrap_or_default()),
            ]),
        };
        notices.push(notice.link(format!("/orders/{}", e.order_id)));
    }
    if let Some(news) = shop_news(detail_type, e) {
        notices.extend(shop_staff(staff, &e.shop_id).map(|user| {
            Notice::new(
                user,
                "shop_order",
                &[
                    order(),
                    shop(),
                    total(),
                    ("status", e.to.to_string()),
                    ("news", news.clone()),
                    u(),
                ],
            )
            .vi(&[
                ("status", status_vi(e.to).into()),
                ("news", shop_news_vi(detail_type, e).unwrap_or_default()),
            ])
            .link(format!("/seller/orders/{}", e.order_id))
        }));
    }
    notices
}

#[cfg(test)]
mod tests {
    use super::*;
    use shared::domain::order_state::OrderStatus;
    use shared::domain::{Currency, Money};

    fn staff() -> Vec<MemberRecord> {
        vec![
            MemberRecord::new("o", "u1", "owner@x.co", MemberRole::Owner, vec![]),
            MemberRecord::new("o", "u2", "m@x.co", MemberRole::Manager, vec!["s1".into()]),
            MemberRecord::new("o", "u3", "m2@x.co", MemberRole::Manager, vec!["s2".into()]),
            MemberRecord::new("o", "u4", "st@x.co", MemberRole::Staff, vec!["s1".into()]),
        ]
    }

    fn change(
        from: OrderStatus,
        to: OrderStatus,
        actor: &str,
        reason: Option<&str>,
    ) -> DomainEvent {
        OrderStatusChanged {
            order_id: "O1".into(),
            buyer_id: "b".into(),
            shop_id: "s1".into(),
            shop_name: "Threads".into(),
            org_id: "o".into(),
            from,
            to,
            total: Money::new(465_000, Currency::VND),
            reason: reason.map(Into::into),
            actor: actor.into(),
        }
        .into_event()
    }

    fn who(notices: &[Notice]) -> Vec<(&str, &str)> {
        notices
            .iter()
            .map(|n| (n.user_id.as_str(), n.kind.name))
            .collect()
    }

    #[test]
    fn a_placed_order_notifies_the_buyer_and_the_shops_owners_and_managers() {
        let event = DomainEvent::OrderPlaced(shared::events::OrderPlaced {
            order_id: "O1".into(),
            checkout_id: "C1".into(),
            buyer_id: "b".into(),
            shop_id: "s1".into(),
            shop_name: "Threads".into(),
            org_id: "o".into(),
            status: OrderStatus::PendingPayment,
            payment_method: "online".into(),
            total: Money::new(465_000, Currency::VND),
            payment_due_at: Some("2026-11-26T10:15:00Z".into()),
            items: Vec::new(),
        });
        assert_eq!(needs(&event).staff_of.as_deref(), Some("o"));
        let notices = route(&event, "http://x/", &staff());
        assert_eq!(
            who(&notices),
            [
                ("b", "order_placed"),
                ("u1", "shop_new_order"),
                ("u2", "shop_new_order")
            ]
        );
        assert!(notices[0].vars["next_step"].contains("Please pay by 2026-11-26T10:15:00Z"));
        assert_eq!(notices[0].vars["total"], "465000 VND");
        assert_eq!(notices[0].vars["url"], "http://x");
        assert_eq!(notices[1].link.as_deref(), Some("/seller/orders/O1"));
    }

    #[test]
    fn each_order_move_notifies_whom_it_concerns() {
        use OrderStatus::*;
        let staff = staff();
        let to = |e: DomainEvent| {
            route(&e, "http://x", &staff)
                .into_iter()
                .map(|n| format!("{}:{}", n.user_id, n.kind.name))
                .collect::<Vec<_>>()
        };
        assert_eq!(
            to(change(PendingPayment, Confirmed, "system", None)),
            ["b:order_confirmed"]
        );
        assert_eq!(
            to(change(
                PendingPayment,
                Cancelled,
                "system",
                Some("payment failed")
            )),
            ["b:order_update", "u1:shop_order", "u2:shop_order"]
        );
        assert_eq!(
            to(change(Processing, Shipped, "seller", Some("GHN 1"))),
            ["b:order_update"]
        );
        assert_eq!(
            to(change(Delivered, ReturnRequested, "buyer", Some("torn"))),
            ["u1:shop_order", "u2:shop_order"]
        );
        assert!(to(change(Confirmed, Processing, "seller", None)).is_empty());
        assert!(to(change(Delivered, Completed, "buyer", None)).is_empty());
        let failed = OrderStatusChanged {
            order_id: "O1".into(),
            buyer_id: "b".into(),
            shop_id: "s1".into(),
            shop_name: "Threads".into(),
            org_id: "o".into(),
            from: PendingPayment,
            to: Cancelled,
            total: Money::new(1, Currency::VND),
            reason: None,
            actor: "system".into(),
        };
        assert_eq!(
            to(DomainEvent::OrderPaymentFailed(failed)),
            ["b:payment_failed"]
        );
    }

    #[test]
    fn vietnamese_readers_get_vietnamese_sentences_and_statuses() {
        use OrderStatus::*;
        let notices = route(
            &change(PendingPayment, Cancelled, "buyer", Some("đổi ý")),
            "http://x",
            &staff(),
        );
        let buyer = notices[0].vars_in(Language::Vi);
        assert_eq!(buyer["news"], "đã bị hủy. Lý do: đổi ý.");
        assert_eq!(buyer["status"], "đã hủy");
        assert!(!buyer.keys().any(|k| k.contains('@')));
        let shop = notices[1].vars_in(Language::Vi);
        assert!(
            shop["news"].starts_with("đã bị hủy bởi người mua."),
            "{}",
            shop["news"]
        );
        let english = notices[0].vars_in(Language::En);
        assert_eq!(english["status"], "cancelled");
        assert_eq!(english["news"], "was cancelled. Reason: đổi ý.");
        for status in OrderStatus::ALL {
            assert!(!status_vi(status).is_empty());
        }
    }

    fn invitation(user_id: Option<&str>) -> DomainEvent {
        DomainEvent::OrganizationInvitationCreated(shared::events::OrganizationInvitationCreated {
            invitation_id: "I1".into(),
            org_id: "o".into(),
            org_name: "Saigon Threads".into(),
            email: "new@example.com".into(),
            user_id: user_id.map(str::to_owned),
            role: MemberRole::Manager,
            token: "tok".into(),
            expires_at: shared::now_epoch() + 7 * 86_400,
            invited_by: "u0".into(),
        })
    }

    #[test]
    fn an_invitation_is_e_mailed_to_the_invited_address_with_or_without_an_account() {
        let notices = route(&invitation(None), "http://x", &[]);
        assert_eq!(notices.len(), 1);
        let n = &notices[0];
        assert_eq!(n.kind.name, "org_invitation");
        assert_eq!(
            n.user_id, "invitation:I1",
            "no account: the invitation is the recipient"
        );
        assert_eq!(n.email.as_deref(), Some("new@example.com"));
        let en = n.vars_in(Language::En);
        assert_eq!(en["org"], "Saigon Threads");
        assert_eq!(en["token"], "tok");
        assert_eq!(en["days"], "7");
        assert_eq!(en["role"], "manager");
        assert_eq!(n.vars_in(Language::Vi)["role"], "quản lý");
        let notices = route(&invitation(Some("u9")), "http://x", &[]);
        assert_eq!(notices[0].user_id, "u9");
        assert_eq!(notices[0].email.as_deref(), Some("new@example.com"));
    }

    #[test]
    fn every_notice_fills_every_variable_but_the_name_of_its_kind() {
        use OrderStatus::*;
        let money = Money::new(465_000, Currency::VND);
        let events = vec![
            change(PendingPayment, Confirmed, "system", None),
            change(Processing, Shipped, "seller", None),
            change(Delivered, ReturnRequested, "buyer", None),
            DomainEvent::StockLow(shared::events::StockLow {
                product_id: "p".into(),
                shop_id: "s1".into(),
                org_id: "o".into(),
                sku: "HAT".into(),
                available: 1,
                threshold: 3,
                warehouse_id: None,
            }),
            DomainEvent::RefundIssued(shared::events::RefundIssued {
                refund_id: "R".into(),
                payment_id: "P".into(),
                buyer_id: "b".into(),
                provider: "stripe".into(),
                order_id: None,
                amount: money,
                reason: "r".into(),
            }),
            DomainEvent::InvoiceIssued(shared::events::InvoiceIssued {
                order_id: "O1".into(),
                shop_id: "s1".into(),
                buyer_id: "b".into(),
                number: "2026-1".into(),
                total: money,
            }),
            DomainEvent::PriceAlertTriggered(shared::events::PriceAlertTriggered {
                user_id: "b".into(),
                product_id: "p".into(),
                product_name: "Áo".into(),
                target_price: money,
                price: money,
            }),
            DomainEvent::PhoneVerificationRequested(shared::events::PhoneVerificationRequested {
                user_id: "b".into(),
                phone: "+84901234567".into(),
                code: "123456".into(),
                expires_in_minutes: 10,
            }),
            invitation(None),
        ];
        for event in &events {
            let notices = route(event, "http://x", &staff());
            assert!(!notices.is_empty(), "{event:?}");
            for n in notices {
                for var in n.kind.variables.iter().filter(|v| **v != "name") {
                    assert!(n.vars.contains_key(*var), "{} lacks {var}", n.kind.name);
                }
            }
        }
    }
}
