package cn.zhichao.core.testing

import java.io.File
import java.util.concurrent.TimeUnit

/** Who an enrollment code or token is for, as `zhichao admin` takes it (`--role` and friends). */
sealed class Role(internal val args: List<String>) {
    /** A field officer of patrol [team]; [scope] defaults to the server's county. */
    class Officer(team: String = "team-1", scope: String? = null) :
        Role(listOf("--role", "officer", "--team", team) + scopeArgs(scope))

    /** An enterprise speaking for the source unit with unified social credit code [unit]. */
    class Enterprise(unit: String = "914403001922038216") :
        Role(listOf("--role", "enterprise", "--unit", unit))

    /** A supervisor of [scope] (default: the server's county), e.g. `140522/township/140522100`. */
    class Supervisor(scope: String? = null) : Role(listOf("--role", "supervisor") + scopeArgs(scope))

    /**
     * The weighbridge system (称重系统) of the source unit [unit] (a USCC): uploads its weighing
     * records to `POST /v1/weighings`; see [Weighbridge].
     */
    class SourceUnitSystem(unit: String) : Role(listOf("--role", "source-unit-system", "--unit", unit))

    private companion object {
        fun scopeArgs(scope: String?) = scope?.let { listOf("--scope", it) } ?: emptyList()
    }
}

/**
 * The run's server administrator: runs `zhichao admin …` against [Harness.serverUrl] with the
 * admin token in the environment, as an operator would.
 */
object Admin {
    /**
     * A one-time enrollment code for [device] (the storage id the phone will announce) of the
     * account [name] (e.g. `officer:wang`) with [role]; [ttl] e.g. `10m` (default: the server's).
     */
    fun enrollmentCode(device: String, name: String, role: Role, ttl: String? = null): String =
        oneWord(
            "enroll",
            run("enroll", listOf("--name", name) + role.args + listOf("--device", device) + ttlArgs(ttl)),
        )

    /** An access token issued directly (no enrollment), optionally bound to [device]. */
    fun issueToken(name: String, role: Role, device: String? = null, ttl: String? = null): String =
        oneWord(
            "issue-token",
            run(
                "issue-token",
                listOf("--name", name) + role.args +
                    (device?.let { listOf("--device", it) } ?: emptyList()) + ttlArgs(ttl),
            ),
        )

    /**
     * Runs `zhichao admin SUBCOMMAND --server URL ARGS…` and returns its standard output,
     * trimmed; throws an [AssertionError] with the exit code and standard error when it fails
     * or takes more than a minute.
     */
    fun run(subcommand: String, args: List<String>): String {
        val command =
            listOf(Harness.cli.path, "admin", subcommand, "--server", Harness.serverUrl) + args
        val dir = Harness.freshDir("admin")
        val stdout = File(dir, "stdout")
        val stderr = File(dir, "stderr")
        val builder = ProcessBuilder(command)
            .redirectInput(ProcessBuilder.Redirect.from(File("/dev/null")))
            .redirectOutput(stdout)
            .redirectError(stderr)
        builder.environment()["ZHICHAO_ADMIN_TOKEN"] = Harness.adminToken
        val process = builder.start()
        if (!process.waitFor(60, TimeUnit.SECONDS)) {
            process.destroyForcibly()
            throw AssertionError("zhichao admin $subcommand did not finish in 60 s")
        }
        val code = process.exitValue()
        if (code != 0) {
            throw AssertionError(
                "zhichao admin $subcommand ${args.joinToString(" ")} exited with $code:\n" +
                    stderr.readText().trimEnd(),
            )
        }
        return stdout.readText().trim()
    }

    private fun oneWord(subcommand: String, out: String): String {
        if (out.isEmpty() || out.any { it.isWhitespace() }) {
            throw AssertionError("zhichao admin $subcommand printed ${out.length} characters, not one word: $out")
        }
        return out
    }

    private fun ttlArgs(ttl: String?) = ttl?.let { listOf("--ttl", it) } ?: emptyList()
}
