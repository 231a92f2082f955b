import Foundation
import XCTest
import ZhichaoCore

/// The case of an `ApiError`, to say which one a call must throw (Kotlin's
/// `assertFailsWith<ApiException.Network>`).
enum ApiErrorKind: String {
    case validation = "Validation"
    case notFound = "NotFound"
    case unauthorized = "Unauthorized"
    case conflict = "Conflict"
    case storage = "Storage"
    case network = "Network"
    case internalError = "Internal"

    init(of error: ApiError) {
        switch error {
        case .Validation: self = .validation
        case .NotFound: self = .notFound
        case .Unauthorized: self = .unauthorized
        case .Conflict: self = .conflict
        case .Storage: self = .storage
        case .Network: self = .network
        case .Internal: self = .internalError
        }
    }
}

extension ApiError {
    /// The reason of the cases that carry one.
    var reason: String? {
        switch self {
        case let .Validation(reason), let .Storage(reason), let .Network(reason),
            let .Internal(reason):
            return reason
        case .NotFound, .Unauthorized, .Conflict:
            return nil
        }
    }
}

/// `XCTAssertThrowsError` for `async` expressions (XCTest's takes no `async` closure): the
/// error `expression` threw, or `nil` after recording a failure because it returned.
@discardableResult
func assertThrowsAsync<T>(
    _ expression: @autoclosure () async throws -> T,
    _ message: @autoclosure () -> String = "",
    file: StaticString = #filePath,
    line: UInt = #line
) async -> Error? {
    do {
        let value = try await expression()
        XCTFail("expected an error, got \(value)\(suffix(message()))", file: file, line: line)
        return nil
    } catch {
        return error
    }
}

/// Asserts that `expression` throws `ApiError` of case `kind`, and returns that error (`nil`
/// after recording a failure).
@discardableResult
func assertThrowsApiError<T>(
    _ kind: ApiErrorKind,
    _ expression: @autoclosure () async throws -> T,
    _ message: @autoclosure () -> String = "",
    file: StaticString = #filePath,
    line: UInt = #line
) async -> ApiError? {
    guard let error = await assertThrowsAsync(try await expression(), message(), file: file, line: line)
    else { return nil }
    guard let apiError = error as? ApiError, ApiErrorKind(of: apiError) == kind else {
        XCTFail("expected ApiError.\(kind.rawValue), got \(error)\(suffix(message()))", file: file, line: line)
        return nil
    }
    return apiError
}

/// Asserts that `text` contains `part` (Kotlin's `assertContains`).
func assertContains(
    _ text: String?, _ part: String, _ message: @autoclosure () -> String = "",
    file: StaticString = #filePath, line: UInt = #line
) {
    guard let text, text.contains(part) else {
        XCTFail("'\(text ?? "nil")' does not contain '\(part)'\(suffix(message()))", file: file, line: line)
        return
    }
}

/// The only element of `items` that satisfies `condition` (all by default; Kotlin's
/// `single`); throws, failing the test, when there is none or more than one.
func single<T>(_ items: [T], where condition: (T) -> Bool = { _ in true }) throws -> T {
    let matching = items.filter(condition)
    guard matching.count == 1, let only = matching.first else {
        throw HarnessError("expected exactly one element, found \(matching.count) of \(items.count): \(items)")
    }
    return only
}

/// Polls `condition` every 50 ms until it holds; throws once `timeout` seconds passed.
func waitUntil(
    _ what: String, timeout: TimeInterval, _ condition: () throws -> Bool
) async throws {
    let deadline = Date().addingTimeInterval(timeout)
    while try condition() == false {
        if Date() > deadline {
            throw HarnessError("\(what): not within \(timeout) s")
        }
        try await Task.sleep(nanoseconds: 50_000_000)
    }
}

/// The elements of `stream` up to and including the first for which `isLast` holds
/// (`complete` true), or — when `timeout` seconds pass first — those seen until then
/// (`complete` false; the stream is then ended, which removes a sync observer behind it).
func collect<Element>(
    _ stream: AsyncStream<Element>, timeout: TimeInterval,
    until isLast: @escaping (Element) -> Bool
) async -> (elements: [Element], complete: Bool) {
    let seen = Locked<[Element]>([])
    // The stream and predicate move into the collecting task; the records are not `Sendable`
    // before Swift 6 compilers.
    let source = UncheckedSendable((stream, isLast))
    let collector = Task { () async -> Bool in
        let (stream, isLast) = source.value
        for await element in stream {
            seen.update { $0.append(element) }
            if isLast(element) {
                return true
            }
        }
        return false
    }
    let watchdog = Task {
        try? await Task.sleep(nanoseconds: UInt64(timeout * 1_000_000_000))
        collector.cancel()
    }
    let complete = await collector.value
    watchdog.cancel()
    return (seen.get(), complete)
}

/// Carries a value into a task when the compiler cannot see it is safe to.
struct UncheckedSendable<Value>: @unchecked Sendable {
    let value: Value

    init(_ value: Value) {
        self.value = value
    }
}

private func suffix(_ message: String) -> String {
    message.isEmpty ? "" : " — \(message)"
}
