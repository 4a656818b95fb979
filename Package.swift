// swift-tools-version: 6.0
import PackageDescription

let package = Package(
    name: "Capsule",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "capsule", targets: ["capsule"]),
        .library(name: "CapsuleCore", targets: ["CapsuleCore"]),
        .library(name: "CapsuleHost", targets: ["CapsuleHost"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
    ],
    targets: [
        .target(name: "CapsuleSyntax"),
        .target(
            name: "CapsuleCore",
            dependencies: ["CapsuleSyntax"]
        ),
        .target(name: "CapsuleHost", dependencies: ["CapsuleCore"]),
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
        .testTarget(
            name: "CapsuleCommandsTests",
            dependencies: ["CapsuleCommands"],
            exclude: []
        ),
    ],
    swiftLanguageModes: [.v5]
)
