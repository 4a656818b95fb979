/// Expressions: precedence climbing for binary operators, then prefix, postfix and primaries.
extension Parser {
    /// Binding strength of binary operators, lowest first (see docs/language.md).
    enum Precedence: Int {
        case or = 1, and, not, comparison, range, bitOr, bitXor, bitAnd, shift, additive, multiplicative
        /// Above every binary operator: the operand of the tightest one.
        case prefix
    }

    /// What a binary-position token means.
    enum InfixOperator {
        case logical(LogicalOp)
        case binary(BinaryOp)
        case range(inclusive: Bool)
        case typeTest

        init?(_ kind: TokenKind) {
            switch kind {
            case .kwIs: self = .typeTest
            case .kwOr: self = .logical(.or)
            case .kwAnd: self = .logical(.and)
            case .equalEqual: self = .binary(.equal)
            case .bangEqual: self = .binary(.notEqual)
            case .less: self = .binary(.less)
            case .lessEqual: self = .binary(.lessEqual)
            case .greater: self = .binary(.greater)
            case .greaterEqual: self = .binary(.greaterEqual)
            case .dotDot: self = .range(inclusive: false)
            case .dotDotEqual: self = .range(inclusive: true)
            case .pipe: self = .binary(.bitOr)
            case .caret: self = .binary(.bitXor)
            case .ampersand: self = .binary(.bitAnd)
            case .lessLess: self = .binary(.shiftLeft)
            case .greaterGreater: self = .binary(.shiftRight)
            case .plus: self = .binary(.add)
            case .minus: self = .binary(.subtract)
            case .star: self = .binary(.multiply)
            case .slash: self = .binary(.divide)
            case .percent: self = .binary(.remainder)
            case .kwIn: self = .binary(.isIn)
            default: return nil
            }
        }

        var precedence: Precedence {
            switch self {
            case .logical(.or): return .or
            case .logical(.and): return .and
            case .range: return .range
            case .typeTest: return .comparison
            case .binary(let op):
                switch op {
                case .equal, .notEqual, .less, .lessEqual, .greater, .greaterEqual, .isIn, .notIn: return .comparison
                case .bitOr: return .bitOr
                case .bitXor: return .bitXor
                case .bitAnd: return .bitAnd
                case .shiftLeft, .shiftRight: return .shift
                case .add, .subtract: return .additive
                case .multiply, .divide, .remainder: return .multiplicative
                }
            }
        }

        func make(_ left: Expr, _ right: Expr) -> Expr {
            switch self {
            case .logical(let op): return Expr(.logical(op, left, right), left.loc)
            case .binary(let op): return Expr(.binary(op, left, right), left.loc)
            case .range(let inclusive): return Expr(.range(left, right, inclusive: inclusive), left.loc)
            case .typeTest: return Expr(.typeTest(left, right), left.loc)
            }
        }
    }

    func parseExpression() throws -> Expr {
        try parseBinary(.or)
    }

    /// Parses operators binding at least as tightly as `minimum`. Each link of a chain such
    /// as `a + b + c` deepens the tree, so it counts towards the chain-link limit.
    func parseBinary(_ minimum: Precedence) throws -> Expr {
        var left = try (minimum.rawValue <= Precedence.not.rawValue && check(.kwNot)) ? parseNot() : parseUnary()
        var links = 0
        defer { chainLinks -= links }
        while let op = infixOperator(), op.precedence.rawValue >= minimum.rawValue {
            try enterChainLink()
            links += 1
            if case .binary(.notIn) = op { advance() }
            advance()
            skipNewlines()
            let precedence = op.precedence
            let right: Expr
            if case .typeTest = op, check(.kwClass) {
                right = Expr(.variable("class"), advance().loc)  // `x is class`: the type name
            } else {
                right = try parseBinary(Precedence(rawValue: precedence.rawValue + 1) ?? .prefix)
            }
            left = op.make(left, right)
            if precedence == .comparison || precedence == .range { rejectChain(of: precedence) }
        }
        return left
    }

    /// The binary operator at the current token: one token, or the two of `not in`.
    func infixOperator() -> InfixOperator? {
        if currentKind == .kwNot && peekKind(1) == .kwIn { return .binary(.notIn) }
        return InfixOperator(currentKind)
    }

    /// Comparisons and ranges do not associate: `a < b < c` is reported (and then parsed as
    /// `(a < b) < c` so that the rest of the statement is still checked).
    func rejectChain(of precedence: Precedence) {
        guard let next = infixOperator(), next.precedence == precedence else { return }
        let what = precedence == .comparison ? "comparison" : "range"
        report("\(what) operators cannot be chained", at: current.loc)
    }

    /// `not x`: binds more loosely than comparisons, so `not a == b` is `not (a == b)`.
    func parseNot() throws -> Expr {
        try enter()
        defer { leave() }
        let keyword = advance()
        let operand = try parseBinary(.not)
        return Expr(.unary(.not, operand), keyword.loc)
    }

    /// Prefix `-` and `~`, then a postfix expression. `-` applied directly to a number literal
    /// is folded into a negative literal, which is how `-9223372036854775808` is written.
    func parseUnary() throws -> Expr {
        try enter()
        defer { leave() }
        switch currentKind {
        case .minus: return try parseNegation()
        case .tilde: return try parseBitNot()
        case .identifier where startsSpawn: return try parseSpawn()
        default: return try parsePostfix(try parsePrimary())
        }
    }

    func parseNegation() throws -> Expr {
        let minus = advance()
        if currentKind == .integer, case .integer(Lexer.maximumIntegerMagnitude) = current.value {
            advance()
            return try parsePostfix(Expr(.intLiteral(.min), minus.loc))
        }
        let operand = try parseUnary()
        switch operand.kind {
        // `- -9223372036854775808` cannot fold: its value does not fit.
        case .intLiteral(let value) where value != .min: return Expr(.intLiteral(-value), minus.loc)
        case .floatLiteral(let value): return Expr(.floatLiteral(-value), minus.loc)
        default: return Expr(.unary(.negate, operand), minus.loc)
        }
    }

    /// `spawn` is a keyword only where a call or function follows it on the same line, so
    /// `spawn(f, x)` and a variable named `spawn` keep working.
    var startsSpawn: Bool {
        guard current.text == "spawn" else { return false }
        switch peekKind(1) {
        case .identifier, .kwFn, .kwSelf, .kwSuper: return true
        default: return false
        }
    }

    /// `spawn f(args)`, `spawn obj.m(args)` or `spawn fn() { … }`. The spawned call ends at
    /// its argument list: what follows applies to the fiber, so `spawn f(x).join()` joins it.
    func parseSpawn() throws -> Expr {
        let keyword = advance()
        var target = try parsePrimary()
        var isLiteral = false
        if case .function = target.kind { isLiteral = true }
        scan: while true {
            switch currentKind {
            case .dot where !isLiteral: target = try parseMember(of: target)
            case .leftBracket where !isLiteral: target = try parseSubscript(of: target)
            case .leftParen:
                target = Expr(.call(target, try parseArguments()), target.loc)
                break scan
            default: break scan
            }
        }
        switch target.kind {
        case .call, .function: return try parsePostfix(Expr(.spawn(target), keyword.loc))
        default: throw fail("'spawn' needs a call or a function: spawn f(x) or spawn fn() { … }", at: target.loc)
        }
    }

    func parseBitNot() throws -> Expr {
        let tilde = advance()
        return Expr(.unary(.bitNot, try parseUnary()), tilde.loc)
    }

    /// Calls `f(…)`, indexing `a[i]`, slicing `a[i:j]` and member access `a.b`.
    func parsePostfix(_ base: Expr) throws -> Expr {
        var expr = base
        var links = 0
        defer { chainLinks -= links }
        while true {
            switch currentKind {
            case .leftParen, .leftBracket, .dot: break
            default: return expr
            }
            try enterChainLink()
            links += 1
            switch currentKind {
            case .leftParen:
                expr = Expr(.call(expr, try parseArguments()), expr.loc)
            case .leftBracket:
                expr = try parseSubscript(of: expr)
            default:
                expr = try parseMember(of: expr)
            }
        }
    }

    func parseMember(of object: Expr) throws -> Expr {
        advance()
        skipNewlines()
        let name = try expect(.identifier, "member name", "after '.'")
        return Expr(.member(object, name.text), object.loc)
    }

    func parseArguments() throws -> [Expr] {
        advance()
        let saved = ignoresNewlines
        ignoresNewlines = true
        defer { ignoresNewlines = saved }
        var arguments: [Expr] = []
        var names = Set<String>()
        while !check(.rightParen) {
            if check(.identifier) && peekKind(1) == .colon {
                // `name: value`, after every positional argument.
                let name = advance()
                advance()
                if !names.insert(name.text).inserted { report("duplicate argument '\(name.text)'", at: name.loc) }
                arguments.append(Expr(.named(name.text, try parseExpression()), name.loc))
            } else {
                let argument = try parseElement()
                if !names.isEmpty { report("a positional argument cannot follow a named one", at: argument.loc) }
                arguments.append(argument)
            }
            if !match(.comma) { break }
        }
        if !names.isEmpty, let spread = arguments.first(where: \.isSpreadArgument) {
            report("'...' cannot be combined with named arguments", at: spread.loc)
        }
        try expect(.rightParen, "')'", "after arguments")
        return arguments
    }

    /// An argument or list element: an expression, or `...expression` to spread a list.
    /// (`isSpreadArgument` tells them apart.)
    func parseElement() throws -> Expr {
        guard check(.ellipsis) else { return try parseExpression() }
        let ellipsis = advance()
        return Expr(.spread(try parseExpression()), ellipsis.loc)
    }

    /// `a[i]`, `a[i:j]`, `a[:j]`, `a[i:]`, `a[:]`.
    func parseSubscript(of object: Expr) throws -> Expr {
        advance()
        let saved = ignoresNewlines
        ignoresNewlines = true
        defer { ignoresNewlines = saved }
        if match(.colon) {
            let upper = check(.rightBracket) ? nil : try parseExpression()
            try expect(.rightBracket, "']'", "after slice")
            return Expr(.slice(object, nil, upper), object.loc)
        }
        let index = try parseExpression()
        if match(.colon) {
            let upper = check(.rightBracket) ? nil : try parseExpression()
            try expect(.rightBracket, "']'", "after slice")
            return Expr(.slice(object, index, upper), object.loc)
        }
        try expect(.rightBracket, "']'", "after index")
        return Expr(.index(object, index), object.loc)
    }
}
