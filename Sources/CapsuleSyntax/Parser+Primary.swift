/// Primary expressions: literals, names, groups, lists, maps, strings and `fn` literals.
extension Parser {
    // NOTE: the functions on the recursive path (primary, unary, postfix, binary) stay small
    // and hand rare cases to helpers: a debug build gives every local its own stack slot,
    // and the frames of one nesting level must fit 256 times in an ordinary stack.

    func parsePrimary() throws -> Expr {
        switch currentKind {
        case .integer, .float, .string, .kwTrue, .kwFalse, .kwNil, .identifier, .kwSelf:
            return parseAtom()
        case .interpolationStart: return try parseInterpolation()
        case .leftParen: return try parseGroup()
        case .leftBracket: return try parseList()
        case .leftBrace: return try parseMap()
        case .kwFn: return try parseFunctionExpression()
        case .kwSuper: return try parseSuperMember()
        case .kwIf: return try parseIfExpression()
        default: throw expected("expression", "")
        }
    }

    /// `if cond { a } else { b }` as an expression: each branch is one expression in braces,
    /// `else` is required and may start the next line, `else if` chains.
    func parseIfExpression() throws -> Expr {
        try enter()
        defer { leave() }
        let keyword = advance()
        let condition = try parseExpression()
        let then = try parseBranch("before if-expression value")
        guard skipNewlines(ifFollowedBy: .kwElse) else {
            throw fail("an 'if' expression needs an 'else' branch", at: current.loc)
        }
        advance()
        let otherwise = check(.kwIf) ? try parseIfExpression() : try parseBranch("before else value")
        return Expr(.conditional(condition, then, otherwise), keyword.loc)
    }

    /// `{ expression }`, newlines allowed around the expression.
    private func parseBranch(_ context: String) throws -> Expr {
        try expect(.leftBrace, "'{'", context)
        let saved = ignoresNewlines
        ignoresNewlines = true
        defer { ignoresNewlines = saved }
        let value = try parseExpression()
        try expect(.rightBrace, "'}'", "after if-expression value")
        return value
    }

    /// A literal, a name or `self`: a single token.
    func parseAtom() -> Expr {
        let token = advance()
        switch token.value {
        case .integer(let magnitude):
            guard let value = Int64(exactly: magnitude) else {
                report("integer literal is too large", at: token.loc)
                return Expr(.intLiteral(0), token.loc)
            }
            return Expr(.intLiteral(value), token.loc)
        case .float(let value):
            return Expr(.floatLiteral(value), token.loc)
        case .text(let text):
            return Expr(token.kind == .identifier ? .variable(text) : .stringLiteral(text), token.loc)
        case .none:
            switch token.kind {
            case .kwTrue: return Expr(.boolLiteral(true), token.loc)
            case .kwFalse: return Expr(.boolLiteral(false), token.loc)
            case .kwSelf: return Expr(.selfRef, token.loc)
            default: return Expr(.nilLiteral, token.loc)
            }
        }
    }

    /// `( expression )`: no node of its own, except around a member access (see
    /// `ExprKind.grouping`).
    func parseGroup() throws -> Expr {
        let open = advance()
        let saved = ignoresNewlines
        ignoresNewlines = true
        defer { ignoresNewlines = saved }
        let inner = try parseExpression()
        try expect(.rightParen, "')'", "after expression")
        if case .member = inner.kind { return Expr(.grouping(inner), open.loc) }
        return inner
    }

    /// `super.name`.
    func parseSuperMember() throws -> Expr {
        let keyword = advance()
        try expect(.dot, "'.'", "after 'super'")
        skipNewlines()
        let name = try expect(.identifier, "method name", "after 'super.'")
        return Expr(.superMember(name.text), keyword.loc)
    }

    /// `fn (params) { body }` in expression position.
    func parseFunctionExpression() throws -> Expr {
        let keyword = advance()
        let function = try parseFunctionRest(name: nil, at: keyword.loc)
        return Expr(.function(function), keyword.loc)
    }

    /// `[a, b, c]`, trailing comma allowed.
    func parseList() throws -> Expr {
        let open = advance()
        let saved = ignoresNewlines
        ignoresNewlines = true
        defer { ignoresNewlines = saved }
        var elements: [Expr] = []
        while !check(.rightBracket) {
            elements.append(try parseElement())
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
