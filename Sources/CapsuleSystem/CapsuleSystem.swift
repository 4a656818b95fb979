/// The host's powers as scripts reach them: the capability enforcer (`CapabilityEnforcer`,
/// path confinement, the audit log) and the system modules built on it (`fs`, `env`, `time`,
/// `random`, `proc`, `net`), with the child processes and sockets they use. It needs the core
/// VM and the kernel, nothing of the plugin machinery: `CapsuleHost` builds on it, never the
/// other way round.
