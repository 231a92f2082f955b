import Foundation
import UIKit
import ZhichaoCore

/// The host's secret store, in memory (the app uses the Keychain: `KeychainSecretStore`). The
/// core calls it from its own threads, hence the lock.
final class MemorySecretStore: SecretStore, @unchecked Sendable {
    private let state = Locked<(secret: String?, saves: Int)>((nil, 0))

    /// The stored secret, as the core last saved it.
    var secret: String? { state.get().secret }

    /// How many times the core saved a secret.
    var saves: Int { state.get().saves }

    func load() throws -> String? {
        state.get().secret
    }

    func save(secret: String) throws {
        state.update { state in
            state.secret = secret
            state.saves += 1
        }
    }

    func clear() throws {
        state.update { $0.secret = nil }
    }
}

/// An enrolled phone: its store in its own directory, its secrets and its account.
struct Phone {
    let store: FieldStore
    let secrets: MemorySecretStore
    let account: Account
    let dir: URL
}

/// Enrolls phones the way the app does: the administrator issues a one-time code for the
/// phone's device id (`Admin.enrollmentCode`), the phone exchanges it (`enroll`) and opens its
/// store (`FieldStore.open`).
enum Phones {
    /// The unit the enterprise tests speak for (a valid USCC).
    static let unit = "914403001922038216"

    static func enrolled(_ name: String, as principal: Principal) async throws -> Phone {
        let server = try Harness.serverUrl()
        let device = Harness.deviceId()
        let code = try await Admin.enrollmentCode(device: device, name: name, principal: principal)
        let secrets = MemorySecretStore()
        let account = try await enroll(
            serverUrl: server, code: code, deviceId: device, secrets: secrets)
        let dir = try Harness.freshDir("store")
        let store = try FieldStore.open(directory: dir.path, serverUrl: server, secrets: secrets)
        return Phone(store: store, secrets: secrets, account: account, dir: dir)
    }

    static func officer(_ name: String, team: String) async throws -> Phone {
        try await enrolled(name, as: .officer(team: team))
    }

    static func enterprise(_ name: String = "unit:\(Phones.unit)") async throws -> Phone {
        try await enrolled(name, as: .enterprise(unit: unit))
    }

    static func supervisor(_ name: String) async throws -> Phone {
        try await enrolled(name, as: .supervisor())
    }
}

/// The two officers of a joint patrol (路警联合执法).
func patrol() -> [OfficerInfo] {
    [
        OfficerInfo(name: "王强", enforcementId: "14052219001", agency: .transport),
        OfficerInfo(name: "李明", enforcementId: "140522", agency: .trafficPolice),
    ]
}

/// A six-axle articulated vehicle, two drive axles, no single-tyred axle: 49 t (62号令 Art. 3).
func sixAxleArticulated() -> VehicleConfig {
    VehicleConfig(axles: 6, kind: .articulated, driveAxles: 2, singleTyreAxles: 0)
}

/// A roadside check of the patrol on S329 of a six-axle articulated truck with `plate`.
func roadsideCheck(_ plate: String, sourceUnit: String? = nil) -> RoadsideCheckInput {
    RoadsideCheckInput(
        plate: plate,
        configuration: sixAxleArticulated(),
        place: "S329 K12+300",
        officers: patrol(),
        sourceUnit: sourceUnit
    )
}

/// A JPEG a phone camera might hand over, drawn with UIKit: 40 rectangles of seeded random
/// colours, so each seed gives other bytes (another evidence id).
func cameraJpeg(width: Int = 1280, height: Int = 960, seed: UInt64 = 1) -> Data {
    var random = SplitMix64(seed: seed)
    let format = UIGraphicsImageRendererFormat()
    format.scale = 1  // pixels, not points: the screen's 2x or 3x would triple the size
    format.opaque = true
    let renderer = UIGraphicsImageRenderer(
        size: CGSize(width: width, height: height), format: format)
    return renderer.jpegData(withCompressionQuality: 0.9) { context in
        UIColor.darkGray.setFill()
        context.fill(CGRect(x: 0, y: 0, width: width, height: height))
        for _ in 0..<40 {
            UIColor(
                red: CGFloat.random(in: 0...1, using: &random),
                green: CGFloat.random(in: 0...1, using: &random),
                blue: CGFloat.random(in: 0...1, using: &random),
                alpha: 1
            ).setFill()
            context.fill(
                CGRect(
                    x: Int.random(in: 0..<width, using: &random),
                    y: Int.random(in: 0..<height, using: &random),
                    width: width / 4,
                    height: height / 4
                ))
        }
    }
}

/// A seeded random number generator (SplitMix64): the same seed, the same photo.
struct SplitMix64: RandomNumberGenerator {
    private var state: UInt64

    init(seed: UInt64) {
        state = seed
    }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
