import Synchronization

/// Text collected from a VM's `output` callback, which the VM calls from its own thread.
final class OutputBuffer: Sendable {
    private let text = Mutex("")

    /// Appends `chunk`.
    func append(_ chunk: String) {
        text.withLock { $0 += chunk }
    }

    /// Everything appended so far.
    var contents: String {
        text.withLock { $0 }
    }
}
