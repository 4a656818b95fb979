/// Where wall-clock time is read: UTC, a fixed offset east of UTC in seconds, or the
/// system's time zone (`TZ`, else /etc/localtime).
enum Zone: Equatable {
    case utc
    case fixed(Int)
    case local

    /// Offsets are less than a day either way (RFC 3339 allows up to ±23:59).
    static let offsetLimit = 86_399

    /// `+05:30`, `-08:00`, `+00:00`; seconds shown only when there are some (`+00:00:30`).
    static func offsetText(_ offset: Int, colon: Bool = true) -> String {
        let sign = offset < 0 ? "-" : "+"
        let a = offset.magnitude
        let sep = colon ? ":" : ""
        var text = sign + twoDigits(Int(a / 3600)) + sep + twoDigits(Int(a / 60 % 60))
        if a % 60 != 0 { text += sep + twoDigits(Int(a % 60)) }
        return text
    }
}

func twoDigits(_ n: Int) -> String { n < 10 ? "0\(n)" : "\(n)" }
