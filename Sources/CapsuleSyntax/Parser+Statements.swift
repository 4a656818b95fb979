/// Statements, blocks and declarations.
extension Parser {
    func parseProgram() -> [Stmt] {
        var statements: [Stmt] = []
        while true {
            skipSeparators()
            let token = current
            if token.kind == .eof { break }
            if token.kind == .rightBrace {
                report("unexpected '}'", at: token.loc)
                pos += 1
                continue
            }
            if let statement = recovering({ try parseStatement() }) {
                statements.append(statement)
            }
        }
        return statements
    }

    /// `{ statements }`, returning the body and the location of the closing `}`.
    /// `context` completes the message for a missing `{`, e.g. "before if body".
    func parseBlock(_ context: String) throws -> (body: [Stmt], end: SourceLocation) {
        try enter()
        defer { leave() }
        let open = try expect(.leftBrace, "'{'", context)
        let saved = ignoresNewlines
        ignoresNewlines = false
        defer { ignoresNewlines = saved }
        var body: [Stmt] = []
        while true {
            skipSeparators()
            if check(.rightBrace) || check(.eof) { break }
            if let statement = recovering({ try parseStatement() }) {
                body.append(statement)
            }
        }
        let close = try expectClosingBrace(of: open, "after block")
        return (body, close.loc)
    }

    /// One statement and its terminator (newline, `;`, or a following `}` / end of file).
    func parseStatement() throws -> Stmt {
        let statement = try parseStatementBody()
        switch currentKind {
        case .newline, .semicolon: advance()
        case .rightBrace, .eof: break
        // A statement that ends with a block may be followed by another on the same line:
        // `if n < 2 { return n } return f(n)`.
        default:
            if pos > 0 && kinds[pos - 1] == .rightBrace { break }
            throw expected("newline or ';'", "after statement")
        }
        return statement
    }

    func parseStatementBody() throws -> Stmt {
        switch currentKind {
        case .kwLet, .kwVar: return try parseVariable()
        case .kwFn where peekKind(1) == .identifier: return try parseFunctionDeclaration()
        case .kwClass: return try parseClass()
        case .kwImport: return try parseImport()
        case .kwIf: return try parseIf()
        case .kwWhile: return try parseWhile()
        case .kwFor: return try parseFor()
        case .kwBreak, .kwContinue: return parseJump()
        case .kwReturn: return try parseReturn()
        case .kwThrow: return try parseThrow()
        case .kwTry: return try parseTry()
        case .kwDefer: return try parseDefer()
        case .kwAssert: return try parseAssert()
        case .leftBrace: return try parseBlockStatement()
        case .identifier where current.text == "select" && peekKind(1) == .leftBrace: return try parseSelect()
        default: return try parseExpressionOrAssignment()
        }
    }

    /// `select { case [let|var binding =] operation { … } … default { … } }`: `select` is a
    /// keyword only when `{` follows it.
    func parseSelect() throws -> Stmt {
        let keyword = advance()
        try expect(.leftBrace, "'{'", "after 'select'")
        skipNewlines()
        var arms: [SelectArm] = []
        var defaultBody: [Stmt]?
        while !check(.rightBrace) && !check(.eof) {
            let word = current
            guard word.kind == .identifier, word.text == "case" || word.text == "default" else {
                throw expected("'case' or 'default'", "in select")
            }
            advance()
            if word.text == "default" {
                if defaultBody != nil { throw fail("a select has at most one 'default'", at: word.loc) }
                defaultBody = try parseBlock("before default body").body
            } else {
                arms.append(try parseSelectArm(at: word.loc))
            }
            skipNewlines()
        }
        try expect(.rightBrace, "'}'", "after select cases")
        if arms.isEmpty && defaultBody == nil { throw fail("a select needs at least one case", at: keyword.loc) }
        return Stmt(.select(arms: arms, defaultBody: defaultBody), keyword.loc)
    }

    private func parseSelectArm(at loc: SourceLocation) throws -> SelectArm {
        var binding: SelectBinding?
        if check(.kwLet) || check(.kwVar) {
            let mutable = advance().kind == .kwVar
            if check(.leftBracket) || check(.leftBrace) {
                binding = .pattern(try parsePattern(), mutable: mutable)
            } else {
                let name = try expect(.identifier, "variable name", "after '\(mutable ? "var" : "let")' in select case")
                binding = .name(name.text, mutable: mutable)
            }
            try expect(.equal, "'='", "after select case binding")
            skipNewlines()
        }
        let operation = try parseExpression()
        let body = try parseBlock("before select case body").body
        if case .call(let callee, let args) = operation.kind, case .member(let channel, let method) = callee.kind {
            switch (method, args.count) {
            case ("recv", 0): return SelectArm(operation: .receive, channel: channel, binding: binding, body: body, loc: loc)
            case ("recv_ok", 0): return SelectArm(operation: .receiveOK, channel: channel, binding: binding, body: body, loc: loc)
            case ("send", 1):
                if binding != nil { throw fail("a send case binds nothing: write 'case ch.send(v) { … }'", at: loc) }
                return SelectArm(operation: .send(args[0]), channel: channel, binding: nil, body: body, loc: loc)
            default: break
            }
        }
        // Any other expression is a channel to receive from (`case time.after(1) { … }`).
        return SelectArm(operation: .receive, channel: operation, binding: binding, body: body, loc: loc)
    }

    func parseWhile() throws -> Stmt {
        let keyword = advance()
        let condition = try parseExpression()
        let body = try parseBlock("before while body").body
        return Stmt(.whileStmt(condition: condition, body: body), keyword.loc)
    }

    /// `break` or `continue`.
    func parseJump() -> Stmt {
        let keyword = advance()
        return Stmt(keyword.kind == .kwBreak ? .breakStmt : .continueStmt, keyword.loc)
    }

    /// `return [value]`: without a value when the line, statement or block ends there.
    func parseReturn() throws -> Stmt {
        let keyword = advance()
        switch currentKind {
        case .newline, .semicolon, .rightBrace, .eof: return Stmt(.returnStmt(nil), keyword.loc)
        default: return Stmt(.returnStmt(try parseExpression()), keyword.loc)
        }
    }

    func parseThrow() throws -> Stmt {
        let keyword = advance()
        return Stmt(.throwStmt(try parseExpression()), keyword.loc)
    }

    /// `assert cond [, message]`.
    func parseAssert() throws -> Stmt {
        let keyword = advance()
        let condition = try parseExpression()
        var message: Expr?
        if match(.comma) {
            skipNewlines()
            message = try parseExpression()
        }
        return Stmt(.assertStmt(condition: condition, message: message), keyword.loc)
    }

    func parseBlockStatement() throws -> Stmt {
        let loc = current.loc
        return Stmt(.block(try parseBlock("").body), loc)
    }

    /// `let name = value` or `var name [= value]`; `let [a, b] = value`, `let {x, y} = value`.
    func parseVariable() throws -> Stmt {
        let keyword = advance()
        let mutable = keyword.kind == .kwVar
        if check(.leftBracket) || check(.leftBrace) {
            let pattern = try parsePattern()
            try expect(.equal, "'='", "after pattern")
            skipNewlines()
            return Stmt(.destructure(pattern, mutable: mutable, value: try parseExpression()), keyword.loc)
        }
        let name = try expect(.identifier, "variable name", "after '\(mutable ? "var" : "let")'")
        var value: Expr?
        if match(.equal) {
            skipNewlines()
            value = try parseExpression()
        } else if !mutable {
            // Keep going as if the value were nil: the rest of the statement is probably fine.
            report("'let' needs a value; use 'var' for a variable without one", at: keyword.loc)
            value = Expr(.nilLiteral, name.loc)
        }
        return Stmt(.variable(name: name.text, mutable: mutable, value: value), keyword.loc)
    }

    /// `[a, b, c]` or `{x, y: why}`: names only, each once, at least one.
    func parsePattern() throws -> Pattern {
        let open = advance()
        let isList = open.kind == .leftBracket
        let close: TokenKind = isList ? .rightBracket : .rightBrace
        let saved = ignoresNewlines
        ignoresNewlines = true
        defer { ignoresNewlines = saved }
        var names: [String] = [], keys: [String] = []
        var hasRest = false
        while !check(close) {
            if isList && match(.ellipsis) {
                let name = try expect(.identifier, "variable name", "after '...' in list pattern")
                if names.contains(name.text) { report("duplicate variable '\(name.text)' in pattern", at: name.loc) }
                names.append(name.text)
                hasRest = true
                if match(.comma) && !check(close) { report("'...\(name.text)' must be the last name in a pattern", at: current.loc) }
                break
            }
            let key = try expect(.identifier, "variable name", isList ? "in list pattern" : "in map pattern")
            var name = key
            if !isList && match(.colon) {
                name = try expect(.identifier, "variable name", "after ':' in map pattern")
            }
            if names.contains(name.text) { report("duplicate variable '\(name.text)' in pattern", at: name.loc) }
            names.append(name.text)
            keys.append(key.text)
            if !match(.comma) { break }
        }
        try expect(close, isList ? "']'" : "'}'", "after pattern")
        if names.isEmpty { report("a pattern needs at least one name", at: open.loc) }
        return Pattern(kind: isList ? .list : .map, names: names, keys: isList ? [] : keys, loc: open.loc, hasRest: hasRest)
    }

    /// `fn name(params) { body }`.
    func parseFunctionDeclaration() throws -> Stmt {
        let keyword = advance()
        let name = try expect(.identifier, "function name", "after 'fn'")
        let function = try parseFunctionRest(name: name.text, at: keyword.loc)
        return Stmt(.function(function), keyword.loc)
    }

    /// The parameter list and body of a function, method or anonymous function.
    func parseFunctionRest(name: String?, at loc: SourceLocation) throws -> FunctionDecl {
        let (params, defaults, rest) = try parseParameters()
        let (body, end) = try parseBlock("before function body")
        return FunctionDecl(name: name, params: params, defaults: defaults, rest: rest, body: body, loc: loc, endLoc: end)
    }

    /// `(a, b = 2, c = a + b)`; a trailing comma is allowed, a repeated name is an error,
    /// and once a parameter has a default value every later one needs one. `...rest` may
    /// come last.
    func parseParameters() throws -> (names: [String], defaults: [Expr?], rest: String?) {
        try expect(.leftParen, "'('", "before parameters")
        let saved = ignoresNewlines
        ignoresNewlines = true
        defer { ignoresNewlines = saved }
        var params: [String] = []
        var defaults: [Expr?] = []
        var rest: String?
        while !check(.rightParen) {
            if match(.ellipsis) {
                let name = try expect(.identifier, "rest parameter name", "after '...'")
                if params.contains(name.text) { report("duplicate parameter '\(name.text)'", at: name.loc) }
                if check(.equal) {
                    report("a rest parameter cannot have a default value", at: current.loc)
                    advance()
                    _ = try parseExpression()
                }
                rest = name.text
                if !match(.comma) { break }
                // Reported, then the rest of the list is still parsed.
                if !check(.rightParen) { report("the rest parameter must be the last parameter", at: current.loc) }
                continue
            }
            let param = try expect(.identifier, "parameter name")
            if params.contains(param.text) {
                report("duplicate parameter '\(param.text)'", at: param.loc)
            }
            params.append(param.text)
            if match(.equal) {
                defaults.append(try parseExpression())
            } else {
                if defaults.contains(where: { $0 != nil }) {
                    report("parameter '\(param.text)' needs a default value: it follows a parameter with one", at: param.loc)
                }
                defaults.append(nil)
            }
            if !match(.comma) { break }
        }
        try expect(.rightParen, "')'", "after parameters")
        return (params, defaults.contains { $0 != nil } ? defaults : [], rest)
    }

    /// `class Name [< Super] { [fn] method(params) { … } … }`.
    func parseClass() throws -> Stmt {
        let keyword = advance()
        let name = try expect(.identifier, "class name", "after 'class'")
        var superclass: Token?
        if match(.less) {
            superclass = try expect(.identifier, "superclass name", "after '<'")
        }
        let open = try expect(.leftBrace, "'{'", "before class body")
        let saved = ignoresNewlines
        ignoresNewlines = false
        defer { ignoresNewlines = saved }
        var methods: [FunctionDecl] = []
        while true {
            skipSeparators()
            if check(.rightBrace) || check(.eof) { break }
            if let method = recovering({ try parseMethod() }) {
                methods.append(method)
            }
        }
        try expectClosingBrace(of: open, "after class body")
        let decl = ClassDecl(name: name.text, superclass: superclass?.text,
                             superclassLoc: superclass?.loc, methods: methods)
        return Stmt(.classDecl(decl), keyword.loc)
    }

    func parseMethod() throws -> FunctionDecl {
        let start = current
        if start.kind == .kwFn { advance() }
        if let op = operatorMethodName() { return try parseFunctionRest(name: op, at: start.loc) }
        let name = try expect(.identifier, "method name")
        return try parseFunctionRest(name: name.text, at: start.loc)
    }

    /// An operator method's name (`==`, `<`, `+`, `-`, `*`, `/`, `%`, `[]`, `[]=`), consumed;
    /// nil when the method name is not an operator.
    func operatorMethodName() -> String? {
        switch currentKind {
        case .equalEqual: advance(); return "=="
        case .less: advance(); return "<"
        case .plus: advance(); return "+"
        case .minus: advance(); return "-"
        case .star: advance(); return "*"
        case .slash: advance(); return "/"
        case .percent: advance(); return "%"
        case .leftBracket where peekKind(1) == .rightBracket:
            advance(); advance()
            if check(.equal) && peekKind(1) == .leftParen { advance(); return "[]=" }
            return "[]"
        default:
            return nil
        }
    }

    /// `import "path" [as alias]`.
    func parseImport() throws -> Stmt {
        let keyword = advance()
        guard check(.string) else { throw expected("module path string", "after 'import'") }
        let path = advance()
        var alias: String?
        if match(.kwAs) {
            alias = try expect(.identifier, "name", "after 'as'").text
        }
        return Stmt(.importModule(path: path.text, alias: alias), keyword.loc)
    }

    /// `if cond { … } [else if … | else { … }]`; `else` may start the next line.
    func parseIf() throws -> Stmt {
        let keyword = advance()
        let condition = try parseExpression()
        let thenBody = try parseBlock("before if body").body
        var elseBody: [Stmt]?
        if skipNewlines(ifFollowedBy: .kwElse) {
            advance()
            if check(.kwIf) {
                // An else-if chain nests in the AST, so it counts towards the depth limit.
                try enter()
                defer { leave() }
                elseBody = [try parseIf()]
            } else {
                elseBody = try parseBlock("before else body").body
            }
        }
        return Stmt(.ifStmt(condition: condition, thenBody: thenBody, elseBody: elseBody), keyword.loc)
    }

    /// `for x in e { … }` or `for k, v in e { … }`; either variable may be a pattern,
    /// `for [a, b] in pairs { … }`, which binds a hidden name and destructures it first thing
    /// in the body.
    func parseFor() throws -> Stmt {
        let keyword = advance()
        var prologue: [Stmt] = []
        func loopVariable(_ what: String, _ context: String) throws -> Token {
            guard check(.leftBracket) || check(.leftBrace) else { return try expect(.identifier, what, context) }
            let pattern = try parsePattern()
            let hidden = " element\(prologue.count)"
            prologue.append(Stmt(.destructure(pattern, mutable: true, value: Expr(.variable(hidden), pattern.loc)), pattern.loc))
            return Token(kind: .identifier, loc: pattern.loc, length: 1, value: .text(hidden))
        }
        let first = try loopVariable("loop variable name", "after 'for'")
        var second: Token?
        if match(.comma) {
            let name = try loopVariable("second loop variable name", "after ','")
            if name.text == first.text {
                report("duplicate loop variable '\(name.text)'", at: name.loc)
            }
            second = name
        }
        try expect(.kwIn, "'in'", "after loop variable")
        let iterable = try parseExpression()
        let body = try parseBlock("before for body").body
        return Stmt(.forIn(first: first.text, second: second?.text, iterable: iterable, body: prologue + body), keyword.loc)
    }

    /// `try { … } catch [name] { … }`; `catch` may start the next line.
    func parseTry() throws -> Stmt {
        let keyword = advance()
        let body = try parseBlock("before try body").body
        var catches: [CatchClause] = []
        while skipNewlines(ifFollowedBy: .kwCatch) {
            let keyword = advance()
            if let untyped = catches.last, untyped.type == nil {
                report("a catch clause without a type must be the last", at: untyped.loc)
            }
            var name: String?
            if check(.identifier) { name = advance().text }
            var type: Expr?
            if check(.kwIs) {
                advance()
                if check(.kwClass) { type = Expr(.variable("class"), advance().loc) } else { type = try parseBinary(.range) }
            }
            catches.append(CatchClause(name: name, type: type, body: try parseBlock("before catch body").body, loc: keyword.loc))
        }
        var finally: [Stmt]?
        if skipNewlines(ifFollowedBy: .kwFinally) {
            advance()
            finally = try parseBlock("before finally body").body
        }
        if catches.isEmpty && finally == nil { throw expected("'catch' or 'finally'", "after try block") }
        return Stmt(.tryCatch(body: body, catches: catches, finally: finally), keyword.loc)
    }

    /// `defer { … }` or `defer expression`.
    func parseDefer() throws -> Stmt {
        let keyword = advance()
        if check(.leftBrace) { return Stmt(.deferStmt(try parseBlock("").body), keyword.loc) }
        let e = try parseExpression()
        return Stmt(.deferStmt([Stmt(.expression(e), e.loc)]), keyword.loc)
    }

    /// An expression statement, or `target = value` / `target op= value`.
    func parseExpressionOrAssignment() throws -> Stmt {
        var target = try parseExpression()
        guard let op = AssignmentOperator(currentKind) else {
            return Stmt(.expression(target), target.loc)
        }
        advance()
        if case .grouping(let inner) = target.kind { target = inner }  // `(a.b) = v` assigns a.b
        switch target.kind {
        case .variable, .member, .index: break
        // `[a, b] = [b, a]`: each element a plain target.
        case .list(let items) where op.binary == nil && !items.isEmpty && items.allSatisfy(\.isSimpleTarget): break
        default: report("invalid assignment target", at: target.loc)
        }
        skipNewlines()
        let value = try parseExpression()
        return Stmt(.assign(target: target, op: op.binary, value: value), target.loc)
    }
}

extension Expr {
    /// A variable, field or element: what `=` can assign to.
    var isSimpleTarget: Bool {
        switch kind {
        case .variable, .member, .index: return true
        default: return false
        }
    }
}

/// `=` (no binary operator) or a compound assignment such as `+=`.
struct AssignmentOperator {
    let binary: BinaryOp?

    init?(_ kind: TokenKind) {
        switch kind {
        case .equal: binary = nil
        case .plusEqual: binary = .add
        case .minusEqual: binary = .subtract
        case .starEqual: binary = .multiply
        case .slashEqual: binary = .divide
        case .percentEqual: binary = .remainder
        case .ampersandEqual: binary = .bitAnd
        case .pipeEqual: binary = .bitOr
        case .caretEqual: binary = .bitXor
        case .lessLessEqual: binary = .shiftLeft
        case .greaterGreaterEqual: binary = .shiftRight
        default: return nil
        }
    }
}
