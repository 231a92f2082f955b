import Foundation

/// Who an enrollment code or token is for, as the admin API takes it (`PrincipalSpec` of
/// sync-server/src/api.rs; `zhichao admin enroll --role …`).
enum Principal {
    /// A field officer of patrol `team`; `scope` defaults to the server's county.
    case officer(team: String = "team-1", scope: String? = nil)
    /// An enterprise speaking for the source unit with unified social credit code `unit`.
    case enterprise(unit: String = "914403001922038216")
    /// A supervisor of `scope` (default: the server's county), e.g. `140522/township/140522100`.
    case supervisor(scope: String? = nil)
    /// The weighbridge system (称重系统) of the source unit `unit` (a USCC): uploads its
    /// weighing records to `POST /v1/weighings`; see `Weighbridge`.
    case sourceUnitSystem(unit: String)
}

/// The run's server administrator: calls the admin HTTP API of `Harness.serverUrl()` with the
/// admin token as a Bearer token, as `zhichao admin` does.
enum Admin {
    /// A one-time enrollment code for `device` (the storage id the phone will announce) of the
    /// account `name` (e.g. `officer:wang`) as `principal`; `ttl` e.g. `10m` (default: the
    /// server's). `POST /v1/admin/enrollments` (sync-server/src/routes/admin.rs).
    static func enrollmentCode(
        device: String, name: String, principal: Principal, ttl: String? = nil
    ) async throws -> String {
        let body = CreateEnrollmentRequest(
            principal: PrincipalSpec(name: name, principal: principal), device: device, ttl: ttl)
        let url = try Harness.url("/v1/admin/enrollments")
        let token = try Harness.adminToken()
        var request = URLRequest(url: url, timeoutInterval: 60)
        request.httpMethod = "POST"
        request.setValue("Bearer \(token)", forHTTPHeaderField: "Authorization")
        request.setValue("application/json", forHTTPHeaderField: "Content-Type")
        request.httpBody = try JSONEncoder().encode(body)
        let (data, response) = try await URLSession.shared.data(for: request)
        let status = (response as? HTTPURLResponse)?.statusCode ?? 0
        guard status == 201 else {
            throw HarnessError(
                "POST /v1/admin/enrollments for \(name) answered \(status): "
                    + String(decoding: data, as: UTF8.self))
        }
        let code = try JSONDecoder().decode(EnrollmentResponse.self, from: data).code
        guard !code.isEmpty, !code.contains(where: { $0.isWhitespace }) else {
            throw HarnessError("the enrollment code is not one word: '\(code)'")
        }
        return code
    }

    /// An access token issued directly (no enrollment) to the account `name` as `principal`.
    /// `POST /v1/admin/tokens` (sync-server/src/routes/admin.rs), as `zhichao admin
    /// issue-token` does.
    static func issueToken(name: String, principal: Principal) async throws -> String {
        let body = IssueTokenRequest(principal: PrincipalSpec(name: name, principal: principal))
        let url = try Harness.url("/v1/admin/tokens")
        let token = try Harness.adminToken()
        var request = URLRequest(url: url, timeoutInterval: 60)
        request.httpMethod = "POST"
        request.setValue("Bearer \(token)", forHTTPHeaderField: "Authorization")
        request.setValue("application/json", forHTTPHeaderField: "Content-Type")
        request.httpBody = try JSONEncoder().encode(body)
        let (data, response) = try await URLSession.shared.data(for: request)
        let status = (response as? HTTPURLResponse)?.statusCode ?? 0
        guard status == 201 else {
            throw HarnessError(
                "POST /v1/admin/tokens for \(name) answered \(status): "
                    + String(decoding: data, as: UTF8.self))
        }
        let issued = try JSONDecoder().decode(IssuedTokenResponse.self, from: data).token
        guard !issued.isEmpty, !issued.contains(where: { $0.isWhitespace }) else {
            throw HarnessError("the issued token is not one word")
        }
        return issued
    }

    /// `IssueTokenRequest` without a lifetime or device (the server's defaults).
    private struct IssueTokenRequest: Encodable {
        let principal: PrincipalSpec
    }

    /// The part of `IssuedTokenResponse` the tests need.
    private struct IssuedTokenResponse: Decodable {
        let token: String
    }

    /// `CreateEnrollmentRequest` (the server refuses unknown fields; `nil` fields are left out).
    private struct CreateEnrollmentRequest: Encodable {
        let principal: PrincipalSpec
        let device: String
        let ttl: String?
    }

    /// `PrincipalSpec`: `role` in snake case, and what the role needs.
    private struct PrincipalSpec: Encodable {
        let role: String
        let name: String
        let team: String?
        let scope: String?
        let unit: String?

        init(name: String, principal: Principal) {
            self.name = name
            switch principal {
            case let .officer(team, scope):
                role = "officer"
                self.team = team
                self.scope = scope
                unit = nil
            case let .enterprise(unit):
                role = "enterprise"
                team = nil
                scope = nil
                self.unit = unit
            case let .supervisor(scope):
                role = "supervisor"
                team = nil
                self.scope = scope
                unit = nil
            case let .sourceUnitSystem(unit):
                role = "source_unit_system"
                team = nil
                scope = nil
                self.unit = unit
            }
        }
    }

    /// The part of `EnrollmentResponse` the tests need.
    private struct EnrollmentResponse: Decodable {
        let code: String
    }
}
