/// Direct calls for the commonest signatures: the function pointer is called with its real
/// Swift type instead of through `ffi_call`. Any argument that does not fit the fast shape
/// falls back to `invoke`, which produces the same checks and messages.
extension ExportBinding {
    /// A body for this export's shape, or nil when there is no fast path for it.
    func fastPath() -> ((NativeCall) -> Value)? {
        guard export.flags == 0 else { return nil }
        let signature = export.signature
        let types = signature.parameters.map { $0.isOut ? nil : $0.type }
        let context = self.context
        let function = export.function
        let name = qualifiedName
        switch (types, signature.result) {
        case ([.i64, .i64], .i64):
            // NOTE: the signature says this is the function's C type; the cast is the fast path.
            let f = unsafeBitCast(function, to: (@convention(c) (Int64, Int64) -> Int64).self)
            return { call in
                guard let a = call.int(0), let b = call.int(1) else { return self.invoke(call) }
                let previous = context.enter()
                let r = f(a, b)
                context.leave(previous)
                if let message = context.raised { context.raised = nil; return call.raise("\(name): \(message)") }
                return call.intValue(r)
            }
        case ([.f64, .f64], .f64):
            let f = unsafeBitCast(function, to: (@convention(c) (Double, Double) -> Double).self)
            return { call in
                guard let a = call.double(0), let b = call.double(1) else { return self.invoke(call) }
                let previous = context.enter()
                let r = f(a, b)
                context.leave(previous)
                if let message = context.raised { context.raised = nil; return call.raise("\(name): \(message)") }
                return call.doubleValue(r)
            }
        case ([.i64], .i64):
            let f = unsafeBitCast(function, to: (@convention(c) (Int64) -> Int64).self)
            return { call in
                guard let a = call.int(0) else { return self.invoke(call) }
                let previous = context.enter()
                let r = f(a)
                context.leave(previous)
                if let message = context.raised { context.raised = nil; return call.raise("\(name): \(message)") }
                return call.intValue(r)
            }
        default:
            return nil
        }
    }
}
