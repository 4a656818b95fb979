/// S-expression rendering of the AST, for tests and debugging.
///
/// One line per top-level statement. Expressions print as `(op operands…)`, names bare,
/// strings quoted; statement bodies print as `{stmt stmt …}`. For example
/// `let x = -a + b * 2` dumps as `(let x (+ (- a) (* b 2)))`.

/// Renders `program` as S-expressions, one top-level statement per line.
public func dump(_ program: Program) -> String {
    program.statements.map(dump).joined(separator: "\n")
}

/// Renders one statement as an S-expression.
public func dump(_ statement: Stmt) -> String {
    switch statement.kind {
    case .expression(let expr):
        return dump(expr)
    case .variable(let name, let mutable, let value):
        let keyword = mutable ? "var" : "let"
        return value.map { "(\(keyword) \(name) \(dump($0)))" } ?? "(\(keyword) \(name))"
    case .destructure(let pattern, let mutable, let value):
        return "(\(mutable ? "var" : "let") \(dump(pattern)) \(dump(value)))"
    case .assign(let target, let op, let value):
        return "(\(op?.rawValue ?? "")= \(dump(target)) \(dump(value)))"
    case .function(let function):
        return dumpFunction(function)
    case .classDecl(let decl):
        let superclass = decl.superclass.map { " < \($0)" } ?? ""
        let methods = decl.methods.map { " " + dumpFunction($0) }.joined()
        return "(class \(decl.name)\(superclass)\(methods))"
    case .importModule(let path, let alias):
        return "(import \(quoted(path))\(alias.map { " as \($0)" } ?? ""))"
    case .ifStmt(let condition, let thenBody, let elseBody):
        return "(if \(dump(condition)) \(dumpBody(thenBody))\(elseBody.map { " " + dumpBody($0) } ?? ""))"
    case .whileStmt(let condition, let body):
        return "(while \(dump(condition)) \(dumpBody(body)))"
    case .forIn(let first, let second, let iterable, let body):
        let names = second.map { "(\(first) \($0))" } ?? first
        return "(for \(names) \(dump(iterable)) \(dumpBody(body)))"
    case .breakStmt:
        return "(break)"
    case .continueStmt:
        return "(continue)"
    case .returnStmt(let value):
        return value.map { "(return \(dump($0)))" } ?? "(return)"
    case .throwStmt(let value):
        return "(throw \(dump(value)))"
    case .tryCatch(let body, let catches, let finally):
        let catchPart = catches.map { c in
            " (catch\(c.name.map { " " + $0 } ?? "")\(c.type.map { " is " + dump($0) } ?? "") \(dumpBody(c.body)))"
        }.joined()
        return "(try \(dumpBody(body))\(catchPart)\(finally.map { " (finally \(dumpBody($0)))" } ?? ""))"
    case .deferStmt(let body):
        return "(defer \(dumpBody(body)))"
    case .assertStmt(let condition, let message):
        return "(assert \(dump(condition))\(message.map { " " + dump($0) } ?? ""))"
    case .block(let body):
        return "(block \(dumpBody(body)))"
    case .select(let arms, let defaultBody):
        let parts = arms.map { arm -> String in
            let op: String
            switch arm.operation {
            case .receive: op = "recv \(dump(arm.channel))"
            case .receiveOK: op = "recv_ok \(dump(arm.channel))"
            case .send(let v): op = "send \(dump(arm.channel)) \(dump(v))"
            }
            var bound = ""
            switch arm.binding {
            case .name(let n, _)?: bound = " \(n) ="
            case .pattern(let p, _)?: bound = " [\(p.names.joined(separator: " "))] ="
            case nil: break
            }
            return " (case\(bound) \(op) \(dumpBody(arm.body)))"
        }.joined()
        return "(select\(parts)\(defaultBody.map { " (default \(dumpBody($0)))" } ?? ""))"
    }
}

/// Renders one expression as an S-expression.
public func dump(_ expression: Expr) -> String {
    switch expression.kind {
    case .nilLiteral: return "nil"
    case .boolLiteral(let value): return value ? "true" : "false"
    case .intLiteral(let value): return String(value)
    case .floatLiteral(let value): return String(value)
    case .stringLiteral(let value): return quoted(value)
    case .interpolation(let parts): return "(interp" + parts.map { " " + dump($0) }.joined() + ")"
    case .list(let elements): return "(list" + elements.map { " " + dump($0) }.joined() + ")"
    case .map(let entries): return "(map" + entries.map { " (\(dump($0.key)) \(dump($0.value)))" }.joined() + ")"
    case .variable(let name): return name
    case .selfRef: return "self"
    case .superMember(let name): return "(super \(name))"
    case .unary(let op, let operand): return "(\(op.rawValue) \(dump(operand)))"
    case .binary(let op, let left, let right): return "(\(op.rawValue) \(dump(left)) \(dump(right)))"
    case .logical(let op, let left, let right): return "(\(op.rawValue) \(dump(left)) \(dump(right)))"
    case .typeTest(let value, let type): return "(is \(dump(value)) \(dump(type)))"
    case .range(let low, let high, let inclusive): return "(\(inclusive ? "..=" : "..") \(dump(low)) \(dump(high)))"
    case .call(let callee, let arguments): return "(call \(dump(callee))" + arguments.map { " " + dump($0) }.joined() + ")"
    case .member(let object, let name): return "(. \(dump(object)) \(name))"
    case .index(let object, let index): return "(index \(dump(object)) \(dump(index)))"
    case .slice(let object, let low, let high):
        return "(slice \(dump(object)) \(low.map(dump) ?? "_") \(high.map(dump) ?? "_"))"
    case .function(let function): return dumpFunction(function)
    case .grouping(let inner): return dump(inner)
    case .spread(let inner): return "(... \(dump(inner)))"
    case .named(let name, let value): return "(\(name): \(dump(value)))"
    case .conditional(let condition, let then, let otherwise):
        return "(if-expr \(dump(condition)) \(dump(then)) \(dump(otherwise)))"
    case .spawn(let inner): return "(spawn \(dump(inner)))"
    case .selectedValue(let withOK): return withOK ? "(selected-ok)" : "(selected)"
    }
}

private func dumpFunction(_ function: FunctionDecl) -> String {
    let name = function.name.map { " " + $0 } ?? ""
    var params = function.params
    for (i, d) in function.defaults.enumerated() {
        if let d { params[i] = "(= \(params[i]) \(dump(d)))" }
    }
    if let rest = function.rest { params.append("..." + rest) }
    return "(fn\(name) (\(params.joined(separator: " "))) \(dumpBody(function.body)))"
}

private func dump(_ pattern: Pattern) -> String {
    switch pattern.kind {
    case .list:
        var names = pattern.names
        if pattern.hasRest, let last = names.popLast() { names.append("..." + last) }
        return "[" + names.joined(separator: " ") + "]"
    case .map:
        let entries = zip(pattern.keys, pattern.names).map { $0 == $1 ? $0 : "\($0):\($1)" }
        return "{" + entries.joined(separator: " ") + "}"
    }
}

private func dumpBody(_ body: [Stmt]) -> String {
    "{" + body.map(dump).joined(separator: " ") + "}"
}

