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
            _ = try store.load()
        } catch let KeychainError.status(status) where status == errSecMissingEntitlement {
            throw XCTSkip("this test host has no Keychain access (errSecMissingEntitlement)")
        }
    }

    override func tearDownWithError() throws {
        _ = try store?.delete()
    }

    func testStoresReplacesAndDeletesOneSecret() throws {
        XCTAssertNil(try store.load())

        try store.save(Data([0, 1, 2, 255]))
        XCTAssertEqual(try store.load(), Data([0, 1, 2, 255]))

        try store.save("令牌-2")
        XCTAssertEqual(try store.loadString(), "令牌-2")

        XCTAssertTrue(try store.delete())
        XCTAssertNil(try store.load())
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
}
