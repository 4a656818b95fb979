import Foundation

/// Text collected from a VM's `output` callback, which the VM calls from its own thread.
final class OutputBuffer: @unchecked Sendable {
    // NOTE: @unchecked because every access to `text` holds `lock`.
    private let lock = NSLock()
    private var text = ""

    /// Appends `chunk`.
    func append(_ chunk: String) {
        lock.lock(); defer { lock.unlock() }
        text += chunk
    }

    /// Everything appended so far.
    var contents: String {
        lock.lock(); defer { lock.unlock() }
        return text
    }
}
