package cn.zhichao.core.testing

import java.io.File
import java.lang.reflect.Modifier
import kotlin.system.exitProcess
import org.junit.Test
import org.junit.runner.Description
import org.junit.runner.JUnitCore
import org.junit.runner.Request
import org.junit.runner.Result
import org.junit.runner.manipulation.Filter
import org.junit.runner.notification.Failure
import org.junit.runner.notification.RunListener

/**
 * The JVM tests' entry point, started by `android/jvm-tests/run.sh`:
 * `Runner <compiled test classes dir> [PATTERN...]`.
 *
 * Runs every class under the directory that has a JUnit 4 `@Test` method (sorted by name), or
 * only the tests whose `Class.method` contains one of the patterns. Prints one line per test —
 * `PASS Class.method`, `FAIL Class.method: message` followed by the trimmed stack trace,
 * `SKIP Class.method: reason` for `@Ignore` and failed assumptions — and at the end the line
 * `N passed, N failed` that CI reads. Exits 0 only when nothing failed and at least one test
 * passed.
 */
object Runner {
    private const val PACKAGE_PREFIX = "cn.zhichao.core."

    @JvmStatic
    fun main(args: Array<String>) {
        require(args.isNotEmpty()) { "usage: Runner <test classes dir> [PATTERN...]" }
        val classes = testClasses(File(args[0]))
        val patterns = args.drop(1)
        val listener = LineListener()
        val core = JUnitCore()
        core.addListener(listener)
        var request = Request.classes(*classes.toTypedArray())
        if (patterns.isNotEmpty()) request = request.filterWith(PatternFilter(patterns))
        val result: Result = core.run(request)
        if (listener.skipped > 0) println("${listener.skipped} skipped")
        println("${listener.passed} passed, ${listener.failed} failed")
        if (result.runCount == 0 && listener.failed == 0) {
            System.err.println("no test ran" + if (patterns.isEmpty()) "" else " (patterns: $patterns)")
        }
        System.out.flush()
        exitProcess(if (listener.failed == 0 && listener.passed > 0) 0 else 1)
    }

    /** Concrete top-level classes under [dir] with at least one `@Test` method. */
    private fun testClasses(dir: File): List<Class<*>> {
        require(dir.isDirectory) { "not a directory: $dir" }
        val loader = Runner::class.java.classLoader
        return dir.walkTopDown()
            .filter { it.isFile && it.name.endsWith(".class") && '$' !in it.name }
            .map { it.relativeTo(dir).path.removeSuffix(".class").replace(File.separatorChar, '.') }
            .sorted()
            .map { Class.forName(it, false, loader) }
            .filter { c ->
                !Modifier.isAbstract(c.modifiers) && !c.isInterface &&
                    c.methods.any { it.isAnnotationPresent(Test::class.java) }
            }
            .toList()
    }

    /** `Class.method` with the common package prefix dropped, or the class alone. */
    internal fun name(d: Description): String {
        val cls = (d.className ?: d.displayName).removePrefix(PACKAGE_PREFIX)
        return if (d.methodName == null) cls else "$cls.${d.methodName}"
    }

    private class PatternFilter(private val patterns: List<String>) : Filter() {
        override fun shouldRun(d: Description): Boolean =
            if (d.isTest) {
                val full = "${d.className}.${d.methodName}"
                patterns.any { it in full }
            } else {
                d.children.any { shouldRun(it) }
            }

        override fun describe(): String = "tests matching $patterns"
    }

    private class LineListener : RunListener() {
        var passed = 0
        var failed = 0
        var skipped = 0
        private var current: Description? = null
        private var currentDone = false

        override fun testStarted(d: Description) {
            current = d
            currentDone = false
        }

        override fun testFailure(f: Failure) {
            failed++
            if (f.description == current) currentDone = true
            val message = f.message ?: f.exception?.javaClass?.name ?: "failed"
            println("FAIL ${name(f.description)}: $message")
            println(f.trimmedTrace.trimEnd().prependIndent("    "))
        }

        override fun testAssumptionFailure(f: Failure) {
            skipped++
            if (f.description == current) currentDone = true
            println("SKIP ${name(f.description)}: ${f.message ?: "assumption failed"}")
        }

        override fun testIgnored(d: Description) {
            skipped++
            println("SKIP ${name(d)}: ignored")
        }

        override fun testFinished(d: Description) {
            if (d == current && !currentDone) {
                passed++
                println("PASS ${name(d)}")
            }
            current = null
        }
    }
}
