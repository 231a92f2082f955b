import os

/// Forwards the library's log to the unified log (Xcode's console, Console.app, `log stream`)
/// through an `os.Logger` of `subsystem` and `category`. Install it once, e.g. at app launch:
///
/// ```swift
/// setLogSink(sink: OSLogSink(subsystem: Bundle.main.bundleIdentifier ?? "zhichao"), maxLevel: .info)
/// ```
///
/// Each record becomes one entry `TARGET: MESSAGE FIELDS` (the Rust module that logged, the
/// message, `key=value` pairs), logged as public: the library never puts a plate, a name or a
/// token into its log, and a redacted `<private>` would hide everything useful in a field
/// report. Levels map to the unified log's types as `logType(for:)` says.
public final class OSLogSink: LogSink, @unchecked Sendable {
    // `Logger` is immutable and thread-safe; `@unchecked` because SDKs before iOS 17 do not
    // declare it `Sendable`.
    private let logger: Logger

    /// A sink logging under `subsystem` (e.g. the app's bundle identifier) and `category`.
    public init(subsystem: String, category: String = "core") {
        logger = Logger(subsystem: subsystem, category: category)
    }

    /// One record, at the type `logType(for:)` gives its level.
    public func log(record: LogRecord) {
        let text = Self.message(of: record)
        logger.log(level: Self.logType(for: record.level), "\(text, privacy: .public)")
    }

    /// The unified log's type for a level: `.error` for errors and warnings (as
    /// `Logger.warning` does), `.default` (notice, kept on disk) for the library's milestones
    /// (`info`: a sync done, a device enrolled), `.debug` for `debug` and `trace`.
    public static func logType(for level: LogLevel) -> OSLogType {
        switch level {
        case .error, .warn:
            return .error
        case .info:
            return .default
        case .debug, .trace:
            return .debug
        }
    }

    /// The text of a record's entry: `TARGET: MESSAGE`, then ` FIELDS` when there are fields.
    public static func message(of record: LogRecord) -> String {
        var text = "\(record.target): \(record.message)"
        if !record.fields.isEmpty {
            text += " \(record.fields)"
        }
        return text
    }
}
