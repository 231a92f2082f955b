import Foundation
import XCTest

/// What `ios/run-tests.sh` hands the tests, as environment variables of the test process
/// (`xcodebuild` passes each `TEST_RUNNER_NAME` of its own environment as `NAME`):
///
/// - `ZHICHAO_SERVER`: base URL of a real `zhichao serve` on 127.0.0.1, fresh for the run (an IP
///   address: App Transport Security lets plain HTTP to one through);
/// - `ZHICHAO_ADMIN_TOKEN`: its admin token (the server was started with it; see `Admin`);
/// - `ZHICHAO_PHOTOS`: the team's sample photos, only when `../shared/fixtures/photos` exists
///   beside the clone (see `photosDir()`);
/// - `CI`: set when run by CI, which must provide the sample photos.
///
/// Without `ZHICHAO_SERVER` the tests that need the server are skipped, saying why
/// (`ServerTestCase`). One server serves the whole run: each test uses its own device ids
/// (`deviceId()`), account names and teams, so tests do not see each other's documents.
enum Harness {
    /// The server's base URL, e.g. `http://127.0.0.1:41234` (no trailing slash).
    ///
    /// - Throws: `XCTSkip` when `ZHICHAO_SERVER` is not set.
    static func serverUrl() throws -> String {
        guard var url = variable("ZHICHAO_SERVER") else {
            throw XCTSkip(
                "ZHICHAO_SERVER is not set: this test needs a running `zhichao serve`; "
                    + "run `bash ios/run-tests.sh` on a Mac, which starts one and passes its address"
            )
        }
        while url.hasSuffix("/") {
            url.removeLast()
        }
        return url
    }

    /// `path` on the server, e.g. `url("/healthz")`.
    static func url(_ path: String) throws -> URL {
        let text = try serverUrl() + path
        guard let url = URL(string: text) else {
            throw HarnessError("ZHICHAO_SERVER does not make a URL: \(text)")
        }
        return url
    }

    /// The admin token the server was started with.
    ///
    /// - Throws: `HarnessError` when `ZHICHAO_ADMIN_TOKEN` is missing (the test fails: a server
    ///   without its token is a broken setup, not a reason to skip).
    static func adminToken() throws -> String {
        guard let token = variable("ZHICHAO_ADMIN_TOKEN") else {
            throw HarnessError(
                "ZHICHAO_SERVER is set but ZHICHAO_ADMIN_TOKEN is not: pass the token the server "
                    + "was started with (ios/run-tests.sh does)"
            )
        }
        return token
    }

    /// A device id (the storage id a phone announces when syncing) unique to this run, e.g.
    /// `phone-3f9c2a1b`.
    static func deviceId(_ prefix: String = "phone") -> String {
        "\(prefix)-\(UUID().uuidString.lowercased().prefix(8))"
    }

    /// A new empty directory for one test (a phone's store …) under the system's temporary
    /// directory; `ServerTestCase` removes the test's directories when it ends.
    static func freshDir(_ prefix: String = "test") throws -> URL {
        let dir = FileManager.default.temporaryDirectory
            .appendingPathComponent("zhichao-tests", isDirectory: true)
            .appendingPathComponent("\(prefix)-\(UUID().uuidString)", isDirectory: true)
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        created.update { $0.append(dir) }
        return dir
    }

    /// Removes the directories `freshDir` made so far (tests run one at a time in a process).
    static func removeFreshDirs() {
        let dirs = created.update { (dirs: inout [URL]) -> [URL] in
            let all = dirs
            dirs.removeAll()
            return all
        }
        for dir in dirs {
            try? FileManager.default.removeItem(at: dir)
        }
    }

    /// The team's sample photos (`../shared/fixtures/photos` beside the clone, passed as
    /// `ZHICHAO_PHOTOS`; never copied into the repository), or `nil` when they are missing: the
    /// test then leaves out its asserts on them and ends with `skipFixtureAsserts`. Under CI
    /// (`CI` set) a missing folder fails the test instead: CI must provide the shared folder.
    static func photosDir() throws -> URL? {
        let path = variable("ZHICHAO_PHOTOS")
        var isDirectory: ObjCBool = false
        if let path, FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory),
            isDirectory.boolValue
        {
            return URL(fileURLWithPath: path, isDirectory: true)
        }
        if variable("CI") != nil {
            throw HarnessError("\(photosMissing()): CI must provide the team's shared folder")
        }
        return nil
    }

    /// Why the sample photos are missing.
    static func photosMissing() -> String {
        if let path = variable("ZHICHAO_PHOTOS") {
            return "ZHICHAO_PHOTOS is not a directory (\(path))"
        }
        return "ZHICHAO_PHOTOS is not set (../shared/fixtures/photos not found)"
    }

    /// A variable of the test process's environment, `nil` when unset or blank.
    static func variable(_ name: String) -> String? {
        guard let value = ProcessInfo.processInfo.environment[name],
            !value.trimmingCharacters(in: .whitespaces).isEmpty
        else { return nil }
        return value
    }

    private static let created = Locked<[URL]>([])
}

/// A broken test setup or an unexpected answer of the server: the test fails with `message`.
struct HarnessError: Error, CustomStringConvertible, LocalizedError {
    let message: String

    init(_ message: String) {
        self.message = message
    }

    var description: String { message }
    var errorDescription: String? { message }
}

/// The tests that need the run's server: skipped, saying why, when `ZHICHAO_SERVER` is not set;
/// each test's directories are removed when it ends.
class ServerTestCase: XCTestCase {
    override func setUpWithError() throws {
        try super.setUpWithError()
        _ = try Harness.serverUrl()
        _ = try Harness.adminToken()
    }

    override func tearDownWithError() throws {
        Harness.removeFreshDirs()
        try super.tearDownWithError()
    }

    /// Ends a test that ran without the team's sample photos (`photos` is `nil`): it is
    /// reported as skipped, naming the asserts left out — unless it already failed.
    func skipFixtureAsserts(_ photos: URL?, _ leftOut: String) throws {
        guard photos == nil, testRun?.hasSucceeded ?? true else { return }
        throw XCTSkip("\(Harness.photosMissing()): left out \(leftOut); everything else ran and passed")
    }
}

/// A value behind a lock, for state shared with the library's threads.
final class Locked<Value>: @unchecked Sendable {
    private let lock = NSLock()
    private var value: Value

    init(_ value: Value) {
        self.value = value
    }

    /// A copy of the value.
    func get() -> Value {
        lock.lock()
        defer { lock.unlock() }
        return value
    }

    /// Runs `body` on the value under the lock.
    @discardableResult
    func update<R>(_ body: (inout Value) throws -> R) rethrows -> R {
        lock.lock()
        defer { lock.unlock() }
        return try body(&value)
    }
}
