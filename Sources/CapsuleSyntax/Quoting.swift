/// `text` as a double-quoted Capsule string literal: quotes, backslashes and control
/// characters escaped (`\n`, `\t`, `\r`, `\0`, others as `\u{…}`). Used by the AST dump and
/// by the VM when it prints strings inside lists and maps.
public func quoted(_ text: String) -> String {
    var out = "\""
    for scalar in text.unicodeScalars {
        switch scalar {
        case "\"": out += "\\\""
        case "\\": out += "\\\\"
        case "\n": out += "\\n"
        case "\t": out += "\\t"
        case "\r": out += "\\r"
        case "\0": out += "\\0"
        default:
            if scalar.value < 0x20 || scalar.value == 0x7F { out += "\\u{" + String(scalar.value, radix: 16) + "}" }
            else { out.unicodeScalars.append(scalar) }
        }
    }
    return out + "\""
}
