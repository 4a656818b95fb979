import ArgumentParser

/// `capsule plugin …`: tools for native plugins.
struct PluginCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "plugin",
        abstract: "Work with native plugins (shared objects built against sdk/include/capsule.h).",
        subcommands: [PluginInspectCommand.self, PluginNewCommand.self, PluginBuildCommand.self]
    )
}
