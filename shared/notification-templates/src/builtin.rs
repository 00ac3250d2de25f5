//! The built-in templates: one per kind, channel it uses, and language. An admin's edited
//! template replaces one of them (stored elsewhere); these are the defaults and the fallback.

use crate::{Channel, Language, Template, kind};

/// The built-in template (every kind has one for every channel it uses, in both languages;
/// `None` for an unknown kind or a channel the kind does not use).
pub fn builtin(kind_name: &str, channel: Channel, language: Language) -> Option<Template> {
    let kind = kind(kind_name)?;
    if !kind.uses(channel) {
        return None;
    }
    let (title, body) = source(kind.name, channel, language)?;
    Some(Template {
        title: title.to_owned(),
        body: body.to_owned(),
    })
}

/// `(title, body)` of each built-in template; SMS titles are empty.
fn source(
    kind: &str,
    channel: Channel,
    language: Language,
) -> Option<(&'static str, &'static str)> {
    use Channel::{Email, InApp, Push, Sms};
    use Language::{En, Vi};
    Some(match (kind, channel, language) {
        // ── account_verify_email ────────────────────────────────────────────────────────
        ("account_verify_email", Email, Vi) => (
            "Xác nhận địa chỉ e-mail của bạn",
            "Chào {{name}},\n\n\
             Chào mừng bạn! Hãy xác nhận địa chỉ e-mail bằng cách mở liên kết\n\
             {{url}}/verify-email?token={{token}}\n\n\
             hoặc gửi mã sau tới POST /api/v1/auth/verify-email:\n\
             Mã xác nhận: {{token}}\n\n\
             Liên kết có hiệu lực trong 24 giờ.\n",
        ),
        ("account_verify_email", Email, En) => (
            "Confirm your e-mail address",
            "Hello {{name}},\n\n\
             Welcome! Confirm your address by opening\n\
             {{url}}/verify-email?token={{token}}\n\n\
             or by sending this token to POST /api/v1/auth/verify-email:\n\
             Verification token: {{token}}\n\n\
             The link is valid for 24 hours.\n",
        ),

        // ── password_reset ──────────────────────────────────────────────────────────────
        ("password_reset", Email, Vi) => (
            "Mã đặt lại mật khẩu của bạn",
            "Chào {{name}},\n\n\
             Mã đặt lại mật khẩu của bạn là: {{code}}\n\n\
             Mã có hiệu lực trong {{minutes}} phút và chỉ dùng được một lần. Nếu bạn không \
             yêu cầu đặt lại mật khẩu, hãy bỏ qua thư này.\n",
        ),
        ("password_reset", Email, En) => (
            "Your password reset code",
            "Hello {{name}},\n\n\
             Your password reset code is: {{code}}\n\n\
             It expires in {{minutes}} minutes and works once. If you did not ask for it, \
             ignore this e-mail.\n",
        ),

        // ── org_invitation ──────────────────────────────────────────────────────────────
        ("org_invitation", Email, Vi) => (
            "Lời mời tham gia {{org}}",
            "Xin chào,\n\n\
             {{org}} mời bạn tham gia với vai trò {{role}}. Để nhận lời mời, hãy mở liên kết\n\
             {{url}}/invitations/accept?token={{token}}\n\n\
             hoặc đăng ký / đăng nhập bằng chính địa chỉ e-mail này kèm mã mời\n\
             (trường invitation_token):\n\
             Mã mời: {{token}}\n\n\
             Lời mời có hiệu lực trong {{days}} ngày và chỉ dùng được một lần. Nếu bạn không \
             mong đợi thư này, hãy bỏ qua.\n",
        ),
        ("org_invitation", Email, En) => (
            "You are invited to join {{org}}",
            "Hello,\n\n\
             {{org}} invites you to join as {{role}}. To accept, open\n\
             {{url}}/invitations/accept?token={{token}}\n\n\
             or sign up or log in with this e-mail address and the invitation token\n\
             (field invitation_token):\n\
             Invitation token: {{token}}\n\n\
             The invitation is valid for {{days}} days and works once. If you did not expect \
             it, ignore this e-mail.\n",
        ),

        // ── phone_verification ──────────────────────────────────────────────────────────
        ("phone_verification", Sms, Vi) => (
            "",
            "Mã xác minh của bạn là {{code}}, có hiệu lực trong {{minutes}} phút. Không chia sẻ \
             mã này với bất kỳ ai.",
        ),
        ("phone_verification", Sms, En) => (
            "",
            "Your verification code is {{code}}. It expires in {{minutes}} minutes. Do not share \
             it with anyone.",
        ),

        // ── security_alert ──────────────────────────────────────────────────────────────
        ("security_alert", InApp, Vi) => (
            "Cảnh báo bảo mật",
            "{{what}} Nếu không phải bạn thực hiện, hãy đổi mật khẩu và liên hệ bộ phận hỗ trợ.",
        ),
        ("security_alert", InApp, En) => (
            "Security alert",
            "{{what}} If this was not you, change your password and contact support.",
        ),
        ("security_alert", Email, Vi) => (
            "Cảnh báo bảo mật cho tài khoản của bạn",
            "Chào {{name}},\n\n\
             {{what}}\n\n\
             Nếu đó là bạn, bạn không cần làm gì thêm. Nếu không phải, hãy đổi mật khẩu ngay và \
             liên hệ bộ phận hỗ trợ của chúng tôi.\n\
             Xem lại tài khoản: {{url}}/account/security\n",
        ),
        ("security_alert", Email, En) => (
            "Security alert for your account",
            "Hello {{name}},\n\n\
             {{what}}\n\n\
             If this was you, there is nothing to do. If it was not, change your password at \
             once and contact our support team.\n\
             Review your account: {{url}}/account/security\n",
        ),
        ("security_alert", Push, Vi) => (
            "Cảnh báo bảo mật",
            "{{what}} Không phải bạn? Mở ứng dụng để bảo vệ tài khoản.",
        ),
        ("security_alert", Push, En) => (
            "Security alert",
            "{{what}} Not you? Open the app to secure your account.",
        ),

        // ── order_placed ────────────────────────────────────────────────────────────────
        ("order_placed", InApp, Vi) => (
            "Đã đặt hàng",
            "Đơn hàng {{order_id}} tại {{shop}} ({{total}}, {{payment}}) đã được đặt. \
             {{next_step}}",
        ),
        ("order_placed", InApp, En) => (
            "Order placed",
            "Your order {{order_id}} at {{shop}} ({{total}}, {{payment}}) is placed. \
             {{next_step}}",
        ),
        ("order_placed", Email, Vi) => (
            "Đã đặt đơn hàng {{order_id}} tại {{shop}}",
            "Chào {{name}},\n\n\
             Cảm ơn bạn đã đặt đơn hàng {{order_id}} tại {{shop}}: {{total}}, {{payment}}.\n\
             {{next_step}}\n\
             Theo dõi đơn hàng tại {{url}}/orders/{{order_id}}\n",
        ),
        ("order_placed", Email, En) => (
            "Order {{order_id}} placed at {{shop}}",
            "Hello {{name}},\n\n\
             Thank you for your order {{order_id}} at {{shop}}: {{total}}, {{payment}}.\n\
             {{next_step}}\n\
             Follow it at {{url}}/orders/{{order_id}}\n",
        ),
        ("order_placed", Sms, Vi) => (
            "",
            "Đơn hàng {{order_id}} tại {{shop}} đã được đặt: {{total}}. {{next_step}} \
             Chi tiết: {{url}}/orders/{{order_id}}",
        ),
        ("order_placed", Sms, En) => (
            "",
            "Order {{order_id}} at {{shop}} placed: {{total}}. {{next_step}} \
             Details: {{url}}/orders/{{order_id}}",
        ),
        ("order_placed", Push, Vi) => (
            "Đã đặt hàng tại {{shop}}",
            "Đơn hàng {{order_id}}: {{total}}, {{payment}}. {{next_step}}",
        ),
        ("order_placed", Push, En) => (
            "Order placed at {{shop}}",
            "Order {{order_id}}: {{total}}, {{payment}}. {{next_step}}",
        ),

        // ── order_confirmed ─────────────────────────────────────────────────────────────
        ("order_confirmed", InApp, Vi) => (
            "Đơn hàng đã được xác nhận",
            "{{shop}} đã xác nhận đơn hàng {{order_id}} ({{total}}) của bạn và đang chuẩn bị \
             hàng.",
        ),
        ("order_confirmed", InApp, En) => (
            "Order confirmed",
            "{{shop}} confirmed your order {{order_id}} ({{total}}) and is preparing it.",
        ),
        ("order_confirmed", Email, Vi) => (
            "Đơn hàng {{order_id}} tại {{shop}} đã được xác nhận",
            "Chào {{name}},\n\n\
             Tin vui: {{shop}} đã xác nhận đơn hàng {{order_id}} ({{total}}) của bạn và đang \
             chuẩn bị hàng. Chúng tôi sẽ báo cho bạn khi đơn hàng được gửi đi.\n\
             Chi tiết: {{url}}/orders/{{order_id}}\n",
        ),
        ("order_confirmed", Email, En) => (
            "Your order {{order_id}} at {{shop}} is confirmed",
            "Hello {{name}},\n\n\
             Good news: {{shop}} confirmed your order {{order_id}} ({{total}}) and is preparing \
             it. We will let you know when it ships.\n\
             Details: {{url}}/orders/{{order_id}}\n",
        ),
        ("order_confirmed", Sms, Vi) => (
            "",
            "{{shop}} đã xác nhận đơn hàng {{order_id}} ({{total}}) và đang chuẩn bị hàng. \
             Chi tiết: {{url}}/orders/{{order_id}}",
        ),
        ("order_confirmed", Sms, En) => (
            "",
            "{{shop}} confirmed your order {{order_id}} ({{total}}) and is preparing it. \
             Details: {{url}}/orders/{{order_id}}",
        ),
        ("order_confirmed", Push, Vi) => (
            "Đơn hàng đã được xác nhận",
            "{{shop}} đang chuẩn bị đơn hàng {{order_id}} của bạn.",
        ),
        ("order_confirmed", Push, En) => (
            "Order confirmed",
            "{{shop}} is preparing your order {{order_id}}.",
        ),

        // ── order_update ────────────────────────────────────────────────────────────────
        ("order_update", InApp, Vi) => (
            "Đơn hàng {{order_id}}: {{status}}",
            "Đơn hàng {{order_id}} ({{total}}) của bạn {{news}}",
        ),
        ("order_update", InApp, En) => (
            "Order {{order_id}}: {{status}}",
            "Your order {{order_id}} ({{total}}) {{news}}",
        ),
        ("order_update", Email, Vi) => (
            "Đơn hàng {{order_id}} tại {{shop}}: {{status}}",
            "Chào {{name}},\n\n\
             Đơn hàng {{order_id}} ({{total}}) của bạn {{news}}\n\
             Chi tiết: {{url}}/orders/{{order_id}}\n",
        ),
        ("order_update", Email, En) => (
            "Your order {{order_id}} at {{shop}}: {{status}}",
            "Hello {{name}},\n\n\
             Your order {{order_id}} ({{total}}) {{news}}\n\
             Details: {{url}}/orders/{{order_id}}\n",
        ),
        ("order_update", Sms, Vi) => (
            "",
            "Đơn hàng {{order_id}} tại {{shop}} của bạn {{news}} \
             Chi tiết: {{url}}/orders/{{order_id}}",
        ),
        ("order_update", Sms, En) => (
            "",
            "Your order {{order_id}} at {{shop}} {{news}} Details: {{url}}/orders/{{order_id}}",
        ),
        ("order_update", Push, Vi) => (
            "Đơn hàng {{order_id}}: {{status}}",
            "Đơn hàng tại {{shop}} của bạn {{news}}",
        ),
        ("order_update", Push, En) => (
            "Order {{order_id}}: {{status}}",
            "Your order at {{shop}} {{news}}",
        ),

        // ── shop_order (to the shop's staff) ────────────────────────────────────────────
        ("shop_order", InApp, Vi) => (
            "Đơn hàng {{order_id}}: {{status}}",
            "Đơn hàng {{order_id}} ({{total}}) {{news}}",
        ),
        ("shop_order", InApp, En) => (
            "Order {{order_id}}: {{status}}",
            "Order {{order_id}} ({{total}}) {{news}}",
        ),
        ("shop_order", Email, Vi) => (
            "Đơn hàng {{order_id}} của {{shop}}: {{status}}",
            "Đơn hàng {{order_id}} ({{total}}) {{news}}\n\
             Trạng thái: {{status}}\n\
             Xem trong kênh người bán: {{url}}/seller/orders/{{order_id}}\n",
        ),
        ("shop_order", Email, En) => (
            "Order {{order_id}} for {{shop}}: {{status}}",
            "Order {{order_id}} ({{total}}) {{news}}\n\
             Status: {{status}}\n\
             Open it in the seller centre: {{url}}/seller/orders/{{order_id}}\n",
        ),
        ("shop_order", Push, Vi) => (
            "{{shop}}: {{status}}",
            "Đơn hàng {{order_id}} ({{total}}) {{news}}",
        ),
        ("shop_order", Push, En) => (
            "{{shop}}: {{status}}",
            "Order {{order_id}} ({{total}}) {{news}}",
        ),

        // ── shop_new_order (to the shop's staff) ────────────────────────────────────────
        ("shop_new_order", InApp, Vi) => (
            "Đơn hàng mới {{order_id}}",
            "Đơn hàng mới {{order_id}} ({{total}}, {{status}}) đang chờ trong kênh người bán.",
        ),
        ("shop_new_order", InApp, En) => (
            "New order {{order_id}}",
            "A new order {{order_id}} ({{total}}, {{status}}) is waiting in the seller centre.",
        ),
        ("shop_new_order", Email, Vi) => (
            "Đơn hàng mới {{order_id}} cho {{shop}}",
            "Đơn hàng mới {{order_id}} ({{total}}, {{status}}) đang chờ trong kênh người bán: \
             {{url}}/seller/orders/{{order_id}}\n",
        ),
        ("shop_new_order", Email, En) => (
            "New order {{order_id}} for {{shop}}",
            "A new order {{order_id}} ({{total}}, {{status}}) is waiting in the seller centre: \
             {{url}}/seller/orders/{{order_id}}\n",
        ),
        ("shop_new_order", Push, Vi) => (
            "{{shop}}: đơn hàng mới",
            "Đơn hàng {{order_id}} ({{total}}) đang chờ xử lý.",
        ),
        ("shop_new_order", Push, En) => (
            "{{shop}}: new order",
            "Order {{order_id}} ({{total}}) is waiting for you.",
        ),

        // ── payment_failed ──────────────────────────────────────────────────────────────
        ("payment_failed", InApp, Vi) => (
            "Thanh toán không thành công",
            "Thanh toán cho đơn hàng {{order_id}} tại {{shop}} ({{total}}) không thành công. \
             Mở đơn hàng để xem bước tiếp theo.",
        ),
        ("payment_failed", InApp, En) => (
            "Payment failed",
            "The payment of your order {{order_id}} at {{shop}} ({{total}}) did not go through. \
             Open the order to see what to do next.",
        ),
        ("payment_failed", Email, Vi) => (
            "Thanh toán đơn hàng {{order_id}} không thành công",
            "Chào {{name}},\n\n\
             Thanh toán cho đơn hàng {{order_id}} tại {{shop}} ({{total}}) không thành công.\n\
             Xem đơn hàng và bước tiếp theo: {{url}}/orders/{{order_id}}\n",
        ),
        ("payment_failed", Email, En) => (
            "Payment failed for order {{order_id}}",
            "Hello {{name}},\n\n\
             The payment of your order {{order_id}} at {{shop}} ({{total}}) did not go through.\n\
             See the order and what to do next: {{url}}/orders/{{order_id}}\n",
        ),
        ("payment_failed", Sms, Vi) => (
            "",
            "Thanh toán đơn hàng {{order_id}} tại {{shop}} ({{total}}) không thành công. \
             Chi tiết: {{url}}/orders/{{order_id}}",
        ),
        ("payment_failed", Sms, En) => (
            "",
            "Payment for order {{order_id}} at {{shop}} ({{total}}) failed. \
             Details: {{url}}/orders/{{order_id}}",
        ),
        ("payment_failed", Push, Vi) => (
            "Thanh toán không thành công",
            "Đơn hàng {{order_id}} tại {{shop}} ({{total}}) chưa được thanh toán.",
        ),
        ("payment_failed", Push, En) => (
            "Payment failed",
            "Order {{order_id}} at {{shop}} ({{total}}) could not be paid.",
        ),

        // ── refund_issued ───────────────────────────────────────────────────────────────
        ("refund_issued", InApp, Vi) => (
            "Đã hoàn tiền",
            "{{amount}} đang được hoàn lại cho bạn qua {{provider}}{{order_ref}}.",
        ),
        ("refund_issued", InApp, En) => (
            "Refund issued",
            "{{amount}} is on its way back to you through {{provider}}{{order_ref}}.",
        ),
        ("refund_issued", Email, Vi) => (
            "Hoàn tiền {{amount}}",
            "Chào {{name}},\n\n\
             {{amount}} đang được hoàn lại cho bạn qua {{provider}}{{order_ref}}.\n\n\
             Tùy ngân hàng, có thể mất vài ngày làm việc để khoản tiền hiển thị trong tài \
             khoản của bạn.\n",
        ),
        ("refund_issued", Email, En) => (
            "Refund of {{amount}}",
            "Hello {{name}},\n\n\
             {{amount}} is on its way back to you through {{provider}}{{order_ref}}.\n\n\
             Depending on your bank, it may take a few working days to appear.\n",
        ),
        ("refund_issued", Push, Vi) => (
            "Hoàn tiền {{amount}}",
            "Đang được hoàn lại cho bạn qua {{provider}}{{order_ref}}.",
        ),
        ("refund_issued", Push, En) => (
            "Refund of {{amount}}",
            "On its way back to you through {{provider}}{{order_ref}}.",
        ),

        // ── invoice_issued ──────────────────────────────────────────────────────────────
        ("invoice_issued", InApp, Vi) => (
            "Hóa đơn {{number}} đã sẵn sàng",
            "Hóa đơn của đơn hàng {{order_id}} ({{total}}) đã sẵn sàng để tải về.",
        ),
        ("invoice_issued", InApp, En) => (
            "Invoice {{number}} is ready",
            "The invoice of your order {{order_id}} ({{total}}) is ready to download.",
        ),
        ("invoice_issued", Email, Vi) => (
            "Hóa đơn {{number}} cho đơn hàng {{order_id}}",
            "Chào {{name}},\n\n\
             Hóa đơn {{number}} của đơn hàng {{order_id}} ({{total}}) đã sẵn sàng: \
             {{url}}/orders/{{order_id}}/invoice\n",
        ),
        ("invoice_issued", Email, En) => (
            "Invoice {{number}} for order {{order_id}}",
            "Hello {{name}},\n\n\
             The invoice {{number}} of your order {{order_id}} ({{total}}) is ready: \
             {{url}}/orders/{{order_id}}/invoice\n",
        ),

        // ── stock_low (to the shop's staff) ─────────────────────────────────────────────
        ("stock_low", InApp, Vi) => (
            "Sắp hết hàng: {{sku}}",
            "Tồn kho của {{sku}} chỉ còn {{available}}, bằng hoặc dưới ngưỡng {{threshold}}.",
        ),
        ("stock_low", InApp, En) => (
            "Low stock: {{sku}}",
            "Stock of {{sku}} is down to {{available}}, at or below its threshold of \
             {{threshold}}.",
        ),
        ("stock_low", Email, Vi) => (
            "Sắp hết hàng: {{sku}}",
            "Tồn kho của {{sku}} (sản phẩm {{product_id}}) chỉ còn {{available}}, bằng hoặc \
             dưới ngưỡng {{threshold}}.\n\
             Nhập thêm hàng trong kênh người bán: {{url}}/seller/products/{{product_id}}\n",
        ),
        ("stock_low", Email, En) => (
            "Low stock: {{sku}}",
            "Stock of {{sku}} (product {{product_id}}) is down to {{available}}, at or below \
             its threshold of {{threshold}}.\n\
             Restock it in the seller centre: {{url}}/seller/products/{{product_id}}\n",
        ),
        ("stock_low", Push, Vi) => (
            "Sắp hết hàng: {{sku}}",
            "Chỉ còn {{available}} sản phẩm (ngưỡng {{threshold}}).",
        ),
        ("stock_low", Push, En) => (
            "Low stock: {{sku}}",
            "Only {{available}} left (threshold {{threshold}}).",
        ),

        // ── shipment_update ─────────────────────────────────────────────────────────────
        ("shipment_update", InApp, Vi) => (
            "Kiện hàng {{tracking_number}}: {{status}}",
            "Kiện hàng {{tracking_number}} (đơn hàng {{order_id}}) của bạn {{news}}",
        ),
        ("shipment_update", InApp, En) => (
            "Parcel {{tracking_number}}: {{status}}",
            "Your parcel {{tracking_number}} (order {{order_id}}) {{news}}",
        ),
        ("shipment_update", Sms, Vi) => (
            "",
            "Kiện hàng {{tracking_number}} (đơn hàng {{order_id}}) của bạn {{news}} \
             Theo dõi: {{url}}/orders/{{order_id}}",
        ),
        ("shipment_update", Sms, En) => (
            "",
            "Your parcel {{tracking_number}} (order {{order_id}}) {{news}} \
             Track it: {{url}}/orders/{{order_id}}",
        ),
        ("shipment_update", Push, Vi) => (
            "Kiện hàng {{tracking_number}}: {{status}}",
            "Kiện hàng của đơn {{order_id}} {{news}}",
        ),
        ("shipment_update", Push, En) => (
            "Parcel {{tracking_number}}: {{status}}",
            "Your parcel for order {{order_id}} {{news}}",
        ),

        // ── price_alert ─────────────────────────────────────────────────────────────────
        ("price_alert", InApp, Vi) => (
            "Giảm giá: {{product}}",
            "{{product}} hiện có giá {{price}}, bằng hoặc thấp hơn mức {{target}} bạn mong muốn.",
        ),
        ("price_alert", InApp, En) => (
            "Price drop: {{product}}",
            "{{product}} is now {{price}}, at or below your target of {{target}}.",
        ),
        ("price_alert", Email, Vi) => (
            "Giảm giá: {{product}}",
            "Chào {{name}},\n\n\
             {{product}} hiện có giá {{price}}, bằng hoặc thấp hơn mức {{target}} bạn đã đặt.\n\
             Xem các cảnh báo giá của bạn: {{url}}/price-alerts\n",
        ),
        ("price_alert", Email, En) => (
            "Price drop: {{product}}",
            "Hello {{name}},\n\n\
             {{product}} is now {{price}}, at or below the {{target}} you asked to hear about.\n\
             See your price alerts: {{url}}/price-alerts\n",
        ),
        ("price_alert", Push, Vi) => (
            "Giảm giá: {{product}}",
            "Giá mới {{price}} (mức bạn chờ: {{target}}).",
        ),
        ("price_alert", Push, En) => (
            "Price drop: {{product}}",
            "Now {{price}} (your target: {{target}}).",
        ),

        // ── promotion (an admin's broadcast) ────────────────────────────────────────────
        ("promotion", InApp | Push, _) => ("{{title}}", "{{message}}"),
        ("promotion", Email, Vi) => (
            "{{title}}",
            "{{message}}\n\n\
             Bạn nhận được thư này vì đã bật thông báo khuyến mãi trong phần cài đặt thông báo; \
             bạn có thể tắt bất cứ lúc nào.\n",
        ),
        ("promotion", Email, En) => (
            "{{title}}",
            "{{message}}\n\n\
             You receive this because promotions are on in your notification settings; you \
             can turn them off there at any time.\n",
        ),
        ("promotion", Sms, _) => ("", "{{title}}: {{message}}"),

        _ => return None,
    })
}
