/// Text from outside the program (plugin messages, descriptors, file and module names,
/// symbol names, load refusals) made safe to write to a terminal: the one mechanism every
/// host-written message goes through (docs/security.md, "Text from outside").
///
/// - C0 controls (U+0000–U+001F) other than the allowed line breaks and tabs, DEL (U+007F)
///   and C1 controls (U+0080–U+009F) become `?`. ESC, and with it every ANSI escape
///   sequence, is one of them; so are CSI (U+009B) and OSC (U+009D).
/// - Unicode bidirectional formatting characters (U+061C, U+200E, U+200F, U+202A–U+202E,
///   U+2066–U+2069), which reorder what follows them on the screen (Trojan Source,
///   CVE-2021-42574), become `?` too.
/// - Invalid UTF-8 cannot occur in a Swift `String`; bytes decoded with
///   `terminalSafe(bytes:)` have each invalid sequence replaced by U+FFFD first.
///
/// Script output (`print`) does not go through it: what a script prints is its own data.
public enum TerminalText {
    /// True for a scalar that is written as `?`. `newlines`/`tabs` keep `\n` and `\t`.
    @inline(__always)
    public static func isUnsafe(_ scalar: Unicode.Scalar, newlines: Bool = false, tabs: Bool = false) -> Bool {
        let v = scalar.value
        if v < 0x20 { return !((newlines && v == 0x0A) || (tabs && v == 0x09)) }
        if v < 0x7F { return false }
        if v <= 0x9F { return true }                       // DEL and C1
        if v < 0x061C { return false }
        return v == 0x061C || v == 0x200E || v == 0x200F
            || (0x202A...0x202E).contains(v) || (0x2066...0x2069).contains(v)
    }

    /// `text` with every unsafe scalar replaced by `?` (see the type's summary). With
    /// `multiline`, line feeds and tabs are kept (for multi-line reports); otherwise they
    /// become `?` as well, so one message is one line.
    public static func safe(_ text: String, multiline: Bool = false) -> String {
        // Fast path: most text is printable ASCII.
        if text.utf8.allSatisfy({ $0 >= 0x20 && $0 < 0x7F || (multiline && ($0 == 0x0A || $0 == 0x09)) }) { return text }
        var out = String.UnicodeScalarView()
        for s in text.unicodeScalars {
            out.append(isUnsafe(s, newlines: multiline, tabs: multiline) ? "?" : s)
        }
        return String(out)
    }

    /// `bytes` decoded as UTF-8 (each invalid sequence U+FFFD), then made safe as `safe`.
    public static func safe<Bytes: Collection>(bytes: Bytes, multiline: Bool = false) -> String where Bytes.Element == UInt8 {
        safe(String(decoding: bytes, as: UTF8.self), multiline: multiline)
    }
}
