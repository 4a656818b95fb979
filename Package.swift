// swift-tools-version: 6.0
import PackageDescription

let package = Package(
    name: "Capsule",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "capsule", targets: ["capsule"]),
        // Runs one isolated plugin, locked down; the host looks for it next to itself.
        .executable(name: "capsule-worker", targets: ["capsule-worker"]),
        .library(name: "CapsuleCore", targets: ["CapsuleCore"]),
        .library(name: "CapsuleHost", targets: ["CapsuleHost"]),
        // Bundled plugins: SwiftPM names the file lib<product>.so, which is what
        // `import "cmath"` looks for.
        .library(name: "capsule_cmath", type: .dynamic, targets: ["CapsuleCMath"]),
        .library(name: "capsule_zlib", type: .dynamic, targets: ["CapsuleZlib"]),
        .library(name: "capsule_sqlite", type: .dynamic, targets: ["CapsuleSQLite"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
    ],
    targets: [
        .target(name: "CapsuleSyntax"),
        .target(
            name: "CapsuleCore",
            dependencies: ["CapsuleSyntax", "CConfine", "CStandardOutput", "CEventPoll"]
        ),
        // C's `stdout`, which Swift 6 will not read as a global.
        .systemLibrary(name: "CStandardOutput", path: "Sources/CStandardOutput"),
        .target(name: "CapsuleSDK", path: "sdk", exclude: ["README.md"], sources: ["src"], publicHeadersPath: "include"),
        .systemLibrary(name: "CFFI", path: "Sources/CFFI"),
        // NOTE: DWARF 4, because valgrind 3.19 (callgrind, used to judge performance work)
        // gives up on a binary with clang's default DWARF 5 in it.
        .target(name: "CCurrentCall", cSettings: [.unsafeFlags(["-gdwarf-4"])]),
        .systemLibrary(name: "CConfine", path: "Sources/CConfine"),
        .systemLibrary(name: "CEventPoll", path: "Sources/CEventPoll"),
        // posix_spawn's fchdir/closefrom file actions and pidfd_open, for the `proc` module.
        .systemLibrary(name: "CSpawn", path: "Sources/CSpawn"),
        .systemLibrary(name: "CRandom", path: "Sources/CRandom"),
        // dladdr1 and dlinfo, for raw FFI's check that a symbol lies in the granted library.
        .systemLibrary(name: "CDynamicLoader", path: "Sources/CDynamicLoader"),
        // The host ↔ worker protocol (shared-memory layout), header-only C.
        .target(name: "CapsuleIsolation"),
        // The host's decision on each executable mapping a worker makes while it loads (its
        // seccomp listener, answered on a thread of the host).
        .target(name: "CapsuleSupervisor", dependencies: ["CapsuleIsolation"]),
        // The host's powers for scripts: capabilities, path confinement and the system modules
        // (fs, env, time, random, proc, net). Nothing of dlopen or libffi.
        .target(name: "CapsuleSystem", dependencies: ["CapsuleCore", "CapsuleSyntax", "CConfine", "CSpawn", "CRandom", "CapsuleIsolation", "CEventPoll"]),
        // PCRE2's 8-bit API, declared by hand: the image has the runtime, not the header.
        .systemLibrary(name: "CPCRE2", path: "Sources/CPCRE2"),
        // The `re` module on PCRE2. Linked by file name: there is no libpcre2-8.so dev symlink.
        .target(name: "CapsuleRegex", dependencies: ["CapsuleCore", "CPCRE2"],
                linkerSettings: [.linkedLibrary(":libpcre2-8.so.0")]),
        // The plugin host: loading, the libffi bridge, the host API, isolation, reload, raw FFI.
        .target(name: "CapsuleHost", dependencies: ["CapsuleSystem", "CapsuleRegex", "CapsuleCore", "CapsuleSDK", "CFFI", "CCurrentCall", "CapsuleIsolation", "CapsuleSupervisor", "CDynamicLoader"]),
        // The isolated plugin worker: C, so what runs next to the plugin under seccomp is small
        // and makes only the system calls it is written to make.
        .executableTarget(
            name: "capsule-worker",
            dependencies: ["CapsuleSDK", "CapsuleIsolation"],
            linkerSettings: [.linkedLibrary("ffi")]
        ),
        .target(
            name: "CapsuleCMath",
            dependencies: ["CapsuleSDK"],
            path: "Plugins/cmath",
            publicHeadersPath: ".",
            cSettings: [.unsafeFlags(["-fvisibility=hidden"])]
        ),
        .target(
            name: "CapsuleZlib",
            dependencies: ["CapsuleSDK"],
            path: "Plugins/zlib",
            publicHeadersPath: ".",
            cSettings: [.unsafeFlags(["-fvisibility=hidden"])],
            linkerSettings: [.linkedLibrary("z")]
        ),
        .target(
            name: "CapsuleSQLite",
            dependencies: ["CapsuleSDK"],
            path: "Plugins/sqlite",
            publicHeadersPath: ".",
            cSettings: [.unsafeFlags(["-fvisibility=hidden"])],
            linkerSettings: [.linkedLibrary("sqlite3")]
        ),
        .systemLibrary(name: "CReadline", path: "Sources/CReadline"),
        .target(
            name: "CapsuleCommands",
            dependencies: [
                "CapsuleHost",
                "CapsuleSyntax",
                "CReadline",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        .executableTarget(name: "capsule", dependencies: ["CapsuleCommands"]),
        .testTarget(name: "CapsuleSyntaxTests", dependencies: ["CapsuleSyntax"]),
        .testTarget(name: "CapsuleCoreTests", dependencies: ["CapsuleCore"], exclude: ["Snapshots"]),
        .testTarget(name: "CapsuleHostTests", dependencies: ["CapsuleHost", "CapsuleSystem"]),
        .testTarget(
            name: "CapsuleCommandsTests",
            dependencies: ["CapsuleCommands"],
            exclude: []
        ),
    ],
    swiftLanguageModes: [.v6]
)
