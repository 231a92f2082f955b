package cn.zhichao.core

import android.util.Log

/**
 * Forwards the library's log to Logcat under the tag [tag] (the Rust module is in the message).
 * Install once, e.g. in `Application.onCreate`:
 * `setLogSink(LogcatSink(), if (BuildConfig.DEBUG) LogLevel.DEBUG else LogLevel.INFO)`.
 */
class LogcatSink(private val tag: String = "zhichao") : LogSink {
    override fun log(record: LogRecord) {
        val text = buildString {
            append(record.target).append(": ").append(record.message)
            if (record.fields.isNotEmpty()) append(" ").append(record.fields)
        }
        when (record.level) {
            LogLevel.ERROR -> Log.e(tag, text)
            LogLevel.WARN -> Log.w(tag, text)
            LogLevel.INFO -> Log.i(tag, text)
            LogLevel.DEBUG -> Log.d(tag, text)
            LogLevel.TRACE -> Log.v(tag, text)
        }
    }
}
