import CapsuleSyntax

/// A constant of a function being compiled. Objects are created on the heap when the
/// function is finished.
enum Constant: Hashable {
    case int(Int64)
    case float(UInt64)  // bit pattern, so equal constants are shared and NaN compares equal
    case string(String)
    case function(Int)  // index into `FunctionState.children` values (heap functions)
    case value(UInt64)  // an existing heap value (builtins)
}

struct Local {
    var name: String
    var register: Int
    var depth: Int
    var mutable: Bool
    var captured: Bool
}

struct UpvalueInfo {
    var name: String
    var fromParentLocal: Bool
    var index: Int
    var mutable: Bool
}

/// Breaks and continues of the innermost loop, patched when the loop ends.
struct LoopState {
    var breakJumps: [Int] = []
    var continueJumps: [Int] = []
    var scopeDepth: Int
    var tryDepth: Int
    /// First register of the loop's own variables (closed on break/continue).
    var firstRegister: Int
}

enum FunctionKind { case script, function, method, initializer }

/// An active `try` level of the code being compiled: what leaving it by `return`, `break` or
/// `continue` must run after popping its handler (Compiler+Try.swift).
enum TryLevel {
    /// A `try … catch` body: only the handler to pop.
    case plain
    /// The body or catch block of a `try … finally`: the finally block runs.
    case finally([Stmt])
    /// A function that uses `defer`: the calls deferred into the list in this register run.
    case defers(register: Int)

    var hasCleanup: Bool { if case .plain = self { return false } else { return true } }
}

/// Per-function compilation state: code being emitted, locals, upvalues, registers.
final class FunctionState {
    let enclosing: FunctionState?
    let kind: FunctionKind
    let name: String
    var arity = 0
    /// Parameters without a default value (`arity` when there are no defaults).
    var requiredCount = 0
    /// A `...rest` parameter follows the others.
    var hasRest = false
    /// The parameters' names, for named arguments.
    var paramNames: [String] = []
    var code: [UInt32] = []
    var lines: [Int32] = []
    /// Column of each instruction (FunctionDebugInfo.columns).
    var columns: [Int32] = []
    /// Operand descriptions by instruction index (FunctionDebugInfo.operandNames).
    var operandNames: [Int32: [String]] = [:]
    var constants: [Constant] = []
    /// Index of each constant, so adding one is a hash lookup (a large function has tens of
    /// thousands; a linear search made compiling them quadratic).
    var constantIndex: [Constant: Int] = [:]
    /// Set once "too many constants" has been reported for this function.
    var reportedTooManyConstants = false
    var constantValues: [Value] = []
    /// Constant slots reserved (just below index 65536, which LOADK can address) for the
    /// lists through which constants past that index are loaded; see `Compiler.loadConstant`.
    var poolSlots: [Int] = []
    var locals: [Local] = []
    var upvalues: [UpvalueInfo] = []
    var scopeDepth = 0
    var freeRegister = 1
    var maxRegisters = 1
    var loops: [LoopState] = []
    /// Active `try` levels, outermost first.
    var tries: [TryLevel] = []
    var tryDepth: Int { tries.count }
    var line: Int32 = 1
    /// The position of the construct being compiled (for errors that have no better place).
    var loc = SourceLocation(line: 1, column: 1, offset: 0)

    init(enclosing: FunctionState?, kind: FunctionKind, name: String) {
        self.enclosing = enclosing
        self.kind = kind
        self.name = name
        if kind == .method || kind == .initializer {
            locals.append(Local(name: "self", register: 0, depth: 0, mutable: false, captured: false))
        }
    }
}
