import Testing
@testable import CapsuleCore

/// Every runtime error gets one class from its message (Runtime/ErrorClasses.swift).
@Suite struct ErrorClassTests {
    @Test func messagesMapToClasses() {
        let cases: [(String, ErrorKind)] = [
            ("division by zero", .arithmetic), ("integer overflow", .arithmetic),
            ("shift count 70 is out of range 0...63", .arithmetic),
            ("index 5 out of range for list of length 2", .index), ("pop from an empty list", .index),
            ("key not found: \"x\"", .key),
            ("Point instance has no field or method 'z'", .lookup),
            ("variable 'x' is used before it is defined", .lookup),
            ("cannot add int and string", .type), ("f expects 1 argument, got 2", .type),
            ("list index must be an int, got string", .type), ("map key cannot be nil", .type),
            ("invalid int literal: \"x\"", .value), ("range step cannot be zero", .value),
            ("cannot repeat a list a negative number of times", .value), ("json.parse: 1:2: unexpected end", .value),
            ("stack overflow", .limit), ("stack overflow (call depth limit of 10 exceeded)", .limit),
            ("out of memory (heap limit 64 MiB)", .limit), ("instruction limit of 5 exceeded", .limit),
            ("timeout of 2s exceeded", .timeout), ("net.read: timed out after 1s", .timeout),
            ("denied: fs.read /etc (grant with --allow-read=/etc)", .denied),
            ("plugin zlib: denied: fs.write /x (grant with --allow-write=/x)", .denied),
            ("fs.read: /tmp/x: No such file or directory", .io),
            ("fs.read: argument 1: expected a path (str), got int", .type),
            ("ffi.bind: no symbol 'x' in libc", .ffi), ("plugins.version: plugin x is not imported", .plugin),
            ("import cycle: a -> b -> a", .importing),
            ("something new", .error),
        ]
        for (message, kind) in cases {
            #expect(Runtime.errorKind(of: message) == kind, "\(message)")
        }
    }

    @Test func deniedErrorsNameCapabilityAndResource() {
        #expect(Runtime.deniedParts("denied: fs.read /etc/passwd (grant with --allow-read=/etc/passwd)")?.0 == "fs.read")
        #expect(Runtime.deniedParts("read: denied: fs.read /a b (the path leads outside the grant /tmp)")?.1 == "/a b")
        #expect(Runtime.deniedParts("denied: ffi (grant with --allow-ffi)")?.1 == nil)
        #expect(Runtime.deniedParts("no denial here") == nil)
    }
}
