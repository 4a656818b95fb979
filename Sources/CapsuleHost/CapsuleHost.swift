import CapsuleCore

/// The plugin host: dlopen-based native modules, the libffi bridge and capabilities arrive
/// with the plugin issue. For now it re-exports the core so the CLI depends on one module.
@_exported import CapsuleCore
