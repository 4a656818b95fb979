/// The plugin host: finds native extension modules (`PluginHost`), loads and checks them
/// (`PluginLoader`, `PluginManifest`), and binds their exports through libffi into a VM
/// (`FFIBridge`). It re-exports the core so the CLI and embedders depend on one module.
@_exported import CapsuleCore
@_exported import CapsuleSystem
