import Foundation
import Security

/// One secret — the device's credentials, a database key — kept in the iOS Keychain as a generic
/// password under a service and an account. It is the core's `SecretStore`: hand it to `enroll`
/// and `FieldStore.open`, which keep the device's tokens in it.
///
/// ```swift
/// let secrets = KeychainSecretStore(service: "cn.zhichao.field", account: "device-credentials")
/// let account = try await enroll(serverUrl: url, code: code, deviceId: deviceId, secrets: secrets)
/// let store = try FieldStore.open(directory: dir.path, serverUrl: url, secrets: secrets)
/// ```
///
/// Items are written with `kSecAttrAccessibleAfterFirstUnlockThisDeviceOnly`: readable once the
/// phone has been unlocked after it booted (so background sync can use them while the screen is
/// locked), and bound to this device — never synced through iCloud Keychain nor restored from a
/// backup onto another phone, so a copied backup does not carry a patrol's credentials.
///
/// Two faces over the same item:
/// - the `SecretStore` requirements the core calls (`load()`, `save(secret:)`, `clear()`): text,
///   failures thrown as `ApiError.Storage(reason:)` (the reason names the Keychain status, never
///   the secret);
/// - the app's own calls (`save(_:)` of `Data` or `String`, `loadData()`, `loadString()`,
///   `delete()`): failures thrown as `KeychainError`.
///
/// The Keychain calls block while the system's security daemon answers: call them off the main
/// thread (the core calls them on its own threads). The store keeps no state of its own, so one
/// instance can be shared between threads.
public final class KeychainSecretStore: SecretStore {
    /// The item's `kSecAttrService`, e.g. the app's bundle identifier.
    public let service: String
    /// The item's `kSecAttrAccount`, e.g. `"device-credentials"`.
    public let account: String
    /// A Keychain access group shared with the app's extensions, or `nil` for the app's own.
    public let accessGroup: String?

    /// A store for the secret under `service` and `account` (nothing is read or written yet).
    public init(service: String, account: String, accessGroup: String? = nil) {
        self.service = service
        self.account = account
        self.accessGroup = accessGroup
    }

    // MARK: SecretStore (called by the core)

    /// The stored secret, or `nil` before enrollment.
    ///
    /// - Throws: `ApiError.Storage` when the Keychain cannot be read (the phone has not been
    ///   unlocked since it booted …) or holds something that is not text.
    public func load() throws -> String? {
        do {
            return try loadString()
        } catch {
            throw Self.storageError("cannot read the device credentials", error)
        }
    }

    /// Stores `secret`, replacing the previous one; returns once the Keychain has it.
    ///
    /// - Throws: `ApiError.Storage` when the Keychain refuses.
    public func save(secret: String) throws {
        do {
            try save(Data(secret.utf8))
        } catch {
            throw Self.storageError("cannot store the device credentials", error)
        }
    }

    /// Removes the secret (sign-out); nothing to remove is not an error.
    ///
    /// - Throws: `ApiError.Storage` when the Keychain refuses.
    public func clear() throws {
        do {
            _ = try delete()
        } catch {
            throw Self.storageError("cannot remove the device credentials", error)
        }
    }

    // MARK: The app's calls

    /// Stores `secret`, replacing the previous one (and its accessibility, if an older version
    /// of the app wrote it with another).
    ///
    /// - Throws: `KeychainError.status` with the Keychain's `OSStatus`.
    public func save(_ secret: Data) throws {
        var item = query()
        item[kSecValueData as String] = secret
        item[kSecAttrAccessible as String] = kSecAttrAccessibleAfterFirstUnlockThisDeviceOnly
        let status = SecItemAdd(item as CFDictionary, nil)
        switch status {
        case errSecSuccess:
            return
        case errSecDuplicateItem:
            let changes: [String: Any] = [
                kSecValueData as String: secret,
                kSecAttrAccessible as String: kSecAttrAccessibleAfterFirstUnlockThisDeviceOnly,
            ]
            let updated = SecItemUpdate(query() as CFDictionary, changes as CFDictionary)
            guard updated == errSecSuccess else { throw KeychainError.status(updated) }
        default:
            throw KeychainError.status(status)
        }
    }

    /// Stores `secret` as UTF-8, replacing the previous one.
    ///
    /// - Throws: `KeychainError.status` with the Keychain's `OSStatus`.
    public func save(_ secret: String) throws {
        try save(Data(secret.utf8))
    }

    /// The stored secret's bytes, or `nil` if there is none.
    ///
    /// - Throws: `KeychainError.status` (`errSecInteractionNotAllowed`: the phone has not been
    ///   unlocked since it booted), `KeychainError.unexpectedItem`.
    public func loadData() throws -> Data? {
        var search = query()
        search[kSecReturnData as String] = true
        search[kSecMatchLimit as String] = kSecMatchLimitOne
        var result: CFTypeRef?
        let status = SecItemCopyMatching(search as CFDictionary, &result)
        switch status {
        case errSecSuccess:
            guard let data = result as? Data else { throw KeychainError.unexpectedItem }
            return data
        case errSecItemNotFound:
            return nil
        default:
            throw KeychainError.status(status)
        }
    }

    /// The stored secret as text, or `nil` if there is none.
    ///
    /// - Throws: as `loadData()`, and `KeychainError.notUTF8` if the secret is not UTF-8 text.
    public func loadString() throws -> String? {
        guard let data = try loadData() else { return nil }
        guard let text = String(data: data, encoding: .utf8) else { throw KeychainError.notUTF8 }
        return text
    }

    /// Deletes the secret; `false` if there was none.
    ///
    /// - Throws: `KeychainError.status` with the Keychain's `OSStatus`.
    @discardableResult
    public func delete() throws -> Bool {
        let status = SecItemDelete(query() as CFDictionary)
        switch status {
        case errSecSuccess:
            return true
        case errSecItemNotFound:
            return false
        default:
            throw KeychainError.status(status)
        }
    }

    /// The attributes naming this store's item.
    private func query() -> [String: Any] {
        var query: [String: Any] = [
            kSecClass as String: kSecClassGenericPassword,
            kSecAttrService as String: service,
            kSecAttrAccount as String: account,
            // The iOS behaviour on every platform (it is the only keychain on iOS).
            kSecUseDataProtectionKeychain as String: true,
        ]
        if let accessGroup {
            query[kSecAttrAccessGroup as String] = accessGroup
        }
        return query
    }

    /// The core's storage error for a Keychain failure: what failed and the Keychain's status,
    /// never the secret.
    private static func storageError(_ what: String, _ error: Error) -> ApiError {
        let detail: String
        switch error {
        case KeychainError.status(errSecInteractionNotAllowed):
            detail = "the phone has not been unlocked since it restarted"
        case let keychainError as KeychainError:
            detail = keychainError.errorDescription ?? "keychain error"
        default:
            detail = String(describing: error)
        }
        return ApiError.Storage(reason: "keychain: \(what): \(detail)")
    }
}

/// Why a `KeychainSecretStore` call of the app failed (the core sees `ApiError.Storage`).
public enum KeychainError: Error, Equatable, LocalizedError {
    /// The Keychain answered with this `OSStatus` (the `errSec…` constants of `SecBase.h`).
    case status(OSStatus)
    /// The Keychain returned something other than the stored bytes.
    case unexpectedItem
    /// `loadString()` found a secret that is not UTF-8 text.
    case notUTF8

    public var errorDescription: String? {
        switch self {
        case let .status(status):
            let message = SecCopyErrorMessageString(status, nil) as String? ?? "unknown status"
            return "keychain error \(status): \(message)"
        case .unexpectedItem:
            return "keychain returned an unexpected item"
        case .notUTF8:
            return "keychain secret is not UTF-8 text"
        }
    }
}
