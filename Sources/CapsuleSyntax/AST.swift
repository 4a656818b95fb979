/// The abstract syntax tree produced by `Parser` and consumed by the compiler.
///
/// Every node carries the `SourceLocation` of its first token, so the compiler can report
/// errors and record line tables without going back to the text.

/// A parsed file: its top-level statements in order.
public struct Program: Sendable {
    public var statements: [Stmt]
    public init(statements: [Stmt]) { self.statements = statements }
}

/// An expression together with where it starts.
public struct Expr: Sendable {
    public var kind: ExprKind
    public var loc: SourceLocation
    public init(_ kind: ExprKind, _ loc: SourceLocation) { self.kind = kind; self.loc = loc }
    /// `...list` in a call or list literal.
    public var isSpreadArgument: Bool { if case .spread = kind { return true } else { return false } }
}

/// Binary operators that evaluate both operands (the short-circuit ones are `LogicalOp`).
public enum BinaryOp: String, Sendable, CaseIterable {
    case add = "+", subtract = "-", multiply = "*", divide = "/", remainder = "%"
    case equal = "==", notEqual = "!=", less = "<", lessEqual = "<=", greater = ">", greaterEqual = ">="
    case bitAnd = "&", bitOr = "|", bitXor = "^", shiftLeft = "<<", shiftRight = ">>"
    /// `x in xs` and `x not in xs`: membership in a list, map (keys), string or bytes.
    case isIn = "in", notIn = "not in"
}

/// Prefix operators: `-x`, `~x`, `not x`.
public enum UnaryOp: String, Sendable {
    case negate = "-", bitNot = "~", not = "not"
}

/// `and` / `or`.
public enum LogicalOp: String, Sendable {
    case and, or
}

/// One key/value pair of a map literal. A bare identifier key `{name: 1}` is parsed as the
/// string literal `"name"`.
public struct MapEntry: Sendable {
    public var key: Expr
    public var value: Expr
    public init(key: Expr, value: Expr) { self.key = key; self.value = value }
}

public indirect enum ExprKind: Sendable {
    case nilLiteral
    case boolLiteral(Bool)
    case intLiteral(Int64)
    case floatLiteral(Double)
    case stringLiteral(String)
    /// `"a ${x} b"`: the parts in order; literal text parts are `.stringLiteral`.
    case interpolation([Expr])
    case list([Expr])
    case map([MapEntry])
    /// A use of a name.
    case variable(String)
    /// `self` inside a method.
    case selfRef
    /// `super.name` inside a method (the call, if any, is an enclosing `.call`).
    case superMember(String)
    case unary(UnaryOp, Expr)
    case binary(BinaryOp, Expr, Expr)
    case logical(LogicalOp, Expr, Expr)
    /// `a..b` (inclusive: false) or `a..=b` (inclusive: true).
    case range(Expr, Expr, inclusive: Bool)
    /// `value is Type`: Type is a class, or a built-in type name such as `int`.
    case typeTest(Expr, Expr)
    case call(Expr, [Expr])
    /// `object.name`
    case member(Expr, String)
    /// `object[index]`
    case index(Expr, Expr)
    /// `object[lower:upper]`, either bound optional.
    case slice(Expr, Expr?, Expr?)
    /// An anonymous `fn (params) { body }`.
    case function(FunctionDecl)
    /// `...list`: only as a call argument or list element, where the list's elements take
    /// its place.
    case spread(Expr)
    /// `name: value`: only as a call argument, after the positional ones.
    case named(String, Expr)
    /// `if cond { a } else { b }` in expression position: one expression per branch; an
    /// `else if` is an else branch holding another `.conditional`.
    case conditional(Expr, Expr, Expr)
    /// `(object.name)`: a member access in parentheses. Kept as a node so that
    /// `(object.name)(args)` calls the value read from the member (a field first), while
    /// `object.name(args)` invokes a method. Other parentheses leave no node.
    case grouping(Expr)
    /// `spawn f(args)` or `spawn fn() { … }`: the call (or function literal) to run in a new
    /// fiber; the callee and arguments are evaluated by the spawning code.
    case spawn(Expr)
    /// Made by the compiler for a select case's binding: the value the select received
    /// (`withOK`: a `[value, ok]` list). The parser never makes it.
    case selectedValue(withOK: Bool)
}

/// A statement together with where it starts.
public struct Stmt: Sendable {
    public var kind: StmtKind
    public var loc: SourceLocation
    public init(_ kind: StmtKind, _ loc: SourceLocation) { self.kind = kind; self.loc = loc }
}

public indirect enum StmtKind: Sendable {
    case expression(Expr)
    /// `let name = value` (mutable: false) or `var name [= value]` (mutable: true).
    case variable(name: String, mutable: Bool, value: Expr?)
    /// `let [a, b] = value`, `var {x, y: why} = value`. A `for` loop whose variable is a
    /// pattern binds a hidden name and starts its body with one of these.
    case destructure(Pattern, mutable: Bool, value: Expr)
    /// `target = value` or, with `op`, `target op= value`. The target is a `.variable`,
    /// `.member` or `.index` expression (the parser rejects anything else).
    case assign(target: Expr, op: BinaryOp?, value: Expr)
    case function(FunctionDecl)
    case classDecl(ClassDecl)
    /// `import "path"` or `import "path" as alias`.
    case importModule(path: String, alias: String?)
    /// `if cond { … } else …`; an `else if` is an `elseBody` holding a single `.ifStmt`.
    case ifStmt(condition: Expr, thenBody: [Stmt], elseBody: [Stmt]?)
    case whileStmt(condition: Expr, body: [Stmt])
    /// `for first in iterable` or `for first, second in iterable`.
    case forIn(first: String, second: String?, iterable: Expr, body: [Stmt])
    case breakStmt
    case continueStmt
    case returnStmt(Expr?)
    case throwStmt(Expr)
    /// `try { … } catch name is Type { … } catch name { … } finally { … }`: any number of
    /// catch clauses (only the last may have no type), a finally clause, or both.
    case tryCatch(body: [Stmt], catches: [CatchClause], finally: [Stmt]?)
    /// `defer expr` or `defer { … }`: the body runs when the enclosing function returns.
    case deferStmt([Stmt])
    /// `assert cond` or `assert cond, message`.
    case assertStmt(condition: Expr, message: Expr?)
    case block([Stmt])
    /// `select { case … { } … default { } }` (docs/concurrency.md).
    case select(arms: [SelectArm], defaultBody: [Stmt]?)
}

/// One `case` of a `select`: a receive (`ch.recv()`, `ch.recv_ok()`, or a channel expression
/// alone) or a send (`ch.send(v)`), an optional binding of what was received, and a body.
public struct SelectArm: Sendable {
    public enum Operation: Sendable {
        case receive
        case receiveOK
        case send(Expr)
    }
    public var operation: Operation
    public var channel: Expr
    /// `case let v = …` / `case var [v, ok] = …`.
    public var binding: SelectBinding?
    public var body: [Stmt]
    public var loc: SourceLocation
    public init(operation: Operation, channel: Expr, binding: SelectBinding?, body: [Stmt], loc: SourceLocation) {
        self.operation = operation; self.channel = channel; self.binding = binding; self.body = body; self.loc = loc
    }
}

public enum SelectBinding: Sendable {
    case name(String, mutable: Bool)
    case pattern(Pattern, mutable: Bool)
}

/// `catch name is Type { body }`; the name and the type are optional.
public struct CatchClause: Sendable {
    public var name: String?
    public var type: Expr?
    public var body: [Stmt]
    public var loc: SourceLocation
    public init(name: String?, type: Expr?, body: [Stmt], loc: SourceLocation) {
        self.name = name; self.type = type; self.body = body; self.loc = loc
    }
}

/// The left side of a destructuring declaration or loop variable: `[a, b]` takes the elements
/// of a list of exactly that length, `{x, y: why}` the keys `"x"` and `"y"` of a map (or the
/// fields of an instance, the variables of a module) into `x` and `why`.
public struct Pattern: Sendable {
    public enum Kind: Sendable { case list, map }
    public var kind: Kind
    /// The variables bound, in order.
    public var names: [String]
    /// For a map pattern, the key read into each name (the name itself unless `key: name`).
    public var keys: [String]
    /// Where the pattern starts (its `[` or `{`).
    public var loc: SourceLocation
    /// A list pattern ending in `...name`: the last name takes a list of the elements left.
    public var hasRest: Bool
    public init(kind: Kind, names: [String], keys: [String], loc: SourceLocation, hasRest: Bool = false) {
        self.kind = kind; self.names = names; self.keys = keys; self.loc = loc; self.hasRest = hasRest
    }
}

/// A named or anonymous function, or a method.
public final class FunctionDecl: Sendable {
    /// nil for anonymous functions.
    public let name: String?
    public let params: [String]
    /// The default value of each parameter (`b = 2`), nil for a required one; either empty
    /// (no defaults) or as long as `params`. Defaults follow all required parameters.
    public let defaults: [Expr?]
    /// `...name` after the other parameters: a list of the arguments past them.
    public let rest: String?
    public let body: [Stmt]
    /// Location of the `fn` keyword (or of the method name).
    public let loc: SourceLocation
    /// Location of the closing `}` of the body (used for the implicit `return nil`).
    public let endLoc: SourceLocation
    public init(name: String?, params: [String], defaults: [Expr?] = [], rest: String? = nil, body: [Stmt],
                loc: SourceLocation, endLoc: SourceLocation) {
        self.name = name; self.params = params; self.defaults = defaults; self.rest = rest; self.body = body
        self.loc = loc; self.endLoc = endLoc
    }
    /// Parameters that must be passed (those before the first default).
    public var requiredCount: Int { defaults.firstIndex { $0 != nil } ?? params.count }
}

/// `class Name < Super { methods }`. `init` is an ordinary method named "init".
public struct ClassDecl: Sendable {
    public var name: String
    public var superclass: String?
    public var superclassLoc: SourceLocation?
    public var methods: [FunctionDecl]
    public init(name: String, superclass: String?, superclassLoc: SourceLocation?, methods: [FunctionDecl]) {
        self.name = name; self.superclass = superclass; self.superclassLoc = superclassLoc; self.methods = methods
    }
}
