import Foundation

/// An answer of the server: HTTP status and body text.
struct HttpAnswer {
    let status: Int
    let body: String
}

/// The weighbridge system (称重系统) of a source unit (货运源头单位, a USCC), as the site's
/// software talks to the county platform: a source-unit-system access token issued by the
/// administrator (`Admin.issueToken`), then each weighing record (称重记录) posted as JSON to
/// `POST /v1/weighings` (sync-server/src/routes/weighings.rs). The server writes the
/// over-limit departures (超限出场) into the county's daily watch lists, which phones receive
/// when they sync. Mirrors Android's `Weighbridge`.
struct Weighbridge {
    let unit: String
    /// The unit's upload token.
    let token: String

    /// A weighbridge of `unit` with a freshly issued token.
    static func issued(unit: String) async throws -> Weighbridge {
        let token = try await Admin.issueToken(
            name: "sus:\(unit)-\(Harness.deviceId("wb"))", principal: .sourceUnitSystem(unit: unit))
        return Weighbridge(unit: unit, token: token)
    }

    /// Posts one record and returns the answer: 201 with `"status":"stored"` when it is new.
    func upload(_ record: WeighingUpload) async throws -> HttpAnswer {
        var request = URLRequest(url: try Harness.url("/v1/weighings"), timeoutInterval: 60)
        request.httpMethod = "POST"
        request.setValue("Bearer \(token)", forHTTPHeaderField: "Authorization")
        request.setValue("application/json", forHTTPHeaderField: "Content-Type")
        request.httpBody = try JSONEncoder().encode(record)
        let (data, response) = try await URLSession.shared.data(for: request)
        let status = (response as? HTTPURLResponse)?.statusCode ?? 0
        return HttpAnswer(status: status, body: String(decoding: data, as: UTF8.self))
    }
}

/// The JSON of a weighing record (`WeighingRecord`, core/src/weighing.rs; the server refuses
/// unknown fields).
struct WeighingUpload: Encodable {
    let recordId: String
    let lane: String
    let plate: String
    let vehicle: Axles
    let grossKg: Int
    let cargo: String
    let weighedAtMs: Int64
    let exitAtMs: Int64
    let result: String

    /// The vehicle as a weighbridge reports it: the axle count only.
    struct Axles: Encodable {
        let axles: Int
    }

    enum CodingKeys: String, CodingKey {
        case recordId = "record_id"
        case lane
        case plate
        case vehicle
        case grossKg = "gross_kg"
        case cargo
        case weighedAtMs = "weighed_at_ms"
        case exitAtMs = "exit_at_ms"
        case result
    }

    /// A six-axle truck reported by axle count only (the limit is then the highest for six
    /// axles, 49 000 kg, 交通运输部令2016年第62号 Art. 3), weighed at `weighedAtMs` (UTC ms)
    /// and let out (放行) a minute later: over the limit, an over-limit departure. Mirrors
    /// Android's `sixAxleDeparture`.
    static func sixAxleDeparture(
        recordId: String, plate: String, grossKg: Int, weighedAtMs: Int64
    ) -> WeighingUpload {
        WeighingUpload(
            recordId: recordId, lane: "1号磅", plate: plate, vehicle: Axles(axles: 6),
            grossKg: grossKg, cargo: "原煤", weighedAtMs: weighedAtMs,
            exitAtMs: weighedAtMs + 60_000, result: "passed")
    }
}
