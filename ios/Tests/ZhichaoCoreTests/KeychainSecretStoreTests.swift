import Foundation
import Security
import XCTest
import ZhichaoCore

final class KeychainSecretStoreTests: XCTestCase {
    private var store: KeychainSecretStore!

    override func setUpWithError() throws {
        // A fresh item per test, so runs never see each other's secrets.
        store = KeychainSecretStore(service: "zhichao.tests.\(UUID().uuidString)", account: "token")
        do {
            _ = try store.loadData()
        } catch let KeychainError.status(status) where status == errSecMissingEntitlement {
            throw XCTSkip("this test host has no Keychain access (errSecMissingEntitlement)")
        }
    }

    override func tearDownWithError() throws {
        _ = try store?.delete()
        Harness.removeFreshDirs()
    }

    func testStoresReplacesAndDeletesOneSecret() throws {
        XCTAssertNil(try store.loadData())

        try store.save(Data([0, 1, 2, 255]))
        XCTAssertEqual(try store.loadData(), Data([0, 1, 2, 255]))

        try store.save("令牌-2")
        XCTAssertEqual(try store.loadString(), "令牌-2")

        XCTAssertTrue(try store.delete())
        XCTAssertNil(try store.loadData())
        XCTAssertFalse(try store.delete())
    }

    func testTheSecretStaysOnThisDeviceAndIsReadableAfterFirstUnlock() throws {
        try store.save("secret")
        let search: [String: Any] = [
            kSecClass as String: kSecClassGenericPassword,
            kSecAttrService as String: store.service,
            kSecAttrAccount as String: store.account,
            kSecUseDataProtectionKeychain as String: true,
            kSecReturnAttributes as String: true,
            kSecMatchLimit as String: kSecMatchLimitOne,
        ]
        var result: CFTypeRef?
        XCTAssertEqual(SecItemCopyMatching(search as CFDictionary, &result), errSecSuccess)
        let attributes = try XCTUnwrap(result as? [String: Any])
        XCTAssertEqual(
            attributes[kSecAttrAccessible as String] as? String,
            kSecAttrAccessibleAfterFirstUnlockThisDeviceOnly as String
        )
    }

    func testATextLoadOfBinaryDataSaysSo() throws {
        try store.save(Data([0xFF, 0xFE]))
        XCTAssertThrowsError(try store.loadString()) { error in
            XCTAssertEqual(error as? KeychainError, .notUTF8)
        }
    }

    /// The core's view of the store: the `SecretStore` requirements, failures as
    /// `ApiError.Storage`.
    func testItIsTheCoresSecretStore() throws {
        let secrets: SecretStore = store
        XCTAssertNil(try secrets.load())
        try secrets.save(secret: #"{"access":"zat_x","refresh":"zrt_y"}"#)
        XCTAssertEqual(try secrets.load(), #"{"access":"zat_x","refresh":"zrt_y"}"#)
        XCTAssertEqual(try store.loadString(), #"{"access":"zat_x","refresh":"zrt_y"}"#)
        try secrets.clear()
        XCTAssertNil(try secrets.load())
        XCTAssertNoThrow(try secrets.clear(), "nothing to clear is not an error")

        try store.save(Data([0xFF, 0xFE]))
        XCTAssertThrowsError(try secrets.load()) { error in
            guard case let .Storage(reason)? = error as? ApiError else {
                return XCTFail("expected ApiError.Storage, got \(error)")
            }
            XCTAssertTrue(reason.hasPrefix("keychain: "), reason)
            XCTAssertFalse(reason.contains("\u{FFFD}"), "no secret in the reason: \(reason)")
        }
    }

    /// A device enrolled against the run's server keeps its tokens in the Keychain, syncs with
    /// them from the core's threads, and signing out removes them.
    func testADeviceEnrollsIntoTheKeychain() async throws {
        let server = try Harness.serverUrl()
        let device = Harness.deviceId()
        let code = try await Admin.enrollmentCode(
            device: device, name: "officer:qian-kc", principal: .officer(team: "team-kc"))
        let account = try await enroll(serverUrl: server, code: code, deviceId: device, secrets: store)
        XCTAssertEqual(account.deviceId, device)
        XCTAssertNotNil(try store.loadString())
        let fieldStore = try FieldStore.open(
            directory: Harness.freshDir("keychain").path, serverUrl: server, secrets: store)
        _ = try fieldStore.createRoadsideCheck(input: roadsideCheck("晋E70009"))
        let result = try await fieldStore.syncNow()
        XCTAssertEqual(result.pushed, 1, "\(result)")
        try await fieldStore.signOut()
        XCTAssertNil(try store.loadString())
    }
}
