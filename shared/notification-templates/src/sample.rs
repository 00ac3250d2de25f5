//! Realistic values for every variable of a kind: the admin preview and the tests.

use std::collections::BTreeMap;

use crate::{Kind, Language};

/// Sample values for every variable of `kind`, the language-dependent ones (sentences such
/// as `news`) in English. See [`sample_in`].
pub fn sample(kind: &Kind) -> BTreeMap<String, String> {
    sample_in(kind, Language::En)
}

/// Sample values for every variable of `kind`, the sentences among them in `language` (as
/// the caller of [`render`](crate::render) gives them for a recipient of that language).
pub fn sample_in(kind: &Kind, language: Language) -> BTreeMap<String, String> {
    kind.variables
        .iter()
        .map(|&var| {
            let value = value(kind.name, var, language).unwrap_or(var);
            (var.to_owned(), value.to_owned())
        })
        .collect()
}

const ORDER_ID: &str = "01JB7Q2M8X4K9ZP3T6W5R1N0VC";

/// The sample of one variable of one kind, if there is one (a test checks every declared
/// variable has).
pub(crate) fn value(kind: &str, var: &str, language: Language) -> Option<&'static str> {
    use Language::{En, Vi};
    Some(match (kind, var, language) {
        // sentences, per kind and language
        ("security_alert", "what", Vi) => "Mật khẩu của bạn vừa được thay đổi.",
        ("security_alert", "what", En) => "Your password was changed.",
        ("order_placed", "payment", Vi) => "thanh toán trực tuyến qua VNPay",
        ("order_placed", "payment", En) => "paid online with VNPay",
        ("order_placed", "next_step", Vi) => {
            "Vui lòng thanh toán trước 10:30 ngày 01/06/2025 (UTC); quá hạn, đơn hàng sẽ bị hủy."
        }
        ("order_placed", "next_step", En) => {
            "Please pay by 2025-06-01 10:30 (UTC); an unpaid order is cancelled then."
        }
        ("order_update", "status", _) => "shipped",
        ("order_update", "news", Vi) => {
            "đã được gửi đi. Đơn vị vận chuyển và mã vận đơn: GHN GHN8A2K4Q9."
        }
        ("order_update", "news", En) => "has shipped. Carrier and tracking: GHN GHN8A2K4Q9.",
        ("shop_order", "status", _) => "cancelled",
        ("shop_new_order", "status", _) => "pending_payment",
        ("shop_order", "news", Vi) => {
            "đã bị người mua hủy. Lý do: Đặt nhầm. Hàng trong kho đã được hoàn lại."
        }
        ("shop_order", "news", En) => {
            "was cancelled by the buyer. Reason: Ordered by mistake. Its stock is available again."
        }
        ("shipment_update", "status", _) => "out_for_delivery",
        ("shipment_update", "news", Vi) => "đang được giao trong hôm nay.",
        ("shipment_update", "news", En) => "is out for delivery today.",
        ("refund_issued", "order_ref", Vi) => " cho đơn hàng 01JB7Q2M8X4K9ZP3T6W5R1N0VC",
        ("refund_issued", "order_ref", En) => " for order 01JB7Q2M8X4K9ZP3T6W5R1N0VC",
        ("price_alert", "product", Vi) => "Áo thun cotton trắng",
        ("price_alert", "product", En) => "White cotton T-shirt",
        ("promotion", "title", Vi) => "Cuối tuần giảm giá đến 50%",
        ("promotion", "title", En) => "Weekend sale: up to 50% off",
        ("promotion", "message", Vi) => {
            "Hàng nghìn sản phẩm giảm giá đến 50% đến hết tối Chủ nhật. Mua ngay kẻo hết!"
        }
        ("promotion", "message", En) => {
            "Thousands of products are up to 50% off until Sunday night. Get yours before they sell out!"
        }
        ("org_invitation", "org", _) => "Nhà sách Phương Nam",
        ("org_invitation", "role", Vi) => "nhân viên",
        ("org_invitation", "role", En) => "staff",
        ("org_invitation", "days", _) => "7",
        // the same in every kind and language
        (_, "name", _) => "Nguyễn Thu Hà",
        (_, "url", _) => "https://cho.example.vn",
        (_, "token", _) => "b3f1c9e2a7d54e8f9c0a1b2c3d4e5f60",
        (_, "code", _) => "482913",
        (_, "minutes", _) => "10",
        (_, "order_id", _) => ORDER_ID,
        (_, "shop", _) => "Nhà sách Phương Nam",
        (_, "total", _) => "1250000 VND",
        (_, "amount", _) => "350000 VND",
        (_, "provider", _) => "VNPay",
        (_, "number", _) => "HD-2025-000123",
        (_, "sku", _) => "AO-THUN-TRANG-M",
        (_, "product_id", _) => "01JB7PZ3D2QH5W8E1F4K6M9N0R",
        (_, "available", _) => "2",
        (_, "threshold", _) => "5",
        (_, "tracking_number", _) => "GHN8A2K4Q9",
        (_, "price", _) => "440000 VND",
        (_, "target", _) => "450000 VND",
        _ => return None,
    })
}
