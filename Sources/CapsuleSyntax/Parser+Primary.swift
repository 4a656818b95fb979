/// Primary expressions: literals, names, groups, lists, maps, strings and `fn` literals.
extension Parser {
    func parsePrimary() throws -> Expr {
        let token = current
        switch token.kind {
        case .integer:
            advance()
            guard case .integer(let magnitude) = token.value, let value = Int64(exactly: magnitude) else {
                report("integer literal is too large", at: token.loc)
                return Expr(.intLiteral(0), token.loc)
            }
            return Expr(.intLiteral(value), token.loc)
        case .float:
            advance()
            guard case .float(let value) = token.value else { return Expr(.floatLiteral(0), token.loc) }
            return Expr(.floatLiteral(value), token.loc)
        case .string:
            advance()
            return Expr(.stringLiteral(token.text), token.loc)
        case .interpolationStart:
            return try parseInterpolation()
        case .kwTrue, .kwFalse:
            advance()
            return Expr(.boolLiteral(token.kind == .kwTrue), token.loc)
        case .kwNil:
            advance()
            return Expr(.nilLiteral, token.loc)
        case .identifier:
            advance()
            return Expr(.variable(token.text), token.loc)
        case .kwSelf:
            advance()
            return Expr(.selfRef, token.loc)
        case .kwSuper:
            advance()
            try expect(.dot, "'.'", "after 'super'")
            skipNewlines()
            let name = try expect(.identifier, "method name", "after 'super.'")
            return Expr(.superMember(name.text), token.loc)
        case .leftParen:
            advance()
            let saved = ignoresNewlines
            ignoresNewlines = true
            defer { ignoresNewlines = saved }
            let inner = try parseExpression()
            try expect(.rightParen, "')'", "after expression")
            return inner
        case .leftBracket:
            return try parseList()
        case .leftBrace:
            return try parseMap()
        case .kwFn:
            advance()
            let function = try parseFunctionRest(name: nil, at: token.loc)
            return Expr(.function(function), token.loc)
        default:
            throw expected("expression", "")
        }
    }

    /// `[a, b, c]`, trailing comma allowed.
    func parseList() throws -> Expr {
        let open = advance()
        let saved = ignoresNewlines
        ignoresNewlines = true
        defer { ignoresNewlines = saved }
        var elements: [Expr] = []
        while !check(.rightBracket) {
            elements.append(try parseExpression())
            if !match(.comma) { break }
        }
        try expect(.rightBracket, "']'", "after list elements")
        return Expr(.list(elements), open.loc)
    }

    /// `{key: value, …}`; a bare identifier key is the string of its name.
    func parseMap() throws -> Expr {
        let open = advance()
        let saved = ignoresNewlines
        ignoresNewlines = true
        defer { ignoresNewlines = saved }
        var entries: [MapEntry] = []
        while !check(.rightBrace) {
            let key: Expr
            let keyToken = current
            if keyToken.kind == .identifier && peekKind(1) == .colon {
                advance()
                key = Expr(.stringLiteral(keyToken.text), keyToken.loc)
            } else {
                key = try parseExpression()
            }
            try expect(.colon, "':'", "after map key")
            let value = try parseExpression()
            entries.append(MapEntry(key: key, value: value))
            if !match(.comma) { break }
        }
        try expect(.rightBrace, "'}'", "after map entries")
        return Expr(.map(entries), open.loc)
    }

    /// `"text ${expr} text"`: literal parts become `.stringLiteral`, empty ones are dropped.
    func parseInterpolation() throws -> Expr {
        let start = advance()
        var parts: [Expr] = []
        func addText(_ token: Token) {
            if !token.text.isEmpty { parts.append(Expr(.stringLiteral(token.text), token.loc)) }
        }
        addText(start)
        let saved = ignoresNewlines
        ignoresNewlines = true
        defer { ignoresNewlines = saved }
        while true {
            parts.append(try parseExpression())
            let token = current
            switch token.kind {
            case .interpolationMiddle:
                advance()
                addText(token)
            case .interpolationEnd:
                advance()
                addText(token)
                return Expr(.interpolation(parts), start.loc)
            default:
                throw expected("'}'", "after interpolated expression")
            }
        }
    }
}
