package cn.zhichao.core

import cn.zhichao.core.testing.Phones
import kotlinx.coroutines.runBlocking
import java.util.concurrent.CopyOnWriteArrayList
import kotlin.test.Test
import kotlin.test.assertTrue

/** The library's `tracing` events reach the app's log sink, at the level asked for. */
class LogSinkTest {
    @Test
    fun eventsAreForwardedAtTheChosenLevel(): Unit = runBlocking {
        val records = CopyOnWriteArrayList<LogRecord>()
        setLogSink(object : LogSink {
            override fun log(record: LogRecord) {
                records.add(record)
            }
        }, LogLevel.INFO)
        try {
            val phone = Phones.officer("officer:wang-log", team = "team-log")
            phone.store.syncNow()
        } finally {
            clearLogSink()
        }
        assertTrue(records.any { it.message == "device enrolled" }, records.toString())
        assertTrue(records.any { it.message == "sync done" && it.fields.contains("pushed=") }, records.toString())
        assertTrue(records.none { it.level == LogLevel.DEBUG || it.level == LogLevel.TRACE }, records.toString())
        assertTrue(records.none { it.fields.contains("zat_") || it.fields.contains("zrt_") }, "no token in the log")
    }
}
